// The `signalbox` command line as users run it: the built bundle (clients/cli/dist/signalbox.mjs)
// in a child process, on Node 24 and on the system's Node 20, against a real gateway started in
// process with real traffic (successes, a fallback, a failure). Tables carry their headers and
// values, --json is the API's own JSON (compared with the same call through the typed client),
// --csv has its header and rows, and the exit codes are 0 ok, 1 a refused or failed call, 2 bad usage.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { toJson } from "@bufbuild/protobuf";
import {
  BudgetPeriod,
  Code,
  createSignalboxClient,
  GetBudgetResponseSchema,
  GetKeyResponseSchema,
  GetUsageResponseSchema,
  GetEndUserResponseSchema,
  ListEndUsersResponseSchema,
  Granularity,
  KeyRole,
  Dimension,
  ListAlertsResponseSchema,
  ListKeysResponseSchema,
  ListModelsResponseSchema,
  ListRequestsResponseSchema,
  ListTeamsResponseSchema,
  RequestRecordSchema,
  RouteResponseSchema,
  SignalboxError,
  streamText,
  type RequestRecord,
  type SignalboxClient,
  userText,
} from "@signalbox/client";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { loadConfig } from "../../src/config/load.ts";
import { configVersion } from "../../src/config/reload.ts";
import { hashKey } from "../../src/server/auth.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI_DIR = join(ROOT, "clients/cli");
const BUNDLE = join(CLI_DIR, "dist/signalbox.mjs");
const NODE24 = existsSync(join(ROOT, "node_modules/.bin/node")) ? join(ROOT, "node_modules/.bin/node") : process.execPath;
const SYSTEM_NODE = "/usr/bin/node";

const ADMIN = ["adm", "secret", "cli"].join("-");
const SVC = ["svc", "secret", "cli"].join("-");

// MOCK_CONFIG ends inside `routes:`, so the first lines below add a route that always fails.
// Spending caps (`budget`): mock/rerank's own, never reached; mock/frozen's own, and its provider's
// of $0, over from the start (no route names mock/frozen).
const CONFIG = `${MOCK_CONFIG.replace("deployments:", "  - { name: frozen, type: mock, budget: { period: month, limit_usd: 0 } }\ndeployments:").replace("aliases:", "  - { id: mock/rerank, provider: mock, model: mock-rerank, operations: [rerank], pricing: { input: 0, output: 0, per_request: 0.002 }, budget: { period: day, limit_usd: 2 } }\n  - { id: mock/image, provider: mock, model: mock-image-1, operations: [images], pricing: { input: 0, output: 0, per_image: { default: 0.04, hd: 0.08 } } }\n  - { id: mock/frozen, provider: frozen, model: mock-frozen, pricing: { input: 1, output: 1 }, budget: { period: week, limit_usd: 0.0005 } }\naliases:")}
  - { name: rerank, targets: [mock/rerank] }
  - { name: images, targets: [mock/image] }
  - name: broken
    targets: [mock/flaky]
    retry: { max_retries: 0 }
  - { name: tiered, targets: [mock/a], conditions: [{ when: { metadata.tier: pro, tag: beta }, target: mock/b }] }
teams:
  - name: search
    budget: { period: month, limit_usd: 50 }
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
  - { name: search-svc, hash: "${hashKey(SVC)}", team: search, role: service, limits: { requests_per_minute: 1000 }, budget: { period: month, limit_usd: 5 } }
web_search: { engine: mock, max_results: 3 }
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let g: TestGateway;
let admin: SignalboxClient;
let svc: SignalboxClient;
/** Start of the test's traffic, minus a minute: a fixed --since both sides of a comparison use. */
let since: string;
let tmp: string;

/** Run the built CLI with the gateway's URL and the admin key in its environment. */
function cli(args: string[], opts: { env?: Record<string, string | undefined>; node?: string; stdin?: string; cwd?: string } = {}): Promise<Run> {
  // NODE_COMPILE_CACHE: Node 24 compiles the 1.6 MB bundle once for all the runs below, not once a
  // run (Node 20 ignores it); what the CLI does is the same either way.
  const env: NodeJS.ProcessEnv = { ...process.env, SIGNALBOX_URL: g.url, SIGNALBOX_API_KEY: ADMIN, SIGNALBOX_TRACE_URL: undefined, NO_COLOR: "1", NODE_COMPILE_CACHE: join(tmp, "compile-cache") };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(opts.node ?? NODE24, [BUNDLE, ...args], { cwd: opts.cwd ?? ROOT, env, stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function ok(r: Run, what = "the command"): Run {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

/** The header line of a table (the first line whose words include all of these) and the whole text. */
function assertTable(text: string, headers: string[], values: string[]): void {
  const head = text.split("\n").find((l) => headers.every((h) => l.includes(h)));
  assert.ok(head, `no header line with ${headers.join(", ")} in:\n${text}`);
  for (const v of values) assert.ok(text.includes(v), `"${v}" missing from:\n${text}`);
}

/** Parse RFC 4180 CSV as the CLI writes it (CRLF lines, quoted cells when needed). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(cell), (cell = "");
    else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell), rows.push(row), (row = []), (cell = ""), i++;
    } else cell += c;
  }
  if (cell || row.length) row.push(cell), rows.push(row);
  return rows;
}

async function failing(p: Promise<unknown>): Promise<SignalboxError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SignalboxError, String(err));
    return err;
  }
  assert.fail("expected the call to fail");
}

/** Build the bundle when it is missing or older than a CLI source (`npm test` builds it first). */
function buildIfStale(): void {
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  if (existsSync(BUNDLE) && statSync(BUNDLE).mtimeMs >= Math.max(newest(join(CLI_DIR, "src")), statSync(join(CLI_DIR, "build.mjs")).mtimeMs)) return;
  execFileSync(NODE24, [join(CLI_DIR, "build.mjs")], { cwd: ROOT, stdio: "inherit" });
}

let fallbackRecord: RequestRecord;
let sink: Server;
const sunk: { path: string; body: string }[] = [];

before(async () => {
  buildIfStale();
  tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-"));
  since = new Date(Date.now() - 60_000).toISOString();
  // Alert sinks on loopback: /ops answers 200, /down 500.
  sink = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      sunk.push({ path: req.url ?? "", body });
      res.writeHead(req.url === "/down" ? 500 : 200).end();
    });
  });
  await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
  const hook = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  g = await startTestGateway(`${CONFIG}alerts:\n  - { name: ops, url: "${hook}/ops", format: slack }\n  - { name: down, url: "${hook}/down", events: [deployment_cooldown] }\n`);
  admin = createSignalboxClient({ baseUrl: g.url, apiKey: ADMIN });
  svc = createSignalboxClient({ baseUrl: g.url, apiKey: SVC });
  // Real traffic: three successes and a fallback as the service key, a failure, one as the admin.
  for (const text of ["one", "two", "three"]) await svc.chat.complete({ model: "default", messages: [userText(text)] });
  const fb = await svc.chat.complete({ model: "fallback", messages: [userText("fall back please")] });
  assert.equal(fb.deployment, "mock/b");
  await failing(svc.chat.complete({ model: "broken", messages: [userText("this fails")] }));
  await admin.chat.complete({ model: "fast", messages: [userText("admin call")] });
  // Records are written as requests end; wait until all six are readable.
  for (let i = 0; i < 100; i++) {
    const page = await admin.usage.listRequests({ pageSize: 50 });
    if (page.records.length >= 6) {
      fallbackRecord = page.records.find((r) => r.model === "fallback")!;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(fallbackRecord, "the fallback request was recorded");
});

after(async () => {
  await g?.close();
  sink?.closeAllConnections();
  sink?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("usage and requests", () => {
  test("usage: a table by team and deployment, the API's JSON, and CSV", async () => {
    const args = ["usage", "--since", since, "--group-by", "team,deployment"];
    // Reads only: all at once, checked in turn.
    const [tableRun, jsonRun, csvRun, filteredRun, hourlyRun, byOpRun] = await Promise.all([
      cli(args),
      cli([...args, "--json"]),
      cli([...args, "--csv"]),
      // Filters and buckets.
      cli(["usage", "--since", since, "--granularity", "hour", "--filter", "team=search", "--json"]),
      cli(["usage", "--since", since, "--granularity", "hour"]),
      // By operation: every request of this test was a chat.
      cli(["usage", "--since", since, "--group-by", "operation", "--filter", "operation=chat", "--json"]),
    ]);
    const table = ok(tableRun).stdout;
    assertTable(table, ["TEAM", "DEPLOYMENT", "REQUESTS", "FAILURES", "FALLBACKS", "TOKENS IN", "TOKENS OUT", "COST", "MEAN LATENCY"], ["search", "platform", "mock/a", "mock/b", "mock/flaky", "$0.0"]);

    const json = JSON.parse(ok(jsonRun).stdout);
    const direct = await admin.usage.getUsage({ startTime: timestampFromDate(new Date(since)), granularity: Granularity.TOTAL, groupBy: [Dimension.TEAM, Dimension.DEPLOYMENT] });
    assert.deepEqual(json, toJson(GetUsageResponseSchema, direct));
    const searchB = direct.rows.find((r) => r.group.team === "search" && r.group.deployment === "mock/b");
    assert.equal(searchB?.fallbacks, 1n);

    const rows = parseCsv(ok(csvRun).stdout);
    assert.deepEqual(rows[0], ["team", "deployment", "requests", "failures", "fallbacks", "cache_hits", "input_tokens", "output_tokens", "cost_usd", "mean_latency_ms", "p95_latency_ms", "images", "audio_seconds", "characters", "search_units", "pages", "request_cost_usd"]);
    assert.equal(rows.length - 1, direct.rows.length);
    const csvB = rows.find((r) => r[0] === "search" && r[1] === "mock/b")!;
    assert.equal(csvB[4], "1");
    assert.equal(Number(csvB[8]), Number(searchB!.cost!.totalNanoUsd) / 1e9, "cost in dollars, exact");

    // Filters and buckets.
    const filtered = JSON.parse(ok(filteredRun).stdout);
    assert.equal(filtered.rows.length, 1);
    assert.equal(filtered.rows[0].requests, "5");
    const hourly = ok(hourlyRun).stdout;
    assertTable(hourly, ["BUCKET", "REQUESTS"], [new Date().toISOString().slice(0, 10)]);
    // By operation: every request of this test was a chat.
    const byOp = JSON.parse(ok(byOpRun).stdout);
    assert.deepEqual(
      byOp.rows.map((r: { group: Record<string, string> }) => r.group),
      [{ operation: "chat" }],
    );
  });

  test("requests: newest first, the API's JSON, CSV, and status filters", async () => {
    // Reads only: all at once, checked in turn (the one by status code needs the error's status first).
    const [tableRun, jsonRun, csvRun, errorsRun, okOnesRun, twoPagesRun, onBRun, chatOpRun, realtimeRun, badRun] = await Promise.all([
      cli(["requests"]),
      cli(["requests", "--json"]),
      cli(["requests", "--csv"]),
      cli(["requests", "--status", "error", "--json"]),
      cli(["requests", "--status", "ok", "--key", "search-svc", "--json"]),
      cli(["requests", "--limit", "2", "--json"]),
      cli(["requests", "--deployment", "mock/b", "--route", "fallback", "--team", "search", "--json"]),
      cli(["requests", "--operation", "chat", "--json"]),
      cli(["requests", "--operation", "realtime"]),
      cli(["requests", "--operation", "teleport"]),
    ]);
    const table = ok(tableRun).stdout;
    assertTable(table, ["TIME", "ID", "KEY", "TEAM", "MODEL", "DEPLOYMENT", "STATUS", "ATTEMPTS", "COST", "LATENCY"], ["search-svc", "root", "fallback", "broken", "mock/b", fallbackRecord.id]);

    const json = JSON.parse(ok(jsonRun).stdout) as { records: unknown[] };
    assert.equal(json.records.length, 6);
    assert.deepEqual(json, toJson(ListRequestsResponseSchema, await admin.usage.listRequests({ pageSize: 50 })));

    const rows = parseCsv(ok(csvRun).stdout);
    assert.deepEqual(rows[0], ["time", "id", "key", "team", "model", "deployment", "status", "attempts", "input_tokens", "output_tokens", "cost_usd", "latency_ms", "failure_kind", "trace_id"]);
    assert.equal(rows.length - 1, 6);

    const errors = JSON.parse(ok(errorsRun).stdout);
    assert.deepEqual(errors.records.map((r: { model: string }) => r.model), ["broken"]);
    assert.notEqual(errors.records[0].status, "ok");
    const byCode = JSON.parse(ok(await cli(["requests", "--status", errors.records[0].status, "--json"])).stdout);
    assert.equal(byCode.records.length, 1);
    const okOnes = JSON.parse(ok(okOnesRun).stdout);
    assert.equal(okOnes.records.length, 4);
    const twoPages = JSON.parse(ok(twoPagesRun).stdout);
    assert.equal(twoPages.records.length, 2);
    assert.ok(twoPages.nextPageToken, "says there is more");
    const onB = JSON.parse(ok(onBRun).stdout);
    assert.deepEqual(onB.records.map((r: { id: string }) => r.id), [fallbackRecord.id]);
    // By operation: every request here was a chat, none a realtime session; an unknown one is bad usage.
    assert.equal(JSON.parse(ok(chatOpRun).stdout).records.length, 6);
    assert.equal(ok(realtimeRun).stdout, "no requests match\n");
    const bad = badRun;
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /realtime, passthrough/);
  });

  test("request <id>: the attempts as a timeline, tokens, cost, and the trace link", async () => {
    // Reads only: all at once, checked in turn.
    const traceId = fallbackRecord.traceId;
    const [run, jsonRun, byTraceRun, tracedRun, missingRun] = await Promise.all([
      cli(["request", fallbackRecord.id], { env: { SIGNALBOX_TRACE_URL: "http://jaeger.local/trace/{trace_id}" } }),
      cli(["request", fallbackRecord.id, "--json"]),
      traceId ? cli(["request", traceId, "--json"]) : undefined,
      traceId ? cli(["requests", "--trace", traceId, "--json"]) : undefined,
      cli(["request", "req_does_not_exist"]),
    ]);
    const r = ok(run).stdout;
    assertTable(r, ["#", "START", "DEPLOYMENT", "OUTCOME", "FAILURE", "LATENCY", "RETRY-AFTER", "HEDGED", "REASON"], ["mock/flaky", "overloaded", "mock/b", "succeeded", "ATTEMPTS", "TOKENS", "COST"]);
    if (fallbackRecord.traceId) assert.ok(r.includes(`http://jaeger.local/trace/${fallbackRecord.traceId}`));
    assert.match(r, /\+0 ms/);

    const json = JSON.parse(ok(jsonRun).stdout);
    assert.deepEqual(json, toJson(RequestRecordSchema, fallbackRecord));

    // By trace id too (UsageService.GetRequest), and the same through `requests --trace`.
    if (traceId) {
      assert.deepEqual(JSON.parse(ok(byTraceRun!).stdout), json);
      const traced = JSON.parse(ok(tracedRun!).stdout);
      assert.deepEqual(traced.records.map((x: { id: string }) => x.id), [fallbackRecord.id]);
    }

    const missing = missingRun;
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /req_does_not_exist/);
    assert.match(missing.stderr, /\(not_found\)/);
  });

  test("budget: the key's and its team's budgets and rate limits", async () => {
    // Reads only: all at once, checked in turn.
    const [run, jsonRun, teamRun] = await Promise.all([
      cli(["budget"], { env: { SIGNALBOX_API_KEY: SVC } }),
      cli(["budget", "--json"], { env: { SIGNALBOX_API_KEY: SVC } }),
      cli(["budget", "--team", "search", "--json"]),
    ]);
    const r = ok(run).stdout;
    assertTable(r, ["SCOPE", "NAME", "PERIOD", "LIMIT", "SPENT", "HELD", "REMAINING", "RESETS"], ["search-svc", "search", "month", "$5.00", "$50.00", "RATE LIMITS", "1,000"]);
    const json = JSON.parse(ok(jsonRun).stdout);
    const direct = toJson(GetBudgetResponseSchema, await svc.usage.getBudget({})) as { budgets: Record<string, unknown>[] };
    // The projection moves with the clock between the two reads: compared apart, by its presence.
    const still = (bs: Record<string, unknown>[]) => bs.map(({ projectedNanoUsd, projectedExhaustionTime, ...b }) => ({ ...b, projected: projectedNanoUsd !== undefined, exhausts: projectedExhaustionTime !== undefined }));
    assert.deepEqual(still(json.budgets), still(direct.budgets));
    const team = JSON.parse(ok(teamRun).stdout);
    assert.ok(team.budgets.some((b: { name: string }) => b.name === "search"));
  });
});

