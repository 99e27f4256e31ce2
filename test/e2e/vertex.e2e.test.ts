// End to end through the whole gateway for Google Vertex AI: typed client → gateway → router →
// Vertex adapter (Gemini and Claude publishers) → the fake Vertex server, authenticated with OAuth
// tokens the fake token endpoint issues for a service account made by this test (its key file is a
// temp file). Asserts answers, usage and cost, the token's lifecycle (fetched once, shared,
// refreshed), refresh failures as upstream_auth with fallback, and that no secret leaks anywhere.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { AttemptOutcome, ConfigEntryKind, FailureKind, FinishReason } from "@signalbox/client";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import { setLogSink } from "../../src/telemetry/log.ts";
import { startTestGateway } from "../helpers/gateway.ts";
import { makeTestServiceAccount, startFakeVertex, type FakeVertex } from "../fakes/vertex.ts";
import { assertCost, assertUsage, attemptSummary, clientFor, collect, gatewayPool, lastRecord, rejection, user, WEATHER_TOOL } from "./anthropic-gemini-harness.ts";

const PROJECT = "signalbox-e2e";
const LOCATION = "europe-west4";
const FLASH = "gemini-2.5-flash";
const SONNET = "claude-sonnet-4-5@20250929";
const OK = AttemptOutcome.SUCCEEDED;
const FAILED = AttemptOutcome.FAILED;

const sa = makeTestServiceAccount(PROJECT);
const unknown = makeTestServiceAccount(PROJECT, "not-registered");
let dir: string;
let keyPath: string;
let unknownKeyPath: string;
let fake: FakeVertex;

// Gemini prices (USD per million tokens) → nano-USD per token: input 0.5 → 500, cached 0.125 → 125,
// output 4 → 4000. Claude Sonnet 4.5 from the built-in catalog: input 3 → 3000, cache read 0.3 → 300,
// 5-minute cache write 3.75 → 3750, output 15 → 15000.
const config = () => `
providers:
  - name: vertex
    type: vertex
    base_url: ${fake.origin}
    vertex: { project: ${PROJECT}, location: ${LOCATION}, credentials_file: ${keyPath}, token_url: ${fake.tokenUrl} }
  - name: vertex-unknown-account
    type: vertex
    base_url: ${fake.origin}
    vertex: { project: ${PROJECT}, location: ${LOCATION}, credentials_file: ${unknownKeyPath}, token_url: ${fake.tokenUrl} }
  - name: backup
    type: mock
    mock: { reply: "backup answer", chunks: 3 }
deployments:
  - id: vertex/flash
    provider: vertex
    model: ${FLASH}
    pricing: { input: 0.5, cached_input: 0.125, output: 4 }
  - id: vertex/sonnet
    provider: vertex
    model: ${SONNET}
  - id: unknown/flash
    provider: vertex-unknown-account
    model: ${FLASH}
  - id: backup/mock
    provider: backup
    model: mock-backup
    pricing: { input: 1, output: 2 }
routes:
  - name: gemini
    targets: [vertex/flash]
    retry: { max_retries: 0 }
  - name: claude
    targets: [vertex/sonnet]
    retry: { max_retries: 0 }
  - name: gemini-fallback
    targets: [vertex/flash, backup/mock]
    retry: { max_retries: 0 }
  - name: unknown-account
    targets: [unknown/flash]
  - name: unknown-account-fallback
    targets: [unknown/flash, backup/mock]
`;

const gws = gatewayPool(config);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vertex-e2e-"));
  keyPath = sa.writeKeyFile(dir);
  unknownKeyPath = unknown.writeKeyFile(dir);
  fake = await startFakeVertex({ accounts: [sa], project: PROJECT, location: LOCATION });
});
beforeEach(() => fake.reset());
afterEach(() => gws.closeAll());
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const calls = () => fake.requests.filter((r) => r.path !== "/token");
const base = `/v1/projects/${PROJECT}/locations/${LOCATION}/publishers`;

