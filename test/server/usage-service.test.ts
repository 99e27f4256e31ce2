// UsageService over a usage store: the authorization rule (unit), and GetUsage / ListRequests
// through an in-process Connect transport (wire types, conversions, codes). Every role against a
// real gateway socket comes with the gateway wiring.

import assert from "node:assert/strict";
import { test } from "node:test";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { Dimension, FailureKind, Granularity } from "../../gen/signalbox/v1/common_pb.ts";
import { FinishReason } from "../../gen/signalbox/v1/chat_pb.ts";
import { UsageService } from "../../gen/signalbox/v1/usage_pb.ts";
import { GatewayError } from "../../src/router/errors.ts";
import type { Caller } from "../../src/router/types.ts";
import { ANONYMOUS, callerKey } from "../../src/server/auth.ts";
import { requestInfoKey } from "../../src/server/context.ts";
import { authorizeUsageFilters, usageService } from "../../src/server/usage-service.ts";
import { createMemoryUsageStore } from "../../src/usage/memory-store.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import type { UsageFilter, UsageStore } from "../../src/usage/store.ts";
import { createSignalboxClient, userText } from "@signalbox/client";
import { DAY, HOUR, makeRecord, rng } from "../usage/fixtures.ts";
import { near, trueQuantile } from "../usage/suite.ts";
import { startTestGateway } from "../helpers/gateway.ts";

const ADMIN: Caller = { keyName: "ops", team: "platform", role: "admin", allow: [] };
const RED: Caller = { keyName: "red-team-key", team: "red", role: "team", allow: [] };
const ALPHA: Caller = { keyName: "k-alpha", team: "red", role: "service", allow: [] };

const denied = (err: unknown) => err instanceof GatewayError && err.code === "permission_denied";

test("authorization: admin and anonymous see everything, unchanged", () => {
  const filters: UsageFilter[] = [{ dimension: "team", values: ["blue", "red"] }];
  assert.deepEqual(authorizeUsageFilters(ADMIN, filters), filters);
  assert.deepEqual(authorizeUsageFilters(ANONYMOUS, filters), filters);
  assert.deepEqual(authorizeUsageFilters(ADMIN, []), []);
});

test("authorization: a team key is pinned to its team; naming another team is denied", () => {
  assert.deepEqual(authorizeUsageFilters(RED, []), [{ dimension: "team", values: ["red"] }]);
  const own: UsageFilter[] = [
    { dimension: "team", values: ["red"] },
    { dimension: "key", values: ["k-gamma"] },
  ];
  assert.deepEqual(authorizeUsageFilters(RED, own), [...own, { dimension: "team", values: ["red"] }]);
  assert.throws(() => authorizeUsageFilters(RED, [{ dimension: "team", values: ["blue"] }]), denied);
  assert.throws(() => authorizeUsageFilters(RED, [{ dimension: "team", values: ["red", "blue"] }]), (e: Error) => denied(e) && /"blue"/.test(e.message));
  // A key filter cannot widen it: the team filter is still added (AND).
  assert.deepEqual(authorizeUsageFilters(RED, [{ dimension: "key", values: ["k-gamma"] }]).at(-1), { dimension: "team", values: ["red"] });
});

test("authorization: a service key is pinned to its own key; naming another key is denied", () => {
  assert.deepEqual(authorizeUsageFilters(ALPHA, []), [{ dimension: "key", values: ["k-alpha"] }]);
  assert.deepEqual(authorizeUsageFilters(ALPHA, [{ dimension: "key", values: ["k-alpha"] }]).length, 2);
  assert.throws(() => authorizeUsageFilters(ALPHA, [{ dimension: "key", values: ["k-beta"] }]), denied);
  // Another team's filter is not denied for a service key, but its own key filter still applies.
  assert.deepEqual(authorizeUsageFilters(ALPHA, [{ dimension: "team", values: ["blue"] }]).at(-1), { dimension: "key", values: ["k-alpha"] });
  assert.throws(() => authorizeUsageFilters({ ...ALPHA, role: "robot" as never }, []), denied);
});

// ---- Through Connect ----------------------------------------------------------------------------

function clientFor(store: UsageStore | undefined) {
  // The caller comes from a test header (the gateway's auth interceptor does this for real).
  const identify: Interceptor = (next) => async (req) => {
    const who = req.header.get("x-test-caller");
    req.contextValues.set(callerKey, who ? (JSON.parse(who) as Caller) : ANONYMOUS);
    req.contextValues.set(requestInfoKey, { id: "req_test", traceId: "0".repeat(32), arrivedAt: 0 });
    return next(req);
  };
  const transport = createRouterTransport((router) => router.service(UsageService, usageService(store ? { store } : {})), {
    router: { interceptors: [identify] },
  });
  const client = createClient(UsageService, transport);
  const as = (c: Caller) => ({ headers: { "x-test-caller": JSON.stringify(c) } });
  return { client, as };
}

