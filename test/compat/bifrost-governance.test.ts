// Bifrost's governance API on the gateway (/api/governance/virtual-keys, /api/governance/teams),
// driven over real HTTP as a Bifrost provisioning script drives it: a virtual key made with a
// budget and a rate limit works at once as x-bf-vk on Bifrost's /openai path; is_active false
// refuses it and true lets it back; DELETE refuses it for good; its value is shown only on
// create; provider_configs become its allow list; only admin and team keys (their own team's)
// may call; bad input names the field, in Bifrost's error shape; teams round-trip; customers are
// a clear 501. The gateway on the mock provider.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hashKey } from "../../src/server/auth.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const key = (...p: string[]) => ["sbx", "test", "bfgov", ...p].join("_");
const ADMIN = key("admin");
const LEAD = key("lead");
const SVC = key("svc");

const YAML = `${MOCK_CONFIG}
keys:
  - { name: admin, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
  - { name: lead, hash: "${hashKey(LEAD)}", team: a, role: team }
  - { name: svc, hash: "${hashKey(SVC)}", team: a, role: service }
  - { name: other-lead, hash: "${hashKey(key("other"))}", team: b, role: team }
`;

type BifrostError = { is_bifrost_error: boolean; status_code: number; error: { message: string } };
type Budget = { max_limit: number; reset_duration: string | null; current_usage: number; last_reset: string };
type RateLimit = { request_max_limit: number | null; request_reset_duration: string | null; token_max_limit: number | null; token_reset_duration: string | null };
type VirtualKey = {
  id: string;
  name: string;
  description: string;
  value?: string;
  is_active: boolean;
  team_id: string;
  budgets: Budget[];
  budget?: Budget;
  rate_limit?: RateLimit;
  provider_configs: { provider: string; allowed_models: string[] }[];
  signalbox: { value_prefix: string; allow: string[] };
};
type Team = { id: string; name: string; budget?: Budget; rate_limit?: RateLimit; virtual_keys: { id: string }[] };

