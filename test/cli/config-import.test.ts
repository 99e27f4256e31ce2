// `signalbox config import` as users run it: the built CLI converting a LiteLLM config.yaml and a
// Bifrost config.json, the file it writes (checked again by `signalbox config check`), the notes on
// stderr and at the top of the file, --json, the master key hashed from the environment (and never
// printed), and the exit codes: 1 when the result fails the gateway's check, 2 for what cannot be read.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { buildCliIfStale, runCli, type CliRun } from "../helpers/cli.ts";

const MASTER = ["sk", "import", "master", "test"].join("-");
const NOWHERE = "http://127.0.0.1:9";
let tmp: string;
const cli = (args: string[], env: Record<string, string> = {}) => runCli(NOWHERE, args, { cwd: tmp, env });
function ok(r: CliRun): CliRun {
  assert.equal(r.code, 0, `exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

const LITELLM = `
model_list:
  - model_name: gpt-4o
    litellm_params: { model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY, rpm: 600 }
  - model_name: gpt-4o
    litellm_params: { model: azure/gpt-4o-prod, api_base: os.environ/AZURE_API_BASE, api_key: os.environ/AZURE_API_KEY, api_version: "2024-10-21", rpm: 300 }
    model_info: { base_model: azure/gpt-4o }
  - model_name: claude
    litellm_params: { model: anthropic/claude-sonnet-4-5-20250929, api_key: os.environ/ANTHROPIC_API_KEY }
router_settings:
  routing_strategy: simple-shuffle
  fallbacks: [{ gpt-4o: [claude] }]
  allowed_fails: 3
litellm_settings: { cache: true, success_callback: [langfuse] }
general_settings: { master_key: os.environ/LITELLM_MASTER_KEY }
`;

before(() => {
  buildCliIfStale();
  tmp = mkdtempSync(join(tmpdir(), "sb-import-"));
  writeFileSync(join(tmp, "litellm.yaml"), LITELLM);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("signalbox config import", () => {
  test("a LiteLLM config.yaml: the Signalbox config on stdout with the notes at its top, a summary on stderr; the master key from the environment as an admin key's hash, never printed", async () => {
    const r = ok(await cli(["config", "import", "litellm.yaml"], { LITELLM_MASTER_KEY: MASTER }));
    assert.match(r.stdout, /^# Imported from LiteLLM's litellm\.yaml by `signalbox config import`/);
    assert.match(r.stdout, /# Environment: OPENAI_API_KEY, AZURE_API_BASE, AZURE_API_KEY, ANTHROPIC_API_KEY, LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY\n/);
    assert.match(r.stdout, /#   dropped: router_settings\.allowed_fails: /);
    const c = parse(r.stdout);
    assert.deepEqual(
      c.routes.map((x: { name: string }) => x.name),
      ["gpt-4o", "claude"],
    );
    assert.deepEqual(c.routes[0].targets, [
      { deployment: "openai/gpt-4o", weight: 2 },
      { deployment: "azure/gpt-4o-prod", weight: 1 },
    ]);
    assert.deepEqual(c.keys, [{ name: "master", team: "platform", role: "admin", hash: `sha256:${createHash("sha256").update(MASTER).digest("hex")}` }]);
    assert.ok(!r.stdout.includes(MASTER) && !r.stderr.includes(MASTER));
    assert.ok(!r.stdout.includes("&a"), "no YAML anchors: every route's settings written out");
    assert.match(r.stderr, /^imported LiteLLM config litellm\.yaml: 3 providers, 3 deployments, 2 routes\n/);
    assert.match(r.stderr, /set in the gateway's environment: OPENAI_API_KEY, /);
  });

  test("--out writes the file (owner-only), which `signalbox config check` passes; an existing file is kept without --force", async () => {
    ok(await cli(["config", "import", "litellm.yaml", "-o", "signalbox.yaml"]));
    const written = join(tmp, "signalbox.yaml");
    assert.equal(statSync(written).mode & 0o777, 0o600);
    assert.match(readFileSync(written, "utf8"), /TO DO: general_settings\.master_key: the master key comes from LITELLM_MASTER_KEY/);
    const env = { OPENAI_API_KEY: "k1", AZURE_API_BASE: "https://example.openai.azure.com", AZURE_API_KEY: "k2", ANTHROPIC_API_KEY: "k3", LANGFUSE_PUBLIC_KEY: "pk", LANGFUSE_SECRET_KEY: "sk" };
    assert.match(ok(await cli(["config", "check", "signalbox.yaml"], env)).stdout, /^ok: 3 providers, 3 deployments, 2 routes, version [0-9a-f]{12}\n$/);
    // The LiteLLM file itself checks too: the gateway runs on it as it is, imported as it is read.
    assert.match(ok(await cli(["config", "check", "litellm.yaml"], { ...env, LITELLM_MASTER_KEY: MASTER })).stdout, /^ok: 3 providers, 3 deployments, 2 routes, version [0-9a-f]{12} \(LiteLLM's format, imported: 2 notes, 0 to do; signalbox config import lists them\)\n$/);
    const again = await cli(["config", "import", "litellm.yaml", "-o", "signalbox.yaml"]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /signalbox\.yaml exists/);
    ok(await cli(["config", "import", "litellm.yaml", "-o", "signalbox.yaml", "--force"]));
  });

  test("--json: the config, the notes, the variables and where literal secrets were", async () => {
    const j = JSON.parse(ok(await cli(["config", "import", "litellm.yaml", "--json"])).stdout);
    assert.equal(j.ok, true);
    assert.equal(j.from, "litellm");
    assert.deepEqual(j.env, ["OPENAI_API_KEY", "AZURE_API_BASE", "AZURE_API_KEY", "ANTHROPIC_API_KEY", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY"]);
    assert.deepEqual(
      j.notes.map((n: { kind: string; path: string }) => `${n.kind} ${n.path}`),
      ["dropped router_settings.allowed_fails", "manual general_settings.master_key"],
    );
    assert.equal(j.config.deployments.length, 3);
  });

  test("a Bifrost config.json, told by its shape: keys spread by weight as a route, a virtual key by its hash", async () => {
    const vk = ["sk", "bf", "cli", "test"].join("-");
    const bifrost = {
      providers: {
        openai: {
          keys: [
            { name: "primary", value: "env.OPENAI_API_KEY", models: ["gpt-4o-mini"], weight: 0.7 },
            { name: "secondary", value: "env.OPENAI_API_KEY_2", models: ["gpt-4o-mini"], weight: 0.3 },
          ],
        },
      },
      governance: { virtual_keys: [{ id: "vk-1", name: "checkout", value: vk, is_active: true }] },
    };
    writeFileSync(join(tmp, "config.json"), JSON.stringify(bifrost));
    const r = ok(await cli(["config", "import", "config.json"]));
    assert.match(r.stdout, /^# Imported from Bifrost's config\.json by `signalbox config import`/);
    const c = parse(r.stdout);
    assert.deepEqual(
      c.providers.map((p: { name: string; api_key: string }) => [p.name, p.api_key]),
      [
        ["openai", "${OPENAI_API_KEY}"],
        ["openai-secondary", "${OPENAI_API_KEY_2}"],
      ],
    );
    const route = c.routes.find((x: { name: string }) => x.name === "gpt-4o-mini");
    assert.equal(route.strategy, "weighted");
    assert.deepEqual(
      route.targets.map((t: { weight: number }) => t.weight),
      [70, 30],
    );
    assert.equal(c.keys[0].hash, `sha256:${createHash("sha256").update(vk).digest("hex")}`);
    assert.ok(!r.stdout.includes(vk) && !r.stderr.includes(vk));
    assert.match(r.stderr, /^imported Bifrost config config\.json: 2 providers, /);
  });

  test("a result the gateway's check refuses: exit 1 with the field; what cannot be read or is neither format: exit 2", async () => {
    // Anthropic has no embeddings API: LiteLLM's mode embedding on a Claude model cannot load here.
    writeFileSync(join(tmp, "bad.yaml"), "model_list:\n  - model_name: e\n    litellm_params: { model: anthropic/claude-haiku-4-5-20251001 }\n    model_info: { mode: embedding }\n");
    const bad = await cli(["config", "import", "bad.yaml"]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /error: the imported config does not pass the gateway's check\n  deployments\[0\]\.operations: /);
    const badJson = JSON.parse((await cli(["config", "import", "bad.yaml", "--json"])).stdout);
    assert.equal(badJson.ok, false);
    assert.equal(badJson.field, "deployments[0].operations");

    writeFileSync(join(tmp, "other.yaml"), "hello: world\n");
    const [missing, neither, from] = await Promise.all([cli(["config", "import", "nope.yaml"]), cli(["config", "import", "other.yaml"]), cli(["config", "import", "litellm.yaml", "--from", "portkey"])]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read nope\.yaml: no such file/);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /not a LiteLLM config .* or a Bifrost config\.json .*: name its format, litellm or bifrost/);
    assert.equal(from.code, 2);
    assert.match(from.stderr, /--from: "portkey" is not a format this reads/);
  });
});
