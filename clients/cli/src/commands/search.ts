// `signalbox search`: web search through the gateway's search engines (SearchService.Search). The
// queries are the arguments, or stdin one per line; one row per page found goes to stdout (a table,
// CSV or JSON), who searched, the searches billed and the cost to stderr.

import { toJson, type JsonObject } from "@bufbuild/protobuf";
import { type Command, InvalidArgumentError } from "commander";
import { SearchResponseSchema, type SearchHit } from "@signalbox/client";
import { readStdin, responseSummary, setup, usageError } from "../context.ts";
import { count } from "../format.ts";
import { type Column, csv, json, note, out, table, waiting } from "../output.ts";
import { parseCount, parseList } from "../parse.ts";
import { type RequestFlags, requestFields, requestFlags, servedBy } from "../request.ts";

/** What the gateway takes in one request. */
const MAX_QUERIES = 5;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// RFC 3339: a date, a time and an offset (Z or ±hh:mm); fractional seconds optional.
const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * A --after/--before value as RFC 3339: "2025-01-31" is the start of that day in UTC
 * ("2025-01-31T00:00:00Z"); an RFC 3339 time is sent as written (a space or lower-case t/z
 * normalised). A date that does not exist ("2025-02-30") is refused.
 */
export function parseDate(v: string): string {
  const s = v.trim();
  const bad = () => new InvalidArgumentError(`"${v}" is not a date: use YYYY-MM-DD (2025-01-31) or RFC 3339 (2025-01-31T12:00:00Z)`);
  let day: string;
  let rfc: string;
  const d = DATE.exec(s);
  if (d) {
    day = s;
    rfc = `${s}T00:00:00Z`;
  } else {
    const m = RFC3339.exec(s);
    if (!m) throw bad();
    day = m[1];
    rfc = `${m[1]}T${m[2]}${m[3].toUpperCase()}`;
  }
  // The calendar day must exist: Date rolls "02-30" over to March, so compare it back.
  const t = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== day || Number.isNaN(Date.parse(rfc))) throw bad();
  return rfc;
}

/** "US", "gb" → "GB": an ISO 3166-1 alpha-2 code's shape (the gateway knows which exist). */
export function parseCountry(v: string): string {
  const s = v.trim();
  if (!/^[A-Za-z]{2}$/.test(s)) throw new InvalidArgumentError(`"${v}" is not a country code: use two letters (ISO 3166-1 alpha-2), e.g. US, GB, DE`);
  return s.toUpperCase();
}

/** A domain flag, repeatable (commas also separate): "example.com" (a URL's host is taken as is). */
function parseDomain(v: string, acc: string[] = []): string[] {
  const domains = parseList(v);
  if (domains.length === 0) throw new InvalidArgumentError(`"${v}" is not a domain: use e.g. example.com`);
  for (const d of domains) {
    if (/[\s/:]/.test(d) || !d.includes(".")) throw new InvalidArgumentError(`"${d}" is not a domain: use e.g. example.com (no scheme or path)`);
  }
  return [...acc, ...domains];
}

interface Row {
  /** The query's number (several queries) or the result's (one). */
  index: number;
  hit: SearchHit;
}

const shorten = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

const COLUMNS: Column<Row>[] = [
  { header: "#", csv: "index", show: (r) => String(r.index), raw: (r) => r.index, right: true },
  { header: "TITLE", show: (r) => shorten(r.hit.title.replace(/\s+/g, " ").trim(), 60) || "-", raw: (r) => r.hit.title },
  { header: "URL", show: (r) => r.hit.url },
  { header: "PUBLISHED", show: (r) => r.hit.published || "-", raw: (r) => r.hit.published },
];

/** The table's or CSV's rows: numbered by query when there are several, else by result. */
export function rowsOf(hits: SearchHit[], queries: number): Row[] {
  return hits.map((hit, i) => ({ index: queries > 1 ? hit.queryIndex + 1 : i + 1, hit }));
}

/**
 * `--engine-option tavily.topic=news`, repeatable: one engine's own parameter (its provider type,
 * a dot, the parameter, =, the value), gathered by engine. The value is JSON when it reads as JSON
 * (5, true, ["en"]), else the text as it is.
 */
export function parseEngineOption(v: string, acc: Record<string, Record<string, unknown>> = {}): Record<string, Record<string, unknown>> {
  const m = /^([a-z][a-z0-9-]*)\.([^=\s]+)=(.*)$/s.exec(v);
  if (!m) throw new InvalidArgumentError(`"${v}" is not engine.parameter=value (e.g. tavily.topic=news)`);
  const [, engine, key, raw] = m;
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // text as it is
  }
  return { ...acc, [engine]: { ...acc[engine], [key]: value } };
}

interface SearchFlags extends RequestFlags {
  engineOption?: Record<string, Record<string, unknown>>;
  model: string;
  maxResults?: number;
  domain?: string[];
  excludeDomain?: string[];
  country?: string;
  after?: string;
  before?: string;
  maxCharacters?: number;
}

