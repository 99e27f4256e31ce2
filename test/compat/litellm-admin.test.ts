// LiteLLM proxy's management API on the gateway (/key/*, /team/*, /spend/logs), as the scripts
// platform teams wrote against LiteLLM call it: over real HTTP, on the control plane AdminService
// uses. Keys minted there answer at once, with their allow list, limits and budget; their spend
// and logs come from the budgets and the usage store; max_budget without budget_duration is a
// budget that never resets; what does not map (a duration other than a calendar day, week or
// month, a team that does not exist) is refused naming the field; roles hold (a team key only
// its team); unknown LiteLLM fields are listed back as ignored. Regenerate, block and unblock
// keys; update, list and delete teams; customers (a team's end users, with a budget, limits or a
// block of their own); add, list and delete models (deployments made at run time, whose provider
// credentials never come back); LiteLLM's probes, which need no key; and its model health check,
// GET /health: every deployment (or one model's) sent a real, billed request, admin only, or,
// with health_checks configured, the background checks' latest results.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { BudgetPeriod, createSignalboxClient, KeyRole } from "@signalbox/client";
import { setTimeout as sleep } from "node:timers/promises";
import { hashKey } from "../../src/server/auth.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ADMIN = ["sbx", "test", "litellm", "admin"].join("_");
const SEARCH_LEAD = ["sbx", "test", "litellm", "lead"].join("_");
const SERVICE = ["sbx", "test", "litellm", "service"].join("_");
/** A provider credential given to /model/new: it must never come back. */
const PROVIDER_SECRET = ["sk", "live", "provider", "do-not-echo", "7f3a9c"].join("-");

