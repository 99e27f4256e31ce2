// Prompt templates (`prompts[]` in the configuration) named by the Responses API's `prompt`, through
// the official `openai` SDK to a fake OpenAI upstream: the template's instructions and messages
// with their variables filled, its model when the request names none, the latest version unless one
// is named, usage grouped by a `prompt:<id>@<version>` tag, a new version picked up by a reload, and
// the refusals (unknown prompt or version, a variable missing or unknown), which reach no provider;
// and the configuration's own checks.

import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import OpenAI from "openai";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import { createGateway } from "../../src/gateway.ts";
import { startServer } from "../../src/server/http.ts";
import { createMemoryUsageSink } from "../../src/usage/record.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { chatTurns } from "../helpers/chat-turns.ts";

let openai: FakeOpenAI;
let client: OpenAI;
let close: () => Promise<void>;
let reload: () => Promise<{ changes: string[] }>;
let recent: () => { tags: string[] }[];
const dir = mkdtempSync(join(tmpdir(), "signalbox-prompts-"));
const file = join(dir, "config.yaml");

const config = (extra = "") => `
providers:
  - { name: openai, type: openai, base_url: ${openai.url}, api_key: ${OPENAI_TEST_KEY} }
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
routes:
  - { name: support-model, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
  - { name: other, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
prompts:
  - id: support
    version: 1
    model: support-model
    instructions: "You help customers of {{company}}."
  - id: support
    version: 2
    model: support-model
    instructions: "You help customers of {{company}}. Be brief."
    messages:
      - { role: user, content: "My name is {{customer}}." }
      - { role: assistant, content: "Hello {{customer}}, how can I help?" }
${extra}`;

before(async () => {
  openai = await startFakeOpenAI();
  writeFileSync(file, config());
  const cfg = buildConfig(parse(config()), {});
  const usage = createMemoryUsageSink();
  const gw = await createGateway(cfg, { usage, configPath: file });
  const server = await startServer(gw, { port: 0, host: "127.0.0.1", maxRequestBytes: cfg.server.maxRequestBytes });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 });
  close = () => server.shutdown(0);
  reload = () => gw.reload();
  recent = () => usage.recent();
});
after(async () => {
  await close();
  await openai.close();
});
beforeEach(() => openai.reset());

test("the latest version unless one is named: its instructions, messages and model, variables filled; usage tagged by prompt", async () => {
  openai.script([
    { kind: "text", text: "Brief help." },
    { kind: "text", text: "Old help." },
  ]);
  const r = await client.responses.create({ prompt: { id: "support", variables: { company: "Acme", customer: "Ann" } }, input: "Where is my order?" } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
  assert.equal(r.output_text, "Brief help.");
  assert.deepEqual(chatTurns(openai.requests[0].body), [
    "system: You help customers of Acme. Be brief.",
    "user: My name is Ann.",
    "assistant: Hello Ann, how can I help?",
    "user: Where is my order?",
  ]);
  assert.deepEqual((r as unknown as { prompt: unknown }).prompt, { id: "support", version: "2", variables: { company: "Acme", customer: "Ann" } });
  assert.ok(recent().at(-1)!.tags.includes("prompt:support@2"));
  // Version 1, another model named by the request, and the request's own instructions after the template's.
  await client.responses.create({ model: "other", instructions: "Answer in French.", prompt: { id: "support", version: "1", variables: { company: { type: "input_text", text: "Acme" } } }, input: "Hi" } as never);
  assert.deepEqual(chatTurns(openai.requests[1].body), ["system: You help customers of Acme.\n\nAnswer in French.", "user: Hi"]);
  assert.ok(recent().at(-1)!.tags.includes("prompt:support@1"));
});

test("refusals name the field, and reach no provider", async () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ prompt: { id: "nope" } }, "prompt.id", /no prompt "nope"/],
    [{ prompt: { id: "support", version: "9", variables: { company: "A" } } }, "prompt.version", /has no version or label "9" \(versions "1", "2"\)/],
    [{ prompt: { id: "support", variables: { company: "A" } } }, "prompt.variables.customer", /is required by prompt "support" version "2"/],
    [{ prompt: { id: "support", version: "1", variables: { company: "A", extra: "x" } } }, "prompt.variables.extra", /is not a variable of prompt "support" version "1" \(it has company\)/],
    [{ prompt: { id: "support", version: "1", variables: { company: 3 } } }, "prompt.variables.company", /must be a string or an input_text part/],
  ];
  for (const [body, param, message] of cases) {
    const err = await client.responses.create({ input: "Hi", ...body } as never).catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, `${param}: ${err}`);
    assert.equal(err.param, param);
    assert.match(err.message, message);
  }
  const noModel = await client.responses.create({ input: "Hi" } as never).catch((e) => e);
  assert.equal(noModel.param, "model");
  assert.equal(openai.requests.length, 0);
});

test("a new version is picked up by a reload, and becomes the default", async () => {
  writeFileSync(file, config(`  - { id: support, version: "3", model: support-model, instructions: "Version three for {{company}}." }\n`));
  const r = await reload();
  assert.ok(r.changes.includes("prompt added: support@3"), r.changes.join("; "));
  openai.script({ kind: "text", text: "ok" });
  await client.responses.create({ prompt: { id: "support", variables: { company: "Acme" } }, input: "Hi" } as never);
  assert.deepEqual(chatTurns(openai.requests[0].body), ["system: Version three for Acme.", "user: Hi"]);
});

test("the configuration's checks: a version listed twice, a model that does not exist, a prompt with nothing in it", () => {
  const base = `
providers: [{ name: m, type: mock }]
deployments: [{ id: m/a, provider: m, model: mock-a, pricing: { input: 1, output: 1 } }]
routes: [{ name: r, targets: [m/a] }]
`;
  const check = (prompts: string, re: RegExp) => assert.throws(() => buildConfig(parse(`${base}prompts: ${prompts}`), {}), re);
  check(`[{ id: p, instructions: "a" }, { id: p, instructions: "b" }]`, /prompts\[1\]\.version: prompt "p" version "1" is listed twice/);
  check(`[{ id: p, model: nope, instructions: "a" }]`, /prompts\[0\]\.model: "nope" is not a route, alias or deployment/);
  check(`[{ id: p }]`, /prompts\[0\]: needs instructions or messages/);
  const ok = buildConfig(parse(`${base}prompts: [{ id: p, instructions: "{{a}} and {{ b }} and {{a}}" }]`), {});
  assert.deepEqual(ok.prompts?.[0].variables, ["a", "b"]);
});
