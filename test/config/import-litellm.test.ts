// `signalbox config import` from LiteLLM's proxy config: what a realistic config.yaml becomes (its
// providers, deployments, model groups as routes, fallbacks, aliases, cache, Redis and PostgreSQL,
// master key, alerting, callbacks and guardrails), what is said about the rest, that the gateway's
// own validator takes the result, and that a gateway started from an imported file serves the
// model groups as LiteLLM did: the same names, the same key, the fallback, the cache.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { parse, stringify } from "yaml";
import { importConfig, placeholderEnv } from "../../src/config/import/index.ts";
import { importLiteLLM } from "../../src/config/import/litellm.ts";
import { buildConfig } from "../../src/config/load.ts";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { createSignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";

const MASTER = ["sk", "litellm", "master", "test"].join("-");
const LITERAL = ["sk", "vllm", "literal", "test"].join("-");
const sha = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;

/** A config.yaml as LiteLLM's docs write them: three deployments behind gpt-4o, Claude twice, and the rest. */
const LITELLM = parse(`
model_list:
  - model_name: gpt-4o
    litellm_params: { model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY, rpm: 600 }
  - model_name: gpt-4o
    litellm_params: { model: azure/gpt-4o-prod, api_base: os.environ/AZURE_API_BASE, api_key: os.environ/AZURE_API_KEY, api_version: "2024-10-21", rpm: 300 }
    model_info: { base_model: azure/gpt-4o }
  - model_name: gpt-4o
    litellm_params: { model: azure/gpt-4o-eu, api_base: "https://my-eu.openai.azure.com", api_key: os.environ/AZURE_EU_API_KEY, api_version: "2024-10-21", rpm: 100 }
    model_info: { base_model: azure/gpt-4o }
  - model_name: claude
    litellm_params: { model: anthropic/claude-sonnet-4-5-20250929, api_key: os.environ/ANTHROPIC_API_KEY, timeout: 45 }
  - model_name: claude
    litellm_params: { model: bedrock/converse/anthropic.claude-3-5-sonnet-20240620-v1:0, aws_region_name: us-west-2, aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID, aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY }
  - model_name: gemini-pro
    litellm_params: { model: vertex_ai/gemini-2.5-pro, vertex_project: my-project, vertex_location: us-central1, vertex_credentials: os.environ/VERTEX_SA_JSON }
  - model_name: llama
    litellm_params: { model: groq/llama-3.1-8b-instant, api_key: os.environ/GROQ_API_KEY, input_cost_per_token: 0.00000005, output_cost_per_token: 0.00000008 }
  - model_name: local
    litellm_params: { model: ollama/qwen2.5:7b, api_base: "http://ollama:11434" }
  - model_name: embed
    litellm_params: { model: openai/text-embedding-3-small, api_key: os.environ/OPENAI_API_KEY }
    model_info: { mode: embedding }
  - model_name: custom
    litellm_params: { model: openai/my-finetune, api_base: "http://vllm:8000/v1", api_key: ${LITERAL}, input_cost_per_token: 0.0000005, output_cost_per_token: 0.0000015, max_budget: 20, budget_duration: 30d }
    model_info: { max_input_tokens: 32768 }
  - model_name: openai/gpt-4o-mini
    litellm_params: { model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY }
  - model_name: hf
    litellm_params: { model: huggingface/meta-llama/Llama-3-8b }
router_settings:
  routing_strategy: usage-based-routing-v2
  num_retries: 2
  timeout: 30
  redis_host: os.environ/REDIS_HOST
  redis_port: 6379
  redis_password: os.environ/REDIS_PASSWORD
  fallbacks: [{ gpt-4o: [claude] }]
  context_window_fallbacks: [{ llama: [gemini-pro] }]
  model_group_alias: { gpt-4: gpt-4o }
  allowed_fails: 3
litellm_settings:
  cache: true
  cache_params: { type: redis, ttl: 600 }
  success_callback: [langfuse, prometheus, lunary]
  drop_params: true
  max_budget: 100
  budget_duration: 30d
general_settings:
  master_key: ${MASTER}
  database_url: os.environ/DATABASE_URL
  alerting: [slack]
  store_model_in_db: true
guardrails:
  - guardrail_name: pii-mask
    litellm_params: { guardrail: presidio, mode: pre_call, default_on: true }
  - guardrail_name: aporia-x
    litellm_params: { guardrail: aporia, mode: during_call }
environment_variables:
  SOME_TOKEN: not-copied
`);

describe("a LiteLLM config.yaml, imported", () => {
  const r = importLiteLLM(LITELLM);
  const c = r.config as Record<string, any>;
  const dep = (id: string) => c.deployments.find((d: { id: string }) => d.id === id);
  const route = (name: string) => c.routes.find((x: { name: string }) => x.name === name);
  const noted = (path: string) => r.notes.filter((n) => n.path === path);

  test("one provider connection per credential set; os.environ/ as ${…}; LiteLLM's defaults where the entry gives no api_base", () => {
    assert.deepEqual(
      c.providers.map((p: { name: string; type: string }) => [p.name, p.type]),
      [
        ["openai", "openai"],
        ["azure", "azure"],
        ["azure-2", "azure"],
        ["anthropic", "anthropic"],
        ["bedrock", "bedrock"],
        ["vertex", "vertex"],
        ["groq", "openai-compatible"],
        ["ollama", "openai-compatible"],
        ["openai-compatible", "openai-compatible"],
      ],
    );
    const p = (n: string) => c.providers.find((x: { name: string }) => x.name === n);
    assert.deepEqual(p("openai"), { name: "openai", type: "openai", api_key: "${OPENAI_API_KEY}" });
    assert.deepEqual(p("azure"), { name: "azure", type: "azure", base_url: "${AZURE_API_BASE}", api_key: "${AZURE_API_KEY}", api_version: "2024-10-21" });
    assert.deepEqual(p("bedrock").aws, { region: "us-west-2", access_key_id: "${AWS_ACCESS_KEY_ID}", secret_access_key: "${AWS_SECRET_ACCESS_KEY}" });
    assert.deepEqual(p("vertex").vertex, { project: "my-project", location: "us-central1", credentials_json: "${VERTEX_SA_JSON}" });
    assert.deepEqual(p("groq"), { name: "groq", type: "openai-compatible", base_url: "https://api.groq.com/openai/v1", api_key: "${GROQ_API_KEY}", compat: { vendor: "groq" } });
    // LiteLLM's ollama api_base is the server's root; its OpenAI-compatible API is under /v1.
    assert.equal(p("ollama").base_url, "http://ollama:11434/v1");
    assert.equal(p("openai-compatible").base_url, "http://vllm:8000/v1");
    assert.ok(r.env.includes("OPENAI_API_KEY") && r.env.includes("REDIS_PASSWORD") && r.env.includes("DATABASE_URL") && r.env.includes("SLACK_WEBHOOK_URL") && r.env.includes("LANGFUSE_SECRET_KEY"), r.env.join(", "));
  });

  test("each entry a deployment: Azure's base model, prices per million, rate limits, the model budget, the operation; a model the catalog does not know is priced 0 and said so", () => {
    assert.deepEqual(dep("azure/gpt-4o-prod"), { id: "azure/gpt-4o-prod", provider: "azure", model: "gpt-4o-prod", base_model: "gpt-4o", limits: { requests_per_minute: 300 } });
    assert.deepEqual(dep("groq/llama-3.1-8b-instant").pricing, { input: 0.05, output: 0.08 });
    assert.deepEqual(dep("openai/text-embedding-3-small").operations, ["embeddings"]);
    assert.equal(dep("bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0").model, "anthropic.claude-3-5-sonnet-20240620-v1:0", "converse/ dropped: the gateway always uses Converse");
    const custom = dep("openai-compatible/my-finetune");
    assert.deepEqual(custom.pricing, { input: 0.5, output: 1.5 });
    assert.equal(custom.context_window, 32768);
    assert.deepEqual(custom.budget, { period: "month", limit_usd: 20 });
    // ollama/qwen2.5:7b is in no price table: free until prices are set, and a note says so.
    assert.deepEqual(dep("ollama/qwen2.5:7b").pricing, { input: 0, output: 0 });
    assert.match(noted("model_list[7].litellm_params.model")[0].detail, /not in the built-in price table .* priced at 0 \(free\)/);
    assert.equal(noted("model_list[7].litellm_params.model")[0].kind, "manual");
    assert.equal(dep("hf/meta-llama/Llama-3-8b"), undefined);
    assert.match(noted("model_list[11].litellm_params.model")[0].detail, /LiteLLM provider "huggingface" has no counterpart/);
  });

  test("model groups become routes of their names: the strategy, fallbacks (context-window ones too, said), retries, timeouts, the cache; aliases; a group named like a path keeps its name through an alias", () => {
    assert.deepEqual(route("gpt-4o"), {
      name: "gpt-4o",
      strategy: "usage",
      targets: ["openai/gpt-4o", "azure/gpt-4o-prod", "azure-2/gpt-4o-eu"],
      fallbacks: ["claude"],
      retry: { max_retries: 2 },
      timeouts: { total_ms: 30_000 },
      cache: { enabled: true, ttl_seconds: 600 },
    });
    assert.deepEqual(route("claude").timeouts, { attempt_ms: 45_000, total_ms: 30_000 });
    assert.deepEqual(route("llama").fallbacks, ["gemini-pro"]);
    assert.equal(noted("router_settings.context_window_fallbacks")[0].kind, "changed");
    assert.deepEqual(c.aliases, { "openai/gpt-4o-mini": "openai-gpt-4o-mini", "gpt-4": "gpt-4o" });
    assert.deepEqual(route("openai-gpt-4o-mini").targets, ["openai/gpt-4o-mini-2"]);
    assert.match(noted("model_list[10].litellm_params.model")[0].detail, /the deployment's id is openai\/gpt-4o-mini-2: "openai\/gpt-4o-mini" names the model group/);
  });

  test("state, keys, alerting, exports and guardrails; the master key by its hash only", () => {
    assert.deepEqual(c.store, { redis_url: "redis://:${REDIS_PASSWORD}@${REDIS_HOST}:6379", postgres_url: "${DATABASE_URL}" });
    assert.deepEqual(c.keys, [{ name: "master", team: "platform", role: "admin", hash: sha(MASTER) }]);
    assert.deepEqual(c.alerts, [{ name: "slack", url: "${SLACK_WEBHOOK_URL}", format: "slack" }]);
    assert.deepEqual(
      c.usage_export.map((e: { type: string }) => e.type),
      ["langfuse"],
    );
    assert.deepEqual(c.guardrails, [{ name: "pii-mask", stage: "input", mandatory: true, kind: "pii", action: "redact" }]);
    const json = JSON.stringify(r);
    assert.ok(!json.includes(MASTER), "the master key is nowhere in the result");
    assert.ok(!JSON.stringify(r.notes).includes(LITERAL), "a literal secret is carried, never in a note");
    assert.deepEqual(r.literalSecrets, ["model_list[9].litellm_params.api_key"]);
  });

  test("what does not map is a note naming the setting", () => {
    const paths = r.notes.map((n) => `${n.kind} ${n.path}`);
    for (const p of [
      "dropped router_settings.allowed_fails",
      "dropped litellm_settings.success_callback",
      "changed litellm_settings.success_callback",
      "manual litellm_settings.max_budget",
      "changed litellm_settings.drop_params",
      "dropped general_settings.store_model_in_db",
      "manual environment_variables.SOME_TOKEN",
      "dropped guardrails[1]",
      "changed model_list[4].litellm_params.model",
    ])
      assert.ok(paths.includes(p), `${p} in\n${paths.join("\n")}`);
    assert.ok(!JSON.stringify(r.notes).includes("not-copied"), "environment values are not copied");
  });

  test("the gateway's validator takes it (variables not set here stand in by their shape)", () => {
    const cfg = buildConfig(structuredClone(c), placeholderEnv(c, {}));
    assert.equal(cfg.deployments.length, 11);
    assert.equal(cfg.routes.find((x) => x.name === "gpt-4o")!.strategy, "usage");
    assert.equal(importConfig(LITELLM).from, "litellm", "told by its shape");
  });

  test("wildcard groups are wildcard deployments under their own names (no route); rpm and tpm beside litellm_params count; a default temperature is said to be dropped", () => {
    const w = importLiteLLM(
      parse(`
model_list:
  - { model_name: "*", litellm_params: { model: "openai/*", api_key: os.environ/OPENAI_API_KEY } }
  - { model_name: "anthropic/*", litellm_params: { model: "anthropic/*", api_key: os.environ/ANTHROPIC_API_KEY } }
  - { model_name: fast, litellm_params: { model: gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY, temperature: 0.2 }, rpm: 60, tpm: 100000 }
`),
    );
    const wc = w.config as Record<string, any>;
    assert.deepEqual(
      wc.deployments.map((d: { id: string; provider: string; model: string }) => [d.id, d.provider, d.model]),
      [
        ["*", "openai", "*"],
        ["anthropic/*", "anthropic", "*"],
        ["openai/gpt-4o-mini", "openai", "gpt-4o-mini"],
      ],
    );
    assert.deepEqual(
      wc.routes.map((r: { name: string }) => r.name),
      ["fast"],
    );
    assert.deepEqual(wc.deployments[2].limits, { requests_per_minute: 60, tokens_per_minute: 100000 });
    // LiteLLM reads YAML 1.1, where 80_000 is a number.
    const t = importLiteLLM(parse("model_list:\n  - { model_name: a, litellm_params: { model: openai/gpt-4o, tpm: 80_000 } }\n  - { model_name: a, litellm_params: { model: openai/gpt-4o-mini, tpm: 40_000 } }\n"));
    const tc = t.config as Record<string, any>;
    assert.deepEqual(tc.deployments[0].limits, { tokens_per_minute: 80000 });
    assert.deepEqual(tc.routes[0].targets, [
      { deployment: "openai/gpt-4o", weight: 2 },
      { deployment: "openai/gpt-4o-mini", weight: 1 },
    ]);
    assert.match(w.notes.find((n) => n.path === "model_list[2].litellm_params.temperature")!.detail, /a default temperature for every request has no counterpart/);
    const cfg = buildConfig(structuredClone(wc), placeholderEnv(wc, {}));
    assert.equal(cfg.deployments.find((d) => d.id === "openai/gpt-4o-mini")!.limits?.requestsPerMinute, 60);
  });

  test("Cohere: rerank and embeddings models on a cohere provider, chat models through Cohere's OpenAI-compatible API", () => {
    const r = importLiteLLM(
      parse(`
model_list:
  - { model_name: command, litellm_params: { model: cohere/command-r-plus, api_key: os.environ/COHERE_API_KEY } }
  - { model_name: rerank, litellm_params: { model: cohere/rerank-v3.5, api_key: os.environ/COHERE_API_KEY } }
  - { model_name: embed, litellm_params: { model: cohere/embed-english-v3.0, api_key: os.environ/COHERE_API_KEY }, model_info: { mode: embedding } }
`),
    );
    const c = r.config as Record<string, any>;
    assert.deepEqual(
      c.providers.map((p: { name: string; type: string; base_url?: string }) => [p.name, p.type, p.base_url]),
      [
        ["cohere-chat", "openai-compatible", "https://api.cohere.ai/compatibility/v1"],
        ["cohere", "cohere", undefined],
      ],
    );
    buildConfig(structuredClone(c), placeholderEnv(c, {}));
  });

  test("the file's environment_variables are the defaults of what refers to them, Redis's among them (as LiteLLM sets them before reading the rest)", () => {
    const r = importLiteLLM(
      parse(`
model_list:
  - { model_name: a, litellm_params: { model: openai/gpt-4o-mini, api_key: os.environ/MY_KEY } }
environment_variables: { MY_KEY: from-file, REDIS_HOST: cache.internal, REDIS_PORT: 6380, UNUSED: x }
`),
    );
    const c = r.config as Record<string, any>;
    assert.equal(c.providers[0].api_key, "${MY_KEY:-from-file}");
    assert.deepEqual(c.store, { redis_url: "redis://${REDIS_HOST:-cache.internal}:${REDIS_PORT:-6380}" });
    assert.ok(!r.env.includes("MY_KEY"), "nothing to set: the file gives it");
    assert.deepEqual(
      r.notes.filter((n) => n.path.startsWith("environment_variables.")).map((n) => `${n.kind} ${n.path}`),
      ["changed environment_variables.MY_KEY", "changed environment_variables.REDIS_HOST", "changed environment_variables.REDIS_PORT", "manual environment_variables.UNUSED"],
    );
    const cfg = buildConfig(structuredClone(c), {});
    assert.equal(cfg.providers.find((p) => p.name === "openai")!.apiKey, "from-file");
  });

  test("not a LiteLLM config: an error naming what is wrong", () => {
    assert.throws(() => importLiteLLM([1, 2]), /not a LiteLLM config/);
    assert.throws(() => importLiteLLM({ model_list: { a: 1 } }), /model_list: must be a list/);
    assert.throws(() => importConfig({ hello: 1 }), /name its format, litellm or bifrost/);
  });
});

describe("a gateway started from an imported file serves the groups as LiteLLM did", () => {
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let g: TestGateway;
  let yaml: string;
  before(async () => {
    [openai, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
    const r = importLiteLLM(
      parse(`
model_list:
  - model_name: gpt-4o-mini
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${openai.url}", api_key: os.environ/OPENAI_API_KEY }
  - model_name: claude
    litellm_params: { model: anthropic/claude-haiku-4-5-20251001, api_base: "${anthropic.url}", api_key: os.environ/ANTHROPIC_API_KEY }
  - model_name: tiered
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${openai.url}", api_key: os.environ/OPENAI_API_KEY, tags: [free] }
  - model_name: tiered
    litellm_params: { model: anthropic/claude-haiku-4-5-20251001, api_base: "${anthropic.url}", api_key: os.environ/ANTHROPIC_API_KEY, tags: [default] }
router_settings: { num_retries: 0, enable_tag_filtering: true, fallbacks: [{ gpt-4o-mini: [claude] }] }
litellm_settings: { cache: true }
general_settings: { master_key: ${MASTER} }
`),
    );
    yaml = stringify(r.config);
    g = await startTestGateway(yaml, { env: { OPENAI_API_KEY: OPENAI_TEST_KEY, ANTHROPIC_API_KEY: ANTHROPIC_TEST_KEY } });
  });
  after(async () => {
    await g?.close();
    await Promise.all([openai?.close(), anthropic?.close()]);
  });
  const sdk = (key: string) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: key, maxRetries: 0 });

  test("the master key works and nothing else does; gpt-4o-mini answers, then falls back to claude; the cache answers the same request again", async () => {
    assert.ok(!yaml.includes(MASTER));
    await assert.rejects(sdk("sk-wrong").chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }), (e: { status: number }) => e.status === 401);
    const first = await sdk(MASTER).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello there" }] });
    assert.ok(first.choices[0].message.content);
    assert.equal(openai.requests.length, 1);
    const rec = g.usage.recent().at(-1)!;
    assert.equal(rec.deployment, "openai-compatible/gpt-4o-mini");
    assert.ok(rec.cost.total > 0, "priced from the catalog");

    openai.script({ kind: "error", error: "server_error" });
    const fell = await sdk(MASTER).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "fall back please" }] });
    assert.ok(fell.choices[0].message.content);
    const f = g.usage.recent().at(-1)!;
    assert.deepEqual(
      f.attempts.map((a) => [a.deployment, a.outcome]),
      [
        ["openai-compatible/gpt-4o-mini", "failed"],
        ["anthropic/claude-haiku-4-5-20251001", "succeeded"],
      ],
    );
    assert.equal(anthropic.requests.length, 1);

    const sent = openai.requests.length;
    const again = await sdk(MASTER).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello there" }] });
    assert.equal(again.choices[0].message.content, first.choices[0].message.content);
    assert.equal(openai.requests.length, sent, "answered from the cache (litellm_settings.cache)");
  });

  test("tag-based routing: a request tagged free goes to the deployment tagged free, others to the one tagged default; the same deployment in two groups is one", async () => {
    assert.equal(g.config.deployments.filter((d) => d.model === "gpt-4o-mini").length, 1);
    // LiteLLM's body field `tags`, as its callers send it.
    const tagged = { model: "tiered", messages: [{ role: "user" as const, content: "tagged" }], tags: ["free"] };
    await sdk(MASTER).chat.completions.create(tagged);
    assert.equal(g.usage.recent().at(-1)!.deployment, "openai-compatible/gpt-4o-mini");
    await sdk(MASTER).chat.completions.create({ model: "tiered", messages: [{ role: "user", content: "untagged" }] });
    assert.equal(g.usage.recent().at(-1)!.deployment, "anthropic/claude-haiku-4-5-20251001");
  });
});