describe("Bifrost's governance API", () => {
  let gw: TestGateway;
  const api = async <T = Record<string, unknown>>(apiKey: string, method: string, path: string, body?: unknown) => {
    const r = await fetch(`${gw.url}/api/governance${path}`, { method, headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, text, json: JSON.parse(text) as T };
  };
  /** A Bifrost app's chat: the OpenAI path under /openai, the virtual key in x-bf-vk, a placeholder Authorization. */
  const chat = (vk: string, model = "default") =>
    fetch(`${gw.url}/openai/chat/completions`, { method: "POST", headers: { authorization: "Bearer dummy", "x-bf-vk": vk, "content-type": "application/json" }, body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }) });
  /** The answer is a Bifrost error with this status, its message naming `field`. */
  const refused = (r: { status: number; text: string; json: unknown }, status: number, field?: string) => {
    assert.equal(r.status, status, r.text);
    const e = r.json as BifrostError;
    assert.equal(e.is_bifrost_error, false);
    assert.equal(e.status_code, status);
    assert.equal(typeof e.error.message, "string");
    if (field) assert.ok(e.error.message.startsWith(`${field}:`), `message names ${field}: ${e.error.message}`);
  };
  before(async () => {
    gw = await startTestGateway(YAML);
  });
  after(() => gw?.close());

  test("a virtual key with a budget and a rate limit: its value works as x-bf-vk, is shown once; is_active blocks and unblocks; DELETE refuses it", async () => {
    const made = await api<{ message: string; virtual_key: VirtualKey; signalbox: { ignored: string[] } }>(ADMIN, "POST", "/virtual-keys", {
      name: "Checkout Service",
      description: "the checkout backend",
      team_id: "a",
      budget: { max_limit: 10, reset_duration: "1w" },
      rate_limit: { request_max_limit: 100, request_reset_duration: "1m", token_max_limit: 50000, token_reset_duration: "1m" },
      mcp_configs: [{ mcp_client_name: "search" }],
    });
    assert.equal(made.status, 200, made.text);
    assert.equal(made.json.message, "Virtual key created successfully");
    const vk = made.json.virtual_key;
    assert.match(vk.value!, /^sbk_/);
    assert.equal(vk.id, "checkout-service");
    assert.equal(vk.name, "Checkout Service");
    assert.equal(vk.description, "the checkout backend");
    assert.equal(vk.team_id, "a");
    assert.equal(vk.is_active, true);
    assert.deepEqual(vk.budgets.map((b) => [b.max_limit, b.reset_duration, b.current_usage]), [[10, "1w", 0]]);
    assert.deepEqual({ ...vk.rate_limit, id: undefined }, { id: undefined, request_max_limit: 100, request_reset_duration: "1m", token_max_limit: 50000, token_reset_duration: "1m" });
    assert.deepEqual(made.json.signalbox.ignored, ["mcp_configs"]);

    const ok = await chat(vk.value!);
    assert.equal(ok.status, 200, await ok.clone().text());

    // The value is never shown again: not on GET, not in the list.
    const got = await api<{ virtual_key: VirtualKey }>(ADMIN, "GET", `/virtual-keys/${vk.id}`);
    assert.equal(got.status, 200, got.text);
    assert.ok(!got.text.includes(vk.value!) && !got.text.includes(vk.value!.slice(12)), "no value after creation");
    assert.equal(got.json.virtual_key.value, undefined);
    assert.ok(vk.value!.startsWith(got.json.virtual_key.signalbox.value_prefix));
    assert.equal(got.json.virtual_key.budget!.max_limit, 10);
    assert.ok(got.json.virtual_key.budget!.current_usage >= 0);
    const list = await api<{ virtual_keys: VirtualKey[]; count: number; total_count: number }>(ADMIN, "GET", "/virtual-keys?team_id=a");
    assert.equal(list.status, 200, list.text);
    assert.ok(list.json.virtual_keys.some((k) => k.id === vk.id));
    assert.equal(list.json.count, list.json.virtual_keys.length);
    assert.ok(!list.text.includes(vk.value!.slice(12)));

    // is_active false: refused at once; true: back. A budget change keeps the reset.
    const off = await api<{ virtual_key: VirtualKey }>(ADMIN, "PUT", `/virtual-keys/${vk.id}`, { is_active: false });
    assert.equal(off.status, 200, off.text);
    assert.equal(off.json.virtual_key.is_active, false);
    assert.equal((await chat(vk.value!)).status, 401);
    const on = await api<{ virtual_key: VirtualKey }>(ADMIN, "PUT", `/virtual-keys/${vk.id}`, { is_active: true, budget: { max_limit: 20 } });
    assert.equal(on.status, 200, on.text);
    assert.equal(on.json.virtual_key.is_active, true);
    assert.deepEqual([on.json.virtual_key.budget!.max_limit, on.json.virtual_key.budget!.reset_duration], [20, "1w"]);
    assert.equal((await chat(vk.value!)).status, 200);

    // budgets (Bifrost's newer list) with none: a budget that never resets; [] removes it.
    const lifetime = await api<{ virtual_key: VirtualKey }>(ADMIN, "PUT", `/virtual-keys/${vk.id}`, { budgets: [{ max_limit: 5 }] });
    assert.equal(lifetime.status, 200, lifetime.text);
    assert.deepEqual(lifetime.json.virtual_key.budgets.map((b) => [b.max_limit, b.reset_duration]), [[5, null]]);
    const none = await api<{ virtual_key: VirtualKey }>(ADMIN, "PUT", `/virtual-keys/${vk.id}`, { budgets: [] });
    assert.deepEqual(none.json.virtual_key.budgets, []);

    const del = await api(ADMIN, "DELETE", `/virtual-keys/${vk.id}`);
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.json, { message: "Virtual key deleted successfully" });
    assert.equal((await chat(vk.value!)).status, 401);
    refused(await api(ADMIN, "GET", `/virtual-keys/${vk.id}`), 404, "vk_id");
  });

  test("provider_configs become the allow list; weight is listed back as ignored", async () => {
    const made = await api<{ virtual_key: VirtualKey; signalbox: { ignored: string[] } }>(ADMIN, "POST", "/virtual-keys", {
      name: "only-b",
      team_id: "a",
      provider_configs: [{ provider: "mock", allowed_models: ["mock-b"], weight: 1 }],
    });
    assert.equal(made.status, 200, made.text);
    const vk = made.json.virtual_key;
    assert.deepEqual(vk.signalbox.allow, ["mock/b"]);
    assert.deepEqual(vk.provider_configs.map((p) => [p.provider, p.allowed_models]), [["mock", ["mock-b"]]]);
    assert.deepEqual(made.json.signalbox.ignored, ["provider_configs[0].weight"]);
    assert.equal((await chat(vk.value!, "mock/b")).status, 200);
    assert.notEqual((await chat(vk.value!, "mock/a")).status, 200);
    // ["*"]: every deployment of the provider.
    const all = await api<{ virtual_key: VirtualKey }>(ADMIN, "PUT", `/virtual-keys/${vk.id}`, { provider_configs: [{ provider: "mock", allowed_models: ["*"] }] });
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(all.json.virtual_key.signalbox.allow, ["mock/a", "mock/b"]);
    assert.equal((await chat(vk.value!, "mock/a")).status, 200);
  });

  test("who may call: admin everything, a team key its own team's keys, a service key nothing (403)", async () => {
    refused(await api(SVC, "GET", "/virtual-keys"), 403);
    refused(await api(SVC, "POST", "/virtual-keys", { name: "x", team_id: "a" }), 403);
    refused(await api(SVC, "GET", "/teams"), 403);
    // A team key: its own team by default, not another's; it may not create teams.
    const mine = await api<{ virtual_key: VirtualKey }>(LEAD, "POST", "/virtual-keys", { name: "lead made" });
    assert.equal(mine.status, 200, mine.text);
    assert.equal(mine.json.virtual_key.team_id, "a");
    refused(await api(LEAD, "POST", "/virtual-keys", { name: "elsewhere", team_id: "b" }), 403);
    const listed = await api<{ virtual_keys: VirtualKey[] }>(LEAD, "GET", "/virtual-keys");
    assert.equal(listed.status, 200, listed.text);
    assert.ok(listed.json.virtual_keys.length > 0 && listed.json.virtual_keys.every((k) => k.team_id === "a"));
    refused(await api(LEAD, "POST", "/teams", { name: "mine" }), 403);
    refused(await api("sbk_not_a_key", "GET", "/virtual-keys"), 401);
  });

  test("bad input is a 400 naming the field, in Bifrost's error shape", async () => {
    const vk = (body: Record<string, unknown>) => api(ADMIN, "POST", "/virtual-keys", { name: "bad", team_id: "a", ...body });
    refused(await api(ADMIN, "POST", "/virtual-keys", { team_id: "a" }), 400, "name");
    refused(await vk({ budget: { max_limit: 10, reset_duration: "1h" } }), 400, "budget.reset_duration");
    refused(await vk({ budget: { max_limit: -1, reset_duration: "1d" } }), 400, "budget.max_limit");
    refused(await vk({ budgets: [{ max_limit: 1, reset_duration: "1d" }, { max_limit: 5, reset_duration: "1M" }] }), 400, "budgets");
    refused(await vk({ rate_limit: { request_max_limit: 10, request_reset_duration: "1h" } }), 400, "rate_limit.request_reset_duration");
    refused(await vk({ rate_limit: { token_max_limit: 1.5, token_reset_duration: "1m" } }), 400, "rate_limit.token_max_limit");
    refused(await vk({ customer_id: "acme" }), 400, "customer_id");
    refused(await vk({ team_id: "nope" }), 400, "team_id");
    refused(await vk({ provider_configs: [{ provider: "nope" }] }), 400, "provider_configs[0].provider");
    refused(await vk({ provider_configs: [{ provider: "mock", allowed_models: ["gpt-9"] }] }), 400, "provider_configs[0].allowed_models[0]");
    refused(await vk({ provider_configs: [{ provider: "mock", budgets: [{ max_limit: 1, reset_duration: "1d" }] }] }), 400, "provider_configs[0].budgets");
    refused(await vk({ is_active: "no" }), 400, "is_active");
    refused(await api(ADMIN, "PATCH", "/virtual-keys/bad"), 405);
    // Nothing half-made: no key "bad" exists.
    refused(await api(ADMIN, "GET", "/virtual-keys/bad"), 404, "vk_id");
    // Customers: nothing maps (no organisations above teams).
    const c = await api(ADMIN, "POST", "/customers", { name: "Acme" });
    refused(c, 501);
    assert.match((c.json as BifrostError).error.message, /no customers/);
  });

  test("teams round-trip: create with a budget and rate limit, read, update, a key in it, delete", async () => {
    const made = await api<{ team: Team }>(ADMIN, "POST", "/teams", { name: "Platform Team", budget: { max_limit: 50, reset_duration: "1M" }, rate_limit: { request_max_limit: 60, request_reset_duration: "1m" } });
    assert.equal(made.status, 200, made.text);
    const t = made.json.team;
    assert.equal(t.id, "platform-team");
    assert.equal(t.name, "Platform Team");
    assert.deepEqual([t.budget!.max_limit, t.budget!.reset_duration], [50, "1M"]);
    assert.equal(t.rate_limit!.request_max_limit, 60);

    const listed = await api<{ teams: Team[]; total_count: number }>(ADMIN, "GET", "/teams");
    assert.ok(listed.json.teams.some((x) => x.id === t.id));
    const updated = await api<{ team: Team }>(ADMIN, "PUT", `/teams/${t.id}`, { name: "Platform", budget: { max_limit: 75 } });
    assert.equal(updated.status, 200, updated.text);
    assert.deepEqual([updated.json.team.name, updated.json.team.budget!.max_limit, updated.json.team.budget!.reset_duration], ["Platform", 75, "1M"]);
    refused(await api(ADMIN, "PUT", `/teams/${t.id}`, { budget: { reset_duration: "90d" } }), 400, "budget.reset_duration");
    refused(await api(ADMIN, "POST", "/teams", { name: "x", customer_id: "acme" }), 400, "customer_id");

    const vk = await api<{ virtual_key: VirtualKey }>(ADMIN, "POST", "/virtual-keys", { name: "platform bot", team_id: t.id });
    assert.equal(vk.status, 200, vk.text);
    assert.equal((await chat(vk.json.virtual_key.value!)).status, 200);
    const got = await api<{ team: Team }>(ADMIN, "GET", `/teams/${t.id}`);
    assert.deepEqual(got.json.team.virtual_keys.map((k) => k.id), [vk.json.virtual_key.id]);
    // A team with keys is not deleted (Bifrost would detach them); revoked keys stay on record, so it stays.
    refused(await api(ADMIN, "DELETE", `/teams/${t.id}`), 400, "team_id");
    assert.equal((await api(ADMIN, "DELETE", `/virtual-keys/${vk.json.virtual_key.id}`)).status, 200);
    refused(await api(ADMIN, "DELETE", `/teams/${t.id}`), 400, "team_id");
    // A team with none is.
    const spare = await api<{ team: Team }>(ADMIN, "POST", "/teams", { name: "Spare" });
    assert.equal(spare.status, 200, spare.text);
    assert.equal(spare.json.team.budget, undefined);
    const del = await api(ADMIN, "DELETE", `/teams/${spare.json.team.id}`);
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.json, { message: "Team deleted successfully" });
    refused(await api(ADMIN, "GET", `/teams/${spare.json.team.id}`), 404, "team_id");
  });
});

