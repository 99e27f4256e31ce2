// Fake OpenAI server (POST /v1/chat/completions, POST /v1/embeddings, POST /v1/images/generations and
// /v1/images/edits, POST /v1/audio/transcriptions, /v1/audio/translations and /v1/audio/speech, POST /v1/moderations,
// GET /v1/models, and GET /v1/files/img-*.png for the images it answered by URL), plus the chat-completions body/chunk
// builder, the embeddings answer and request checks that the Azure and OpenRouter fakes reuse.
import { crc32, deflateSync } from 'node:zlib';
import { hearAudio, parseMultipart, speechAudio, timedSegments, toSrt, toVtt } from './audio.ts';
import type { SpeechFormat, UploadedFile } from './audio.ts';
import {
  countWords,
  deliver,
  echoText,
  fakeEmbedding,
  float32Base64,
  fragment,
  handleTransport,
  headerValue,
  idMaker,
  isRecord,
  resolveUsage,
  retryHeaders,
  sendJson,
  splitDeltas,
  SSE_HEADERS,
  sseComment,
  sseData,
  sseEvent,
  startFake,
} from './common.ts';
import type { Delivery, Exchange, FakeOptions, FakeServer, RetryHints, ToolCallSpec, TransportScenario, Usage, UsageSpec } from './common.ts';

export type OpenAIFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

/** Every OpenAI error the fake can answer with (wire-formats §1.5, §7). */
export type OpenAIErrorName =
  | 'invalid_request' // 400 invalid_request_error, empty messages array
  | 'unsupported_parameter' // 400 max_tokens on a reasoning model
  | 'context_length_exceeded' // 400 code context_length_exceeded
  | 'invalid_prompt' // 400 code invalid_prompt (content-policy block)
  | 'invalid_api_key' // 401
  | 'permission_denied' // 403 unsupported_country_region_territory
  | 'model_not_found' // 404
  | 'request_timeout' // 408
  | 'conflict' // 409
  | 'unprocessable_entity' // 422
  | 'rate_limit' // 429 rate_limit_exceeded (retryable)
  | 'request_too_large' // 429 rate_limit_exceeded with Requested > Limit (never fits)
  | 'insufficient_quota' // 429 insufficient_quota (never retry)
  | 'server_error' // 500
  | 'bad_gateway' // 502 with Cloudflare's HTML body
  | 'overloaded'; // 503

/** Success-scenario options shared by the OpenAI-shaped fakes. */
export interface ChatSuccessOptions {
  usage?: UsageSpec;
  /** Model reported in the response (default: the requested model / the deployment's model). */
  model?: string;
}

export type OpenAIScenario = (
  /** Text reply. `text` as an array gives the exact stream deltas. Default: echo of the last user message
   *  (as `{"echo": …}` JSON when the request asks for JSON mode). */
  | ({ kind: 'text'; text?: string | string[]; finishReason?: OpenAIFinishReason } & ChatSuccessOptions)
  /** Tool calls (several = parallel calls), optionally preceded by text. finish_reason `tool_calls`. */
  | ({ kind: 'tool_calls'; calls?: ToolCallSpec[]; text?: string } & ChatSuccessOptions)
  /** JSON-mode reply: content is JSON.stringify(value). */
  | ({ kind: 'json'; value?: unknown } & ChatSuccessOptions)
  /** Structured-output refusal: `message.refusal` set, content null, finish_reason `stop`. */
  | ({ kind: 'refusal'; refusal?: string } & ChatSuccessOptions)
  /** An HTTP error with OpenAI's exact body and headers. */
  | ({ kind: 'error'; error: OpenAIErrorName; message?: string } & RetryHints)
  /** 200 stream that breaks after `afterDeltas` text deltas (default 1) with an error event
   *  (`data: {"error":…}`, or `event: error` when style is `event`). Non-streaming requests get the HTTP error.
   *  `usageFirst`: the usage chunk (`choices: []`, counts from `usage`) arrives just before the error. */
  | { kind: 'stream_error'; text?: string; afterDeltas?: number; error?: OpenAIErrorName; message?: string; style?: 'data' | 'event'; usage?: UsageSpec; usageFirst?: boolean }
  /** 200 with invalid JSON (non-stream) or an SSE event whose data is broken JSON (stream). */
  | { kind: 'malformed' }
  /** Images (POST /v1/images/generations) with dall-e-3's `revised_prompt` set. Not needed otherwise: the
   *  chat success kinds (the default included) answer an images request with images too. */
  | { kind: 'images'; revisedPrompt?: string }
  /** A transcription or translation (POST /v1/audio/transcriptions|translations) that hears `text` instead of
   *  what the upload says (a WAV's ICMT comment, else DEFAULT_HEARD_TEXT of audio.ts). Not needed otherwise:
   *  the chat success kinds (the default included) answer audio requests with what the upload says. */
  | { kind: 'transcription'; text?: string }
  /* POST /v1/moderations has no scenario kind of its own: the chat success kinds (the default included) answer
   * it with fakeModerationScores' verdicts; `error`, `stream_error`, `malformed` and the transport kinds apply. */
  | TransportScenario
) &
  Delivery;

/** Unknown models get 404 model_not_found. Default key `test-key-openai`. */
export type FakeOpenAIOptions = FakeOptions & {
  /** The vector of one input (default fakeEmbedding: a hash, so different texts are unrelated). */
  embed?: (text: string, dims: number) => number[];
};

export type FakeOpenAI = FakeServer<OpenAIScenario>;

export const OPENAI_TEST_KEY = 'test-key-openai';

export async function startFakeOpenAI(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const apiKey = opts.apiKey === undefined ? OPENAI_TEST_KEY : opts.apiKey;
  const ids = idMaker();
  const knownModel = (m: string) => (opts.models ? opts.models.includes(m) : /^(gpt-|chatgpt-|o\d|ft:|text-embedding-|dall-e-|whisper-|tts-|omni-moderation-|text-moderation-)/.test(m));
  // Images answered by URL, by path. Kept until close(): reset() does not clear them, so a URL a test
  // received stays downloadable, as the real one does for an hour.
  const imageFiles = new Map<string, Buffer>();
  const imageIds = idMaker();
  let origin = ''; // known once listening, before any request can arrive
  const saveImage = (png: Buffer) => {
    const path = `/v1/files/${imageIds('img-', 24)}.png`;
    imageFiles.set(path, png);
    return origin + path;
  };

  const fake = await startFake<OpenAIScenario>({
    basePath: '/v1',
    defaultScenario: { kind: 'text' },
    async handle(ex, next) {
      const reqId = ids('req_', 32);
      const base = { 'x-request-id': reqId, 'openai-version': '2020-10-01', 'openai-organization': 'org-fake', 'openai-processing-ms': '42' };
      const fail = (e: { status: number; body: unknown; headers?: Record<string, string> }) =>
        sendJson(ex, e.status, e.body, { ...base, ...e.headers });

      const { method } = ex.req;
      const path = ex.url.pathname;
      const isChat = path === '/v1/chat/completions';
      const isEmbeddings = path === '/v1/embeddings';
      const isImages = path === '/v1/images/generations';
      const isImageEdits = path === '/v1/images/edits';
      const isTranscriptions = path === '/v1/audio/transcriptions';
      const isTranslations = path === '/v1/audio/translations';
      const isSpeech = path === '/v1/audio/speech';
      const isModerations = path === '/v1/moderations';
      const isModels = path === '/v1/models' || path.startsWith('/v1/models/');
      // An image URL is a pre-signed download on the real API: no key needed, no scenario consumed.
      const file = method === 'GET' ? imageFiles.get(path) : undefined;
      if (file) return deliver(ex, { status: 200, headers: { 'content-type': 'image/png', 'cache-control': 'max-age=3600' }, units: [file], stream: false });
      if (!((isChat || isEmbeddings || isImages || isImageEdits || isTranscriptions || isTranslations || isSpeech || isModerations) && method === 'POST') && !(isModels && method === 'GET')) {
        return fail(openaiBody(404, `Invalid URL (${method} ${path})`, 'invalid_request_error', null, null));
      }
      const auth = checkBearer(ex.req.headers.authorization, apiKey);
      if (auth === 'missing') {
        return fail(openaiBody(401, OPENAI_NO_KEY_MESSAGE, 'invalid_request_error', null, null));
      }
      if (auth === 'invalid') return fail(openaiError('invalid_api_key', { key: bearerToken(ex.req.headers.authorization) }));

      if (isModels) {
        const list = opts.models ?? ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'o3-mini', 'gpt-5'];
        const one = decodeURIComponent(path.slice('/v1/models/'.length));
        if (path === '/v1/models') {
          return sendJson(ex, 200, { object: 'list', data: list.map((id) => modelEntry(id)) }, base);
        }
        if (!knownModel(one)) return fail(openaiError('model_not_found', { model: one }));
        return sendJson(ex, 200, modelEntry(one), base);
      }

      if (isTranscriptions || isTranslations) {
        // Multipart, not JSON: served before the bad-JSON check, from the body's exact bytes.
        const bytes = ex.record.rawBytes;
        return serveTranscriptionScenario(ex, next, {
          task: isTranslations ? 'translate' : 'transcribe',
          bytes,
          knownModel,
          headers: { ...base, ...rateLimitHeaders() },
          errorFor: (name, message, model) => openaiError(name as OpenAIErrorName, { model, message }),
        });
      }
      if (isImageEdits) {
        // Multipart too: the images to edit are file parts.
        return serveImageEditScenario(ex, next, {
          knownModel,
          headers: { ...base, ...rateLimitHeaders() },
          errorFor: (name, message, model) => openaiError(name as OpenAIErrorName, { model, message }),
          saveImage,
        });
      }
      if (ex.badJson) return fail(openaiBody(400, OPENAI_BAD_JSON_MESSAGE, 'invalid_request_error', null, null));
      if (isSpeech) {
        return serveSpeechScenario(ex, next, {
          body: ex.record.body,
          knownModel,
          headers: { ...base, ...rateLimitHeaders() },
          errorFor: (name, message, model) => openaiError(name as OpenAIErrorName, { model, message }),
        });
      }
      if (isModerations) {
        return serveModerationScenario(ex, next, {
          body: ex.record.body,
          knownModel,
          ids,
          headers: { ...base, ...rateLimitHeaders() },
          errorFor: (name, message, model) => openaiError(name as OpenAIErrorName, { model, message }),
        });
      }
      if (isEmbeddings) {
        const body = ex.record.body;
        const model = isRecord(body) && typeof body.model === 'string' ? body.model : '';
        if (model && !knownModel(model)) return fail(openaiError('model_not_found', { model }));
        return serveEmbeddingsScenario(ex, next, { body, model, headers: { ...base, ...rateLimitHeaders() }, errorFor: (name, message) => openaiError(name as OpenAIErrorName, { model, message }), embed: opts.embed });
      }
      if (isImages) {
        const body = ex.record.body;
        const model = isRecord(body) && body.model != null ? String(body.model) : 'dall-e-2';
        if (!knownModel(model)) return fail(openaiError('model_not_found', { model }));
        return serveImagesScenario(ex, next, { body, model, headers: { ...base, ...rateLimitHeaders() }, errorFor: (name, message) => openaiError(name as OpenAIErrorName, { model, message }), saveImage });
      }
      const invalid = validateChatBody(ex.record.body, 'openai');
      if (invalid) return fail(openaiBody(400, invalid.message, 'invalid_request_error', invalid.param, invalid.code));
      const body = ex.record.body as Record<string, unknown>;
      const model = String(body.model);
      if (!knownModel(model)) return fail(openaiError('model_not_found', { model }));
      const rejected = modelParamError(model, body);
      if (rejected) return fail(rejected);

      const s = next();
      if (await handleTransport(ex, s)) return;
      const stream = body.stream === true;
      const okHeaders = { ...base, ...rateLimitHeaders() };
      await serveChatScenario(ex, s, {
        flavor: 'openai',
        stream,
        body,
        ids,
        model,
        headers: okHeaders,
        errorFor: (name, message) => openaiError(name as OpenAIErrorName, { model, message }),
        defaultStreamError: 'server_error',
        streamErrorObject: (name, message) => (openaiError(name as OpenAIErrorName, { model, message }).body as { error: unknown }).error,
      });
    },
  });
  origin = fake.origin;
  return fake;
}

// ---------------------------------------------------------------------------------------------
// Embeddings (POST /embeddings): the same answer from OpenAI, Azure and compatible servers

/** Vector length of a model when the request sets no `dimensions`. */
export function defaultDimensions(model: string): number {
  return /large/.test(model) ? 3072 : 1536;
}

