// Team and key pickers for admins and team keys: ListTeams / ListKeys a page at a time, more
// loaded on demand, never all at once.

import { useInfiniteQuery } from "@connectrpc/connect-query";
import { AdminService } from "@signalbox/client";

const PAGE = 100;

export function TeamPicker({ value, onChange, allowAll = true }: { value: string; onChange: (t: string) => void; allowAll?: boolean }) {
  const q = useInfiniteQuery(AdminService.method.listTeams, { pageSize: PAGE, pageToken: "" }, { pageParamKey: "pageToken", getNextPageParam: (l) => l.nextPageToken || undefined });
  const teams = q.data?.pages.flatMap((p) => p.teams) ?? [];
  return (
    <span className="picker">
      <select value={value} onChange={(e) => onChange(e.target.value)} aria-label="Team" name="team">
        {allowAll && <option value="">All teams</option>}
        {!allowAll && !value && <option value="">Choose a team…</option>}
        {value && !teams.some((t) => t.name === value) && <option value={value}>{value}</option>}
        {teams.map((t) => (
          <option key={t.name} value={t.name}>
            {t.name}
          </option>
        ))}
      </select>
      {q.hasNextPage && (
        <button type="button" className="link" onClick={() => q.fetchNextPage()} disabled={q.isFetchingNextPage}>
          more teams…
        </button>
      )}
    </span>
  );
}

export function KeyPicker({ team, value, onChange }: { team: string; value: string; onChange: (k: string) => void }) {
  const q = useInfiniteQuery(AdminService.method.listKeys, { team, pageSize: PAGE, pageToken: "" }, { pageParamKey: "pageToken", getNextPageParam: (l) => l.nextPageToken || undefined });
  const keys = q.data?.pages.flatMap((p) => p.keys) ?? [];
  return (
    <span className="picker">
      <select value={value} onChange={(e) => onChange(e.target.value)} aria-label="Key" name="key">
        <option value="">{team ? "No key (team only)" : "Your own key"}</option>
        {value && !keys.some((k) => k.name === value) && <option value={value}>{value}</option>}
        {keys.map((k) => (
          <option key={k.name} value={k.name}>
            {k.name} ({k.team})
          </option>
        ))}
      </select>
      {q.hasNextPage && (
        <button type="button" className="link" onClick={() => q.fetchNextPage()} disabled={q.isFetchingNextPage}>
          more keys…
        </button>
      )}
    </span>
  );
}
