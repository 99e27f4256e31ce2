// Proves the fake OpenAI server's image generation (POST /v1/images/generations) against the official
// `openai` SDK: GPT Image base64 PNGs with token usage, DALL·E URLs the fake serves and revised prompts,
// OpenAI's 400s for what a model does not take, error scenarios, and the recorded requests.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { inflateSync } from 'node:zlib';
import OpenAI from 'openai';
import { defaultRevisedPrompt, IMAGE_OUTPUT_TOKENS, OPENAI_TEST_KEY, startFakeOpenAI } from './openai.ts';
import type { FakeOpenAI } from './openai.ts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// CRC-32 written out here rather than node:zlib's, so the PNG checks do not trust the fake's own tool.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Parse a PNG strictly (signature, chunk CRCs, IHDR first, IDAT inflates to the pixel rows, IEND last);
 *  returns its size and raw scanlines. */
function readPng(bytes: Buffer): { width: number; height: number; colourType: number; raw: Buffer } {
  assert.deepEqual(bytes.subarray(0, 8), PNG_SIGNATURE, 'PNG signature');
  const chunks: Array<{ type: string; data: Buffer }> = [];
  for (let at = 8; at < bytes.length; ) {
    const len = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    const data = bytes.subarray(at + 8, at + 8 + len);
    assert.equal(bytes.readUInt32BE(at + 8 + len), crc32(bytes.subarray(at + 4, at + 8 + len)), `${type} CRC`);
    chunks.push({ type, data });
    at += 12 + len;
  }
  assert.deepEqual(chunks.map((c) => c.type), ['IHDR', 'IDAT', 'IEND']);
  const ihdr = chunks[0].data;
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const colourType = ihdr[9];
  assert.equal(ihdr[8], 8, 'bit depth');
  const raw = inflateSync(chunks[1].data);
  const channels = colourType === 6 ? 4 : 3;
  assert.equal(raw.length, height * (1 + width * channels), 'one filter byte and the pixels per row');
  return { width, height, colourType, raw };
}

const words = (s: string) => s.split(/\s+/).filter(Boolean).length;