test("GET /api/governance/providers: each provider with its spending cap as Bifrost's provider budget; read-only; not for service keys", async () => {
  const g = await startTestGateway(`
providers:
  - { name: mock, type: mock, budget: { period: month, limit_usd: 100 } }
  - { name: spare, type: mock }
deployments:
  - { id: mock/a, provider: mock, model: mock-a }
keys:
  - { name: admin, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
  - { name: svc, hash: "${hashKey(SVC)}", team: a, role: service }
`);
  try {
    await g.gw.core.spendCaps!.refresh();
    const get = (k: string, path: string, method = "GET") => fetch(`${g.url}/api/governance${path}`, { method, headers: { authorization: `Bearer ${k}` } });
    const r = await get(ADMIN, "/providers");
    assert.equal(r.status, 200);
    const body = (await r.json()) as { providers: { provider: string; budget: Budget | null; rate_limit: null }[]; count: number };
    assert.equal(body.count, 2);
    const mock = body.providers.find((p) => p.provider === "mock")!;
    assert.deepEqual([mock.budget!.max_limit, mock.budget!.reset_duration, mock.budget!.current_usage], [100, "1M", 0]);
    assert.match(mock.budget!.last_reset, /^\d{4}-\d{2}-01T00:00:00\.000Z$/);
    assert.equal(body.providers.find((p) => p.provider === "spare")!.budget, null);
    assert.equal(((await (await get(ADMIN, "/providers/spare")).json()) as { provider: string }).provider, "spare");
    assert.equal((await get(ADMIN, "/providers/nope")).status, 404);
    assert.equal((await get(ADMIN, "/providers/mock", "PUT")).status, 501);
    assert.equal((await get(SVC, "/providers")).status, 403);
  } finally {
    await g.close();
  }
});