describe("routing and models", () => {
  test("route explain: strategy, candidates in order with reasons, exclusions", async () => {
    // Explains change nothing: all at once, checked in turn (the chat below runs after them).
    const [run, jsonRun, tieredRun, untieredRun, halfMetaRun, orderedRun, ignoredRun, speedRun, badRun] = await Promise.all([
      cli(["route", "explain", "--model", "fallback", "--prompt", "Hello there"]),
      cli(["route", "explain", "--model", "fallback", "--prompt", "Hello there", "--task", "coding", "--sticky-key", "u1", "--json"]),
      // Metadata and tags reach the planner: a route's condition picks by them.
      cli(["route", "explain", "--model", "tiered", "--prompt", "hi", "--metadata", "tier=pro", "--metadata", "region=eu", "--tag", "beta,x"]),
      cli(["route", "explain", "--model", "tiered", "--prompt", "hi", "--metadata", "tier=pro"]),
      cli(["route", "explain", "--model", "tiered", "--prompt", "hi", "--metadata", "tier"]),
      // Provider preferences: an order, an ignored provider (left out, with why), a bad sort.
      cli(["route", "explain", "--model", "fallback", "--prompt", "hi", "--provider-order", "mock"]),
      cli(["route", "explain", "--model", "fallback", "--prompt", "hi", "--ignore-providers", "flaky", "--sort-providers", "price", "--json"]),
      cli(["route", "explain", "--model", "fallback", "--prompt", "hi", "--sort-providers", "speed"]),
      // A route that cannot be served names why each deployment is left out.
      cli(["route", "explain", "--model", "nope", "--prompt", "x"]),
    ]);
    const r = ok(run).stdout;
    assertTable(r, ["#", "DEPLOYMENT", "PROVIDER", "SOURCE", "EXPECTED COST", "REASON"], ["ROUTE", "fallback", "STRATEGY", "priority", "mock/flaky", "mock/b", "CANDIDATES"]);
    assert.ok(r.indexOf("mock/flaky") < r.lastIndexOf("mock/b"));
    const json = JSON.parse(ok(jsonRun).stdout);
    const direct = await admin.route.route({ model: "fallback", messages: [userText("Hello there")], routing: { task: 1, stickyKey: "u1" } });
    assert.deepEqual(json, toJson(RouteResponseSchema, direct));
    // Metadata and tags reach the planner: a route's condition picks by them.
    const tiered = ok(tieredRun).stdout;
    assert.match(tiered, /mock\/b .*condition 1 \(metadata\.tier=pro, tag=beta\) -> deployment mock\/b/);
    assert.doesNotMatch(ok(untieredRun).stdout, /condition 1/);
    assert.equal(halfMetaRun.code, 2);
    // Provider preferences: an order, an ignored provider (left out, with why), a bad sort.
    const ordered = ok(orderedRun).stdout;
    assert.ok(ordered.indexOf("mock/b") < ordered.indexOf("mock/flaky"), ordered);
    assert.match(ordered, /routing\.providers\.order 1/);
    const ignored = JSON.parse(ok(ignoredRun).stdout);
    assert.deepEqual(ignored.candidates.map((c: { deployment: string }) => c.deployment), ["mock/b"]);
    assert.deepEqual(ignored.excluded.find((e: { deployment: string }) => e.deployment === "mock/flaky"), { deployment: "mock/flaky", reason: "EXCLUSION_REASON_PROVIDER_PREFERENCE", detail: 'provider flaky is in routing.providers.ignore ("flaky")' });
    assert.equal(speedRun.code, 2);
    const chatted = ok(await cli(["chat", "--model", "fallback", "--only-providers", "mock", "hi"]));
    assert.match(chatted.stderr, /mock\/b/);
    // A route that cannot be served names why each deployment is left out.
    const bad = badRun;
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not_found|invalid_argument/);
  });

  test("models: deployments with prices and health, routes, aliases", async () => {
    // Reads only: all at once, checked in turn.
    const [run, jsonRun, csvRun] = await Promise.all([cli(["models"]), cli(["models", "--json"]), cli(["models", "--csv"])]);
    const r = ok(run).stdout;
    assertTable(r, ["ID", "PROVIDER", "MODEL", "$IN/MTOK", "$OUT/MTOK", "CONTEXT", "HEALTH"], ["DEPLOYMENTS", "ROUTES", "ALIASES", "mock/a", "mock-a", "1.00", "2.00", "fallback", "mock/flaky, mock/b", "fast"]);
    const json = JSON.parse(ok(jsonRun).stdout) as { deployments: unknown[] };
    const rows = parseCsv(ok(csvRun).stdout);
    assert.equal(rows[0][0], "id");
    assert.equal(rows.length - 1, json.deployments.length);
    assert.deepEqual(json, toJson(ListModelsResponseSchema, await admin.route.listModels({})));
    // BUDGET: each spending cap, spent of limit and period, the provider's marked, OVER once reached; - when none.
    assertTable(r, ["ID", "HEALTH", "TTFT", "BUDGET", "CHECKED"], []);
    assert.match(r, /^mock\/rerank .* \$0\.\d+ of \$2\.00 day +-$/m);
    assert.match(r, /^mock\/frozen .* \$0\.00 of \$0\.0005 week; provider: \$0\.00 of \$0\.00 month OVER +-$/m);
    assert.match(r, /^mock\/a .* - +-$/m);
    const frozen = (json.deployments as { id: string; spendCaps?: Record<string, unknown>[] }[]).find((d) => d.id === "mock/frozen");
    assert.deepEqual(frozen?.spendCaps?.map((c) => [c.scope, c.period, c.limitNanoUsd ?? "0", c.over ?? false]), [
      ["deployment", "week", "500000", false],
      ["provider", "month", "0", true],
    ]);
    assert.ok(frozen?.spendCaps?.every((c) => typeof c.resetTime === "string"));
    const budget = rows[0].indexOf("budget");
    assert.ok(budget > 0, rows[0].join(","));
    assert.equal(rows.find((row) => row[0] === "mock/frozen")?.[budget], "$0.00 of $0.0005 week; provider: $0.00 of $0.00 month OVER");
    assert.equal(rows.find((row) => row[0] === "mock/a")?.[budget], "");
  });
});

