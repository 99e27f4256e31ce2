// The official `@google/genai` SDK pointed at the gateway's Gemini door
// (/v1beta/models/{model}:generateContent, :streamGenerateContent, :countTokens), over a real
// socket, routed to fake OpenAI, Anthropic and Gemini upstreams: unary and streamed text through
// every provider with usageMetadata equal to the usage record, the request's parts mapped
// (system instruction, generationConfig, an OpenAPI-typed function declaration as JSON Schema,
// toolConfig), a function-calling round trip, structured output, log probabilities, a fallback the
// SDK never notices, countTokens, the three ways of presenting a key, and the SDK's ApiError
// with google.rpc.Status codes for bad fields (which reach no provider), unknown models and keys.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { ApiError, FinishReason, FunctionCallingConfigMode, GoogleGenAI, Type, type GenerateContentResponse } from "@google/genai";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { GEMINI_TEST_KEY, startFakeGemini, type FakeGemini } from "../fakes/gemini.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, tokenLogprobJson, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "genai", "team", "a"].join("_");

let gpt: FakeOpenAI;
let claude: FakeAnthropic;
let gemini: FakeGemini;
let t: TestGateway;
let ai: GoogleGenAI;

before(async () => {
  [gpt, claude, gemini] = await Promise.all([startFakeOpenAI(), startFakeAnthropic(), startFakeGemini()]);
  t = await startTestGateway(`
providers:
  - { name: openai, type: openai, base_url: "${gpt.url}", api_key: ${OPENAI_TEST_KEY} }
  - { name: anthropic, type: anthropic, base_url: "${claude.url}", api_key: ${ANTHROPIC_TEST_KEY} }
  - { name: gemini, type: gemini, base_url: "${gemini.origin}", api_key: ${GEMINI_TEST_KEY} }
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: claude/sonnet, provider: anthropic, model: claude-sonnet-4-5-20250929, pricing: { input: 3, output: 15 } }
  - { id: gemini/flash, provider: gemini, model: gemini-2.5-flash, pricing: { input: 0.3, output: 2.5 } }
routes:
  - { name: gpt, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
  - { name: claude, targets: [claude/sonnet], retry: { max_retries: 0 } }
  - { name: gemini, targets: [gemini/flash], retry: { max_retries: 0 } }
  - { name: gpt-then-claude, targets: [openai/gpt-4o, claude/sonnet], retry: { max_retries: 0 } }
keys:
  - { name: team-a, hash: "${hashKey(KEY)}", team: a, role: team }
`);
  ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: t.url, apiVersion: "v1beta" } });
});
after(async () => {
  await t.close();
  await Promise.all([gpt.close(), claude.close(), gemini.close()]);
});
beforeEach(() => {
  gpt.reset();
  claude.reset();
  gemini.reset();
});

const lastRecord = (): UsageRecord => {
  const r = t.usage.recent();
  return r[r.length - 1];
};
const lastBody = (f: { requests: { body: unknown }[] }) => f.requests.at(-1)!.body as Record<string, any>;

async function collect(s: AsyncGenerator<GenerateContentResponse>): Promise<GenerateContentResponse[]> {
  const out: GenerateContentResponse[] = [];
  for await (const c of s) out.push(c);
  return out;
}

/** usageMetadata is the usage record's (candidates exclude thinking, which thoughtsTokenCount holds). */
function assertUsage(u: GenerateContentResponse["usageMetadata"], rec: UsageRecord) {
  assert.equal(u?.promptTokenCount ?? 0, rec.usage.inputTokens);
  assert.equal((u?.candidatesTokenCount ?? 0) + (u?.thoughtsTokenCount ?? 0), rec.usage.outputTokens);
  assert.equal(u?.totalTokenCount, rec.usage.inputTokens + rec.usage.outputTokens);
}

