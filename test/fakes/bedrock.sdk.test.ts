// The official @aws-sdk/client-bedrock-runtime as the oracle for the fake Bedrock server: the SDK,
// pointed at the fake with static credentials, signs requests the fake accepts, parses its Converse
// answers and binary event streams, and gets its errors as the SDK's own exception classes.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  AccessDeniedException,
  ApplyGuardrailCommand,
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InternalServerException,
  InvokeModelCommand,
  ModelNotReadyException,
  ModelStreamErrorException,
  ModelTimeoutException,
  ResourceNotFoundException,
  ServiceUnavailableException,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startFakeBedrock, type FakeAwsCredentials, type FakeBedrock } from './bedrock.ts';

// Test credentials assembled at run time (never key-shaped literals in files).
const creds: FakeAwsCredentials = { accessKeyId: ['TEST', 'ACCESS', 'KEY', 'ID'].join(''), secretAccessKey: ['fake', 'secret', 'for', 'tests'].join('-'), sessionToken: ['fake', 'session', 'token'].join('-') };
const MODEL = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
let fake: FakeBedrock;

// The fake speaks HTTP/1.1 (the SDK's default handler for this client is HTTP/2).
function client(c: Partial<FakeAwsCredentials> = {}, region = 'us-east-1') {
  return new BedrockRuntimeClient({ region, endpoint: fake.url, credentials: { ...creds, ...c }, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
}

before(async () => {
  fake = await startFakeBedrock({ credentials: [creds], guardrails: { 'gr-fin01': { versions: ['2'], topics: { Investment: ['stock tip'] }, content: { INSULTS: ['idiot'] }, email: 'ANONYMIZED' } } });
});
beforeEach(() => fake.reset());
after(() => fake.close());

const hi = [{ role: 'user' as const, content: [{ text: 'Hello there' }] }];

describe('bedrock fake vs @aws-sdk/client-bedrock-runtime', () => {
  test('Converse: the SDK signature is accepted and the answer parsed (text, stop reason, usage with cache)', async () => {
    fake.script({ kind: 'text', text: 'Hi from Bedrock.', usage: { input: 100, output: 7, cached: 30, cacheWrite: 10 } });
    const res = await client().send(new ConverseCommand({ modelId: MODEL, messages: hi, system: [{ text: 'Be brief.' }], inferenceConfig: { maxTokens: 50, temperature: 0.2, stopSequences: ['END'] } }));
    assert.equal(res.output?.message?.content?.[0].text, 'Hi from Bedrock.');
    assert.equal(res.stopReason, 'end_turn');
    assert.deepEqual(
      { i: res.usage?.inputTokens, o: res.usage?.outputTokens, t: res.usage?.totalTokens, r: res.usage?.cacheReadInputTokens, w: res.usage?.cacheWriteInputTokens },
      { i: 60, o: 7, t: 107, r: 30, w: 10 },
    );
    assert.deepEqual(fake.signatures, [{ accessKeyId: creds.accessKeyId, valid: true, reason: undefined }]);
    const r = fake.requests[0];
    // The model id (with its ":") is one URL-encoded path label.
    assert.equal(r.path, `/model/${encodeURIComponent(MODEL)}/converse`);
    assert.equal(r.headers['x-amz-security-token'], creds.sessionToken);
    assert.deepEqual(r.body.inferenceConfig, { maxTokens: 50, temperature: 0.2, stopSequences: ['END'] });
  });

  test('Converse: tool calls come back as toolUse blocks the SDK parses', async () => {
    fake.script({ kind: 'tool_calls', calls: [{ name: 'get_weather', arguments: { city: 'Paris' }, id: 'tooluse_1' }] });
    const res = await client().send(
      new ConverseCommand({
        modelId: MODEL,
        messages: hi,
        toolConfig: { tools: [{ toolSpec: { name: 'get_weather', strict: true, inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } } } }], toolChoice: { any: {} } },
      }),
    );
    assert.equal(res.stopReason, 'tool_use');
    // The SDK's wire form of strict tool use, which the gateway's adapter writes too.
    assert.equal(fake.requests[0].body.toolConfig.tools[0].toolSpec.strict, true);
    assert.deepEqual(res.output?.message?.content?.[0].toolUse, { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } });
  });

  test('Converse: structured outputs (outputConfig.textFormat) as the SDK sends them are accepted; a malformed one is a ValidationException', async () => {
    fake.script({ kind: 'text', text: '{"city":"Paris"}' });
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const res = await client().send(
      new ConverseCommand({ modelId: MODEL, messages: hi, outputConfig: { textFormat: { type: 'json_schema', structure: { jsonSchema: { schema: JSON.stringify(schema), name: 'place' } } } } }),
    );
    assert.equal(res.output?.message?.content?.[0].text, '{"city":"Paris"}');
    // The SDK's wire form, which the gateway's Bedrock adapter writes too.
    assert.deepEqual(fake.requests[0].body.outputConfig, { textFormat: { type: 'json_schema', structure: { jsonSchema: { schema: JSON.stringify(schema), name: 'place' } } } });
    fake.script({ kind: 'text' });
    await assert.rejects(
      client().send(new ConverseCommand({ modelId: MODEL, messages: hi, outputConfig: { textFormat: { type: 'json_schema', structure: { jsonSchema: { schema: '{not json' } } } } })),
      (e: unknown) => e instanceof ValidationException && /not valid JSON/.test(e.message),
    );
  });

  test('ConverseStream: the SDK decodes the binary event stream, even cut into 7-byte reads', async () => {
    fake.script({ kind: 'text', text: 'Streaming héllo wörld', usage: { input: 12, output: 3 }, chunking: { bytes: 7 } });
    const res = await client().send(new ConverseStreamCommand({ modelId: MODEL, messages: hi }));
    let text = '';
    const kinds: string[] = [];
    for await (const ev of res.stream!) {
      const k = Object.keys(ev).filter((x) => (ev as unknown as Record<string, unknown>)[x] !== undefined)[0];
      kinds.push(k);
      if (ev.contentBlockDelta?.delta?.text) text += ev.contentBlockDelta.delta.text;
      if (ev.metadata) assert.deepEqual([ev.metadata.usage?.inputTokens, ev.metadata.usage?.outputTokens], [12, 3]);
      if (ev.messageStop) assert.equal(ev.messageStop.stopReason, 'end_turn');
    }
    assert.equal(text, 'Streaming héllo wörld');
    assert.equal(kinds[0], 'messageStart');
    assert.deepEqual(kinds.slice(-3), ['contentBlockStop', 'messageStop', 'metadata']);
  });

  test('ConverseStream: streamed tool use (contentBlockStart + input fragments)', async () => {
    fake.script({ kind: 'tool_calls', calls: [{ name: 'get_weather', arguments: { city: 'Paris', unit: 'c' } }] });
    const res = await client().send(
      new ConverseStreamCommand({ modelId: MODEL, messages: hi, toolConfig: { tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object' } } } }] } }),
    );
    let name = '';
    let input = '';
    for await (const ev of res.stream!) {
      if (ev.contentBlockStart?.start?.toolUse) name = ev.contentBlockStart.start.toolUse.name ?? '';
      if (ev.contentBlockDelta?.delta?.toolUse) input += ev.contentBlockDelta.delta.toolUse.input ?? '';
    }
    assert.equal(name, 'get_weather');
    assert.deepEqual(JSON.parse(input), { city: 'Paris', unit: 'c' });
  });

  const inStream = [
    ['throttlingException', ThrottlingException],
    ['modelStreamErrorException', ModelStreamErrorException],
    ['internalServerException', InternalServerException],
    ['validationException', ValidationException],
    ['serviceUnavailableException', ServiceUnavailableException],
  ] as const;
  for (const [name, cls] of inStream) {
    test(`ConverseStream: an in-stream ${name} frame is thrown by the SDK as ${cls.name}`, async () => {
      fake.script({ kind: 'stream_exception', exception: name, afterDeltas: 1 });
      const res = await client().send(new ConverseStreamCommand({ modelId: MODEL, messages: hi }));
      let text = '';
      await assert.rejects(
        (async () => {
          for await (const ev of res.stream!) text += ev.contentBlockDelta?.delta?.text ?? '';
        })(),
        (err: unknown) => err instanceof cls,
      );
      assert.equal(text, 'Echo: ');
    });
  }

  const http = [
    ['ValidationException', ValidationException, 400],
    ['ContextLength', ValidationException, 400],
    ['AccessDeniedException', AccessDeniedException, 403],
    ['ResourceNotFoundException', ResourceNotFoundException, 404],
    ['ModelTimeoutException', ModelTimeoutException, 408],
    ['ThrottlingException', ThrottlingException, 429],
    ['ModelNotReadyException', ModelNotReadyException, 429],
    ['InternalServerException', InternalServerException, 500],
    ['ServiceUnavailableException', ServiceUnavailableException, 503],
  ] as const;
  for (const [name, cls, status] of http) {
    test(`Converse: a scripted ${name} reaches the SDK as ${cls.name} (${status})`, async () => {
      fake.script({ kind: 'error', error: name });
      await assert.rejects(client().send(new ConverseCommand({ modelId: MODEL, messages: hi })), (err: unknown) => {
        assert.ok(err instanceof cls, String(err));
        assert.equal((err as { $metadata: { httpStatusCode?: number } }).$metadata.httpStatusCode, status);
        return true;
      });
    });
  }

  test('a wrong secret is refused with 403 InvalidSignatureException, as AWS does', async () => {
    await assert.rejects(client({ secretAccessKey: 'not-the-right-secret' }).send(new ConverseCommand({ modelId: MODEL, messages: hi })), (err: unknown) => {
      const e = err as { name: string; message: string; $metadata: { httpStatusCode?: number } };
      assert.equal(e.name, 'InvalidSignatureException');
      assert.equal(e.$metadata.httpStatusCode, 403);
      assert.match(e.message, /signature we calculated does not match/);
      return true;
    });
    assert.equal(fake.signatures[0].valid, false);
    assert.equal(fake.requests[0].status, 403);
  });

  test('an unknown access key or a wrong session token is UnrecognizedClientException; a wrong region is refused', async () => {
    for (const c of [{ accessKeyId: 'SOMEOTHERKEYID' }, { sessionToken: 'another-token' }]) {
      await assert.rejects(client(c).send(new ConverseCommand({ modelId: MODEL, messages: hi })), (err: unknown) => (err as Error).name === 'UnrecognizedClientException');
    }
    await assert.rejects(client({}, 'eu-west-1').send(new ConverseCommand({ modelId: MODEL, messages: hi })), (err: unknown) => (err as Error).name === 'InvalidSignatureException');
    assert.ok(fake.signatures.every((s) => !s.valid));
  });

  test('InvokeModel embeddings: Titan and Cohere bodies', async () => {
    const t = await client().send(new InvokeModelCommand({ modelId: 'amazon.titan-embed-text-v2:0', contentType: 'application/json', body: JSON.stringify({ inputText: 'hello world', dimensions: 256, normalize: true }) }));
    const tj = JSON.parse(new TextDecoder().decode(t.body));
    assert.equal(tj.embedding.length, 256);
    assert.equal(tj.inputTextTokenCount, 2);
    const c = await client().send(new InvokeModelCommand({ modelId: 'cohere.embed-english-v3', contentType: 'application/json', body: JSON.stringify({ texts: ['a', 'b c'], input_type: 'search_query' }) }));
    const cj = JSON.parse(new TextDecoder().decode(c.body));
    assert.equal(cj.embeddings.length, 2);
    assert.equal(cj.embeddings[0].length, 1024);
  });

  test('ApplyGuardrail: NONE for clean text; GUARDRAIL_INTERVENED with the policy that acted, parsed by the SDK; an unknown version is ResourceNotFoundException', async () => {
    const clean = await client().send(new ApplyGuardrailCommand({ guardrailIdentifier: 'gr-fin01', guardrailVersion: '2', source: 'INPUT', content: [{ text: { text: 'What is the weather?' } }] }));
    assert.equal(clean.action, 'NONE');
    assert.deepEqual(clean.assessments, []);
    assert.equal(fake.requests[0]!.path, '/guardrail/gr-fin01/version/2/apply');
    const topic = await client().send(new ApplyGuardrailCommand({ guardrailIdentifier: 'gr-fin01', guardrailVersion: 'DRAFT', source: 'OUTPUT', content: [{ text: { text: 'Here is a stock tip for you' } }] }));
    assert.equal(topic.action, 'GUARDRAIL_INTERVENED');
    assert.deepEqual(topic.assessments?.[0]?.topicPolicy?.topics, [{ name: 'Investment', type: 'DENY', action: 'BLOCKED', detected: true }]);
    assert.equal(topic.outputs?.[0]?.text, 'Sorry, the model cannot answer this question.');
    const masked = await client().send(new ApplyGuardrailCommand({ guardrailIdentifier: 'gr-fin01', guardrailVersion: '2', source: 'INPUT', content: [{ text: { text: 'mail me at ana@example.com' } }] }));
    assert.equal(masked.action, 'GUARDRAIL_INTERVENED');
    assert.equal(masked.assessments?.[0]?.sensitiveInformationPolicy?.piiEntities?.[0]?.action, 'ANONYMIZED');
    assert.equal(masked.outputs?.[0]?.text, 'mail me at {EMAIL}');
    await assert.rejects(client().send(new ApplyGuardrailCommand({ guardrailIdentifier: 'gr-fin01', guardrailVersion: '9', source: 'INPUT', content: [{ text: { text: 'x' } }] })), ResourceNotFoundException);
  });

  test('InvokeModel on Nova Canvas: TEXT_IMAGE in, {images, error} out; its validation and content filter are ValidationExceptions', async () => {
    const out = await client().send(new InvokeModelCommand({ modelId: 'amazon.nova-canvas-v1:0', contentType: 'application/json', body: JSON.stringify({ taskType: 'TEXT_IMAGE', textToImageParams: { text: 'a lighthouse' }, imageGenerationConfig: { numberOfImages: 2, width: 1024, height: 576, quality: 'premium' } }) }));
    const res = JSON.parse(new TextDecoder().decode(out.body)) as { images: string[]; error: null };
    assert.equal(res.images.length, 2);
    assert.ok(res.images.every((b) => Buffer.from(b, 'base64').subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]))));
    assert.equal(res.error, null);
    for (const [cfg, text, why] of [
      [{ numberOfImages: 6 }, 'x', /numberOfImages/],
      [{ width: 1000 }, 'x', /width/],
      [{}, 'something forbidden', /content filters/],
    ] as const) {
      await assert.rejects(
        client().send(new InvokeModelCommand({ modelId: 'amazon.nova-canvas-v1:0', contentType: 'application/json', body: JSON.stringify({ taskType: 'TEXT_IMAGE', textToImageParams: { text }, imageGenerationConfig: cfg }) })),
        (e: unknown) => (e as { name?: string }).name === 'ValidationException' && why.test((e as Error).message),
      );
    }
  });
});
