// Provider fidelity end to end: a request with every parameter the gateway knows goes through the
// whole gateway to fakes that reject what the real APIs reject (reasoning-model sampling
// parameters, Claude's thinking and sampling rules per model, fields an Azure api-version
// predates). It must be ACCEPTED, with what the model does not take dropped and listed as
// adjustments in the answer (Complete, Stream, the /v1 endpoint), in Route and in the usage
// record; under a route's strict_params the same request is refused with invalid_argument naming
// the field, before any provider call. Also: content-part cache hints reach Anthropic as
// cache_control, 1-hour writes are reported, and other providers ignore the hints.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test, type TestContext } from "node:test";
import { Code } from "@connectrpc/connect";
import { CacheHint_Ttl, ReasoningEffort, ResponseFormat_Type, Role, ToolChoiceMode, type Adjustment } from "@signalbox/client";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { AZURE_TEST_KEY, startFakeAzure, type FakeAzure } from "../fakes/azure.ts";
import { GEMINI_TEST_KEY, startFakeGemini, type FakeGemini } from "../fakes/gemini.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { OPENROUTER_TEST_KEY, startFakeOpenRouter, type FakeOpenRouter } from "../fakes/openrouter.ts";
import { collect, rejection, startEnv, waitForRecord, type ChatRequestInit, type Env } from "./openai-family-harness.ts";

let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
let azure: FakeAzure;
let gemini: FakeGemini;
let openrouter: FakeOpenRouter;

before(async () => {
  [openai, anthropic, azure, gemini, openrouter] = await Promise.all([
    startFakeOpenAI(),
    startFakeAnthropic(),
    startFakeAzure({ deployments: { "gpt-4o": "gpt-4o-2024-11-20", reasoner: "o3-mini-2025-01-31" } }),
    startFakeGemini(),
    startFakeOpenRouter(),
  ]);
});
after(() => Promise.all([openai, anthropic, azure, gemini, openrouter].map((f) => f.close())));
beforeEach(() => [openai, anthropic, azure, gemini, openrouter].forEach((f) => f.reset()));

const CAPS = "[tools, vision, json_mode, json_schema, reasoning, streaming]";
const dep = (id: string, provider: string, model: string, extra = "") =>
  `  - { id: ${id}, provider: ${provider}, model: ${model}, pricing: { input: 1, output: 2 }, capabilities: ${CAPS}${extra} }`;

/** Every deployment twice: on a plain route and on a strict_params one ("plain.openai.o3", "strict.openai.o3"). */
const route = (kind: "plain" | "strict", deployment: string) => `${kind}.${deployment.replace("/", ".")}`;
const DEPLOYMENTS = ["openai/o3", "openai/gpt-5", "openai/gpt-4o", "claude/opus-4-8", "claude/sonnet-4-5", "azure/old", "azure/reasoner", "gemini/flash", "openrouter/sonnet"];

function config(): string {
  return `
providers:
  - { name: openai, type: openai, base_url: "${openai.url}", api_key: ${OPENAI_TEST_KEY} }
  - { name: anthropic, type: anthropic, base_url: "${anthropic.url}", api_key: ${ANTHROPIC_TEST_KEY} }
  - { name: azure-old, type: azure, base_url: "${azure.origin}", api_key: ${AZURE_TEST_KEY}, api_version: "2024-06-01" }
  - { name: azure-new, type: azure, base_url: "${azure.origin}", api_key: ${AZURE_TEST_KEY}, api_version: "2024-12-01-preview" }
  - { name: gemini, type: gemini, base_url: "${gemini.url}", api_key: ${GEMINI_TEST_KEY} }
  - { name: openrouter, type: openrouter, base_url: "${openrouter.url}", api_key: ${OPENROUTER_TEST_KEY} }
deployments:
${dep("openai/o3", "openai", "o3")}
${dep("openai/gpt-5", "openai", "gpt-5-2025-08-07")}
${dep("openai/gpt-4o", "openai", "gpt-4o")}
${dep("claude/opus-4-8", "anthropic", "claude-opus-4-8", ", max_output_tokens: 128000")}
${dep("claude/sonnet-4-5", "anthropic", "claude-sonnet-4-5-20250929")}
${dep("azure/old", "azure-old", "gpt-4o")}
${dep("azure/reasoner", "azure-new", "reasoner", ", base_model: o3-mini")}
${dep("gemini/flash", "gemini", "gemini-2.5-flash")}
${dep("openrouter/sonnet", "openrouter", "anthropic/claude-sonnet-4.5")}
routes:
${DEPLOYMENTS.map((d) => `  - { name: ${route("plain", d)}, targets: [${d}] }\n  - { name: ${route("strict", d)}, targets: [${d}], strict_params: true }`).join("\n")}
`;
}