test("models.list and models.get read the models the key may name, in Gemini's shape", async () => {
  const names: string[] = [];
  const pager = await ai.models.list();
  for await (const m of pager) {
    names.push(m.name!);
    if (m.name === "models/claude") {
      assert.ok((m.inputTokenLimit ?? 0) > 0);
      assert.deepEqual(m.supportedActions, ["generateContent", "streamGenerateContent", "countTokens"]);
    }
  }
  assert.ok(names.includes("models/claude") && names.includes("models/gpt"), names.join(", "));
  const one = await ai.models.get({ model: "gemini" });
  assert.equal(one.name, "models/gemini");
  await assert.rejects(ai.models.get({ model: "no-such-model" }), (e: Error & { status?: number }) => {
    assert.equal(e.status, 404);
    return true;
  });
});

describe("generateContent and generateContentStream through every provider", () => {
  const routes = [
    // Deltas a few milliseconds apart arrive in separate reads, and so leave in separate chunks.
    { model: "gpt", deployment: "openai/gpt-4o", script: (text: string) => gpt.script({ kind: "text", text, usage: { input: 12, output: 5 }, chunkDelayMs: 2 }) },
    { model: "claude", deployment: "claude/sonnet", script: (text: string) => claude.script({ kind: "text", text, usage: { input: 12, output: 5 }, chunkDelayMs: 2 }) },
    { model: "gemini", deployment: "gemini/flash", script: (text: string) => gemini.script({ kind: "text", text, usage: { input: 12, output: 5 }, chunkDelayMs: 2 }) },
  ];
  for (const r of routes) {
    test(`unary via ${r.model}: text, STOP, usage = usage record, the gateway's headers`, async () => {
      r.script("Hello from upstream.");
      const res = await ai.models.generateContent({ model: r.model, contents: "hi there" });
      assert.equal(res.text, "Hello from upstream.");
      assert.equal(res.candidates?.[0].finishReason, FinishReason.STOP);
      const rec = lastRecord();
      assert.equal(rec.deployment, r.deployment);
      assert.deepEqual(rec.metadata, { door: "gemini" });
      assert.equal(rec.streamed, false);
      assert.equal(res.responseId, rec.id);
      assert.equal(res.sdkHttpResponse?.headers?.["x-signalbox-deployment"], r.deployment);
      assertUsage(res.usageMetadata, rec);
    });

    test(`stream via ${r.model}: the text in order, finishReason and usage on the last chunk`, async () => {
      r.script("Streamed from upstream, word by word.");
      const chunks = await collect(await ai.models.generateContentStream({ model: r.model, contents: "stream please" }));
      assert.equal(chunks.map((c) => c.text ?? "").join(""), "Streamed from upstream, word by word.");
      assert.ok(chunks.length > 2, `${chunks.length} chunks`);
      const last = chunks.at(-1)!;
      assert.equal(last.candidates?.[0].finishReason, FinishReason.STOP);
      assert.ok(chunks.slice(0, -1).every((c) => c.candidates?.[0].finishReason === undefined));
      const rec = lastRecord();
      assert.equal(rec.streamed, true);
      assertUsage(last.usageMetadata, rec);
    });
  }
});

