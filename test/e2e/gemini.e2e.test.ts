// End to end through the whole gateway for Google Gemini: typed client → Connect/gRPC server →
// router → Gemini adapter → undici → the fake Gemini Developer API on a real socket, and back.
// Asserts what the caller sees (text, usage, cost, attempts, codes, ErrorInfo) and what the
// upstream received (the recorded request bodies).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { AttemptOutcome, FailureKind, FinishReason, ReasoningEffort, ToolChoiceMode } from "@signalbox/client";
import { GEMINI_TEST_KEY, startFakeGemini, type FakeGemini, type GeminiFinishReason, type GeminiScenario } from "../fakes/gemini.ts";
import {
  assertCost,
  assertUsage,
  assistantCalls,
  assistantText,
  attemptSummary,
  clientFor,
  codeName,
  collect,
  details,
  developer,
  enumName,
  errorOf,
  gatewayPool,
  lastRecord,
  PNG_1X1,
  PNG_1X1_B64,
  PROTOCOLS,
  rejection,
  system,
  TIME_TOOL,
  toolResult,
  user,
  userImageBytes,
  userImageUrl,
  waitFor,
  WEATHER_TOOL,
} from "./anthropic-gemini-harness.ts";

const FLASH = "gemini-2.5-flash";
const PRO3 = "gemini-3-pro-preview";
const WRONG_KEY = "wrong-gemini-test-key";
const OK = AttemptOutcome.SUCCEEDED;
const FAILED = AttemptOutcome.FAILED;

/** The fake's thoughtSignature for a function call (see signature() in test/fakes/gemini.ts). */
const sig = (seed: string) => "Ct" + Buffer.from(`fake-thought-signature:${seed}`).toString("base64");

// Prices (USD per million tokens) → nano-USD per token: input 0.5 → 500, cached 0.125 → 125,
// output 4 → 4000, reasoning (thoughts) 6 → 6000. Gemini never reports cache writes.
const config = (url: string) => `
providers:
  - name: gemini
    type: gemini
    base_url: ${url}
    api_key: ${GEMINI_TEST_KEY}
  - name: gemini-wrong-key
    type: gemini
    base_url: ${url}
    api_key: ${WRONG_KEY}
  - name: backup
    type: mock
    mock: { reply: "backup answer", chunks: 3 }
deployments:
  - id: gemini/flash
    provider: gemini
    model: ${FLASH}
    pricing: { input: 0.5, cached_input: 0.125, cache_write: 1, output: 4, reasoning: 6 }
  - id: gemini/pro3
    provider: gemini
    model: ${PRO3}
    pricing: { input: 2, cached_input: 0.2, output: 12 }
  - id: gemini/wrong-key
    provider: gemini-wrong-key
    model: ${FLASH}
  - id: backup/mock
    provider: backup
    model: mock-backup
    pricing: { input: 1, output: 2 }
routes:
  - name: gemini
    targets: [gemini/flash]
    retry: { max_retries: 0 }
  - name: gemini-retry
    targets: [gemini/flash]
    retry: { max_retries: 1, base_delay_ms: 5, max_delay_ms: 20, max_retry_after_ms: 500 }
  - name: gemini-fallback
    targets: [gemini/flash, backup/mock]
    retry: { max_retries: 0, base_delay_ms: 5 }
    timeouts: { first_token_ms: 250, attempt_ms: 400 }
  - name: gemini-fallback-retry
    targets: [gemini/flash, backup/mock]
    retry: { max_retries: 1, base_delay_ms: 5, max_retry_after_ms: 5000 }
  - name: gemini3
    targets: [gemini/pro3]
    retry: { max_retries: 0 }
  - name: gemini-idle
    targets: [gemini/flash, backup/mock]
    timeouts: { idle_ms: 150 }
  - name: wrong-key
    targets: [gemini/wrong-key]
  - name: wrong-key-fallback
    targets: [gemini/wrong-key, backup/mock]
`;

let fake: FakeGemini;
const gws = gatewayPool(() => config(fake.url));

before(async () => {
  fake = await startFakeGemini();
});
beforeEach(() => fake.reset());
afterEach(() => gws.closeAll());
after(() => fake.close());

/** The generateContent bodies the fake received. */
const bodies = () => fake.requests.filter((r) => /:(stream)?[gG]enerateContent$/.test(r.path)).map((r) => r.body);

// ---------------------------------------------------------------------------------------------

