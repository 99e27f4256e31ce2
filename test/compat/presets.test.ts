// OpenRouter's presets on the OpenAI-compatible endpoint (src/config/presets.ts,
// src/compat/presets.ts), through a real gateway and the official OpenAI SDK, with two OpenAI-style
// providers faked over HTTP: `model: "@preset/<name>"`, `preset: "<name>"` and
// `"<model>@preset/<name>"`; the preset's system prompt first, its parameters as defaults the
// request overrides, provider preferences merged key by key; the usage record says which preset; a
// preset made at run time (AdminService, or OpenRouter's POST /v1/presets/{slug}/chat/completions,
// admins only); unknown presets and bad fields refused naming the field, nothing sent upstream.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { parse } from "yaml";
import Anthropic from "@anthropic-ai/sdk";
import { ConfigEntryKind, createSignalboxClient, ProviderSort, userText } from "@signalbox/client";
import { buildConfig, ConfigError, extendConfig } from "../../src/config/load.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { poll } from "../helpers/wait.ts";

const ADMIN = ["sbx", "presets", "admin", "0001"].join("-");
const USER = ["sbx", "presets", "user", "0002"].join("-");

describe("presets", () => {
  let a: FakeOpenAI;
  let b: FakeOpenAI;
  let g: TestGateway;
  const bodyOf = (f: FakeOpenAI) => JSON.parse(f.requests.at(-1)!.rawBody) as Record<string, unknown>;
  const sdk = (key = USER) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: key, maxRetries: 0 });
  const config = () => `
providers:
  - { name: alpha, type: openai, base_url: "${a.url}", api_key: test-key-a }
  - { name: beta, type: openai, base_url: "${b.url}", api_key: test-key-b }
deployments:
  - { id: alpha/mini, provider: alpha, model: gpt-4o-mini, pricing: { input: 1, output: 2 } }
  - { id: beta/mini, provider: beta, model: gpt-4o-mini, pricing: { input: 0.5, output: 1 } }
routes:
  - { name: chat, strategy: priority, targets: [alpha/mini, beta/mini] }
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
  - { name: app, hash: "${hashKey(USER)}", team: search, role: service }
presets:
  - name: support
    description: Short, polite answers from the cheaper provider
    model: chat
    system: You are a support agent. Answer in two sentences.
    temperature: 0.2
    max_tokens: 120
    provider: { only: [beta] }
  - { name: terse, model: alpha/mini, temperature: 0.1, stop: ["\\n\\n"] }
`;

  before(async () => {
    a = await startFakeOpenAI({ apiKey: "test-key-a" });
    b = await startFakeOpenAI({ apiKey: "test-key-b" });
    g = await startTestGateway(config());
  });
  after(async () => {
    await g?.close();
    await Promise.all([a?.close(), b?.close()]);
  });

  test('model "@preset/<name>": its model, system prompt first, parameters and provider preferences; the record names the preset', async () => {
    const r = await sdk().chat.completions.create({ model: "@preset/support", messages: [{ role: "user", content: "my order is late" }] });
    assert.equal(r.choices[0].finish_reason, "stop");
    // provider.only: [beta] — the route's first target (alpha) is left out.
    assert.equal(a.requests.length, 0);
    const sent = bodyOf(b);
    assert.deepEqual(sent.messages, [
      { role: "system", content: "You are a support agent. Answer in two sentences." },
      { role: "user", content: "my order is late" },
    ]);
    assert.equal(sent.temperature, 0.2);
    assert.equal(sent.max_tokens ?? sent.max_completion_tokens, 120);
    const rec = await poll(async () => g.usage.recent().find((x) => x.id === r.id), 5000, "the record");
    assert.equal(rec.model, "chat");
    assert.equal(rec.deployment, "beta/mini");
    assert.equal(rec.metadata["signalbox.preset"], "support");
    assert.deepEqual(rec.tags, ["preset:support"]);
  });

  test("the request's own fields win; provider preferences merge key by key; preset: <name> and <model>@preset/<name>", async () => {
    // preset field, the request's temperature and max_completion_tokens over the preset's.
    await sdk().chat.completions.create({ preset: "support", temperature: 0.9, max_completion_tokens: 40, messages: [{ role: "user", content: "hi" }], provider: { sort: "price" } } as never);
    const sent = bodyOf(b);
    assert.equal(sent.temperature, 0.9);
    assert.equal(sent.max_tokens ?? sent.max_completion_tokens, 40);
    assert.equal(sent.max_tokens !== undefined && sent.max_completion_tokens !== undefined, false);
    // A request that lets every provider serve it: provider.only overridden, sort kept.
    const before = a.requests.length;
    await sdk().chat.completions.create({ model: "@preset/support", messages: [{ role: "user", content: "hi" }], provider: { only: ["alpha"] } } as never);
    assert.equal(a.requests.length, before + 1);
    // <model>@preset/<name>: the model given, the rest of the preset.
    const r = await sdk().chat.completions.create({ model: "beta/mini@preset/terse", messages: [{ role: "user", content: "hi" }] });
    const t = bodyOf(b);
    assert.equal(t.temperature, 0.1);
    assert.deepEqual(t.stop, ["\n\n"]);
    const rec = await poll(async () => g.usage.recent().find((x) => x.id === r.id), 5000, "the record");
    assert.equal(rec.deployment, "beta/mini");
    // preset with the request's own model (the preset's provider.only still applies: the request widens it).
    await assert.rejects(sdk().chat.completions.create({ model: "alpha/mini", preset: "support", messages: [{ role: "user", content: "hi" }] } as never), /provider alpha is not in provider\.only/);
    await sdk().chat.completions.create({ model: "alpha/mini", preset: "support", provider: { only: ["alpha"] }, messages: [{ role: "user", content: "hi" }] } as never);
    assert.equal((bodyOf(a).messages as { role: string }[])[0].role, "system");
  });

  test("the Connect API and the Anthropic Messages door take @preset/<name> too; RouteService explains what it plans", async () => {
    const c = createSignalboxClient({ baseUrl: g.url, apiKey: USER });
    const r = await c.chat.complete({ model: "@preset/support", messages: [userText("where is my parcel")], temperature: 0.5 });
    const sent = bodyOf(b);
    assert.equal((sent.messages as { role: string }[])[0].role, "system");
    assert.equal(sent.temperature, 0.5);
    assert.equal(sent.max_tokens ?? sent.max_completion_tokens, 120);
    const rec = await poll(async () => g.usage.recent().find((x) => x.id === r.id), 5000, "the record");
    assert.equal(rec.model, "chat");
    assert.deepEqual(rec.tags, ["preset:support"]);
    const plan = await c.route.route({ model: "@preset/support", messages: [userText("x")] });
    assert.deepEqual(plan.candidates.map((x) => x.deployment), ["beta/mini"]);
    // The request's provider preferences merge with the preset's, key by key: its sort applies, and
    // the preset's only (which it leaves empty) still holds.
    const merged = await c.route.route({ model: "@preset/support", messages: [userText("x")], routing: { providers: { sort: ProviderSort.PRICE } } });
    assert.deepEqual(merged.candidates.map((x) => x.deployment), ["beta/mini"]);
    const widened = await c.route.route({ model: "@preset/support", messages: [userText("x")], routing: { providers: { only: ["alpha", "beta"], sort: ProviderSort.PRICE } } });
    assert.deepEqual(widened.candidates.map((x) => x.deployment), ["beta/mini", "alpha/mini"], "the request's only wins, sorted by price");
    // Anthropic's SDK against /v1/messages: its own max_tokens, the preset's system and temperature.
    const anthropic = new Anthropic({ baseURL: g.url, apiKey: USER, maxRetries: 0 });
    await anthropic.messages.create({ model: "alpha/mini@preset/terse", max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
    const viaMessages = bodyOf(a);
    assert.equal(viaMessages.temperature, 0.1);
    assert.equal(viaMessages.max_tokens ?? viaMessages.max_completion_tokens, 50);
    const unknown = await c.chat.complete({ model: "@preset/nope", messages: [userText("x")] }).catch((e: unknown) => e as Error);
    assert.match(String((unknown as Error).message), /model: no preset "nope"/);
  });

  test("unknown presets and clashing fields are refused naming the field; nothing reaches a provider", async () => {
    const sent = a.requests.length + b.requests.length;
    const refused = async (body: Record<string, unknown>, status: number, param: string, message: RegExp) => {
      const res = await fetch(`${g.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${USER}` }, body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...body }) });
      assert.equal(res.status, status);
      const e = (await res.json()) as { error: { param: string; message: string } };
      assert.equal(e.error.param, param);
      assert.match(e.error.message, message);
    };
    await refused({ model: "@preset/nope" }, 400, "model", /no preset "nope" \(presets: support, terse\)/);
    await refused({ model: "chat", preset: "nope" }, 400, "preset", /no preset "nope"/);
    await refused({ model: "@preset/support", preset: "support" }, 400, "preset", /give preset or a model of @preset\/<name>, not both/);
    await refused({ preset: 7 }, 400, "preset", /must be a preset's name/);
    // The preset's fields are checked like the request's: the request's bad temperature is still refused.
    await refused({ model: "@preset/support", temperature: "hot" }, 400, "temperature", /./);
    assert.equal(a.requests.length + b.requests.length, sent);
  });

  test("a preset made at run time: AdminService, or OpenRouter's POST /v1/presets/{slug}/chat/completions (admins only)", async () => {
    const admin = createSignalboxClient({ baseUrl: g.url, apiKey: ADMIN });
    await admin.admin.putConfigEntry({ kind: ConfigEntryKind.PRESET, name: "pirate", spec: { model: "beta/mini", system: "Talk like a pirate.", temperature: 1.1 } });
    await sdk().chat.completions.create({ model: "@preset/pirate", messages: [{ role: "user", content: "hello" }] });
    assert.equal((bodyOf(b).messages as { content: string }[])[0].content, "Talk like a pirate.");
    // OpenRouter's endpoint: the fields a preset holds, from a chat completions body; the rest left out.
    const made = await fetch(`${g.url}/v1/presets/reviewer/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ model: "alpha/mini", temperature: 0.3, stream: true, messages: [{ role: "system", content: "Review the code." }, { role: "user", content: "ignored" }] }),
    });
    assert.equal(made.status, 200, await made.clone().text());
    const data = ((await made.json()) as { data: { slug: string; designated_version: { config: Record<string, unknown>; system_prompt: string; version: number } } }).data;
    assert.equal(data.slug, "reviewer");
    assert.deepEqual(data.designated_version.config, { model: "alpha/mini", temperature: 0.3 });
    assert.equal(data.designated_version.system_prompt, "Review the code.");
    assert.equal(data.designated_version.version, 1);
    await sdk().chat.completions.create({ model: "@preset/reviewer", messages: [{ role: "user", content: "x = 1" }] });
    assert.deepEqual(bodyOf(a).messages, [{ role: "system", content: "Review the code." }, { role: "user", content: "x = 1" }]);
    // A second post makes a new revision.
    const again = await fetch(`${g.url}/v1/presets/reviewer/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ model: "alpha/mini", temperature: 0.4, messages: [] }) });
    assert.equal(((await again.json()) as { data: { designated_version: { version: number } } }).data.designated_version.version, 2);
    // A service key may not make presets; a bad field is refused naming it under spec.
    const denied = await fetch(`${g.url}/v1/presets/x/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${USER}` }, body: JSON.stringify({ model: "chat" }) });
    assert.equal(denied.status, 403);
    const badTemp = await fetch(`${g.url}/v1/presets/y/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ model: "chat", temperature: 5 }) });
    assert.equal(badTemp.status, 400);
    assert.match(JSON.stringify(await badTemp.json()), /spec\.temperature: must be <= 2, got 5/);
    const badModel = await fetch(`${g.url}/v1/presets/z/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ model: "nowhere" }) });
    assert.match(JSON.stringify(await badModel.json()), /spec\.model: unknown route, alias or deployment \\"nowhere\\"/);
  });

  test("the config file's presets are checked, each error naming its field", () => {
    const base = `providers: [{ name: m, type: mock }]\ndeployments: [{ id: m/a, provider: m, model: x }]\n`;
    const refused = (presets: string, re: RegExp) =>
      assert.throws(() => buildConfig(parse(`${base}presets:\n${presets}`)), (e: unknown) => e instanceof ConfigError && re.test(e.message), presets);
    refused(`  - { name: p, model: nowhere }`, /^presets\[0\]\.model: unknown route, alias or deployment "nowhere"/);
    refused(`  - { name: p }`, /^presets\[0\]\.model: expected a string/);
    refused(`  - { name: p, model: m/a, temperature: 3 }`, /^presets\[0\]\.temperature: must be <= 2, got 3/);
    refused(`  - { name: p, model: m/a, tools: [] }`, /^presets\[0\]\.tools: is not a field of a preset/);
    refused(`  - { name: p, model: m/a, provider: { fastest: true } }`, /^presets\[0\]\.provider\.fastest: is not a provider preference/);
    refused(`  - { name: p, model: m/a, response_format: { type: xml } }`, /^presets\[0\]\.response_format\.type: must be one of text, json_object, json_schema/);
    refused(`  - { name: p, model: m/a, max_tokens: 5, max_completion_tokens: 5 }`, /^presets\[0\]\.max_tokens: give max_tokens or max_completion_tokens, not both/);
    refused(`  - { name: p, model: "@preset/q" }`, /^presets\[0\]\.model: a preset's model is a route, alias or deployment, not another preset/);
    refused(`  - { name: p, model: m/a }\n  - { name: p, model: m/a }`, /^presets\[1\]\.name: duplicate preset "p"/);
    // A runtime entry: the same checks under spec; the file's names are not shadowed.
    const file = buildConfig(parse(`${base}presets:\n  - { name: p, model: m/a }\n`));
    const { config, problems } = extendConfig(file, [
      { kind: "preset", name: "p", spec: { model: "m/a" } },
      { kind: "preset", name: "q", spec: { model: "m/a", top_p: 2 } },
      { kind: "preset", name: "r", spec: { model: "m/a", seed: 7 } },
    ]);
    assert.match(problems.get("preset/p")?.message ?? "", /preset "p" is defined in the config file/);
    assert.match(problems.get("preset/q")?.message ?? "", /^spec\.top_p: must be <= 1, got 2/);
    assert.deepEqual(config.presets?.map((x) => x.name), ["p", "r"]);
  });
});