describe("what reaches the provider", () => {
  test("system instruction, generationConfig, an OpenAPI-typed function as JSON Schema, ANY with one name", async () => {
    gpt.script({ kind: "tool_calls", calls: [{ name: "get_weather", arguments: { city: "Zürich" }, id: "call_w1" }] });
    const res = await ai.models.generateContent({
      model: "gpt",
      contents: [{ role: "user", parts: [{ text: "Weather in Zürich?" }] }],
      config: {
        systemInstruction: "Be terse.",
        temperature: 0.2,
        topP: 0.9,
        maxOutputTokens: 200,
        stopSequences: ["END"],
        seed: 7,
        tools: [{ functionDeclarations: [{ name: "get_weather", description: "Weather for a city", parameters: { type: Type.OBJECT, properties: { city: { type: Type.STRING }, days: { type: Type.INTEGER, nullable: true } }, required: ["city"] } }] }],
        toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: ["get_weather"] } },
      },
    });
    const sent = lastBody(gpt);
    assert.deepEqual(sent.messages, [
      { role: "system", content: "Be terse." },
      { role: "user", content: "Weather in Zürich?" },
    ]);
    assert.equal(sent.temperature, 0.2);
    assert.equal(sent.top_p, 0.9);
    assert.equal(sent.max_completion_tokens ?? sent.max_tokens, 200);
    assert.deepEqual(sent.stop, ["END"]);
    assert.equal(sent.seed, 7);
    assert.deepEqual(sent.tools[0].function.parameters, { type: "object", properties: { city: { type: "string" }, days: { type: ["integer", "null"] } }, required: ["city"] });
    assert.deepEqual(sent.tool_choice, { type: "function", function: { name: "get_weather" } });
    // The call comes back as a functionCall part with its id and parsed args.
    assert.deepEqual(res.functionCalls, [{ id: "call_w1", name: "get_weather", args: { city: "Zürich" } }]);
    assert.equal(res.candidates?.[0].finishReason, FinishReason.STOP);
  });

  test("a function-calling round trip: the model turn's call and the user turn's functionResponse become a tool call and its result", async () => {
    gpt.script({ kind: "text", text: "It is sunny." });
    const res = await ai.models.generateContent({
      model: "gpt",
      contents: [
        { role: "user", parts: [{ text: "Weather in Zürich?" }] },
        { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: "Zürich" } } }] },
        { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { forecast: "sunny" } } }] },
      ],
      config: { tools: [{ functionDeclarations: [{ name: "get_weather", parametersJsonSchema: { type: "object", properties: { city: { type: "string" } } } }] }] },
    });
    assert.equal(res.text, "It is sunny.");
    const msgs = lastBody(gpt).messages;
    assert.equal(msgs[1].role, "assistant");
    assert.equal(msgs[1].tool_calls[0].function.name, "get_weather");
    assert.deepEqual(JSON.parse(msgs[1].tool_calls[0].function.arguments), { city: "Zürich" });
    assert.deepEqual(msgs[2], { role: "tool", tool_call_id: msgs[1].tool_calls[0].id, content: JSON.stringify({ forecast: "sunny" }) });
  });

  test("streamed function call: one functionCall part, whole, on the last chunk", async () => {
    gpt.script({ kind: "tool_calls", calls: [{ name: "get_weather", arguments: { city: "Bern" }, id: "call_s1" }] });
    const chunks = await collect(
      await ai.models.generateContentStream({ model: "gpt", contents: "Weather in Bern?", config: { tools: [{ functionDeclarations: [{ name: "get_weather", parametersJsonSchema: { type: "object" } }] }] } }),
    );
    const calls = chunks.flatMap((c) => c.functionCalls ?? []);
    assert.deepEqual(calls, [{ id: "call_s1", name: "get_weather", args: { city: "Bern" } }]);
  });

  test("structured output: responseMimeType with responseJsonSchema is a json_schema response format", async () => {
    gpt.script({ kind: "json", value: { city: "Paris" } });
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
    const res = await ai.models.generateContent({ model: "gpt", contents: "capital of France as JSON", config: { responseMimeType: "application/json", responseJsonSchema: schema } });
    assert.deepEqual(JSON.parse(res.text!), { city: "Paris" });
    const rf = lastBody(gpt).response_format;
    assert.equal(rf.type, "json_schema");
    assert.deepEqual(rf.json_schema.schema, schema);
  });

  test("log probabilities: responseLogprobs and logprobs become logprobs and top_logprobs; logprobsResult comes back", async () => {
    gpt.script({ kind: "text", text: ["Paris", " is", " nice"] });
    const res = await ai.models.generateContent({ model: "gpt", contents: "capital?", config: { responseLogprobs: true, logprobs: 2 } });
    assert.equal(lastBody(gpt).logprobs, true);
    assert.equal(lastBody(gpt).top_logprobs, 2);
    const r = res.candidates![0].logprobsResult!;
    const want = ["Paris", " is", " nice"].map((tok) => tokenLogprobJson(tok, 2) as { token: string; logprob: number; top_logprobs: { token: string; logprob: number }[] });
    assert.deepEqual(
      r.chosenCandidates!.map((c) => [c.token, c.logProbability]),
      want.map((w) => [w.token, w.logprob]),
    );
    assert.deepEqual(
      r.topCandidates!.map((s) => s.candidates!.map((c) => c.token)),
      want.map((w) => w.top_logprobs.map((x) => x.token)),
    );
  });

  test("a fallback the SDK never sees: the first deployment fails, the second answers", async () => {
    gpt.script({ kind: "error", error: "server_error" });
    claude.script({ kind: "text", text: "From the backup." });
    const res = await ai.models.generateContent({ model: "gpt-then-claude", contents: "hi" });
    assert.equal(res.text, "From the backup.");
    assert.deepEqual(lastRecord().attempts.map((a) => `${a.deployment}:${a.outcome}`), ["openai/gpt-4o:failed", "claude/sonnet:succeeded"]);
  });

  test("countTokens: the router's count for the first deployment; no provider is called", async () => {
    const res = await ai.models.countTokens({ model: "gpt", contents: "count these few tokens please" });
    assert.ok((res.totalTokens ?? 0) > 3, String(res.totalTokens));
    assert.equal(gpt.requests.length, 0);
  });
});

