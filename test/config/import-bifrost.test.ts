// `signalbox config import` from Bifrost (src/config/import/bifrost.ts): a realistic config.json
// becomes providers, deployments, weighted routes, keys (hashes only), teams, CORS, a PostgreSQL
// store and a usage export; what has no counterpart is a note naming its path; the result passes
// the config validator with stand-in values for every variable it references.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { stringify } from "yaml";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { importBifrost } from "../../src/config/import/bifrost.ts";
import { placeholderEnv } from "../../src/config/import/index.ts";
import { buildConfig } from "../../src/config/load.ts";

const VK_SECRET = ["sk", "bf", "3f9a1c7e", "search", "service"].join("-");
const ANTHROPIC_SECRET = ["sk", "ant", "api03", "literal", "in", "file"].join("-");

const bifrost = {
  $schema: "https://www.getbifrost.ai/schema",
  client: { allowed_origins: ["https://app.example.com", "https://admin.example.com/"], max_request_body_size_mb: 8, initial_pool_size: 300, enable_logging: true },
  providers: {
    openai: {
      keys: [
        { name: "openai-primary", value: "env.OPENAI_API_KEY", models: ["gpt-4o", "gpt-4o-mini"], weight: 0.7 },
        { name: "openai-secondary", value: "env.OPENAI_API_KEY_2", models: ["gpt-4o"], weight: 0.3 },
      ],
      network_config: { default_request_timeout_in_seconds: 60, max_retries: 2, retry_backoff_initial: 500, retry_backoff_max: 5000 },
      concurrency_and_buffer_size: { concurrency: 100, buffer_size: 500 },
    },
    azure: {
      keys: [
        {
          name: "azure-eastus",
          value: "env.AZURE_API_KEY",
          models: ["gpt-4o"],
          weight: 1,
          azure_key_config: { endpoint: "env.AZURE_ENDPOINT", api_version: "2024-10-21", deployments: { "gpt-4o": "gpt-4o-prod" } },
        },
      ],
    },
    anthropic: { keys: [{ name: "anthropic-primary", value: ANTHROPIC_SECRET, models: ["claude-sonnet-4-5-20250929"], weight: 1 }] },
    bedrock: {
      keys: [
        {
          name: "bedrock-us",
          value: "",
          models: ["claude-sonnet"],
          weight: 1,
          bedrock_key_config: {
            region: "us-east-1",
            access_key: "env.AWS_ACCESS_KEY_ID",
            secret_key: "env.AWS_SECRET_ACCESS_KEY",
            deployments: { "claude-sonnet": "us.anthropic.claude-sonnet-4-5-20250929-v1:0" },
          },
        },
      ],
    },
    vertex: {
      keys: [{ name: "vertex-us", value: "", models: ["gemini-2.5-pro"], weight: 1, vertex_key_config: { project_id: "acme-ai", region: "us-central1", auth_credentials: "env.VERTEX_CREDENTIALS" } }],
    },
    groq: { keys: [{ name: "groq", value: "env.GROQ_API_KEY", models: ["llama-3.1-8b-instant"], weight: 1 }] },
    ollama: { keys: [{ name: "local", value: "", models: ["llama3.1:8b"], weight: 1 }], network_config: { base_url: "http://127.0.0.1:11434" } },
  },
  governance: {
    budgets: [
      { id: "budget-search", max_limit: 100, reset_duration: "1M", virtual_key_id: "vk-search" },
      { id: "budget-team", max_limit: 1000, reset_duration: "1M", team_id: "team-search" },
    ],
    rate_limits: [{ id: "rl-search", request_max_limit: 600, request_reset_duration: "1m", token_max_limit: 1_000_000, token_reset_duration: "1h" }],
    teams: [{ id: "team-search", name: "Search Team" }],
    customers: [{ id: "acme", name: "Acme" }],
    virtual_keys: [
      {
        id: "vk-search",
        name: "search-service",
        value: VK_SECRET,
        team_id: "team-search",
        rate_limit_id: "rl-search",
        provider_configs: [
          { provider: "openai", allowed_models: ["gpt-4o-mini"], key_ids: ["*"], weight: 1 },
          { provider: "anthropic", allowed_models: ["*"], key_ids: ["*"], weight: 1 },
        ],
      },
      { id: "vk-batch", name: "batch-jobs", value: "env.BIFROST_VK_BATCH", provider_configs: [{ provider: "openai", allowed_models: ["*"] }] },
    ],
  },
  logs_store: { enabled: true, type: "postgres", config: { host: "env.PG_HOST", port: "5432", user: "bifrost", password: "env.PG_PASSWORD", db_name: "bifrost", ssl_mode: "require" } },
  config_store: { enabled: true, type: "sqlite", config: { path: "./config.db" } },
  plugins: [
    { name: "otel", enabled: true, config: { collector_url: "http://otel-collector:4318", trace_type: "genai_extension", protocol: "http" } },
    { name: "maxim", enabled: true, config: { api_key: "env.MAXIM_API_KEY" } },
  ],
};

