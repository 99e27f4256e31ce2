// Config validation: bad files fail start-up with the path of the problem; good ones fill defaults.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { PRICES_AS_OF } from "../../src/config/catalog.ts";
import { buildConfig, ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from "../../src/config/load.ts";

const BASE = `
providers:
  - name: openai
    type: openai
    api_key: \${OPENAI_API_KEY}
  - name: mock
    type: mock
deployments:
  - id: openai/gpt-4o
    provider: openai
    model: gpt-4o-2024-08-06
  - id: mock/a
    provider: mock
    model: mock-a
routes:
  - name: chat
    targets: [openai/gpt-4o]
    fallbacks: [mock/a]
`;
const env = { OPENAI_API_KEY: "test-key-not-real" };

const build = (yaml: string, e: Record<string, string> = env) => buildConfig(parse(yaml), e);

function rejects(yaml: string, message: string | RegExp, e: Record<string, string> = env) {
  assert.throws(() => build(yaml, e), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

test("the embedded default config loads", () => {
  const c = loadConfig(DEFAULT_CONFIG_PATH, {});
  assert.equal(c.server.port, 8080);
  assert.ok(c.routes.some((r) => r.name === "default"));
  assert.ok(c.deployments.every((d) => c.providers.find((p) => p.name === d.provider)?.type === "mock"));
});

test("the multi-provider example loads with its env vars set", () => {
  const c = loadConfig(new URL("../../config/multi-provider.yaml", import.meta.url).pathname, {
    OPENAI_API_KEY: "x", ANTHROPIC_API_KEY: "x", GEMINI_API_KEY: "x", AZURE_OPENAI_API_KEY: "x", AZURE_OPENAI_ENDPOINT: "https://example.openai.azure.com", OPENROUTER_API_KEY: "x", GROQ_API_KEY: "x", GITHUB_MCP_TOKEN: "x",
  });
  assert.ok(c.providers.length >= 6);
  assert.deepEqual(c.mcpServers?.map((m) => m.id), ["github", "everything"]);
  // It shows every strategy and an A/B split.
  for (const s of ["priority", "weighted", "latency", "cost", "task", "complexity", "hybrid"]) assert.ok(c.routes.some((r) => r.strategy === s), s);
  assert.ok(c.routes.some((r) => r.variants.length >= 2));
});

test("a valid config fills in defaults, env vars and built-in pricing", () => {
  const c = build(BASE);
  const openai = c.providers.find((p) => p.name === "openai")!;
  assert.equal(openai.apiKey, "test-key-not-real");
  assert.equal(openai.baseUrl, "https://api.openai.com/v1");
  const d = c.deployments.find((x) => x.id === "openai/gpt-4o")!;
  // gpt-4o: $2.50 / $1.25 cached / $10 per million tokens, from the pinned version's family.
  assert.equal(d.pricing.input, 2_500_000);
  assert.equal(d.pricing.cachedInput, 1_250_000);
  assert.equal(d.pricing.output, 10_000_000);
  assert.match(d.pricing.source, /^builtin:/);
  assert.equal(d.contextWindow, 128_000);
  assert.equal(c.routes[0].strategy, "priority");
  assert.equal(c.routes[0].maxAttempts, 4);
});

test("unknown keys name their path", () => {
  rejects(BASE.replace("    model: mock-a", "    model: mock-a\n    colour: blue"), /^deployments\[1\]\.colour: unknown key/);
  rejects(`${BASE}\nservr: {}`, /^servr: unknown key/);
});

test("wrong types name their path", () => {
  rejects(BASE.replace("targets: [openai/gpt-4o]", "targets: openai/gpt-4o"), "routes[0].targets: expected a list, got string");
  rejects(`${BASE}\nserver: { port: eighty }`, "server.port: expected a number, got string");
  rejects(`${BASE}\nserver: { port: 70000 }`, "server.port: must be <= 65535, got 70000");
  rejects(BASE.replace("type: mock", "type: mocky"), /^providers\[1\]\.type: must be one of/);
});

test("a missing env var names the field that needs it", () => {
  rejects(BASE, "providers[0].api_key: environment variable OPENAI_API_KEY is not set", {});
});

test("${VAR:-default} supplies a default", () => {
  const c = build(BASE.replace("${OPENAI_API_KEY}", "${OPENAI_API_KEY:-fallback-key}"), {});
  assert.equal(c.providers[0].apiKey, "fallback-key");
});

test("dangling references name their path", () => {
  rejects(BASE.replace("targets: [openai/gpt-4o]", "targets: [openai/gpt-4o, gpt-5]"), 'routes[0].targets[1]: unknown deployment "gpt-5"');
  rejects(BASE.replace("fallbacks: [mock/a]", "fallbacks: [nowhere]"), 'routes[0].fallbacks[0]: unknown route, alias or deployment "nowhere"');
  rejects(BASE.replace("    provider: mock\n", "    provider: mocks\n"), 'deployments[1].provider: unknown provider "mocks"');
  rejects(`${BASE}\naliases: { fast: mock/zz }`, 'aliases.fast: unknown route or deployment "mock/zz"');
});

test("health_checks.deployments must name deployments (listed, or a model a wildcard makes)", () => {
  rejects(`${BASE}\nhealth_checks: { interval_seconds: 60, deployments: [mock/a, mock/zz] }`, 'health_checks.deployments[1]: unknown deployment "mock/zz"');
  rejects(`${BASE}\nhealth_checks: { interval_seconds: 60, deployments: [chat] }`, 'health_checks.deployments[0]: unknown deployment "chat" (a route or alias: name its deployments)');
  assert.deepEqual(build(`${BASE}\nhealth_checks: { interval_seconds: 60, deployments: [mock/a] }`).healthChecks?.deployments, ["mock/a"]);
  const wild = `${BASE.replace("deployments:\n", "deployments:\n  - { id: \"openai/*\", provider: openai, model: \"*\" }\n")}\nhealth_checks: { interval_seconds: 60, deployments: [openai/gpt-4o-mini] }`;
  const c = build(wild);
  assert.ok(c.deployments.some((d) => d.id === "openai/gpt-4o-mini"));
});

test("an embeddings deployment on a provider without an embeddings API is refused at load", () => {
  const yaml = `
providers:
  - { name: claude, type: anthropic, api_key: k }
deployments:
  - { id: claude/embed, provider: claude, model: claude-haiku-4-5, operations: [embeddings] }
`;
  rejects(yaml, 'deployments[0].operations: provider "claude" is of type anthropic, which has no embeddings API');
});

test("duplicates and unpriced unknown models are rejected", () => {
  rejects(BASE.replace("id: mock/a", "id: openai/gpt-4o"), 'deployments[1].id: duplicate deployment "openai/gpt-4o"');
  rejects(BASE.replace("model: gpt-4o-2024-08-06", "model: house-model-7"), /^deployments\[0\]\.pricing: model "house-model-7" is not in the built-in price table/);
  rejects(BASE.replace("    api_key: ${OPENAI_API_KEY}\n", ""), /^providers\[0\]\.api_key: is required for type openai/);
});

test("prices: exact names and dated snapshots only, never a prefix", () => {
  const withModel = (model: string, pricing = "") => BASE.replace("    model: gpt-4o-2024-08-06\n", `    model: ${model}\n${pricing}`);
  const price = (model: string) => build(withModel(model)).deployments[0].pricing;
  // Each of these names has its own row: "gpt-5-pro" is not gpt-5, "o3-pro" is not o3.
  assert.deepEqual([price("gpt-5-pro").input, price("gpt-5-pro").output, price("gpt-5-pro").cachedInput], [15_000_000, 120_000_000, 15_000_000]);
  assert.deepEqual([price("o3-pro-2025-06-10").input, price("o3-pro-2025-06-10").output], [20_000_000, 80_000_000]);
  assert.deepEqual([price("gpt-5-2025-08-07").input, price("gpt-5").input], [1_250_000, 1_250_000]);
  assert.equal(price("gpt-4o-2024-08-06").source, `builtin:${PRICES_AS_OF}`);
  // A snapshot the catalog does not list, a longer name, and a retired model all need a price.
  for (const m of ["gpt-5-pro-2099-01-01", "gpt-4o-2024-05-13", "o3-pro-preview", "claude-3-5-haiku-20241022", "gemini-2.0-flash"]) {
    rejects(withModel(m), new RegExp(`^deployments\\[0\\]\\.pricing: model "${m}" is not in the built-in price table \\(exact names and dated snapshots only\\): set pricing.input and pricing.output`));
  }
  assert.equal(build(withModel("gpt-5-pro-2099-01-01", "    pricing: { input: 15, output: 120 }\n")).deployments[0].pricing.output, 120_000_000);
});

test("prices: a catalog entry bills cache writes at the input price, Anthropic 1-hour writes at 2×, with long-context tiers", () => {
  const model = (m: string) => build(BASE.replace("model: gpt-4o-2024-08-06", `model: ${m}`)).deployments[0].pricing;
  const g = model("gpt-4.1-2025-04-14");
  assert.deepEqual([g.input, g.cachedInput, g.cacheWrite, g.cacheWrite1h], [2_000_000, 500_000, 2_000_000, 2_000_000]);
  const s = model("claude-sonnet-4-5");
  assert.deepEqual([s.input, s.cachedInput, s.cacheWrite, s.cacheWrite1h, s.output], [3_000_000, 300_000, 3_750_000, 6_000_000, 15_000_000]);
  assert.deepEqual(s.tiers, [{ aboveInputTokens: 200_000, input: 6_000_000, cachedInput: 600_000, cacheWrite: 7_500_000, cacheWrite1h: 12_000_000, output: 22_500_000, reasoning: 0 }]);
  assert.deepEqual(model("gemini-2.5-pro").tiers?.map((t) => [t.aboveInputTokens, t.input, t.cachedInput, t.output]), [[200_000, 2_500_000, 250_000, 15_000_000]]);
  assert.equal(model("claude-haiku-4-5").tiers, undefined);
});

test("prices: an override of input/output keeps the catalog's ratios; mock deployments stay free", () => {
  const o = build(BASE.replace("    model: gpt-4o-2024-08-06\n", "    model: claude-opus-4-5\n    pricing: { input: 4, output: 20 }\n")).deployments[0].pricing;
  // Catalog opus-4-5: 5 / 0.5 read / 6.25 5m / 10 1h / 25 → ratios 0.1, 1.25, 2 of the new input.
  assert.deepEqual([o.input, o.cachedInput, o.cacheWrite, o.cacheWrite1h, o.output, o.source], [4_000_000, 400_000, 5_000_000, 8_000_000, 20_000_000, "config"]);
  const mock = build(BASE).deployments[1].pricing;
  assert.deepEqual([mock.input, mock.cachedInput, mock.cacheWrite, mock.output, mock.source], [0, 0, 0, 0, "none"]);
  rejects(BASE.replace("    model: gpt-4o-2024-08-06\n", "    model: gpt-4o\n    pricing: { tiers: [{ above_input_tokens: 1000, input: 5 }] }\n"), /^deployments\[0\]\.pricing\.tiers\[0\]\.output: is required/);
});

test("keys must be hashes, never raw keys", () => {
  rejects(`${BASE}\nkeys: [{ name: svc, hash: sk-plaintext }]`, /^keys\[0\]\.hash: "sk-plaintext" does not match/);
});

function run(args: string[], envExtra: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["src/main.ts", ...args], { cwd: new URL("../..", import.meta.url).pathname, env: { ...process.env, ...envExtra }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d) => (stderr += d));
    p.on("exit", (code) => resolve({ code, stderr }));
  });
}