describe("keys and teams", () => {
  test("keys create → chat with the secret → list, get, update, rotate → revoke → refused", async () => {
    const created = ok(
      await cli(["keys", "create", "--name", "cli-made", "--team", "search", "--role", "service", "--allow", "default,fast", "--rpm", "100", "--budget", "10/month", "--expires", "30d"]),
    );
    const secret = created.stdout.trim();
    assert.match(secret, /^sbk_[A-Za-z0-9_-]+$/, "stdout holds the secret alone");
    assert.equal(created.stdout, `${secret}\n`);
    assert.match(created.stderr, /shown this once/);

    // The new key answers a chat at once, through the CLI itself.
    const chat = ok(await cli(["chat", "--model", "default", "hi from a new key"], { env: { SIGNALBOX_API_KEY: secret } }));
    assert.ok(chat.stdout.trim().length > 0);

    // Then reads only: all at once, checked in turn.
    const asNew = { env: { SIGNALBOX_API_KEY: secret } };
    const [listRun, listJsonRun, csvRun, whoRun, whoJsonRun, gotRun, gotJsonRun] = await Promise.all([
      cli(["keys", "list"]),
      cli(["keys", "list", "--json"]),
      cli(["keys", "list", "--csv", "--team", "search"]),
      cli(["whoami"], asNew),
      cli(["whoami", "--json"], asNew),
      cli(["keys", "get", "cli-made"]),
      cli(["keys", "get", "cli-made", "--json"]),
    ]);
    const list = ok(listRun).stdout;
    assertTable(list, ["NAME", "TEAM", "ROLE", "PREFIX", "STATE", "ALLOW", "RPM", "BUDGET"], ["cli-made", "search-svc", "root", "default, fast", "$10 / month", secret.slice(0, 12)]);
    const listJson = JSON.parse(ok(listJsonRun).stdout);
    // Last-used times are written in batches off the request path: one may land between the two reads.
    assert.deepEqual(withoutLastUsed(listJson), withoutLastUsed(toJson(ListKeysResponseSchema, await admin.admin.listKeys({ pageSize: 500 }))));
    assert.ok(!JSON.stringify(listJson).includes(secret), "no secret in a listing");
    const csvRows = parseCsv(ok(csvRun).stdout);
    assert.equal(csvRows[0][0], "name");
    assert.deepEqual(csvRows.slice(1).map((r) => r[0]).sort(), ["cli-made", "search-svc"]);

    // whoami: any key may ask who it is.
    const who = ok(whoRun).stdout;
    assertTable(who, [], ["cli-made", "search", "service"]);
    assert.deepEqual(JSON.parse(ok(whoJsonRun).stdout), { key: "cli-made", team: "search", role: "KEY_ROLE_SERVICE", authEnabled: true });

    const got = ok(gotRun).stdout;
    assertTable(got, [], ["NAME", "cli-made", "ALLOW", "default, fast", "100 requests/min", "$10 / month", "EXPIRES"]);
    assert.deepEqual(withoutLastUsed(JSON.parse(ok(gotJsonRun).stdout)), withoutLastUsed(toJson(GetKeyResponseSchema, await admin.admin.getKey({ name: "cli-made" }))));

    // Only the named settings change: --tpm keeps the rpm that was set.
    ok(await cli(["keys", "update", "cli-made", "--tpm", "5000", "--budget", "none"]));
    const updated = (await admin.admin.getKey({ name: "cli-made" })).key!;
    assert.equal(updated.limits?.requestsPerMinute, 100);
    assert.equal(updated.limits?.tokensPerMinute, 5000n);
    assert.equal(updated.budget, undefined);
    assert.deepEqual(updated.allow, ["default", "fast"]);
    // none clears one setting and keeps the other: --rpm none leaves the tpm.
    ok(await cli(["keys", "update", "cli-made", "--rpm", "none"]));
    const cleared = (await admin.admin.getKey({ name: "cli-made" })).key!;
    assert.deepEqual([cleared.limits?.requestsPerMinute, cleared.limits?.tokensPerMinute], [undefined, 5000n]);
    ok(await cli(["keys", "update", "cli-made", "--rpm", "100"]));

    const rotated = ok(await cli(["keys", "rotate", "cli-made", "--grace", "1h"]));
    const next = rotated.stdout.trim();
    assert.match(next, /^sbk_/);
    assert.notEqual(next, secret);
    assert.match(rotated.stderr, /old secret works until/);
    await createSignalboxClient({ baseUrl: g.url, apiKey: next }).chat.complete({ model: "default", messages: [userText("rotated")] });

    const revoked = ok(await cli(["keys", "revoke", "cli-made"]));
    assert.match(revoked.stdout, /revoked key "cli-made"/);
    // After the revoke: at once, checked in turn.
    const [refused, e, withRevokedRun] = await Promise.all([
      cli(["chat", "--model", "default", "still there?"], { env: { SIGNALBOX_API_KEY: next } }),
      failing(createSignalboxClient({ baseUrl: g.url, apiKey: secret }).chat.complete({ model: "default", messages: [userText("x")] })),
      cli(["keys", "list", "--all"]),
    ]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /unauthenticated/);
    assert.equal(e.code, Code.Unauthenticated);
    const withRevoked = ok(withRevokedRun).stdout;
    assert.match(withRevoked, /cli-made .*revoked/);
  });

  test("keys block → refused, listed and shown as blocked → keys unblock → calls again; --json; a revoked key cannot be blocked", async () => {
    const { secret } = await admin.admin.createKey({ key: { name: "cli-blocked", team: "search", role: KeyRole.SERVICE } });
    const asKey = { env: { SIGNALBOX_API_KEY: secret } };
    ok(await cli(["chat", "--model", "default", "before the block"], asKey));

    const blocked = ok(await cli(["keys", "block", "cli-blocked"]));
    const since = (await admin.admin.getKey({ name: "cli-blocked" })).key?.blockTime;
    assert.ok(since, "the gateway has it blocked");
    assert.match(blocked.stdout, /^blocked key "cli-blocked" since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\n$/);
    // While blocked: the refused chat, the reads and a second block (which changes nothing) at once, checked in turn.
    const [refused, listRun, csvRun, gotRun, againRun] = await Promise.all([
      cli(["chat", "--model", "default", "while blocked"], asKey),
      cli(["keys", "list", "--team", "search"]),
      cli(["keys", "list", "--csv", "--team", "search"]),
      cli(["keys", "get", "cli-blocked"]),
      cli(["keys", "block", "cli-blocked", "--json"]),
    ]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /API key "cli-blocked" is blocked/);
    assert.match(refused.stderr, /unauthenticated/);
    assert.match(ok(listRun).stdout, /^cli-blocked +search +service .*blocked/m);
    const csvRow = parseCsv(ok(csvRun).stdout).find((r) => r[0] === "cli-blocked");
    assert.ok(csvRow?.includes("blocked"), String(csvRow));
    const got = ok(gotRun).stdout;
    assert.match(got, /^STATE +blocked$/m);
    assert.match(got, /^BLOCKED +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/m);
    // Blocking again changes nothing; --json is the API's own response.
    const again = JSON.parse(ok(againRun).stdout);
    assert.equal(again.key.name, "cli-blocked");
    assert.equal(new Date(again.key.blockTime).getTime(), timestampDate(since).getTime(), "the time it was first blocked");

    const unblocked = ok(await cli(["keys", "unblock", "cli-blocked"]));
    assert.equal(unblocked.stdout, 'unblocked key "cli-blocked"\n');
    assert.equal((await admin.admin.getKey({ name: "cli-blocked" })).key?.blockTime, undefined);
    // Unblocked: a chat, a read and a second unblock (which changes nothing) at once, checked in turn.
    const [afterRun, gotAfterRun, jRun] = await Promise.all([
      cli(["chat", "--model", "default", "after the block"], asKey),
      cli(["keys", "get", "cli-blocked"]),
      cli(["keys", "unblock", "cli-blocked", "--json"]),
    ]);
    ok(afterRun);
    const gotAfter = ok(gotAfterRun).stdout;
    assert.match(gotAfter, /^STATE +active$/m);
    assert.doesNotMatch(gotAfter, /^BLOCKED/m);
    const j = JSON.parse(ok(jRun).stdout);
    assert.deepEqual([j.key.name, j.key.blockTime], ["cli-blocked", undefined]);

    // Refusals exit 1 with the gateway's code and field; a missing name is bad usage (2).
    ok(await cli(["keys", "revoke", "cli-blocked"]));
    // Refusals change nothing: at once, checked in turn.
    const [onRevoked, unknown, usage] = await Promise.all([cli(["keys", "block", "cli-blocked"]), cli(["keys", "unblock", "no-such-key"]), cli(["keys", "block"])]);
    assert.equal(onRevoked.code, 1, onRevoked.stderr);
    assert.match(onRevoked.stderr, /failed_precondition/);
    assert.match(onRevoked.stderr, /key "cli-blocked" is revoked: it cannot be blocked or unblocked/);
    assert.equal(onRevoked.stdout, "");
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.match(unknown.stderr, /not_found/);
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /name/);
  });

  test("keys create --json: the secret is in the JSON, nothing else on stdout", async () => {
    const r = ok(await cli(["keys", "create", "--name", "cli-json", "--team", "search", "--json"]));
    const j = JSON.parse(r.stdout);
    assert.match(j.secret, /^sbk_/);
    assert.equal(j.key.name, "cli-json");
    assert.equal(j.key.role, "KEY_ROLE_SERVICE");
    assert.equal(r.stderr, "");
    ok(await cli(["keys", "revoke", "cli-json"]));
  });

  test("per-user budgets: keys create --user-budget → keys get → budget --key --user → keys update --user-budget (none clears it)", async () => {
    const secret = ok(await cli(["keys", "create", "--name", "cli-peruser", "--team", "search", "--budget", "10/month", "--user-budget", "1/day"])).stdout.trim();
    assert.equal((await admin.admin.getKey({ name: "cli-peruser" })).key?.perUserBudget?.limitUsd, 1);
    const got = ok(await cli(["keys", "get", "cli-peruser"])).stdout;
    assert.match(got, /^BUDGET +\$10 \/ month( \(warn at 80%\))?$/m);
    assert.match(got, /^USER BUDGET +\$1 \/ day( \(warn at 80%\))?$/m);

    // An end user's spending under the key, as the budgets table shows it: scope "user", name "<key>:<user>".
    await createSignalboxClient({ baseUrl: g.url, apiKey: secret }).chat.complete({ model: "default", messages: [userText("from alice")], user: "alice" });
    // Budget reads only: all at once, checked in turn.
    const [bRun, bjRun, bobRun, noUserRun] = await Promise.all([
      cli(["budget", "--key", "cli-peruser", "--user", "alice"]),
      cli(["budget", "--key", "cli-peruser", "--user", "alice", "--json"]),
      cli(["budget", "--user", "bob"], { env: { SIGNALBOX_API_KEY: secret } }),
      cli(["budget", "--key", "cli-peruser"]),
    ]);
    const b = ok(bRun).stdout;
    assertTable(b, ["SCOPE", "NAME", "PERIOD", "LIMIT", "SPENT", "REMAINING"], ["cli-peruser:alice"]);
    assert.match(b, /^user +cli-peruser:alice +day +\$1\.00 /m);
    assert.match(b, /^key +cli-peruser +month +\$10\.00 /m);
    assert.match(b, /^team +search +month +\$50\.00 /m);
    const bj = JSON.parse(ok(bjRun).stdout);
    const scopeAndName = (j: unknown) => (j as { budgets: { scope: string; name: string; limitNanoUsd: string }[] }).budgets.map((x) => [x.scope, x.name, x.limitNanoUsd]);
    assert.deepEqual(scopeAndName(bj), scopeAndName(toJson(GetBudgetResponseSchema, await admin.usage.getBudget({ key: "cli-peruser", user: "alice" }))));
    assert.ok(bj.budgets.some((x: { scope: string; name: string }) => x.scope === "SCOPE_USER" && x.name === "cli-peruser:alice"));
    // The key's own secret may ask about its users too.
    assert.match(ok(bobRun).stdout, /^user +cli-peruser:bob +day +\$1\.00 /m);
    // Without --user, no user row.
    assert.doesNotMatch(ok(noUserRun).stdout, /cli-peruser:/);

    // Only the per-user budget changes; "none" removes it.
    ok(await cli(["keys", "update", "cli-peruser", "--user-budget", "2.50/week"]));
    let k = (await admin.admin.getKey({ name: "cli-peruser" })).key!;
    assert.equal(k.perUserBudget?.limitUsd, 2.5);
    assert.equal(k.budget?.limitUsd, 10, "the key's own budget is kept");
    assert.match(ok(await cli(["keys", "update", "cli-peruser", "--user-budget", "none"])).stdout, /^BUDGET +\$10 \/ month( \(warn at 80%\))?$/m);
    k = (await admin.admin.getKey({ name: "cli-peruser" })).key!;
    assert.equal(k.perUserBudget, undefined);
    assert.equal(k.budget?.limitUsd, 10);
    // Reads only: at once, checked in turn.
    const [gotNowRun, none] = await Promise.all([
      cli(["keys", "get", "cli-peruser"]),
      // With no per-user budget, a user's budget cannot be read: the gateway says why.
      cli(["budget", "--key", "cli-peruser", "--user", "alice"]),
    ]);
    assert.doesNotMatch(ok(gotNowRun).stdout, /USER BUDGET/);
    assert.equal(none.code, 1, none.stderr);
    assert.match(none.stderr, /per_user_budget/);
    ok(await cli(["keys", "revoke", "cli-peruser"]));
  });

  test("teams create, list, update, delete", async () => {
    ok(await cli(["teams", "create", "--name", "cli-team", "--budget", "100/month", "--rpm", "50"]));
    const [listRun, listJsonRun] = await Promise.all([cli(["teams", "list"]), cli(["teams", "list", "--json"])]);
    const list = ok(listRun).stdout;
    assertTable(list, ["NAME", "BUDGET", "KEY RPM", "KEY TPM", "KEYS", "SOURCE"], ["cli-team", "$100 / month", "50", "search"]);
    assert.deepEqual(JSON.parse(ok(listJsonRun).stdout), toJson(ListTeamsResponseSchema, await admin.admin.listTeams({ pageSize: 500 })));
    ok(await cli(["teams", "update", "cli-team", "--tpm", "1000"]));
    const t = (await admin.admin.listTeams({})).teams.find((x) => x.name === "cli-team")!;
    assert.equal(t.defaultKeyLimits?.requestsPerMinute, 50, "the rpm not named is kept");
    assert.equal(t.defaultKeyLimits?.tokensPerMinute, 1000n);
    assert.equal(t.budget?.limitUsd, 100);
    ok(await cli(["teams", "delete", "cli-team"]));
    assert.ok(!(await admin.admin.listTeams({})).teams.some((x) => x.name === "cli-team"));
  });
});