const day0 = Math.floor(Date.now() / DAY) * DAY - 3 * DAY;
const records: UsageRecord[] = [];
const store = createMemoryUsageStore();
{
  const r = rng(2024);
  for (let i = 0; i < 300; i++) {
    const x = makeRecord(r, { time: day0 + (i % 3) * DAY + i * 1000, cost: 1_000_000 + i });
    records.push(x);
    store.record(x);
  }
}
const range = { startTime: timestampFromMs(day0), endTime: timestampFromMs(day0 + 3 * DAY) };
const code = (c: Code) => (err: unknown) => err instanceof ConnectError && err.code === c;

test("without a store both RPCs answer unimplemented, after validation; GetBudget is left to budget-service", async () => {
  const { client } = clientFor(undefined);
  await assert.rejects(client.getUsage(range), code(Code.Unimplemented));
  await assert.rejects(client.listRequests({}), code(Code.Unimplemented));
  await assert.rejects(client.getRequest({ id: "req_1" }), code(Code.Unimplemented));
  await assert.rejects(client.getRequest({}), (e: ConnectError) => e.code === Code.InvalidArgument && /^id: /.test(e.rawMessage));
  await assert.rejects(client.getUsage({}), (e: ConnectError) => e.code === Code.InvalidArgument && /start_time/.test(e.rawMessage));
  const { client: withStore } = clientFor(store);
  await assert.rejects(withStore.getBudget({}), code(Code.Unimplemented));
});

test("GetUsage: rows in wire types, grouped and bucketed", async () => {
  const { client, as } = clientFor(store);
  const res = await client.getUsage({ ...range, granularity: Granularity.DAY, groupBy: [Dimension.TEAM, Dimension.TAG] }, as(ADMIN));
  assert.equal(res.droppedRecords, 0n);
  const days = [...new Set(res.rows.map((row) => timestampMs(row.bucketStart!)))];
  assert.deepEqual(days, [day0, day0 + DAY, day0 + 2 * DAY]);
  assert.ok(res.rows.every((row) => Object.keys(row.group).sort().join() === "tag,team"));
  const total = await client.getUsage(range, as(ADMIN));
  assert.equal(total.rows.length, 1, "granularity defaults to total");
  const row = total.rows[0];
  assert.equal(timestampMs(row.bucketStart!), day0);
  assert.equal(row.requests, 300n);
  assert.equal(
    row.cost!.totalNanoUsd,
    records.reduce((a, x) => a + BigInt(x.cost.total), 0n),
  );
  assert.equal(
    row.usage!.totalTokens,
    records.reduce((a, x) => a + BigInt(x.usage.inputTokens + x.usage.outputTokens), 0n),
  );
  assert.equal(row.failures, BigInt(records.filter((x) => x.status !== "ok").length));
  assert.equal(row.attempts, BigInt(records.reduce((a, x) => a + x.attempts.length, 0)));
  assert.ok(Math.abs(row.meanLatencyMs - records.reduce((a, x) => a + x.latencyMs, 0) / 300) < 1e-6);
  // Percentiles from the store's latency histogram: within half a bucket (~5%) of the true ones.
  near(row.p50LatencyMs, trueQuantile(records.map((x) => x.latencyMs), 0.5), 0.05, "p50");
  near(row.p95LatencyMs, trueQuantile(records.map((x) => x.latencyMs), 0.95), 0.05, "p95");
  const withTtft = records.filter((x) => x.ttftMs !== undefined);
  assert.ok(Math.abs(row.meanTtftMs - withTtft.reduce((a, x) => a + x.ttftMs!, 0) / withTtft.length) < 1e-6);
});

test("GetUsage: a team key sees only its team, whatever it groups by; naming another team is permission_denied", async () => {
  const { client, as } = clientFor(store);
  const res = await client.getUsage({ ...range, groupBy: [Dimension.TEAM] }, as(RED));
  assert.deepEqual(
    res.rows.map((row) => row.group.team),
    ["red"],
  );
  assert.equal(res.rows[0].requests, BigInt(records.filter((x) => x.team === "red").length));
  const own = await client.getUsage({ ...range, filters: [{ dimension: Dimension.TEAM, values: ["red"] }] }, as(RED));
  assert.equal(own.rows[0].requests, res.rows[0].requests);
  await assert.rejects(client.getUsage({ ...range, filters: [{ dimension: Dimension.TEAM, values: ["blue"] }] }, as(RED)), code(Code.PermissionDenied));
  // Anonymous (auth off) and admin see every team.
  for (const c of [ANONYMOUS, ADMIN]) {
    const all = await client.getUsage({ ...range, groupBy: [Dimension.TEAM] }, as(c));
    assert.deepEqual(
      all.rows.map((row) => row.group.team),
      ["blue", "green", "red"],
    );
  }
});

