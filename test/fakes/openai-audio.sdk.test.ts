// Proves the fake OpenAI server's audio endpoints against the official `openai` SDK: transcriptions and
// translations (multipart uploads as the SDK encodes them, Whisper's five formats and duration usage, the
// token-billed gpt-4o transcribe models, streaming), speech (audio bytes per format, a WAV that transcribes
// back to its input, SSE events), OpenAI's 400s, error scenarios and the recorded requests.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import OpenAI, { toFile, toStreamingFile } from 'openai';
import { DEFAULT_HEARD_TEXT, wavFromPcm, wavWithText } from './audio.ts';
import { OPENAI_TEST_KEY, startFakeOpenAI } from './openai.ts';
import type { FakeOpenAI } from './openai.ts';

/** Read a WAV strictly (written here rather than taken from audio.ts, so the checks do not trust the fake's own reader). */
function parseWav(bytes: Buffer): { rate: number; channels: number; bits: number; data: Buffer; comment?: string } {
  assert.equal(bytes.toString('latin1', 0, 4), 'RIFF');
  assert.equal(bytes.readUInt32LE(4), bytes.length - 8, 'RIFF size');
  assert.equal(bytes.toString('latin1', 8, 12), 'WAVE');
  const chunks = new Map<string, Buffer>();
  for (let at = 12; at < bytes.length; ) {
    const id = bytes.toString('latin1', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    assert.ok(at + 8 + size <= bytes.length, `${id} fits`);
    chunks.set(id, bytes.subarray(at + 8, at + 8 + size));
    at += 8 + size + (size % 2);
  }
  const fmt = chunks.get('fmt ')!;
  assert.equal(fmt.readUInt16LE(0), 1, 'PCM');
  const channels = fmt.readUInt16LE(2);
  const rate = fmt.readUInt32LE(4);
  const bits = fmt.readUInt16LE(14);
  assert.equal(fmt.readUInt32LE(8), (rate * channels * bits) / 8, 'byte rate');
  let comment: string | undefined;
  const list = chunks.get('LIST');
  if (list) {
    assert.equal(list.toString('latin1', 0, 4), 'INFO');
    assert.equal(list.toString('latin1', 4, 8), 'ICMT');
    const len = list.readUInt32LE(8);
    const raw = list.subarray(12, 12 + len);
    assert.equal(raw.at(-1), 0, 'NUL-terminated');
    comment = raw.subarray(0, -1).toString('utf8');
  }
  return { rate, channels, bits, data: chunks.get('data')!, comment };
}

/** `data:` events of an SSE body, parsed. */
function sseEvents(text: string): Array<Record<string, any>> {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      return JSON.parse(data) as Record<string, any>;
    });
}

const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
const SAID = 'Hello there. How are you today?';

async function badRequest(p: Promise<unknown>, param: string | null, message: string | RegExp, code?: string | null): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.param, param);
    assert.equal(e.type, 'invalid_request_error');
    if (code !== undefined) assert.equal(e.code, code);
    const m = (e.error as { message: string }).message;
    if (typeof message === 'string') assert.equal(m, message);
    else assert.match(m, message);
    return true;
  });
}