describe("alerts", () => {
  test("alerts list (table, JSON, CSV, no URLs); alerts test: delivered exits 0, not delivered exits 1 with the reason", async () => {
    // Each is independent of the others (test alerts go to different sinks): all at once, checked in turn.
    const [listRun, jsonRun, csvRun, sentRun, down, unknown, svcTry] = await Promise.all([
      cli(["alerts", "list"]),
      cli(["alerts", "list", "--json"]),
      cli(["alerts", "list", "--csv"]),
      cli(["alerts", "test", "ops"]),
      cli(["alerts", "test", "down"]),
      cli(["alerts", "test", "nope"]),
      cli(["alerts", "test", "ops"], { env: { SIGNALBOX_API_KEY: SVC } }),
    ]);
    const list = ok(listRun).stdout;
    assertTable(list, ["NAME", "FORMAT", "TIMEOUT", "EVENTS"], ["ops", "slack", "5000 ms", "down", "deployment_cooldown"]);
    assert.ok(!list.includes("127.0.0.1"), "no URL");
    assert.deepEqual(JSON.parse(ok(jsonRun).stdout), toJson(ListAlertsResponseSchema, await admin.admin.listAlerts({})));
    assert.deepEqual(parseCsv(ok(csvRun).stdout)[2], ["down", "json", "5000", "deployment_cooldown"]);

    const sent = ok(sentRun);
    assert.match(sent.stdout, /delivered\s+yes/);
    assert.match(sunk.find((x) => x.path === "/ops")!.body, /test alert from replica/);
    assert.equal(down.code, 1);
    assert.match(down.stdout, /delivered\s+no/);
    assert.match(down.stdout, /error\s+HTTP 500/);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no alert named "nope"/);
    assert.equal(svcTry.code, 1);
  });
});