describe("vertex: Gemini", () => {
  test("Complete: text, usage and cost; the request carries the bearer token on the Vertex path", async () => {
    const t = await gws.start();
    fake.script({ kind: "text", text: "Hello from Vertex.", model: "gemini-2.5-flash-001", usage: { input: 100, output: 20, cached: 40 } });
    const res = await clientFor(t).chat.complete({ model: "gemini", messages: [user("Hi there")] });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["Hello from Vertex."]);
    assert.equal(res.deployment, "vertex/flash");
    assert.equal(res.provider, "vertex");
    assert.equal(res.providerModel, "gemini-2.5-flash-001");
    assert.equal(res.finishReason, FinishReason.STOP);
    assertUsage(res.usage, { input: 100, output: 20, cached: 40 });
    // uncached 60×500 + cached 40×125 + output 20×4000
    assertCost(res.cost, { input: 30_000, cachedInput: 5_000, output: 80_000 });

    const [r] = calls();
    assert.equal(r.path, `${base}/google/models/${FLASH}:generateContent`);
    assert.equal(r.headers.authorization, `Bearer ${fake.issued[0].token}`);
    assert.equal(r.headers["x-goog-api-key"], undefined);
    assert.deepEqual(r.body, { contents: [{ role: "user", parts: [{ text: "Hi there" }] }] });
    const rec = await lastRecord(t, "gemini");
    assert.equal(rec.cost.total, 115_000);
  });

  test("Stream: every delta, cumulative usage, hostile chunking", async () => {
    const t = await gws.start();
    const text = "Grüße aus Köln — naïve café 🚀 done.";
    fake.script({ kind: "text", text, usage: { input: 100, output: 20, cached: 40 }, chunking: "hostile" });
    const s = await collect(clientFor(t, "grpc").chat.stream({ model: "gemini", messages: [user("Greet me")] }));
    assert.equal(s.error, undefined);
    assert.equal(s.text, text);
    assert.ok(s.deltas >= 2);
    assert.equal(s.finish?.finishReason, FinishReason.STOP);
    assertUsage(s.finish?.usage, { input: 100, output: 20, cached: 40 });
    assertCost(s.finish?.cost, { input: 30_000, cachedInput: 5_000, output: 80_000 });
    const [r] = calls();
    assert.equal(r.path, `${base}/google/models/${FLASH}:streamGenerateContent`);
    assert.deepEqual(r.query, { alt: "sse" });
  });

  test("tools: declarations go up, a function call comes back", async () => {
    const t = await gws.start();
    fake.script({ kind: "tool_calls", calls: [{ name: "get_weather", arguments: { city: "Paris" } }] });
    const res = await clientFor(t).chat.complete({ model: "gemini", messages: [user("Weather in Paris?")], tools: [WEATHER_TOOL] });
    assert.equal(res.finishReason, FinishReason.TOOL_CALLS);
    assert.deepEqual(res.message?.toolCalls.map((c) => [c.name, c.arguments]), [["get_weather", '{"city":"Paris"}']]);
    assert.deepEqual(calls()[0].body.tools, [{ functionDeclarations: [{ name: "get_weather", description: "Current weather for a city", parametersJsonSchema: WEATHER_TOOL.parameters }] }]);
  });

  test("a Vertex quota error (429 RESOURCE_EXHAUSTED) is rate_limited and falls back", async () => {
    const t = await gws.start();
    fake.script({ kind: "vertex_error", error: "resource_exhausted" });
    const res = await clientFor(t).chat.complete({ model: "gemini-fallback", messages: [user("hi")] });
    assert.equal(res.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(res.attempts), [
      ["vertex/flash", FAILED, FailureKind.RATE_LIMITED],
      ["backup/mock", OK, FailureKind.UNSPECIFIED],
    ]);
  });
});