describe("LiteLLM's management API", () => {
  let gw: TestGateway;
  const call = async (method: string, path: string, key: string, body?: unknown) => {
    const r = await fetch(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { status: r.status, body: (await r.json()) as any };
  };
  const chat = (key: string, model = "default") =>
    fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ model, max_tokens: 24, messages: [{ role: "user", content: "hi" }] }) });
  before(async () => {
    gw = await startTestGateway(`${MOCK_CONFIG}
teams: [{ name: search }, { name: ads }]
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
  - { name: search-lead, hash: "${hashKey(SEARCH_LEAD)}", team: search, role: team }
  - { name: search-svc, hash: "${hashKey(SERVICE)}", team: search, role: service }
`);
  });
  after(() => gw?.close());

  test("/key/generate mints a key that answers at once, with its models, limits and budget; /key/info shows its spend", async () => {
    const g = await call("POST", "/key/generate", ADMIN, { key_alias: "indexer", team_id: "search", models: ["default"], rpm_limit: 3, max_budget: 0.01, budget_duration: "30d", duration: "30d", user_id: "ana", metadata: { env: "prod", tier: 2 }, max_parallel_requests: 5 });
    assert.equal(g.status, 200, JSON.stringify(g.body));
    const secret: string = g.body.key;
    assert.match(secret, /^sbk_/);
    assert.deepEqual([g.body.key_alias, g.body.team_id, g.body.models, g.body.rpm_limit, g.body.max_budget, g.body.budget_duration, g.body.user_id], ["indexer", "search", ["default"], 3, 0.01, "30d", "ana"]);
    assert.deepEqual(g.body.metadata, { env: "prod", tier: "2", user_id: "ana" });
    assert.ok(Date.parse(g.body.expires) > Date.now() + 29 * 86_400_000);
    assert.deepEqual(g.body.signalbox.ignored, ["max_parallel_requests"]);
    assert.equal(g.body.token, hashKey(secret).slice("sha256:".length));
    // The key answers at once, within its allow list and its rate limit.
    assert.equal((await chat(secret)).status, 200);
    assert.equal((await chat(secret, "fast")).status, 403);
    assert.equal((await chat(secret)).status, 200);
    assert.equal((await chat(secret)).status, 200);
    assert.equal((await chat(secret)).status, 429);
    // Its spend: three answers of mock/a (8 and 24 tokens at $1 and $2 a million: $0.000056 each).
    const byToken = await call("GET", `/key/info?key=${g.body.token}`, ADMIN);
    const bySecret = await call("GET", `/key/info?key=${encodeURIComponent(secret)}`, secret);
    assert.equal(byToken.status, 200);
    assert.ok(Math.abs(byToken.body.info.spend - 3 * 0.000056) < 1e-12, String(byToken.body.info.spend));
    assert.deepEqual(bySecret.body, byToken.body);
    assert.equal(bySecret.body.key, g.body.token);
    assert.ok(!JSON.stringify(byToken.body).includes(secret), "the secret is shown once, at generation");
  });

  test("/key/update changes models, limits, budget and metadata; /key/delete revokes; /key/list pages", async () => {
    const { body: k } = await call("POST", "/key/generate", ADMIN, { key_alias: "crawler", team_id: "search" });
    const u = await call("POST", "/key/update", ADMIN, { key: k.key, models: ["fast"], tpm_limit: 10_000, max_budget: 5, budget_duration: "1d", metadata: { owner: "bo" } });
    assert.equal(u.status, 200, JSON.stringify(u.body));
    assert.deepEqual([u.body.models, u.body.tpm_limit, u.body.max_budget, u.body.budget_duration, u.body.metadata.owner], [["fast"], 10_000, 5, "1d", "bo"]);
    assert.equal((await chat(k.key, "fast")).status, 200);
    const list = await call("GET", "/key/list?team_id=search&size=1&page=2&return_full_object=true", ADMIN);
    assert.equal(list.status, 200);
    assert.equal(list.body.current_page, 2);
    assert.equal(list.body.keys.length, 1);
    assert.ok(list.body.total_count >= 3);
    const d = await call("POST", "/key/delete", ADMIN, { keys: [k.key] });
    assert.deepEqual(d.body, { deleted_keys: ["crawler"], deleted_tokens: [k.token] });
    assert.ok(!JSON.stringify(d.body).includes(k.key), "the secret is not echoed");
    assert.equal((await chat(k.key, "fast")).status, 401);
  });

  test("/team/new and /team/info: a team's budget and its keys' default limits; /spend/logs lists a key's requests", async () => {
    const t = await call("POST", "/team/new", ADMIN, { team_alias: "Data Science", max_budget: 50, budget_duration: "1mo", rpm_limit: 100 });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.deepEqual([t.body.team_id, t.body.team_alias, t.body.max_budget, t.body.budget_duration, t.body.rpm_limit], ["data-science", "Data Science", 50, "30d", 100]);
    const { body: k } = await call("POST", "/key/generate", ADMIN, { key_alias: "ds-notebook", team_id: "data-science" });
    assert.equal((await chat(k.key)).status, 200);
    const info = await call("GET", "/team/info?team_id=data-science", ADMIN);
    assert.deepEqual(info.body.keys.map((x: { key_alias: string }) => x.key_alias), ["ds-notebook"]);
    assert.ok(info.body.team_info.spend > 0);
    const logs = await call("GET", `/spend/logs?api_key=${encodeURIComponent(k.key)}&start_date=${new Date().toISOString().slice(0, 10)}`, ADMIN);
    assert.equal(logs.status, 200);
    assert.equal(logs.body.length, 1);
    assert.deepEqual([logs.body[0].key_alias, logs.body[0].team_id, logs.body[0].prompt_tokens, logs.body[0].completion_tokens, logs.body[0].status, logs.body[0].api_key], ["ds-notebook", "data-science", 8, 24, "success", k.token]);
    // The request id is the one the answer carried, for GetRequest.
    const rec = await createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN }).usage.getRequest({ id: logs.body[0].request_id });
    assert.equal(rec.record?.key, "ds-notebook");
  });

  test("max_budget without budget_duration is a lifetime budget: it never resets; an update keeps or changes the period", async () => {
    const g = await call("POST", "/key/generate", ADMIN, { key_alias: "lifer", team_id: "search", max_budget: 0.000001 });
    assert.equal(g.status, 200, JSON.stringify(g.body));
    assert.deepEqual([g.body.max_budget, g.body.budget_duration], [0.000001, null]);
    const admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN }).admin;
    const got = await admin.getKey({ name: "lifer" });
    assert.deepEqual([got.key?.budget?.period, got.key?.budget?.limitUsd], [BudgetPeriod.LIFETIME, 0.000001]);
    const info = await call("GET", `/key/info?key=${encodeURIComponent(g.body.key)}`, ADMIN);
    assert.deepEqual([info.body.info.budget_duration, info.body.info.budget_reset_at], [null, null]);
    // Past it, a chat is refused, and the refusal says it never resets (no Retry-After to wait for).
    const r = await chat(g.body.key);
    assert.equal(r.status, 429);
    assert.equal(r.headers.get("retry-after"), null);
    assert.match(((await r.json()) as any).error.message, /never resets/);
    // max_budget alone (or with budget_duration null, which LiteLLM's update drops) keeps the period.
    let u = await call("POST", "/key/update", ADMIN, { key: g.body.key, max_budget: 2, budget_duration: null });
    assert.equal(u.status, 200, JSON.stringify(u.body));
    assert.deepEqual([u.body.max_budget, u.body.budget_duration], [2, null]);
    // budget_duration alone changes the period and keeps the limit; then max_budget alone keeps that period.
    u = await call("POST", "/key/update", ADMIN, { key: g.body.key, budget_duration: "7d" });
    assert.deepEqual([u.status, u.body.max_budget, u.body.budget_duration], [200, 2, "7d"], JSON.stringify(u.body));
    u = await call("POST", "/key/update", ADMIN, { key: g.body.key, max_budget: 3 });
    assert.deepEqual([u.body.max_budget, u.body.budget_duration], [3, "7d"]);
    assert.equal((await admin.getKey({ name: "lifer" })).key?.budget?.period, BudgetPeriod.WEEK);
    // A duration with no calendar counterpart is refused, and nothing changes.
    const no = await call("POST", "/key/update", ADMIN, { key: g.body.key, budget_duration: "45d" });
    assert.deepEqual([no.status, no.body.error.param], [400, "budget_duration"]);
    assert.equal((await admin.getKey({ name: "lifer" })).key?.budget?.period, BudgetPeriod.WEEK);
    // Teams and customers take a lifetime budget the same way.
    const t = await call("POST", "/team/new", ADMIN, { team_id: "lifers", max_budget: 100 });
    assert.deepEqual([t.status, t.body.max_budget, t.body.budget_duration], [200, 100, null], JSON.stringify(t.body));
    const c = await call("POST", "/customer/new", ADMIN, { user_id: "forever", team_id: "lifers", max_budget: 1 });
    assert.deepEqual([c.status, c.body.litellm_budget_table.max_budget, c.body.litellm_budget_table.budget_duration, c.body.litellm_budget_table.budget_reset_at], [200, 1, null, null], JSON.stringify(c.body));
    assert.equal((await call("POST", "/customer/delete", ADMIN, { user_ids: ["forever"], team_id: "lifers" })).status, 200);
    assert.equal((await call("POST", "/team/delete", ADMIN, { team_ids: ["lifers"] })).status, 200);
  });

  test("what does not map is refused naming the field; roles hold; errors keep LiteLLM's shape", async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ key_alias: "a1", team_id: "search", max_budget: 10, budget_duration: "45d" }, "budget_duration", /"45d": budgets here reset by calendar day .* or never \(no budget_duration\)/],
      [{ key_alias: "a2", team_id: "search", max_budget: 10, budget_duration: "3d" }, "budget_duration", /"3d": budgets here reset by calendar day/],
      [{ key_alias: "a3" }, "team_id", /required: a key here belongs to a team/],
      [{ key_alias: "a4", team_id: "search", duration: "soon" }, "duration", /not a duration/],
      [{ key_alias: "a5", team_id: "search", models: ["no-such-model"] }, "key.allow[0]", /unknown route, alias or deployment/],
    ];
    for (const [body, param, message] of cases) {
      const r = await call("POST", "/key/generate", ADMIN, body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.param, param);
      assert.equal(r.body.error.code, "400");
      assert.match(r.body.error.message, message);
    }
    // A team key manages its own team's keys, not another team's.
    const own = await call("POST", "/key/generate", SEARCH_LEAD, { key_alias: "lead-made", team_id: "search" });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    const other = await call("POST", "/key/generate", SEARCH_LEAD, { key_alias: "lead-other", team_id: "ads" });
    assert.equal(other.status, 403);
    assert.equal(other.body.error.code, "403");
    const get = await call("GET", "/key/generate", ADMIN);
    assert.equal(get.status, 405);
    const anon = await fetch(`${gw.url}/key/list`);
    assert.equal(anon.status, 401);
  });

  test("/key/regenerate: a new secret once, the old one refused (or kept for grace_period); /key/block refuses a key until /key/unblock", async () => {
    const { body: g } = await call("POST", "/key/generate", ADMIN, { key_alias: "rotating", team_id: "search" });
    const r = await call("POST", "/key/regenerate", ADMIN, { key: g.key, rpm_limit: 50, tags: ["x"] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.key, /^sbk_/);
    assert.notEqual(r.body.key, g.key);
    assert.equal(r.body.token_id, hashKey(r.body.key).slice("sha256:".length));
    assert.deepEqual([r.body.key_alias, r.body.rpm_limit, r.body.signalbox.grace_seconds, r.body.signalbox.ignored], ["rotating", 50, 0, ["tags"]]);
    assert.ok(!JSON.stringify(r.body).includes(g.key), "the old secret is not echoed");
    assert.equal((await chat(g.key)).status, 401);
    assert.equal((await chat(r.body.key)).status, 200);
    // LiteLLM's path form, by token, with a grace period: both secrets answer for it.
    const r2 = await call("POST", `/key/${r.body.token_id}/regenerate`, ADMIN, { grace_period: "1h" });
    assert.equal(r2.status, 200, JSON.stringify(r2.body));
    assert.equal(r2.body.signalbox.grace_seconds, 3600);
    assert.equal((await chat(r.body.key)).status, 200);
    assert.equal((await chat(r2.body.key)).status, 200);
    const mine = await call("POST", "/key/regenerate", ADMIN, { key: r2.body.key, new_key: "sk-chosen-by-me" });
    assert.deepEqual([mine.status, mine.body.error.param], [400, "new_key"]);
    // Another team's key is not found by a team key; a service key may not rotate even itself.
    const { body: ads } = await call("POST", "/key/generate", ADMIN, { key_alias: "ads-bot", team_id: "ads" });
    assert.equal((await call("POST", "/key/regenerate", SEARCH_LEAD, { key: ads.key })).status, 404);
    assert.equal((await call("POST", "/key/block", SEARCH_LEAD, { key: ads.key })).status, 404);
    assert.equal((await call("POST", "/key/regenerate", SERVICE, { key: SERVICE })).status, 403);
    assert.equal((await chat(ads.key)).status, 200);
    // /key/block refuses the key at once (401 through /v1/chat/completions) until /key/unblock;
    // both answer the key's row with `blocked`, as LiteLLM does, and both are idempotent.
    const u0 = await call("POST", "/key/unblock", ADMIN, { key: r2.body.key });
    assert.deepEqual([u0.status, u0.body.blocked], [200, false]);
    const b = await call("POST", "/key/block", ADMIN, { key: r2.body.key });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.deepEqual([b.body.key_alias, b.body.token, b.body.blocked], ["rotating", r2.body.token_id, true]);
    assert.ok(!JSON.stringify(b.body).includes(r2.body.key), "the secret is not echoed");
    const refused = await chat(r2.body.key);
    assert.equal(refused.status, 401);
    assert.match(((await refused.json()) as any).error.message, /API key "rotating" is blocked/);
    assert.equal((await chat(r.body.key)).status, 401, "the secret still in its grace period is blocked too");
    assert.deepEqual([(await call("POST", "/key/block", ADMIN, { key: "rotating" })).body.blocked], [true]);
    assert.equal((await call("GET", "/key/info?key=rotating", ADMIN)).body.info.blocked, true);
    // A team key may block and unblock its team's keys; a service key may not; no key may block itself.
    const byLead = await call("POST", "/key/unblock", SEARCH_LEAD, { key: "rotating" });
    assert.deepEqual([byLead.status, byLead.body.blocked], [200, false]);
    assert.equal((await chat(r2.body.key)).status, 200);
    assert.equal((await call("GET", "/key/info?key=rotating", ADMIN)).body.info.blocked, false);
    assert.equal((await call("POST", "/key/block", SERVICE, { key: "rotating" })).status, 403);
    const { secret: lead } = await createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN }).admin.createKey({ key: { name: "managed-lead", team: "search", role: KeyRole.TEAM } });
    const self = await call("POST", "/key/block", lead, { key: lead });
    assert.deepEqual([self.status, self.body.error.param], [400, "key"], JSON.stringify(self.body));
    assert.match(self.body.error.message, /may not block itself/);
    assert.equal((await chat(lead)).status, 200);
    // A revoked key stays refused: it cannot be blocked or unblocked, and reads as blocked.
    assert.equal((await call("POST", "/key/delete", ADMIN, { key_aliases: ["rotating"] })).status, 200);
    assert.equal((await chat(r2.body.key)).status, 401);
    const u = await call("POST", "/key/unblock", ADMIN, { key: "rotating" });
    assert.deepEqual([u.status, u.body.error.param], [400, "key"]);
    assert.match(u.body.error.message, /key "rotating" is revoked: it cannot be blocked or unblocked/);
    assert.equal((await call("POST", "/key/block", ADMIN, { key: "rotating" })).status, 400);
    assert.equal((await call("GET", "/key/info?key=rotating", ADMIN)).body.info.blocked, true);
  });

  test("/team/update, /team/list and /team/delete (all or none; a team with keys is refused), on the roles", async () => {
    assert.equal((await call("POST", "/team/new", ADMIN, { team_id: "growth", max_budget: 20, budget_duration: "30d" })).status, 200);
    const u = await call("POST", "/team/update", ADMIN, { team_id: "growth", max_budget: 40, rpm_limit: 10, team_alias: "Growth", metadata: { cost_center: "42" }, members_with_roles: [] });
    assert.equal(u.status, 200, JSON.stringify(u.body));
    assert.equal(u.body.team_id, "growth");
    assert.deepEqual([u.body.data.max_budget, u.body.data.budget_duration, u.body.data.rpm_limit, u.body.data.team_alias, u.body.data.metadata.cost_center], [40, "30d", 10, "Growth", "42"]);
    assert.deepEqual(u.body.signalbox.ignored, ["members_with_roles"]);
    const all = await call("GET", "/team/list", ADMIN);
    assert.equal(all.status, 200);
    assert.ok(["growth", "search", "ads"].every((t) => all.body.some((x: { team_id: string }) => x.team_id === t)), JSON.stringify(all.body));
    assert.equal(all.body.find((x: { team_id: string }) => x.team_id === "growth").max_budget, 40);
    const own = await call("GET", "/team/list", SEARCH_LEAD);
    assert.deepEqual(own.body.map((x: { team_id: string }) => x.team_id), ["search"]);
    assert.equal((await call("GET", "/team/list", SERVICE)).status, 403);
    assert.equal((await call("POST", "/team/update", SEARCH_LEAD, { team_id: "growth", max_budget: 1 })).status, 404);
    assert.equal((await call("POST", "/team/delete", SEARCH_LEAD, { team_ids: ["growth"] })).status, 403);
    // search has keys: nothing is deleted, growth included.
    const refused = await call("POST", "/team/delete", ADMIN, { team_ids: ["growth", "search"] });
    assert.deepEqual([refused.status, refused.body.error.param], [400, "team_ids"]);
    assert.match(refused.body.error.message, /team "search" has \d+ keys .* LiteLLM deletes a team's keys with it/);
    assert.equal((await call("GET", "/team/info?team_id=growth", ADMIN)).status, 200);
    const d = await call("POST", "/team/delete", ADMIN, { team_ids: ["growth"] });
    assert.deepEqual([d.status, d.body.deleted_teams], [200, ["growth"]]);
    assert.equal((await call("GET", "/team/info?team_id=growth", ADMIN)).status, 404);
  });

  test("/model/info lists what the key may name; /model/new adds a deployment at run time; /model/delete removes it; a provider api_key never comes back", async () => {
    const info = await call("GET", "/model/info", ADMIN);
    assert.equal(info.status, 200);
    const a = info.body.data.find((m: { model_name: string }) => m.model_name === "mock/a");
    assert.deepEqual(a.litellm_params, { model: "mock/mock-a" });
    assert.deepEqual([a.model_info.id, a.model_info.mode, a.model_info.input_cost_per_token, a.model_info.output_cost_per_token, a.model_info.db_model], ["mock/a", "chat", 1e-6, 2e-6, false]);
    assert.ok(a.model_info.max_tokens > 0);
    assert.deepEqual((await call("GET", "/v1/model/info", ADMIN)).body, info.body);

    // On a provider the gateway has (no credentials given): in force at once.
    const n = await call("POST", "/model/new", ADMIN, { model_name: "mock-c", litellm_params: { model: "mock/mock-c", input_cost_per_token: 0.000003, output_cost_per_token: 0.000004, rpm: 100 }, model_info: { mode: "chat", max_tokens: 1024, access_groups: ["beta"] } });
    assert.equal(n.status, 200, JSON.stringify(n.body));
    assert.deepEqual([n.body.model_id, n.body.model_info.id, n.body.model_info.db_model, n.body.model_info.input_cost_per_token, n.body.model_info.max_tokens, n.body.litellm_params.rpm], ["mock-c", "mock-c", true, 3e-6, 1024, 100]);
    assert.deepEqual(n.body.signalbox.ignored, ["model_info.access_groups"]);
    assert.equal((await chat(ADMIN, "mock-c")).status, 200);
    const again = await call("POST", "/model/new", ADMIN, { model_name: "mock-c", litellm_params: { model: "mock/mock-c" } });
    assert.deepEqual([again.status, again.body.error.param], [409, "model_name"]);
    // LiteLLM's model budget: the deployment's spending cap; a duration that is no calendar period is refused naming it.
    const capped = await call("POST", "/model/new", ADMIN, { model_name: "mock-capped", litellm_params: { model: "mock/mock-d", max_budget: 25, budget_duration: "30d" } });
    assert.equal(capped.status, 200, JSON.stringify(capped.body));
    assert.deepEqual([capped.body.litellm_params.max_budget, capped.body.litellm_params.budget_duration], [25, "30d"]);
    assert.deepEqual(gw.gw.core.registry.config.deployments.find((x) => x.id === "mock-capped")!.budget, { period: "month", limitUsd: 25 });
    const odd = await call("POST", "/model/new", ADMIN, { model_name: "mock-odd", litellm_params: { model: "mock/mock-d", max_budget: 5, budget_duration: "12h" } });
    assert.deepEqual([odd.status, odd.body.error.param], [400, "litellm_params.budget_duration"]);
    const noPeriod = await call("POST", "/model/new", ADMIN, { model_name: "mock-odd", litellm_params: { model: "mock/mock-d", max_budget: 5 } });
    assert.deepEqual([noPeriod.status, noPeriod.body.error.param], [400, "litellm_params.budget_duration"]);
    assert.equal((await call("POST", "/model/delete", ADMIN, { id: "mock-capped" })).status, 200);
    // A key allowed only mock-c sees only it, and the model is not deleted while the key names it.
    const { body: picky } = await call("POST", "/key/generate", ADMIN, { key_alias: "picky", team_id: "search", models: ["mock-c"] });
    assert.deepEqual((await call("GET", "/model/info", picky.key)).body.data.map((m: { model_name: string }) => m.model_name), ["mock-c"]);
    assert.equal((await call("POST", "/model/delete", ADMIN, { id: "mock-c" })).status, 400);
    await call("POST", "/key/delete", ADMIN, { key_aliases: ["picky"] });
    const del = await call("POST", "/model/delete", ADMIN, { id: "mock-c" });
    assert.deepEqual([del.status, del.body.message], [200, "Model: mock-c deleted successfully"]);
    assert.equal((await chat(ADMIN, "mock-c")).status, 404);

    // With credentials: a provider made for it, its api_key sealed and never shown.
    const s = await call("POST", "/model/new", ADMIN, { model_name: "gpt-secret", litellm_params: { model: "openai/gpt-4o-mini", api_key: PROVIDER_SECRET, api_base: "https://llm.internal.example/v1", input_cost_per_token: 0.00000015, output_cost_per_token: 0.0000006 } });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    assert.deepEqual([s.body.signalbox.provider, s.body.litellm_params.model, s.body.litellm_params.api_base, s.body.model_info.input_cost_per_token], ["litellm-gpt-secret", "openai/gpt-4o-mini", "https://llm.internal.example/v1", 1.5e-7]);
    assert.ok(!("api_key" in s.body.litellm_params));
    const listed = await call("GET", "/model/info", ADMIN);
    assert.ok(listed.body.data.some((m: { model_name: string }) => m.model_name === "gpt-secret"));
    const admin = (method: string, body: unknown) => fetch(`${gw.url}/signalbox.v1.AdminService/${method}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.text());
    const audit = await admin("ListAuditEvents", {});
    assert.match(audit, /provider\/litellm-gpt-secret/);
    for (const text of [JSON.stringify(s.body), JSON.stringify(listed.body), audit, await admin("ListConfigEntries", {})]) assert.ok(!text.includes(PROVIDER_SECRET), "the provider's api_key never comes back");

    // Refusals: admin only, what does not map is named, the config file's models are read-only.
    assert.equal((await call("POST", "/model/new", SEARCH_LEAD, { model_name: "x", litellm_params: { model: "mock/x" } })).status, 403);
    assert.equal((await call("POST", "/model/delete", SEARCH_LEAD, { id: "gpt-secret" })).status, 403);
    const cases: [unknown, string, RegExp][] = [
      [{ model_name: "x1", litellm_params: { model: "gpt-4o" } }, "litellm_params.model", /"provider\/model"/],
      [{ model_name: "x2", litellm_params: { model: "nope/m" } }, "litellm_params.model", /no provider "nope" here/],
      [{ model_name: "x3", litellm_params: { model: "hosted_vllm/llama", api_key: "k" } }, "litellm_params.api_base", /no default address/],
      [{ model_name: "x4", litellm_params: { model: "bedrock/claude", api_key: "k" } }, "litellm_params.model", /PutConfigEntry/],
      [{ model_name: "x5", litellm_params: { model: "mock/x5" }, model_info: { mode: "video" } }, "model_info.mode", /must be one of chat, embedding/],
    ];
    for (const [body, param, message] of cases) {
      const r = await call("POST", "/model/new", ADMIN, body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.param, param);
      assert.match(r.body.error.message, message);
    }
    const file = await call("POST", "/model/delete", ADMIN, { id: "mock/a" });
    assert.deepEqual([file.status, file.body.error.param], [400, "id"]);
    assert.match(file.body.error.message, /config file/);
    // A vendor LiteLLM knows the address of needs none: Groq's, with its quirks.
    const groq = await call("POST", "/model/new", ADMIN, { model_name: "groq-llama", litellm_params: { model: "groq/llama-3.1-8b-instant", api_key: PROVIDER_SECRET, input_cost_per_token: 0.00000005, output_cost_per_token: 0.00000008 } });
    assert.equal(groq.status, 200, JSON.stringify(groq.body));
    assert.equal(groq.body.litellm_params.api_base, "https://api.groq.com/openai/v1");
    assert.equal((await call("POST", "/model/delete", ADMIN, { id: "groq-llama" })).status, 200);
    const gone = await call("POST", "/model/delete", ADMIN, { id: "gpt-secret" });
    assert.equal(gone.status, 200, JSON.stringify(gone.body));
    assert.ok(!(await admin("ListConfigEntries", {})).includes("litellm-gpt-secret"), "its provider goes with it");
  });

  test("/customer/*: an end user of a team with a budget, limits or a block of their own; info, list, update and delete, all or none", async () => {
    const ask = async (user: string) => {
      const r = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${SERVICE}`, "content-type": "application/json" }, body: JSON.stringify({ model: "default", max_tokens: 24, user, messages: [{ role: "user", content: "hi" }] }) });
      return { status: r.status, message: r.status === 200 ? "" : (((await r.json()) as any).error.message as string) };
    };
    // A team key's customer is its team's; a tiny budget refuses that user while the others go on.
    const n = await call("POST", "/customer/new", SEARCH_LEAD, { user_id: "tiny@example.com", alias: "Tiny", max_budget: 0.000001, budget_duration: "1d", metadata: { plan: "free" }, allowed_model_region: "eu" });
    assert.equal(n.status, 200, JSON.stringify(n.body));
    assert.deepEqual([n.body.user_id, n.body.alias, n.body.blocked, n.body.spend, n.body.litellm_budget_table.max_budget, n.body.litellm_budget_table.budget_duration, n.body.litellm_budget_table.rpm_limit], ["tiny@example.com", "Tiny", false, 0, 0.000001, "1d", null]);
    assert.deepEqual([n.body.signalbox.team_id, n.body.signalbox.metadata, n.body.signalbox.ignored], ["search", { plan: "free", alias: "Tiny" }, ["allowed_model_region"]]);
    const spent = await ask("tiny@example.com");
    assert.equal(spent.status, 429);
    assert.match(spent.message, /end user "tiny@example.com" of team "search"/);
    assert.equal((await ask("someone-else")).status, 200);
    // An admin names the team (team_id, an extension); the spend of a user without a budget comes from the usage store.
    const bo = await call("POST", "/customer/new", ADMIN, { user_id: "bo", team_id: "search", rpm_limit: 100 });
    assert.equal(bo.status, 200, JSON.stringify(bo.body));
    assert.equal((await ask("bo")).status, 200);
    const info = await call("GET", "/customer/info?end_user_id=bo", ADMIN);
    assert.equal(info.status, 200, JSON.stringify(info.body));
    assert.deepEqual([info.body.litellm_budget_table.rpm_limit, info.body.litellm_budget_table.max_budget, info.body.signalbox.team_id, info.body.alias], [100, null, "search", null]);
    assert.ok(Math.abs(info.body.spend - 0.000056) < 1e-12, String(info.body.spend));
    assert.deepEqual((await call("GET", "/end_user/info?end_user_id=bo", SEARCH_LEAD)).body, info.body);

    // /customer/block refuses at once (403), and makes an id that has no end user yet, blocked (as LiteLLM's upsert).
    const b = await call("POST", "/customer/block", SEARCH_LEAD, { user_ids: ["newcomer", "bo"] });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.deepEqual(b.body.blocked_users.map((u: { user_id: string; blocked: boolean }) => [u.user_id, u.blocked]), [["newcomer", true], ["bo", true]]);
    assert.deepEqual(b.body.signalbox.made, ["newcomer"]);
    for (const user of ["bo", "newcomer"]) {
      const r = await ask(user);
      assert.equal(r.status, 403);
      assert.match(r.message, new RegExp(`end user "${user}" is blocked`));
    }
    // Unblocking is all or none: one unknown id and nothing changes.
    const partial = await call("POST", "/customer/unblock", ADMIN, { user_ids: ["bo", "ghost"] });
    assert.deepEqual([partial.status, partial.body.error.param], [404, "user_ids"], JSON.stringify(partial.body));
    assert.match(partial.body.error.message, /no end user "ghost"/);
    assert.equal((await ask("bo")).status, 403);
    const u = await call("POST", "/end_user/unblock", ADMIN, { user_ids: ["bo"] });
    assert.equal(u.status, 200, JSON.stringify(u.body));
    assert.deepEqual([u.body.blocked_users, u.body.signalbox.unblocked_users[0].blocked], [["newcomer"], false]);
    assert.equal((await ask("bo")).status, 200);

    // /customer/update: max_budget alone keeps the budget's duration.
    const up = await call("POST", "/customer/update", SEARCH_LEAD, { user_id: "tiny@example.com", max_budget: 5, alias: null, budget_id: "paid_tier" });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.deepEqual([up.body.litellm_budget_table.max_budget, up.body.litellm_budget_table.budget_duration, up.body.alias, up.body.signalbox.ignored], [5, "1d", null, ["budget_id"]]);
    assert.equal((await ask("tiny@example.com")).status, 200);

    // /customer/list: an admin every team's, a team key its own.
    const listed = await call("GET", "/customer/list", ADMIN);
    assert.equal(listed.status, 200);
    const ids = (body: { user_id: string; signalbox: { team_id: string } }[]) => body.map((x) => `${x.signalbox.team_id}/${x.user_id}`).sort();
    assert.deepEqual(ids(listed.body), ["search/bo", "search/newcomer", "search/tiny@example.com"]);
    assert.deepEqual(ids((await call("GET", "/end_user/list", SEARCH_LEAD)).body), ids(listed.body));
    // The same user id in another team: an admin must say which.
    assert.equal((await call("POST", "/customer/new", ADMIN, { user_id: "bo", team_id: "ads" })).status, 200);
    const which = await call("GET", "/customer/info?end_user_id=bo", ADMIN);
    assert.deepEqual([which.status, which.body.error.param], [400, "team_id"]);
    assert.match(which.body.error.message, /"ads", "search"|"search", "ads"/);
    assert.equal((await call("GET", "/customer/info?end_user_id=bo&team_id=ads", ADMIN)).body.signalbox.team_id, "ads");
    assert.equal((await call("GET", "/customer/info?end_user_id=bo", SEARCH_LEAD)).body.signalbox.team_id, "search");

    // Bad input names the field; roles hold.
    const cases: [string, string, string, unknown, number, string, RegExp][] = [
      ["POST", "/customer/new", ADMIN, { alias: "x" }, 400, "user_id", /names the end user/],
      ["POST", "/customer/new", ADMIN, { user_id: "x", max_budget: 1, budget_duration: "12h" }, 400, "budget_duration", /reset by calendar day/],
      ["POST", "/customer/new", ADMIN, { user_id: "x", rpm_limit: 0 }, 400, "rpm_limit", /whole number above 0/],
      ["POST", "/customer/new", ADMIN, { user_id: "x", blocked: "yes" }, 400, "blocked", /true or false/],
      ["POST", "/customer/new", ADMIN, { user_id: "x", team_id: "no-such-team" }, 400, "team_id", /no team "no-such-team"/],
      ["POST", "/customer/new", SEARCH_LEAD, { user_id: "bo" }, 409, "user_id", /already exists/],
      ["POST", "/customer/new", SEARCH_LEAD, { user_id: "x", team_id: "ads" }, 404, "team_id", /no team "ads"/],
      ["POST", "/customer/update", SEARCH_LEAD, { user_id: "ghost", max_budget: 1 }, 404, "user_id", /no end user "ghost"/],
      ["GET", "/customer/info?end_user_id=ghost", ADMIN, undefined, 404, "end_user_id", /no end user "ghost"/],
      ["GET", "/customer/info", ADMIN, undefined, 400, "end_user_id", /names the end user/],
      ["POST", "/customer/delete", ADMIN, { user_ids: [] }, 400, "user_ids", /a list of their user ids/],
    ];
    for (const [method, path, key, body, status, param, message] of cases) {
      const r = await call(method, path, key, body);
      assert.equal(r.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.deepEqual([r.body.error.param, r.body.error.code], [param, String(status)]);
      assert.match(r.body.error.message, message);
    }
    for (const [method, path, body] of [["POST", "/customer/new", { user_id: "x" }], ["GET", "/customer/list", undefined], ["POST", "/customer/block", { user_ids: ["bo"] }]] as const) {
      assert.equal((await call(method, path, SERVICE, body)).status, 403, `${path} with a service key`);
    }
    assert.equal((await call("GET", "/customer/new", ADMIN)).status, 405);

    // /customer/delete is all or none; then the user is held to the key's rules only again.
    const none = await call("POST", "/customer/delete", SEARCH_LEAD, { user_ids: ["tiny@example.com", "ghost"] });
    assert.deepEqual([none.status, none.body.error.param], [404, "user_ids"]);
    assert.equal((await call("GET", "/customer/info?end_user_id=tiny@example.com", SEARCH_LEAD)).status, 200);
    const del = await call("POST", "/customer/delete", SEARCH_LEAD, { user_ids: ["tiny@example.com", "newcomer", "bo"] });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.deepEqual([del.body.deleted_customers, del.body.message], [3, "Successfully deleted customers with ids: ['tiny@example.com', 'newcomer', 'bo']"]);
    assert.equal((await call("GET", "/customer/info?end_user_id=newcomer", SEARCH_LEAD)).status, 404);
    assert.equal((await ask("newcomer")).status, 200);
    assert.equal((await call("POST", "/end_user/delete", ADMIN, { user_ids: ["bo"] })).status, 200, "the ads one, the only bo left");
  });

  test("/health/liveliness and /health/readiness answer without a key, in LiteLLM's shapes", async () => {
    const live = await fetch(`${gw.url}/health/liveliness`);
    assert.deepEqual([live.status, await live.json()], [200, "I'm alive!"]);
    const ready = await fetch(`${gw.url}/health/readiness`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as Record<string, unknown>;
    assert.deepEqual([body.status, body.db], ["healthy", "Not connected"]);
    assert.equal((await fetch(`${gw.url}/health/readiness`, { method: "POST" })).status, 405);
    // A draining replica is not ready (as /readyz), and still alive.
    gw.gw.health.setServing(false);
    try {
      const draining = await fetch(`${gw.url}/health/readiness`);
      assert.deepEqual([draining.status, ((await draining.json()) as { status: string }).status], [503, "draining"]);
      assert.equal((await fetch(`${gw.url}/health/liveliness`)).status, 200);
    } finally {
      gw.gw.health.setServing(true);
    }
  });

  test("GET /health checks every deployment with a real request, in LiteLLM's shape (mock/flaky unhealthy); ?model= one model's; admin only; billed as health-check", async () => {
    type Endpoint = { model: string; model_id: string; api_base?: string; error?: string };
    type Check = { deployment: string; healthy: boolean; status: string; latency_ms: number; request_id: string; trace_id: string; cost_usd: number; error?: string };
    const all = await call("GET", "/health", ADMIN);
    assert.equal(all.status, 200, JSON.stringify(all.body));
    const ids = (eps: Endpoint[]) => eps.map((e) => e.model_id).sort();
    assert.deepEqual(ids(all.body.healthy_endpoints), ["mock/a", "mock/b", "mock/slow", "mock/trickle"]);
    assert.deepEqual(ids(all.body.unhealthy_endpoints), ["mock/flaky"]);
    assert.deepEqual([all.body.healthy_count, all.body.unhealthy_count], [4, 1]);
    // model is LiteLLM's litellm_params.model, as /model/info says it; the mock has no api_base.
    assert.deepEqual(all.body.healthy_endpoints.find((e: Endpoint) => e.model_id === "mock/a"), { model: "mock/mock-a", model_id: "mock/a" });
    const flaky: Endpoint = all.body.unhealthy_endpoints[0];
    assert.equal(flaky.model, "mock/mock-flaky");
    assert.ok(flaky.error, "an unhealthy endpoint says why");
    // The extension: every check with its status, latency, request and trace ids.
    const checks: Check[] = all.body.signalbox.checks;
    assert.equal(all.body.signalbox.source, "checked");
    assert.equal(checks.length, 5);
    for (const c of checks) {
      assert.match(c.request_id, /\S/);
      assert.match(c.trace_id, /^[0-9a-f]{32}$/);
      assert.ok(c.latency_ms >= 0);
      assert.equal(c.status === "ok", c.healthy, JSON.stringify(c));
    }
    const a = checks.find((c) => c.deployment === "mock/a")!;
    assert.ok(a.cost_usd > 0, "a check is billed");
    assert.notEqual(checks.find((c) => c.deployment === "mock/flaky")!.status, "ok");

    // One model: an alias, a route (its targets), a deployment, or a litellm_params.model.
    const fast = await call("GET", "/health?model=fast", ADMIN);
    assert.equal(fast.status, 200);
    assert.deepEqual(ids(fast.body.healthy_endpoints), ["mock/a"]);
    assert.equal(fast.body.unhealthy_count, 0);
    const fallback = await call("GET", "/health?model=fallback", ADMIN);
    assert.deepEqual([fallback.status, ids(fallback.body.healthy_endpoints), ids(fallback.body.unhealthy_endpoints)], [200, ["mock/b"], ["mock/flaky"]]);
    assert.deepEqual(ids((await call("GET", "/health?model=mock/mock-b", ADMIN)).body.healthy_endpoints), ["mock/b"]);
    assert.deepEqual(ids((await call("GET", "/health?model_id=mock/b", ADMIN)).body.healthy_endpoints), ["mock/b"]);
    // As LiteLLM's: a model asked about with nothing healthy is a 503, in the same shape.
    const down = await call("GET", `/health?model=${encodeURIComponent("mock/flaky")}`, ADMIN);
    assert.deepEqual([down.status, down.body.healthy_count, down.body.unhealthy_count], [503, 0, 1]);
    const unknown = await call("GET", "/health?model=nope", ADMIN);
    assert.deepEqual([unknown.status, unknown.body.error.param, unknown.body.error.code], [404, "model", "404"]);
    assert.equal((await call("GET", "/health?model_id=nope", ADMIN)).body.error.param, "model_id");

    // Admin only: each check spends provider tokens. No key at all is a 401.
    for (const key of [SEARCH_LEAD, SERVICE]) {
      const r = await call("GET", "/health", key);
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.match(r.body.error.message, /admin/);
    }
    assert.equal((await fetch(`${gw.url}/health`)).status, 401);
    assert.equal((await call("POST", "/health", ADMIN, {})).status, 405);

    // Billed to the asking key and recorded with the tag health-check.
    type Log = { request_id: string; request_tags: string[]; spend: number };
    let rec: Log | undefined;
    for (let i = 0; i < 40 && !rec; i++) {
      const logs = await call("GET", `/spend/logs?api_key=${encodeURIComponent(ADMIN)}`, ADMIN);
      rec = (logs.body as Log[]).find((r) => r.request_id === a.request_id);
      if (!rec) await sleep(50);
    }
    assert.ok(rec, "the check is in the usage store");
    assert.ok(rec.request_tags.includes("health-check"), JSON.stringify(rec.request_tags));
    assert.ok(rec.spend > 0);
  });
});

