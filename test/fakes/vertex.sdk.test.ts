// Proves the fake Vertex AI server and its OAuth token endpoint against the official clients:
// `@google/genai` in Vertex mode (Gemini generateContent, streams, tools, embeddings via :predict) and
// `@anthropic-ai/vertex-sdk` (Claude rawPredict / streamRawPredict), both authenticating with a service
// account made for this run, whose signed JWT assertion the fake verifies.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
import { ApiError, FinishReason, GoogleGenAI } from '@google/genai';
import { gaxios, JWT } from 'google-auth-library';
import { fakeEmbedding, GOOGLE_TOKEN_AUD, makeTestServiceAccount, startFakeVertex, type FakeVertex } from './vertex.ts';

const PROJECT = 'signalbox-test';
const LOCATION = 'us-central1';
const GEMINI = 'gemini-2.5-flash';
const CLAUDE = 'claude-sonnet-4-5@20250929';

/** A transporter that posts token requests to the fake (the libraries address Google's endpoint). */
function toFake(tokenUrl: string): gaxios.Gaxios {
  const t = new gaxios.Gaxios();
  t.interceptors.request.add({
    resolved: async (o) => {
      if (String(o.url) === GOOGLE_TOKEN_AUD) o.url = new URL(tokenUrl);
      return o;
    },
  });
  return t;
}

const sa = makeTestServiceAccount(PROJECT);
const stranger = makeTestServiceAccount(PROJECT, 'stranger');
let dir: string;
let keyPath: string;
let fake: FakeVertex;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vertex-sdk-'));
  keyPath = sa.writeKeyFile(dir);
  fake = await startFakeVertex({ accounts: [sa], project: PROJECT, location: LOCATION });
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => fake.reset());