async function env(t: TestContext): Promise<Env> {
  const e = await startEnv(config());
  t.after(() => e.close());
  return e;
}

const SCHEMA = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"], additionalProperties: false };
const WEATHER = { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };

/** Every parameter ChatRequest has (reasoning effort optional: a model that does not reason is not planned for it). */
function everything(model: string, o: { effort?: ReasoningEffort; maxOutputTokens?: number } = {}): ChatRequestInit {
  return {
    model,
    messages: [
      { role: Role.SYSTEM, content: [{ part: { case: "text", value: "Answer in JSON." } }] },
      { role: Role.USER, content: [{ part: { case: "text", value: "What is the weather like? Reply as json." } }] },
    ],
    temperature: 0.2,
    topP: 0.9,
    maxOutputTokens: o.maxOutputTokens ?? 4000,
    stop: ["END"],
    seed: 7n,
    responseFormat: { type: ResponseFormat_Type.JSON_SCHEMA, schemaName: "answer", schema: SCHEMA as never, strict: true },
    tools: [{ ...WEATHER, parameters: WEATHER.parameters as never }],
    toolChoice: { choice: { case: "mode", value: ToolChoiceMode.AUTO } },
    parallelToolCalls: false,
    presencePenalty: 0.1,
    frequencyPenalty: 0.2,
    reasoningEffort: o.effort ?? ReasoningEffort.UNSPECIFIED,
    user: "user-7",
    tags: ["fidelity"],
    metadata: { ticket: "15" },
  };
}

const fields = (a: readonly Adjustment[] | undefined) => (a ?? []).map((x) => x.field);

interface Case {
  name: string;
  deployment: string;
  effort?: ReasoningEffort;
  fake: () => { requests: { body: unknown }[] };
  /** Adjustments of the answer, in order. */
  adjusted: string[];
  /** What the body that reached the fake has and has not. */
  check(body: Record<string, unknown>): void;
  /** The field strict_params names (the first adjustment). */
  strictField?: string;
}

const absent = (body: Record<string, unknown>, keys: string[]) => {
  for (const k of keys) assert.equal(body[k], undefined, `${k} must not be sent`);
};