test("ListRequests: a service key lists only its own records, page by page; another key is permission_denied", async () => {
  const { client, as } = clientFor(store);
  const seen: string[] = [];
  let pageToken = "";
  do {
    const page = await client.listRequests({ pageSize: 17, pageToken }, as(ALPHA));
    seen.push(...page.records.map((x) => x.id));
    assert.ok(page.records.every((x) => x.key === "k-alpha"));
    pageToken = page.nextPageToken;
  } while (pageToken);
  assert.deepEqual(
    seen,
    records
      .filter((x) => x.key === "k-alpha")
      .reverse()
      .map((x) => x.id),
  );
  await assert.rejects(client.listRequests({ filters: [{ dimension: Dimension.KEY, values: ["k-beta"] }] }, as(ALPHA)), code(Code.PermissionDenied));
  const team = await client.listRequests({ pageSize: 1000 }, as(RED));
  assert.equal(team.records.length, records.filter((x) => x.team === "red").length);
  const all = await client.listRequests({ pageSize: 1000 }, as(ANONYMOUS));
  assert.equal(all.records.length, 300);
});

test("ListRequests: records in wire types; page tokens are checked", async () => {
  const { client, as } = clientFor(store);
  const start = timestampFromMs(day0 + DAY);
  const page = await client.listRequests({ startTime: start, endTime: timestampFromMs(day0 + DAY + 2 * HOUR), pageSize: 3 }, as(ADMIN));
  assert.equal(page.records.length, 3);
  const got = page.records[0];
  const want = records.filter((x) => x.time >= day0 + DAY && x.time < day0 + DAY + 2 * HOUR).at(-1)!;
  assert.equal(got.id, want.id);
  assert.equal(timestampMs(got.time!), want.time);
  assert.equal(got.key, want.key);
  assert.equal(got.team, want.team);
  assert.equal(got.routing?.route, want.routing.route);
  assert.equal(got.routing?.variant, want.routing.variant);
  assert.equal(got.deployment, want.deployment);
  assert.deepEqual(
    got.attempts.map((a) => [a.number, a.deployment]),
    want.attempts.map((a) => [a.number, a.deployment]),
  );
  assert.equal(got.cost?.totalNanoUsd, BigInt(want.cost.total));
  assert.equal(got.usage?.inputTokens, BigInt(want.usage.inputTokens));
  assert.equal(got.timing?.latencyMs, want.latencyMs);
  assert.equal(got.timing?.ttftMs, want.ttftMs);
  assert.equal(got.status, want.status);
  assert.equal(got.failureKind, want.failureKind ? FailureKind.OVERLOADED : FailureKind.UNSPECIFIED);
  assert.equal(got.finishReason, want.finishReason ? FinishReason.STOP : FinishReason.UNSPECIFIED);
  assert.deepEqual(got.tags, want.tags);
  assert.deepEqual(got.metadata, want.metadata);
  assert.equal(got.streamed, want.streamed);

  await assert.rejects(
    client.listRequests({ startTime: timestampFromMs(day0), pageSize: 3, pageToken: page.nextPageToken }, as(ADMIN)),
    (e: ConnectError) => e.code === Code.InvalidArgument && /^page_token: .*different query/.test(e.rawMessage),
  );
  await assert.rejects(
    client.listRequests({ pageToken: "nonsense" }, as(ADMIN)),
    (e: ConnectError) => e.code === Code.InvalidArgument && /^page_token: malformed/.test(e.rawMessage),
  );
  // The same token with a team key: its forced filter makes it another query.
  await assert.rejects(client.listRequests({ startTime: start, endTime: timestampFromMs(day0 + DAY + 2 * HOUR), pageToken: page.nextPageToken }, as(RED)), code(Code.InvalidArgument));
});