describe('fake Vertex vs @google/genai (vertexai: true)', () => {
  const client = (apiVersion = 'v1') =>
    new GoogleGenAI({
      vertexai: true,
      project: PROJECT,
      location: LOCATION,
      googleAuthOptions: { keyFilename: keyPath, clientOptions: { transporter: toFake(fake.tokenUrl) as never } },
      httpOptions: { baseUrl: fake.origin, apiVersion },
    });

  test('generateContent: a verified JWT assertion buys a token; the token authorizes the call', async () => {
    const ai = client();
    fake.script({ kind: 'text', text: 'Hello from Vertex.', usage: { input: 12, output: 4 } });
    const res = await ai.models.generateContent({ model: GEMINI, contents: 'hi', config: { temperature: 0.2 } });
    assert.equal(res.text, 'Hello from Vertex.');
    assert.equal(res.candidates?.[0].finishReason, FinishReason.STOP);
    assert.equal(res.usageMetadata?.promptTokenCount, 12);
    assert.equal(res.usageMetadata?.candidatesTokenCount, 4);

    assert.equal(fake.issued.length, 1);
    assert.equal(fake.issued[0].email, sa.email);
    assert.ok(fake.issued[0].scope.split(' ').includes('https://www.googleapis.com/auth/cloud-platform'));
    const call = fake.requests.find((r) => r.path.includes(':generateContent'))!;
    assert.equal(call.path, `/v1/projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/${GEMINI}:generateContent`);
    assert.equal(call.headers.authorization, `Bearer ${fake.issued[0].token}`);
    assert.equal(call.body.generationConfig.temperature, 0.2);
    // The SDK reuses its token.
    await ai.models.generateContent({ model: GEMINI, contents: 'again' });
    assert.equal(fake.issued.length, 1);
  });

  test("the SDK's default apiVersion (v1beta1) is served too", async () => {
    const res = await client('v1beta1').models.generateContent({ model: GEMINI, contents: 'beta please' });
    assert.equal(res.text, 'Echo: beta please');
    assert.ok(fake.requests.some((r) => r.path.startsWith(`/v1beta1/projects/${PROJECT}/`)));
  });

  test('generateContentStream: SSE chunks with cumulative usage, hostile chunking', async () => {
    fake.script({ kind: 'text', text: 'Grüße 🌍 aus Köln', usage: { input: 20, output: 6 }, chunking: 'hostile' });
    const chunks = [];
    for await (const c of await client().models.generateContentStream({ model: GEMINI, contents: 'hi' })) chunks.push(c);
    assert.equal(chunks.map((c) => c.text ?? '').join(''), 'Grüße 🌍 aus Köln');
    assert.equal(chunks.at(-1)?.candidates?.[0].finishReason, FinishReason.STOP);
    assert.equal(chunks.at(-1)?.usageMetadata?.candidatesTokenCount, 6);
    const call = fake.requests.find((r) => r.path.includes(':streamGenerateContent'))!;
    assert.deepEqual(call.query, { alt: 'sse' });
  });

  test('function calls come back as functionCall parts', async () => {
    fake.script({ kind: 'tool_calls', calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] });
    const res = await client().models.generateContent({
      model: GEMINI,
      contents: 'weather?',
      config: { tools: [{ functionDeclarations: [{ name: 'get_weather', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } } }] }] },
    });
    assert.deepEqual(res.functionCalls?.map((c) => [c.name, c.args]), [['get_weather', { city: 'Paris' }]]);
  });

  test('embedContent on text-embedding-005 and gemini-embedding-001 goes through :predict', async () => {
    const ai = client();
    const res = await ai.models.embedContent({ model: 'text-embedding-005', contents: ['first text', 'second one here'], config: { outputDimensionality: 8, taskType: 'RETRIEVAL_DOCUMENT' } });
    assert.deepEqual(res.embeddings?.map((e) => e.values), [fakeEmbedding('first text', 8), fakeEmbedding('second one here', 8)]);
    assert.deepEqual(res.embeddings?.map((e) => e.statistics?.tokenCount), [2, 3]);
    const call = fake.requests.find((r) => r.path.endsWith(':predict'))!;
    assert.equal(call.path, `/v1/projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/text-embedding-005:predict`);
    assert.deepEqual(call.body, { instances: [{ content: 'first text', task_type: 'RETRIEVAL_DOCUMENT' }, { content: 'second one here', task_type: 'RETRIEVAL_DOCUMENT' }], parameters: { outputDimensionality: 8 } });

    const one = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: 'just one' });
    assert.equal(one.embeddings?.[0].values?.length, 3072);
    // gemini-embedding-001 takes one input per request.
    await assert.rejects(ai.models.embedContent({ model: 'gemini-embedding-001', contents: ['a', 'b'] }), (e: unknown) => e instanceof ApiError && e.status === 400);
  });

  test('Vertex errors are google.rpc.Status bodies the SDK reports', async () => {
    fake.script({ kind: 'vertex_error', error: 'resource_exhausted' });
    await assert.rejects(client().models.generateContent({ model: GEMINI, contents: 'x', config: { httpOptions: { retryOptions: { attempts: 1 } } } }), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.status, 429);
      assert.match(e.message, /RESOURCE_EXHAUSTED/);
      return true;
    });
    await assert.rejects(client().models.generateContent({ model: 'no-such-model', contents: 'x' }), (e: unknown) => e instanceof ApiError && e.status === 404 && /Publisher Model/.test(e.message));
  });

  test('an assertion signed by an unknown account buys no token', async () => {
    const otherKey = stranger.writeKeyFile(dir);
    const ai = new GoogleGenAI({
      vertexai: true,
      project: PROJECT,
      location: LOCATION,
      googleAuthOptions: { keyFilename: otherKey, clientOptions: { transporter: toFake(fake.tokenUrl) as never } },
      httpOptions: { baseUrl: fake.origin, apiVersion: 'v1' },
    });
    await assert.rejects(ai.models.generateContent({ model: GEMINI, contents: 'x' }), /invalid_grant/);
    assert.equal(fake.issued.length, 0);
    assert.deepEqual(fake.refused, ['invalid_grant: Invalid grant: account not found']);
  });
  test("Imagen's :predict: generateImages gets each image's bytes and the enhanced prompt; a filtered prompt gets its reason", async () => {
    const ai = client();
    const res = await ai.models.generateImages({ model: 'imagen-4.0-generate-001', prompt: 'a red kite', config: { numberOfImages: 2, aspectRatio: '16:9' } });
    assert.equal(res.generatedImages?.length, 2);
    for (const g of res.generatedImages!) {
      assert.deepEqual([...Buffer.from(g.image!.imageBytes!, 'base64').subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      assert.equal(g.image!.mimeType, 'image/png');
      assert.equal(g.enhancedPrompt, 'a red kite, highly detailed');
    }
    const sent = fake.requests.at(-1)!.body as { instances: { prompt: string }[]; parameters: Record<string, unknown> };
    assert.deepEqual(sent.instances, [{ prompt: 'a red kite' }]);
    assert.equal(sent.parameters.sampleCount, 2);
    assert.equal(sent.parameters.aspectRatio, '16:9');
    const filtered = await ai.models.generateImages({ model: 'imagen-4.0-generate-001', prompt: 'something forbidden', config: { numberOfImages: 1, includeRaiReason: true } });
    assert.match(filtered.generatedImages?.[0]?.raiFilteredReason ?? '', /safety filter/);
    await assert.rejects(ai.models.generateImages({ model: 'imagen-4.0-generate-001', prompt: 'x', config: { numberOfImages: 5 } }), (e: unknown) => e instanceof ApiError && e.status === 400);
  });
});