describe("LiteLLM's GET /health with a real provider and background checks (auth off)", () => {
  let fake: FakeOpenAI;
  let g: TestGateway;
  before(async () => {
    fake = await startFakeOpenAI();
    g = await startTestGateway(`
providers:
  - name: openai
    type: openai
    base_url: ${fake.url}
    api_key: ${OPENAI_TEST_KEY}
deployments:
  - { id: oa/chat, provider: openai, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
  - { id: oa/other, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: oa/images, provider: openai, model: dall-e-3, operations: [images] }
health_checks: { interval_seconds: 3600, deployments: [oa/chat, oa/images] }
`);
  });
  after(async () => {
    await g?.close();
    await fake?.close();
  });

  test("answers the background checks' latest results (no new calls), api_base without the key; what has none yet is checked now", async () => {
    // The first background round runs a couple of seconds after start.
    for (let i = 0; i < 100 && !(await g.gw.core.exec.health.lastChecks()).has("oa/chat"); i++) await sleep(100);
    assert.ok((await g.gw.core.exec.health.lastChecks()).has("oa/chat"), "the background round ran");
    const calls = () => fake.requests.filter((r) => r.path.endsWith("/chat/completions")).length;
    const before = calls();
    // Auth is off: the anonymous caller may, as on the other admin endpoints.
    const r = await fetch(`${g.url}/health`);
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const body = JSON.parse(text);
    assert.equal(calls(), before, "no new call: the background results are answered");
    assert.equal(body.signalbox.source, "background");
    const base = g.config.providers.find((p) => p.name === "openai")!.baseUrl;
    assert.deepEqual(body.healthy_endpoints, [{ model: "openai/gpt-4o-mini", model_id: "oa/chat", api_base: base }]);
    assert.deepEqual([body.healthy_count, body.unhealthy_count], [1, 0]);
    // Images-only is not checked (billed per image): in neither list, and said why.
    const images = body.signalbox.checks.find((c: { deployment: string }) => c.deployment === "oa/images");
    assert.equal(images.status, "skipped");
    assert.match(images.skipped, /images/);
    assert.deepEqual(body.signalbox.not_checked, ["oa/other"]);
    assert.ok(!text.includes(OPENAI_TEST_KEY), "the provider's key never appears");

    // A model the background checks do not cover has no result yet: checked now.
    const other = await fetch(`${g.url}/health?model=oa/other`);
    const o = (await other.json()) as { healthy_endpoints: { model: string }[]; signalbox: { source: string } };
    assert.deepEqual([other.status, o.signalbox.source, o.healthy_endpoints.map((e) => e.model)], [200, "checked", ["openai/gpt-4o"]]);
    assert.equal(calls(), before + 1);
  });
});
