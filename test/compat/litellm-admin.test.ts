// LiteLLM proxy's management API on the gateway (/key/*, /team/*, /spend/logs), as the scripts
// platform teams wrote against LiteLLM call it: over real HTTP, on the control plane AdminService
// uses. Keys minted there answer at once, with their allow list, limits and budget; their spend
// and logs come from the budgets and the usage store; what does not map (a budget that never
// resets, a team that does not exist) is refused naming the field; roles hold (a team key only
// its team); unknown LiteLLM fields are listed back as ignored.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createSignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ADMIN = ["sbx", "test", "litellm", "admin"].join("_");
const SEARCH_LEAD = ["sbx", "test", "litellm", "lead"].join("_");

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

  test("what does not map is refused naming the field; roles hold; errors keep LiteLLM's shape", async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ key_alias: "a1", team_id: "search", max_budget: 10 }, "budget_duration", /resets by calendar day, ISO week or month/],
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
});