/** 400 for a malformed /embeddings body (OpenAI's messages), or null. */
export function validateEmbeddingsBody(body: unknown, model: string): { message: string; param: string | null } | null {
  if (!isRecord(body)) return { message: 'Invalid body: expected an object.', param: null };
  if (model === '') return { message: 'you must provide a model parameter', param: null };
  const input = body.input;
  const ok = typeof input === 'string' || (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string' || typeof x === 'number' || Array.isArray(x)));
  if (!ok) return { message: "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", param: null };
  if (Array.isArray(input) && input.length > 2048) return { message: `'$.input' is too long: maximum 2048 inputs, got ${input.length}.`, param: 'input' };
  if (body.encoding_format !== undefined && body.encoding_format !== 'float' && body.encoding_format !== 'base64') {
    return { message: `Invalid value: '${String(body.encoding_format)}'. Supported values are: 'float' and 'base64'.`, param: 'encoding_format' };
  }
  if (body.dimensions !== undefined) {
    if (!/^text-embedding-3/.test(model)) return { message: 'This model does not support specifying dimensions.', param: null };
    if (typeof body.dimensions !== 'number' || !Number.isInteger(body.dimensions) || body.dimensions < 1) return { message: "Invalid 'dimensions': integer below minimum value.", param: 'dimensions' };
  }
  return null;
}

/**
 * One /embeddings request: the next scenario's error or transport failure, else the vectors
 * (fakeEmbedding of each input; floats or base64 per encoding_format) with usage in words.
 */
export async function serveEmbeddingsScenario(
  ex: Exchange,
  next: () => { kind: string },
  o: { body: unknown; model: string; headers: Record<string, string>; errorFor: (name: string, message?: string) => ErrorResponse; reportModel?: string; embed?: (text: string, dims: number) => number[] },
): Promise<void> {
  const invalid = validateEmbeddingsBody(o.body, o.model);
  if (invalid) return sendJson(ex, 400, openaiBody(400, invalid.message, 'invalid_request_error', invalid.param, null).body, o.headers);
  const body = o.body as Record<string, unknown>;
  const s = next() as { kind: string; error?: string; message?: string } & Delivery;
  if (await handleTransport(ex, s as TransportScenario)) return;
  if (s.kind === 'error') {
    const e = o.errorFor(s.error!, s.message);
    return sendJson(ex, e.status, e.body, { ...o.headers, ...e.headers, ...retryHeaders(s as RetryHints) });
  }
  const inputs = (typeof body.input === 'string' ? [body.input] : (body.input as unknown[])).map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
  const dims = typeof body.dimensions === 'number' ? body.dimensions : defaultDimensions(o.model);
  const base64 = body.encoding_format === 'base64';
  const tokens = inputs.reduce((n, t) => n + countWords(t), 0);
  return sendJson(
    ex,
    200,
    {
      object: 'list',
      data: inputs.map((t, index) => {
        const v = (o.embed ?? fakeEmbedding)(t, dims);
        return { object: 'embedding', index, embedding: base64 ? float32Base64(v) : v };
      }),
      model: o.reportModel ?? o.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    },
    o.headers,
    s,
  );
}

// ---------------------------------------------------------------------------------------------
// Images (POST /images/generations): GPT Image models answer base64 PNGs with token usage; DALL·E 2
// and 3 answer URLs (or base64 on request) and no usage, DALL·E 3 with a revised prompt

/** Every body field /images/generations takes (ImageGenerateParamsBase of the openai SDK). The GIF and SVG
 *  fields are accepted and ignored: the fake only makes PNGs. */
export const IMAGE_PARAMS: ReadonlySet<string> = new Set([
  'prompt', 'model', 'background', 'complexity', 'frame_count', 'frame_duration_ms', 'moderation', 'n',
  'output_compression', 'output_format', 'partial_images', 'quality', 'response_format', 'safety_identifier',
  'size', 'stream', 'style', 'svg', 'user',
]);

/** GPT Image models (gpt-image-1, gpt-image-1-mini, gpt-image-1.5, chatgpt-image-latest, …), as opposed to DALL·E. */
export function isGptImageModel(model: string): boolean {
  return /^(gpt-image-|chatgpt-image)/.test(model);
}

/** What an image model accepts: sizes and qualities in OpenAI's order (the order its 400 lists them in). */
function imageModelSpec(model: string): { sizes: string[]; qualities: string[]; maxPrompt: number } | null {
  if (isGptImageModel(model)) return { sizes: ['1024x1024', '1536x1024', '1024x1536', 'auto'], qualities: ['low', 'medium', 'high', 'auto'], maxPrompt: 32000 };
  if (/^dall-e-3(-|$)/.test(model)) return { sizes: ['1024x1024', '1792x1024', '1024x1792'], qualities: ['standard', 'hd'], maxPrompt: 4000 };
  if (/^dall-e-2(-|$)/.test(model)) return { sizes: ['256x256', '512x512', '1024x1024'], qualities: ['standard'], maxPrompt: 1000 };
  return null;
}

/** Output tokens of one GPT Image image, by size then quality (OpenAI's image-generation pricing table). */
export const IMAGE_OUTPUT_TOKENS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  '1024x1024': { low: 272, medium: 1056, high: 4160 },
  '1536x1024': { low: 408, medium: 1584, high: 6240 },
  '1024x1536': { low: 408, medium: 1584, high: 6240 },
};

/** DALL·E 3's `revised_prompt` when the scenario sets none. */
export function defaultRevisedPrompt(prompt: string): string {
  return `A detailed, high-quality image of: ${prompt}`;
}

/** A JSON value's type as OpenAI's "Invalid type" messages name it, with its article ("an integer"). */
function jsonType(v: unknown): string {
  const t = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'decimal number') : typeof v === 'object' ? 'object' : typeof v;
  return `${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t}`;
}

/** 400 for an /images/generations body `model` does not take (OpenAI's messages), or null. `known`: the
 *  fields the endpoint takes (an edit's text fields are checked with EDIT_TEXT_FIELDS). */
export function validateImagesBody(body: unknown, model: string, known: ReadonlySet<string> = IMAGE_PARAMS): ErrorResponse | null {
  const bad = (message: string, param: string | null, code: string | null) => openaiBody(400, message, 'invalid_request_error', param, code);
  const oneOf = (param: string, allowed: string[]) => {
    const v = (body as Record<string, unknown>)[param];
    return v == null || allowed.includes(v as string) ? null : bad(`Invalid value: '${String(v)}'. Supported values are: ${quoteList(allowed)}.`, param, 'invalid_value');
  };
  const intIn = (param: string, min: number, max: number) => {
    const v = (body as Record<string, unknown>)[param];
    if (v == null) return null;
    if (typeof v !== 'number' || !Number.isInteger(v)) return bad(`Invalid type for '${param}': expected an integer, but got ${jsonType(v)} instead.`, param, 'invalid_type');
    if (v < min) return bad(`Invalid '${param}': integer below minimum value. Expected a value >= ${min}, but got ${v} instead.`, param, 'integer_below_min_value');
    if (v > max) return bad(`Invalid '${param}': integer above maximum value. Expected a value <= ${max}, but got ${v} instead.`, param, 'integer_above_max_value');
    return null;
  };
  // GPT Image models take neither legacy DALL·E parameter (the SDK marks both unsupported for them).
  const unknownParam = (param: string) => bad(`Unknown parameter: '${param}'.`, param, 'unknown_parameter');

  if (!isRecord(body)) return bad('The request body must be a JSON object.', null, null);
  const unknown = unrecognizedArgument(body, known);
  if (unknown) return bad(unknown.message, unknown.param, unknown.code);
  const prompt = body.prompt;
  if (prompt == null) return bad("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
  if (typeof prompt !== 'string') return bad(`Invalid type for 'prompt': expected a string, but got ${jsonType(prompt)} instead.`, 'prompt', 'invalid_type');
  if (prompt === '') return bad("Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty string instead.", 'prompt', 'empty_string');
  const spec = imageModelSpec(model);
  if (!spec) return bad(`Invalid value: '${model}'. Supported values are: 'gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5', 'dall-e-2', and 'dall-e-3'.`, 'model', 'invalid_value');
  if (prompt.length > spec.maxPrompt) {
    return bad(`Invalid 'prompt': string too long. Expected a string with maximum length ${spec.maxPrompt}, but got a string with length ${prompt.length} instead.`, 'prompt', 'string_above_max_length');
  }
  const gpt = isGptImageModel(model);
  const checks = [
    () => intIn('n', 1, 10),
    () => (/^dall-e-3/.test(model) && body.n != null && body.n !== 1 ? bad('You must provide n=1 for this model.', 'n', null) : null),
    () => oneOf('size', spec.sizes),
    () => oneOf('quality', spec.qualities),
    () => (gpt ? (body.response_format != null ? unknownParam('response_format') : null) : oneOf('response_format', ['url', 'b64_json'])),
    () => (gpt ? (body.style != null ? unknownParam('style') : null) : oneOf('style', ['vivid', 'natural'])),
    () => oneOf('background', ['transparent', 'opaque', 'auto']),
    () => oneOf('output_format', ['png', 'webp', 'jpeg']),
    () => intIn('output_compression', 0, 100),
    () => oneOf('moderation', ['low', 'auto']),
    () => intIn('partial_images', 0, 3),
    () => (!gpt && body.stream === true ? bad("Unsupported value: 'stream' does not support true with this model. Only GPT Image models can stream.", 'stream', 'unsupported_value') : null),
  ];
  for (const check of checks) {
    const e = check();
    if (e) return e;
  }
  return null;
}

/**
 * A small real PNG (8×8, RGB, one colour from an FNV-1a hash of the prompt and the image index, so
 * different prompts and the n images of one request differ). The fake does not render the requested size.
 */
export function fakePng(prompt: string, index: number): Buffer {
  let h = 2166136261;
  const seed = `${index}\u0000${prompt}`;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  const side = 8;
  const row = Buffer.alloc(1 + side * 3); // filter byte 0 (None), then RGB pixels
  for (let x = 0; x < side; x++) row.set([(h >>> 16) & 255, (h >>> 8) & 255, h & 255], 1 + x * 3);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0); // over type and data, not the length
    return Buffer.concat([head, data, crc]);
  };
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(Array.from({ length: side }, () => row)))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * One /images/generations request: validation, then the next scenario's error or transport failure,
 * else the images. GPT Image: base64 PNGs and usage (prompt words in, IMAGE_OUTPUT_TOKENS × n out),
 * streamed as `image_generation.partial_image` / `image_generation.completed` events when asked.
 * DALL·E: a URL from `saveImage` unless `response_format` is `b64_json`; DALL·E 3 adds `revised_prompt`.
 */
export async function serveImagesScenario(
  ex: Exchange,
  next: () => { kind: string },
  o: { body: unknown; model: string; headers: Record<string, string>; errorFor: (name: string, message?: string) => ErrorResponse; saveImage: (png: Buffer) => string },
): Promise<void> {
  const invalid = validateImagesBody(o.body, o.model);
  if (invalid) return sendJson(ex, invalid.status, invalid.body, o.headers);
  const body = o.body as Record<string, unknown>;
  const s = next() as { kind: string; error?: string; message?: string; revisedPrompt?: string } & Delivery;
  if (await handleTransport(ex, s as TransportScenario)) return;
  if (s.kind === 'error' || s.kind === 'stream_error') {
    const e = o.errorFor(s.error ?? 'server_error', s.message);
    return sendJson(ex, e.status, e.body, { ...o.headers, ...e.headers, ...retryHeaders(s as RetryHints) }, s);
  }
  if (s.kind === 'malformed') return sendJson(ex, 200, '{"created":1700000000,"data":[{"b64_json":"iVBORw0KGgo', o.headers, s);

  return answerImages(ex, s, { body, model: o.model, headers: o.headers, saveImage: o.saveImage, imageTokens: 0, events: 'image_generation' });
}

/**
 * The images of a generation or an edit that passed validation, for a success scenario `s`: GPT Image's base64
 * PNGs, resolved settings and usage (`imageTokens` of input images on top of the prompt's words), streamed as
 * `<events>.partial_image` / `<events>.completed` when `stream` is true; DALL·E's URLs or base64 (DALL·E 3 with
 * its revised prompt).
 */
async function answerImages(
  ex: Exchange,
  s: { kind: string; revisedPrompt?: string } & Delivery,
  o: { body: Record<string, unknown>; model: string; headers: Record<string, string>; saveImage: (png: Buffer) => string; imageTokens: number; events: 'image_generation' | 'image_edit' },
): Promise<void> {
  const body = o.body;
  const prompt = body.prompt as string;
  const n = typeof body.n === 'number' ? body.n : 1;
  const created = Math.floor(Date.now() / 1000);
  const pngs = Array.from({ length: n }, (_, i) => fakePng(prompt, i));
  if (!isGptImageModel(o.model)) {
    const revised = /^dall-e-3/.test(o.model) ? (s.revisedPrompt ?? defaultRevisedPrompt(prompt)) : undefined;
    const data = pngs.map((png) => ({
      ...(revised === undefined ? {} : { revised_prompt: revised }),
      ...(body.response_format === 'b64_json' ? { b64_json: png.toString('base64') } : { url: o.saveImage(png) }),
    }));
    return sendJson(ex, 200, { created, data }, o.headers, s);
  }

  const size = body.size == null || body.size === 'auto' ? '1024x1024' : String(body.size);
  const quality = body.quality == null || body.quality === 'auto' ? 'medium' : String(body.quality);
  const meta = {
    background: body.background === 'transparent' ? 'transparent' : 'opaque',
    output_format: typeof body.output_format === 'string' ? body.output_format : 'png',
    quality,
    size,
  };
  const textTokens = countWords(prompt);
  const inputTokens = textTokens + o.imageTokens;
  const usageFor = (images: number) => {
    const output = IMAGE_OUTPUT_TOKENS[size][quality] * images;
    return { input_tokens: inputTokens, input_tokens_details: { text_tokens: textTokens, image_tokens: o.imageTokens }, output_tokens: output, total_tokens: inputTokens + output };
  };
  // The effective safety identifier: safety_identifier when non-empty, else the deprecated `user`.
  const safetyId = (typeof body.safety_identifier === 'string' && body.safety_identifier) || (typeof body.user === 'string' && body.user) || undefined;
  if (body.stream === true) {
    // Each image: its partial images (here the final PNG itself), then its completed event. Each completed
    // event carries its image's output tokens and only the first the prompt's, so summing the completed
    // events gives the same usage as the unary answer.
    const partials = typeof body.partial_images === 'number' ? body.partial_images : 0;
    const units: string[] = [];
    pngs.forEach((png, i) => {
      const b64_json = png.toString('base64');
      for (let k = 0; k < partials; k++) {
        units.push(sseEvent(`${o.events}.partial_image`, { type: `${o.events}.partial_image`, b64_json, created_at: created, ...meta, partial_image_index: k }));
      }
      const usage = usageFor(1);
      if (i > 0) Object.assign(usage, { input_tokens: 0, input_tokens_details: { text_tokens: 0, image_tokens: 0 }, total_tokens: usage.output_tokens });
      units.push(sseEvent(`${o.events}.completed`, { type: `${o.events}.completed`, b64_json, created_at: created, ...meta, usage, ...(safetyId ? { safety_identifier: safetyId } : {}) }));
    });
    return deliver(ex, { status: 200, headers: { ...o.headers, ...SSE_HEADERS }, units, stream: true }, s);
  }
  return sendJson(
    ex,
    200,
    { created, ...meta, data: pngs.map((png) => ({ b64_json: png.toString('base64') })), usage: usageFor(n), ...(safetyId ? { safety_identifier: safetyId } : {}) },
    o.headers,
    s,
  );
}

// ---------------------------------------------------------------------------------------------
// Image edits (POST /images/edits: multipart, as the SDK's images.edit sends it). GPT Image takes 1–16
// images (PNG, JPEG or WebP, by the part's Content-Type, their bytes checked against it; one as `image`, an
// array as `image[]`), an optional PNG mask with an alpha channel the size of the first image, and
// `input_fidelity`; its usage counts the input images as image tokens (editImageTokens). DALL·E 2 takes exactly
// one square PNG as `image` (and a mask) and answers as its generations do; DALL·E 3 has no edits. The text
// fields are checked as a generation's body is (validateImagesBody). The request's `parts` and `body`
// (AudioFormRecord: text by name, `image[]` as an array, files as {filename, type, size, bytes}) record what came.

/** The text fields /images/edits takes (ImageEditParamsBase of the openai SDK), named as the SDK sends them. */
export const EDIT_TEXT_FIELDS: ReadonlySet<string> = new Set([
  'prompt', 'model', 'background', 'complexity', 'frame_count', 'frame_duration_ms', 'input_fidelity', 'n',
  'output_compression', 'output_format', 'partial_images', 'quality', 'response_format', 'safety_identifier', 'size',
  'stream', 'svg[model]', 'svg[reasoning][effort]', 'user',
]);
/** The file fields /images/edits takes (`markup`: GPT Image 2.5 only). */
export const EDIT_FILE_FIELDS: ReadonlySet<string> = new Set(['image', 'image[]', 'mask', 'markup']);