type Obj = Record<string, any>;
const byName = (list: Obj[] | undefined, name: string, field = "name"): Obj => list?.find((x) => x[field] === name) as Obj;
const notesAt = (r: ReturnType<typeof importBifrost>, path: string) => r.notes.filter((n) => n.path === path);

describe("importBifrost", () => {
  const result = importBifrost(bifrost);
  const cfg = result.config as Obj;

  test("each provider and credential set becomes a connection", () => {
    assert.equal(result.from, "bifrost");
    assert.deepEqual(
      cfg.providers.map((p: Obj) => p.name),
      ["openai", "openai-secondary", "azure", "anthropic", "bedrock", "vertex", "groq", "ollama"],
    );
    assert.deepEqual(byName(cfg.providers, "openai"), { name: "openai", type: "openai", api_key: "${OPENAI_API_KEY}", timeouts: { headers_ms: 60_000 } });
    assert.deepEqual(byName(cfg.providers, "azure"), { name: "azure", type: "azure", api_version: "2024-10-21", base_url: "${AZURE_ENDPOINT}", api_key: "${AZURE_API_KEY}" });
    assert.equal(byName(cfg.providers, "anthropic").api_key, ANTHROPIC_SECRET);
    assert.deepEqual(byName(cfg.providers, "bedrock").aws, { region: "us-east-1", access_key_id: "${AWS_ACCESS_KEY_ID}", secret_access_key: "${AWS_SECRET_ACCESS_KEY}" });
    assert.deepEqual(byName(cfg.providers, "vertex").vertex, { project: "acme-ai", location: "us-central1", credentials_json: "${VERTEX_CREDENTIALS}" });
    // Bifrost's OpenAI-compatible base URLs stop before /v1; Signalbox's include it.
    assert.deepEqual(byName(cfg.providers, "groq"), { name: "groq", type: "openai-compatible", base_url: "https://api.groq.com/openai/v1", api_key: "${GROQ_API_KEY}", compat: { vendor: "groq" } });
    assert.deepEqual(byName(cfg.providers, "ollama"), { name: "ollama", type: "openai-compatible", base_url: "http://127.0.0.1:11434/v1", compat: { vendor: "ollama" } });
  });

  test("models become deployments: Azure and Bedrock deployment names upstream, unknown models priced at 0", () => {
    assert.deepEqual(
      cfg.deployments.map((d: Obj) => d.id),
      ["openai/gpt-4o", "openai/gpt-4o-mini", "openai-secondary/gpt-4o", "azure/gpt-4o", "anthropic/claude-sonnet-4-5-20250929", "bedrock/claude-sonnet", "vertex/gemini-2.5-pro", "groq/llama-3.1-8b-instant", "ollama/llama3.1:8b"],
    );
    assert.deepEqual(byName(cfg.deployments, "azure/gpt-4o", "id"), { id: "azure/gpt-4o", provider: "azure", model: "gpt-4o-prod", base_model: "gpt-4o" });
    assert.deepEqual(byName(cfg.deployments, "bedrock/claude-sonnet", "id"), { id: "bedrock/claude-sonnet", provider: "bedrock", model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0" });
    assert.deepEqual(byName(cfg.deployments, "groq/llama-3.1-8b-instant", "id").pricing, { input: 0, output: 0 });
    assert.equal(byName(cfg.deployments, "openai/gpt-4o", "id").pricing, undefined);
    assert.ok(notesAt(result, "providers.groq.keys[0].models").some((n) => n.kind === "manual" && /price/.test(n.detail)));
  });

  test("a model served by several keys is a weighted route; one served once a route of one target", () => {
    const gpt4o = byName(cfg.routes, "gpt-4o");
    assert.equal(gpt4o.strategy, "weighted");
    assert.deepEqual(gpt4o.targets, [
      { deployment: "openai/gpt-4o", weight: 70 },
      { deployment: "openai-secondary/gpt-4o", weight: 30 },
      { deployment: "azure/gpt-4o", weight: 100 },
    ]);
    // OpenAI's network_config retries apply to the routes of its models.
    assert.deepEqual(gpt4o.retry, { max_retries: 2, base_delay_ms: 500, max_delay_ms: 5000 });
    assert.deepEqual(byName(cfg.routes, "claude-sonnet"), { name: "claude-sonnet", targets: ["bedrock/claude-sonnet"] });
    assert.deepEqual(byName(cfg.routes, "llama3.1:8b"), { name: "llama3.1:8b", targets: ["ollama/llama3.1:8b"] });
    assert.ok(result.notes.some((n) => n.kind === "changed" && /gpt-4o.*openai and azure/.test(n.detail)));
  });

  test("virtual keys become service keys by hash, with budget, limits, team and allow list", () => {
    const expected = `sha256:${createHash("sha256").update(VK_SECRET).digest("hex")}`;
    assert.deepEqual(cfg.keys, [
      {
        name: "search-service",
        hash: expected,
        role: "service",
        team: "search-team",
        budget: { period: "month", limit_usd: 100 },
        limits: { requests_per_minute: 600 },
        // The deployments, and the routes of the models' names whose every deployment they are (callers name the model).
        allow: ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5-20250929", "gpt-4o-mini", "claude-sonnet-4-5-20250929"],
      },
    ]);
    assert.deepEqual(cfg.teams, [{ name: "search-team", budget: { period: "month", limit_usd: 1000 } }]);
    // The literal key is nowhere in the result; an env-held one is left for the user to hash.
    assert.ok(!JSON.stringify(result).includes(VK_SECRET));
    const envKey = notesAt(result, "governance.virtual_keys[1].value");
    assert.equal(envKey.length, 1);
    assert.equal(envKey[0]!.kind, "manual");
    assert.match(envKey[0]!.detail, /npm run hash-key/);
    assert.equal(notesAt(result, "governance.rate_limits[0].token_reset_duration")[0]?.kind, "dropped");
    assert.equal(notesAt(result, "governance.customers[0]")[0]?.kind, "dropped");
  });

  test("client, stores and plugins", () => {
    assert.deepEqual(cfg.server, { cors: { allowed_origins: ["https://app.example.com", "https://admin.example.com"] }, max_request_bytes: 8 * 1024 * 1024 });
    assert.deepEqual(cfg.store, { postgres_url: "postgres://bifrost:${PG_PASSWORD}@${PG_HOST}:5432/bifrost?sslmode=require" });
    assert.deepEqual(cfg.usage_export, [{ name: "otel", type: "otlp", url: "http://otel-collector:4318/v1/traces" }]);
    for (const path of ["config_store", "plugins[1]", "client.initial_pool_size", "client.enable_logging", "providers.openai.concurrency_and_buffer_size"]) {
      assert.equal(notesAt(result, path)[0]?.kind, "dropped", path);
    }
    assert.equal(notesAt(result, "plugins[0].config")[0]?.kind, "changed");
  });

  test("env lists every variable in order of first use; literal secrets name their source path", () => {
    assert.deepEqual(result.env, ["PG_PASSWORD", "PG_HOST", "OPENAI_API_KEY", "OPENAI_API_KEY_2", "AZURE_ENDPOINT", "AZURE_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "VERTEX_CREDENTIALS", "GROQ_API_KEY"]);
    assert.deepEqual(result.literalSecrets, ["providers.anthropic.keys[0].value"]);
    assert.ok(result.notes.every((n) => !n.detail.includes(ANTHROPIC_SECRET) && !n.detail.includes(VK_SECRET)));
  });

  test("the converted config passes the validator", () => {
    const env = placeholderEnv(result.config, {});
    assert.deepEqual(Object.keys(env).sort(), [...result.env].sort());
    assert.equal(env.AZURE_ENDPOINT, "https://placeholder.example");
    const built = buildConfig(result.config, env);
    assert.equal(built.keys.length, 1);
    assert.equal(built.routes.find((r) => r.name === "gpt-4o")?.targets.length, 3);
  });

  test("a key allowing every model is a wildcard deployment; the semantic cache embeds with an imported deployment", () => {
    const r = importBifrost({
      providers: {
        openai: {
          keys: [
            { name: "a", value: "env.OPENAI_API_KEY", models: ["gpt-4o", "text-embedding-3-small"], weight: 1 },
            { name: "b", value: "env.OPENAI_API_KEY", models: ["*"], weight: 1 },
          ],
        },
      },
      governance: { virtual_keys: [{ id: "vk", name: "research", value: ["sk", "bf", "research"].join("-"), provider_configs: [{ provider: "openai", allowed_models: ["gpt-4.1"] }] }] },
      plugins: [{ name: "semantic_cache", enabled: true, config: { provider: "openai", embedding_model: "text-embedding-3-small", dimension: 1536, ttl: "10m", threshold: 0.9 } }],
    });
    const c = r.config as Obj;
    assert.deepEqual(c.providers, [{ name: "openai", type: "openai", api_key: "${OPENAI_API_KEY}" }]);
    assert.deepEqual(c.deployments.at(-1), { id: "openai/*", provider: "openai", model: "*" });
    assert.deepEqual(byName(c.routes, "gpt-4o").cache, { enabled: true, ttl_seconds: 600, semantic: { embedding: "openai/text-embedding-3-small", threshold: 0.9 } });
    assert.deepEqual(c.keys[0].allow, ["openai/gpt-4.1"]);
    assert.ok(r.notes.some((n) => n.kind === "manual" && n.detail.includes("openai/*")));
    buildConfig(r.config, placeholderEnv(r.config, {}));
  });

  test("a Cohere key allowing every model is not a wildcard (a cohere connection serves listed embeddings and rerank models only), said", () => {
    const r = importBifrost({ providers: { openai: { keys: [{ value: "env.OPENAI_API_KEY", models: ["gpt-4o"] }] }, cohere: { keys: [{ value: "env.COHERE_API_KEY", models: ["*"] }] } } });
    const c = r.config as Obj;
    assert.ok(!c.deployments.some((d: Obj) => d.id === "cohere/*"));
    assert.ok(r.notes.some((n) => n.path === "providers.cohere.keys[0].models" && n.kind === "dropped"));
    buildConfig(r.config, placeholderEnv(r.config, {}));
  });

  test("bad input is an error naming the path", () => {
    assert.throws(() => importBifrost("providers: {}"), /\(root\)/);
    assert.throws(() => importBifrost({ providers: [] }), /^Error: providers: /);
    assert.throws(() => importBifrost({}), /^Error: providers: /);
    assert.throws(() => importBifrost({ providers: { openai: "sk-x" } }), /providers\.openai: /);
    assert.throws(() => importBifrost({ providers: { openai: { keys: {} } } }), /providers\.openai\.keys: /);
  });
});

describe("a gateway started from an imported Bifrost config.json serves as Bifrost did", () => {
  const VK = ["sk", "bf", "e2e", "checkout"].join("-");
  let openai: FakeOpenAI;
  let g: TestGateway;
  before(async () => {
    openai = await startFakeOpenAI();
    // Bifrost's base URLs stop before /v1 (its request paths add it); the import adds it back.
    const origin = openai.url.replace(/\/v1$/, "");
    const r = importBifrost({
      providers: {
        openai: {
          keys: [
            { name: "primary", value: "env.OPENAI_API_KEY", models: ["gpt-4o-mini", "gpt-4o"], weight: 0.5 },
            { name: "secondary", value: "env.OPENAI_API_KEY_2", models: ["gpt-4o-mini"], weight: 0.5 },
          ],
          network_config: { base_url: origin, max_retries: 0 },
        },
      },
      governance: {
        rate_limits: [{ id: "rl", request_max_limit: 3, request_reset_duration: "1m" }],
        virtual_keys: [{ id: "vk-checkout", name: "checkout", value: VK, is_active: true, rate_limit_id: "rl", provider_configs: [{ provider: "openai", allowed_models: ["gpt-4o-mini"] }] }],
      },
    });
    g = await startTestGateway(stringify(r.config), { env: { OPENAI_API_KEY: OPENAI_TEST_KEY, OPENAI_API_KEY_2: OPENAI_TEST_KEY } });
  });
  after(async () => {
    await g?.close();
    await openai?.close();
  });

  test("the virtual key (as Bifrost's x-bf-vk header or a bearer) reaches the model over both keys' connections, within its rate limit and allow list", async () => {
    const sdk = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: "placeholder", defaultHeaders: { "x-bf-vk": VK }, maxRetries: 0 });
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const res = await sdk.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: `hello ${i}` }] });
      assert.ok(res.choices[0].message.content);
      seen.add(g.usage.recent().at(-1)!.deployment);
    }
    assert.ok([...seen].every((d) => d === "openai/gpt-4o-mini" || d === "openai-secondary/gpt-4o-mini"), [...seen].join(", "));
    assert.equal(g.usage.recent().at(-1)!.key, "checkout");
    // The rate limit's three requests a minute are spent.
    await assert.rejects(sdk.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "one more" }] }), (e: { status: number }) => e.status === 429);
    // A model outside the allow list, and no key at all, are refused before any upstream call.
    const sent = openai.requests.length;
    await assert.rejects(sdk.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] }), (e: { status: number; message: string }) => e.status === 403 && /may not use "gpt-4o"/.test(e.message));
    await assert.rejects(new OpenAI({ baseURL: `${g.url}/v1`, apiKey: "sk-none", maxRetries: 0 }).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] }), (e: { status: number }) => e.status === 401);
    assert.equal(openai.requests.length, sent);
  });
});

