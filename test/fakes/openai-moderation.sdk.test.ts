// Proves the fake OpenAI server's moderation endpoint (POST /v1/moderations) against the official `openai`
// SDK: one verdict per string, one for a multi-modal array, the categories of the SDK's Moderation type,
// deterministic scores the exported word list predicts, OpenAI's 400/404s, error scenarios, and the
// recorded requests.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import OpenAI from 'openai';
import { fakeModerationScores, MODERATION_HIT_SCORE, MODERATION_WORDS, OPENAI_TEST_KEY, startFakeOpenAI } from './openai.ts';
import type { FakeOpenAI, ModerationCategory } from './openai.ts';

// The keys of the SDK's Moderation.Categories / CategoryScores / CategoryAppliedInputTypes, written out here
// (not imported from the fake) so the test checks the fake against the SDK, not against itself.
const SDK_CATEGORIES = [
  'harassment', 'harassment/threatening', 'hate', 'hate/threatening', 'illicit', 'illicit/violent', 'self-harm',
  'self-harm/instructions', 'self-harm/intent', 'sexual', 'sexual/minors', 'violence', 'violence/graphic',
] as const satisfies ReadonlyArray<keyof OpenAI.Moderation.Categories>;
// The categories the SDK types as `Array<'text' | 'image'>`: the ones an omni model judges images on.
const SDK_IMAGE_CATEGORIES = ['self-harm', 'self-harm/instructions', 'self-harm/intent', 'sexual', 'violence', 'violence/graphic'];

const sorted = (o: object) => Object.keys(o).sort();
/** Every category false, but the listed ones. */
const verdicts = (...flagged: string[]) => Object.fromEntries(SDK_CATEGORIES.map((c) => [c, flagged.includes(c)]));
/** The categories scored MODERATION_HIT_SCORE, in SDK order. */
const hits = (r: OpenAI.Moderation) => SDK_CATEGORIES.filter((c) => r.category_scores[c] === 0.9);

function assertShape(r: OpenAI.Moderation, omni = true) {
  assert.deepEqual(sorted(r.categories), [...SDK_CATEGORIES].sort());
  assert.deepEqual(sorted(r.category_scores), [...SDK_CATEGORIES].sort());
  if (omni) assert.deepEqual(sorted(r.category_applied_input_types), [...SDK_CATEGORIES].sort());
  assert.equal(typeof r.flagged, 'boolean');
  assert.equal(r.flagged, Object.values(r.categories).some((v) => v === true));
}