test("the gateway exits non-zero on a bad config, naming the field, and never starts", async () => {
  const dir = mkdtempSync(join(tmpdir(), "signalbox-config-"));
  const file = join(dir, "bad.yaml");
  writeFileSync(file, BASE.replace("targets: [openai/gpt-4o]", "targets: [gpt-5]"));
  const r = await run(["--config", file], { OPENAI_API_KEY: "x" });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /routes\[0\]\.targets\[0\]: unknown deployment "gpt-5"/);
  const missing = await run(["--config", file], { OPENAI_API_KEY: "" });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /environment variable OPENAI_API_KEY is not set/);
});

test("every strategy loads, with its options defaulted or set", () => {
  const withStrategy = (strategy: string, extra = "") => build(BASE.replace("    targets: [openai/gpt-4o]", `    strategy: ${strategy}\n    targets: [openai/gpt-4o]${extra}`));
  const lat = withStrategy("latency").routes[0];
  assert.equal(lat.strategy, "latency");
  assert.deepEqual(lat.latency, { epsilon: 0.1, staleAfterMs: 300_000 });
  assert.deepEqual(withStrategy("latency", "\n    latency: { epsilon: 0.25 }").routes[0].latency, { epsilon: 0.25, staleAfterMs: 300_000 });
  for (const s of ["cost", "least-busy", "complexity", "hybrid"]) assert.equal(withStrategy(s).routes[0].strategy, s);
  assert.deepEqual(withStrategy("complexity", "\n    complexity: { threshold: 0.6 }").routes[0].complexity, { threshold: 0.6 });
  assert.deepEqual(withStrategy("hybrid", "\n    hybrid: { cost_weight: 0.8 }").routes[0].hybrid, { qualityWeight: 0.5, costWeight: 0.8, latencyWeight: 0.2, strengthBonus: 0.15 });
  rejects(BASE.replace("    targets: [openai/gpt-4o]", "    strategy: latency\n    targets: [openai/gpt-4o]\n    latency: { epsilon: 2 }"), "routes[0].latency.epsilon: must be <= 1, got 2");
  // An option block for another strategy would be ignored silently: it is refused.
  rejects(BASE.replace("    targets: [openai/gpt-4o]", "    targets: [openai/gpt-4o]\n    hybrid: { cost_weight: 1 }"), "routes[0].hybrid: only applies to strategy hybrid (this route's strategy is priority)");
  rejects(BASE.replace("    targets: [openai/gpt-4o]", "    strategy: fastest\n    targets: [openai/gpt-4o]"), /^routes\[0\]\.strategy: must be one of/);
});