describe('fake OpenAI images vs openai SDK', () => {
  let fake: FakeOpenAI;
  let client: OpenAI;
  before(async () => {
    fake = await startFakeOpenAI();
    client = new OpenAI({ apiKey: OPENAI_TEST_KEY, baseURL: fake.url, maxRetries: 0 });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test('gpt-image-1: a base64 PNG, the resolved settings and token usage (auto → 1024x1024, medium)', async () => {
    const prompt = 'a lighthouse at dusk, oil painting';
    const { data: res, response } = await client.images.generate({ model: 'gpt-image-1', prompt }).withResponse();
    assert.match(response.headers.get('x-request-id') ?? '', /^req_/);
    assert.equal(res.data?.length, 1);
    const [img] = res.data!;
    assert.equal(img.url, undefined);
    assert.equal(img.revised_prompt, undefined);
    const png = readPng(Buffer.from(img.b64_json!, 'base64'));
    assert.equal(png.colourType, 2);
    assert.ok(png.width > 0 && png.height > 0);
    assert.equal(typeof res.created, 'number');
    assert.equal(res.size, '1024x1024');
    assert.equal(res.quality, 'medium');
    assert.equal(res.background, 'opaque');
    assert.equal(res.output_format, 'png');
    const u = res.usage!;
    assert.equal(u.input_tokens, words(prompt));
    assert.deepEqual(u.input_tokens_details, { text_tokens: words(prompt), image_tokens: 0 });
    assert.equal(u.output_tokens, 1056);
    assert.equal(u.total_tokens, u.input_tokens + u.output_tokens);

    const [req] = fake.requests;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/images/generations');
    assert.equal(req.headers.authorization, `Bearer ${OPENAI_TEST_KEY}`);
    assert.deepEqual(req.body, { model: 'gpt-image-1', prompt });
    assert.equal(req.status, 200);
  });

  test('gpt-image-1: output tokens by size and quality, times n; n distinct images; transparent background', async () => {
    const cases: Array<[size: '1024x1024' | '1536x1024' | '1024x1536', quality: 'low' | 'medium' | 'high', n: number, tokens: number]> = [
      ['1024x1024', 'low', 1, 272],
      ['1024x1024', 'high', 2, 4160 * 2],
      ['1536x1024', 'low', 3, 408 * 3],
      ['1024x1536', 'medium', 1, 1584],
      ['1536x1024', 'high', 2, 6240 * 2],
    ];
    for (const [size, quality, n, tokens] of cases) {
      const res = await client.images.generate({ model: 'gpt-image-1', prompt: 'two foxes', size, quality, n, background: 'transparent', output_format: 'webp', output_compression: 80, moderation: 'low' });
      assert.equal(res.data?.length, n);
      assert.equal(res.size, size);
      assert.equal(res.quality, quality);
      assert.equal(res.background, 'transparent');
      assert.equal(res.output_format, 'webp');
      assert.equal(res.usage?.output_tokens, tokens, `${size} ${quality} n=${n}`);
      assert.equal(res.usage?.output_tokens, IMAGE_OUTPUT_TOKENS[size][quality] * n);
      assert.equal(res.usage?.total_tokens, res.usage!.input_tokens + tokens);
      assert.equal(new Set(res.data!.map((d) => d.b64_json)).size, n, 'distinct images');
      for (const d of res.data!) readPng(Buffer.from(d.b64_json!, 'base64'));
    }
    // chatgpt-image-* is a GPT Image model too.
    const res = await client.images.generate({ model: 'chatgpt-image-latest', prompt: 'x', quality: 'auto', size: 'auto' });
    assert.equal(res.usage?.output_tokens, 1056);
  });

  test('different prompts give different images; the same prompt the same bytes', async () => {
    const a = await client.images.generate({ model: 'gpt-image-1', prompt: 'a red cat' });
    const b = await client.images.generate({ model: 'gpt-image-1', prompt: 'a blue dog' });
    const a2 = await client.images.generate({ model: 'gpt-image-1', prompt: 'a red cat' });
    assert.notEqual(a.data![0].b64_json, b.data![0].b64_json);
    assert.equal(a.data![0].b64_json, a2.data![0].b64_json);
  });

  test('dall-e-3: a URL the fake serves as image/png (no key needed), revised_prompt, no usage', async () => {
    const prompt = 'a cozy cabin in the snow';
    const res = await client.images.generate({ model: 'dall-e-3', prompt, size: '1792x1024', quality: 'hd', style: 'natural' });
    assert.equal(res.data?.length, 1);
    const [img] = res.data!;
    assert.equal(img.revised_prompt, defaultRevisedPrompt(prompt));
    assert.ok(img.revised_prompt!.endsWith(prompt));
    assert.equal(img.b64_json, undefined);
    assert.match(img.url!, /^http:\/\/127\.0\.0\.1:\d+\/v1\/files\/img-\w+\.png$/);
    assert.ok(img.url!.startsWith(`${fake.url}/files/img-`));
    assert.equal(res.usage, undefined);
    assert.equal(res.size, undefined);

    const before = fake.requests.length;
    const got = await fetch(img.url!); // as a browser would: no Authorization header
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/png');
    const bytes = Buffer.from(await got.arrayBuffer());
    readPng(bytes);
    assert.equal(fake.requests.length, before + 1);
    assert.equal(fake.requests.at(-1)!.method, 'GET');
    assert.equal(fake.pending(), 0);

    const missing = await fetch(`${fake.url}/files/img-nope.png`, { headers: { authorization: `Bearer ${OPENAI_TEST_KEY}` } });
    assert.equal(missing.status, 404);
  });

  test('dall-e-3: b64_json on request; a scenario sets revised_prompt', async () => {
    fake.script({ kind: 'images', revisedPrompt: 'A watercolour of a heron.' });
    const res = await client.images.generate({ model: 'dall-e-3', prompt: 'heron', response_format: 'b64_json' });
    const [img] = res.data!;
    assert.equal(img.url, undefined);
    assert.equal(img.revised_prompt, 'A watercolour of a heron.');
    readPng(Buffer.from(img.b64_json!, 'base64'));
  });

  test('dall-e-2 (the default model) with n=3: three distinct images by URL, no revised_prompt or usage', async () => {
    const res = await client.images.generate({ prompt: 'a lamp', n: 3, size: '256x256' });
    assert.equal(fake.requests[0].body.model, undefined);
    assert.equal(res.data?.length, 3);
    assert.equal(res.usage, undefined);
    const images: string[] = [];
    for (const img of res.data!) {
      assert.equal(img.revised_prompt, undefined);
      const r = await fetch(img.url!);
      assert.equal(r.status, 200);
      const bytes = Buffer.from(await r.arrayBuffer());
      readPng(bytes);
      images.push(bytes.toString('base64'));
    }
    assert.equal(new Set(res.data!.map((d) => d.url)).size, 3);
    assert.equal(new Set(images).size, 3);

    const b64 = await client.images.generate({ model: 'dall-e-2', prompt: 'a lamp', n: 3, response_format: 'b64_json' });
    assert.deepEqual(b64.data!.map((d) => d.b64_json), images, 'the same images, inline');
  });

  test('what a model does not take is a 400 naming the param', async () => {
    const bad = async (body: Record<string, unknown>, param: string | null, code: string | null, message: RegExp | string) => {
      await assert.rejects(client.images.generate(body as unknown as OpenAI.ImageGenerateParamsNonStreaming), (e: unknown) => {
        assert.ok(e instanceof OpenAI.BadRequestError, `${JSON.stringify(body)} -> ${String(e)}`);
        assert.equal(e.param, param, JSON.stringify(body));
        assert.equal(e.code, code, JSON.stringify(body));
        assert.equal(e.type, 'invalid_request_error');
        const m = (e.error as { message: string }).message;
        if (typeof message === 'string') assert.equal(m, message);
        else assert.match(m, message);
        return true;
      });
    };
    await bad({ model: 'gpt-image-1' }, 'prompt', 'missing_required_parameter', "Missing required parameter: 'prompt'.");
    await bad({ model: 'gpt-image-1', prompt: 'x', seed: 3 }, null, null, 'Unrecognized request argument supplied: seed');
    await bad({ model: 'gpt-image-1', prompt: 'x', size: '2048x2048' }, 'size', 'invalid_value', "Invalid value: '2048x2048'. Supported values are: '1024x1024', '1536x1024', '1024x1536', and 'auto'.");
    await bad({ model: 'gpt-image-1', prompt: 'x', quality: 'hd' }, 'quality', 'invalid_value', "Invalid value: 'hd'. Supported values are: 'low', 'medium', 'high', and 'auto'.");
    await bad({ model: 'gpt-image-1', prompt: 'x', response_format: 'url' }, 'response_format', 'unknown_parameter', "Unknown parameter: 'response_format'.");
    await bad({ model: 'gpt-image-1', prompt: 'x', n: 11 }, 'n', 'integer_above_max_value', /Expected a value <= 10, but got 11/);
    await bad({ model: 'gpt-image-1', prompt: 'x', n: 0 }, 'n', 'integer_below_min_value', /Expected a value >= 1, but got 0/);
    await bad({ model: 'dall-e-3', prompt: 'x', n: 2 }, 'n', null, 'You must provide n=1 for this model.');
    await bad({ model: 'dall-e-3', prompt: 'x', size: '512x512' }, 'size', 'invalid_value', "Invalid value: '512x512'. Supported values are: '1024x1024', '1792x1024', and '1024x1792'.");
    await bad({ model: 'dall-e-3', prompt: 'x', quality: 'high' }, 'quality', 'invalid_value', "Invalid value: 'high'. Supported values are: 'standard' and 'hd'.");
    await bad({ model: 'dall-e-3', prompt: 'x', style: 'cartoon' }, 'style', 'invalid_value', /Supported values are: 'vivid' and 'natural'/);
    await bad({ model: 'dall-e-2', prompt: 'x', size: '1792x1024' }, 'size', 'invalid_value', /Supported values are: '256x256', '512x512', and '1024x1024'/);
    await bad({ model: 'dall-e-2', prompt: 'x', response_format: 'png' }, 'response_format', 'invalid_value', /Supported values are: 'url' and 'b64_json'/);
    await bad({ model: 'gpt-4o', prompt: 'x' }, 'model', 'invalid_value', /Invalid value: 'gpt-4o'/);
    // Rejected requests are recorded too, and consume no scenario.
    fake.script({ kind: 'error', error: 'rate_limit' });
    await bad({ model: 'gpt-image-1', prompt: 'x', size: '1x1' }, 'size', 'invalid_value', /'1x1'/);
    assert.equal(fake.pending(), 1);
    assert.equal(fake.requests.at(-1)!.body.size, '1x1');
    assert.equal(fake.requests.at(-1)!.status, 400);

    await assert.rejects(client.images.generate({ model: 'midjourney-7', prompt: 'x' }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.NotFoundError);
      assert.equal(e.code, 'model_not_found');
      return true;
    });
    const wrong = new OpenAI({ apiKey: 'sk-wrong-123456', baseURL: fake.url, maxRetries: 0 });
    await assert.rejects(wrong.images.generate({ model: 'gpt-image-1', prompt: 'x' }), OpenAI.AuthenticationError);
  });

  test('error and transport scenarios answer the images endpoint, then the next request succeeds', async () => {
    fake.script([{ kind: 'error', error: 'rate_limit', retryAfter: 3 }, { kind: 'error', error: 'server_error' }, { kind: 'disconnect' }]);
    await assert.rejects(client.images.generate({ model: 'gpt-image-1', prompt: 'a boat' }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.code, 'rate_limit_exceeded');
      assert.match(e.message, /Rate limit reached for gpt-image-1/);
      assert.equal(e.headers?.get('retry-after'), '3');
      return true;
    });
    await assert.rejects(client.images.generate({ model: 'dall-e-3', prompt: 'a boat' }), OpenAI.InternalServerError);
    await assert.rejects(client.images.generate({ model: 'dall-e-2', prompt: 'a boat' }), OpenAI.APIConnectionError);
    const ok = await client.images.generate({ model: 'gpt-image-1', prompt: 'a boat' });
    assert.ok(ok.data?.[0].b64_json);
    assert.deepEqual(
      fake.requests.map((r) => [r.body.model, r.body.prompt]),
      [['gpt-image-1', 'a boat'], ['dall-e-3', 'a boat'], ['dall-e-2', 'a boat'], ['gpt-image-1', 'a boat']],
    );
  });

  test('gpt-image-1 streaming: partial images, then a completed event with the usage', async () => {
    const stream = await client.images.generate({ model: 'gpt-image-1', prompt: 'a quiet harbour at dawn', stream: true, partial_images: 2, quality: 'low' });
    const events: OpenAI.Images.ImageGenStreamEvent[] = [];
    for await (const ev of stream) events.push(ev);
    assert.deepEqual(events.map((e) => e.type), ['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed']);
    assert.deepEqual(events.slice(0, 2).map((e) => (e as OpenAI.Images.ImageGenPartialImageEvent).partial_image_index), [0, 1]);
    const done = events[2] as OpenAI.Images.ImageGenCompletedEvent;
    readPng(Buffer.from(done.b64_json, 'base64'));
    assert.equal(done.quality, 'low');
    assert.equal(done.size, '1024x1024');
    assert.deepEqual(done.usage, { input_tokens: 5, input_tokens_details: { text_tokens: 5, image_tokens: 0 }, output_tokens: 272, total_tokens: 277 });
    // DALL·E does not stream.
    await assert.rejects(client.images.generate({ model: 'dall-e-3', prompt: 'x', stream: true }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'stream');
  });
});
