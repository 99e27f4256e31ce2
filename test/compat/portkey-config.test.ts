// Portkey's gateway configs through its own SDK (portkey-ai's `config`, `virtualKey`, `provider`
// and `requestTimeout` options, sent as x-portkey-* headers) against the gateway's /v1: fallbacks
// with and without on_status_codes, load balancing by weight, conditional routing on metadata and
// params, retries, per-attempt timeouts, the cache, override_params, Model Catalog names, and the
// refusals of what does not map. The same retry and fallback-status options on the Connect API.
// Real sockets, the gateway on mock providers that fail with fixed statuses.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Portkey } from "portkey-ai";
import { createSignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const key = (...p: string[]) => ["sbx", "test", "pkconfig", ...p].join("_");
const APP = key("app");

// Providers that always fail, one per scenario: three failures in a row cool a deployment down,
// and a deployment cooling down is skipped by the planner, which would change what later tests see.
const FAILING: [string, string][] = [
  ["overloaded", "overloaded"],
  ["overloaded2", "overloaded"],
  ["overloaded3", "overloaded"],
  ["limited", "rate_limited"],
  ["limited2", "rate_limited"],
  ["limited3", "rate_limited"],
  ["limited4", "rate_limited"],
  ["limited5", "rate_limited"],
  ["refusing", "bad_request"],
  ["refusing2", "bad_request"],
];

const YAML = `
server: { max_request_bytes: 65536 }
providers:
  - { name: mock, type: mock }
  - { name: backup, type: mock }
${FAILING.map(([n, kind]) => `  - { name: ${n}, type: mock, mock: { failure_rate: 1, failure_kind: ${kind} } }`).join("\n")}
  - { name: slow, type: mock, mock: { ttft_ms: 3000, chunks: 2 } }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: mock/b, provider: mock, model: mock-b, pricing: { input: 1, output: 2 } }
  - { id: backup/b, provider: backup, model: mock-b, pricing: { input: 1, output: 2 } }
${FAILING.map(([n]) => `  - { id: ${n}/a, provider: ${n}, model: mock-a, pricing: { input: 1, output: 2 } }`).join("\n")}
  - { id: slow/a, provider: slow, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: mock/embed, provider: mock, model: mock-embed, operations: [embeddings], pricing: { input: 1, output: 0 } }
routes:
  - { name: default, targets: [mock/a] }
  - { name: pc-checkout-4f2a, targets: [backup/b] }
keys:
  - { name: app, hash: "${hashKey(APP)}", team: a, role: service }
`;

type Completion = { id: string; choices: { message: { content: string }; finish_reason: string }[] };
type Failure = Error & { status?: number };

describe("Portkey's gateway configs", () => {
  let gw: TestGateway;
  const portkey = (opts: Record<string, unknown> = {}) => new Portkey({ apiKey: APP, baseURL: `${gw.url}/v1`, maxRetries: 0, ...opts } as ConstructorParameters<typeof Portkey>[0]);
  const sb = () => createSignalboxClient({ baseUrl: gw.url, apiKey: APP });
  const record = async (id: string) => (await sb().usage.getRequest({ id })).record!;
  const ask = (pk: Portkey, content = "hello", extra: Record<string, unknown> = {}) => pk.chat.completions.create({ model: "default", messages: [{ role: "user", content }], ...extra } as never) as unknown as Promise<Completion>;
  /** A chat over plain HTTP with the given headers: status, body and the request id. */
  const post = async (headers: Record<string, string>, body: Record<string, unknown> = {}, path = "/v1/chat/completions") => {
    const res = await fetch(`${gw.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${APP}`, ...headers },
      body: JSON.stringify({ model: "default", messages: [{ role: "user", content: "hi" }], ...body }),
    });
    return { status: res.status, body: (await res.json()) as { error?: { message: string; param?: string } } & Record<string, unknown>, id: res.headers.get("x-request-id")! };
  };
  const tried = async (id: string) => (await record(id)).attempts.map((a) => `${a.deployment}:${a.httpStatus || "ok"}`);

  before(async () => {
    gw = await startTestGateway(YAML);
  });
  after(() => gw?.close());

  test("fallback: the targets are tried in order, each a configured provider (virtual key) and model", async () => {
    const r = await ask(portkey({ config: { strategy: { mode: "fallback" }, targets: [{ virtual_key: "overloaded", override_params: { model: "mock-a" } }, { virtualKey: "backup", overrideParams: { model: "mock-b" } }] } }));
    assert.match(r.choices[0]!.message.content, /You said: "hello"/);
    const rec = await record(r.id);
    assert.equal(rec.deployment, "backup/b");
    assert.deepEqual((await tried(r.id)).at(-1), "backup/b:ok");
    assert.ok((await tried(r.id)).every((a, i, all) => i === all.length - 1 || a === "overloaded/a:529"));
  });

  test("fallback on_status_codes: only the listed statuses move on, even a 400 the gateway would not fall back on", async () => {
    const targets = (first: string) => [{ virtual_key: first, override_params: { model: "mock-a" } }, { virtual_key: "backup", override_params: { model: "mock-b" } }];
    // 529 is not listed: the first failure is the answer.
    const no = await post({ "x-portkey-config": JSON.stringify({ strategy: { mode: "fallback", on_status_codes: [429] }, targets: targets("overloaded2"), retry: { attempts: 0 } }) });
    assert.equal(no.status, 502);
    assert.deepEqual(await tried(no.id), ["overloaded2/a:529"]);
    // 429 is: it falls back.
    const yes = await post({ "x-portkey-config": JSON.stringify({ strategy: { mode: "fallback", on_status_codes: [429] }, targets: targets("limited"), retry: { attempts: 0 } }) });
    assert.equal(yes.status, 200);
    assert.deepEqual(await tried(yes.id), ["limited/a:429", "backup/b:ok"]);
    // A 400 never falls back by the gateway's own policy; listed, it does.
    const plain = await post({ "x-portkey-config": JSON.stringify({ strategy: { mode: "fallback" }, targets: targets("refusing") }) });
    assert.equal(plain.status, 400);
    assert.deepEqual(await tried(plain.id), ["refusing/a:400"]);
    const listed = await post({ "x-portkey-config": JSON.stringify({ strategy: { mode: "fallback", on_status_codes: [400] }, targets: targets("refusing2") }) });
    assert.equal(listed.status, 200);
    assert.deepEqual(await tried(listed.id), ["refusing2/a:400", "backup/b:ok"]);
  });

  test("retry: attempts per target, on the listed statuses only", async () => {
    const three = await post({ "x-portkey-config": JSON.stringify({ virtual_key: "limited3", override_params: { model: "mock-a" }, retry: { attempts: 2 } }) });
    assert.equal(three.status, 429);
    assert.deepEqual(await tried(three.id), ["limited3/a:429", "limited3/a:429", "limited3/a:429"]);
    const once = await post({ "x-portkey-config": JSON.stringify({ virtual_key: "limited2", override_params: { model: "mock-a" }, retry: { attempts: 2, on_status_codes: [503] } }) });
    assert.deepEqual(await tried(once.id), ["limited2/a:429"]);
  });

  test("loadbalance: a target is picked by weight; weight 0 is never picked", async () => {
    const cfg = (wa: number, wb: number) => ({ strategy: { mode: "loadbalance" }, targets: [{ virtual_key: "mock", override_params: { model: "mock-a" }, weight: wa }, { virtual_key: "backup", override_params: { model: "mock-b" }, weight: wb }] });
    const only = portkey({ config: cfg(0, 1) });
    for (let i = 0; i < 5; i++) assert.equal((await record((await ask(only)).id)).deployment, "backup/b");
    const both = portkey({ config: cfg(1, 1) });
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) seen.add((await record((await ask(both)).id)).deployment);
    assert.deepEqual([...seen].sort(), ["backup/b", "mock/a"]);
    // A picked target is the answer: a load-balanced slot has no fallback of its own.
    const r = await post({ "x-portkey-config": JSON.stringify({ strategy: { mode: "loadbalance" }, targets: [{ virtual_key: "overloaded3", override_params: { model: "mock-a" } }] }) });
    assert.equal(r.status, 502);
    assert.ok((await tried(r.id)).every((a) => a === "overloaded3/a:529"));
  });

  test("conditional: the first matching condition's target, on metadata and params; else the default", async () => {
    const config = {
      strategy: {
        mode: "conditional",
        conditions: [
          { query: { "metadata.plan": { $eq: "paid" } }, then: "premium" },
          { query: { $and: [{ "params.max_tokens": { $gte: 500 } }, { "metadata.region": { $in: ["eu", "uk"] } }] }, then: "long-eu" },
        ],
        default: "basic",
      },
      targets: [
        { name: "premium", virtual_key: "backup", override_params: { model: "mock-b" } },
        { name: "long-eu", virtual_key: "mock", override_params: { model: "mock-b" } },
        { name: "basic", virtual_key: "mock", override_params: { model: "mock-a" } },
      ],
    };
    const deploymentFor = async (opts: Record<string, unknown>, extra: Record<string, unknown> = {}) => (await record((await ask(portkey({ config, ...opts }), "hi", extra)).id)).deployment;
    assert.equal(await deploymentFor({ metadata: { plan: "paid" } }), "backup/b");
    assert.equal(await deploymentFor({ metadata: { plan: "free", region: "eu" } }, { max_tokens: 800 }), "mock/b");
    assert.equal(await deploymentFor({ metadata: { plan: "free", region: "us" } }, { max_tokens: 800 }), "mock/a");
    assert.equal(await deploymentFor({}), "mock/a");
  });

  test("override_params reach the provider; settings are inherited by nested targets", async () => {
    const r = await ask(portkey({ config: { override_params: { max_tokens: 3 }, strategy: { mode: "fallback" }, targets: [{ strategy: { mode: "single" }, targets: [{ virtual_key: "mock", override_params: { model: "mock-b" } }] }] } }), "please say a long sentence back to me");
    assert.equal(r.choices[0]!.finish_reason, "length");
    const rec = await record(r.id);
    assert.equal(rec.deployment, "mock/b");
    assert.equal(rec.usage?.outputTokens, 3n);
  });

  test("request_timeout bounds each attempt; the next target answers", async () => {
    const t0 = Date.now();
    const r = await ask(portkey({ config: { strategy: { mode: "fallback" }, request_timeout: 300, targets: [{ virtual_key: "slow", override_params: { model: "mock-a" } }, { virtual_key: "mock", override_params: { model: "mock-a" } }] } }));
    assert.ok(Date.now() - t0 < 2500, "the slow target was cut at its timeout");
    assert.deepEqual((await record(r.id)).attempts.map((a) => [a.deployment, a.outcome === 1 ? "ok" : "failed"]).at(-1), ["mock/a", "ok"]);
    // The SDK's requestTimeout option is the same limit (x-portkey-request-timeout).
    const h = await post({ "x-portkey-virtual-key": "slow", "x-portkey-request-timeout": "200" }, { model: "mock-a" });
    assert.equal(h.status, 504);
  });

  test("cache: a config's simple cache answers the second identical request", async () => {
    const pk = portkey({ config: { cache: { mode: "simple", max_age: 60 }, virtual_key: "mock", override_params: { model: "mock-a" } } });
    await ask(pk, "cache me please");
    const second = await ask(pk, "cache me please");
    const rec = await record(second.id);
    assert.equal(rec.cacheHit, true);
    assert.equal(rec.cacheKind, "exact");
  });

  test("a virtual key or provider header, and Model Catalog names (@provider/model), pick a provider's deployment", async () => {
    assert.equal((await record((await portkey({ virtualKey: "backup" }).chat.completions.create({ model: "mock-b", messages: [{ role: "user", content: "x" }] } as never) as unknown as Completion).id)).deployment, "backup/b");
    assert.equal((await record((await portkey({ provider: "@backup" }).chat.completions.create({ model: "mock-b", messages: [{ role: "user", content: "x" }] } as never) as unknown as Completion).id)).deployment, "backup/b");
    assert.equal((await record((await portkey().chat.completions.create({ model: "@backup/mock-b", messages: [{ role: "user", content: "x" }] } as never) as unknown as Completion).id)).deployment, "backup/b");
    // The other doors too: embeddings by Model Catalog name, completions under a config.
    const e = await post({}, { model: "@mock/mock-embed", input: "embed me", messages: undefined }, "/v1/embeddings");
    assert.equal(e.status, 200, JSON.stringify(e.body));
    const c = await post({ "x-portkey-virtual-key": "backup" }, { model: "mock-b", prompt: "complete me", messages: undefined }, "/v1/completions");
    assert.equal(c.status, 200, JSON.stringify(c.body));
    assert.equal((await record(c.id)).deployment, "backup/b");
  });

  test("the Responses and Messages doors take a config too", async () => {
    const config = JSON.stringify({ strategy: { mode: "fallback" }, targets: [{ virtual_key: "overloaded", override_params: { model: "mock-a" } }, { virtual_key: "backup", override_params: { model: "mock-b" } }] });
    const r = await fetch(`${gw.url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${APP}`, "x-portkey-config": config }, body: JSON.stringify({ model: "default", input: "hi" }) });
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal((await record(r.headers.get("x-request-id")!)).deployment, "backup/b");
    const m = await fetch(`${gw.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": APP, "anthropic-version": "2023-06-01", "x-portkey-config": config }, body: JSON.stringify({ model: "default", max_tokens: 64, messages: [{ role: "user", content: "hi" }] }) });
    assert.equal(m.status, 200, await m.clone().text());
    assert.equal((await record(m.headers.get("request-id") ?? m.headers.get("x-request-id")!)).deployment, "backup/b");
  });

  test("a saved config's id names the route of that name", async () => {
    const r = await ask(portkey({ config: "pc-checkout-4f2a" }));
    assert.equal((await record(r.id)).deployment, "backup/b");
  });

  test("what does not map is refused by name, before any provider is called", async () => {
    const cases: [Record<string, string>, Record<string, unknown>, string, RegExp][] = [
      [{ "x-portkey-config": "pc-abc123" }, {}, "x-portkey-config", /saved config's id and this gateway has no route of that name/],
      [{ "x-portkey-config": "{not json" }, {}, "x-portkey-config", /JSON object/],
      [{ "x-portkey-config": JSON.stringify({ provider: "openai", api_key: "sk-" + "x".repeat(20) }) }, {}, "x-portkey-config.api_key", /credentials/],
      [{ "x-portkey-config": JSON.stringify({ strategy: { mode: "fallback" }, targets: [{ virtual_key: "nope" }] }) }, {}, "x-portkey-config.targets[0].virtual_key", /not a provider of this gateway/],
      [{ "x-portkey-config": JSON.stringify({ targets: [{ virtual_key: "mock" }] }) }, {}, "x-portkey-config.strategy", /required with targets/],
      [{ "x-portkey-config": JSON.stringify({ strategy: { mode: "fallback" }, targets: [{ virtual_key: "mock", override_params: { model: "mock-a", temperature: 0 } }, { virtual_key: "backup", override_params: { model: "mock-b" } }] }) }, {}, "x-portkey-config.targets[1].override_params", /same parameters/],
      [{ "x-portkey-config": JSON.stringify({ strategy: { mode: "fallback", on_status_codes: [200] }, targets: [{ virtual_key: "mock" }] }) }, {}, "x-portkey-config.strategy.on_status_codes[0]", /400 to 599/],
      [{ "x-portkey-config": JSON.stringify({ strategy: { mode: "conditional", conditions: [{ query: { "metadata.a": { $near: 1 } }, then: "x" }] }, targets: [{ name: "x", virtual_key: "mock" }] }) }, {}, "x-portkey-config.strategy.conditions[0].query.metadata.a.$near", /not an operator/],
      [{ "x-portkey-config": JSON.stringify({ input_guardrails: [{ "default.contains": { words: ["x"] } }] }) }, {}, "x-portkey-config.input_guardrails[0]", /inline checks/],
      [{ "x-portkey-virtual-key": "mock" }, { model: "mock-zzz" }, "model", /provider "mock" has no deployment of model "mock-zzz"/],
      [{ "x-portkey-request-timeout": "soon" }, {}, "x-portkey-request-timeout", /positive number/],
    ];
    for (const [headers, body, field, message] of cases) {
      const r = await post(headers, body);
      assert.equal(r.status, 400, `${JSON.stringify(headers)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error?.param, field, JSON.stringify(r.body));
      assert.match(r.body.error!.message, message);
      assert.doesNotMatch(r.body.error!.message, /sk-x/);
      assert.equal((await sb().usage.getRequest({ id: r.id }).catch(() => undefined))?.record?.attempts.length ?? 0, 0);
    }
    // Routing headers on a door they do not apply to are refused, not ignored.
    const res = await fetch(`${gw.url}/v1/audio/speech`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${APP}`, "x-portkey-virtual-key": "mock" }, body: JSON.stringify({ model: "default", input: "x", voice: "alloy" }) });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /x-portkey-virtual-key: Portkey's routing applies here to/);
  });

  test("the same options on the gateway's own API: signalbox.retry and fallback_on_status_codes on /v1, RoutingOptions on Connect", async () => {
    const v1 = await post({}, { model: "limited4/a", signalbox: { fallbacks: ["mock/b"], fallback_on_status_codes: [503], retry: { attempts: 0 } } });
    assert.equal(v1.status, 429);
    assert.deepEqual(await tried(v1.id), ["limited4/a:429"]);
    const bad = await post({}, { model: "limited/a", signalbox: { retry: { attempts: 11 } } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error?.param, "signalbox.retry.attempts");
    // Not listed: 429 is the answer, although the gateway's own policy would fall back on it.
    await assert.rejects(sb().chat.complete({ model: "limited5/a", messages: [{ role: 1, content: [{ part: { case: "text", value: "hi" } }] }], routing: { fallbacks: ["mock/b"], fallbackOnStatusCodes: [503], retry: { attempts: 0, onStatusCodes: [] } } } as never), /resource_exhausted/);
    const r = await sb().chat.complete({ model: "limited5/a", messages: [{ role: 1, content: [{ part: { case: "text", value: "hi" } }] }], routing: { fallbacks: ["mock/b"], fallbackOnStatusCodes: [429], retry: { attempts: 0, onStatusCodes: [] } } } as never);
    assert.equal((r as unknown as { deployment: string }).deployment, "mock/b");
    await assert.rejects(sb().chat.complete({ model: "limited/a", messages: [{ role: 1, content: [{ part: { case: "text", value: "hi" } }] }], routing: { fallbackOnStatusCodes: [200] } } as never), /routing\.fallback_on_status_codes\[0\]/);
  });
});