const CASES: Case[] = [
  {
    name: "OpenAI o3 (reasoning model): sampling parameters and stop dropped, minimal effort sent as low",
    deployment: "openai/o3",
    effort: ReasoningEffort.MINIMAL,
    fake: () => openai,
    adjusted: ["temperature", "top_p", "stop", "presence_penalty", "frequency_penalty", "reasoning_effort"],
    check(b) {
      absent(b, ["temperature", "top_p", "presence_penalty", "frequency_penalty", "stop", "max_tokens"]);
      assert.equal(b.max_completion_tokens, 4000);
      assert.equal(b.reasoning_effort, "low");
      assert.equal(b.seed, 7);
      assert.equal(b.parallel_tool_calls, false);
      assert.equal(b.tool_choice, "auto");
      assert.equal(b.user, "user-7");
      assert.deepEqual(b.response_format, { type: "json_schema", json_schema: { name: "answer", schema: SCHEMA, strict: true } });
    },
  },
  {
    name: "OpenAI gpt-5 dated snapshot: sampling parameters and stop dropped, minimal effort kept",
    deployment: "openai/gpt-5",
    effort: ReasoningEffort.MINIMAL,
    fake: () => openai,
    adjusted: ["temperature", "top_p", "stop", "presence_penalty", "frequency_penalty"],
    check(b) {
      assert.equal(b.model, "gpt-5-2025-08-07");
      absent(b, ["temperature", "top_p", "presence_penalty", "frequency_penalty", "stop", "max_tokens"]);
      assert.equal(b.reasoning_effort, "minimal");
      assert.equal(b.max_completion_tokens, 4000);
    },
  },
  {
    name: "OpenAI gpt-4o (chat model): everything sent as asked, no adjustment",
    deployment: "openai/gpt-4o",
    fake: () => openai,
    adjusted: [],
    check(b) {
      assert.equal(b.temperature, 0.2);
      assert.equal(b.top_p, 0.9);
      assert.deepEqual(b.stop, ["END"]);
      assert.equal(b.presence_penalty, 0.1);
      assert.equal(b.frequency_penalty, 0.2);
    },
  },
  {
    name: "Claude Opus 4.8: adaptive thinking with effort, output_config.format, no sampling, seed or penalties",
    deployment: "claude/opus-4-8",
    effort: ReasoningEffort.HIGH,
    fake: () => anthropic,
    adjusted: ["temperature", "top_p", "seed", "presence_penalty", "frequency_penalty"],
    check(b) {
      absent(b, ["temperature", "top_p", "top_k", "seed"]);
      assert.deepEqual(b.thinking, { type: "adaptive" });
      assert.deepEqual(b.output_config, { format: { type: "json_schema", schema: SCHEMA }, effort: "high" });
      assert.equal(b.system, "Answer in JSON."); // no JSON instruction: the format is native
      assert.equal(b.max_tokens, 4000);
      assert.deepEqual(b.stop_sequences, ["END"]);
      assert.deepEqual(b.tool_choice, { type: "auto", disable_parallel_tool_use: true });
      assert.deepEqual(b.metadata, { user_id: "user-7" });
    },
  },
  {
    name: "Claude Sonnet 4.5: manual thinking; temperature and top_p dropped while it thinks",
    deployment: "claude/sonnet-4-5",
    effort: ReasoningEffort.LOW,
    fake: () => anthropic,
    adjusted: ["seed", "presence_penalty", "frequency_penalty", "temperature", "top_p"],
    check(b) {
      absent(b, ["temperature", "top_p", "seed"]);
      assert.deepEqual(b.thinking, { type: "enabled", budget_tokens: 2048 });
      assert.deepEqual(b.output_config, { format: { type: "json_schema", schema: SCHEMA } });
    },
  },
  {
    name: "Azure api-version 2024-06-01: seed, parallel_tool_calls and json_schema predate it; max_tokens, system role",
    deployment: "azure/old",
    fake: () => azure,
    adjusted: ["seed", "parallel_tool_calls", "response_format"],
    check(b) {
      absent(b, ["seed", "parallel_tool_calls", "response_format", "max_completion_tokens", "stream_options"]);
      assert.equal(b.max_tokens, 4000);
      assert.equal(b.temperature, 0.2);
      assert.deepEqual(b.stop, ["END"]);
    },
  },
  {
    name: "Azure 2024-12-01-preview deployment of o3-mini (base_model): the model's rules on top of the version's",
    deployment: "azure/reasoner",
    effort: ReasoningEffort.MEDIUM,
    fake: () => azure,
    adjusted: ["temperature", "top_p", "stop", "presence_penalty", "frequency_penalty", "parallel_tool_calls"],
    check(b) {
      absent(b, ["temperature", "top_p", "presence_penalty", "frequency_penalty", "stop", "parallel_tool_calls", "max_tokens"]);
      assert.equal(b.max_completion_tokens, 4000);
      assert.equal(b.reasoning_effort, "medium");
      assert.equal(b.seed, 7);
    },
  },
  {
    name: "Gemini 2.5 Flash: everything accepted",
    deployment: "gemini/flash",
    effort: ReasoningEffort.LOW,
    fake: () => gemini,
    adjusted: [],
    check(b) {
      const g = b.generationConfig as Record<string, unknown>;
      assert.equal(g.temperature, 0.2);
      assert.equal(g.seed, 7);
      assert.deepEqual(g.stopSequences, ["END"]);
    },
  },
  {
    name: "OpenRouter: everything sent (OpenRouter maps parameters per upstream itself)",
    deployment: "openrouter/sonnet",
    effort: ReasoningEffort.HIGH,
    fake: () => openrouter,
    adjusted: [],
    check(b) {
      assert.equal(b.temperature, 0.2);
      assert.deepEqual(b.reasoning, { effort: "high" });
    },
  },
];