describe("vertex: Claude", () => {
  test("Complete: rawPredict with the Vertex body; cost from the built-in catalog for the @-versioned id", async () => {
    const t = await gws.start();
    fake.script({ kind: "text", text: "Hello from Claude on Vertex.", usage: { input: 100, cached: 30, cacheWrite: 20, output: 10 } });
    const res = await clientFor(t).chat.complete({ model: "claude", messages: [user("Hi")], maxOutputTokens: 200 });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["Hello from Claude on Vertex."]);
    assert.equal(res.deployment, "vertex/sonnet");
    assert.equal(res.finishReason, FinishReason.STOP);
    assert.equal(res.rawFinishReason, "end_turn");
    // input_tokens 50 + cache read 30 + cache write 20
    assertUsage(res.usage, { input: 100, output: 10, cached: 30, cacheWrite: 20 });
    // uncached 50×3000 + read 30×300 + write 20×3750 + output 10×15000
    assertCost(res.cost, { input: 150_000, cachedInput: 9_000, cacheWrite: 75_000, output: 150_000 });

    const [r] = calls();
    assert.equal(r.path, `${base}/anthropic/models/${SONNET}:rawPredict`);
    assert.equal(r.headers.authorization, `Bearer ${fake.issued[0].token}`);
    assert.equal(r.headers["anthropic-version"], undefined);
    assert.deepEqual(r.body, { anthropic_version: "vertex-2023-10-16", max_tokens: 200, messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }] });
  });

  test("Stream: streamRawPredict, named events, final usage and cost", async () => {
    const t = await gws.start();
    fake.script({ kind: "text", text: "Streaming from Claude on Vertex.", usage: { input: 100, cached: 30, cacheWrite: 20, output: 10 }, chunking: "hostile" });
    const s = await collect(clientFor(t).chat.stream({ model: "claude", messages: [user("Hi")] }));
    assert.equal(s.error, undefined);
    assert.equal(s.text, "Streaming from Claude on Vertex.");
    assert.equal(s.finish?.rawFinishReason, "end_turn");
    assertUsage(s.finish?.usage, { input: 100, output: 10, cached: 30, cacheWrite: 20 });
    assertCost(s.finish?.cost, { input: 150_000, cachedInput: 9_000, cacheWrite: 75_000, output: 150_000 });
    const [r] = calls();
    assert.equal(r.path, `${base}/anthropic/models/${SONNET}:streamRawPredict`);
    assert.equal(r.body.stream, true);
    assert.equal(r.body.model, undefined);
  });

  test("Claude's own overloaded_error (529) is overloaded", async () => {
    const t = await gws.start();
    fake.script({ kind: "error", error: "overloaded_error" });
    const { info } = await rejection(clientFor(t).chat.complete({ model: "claude", messages: [user("hi")] }));
    assert.equal(info.failureKind, FailureKind.OVERLOADED);
  });
});

