// Authorization: every role against every Usage RPC, through a real socket. An admin key sees
// all; a team key its own team; a service key its own records; nobody another team's.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createSignalboxClient, Dimension, userText } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEYS = { admin: "sbx_t_admin_0001", teamA: "sbx_t_team_a_0002", svcA: "sbx_t_svc_a_0003", teamB: "sbx_t_team_b_0004", svcB: "sbx_t_svc_b_0005" };
let t: TestGateway;
const start = timestampFromMs(Date.now() - 60_000);

before(async () => {
  t = await startTestGateway(`
providers: [{ name: m, type: mock }]
deployments: [{ id: m/a, provider: m, model: a, pricing: { input: 1, output: 1 } }]
routes: [{ name: r, targets: [m/a] }]
keys:
  - { name: admin, hash: "${hashKey(KEYS.admin)}", team: a, role: admin }
  - { name: team-a, hash: "${hashKey(KEYS.teamA)}", team: a, role: team }
  - { name: svc-a, hash: "${hashKey(KEYS.svcA)}", team: a, role: service, budget: { period: month, limit_usd: 5 } }
  - { name: team-b, hash: "${hashKey(KEYS.teamB)}", team: b, role: team }
  - { name: svc-b, hash: "${hashKey(KEYS.svcB)}", team: b, role: service, budget: { period: month, limit_usd: 5 } }
teams:
  - { name: a, budget: { period: month, limit_usd: 100 } }
  - { name: b, budget: { period: month, limit_usd: 100 } }
`);
  for (const k of Object.values(KEYS)) await as(k).chat.complete({ model: "r", messages: [userText("hi")] });
});
after(() => t.close());

const as = (key: string) => createSignalboxClient({ baseUrl: t.url, apiKey: key });
const keysSeen = async (key: string) => {
  const res = await as(key).usage.getUsage({ startTime: start, groupBy: [Dimension.KEY] });
  return res.rows.map((r) => r.group.key).sort();
};
const listed = async (key: string) => (await as(key).usage.listRequests({ startTime: start })).records.map((r) => r.key).sort();
const code = async (p: Promise<unknown>) => p.then(() => "ok", (e: unknown) => Code[ConnectError.from(e).code]);

test("GetUsage: admin all, team its team, service itself", async () => {
  assert.deepEqual(await keysSeen(KEYS.admin), ["admin", "svc-a", "svc-b", "team-a", "team-b"]);
  assert.deepEqual(await keysSeen(KEYS.teamA), ["admin", "svc-a", "team-a"]);
  assert.deepEqual(await keysSeen(KEYS.teamB), ["svc-b", "team-b"]);
  assert.deepEqual(await keysSeen(KEYS.svcA), ["svc-a"]);
  assert.deepEqual(await keysSeen(KEYS.svcB), ["svc-b"]);
});

test("ListRequests: the same scopes", async () => {
  assert.deepEqual(await listed(KEYS.admin), ["admin", "svc-a", "svc-b", "team-a", "team-b"]);
  assert.deepEqual(await listed(KEYS.teamA), ["admin", "svc-a", "team-a"]);
  assert.deepEqual(await listed(KEYS.svcB), ["svc-b"]);
});

test("asking for another team's or key's usage is permission_denied", async () => {
  const otherTeam = [{ dimension: Dimension.TEAM, values: ["b"] }];
  const otherKey = [{ dimension: Dimension.KEY, values: ["team-a"] }];
  assert.equal(await code(as(KEYS.admin).usage.getUsage({ startTime: start, filters: otherTeam })), "ok");
  assert.equal(await code(as(KEYS.teamA).usage.getUsage({ startTime: start, filters: otherTeam })), "PermissionDenied");
  assert.equal(await code(as(KEYS.teamA).usage.listRequests({ filters: otherTeam })), "PermissionDenied");
  assert.equal(await code(as(KEYS.svcA).usage.getUsage({ startTime: start, filters: otherKey })), "PermissionDenied");
  assert.equal(await code(as(KEYS.svcA).usage.listRequests({ filters: otherKey })), "PermissionDenied");
});

test("GetRequest: the same scopes, by request id and by trace id; outside its scope a record is not_found", async () => {
  const all = (await as(KEYS.admin).usage.listRequests({ startTime: start })).records;
  const rec = (key: string) => all.find((r) => r.key === key)!;
  const get = (key: string, ref: { id?: string; traceId?: string }) => as(key).usage.getRequest(ref);
  assert.equal((await get(KEYS.admin, { id: rec("svc-b").id })).record?.key, "svc-b");
  assert.equal((await get(KEYS.teamA, { id: rec("svc-a").id })).record?.key, "svc-a");
  assert.equal((await get(KEYS.svcA, { traceId: rec("svc-a").traceId })).record?.id, rec("svc-a").id);
  assert.equal(await code(get(KEYS.teamA, { id: rec("svc-b").id })), "NotFound");
  assert.equal(await code(get(KEYS.svcA, { id: rec("team-a").id })), "NotFound");
  assert.equal(await code(get(KEYS.svcB, { traceId: rec("svc-a").traceId })), "NotFound");
  assert.equal(await code(createSignalboxClient({ baseUrl: t.url }).usage.getRequest({ id: rec("svc-a").id })), "Unauthenticated");
});

test("GetBudget: admin any key or team, team keys their team, service keys themselves", async () => {
  assert.equal(await code(as(KEYS.admin).usage.getBudget({ key: "svc-b" })), "ok");
  assert.equal(await code(as(KEYS.admin).usage.getBudget({ team: "b" })), "ok");
  assert.equal(await code(as(KEYS.teamA).usage.getBudget({ key: "svc-a" })), "ok");
  assert.equal(await code(as(KEYS.teamA).usage.getBudget({ key: "svc-b" })), "PermissionDenied");
  assert.equal(await code(as(KEYS.teamA).usage.getBudget({ team: "b" })), "PermissionDenied");
  assert.equal(await code(as(KEYS.svcA).usage.getBudget({})), "ok");
  assert.equal(await code(as(KEYS.svcA).usage.getBudget({ key: "team-a" })), "PermissionDenied");
  const own = await as(KEYS.svcA).usage.getBudget({});
  assert.deepEqual(own.budgets.map((b) => b.name), ["svc-a", "a"]);
  assert.ok(own.budgets[0].spentNanoUsd > 0n, "the request it made is spent");
});

test("without a key, or with a wrong one, nothing is answered", async () => {
  assert.equal(await code(createSignalboxClient({ baseUrl: t.url }).usage.getUsage({ startTime: start })), "Unauthenticated");
  assert.equal(await code(as("sbx_wrong").usage.listRequests({})), "Unauthenticated");
});