test("hedge_after_ms loads; retry.retry_on defaults and validates", () => {
  const c = build(BASE.replace("    targets: [openai/gpt-4o]", "    targets: [openai/gpt-4o]\n    hedge_after_ms: 1500"));
  assert.equal(c.routes[0].hedgeAfterMs, 1500);
  assert.deepEqual(c.routes[0].retry.retryOn, ["rate_limited", "overloaded", "network", "server_error", "stream_interrupted"]);
  const r = build(BASE.replace("    targets: [openai/gpt-4o]", "    targets: [openai/gpt-4o]\n    retry: { max_retries: 2, retry_on: [overloaded, timeout] }")).routes[0].retry;
  assert.deepEqual(r, { maxRetries: 2, baseDelayMs: 200, maxDelayMs: 5_000, maxRetryAfterMs: 10_000, retryOn: ["overloaded", "timeout"] });
  rejects(BASE.replace("    targets: [openai/gpt-4o]", "    targets: [openai/gpt-4o]\n    retry: { retry_on: [sometimes] }"), /^routes\[0\]\.retry\.retry_on\[0\]: must be one of/);
});

const AB = `${BASE}
  - name: ab
    variants:
      - { name: control, weight: 90, targets: [openai/gpt-4o] }
      - { name: candidate, weight: 10, targets: [mock/a] }
`;