describe("rerank", () => {
  test("ranks the arguments (table, CSV, JSON) or stdin's lines; deployment and cost on stderr; no documents is bad usage", async () => {
    const docs = ["Paris is the capital of France", "Bananas are yellow", "France borders Spain"];
    // Independent calls: all at once, checked in turn.
    const [run, topRun, jsonRun, pipedRun, none] = await Promise.all([
      cli(["rerank", "--query", "capital of France", ...docs]),
      cli(["rerank", "--query", "capital of France", "--top", "1", "--csv", ...docs]),
      cli(["rerank", "--query", "capital of France", "--json", ...docs]),
      cli(["rerank", "--query", "bananas"], { stdin: docs.join("\n") + "\n\n" }),
      cli(["rerank", "--query", "q"], { stdin: "" }),
    ]);
    const r = ok(run);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^RANK\s+SCORE\s+INDEX\s+DOCUMENT$/);
    assert.match(lines[1], /^\s*1\s+[\d.]+\s+0\s+Paris is the capital of France$/);
    assert.equal(lines.length, 4);
    assert.match(r.stderr, /mock\/rerank \(route rerank\)/);
    assert.match(r.stderr, /\$0\.002/);
    const top = ok(topRun).stdout;
    const topRows = parseCsv(top);
    assert.deepEqual(topRows[0], ["rank", "score", "index", "document"]);
    assert.equal(topRows.length, 2);
    assert.deepEqual([topRows[1][0], topRows[1][2], topRows[1][3]], ["1", "0", "Paris is the capital of France"]);
    const j = JSON.parse(ok(jsonRun).stdout);
    assert.equal(j.deployment, "mock/rerank");
    assert.equal(j.results[0].index ?? 0, 0);
    const piped = ok(pipedRun).stdout;
    assert.match(piped.split("\n")[1], /Bananas are yellow$/);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /no documents/);
  });
});