describe('fake OpenAI audio vs openai SDK', () => {
  let fake: FakeOpenAI;
  let client: OpenAI;
  before(async () => {
    fake = await startFakeOpenAI();
    client = new OpenAI({ apiKey: OPENAI_TEST_KEY, baseURL: fake.url, maxRetries: 0 });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test('whisper-1 verbose_json with word and segment timestamps: the WAV comment, its duration, duration usage', async () => {
    const wav = wavWithText(SAID, 2.5);
    const { data: res, response } = await client.audio.transcriptions
      .create({ file: await toFile(wav, 'hello.wav', { type: 'audio/wav' }), model: 'whisper-1', response_format: 'verbose_json', timestamp_granularities: ['word', 'segment'] })
      .withResponse();
    assert.match(response.headers.get('x-request-id') ?? '', /^req_/);
    assert.equal(res.text, SAID);
    assert.equal(res.duration, 2.5);
    assert.equal(res.language, 'english');
    assert.equal((res as unknown as { task: string }).task, 'transcribe');
    assert.deepEqual(res.usage, { type: 'duration', seconds: 3 });
    assert.equal(res.segments?.length, 2);
    const [a, b] = res.segments!;
    assert.deepEqual([a.id, a.start, a.end, a.text, a.seek], [0, 0, 1.25, ' Hello there.', 0]);
    assert.deepEqual([b.id, b.start, b.end, b.text], [1, 1.25, 2.5, ' How are you today?']);
    for (const s of res.segments!) {
      assert.equal(s.tokens.length, words(s.text));
      assert.ok(s.tokens.every((t) => Number.isInteger(t)));
      assert.equal(s.temperature, 0);
      for (const k of ['avg_logprob', 'compression_ratio', 'no_speech_prob'] as const) assert.equal(typeof s[k], 'number');
    }
    assert.deepEqual(res.words?.map((w) => w.word), ['Hello', 'there', 'How', 'are', 'you', 'today']);
    assert.deepEqual(res.words?.slice(0, 2), [{ word: 'Hello', start: 0, end: 0.625 }, { word: 'there', start: 0.625, end: 1.25 }]);
    assert.deepEqual(res.words?.at(-1), { word: 'today', start: 2.188, end: 2.5 });
    for (let i = 1; i < res.words!.length; i++) assert.equal(res.words![i].start, res.words![i - 1].end);

    // The recorded request: the form fields as the SDK named them, the upload byte for byte.
    const [req] = fake.requests;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/audio/transcriptions');
    assert.equal(req.headers.authorization, `Bearer ${OPENAI_TEST_KEY}`);
    assert.match(String(req.headers['content-type']), /^multipart\/form-data; boundary=/);
    assert.deepEqual(req.body, {
      file: { filename: 'hello.wav', type: 'audio/wav', size: wav.length, bytes: wav },
      model: 'whisper-1',
      response_format: 'verbose_json',
      'timestamp_granularities[]': ['word', 'segment'],
    });
    assert.equal(req.status, 200);
  });

  test('whisper-1 json (the default): text and duration usage; a file that is not a WAV says the default text, bytes / 16000 seconds', async () => {
    const res = await client.audio.transcriptions.create({ file: await toFile(wavWithText('Short one.', 0.4), 'a.wav'), model: 'whisper-1' });
    assert.deepEqual(res, { text: 'Short one.', usage: { type: 'duration', seconds: 1 } });
    const mp3 = await client.audio.transcriptions.create({ file: await toFile(Buffer.alloc(48_000, 7), 'clip.mp3', { type: 'audio/mpeg' }), model: 'whisper-1', response_format: 'verbose_json' });
    assert.equal(mp3.text, DEFAULT_HEARD_TEXT);
    assert.equal(mp3.text, 'Hello from the fake transcription service.');
    assert.equal(mp3.duration, 3);
    assert.equal(mp3.words, undefined, 'no word timestamps unless asked');
    assert.equal(mp3.segments?.length, 1);
  });

  test('whisper-1 text, srt and vtt are strings in the standard formats', async () => {
    const file = await toFile(wavWithText(SAID, 4), 'hello.wav', { type: 'audio/wav' });
    const { data: text, response } = await client.audio.transcriptions.create({ file, model: 'whisper-1', response_format: 'text' }).withResponse();
    assert.equal(typeof text, 'string');
    assert.equal(text, `${SAID}\n`);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const srt = await client.audio.transcriptions.create({ file, model: 'whisper-1', response_format: 'srt' });
    assert.equal(srt, '1\n00:00:00,000 --> 00:00:02,000\nHello there.\n\n2\n00:00:02,000 --> 00:00:04,000\nHow are you today?\n\n');
    const vtt = await client.audio.transcriptions.create({ file, model: 'whisper-1', response_format: 'vtt' });
    assert.equal(vtt, 'WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello there.\n\n00:00:02.000 --> 00:00:04.000\nHow are you today?\n\n');
    // Past an hour: hours, minutes and milliseconds are all there (an 8 Hz WAV keeps the upload small).
    const slow = wavFromPcm(Buffer.alloc(3725.5 * 8 * 2), { sampleRate: 8, comment: 'One. Two. Three.' });
    const long = await client.audio.transcriptions.create({ file: await toFile(slow, 'long.wav'), model: 'whisper-1', response_format: 'srt' });
    assert.match(long, /^1\n00:00:00,000 --> 00:20:41,833\nOne\.\n\n2\n00:20:41,833 --> 00:41:23,667\nTwo\.\n\n3\n00:41:23,667 --> 01:02:05,500\nThree\.\n\n$/);
  });

  test('gpt-4o-transcribe json: token usage (audio tokens from the duration, text tokens from the prompt); logprobs on request', async () => {
    const file = await toFile(wavWithText(SAID, 2.5), 'hello.wav', { type: 'audio/wav' });
    const res = await client.audio.transcriptions.create({ file, model: 'gpt-4o-transcribe', prompt: 'Names: Ada', language: 'en', temperature: 0.2 });
    assert.equal(res.text, SAID);
    assert.deepEqual(res.usage, { type: 'tokens', input_tokens: 27, input_token_details: { text_tokens: 2, audio_tokens: 25 }, output_tokens: 6, total_tokens: 33 });
    assert.equal(res.logprobs, undefined);
    assert.deepEqual(fake.requests[0].body.temperature, '0.2');
    assert.deepEqual(fake.requests[0].body.language, 'en');

    const lp = await client.audio.transcriptions.create({ file, model: 'gpt-4o-mini-transcribe', include: ['logprobs'] });
    assert.equal(lp.logprobs?.map((l) => l.token).join(''), SAID);
    assert.ok(lp.logprobs!.every((l) => typeof l.logprob === 'number' && l.logprob < 0 && Array.isArray(l.bytes)));
    assert.deepEqual(fake.requests[1].body['include[]'], ['logprobs']);
    assert.equal(lp.usage?.type, 'tokens');

    const text = await client.audio.transcriptions.create({ file, model: 'gpt-4o-mini-transcribe', response_format: 'text' });
    assert.equal(text, `${SAID}\n`);
  });

  test('gpt-4o-mini-transcribe stream: transcript.text.delta events, then transcript.text.done with the usage', async () => {
    const stream = await client.audio.transcriptions.create({ file: await toFile(wavWithText(SAID, 1.23), 'x.wav'), model: 'gpt-4o-mini-transcribe', stream: true });
    const events: OpenAI.Audio.TranscriptionStreamEvent[] = [];
    for await (const ev of stream) events.push(ev);
    const deltas = events.filter((e): e is OpenAI.Audio.TranscriptionTextDeltaEvent => e.type === 'transcript.text.delta');
    assert.equal(deltas.length, 6);
    assert.deepEqual(deltas[0], { type: 'transcript.text.delta', delta: 'Hello ' });
    assert.equal(deltas.map((d) => d.delta).join(''), SAID);
    const done = events.at(-1) as OpenAI.Audio.TranscriptionTextDoneEvent;
    assert.equal(done.type, 'transcript.text.done');
    assert.equal(done.text, SAID);
    assert.deepEqual(done.usage, { type: 'tokens', input_tokens: 13, input_token_details: { text_tokens: 0, audio_tokens: 13 }, output_tokens: 6, total_tokens: 19 });
    assert.equal(events.length, 7);
    assert.equal(fake.requests[0].body.stream, 'true');
  });

  test('gpt-4o-transcribe-diarize: diarized_json segments with a speaker and token usage; no prompt', async () => {
    const file = await toFile(wavWithText(SAID, 3), 'two.wav', { type: 'audio/wav' });
    const res = (await client.audio.transcriptions.create({ file, model: 'gpt-4o-transcribe-diarize', response_format: 'diarized_json' })) as unknown as OpenAI.Audio.TranscriptionDiarized;
    assert.equal(res.task, 'transcribe');
    assert.equal(res.duration, 3);
    assert.equal(res.text, SAID);
    assert.deepEqual(res.segments, [
      { type: 'transcript.text.segment', id: 'seg_0', start: 0, end: 1.5, text: 'Hello there.', speaker: 'A' },
      { type: 'transcript.text.segment', id: 'seg_1', start: 1.5, end: 3, text: 'How are you today?', speaker: 'A' },
    ]);
    assert.deepEqual(res.usage, { type: 'tokens', input_tokens: 30, input_token_details: { text_tokens: 0, audio_tokens: 30 }, output_tokens: 6, total_tokens: 36 });
    await badRequest(client.audio.transcriptions.create({ file, model: 'gpt-4o-transcribe-diarize', prompt: 'x' }), 'prompt', "Unsupported parameter: 'prompt' is not supported with this model.", 'unsupported_parameter');
    await badRequest(client.audio.transcriptions.create({ file, model: 'gpt-4o-transcribe', response_format: 'diarized_json' }), 'response_format', /Use 'json' or 'text' instead\.$/);
  });

  test('the SDK streaming encoder (toStreamingFile) and nested fields: chunking_strategy as name[key] fields', async () => {
    const wav = wavWithText('Streamed upload.', 1);
    const chunks = async function* () {
      yield wav.subarray(0, 100);
      yield wav.subarray(100);
    };
    const res = await client.audio.transcriptions.create({
      file: toStreamingFile(chunks(), 'dir/streamed.wav', { type: 'audio/wav' }),
      model: 'gpt-4o-transcribe',
      chunking_strategy: { type: 'server_vad', threshold: 0.5, silence_duration_ms: 300 },
    });
    assert.equal(res.text, 'Streamed upload.');
    const req = fake.requests[0];
    assert.match(String(req.headers['content-type']), /boundary=openai-/);
    assert.equal(req.headers['transfer-encoding'], 'chunked');
    assert.deepEqual(req.body, {
      file: { filename: 'streamed.wav', type: 'audio/wav', size: wav.length, bytes: wav },
      model: 'gpt-4o-transcribe',
      'chunking_strategy[type]': 'server_vad',
      'chunking_strategy[threshold]': '0.5',
      'chunking_strategy[silence_duration_ms]': '300',
    });
    const auto = await client.audio.transcriptions.create({ file: await toFile(wav, 's.wav'), model: 'whisper-1', chunking_strategy: 'auto' });
    assert.equal(auto.text, 'Streamed upload.');
    assert.equal(fake.requests[1].body.chunking_strategy, 'auto');
  });

  test('translations: whisper-1 only, the text prefixed [en], no usage; verbose_json says translate/english', async () => {
    const file = await toFile(wavWithText('Bonjour tout le monde.', 2), 'fr.wav', { type: 'audio/wav' });
    const res = await client.audio.translations.create({ file, model: 'whisper-1' });
    assert.deepEqual(res, { text: '[en] Bonjour tout le monde.' });
    // The SDK's translation overloads do not narrow on response_format (its first overload takes them all).
    const verbose = (await client.audio.translations.create({ file, model: 'whisper-1', response_format: 'verbose_json', temperature: 0 })) as OpenAI.Audio.TranslationVerbose;
    assert.equal((verbose as unknown as { task: string }).task, 'translate');
    assert.equal(verbose.language, 'english');
    assert.equal(verbose.duration, 2);
    assert.equal(verbose.text, '[en] Bonjour tout le monde.');
    assert.deepEqual(verbose.segments?.map((s) => [s.start, s.end, s.text]), [[0, 2, ' [en] Bonjour tout le monde.']]);
    assert.equal((verbose as unknown as { usage?: unknown }).usage, undefined);
    const srt = await client.audio.translations.create({ file, model: 'whisper-1', response_format: 'srt' });
    assert.equal(srt, '1\n00:00:00,000 --> 00:00:02,000\n[en] Bonjour tout le monde.\n\n');
    assert.equal(fake.requests[0].path, '/v1/audio/translations');

    await badRequest(client.audio.translations.create({ file, model: 'gpt-4o-transcribe' }), 'model', "Invalid value: 'gpt-4o-transcribe'. Supported values are: 'whisper-1'.", 'invalid_value');
    await badRequest(
      client.audio.translations.create({ file, model: 'whisper-1', language: 'fr' } as OpenAI.Audio.TranslationCreateParams),
      null,
      'Unrecognized request argument supplied: language',
      null,
    );
  });

  test('transcription 400s name the param; rejected requests are recorded and consume no scenario', async () => {
    const file = await toFile(wavWithText(SAID, 1), 'hello.wav', { type: 'audio/wav' });
    fake.script({ kind: 'error', error: 'rate_limit' });
    await badRequest(
      client.audio.transcriptions.create({ file, model: 'gpt-4o-transcribe', response_format: 'srt' }),
      'response_format',
      "response_format 'srt' is not compatible with model 'gpt-4o-transcribe'. Use 'json' or 'text' instead.",
    );
    await badRequest(
      client.audio.transcriptions.create({ file, model: 'gpt-4o-mini-transcribe', response_format: 'verbose_json' }),
      'response_format',
      "response_format 'verbose_json' is not compatible with model 'gpt-4o-mini-transcribe'. Use 'json' or 'text' instead.",
    );
    await badRequest(client.audio.transcriptions.create({ file, model: 'whisper-1', response_format: 'diarized_json' }), 'response_format', /Use 'json', 'text', 'srt', 'verbose_json', or 'vtt' instead\.$/);
    await badRequest(client.audio.transcriptions.create({ file, model: 'whisper-1', response_format: 'xml' as 'json' }), 'response_format', /^Invalid value: 'xml'\. Supported values are: 'json'/, 'invalid_value');
    await badRequest(client.audio.transcriptions.create({ file, model: 'whisper-1', timestamp_granularities: ['word'] }), 'timestamp_granularities', /requires 'response_format' to be 'verbose_json'/);
    await badRequest(client.audio.transcriptions.create({ file, model: 'whisper-1', temperature: 1.5 }), 'temperature', /Expected a value <= 1, but got 1.5/, 'decimal_above_max_value');
    await badRequest(client.audio.transcriptions.create({ file, model: 'whisper-1', include: ['logprobs'] }), 'include', /logprobs/);
    await badRequest(client.audio.transcriptions.create({ file, model: 'whisper-1', language: 'english' }), 'language', "Invalid language 'english'. Language parameter must be specified in ISO-639-1 format.");
    await badRequest(client.audio.transcriptions.create({ file, model: 'gpt-4o', response_format: 'json' }), 'model', /^Invalid value: 'gpt-4o'\./);
    await badRequest(client.audio.transcriptions.create({ file, model: 'whisper-1', seed: 1 } as OpenAI.Audio.TranscriptionCreateParamsNonStreaming), null, 'Unrecognized request argument supplied: seed', null);
    await badRequest(client.audio.transcriptions.create({ model: 'whisper-1' } as OpenAI.Audio.TranscriptionCreateParamsNonStreaming), 'file', "Missing required parameter: 'file'.", 'missing_required_parameter');
    await badRequest(client.audio.transcriptions.create({ file: await toFile(Buffer.from('hi'), 'notes.txt'), model: 'whisper-1' }), null, "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']");
    await badRequest(client.audio.transcriptions.create({ file: await toFile(Buffer.alloc(0), 'empty.wav'), model: 'whisper-1' }), 'file', /too short/, 'audio_too_short');
    assert.equal(fake.pending(), 1);
    assert.ok(fake.requests.every((r) => r.status === 400));
    assert.equal(fake.requests[0].body.response_format, 'srt');

    await assert.rejects(client.audio.transcriptions.create({ file, model: 'parakeet-1' }), (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
    const wrong = new OpenAI({ apiKey: ['sk', 'wrong', '123456'].join('-'), baseURL: fake.url, maxRetries: 0 });
    await assert.rejects(wrong.audio.transcriptions.create({ file, model: 'whisper-1' }), OpenAI.AuthenticationError);
    // JSON is not a form.
    const json = await fetch(`${fake.url}/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${OPENAI_TEST_KEY}`, 'content-type': 'application/json' }, body: '{"model":"whisper-1"}' });
    assert.equal(json.status, 400);
    assert.match(((await json.json()) as { error: { message: string } }).error.message, /^Invalid Content-Type header \(application\/json\), expected multipart\/form-data/);
  });

  test('error, transport and transcription scenarios answer the audio endpoints, then the next request succeeds', async () => {
    const file = await toFile(wavWithText(SAID, 1), 'hello.wav', { type: 'audio/wav' });
    fake.script([
      { kind: 'error', error: 'rate_limit', retryAfter: 3 },
      { kind: 'error', error: 'server_error' },
      { kind: 'disconnect' },
      { kind: 'error', error: 'overloaded' },
      { kind: 'transcription', text: 'Scripted words.' },
    ]);
    await assert.rejects(client.audio.transcriptions.create({ file, model: 'whisper-1' }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.code, 'rate_limit_exceeded');
      assert.match(e.message, /Rate limit reached for whisper-1/);
      assert.equal(e.headers?.get('retry-after'), '3');
      return true;
    });
    await assert.rejects(client.audio.speech.create({ model: 'tts-1', input: 'hi', voice: 'alloy' }), OpenAI.InternalServerError);
    await assert.rejects(client.audio.translations.create({ file, model: 'whisper-1' }), OpenAI.APIConnectionError);
    await assert.rejects(client.audio.transcriptions.create({ file, model: 'gpt-4o-transcribe' }), (e: unknown) => e instanceof OpenAI.APIError && e.status === 503);
    const scripted = await client.audio.transcriptions.create({ file, model: 'whisper-1', response_format: 'verbose_json' });
    assert.equal(scripted.text, 'Scripted words.');
    assert.equal(scripted.duration, 1);
    const ok = await client.audio.transcriptions.create({ file, model: 'whisper-1' });
    assert.equal(ok.text, SAID);
    assert.deepEqual(
      fake.requests.map((r) => [r.path, r.body.model, r.status]),
      [
        ['/v1/audio/transcriptions', 'whisper-1', 429],
        ['/v1/audio/speech', 'tts-1', 500],
        ['/v1/audio/translations', 'whisper-1', undefined],
        ['/v1/audio/transcriptions', 'gpt-4o-transcribe', 503],
        ['/v1/audio/transcriptions', 'whisper-1', 200],
        ['/v1/audio/transcriptions', 'whisper-1', 200],
      ],
    );
  });

  test('speech tts-1 (mp3, the default): chunked audio/mpeg of silent 417-byte MPEG frames covering the input', async () => {
    const res = await client.audio.speech.create({ model: 'tts-1', input: 'Hello world', voice: 'alloy' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'audio/mpeg');
    assert.equal(res.headers.get('content-length'), null, 'chunked, as the real API streams it');
    const mp3 = Buffer.from(await res.arrayBuffer());
    // 11 characters × 60 ms = 0.66 s; a frame is 1152 samples at 44.1 kHz (26.12 ms): 26 frames.
    assert.equal(mp3.length, 26 * 417);
    for (let at = 0; at < mp3.length; at += 417) {
      assert.deepEqual([...mp3.subarray(at, at + 4)], [0xff, 0xfb, 0x90, 0x64]);
      assert.ok(mp3.subarray(at + 4, at + 417).every((b) => b === 0));
    }
    const [req] = fake.requests;
    assert.equal(req.path, '/v1/audio/speech');
    assert.equal(req.headers.accept, 'application/octet-stream');
    assert.deepEqual(req.body, { model: 'tts-1', input: 'Hello world', voice: 'alloy' });
  });

  test('speech wav: a real 24 kHz 16-bit mono WAV carrying the input, which transcribes back to it', async () => {
    const input = 'The quick brown fox jumps over the lazy dog. Ünïcödé too!';
    const res = await client.audio.speech.create({ model: 'gpt-4o-mini-tts', input, voice: { id: 'voice_1234' }, instructions: 'Speak calmly.', response_format: 'wav' });
    assert.equal(res.headers.get('content-type'), 'audio/wav');
    const bytes = Buffer.from(await res.arrayBuffer());
    const wav = parseWav(bytes);
    assert.deepEqual([wav.rate, wav.channels, wav.bits], [24_000, 1, 16]);
    assert.equal(wav.comment, input);
    const seconds = [...input].length * 0.06;
    assert.equal(wav.data.length, Math.round(seconds * 24_000) * 2);
    const peak = Math.max(...Array.from({ length: wav.data.length / 2 }, (_, i) => Math.abs(wav.data.readInt16LE(i * 2))));
    assert.ok(peak > 0 && peak < 4000, `a quiet tone (peak ${peak})`);
    assert.deepEqual(fake.requests[0].body.voice, { id: 'voice_1234' });

    const heard = await client.audio.transcriptions.create({ file: await toFile(bytes, 'speech.wav', { type: 'audio/wav' }), model: 'whisper-1', response_format: 'verbose_json' });
    assert.equal(heard.text, input);
    assert.equal(heard.duration, Math.round(seconds * 1000) / 1000);
    assert.equal(heard.segments?.length, 2);
  });

  test('speech pcm is the WAV samples raw; speed shortens; 30 s at most; the other formats have their types and magic', async () => {
    const wav = parseWav(Buffer.from(await (await client.audio.speech.create({ model: 'tts-1-hd', input: 'Hello world', voice: 'nova', response_format: 'wav' })).arrayBuffer()));
    const pcmRes = await client.audio.speech.create({ model: 'tts-1-hd', input: 'Hello world', voice: 'nova', response_format: 'pcm' });
    assert.equal(pcmRes.headers.get('content-type'), 'audio/pcm');
    const pcm = Buffer.from(await pcmRes.arrayBuffer());
    assert.equal(pcm.length, 31_680); // 0.66 s × 24,000 samples × 2 bytes
    assert.deepEqual(pcm, wav.data);
    const fast = Buffer.from(await (await client.audio.speech.create({ model: 'tts-1', input: 'Hello world', voice: 'nova', response_format: 'pcm', speed: 2 })).arrayBuffer());
    assert.equal(fast.length, 15_840);
    const long = Buffer.from(await (await client.audio.speech.create({ model: 'tts-1', input: 'x'.repeat(4096), voice: 'nova', response_format: 'pcm' })).arrayBuffer());
    assert.equal(long.length, 30 * 24_000 * 2);

    const magic: Array<['opus' | 'aac' | 'flac', string, number[]]> = [
      ['opus', 'audio/opus', [...Buffer.from('OggS')]],
      ['aac', 'audio/aac', [0xff, 0xf1]],
      ['flac', 'audio/flac', [...Buffer.from('fLaC')]],
    ];
    for (const [format, type, head] of magic) {
      const r = await client.audio.speech.create({ model: 'gpt-4o-mini-tts', input: 'Hello world', voice: 'marin', response_format: format });
      assert.equal(r.headers.get('content-type'), type);
      const b = Buffer.from(await r.arrayBuffer());
      assert.deepEqual([...b.subarray(0, head.length)], head, format);
      assert.ok(b.length > 1000, format);
    }
  });

  test('speech stream_format sse (gpt-4o-mini-tts): speech.audio.delta events of base64 audio, then speech.audio.done with the usage', async () => {
    const input = 'Streaming speech, piece by piece.';
    const instructions = 'Cheerful and quick.';
    const res = await client.audio.speech.create({ model: 'gpt-4o-mini-tts', input, voice: 'coral', instructions, response_format: 'pcm', stream_format: 'sse' });
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = sseEvents(await res.text());
    const deltas = events.slice(0, -1);
    assert.ok(deltas.length >= 3, `several deltas (${deltas.length})`);
    assert.ok(deltas.every((e) => e.type === 'speech.audio.delta' && typeof e.audio === 'string' && Object.keys(e).length === 2));
    const audio = Buffer.concat(deltas.map((e) => Buffer.from(e.audio as string, 'base64')));
    const seconds = [...input].length * 0.06; // 33 characters: 1.98 s
    assert.equal(audio.length, Math.round(seconds * 24_000) * 2);
    const plain = Buffer.from(await (await client.audio.speech.create({ model: 'gpt-4o-mini-tts', input, voice: 'coral', response_format: 'pcm' })).arrayBuffer());
    assert.deepEqual(audio, plain, 'the same audio as without SSE');
    const done = events.at(-1)!;
    assert.equal(done.type, 'speech.audio.done');
    const inputTokens = words(input) + words(instructions);
    assert.deepEqual(done.usage, { input_tokens: inputTokens, output_tokens: 40, total_tokens: inputTokens + 40 });
  });

  test('speech 400s name the param', async () => {
    await badRequest(client.audio.speech.create({ model: 'tts-1', input: 'hi', voice: 'alloy', instructions: 'whisper it' }), 'instructions', "Unsupported parameter: 'instructions' is not supported with this model.", 'unsupported_parameter');
    await badRequest(client.audio.speech.create({ model: 'tts-1-hd', input: 'hi', voice: 'alloy', stream_format: 'sse' }), 'stream_format', /does not support 'sse' with this model/, 'unsupported_value');
    await badRequest(client.audio.speech.create({ model: 'gpt-4o-mini-tts', input: 'x'.repeat(4097), voice: 'alloy' }), 'input', /maximum length 4096, but got a string with length 4097/, 'string_above_max_length');
    await badRequest(client.audio.speech.create({ model: 'gpt-4o-mini-tts', input: 'hi', voice: 'alloy', pitch: 2 } as OpenAI.Audio.SpeechCreateParams), null, 'Unrecognized request argument supplied: pitch', null);
    await badRequest(client.audio.speech.create({ model: 'gpt-4o-mini-tts', input: 'hi', voice: 'alloy', speed: 5 }), 'speed', /Expected a value <= 4, but got 5/, 'decimal_above_max_value');
    await badRequest(client.audio.speech.create({ model: 'gpt-4o-mini-tts', input: 'hi', voice: 'alloy', speed: 0.1 }), 'speed', /Expected a value >= 0.25/, 'decimal_below_min_value');
    await badRequest(client.audio.speech.create({ model: 'tts-1', input: 'hi', voice: 'marin' }), 'voice', /^Invalid value: 'marin'\./, 'invalid_value');
    await badRequest(client.audio.speech.create({ model: 'tts-1', input: 'hi', voice: 'alloy', response_format: 'ogg' as 'mp3' }), 'response_format', /^Invalid value: 'ogg'\. Supported values are: 'mp3', 'opus', 'aac', 'flac', 'wav', and 'pcm'\.$/);
    await badRequest(client.audio.speech.create({ model: 'gpt-4o', input: 'hi', voice: 'alloy' }), 'model', /^Invalid value: 'gpt-4o'\./);
    await badRequest(client.audio.speech.create({ model: 'tts-1', voice: 'alloy' } as OpenAI.Audio.SpeechCreateParams), 'input', "Missing required parameter: 'input'.", 'missing_required_parameter');
    assert.equal(fake.requests.at(-1)!.body.voice, 'alloy');
    assert.ok(fake.requests.every((r) => r.status === 400));
  });
});