test("A/B variants load and are validated", () => {
  const r = build(AB).routes[1];
  assert.deepEqual(r.variants.map((v) => [v.name, v.weight, v.targets.map((t) => t.deployment)]), [["control", 90, ["openai/gpt-4o"]], ["candidate", 10, ["mock/a"]]]);
  rejects(AB.replace("name: candidate", "name: control"), 'routes[1].variants[1].name: duplicate variant "control"');
  rejects(AB.replace("targets: [mock/a] }", "targets: [mock/zz] }"), 'routes[1].variants[1].targets[0]: unknown deployment "mock/zz"');
  rejects(AB.replace("weight: 90", "weight: 0").replace("weight: 10", "weight: 0"), "routes[1].variants: at least one variant needs a weight above 0");
  rejects(AB.replace("    variants:\n", "    targets: [mock/a]\n    variants:\n"), "routes[1].variants: a route has either targets or variants, not both");
});

const TASKS = `${BASE}
  - name: code
    targets: [openai/gpt-4o]
  - name: assistant
    strategy: task
    targets: [mock/a]
    task_routes: { coding: code, reasoning: smart, simple: mock/a }
aliases: { smart: chat }
`;

test("task routes load and are validated: known names, no cycles, a default for unmapped tasks", () => {
  const r = build(TASKS).routes[2];
  assert.deepEqual(r.taskRoutes, { coding: "code", reasoning: "smart", simple: "mock/a" });
  rejects(TASKS.replace("coding: code", "coding: kode"), 'routes[2].task_routes.coding: unknown route, alias or deployment "kode"');
  rejects(TASKS.replace("    targets: [mock/a]\n    task_routes", "    task_routes"), "routes[2].task_routes: no entry for creative, multimodal: map every task or give the route targets for unmapped tasks");
  rejects(TASKS.replace("coding: code", "coding: assistant"), "routes[2].task_routes.coding: a route cannot send a task to itself");
  rejects(TASKS.replace("  - name: code\n    targets: [openai/gpt-4o]", "  - name: code\n    targets: [openai/gpt-4o]\n    task_routes: { coding: chat }"), "routes[1].task_routes: only applies to strategy task (this route's strategy is priority)");
  // A loop through an alias: assistant -> code -> assistant.
  const loop = TASKS.replace("  - name: code\n    targets: [openai/gpt-4o]", "  - name: code\n    strategy: task\n    targets: [openai/gpt-4o]\n    task_routes: { simple: helper }").replace("aliases: { smart: chat }", "aliases: { smart: chat, helper: assistant }");
  rejects(loop, /^routes\[\d\]\.task_routes: task routes form a cycle: (assistant -> code -> assistant|code -> assistant -> code)$/);
});