describe("every parameter the gateway knows reaches each provider and is accepted", () => {
  for (const c of CASES) {
    test(c.name, async (t) => {
      const e = await env(t);
      const req = everything(route("plain", c.deployment), { effort: c.effort });

      // Route explains the candidate's adjustments without calling anyone.
      const plan = await e.client.route.route(req);
      assert.deepEqual(fields(plan.candidates[0]?.adjustments), c.adjusted);
      assert.equal(c.fake().requests.length, 0);

      const res = await e.client.chat.complete(req);
      assert.deepEqual(fields(res.adjustments), c.adjusted, JSON.stringify(res.adjustments));
      assert.equal(c.fake().requests.length, 1, "one call, accepted at once");
      assert.equal(res.attempts.length, 1);
      c.check(c.fake().requests[0].body as Record<string, unknown>);
      for (const a of res.adjustments) assert.ok(a.detail.length > 10, a.detail);

      const rec = await waitForRecord(e.t, (r) => r.model === req.model);
      assert.deepEqual(fields(rec.adjustments as Adjustment[]), c.adjusted);

      // Streamed: the same adjustments on the start event.
      const s = await collect(e.client, req);
      assert.equal(s.error, undefined, s.error?.message);
      assert.deepEqual(fields(s.start?.adjustments), c.adjusted);
      assert.equal(c.fake().requests.length, 2);
    });
  }
});

describe("strict_params refuses what the model does not accept, before any provider call", () => {
  for (const c of CASES.filter((x) => x.adjusted.length > 0)) {
    test(c.name, async (t) => {
      const e = await env(t);
      const req = everything(route("strict", c.deployment), { effort: c.effort });
      const err = await rejection(e.client.chat.complete(req));
      assert.equal(err.code, Code.InvalidArgument);
      assert.match(err.rawMessage, new RegExp(`^${c.adjusted[0]}: deployment "${c.deployment}" does not accept it .*strict_params`));
      const s = await collect(e.client, req);
      assert.equal(s.error?.code, Code.InvalidArgument);
      assert.equal((await rejection(e.client.route.route(req))).code, Code.InvalidArgument);
      assert.equal(c.fake().requests.length, 0, "the fake saw no call");
    });
  }

  test("a strict route takes a request its models accept", async (t) => {
    const e = await env(t);
    const res = await e.client.chat.complete({ ...everything("strict.openai.o3"), temperature: 1, topP: undefined, stop: [], presencePenalty: undefined, frequencyPenalty: undefined });
    assert.deepEqual(res.adjustments, []);
    assert.equal(openai.requests.length, 1);
  });
});

describe("the OpenAI-compatible endpoint", () => {
  test("signalbox.adjustments lists what was dropped, unary and in the stream's usage chunk", async (t) => {
    const e = await env(t);
    const body = {
      model: "plain.openai.o3",
      messages: [{ role: "user", content: "hi" }],
      temperature: 0.5,
      stop: "END",
      max_completion_tokens: 100,
    };
    const post = (b: unknown) => fetch(`${e.t.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(b) });
    const unary = (await (await post(body)).json()) as { signalbox: { adjustments: Adjustment[] } };
    assert.deepEqual(fields(unary.signalbox.adjustments), ["temperature", "stop"]);
    const text = await (await post({ ...body, stream: true, stream_options: { include_usage: true } })).text();
    const last = text.split("\n\n").filter((l) => l.startsWith("data: {")).map((l) => JSON.parse(l.slice(6))).at(-1);
    assert.deepEqual(fields(last.signalbox.adjustments), ["temperature", "stop"]);
    assert.equal(openai.requests.every((r) => (r.body as Record<string, unknown>).temperature === undefined), true);
  });

  test("strict_params: 400 invalid_request_error naming the parameter", async (t) => {
    const e = await env(t);
    const res = await fetch(`${e.t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "strict.openai.o3", messages: [{ role: "user", content: "hi" }], top_p: 0.5 }),
    });
    assert.equal(res.status, 400);
    const err = ((await res.json()) as { error: { param: string; message: string } }).error;
    assert.equal(err.param, "top_p");
    assert.equal(openai.requests.length, 0);
  });
});