describe("vertex: the access token", () => {
  test("fetched once, then reused by every request of both publishers (concurrent ones included)", async () => {
    const t = await gws.start();
    fake.setTokenDelay(30);
    const c = clientFor(t);
    await Promise.all([
      c.chat.complete({ model: "gemini", messages: [user("one")] }),
      c.chat.complete({ model: "gemini", messages: [user("two")] }),
      c.chat.complete({ model: "claude", messages: [user("three")] }),
    ]);
    await c.chat.complete({ model: "gemini", messages: [user("four")] });
    await collect(c.chat.stream({ model: "claude", messages: [user("five")] }));
    assert.equal(fake.issued.length, 1);
    assert.equal(fake.requests.filter((r) => r.path === "/token").length, 1);
    assert.equal(calls().length, 5);
    assert.ok(calls().every((r) => r.headers.authorization === `Bearer ${fake.issued[0].token}`));
  });

  test("refreshed before it expires: a token within 5 minutes of expiry is replaced", async () => {
    const t = await gws.start();
    fake.setExpiresIn(301);
    const c = clientFor(t);
    await c.chat.complete({ model: "gemini", messages: [user("one")] });
    await c.chat.complete({ model: "gemini", messages: [user("two")] });
    assert.equal(fake.issued.length, 1);
    await new Promise((r) => setTimeout(r, 1100));
    await c.chat.complete({ model: "gemini", messages: [user("three")] });
    assert.equal(fake.issued.length, 2);
    assert.deepEqual(
      calls().map((r) => r.headers.authorization),
      [1, 1, 2].map((n) => `Bearer ${fake.issued[n - 1].token}`),
    );
  });

  test("a refresh failure is upstream_auth of that deployment (Unavailable to the caller), and falls back", async () => {
    const t = await gws.start();
    fake.failTokens({ error: "invalid_grant", description: "Invalid grant: account disabled" });
    const { err, info } = await rejection(clientFor(t).chat.complete({ model: "gemini", messages: [user("hi")] }));
    assert.equal(err.code, Code.Unavailable);
    assert.equal(info.failureKind, FailureKind.UPSTREAM_AUTH);
    assert.deepEqual(attemptSummary(info.attempts), [["vertex/flash", FAILED, FailureKind.UPSTREAM_AUTH]]);
    assert.equal(calls().length, 0, "nothing reaches Vertex without a token");

    const t2 = await gws.start();
    const s = await collect(clientFor(t2).chat.stream({ model: "gemini-fallback", messages: [user("hi")] }));
    assert.equal(s.error, undefined);
    assert.equal(s.text, "backup answer");
    assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["vertex/flash", FAILED, FailureKind.UPSTREAM_AUTH]]);
  });

  test("an account the token endpoint refuses (its assertion fails verification) is upstream_auth too", async () => {
    const t = await gws.start();
    const { info } = await rejection(clientFor(t).chat.complete({ model: "unknown-account", messages: [user("hi")] }));
    assert.equal(info.failureKind, FailureKind.UPSTREAM_AUTH);
    assert.deepEqual(fake.refused, ["invalid_grant: Invalid grant: account not found"]);
    const res = await clientFor(t).chat.complete({ model: "unknown-account-fallback", messages: [user("hi")] });
    assert.equal(res.deployment, "backup/mock");
  });
});

describe("vertex: secrets", () => {
  test("no private key, assertion or access token in responses, errors, usage records or logs", async () => {
    const logs: string[] = [];
    setLogSink((line) => logs.push(line));
    const t = await startTestGateway(config(), { requestLog: true });
    try {
      const c = clientFor(t, "connect-json");
      const seen: string[] = [];
      const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? String(x) : x));
      seen.push(json(await c.chat.complete({ model: "gemini", messages: [user("hi")] })));
      seen.push(json(await collect(c.chat.stream({ model: "claude", messages: [user("hi")] }))));
      const unknownAccount = await rejection(c.chat.complete({ model: "unknown-account", messages: [user("hi")] }));
      seen.push(unknownAccount.err.message, json(unknownAccount.info));
      fake.expireTokens(); // Vertex now refuses the cached token (401 ACCESS_TOKEN_EXPIRED)
      const expired = await rejection(c.chat.complete({ model: "claude", messages: [user("hi")] }));
      assert.equal(expired.info.failureKind, FailureKind.UPSTREAM_AUTH);
      seen.push(expired.err.message, json(expired.info));
      await lastRecord(t, "claude");
      seen.push(json(t.usage.recent()), ...logs);

      const all = seen.join("\n");
      assert.ok(logs.some((l) => l.includes('"request"')), "request log lines were captured");
      assert.ok(fake.issued.length >= 1);
      for (const tok of fake.issued) assert.ok(!all.includes(tok.token), "an access token leaked");
      for (const acct of [sa, unknown]) {
        for (const line of acct.privateKeyPem.split("\n").slice(1, -2)) assert.ok(!all.includes(line), "private key material leaked");
      }
      assert.doesNotMatch(all, /PRIVATE KEY|eyJ[\w-]+\.eyJ/);
    } finally {
      setLogSink((line) => process.stdout.write(line));
      await t.close();
    }
  });
});