export function searchCommand(program: Command): void {
  requestFlags(
    program
      .command("search")
      .description("search the web through the gateway's search engines; one row per page on stdout, deployment, searches and cost on stderr")
      .argument("[query...]", `the queries, one search each, at most ${MAX_QUERIES} (read from stdin, one per line, when absent or -)`)
      .option("--model <model>", "a route, alias or deployment id that serves search", "search")
      .option("--max-results <n>", "results per query, 1-20 (default: the gateway's, 10)", parseCount(1, 20))
      .option("--domain <domain>", "only pages on this domain (and its subdomains), repeatable", parseDomain)
      .option("--exclude-domain <domain>", "no pages on this domain, repeatable", parseDomain)
      .option("--country <CC>", "results for users in this country (ISO 3166-1 alpha-2, e.g. US)", parseCountry)
      .option("--after <date>", "pages published after this date (YYYY-MM-DD, or RFC 3339)", parseDate)
      .option("--before <date>", "pages published before this date (YYYY-MM-DD, or RFC 3339)", parseDate)
      .option("--max-characters <n>", "cut each page's text to this many characters, 100-20000 (default 1000; in --json)", parseCount(100, 20_000))
      .option("--engine-option <engine.param=value>", "one engine's own parameter, sent to that engine only (e.g. tavily.topic=news, exa.category=news); repeatable", parseEngineOption),
  )
    .addHelpText(
      "after",
      [
        "",
        "Each row: the number of the query that found it (when there are several; else the result's",
        "number), the page's title, its URL and when it was published (- when the engine does not say).",
        "The pages' text is in --json (results[].snippet). A date alone (--after 2025-01-31) is the",
        "start of that day in UTC.",
        "",
        "Exit codes: 0 the search ran (even with no results); 1 the call failed (the gateway's error and",
        `the field at fault on stderr, stdout empty); 2 bad usage (no query, an empty one, more than ${MAX_QUERIES},`,
        "a bad number or date), and nothing is sent.",
        "",
        "Examples:",
        '  signalbox search "node 24 release notes" --max-results 5 --domain nodejs.org',
        '  signalbox search "rust async" "go generics" --after 2025-01-01',
        '  signalbox search --model search "eu ai act" --engine-option tavily.topic=news --engine-option exa.category=news',
        "  signalbox search --json \"signalbox gateway\" | jq -r '.results[].url'",
        "  cat questions.txt | signalbox search --csv > pages.csv",
      ].join("\n"),
    )
    .action(async (words: string[], o: SearchFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const queries = await queriesOf(words);
      if (queries.length === 0) throw usageError("no query", 'pass the queries as arguments (signalbox search "some question") or on stdin, one per line');
      const empty = queries.findIndex((q) => q.trim() === "");
      if (empty >= 0) throw usageError(`query ${empty + 1} is empty`, "every query must have some content");
      if (queries.length > MAX_QUERIES) throw usageError(`${queries.length} queries: at most ${MAX_QUERIES} in one search`, `split them (e.g. … | split -l ${MAX_QUERIES})`);
      if (o.after && o.before && Date.parse(o.after) >= Date.parse(o.before)) throw usageError(`--after ${o.after} is not before --before ${o.before}`, "pages published in the range from --after to --before are searched");

      const request = {
        model: o.model,
        queries,
        ...(o.maxResults !== undefined ? { maxResults: o.maxResults } : {}),
        ...(o.domain?.length ? { allowedDomains: o.domain } : {}),
        ...(o.excludeDomain?.length ? { blockedDomains: o.excludeDomain } : {}),
        ...(o.country ? { country: o.country } : {}),
        ...(o.after ? { publishedAfter: o.after } : {}),
        ...(o.before ? { publishedBefore: o.before } : {}),
        ...(o.maxCharacters !== undefined ? { maxCharacters: o.maxCharacters } : {}),
        ...(o.engineOption ? { engineOptions: o.engineOption as Record<string, JsonObject> } : {}),
        ...requestFields(o),
      };
      const response = await waiting("searching", () => sb.search.search(request));
      if (mode === "json") return json(toJson(SearchResponseSchema, response));

      const rows = rowsOf(response.results, queries.length);
      await out(mode === "csv" ? csv(COLUMNS, rows) : table(COLUMNS, rows));
      const units = response.usage?.searchUnits ?? 0n;
      note(
        responseSummary(
          [
            `— ${servedBy(response)}`,
            `${count(rows.length)} result${rows.length === 1 ? "" : "s"}`,
            units ? `${count(units)} search${units === 1n ? "" : "es"}` : "",
          ],
          response,
        ),
      );
    });
}

/** The queries: the arguments, each one search; stdin, one per line (blank lines skipped), when there are none or just "-". */
async function queriesOf(words: string[]): Promise<string[]> {
  const stdin = words.length === 0 || (words.length === 1 && words[0] === "-");
  if (!stdin && words.includes("-")) throw usageError("- (stdin) cannot be combined with queries as arguments", "pass the queries as arguments, or all of them on stdin with -");
  if (!stdin) return words;
  return (await readStdin())
    .split("\n")
    .map((l) => l.replace(/\r$/, ""))
    .filter((l) => l.trim() !== "");
}