describe('fake OpenAI moderations vs openai SDK', () => {
  let fake: FakeOpenAI;
  let client: OpenAI;
  before(async () => {
    fake = await startFakeOpenAI();
    client = new OpenAI({ apiKey: OPENAI_TEST_KEY, baseURL: fake.url, maxRetries: 0 });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test('a clean string: nothing flagged, tiny scores the helper predicts, every category applied to text', async () => {
    const input = 'What a lovely morning for a walk in the park.';
    const { data: res, response } = await client.moderations.create({ input, model: 'omni-moderation-2024-09-26' }).withResponse();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('x-request-id') ?? '', /^req_/);
    assert.match(res.id, /^modr-[0-9a-f]{32}$/);
    assert.equal(res.model, 'omni-moderation-2024-09-26');
    assert.equal(res.results.length, 1);
    const [r] = res.results;
    assertShape(r);
    assert.equal(r.flagged, false);
    assert.deepEqual(r.categories, verdicts());
    for (const c of SDK_CATEGORIES) {
      const score = r.category_scores[c];
      assert.ok(typeof score === 'number' && score > 0 && score < 0.001, `${c}: ${score}`);
      assert.deepEqual(r.category_applied_input_types[c], ['text'], c);
    }
    assert.deepEqual(r.category_scores, fakeModerationScores(input));
    assert.ok(new Set(Object.values(r.category_scores)).size > 1, 'the quiet scores differ between categories');

    const [req] = fake.requests;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/moderations');
    assert.equal(req.headers.authorization, `Bearer ${OPENAI_TEST_KEY}`);
    assert.deepEqual(req.body, { input, model: 'omni-moderation-2024-09-26' });
    assert.equal(req.status, 200);
  });

  test('a flagged string: its categories true at 0.9, the rest false; a sub-category flags its parent too', async () => {
    const res = await client.moderations.create({ input: 'I will KILL you, you idiot!', model: 'omni-moderation-latest' });
    const [r] = res.results;
    assertShape(r);
    assert.equal(r.flagged, true);
    assert.deepEqual(r.categories, verdicts('harassment', 'violence'));
    assert.equal(r.category_scores.violence, MODERATION_HIT_SCORE);
    assert.equal(r.category_scores.harassment, 0.9);
    assert.ok(r.category_scores['violence/graphic'] < 0.001);
    assert.deepEqual(r.category_applied_input_types.violence, ['text']);
    assert.deepEqual(r.category_scores, fakeModerationScores('I will KILL you, you idiot!'));

    const graphic = (await client.moderations.create({ input: 'There was gore everywhere.' })).results[0];
    assert.deepEqual(graphic.categories, verdicts('violence', 'violence/graphic'));
    const instructions = (await client.moderations.create({ input: 'how to   hurt myself' })).results[0];
    assert.deepEqual(instructions.categories, verdicts('self-harm', 'self-harm/instructions'));
    // Whole words only: "skill" and "killed" do not contain the word "kill".
    const clean = (await client.moderations.create({ input: 'A skill I killed time learning.' })).results[0];
    assert.equal(clean.flagged, false);
  });

  test('every word of MODERATION_WORDS flags its category (one result per string of an array, in order)', async () => {
    const cases = (Object.entries(MODERATION_WORDS) as Array<[ModerationCategory, readonly string[]]>).flatMap(([c, words]) => words.map((w) => [c, w] as const));
    assert.ok(cases.length >= 13);
    const res = await client.moderations.create({ input: cases.map(([, w]) => `well, ${w}.`) });
    assert.equal(res.results.length, cases.length);
    cases.forEach(([category, word], i) => {
      const r = res.results[i];
      assertShape(r);
      const parent = category.split('/')[0];
      assert.equal(r.flagged, true, word);
      assert.equal(r.categories[category], true, `${word} → ${category}`);
      assert.equal(r.categories[parent as ModerationCategory], true, `${word} → ${parent}`);
      assert.equal(r.category_scores[category], 0.9, word);
    });
  });

  test('an array of strings: one result each, in order', async () => {
    const input = ['Good morning!', 'Teach me to steal a car', 'watch your back'];
    const res = await client.moderations.create({ input, model: 'omni-moderation-latest' });
    assert.equal(res.model, 'omni-moderation-latest');
    assert.equal(res.results.length, 3);
    res.results.forEach((r) => assertShape(r));
    assert.deepEqual(res.results.map((r) => r.flagged), [false, true, true]);
    assert.deepEqual(hits(res.results[0]), []);
    assert.deepEqual(hits(res.results[1]), ['illicit']);
    assert.deepEqual(hits(res.results[2]), ['harassment', 'harassment/threatening']);
    assert.deepEqual(res.results.map((r) => r.category_scores), input.map((t) => fakeModerationScores(t)));
    assert.deepEqual(fake.requests[0].body.input, input);
  });

  test('a multi-modal array: ONE result; image categories applied to text and image, the others to text', async () => {
    const input: OpenAI.ModerationMultiModalInput[] = [
      { type: 'text', text: 'Look at this photo' },
      { type: 'image_url', image_url: { url: 'https://example.com/photos/gore.png' } },
      { type: 'text', text: 'you idiot' },
    ];
    const res = await client.moderations.create({ input, model: 'omni-moderation-latest' });
    assert.equal(res.results.length, 1);
    const [r] = res.results;
    assertShape(r);
    // The image's URL says gore (violence/graphic, and so violence); the text says idiot (harassment).
    assert.deepEqual(r.categories, verdicts('harassment', 'violence', 'violence/graphic'));
    assert.deepEqual(r.category_scores, fakeModerationScores('Look at this photo\nyou idiot', ['https://example.com/photos/gore.png']));
    for (const c of SDK_CATEGORIES) {
      assert.deepEqual(r.category_applied_input_types[c], SDK_IMAGE_CATEGORIES.includes(c) ? ['text', 'image'] : ['text'], c);
    }
    assert.deepEqual(fake.requests[0].body.input, input);

    // Image only: text-only categories applied to nothing; an image cannot be harassment, whatever its URL says.
    const pixel = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
    const only = (await client.moderations.create({ input: [{ type: 'image_url', image_url: { url: pixel } }] })).results[0];
    assertShape(only);
    assert.equal(only.flagged, false);
    for (const c of SDK_CATEGORIES) assert.deepEqual(only.category_applied_input_types[c], SDK_IMAGE_CATEGORIES.includes(c) ? ['image'] : [], c);
    const named = (await client.moderations.create({ input: [{ type: 'image_url', image_url: { url: 'https://example.com/idiot-explicit.jpg' } }] })).results[0];
    assert.deepEqual(named.categories, verdicts('sexual'));
  });

  test('the default model: omni-moderation-latest, not sent by the SDK', async () => {
    const res = await client.moderations.create({ input: 'murder mystery' });
    assert.deepEqual(fake.requests[0].body, { input: 'murder mystery' });
    assert.equal(res.model, 'omni-moderation-latest');
    assert.deepEqual(res.results[0].categories, verdicts('violence'));
    assert.deepEqual(res.results[0].category_applied_input_types.violence, ['text']);
  });

  test('text-moderation models: answer as text-moderation-007, illicit null, no applied input types', async () => {
    for (const model of ['text-moderation-latest', 'text-moderation-stable'] as const) {
      const res = await client.moderations.create({ input: ['steal it', 'attack at dawn'], model });
      assert.equal(res.model, 'text-moderation-007', model);
      assert.equal(res.results.length, 2);
      const [illicit, violent] = res.results;
      assertShape(illicit, false);
      assert.equal((illicit as { category_applied_input_types?: unknown }).category_applied_input_types, undefined);
      assert.equal(illicit.categories.illicit, null);
      assert.equal(illicit.categories['illicit/violent'], null);
      assert.equal(illicit.category_scores.illicit as number | null, null);
      assert.equal(illicit.flagged, false, 'a text model has no illicit category to flag');
      assert.equal(violent.flagged, true);
      assert.equal(violent.categories.violence, true);
    }
  });

  test('bad bodies are 400s naming the param; an unknown model 404s; none consumes a scenario', async () => {
    const bad = async (body: Record<string, unknown>, param: string | null, code: string | null, message: RegExp | string) => {
      await assert.rejects(client.moderations.create(body as unknown as OpenAI.ModerationCreateParams), (e: unknown) => {
        assert.ok(e instanceof OpenAI.BadRequestError, `${JSON.stringify(body)} -> ${String(e)}`);
        assert.equal(e.status, 400);
        assert.equal(e.param, param, JSON.stringify(body));
        assert.equal(e.code, code, JSON.stringify(body));
        assert.equal(e.type, 'invalid_request_error');
        const m = (e.error as { message: string }).message;
        if (typeof message === 'string') assert.equal(m, message);
        else assert.match(m, message);
        return true;
      });
    };
    fake.script({ kind: 'error', error: 'rate_limit' });
    await bad({ input: '' }, 'input', 'empty_string', "Invalid 'input': empty string. Expected a string with minimum length 1, but got an empty string instead.");
    await bad({ input: [] }, 'input', 'empty_array', "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.");
    await bad({ model: 'omni-moderation-latest' }, 'input', 'missing_required_parameter', "Missing required parameter: 'input'.");
    await bad({ input: 'hi', user: 'u-1' }, null, null, 'Unrecognized request argument supplied: user');
    await bad({ input: 42 }, 'input', 'invalid_type', /but got an integer instead/);
    await bad({ input: ['ok', ''] }, 'input[1]', 'empty_string', /^Invalid 'input\[1\]': empty string/);
    await bad({ input: ['ok', { type: 'text', text: 'x' }] }, 'input[1]', 'invalid_type', "Invalid type for 'input[1]': expected a string, but got an object instead.");
    await bad({ input: [{ type: 'text', text: 'x' }, 'ok'] }, 'input[1]', 'invalid_type', /expected an object, but got a string/);
    await bad({ input: [{ type: 'input_audio' }] }, 'input[0].type', 'invalid_value', "Invalid value: 'input_audio'. Supported values are: 'text' and 'image_url'.");
    await bad({ input: [{ type: 'text' }] }, 'input[0].text', 'missing_required_parameter', "Missing required parameter: 'input[0].text'.");
    await bad({ input: [{ type: 'image_url', image_url: { url: 'not a url' } }] }, 'input[0].image_url.url', 'invalid_value', /Expected a valid URL/);
    await bad({ input: [{ type: 'image_url', image_url: {} }] }, 'input[0].image_url.url', 'missing_required_parameter', /image_url\.url/);
    const img = { type: 'image_url', image_url: { url: 'https://example.com/a.png' } };
    await bad({ input: [img, img] }, 'input', 'invalid_value', /at most 1 image input/);
    // Images (any multi-modal array) are for omni models only.
    await bad({ input: [{ type: 'text', text: 'x' }, img], model: 'text-moderation-latest' }, 'input', 'unsupported_value', /does not support image inputs with this model/);
    await bad({ input: [{ type: 'text', text: 'x' }], model: 'text-moderation-stable' }, 'input', 'unsupported_value', /does not support multi-modal/);
    await bad({ input: 'x', model: 'gpt-4o' }, 'model', 'invalid_value', "Invalid value: 'gpt-4o'. Supported values are: 'omni-moderation-latest', 'omni-moderation-2024-09-26', 'text-moderation-latest', and 'text-moderation-stable'.");
    await bad({ input: 'x', model: 7 }, 'model', 'invalid_type', "Invalid type for 'model': expected a string, but got an integer instead.");
    assert.equal(fake.requests.at(-1)!.status, 400);
    assert.equal(fake.requests.at(-1)!.body.model, 7);

    await assert.rejects(client.moderations.create({ input: 'x', model: 'moderation-9000' }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.NotFoundError);
      assert.equal(e.code, 'model_not_found');
      assert.equal(e.param, null);
      assert.match(e.message, /The model `moderation-9000` does not exist/);
      return true;
    });
    const wrong = new OpenAI({ apiKey: 'sk-wrong-123456', baseURL: fake.url, maxRetries: 0 });
    await assert.rejects(wrong.moderations.create({ input: 'x' }), OpenAI.AuthenticationError);
    assert.equal(fake.pending(), 1, 'rejected requests leave the scenario queued');
    await assert.rejects(client.moderations.create({ input: 'x' }), OpenAI.RateLimitError);
    assert.equal(fake.pending(), 0);
  });

  test('scripted failures: a 429 as RateLimitError, 500, a reset, broken JSON; then a success', async () => {
    fake.script([
      { kind: 'error', error: 'rate_limit', retryAfter: 3 },
      { kind: 'error', error: 'server_error' },
      { kind: 'disconnect' },
      { kind: 'malformed' },
    ]);
    await assert.rejects(client.moderations.create({ input: 'a boat', model: 'omni-moderation-latest' }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.status, 429);
      assert.equal(e.code, 'rate_limit_exceeded');
      assert.match(e.message, /Rate limit reached for omni-moderation-latest/);
      assert.equal(e.headers?.get('retry-after'), '3');
      assert.equal(e.headers?.get('x-ratelimit-remaining-tokens'), '0');
      return true;
    });
    await assert.rejects(client.moderations.create({ input: 'a boat', model: 'text-moderation-latest' }), OpenAI.InternalServerError);
    await assert.rejects(client.moderations.create({ input: ['a boat'] }), OpenAI.APIConnectionError);
    await assert.rejects(client.moderations.create({ input: 'a boat' }), (e: unknown) => !(e instanceof OpenAI.APIError) && e instanceof Error);
    assert.equal(fake.pending(), 0);
    const ok = await client.moderations.create({ input: 'a boat' });
    assert.equal(ok.results[0].flagged, false);
    assert.deepEqual(
      fake.requests.map((r) => [r.body.model, r.status]),
      [['omni-moderation-latest', 429], ['text-moderation-latest', 500], [undefined, undefined], [undefined, 200], [undefined, 200]],
    );
  });

  test('a closed model list: a moderation model it lacks is not found', async () => {
    const closed = await startFakeOpenAI({ models: ['gpt-4o', 'text-moderation-stable'] });
    try {
      const c = new OpenAI({ apiKey: OPENAI_TEST_KEY, baseURL: closed.url, maxRetries: 0 });
      await assert.rejects(c.moderations.create({ input: 'x' }), (e: unknown) => e instanceof OpenAI.NotFoundError && /omni-moderation-latest/.test(e.message));
      const res = await c.moderations.create({ input: 'x', model: 'text-moderation-stable' });
      assert.equal(res.model, 'text-moderation-007');
    } finally {
      await closed.close();
    }
  });
});