/** A PNG's width and height from its IHDR chunk, after checking the 8-byte signature. */
function pngSize(file: string): [number, number] {
  const b = readFileSync(file);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${file} is not a PNG`);
  assert.equal(b.subarray(12, 16).toString("latin1"), "IHDR");
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

describe("image", () => {
  test("writes each image to a file and prints its path; deployment, images and cost on stderr; --json; bad usage sends nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "signalbox-cli-image-"));
    try {
      // Bad usage is refused before any call: with an unreachable gateway it still exits 2, not 1.
      // None of these writes anything: all at once, checked in turn.
      const badCases = [["-n", ["-n", "0"]], ["-n", ["-n", "11"]], ["--size", ["--size", "huge"]], ["--format", ["--format", "gif"]], ["--bogus", ["--bogus"]], ["--out", ["-o", join(dir, "missing", "x.png")]]] as const;
      const [none, ...badRuns] = await Promise.all([
        cli(["image", "images"], { stdin: "" }),
        ...badCases.map(([, bad]) => cli(["image", "images", "a red fox", ...bad], { env: { SIGNALBOX_URL: "http://127.0.0.1:9" } })),
      ]);
      for (const [i, [flag, bad]] of badCases.entries()) {
        const r = badRuns[i];
        assert.equal(r.code, 2, `${bad.join(" ")}: ${r.stderr}`);
        assert.ok(r.stderr.includes(flag), `${bad.join(" ")} names ${flag}: ${r.stderr}`);
        assert.equal(r.stdout, "");
      }
      assert.equal(none.code, 2, none.stderr);
      assert.match(none.stderr, /no prompt/);

      // The four generations write to different files (the last into its own directory): at once, checked in turn.
      const here = mkdtempSync(join(dir, "cwd-"));
      const [run, jsonRun, hdRun, hereRun] = await Promise.all([
        cli(["image", "images", "a red fox", "-n", "2", "--size", "64x48", "-o", dir]),
        cli(["image", "images", "a red fox", "-n", "2", "--size", "64x48", "-o", join(dir, "fox.png"), "--json"]),
        cli(["image", "images", "--quality", "hd", "--size", "32x32", "-o", join(dir, "hd.png"), "--json"], { stdin: "a red fox, in hd\n" }),
        // No --out: image-<request id>-<i>.png in the current directory.
        cli(["image", "images", "-", "--quality", "hd", "--size", "16x16"], { cwd: here, stdin: "a fox" }),
      ]);
      const r = ok(run);
      const lines = r.stdout.trimEnd().split("\n");
      assert.equal(lines.length, 2, r.stdout);
      const files = lines.map((l) => l.split("\t")[0]);
      for (const [i, f] of files.entries()) {
        assert.ok(f.startsWith(`${dir}/`), f);
        assert.match(f.slice(dir.length + 1), new RegExp(`^image-\\S+-${i + 1}\\.png$`));
        assert.deepEqual(pngSize(f), [64, 48]);
        assert.equal(lines[i].split("\t")[1], "a red fox", "the revised prompt after a tab");
      }
      assert.notDeepEqual(readFileSync(files[0]), readFileSync(files[1]));
      assert.match(r.stderr, /mock\/image \(route images\) · 2 images 64x48 · (\d+ tokens · )?\$0\.08 · \d+ ms · request req_/);

      const j = JSON.parse(ok(jsonRun).stdout);
      assert.equal(j.deployment, "mock/image");
      assert.deepEqual(j.files, [join(dir, "fox-1.png"), join(dir, "fox-2.png")]);
      for (const f of j.files) assert.deepEqual(pngSize(f), [64, 48]);
      assert.equal(j.images.length, 2);
      assert.equal(j.images[0].file, j.files[0]);
      assert.equal(j.images[0].mediaType, "image/png");
      assert.equal(j.images[0].data, undefined, "no bytes in the JSON");
      assert.deepEqual(j.urls, []);
      assert.deepEqual(j.revisedPrompts, ["a red fox", "a red fox"]);
      assert.equal(j.usage.images, "2");
      assert.equal(j.cost.totalNanoUsd, String(2 * 40_000_000));
      assert.match(j.id, /\S/);

      const hd = ok(hdRun);
      const hj = JSON.parse(hd.stdout);
      assert.deepEqual(hj.files, [join(dir, "hd.png")]);
      assert.equal(hj.usage.images, "1");
      assert.equal(hj.cost.totalNanoUsd, "80000000");
      assert.deepEqual(hj.revisedPrompts, ["a red fox, in hd"], "the prompt came from stdin");

      // No --out: image-<request id>-<i>.png in the current directory; the summary shows one image at $0.08.
      const d = ok(hereRun);
      assert.match(d.stdout, /^image-\S+-1\.png\ta fox\n$/);
      assert.deepEqual(readdirSync(here), [d.stdout.split("\t")[0]]);
      assert.deepEqual(pngSize(join(here, readdirSync(here)[0])), [16, 16]);
      assert.match(d.stderr, / · 1 image 16x16 · (\d+ tokens · )?\$0\.08 · /);

      // --edit: the images written above, edited (the mock says so in the revised prompt); a mask
      // without --edit, or a missing file, is bad usage.
      const badEdits = [
        [["--mask", files[0]], "--mask applies to an edit"],
        [["--edit", join(dir, "nope.png")], "no such file"],
        [["--edit", files[0], "--fidelity", "medium"], "--fidelity"],
      ] as const;
      // The edit and the refused ones (which send nothing) at once, checked in turn.
      const [editRun, ...badEditRuns] = await Promise.all([
        cli(["image", "images", "give it a hat", "--edit", files[0], "--edit", files[1], "--mask", join(dir, "hd.png"), "--size", "32x32", "-o", join(dir, "edited.png"), "--json"]),
        ...badEdits.map(([bad]) => cli(["image", "images", "x", ...bad])),
      ]);
      const e = JSON.parse(ok(editRun).stdout);
      assert.deepEqual(e.revisedPrompts, ["give it a hat (an edit of 2 images, masked)"]);
      assert.deepEqual(pngSize(e.files[0]), [32, 32]);
      for (const [i, [, says]] of badEdits.entries()) {
        const r2 = badEditRuns[i];
        assert.equal(r2.code, 2, r2.stderr);
        assert.ok(r2.stderr.includes(says), r2.stderr);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A JSON document with every key's `lastUsedTime` left out (written in batches, eventually). */
function withoutLastUsed(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v), (k, x) => (k === "lastUsedTime" ? undefined : x));
}

describe("chat", () => {
  test("streams the answer to stdout; deployment, tokens and cost on stderr", async () => {
    // Independent chats: at once, checked in turn.
    const [run, jsonRun] = await Promise.all([cli(["chat", "--model", "default", "Tell me about failover"]), cli(["chat", "--model", "fallback", "--json", "Tell me about failover"])]);
    const r = ok(run);
    const direct = await streamText(admin.chat, { model: "default", messages: [userText("Tell me about failover")] }).result;
    assert.equal(r.stdout, direct.text.endsWith("\n") ? direct.text : `${direct.text}\n`);
    assert.match(r.stderr, /mock\/a/);
    assert.match(r.stderr, /in \/ \d+ out tokens/);
    assert.match(r.stderr, /\$0\.\d+/);
    const j = JSON.parse(ok(jsonRun).stdout);
    assert.equal(j.start.deployment, "mock/b");
    assert.equal(j.finish.attempts.length, 2);
  });

  test("--logprobs prints each token's probability on stderr (--top-logprobs: alternatives); --json carries them; bad values are bad usage", async () => {
    const bads = [["--temperature", "3"], ["--temperature", "warm"], ["--top-logprobs", "21"]];
    // Independent calls (the bad ones send nothing): at once, checked in turn.
    const [run, jsonRun, ...badRuns] = await Promise.all([
      cli(["chat", "--model", "default", "--temperature", "0.2", "--logprobs", "--top-logprobs", "2", "How sure?"]),
      cli(["chat", "--model", "default", "--logprobs", "--json", "How sure?"]),
      ...bads.map((bad) => cli(["chat", "--model", "default", ...bad, "hi"])),
    ]);
    const r = ok(run);
    const direct = await streamText(admin.chat, { model: "default", messages: [userText("How sure?")], logprobs: true, topLogprobs: 2 }).result;
    assert.equal(r.stdout, direct.text.endsWith("\n") ? direct.text : `${direct.text}\n`, "stdout holds only the answer");
    const lines = r.stderr.split("\n").filter((l) => /^\s*\d+\.\d%  "/.test(l));
    assert.equal(lines.length, direct.logprobs.length);
    assert.deepEqual(
      lines.map((l) => JSON.parse(/^\s*\d+\.\d%  ("(?:[^"\\]|\\.)*")/.exec(l)![1])),
      direct.logprobs.map((t) => t.token),
    );
    assert.match(lines[0], /\(".*" \d+\.\d%\)$/, "with the alternative");
    assert.match(r.stderr, new RegExp(`${direct.logprobs.length} tokens · mean probability \\d+\\.\\d% · perplexity \\d+\\.\\d+`));
    const j = JSON.parse(ok(jsonRun).stdout);
    assert.equal(j.logprobs.length, direct.logprobs.length);
    assert.equal(j.logprobs.map((t: { token: string }) => t.token).join(""), j.text);
    assert.equal(typeof j.logprobs[0].logprob, "number");
    for (const [i, bad] of bads.entries()) {
      const b = badRuns[i];
      assert.equal(b.code, 2, b.stderr);
      assert.match(b.stderr, new RegExp(bad[0]));
    }
  });

  test("--file sends documents with the prompt; an unknown type or a missing file is bad usage", async () => {
    const dir = mkdtempSync(join(tmpdir(), "signalbox-cli-file-"));
    try {
      const notes = join(dir, "notes.md");
      writeFileSync(notes, "# Release\nShip on Friday.\n");
      const pdf = join(dir, "q3.pdf");
      writeFileSync(pdf, "%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n");
      // The mock says what it got: a file, a file, then the prompt.
      const odd = join(dir, "data.xlsx");
      writeFileSync(odd, "x");
      const bads = [
        [odd, /--file .*data\.xlsx: unknown document type/],
        [join(dir, "gone.pdf"), /--file .*gone\.pdf: no such file/],
      ] as const;
      // Independent calls (the bad ones send nothing): at once, checked in turn.
      const [run, ...badRuns] = await Promise.all([cli(["chat", "--model", "default", "--file", notes, "--file", pdf, "What ships?"]), ...bads.map(([path]) => cli(["chat", "--model", "default", "--file", path, "hi"]))]);
      const r = ok(run);
      assert.match(r.stdout, /You said: "\[file\] \[file\] What ships\?"/);
      for (const [i, [, why]] of bads.entries()) {
        const bad = badRuns[i];
        assert.equal(bad.code, 2, bad.stderr);
        assert.match(bad.stderr, why);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("chat --web", () => {
  test("searches first: the answer on stdout, Sources on stderr with the example.com URL the mock cites; --json has citations; bad --web-results are bad usage", async () => {
    const bads = [["--web-results", "0"], ["--web-results", "21"], ["--web-results", "2.5"], ["--web-results", "soon"]];
    // Independent calls (the bad ones send nothing): at once, checked in turn.
    const [run, jsonRun, bareRun, ...badRuns] = await Promise.all([
      cli(["chat", "--model", "default", "--web-results", "2", "What changed in Node 24?"]),
      cli(["chat", "--model", "default", "--json", "--web-results", "2", "--search-prompt", "Results:", "What changed in Node 24?"]),
      cli(["chat", "--model", "default", "--web", "What changed in Node 24?"]),
      ...bads.map((bad) => cli(["chat", "--model", "default", ...bad, "hi"])),
    ]);
    const r = ok(run);
    const direct = await streamText(admin.chat, { model: "default", messages: [userText("What changed in Node 24?")], webSearch: { maxResults: 2, searchPrompt: "" } }).result;
    const cited = direct.finish.citations;
    assert.ok(cited.length > 0 && cited[0].url.includes("example.com"), JSON.stringify(cited));
    assert.equal(r.stdout, direct.text.endsWith("\n") ? direct.text : `${direct.text}\n`, "stdout holds only the answer");
    assert.ok(r.stdout.includes(`](${cited[0].url})`), `the answer links to ${cited[0].url}:\n${r.stdout}`);
    // Sources, then the summary, on stderr.
    const lines = r.stderr.split("\n");
    const at = lines.indexOf("Sources:");
    assert.ok(at >= 0, r.stderr);
    assert.equal(lines[at + 1], `[1] ${cited[0].title} — ${cited[0].url}`);
    assert.match(lines[at + 1], /^\[1\] .+ — https:\/\/[^ ]*example\.com\/$/);
    assert.ok(lines.slice(at + 1).some((l) => /^— mock\/a/.test(l)), "the summary follows the sources");

    const j = JSON.parse(ok(jsonRun).stdout);
    assert.ok(j.citations.length > 0, JSON.stringify(j));
    assert.match(j.citations[0].url, /example\.com/);
    assert.equal(typeof j.citations[0].title, "string");
    assert.ok(j.text.includes(j.citations[0].url));
    assert.deepEqual(j.finish.citations, j.citations);
    assert.match(j.start.adjustments.find((a: { field: string }) => a.field === "web_search").detail, /^2 results from mock/);

    // --web alone, before the prompt: the config's max_results (3).
    const bare = ok(bareRun);
    assert.match(bare.stderr, /^Sources:\n\[1\] .* — https:\/\/\S*example\.com\/$/m);
    for (const [i, bad] of bads.entries()) {
      const b = badRuns[i];
      assert.equal(b.code, 2, `${bad.join(" ")}: ${b.stderr}`);
      assert.match(b.stderr, new RegExp(bad[0]));
      assert.equal(b.stdout, "");
    }
  });
});

describe("exit codes", () => {
  test("1 for a refused call: a service key may not list keys; the gateway's message and code are shown", async () => {
    const r = await cli(["keys", "list"], { env: { SIGNALBOX_API_KEY: SVC } });
    assert.equal(r.code, 1);
    const e = await failing(svc.admin.listKeys({}));
    assert.ok(r.stderr.includes(e.rawMessage), r.stderr);
    assert.match(r.stderr, /\(permission_denied\)/);
    assert.match(r.stderr, /hint:/);
    assert.equal(r.stdout, "");
  });

  test("1 with the field for invalid input", async () => {
    const r = await cli(["keys", "create", "--name", "cli-bad", "--team", "search", "--allow", "gpt-9"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid_argument/);
    assert.match(r.stderr, /field: key\.allow\[0\]/);
  });

  test("1 when the gateway is not there, with what to do next", async () => {
    const r = await cli(["models"], { env: { SIGNALBOX_URL: "http://127.0.0.1:9" } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unavailable/);
    assert.match(r.stderr, /is the gateway running at http:\/\/127\.0\.0\.1:9/);
  });

  test("2 for bad usage: unknown command or flag, bad values, conflicting flags, nothing to change", async () => {
    const cases = [
      ["bogus"],
      ["usage", "--bogus"],
      ["usage", "--since", "7x"],
      ["usage", "--granularity", "weekly"],
      ["usage", "--group-by", "team,planet"],
      ["requests", "--status", "nope"],
      ["requests", "--limit", "0"],
      ["requests", "--trace", "not-a-trace"],
      ["keys", "create", "--name", "x"],
      ["keys", "create", "--name", "x", "--team", "t", "--budget", "ten"],
      ["keys", "create", "--name", "x", "--team", "t", "--user-budget", "ten"],
      ["keys", "create", "--name", "x", "--team", "t", "--user-budget", "none"],
      ["keys", "update", "cli-made", "--user-budget", "1/fortnight"],
      ["keys", "update", "cli-made"],
      ["usage", "--json", "--csv"],
      ["budget", "--csv"],
      ["route", "explain", "--model", "default"],
      ["config", "check", join(ROOT, "does-not-exist.yaml")],
      ["--url", "localhost:8080", "models"],
      [],
    ];
    // None of these reaches the gateway: all at once, checked in turn.
    const [nothingRun, help, ...runs] = await Promise.all([cli(["keys", "update", "cli-made"]), cli(["--help"]), ...cases.map((args) => cli(args))]);
    for (const [i, args] of cases.entries()) {
      const r = runs[i];
      assert.equal(r.code, 2, `signalbox ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
      assert.ok(r.stderr.length > 0, `signalbox ${args.join(" ")} says why`);
    }
    assert.match(nothingRun.stderr, /--budget, --user-budget,/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit codes:/);
  });
});