/** Input tokens of one image to edit, as the fake bills GPT Image's image inputs: 65, plus 129 for each 512-px
 *  tile of the image once fitted in 2048×2048 and its shortest side brought down to 512. */
export const EDIT_IMAGE_BASE_TOKENS = 65;
export const EDIT_IMAGE_TILE_TOKENS = 129;
/** What `input_fidelity: high` adds to each input image, square or not. */
export const HIGH_FIDELITY_TOKENS = { square: 4160, other: 6240 } as const;
/** The size assumed for an input image the fake cannot measure (JPEG, WebP). */
export const UNMEASURED_IMAGE_SIZE = { width: 1024, height: 1024 } as const;

/** The image tokens of one input image of `width`×`height` (see EDIT_IMAGE_BASE_TOKENS). */
export function editImageTokens(width: number, height: number, fidelity: 'high' | 'low' = 'low'): number {
  let w = width;
  let h = height;
  const fit = Math.min(1, 2048 / Math.max(w, h));
  w *= fit;
  h *= fit;
  const shrink = Math.min(1, 512 / Math.min(w, h));
  w *= shrink;
  h *= shrink;
  const tiles = Math.max(1, Math.ceil(w / 512 - 1e-9)) * Math.max(1, Math.ceil(h / 512 - 1e-9));
  const extra = fidelity === 'high' ? (width === height ? HIGH_FIDELITY_TOKENS.square : HIGH_FIDELITY_TOKENS.other) : 0;
  return EDIT_IMAGE_BASE_TOKENS + EDIT_IMAGE_TILE_TOKENS * tiles + extra;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A PNG's size and whether it has transparency (colour type 4 or 6, or a tRNS chunk); null when the bytes are not a PNG. */
export function pngInfo(b: Buffer): { width: number; height: number; alpha: boolean } | null {
  if (b.length < 33 || !b.subarray(0, 8).equals(PNG_SIGNATURE) || b.toString('latin1', 12, 16) !== 'IHDR') return null;
  const colourType = b[25];
  let alpha = colourType === 4 || colourType === 6;
  for (let at = 8; !alpha && at + 8 <= b.length; ) {
    const type = b.toString('latin1', at + 4, at + 8);
    if (type === 'tRNS') alpha = true;
    if (type === 'IEND') break;
    at += 12 + b.readUInt32BE(at);
  }
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), alpha };
}

/** The image format the bytes are (by their magic number), or null. */
function sniffImage(b: Buffer): string | null {
  if (b.length >= 8 && b.subarray(0, 8).equals(PNG_SIGNATURE)) return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return null;
}

const MB = 1024 * 1024;
const EDIT_INT_FIELDS = new Set(['n', 'output_compression', 'partial_images', 'frame_count', 'frame_duration_ms']);

/**
 * An /images/edits form's checks (OpenAI's messages where known; the fake's own wording for DALL·E 2's
 * single image, squareness and the mask's size). Passing: the text fields as a typed body (integers and
 * booleans parsed), the model (default dall-e-2) and the input images' tokens (GPT Image; 0 for DALL·E 2).
 */
export function validateEditForm(
  parts: Array<[string, string | UploadedFile]>,
  knownModel: (m: string) => boolean,
): { error: ErrorResponse } | { body: Record<string, unknown>; model: string; imageTokens: number } {
  const bad = (message: string, param: string | null, code: string | null) => ({ error: openaiBody(400, message, 'invalid_request_error', param, code) });
  const unsupported = (param: string) => bad(`Unsupported parameter: '${param}' is not supported with this model.`, param, 'unsupported_parameter');
  const mimeError = (field: string, type: string, allowed: string[]) =>
    bad(`Invalid file '${field}': unsupported mimetype ('${type}'). Supported file formats are ${quoteList(allowed)}.`, field, 'invalid_value');
  const typeOf = (f: UploadedFile) => f.type.split(';')[0].trim().toLowerCase();

  for (const [name, value] of parts) {
    if (!EDIT_TEXT_FIELDS.has(name) && !EDIT_FILE_FIELDS.has(name)) return bad(`Unrecognized request argument supplied: ${name}`, null, null);
    const bare = name.replace(/\[\]$/, '');
    if (EDIT_TEXT_FIELDS.has(name) && typeof value !== 'string') return bad(`Invalid type for '${bare}': expected a string, but got a file instead.`, bare, 'invalid_type');
    if (EDIT_FILE_FIELDS.has(name) && typeof value === 'string') return bad(`Invalid type for '${bare}': expected a file, but got a string instead.`, bare, 'invalid_type');
  }
  const body: Record<string, unknown> = {};
  for (const [name, value] of parts) {
    if (typeof value !== 'string') continue;
    body[name] = EDIT_INT_FIELDS.has(name) && /^-?\d+$/.test(value) ? Number(value) : name === 'stream' && (value === 'true' || value === 'false') ? value === 'true' : value;
  }
  const model = typeof body.model === 'string' && body.model !== '' ? body.model : 'dall-e-2';
  if (!knownModel(model)) return { error: openaiError('model_not_found', { model }) };
  if (/^dall-e-3(-|$)/.test(model)) {
    return bad(`Invalid value: '${model}'. This model does not support edits. Supported values are: 'gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5', and 'dall-e-2'.`, 'model', 'invalid_value');
  }
  const invalid = validateImagesBody(body, model, EDIT_TEXT_FIELDS);
  if (invalid) return { error: invalid };
  const gpt = isGptImageModel(model);

  const images = parts.filter(([n]) => n === 'image' || n === 'image[]') as Array<[string, UploadedFile]>;
  if (images.length === 0) return bad("Missing required parameter: 'image'.", 'image', 'missing_required_parameter');
  if (gpt) {
    if (images.length > 16) return bad(`Invalid 'image': array too long. Expected an array with maximum length 16, but got an array with length ${images.length} instead.`, 'image', 'array_above_max_length');
    for (const [i, [, f]] of images.entries()) {
      const type = typeOf(f);
      if (!['image/png', 'image/jpeg', 'image/webp'].includes(type)) return mimeError('image', f.type, ['image/jpeg', 'image/png', 'image/webp']);
      if (f.size > 50 * MB) return bad(`Invalid file 'image': image ${i + 1} is larger than the 50 MB limit.`, 'image', 'file_too_large');
      if (sniffImage(f.bytes) !== type) return bad(`Invalid image file or mode for image ${i + 1}, please check your image file.`, 'image', 'invalid_image_file');
    }
  } else {
    if (images.length !== 1 || images[0][0] !== 'image') {
      return bad(`Invalid 'image': ${model} edits exactly one image, sent as 'image'; got ${images.length} file${images.length === 1 ? '' : 's'} as '${images[0][0]}'.`, 'image', 'invalid_value');
    }
    const f = images[0][1];
    if (typeOf(f) !== 'image/png') return mimeError('image', f.type, ['image/png']);
    const info = pngInfo(f.bytes);
    if (!info || f.size >= 4 * MB) return bad('Uploaded image must be a PNG and less than 4 MB.', 'image', 'invalid_value');
    if (info.width !== info.height) return bad(`Uploaded image must be square, but it is ${info.width}x${info.height}.`, 'image', 'invalid_value');
  }

  const masks = parts.filter(([n]) => n === 'mask') as Array<[string, UploadedFile]>;
  if (masks.length > 1) return bad(`Invalid 'mask': expected a single file, but got ${masks.length}.`, 'mask', 'invalid_type');
  const markup = parts.some(([n]) => n === 'markup');
  if (markup && !/^gpt-image-2\.5/.test(model)) return unsupported('markup');
  if (markup && masks.length) return bad("Invalid 'markup': cannot be combined with 'mask'.", 'markup', 'invalid_value');
  if (masks.length) {
    const m = masks[0][1];
    if (typeOf(m) !== 'image/png') return mimeError('mask', m.type, ['image/png']);
    const info = pngInfo(m.bytes);
    if (!info || m.size >= 4 * MB) return bad('Uploaded mask must be a PNG and less than 4 MB.', 'mask', 'invalid_value');
    if (!info.alpha) return bad('Invalid mask image format - mask image missing alpha channel', 'mask', 'invalid_value');
    const first = pngInfo(images[0][1].bytes);
    if (first && (first.width !== info.width || first.height !== info.height)) {
      return bad(`Invalid mask image - the mask (${info.width}x${info.height}) must be the size of the first image (${first.width}x${first.height}).`, 'mask', 'invalid_value');
    }
  }

  const fidelity = body.input_fidelity;
  if (fidelity !== undefined) {
    if (!gpt) return unsupported('input_fidelity');
    if (fidelity !== 'high' && fidelity !== 'low') return bad(`Invalid value: '${String(fidelity)}'. Supported values are: 'high' and 'low'.`, 'input_fidelity', 'invalid_value');
    if (/^gpt-image-1-mini/.test(model) && fidelity === 'high') {
      return bad("Unsupported value: 'input_fidelity' does not support 'high' with this model. Supported values are: 'low'.", 'input_fidelity', 'unsupported_value');
    }
  }
  const imageTokens = gpt
    ? images.reduce((sum, [, f]) => {
        const size = pngInfo(f.bytes) ?? UNMEASURED_IMAGE_SIZE;
        return sum + editImageTokens(size.width, size.height, fidelity === 'high' ? 'high' : 'low');
      }, 0)
    : 0;
  return { body, model, imageTokens };
}

/**
 * One /images/edits request: the multipart form (recorded as the request's `parts` and `body`), its checks
 * (validateEditForm), then the next scenario's error or transport failure, else the edited images: new
 * fakePng(prompt, i) images as a generation makes them, GPT Image's usage counting the input images' tokens,
 * streamed as `image_edit.partial_image` / `image_edit.completed` events when `stream` is true.
 */
export async function serveImageEditScenario(
  ex: Exchange,
  next: () => { kind: string },
  o: { knownModel: (m: string) => boolean; headers: Record<string, string>; errorFor: (name: string, message: string | undefined, model: string) => ErrorResponse; saveImage: (png: Buffer) => string },
): Promise<void> {
  const reject = (e: ErrorResponse) => sendJson(ex, e.status, e.body, { ...o.headers, ...e.headers });
  const contentType = headerValue(ex.req.headers['content-type']) ?? '';
  if (!/^multipart\/form-data/i.test(contentType)) {
    return reject(openaiBody(400, `Invalid Content-Type header (${contentType || 'none'}), expected multipart/form-data. (HINT: If you're using curl, you can pass -H 'Content-Type: multipart/form-data')`, 'invalid_request_error', null, null));
  }
  let parts: Array<[string, string | UploadedFile]>;
  try {
    parts = await parseMultipart(ex.record.rawBytes, contentType);
  } catch {
    return reject(openaiBody(400, 'Could not parse multipart form.', 'invalid_request_error', null, null));
  }
  ex.record.parts = parts;
  ex.record.body = formRecord(parts);
  const checked = validateEditForm(parts, o.knownModel);
  if ('error' in checked) return reject(checked.error);

  const s = next() as { kind: string; error?: string; message?: string } & Delivery;
  if (await handleTransport(ex, s as TransportScenario)) return;
  if (s.kind === 'error' || s.kind === 'stream_error') {
    const e = o.errorFor(s.error ?? 'server_error', s.message, checked.model);
    return sendJson(ex, e.status, e.body, { ...o.headers, ...e.headers, ...retryHeaders(s as RetryHints) }, s);
  }
  if (s.kind === 'malformed') return sendJson(ex, 200, '{"created":1700000000,"data":[{"b64_json":"iVBORw0KGgo', o.headers, s);
  return answerImages(ex, s, { body: checked.body, model: checked.model, headers: o.headers, saveImage: o.saveImage, imageTokens: checked.imageTokens, events: 'image_edit' });
}

// ---------------------------------------------------------------------------------------------
// Audio: transcriptions and translations (POST /audio/transcriptions, /audio/translations: multipart
// uploads) and speech (POST /audio/speech: JSON in, audio bytes or SSE out)
//
// How the openai SDK (v7, internal/uploads: multipartFormRequestOptions → createForm / the streaming
// encoder) serializes a body as multipart/form-data: strings, numbers and booleans become text fields
// (String(value): `0.2`, `true`, `false`); uploadables (File, Blob, Response, streams, toStreamingFile)
// become file parts with a filename (a stream without a name: `unknown_file`) and their Content-Type
// (`application/octet-stream` when unknown); an array becomes one field per element named `key[]`
// (`timestamp_granularities[]=word`, `timestamp_granularities[]=segment`, `include[]=logprobs`); an object
// becomes one field per property named `key[prop]` (`chunking_strategy[type]=server_vad`,
// `chunking_strategy[threshold]=0.5`); `undefined` is left out and `null` throws before sending. The order
// of the parts is not the body's order (nested values are appended after awaiting). A File is sent through
// undici's FormData (boundary `----formdata-undici-…`, with a content-length); a stream through the SDK's
// own encoder (boundary `openai-…`, chunked).

/** Every form field /audio/transcriptions takes (TranscriptionCreateParamsBase of the openai SDK), named as
 *  the SDK sends them. The bare array names (`timestamp_granularities` without `[]`) are rejected as unknown. */
export const TRANSCRIPTION_FIELDS: ReadonlySet<string> = new Set([
  'file', 'model', 'chunking_strategy', 'chunking_strategy[type]', 'chunking_strategy[prefix_padding_ms]',
  'chunking_strategy[silence_duration_ms]', 'chunking_strategy[threshold]', 'include[]', 'keywords[]',
  'known_speaker_names[]', 'known_speaker_references[]', 'language', 'languages[]', 'prompt', 'response_format',
  'stream', 'temperature', 'timestamp_granularities[]',
]);

/** Every form field /audio/translations takes (TranslationCreateParams: no language, no stream). */
export const TRANSLATION_FIELDS: ReadonlySet<string> = new Set(['file', 'model', 'prompt', 'response_format', 'temperature']);

/** Every body field /audio/speech takes (SpeechCreateParams). */
export const SPEECH_PARAMS: ReadonlySet<string> = new Set(['model', 'input', 'voice', 'instructions', 'response_format', 'speed', 'stream_format']);

/** Extensions the audio endpoints accept, in OpenAI's "Invalid file format" message. */
export const AUDIO_FILE_EXTENSIONS = ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm'];

/** Input audio tokens a second of upload for the token-billed transcription models (1 per 100 ms). */
export const TRANSCRIBE_AUDIO_TOKENS_PER_SECOND = 10;
/** Output audio tokens a second of speech in the `speech.audio.done` usage (1 per 50 ms). */
export const SPEECH_AUDIO_TOKENS_PER_SECOND = 20;