test("ListRequests by trace id; GetRequest by request id or trace id (the newest of that trace), scoped like ListRequests", async () => {
  const { client, as } = clientFor(store);
  // The fixture's trace ids repeat every ten records.
  const trace = records[5].traceId;
  const ofTrace = records.filter((x) => x.traceId === trace).reverse();
  const listed = await client.listRequests({ traceId: trace, pageSize: 1000 }, as(ADMIN));
  assert.deepEqual(
    listed.records.map((x) => x.id),
    ofTrace.map((x) => x.id),
  );
  assert.equal((await client.getRequest({ traceId: trace }, as(ADMIN))).record?.id, ofTrace[0].id);
  const one = records[123];
  const got = (await client.getRequest({ id: one.id }, as(ANONYMOUS))).record!;
  assert.equal(got.id, one.id);
  assert.equal(got.traceId, one.traceId);
  assert.equal(got.cost?.totalNanoUsd, BigInt(one.cost.total));
  // A team key finds its team's records only; a service key its own; anything else is not_found.
  const red = records.find((x) => x.team === "red")!;
  const blue = records.find((x) => x.team === "blue")!;
  assert.equal((await client.getRequest({ id: red.id }, as(RED))).record?.id, red.id);
  await assert.rejects(client.getRequest({ id: blue.id }, as(RED)), code(Code.NotFound));
  const alpha = records.find((x) => x.key === "k-alpha")!;
  const beta = records.find((x) => x.key === "k-beta")!;
  assert.equal((await client.getRequest({ id: alpha.id }, as(ALPHA))).record?.key, "k-alpha");
  await assert.rejects(client.getRequest({ id: beta.id }, as(ALPHA)), code(Code.NotFound));
  await assert.rejects(client.getRequest({ traceId: "f".repeat(32) }, as(ADMIN)), (e: ConnectError) => e.code === Code.NotFound && /^trace_id: /.test(e.rawMessage));
  // Validation names the field: exactly one of id and trace_id, a trace id is 32 lowercase hex.
  for (const [req, field] of [
    [{}, "id"],
    [{ id: one.id, traceId: trace }, "trace_id"],
    [{ traceId: "AB".repeat(16) }, "trace_id"],
    [{ id: "x".repeat(257) }, "id"],
  ] as const) {
    await assert.rejects(client.getRequest(req, as(ADMIN)), (e: ConnectError) => e.code === Code.InvalidArgument && e.rawMessage.startsWith(`${field}: `), JSON.stringify(req));
  }
  await assert.rejects(client.listRequests({ traceId: "nope" }, as(ADMIN)), (e: ConnectError) => e.code === Code.InvalidArgument && /^trace_id: /.test(e.rawMessage));
});

test("through a real gateway: after traffic, GetUsage reports p50 and p95 latency per route and overall", async () => {
  const gw = await startTestGateway(`
providers:
  - { name: quick, type: mock, mock: { ttft_ms: 20, inter_chunk_ms: 0, chunks: 1 } }
  - { name: slow, type: mock, mock: { ttft_ms: 200, inter_chunk_ms: 0, chunks: 1 } }
deployments:
  - { id: m/quick, provider: quick, model: q, pricing: { input: 1, output: 1 } }
  - { id: m/slow, provider: slow, model: s, pricing: { input: 1, output: 1 } }
routes:
  - { name: quick, targets: [m/quick] }
  - { name: slow, targets: [m/slow] }
`);
  try {
    const sb = createSignalboxClient({ baseUrl: gw.url });
    const since = timestampFromMs(Date.now() - HOUR);
    for (let i = 0; i < 18; i++) await sb.chat.complete({ model: "quick", messages: [userText(`hi ${i}`)] });
    for (let i = 0; i < 2; i++) await sb.chat.complete({ model: "slow", messages: [userText(`hi ${i}`)] });
    // Records are written once the response is done: wait until all twenty are counted.
    let total = (await sb.usage.getUsage({ startTime: since })).rows[0];
    for (let i = 0; i < 50 && total?.requests !== 20n; i++) {
      await new Promise((r) => setTimeout(r, 20));
      total = (await sb.usage.getUsage({ startTime: since })).rows[0];
    }
    assert.equal(total?.requests, 20n);
    const listed = (await sb.usage.listRequests({ startTime: since, pageSize: 100 })).records;
    assert.equal(listed.length, 20);
    const latencies = (route: string) => listed.filter((x) => route === "" || x.routing?.route === route).map((x) => x.timing!.latencyMs);
    assert.ok(total.p50LatencyMs > 0 && total.p95LatencyMs > 0, "non-zero percentiles");
    near(total.p50LatencyMs, trueQuantile(latencies(""), 0.5), 0.05, "p50");
    near(total.p95LatencyMs, trueQuantile(latencies(""), 0.95), 0.05, "p95");
    assert.ok(total.p50LatencyMs < 150 && total.p95LatencyMs >= 190, `p50 ${total.p50LatencyMs} is a quick request's, p95 ${total.p95LatencyMs} a slow one's`);
    const byRoute = await sb.usage.getUsage({ startTime: since, groupBy: [Dimension.ROUTE] });
    assert.deepEqual(
      byRoute.rows.map((r) => r.group.route),
      ["quick", "slow"],
    );
    for (const row of byRoute.rows) {
      near(row.p50LatencyMs, trueQuantile(latencies(row.group.route), 0.5), 0.05, `${row.group.route} p50`);
      near(row.p95LatencyMs, trueQuantile(latencies(row.group.route), 0.95), 0.05, `${row.group.route} p95`);
    }
  } finally {
    await gw.close();
  }
});