describe("the gateway runs on a LiteLLM config.yaml as it is", () => {
  let openai: FakeOpenAI;
  let dir: string;
  before(async () => {
    openai = await startFakeOpenAI();
    dir = mkdtempSync(join(tmpdir(), "sb-litellm-"));
  });
  after(async () => {
    await openai?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("node src/main.ts --config litellm_config.yaml: imported at start-up (said in the log, with what needs a hand), the master key read from its variable, the model group served", async () => {
    const file = join(dir, "litellm_config.yaml");
    writeFileSync(
      file,
      `model_list:
  - model_name: gpt-4o-mini
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${openai.url}", api_key: os.environ/OPENAI_API_KEY }
  - model_name: local
    litellm_params: { model: ollama/qwen2.5:7b, api_base: "http://127.0.0.1:9" }
general_settings: { master_key: os.environ/LITELLM_MASTER_KEY }
`,
    );
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const proc = spawn(process.execPath, ["src/main.ts", "--config", file], {
      cwd: new URL("../..", import.meta.url).pathname,
      env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", LITELLM_MASTER_KEY: MASTER, OPENAI_API_KEY: OPENAI_TEST_KEY },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    try {
      await new Promise<void>((resolve, reject) => {
        const seen = (d: Buffer) => {
          out += d;
          if (out.includes("signalbox listening")) resolve();
        };
        proc.stdout.on("data", seen);
        proc.stderr.on("data", seen);
        proc.once("exit", () => reject(new Error(`gateway exited early: ${out}`)));
      });
      const line = out.split("\n").find((l) => l.includes("is LiteLLM's format: imported"))!;
      assert.ok(line, out);
      const logged = JSON.parse(line);
      assert.equal(logged.level, "warn");
      assert.ok(logged.notes.some((n: string) => /^TO DO: model_list\[1\]\.litellm_params\.model: "qwen2\.5:7b" is not in the built-in price table/.test(n)), logged.notes.join("\n"));
      assert.ok(!out.includes(MASTER), "the master key is in no log line");
      assert.doesNotMatch(out, /AUTH IS OFF/);
      const sdk = (key: string) => new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: key, maxRetries: 0 });
      const res = await sdk(MASTER).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello from litellm's file" }] });
      assert.ok(res.choices[0].message.content);
      await assert.rejects(sdk("sk-wrong").chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] }), (e: { status: number }) => e.status === 401);
    } finally {
      proc.kill("SIGTERM");
      await new Promise((resolve) => (proc.exitCode !== null ? resolve(undefined) : proc.once("exit", resolve)));
    }
  });
});