describe('fake Vertex vs @anthropic-ai/vertex-sdk', () => {
  const client = () => {
    const authClient = new JWT({ email: sa.email, key: sa.privateKeyPem, keyId: sa.keyId, scopes: ['https://www.googleapis.com/auth/cloud-platform'], transporter: toFake(fake.tokenUrl) });
    return new AnthropicVertex({ baseURL: `${fake.origin}/v1`, region: LOCATION, projectId: PROJECT, authClient: authClient as never, maxRetries: 0 });
  };

  test('messages.create → rawPredict with anthropic_version in the body and the model in the URL', async () => {
    fake.script({ kind: 'text', text: 'Hello from Claude on Vertex.', usage: { input: 30, cached: 10, cacheWrite: 5, output: 7 } });
    const msg = await client().messages.create({ model: CLAUDE, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    assert.deepEqual(msg.content.map((b) => (b.type === 'text' ? b.text : b.type)), ['Hello from Claude on Vertex.']);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.usage.input_tokens, 15);
    assert.equal(msg.usage.cache_read_input_tokens, 10);
    assert.equal(msg.usage.cache_creation_input_tokens, 5);

    const call = fake.requests.find((r) => r.path.endsWith(':rawPredict'))!;
    assert.equal(call.path, `/v1/projects/${PROJECT}/locations/${LOCATION}/publishers/anthropic/models/${CLAUDE}:rawPredict`);
    assert.equal(call.headers.authorization, `Bearer ${fake.issued[0].token}`);
    assert.equal(call.body.model, undefined);
    assert.equal(typeof call.body.anthropic_version, 'string');
    // What the publisher fake saw: the Messages API form.
    assert.equal(fake.anthropic.requests[0].body.model, CLAUDE);
  });

  test('messages.stream → streamRawPredict with named SSE events and tool input deltas', async () => {
    fake.script({ kind: 'tool_calls', text: 'Checking.', calls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }], chunking: 'hostile' });
    const stream = client().messages.stream({
      model: CLAUDE,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'weather in Oslo?' }],
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
    });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    const use = final.content.find((b) => b.type === 'tool_use');
    assert.deepEqual(use?.type === 'tool_use' ? [use.name, use.input] : undefined, ['get_weather', { city: 'Oslo' }]);
    assert.ok(fake.requests.some((r) => r.path.endsWith(`/models/${CLAUDE}:streamRawPredict`) && r.body.stream === true));
  });

  test("Anthropic's own errors keep their shape; Vertex quota errors are google.rpc.Status", async () => {
    fake.script({ kind: 'error', error: 'overloaded_error' });
    await assert.rejects(client().messages.create({ model: CLAUDE, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
      assert.equal((e as { status?: number }).status, 529);
      assert.match(String((e as Error).message), /overloaded_error/);
      return true;
    });
    fake.script({ kind: 'vertex_error', error: 'resource_exhausted', array: true });
    await assert.rejects(client().messages.create({ model: CLAUDE, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
      assert.equal((e as { status?: number }).status, 429);
      return true;
    });
  });
});