test("store: postgres_url (or DATABASE_URL) and usage_retention_days", () => {
  const c = build(`${BASE}\nstore: { postgres_url: "postgres://db/x", usage_retention_days: 30 }\n`);
  assert.equal(c.store.postgresUrl, "postgres://db/x");
  assert.equal(c.store.usageRetentionDays, 30);
  const fromEnv = build(BASE, { ...env, DATABASE_URL: "postgres://env/y" });
  assert.equal(fromEnv.store.postgresUrl, "postgres://env/y");
  assert.equal(fromEnv.store.usageRetentionDays, undefined, "the store's default (90 days) applies");
  rejects(`${BASE}\nstore: { usage_retention_days: 0 }\n`, /^store\.usage_retention_days: /);
  rejects(`${BASE}\nstore: { usage_retention_days: 1.5 }\n`, /^store\.usage_retention_days: /);
});

test("images: the catalog's image models serve images and price them; per_image takes one price or a table; only OpenAI-style providers", () => {
  const withDeployment = (d: string, providers = "") => BASE.replace("deployments:\n", `${providers}deployments:\n${d}`);
  const cfg = build(withDeployment("  - { id: openai/dall-e-3, provider: openai, model: dall-e-3 }\n  - { id: openai/gpt-image-1, provider: openai, model: gpt-image-1 }\n"));
  const dalle = cfg.deployments[0];
  assert.deepEqual(dalle.operations, ["images"]);
  assert.equal(dalle.pricing.perImageNanos?.["hd 1792x1024"], 120_000_000);
  assert.equal(dalle.pricing.perImageNanos?.default, 40_000_000);
  const gi = cfg.deployments[1];
  assert.deepEqual([gi.operations, gi.pricing.input, gi.pricing.output, gi.pricing.perImageNanos], [["images"], 5_000_000, 40_000_000, undefined]);
  const one = build(withDeployment("  - { id: mock/img, provider: mock, model: m, operations: [images], pricing: { input: 0, output: 0, per_image: 0.02 } }\n")).deployments[0];
  assert.deepEqual(one.pricing.perImageNanos, { default: 20_000_000 });
  const table = build(withDeployment("  - { id: mock/img, provider: mock, model: m, operations: [images], pricing: { input: 0, output: 0, per_image: { hd: 0.08, default: 0.04 } } }\n")).deployments[0];
  assert.deepEqual(table.pricing.perImageNanos, { hd: 80_000_000, default: 40_000_000 });
  rejects(withDeployment("  - { id: mock/img, provider: mock, model: m, operations: [images], pricing: { input: 0, output: 0, per_image: { hd: -1 } } }\n"), /^deployments\[0\]\.pricing\.per_image\.hd:/);
  rejects(
    `providers: [{ name: claude, type: anthropic, api_key: k }]\ndeployments: [{ id: claude/img, provider: claude, model: claude-sonnet-4-5, operations: [images] }]\n`,
    /^deployments\[0\]\.operations: provider "claude" is of type anthropic, which has no image generation API/,
  );
});

