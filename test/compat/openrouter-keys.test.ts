// OpenRouter's key provisioning API on the gateway (/v1/keys, /v1/keys/{hash}), driven by
// OpenRouter's own SDK (@openrouter/sdk checks every answer against its zod schemas, so a field
// missing or of the wrong type fails): a created key's secret works at once and only once is it
// shown; disabled blocks and unblocks it; limit sets its budget (one that never resets without
// limit_reset); DELETE revokes it; only admin and
// team keys (their own team's) may call it; bad input names the field, in OpenRouter's error shape.
// Real sockets, the gateway on the mock provider.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { OpenRouter } from "@openrouter/sdk";
import { hashKey } from "../../src/server/auth.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const key = (...p: string[]) => ["sbx", "test", "orkeys", ...p].join("_");
const ADMIN = key("admin");
const LEAD = key("lead");
const SVC = key("svc");
const OTHER_LEAD = key("other");

const YAML = `${MOCK_CONFIG}
keys:
  - { name: admin, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
  - { name: lead, hash: "${hashKey(LEAD)}", team: a, role: team }
  - { name: svc, hash: "${hashKey(SVC)}", team: a, role: service }
  - { name: other-lead, hash: "${hashKey(OTHER_LEAD)}", team: b, role: team }
`;

type OrError = Error & { statusCode?: number; body?: string };
type ErrorBody = { error: { code: number; message: string; metadata: { param: string | null } } };

