// Config validation: bad files fail start-up with the path of the problem; good ones fill defaults.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
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
    OPENAI_API_KEY: "x", ANTHROPIC_API_KEY: "x", GEMINI_API_KEY: "x", AZURE_OPENAI_API_KEY: "x", AZURE_OPENAI_ENDPOINT: "https://example.openai.azure.com", OPENROUTER_API_KEY: "x", GROQ_API_KEY: "x",
  });
  assert.ok(c.providers.length >= 6);
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

test("duplicates and unpriced unknown models are rejected", () => {
  rejects(BASE.replace("id: mock/a", "id: openai/gpt-4o"), 'deployments[1].id: duplicate deployment "openai/gpt-4o"');
  rejects(BASE.replace("model: gpt-4o-2024-08-06", "model: house-model-7"), /^deployments\[0\]\.pricing: model "house-model-7" is not in the built-in price table/);
  rejects(BASE.replace("    api_key: ${OPENAI_API_KEY}\n", ""), /^providers\[0\]\.api_key: is required for type openai/);
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

test("strategies the router does not have yet are refused, not silently degraded", () => {
  rejects(BASE.replace("    targets: [openai/gpt-4o]", "    strategy: latency\n    targets: [openai/gpt-4o]"), /^routes\[0\]\.strategy: strategy "latency" is not implemented yet/);
});
