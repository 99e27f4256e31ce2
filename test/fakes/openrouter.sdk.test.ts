// Proves the fake OpenRouter server against the official `openai` SDK pointed at the OpenRouter base URL:
// provider/cost extensions, processing comments, models[] fallback, and errors inside 200 responses.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import OpenAI from 'openai';
import { OPENROUTER_TEST_KEY, startFakeOpenRouter } from './openrouter.ts';
import type { FakeOpenRouter, OpenRouterScenario } from './openrouter.ts';

type OrUsage = OpenAI.CompletionUsage & { cost: number; prompt_tokens_details: { cache_write_tokens: number } };

describe('fake OpenRouter vs openai SDK', () => {
  let fake: FakeOpenRouter;
  let client: OpenAI;
  before(async () => {
    fake = await startFakeOpenRouter({ unavailableModels: ['anthropic/claude-sonnet-4.5'] });
    client = new OpenAI({ apiKey: OPENROUTER_TEST_KEY, baseURL: fake.url, maxRetries: 0 });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test('unary: gen- id, provider, native_finish_reason, usage with cost and cache writes', async () => {
    fake.script({ kind: 'text', usage: { input: 194, cached: 50, cacheWrite: 100, output: 2 } });
    const res = await client.chat.completions.create({ model: 'anthropic/claude-haiku-4.5', messages: [{ role: 'user', content: 'Hello' }] });
    assert.match(res.id, /^gen-\d+-/);
    assert.equal(res.model, 'anthropic/claude-haiku-4.5');
    assert.equal((res as unknown as { provider: string }).provider, 'Anthropic');
    assert.equal((res.choices[0] as unknown as { native_finish_reason: string }).native_finish_reason, 'end_turn');
    assert.equal(res.choices[0].message.content, 'Echo: Hello');
    const usage = res.usage as OrUsage;
    assert.equal(usage.prompt_tokens_details.cache_write_tokens, 100);
    assert.equal(usage.prompt_tokens_details.cached_tokens, 50);
    assert.ok(usage.cost > 0);
  });

  test('usage.cost prices the served model from its own row (cache reads and writes at their prices); the models list shows the rows', async () => {
    const usage = { input: 1_000_000, cached: 200_000, cacheWrite: 100_000, output: 10_000 };
    const costOf = async (model: string) => {
      fake.script({ kind: 'text', usage });
      const res = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] });
      return (res.usage as OrUsage).cost;
    };
    // 700k uncached × $1/M + 200k reads × $0.10/M + 100k writes × $1.25/M + 10k × $5/M
    assert.equal(await costOf('anthropic/claude-haiku-4.5'), 0.895);
    // 700k × $2.5/M + 200k reads × $1.25/M + 100k writes × $2.5/M (no surcharge) + 10k × $10/M
    assert.equal(await costOf('openai/gpt-4o'), 2.35);
    assert.equal(await costOf('meta-llama/llama-3.3-70b-instruct:free'), 0);
    const list = await client.models.list();
    const sonnet = list.data.find((m) => m.id === 'anthropic/claude-sonnet-4.5') as unknown as { pricing: Record<string, string> };
    assert.deepEqual(sonnet.pricing, { prompt: '0.000003', completion: '0.000015', request: '0', image: '0', input_cache_read: '0.0000003', input_cache_write: '0.00000375' });
  });

  test('stream: processing comments are skipped by the SDK; usage chunk always present; reasoning deltas', async () => {
    fake.script({ kind: 'text', text: 'one two three', reasoning: 'hmm ok', processingComments: 2, chunking: 'hostile' });
    const stream = await client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true });
    let text = '';
    let reasoning = '';
    let usage: OrUsage | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      reasoning += (c.choices[0]?.delta as { reasoning?: string } | undefined)?.reasoning ?? '';
      if (c.usage) usage = c.usage as OrUsage;
    }
    assert.equal(text, 'one two three');
    assert.equal(reasoning, 'hmm ok');
    assert.ok(usage && usage.cost > 0);
    const raw = await fetch(`${fake.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPENROUTER_TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x y' }], stream: true }),
    });
    const body = await raw.text();
    assert.ok(body.startsWith(': OPENROUTER PROCESSING\n\n'));
    assert.ok(body.endsWith('data: [DONE]\n\n'));
  });

  test('tool calls stream with the SDK helper', async () => {
    fake.script({ kind: 'tool_calls', calls: [{ name: 'a', arguments: { x: 1 } }, { name: 'b', arguments: { y: 2 } }] });
    const final = await client.chat.completions
      .stream({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'a' } }, { type: 'function', function: { name: 'b' } }] })
      .finalChatCompletion();
    const calls = final.choices[0].message.tool_calls as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall[];
    assert.deepEqual(calls.map((c) => JSON.parse(c.function.arguments)), [{ x: 1 }, { y: 2 }]);
  });

  test('models[] fallback: the served model is reported; provider{} is accepted and recorded', async () => {
    const res = await client.chat.completions.create({
      model: 'anthropic/claude-sonnet-4.5',
      messages: [{ role: 'user', content: 'x' }],
      // OpenRouter-only fields: the SDK forwards unknown body keys unchanged.
      ...({ models: ['openai/gpt-4o'], provider: { order: ['openai'], allow_fallbacks: true } } as object),
    });
    assert.equal(res.model, 'openai/gpt-4o');
    assert.deepEqual(fake.requests[0].body.provider, { order: ['openai'], allow_fallbacks: true });
    await assert.rejects(client.chat.completions.create({ model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => e instanceof OpenAI.NotFoundError && /No endpoints found/.test(e.message));
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => e instanceof OpenAI.BadRequestError && /gpt-4o is not a valid model ID/.test(e.message));
  });

  test('errors inside a 200: top-level error and choices[0].error with finish_reason "error" (the SDK does not throw)', async () => {
    fake.script([{ kind: 'error_in_200' }, { kind: 'choice_error', text: 'partial output' }]);
    const a = (await client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }] })) as unknown as { error: { code: number }; choices?: unknown };
    assert.equal(a.error.code, 502);
    assert.equal(a.choices, undefined);
    const b = await client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(b.choices[0].finish_reason as string, 'error');
    assert.equal(b.choices[0].message.content, 'partial output');
    assert.equal((b.choices[0] as unknown as { error: { code: number } }).error.code, 502);
  });

  test('mid-stream error chunk (top-level error + finish_reason "error") makes the SDK throw', async () => {
    for (const s of [{ kind: 'stream_error', text: 'a b c', afterDeltas: 2 }, { kind: 'choice_error', text: 'a b' }, { kind: 'error_in_200' }] as const) {
      fake.script(s);
      const stream = await client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true });
      await assert.rejects(async () => {
        for await (const _ of stream);
      }, OpenAI.APIError);
    }
  });

  test('HTTP errors: bodies and SDK classes', async () => {
    const cases: Array<[OpenRouterScenario, number, RegExp]> = [
      [{ kind: 'error', error: 'provider_error' }, 400, /Provider returned error/],
      [{ kind: 'error', error: 'context_length_exceeded' }, 400, /maximum context length/],
      [{ kind: 'error', error: 'insufficient_credits' }, 402, /Insufficient credits/],
      [{ kind: 'error', error: 'moderation' }, 403, /flagged/],
      [{ kind: 'error', error: 'timeout' }, 408, /timed out/],
      [{ kind: 'error', error: 'rate_limit' }, 429, /Rate limit exceeded/],
      [{ kind: 'error', error: 'capacity_exhausted' }, 429, /at capacity/],
      [{ kind: 'error', error: 'bad_gateway' }, 502, /temporarily unavailable/],
      [{ kind: 'error', error: 'no_provider' }, 503, /No allowed providers/],
    ];
    for (const [scenario, status, re] of cases) {
      fake.script(scenario);
      await assert.rejects(client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
        assert.ok(e instanceof OpenAI.APIError);
        assert.equal(e.status, status);
        assert.match(e.message, re);
        if (status === 403) assert.deepEqual((e.error as { metadata: { reasons: string[] } }).metadata.reasons, ['violence']);
        if (status === 503) assert.equal(e.headers?.get('retry-after'), '1');
        return true;
      });
    }
    const wrong = new OpenAI({ apiKey: 'sk-or-v1-wrong', baseURL: fake.url, maxRetries: 0 });
    await assert.rejects(wrong.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => e instanceof OpenAI.AuthenticationError && /User not found/.test(e.message));
  });

  test("the SDK's own retry succeeds after a 503 with retry-after: 0; models list", async () => {
    const retrying = new OpenAI({ apiKey: OPENROUTER_TEST_KEY, baseURL: fake.url, maxRetries: 1 });
    fake.script({ kind: 'error', error: 'no_provider', retryAfter: 0 });
    const res = await retrying.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'again' }] });
    assert.equal(res.choices[0].message.content, 'Echo: again');
    assert.equal(fake.requests.length, 2);
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes('openai/gpt-4o'));
  });
});