describe("cache hints", () => {
  const hinted = (model: string, ttl: CacheHint_Ttl, parts = 1): ChatRequestInit => ({
    model,
    messages: [
      { role: Role.SYSTEM, content: [{ part: { case: "text", value: "Long, stable instructions." }, cache: { ttl } }] },
      {
        role: Role.USER,
        content: Array.from({ length: parts }, (_, i) => ({ part: { case: "text" as const, value: `document ${i}` }, cache: { ttl } })),
      },
    ],
  });

  test("reach Anthropic as cache_control on the block; 1-hour writes come back as such", async (t) => {
    const e = await env(t);
    anthropic.script({ kind: "text", text: "ok", usage: { input: 3000, cacheWrite: 2500, output: 2 } });
    const res = await e.client.chat.complete(hinted("plain.claude.opus-4-8", CacheHint_Ttl.TTL_1_HOUR));
    const b = anthropic.requests[0].body as { system: unknown; messages: { content: unknown[] }[]; max_tokens: number };
    assert.deepEqual(b.system, [{ type: "text", text: "Long, stable instructions.", cache_control: { type: "ephemeral", ttl: "1h" } }]);
    assert.deepEqual(b.messages[0].content, [{ type: "text", text: "document 0", cache_control: { type: "ephemeral", ttl: "1h" } }]);
    // No caller limit: the model's own maximum, not 4,096.
    assert.equal(b.max_tokens, 128000);
    assert.equal(res.usage?.cacheWriteTokens, 2500n);
    assert.deepEqual(res.adjustments, []);
  });

  test("more than Anthropic's 4 breakpoints: the earliest are left out, with a note (not refused under strict_params)", async (t) => {
    const e = await env(t);
    const res = await e.client.chat.complete(hinted("strict.claude.sonnet-4-5", CacheHint_Ttl.TTL_UNSPECIFIED, 5));
    const b = anthropic.requests[0].body as { system: unknown; messages: { content: { cache_control?: unknown }[] }[] };
    assert.equal(b.system, "Long, stable instructions.");
    assert.deepEqual(b.messages[0].content.map((x) => x.cache_control !== undefined), [false, true, true, true, true]);
    assert.deepEqual(res.adjustments.map((a) => [a.field, a.detail]), [["messages", "6 cache hints, the provider takes 4: the first 2 ignored"]]);
  });

  test("other providers ignore them; the OpenAI-compatible endpoint takes Anthropic's cache_control", async (t) => {
    const e = await env(t);
    await e.client.chat.complete(hinted("plain.openai.gpt-4o", CacheHint_Ttl.TTL_5_MINUTES));
    assert.equal(JSON.stringify(openai.requests[0].body).includes("cache"), false);
    const res = await fetch(`${e.t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "plain.claude.sonnet-4-5",
        messages: [{ role: "user", content: [{ type: "text", text: "big document", cache_control: { type: "ephemeral", ttl: "1h" } }, { type: "text", text: "question" }] }],
      }),
    });
    assert.equal(res.status, 200);
    const b = anthropic.requests[0].body as { messages: { content: unknown[] }[] };
    assert.deepEqual(b.messages[0].content, [{ type: "text", text: "big document", cache_control: { type: "ephemeral", ttl: "1h" } }, { type: "text", text: "question" }]);
    const bad = await fetch(`${e.t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "plain.claude.sonnet-4-5", messages: [{ role: "user", content: [{ type: "text", text: "x", cache_control: { type: "persistent" } }] }] }),
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { param: string } }).error.param, "messages[0].content[0].cache_control.type");
  });
});