describe("gemini: text", () => {
  for (const protocol of PROTOCOLS) {
    test(`${protocol}: Complete returns the exact text, modelVersion, normalised usage and cost`, async () => {
      const t = await gws.start();
      fake.script({ kind: "text", text: "Hello from Gemini.", model: "gemini-2.5-flash-001", usage: { input: 100, output: 20, cached: 40 } });
      const res = await clientFor(t, protocol).chat.complete({ model: "gemini", messages: [user("Hi there")] });

      assert.deepEqual(res.message?.content.map((p) => p.part.value), ["Hello from Gemini."]);
      assert.deepEqual(res.message?.toolCalls, []);
      assert.equal(res.model, "gemini");
      assert.equal(res.deployment, "gemini/flash");
      assert.equal(res.provider, "gemini");
      assert.equal(res.providerModel, "gemini-2.5-flash-001");
      assert.equal(res.finishReason, FinishReason.STOP);
      assert.equal(res.rawFinishReason, "STOP");
      // promptTokenCount already includes the 40 cached tokens.
      assertUsage(res.usage, { input: 100, output: 20, cached: 40 });
      // uncached 60×500 + cached 40×125 + output 20×4000
      assertCost(res.cost, { input: 30_000, cachedInput: 5_000, output: 80_000 });
      assert.equal(res.attempts.length, 1);
      const a = res.attempts[0];
      assert.deepEqual([a.number, a.deployment, a.provider, a.model, a.outcome, a.reason], [1, "gemini/flash", "gemini", FLASH, OK, "primary"]);
      assert.equal(a.cost?.totalNanoUsd, 115_000n);

      assert.equal(fake.requests.length, 1);
      const r = fake.requests[0];
      assert.equal(r.method, "POST");
      assert.equal(r.path, `/v1beta/models/${FLASH}:generateContent`);
      assert.deepEqual(r.query, {}, "the key goes in a header, never in the URL");
      assert.equal(r.headers["x-goog-api-key"], GEMINI_TEST_KEY);
      assert.deepEqual(r.body, { contents: [{ role: "user", parts: [{ text: "Hi there" }] }] });

      const rec = await lastRecord(t, "gemini");
      assert.equal(rec.status, "ok");
      assert.deepEqual(rec.usage, { inputTokens: 100, outputTokens: 20, cachedInputTokens: 40, cacheWriteTokens: 0, reasoningTokens: 0 });
      assert.equal(rec.cost.total, 115_000);
    });

    test(`${protocol}: Stream delivers every delta exactly, even with hostile chunking and multi-byte text`, async () => {
      const t = await gws.start();
      const text = "Grüße aus Köln — naïve café 🚀 done.";
      fake.script({ kind: "text", text, model: "gemini-2.5-flash-001", usage: { input: 100, output: 20, cached: 40 }, chunking: "hostile" });
      const s = await collect(clientFor(t, protocol).chat.stream({ model: "gemini", messages: [user("Greet me")] }));

      assert.equal(s.error, undefined);
      assert.equal(s.start?.deployment, "gemini/flash");
      assert.equal(s.start?.provider, "gemini");
      assert.equal(s.start?.providerModel, "gemini-2.5-flash-001");
      assert.deepEqual(s.start?.priorAttempts, []);
      assert.equal(s.text, text);
      assert.ok(s.deltas >= 2, `streamed incrementally (got ${s.deltas} delta message(s))`);
      assert.equal(s.finish?.finishReason, FinishReason.STOP);
      assert.equal(s.finish?.rawFinishReason, "STOP");
      assert.equal(s.finish?.providerModel, "gemini-2.5-flash-001");
      // Usage is cumulative per chunk: the last one counts.
      assertUsage(s.finish?.usage, { input: 100, output: 20, cached: 40 });
      assertCost(s.finish?.cost, { input: 30_000, cachedInput: 5_000, output: 80_000 });
      assert.deepEqual(attemptSummary(s.finish!.attempts), [["gemini/flash", OK, FailureKind.UNSPECIFIED]]);

      const r = fake.requests[0];
      assert.equal(r.path, `/v1beta/models/${FLASH}:streamGenerateContent`);
      assert.deepEqual(r.query, { alt: "sse" });
      assert.deepEqual(r.body, { contents: [{ role: "user", parts: [{ text: "Greet me" }] }] });
    });
  }

  test("Gemini 3: the final empty signature chunk adds no delta", async () => {
    const t = await gws.start();
    fake.script([{ kind: "text", text: "Three words here." }, { kind: "text", text: "Three words here." }]);
    const s = await collect(clientFor(t).chat.stream({ model: "gemini3", messages: [user("x")] }));
    assert.equal(s.error, undefined);
    assert.equal(s.text, "Three words here.");
    for (const e of s.events) {
      if (e.event.case === "delta") assert.notDeepEqual([e.event.value.text, e.event.value.reasoning, e.event.value.toolCalls.length], ["", "", 0], "an empty delta was sent");
    }
    assert.equal(s.finish?.rawFinishReason, "STOP");
    const res = await clientFor(t).chat.complete({ model: "gemini3", messages: [user("x")] });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["Three words here."]);
  });

  test("sampling options go into generationConfig", async () => {
    const t = await gws.start();
    await clientFor(t).chat.complete({
      model: "gemini",
      messages: [user("Hi")],
      temperature: 1.5,
      topP: 0.9,
      stop: ["###"],
      maxOutputTokens: 300,
      seed: 7n,
      presencePenalty: 0.5,
      frequencyPenalty: 0.25,
      user: "dropped-for-gemini",
    });
    assert.deepEqual(bodies()[0], {
      contents: [{ role: "user", parts: [{ text: "Hi" }] }],
      generationConfig: { temperature: 1.5, topP: 0.9, maxOutputTokens: 300, stopSequences: ["###"], seed: 7, presencePenalty: 0.5, frequencyPenalty: 0.25 },
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe("gemini: system prompt", () => {
  test("system and developer messages, wherever they stand, become systemInstruction", async () => {
    const t = await gws.start();
    const messages = [system("Be terse."), user("Hi"), assistantText("Hello!"), developer("Answer in English."), user("Again")];
    const res = await clientFor(t).chat.complete({ model: "gemini", messages });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["Echo: Again"]);
    const s = await collect(clientFor(t, "grpc").chat.stream({ model: "gemini", messages }));
    assert.equal(s.text, "Echo: Again");
    const expected = {
      systemInstruction: { parts: [{ text: "Be terse." }, { text: "Answer in English." }] },
      contents: [
        { role: "user", parts: [{ text: "Hi" }] },
        { role: "model", parts: [{ text: "Hello!" }] },
        { role: "user", parts: [{ text: "Again" }] },
      ],
    };
    assert.deepEqual(bodies(), [expected, expected]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("gemini: tools", () => {
  const tools = [WEATHER_TOOL, TIME_TOOL];
  const upstreamTools = [
    {
      functionDeclarations: [
        { name: "get_weather", description: "Current weather for a city", parametersJsonSchema: WEATHER_TOOL.parameters },
        { name: "get_time", description: "Local time in a timezone", parametersJsonSchema: TIME_TOOL.parameters },
      ],
    },
  ];

  test("Complete: declarations and tool config go upstream; a call without an id gets a synthesised one", async () => {
    const t = await gws.start();
    fake.script({ kind: "tool_calls", calls: [{ name: "get_weather", arguments: { city: "Paris", unit: "c" } }] });
    const res = await clientFor(t).chat.complete({
      model: "gemini",
      messages: [user("Weather in Paris?")],
      tools,
      toolChoice: { choice: { case: "mode", value: ToolChoiceMode.REQUIRED } },
    });
    assert.equal(res.message?.toolCalls.length, 1);
    const c = res.message!.toolCalls[0];
    assert.match(c.id, /^call_fakeResp\d{14}_0$/);
    assert.deepEqual([c.name, c.arguments, c.providerSignature], ["get_weather", '{"city":"Paris","unit":"c"}', sig("get_weather")]);
    assert.equal(res.finishReason, FinishReason.TOOL_CALLS);
    assert.equal(res.rawFinishReason, "STOP");
    assert.deepEqual(bodies()[0].tools, upstreamTools);
    assert.deepEqual(bodies()[0].toolConfig, { functionCallingConfig: { mode: "ANY" } });
  });

  test("a named tool choice restricts allowedFunctionNames; a call with an id keeps it", async () => {
    const t = await gws.start();
    fake.script({ kind: "tool_calls", calls: [{ id: "fc-given-1", name: "get_time", arguments: { tz: "UTC" } }] });
    const res = await clientFor(t).chat.complete({ model: "gemini", messages: [user("Time?")], tools, toolChoice: { choice: { case: "tool", value: "get_time" } } });
    assert.equal(res.message?.toolCalls[0].id, "fc-given-1");
    assert.deepEqual(bodies()[0].toolConfig, { functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get_time"] } });
  });

  for (const protocol of ["connect", "grpc"] as const) {
    test(`${protocol}: whole streamed parallel calls without ids are reassembled, then answered with functionResponses by name`, async () => {
      const t = await gws.start();
      const c = clientFor(t, protocol);
      fake.script({
        kind: "tool_calls",
        text: "Checking both.",
        calls: [
          { name: "get_weather", arguments: { city: "Paris" } },
          { name: "get_time", arguments: { tz: "Europe/Paris" } },
        ],
        chunking: "hostile",
      });
      const s = await collect(c.chat.stream({ model: "gemini", messages: [user("Weather and time in Paris?")], tools }));
      assert.equal(s.error, undefined);
      assert.equal(s.text, "Checking both.");
      assert.equal(s.toolCalls.length, 2);
      const [w, tm] = s.toolCalls;
      assert.match(w.id, /^call_fakeResp\d{14}_0$/);
      assert.equal(tm.id, w.id.replace(/_0$/, "_1"));
      assert.deepEqual(
        s.toolCalls.map((x) => [x.index, x.name, x.arguments, x.providerSignature]),
        [
          [0, "get_weather", '{"city":"Paris"}', sig("get_weather")],
          [1, "get_time", '{"tz":"Europe/Paris"}', ""],
        ],
      );
      // Gemini sends each call whole: the first fragment names it, and its arguments come in one piece.
      const fragments = s.events.flatMap((e) => (e.event.case === "delta" ? e.event.value.toolCalls : []));
      for (const [i, call] of [w, tm].entries()) {
        const mine = fragments.filter((f) => f.index === i);
        assert.deepEqual([mine[0].id, mine[0].name], [call.id, call.name]);
        assert.deepEqual(
          mine.map((f) => f.argumentsDelta).filter((a) => a !== ""),
          [call.arguments],
        );
      }
      assert.equal(s.finish?.finishReason, FinishReason.TOOL_CALLS);
      assert.equal(s.finish?.rawFinishReason, "STOP");

      // Follow-up: the first result has no name (looked up from the call), the second names its tool.
      const res = await c.chat.complete({
        model: "gemini",
        tools,
        messages: [
          user("Weather and time in Paris?"),
          assistantCalls([w, tm], "Checking both."),
          toolResult(w.id, '{"temp_c":21}'),
          toolResult(tm.id, "It is 14:05", { name: "get_time" }),
        ],
      });
      assert.deepEqual(res.message?.content.map((p) => p.part.value), ['Echo: {"temp_c":21} {"result":"It is 14:05"}']);
      const b = bodies()[1];
      assert.deepEqual(b.tools, upstreamTools);
      assert.deepEqual(b.contents, [
        { role: "user", parts: [{ text: "Weather and time in Paris?" }] },
        {
          role: "model",
          parts: [
            { text: "Checking both." },
            { functionCall: { name: "get_weather", args: { city: "Paris" }, id: w.id }, thoughtSignature: sig("get_weather") },
            { functionCall: { name: "get_time", args: { tz: "Europe/Paris" }, id: tm.id } },
          ],
        },
        {
          role: "user",
          parts: [
            { functionResponse: { name: "get_weather", response: { temp_c: 21 }, id: w.id } },
            { functionResponse: { name: "get_time", response: { result: "It is 14:05" }, id: tm.id } },
          ],
        },
      ]);
    });
  }

  test("a failed tool's output is sent as {error: …}", async () => {
    const t = await gws.start();
    await clientFor(t).chat.complete({
      model: "gemini",
      tools,
      messages: [user("Time?"), assistantCalls([{ id: "c1", name: "get_time", arguments: '{"tz":"Mars/Base"}' }]), toolResult("c1", "unknown timezone", { isError: true })],
    });
    assert.deepEqual(bodies()[0].contents[2], { role: "user", parts: [{ functionResponse: { name: "get_time", response: { error: "unknown timezone" }, id: "c1" } }] });
  });

  test("Gemini 3: the thought signature round-trips (the upstream rejects a replayed call without one)", async () => {
    const t = await gws.start();
    const c = clientFor(t);
    fake.script({ kind: "tool_calls", calls: [{ name: "get_weather", arguments: { city: "Oslo" } }] });
    const s = await collect(c.chat.stream({ model: "gemini3", messages: [user("Weather in Oslo?")], tools }));
    assert.equal(s.error, undefined);
    assert.equal(s.toolCalls.length, 1);
    assert.equal(s.toolCalls[0].providerSignature, sig("get_weather"));
    const history = [user("Weather in Oslo?"), assistantCalls(s.toolCalls), toolResult(s.toolCalls[0].id, '{"temp_c":3}')];
    const res = await c.chat.complete({ model: "gemini3", tools, messages: history });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ['Echo: {"temp_c":3}']);
    assert.equal(bodies()[1].contents[1].parts[0].thoughtSignature, sig("get_weather"));

    // A call without a signature (history from another provider) gets the documented skip value.
    const foreign = [user("Weather in Oslo?"), assistantCalls([{ id: "toolu_x", name: "get_weather", arguments: '{"city":"Oslo"}' }]), toolResult("toolu_x", '{"temp_c":3}')];
    const res2 = await c.chat.complete({ model: "gemini3", tools, messages: foreign });
    assert.deepEqual(res2.message?.content.map((p) => p.part.value), ['Echo: {"temp_c":3}']);
    assert.equal(bodies()[2].contents[1].parts[0].thoughtSignature, "skip_thought_signature_validator");
  });
});

// ---------------------------------------------------------------------------------------------

describe("gemini: images", () => {
  test("image bytes become inlineData", async () => {
    const t = await gws.start();
    const res = await clientFor(t).chat.complete({ model: "gemini", messages: [userImageBytes("What is this?", PNG_1X1, "image/png")] });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["Echo: What is this?"]);
    assert.deepEqual(bodies()[0].contents, [{ role: "user", parts: [{ text: "What is this?" }, { inlineData: { mimeType: "image/png", data: PNG_1X1_B64 } }] }]);
  });

  test("a data URL becomes inlineData and a Files-API URL fileData", async () => {
    const t = await gws.start();
    const fileUri = "https://generativelanguage.googleapis.com/v1beta/files/abc123";
    await clientFor(t, "grpc").chat.complete({
      model: "gemini",
      messages: [userImageUrl("And this?", `data:image/png;base64,${PNG_1X1_B64}`), userImageUrl("And that?", fileUri, "image/png")],
    });
    assert.deepEqual(bodies()[0].contents, [
      {
        role: "user",
        parts: [
          { text: "And this?" },
          { inlineData: { mimeType: "image/png", data: PNG_1X1_B64 } },
          { text: "And that?" },
          { fileData: { fileUri, mimeType: "image/png" } },
        ],
      },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("gemini: usage with cache and thoughts", () => {
  const thought = "Thinking about the question carefully.";
  // prompt 1000 (800 cached); candidates 30 + thoughts 60 = output 90.
  const scenario: GeminiScenario = { kind: "text", text: "42.", thought, usage: { input: 1000, output: 90, cached: 800, reasoning: 60 } };
  const usage = { input: 1000, output: 90, cached: 800, reasoning: 60 };
  // uncached 200×500 + cached 800×125 + non-thought output 30×4000 + thoughts 60×6000
  const cost = { input: 100_000, cachedInput: 100_000, output: 120_000, reasoning: 360_000 };

  test("Complete: thoughts are reasoning and counted in output; cached tokens priced apart", async () => {
    const t = await gws.start();
    fake.script(scenario);
    const res = await clientFor(t).chat.complete({ model: "gemini", messages: [user("The answer?")], reasoningEffort: ReasoningEffort.LOW });
    assert.equal(res.reasoning, thought);
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["42."]);
    assertUsage(res.usage, usage);
    assertCost(res.cost, cost);
    assert.deepEqual(bodies()[0].generationConfig, { thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } });
  });

  test("Stream: thought parts arrive as reasoning deltas; the last cumulative usageMetadata counts", async () => {
    const t = await gws.start();
    fake.script({ ...scenario, chunking: "hostile" });
    const s = await collect(clientFor(t, "grpc").chat.stream({ model: "gemini", messages: [user("The answer?")] }));
    assert.equal(s.error, undefined);
    assert.equal(s.reasoning, thought);
    assert.equal(s.text, "42.");
    assertUsage(s.finish?.usage, usage);
    assertCost(s.finish?.cost, cost);
  });
});

// ---------------------------------------------------------------------------------------------

describe("gemini: finish reasons", () => {
  const BLOCKING = new Set(["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"]);
  const cases: [GeminiFinishReason, FinishReason][] = [
    ["STOP", FinishReason.STOP],
    ["MAX_TOKENS", FinishReason.LENGTH],
    ["SAFETY", FinishReason.CONTENT_FILTER],
    ["RECITATION", FinishReason.CONTENT_FILTER],
    ["BLOCKLIST", FinishReason.CONTENT_FILTER],
    ["PROHIBITED_CONTENT", FinishReason.CONTENT_FILTER],
    ["SPII", FinishReason.CONTENT_FILTER],
    ["IMAGE_SAFETY", FinishReason.CONTENT_FILTER],
    ["MALFORMED_FUNCTION_CALL", FinishReason.ERROR],
    ["UNEXPECTED_TOOL_CALL", FinishReason.ERROR],
    ["TOO_MANY_TOOL_CALLS", FinishReason.ERROR],
    ["OTHER", FinishReason.OTHER],
    ["LANGUAGE", FinishReason.OTHER],
    ["FINISH_REASON_UNSPECIFIED", FinishReason.OTHER],
    ["NO_IMAGE", FinishReason.OTHER],
  ];
  for (const [raw, unified] of cases) {
    test(`${raw} → ${enumName(FinishReason, unified)} (Complete and Stream)`, async () => {
      const t = await gws.start();
      const sc: GeminiScenario = { kind: "text", text: "Partial answer", finishReason: raw };
      fake.script([sc, sc]);
      const res = await clientFor(t).chat.complete({ model: "gemini", messages: [user("Go")] });
      assert.equal(res.finishReason, unified);
      assert.equal(res.rawFinishReason, raw);
      // A blocked candidate comes without content in a whole answer.
      assert.equal(res.message?.content.map((p) => p.part.value).join(""), BLOCKING.has(raw) ? "" : "Partial answer");
      const s = await collect(clientFor(t, "grpc").chat.stream({ model: "gemini", messages: [user("Go")] }));
      assert.equal(s.error, undefined);
      assert.equal(s.finish?.finishReason, unified);
      assert.equal(s.finish?.rawFinishReason, raw);
      assert.equal(s.text, "Partial answer");
    });
  }

  test("MAX_TOKENS with no content at all (Complete and Stream)", async () => {
    const t = await gws.start();
    const sc: GeminiScenario = { kind: "text", text: "", finishReason: "MAX_TOKENS", usage: { input: 12, output: 7, reasoning: 7 } };
    fake.script([sc, sc]);
    const res = await clientFor(t).chat.complete({ model: "gemini", messages: [user("Go")], maxOutputTokens: 7 });
    assert.deepEqual(res.message?.content, []);
    assert.equal(res.finishReason, FinishReason.LENGTH);
    assertUsage(res.usage, { input: 12, output: 7, reasoning: 7 });
    assert.deepEqual(bodies()[0].generationConfig, { maxOutputTokens: 7 });
  });

  for (const raw of ["MAX_TOKENS", "SAFETY"] as const) {
    test(
      `Stream: ${raw} with no content at all still reports its finish reason`,
      {
      },
      async () => {
        const t = await gws.start();
        fake.script({ kind: "text", text: "", finishReason: raw, usage: { input: 12, output: 7, reasoning: 7 } });
        const s = await collect(clientFor(t).chat.stream({ model: "gemini", messages: [user("Go")], maxOutputTokens: 7 }));
        assert.equal(s.error, undefined);
        assert.equal(s.deltas, 0);
        assertUsage(s.finish?.usage, { input: 12, output: 7, reasoning: 7 });
        assert.equal(s.finish?.rawFinishReason, raw);
        assert.equal(s.finish?.finishReason, raw === "MAX_TOKENS" ? FinishReason.LENGTH : FinishReason.CONTENT_FILTER);
      },
    );
  }
});

// ---------------------------------------------------------------------------------------------

const DAILY_429 = JSON.parse(readFileSync(new URL("../fixtures/gemini/error-429-daily.json", import.meta.url), "utf8"));

interface FailureCase {
  name: string;
  scenario: GeminiScenario;
  kind: FailureKind;
  code: Code;
  status: number;
  fallsBack: boolean;
  retryAfterMs?: number;
}

const FAILURES: FailureCase[] = [
  { name: "400 INVALID_ARGUMENT", scenario: { kind: "error", error: "invalid_argument" }, kind: FailureKind.BAD_REQUEST, code: Code.InvalidArgument, status: 400, fallsBack: false },
  { name: "400 API_KEY_INVALID", scenario: { kind: "error", error: "api_key_invalid" }, kind: FailureKind.UPSTREAM_AUTH, code: Code.Unavailable, status: 400, fallsBack: true },
  { name: "400 input token count exceeds the maximum", scenario: { kind: "error", error: "context_length_exceeded" }, kind: FailureKind.CONTEXT_LENGTH_EXCEEDED, code: Code.InvalidArgument, status: 400, fallsBack: false },
  { name: "400 FAILED_PRECONDITION (location)", scenario: { kind: "error", error: "failed_precondition" }, kind: FailureKind.UPSTREAM_AUTH, code: Code.Unavailable, status: 400, fallsBack: true },
  { name: "401 UNAUTHENTICATED", scenario: { kind: "error", error: "unauthenticated" }, kind: FailureKind.UPSTREAM_AUTH, code: Code.Unavailable, status: 401, fallsBack: true },
  { name: "402 prepaid credit exhausted", scenario: { kind: "error", error: "billing" }, kind: FailureKind.QUOTA_EXHAUSTED, code: Code.Unavailable, status: 402, fallsBack: true },
  { name: "403 PERMISSION_DENIED", scenario: { kind: "error", error: "permission_denied" }, kind: FailureKind.UPSTREAM_AUTH, code: Code.Unavailable, status: 403, fallsBack: true },
  { name: "404 NOT_FOUND model", scenario: { kind: "error", error: "not_found" }, kind: FailureKind.MODEL_NOT_FOUND, code: Code.Unavailable, status: 404, fallsBack: true },
  {
    name: "429 RESOURCE_EXHAUSTED per minute (RetryInfo 1s)",
    scenario: { kind: "error", error: "rate_limit", retryDelay: "1s" },
    kind: FailureKind.RATE_LIMITED,
    code: Code.ResourceExhausted,
    status: 429,
    fallsBack: true,
    retryAfterMs: 1000,
  },
  { name: "429 RESOURCE_EXHAUSTED per day", scenario: { kind: "http", status: 429, body: DAILY_429 }, kind: FailureKind.QUOTA_EXHAUSTED, code: Code.Unavailable, status: 429, fallsBack: true },
  { name: "500 INTERNAL", scenario: { kind: "error", error: "internal" }, kind: FailureKind.SERVER_ERROR, code: Code.Unavailable, status: 500, fallsBack: true },
  { name: "502 HTML from a proxy", scenario: { kind: "http", status: 502, body: "<html><body>Bad gateway</body></html>" }, kind: FailureKind.SERVER_ERROR, code: Code.Unavailable, status: 502, fallsBack: true },
  { name: "503 UNAVAILABLE (overloaded)", scenario: { kind: "error", error: "unavailable" }, kind: FailureKind.OVERLOADED, code: Code.Unavailable, status: 503, fallsBack: true },
  { name: "504 DEADLINE_EXCEEDED", scenario: { kind: "error", error: "deadline_exceeded" }, kind: FailureKind.TIMEOUT, code: Code.DeadlineExceeded, status: 504, fallsBack: true },
  { name: "200 with promptFeedback.blockReason", scenario: { kind: "prompt_blocked", blockReason: "PROHIBITED_CONTENT" }, kind: FailureKind.CONTENT_FILTERED, code: Code.InvalidArgument, status: 200, fallsBack: false },
  { name: "connection reset before answering", scenario: { kind: "disconnect" }, kind: FailureKind.NETWORK, code: Code.Unavailable, status: 0, fallsBack: true },
];

const statusName = (c: Code) => codeName(c).replace(/[A-Z]/g, (ch, k: number) => (k ? "_" : "") + ch.toLowerCase());

describe("gemini: failures, alone on their route", () => {
  for (const [i, f] of FAILURES.entries()) {
    const protocol = i % 2 === 0 ? "connect" : "grpc";
    test(`${f.name} → ${codeName(f.code)} / ${enumName(FailureKind, f.kind)} (${protocol})`, async () => {
      const t = await gws.start();
      fake.script(f.scenario);
      const { err, info } = await rejection(clientFor(t, protocol).chat.complete({ model: "gemini", messages: [user("fail please")] }));
      assert.equal(codeName(err.code), codeName(f.code));
      assert.notEqual(err.code, Code.Unauthenticated);
      assert.equal(info.failureKind, f.kind);
      assert.equal(info.attempts.length, 1);
      const a = info.attempts[0];
      assert.deepEqual([a.deployment, a.outcome, a.failureKind, a.httpStatus], ["gemini/flash", FAILED, f.kind, f.status]);
      assert.ok(a.errorMessage.length > 0);
      assert.equal(fake.requests.length, 1, "no retry with max_retries 0");
      assert.equal(info.retryAfterMs, f.retryAfterMs);
      if (f.retryAfterMs !== undefined) assert.equal(err.metadata.get("retry-after"), String(Math.ceil(f.retryAfterMs / 1000)));
      const rec = await lastRecord(t, "gemini");
      assert.equal(rec.status, statusName(f.code));
    });
  }

  test("Stream: a blocked prompt (200 + promptFeedback) is content-filtered, before any event", async () => {
    const t = await gws.start();
    fake.script({ kind: "prompt_blocked", blockReason: "SAFETY" });
    const s = await collect(clientFor(t).chat.stream({ model: "gemini", messages: [user("blocked")] }));
    assert.equal(s.events.length, 0);
    assert.equal(s.error?.code, Code.InvalidArgument);
    const { info } = details(s.error);
    assert.equal(info.failureKind, FailureKind.CONTENT_FILTERED);
    assert.match(info.attempts[0].errorMessage, /prompt blocked \(SAFETY\)/);
  });

  test(
    "an upstream 499 CANCELLED that the caller did not ask for is not reported as canceled, and falls back",
    {
    },
    async () => {
      const t = await gws.start();
      fake.script([{ kind: "error", error: "cancelled" }, { kind: "error", error: "cancelled" }]);
      const { err } = await rejection(clientFor(t).chat.complete({ model: "gemini", messages: [user("hi")] }));
      assert.notEqual(err.code, Code.Canceled);
      const res = await clientFor(t).chat.complete({ model: "gemini-fallback", messages: [user("hi")] });
      assert.equal(res.deployment, "backup/mock");
    },
  );
});

describe("gemini: failures on a route with a mock fallback", () => {
  for (const [i, f] of FAILURES.entries()) {
    const protocol = i % 2 === 0 ? "grpc" : "connect";
    test(`${f.name} ${f.fallsBack ? "falls back" : "does not fall back"} (Stream, ${protocol})`, async () => {
      const t = await gws.start();
      fake.script(f.scenario);
      const t0 = performance.now();
      const s = await collect(clientFor(t, protocol).chat.stream({ model: "gemini-fallback", messages: [user("fail please")] }));
      assert.equal(fake.requests.length, 1);
      if (f.fallsBack) {
        assert.equal(s.error, undefined, s.error?.message);
        assert.equal(s.start?.deployment, "backup/mock");
        assert.equal(s.text, "backup answer");
        assert.deepEqual(attemptSummary(s.finish!.attempts), [
          ["gemini/flash", FAILED, f.kind],
          ["backup/mock", OK, FailureKind.UNSPECIFIED],
        ]);
        assert.equal(s.finish!.attempts[0].httpStatus, f.status);
        assert.equal(s.finish!.attempts[1].reason, `fallback after ${enumName(FailureKind, f.kind).toLowerCase()} from gemini/flash`);
        // A long retry-after is spent on the next candidate, not waited for.
        assert.ok(performance.now() - t0 < 600);
      } else {
        assert.equal(s.events.length, 0);
        assert.ok(s.error);
        const { info } = details(s.error);
        assert.equal(codeName(s.error.code), codeName(f.code));
        assert.equal(info.failureKind, f.kind);
        assert.deepEqual(attemptSummary(info.attempts), [["gemini/flash", FAILED, f.kind]]);
      }
    });
  }

  test("Complete: a blocked prompt does not fall back, even with retries configured", async () => {
    const t = await gws.start();
    fake.script({ kind: "prompt_blocked" });
    const { err, info } = await rejection(clientFor(t).chat.complete({ model: "gemini-fallback-retry", messages: [user("blocked")] }));
    assert.equal(err.code, Code.InvalidArgument);
    assert.equal(info.failureKind, FailureKind.CONTENT_FILTERED);
    assert.deepEqual(attemptSummary(info.attempts), [["gemini/flash", FAILED, FailureKind.CONTENT_FILTERED]]);
    assert.equal(fake.requests.length, 1);
  });

  test("an in-band error chunk after the 200, before any content, falls back", async () => {
    const t = await gws.start();
    fake.script({ kind: "stream_error", afterDeltas: 0, error: "unavailable" });
    const s = await collect(clientFor(t).chat.stream({ model: "gemini-fallback", messages: [user("hi")] }));
    assert.equal(s.error, undefined, s.error?.message);
    assert.equal(s.start?.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["gemini/flash", FAILED, FailureKind.OVERLOADED]]);
  });

  test("an empty 200 stream (no chunk at all) is stream_interrupted and falls back", async () => {
    const t = await gws.start();
    fake.script({ kind: "text", text: "never seen", interrupt: { afterEvents: 0 } });
    const s = await collect(clientFor(t).chat.stream({ model: "gemini-fallback", messages: [user("hi")] }));
    assert.equal(s.error, undefined, s.error?.message);
    assert.equal(s.start?.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["gemini/flash", FAILED, FailureKind.STREAM_INTERRUPTED]]);
  });

  test("a connection reset inside the first chunk falls back", async () => {
    const t = await gws.start();
    fake.script({ kind: "text", text: "never seen", interrupt: { afterBytes: 20, how: "destroy" } });
    const s = await collect(clientFor(t, "grpc").chat.stream({ model: "gemini-fallback", messages: [user("hi")] }));
    assert.equal(s.error, undefined, s.error?.message);
    assert.equal(s.start?.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["gemini/flash", FAILED, FailureKind.NETWORK]]);
  });

  test("no first token within first_token_ms (headers sent, body late) falls back", async () => {
    const t = await gws.start();
    fake.script({ kind: "text", text: "too late", bodyDelayMs: 3000 });
    const t0 = performance.now();
    const s = await collect(clientFor(t).chat.stream({ model: "gemini-fallback", messages: [user("hi")] }));
    assert.ok(performance.now() - t0 < 1500);
    assert.equal(s.error, undefined, s.error?.message);
    assert.equal(s.start?.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["gemini/flash", FAILED, FailureKind.TIMEOUT]]);
  });

  test("Complete: a hanging upstream times out on attempt_ms and falls back", async () => {
    const t = await gws.start();
    fake.script({ kind: "hang" });
    const t0 = performance.now();
    const res = await clientFor(t, "grpc").chat.complete({ model: "gemini-fallback", messages: [user("hi")] });
    assert.ok(performance.now() - t0 < 1500);
    assert.equal(res.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(res.attempts), [
      ["gemini/flash", FAILED, FailureKind.TIMEOUT],
      ["backup/mock", OK, FailureKind.UNSPECIFIED],
    ]);
  });

  test("Complete: a malformed 200 body is a server_error and falls back", async () => {
    const t = await gws.start();
    fake.script({ kind: "malformed" });
    const res = await clientFor(t).chat.complete({ model: "gemini-fallback", messages: [user("hi")] });
    assert.equal(res.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(res.attempts)[0], ["gemini/flash", FAILED, FailureKind.SERVER_ERROR]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("gemini: 429 with RetryInfo", () => {
  test("a short RetryInfo delay is waited for, then the same deployment is retried", async () => {
    const t = await gws.start();
    fake.script([{ kind: "error", error: "rate_limit", retryDelay: "0.06s" }, { kind: "text", text: "after the wait" }]);
    const res = await clientFor(t).chat.complete({ model: "gemini-retry", messages: [user("hi")] });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["after the wait"]);
    assert.deepEqual(attemptSummary(res.attempts), [
      ["gemini/flash", FAILED, FailureKind.RATE_LIMITED],
      ["gemini/flash", OK, FailureKind.UNSPECIFIED],
    ]);
    assert.equal(res.attempts[0].retryAfterMs, 60);
    assert.equal(res.attempts[1].reason, "retry 1 after rate_limited (retry-after 60 ms)");
    const ms = (a: (typeof res.attempts)[number]) => Number(a.startTime!.seconds) * 1000 + a.startTime!.nanos / 1e6;
    const gap = ms(res.attempts[1]) - ms(res.attempts[0]);
    assert.ok(gap >= 55, `retried after ${gap} ms, before the 60 ms RetryInfo delay`);
    assert.equal(fake.requests.length, 2);
  });

  test("a RetryInfo delay above max_retry_after_ms is not waited for: resource_exhausted with the delay", async () => {
    const t = await gws.start();
    fake.script({ kind: "error", error: "rate_limit", retryDelay: "2s" });
    const t0 = performance.now();
    const { err, info } = await rejection(clientFor(t, "grpc").chat.complete({ model: "gemini-retry", messages: [user("hi")] }));
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(err.code, Code.ResourceExhausted);
    assert.equal(info.retryAfterMs, 2000);
    assert.equal(err.metadata.get("retry-after"), "2");
    assert.equal(fake.requests.length, 1);
  });

  test("with a fallback, a retry-after far above the base delay moves on at once", async () => {
    const t = await gws.start();
    fake.script({ kind: "error", error: "rate_limit", retryDelay: "3s" });
    const t0 = performance.now();
    const res = await clientFor(t).chat.complete({ model: "gemini-fallback-retry", messages: [user("hi")] });
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(res.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(res.attempts), [
      ["gemini/flash", FAILED, FailureKind.RATE_LIMITED],
      ["backup/mock", OK, FailureKind.UNSPECIFIED],
    ]);
    assert.equal(res.attempts[0].retryAfterMs, 3000);
  });
});

// ---------------------------------------------------------------------------------------------

describe("gemini: failures after the commit point", () => {
  const cases: { name: string; scenario: GeminiScenario; kind: FailureKind; deltas: number; chars: number; text: string }[] = [
    {
      // chunkDelayMs: each chunk in its own network read, so the content reaches the gateway before the error.
      name: "an in-band error chunk after two text chunks",
      scenario: { kind: "stream_error", text: "alpha beta gamma delta", afterDeltas: 2, error: "unavailable", chunkDelayMs: 15 },
      kind: FailureKind.OVERLOADED,
      deltas: 2,
      chars: 11,
      text: "alpha beta ",
    },
    {
      name: "a raw (un-prefixed) error object after two text chunks",
      scenario: { kind: "stream_error", text: "alpha beta gamma delta", afterDeltas: 2, error: "internal", style: "raw", chunkDelayMs: 15 },
      kind: FailureKind.STREAM_INTERRUPTED,
      deltas: 2,
      chars: 11,
      text: "alpha beta ",
    },
    {
      name: "a stream that ends cleanly without a finishReason",
      scenario: { kind: "text", text: "alpha beta gamma delta", interrupt: { afterEvents: 2 } },
      kind: FailureKind.STREAM_INTERRUPTED,
      deltas: 2,
      chars: 11,
      text: "alpha beta ",
    },
    {
      name: "a connection reset mid-stream",
      scenario: { kind: "text", text: "alpha beta gamma delta", interrupt: { afterEvents: 2, how: "destroy" } },
      kind: FailureKind.NETWORK,
      deltas: 2,
      chars: 11,
      text: "alpha beta ",
    },
    {
      name: "a malformed chunk after the first one",
      scenario: { kind: "malformed", chunkDelayMs: 15 },
      kind: FailureKind.SERVER_ERROR,
      deltas: 1,
      chars: 6,
      text: "Echo: ",
    },
  ];
  for (const [i, c] of cases.entries()) {
    const protocol = i % 2 === 0 ? "connect" : "grpc";
    test(`${c.name} ends the stream with unavailable, delivered counts and recorded usage (${protocol})`, async () => {
      const t = await gws.start();
      fake.script(c.scenario);
      const s = await collect(clientFor(t, protocol).chat.stream({ model: "gemini-fallback", messages: [user("mid-stream")] }));
      assert.equal(fake.requests.length, 1, "committed: no fallback after content");
      assert.equal(s.start?.deployment, "gemini/flash");
      assert.equal(s.text, c.text);
      assert.equal(s.finish, undefined);
      assert.ok(s.error, "the stream must end with an error");
      const { info } = details(s.error);
      assert.equal(codeName(s.error.code), "Unavailable");
      assert.equal(info.failureKind, c.kind);
      assert.equal(info.deliveredDeltas, s.deltas, "counts the delta messages received");
      assert.equal(info.deliveredChars, c.chars);
      assert.deepEqual(attemptSummary(info.attempts), [["gemini/flash", FAILED, c.kind]]);
      assert.ok(info.usage && info.usage.inputTokens > 0n && info.usage.outputTokens > 0n, "usage billed up to the failure");
      assert.ok(info.cost && info.cost.totalNanoUsd > 0n);

      const rec = await lastRecord(t, "gemini-fallback");
      assert.equal(rec.status, "unavailable");
      assert.equal(rec.deployment, "gemini/flash");
      assert.equal(rec.failureKind, enumName(FailureKind, c.kind).toLowerCase());
      assert.ok(rec.usage.inputTokens > 0 && rec.usage.outputTokens > 0);
      assert.equal(rec.cost.total, Number(info.cost!.totalNanoUsd));
      assert.equal(rec.attempts.length, 1);
    });
  }

  test("after the commit point, a silence longer than idle_ms ends the stream with deadline_exceeded / timeout", async () => {
    const t = await gws.start();
    fake.script({ kind: "text", text: "alpha beta gamma", chunkDelayMs: 1000 });
    const t0 = performance.now();
    const s = await collect(clientFor(t).chat.stream({ model: "gemini-idle", messages: [user("slow")] }));
    assert.ok(performance.now() - t0 < 900, "ended by the idle timer, not by the upstream");
    assert.equal(s.start?.deployment, "gemini/flash");
    assert.equal(s.text, "alpha ", "the first chunk, then silence");
    const { info } = details(s.error);
    assert.equal(s.error?.code, Code.DeadlineExceeded);
    assert.equal(info.failureKind, FailureKind.TIMEOUT);
    assert.equal(info.deliveredDeltas, 1);
    assert.equal(info.deliveredChars, 6);
    assert.equal(fake.requests.length, 1, "no fallback after content");
  });
});

// ---------------------------------------------------------------------------------------------

describe("gemini: the gateway's own credentials", () => {
  test("a rejected gateway key (real 400 API_KEY_INVALID) is unavailable / upstream_auth, never unauthenticated or invalid_argument", async () => {
    const t = await gws.start();
    for (const protocol of ["connect", "grpc"] as const) {
      const { err, info } = await rejection(clientFor(t, protocol).chat.complete({ model: "wrong-key", messages: [user("hi")] }));
      assert.equal(err.code, Code.Unavailable);
      assert.equal(info.failureKind, FailureKind.UPSTREAM_AUTH);
      assert.equal(info.attempts[0].httpStatus, 400);
      assert.ok(!err.message.includes(WRONG_KEY), "the key must not leak into the message");
      assert.ok(!info.attempts[0].errorMessage.includes(WRONG_KEY));
    }
    assert.equal(fake.requests[0].headers["x-goog-api-key"], WRONG_KEY);
    assert.equal(fake.requests[0].status, 400);
  });

  test("with a fallback, a rejected gateway key moves on to the next deployment", async () => {
    const t = await gws.start();
    const s = await collect(clientFor(t).chat.stream({ model: "wrong-key-fallback", messages: [user("hi")] }));
    assert.equal(s.error, undefined);
    assert.equal(s.start?.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["gemini/wrong-key", FAILED, FailureKind.UPSTREAM_AUTH]]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("gemini: the caller's deadline", () => {
  for (const protocol of ["connect", "grpc"] as const) {
    test(`${protocol}: a hanging upstream with a 300 ms client timeout ends quickly with deadline_exceeded (Complete and Stream)`, async () => {
      const t = await gws.start();
      fake.setDefault({ kind: "hang" });
      const c = clientFor(t, protocol, 300);
      const t0 = performance.now();
      const err = await errorOf(c.chat.complete({ model: "gemini", messages: [user("wait")] }));
      assert.equal(codeName(err.code), "DeadlineExceeded");
      const s = await collect(c.chat.stream({ model: "gemini", messages: [user("wait")] }));
      assert.equal(codeName(s.error!.code), "DeadlineExceeded");
      assert.equal(s.events.length, 0);
      assert.ok(performance.now() - t0 < 2000, "both calls end near their 300 ms deadline");
      await waitFor(() => (t.gw.core.exec.health.snapshot().get("gemini/flash")?.inFlight === 0 ? true : undefined));
      const recs = await waitFor(() => {
        const r = t.usage.recent().filter((x) => x.model === "gemini");
        return r.length === 2 ? r : undefined;
      });
      assert.deepEqual(
        recs.map((r) => [r.status, r.attempts[0]?.outcome]),
        [
          ["deadline_exceeded", "canceled"],
          ["deadline_exceeded", "canceled"],
        ],
      );
    });
  }
});
