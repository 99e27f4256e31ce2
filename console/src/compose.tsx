// Writing a chat request, shared by the route explainer and the playground: the model picker
// (routes, aliases and deployments from ListModels) and the messages editor.

import { useQuery } from "@connectrpc/connect-query";
import { assistant, developer, type Message, RouteService, system, user } from "@signalbox/client";

export type DraftRole = "system" | "developer" | "user" | "assistant";
export interface DraftMessage {
  role: DraftRole;
  text: string;
}

const BUILD: Record<DraftRole, (t: string) => Message> = { system, developer, user, assistant: (t) => assistant(t) };

/** The draft as request messages (empty ones left out). */
export const toMessages = (draft: readonly DraftMessage[]): Message[] => draft.filter((m) => m.text.trim()).map((m) => BUILD[m.role](m.text));

/** Everything a request may name as `model`, grouped. */
export function ModelSelect({ value, onChange, id }: { value: string; onChange: (v: string) => void; id?: string }) {
  const q = useQuery(RouteService.method.listModels, {}, { staleTime: 30_000 });
  const m = q.data;
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)} name="model" aria-label="Model">
      {!m && <option value={value}>{value || "Loading…"}</option>}
      {m && (
        <>
          <optgroup label="Routes">
            {m.routes.map((r) => (
              <option key={r.name} value={r.name}>
                {r.name}
                {r.description ? ` — ${r.description}` : ""}
              </option>
            ))}
          </optgroup>
          {m.aliases.length > 0 && (
            <optgroup label="Aliases">
              {m.aliases.map((a) => (
                <option key={a.name} value={a.name}>
                  {a.name} → {a.target}
                </option>
              ))}
            </optgroup>
          )}
          <optgroup label="Deployments">
            {m.deployments.map((d) => (
              <option key={d.id} value={d.id}>
                {d.id}
              </option>
            ))}
          </optgroup>
        </>
      )}
    </select>
  );
}

export function MessagesEditor({ messages, onChange }: { messages: DraftMessage[]; onChange: (m: DraftMessage[]) => void }) {
  const set = (i: number, m: Partial<DraftMessage>) => onChange(messages.map((x, j) => (j === i ? { ...x, ...m } : x)));
  return (
    <div className="messages">
      {messages.map((m, i) => (
        <div className="message" key={i}>
          <select value={m.role} onChange={(e) => set(i, { role: e.target.value as DraftRole })} aria-label={`Message ${i + 1} role`}>
            <option value="system">system</option>
            <option value="developer">developer</option>
            <option value="user">user</option>
            <option value="assistant">assistant</option>
          </select>
          <textarea value={m.text} rows={m.role === "user" ? 3 : 2} onChange={(e) => set(i, { text: e.target.value })} aria-label={`Message ${i + 1} text`} />
          <button type="button" className="icon" aria-label={`Remove message ${i + 1}`} onClick={() => onChange(messages.filter((_, j) => j !== i))} disabled={messages.length <= 1}>
            ×
          </button>
        </div>
      ))}
      <button type="button" className="link" onClick={() => onChange([...messages, { role: messages.at(-1)?.role === "user" ? "assistant" : "user", text: "" }])}>
        + Add message
      </button>
    </div>
  );
}
