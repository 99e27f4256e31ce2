// The `guardrails:` section: what a valid entry becomes, every error naming its field, attached
// names checked, and the set one request runs (attached = mandatory; a request can add, not drop).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { buildConfig, ConfigError } from "../../src/config/load.ts";
import { compileGuardrails } from "../../src/guardrails/engine.ts";
import { GatewayError } from "../../src/router/errors.ts";
import type { ChatCall } from "../../src/router/types.ts";

const BASE = `
providers: [{ name: mock, type: mock }]
deployments: [{ id: mock/a, provider: mock, model: mock-a }]
`;

const build = (extra: string) => buildConfig(parse(BASE + extra), {});

function refused(extra: string): ConfigError {
  try {
    build(extra);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail("expected a ConfigError");
}

describe("guardrails config", () => {
  test("a valid section: stages, defaults, options of the kind only", () => {
    const c = build(`
guardrails:
  - { name: pii, kind: pii, action: redact, pii: { categories: [email, card] } }
  - { name: keys, kind: secrets, stage: input, action: block }
  - { name: words, kind: deny, action: flag, stage: output, deny: { words: [frobnicate] } }
  - { name: mod, kind: webhook, action: block, webhook: { url: "http://127.0.0.1:9/check" } }
  - { name: big, kind: max_input_tokens, action: block, max_input_tokens: { limit: 1000 } }
  - { name: schema, kind: json_schema, json_schema: { on_failure: fallback } }
routes: [{ name: chat, targets: [mock/a], guardrails: [pii, keys] }]
`);
    const g = c.guardrails!;
    assert.deepEqual(g[0], { name: "pii", kind: "pii", stages: ["input", "output"], action: "redact", mandatory: false, pii: { categories: ["email", "card"] } });
    assert.deepEqual(g[1].stages, ["input"]);
    assert.deepEqual(g[2].stages, ["output"]);
    assert.deepEqual(g[3].webhook, { url: "http://127.0.0.1:9/check", timeoutMs: 2000, fail: "closed", headers: {}, format: "signalbox" });
    assert.deepEqual(g[3].stages, ["input"]);
    assert.deepEqual(g[4].maxInputTokens, { limit: 1000 });
    assert.deepEqual(g[5], { name: "schema", kind: "json_schema", stages: ["output"], action: "block", mandatory: false, jsonSchema: { onFailure: "fallback" } });
    assert.deepEqual(c.routes[0].guardrails, ["pii", "keys"]);
  });

  test("no section: no guardrails key (the config version of existing files is unchanged)", () => {
    assert.equal("guardrails" in build(""), false);
  });

  const cases: [string, string, RegExp][] = [
    ["unknown kind", `guardrails: [{ name: x, kind: magic, action: block }]`, /^guardrails\[0\]\.kind: must be one of/],
    ["action required", `guardrails: [{ name: x, kind: pii }]`, /^guardrails\[0\]\.action: is required/],
    ["redact without spans", `guardrails: [{ name: x, kind: webhook, action: redact, webhook: { url: "http://h/x" } }]`, /^guardrails\[0\]\.action: kind webhook finds no span/],
    ["another kind's options", `guardrails: [{ name: x, kind: pii, action: block, secrets: {} }]`, /^guardrails\[0\]\.secrets: only applies to kind secrets/],
    ["stage a kind cannot run at", `guardrails: [{ name: x, kind: json_schema, stage: input }]`, /^guardrails\[0\]\.stage: kind json_schema runs at output only/],
    ["json_schema takes on_failure", `guardrails: [{ name: x, kind: json_schema, action: block }]`, /^guardrails\[0\]\.action: kind json_schema takes json_schema.on_failure/],
    ["webhook needs its block", `guardrails: [{ name: x, kind: webhook, action: block }]`, /^guardrails\[0\]\.webhook: is required/],
    ["webhook url", `guardrails: [{ name: x, kind: webhook, action: block, webhook: { url: "ftp://h/x" } }]`, /^guardrails\[0\]\.webhook\.url: must be an http or https URL/],
    ["webhook fail", `guardrails: [{ name: x, kind: webhook, action: block, webhook: { url: "http://h/x", fail: maybe } }]`, /^guardrails\[0\]\.webhook\.fail: must be one of open, closed/],
    ["limit required", `guardrails: [{ name: x, kind: max_input_tokens, action: block }]`, /^guardrails\[0\]\.max_input_tokens: is required/],
    ["empty deny", `guardrails: [{ name: x, kind: deny, action: block, deny: {} }]`, /^guardrails\[0\]\.deny: needs at least one/],
    ["unknown pii category", `guardrails: [{ name: x, kind: pii, action: block, pii: { categories: [dna] } }]`, /^guardrails\[0\]\.pii\.categories: .*dna/],
    ["duplicate name", `guardrails: [{ name: x, kind: pii, action: block }, { name: x, kind: secrets, action: block }]`, /^guardrails\[1\]\.name: duplicate guardrail "x"/],
    ["unknown key in an entry", `guardrails: [{ name: x, kind: pii, action: block, when: always }]`, /^guardrails\[0\]\.when: unknown key/],
    ["route names an unknown guardrail", `routes: [{ name: chat, targets: [mock/a], guardrails: [nope] }]`, /^routes\[0\]\.guardrails\[0\]: unknown guardrail "nope"/],
    [
      "team names an unknown guardrail",
      `guardrails: [{ name: x, kind: pii, action: block }]\nteams: [{ name: t, guardrails: [x, nope] }]`,
      /^teams\[0\]\.guardrails\[1\]: unknown guardrail "nope" \(defined: x\)/,
    ],
    [
      "key names an unknown guardrail",
      `keys: [{ name: k, hash: "sha256:${"0".repeat(64)}", guardrails: [nope] }]`,
      /^keys\[0\]\.guardrails\[0\]: unknown guardrail "nope"/,
    ],
  ];
  for (const [name, yaml, message] of cases) {
    test(`refused, naming the field: ${name}`, () => {
      assert.match(refused(yaml).message, message);
    });
  }
});

describe("the set one request runs", () => {
  const config = build(`
guardrails:
  - { name: global, kind: secrets, action: block, mandatory: true }
  - { name: route-pii, kind: pii, action: redact }
  - { name: team-deny, kind: deny, action: block, deny: { words: [frobnicate] } }
  - { name: key-limit, kind: max_input_tokens, action: block, max_input_tokens: { limit: 10 } }
  - { name: extra, kind: deny, action: flag, deny: { phrases: [top secret] } }
routes: [{ name: chat, targets: [mock/a], guardrails: [route-pii] }]
teams: [{ name: red, guardrails: [team-deny] }]
keys: [{ name: k1, hash: "sha256:${"1".repeat(64)}", team: red, guardrails: [key-limit] }]
`);
  const set = compileGuardrails(config);
  const call = (over: Partial<ChatCall> & { team?: string; key?: string } = {}) =>
    ({
      id: "r",
      model: "chat",
      request: { messages: [] },
      routing: {},
      tags: [],
      metadata: {},
      caller: { keyName: over.key ?? "anonymous", team: over.team ?? "default", role: "anonymous", allow: [] },
      stream: false,
      ...over,
    }) as unknown as ChatCall;
  const names = (c: ChatCall, route: string) => set.select(c, route)?.guardrails.map((g) => g.name) ?? [];

  test("mandatory ones run for everyone; route, team and key add theirs", () => {
    assert.deepEqual(names(call(), ""), ["global"]);
    assert.deepEqual(names(call(), "chat"), ["global", "route-pii"]);
    assert.deepEqual(names(call({ team: "red", key: "k1" }), "chat"), ["global", "route-pii", "team-deny", "key-limit"]);
  });

  test("a request adds the ones it asks for, and cannot drop attached ones", () => {
    assert.deepEqual(names(call({ guardrails: { names: ["extra"], field: "guardrails" } }), "chat"), ["global", "route-pii", "extra"]);
    // Asking for a subset is not a way to drop the others.
    assert.deepEqual(names(call({ guardrails: { names: ["route-pii"], field: "guardrails" } }), "chat"), ["global", "route-pii"]);
  });

  test("an unknown name is invalid_argument naming the field, as the front door calls it", () => {
    assert.throws(
      () => set.select(call({ guardrails: { names: ["extra", "nope"], field: "signalbox.guardrails" } }), "chat"),
      (e: unknown) => e instanceof GatewayError && e.code === "invalid_argument" && e.details.field === "signalbox.guardrails[1]" && /unknown guardrail "nope"/.test(e.message),
    );
  });

  test("stages are grouped once: text detectors by action, webhooks, limits", () => {
    const s = set.select(call({ team: "red", key: "k1" }), "chat")!;
    assert.deepEqual(s.input.block.map((g) => g.name), ["global", "team-deny"]);
    assert.deepEqual(s.input.redact.map((g) => g.name), ["route-pii"]);
    assert.deepEqual(s.input.limits.map((g) => g.name), ["key-limit"]);
    assert.deepEqual(s.output.limits.map((g) => g.name), []);
    // The same lookup again is the same object (no per-request work).
    assert.equal(set.select(call({ team: "red", key: "k1" }), "chat"), s);
  });
});
