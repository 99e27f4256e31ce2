// `signalbox audit`: AdminService.ListAuditEvents (admin keys), newest first — who changed what,
// and which of the target's fields the change touched.

import { toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Command, InvalidArgumentError } from "commander";
import { ListAuditEventsResponseSchema, type AuditEvent, type SignalboxClient } from "@signalbox/client";
import { setup, usageError } from "../context.ts";
import { rfc3339, time } from "../format.ts";
import { type Column, csv, json, out, table, waiting } from "../output.ts";
import { parseCount, parsePastTime } from "../parse.ts";

/** ListAuditEvents pages hold at most this many events. */
const MAX_PAGE = 500;

interface AuditFlags {
  actor?: string;
  target?: string;
  since?: Date;
  until?: Date;
  limit: number;
}

export function auditCommand(program: Command): void {
  program
    .command("audit")
    .description("the audit log, newest first: who changed which key, team, config entry or config, and which fields (admin keys)")
    .option("--actor <name>", "only changes made by this key (its name; \"SIGHUP\" for a reload by signal)")
    .option("--target <kind:name>", "only changes to this target, e.g. key:search-indexer, team:search, config", parseTarget)
    .option("--since <time>", "a duration back from now (30s, 15m, 2h, 7d) or RFC 3339", (s) => parsePastTime(s))
    .option("--until <time>", "a duration back from now or RFC 3339", (s) => parsePastTime(s))
    .option("--limit <n>", "at most this many (pages are followed)", parseCount(1, 100_000), 50)
    .addHelpText("after", "\nExamples:\n  signalbox audit --since 7d\n  signalbox audit --target key:search-indexer --json\n  signalbox audit --actor root --limit 500 --csv")
    .action(async (o: AuditFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      if (o.since && o.until && o.until <= o.since) throw usageError("--until must be after --since");
      const { events, nextPageToken } = await waiting("reading the audit log", () => listAudit(sb, o));
      if (mode === "json") return json(toJson(ListAuditEventsResponseSchema, { $typeName: "signalbox.v1.ListAuditEventsResponse", events, nextPageToken }));
      const cols: Column<AuditEvent>[] = [
        { header: "time", show: (e) => time(e.time), raw: (e) => rfc3339(e.time) },
        { header: "actor", show: (e) => e.actor },
        { header: "action", show: (e) => e.action },
        { header: "target", show: (e) => e.target },
        { header: "changes", show: (e) => changes(e) },
      ];
      if (mode === "csv") {
        cols.unshift({ header: "id", show: (e) => e.id });
        cols.push({ header: "replica", show: (e) => e.replica }, { header: "trace id", show: (e) => e.traceId });
        return out(csv(cols, events));
      }
      await out(events.length ? table(cols, events) : "no audit events match\n");
      if (nextPageToken) process.stderr.write(`showing the newest ${events.length}; raise --limit to see more\n`);
    });
}

/** A target as the log names it: "kind:name" (key:search-indexer), or a bare word ("config"); no spaces. */
function parseTarget(s: string): string {
  const v = s.trim();
  if (!/^\S+$/.test(v) || v.startsWith(":") || v.endsWith(":")) throw new InvalidArgumentError(`"${s}" is not a target: use <kind>:<name>, e.g. key:search-indexer or team:search (or config)`);
  return v;
}

/** Follow pages until --limit events or the last page. */
async function listAudit(sb: SignalboxClient, o: AuditFlags): Promise<{ events: AuditEvent[]; nextPageToken: string }> {
  const events: AuditEvent[] = [];
  let pageToken = "";
  do {
    const page = await sb.admin.listAuditEvents({
      startTime: o.since ? timestampFromDate(o.since) : undefined,
      endTime: o.until ? timestampFromDate(o.until) : undefined,
      actor: o.actor ?? "",
      target: o.target ?? "",
      pageSize: Math.min(MAX_PAGE, o.limit - events.length),
      pageToken,
    });
    events.push(...page.events);
    pageToken = page.nextPageToken;
  } while (pageToken && events.length < o.limit);
  return { events: events.slice(0, o.limit), nextPageToken: pageToken };
}

const isEmpty = (s: JsonObject | undefined) => !s || Object.keys(s).length === 0;

/**
 * What an event changed: the top-level fields whose values differ between before and after
 * ("limits, budget"); "created" when there was no before, "removed" when there is no after.
 */
export function changes(e: Pick<AuditEvent, "before" | "after">): string {
  const { before, after } = e;
  if (isEmpty(before) && isEmpty(after)) return "";
  if (isEmpty(before)) return "created";
  if (isEmpty(after)) return "removed";
  const names = [...new Set([...Object.keys(before!), ...Object.keys(after!)])];
  return names.filter((n) => !same(before![n], after![n])).join(", ");
}

/** Deep equality of JSON values (object key order does not matter). */
function same(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
}