/** Transcription model families: `whisper` (any model containing "whisper": billed by duration, every
 *  text format, the only translator), `diarize` (gpt-4o-transcribe-diarize) and `transcribe` (any other
 *  model containing "transcribe": gpt-4o-transcribe, gpt-4o-mini-transcribe, gpt-transcribe; billed by tokens). */
export type TranscriptionFamily = 'whisper' | 'transcribe' | 'diarize';

export function transcriptionFamily(model: string): TranscriptionFamily | null {
  if (/whisper/.test(model)) return 'whisper';
  if (/transcribe/.test(model)) return /diarize/.test(model) ? 'diarize' : 'transcribe';
  return null;
}

/** The response formats of each family, in OpenAI's order. */
export const TRANSCRIPTION_FORMATS: Readonly<Record<TranscriptionFamily, readonly string[]>> = {
  whisper: ['json', 'text', 'srt', 'verbose_json', 'vtt'],
  transcribe: ['json', 'text'],
  diarize: ['json', 'text', 'diarized_json'],
};

/** tts-1 and tts-1-hd: no `instructions`, no `stream_format: "sse"`, the nine original voices. */
export function isLegacyTtsModel(model: string): boolean {
  return /^tts-1(-hd)?(-\d|$)/.test(model);
}

const LEGACY_TTS_VOICES = ['alloy', 'ash', 'coral', 'echo', 'fable', 'onyx', 'nova', 'sage', 'shimmer'];
const TTS_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'onyx', 'nova', 'sage', 'shimmer', 'verse', 'marin', 'cedar'];
const SPEECH_FORMATS: SpeechFormat[] = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'];
const LANGUAGE_NAMES: Readonly<Record<string, string>> = {
  en: 'english', de: 'german', es: 'spanish', fr: 'french', it: 'italian', ja: 'japanese', ko: 'korean', nl: 'dutch', pt: 'portuguese', ru: 'russian', zh: 'chinese',
};

/** The recorded body of a multipart request: text fields by name (the last one when repeated), `name[]`
 *  fields as arrays in arrival order, file parts as {filename, type, size, bytes}. */
export type AudioFormRecord = Record<string, string | string[] | UploadedFile | Array<string | UploadedFile>>;

function formRecord(parts: Array<[string, string | UploadedFile]>): AudioFormRecord {
  const out: AudioFormRecord = {};
  for (const [name, value] of parts) {
    if (name.endsWith('[]')) ((out[name] ??= []) as Array<string | UploadedFile>).push(value);
    else out[name] = value;
  }
  return out;
}

/** OpenAI's "or" list for a model's formats: 'json' or 'text'; 'json', 'text', or 'diarized_json'. */
const orList = (xs: readonly string[]) => (xs.length < 3 ? xs.map((x) => `'${x}'`).join(' or ') : `${xs.slice(0, -1).map((x) => `'${x}'`).join(', ')}, or '${xs.at(-1)}'`);

/** 400 (or 404 for an unknown model) for a transcription/translation form, or null. */
export function validateTranscriptionForm(form: AudioFormRecord, task: 'transcribe' | 'translate', knownModel: (m: string) => boolean): ErrorResponse | null {
  const bad = (message: string, param: string | null, code: string | null) => openaiBody(400, message, 'invalid_request_error', param, code);
  const unsupported = (param: string) => bad(`Unsupported parameter: '${param}' is not supported with this model.`, param, 'unsupported_parameter');
  const unknown = unrecognizedArgument(form, task === 'translate' ? TRANSLATION_FIELDS : TRANSCRIPTION_FIELDS);
  if (unknown) return bad(unknown.message, unknown.param, unknown.code);
  const file = form.file;
  if (file === undefined) return bad("Missing required parameter: 'file'.", 'file', 'missing_required_parameter');
  if (typeof file === 'string' || Array.isArray(file)) return bad("Invalid type for 'file': expected a file, but got a string instead.", 'file', 'invalid_type');
  const model = form.model;
  if (model === undefined || model === '') return bad("Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
  if (typeof model !== 'string') return bad("Invalid type for 'model': expected a string, but got a file instead.", 'model', 'invalid_type');
  if (!knownModel(model)) return openaiError('model_not_found', { model });
  const family = transcriptionFamily(model);
  if (task === 'translate' && family !== 'whisper') return bad(`Invalid value: '${model}'. Supported values are: 'whisper-1'.`, 'model', 'invalid_value');
  if (!family) {
    return bad(`Invalid value: '${model}'. Supported values are: 'whisper-1', 'gpt-transcribe', 'gpt-4o-transcribe', 'gpt-4o-mini-transcribe', and 'gpt-4o-transcribe-diarize'.`, 'model', 'invalid_value');
  }
  const ext = /\.([^./\\]+)$/.exec(file.filename)?.[1]?.toLowerCase();
  if (ext !== undefined && !AUDIO_FILE_EXTENSIONS.includes(ext)) {
    return bad(`Invalid file format. Supported formats: [${AUDIO_FILE_EXTENSIONS.map((x) => `'${x}'`).join(', ')}]`, null, null);
  }
  if (file.size === 0) return bad('Audio file is too short. Minimum audio length is 0.1 seconds.', 'file', 'audio_too_short');

  const str = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : undefined);
  const list = (name: string) => (Array.isArray(form[name]) ? (form[name] as unknown[]) : []);
  const format = str('response_format') ?? 'json';
  const allFormats = task === 'translate' ? TRANSCRIPTION_FORMATS.whisper : ['json', 'text', 'srt', 'verbose_json', 'vtt', 'diarized_json'];
  if (!allFormats.includes(format)) return bad(`Invalid value: '${format}'. Supported values are: ${quoteList([...allFormats])}.`, 'response_format', 'invalid_value');
  const formats = TRANSCRIPTION_FORMATS[family];
  if (!formats.includes(format)) {
    return bad(`response_format '${format}' is not compatible with model '${model}'. Use ${orList(formats)} instead.`, 'response_format', 'unsupported_value');
  }
  const temperature = str('temperature');
  if (temperature !== undefined) {
    const t = Number(temperature);
    if (temperature.trim() === '' || !Number.isFinite(t)) return bad("Invalid type for 'temperature': expected a decimal number, but got a string instead.", 'temperature', 'invalid_type');
    if (t < 0) return bad(`Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got ${t} instead.`, 'temperature', 'decimal_below_min_value');
    if (t > 1) return bad(`Invalid 'temperature': decimal above maximum value. Expected a value <= 1, but got ${t} instead.`, 'temperature', 'decimal_above_max_value');
  }
  const language = str('language');
  if (language !== undefined && !/^[a-z]{2,3}$/.test(language)) {
    return bad(`Invalid language '${language}'. Language parameter must be specified in ISO-639-1 format.`, 'language', 'invalid_value');
  }
  const stream = str('stream');
  if (stream !== undefined && stream !== 'true' && stream !== 'false') return bad("Invalid type for 'stream': expected a boolean, but got a string instead.", 'stream', 'invalid_type');
  const granularities = list('timestamp_granularities[]');
  if (granularities.length) {
    if (family === 'diarize') return unsupported('timestamp_granularities');
    const wrong = granularities.find((g) => g !== 'word' && g !== 'segment');
    if (wrong !== undefined) return bad(`Invalid value: '${typeof wrong === 'string' ? wrong : 'file'}'. Supported values are: 'word' and 'segment'.`, 'timestamp_granularities', 'invalid_value');
    if (format !== 'verbose_json') return bad("Unsupported value: 'timestamp_granularities' requires 'response_format' to be 'verbose_json'.", 'timestamp_granularities', 'unsupported_value');
  }
  const include = list('include[]');
  if (include.length) {
    const wrong = include.find((x) => x !== 'logprobs');
    if (wrong !== undefined) return bad(`Invalid value: '${typeof wrong === 'string' ? wrong : 'file'}'. Supported values are: 'logprobs'.`, 'include', 'invalid_value');
    if (family !== 'transcribe' || format !== 'json') {
      return bad("Unsupported value: 'include' does not support 'logprobs' with this model and response_format. Use gpt-4o-transcribe or gpt-4o-mini-transcribe with response_format 'json'.", 'include', 'unsupported_value');
    }
  }
  const chunking = str('chunking_strategy');
  if (chunking !== undefined && chunking !== 'auto') return bad(`Invalid value: '${chunking}'. Supported values are: 'auto' or a server_vad object.`, 'chunking_strategy', 'invalid_value');
  const vadFields = ['prefix_padding_ms', 'silence_duration_ms', 'threshold'].filter((k) => form[`chunking_strategy[${k}]`] !== undefined);
  if (form['chunking_strategy[type]'] !== undefined || vadFields.length) {
    if (chunking !== undefined) return bad("Invalid 'chunking_strategy': expected either 'auto' or an object, not both.", 'chunking_strategy', 'invalid_value');
    const type = str('chunking_strategy[type]');
    if (type === undefined) return bad("Missing required parameter: 'chunking_strategy.type'.", 'chunking_strategy.type', 'missing_required_parameter');
    if (type !== 'server_vad') return bad(`Invalid value: '${type}'. Supported values are: 'server_vad'.`, 'chunking_strategy.type', 'invalid_value');
    for (const k of vadFields) {
      const v = str(`chunking_strategy[${k}]`) ?? '';
      if (v.trim() === '' || !Number.isFinite(Number(v))) return bad(`Invalid type for 'chunking_strategy.${k}': expected a number, but got a string instead.`, `chunking_strategy.${k}`, 'invalid_type');
    }
  }
  if (family === 'diarize' && str('prompt') !== undefined) return unsupported('prompt');
  if (family !== 'diarize') for (const p of ['known_speaker_names', 'known_speaker_references']) if (list(`${p}[]`).length) return unsupported(p);
  if (!/^gpt-transcribe/.test(model)) for (const p of ['keywords', 'languages']) if (list(`${p}[]`).length) return unsupported(p);
  return null;
}

/** Whisper-style token ids of a text (deterministic per word; the fake has no real tokenizer). */
function fakeTokenIds(text: string): number[] {
  return text.split(/\s+/u).filter(Boolean).map((w) => {
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
    return 220 + ((h >>> 0) % 50_000);
  });
}

/** Token usage of a token-billed transcription: audio tokens from the duration (TRANSCRIBE_AUDIO_TOKENS_PER_SECOND,
 *  rounded up), text tokens from the prompt's words, output tokens from the text's words (at least 1). */
export function transcriptionTokenUsage(seconds: number, text: string, prompt = ''): { type: 'tokens'; input_tokens: number; input_token_details: { text_tokens: number; audio_tokens: number }; output_tokens: number; total_tokens: number } {
  const audio = Math.ceil(seconds * TRANSCRIBE_AUDIO_TOKENS_PER_SECOND);
  const textIn = countWords(prompt);
  const output = Math.max(1, countWords(text));
  return { type: 'tokens', input_tokens: audio + textIn, input_token_details: { text_tokens: textIn, audio_tokens: audio }, output_tokens: output, total_tokens: audio + textIn + output };
}

/**
 * One /audio/transcriptions or /audio/translations request: the multipart form (recorded as the request's
 * `body`, see AudioFormRecord), its checks, then the next scenario's error or transport failure, else what
 * the upload says (audio.ts hearAudio; a `transcription` scenario's text instead). Translations prefix the
 * text with `[en] ` (always: the fake does not detect languages). Whisper answers every text format and
 * duration usage (translations: none, as the SDK's Translation types have none) and ignores `stream`;
 * the token-billed models answer json (with `logprobs` on request) or text, or stream
 * `transcript.text.delta` events and a `transcript.text.done` with the usage when `stream` is true.
 */
export async function serveTranscriptionScenario(
  ex: Exchange,
  next: () => { kind: string },
  o: { task: 'transcribe' | 'translate'; bytes: Buffer; knownModel: (m: string) => boolean; headers: Record<string, string>; errorFor: (name: string, message: string | undefined, model: string) => ErrorResponse },
): Promise<void> {
  const reject = (e: ErrorResponse) => sendJson(ex, e.status, e.body, { ...o.headers, ...e.headers });
  const contentType = headerValue(ex.req.headers['content-type']) ?? '';
  if (!/^multipart\/form-data/i.test(contentType)) {
    return reject(openaiBody(400, `Invalid Content-Type header (${contentType || 'none'}), expected multipart/form-data. (HINT: If you're using curl, you can pass -H 'Content-Type: multipart/form-data')`, 'invalid_request_error', null, null));
  }
  let form: AudioFormRecord;
  try {
    const parts = await parseMultipart(o.bytes, contentType);
    ex.record.parts = parts;
    form = formRecord(parts);
  } catch {
    return reject(openaiBody(400, 'Could not parse multipart form.', 'invalid_request_error', null, null));
  }
  ex.record.body = form;
  const invalid = validateTranscriptionForm(form, o.task, o.knownModel);
  if (invalid) return reject(invalid);

  const model = form.model as string;
  const family = transcriptionFamily(model)!;
  const s = next() as { kind: string; error?: string; message?: string; text?: string } & Delivery;
  if (await handleTransport(ex, s as TransportScenario)) return;
  if (s.kind === 'error' || s.kind === 'stream_error') {
    const e = o.errorFor(s.error ?? 'server_error', s.message, model);
    return sendJson(ex, e.status, e.body, { ...o.headers, ...e.headers, ...retryHeaders(s as RetryHints) }, s);
  }
  if (s.kind === 'malformed') return sendJson(ex, 200, '{"text":"Hel', o.headers, s);

  const heard = hearAudio((form.file as UploadedFile).bytes);
  const text = (o.task === 'translate' ? '[en] ' : '') + (s.kind === 'transcription' && s.text !== undefined ? s.text : heard.text);
  const duration = Math.round(heard.seconds * 1000) / 1000;
  const str = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : undefined);
  const format = str('response_format') ?? 'json';
  const prompt = str('prompt') ?? '';
  const segments = timedSegments(text, duration);
  const logprobs = Array.isArray(form['include[]']) && form['include[]'].includes('logprobs');
  const logprobOf = (token: string) => {
    const lp = tokenLogprobJson(token, 0);
    return { token, logprob: lp.logprob, bytes: lp.bytes };
  };
  const plain = (body: string) => deliver(ex, { status: 200, headers: { ...o.headers, 'content-type': 'text/plain; charset=utf-8' }, units: [body], stream: false }, s);

  if (str('stream') === 'true' && family !== 'whisper') {
    const units: string[] = [];
    segments.forEach((seg, i) => {
      const segmentId = `seg_${i}`;
      const pieces = splitDeltas(i === 0 ? seg.text : ` ${seg.text}`);
      for (const delta of pieces) {
        units.push(sseData({ type: 'transcript.text.delta', delta, ...(logprobs ? { logprobs: [logprobOf(delta)] } : {}), ...(family === 'diarize' ? { segment_id: segmentId } : {}) }));
      }
      if (format === 'diarized_json') units.push(sseData({ type: 'transcript.text.segment', id: segmentId, start: seg.start, end: seg.end, text: seg.text, speaker: 'A' }));
    });
    const usage = transcriptionTokenUsage(duration, text, prompt);
    units.push(sseData({ type: 'transcript.text.done', text, ...(logprobs ? { logprobs: splitDeltas(text).map(logprobOf) } : {}), usage }));
    return deliver(ex, { status: 200, headers: { ...o.headers, ...SSE_HEADERS }, units, stream: true }, s);
  }
  switch (format) {
    case 'text':
      return plain(`${text}\n`);
    case 'srt':
      return plain(toSrt(segments));
    case 'vtt':
      return plain(toVtt(segments));
    case 'verbose_json': {
      const granularities = Array.isArray(form['timestamp_granularities[]']) ? form['timestamp_granularities[]'] : [];
      const temperature = Number(str('temperature') ?? 0);
      const language = o.task === 'translate' ? 'english' : (LANGUAGE_NAMES[str('language') ?? 'en'] ?? str('language')!);
      return sendJson(
        ex,
        200,
        {
          task: o.task,
          language,
          duration,
          text,
          ...(granularities.includes('word') ? { words: segments.flatMap((g) => g.words) } : {}),
          segments: segments.map((g, id) => ({
            id,
            seek: Math.floor(g.start / 30) * 3000,
            start: g.start,
            end: g.end,
            text: ` ${g.text}`,
            tokens: fakeTokenIds(g.text),
            temperature,
            avg_logprob: -0.25,
            compression_ratio: 1.2,
            no_speech_prob: 0.01,
          })),
          ...(o.task === 'transcribe' ? { usage: { type: 'duration', seconds: Math.ceil(duration) } } : {}),
        },
        o.headers,
        s,
      );
    }
    case 'diarized_json':
      return sendJson(
        ex,
        200,
        {
          task: 'transcribe',
          duration,
          text,
          segments: segments.map((g, i) => ({ type: 'transcript.text.segment', id: `seg_${i}`, start: g.start, end: g.end, text: g.text, speaker: 'A' })),
          usage: transcriptionTokenUsage(duration, text, prompt),
        },
        o.headers,
        s,
      );
    default: {
      // json
      if (family === 'whisper') {
        return sendJson(ex, 200, o.task === 'translate' ? { text } : { text, usage: { type: 'duration', seconds: Math.ceil(duration) } }, o.headers, s);
      }
      const body: Record<string, unknown> = { text };
      if (logprobs) body.logprobs = splitDeltas(text).map(logprobOf);
      body.usage = transcriptionTokenUsage(duration, text, prompt);
      return sendJson(ex, 200, body, o.headers, s);
    }
  }
}