describe("keys and errors", () => {
  test("the key as x-goog-api-key (the SDK's way), as ?key= and as a Bearer token", async () => {
    gpt.setDefault({ kind: "text", text: "ok" });
    const url = `${t.url}/v1beta/models/gpt:generateContent`;
    const body = JSON.stringify({ contents: [{ parts: [{ text: "hi" }] }] });
    for (const [u, headers] of [
      [`${url}?key=${KEY}`, {}],
      // The v1 path (another apiVersion of the SDK) is the same door.
      [`${t.url}/v1/models/gpt:generateContent`, { "x-goog-api-key": KEY }],
      [url, { authorization: `Bearer ${KEY}` }],
      [url, { "x-goog-api-key": KEY }],
    ] as const) {
      const res = await fetch(u, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
      assert.equal(res.status, 200, u);
      assert.equal(((await res.json()) as { candidates: { content: { parts: { text: string }[] } }[] }).candidates[0].content.parts[0].text, "ok");
    }
    const anon = new GoogleGenAI({ apiKey: "wrong-key", httpOptions: { baseUrl: t.url, apiVersion: "v1beta" } });
    await assert.rejects(anon.models.generateContent({ model: "gpt", contents: "hi" }), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.status, 401);
      assert.match(e.message, /UNAUTHENTICATED/);
      assert.doesNotMatch(e.message, /wrong-key/);
      return true;
    });
  });

  test("candidateCount: each candidate is its own call (Gemini upstream), indexed, usage summed, one record each", async () => {
    gemini.script([
      { kind: "text", text: "first take", usage: { input: 8, output: 2 } },
      { kind: "text", text: "second take", usage: { input: 8, output: 3 } },
    ]);
    const r = await ai.models.generateContent({ model: "gemini", contents: "Two takes", config: { candidateCount: 2, seed: 5 } });
    assert.deepEqual(
      r.candidates?.map((c) => c.index),
      [0, 1],
    );
    assert.deepEqual(new Set(r.candidates?.map((c) => c.content?.parts?.[0]?.text)), new Set(["first take", "second take"]));
    assert.equal(r.usageMetadata?.promptTokenCount, 16);
    assert.equal(r.usageMetadata?.candidatesTokenCount, 5);
    assert.equal(gemini.requests.length, 2);
    assert.ok(gemini.requests.every((q) => (q.body as { generationConfig?: { candidateCount?: number } }).generationConfig?.candidateCount === undefined), "each upstream call asks for one candidate");
    const recs = t.usage.recent().filter((x) => x.id === r.responseId || x.id === `${r.responseId}-1`);
    assert.equal(recs.length, 2);
  });

  test("candidateCount streamed: each candidate's chunks with its index, the last chunk's usage the request's", async () => {
    gemini.script([
      { kind: "text", text: ["red ", "fish"], usage: { input: 6, output: 2 } },
      { kind: "text", text: ["blue ", "fish"], usage: { input: 6, output: 3 } },
    ]);
    const chunks = await collect(await ai.models.generateContentStream({ model: "gemini", contents: "Two fish", config: { candidateCount: 2 } }));
    const text = ["", ""];
    const finish: (string | undefined)[] = [undefined, undefined];
    for (const c of chunks) {
      for (const cand of c.candidates ?? []) {
        const i = cand.index ?? 0;
        assert.ok(i === 0 || i === 1);
        assert.equal(finish[i], undefined, "nothing after a candidate's finish");
        text[i] += (cand.content?.parts ?? []).map((p) => p.text ?? "").join("");
        if (cand.finishReason) finish[i] = cand.finishReason;
      }
    }
    assert.deepEqual(new Set(text), new Set(["red fish", "blue fish"]));
    assert.deepEqual(finish, [FinishReason.STOP, FinishReason.STOP]);
    const last = chunks.at(-1)!.usageMetadata;
    assert.equal(last?.promptTokenCount, 12);
    assert.equal(last?.candidatesTokenCount, 5);
    assert.equal(gemini.requests.length, 2);
  });

  test("bad fields are 400 INVALID_ARGUMENT naming the field, and reach no provider; an unknown model is 404", async () => {
    const cases: [Parameters<GoogleGenAI["models"]["generateContent"]>[0], RegExp][] = [
      [{ model: "gpt", contents: "x", config: { candidateCount: 17 } }, /generation_config\.candidate_count/],
      [{ model: "gpt", contents: "x", config: { tools: [{ googleSearchRetrieval: {} }] } }, /tools\[0\]\.google_search_retrieval/],
      [{ model: "gpt", contents: "x", config: { tools: [{ googleSearch: { timeRangeFilter: { startTime: "2026-02-01T00:00:00Z", endTime: "2026-01-01T00:00:00Z" } } }] } }, /tools\[0\]\.google_search\.time_range_filter\.end_time: must not be before start_time/],
      [{ model: "gpt", contents: "x", config: { tools: [{ googleSearch: { timeRangeFilter: { startTime: "last week" } } }] } }, /tools\[0\]\.google_search\.time_range_filter\.start_time: must be an RFC 3339 timestamp/],
      [{ model: "gpt", contents: [{ role: "user", parts: [{ fileData: { fileUri: "https://generativelanguage.googleapis.com/v1beta/files/abc", mimeType: "application/pdf" } }] }] }, /contents\[0\]\.parts\[0\]\.file_data/],
      [{ model: "gpt", contents: [{ role: "user", parts: [{ functionResponse: { name: "nobody", response: {} } }] }] }, /contents\[0\]\.parts\[0\]\.function_response/],
      [{ model: "gpt", contents: "x", config: { temperature: 9 } }, /temperature/],
      [{ model: "gpt", contents: "x", config: { responseModalities: ["IMAGE"] } }, /response_modalities/],
    ];
    for (const [params, field] of cases) {
      await assert.rejects(ai.models.generateContent(params), (e: unknown) => {
        assert.ok(e instanceof ApiError, String(e));
        assert.equal(e.status, 400, e.message);
        assert.match(e.message, /INVALID_ARGUMENT/);
        assert.match(e.message, field);
        return true;
      });
    }
    assert.equal(gpt.requests.length, 0);
    await assert.rejects(ai.models.generateContent({ model: "no-such-model", contents: "x" }), (e: unknown) => e instanceof ApiError && e.status === 404 && /NOT_FOUND/.test(e.message));
  });

  test("a provider that fails mid-stream ends the stream with a google.rpc.Status chunk the SDK raises", async () => {
    gpt.script({ kind: "stream_error", text: "partial answer that breaks", afterDeltas: 2, error: "server_error" });
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const c of await ai.models.generateContentStream({ model: "gpt", contents: "hi" })) got.push(c.text ?? "");
      })(),
      (e: unknown) => e instanceof Error,
    );
    assert.ok(got.join("").length > 0, "the text before the failure was delivered");
    assert.equal(lastRecord().status !== "ok", true);
  });
});