describe("vertex: the key inline (vertex.credentials_json)", () => {
  test("a Vertex provider made at run time carries its key file's contents, sealed, never returned, and serves", async () => {
    const master = ["vertex", "inline", "master", "key", "0123456789abcdef"].join("-");
    const t = await startTestGateway(config(), { masterKey: master });
    const logs: string[] = [];
    setLogSink((line) => logs.push(line));
    try {
      const c = clientFor(t, "connect-json");
      const keyJson = JSON.stringify(sa.keyFile());
      const made = await c.admin.putConfigEntry({
        kind: ConfigEntryKind.PROVIDER,
        name: "vertex-inline",
        spec: { type: "vertex", base_url: fake.origin, vertex: { project: PROJECT, location: LOCATION, credentials_json: keyJson, token_url: fake.tokenUrl } },
      });
      assert.deepEqual(made.entry?.secretFields, ["vertex.credentials_json"]);
      assert.equal((made.entry?.spec?.vertex as Record<string, unknown>).credentials_json, "********");
      await c.admin.putConfigEntry({ kind: ConfigEntryKind.DEPLOYMENT, name: "inline/flash", spec: { provider: "vertex-inline", model: FLASH, pricing: { input: 0.5, output: 4 } } });
      fake.script({ kind: "text", text: "Hello from the inline key." });
      const res = await c.chat.complete({ model: "inline/flash", messages: [user("Hi")] });
      assert.deepEqual(res.message?.content.map((p) => p.part.value), ["Hello from the inline key."]);
      assert.equal(calls().at(-1)!.headers.authorization, `Bearer ${fake.issued.at(-1)!.token}`);
      const all = JSON.stringify(made.entry?.spec) + JSON.stringify((await c.admin.listConfigEntries({})).entries.map((e) => e.spec)) + logs.join("\n");
      for (const line of sa.privateKeyPem.split("\n").slice(1, -2)) assert.ok(!all.includes(line), "private key material leaked");
    } finally {
      setLogSink((line) => process.stdout.write(line));
      await t.close();
    }
  });

  test("checked when read: one source only, JSON of a Google kind, and the message never quotes it", () => {
    const yaml = (vertex: string) => `
providers:
  - { name: v, type: vertex, vertex: { project: p, location: us-central1, ${vertex} } }
deployments: [{ id: v/flash, provider: v, model: ${FLASH} }]
routes: [{ name: r, targets: [v/flash] }]
`;
    const secret = ["not", "json", "secret", "material"].join("-");
    assert.throws(() => buildConfig(parse(yaml(`credentials_json: "${secret}"`)), {}), (e: Error) => /^providers\[0\]\.vertex\.credentials_json: is not JSON/.test(e.message) && !e.message.includes(secret));
    assert.throws(() => buildConfig(parse(yaml(`credentials_json: '{"type":"service_account"}'`)), {}), /credentials_json: a service-account key needs client_email and private_key/);
    assert.throws(() => buildConfig(parse(yaml(`credentials_json: '{"a":1}'`)), {}), /credentials_json: is not a Google credentials file/);
    assert.throws(() => buildConfig(parse(yaml(`credentials_json: '{"type":"authorized_user"}', credentials_file: /k.json`)), {}), /credentials_json: give credentials_file or credentials_json, not both/);
    const ok = buildConfig(parse(yaml(`credentials_json: '${JSON.stringify(sa.keyFile())}'`)), {});
    assert.equal(ok.providers[0].vertex?.credentialsJson, JSON.stringify(sa.keyFile()));
  });
});