/** 400 (or 404 for an unknown model) for an /audio/speech body, or null. */
export function validateSpeechBody(body: unknown, knownModel: (m: string) => boolean): ErrorResponse | null {
  const bad = (message: string, param: string | null, code: string | null) => openaiBody(400, message, 'invalid_request_error', param, code);
  if (!isRecord(body)) return bad('The request body must be a JSON object.', null, null);
  const unknown = unrecognizedArgument(body, SPEECH_PARAMS);
  if (unknown) return bad(unknown.message, unknown.param, unknown.code);
  const model = body.model;
  if (model == null || model === '') return bad("Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
  if (typeof model !== 'string') return bad(`Invalid type for 'model': expected a string, but got ${jsonType(model)} instead.`, 'model', 'invalid_type');
  if (!knownModel(model)) return openaiError('model_not_found', { model });
  if (!/^tts-|-tts(-|$)/.test(model)) return bad(`Invalid value: '${model}'. Supported values are: 'tts-1', 'tts-1-hd', and 'gpt-4o-mini-tts'.`, 'model', 'invalid_value');
  const legacy = isLegacyTtsModel(model);
  const input = body.input;
  if (input == null) return bad("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  if (typeof input !== 'string') return bad(`Invalid type for 'input': expected a string, but got ${jsonType(input)} instead.`, 'input', 'invalid_type');
  if (input === '') return bad("Invalid 'input': empty string. Expected a string with minimum length 1, but got an empty string instead.", 'input', 'empty_string');
  if (input.length > 4096) {
    return bad(`Invalid 'input': string too long. Expected a string with maximum length 4096, but got a string with length ${input.length} instead.`, 'input', 'string_above_max_length');
  }
  const voice = body.voice;
  if (voice == null) return bad("Missing required parameter: 'voice'.", 'voice', 'missing_required_parameter');
  if (isRecord(voice)) {
    if (typeof voice.id !== 'string' || voice.id === '') return bad("Missing required parameter: 'voice.id'.", 'voice.id', 'missing_required_parameter');
  } else {
    const voices = legacy ? LEGACY_TTS_VOICES : TTS_VOICES;
    if (typeof voice !== 'string' || !voices.includes(voice)) return bad(`Invalid value: '${String(voice)}'. Supported values are: ${quoteList(voices)}.`, 'voice', 'invalid_value');
  }
  if (body.instructions != null) {
    if (typeof body.instructions !== 'string') return bad(`Invalid type for 'instructions': expected a string, but got ${jsonType(body.instructions)} instead.`, 'instructions', 'invalid_type');
    if (legacy) return bad("Unsupported parameter: 'instructions' is not supported with this model.", 'instructions', 'unsupported_parameter');
  }
  if (body.response_format != null && !SPEECH_FORMATS.includes(body.response_format as SpeechFormat)) {
    return bad(`Invalid value: '${String(body.response_format)}'. Supported values are: ${quoteList(SPEECH_FORMATS)}.`, 'response_format', 'invalid_value');
  }
  const speed = body.speed;
  if (speed != null) {
    if (typeof speed !== 'number') return bad(`Invalid type for 'speed': expected a decimal number, but got ${jsonType(speed)} instead.`, 'speed', 'invalid_type');
    if (speed < 0.25) return bad(`Invalid 'speed': decimal below minimum value. Expected a value >= 0.25, but got ${speed} instead.`, 'speed', 'decimal_below_min_value');
    if (speed > 4) return bad(`Invalid 'speed': decimal above maximum value. Expected a value <= 4, but got ${speed} instead.`, 'speed', 'decimal_above_max_value');
  }
  const sf = body.stream_format;
  if (sf != null && sf !== 'audio' && sf !== 'sse') return bad(`Invalid value: '${String(sf)}'. Supported values are: 'sse' and 'audio'.`, 'stream_format', 'invalid_value');
  if (sf === 'sse' && legacy) return bad("Unsupported value: 'stream_format' does not support 'sse' with this model. Supported values are: 'audio'.", 'stream_format', 'unsupported_value');
  return null;
}

/** Cut `b` into `n` nearly equal slices (fewer when it is shorter than `n` bytes). */
function slices(b: Buffer, n: number): Buffer[] {
  const size = Math.max(1, Math.ceil(b.length / Math.max(1, n)));
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

/**
 * One /audio/speech request: its checks, then the next scenario's error or transport failure, else the
 * speech (audio.ts speechAudio) in `response_format` (default mp3), streamed in 16 KiB chunks with the
 * format's content type; with `stream_format: "sse"`, `speech.audio.delta` events (the same bytes in
 * several base64 pieces) and a `speech.audio.done` with the usage (input: the words of input and
 * instructions; output: SPEECH_AUDIO_TOKENS_PER_SECOND of speech, rounded up). `malformed` sends the
 * first half of the audio only (or, with SSE, an event of broken JSON).
 */
export async function serveSpeechScenario(
  ex: Exchange,
  next: () => { kind: string },
  o: { body: unknown; knownModel: (m: string) => boolean; headers: Record<string, string>; errorFor: (name: string, message: string | undefined, model: string) => ErrorResponse },
): Promise<void> {
  const invalid = validateSpeechBody(o.body, o.knownModel);
  if (invalid) return sendJson(ex, invalid.status, invalid.body, { ...o.headers, ...invalid.headers });
  const body = o.body as Record<string, unknown>;
  const model = body.model as string;
  const s = next() as { kind: string; error?: string; message?: string } & Delivery;
  if (await handleTransport(ex, s as TransportScenario)) return;
  if (s.kind === 'error' || s.kind === 'stream_error') {
    const e = o.errorFor(s.error ?? 'server_error', s.message, model);
    return sendJson(ex, e.status, e.body, { ...o.headers, ...e.headers, ...retryHeaders(s as RetryHints) }, s);
  }
  const input = body.input as string;
  const audio = speechAudio(input, (body.response_format as SpeechFormat | undefined) ?? 'mp3', typeof body.speed === 'number' ? body.speed : 1);
  if (body.stream_format === 'sse') {
    const pieces = slices(audio.bytes, Math.max(3, Math.ceil(audio.bytes.length / 16_384)));
    const units = pieces.map((p) => sseData({ type: 'speech.audio.delta', audio: p.toString('base64') }));
    const inputTokens = countWords(input) + countWords(typeof body.instructions === 'string' ? body.instructions : '');
    const outputTokens = Math.ceil(audio.seconds * SPEECH_AUDIO_TOKENS_PER_SECOND);
    if (s.kind === 'malformed') units.splice(1, units.length, 'data: {"type":"speech.audio.delta","audio":"AAAA\n\n');
    else units.push(sseData({ type: 'speech.audio.done', usage: { input_tokens: inputTokens, output_tokens: outputTokens, total_tokens: inputTokens + outputTokens } }));
    return deliver(ex, { status: 200, headers: { ...o.headers, ...SSE_HEADERS }, units, stream: true }, s);
  }
  const bytes = s.kind === 'malformed' ? audio.bytes.subarray(0, Math.floor(audio.bytes.length / 2)) : audio.bytes;
  return deliver(ex, { status: 200, headers: { ...o.headers, 'content-type': audio.contentType }, units: slices(bytes, Math.ceil(bytes.length / 16_384)), stream: true }, s);
}

// ---------------------------------------------------------------------------------------------
// Moderations (POST /moderations): one verdict per input string, or one for a multi-modal array of text and
// image parts (omni models). Deterministic: a category scores MODERATION_HIT_SCORE when one of its
// MODERATION_WORDS occurs in the text, else a tiny score; flagged at MODERATION_FLAG_THRESHOLD and above.

/** Every body field /moderations takes (ModerationCreateParams of the openai SDK). */
export const MODERATION_PARAMS: ReadonlySet<string> = new Set(['input', 'model']);

/** The moderation models (the SDK's ModerationModel) and the model each answers as: the omni models echo the
 *  name they were called by (OpenAI's own example answers `omni-moderation-latest`); the legacy text models
 *  answer as their snapshot, `text-moderation-007`. */
export const MODERATION_MODELS: Readonly<Record<string, string>> = {
  'omni-moderation-latest': 'omni-moderation-latest',
  'omni-moderation-2024-09-26': 'omni-moderation-2024-09-26',
  'text-moderation-latest': 'text-moderation-007',
  'text-moderation-stable': 'text-moderation-007',
};

/** The model used when the body names none. */
export const DEFAULT_MODERATION_MODEL = 'omni-moderation-latest';

export function isOmniModerationModel(model: string): boolean {
  return /^omni-moderation-/.test(model);
}

/** The categories of a verdict (the keys of the SDK's Moderation.Categories), in the order OpenAI sends them. */
export const MODERATION_CATEGORIES = [
  'harassment', 'harassment/threatening', 'sexual', 'hate', 'hate/threatening', 'illicit', 'illicit/violent',
  'self-harm/intent', 'self-harm/instructions', 'self-harm', 'sexual/minors', 'violence', 'violence/graphic',
] as const;

export type ModerationCategory = (typeof MODERATION_CATEGORIES)[number];

/** The categories an omni model also judges images on (`Array<'text' | 'image'>` in the SDK's CategoryAppliedInputTypes). */
export const IMAGE_MODERATION_CATEGORIES: ReadonlySet<ModerationCategory> = new Set([
  'self-harm', 'self-harm/intent', 'self-harm/instructions', 'sexual', 'violence', 'violence/graphic',
]);

/** The legacy text models have no illicit categories: they send `null` for them, verdict and score. */
export const TEXT_MODERATION_NULL_CATEGORIES: ReadonlySet<ModerationCategory> = new Set(['illicit', 'illicit/violent']);

/**
 * The words (and phrases) that make a category score MODERATION_HIT_SCORE: matched case-insensitively as
 * whole words (`kill` matches "Kill!" but not "skill" or "killed"; the words of a phrase may be separated by
 * any whitespace). A sub-category's match also makes its parent category (`violence` for `violence/graphic`)
 * score MODERATION_HIT_SCORE. The hate and sexual/minors entries are neutral placeholders.
 */
export const MODERATION_WORDS: Readonly<Record<ModerationCategory, readonly string[]>> = {
  harassment: ['idiot', 'stupid'],
  'harassment/threatening': ['watch your back'],
  sexual: ['explicit'],
  hate: ['hateword'],
  'hate/threatening': ['hatethreat'],
  illicit: ['steal', 'lockpick'],
  'illicit/violent': ['untraceable weapon'],
  'self-harm/intent': ['going to hurt myself'],
  'self-harm/instructions': ['how to hurt myself'],
  'self-harm': ['hurt myself'],
  'sexual/minors': ['minorsword'],
  violence: ['kill', 'murder', 'attack'],
  'violence/graphic': ['gore', 'gory'],
};

/** The score of a category one of whose MODERATION_WORDS occurs (or one of its sub-categories'). */
export const MODERATION_HIT_SCORE = 0.9;
/** A category is flagged when its score is at least this; a verdict when any category is. */
export const MODERATION_FLAG_THRESHOLD = 0.5;

const wordPattern = (phrase: string) =>
  new RegExp(`(?<![\\p{L}\\p{N}])${phrase.trim().split(/\s+/u).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\s+')}(?![\\p{L}\\p{N}])`, 'iu');
const MODERATION_PATTERNS = MODERATION_CATEGORIES.map((c) => [c, MODERATION_WORDS[c].map(wordPattern)] as const);

/** A category's score when none of its words occurs: tiny (between 1e-6 and 1.01e-4) but different per
 *  category and text, so swapped categories show. */
function quietScore(category: string, text: string): number {
  let h = 2166136261;
  const seed = `${category}\u0000${text}`;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  return (1 + ((h >>> 0) % 1000)) * 1e-7;
}

/**
 * The scores the fake gives one verdict: the text's (the words of MODERATION_WORDS score MODERATION_HIT_SCORE,
 * others a tiny deterministic score), and, for the images of a multi-modal input, the words of each http(s)
 * image URL (`https://example.com/gore.png` is graphic violence; a data: URL is clean) in the image categories
 * (IMAGE_MODERATION_CATEGORIES) only, the higher score winning. For a multi-modal input, `text` is its text
 * parts joined with "\n" ("" when it has none).
 */
export function fakeModerationScores(text: string, imageUrls: readonly string[] = []): Record<ModerationCategory, number> {
  const hits = (s: string) => {
    const found = new Set<ModerationCategory>();
    for (const [c, patterns] of MODERATION_PATTERNS) {
      if (patterns.some((p) => p.test(s))) {
        found.add(c);
        found.add(c.split('/')[0] as ModerationCategory);
      }
    }
    return found;
  };
  const textHits = hits(text);
  const imageHits = new Set<ModerationCategory>();
  for (const url of imageUrls) {
    if (!/^https?:/i.test(url)) continue;
    for (const c of hits(url)) if (IMAGE_MODERATION_CATEGORIES.has(c)) imageHits.add(c);
  }
  const out = {} as Record<ModerationCategory, number>;
  for (const c of MODERATION_CATEGORIES) out[c] = textHits.has(c) || imageHits.has(c) ? MODERATION_HIT_SCORE : quietScore(c, text);
  return out;
}

/** One input as the fake classifies it: a string, or a multi-modal array's text (parts joined with "\n") and images. */
export interface ModerationInput {
  text: string;
  imageUrls: string[];
  /** Whether it had text (a string always has; a multi-modal array when it has a text part). */
  hasText: boolean;
}

/** The `results` entry for one input: the 13 verdicts and scores (`null` for the illicit ones on a text model)
 *  and, from an omni model, the input types each category was judged on. */
export function moderationResultJson(input: ModerationInput, model: string): Record<string, unknown> {
  const omni = isOmniModerationModel(model);
  const scores = fakeModerationScores(input.text, input.imageUrls);
  const categories: Record<string, boolean | null> = {};
  const categoryScores: Record<string, number | null> = {};
  const applied: Record<string, string[]> = {};
  for (const c of MODERATION_CATEGORIES) {
    const absent = !omni && TEXT_MODERATION_NULL_CATEGORIES.has(c);
    categories[c] = absent ? null : scores[c] >= MODERATION_FLAG_THRESHOLD;
    categoryScores[c] = absent ? null : scores[c];
    applied[c] = [...(input.hasText ? ['text'] : []), ...(input.imageUrls.length && IMAGE_MODERATION_CATEGORIES.has(c) ? ['image'] : [])];
  }
  return {
    flagged: Object.values(categories).some((v) => v === true),
    categories,
    category_scores: categoryScores,
    ...(omni ? { category_applied_input_types: applied } : {}),
  };
}

/** The inputs of a /moderations body that passed validateModerationBody: one per string, or one for a multi-modal array. */
export function moderationInputs(input: unknown): ModerationInput[] {
  if (typeof input === 'string') return [{ text: input, imageUrls: [], hasText: true }];
  const list = input as unknown[];
  if (list.every((x) => typeof x === 'string')) return (list as string[]).map((text) => ({ text, imageUrls: [], hasText: true }));
  const parts = list as Array<{ type: string; text?: string; image_url?: { url: string } }>;
  const texts = parts.filter((p) => p.type === 'text').map((p) => p.text!);
  return [{ text: texts.join('\n'), imageUrls: parts.filter((p) => p.type === 'image_url').map((p) => p.image_url!.url), hasText: texts.length > 0 }];
}

/** 400 (or 404 for an unknown model) for a /moderations body, or null. */
export function validateModerationBody(body: unknown, knownModel: (m: string) => boolean): ErrorResponse | null {
  const bad = (message: string, param: string | null, code: string | null) => openaiBody(400, message, 'invalid_request_error', param, code);
  if (!isRecord(body)) return bad('The request body must be a JSON object.', null, null);
  const unknown = unrecognizedArgument(body, MODERATION_PARAMS);
  if (unknown) return bad(unknown.message, unknown.param, unknown.code);
  const model = body.model ?? DEFAULT_MODERATION_MODEL;
  if (typeof model !== 'string') return bad(`Invalid type for 'model': expected a string, but got ${jsonType(model)} instead.`, 'model', 'invalid_type');
  if (!knownModel(model)) return openaiError('model_not_found', { model });
  if (!(model in MODERATION_MODELS)) return bad(`Invalid value: '${model}'. Supported values are: ${quoteList(Object.keys(MODERATION_MODELS))}.`, 'model', 'invalid_value');

  const input = body.input;
  if (input == null) return bad("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  if (typeof input === 'string') {
    return input === '' ? bad("Invalid 'input': empty string. Expected a string with minimum length 1, but got an empty string instead.", 'input', 'empty_string') : null;
  }
  if (!Array.isArray(input)) {
    return bad(`Invalid type for 'input': expected one of a string, an array of strings or an array of objects, but got ${jsonType(input)} instead.`, 'input', 'invalid_type');
  }
  if (input.length === 0) return bad("Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'input', 'empty_array');
  if (typeof input[0] === 'string') {
    for (let i = 0; i < input.length; i++) {
      const x = input[i] as unknown;
      if (typeof x !== 'string') return bad(`Invalid type for 'input[${i}]': expected a string, but got ${jsonType(x)} instead.`, `input[${i}]`, 'invalid_type');
      if (x === '') return bad(`Invalid 'input[${i}]': empty string. Expected a string with minimum length 1, but got an empty string instead.`, `input[${i}]`, 'empty_string');
    }
    return null;
  }
  // The multi-modal form: text and image_url parts, classified together.
  let images = 0;
  for (let i = 0; i < input.length; i++) {
    const part = input[i] as unknown;
    const where = `input[${i}]`;
    if (!isRecord(part)) return bad(`Invalid type for '${where}': expected an object, but got ${jsonType(part)} instead.`, where, 'invalid_type');
    if (part.type !== 'text' && part.type !== 'image_url') {
      return bad(`Invalid value: '${String(part.type)}'. Supported values are: 'text' and 'image_url'.`, `${where}.type`, 'invalid_value');
    }
    if (part.type === 'text') {
      if (part.text == null) return bad(`Missing required parameter: '${where}.text'.`, `${where}.text`, 'missing_required_parameter');
      if (typeof part.text !== 'string') return bad(`Invalid type for '${where}.text': expected a string, but got ${jsonType(part.text)} instead.`, `${where}.text`, 'invalid_type');
      if (part.text === '') return bad(`Invalid '${where}.text': empty string. Expected a string with minimum length 1, but got an empty string instead.`, `${where}.text`, 'empty_string');
    } else {
      const invalid = checkImageUrl(part.image_url, `${where}.image_url`);
      if (invalid) return bad(invalid.message, invalid.param, invalid.code);
      images++;
    }
  }
  if (!isOmniModerationModel(model)) {
    const what = images ? 'image inputs' : 'multi-modal (object) inputs';
    return bad(`Unsupported value: 'input' does not support ${what} with this model. Only the omni-moderation models accept them; send text as a string or an array of strings.`, 'input', 'unsupported_value');
  }
  if (images > 1) return bad(`Invalid 'input': at most 1 image input is supported per request, but got ${images}.`, 'input', 'invalid_value');
  return null;
}

/**
 * One /moderations request: its checks, then the next scenario's error or transport failure, else
 * `{id: "modr-…", model, results}`: one result per input string, one for a multi-modal array
 * (moderationResultJson, scored by fakeModerationScores), `model` as MODERATION_MODELS reports it.
 * `malformed` sends the JSON cut short.
 */
export async function serveModerationScenario(
  ex: Exchange,
  next: () => { kind: string },
  o: { body: unknown; knownModel: (m: string) => boolean; ids: (prefix: string, width?: number) => string; headers: Record<string, string>; errorFor: (name: string, message: string | undefined, model: string) => ErrorResponse },
): Promise<void> {
  const invalid = validateModerationBody(o.body, o.knownModel);
  if (invalid) return sendJson(ex, invalid.status, invalid.body, { ...o.headers, ...invalid.headers });
  const body = o.body as Record<string, unknown>;
  const model = (body.model as string | undefined) ?? DEFAULT_MODERATION_MODEL;
  const s = next() as { kind: string; error?: string; message?: string } & Delivery;
  if (await handleTransport(ex, s as TransportScenario)) return;
  if (s.kind === 'error' || s.kind === 'stream_error') {
    const e = o.errorFor(s.error ?? 'server_error', s.message, model);
    return sendJson(ex, e.status, e.body, { ...o.headers, ...e.headers, ...retryHeaders(s as RetryHints) }, s);
  }
  const id = o.ids('modr-', 32);
  const reported = MODERATION_MODELS[model];
  if (s.kind === 'malformed') return sendJson(ex, 200, `{"id":"${id}","model":"${reported}","results":[{"flagged":fal`, o.headers, s);
  const results = moderationInputs(body.input).map((input) => moderationResultJson(input, model));
  return sendJson(ex, 200, { id, model: reported, results }, o.headers, s);
}

// ---------------------------------------------------------------------------------------------
// OpenAI error catalogue

export const OPENAI_NO_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.";

export const OPENAI_BAD_JSON_MESSAGE =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

export interface ErrorResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export function openaiBody(status: number, message: string, type: string | null, param: string | null, code: string | null): ErrorResponse {
  return { status, body: { error: { message, type, param, code } } };
}

export function openaiError(name: OpenAIErrorName, o: { model?: string; message?: string; key?: string } = {}): ErrorResponse {
  const model = o.model ?? 'gpt-4o';
  const m = (fallback: string) => o.message ?? fallback;
  switch (name) {
    case 'invalid_request':
      return openaiBody(400, m("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead."), 'invalid_request_error', 'messages', 'empty_array');
    case 'unsupported_parameter':
      return openaiBody(400, m("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."), 'invalid_request_error', 'max_tokens', 'unsupported_parameter');
    case 'context_length_exceeded':
      return openaiBody(400, m("This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages."), 'invalid_request_error', 'messages', 'context_length_exceeded');
    case 'invalid_prompt':
      return openaiBody(400, m('Invalid prompt: your prompt was flagged as potentially violating our usage policy. Please try again with a different prompt: https://platform.openai.com/docs/guides/reasoning#advice-on-prompting'), 'invalid_request_error', null, 'invalid_prompt');
    case 'invalid_api_key':
      return openaiBody(401, m(`Incorrect API key provided: ${maskKey(o.key ?? 'sk-unknown')}. You can find your API key at https://platform.openai.com/account/api-keys.`), 'invalid_request_error', null, 'invalid_api_key');
    case 'permission_denied':
      return { status: 403, body: { error: { code: 'unsupported_country_region_territory', message: m('Country, region, or territory not supported'), param: null, type: 'request_forbidden' } } };
    case 'model_not_found':
      return openaiBody(404, m(`The model \`${model}\` does not exist or you do not have access to it.`), 'invalid_request_error', null, 'model_not_found');
    case 'request_timeout':
      return openaiBody(408, m('Request timed out.'), 'timeout', null, null);
    case 'conflict':
      return openaiBody(409, m('Another request is currently being processed for this resource. Please retry.'), 'invalid_request_error', null, 'conflict');
    case 'unprocessable_entity':
      return openaiBody(422, m('The request was well-formed but could not be processed.'), 'invalid_request_error', null, null);
    case 'rate_limit':
      return {
        ...openaiBody(429, m(`Rate limit reached for ${model} in organization org-fake on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s. Visit https://platform.openai.com/account/rate-limits to learn more.`), 'tokens', null, 'rate_limit_exceeded'),
        headers: rateLimitHeaders({ remainingTokens: 0, resetTokens: '2s' }),
      };
    case 'request_too_large':
      return {
        ...openaiBody(429, m(`Request too large for ${model} in organization org-fake on tokens per min (TPM): Limit 30000, Requested 250011. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.`), 'tokens', null, 'rate_limit_exceeded'),
        headers: rateLimitHeaders(),
      };
    case 'insufficient_quota':
      return openaiBody(429, m('You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.'), 'insufficient_quota', null, 'insufficient_quota');
    case 'server_error':
      return openaiBody(500, m('The server had an error while processing your request. Sorry about that!'), 'server_error', null, null);
    case 'bad_gateway':
      return {
        status: 502,
        body: '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n',
        headers: { 'content-type': 'text/html' },
      };
    case 'overloaded':
      return openaiBody(503, m('The engine is currently overloaded, please try again later'), 'server_error', null, null);
  }
}

function maskKey(key: string): string {
  return key.length <= 8 ? key : `${key.slice(0, 3)}${'*'.repeat(Math.max(4, key.length - 7))}${key.slice(-4)}`;
}

export function rateLimitHeaders(o: { remainingTokens?: number; resetTokens?: string } = {}): Record<string, string> {
  return {
    'x-ratelimit-limit-requests': '10000',
    'x-ratelimit-limit-tokens': '30000000',
    'x-ratelimit-remaining-requests': '9999',
    'x-ratelimit-remaining-tokens': String(o.remainingTokens ?? 29999000),
    'x-ratelimit-reset-requests': '6ms',
    'x-ratelimit-reset-tokens': o.resetTokens ?? '0s',
  };
}

function modelEntry(id: string) {
  return { id, object: 'model', created: 1715367049, owned_by: 'system' };
}

// ---------------------------------------------------------------------------------------------
// What each model accepts (the fake's own table, from OpenAI's reasoning guide and API reference;
// deliberately not the gateway's, so the tests compare two readings of the docs)

/** Reasoning models: the o-series and the gpt-5 family, but not the `*-chat-latest` chat models. */
export function isReasoningModel(model: string): boolean {
  return /^(o\d|gpt-5|codex-mini)/.test(model) && !/chat/.test(model);
}

/** Reasoning efforts a model takes (null: any the SDK knows). */
function effortsOf(model: string): string[] {
  if (/^o\d|^codex-mini|^gpt-5(\.\d+)?-codex/.test(model)) return ['low', 'medium', 'high'];
  if (/^gpt-5-pro/.test(model)) return ['high'];
  if (/^gpt-5\.\d+-pro/.test(model)) return ['medium', 'high', 'xhigh'];
  if (/^gpt-5\.\d/.test(model)) return ['none', 'low', 'medium', 'high', 'xhigh'];
  return ['minimal', 'low', 'medium', 'high'];
}

/** OpenAI's list of supported values: 'a', 'a' and 'b', 'a', 'b', and 'c'. */
const quoteList = (xs: string[]) => (xs.length < 3 ? xs.map((x) => `'${x}'`).join(' and ') : `${xs.slice(0, -1).map((x) => `'${x}'`).join(', ')}, and '${xs.at(-1)}'`);

/** The 400 OpenAI answers for a parameter this model rejects (reasoning models: sampling, stop, max_tokens), or null. */
export function modelParamError(model: string, body: Record<string, unknown>): ErrorResponse | null {
  const unsupported = (param: string, message = `Unsupported parameter: '${param}' is not supported with this model.`) =>
    openaiBody(400, message, 'invalid_request_error', param, 'unsupported_parameter');
  if (!isReasoningModel(model)) {
    return body.reasoning_effort != null ? unsupported('reasoning_effort') : null;
  }
  if (body.max_tokens != null) return openaiError('unsupported_parameter', { model });
  if (body.temperature != null && body.temperature !== 1) {
    return openaiBody(400, `Unsupported value: 'temperature' does not support ${String(body.temperature)} with this model. Only the default (1) value is supported.`, 'invalid_request_error', 'temperature', 'unsupported_value');
  }
  for (const param of ['top_p', 'presence_penalty', 'frequency_penalty', 'logprobs', 'top_logprobs', 'logit_bias', 'stop']) {
    if (body[param] != null && body[param] !== false) return unsupported(param);
  }
  if (/^(o1|o3-mini)(-|$)/.test(model) && body.parallel_tool_calls != null) return unsupported('parallel_tool_calls');
  const efforts = effortsOf(model);
  if (body.reasoning_effort != null && !efforts.includes(String(body.reasoning_effort))) {
    return openaiBody(400, `Unsupported value: 'reasoning_effort' does not support '${String(body.reasoning_effort)}' with this model. Supported values are: ${quoteList(efforts)}.`, 'invalid_request_error', 'reasoning_effort', 'unsupported_value');
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Auth helpers (shared with Azure v1 and OpenRouter)

export function bearerToken(h: string | undefined): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(h ?? '');
  return m?.[1]?.trim() || undefined;
}

export function checkBearer(h: string | undefined, key: string | null): 'ok' | 'missing' | 'invalid' {
  const token = bearerToken(h);
  if (!token) return 'missing';
  return key === null || token === key ? 'ok' : 'invalid';
}

// ---------------------------------------------------------------------------------------------
// Request checks shared by the OpenAI-shaped fakes

export const CHAT_PARAMS = new Set([
  'messages', 'model', 'audio', 'frequency_penalty', 'function_call', 'functions', 'logit_bias', 'logprobs',
  'max_completion_tokens', 'max_tokens', 'metadata', 'modalities', 'moderation', 'n', 'parallel_tool_calls',
  'prediction', 'presence_penalty', 'prompt_cache_key', 'prompt_cache_options', 'prompt_cache_retention',
  'reasoning_effort', 'response_format', 'safety_identifier', 'seed', 'service_tier', 'stop', 'store', 'stream',
  'stream_options', 'temperature', 'tool_choice', 'tools', 'top_logprobs', 'top_p', 'user', 'verbosity',
  'web_search_options',
]);

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);
const PART_TYPES = new Set(['text', 'image_url', 'input_audio', 'file', 'refusal']);

export interface ChatInvalid {
  message: string;
  param: string | null;
  code: string | null;
}

/** Validate a chat-completions body the way OpenAI does. OpenRouter is lenient: no unknown-field or
 *  stream_options checks there. Returns the first problem, or null. */
export function validateChatBody(body: unknown, flavor: ChatFlavor): ChatInvalid | null {
  if (!isRecord(body)) return { message: 'The request body must be a JSON object.', param: null, code: null };
  const strict = flavor !== 'openrouter';
  if (strict) {
    const unknown = unrecognizedArgument(body, CHAT_PARAMS);
    if (unknown) return unknown;
  }
  if (flavor === 'openai' && (typeof body.model !== 'string' || body.model === '')) {
    return { message: 'you must provide a model parameter', param: null, code: null };
  }
  if (body.messages === undefined) return { message: "Missing required parameter: 'messages'.", param: 'messages', code: 'missing_required_parameter' };
  if (!Array.isArray(body.messages)) return { message: "Invalid type for 'messages': expected an array, but got an object instead.", param: 'messages', code: 'invalid_type' };
  if (body.messages.length === 0) {
    return { message: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", param: 'messages', code: 'empty_array' };
  }
  const msgs = body.messages as unknown[];
  const pending = new Map<string, number>(); // tool_call_id -> index of the assistant message
  for (let i = 0; i < msgs.length; i++) {
    const msg = msgs[i];
    if (!isRecord(msg)) return { message: `Invalid type for 'messages[${i}]': expected an object, but got a ${typeof msg} instead.`, param: `messages[${i}]`, code: 'invalid_type' };
    const role = msg.role;
    if (typeof role !== 'string' || !ROLES.has(role)) {
      return { message: `Invalid value: '${String(role)}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`, param: `messages[${i}].role`, code: 'invalid_value' };
    }
    if (role !== 'tool' && pending.size > 0) return unanswered(pending);
    if (role === 'tool') {
      const id = msg.tool_call_id;
      if (typeof id !== 'string' || !pending.has(id)) {
        return { message: "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", param: `messages.[${i}].role`, code: null };
      }
      pending.delete(id);
    }
    if (role === 'assistant' && Array.isArray(msg.tool_calls)) {
      for (const tc of msg.tool_calls) {
        if (!isRecord(tc) || typeof tc.id !== 'string' || !isRecord(tc.function) || typeof tc.function.name !== 'string' || typeof tc.function.arguments !== 'string') {
          return { message: `Invalid 'messages[${i}].tool_calls': each tool call needs an id, type 'function' and function.{name, arguments (string)}.`, param: `messages[${i}].tool_calls`, code: 'invalid_value' };
        }
        pending.set(tc.id, i);
      }
    }
    const content = msg.content;
    const needsContent = role !== 'assistant' || !Array.isArray(msg.tool_calls);
    if (content === undefined || content === null) {
      if (needsContent && !(role === 'assistant' && typeof msg.refusal === 'string')) {
        return { message: `Invalid value for 'content': expected a string, got null.`, param: `messages.[${i}].content`, code: null };
      }
      continue;
    }
    if (typeof content === 'string') continue;
    if (!Array.isArray(content)) return { message: `Invalid type for 'messages[${i}].content': expected one of a string or array of objects, but got an object instead.`, param: `messages[${i}].content`, code: 'invalid_type' };
    for (let j = 0; j < content.length; j++) {
      const part = content[j];
      const where = `messages[${i}].content[${j}]`;
      if (!isRecord(part) || typeof part.type !== 'string' || !PART_TYPES.has(part.type)) {
        return { message: `Invalid value: '${isRecord(part) ? String(part.type) : typeof part}'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', and 'file'.`, param: `${where}.type`, code: 'invalid_value' };
      }
      if (part.type === 'text' && typeof part.text !== 'string') return { message: `Missing required parameter: '${where}.text'.`, param: `${where}.text`, code: 'missing_required_parameter' };
      if (part.type === 'image_url') {
        const bad = checkImageUrl(part.image_url, `${where}.image_url`);
        if (bad) return bad;
      }
      if (part.type === 'file') {
        // ChatCompletionContentPart.File: {file: {file_data?, file_id?, filename?}}; file_data a base64 data: URL.
        const f = part.file;
        if (!isRecord(f)) return { message: `Missing required parameter: '${where}.file'.`, param: `${where}.file`, code: 'missing_required_parameter' };
        if (f.file_data === undefined && f.file_id === undefined) return { message: `Missing required parameter: '${where}.file.file_data' or '${where}.file.file_id'.`, param: `${where}.file`, code: 'missing_required_parameter' };
        if (f.file_data !== undefined && (typeof f.file_data !== 'string' || !/^data:application\/pdf;base64,[A-Za-z0-9+/]+={0,2}$/.test(f.file_data))) {
          return { message: `Invalid file data: '${where}.file.file_data'. Expected a base64-encoded data URL with a supported MIME type (application/pdf).`, param: `${where}.file.file_data`, code: 'invalid_value' };
        }
        if (f.filename !== undefined && typeof f.filename !== 'string') return { message: `Invalid type for '${where}.file.filename': expected a string.`, param: `${where}.file.filename`, code: 'invalid_type' };
      }
    }
  }
  if (pending.size > 0) return unanswered(pending);
  if (Array.isArray(body.tools)) {
    for (let k = 0; k < body.tools.length; k++) {
      const t = body.tools[k] as unknown;
      if (!isRecord(t) || !isRecord(t.function) || typeof t.function.name !== 'string') {
        return { message: `Missing required parameter: 'tools[${k}].function'.`, param: `tools[${k}].function`, code: 'missing_required_parameter' };
      }
      if (!/^[a-zA-Z0-9_-]{1,64}$/.test(t.function.name)) {
        return { message: `Invalid 'tools[${k}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`, param: `tools[${k}].function.name`, code: 'invalid_value' };
      }
    }
  }
  if (strict && body.stream_options != null && body.stream !== true) {
    return { message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: 'stream_options', code: null };
  }
  if (isRecord(body.response_format) && body.response_format.type === 'json_object' && !/json/i.test(JSON.stringify(body.messages))) {
    return { message: "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.", param: 'messages', code: null };
  }
  return null;
}

/** OpenAI's 400 for the first body field outside `known` (param and code null, as the API sends them), or null. */
export function unrecognizedArgument(body: Record<string, unknown>, known: ReadonlySet<string>): ChatInvalid | null {
  for (const k of Object.keys(body)) {
    if (!known.has(k)) return { message: `Unrecognized request argument supplied: ${k}`, param: null, code: null };
  }
  return null;
}

function unanswered(pending: Map<string, number>): ChatInvalid {
  const [first] = pending.values();
  return {
    message: `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...pending.keys()].join(', ')}`,
    param: `messages.[${first}].role`,
    code: null,
  };
}

function checkImageUrl(v: unknown, where: string): ChatInvalid | null {
  if (!isRecord(v) || typeof v.url !== 'string') return { message: `Missing required parameter: '${where}.url'.`, param: `${where}.url`, code: 'missing_required_parameter' };
  const url = v.url;
  if (url.startsWith('data:')) {
    const m = /^data:([^;,]+);base64,[A-Za-z0-9+/=]+$/.exec(url);
    if (!m || !m[1].startsWith('image/')) {
      return { message: `Invalid '${where}.url'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got unsupported MIME type '${m?.[1] ?? 'unknown'}'.`, param: `${where}.url`, code: 'invalid_value' };
    }
  } else if (!/^https?:\/\/[^\s]+$/.test(url)) {
    return { message: `Invalid '${where}.url'. Expected a valid URL, but got a value with an invalid format.`, param: `${where}.url`, code: 'invalid_value' };
  }
  if (v.detail !== undefined && !['auto', 'low', 'high'].includes(String(v.detail))) {
    return { message: `Invalid value: '${String(v.detail)}'. Supported values are: 'auto', 'low', and 'high'.`, param: `${where}.detail`, code: 'invalid_value' };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Chat-completions output builder (OpenAI, Azure, OpenRouter)

export type ChatFlavor = 'openai' | 'azure' | 'openrouter';

export interface ChatResult {
  flavor: ChatFlavor;
  id: string;
  model: string;
  created: number;
  content: string | null;
  deltas: string[];
  refusal: string | null;
  reasoning?: string;
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  finishReason: string;
  nativeFinishReason?: string;
  usage: Usage;
  /** OpenRouter: upstream provider name and cost in USD (default: usage priced with `price`). */
  provider?: string;
  cost?: number;
  /** OpenRouter: the served model's prices, USD per token. */
  price?: TokenPrice;
  /** Azure: output filtered in this category (finish_reason content_filter). */
  filtered?: { category: string; severity: string };
  /** Azure: add the trailing `content_filter_offsets` chunk (asynchronous filter). */
  asyncFilter?: boolean;
  /** Stream: emit the usage chunk (`choices: []`). */
  includeUsage: boolean;
  obfuscation: boolean;
  /** OpenRouter: keep-alive comments before the first chunk. */
  processingComments?: number;
  /** The request asked for `logprobs` (with `top_logprobs` alternatives): every content token carries them. */
  logprobs?: { top: number };
}

/**
 * One content token's `logprobs.content` entry, as OpenAI sends it: the token, a log probability
 * (deterministic per token here), its UTF-8 bytes and `top` alternatives, the token itself first.
 */
export function tokenLogprobJson(token: string, top: number): Record<string, unknown> {
  let h = 7;
  for (let i = 0; i < token.length; i++) h = (h * 31 + token.charCodeAt(i)) % 100_003;
  const logprob = -(h % 3000) / 1000 - 0.0001;
  const bytes = [...Buffer.from(token, 'utf8')];
  const alts = Array.from({ length: top }, (_, k) => (k === 0 ? { token, logprob, bytes } : { token: ` alt${k}`, logprob: logprob - k, bytes: [...Buffer.from(` alt${k}`, 'utf8')] }));
  return { token, logprob, bytes, top_logprobs: alts };
}

/** Text of the last user (or tool) message. */
export function lastUserTextOpenAI(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as unknown;
    if (isRecord(m) && (m.role === 'user' || m.role === 'tool')) return textOf(m.content);
  }
  return '';
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((p): p is { type: string; text: string } => isRecord(p) && p.type === 'text' && typeof p.text === 'string')
    .map((p) => p.text)
    .join(' ');
}

export function promptWordsOpenAI(messages: unknown): number {
  if (!Array.isArray(messages)) return 1;
  return Math.max(1, messages.reduce((n: number, m: unknown) => n + (isRecord(m) ? countWords(textOf(m.content)) + 3 : 0), 0));
}

export type ChatSuccessScenario =
  | ({ kind: 'text'; text?: string | string[]; finishReason?: string } & ChatSuccessOptions)
  | ({ kind: 'tool_calls'; calls?: ToolCallSpec[]; text?: string } & ChatSuccessOptions)
  | ({ kind: 'json'; value?: unknown } & ChatSuccessOptions)
  | ({ kind: 'refusal'; refusal?: string } & ChatSuccessOptions);

/** Turn a success scenario into a ChatResult (flavor-specific extras are set by the caller). */
export function buildChatResult(
  s: ChatSuccessScenario & { reasoning?: string },
  body: Record<string, unknown>,
  base: { flavor: ChatFlavor; id: string; model: string; created?: number; callId: () => string },
): ChatResult {
  const last = lastUserTextOpenAI(body.messages);
  const rf = isRecord(body.response_format) ? body.response_format.type : undefined;
  const jsonMode = rf === 'json_object' || rf === 'json_schema';
  let deltas: string[] = [];
  let content: string | null = null;
  let refusal: string | null = null;
  let finishReason = 'stop';
  const toolCalls: ChatResult['toolCalls'] = [];
  switch (s.kind) {
    case 'text': {
      const t = s.text ?? (jsonMode ? JSON.stringify({ echo: last }) : echoText(last));
      deltas = Array.isArray(t) ? t : splitDeltas(t);
      content = deltas.join('');
      finishReason = s.finishReason ?? 'stop';
      break;
    }
    case 'json':
      content = JSON.stringify(s.value ?? { echo: last });
      deltas = fragment(content, 4);
      break;
    case 'refusal':
      refusal = s.refusal ?? "I'm sorry, I can't help with that request.";
      break;
    case 'tool_calls': {
      if (s.text) {
        deltas = splitDeltas(s.text);
        content = s.text;
      }
      const firstTool = Array.isArray(body.tools) && isRecord(body.tools[0]) && isRecord(body.tools[0].function) ? String(body.tools[0].function.name) : 'tool';
      for (const c of s.calls ?? [{}]) {
        const args = c.arguments === undefined ? '{}' : typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments);
        toolCalls.push({ id: c.id ?? base.callId(), name: c.name ?? firstTool, arguments: args });
      }
      finishReason = 'tool_calls';
      break;
    }
  }
  const visible = deltas.length + (refusal ? splitDeltas(refusal).length : 0) + toolCalls.length * 8;
  const so = isRecord(body.stream_options) ? body.stream_options : {};
  return {
    flavor: base.flavor,
    id: base.id,
    model: s.model ?? base.model,
    created: base.created ?? Math.floor(Date.now() / 1000),
    content,
    deltas,
    refusal,
    reasoning: s.reasoning,
    toolCalls,
    finishReason,
    usage: resolveUsage(s.usage, { input: promptWordsOpenAI(body.messages), visibleOutput: Math.max(1, visible) }),
    includeUsage: so.include_usage === true,
    obfuscation: base.flavor !== 'openrouter' && so.include_obfuscation !== false,
    ...(body.logprobs === true ? { logprobs: { top: typeof body.top_logprobs === 'number' ? body.top_logprobs : 0 } } : {}),
  };
}

const SAFE_FILTER = {
  hate: { filtered: false, severity: 'safe' },
  self_harm: { filtered: false, severity: 'safe' },
  sexual: { filtered: false, severity: 'safe' },
  violence: { filtered: false, severity: 'safe' },
};

export const AZURE_PROMPT_FILTER_RESULTS = [
  { prompt_index: 0, content_filter_results: { ...SAFE_FILTER, jailbreak: { filtered: false, detected: false } } },
];

function azureChoiceFilter(r: ChatResult): Record<string, unknown> {
  if (!r.filtered) return { ...SAFE_FILTER };
  return { ...SAFE_FILTER, [r.filtered.category]: { filtered: true, severity: r.filtered.severity } };
}

/** Prices in USD per token, as OpenRouter's models list gives them (cache reads and writes where the model has them). */
export interface TokenPrice {
  prompt: number;
  completion: number;
  cacheRead?: number;
  cacheWrite?: number;
}

/** Used when a result carries no price. */
const DEFAULT_PRICE: TokenPrice = { prompt: 2.5e-6, completion: 1e-5 };

export function chatUsageJson(r: ChatResult): Record<string, unknown> {
  const u = r.usage;
  const core = { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output };
  if (r.flavor === 'openrouter') {
    // Uncached prompt tokens at the prompt price, cache reads and writes at theirs (the prompt price without one).
    const p = r.price ?? DEFAULT_PRICE;
    const uncached = Math.max(0, u.input - u.cached - u.cacheWrite);
    const promptCost = round(uncached * p.prompt + u.cached * (p.cacheRead ?? p.prompt) + u.cacheWrite * (p.cacheWrite ?? p.prompt));
    const completionCost = round(u.output * p.completion);
    return {
      ...core,
      prompt_tokens_details: { cached_tokens: u.cached, cache_write_tokens: u.cacheWrite, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: u.reasoning },
      cost: r.cost ?? round(promptCost + completionCost),
      is_byok: false,
      cost_details: { upstream_inference_cost: null, upstream_inference_prompt_cost: promptCost, upstream_inference_completions_cost: completionCost },
    };
  }
  return {
    ...core,
    prompt_tokens_details: { cached_tokens: u.cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function round(n: number): number {
  return Math.round(n * 1e10) / 1e10;
}

/** The non-streaming `chat.completion` body. */
export function chatCompletionJson(r: ChatResult): Record<string, unknown> {
  const message: Record<string, unknown> = { role: 'assistant', content: r.content, refusal: r.refusal };
  if (r.flavor === 'openai') message.annotations = [];
  if (r.flavor === 'openrouter') message.reasoning = r.reasoning ?? null;
  if (r.toolCalls.length) message.tool_calls = r.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  const logprobs = r.logprobs ? { content: r.deltas.map((d) => tokenLogprobJson(d, r.logprobs!.top)), refusal: null } : null;
  const choice: Record<string, unknown> = { index: 0, message, logprobs, finish_reason: r.finishReason };
  if (r.flavor === 'openrouter') choice.native_finish_reason = r.nativeFinishReason ?? r.finishReason;
  if (r.flavor === 'azure') choice.content_filter_results = azureChoiceFilter(r);
  const out: Record<string, unknown> = { id: r.id, object: 'chat.completion', created: r.created, model: r.model };
  if (r.flavor === 'openrouter') out.provider = r.provider ?? 'OpenAI';
  if (r.flavor === 'azure') out.prompt_filter_results = AZURE_PROMPT_FILTER_RESULTS;
  out.choices = [choice];
  out.usage = chatUsageJson(r);
  if (r.flavor === 'openai') out.service_tier = 'default';
  out.system_fingerprint = r.flavor === 'azure' ? 'fp_azure0001' : 'fp_fake0001';
  return out;
}

/** SSE units of a streamed completion. With `cut`, stop after `cut.afterDeltas` text deltas and append `cut.tail`
 *  instead of the finish chunk, usage chunk and [DONE]. */
export function chatStreamUnits(r: ChatResult, cut?: { afterDeltas: number; tail: string[] }): string[] {
  const units: string[] = [];
  let obf = 0;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => {
    const c: Record<string, unknown> = { id: r.id, object: 'chat.completion.chunk', created: r.created, model: r.model };
    if (r.flavor === 'openrouter') c.provider = r.provider ?? 'OpenAI';
    c.system_fingerprint = r.flavor === 'azure' ? null : 'fp_fake0001';
    c.choices = choices;
    if (r.includeUsage && r.flavor !== 'openrouter') c.usage = null;
    if (r.obfuscation) c.obfuscation = 'zap0Qx'.slice(0, 2 + (obf++ % 5));
    Object.assign(c, extra);
    return sseData(c);
  };
  const choice = (delta: Record<string, unknown>, finish: string | null = null, filter?: Record<string, unknown>) => {
    const lp = r.logprobs && typeof delta.content === 'string' && delta.content !== '' ? { content: [tokenLogprobJson(delta.content, r.logprobs.top)], refusal: null } : null;
    const ch: Record<string, unknown> = { index: 0, delta, logprobs: lp, finish_reason: finish };
    if (r.flavor === 'openrouter') ch.native_finish_reason = finish === null ? null : (r.nativeFinishReason ?? finish);
    if (r.flavor === 'azure') ch.content_filter_results = filter ?? {};
    return ch;
  };
  const comments = r.processingComments ?? 0;
  for (let i = 0; i < comments; i++) units.push(sseComment('OPENROUTER PROCESSING'));
  if (r.flavor === 'azure') {
    units.push(sseData({ choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: AZURE_PROMPT_FILTER_RESULTS }));
  }
  const textOnlyStart = r.content !== null || r.refusal !== null || r.toolCalls.length === 0;
  units.push(chunk([choice({ role: 'assistant', content: textOnlyStart ? '' : null, refusal: null })]));
  if (r.reasoning) {
    for (const piece of splitDeltas(r.reasoning)) {
      units.push(chunk([choice({ role: 'assistant', content: '', reasoning: piece, reasoning_details: [{ type: 'reasoning.text', text: piece, format: 'unknown', index: 0 }] })]));
    }
  }
  const limit = cut ? cut.afterDeltas : Infinity;
  let sent = 0;
  for (const d of r.deltas) {
    if (sent >= limit) break;
    units.push(chunk([choice({ content: d }, null, { ...SAFE_FILTER })]));
    sent++;
    if (sent === 1 && r.flavor === 'openrouter' && comments > 0 && r.deltas.length > 1) units.push(sseComment('OPENROUTER PROCESSING'));
  }
  if (cut) return [...units, ...cut.tail];
  if (r.refusal) for (const d of splitDeltas(r.refusal)) units.push(chunk([choice({ refusal: d })]));
  r.toolCalls.forEach((tc, k) => {
    units.push(chunk([choice({ tool_calls: [{ index: k, id: tc.id, type: 'function', function: { name: tc.name, arguments: '' } }] })]));
    for (const f of fragment(tc.arguments, 3)) units.push(chunk([choice({ tool_calls: [{ index: k, function: { arguments: f } }] })]));
  });
  units.push(chunk([choice({}, r.finishReason, r.filtered ? azureChoiceFilter(r) : {})]));
  if (r.flavor === 'azure' && r.asyncFilter) {
    const len = (r.content ?? '').length;
    units.push(
      sseData({
        choices: [{ content_filter_offsets: { check_offset: 0, start_offset: 0, end_offset: len }, content_filter_results: { ...SAFE_FILTER }, finish_reason: null, index: 0 }],
        created: 0,
        id: '',
        model: '',
        object: '',
      }),
    );
  }
  if (r.includeUsage || r.flavor === 'openrouter') units.push(chatUsageChunk(r));
  units.push('data: [DONE]\n\n');
  return units;
}

/** The streamed usage chunk: `choices: []` and the full usage, sent after the finish chunk. */
export function chatUsageChunk(r: ChatResult): string {
  const c: Record<string, unknown> = { id: r.id, object: 'chat.completion.chunk', created: r.created, model: r.model };
  if (r.flavor === 'openrouter') c.provider = r.provider ?? 'OpenAI';
  c.system_fingerprint = r.flavor === 'azure' ? null : 'fp_fake0001';
  c.choices = [];
  c.usage = chatUsageJson(r);
  if (r.obfuscation) c.obfuscation = 'h9RiQLL';
  return sseData(c);
}

/** How a fake of the OpenAI family serves its scenario once the request passed validation. */
export interface ChatServeContext<S> {
  flavor: ChatFlavor;
  stream: boolean;
  body: Record<string, unknown>;
  ids: (prefix: string, width?: number) => string;
  /** Model reported in responses. */
  model: string;
  /** Headers of a successful response. */
  headers: Record<string, string>;
  /** Build the flavor's HTTP error response by name. */
  errorFor(name: string, message?: string): ErrorResponse;
  defaultStreamError: string;
  /** The object placed in an in-stream `{"error": …}`. */
  streamErrorObject(name: string, message?: string): unknown;
  /** Flavor-specific tweaks of a success result (Azure filters, OpenRouter provider/cost). */
  decorate?(r: ChatResult, s: S): void;
  /** Flavor-specific scenario kinds; return true when handled. */
  extra?(s: S): Promise<boolean>;
}

/** Serve one OpenAI-family scenario (success, error, stream error, malformed). */
export async function serveChatScenario<S extends { kind: string } & Delivery>(ex: Exchange, scenario: S, c: ChatServeContext<S>): Promise<void> {
  // The kinds handled here have the same shape in every flavor's union; flavor-only kinds go through c.extra.
  const s = scenario as unknown as OpenAIScenario;
  const idPrefix = c.flavor === 'openrouter' ? `gen-${Math.floor(Date.now() / 1000)}-` : 'chatcmpl-';
  const newResult = (sc: ChatSuccessScenario & { reasoning?: string }) => {
    const r = buildChatResult(sc, c.body, { flavor: c.flavor, id: c.ids(idPrefix, 20), model: c.model, callId: () => c.ids('call_', 24) });
    c.decorate?.(r, scenario);
    return r;
  };
  const errorResponse = (e: ErrorResponse, hints: RetryHints = {}) => {
    const headers = { ...c.headers, ...e.headers, ...retryHeaders(hints) };
    if (typeof e.body === 'string' && !e.headers?.['content-type']) headers['content-type'] = 'text/plain';
    return sendJson(ex, e.status, e.body, headers, s);
  };
  if (c.extra && (await c.extra(scenario))) return;
  switch (s.kind) {
    case 'text':
    case 'tool_calls':
    case 'json':
    case 'refusal': {
      const r = newResult(s as ChatSuccessScenario);
      if (!c.stream) return sendJson(ex, 200, chatCompletionJson(r), c.headers, s);
      return deliver(ex, { status: 200, headers: { ...c.headers, ...SSE_HEADERS }, units: chatStreamUnits(r), stream: true }, s);
    }
    case 'error':
      return errorResponse(c.errorFor(s.error, s.message), s);
    case 'stream_error': {
      const name = s.error ?? c.defaultStreamError;
      if (!c.stream) return errorResponse(c.errorFor(name, s.message));
      const r = newResult({ kind: 'text', text: s.text, usage: s.usage });
      const err = c.streamErrorObject(name, s.message);
      const tail = s.style === 'event' ? [sseEvent('error', { error: err })] : [sseData(streamErrorEnvelope(c.flavor, r, err))];
      if (s.usageFirst) tail.unshift(chatUsageChunk(r));
      const units = chatStreamUnits(r, { afterDeltas: s.afterDeltas ?? 1, tail });
      return deliver(ex, { status: 200, headers: { ...c.headers, ...SSE_HEADERS }, units, stream: true }, s);
    }
    case 'malformed': {
      if (!c.stream) return sendJson(ex, 200, `{"id":"${c.ids(idPrefix, 20)}","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hel`, c.headers, s);
      const r = newResult({ kind: 'text' });
      const units = chatStreamUnits(r, { afterDeltas: 1, tail: ['data: {"id":"broken","choices":[{"index":0,"delta":{"content":"oops"}\n\n'] });
      return deliver(ex, { status: 200, headers: { ...c.headers, ...SSE_HEADERS }, units, stream: true }, s);
    }
    default:
      throw new Error(`scenario kind ${(s as { kind: string }).kind} is not supported by the ${c.flavor} fake`);
  }
}

/** OpenAI/Azure send a bare `{"error":…}` event; OpenRouter wraps it in a chunk with finish_reason "error". */
function streamErrorEnvelope(flavor: ChatFlavor, r: ChatResult, err: unknown): unknown {
  if (flavor !== 'openrouter') return { error: err };
  return {
    id: r.id,
    object: 'chat.completion.chunk',
    created: r.created,
    model: r.model,
    provider: r.provider ?? 'OpenAI',
    error: err,
    choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error', native_finish_reason: 'error' }],
  };
}