describe("AdminService.ImportConfig: the console's import", () => {
  const ADMIN = ["sbx", "test", "import", "admin"].join("_");
  const TEAM = ["sbx", "test", "import", "team"].join("_");
  let g: TestGateway;
  before(async () => {
    g = await startTestGateway(`${MOCK_CONFIG}keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
  - { name: lead, hash: "${hashKey(TEAM)}", team: a, role: team }
`);
  });
  after(() => g?.close());
  const admin = () => createSignalboxClient({ baseUrl: g.url, apiKey: ADMIN }).admin;

  test("the YAML with its notes, the notes themselves, validity; the file's literal secrets masked; admin keys only; bad input named", async () => {
    const text = `model_list:\n  - { model_name: fast, litellm_params: { model: openai/gpt-4o-mini, api_key: ${LITERAL} } }\n  - { model_name: local, litellm_params: { model: ollama/qwen2.5:7b } }\nrouter_settings: { allowed_fails: 3 }\n`;
    const r = await admin().importConfig({ text, fileName: "litellm_config.yaml" });
    assert.equal(r.format, "litellm");
    assert.equal(r.valid, true, r.error);
    assert.match(r.yaml, /^# Imported from LiteLLM's litellm_config\.yaml by `signalbox config import`/);
    assert.ok(!r.yaml.includes(LITERAL) && r.yaml.includes("api_key: \"********\""), r.yaml);
    assert.deepEqual(r.literalSecrets, ["model_list[0].litellm_params.api_key"]);
    assert.ok(r.notes.some((n) => n.kind === "dropped" && n.path === "router_settings.allowed_fails"));
    assert.ok(r.notes.some((n) => n.kind === "manual" && n.path === "model_list[1].litellm_params.model"));
    // A result the validator refuses says where; a Bifrost file is told by its shape.
    const bad = await admin().importConfig({ text: "model_list:\n  - { model_name: e, litellm_params: { model: anthropic/claude-haiku-4-5-20251001 }, model_info: { mode: embedding } }\n" });
    assert.deepEqual([bad.valid, bad.field], [false, "deployments[0].operations"]);
    assert.equal((await admin().importConfig({ text: JSON.stringify({ providers: { openai: { keys: [{ value: "env.OPENAI_API_KEY", models: ["gpt-4o"] }] } } }) })).format, "bifrost");
    const refused = async (p: Promise<unknown>, code: Code, field?: RegExp) => {
      const e = await p.then(() => undefined, (x: unknown) => ConnectError.from(x));
      assert.ok(e, "refused");
      assert.equal(e.code, code, e.message);
      if (field) assert.match(e.rawMessage, field);
    };
    await refused(createSignalboxClient({ baseUrl: g.url, apiKey: TEAM }).admin.importConfig({ text }), Code.PermissionDenied);
    await refused(admin().importConfig({ text: "" }), Code.InvalidArgument, /^text: required/);
    await refused(admin().importConfig({ text: "hello: world" }), Code.InvalidArgument, /^format: not a LiteLLM config/);
    await refused(admin().importConfig({ text, format: "portkey" }), Code.InvalidArgument, /^format: must be litellm or bifrost/);
  });
});