test("realtime: the catalog's realtime models serve realtime with text and audio prices apart; audio prices in pricing; only OpenAI-style providers", () => {
  const withDeployment = (d: string) => BASE.replace("deployments:\n", `deployments:\n${d}`);
  const cfg = build(withDeployment("  - { id: openai/rt, provider: openai, model: gpt-realtime }\n  - { id: mock/rt, provider: mock, model: m, operations: [realtime], pricing: { input: 1, output: 2, audio_input: 10, audio_output: 20 } }\n"));
  const [rt, mock] = cfg.deployments;
  assert.deepEqual([rt.operations, rt.pricing.input, rt.pricing.cachedInput, rt.pricing.output, rt.pricing.audioInput, rt.pricing.audioOutput], [["realtime"], 4_000_000, 400_000, 16_000_000, 32_000_000, 64_000_000]);
  assert.deepEqual([mock.pricing.audioInput, mock.pricing.audioOutput], [10_000_000, 20_000_000]);
  rejects(
    `providers: [{ name: claude, type: anthropic, api_key: k }]\ndeployments: [{ id: claude/rt, provider: claude, model: claude-sonnet-4-5, operations: [realtime] }]\n`,
    /^deployments\[0\]\.operations: provider "claude" is of type anthropic, which has no Realtime API/,
  );
});

test("a config without a server section gets the server's defaults (it used to start with no host)", () => {
  const cfg = buildConfig(parse("providers: [{ name: mock, type: mock }]\ndeployments: [{ id: mock/a, provider: mock, model: mock-a }]\n"), {});
  assert.equal(cfg.server.host, "0.0.0.0");
  assert.equal(cfg.server.port, 8080);
  assert.equal(cfg.server.maxRequestBytes, 4 * 1024 * 1024);
});

test("mcp_servers: ids, URLs, prices, env-substituted headers, and allow-list entries", () => {
  const base = "providers: [{ name: mock, type: mock }]\ndeployments: [{ id: mock/a, provider: mock, model: mock-a }]\n";
  const cfg = buildConfig(parse(`${base}mcp_servers:\n  - { id: docs-search, url: "https://mcp.example/mcp", headers: { Authorization: "Bearer \${TOK}" }, price_per_call_usd: 0.0005, tools: [search] }\nkeys:\n  - { name: k, hash: "sha256:${"ab".repeat(32)}", team: t, allow: [mock/a, "mcp:docs-search", "mcp:docs-search/search", "mcp:docs-search/get_*"] }\n`), { TOK: "t0k" });
  assert.deepEqual(cfg.mcpServers, [{ id: "docs-search", url: "https://mcp.example/mcp", headers: { Authorization: "Bearer t0k" }, tools: ["search"], timeoutMs: 60_000, pricePerCallNanos: 500_000 }]);
  const refused: [string, RegExp][] = [
    [`mcp_servers: [{ id: "a__b", url: "https://x.example" }]`, /mcp_servers\[0\]\.id/],
    [`mcp_servers: [{ id: a, url: "ftp://x.example" }]`, /mcp_servers\[0\]\.url/],
    [`mcp_servers: [{ id: a, url: "https://x.example" }, { id: a, url: "https://y.example" }]`, /mcp_servers\[1\]\.id: duplicate MCP server "a"/],
    [`keys: [{ name: k, hash: "sha256:${"ab".repeat(32)}", team: t, allow: ["mcp:nope"] }]`, /keys\[0\]\.allow\[0\]/],
    [`mcp_servers: [{ id: a, url: "https://x.example" }]\nkeys: [{ name: k, hash: "sha256:${"ab".repeat(32)}", team: t, allow: ["mcp:a/"] }]`, /keys\[0\]\.allow\[0\]/],
    [`mcp_servers: [{ id: a, url: "https://x.example" }]\nkeys: [{ name: k, hash: "sha256:${"ab".repeat(32)}", team: t, allow: ["mcp:b/x"] }]`, /keys\[0\]\.allow\[0\]/],
  ];
  for (const [extra, message] of refused) assert.throws(() => buildConfig(parse(`${base}${extra}\n`), {}), message);
});