describe("OpenRouter's key provisioning API, through @openrouter/sdk", () => {
  let gw: TestGateway;
  const sdk = (apiKey: string) => new OpenRouter({ apiKey, serverURL: `${gw.url}/v1`, retryConfig: { strategy: "none" } });
  const chat = (apiKey: string) =>
    fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, body: JSON.stringify({ model: "default", messages: [{ role: "user", content: "hi" }] }) });
  const raw = async (apiKey: string, method: string, path: string, body?: unknown) => {
    const r = await fetch(`${gw.url}/v1${path}`, { method, headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, text: await r.text() };
  };
  /** The SDK call fails with this status; its body is OpenRouter's error shape. */
  const refused = async (p: Promise<unknown>, status: number): Promise<ErrorBody> => {
    let body: ErrorBody | undefined;
    await assert.rejects(p, (e: OrError) => {
      assert.equal(e.statusCode, status, e.body);
      body = JSON.parse(e.body!) as ErrorBody;
      assert.equal(body.error.code, status);
      return true;
    });
    return body!;
  };
  before(async () => {
    gw = await startTestGateway(YAML);
  });
  after(() => gw?.close());

  test("create: the secret works for a chat, is shown once, and never appears in later answers", async () => {
    const made = await sdk(ADMIN).apiKeys.create({ requestBody: { name: "Customer Acme #1", limit: 25, limitReset: "weekly" } });
    assert.match(made.key, /^sbk_/);
    const d = made.data;
    // hash is the key's name, made from the label; the label itself is kept as its name.
    assert.equal(d.hash, "customer-acme-1");
    assert.equal(d.name, "Customer Acme #1");
    assert.equal(d.disabled, false);
    assert.equal(d.limit, 25);
    assert.equal(d.limitRemaining, 25);
    assert.equal(d.limitReset, "weekly");
    assert.equal(d.usage, 0);
    assert.equal(d.workspaceId, "ops");
    assert.equal(d.creatorUserId, "admin");
    assert.ok(!d.hash.includes(hashKey(made.key).slice(7)), "the hash is not the secret's sha256");
    assert.ok(d.label.startsWith(made.key.slice(0, 12)) && d.label.length < made.key.length, "the label shows only the secret's prefix");

    const c = await chat(made.key);
    assert.equal(c.status, 200, await c.clone().text());

    const got = await raw(ADMIN, "GET", `/keys/${d.hash}`);
    assert.equal(got.status, 200);
    assert.ok(!got.text.includes(made.key) && !got.text.includes(made.key.slice(12)), "no secret after creation");
    const list = await raw(ADMIN, "GET", "/keys");
    assert.ok(!list.text.includes(made.key.slice(12)));
    assert.ok(!list.text.includes(hashKey(made.key).slice(7)), "nor the store's sha256 of it");

    // The same label again: another name, with a suffix.
    const again = await sdk(ADMIN).apiKeys.create({ requestBody: { name: "Customer Acme #1" } });
    assert.match(again.data.hash, /^customer-acme-1-[0-9a-f]{6}$/);
    assert.equal(again.data.limit, null);
    assert.equal(again.data.limitReset, null);
  });

  test("the usage of a key comes from the usage store", async () => {
    const made = await sdk(ADMIN).apiKeys.create({ requestBody: { name: "spender" } });
    for (let i = 0; i < 2; i++) assert.equal((await chat(made.key)).status, 200);
    let d = (await sdk(ADMIN).apiKeys.get({ hash: made.data.hash })).data;
    for (let i = 0; i < 50 && d.usage === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      d = (await sdk(ADMIN).apiKeys.get({ hash: made.data.hash })).data;
    }
    assert.ok(d.usage > 0);
    assert.equal(d.usageDaily, d.usage);
    assert.equal(d.usageMonthly, d.usage);
  });

  test("PATCH disabled: true blocks the key (401), disabled: false lets it in again; a disabled key is listed only on request", async () => {
    const made = await sdk(ADMIN).apiKeys.create({ requestBody: { name: "to block" } });
    const hash = made.data.hash;
    const off = await sdk(ADMIN).apiKeys.update({ hash, requestBody: { disabled: true } });
    assert.equal(off.data.disabled, true);
    const refusedChat = await chat(made.key);
    assert.equal(refusedChat.status, 401);
    assert.ok(!(await refusedChat.text()).includes(made.key));

    const listed = await sdk(ADMIN).apiKeys.list();
    assert.ok(!listed.data.some((k) => k.hash === hash), "disabled keys are left out by default");
    const withDisabled = await sdk(ADMIN).apiKeys.list({ includeDisabled: true });
    assert.equal(withDisabled.data.find((k) => k.hash === hash)?.disabled, true);

    const on = await sdk(ADMIN).apiKeys.update({ hash, requestBody: { disabled: false } });
    assert.equal(on.data.disabled, false);
    assert.equal((await chat(made.key)).status, 200);
  });

  test("PATCH limit and limit_reset set the key's budget, visible in GET; name changes the label, not the hash; limit null removes it", async () => {
    const made = await sdk(ADMIN).apiKeys.create({ requestBody: { name: "budgeted" } });
    const hash = made.data.hash;
    await sdk(ADMIN).apiKeys.update({ hash, requestBody: { limit: 12.5, limitReset: "daily", name: "Budgeted (renamed)" } });
    let d = (await sdk(ADMIN).apiKeys.get({ hash })).data;
    assert.equal(d.limit, 12.5);
    assert.equal(d.limitReset, "daily");
    assert.ok(d.limitRemaining !== null && d.limitRemaining <= 12.5);
    assert.equal(d.name, "Budgeted (renamed)");
    assert.equal(d.hash, hash);
    assert.ok(d.updatedAt);
    // The gateway enforces it as the key's budget.
    assert.deepEqual(gw.gw.core.control.directory.key(hash)?.budget, { period: "day", limitUsd: 12.5, softThreshold: 0.8 });
    // A new limit keeps the period.
    await sdk(ADMIN).apiKeys.update({ hash, requestBody: { limit: 30 } });
    d = (await sdk(ADMIN).apiKeys.get({ hash })).data;
    assert.equal(d.limit, 30);
    assert.equal(d.limitReset, "daily");
    await sdk(ADMIN).apiKeys.update({ hash, requestBody: { limit: null } });
    d = (await sdk(ADMIN).apiKeys.get({ hash })).data;
    assert.equal(d.limit, null);
    assert.equal(d.limitRemaining, null);
    assert.equal(gw.gw.core.control.directory.key(hash)?.budget, undefined);
  });

  test("a limit without limit_reset never resets (a lifetime budget); PATCH limit_reset makes it periodic, null lifetime again", async () => {
    const made = await sdk(ADMIN).apiKeys.create({ requestBody: { name: "forever", limit: 0.000001 } });
    const hash = made.data.hash;
    assert.deepEqual([made.data.limit, made.data.limitReset], [0.000001, null]);
    assert.equal(gw.gw.core.control.directory.key(hash)?.budget?.period, "lifetime");
    // Past it, a chat is refused for good: the refusal says it never resets.
    const r = await chat(made.key);
    assert.equal(r.status, 429);
    assert.match(((await r.json()) as { error: { message: string } }).error.message, /never resets/);
    // limit_reset alone turns it monthly, keeping the limit; limit alone then keeps the reset.
    await sdk(ADMIN).apiKeys.update({ hash, requestBody: { limitReset: "monthly" } });
    let d = (await sdk(ADMIN).apiKeys.get({ hash })).data;
    assert.deepEqual([d.limit, d.limitReset], [0.000001, "monthly"]);
    await sdk(ADMIN).apiKeys.update({ hash, requestBody: { limit: 5 } });
    d = (await sdk(ADMIN).apiKeys.get({ hash })).data;
    assert.deepEqual([d.limit, d.limitReset], [5, "monthly"]);
    assert.deepEqual(gw.gw.core.control.directory.key(hash)?.budget, { period: "month", limitUsd: 5, softThreshold: 0.8 });
    // limit_reset: null is OpenRouter's "no reset": a lifetime budget again, same limit.
    const patched = await raw(ADMIN, "PATCH", `/keys/${hash}`, { limit_reset: null });
    assert.equal(patched.status, 200, patched.text);
    d = (await sdk(ADMIN).apiKeys.get({ hash })).data;
    assert.deepEqual([d.limit, d.limitReset], [5, null]);
    assert.equal(gw.gw.core.control.directory.key(hash)?.budget?.period, "lifetime");
    // POST with an explicit limit_reset: null is the same as leaving it out.
    const explicit = await raw(ADMIN, "POST", "/keys", { name: "forever too", limit: 3, limit_reset: null });
    assert.equal(explicit.status, 201, explicit.text);
    assert.equal((JSON.parse(explicit.text) as { data: { limit_reset: string | null } }).data.limit_reset, null);
  });

  test("DELETE revokes the key: its secret is refused, and the key is gone from GET and the list", async () => {
    const made = await sdk(ADMIN).apiKeys.create({ requestBody: { name: "short lived" } });
    const hash = made.data.hash;
    const del = await sdk(ADMIN).apiKeys.delete({ hash });
    assert.equal(del.deleted, true);
    assert.equal((await chat(made.key)).status, 401);
    await refused(sdk(ADMIN).apiKeys.get({ hash }), 404);
    assert.ok(!(await sdk(ADMIN).apiKeys.list({ includeDisabled: true })).data.some((k) => k.hash === hash));
    await refused(sdk(ADMIN).apiKeys.delete({ hash }), 404);
  });

  test("a team key manages its own team's keys only; a service key gets a 403", async () => {
    const mine = await sdk(LEAD).apiKeys.create({ requestBody: { name: "team a worker" } });
    assert.equal(mine.data.workspaceId, "a");
    assert.equal((await chat(mine.key)).status, 200);
    const seen = await sdk(LEAD).apiKeys.list();
    assert.ok(seen.data.length > 0 && seen.data.every((k) => k.workspaceId === "a"));
    assert.ok(seen.data.some((k) => k.hash === mine.data.hash));

    // Another team's key is not found (not even said to exist); nor may a team key make keys elsewhere.
    await refused(sdk(OTHER_LEAD).apiKeys.get({ hash: mine.data.hash }), 404);
    await refused(sdk(OTHER_LEAD).apiKeys.update({ hash: mine.data.hash, requestBody: { disabled: true } }), 404);
    await refused(sdk(OTHER_LEAD).apiKeys.delete({ hash: mine.data.hash }), 404);
    const elsewhere = await refused(sdk(LEAD).apiKeys.create({ requestBody: { name: "sneaky", workspaceId: "b" } }), 403);
    assert.equal(elsewhere.error.metadata.param, "workspace_id");
    // An admin key is out of a team key's reach.
    await refused(sdk(LEAD).apiKeys.update({ hash: "admin", requestBody: { disabled: true } }), 404);

    const calls = [() => sdk(SVC).apiKeys.list(), () => sdk(SVC).apiKeys.create({ requestBody: { name: "nope" } }), () => sdk(SVC).apiKeys.get({ hash: mine.data.hash }), () => sdk(SVC).apiKeys.delete({ hash: mine.data.hash })];
    for (const call of calls) {
      const b = await refused(call(), 403);
      assert.match(b.error.message, /service key/);
    }
    // No key at all: 401.
    const anon = await fetch(`${gw.url}/v1/keys`);
    assert.equal(anon.status, 401);
    assert.equal(((await anon.json()) as ErrorBody).error.code, 401);
  });

  test("a key may not disable itself, and a config-file key is read-only", async () => {
    // A team key made at run time (OpenRouter's API makes service keys only): the control plane's own call.
    const { secret } = await gw.gw.core.control.createKey({ caller: { keyName: "admin", team: "ops", role: "admin", allow: [] }, authEnabled: true, traceId: "" }, { name: "lead-2", team: "a", role: "team", allow: [], limits: {}, metadata: {} });
    const self = await refused(sdk(secret).apiKeys.update({ hash: "lead-2", requestBody: { disabled: true } }), 400);
    assert.match(self.error.message, /may not block itself/);
    const cfg = await refused(sdk(ADMIN).apiKeys.delete({ hash: "svc" }), 400);
    assert.match(cfg.error.message, /config file/);
  });

  test("bad input is a 400 naming the field", async () => {
    const cases: [string, string, unknown, string][] = [
      ["POST", "/keys", {}, "name"],
      ["POST", "/keys", { name: "" }, "name"],
      ["POST", "/keys", { name: 7 }, "name"],
      ["POST", "/keys", { name: "x", limit: -1, limit_reset: "daily" }, "limit"],
      ["POST", "/keys", { name: "x", limit: "10", limit_reset: "daily" }, "limit"],
      ["POST", "/keys", { name: "x", limit: 10, limit_reset: "yearly" }, "limit_reset"],
      ["POST", "/keys", { name: "x", limit: 10, limit_reset: "never" }, "limit_reset"],
      ["POST", "/keys", { name: "x", expires_at: "2020-01-01T00:00:00Z" }, "expires_at"],
      ["POST", "/keys", { name: "x", expires_at: "2099-01-01T00:00:00+02:00" }, "expires_at"],
      ["POST", "/keys", { name: "x", expires_at: "tomorrow" }, "expires_at"],
      ["POST", "/keys", { name: "x", workspace_id: "no-such-team" }, "workspace_id"],
      ["POST", "/keys", { name: "x", include_byok_in_limit: "yes" }, "include_byok_in_limit"],
      ["POST", "/keys", [1], "body"],
      ["PATCH", "/keys/lead", { disabled: "true" }, "disabled"],
      ["PATCH", "/keys/lead", { limit_reset: "weekly" }, "limit"],
      ["PATCH", "/keys/lead", { name: "" }, "name"],
      ["GET", "/keys?offset=-1", undefined, "offset"],
      ["GET", "/keys?include_disabled=maybe", undefined, "include_disabled"],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await raw(ADMIN, method, path, body);
      assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
      const e = JSON.parse(r.text) as ErrorBody;
      assert.equal(e.error.code, 400);
      assert.equal(e.error.metadata.param, field, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
      assert.ok(e.error.message.startsWith(`${field}:`), e.error.message);
    }
    // An unknown hash is a 404 naming the hash, without echoing it (it may be a secret sent by mistake).
    const nf = await raw(ADMIN, "GET", `/keys/${encodeURIComponent(SVC)}`);
    assert.equal(nf.status, 404);
    assert.equal((JSON.parse(nf.text) as ErrorBody).error.metadata.param, "hash");
    assert.ok(!nf.text.includes(SVC));
    // Methods: 405 with Allow.
    const put = await fetch(`${gw.url}/v1/keys/lead`, { method: "PUT", headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "GET, PATCH, DELETE");
  });

  test("expires_at is kept; the list pages by offset, newest first", async () => {
    const at = new Date(Date.now() + 86_400_000);
    at.setMilliseconds(0);
    const made = await sdk(ADMIN).apiKeys.create({ requestBody: { name: "expiring", expiresAt: at } });
    assert.equal(made.data.expiresAt?.getTime(), at.getTime());
    const all = (await sdk(ADMIN).apiKeys.list({ includeDisabled: true })).data;
    assert.equal(all[0]?.hash, made.data.hash);
    const skipped = (await sdk(ADMIN).apiKeys.list({ includeDisabled: true, offset: 1 })).data;
    assert.deepEqual(
      skipped.map((k) => k.hash),
      all.slice(1).map((k) => k.hash),
    );
  });
});
