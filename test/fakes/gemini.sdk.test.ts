// Proves the fake Gemini server against the official `@google/genai` SDK (generateContent and
// generateContentStream): text, CRLF-framed SSE, function calls, prompt blocks, google.rpc errors, retries.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApiError, FinishReason, GoogleGenAI } from '@google/genai';
import type { GenerateContentResponse } from '@google/genai';
import { GEMINI_IMAGE_TOKENS, GEMINI_TEST_KEY, startFakeGemini } from './gemini.ts';
import type { FakeGemini, GeminiScenario } from './gemini.ts';

const MODEL = 'gemini-2.5-flash';
const functionDeclarations = [
  { name: 'get_weather', description: 'Current weather', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  { name: 'get_time', parametersJsonSchema: { type: 'object', properties: { tz: { type: 'string' } } } },
];

async function collect(stream: AsyncGenerator<GenerateContentResponse>): Promise<GenerateContentResponse[]> {
  const out = [];
  for await (const c of stream) out.push(c);
  return out;
}

describe('fake Gemini vs @google/genai', () => {
  let fake: FakeGemini;
  let ai: GoogleGenAI;
  before(async () => {
    fake = await startFakeGemini();
    // httpOptions.baseUrl replaces https://generativelanguage.googleapis.com/; the SDK's default apiVersion is 'v1'.
    ai = new GoogleGenAI({ apiKey: GEMINI_TEST_KEY, httpOptions: { baseUrl: fake.origin, apiVersion: 'v1beta' } });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test('generateContent: text, usage, modelVersion; key sent in x-goog-api-key', async () => {
    const res = await ai.models.generateContent({ model: MODEL, contents: 'hello there', config: { systemInstruction: 'Be terse.', temperature: 0.2, maxOutputTokens: 64 } });
    assert.equal(res.text, 'Echo: hello there');
    assert.equal(res.candidates?.[0].finishReason, FinishReason.STOP);
    assert.equal(res.modelVersion, MODEL);
    assert.ok((res.usageMetadata?.promptTokenCount ?? 0) > 0);
    assert.equal(res.usageMetadata?.totalTokenCount, (res.usageMetadata?.promptTokenCount ?? 0) + (res.usageMetadata?.candidatesTokenCount ?? 0));
    const [req] = fake.requests;
    assert.equal(req.path, `/v1beta/models/${MODEL}:generateContent`);
    assert.equal(req.headers['x-goog-api-key'], GEMINI_TEST_KEY);
    assert.equal(req.body.generationConfig.maxOutputTokens, 64);
    assert.deepEqual(req.body.systemInstruction.parts, [{ text: 'Be terse.' }]);
  });

  test("the SDK's default apiVersion (v1) is served too", async () => {
    const v1 = new GoogleGenAI({ apiKey: GEMINI_TEST_KEY, httpOptions: { baseUrl: fake.origin } });
    const res = await v1.models.generateContent({ model: MODEL, contents: 'v1 please' });
    assert.equal(res.text, 'Echo: v1 please');
    assert.equal(fake.requests[0].path, `/v1/models/${MODEL}:generateContent`);
  });

  test('generateContentStream: \\r\\n\\r\\n-framed events, cumulative usage, thoughts (hostile chunking)', async () => {
    fake.script({ kind: 'text', text: 'Grüße 🌍 aus Köln', thought: 'thinking hard', usage: { input: 20, cached: 5, output: 30, reasoning: 10 }, chunking: 'hostile' });
    const chunks = await collect(await ai.models.generateContentStream({ model: MODEL, contents: 'hi' }));
    assert.equal(chunks.map((c) => c.text ?? '').join(''), 'Grüße 🌍 aus Köln'); // .text skips thought parts
    const last = chunks.at(-1)!;
    assert.equal(last.candidates?.[0].finishReason, FinishReason.STOP);
    assert.ok(chunks.slice(0, -1).every((c) => c.candidates?.[0].finishReason === undefined));
    assert.equal(last.usageMetadata?.candidatesTokenCount, 20); // output excludes thoughts
    assert.equal(last.usageMetadata?.thoughtsTokenCount, 10);
    assert.equal(last.usageMetadata?.cachedContentTokenCount, 5);
    assert.equal(last.usageMetadata?.totalTokenCount, 50);
    assert.equal(fake.requests[0].query.alt, 'sse');
  });

  test('Gemini 3 style: finishReason on a final empty-text chunk with thoughtSignature', async () => {
    const chunks = await collect(await ai.models.generateContentStream({ model: 'gemini-3-pro-preview', contents: 'a b' }));
    const last = chunks.at(-1)!;
    assert.equal(last.candidates?.[0].finishReason, FinishReason.STOP);
    assert.equal(last.candidates?.[0].content?.parts?.[0].text, '');
    assert.ok(last.candidates?.[0].content?.parts?.[0].thoughtSignature);
    assert.equal(chunks.map((c) => c.text ?? '').join(''), 'Echo: a b');
  });

  test('two parallel function calls: unary and stream, finishReason STOP, no ids, signature on the first', async () => {
    const calls = [{ name: 'get_weather', arguments: { city: 'Zürich' } }, { name: 'get_time', arguments: { tz: 'CET' } }];
    fake.script([{ kind: 'tool_calls', calls }, { kind: 'tool_calls', calls }]);
    const config = { tools: [{ functionDeclarations }] };
    const res = await ai.models.generateContent({ model: MODEL, contents: 'weather+time', config });
    assert.deepEqual(res.functionCalls?.map((f) => [f.name, f.args, f.id]), [['get_weather', { city: 'Zürich' }, undefined], ['get_time', { tz: 'CET' }, undefined]]);
    assert.equal(res.candidates?.[0].finishReason, FinishReason.STOP);
    assert.ok(res.candidates?.[0].content?.parts?.[0].thoughtSignature);
    assert.equal(res.candidates?.[0].content?.parts?.[1].thoughtSignature, undefined);
    const chunks = await collect(await ai.models.generateContentStream({ model: MODEL, contents: 'weather+time', config }));
    assert.deepEqual(chunks.flatMap((c) => c.functionCalls ?? []).map((f) => f.name), ['get_weather', 'get_time']);
  });

  test('function responses round-trip; a missing functionResponse.name is a 400', async () => {
    const contents = [
      { role: 'user', parts: [{ text: 'weather?' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp_c: 21 } } }] },
    ];
    const res = await ai.models.generateContent({ model: MODEL, contents, config: { tools: [{ functionDeclarations }] } });
    assert.equal(res.text, 'Echo: {"temp_c":21}');
    assert.equal(fake.requests[0].body.contents[0].parts[1].inlineData.mimeType, 'image/png');
    const broken = structuredClone(contents);
    delete (broken[2].parts[0] as { functionResponse: { name?: string } }).functionResponse.name;
    await assert.rejects(ai.models.generateContent({ model: MODEL, contents: broken }), (e: unknown) => e instanceof ApiError && e.status === 400 && /function_response.name: Name cannot be empty/.test(e.message));
  });

  test('Gemini 3 requires the thoughtSignature on replayed function calls of the current turn', async () => {
    const contents = [
      { role: 'user', parts: [{ text: 'weather?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp_c: 21 } } }] },
    ];
    await assert.rejects(ai.models.generateContent({ model: 'gemini-3-pro-preview', contents }), (e: unknown) => e instanceof ApiError && /missing a thought_signature/.test(e.message));
    (contents[1].parts[0] as Record<string, unknown>).thoughtSignature = 'skip_thought_signature_validator';
    const res = await ai.models.generateContent({ model: 'gemini-3-pro-preview', contents });
    assert.equal(res.text, 'Echo: {"temp_c":21}');
  });

  test('JSON mode, output block (SAFETY) and MAX_TOKENS without content', async () => {
    const json = await ai.models.generateContent({ model: MODEL, contents: 'as json', config: { responseMimeType: 'application/json' } });
    assert.deepEqual(JSON.parse(json.text ?? ''), { echo: 'as json' });
    fake.script([{ kind: 'text', text: 'some', finishReason: 'SAFETY' }, { kind: 'text', text: '', finishReason: 'MAX_TOKENS', usage: { reasoning: 64 } }]);
    const chunks = await collect(await ai.models.generateContentStream({ model: MODEL, contents: 'x' }));
    const last = chunks.at(-1)!.candidates![0];
    assert.equal(last.finishReason, FinishReason.SAFETY);
    assert.equal(last.content, undefined);
    assert.ok(last.safetyRatings?.some((r) => r.blocked));
    const maxed = await ai.models.generateContent({ model: MODEL, contents: 'x' });
    assert.equal(maxed.candidates?.[0].finishReason, FinishReason.MAX_TOKENS);
    assert.equal(maxed.candidates?.[0].content, undefined);
    assert.equal(maxed.text, undefined);
  });

  test('prompt blocked: HTTP 200 with promptFeedback and no candidates', async () => {
    fake.script([{ kind: 'prompt_blocked' }, { kind: 'prompt_blocked', blockReason: 'PROHIBITED_CONTENT' }]);
    const res = await ai.models.generateContent({ model: MODEL, contents: 'bad' });
    assert.equal(res.promptFeedback?.blockReason, 'SAFETY');
    assert.equal(res.candidates, undefined);
    assert.equal(res.text, undefined);
    const chunks = await collect(await ai.models.generateContentStream({ model: MODEL, contents: 'bad' }));
    assert.equal(chunks.length, 1);
    assert.equal(chunks[0].promptFeedback?.blockReason, 'PROHIBITED_CONTENT');
  });

  test('errors: ApiError status and google.rpc.Status bodies (RetryInfo, API_KEY_INVALID, UNAVAILABLE)', async () => {
    const cases: Array<[GeminiScenario, number, RegExp]> = [
      [{ kind: 'error', error: 'rate_limit', retryDelay: '34s' }, 429, /"@type":"type\.googleapis\.com\/google\.rpc\.RetryInfo","retryDelay":"34s"/],
      [{ kind: 'error', error: 'unavailable' }, 503, /The model is overloaded\. Please try again later\./],
      [{ kind: 'error', error: 'context_length_exceeded' }, 400, /exceeds the maximum number of tokens allowed/],
      [{ kind: 'error', error: 'permission_denied' }, 403, /PERMISSION_DENIED/],
      [{ kind: 'error', error: 'internal' }, 500, /INTERNAL/],
      [{ kind: 'error', error: 'deadline_exceeded' }, 504, /DEADLINE_EXCEEDED/],
    ];
    for (const [scenario, status, re] of cases) {
      fake.script(scenario);
      await assert.rejects(ai.models.generateContent({ model: MODEL, contents: 'x' }), (e: unknown) => e instanceof ApiError && e.status === status && re.test(e.message));
    }
    const bad = new GoogleGenAI({ apiKey: 'wrong', httpOptions: { baseUrl: fake.origin, apiVersion: 'v1beta' } });
    await assert.rejects(bad.models.generateContent({ model: MODEL, contents: 'x' }), (e: unknown) => e instanceof ApiError && e.status === 400 && /API_KEY_INVALID/.test(e.message));
    await assert.rejects(ai.models.generateContent({ model: 'palm-2', contents: 'x' }), (e: unknown) => e instanceof ApiError && e.status === 404 && /models\/palm-2 is not found for API version v1beta/.test(e.message));
  });

  test('mid-stream errors: data: {"error":…} event and raw un-prefixed JSON', async () => {
    fake.script({ kind: 'stream_error', text: 'one two', afterDeltas: 1 });
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const c of await ai.models.generateContentStream({ model: MODEL, contents: 'x' })) got.push(c.text ?? '');
      })(),
      (e: unknown) => e instanceof ApiError && e.status === 503,
    );
    assert.deepEqual(got, ['one ']);
    fake.script({ kind: 'stream_error', text: 'one two', style: 'raw', chunkDelayMs: 5 });
    await assert.rejects(collect(await ai.models.generateContentStream({ model: MODEL, contents: 'x' })), (e: unknown) => e instanceof ApiError && e.status === 503);
  });

  test('truncation: a cut inside an event throws; a cut at an event boundary ends silently without finishReason', async () => {
    fake.script({ kind: 'text', text: 'a b c', interrupt: { afterBytes: 150 } });
    await assert.rejects(collect(await ai.models.generateContentStream({ model: MODEL, contents: 'x' })), /Incomplete JSON segment/);
    fake.script({ kind: 'text', text: 'a b c', interrupt: { afterEvents: -1 } });
    const chunks = await collect(await ai.models.generateContentStream({ model: MODEL, contents: 'x' }));
    assert.equal(chunks.length, 2);
    assert.ok(chunks.every((c) => c.candidates?.[0].finishReason === undefined));
  });

  test("the SDK's retry (when configured) succeeds after a 429; no retry by default", async () => {
    fake.script({ kind: 'error', error: 'rate_limit' });
    await assert.rejects(ai.models.generateContent({ model: MODEL, contents: 'x' }), (e: unknown) => e instanceof ApiError && e.status === 429);
    assert.equal(fake.requests.length, 1);
    const retrying = new GoogleGenAI({ apiKey: GEMINI_TEST_KEY, httpOptions: { baseUrl: fake.origin, apiVersion: 'v1beta', retryOptions: { attempts: 2, initialDelay: 0.01, maxDelay: 0.02 } } });
    fake.script({ kind: 'error', error: 'rate_limit' });
    const res = await retrying.models.generateContent({ model: MODEL, contents: 'retry' });
    assert.equal(res.text, 'Echo: retry');
    assert.equal(fake.requests.length, 3);
  });

  test('raw bytes: CRLF framing; auth via ?key=, missing key is 403, JSON-array stream without alt=sse, unknown field, models list', async () => {
    const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'q' }] }] });
    const viaQuery = await fetch(`${fake.origin}/v1beta/models/${MODEL}:generateContent?key=${GEMINI_TEST_KEY}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(viaQuery.status, 200);
    const noKey = await fetch(`${fake.origin}/v1beta/models/${MODEL}:generateContent`, { method: 'POST', body });
    assert.equal(noKey.status, 403);
    assert.match(await noKey.text(), /unregistered callers/);
    // The SDK also accepts \n\n, so check the exact bytes: every event ends with \r\n\r\n and there is no [DONE].
    const sse = await (await fetch(`${fake.origin}/v1beta/models/${MODEL}:streamGenerateContent?alt=sse&key=${GEMINI_TEST_KEY}`, { method: 'POST', body })).text();
    const events = sse.split('\r\n\r\n');
    assert.equal(events.pop(), '');
    assert.ok(events.length >= 2 && events.every((e) => e.startsWith('data: {') && !e.includes('\n')));
    assert.ok(!sse.includes('[DONE]'));
    const arr = await fetch(`${fake.origin}/v1beta/models/${MODEL}:streamGenerateContent?key=${GEMINI_TEST_KEY}`, { method: 'POST', body });
    const parsed = (await arr.json()) as Array<{ candidates: unknown[] }>;
    assert.ok(Array.isArray(parsed) && parsed.length >= 2);
    const unknown = await fetch(`${fake.origin}/v1beta/models/${MODEL}:generateContent?key=${GEMINI_TEST_KEY}`, { method: 'POST', body: JSON.stringify({ contents: [{ parts: [{ text: 'q' }] }], temperature: 1 }) });
    assert.equal(unknown.status, 400);
    assert.match(await unknown.text(), /Unknown name \\"temperature\\": Cannot find field/);
    const pager = await ai.models.list();
    const names = [];
    for await (const m of pager) names.push(m.name);
    assert.deepEqual(names, ['models/gemini-2.5-flash', 'models/gemini-2.5-pro', 'models/gemini-3-pro-preview']);
  });
  test('log probabilities: logprobsResult per candidate (and per stream chunk) on 2.0 Flash; 2.5 answers "Logprobs is not enabled"', async () => {
    const config = { responseLogprobs: true, logprobs: 3 };
    const res = await ai.models.generateContent({ model: 'gemini-2.0-flash', contents: 'sky colour', config });
    const c = res.candidates![0];
    const chosen = c.logprobsResult!.chosenCandidates!;
    assert.equal(chosen.map((t) => t.token).join(''), res.text);
    assert.equal(chosen[0].logProbability, undefined); // a certain token: proto3 JSON leaves out the zero
    assert.ok(chosen.slice(1).every((t) => typeof t.logProbability === 'number' && t.logProbability < 0 && typeof t.tokenId === 'number'));
    const tops = c.logprobsResult!.topCandidates!;
    assert.equal(tops.length, chosen.length);
    assert.ok(tops.every((s) => s.candidates!.length === 3));
    assert.ok(tops.every((s) => (s.candidates![0].logProbability ?? 0) >= (s.candidates![1].logProbability ?? 0)));
    assert.equal(typeof c.avgLogprobs, 'number');
    assert.equal(fake.requests[0].body.generationConfig.responseLogprobs, true);

    const chunks = await collect(await ai.models.generateContentStream({ model: 'gemini-2.0-flash', contents: 'sky colour', config: { responseLogprobs: true } }));
    for (const ch of chunks.filter((x) => x.text)) {
      const lr = ch.candidates![0].logprobsResult!;
      assert.equal(lr.chosenCandidates!.map((t) => t.token).join(''), ch.text);
      assert.equal(lr.topCandidates, undefined); // logprobs (the count) not asked for
    }

    await assert.rejects(ai.models.generateContent({ model: MODEL, contents: 'x', config }), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.status, 400);
      assert.match(e.message, /Logprobs is not enabled for models\/gemini-2\.5-flash/);
      return true;
    });
  });
  test('image output: an image model answers an inlineData PNG with its image tokens; a text model refuses the IMAGE modality', async () => {
    const res = await ai.models.generateContent({ model: 'gemini-2.5-flash-image', contents: 'a red kite', config: { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: '16:9' } } });
    const part = res.candidates![0].content!.parts!.find((p) => p.inlineData)!;
    assert.equal(part.inlineData!.mimeType, 'image/png');
    assert.deepEqual([...Buffer.from(part.inlineData!.data!, 'base64').subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assert.equal(res.usageMetadata?.candidatesTokensDetails?.find((d) => d.modality === 'IMAGE')?.tokenCount, GEMINI_IMAGE_TOKENS);
    assert.equal(fake.requests[0].body.generationConfig.imageConfig.aspectRatio, '16:9');
    await assert.rejects(ai.models.generateContent({ model: MODEL, contents: 'x', config: { responseModalities: ['IMAGE'] } }), (e: unknown) => e instanceof ApiError && e.status === 400 && /response modalities/.test(e.message));
  });
});