describe("config check", () => {
  test("config/default.yaml is valid: counts and the gateway's config version", async () => {
    const file = join(ROOT, "config/default.yaml");
    const r = ok(await cli(["config", "check", file], { env: { PORT: undefined, HOST: undefined } }));
    const c = loadConfig(file, { ...process.env, PORT: undefined, HOST: undefined });
    assert.equal(r.stdout, `ok: ${c.providers.length} providers, ${c.deployments.length} deployments, ${c.routes.length} routes, version ${configVersion(c)}\n`);
  });

  test("a broken copy (unknown deployment) fails with the field path, exit 1", async () => {
    const broken = join(tmp, "broken.yaml");
    const text = readFileSync(join(ROOT, "config/default.yaml"), "utf8");
    assert.ok(text.includes("targets: [mock/flaky, mock/fast]"));
    writeFileSync(broken, text.replace("targets: [mock/flaky, mock/fast]", "targets: [mock/flaky, mock/gone]"));
    const [r, j] = await Promise.all([cli(["config", "check", broken]), cli(["config", "check", broken, "--json"])]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /routes\[1\]\.targets\[1\]: unknown deployment "mock\/gone"/);
    assert.equal(j.code, 1);
    assert.equal(JSON.parse(j.stdout).field, "routes[1].targets[1]");
  });

  test("${secret:…} references are checked against the secrets section but not read", async () => {
    const withSecrets = join(tmp, "secrets.yaml");
    const text = readFileSync(join(ROOT, "config/default.yaml"), "utf8");
    assert.ok(text.includes("web_search: { model: search, max_results: 3 }"));
    const exa = 'web_search: { engine: exa, api_key: "${secret:vault:search/exa#api_key}" }';
    writeFileSync(withSecrets, `${text.replace("web_search: { model: search, max_results: 3 }", exa)}\nsecrets:\n  sources:\n    - { name: vault, type: vault, url: "http://127.0.0.1:9", token: t }\n`);
    const [r, j] = await Promise.all([cli(["config", "check", withSecrets], { env: { PORT: undefined, HOST: undefined } }), cli(["config", "check", withSecrets, "--json"], { env: { PORT: undefined, HOST: undefined } })]);
    assert.match(ok(r).stdout, /^ok: .* \(1 \$\{secret:…\} reference not read: the gateway reads it from its source at start-up\)\n$/);
    assert.equal(JSON.parse(ok(j).stdout).secret_refs, 1);
    const unknown = join(tmp, "secrets-unknown.yaml");
    writeFileSync(unknown, text.replace("web_search: { model: search, max_results: 3 }", exa));
    const bad = await cli(["config", "check", unknown]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /web_search\.api_key: \$\{secret:vault:search\/exa#api_key\} needs a secrets section naming source "vault"/);
  });
});

describe("on the system's Node 20", () => {
  const v20 = existsSync(SYSTEM_NODE) ? execFileSync(SYSTEM_NODE, ["--version"], { encoding: "utf8" }).trim() : "";
  test(`the same bundle runs (${v20 || "no /usr/bin/node"})`, { skip: !v20.startsWith("v20.") && "no Node 20 at /usr/bin/node" }, async () => {
    const node = SYSTEM_NODE;
    const copy = join(tmp, "default.yaml");
    copyFileSync(join(ROOT, "config/default.yaml"), copy);
    // All but the chat at once (a fallback chat may change the deployments' health that models shows), checked in turn.
    const [modelsRun, usageRun, checkRun, refusedRun, badRun] = await Promise.all([
      cli(["models", "--json"], { node }),
      cli(["usage", "--since", "1h", "--group-by", "deployment"], { node }),
      cli(["config", "check", copy], { node }),
      cli(["keys", "list"], { node, env: { SIGNALBOX_API_KEY: SVC } }),
      cli(["usage", "--nope"], { node }),
    ]);
    const models = JSON.parse(ok(modelsRun).stdout);
    assert.deepEqual(models, toJson(ListModelsResponseSchema, await admin.route.listModels({})));
    const chat = ok(await cli(["chat", "--model", "fallback", "hello from node 20"], { node }));
    assert.ok(chat.stdout.length > 1);
    assert.match(chat.stderr, /mock\/b/);
    ok(usageRun);
    assert.match(ok(checkRun).stdout, /^ok: \d+ providers, \d+ deployments, \d+ routes, version [0-9a-f]{12}\n$/);
    assert.equal(refusedRun.code, 1);
    assert.equal(badRun.code, 2);
  });
});

describe("end users", () => {
  test("end-users create → list, get → block refuses that user only → unblock → update (--rpm none clears) → delete; bad input names the field", async () => {
    const ask = (user: string) => svc.chat.complete({ model: "default", messages: [userText(`hello from ${user}`)], user });
    // The CLI's create and the team key for the next are independent: at once.
    const [madeRun, { secret: lead }] = await Promise.all([
      cli(["end-users", "create", "ana@example.com", "--team", "search", "--budget", "5/day", "--rpm", "100", "--meta", "plan=free"]),
      admin.admin.createKey({ key: { name: "cli-eu-lead", team: "search", role: KeyRole.TEAM } }),
    ]);
    const made = ok(madeRun).stdout;
    assertTable(made, [], ["TEAM", "search", "USER", "ana@example.com", "$5 / day", "100 requests/min", "META plan", "free"]);
    assert.match(made, /^STATE +active$/m);
    assert.match(made, /^CREATED +.* \(by root\)$/m);
    // A team key manages its own team's: --team left out is the caller's team.
    assert.match(ok(await cli(["end-users", "create", "bob", "--tpm", "2000"], { env: { SIGNALBOX_API_KEY: lead } })).stdout, /^TEAM +search$/m);

    // Reads only: all at once, checked in turn.
    const [listRun, listJsonRun, csvRun, getJsonRun] = await Promise.all([
      cli(["end-users", "list", "--team", "search"]),
      cli(["end-users", "list", "--json"]),
      cli(["end-users", "list", "--csv", "--team", "search"]),
      cli(["end-users", "get", "ana@example.com", "--team", "search", "--json"]),
    ]);
    const list = ok(listRun).stdout;
    assertTable(list, ["TEAM", "USER", "STATE", "RPM", "TPM", "BUDGET"], ["ana@example.com", "$5 / day", "2,000"]);
    assert.match(list, /^search +ana@example\.com +active +100 /m);
    assert.deepEqual(JSON.parse(ok(listJsonRun).stdout), toJson(ListEndUsersResponseSchema, await admin.admin.listEndUsers({ pageSize: 500 })));
    const rows = parseCsv(ok(csvRun).stdout);
    assert.deepEqual(rows[0].slice(0, 5), ["team", "user", "state", "rpm", "tpm"]);
    assert.deepEqual(rows.slice(1).map((r) => r[1]), ["ana@example.com", "bob"]);
    assert.deepEqual(JSON.parse(ok(getJsonRun).stdout), toJson(GetEndUserResponseSchema, await admin.admin.getEndUser({ team: "search", user: "ana@example.com" })));

    // Blocked: that user is refused on the team's keys, the key's other users go on.
    await ask("ana@example.com");
    const blocked = ok(await cli(["end-users", "block", "ana@example.com", "--team", "search"]));
    assert.match(blocked.stdout, /^blocked end user "ana@example\.com" of team "search" since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\n$/);
    // While blocked: the chats and the reads at once, checked in turn.
    const asSvc = { env: { SIGNALBOX_API_KEY: SVC } };
    const [refused, , cliRefused, cliOtherRun, blockedListRun, blockedGetRun] = await Promise.all([
      failing(ask("ana@example.com")),
      ask("someone-else"),
      // And from the command line: chat --user names the end user.
      cli(["chat", "--user", "ana@example.com", "hello"], asSvc),
      cli(["chat", "--user", "someone-else", "hello"], asSvc),
      cli(["end-users", "list", "--team", "search"]),
      cli(["end-users", "get", "ana@example.com", "--team", "search"]),
    ]);
    assert.equal(refused.code, Code.PermissionDenied);
    assert.equal(refused.field, "user");
    assert.match(refused.rawMessage, /end user "ana@example\.com" is blocked/);
    assert.equal(cliRefused.code, 1, cliRefused.stderr);
    assert.match(cliRefused.stderr, /end user "ana@example\.com" is blocked/);
    assert.match(cliRefused.stderr, /permission_denied/);
    ok(cliOtherRun);
    assert.match(ok(blockedListRun).stdout, /^search +ana@example\.com +blocked /m);
    assert.match(ok(blockedGetRun).stdout, /^STATE +blocked$/m);
    const unblocked = ok(await cli(["end-users", "unblock", "ana@example.com", "--team", "search"]));
    assert.equal(unblocked.stdout, 'unblocked end user "ana@example.com" of team "search"\n');
    await ask("ana@example.com");

    // Only the named settings change: --tpm keeps the rpm, --rpm none clears it, key= drops an entry.
    ok(await cli(["end-users", "update", "ana@example.com", "--team", "search", "--tpm", "5000", "--meta", "tier=gold"]));
    let got = (await admin.admin.getEndUser({ team: "search", user: "ana@example.com" })).endUser!;
    assert.deepEqual([got.limits?.requestsPerMinute, got.limits?.tokensPerMinute, got.budget?.limitUsd, got.metadata], [100, 5000n, 5, { plan: "free", tier: "gold" }]);
    const cleared = ok(await cli(["end-users", "update", "ana@example.com", "--team", "search", "--rpm", "none", "--tpm", "none", "--meta", "plan="])).stdout;
    assert.doesNotMatch(cleared, /LIMITS/);
    got = (await admin.admin.getEndUser({ team: "search", user: "ana@example.com" })).endUser!;
    assert.deepEqual([got.limits, got.budget?.limitUsd, got.metadata], [undefined, 5, { tier: "gold" }]);
    ok(await cli(["end-users", "update", "ana@example.com", "--team", "search", "--budget", "none"]));
    assert.equal((await admin.admin.getEndUser({ team: "search", user: "ana@example.com" })).endUser?.budget, undefined);

    const deleted = ok(await cli(["end-users", "delete", "ana@example.com", "--team", "search"]));
    assert.equal(deleted.stdout, 'deleted end user "ana@example.com" of team "search"\n');
    // After the delete: at once, checked in turn (the team key is revoked once it has deleted bob).
    const [goneDirect, gone, bobRun] = await Promise.all([
      failing(admin.admin.getEndUser({ team: "search", user: "ana@example.com" })),
      cli(["end-users", "get", "ana@example.com", "--team", "search"]),
      cli(["end-users", "delete", "bob"], { env: { SIGNALBOX_API_KEY: lead } }),
    ]);
    assert.equal(goneDirect.code, Code.NotFound);
    assert.equal(gone.code, 1, gone.stderr);
    assert.match(gone.stderr, /not_found/);
    ok(bobRun);
    ok(await cli(["keys", "revoke", "cli-eu-lead"]));

    // Bad usage (2) names the flag and sends nothing; what the gateway refuses (1) names the field.
    const usage = [
      [["end-users", "create", "x", "--team", "search", "--budget", "0/day"], /--budget/],
      [["end-users", "create", "x", "--team", "search", "--budget", "none"], /--budget/],
      [["end-users", "create", "x", "--team", "search", "--rpm", "0"], /--rpm/],
      [["end-users", "update", "x", "--team", "search", "--tpm", "lots"], /--tpm/],
      [["end-users", "update", "x", "--team", "search"], /nothing to change/],
      [["end-users", "block"], /missing required argument 'user'/],
    ] as const;
    const refusedByGateway = [
      [["end-users", "create", "tab\there", "--team", "search"], "end_user.user"],
      [["end-users", "create", "x", "--team", "no-such-team"], "end_user.team"],
    ] as const;
    // None of these makes anything: all at once, checked in turn.
    const runs = await Promise.all([...usage, ...refusedByGateway].map(([args]) => cli([...args])));
    for (const [i, [args, why]] of usage.entries()) {
      const r = runs[i];
      assert.equal(r.code, 2, `signalbox ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, why);
    }
    for (const [i, [args, field]] of refusedByGateway.entries()) {
      const r = runs[usage.length + i];
      assert.equal(r.code, 1, `signalbox ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, /invalid_argument/);
      assert.ok(r.stderr.includes(`field: ${field}`), r.stderr);
    }
    assert.deepEqual((await admin.admin.listEndUsers({ team: "search" })).endUsers, [], "nothing was made");
  });
});

describe("lifetime budgets", () => {
  test("keys create --budget 1/lifetime → get, list, budget show it, never resets → update 2/lifetime; 1/forever is bad usage", async () => {
    ok(await cli(["keys", "create", "--name", "cli-lifetime", "--team", "search", "--budget", "1/lifetime"]));
    assert.deepEqual((await admin.admin.getKey({ name: "cli-lifetime" })).key?.budget?.period, BudgetPeriod.LIFETIME);
    const [getRun, listRun] = await Promise.all([cli(["keys", "get", "cli-lifetime"]), cli(["keys", "list", "--team", "search"])]);
    assert.match(ok(getRun).stdout, /^BUDGET +\$1 lifetime( \(warn at 80%\))?$/m);
    assert.match(ok(listRun).stdout, /^cli-lifetime .*\$1 lifetime/m);
    ok(await cli(["keys", "update", "cli-lifetime", "--budget", "2/lifetime"]));
    const k = (await admin.admin.getKey({ name: "cli-lifetime" })).key!;
    assert.deepEqual([k.budget?.limitUsd, k.budget?.period], [2, BudgetPeriod.LIFETIME]);
    // The budget view: period lifetime, no reset time ("never", not 1970 or "Invalid Date").
    // A read and a refused update (bad usage, sent nowhere): at once, checked in turn.
    const [viewRun, bad] = await Promise.all([cli(["budget", "--key", "cli-lifetime"]), cli(["keys", "update", "cli-lifetime", "--budget", "1/forever"])]);
    const view = ok(viewRun).stdout;
    assert.match(view, /^key +cli-lifetime +lifetime +\$2\.00 .* never +ok$/m);
    assert.doesNotMatch(view, /1970|Invalid Date|9999/);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--budget/);
    assert.match(bad.stderr, /lifetime/);
    ok(await cli(["keys", "revoke", "cli-lifetime"]));
  });
});

// Last in the file: a check of mock/flaky fails and counts towards its cooldown, and the checks
// are requests of their own (records, spend), which the tests above do not expect.
describe("models check", () => {
  test("ok, FAILED (exit 1), skipped, not_found and deadline_exceeded; --json, --csv; models shows the last check", async () => {
    // Never checked yet: "-" in the CHECKED column.
    const before = ok(await cli(["models"])).stdout;
    assert.match(before, /^mock\/a .* -$/m);
    // Each is independent of the others (no two check the same failing deployment): all at once, checked in turn.
    const [healthyRun, failedRun, jsonRun, csvRun, slowRun, svcTry, badTimeout] = await Promise.all([
      cli(["models", "check", "mock/a", "mock/b", "mock/rerank", "mock/image"]),
      cli(["models", "check", "mock/a", "mock/flaky"]),
      cli(["models", "check", "mock/b", "nope", "--json"]),
      cli(["models", "check", "mock/a", "mock/image", "--csv"]),
      cli(["models", "check", "mock/slow", "--timeout", "200"]),
      cli(["models", "check", "mock/a"], { env: { SIGNALBOX_API_KEY: SVC } }),
      cli(["models", "check", "--timeout", "0"]),
    ]);

    const healthy = ok(healthyRun);
    assertTable(healthy.stdout, ["DEPLOYMENT", "PROVIDER", "OPERATION", "RESULT", "LATENCY", "COST", "DETAIL"], ["serves only images"]);
    assert.match(healthy.stdout, /^mock\/a +mock +chat +ok +\d+ ms +\$0\.\d+$/m);
    assert.match(healthy.stdout, /^mock\/b +mock +chat +ok /m);
    assert.match(healthy.stdout, /^mock\/rerank +mock +rerank +ok +\d+ ms +\$0\.002$/m);
    assert.match(healthy.stdout, /^mock\/image +mock +skipped +serves only images: a check would be billed per unit$/m);
    assert.match(healthy.stderr, /3 checked: 3 ok · 1 skipped · \$0\.\d+ · trace [0-9a-f]{32}/);

    assert.equal(failedRun.code, 1, failedRun.stderr);
    assert.match(failedRun.stdout, /^mock\/a +mock +chat +ok /m);
    assert.match(failedRun.stdout, /^mock\/flaky +flaky +chat +FAILED +\d+ ms +\$0\.00 +unavailable: .*injected failure/m);
    assert.match(failedRun.stderr, /2 checked: 1 ok, 1 FAILED/);

    // --json: the API's answer, in the order asked; an unknown id is a failed check (not_found).
    assert.equal(jsonRun.code, 1, jsonRun.stderr);
    const checks = (JSON.parse(jsonRun.stdout) as { checks: Record<string, unknown>[] }).checks;
    assert.deepEqual(checks.map((c) => [c.deployment, c.operation ?? "", c.healthy ?? false, c.status ?? ""]), [
      ["mock/b", "chat", true, ""],
      ["nope", "", false, "not_found"],
    ]);
    assert.match(String(checks[0].requestId), /^req_/);
    assert.ok(BigInt(String(checks[0].costNanoUsd)) > 0n, "a check is billed");
    assert.match(String(checks[1].error), /no deployment "nope"/);
    assert.equal(jsonRun.stderr, "", "nothing but the JSON");
    // The check is a request of its own, recorded with the tag "health-check".
    let record: RequestRecord | undefined;
    for (let i = 0; i < 250 && !record; i++) {
      record = await admin.usage.getRequest({ id: String(checks[0].requestId) }).then(
        (r) => r.record,
        () => undefined,
      );
      if (!record) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(record, "the check was recorded");
    assert.deepEqual(record.tags, ["health-check"]);

    const rows = parseCsv(ok(csvRun).stdout);
    assert.deepEqual(rows[0], ["deployment", "provider", "operation", "result", "latency_ms", "cost_usd", "error"]);
    assert.deepEqual(rows.slice(1).map((r) => [r[0], r[3]]), [["mock/a", "ok"], ["mock/image", "skipped"]]);
    assert.match(rows[1][5], /^0\.\d+$/);

    assert.equal(slowRun.code, 1, slowRun.stderr);
    assert.match(slowRun.stdout, /^mock\/slow +slow +chat +FAILED .*deadline_exceeded: no answer within 200 ms$/m);
    assert.equal(svcTry.code, 1);
    assert.match(svcTry.stderr, /permission_denied/);
    assert.equal(badTimeout.code, 2, badTimeout.stderr);
    assert.match(badTimeout.stderr, /--timeout/);

    // models: each deployment's latest check.
    const after = ok(await cli(["models"])).stdout;
    assertTable(after, ["ID", "HEALTH", "TTFT", "CHECKED"], []);
    assert.match(after, /^mock\/a .* ok \d+ ms, \d+s ago$/m);
    assert.match(after, /^mock\/flaky .* FAILED unavailable, \d+s ago$/m);
    assert.match(after, /^mock\/slow .* FAILED deadline_exceeded, \d+s ago$/m);
    assert.match(after, /^mock\/image .* skipped$/m);
    assert.match(after, /^mock\/trickle .* -$/m);
    const modelRows = parseCsv(ok(await cli(["models", "--csv"])).stdout);
    const checked = modelRows[0].indexOf("checked");
    assert.ok(checked > 0, modelRows[0].join(","));
    assert.equal(modelRows.find((r) => r[0] === "mock/flaky")?.[checked], "failed");
  });
});
