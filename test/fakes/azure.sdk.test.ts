// Proves the fake Azure OpenAI server against `AzureOpenAI` from the official `openai` SDK (dated deployment routes)
// and the plain OpenAI client on the /openai/v1 routes.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import OpenAI, { AzureOpenAI } from 'openai';
import { AZURE_TEST_KEY, startFakeAzure } from './azure.ts';
import type { FakeAzure } from './azure.ts';

const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }];

describe('fake Azure OpenAI vs AzureOpenAI', () => {
  let fake: FakeAzure;
  let client: AzureOpenAI;
  before(async () => {
    fake = await startFakeAzure();
    client = new AzureOpenAI({ endpoint: fake.origin, apiKey: AZURE_TEST_KEY, apiVersion: '2024-10-21', deployment: 'gpt-4o', maxRetries: 0 });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test('unary: deployment path, api-version query, api-key header, filter annotations, model version', async () => {
    const res = await client.chat.completions.create({ model: 'ignored-by-azure', messages: [{ role: 'user', content: 'Capital of Denmark?' }] });
    assert.equal(res.choices[0].message.content, 'Echo: Capital of Denmark?');
    assert.equal(res.model, 'gpt-4o-2024-11-20');
    const raw = res as unknown as { prompt_filter_results: unknown[]; choices: Array<{ content_filter_results: Record<string, { filtered: boolean }> }> };
    assert.equal(raw.prompt_filter_results.length, 1);
    assert.equal(raw.choices[0].content_filter_results.violence.filtered, false);
    const [req] = fake.requests;
    assert.equal(req.path, '/openai/deployments/gpt-4o/chat/completions');
    assert.equal(req.query['api-version'], '2024-10-21');
    assert.equal(req.headers['api-key'], AZURE_TEST_KEY);
    assert.equal(req.headers.authorization, undefined);
  });

  test('stream: empty-id prompt-filter chunk first, async filter offsets chunk after finish, usage chunk', async () => {
    fake.script({ kind: 'text', text: 'Copenhagen is the capital.', asyncFilter: true, usage: { reasoning: 64 }, chunking: 'hostile' });
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'q' }], stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.equal(chunks[0].id, '');
    assert.equal(chunks[0].model, '');
    assert.deepEqual(chunks[0].choices, []);
    const real = chunks.filter((c) => c.id !== '');
    const text = real.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.equal(text, 'Copenhagen is the capital.');
    const finishIdx = chunks.findIndex((c) => c.choices[0]?.finish_reason === 'stop');
    const offsets = chunks[finishIdx + 1].choices[0] as unknown as { content_filter_offsets?: unknown; delta?: unknown };
    assert.ok(offsets.content_filter_offsets, 'trailing content_filter_offsets chunk');
    assert.equal(offsets.delta, undefined);
    const usage = chunks.at(-1)?.usage;
    assert.equal(usage?.completion_tokens_details?.reasoning_tokens, 64);
  });

  test('output blocked mid-answer: finish_reason content_filter with filtered results', async () => {
    fake.script({ kind: 'text', text: 'Here is how', finishReason: 'content_filter', filtered: { category: 'violence', severity: 'high' } });
    const res = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'q' }] });
    assert.equal(res.choices[0].finish_reason, 'content_filter');
    const cfr = (res.choices[0] as unknown as { content_filter_results: Record<string, { filtered: boolean; severity: string }> }).content_filter_results;
    assert.deepEqual(cfr.violence, { filtered: true, severity: 'high' });
  });

  test('tool calls stream', async () => {
    fake.script({ kind: 'tool_calls', calls: [{ arguments: { q: 'a' } }, { arguments: { q: 'b' } }] });
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'q' }], tools, stream: true });
    const args: string[] = [];
    for await (const c of stream) {
      for (const tc of c.choices[0]?.delta?.tool_calls ?? []) args[tc.index] = (args[tc.index] ?? '') + (tc.function?.arguments ?? '');
    }
    assert.deepEqual(args.map((a) => JSON.parse(a)), [{ q: 'a' }, { q: 'b' }]);
  });

  test('prompt content filter 400, unknown deployment 404, bad key 401', async () => {
    fake.script({ kind: 'error', error: 'content_filter' });
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'q' }] }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.code, 'content_filter');
      assert.equal((e.error as { innererror: { code: string } }).innererror.code, 'ResponsibleAIPolicyViolation');
      return true;
    });
    const other = new AzureOpenAI({ endpoint: fake.origin, apiKey: AZURE_TEST_KEY, apiVersion: '2024-10-21', deployment: 'nope', maxRetries: 0 });
    await assert.rejects(other.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'q' }] }), (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === 'DeploymentNotFound');
    const wrong = new AzureOpenAI({ endpoint: fake.origin, apiKey: 'bad', apiVersion: '2024-10-21', deployment: 'gpt-4o', maxRetries: 0 });
    await assert.rejects(wrong.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'q' }] }), (e: unknown) => e instanceof OpenAI.AuthenticationError && e.code === '401');
  });

  test('429 has string code "429", retry-after and retry-after-ms; the SDK retries on retry-after-ms', async () => {
    fake.script({ kind: 'error', error: 'rate_limit' });
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'q' }] }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.code, '429');
      assert.equal(e.headers?.get('retry-after'), '1');
      assert.equal(e.headers?.get('retry-after-ms'), '1000');
      assert.match(e.message, /API version 2024-10-21 have exceeded token rate limit/);
      return true;
    });
    const retrying = new AzureOpenAI({ endpoint: fake.origin, apiKey: AZURE_TEST_KEY, apiVersion: '2024-10-21', deployment: 'gpt-4o', maxRetries: 1 });
    fake.script({ kind: 'error', error: 'rate_limit', retryAfter: 0, retryAfterMs: 10 });
    const res = await retrying.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'retry me' }] });
    assert.equal(res.choices[0].message.content, 'Echo: retry me');
    assert.equal(fake.requests.length, 3);
  });

  test('server errors and a mid-stream error', async () => {
    fake.script({ kind: 'error', error: 'server_error' });
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'q' }] }), (e: unknown) => e instanceof OpenAI.InternalServerError && e.code === 'InternalServerError');
    fake.script({ kind: 'stream_error' });
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'q' }], stream: true });
    await assert.rejects(async () => {
      for await (const _ of stream);
    }, OpenAI.APIError);
  });

  test('old api-version rejects stream_options; missing api-version is 404 Resource not found', async () => {
    const old = new AzureOpenAI({ endpoint: fake.origin, apiKey: AZURE_TEST_KEY, apiVersion: '2024-06-01', deployment: 'gpt-4o', maxRetries: 0 });
    await assert.rejects(
      old.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'q' }], stream: true, stream_options: { include_usage: true } }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'unknown_parameter',
    );
    const res = await fetch(`${fake.origin}/openai/deployments/gpt-4o/chat/completions`, { method: 'POST', headers: { 'api-key': AZURE_TEST_KEY, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error: { code: '404', message: 'Resource not found' } });
  });

  test('a dated api-version rejects the fields it predates with unknown_parameter; newer versions and v1 accept them', async () => {
    const at = (apiVersion: string, deployment = 'gpt-4o') => new AzureOpenAI({ endpoint: fake.origin, apiKey: AZURE_TEST_KEY, apiVersion, deployment, maxRetries: 0 });
    const unknown = async (c: AzureOpenAI, body: Record<string, unknown>, param: string) =>
      assert.rejects(c.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'json please' }], ...body } as never), (e: unknown) => {
        assert.ok(e instanceof OpenAI.BadRequestError, String(e));
        assert.equal(e.code, 'unknown_parameter');
        assert.equal(e.param, param);
        assert.equal(e.message, `400 Unknown parameter: '${param}'.`);
        return true;
      });
    const old = at('2024-06-01');
    await unknown(old, { seed: 1 }, 'seed');
    await unknown(old, { max_completion_tokens: 10 }, 'max_completion_tokens');
    await unknown(old, { tools, parallel_tool_calls: false }, 'parallel_tool_calls');
    await unknown(at('2024-10-21'), { tools, parallel_tool_calls: false }, 'parallel_tool_calls');
    await unknown(at('2023-05-15'), { tools }, 'tools');
    await assert.rejects(
      old.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'q' }], response_format: { type: 'json_schema', json_schema: { name: 'n', schema: { type: 'object' } } } }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'invalid_value' && /json_schema/.test(e.message),
    );
    await assert.rejects(old.chat.completions.create({ model: 'x', messages: [{ role: 'developer', content: 'd' }, { role: 'user', content: 'q' }] }), (e: unknown) => e instanceof OpenAI.BadRequestError && /developer/.test(e.message));
    assert.equal(fake.pending(), 0);
    // What 2024-06-01 knows passes; 2025-04-01-preview takes everything; a reasoning deployment follows OpenAI's model rules.
    await old.chat.completions.create({ model: 'x', messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'json' }], tools, tool_choice: 'auto', response_format: { type: 'json_object' }, max_tokens: 10, temperature: 0.2, top_p: 0.9, stop: ['E'], user: 'u' });
    await at('2025-04-01-preview').chat.completions.create({ model: 'x', messages: [{ role: 'developer', content: 'd' }, { role: 'user', content: 'q' }], tools, parallel_tool_calls: false, seed: 1, max_completion_tokens: 10, store: false, metadata: { a: 'b' } });
    const o3mini = at('2025-04-01-preview', 'o3-mini');
    await assert.rejects(o3mini.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'q' }], temperature: 0.5 }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'unsupported_value');
    await o3mini.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'q' }], reasoning_effort: 'low', max_completion_tokens: 100 });
  });

  test('v1 API with the plain OpenAI client (Bearer key, model = deployment name) and models lists', async () => {
    const v1 = new OpenAI({ apiKey: AZURE_TEST_KEY, baseURL: fake.v1Url, maxRetries: 0 });
    const res = await v1.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hey' }] });
    assert.equal(res.model, 'gpt-4o-mini-2024-07-18');
    assert.equal(fake.requests[0].path, '/openai/v1/chat/completions');
    const ids = [];
    for await (const m of v1.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ['gpt-4o', 'gpt-4o-mini', 'o3-mini']);
    const dated = [];
    for await (const m of client.models.list()) dated.push(m.id);
    assert.ok(dated.includes('gpt-4o-2024-11-20'));
    assert.equal(fake.requests.at(-1)?.query['api-version'], '2024-10-21');
  });
});
