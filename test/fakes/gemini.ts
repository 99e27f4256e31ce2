// Fake Google Gemini Developer API server: models/{m}:generateContent and :streamGenerateContent (SSE with
// \r\n\r\n framing when alt=sse, else a JSON array), :embedContent and :batchEmbedContents, models list,
// google.rpc.Status errors, prompt blocks.
import { fakePng } from './openai.ts';
import {
  countWords,
  deliver,
  echoText,
  fakeEmbedding,
  handleTransport,
  headerValue,
  idMaker,
  isRecord,
  parseObject,
  resolveUsage,
  retryHeaders,
  sendJson as sendAny,
  splitDeltas,
  sseData,
  startFake,
} from './common.ts';
import type { Delivery, Exchange, FakeOptions, FakeServer, RetryHints, ToolCallSpec, TransportScenario, Usage, UsageSpec } from './common.ts';

export type GeminiFinishReason =
  | 'FINISH_REASON_UNSPECIFIED' | 'STOP' | 'MAX_TOKENS' | 'SAFETY' | 'RECITATION' | 'LANGUAGE' | 'OTHER' | 'BLOCKLIST'
  | 'PROHIBITED_CONTENT' | 'SPII' | 'MALFORMED_FUNCTION_CALL' | 'IMAGE_SAFETY' | 'UNEXPECTED_TOOL_CALL' | 'TOO_MANY_TOOL_CALLS'
  | 'IMAGE_PROHIBITED_CONTENT' | 'NO_IMAGE' | 'IMAGE_RECITATION' | 'IMAGE_OTHER';

export type GeminiBlockReason = 'BLOCKED_REASON_UNSPECIFIED' | 'SAFETY' | 'OTHER' | 'BLOCKLIST' | 'PROHIBITED_CONTENT' | 'IMAGE_SAFETY';

/** Gemini errors (wire-formats §4.5). */
export type GeminiErrorName =
  | 'invalid_argument' // 400 INVALID_ARGUMENT
  | 'api_key_invalid' // 400 INVALID_ARGUMENT + ErrorInfo API_KEY_INVALID (auth failure as a 400)
  | 'context_length_exceeded' // 400 "The input token count (…) exceeds the maximum number of tokens allowed (…)."
  | 'failed_precondition' // 400 FAILED_PRECONDITION (location not supported / billing)
  | 'unauthenticated' // 401 UNAUTHENTICATED (OAuth)
  | 'billing' // 402 RESOURCE_EXHAUSTED (prepaid credit exhausted)
  | 'permission_denied' // 403 PERMISSION_DENIED
  | 'not_found' // 404 NOT_FOUND
  | 'rate_limit' // 429 RESOURCE_EXHAUSTED + QuotaFailure + Help + RetryInfo
  | 'cancelled' // 499 CANCELLED
  | 'internal' // 500 INTERNAL
  | 'unavailable' // 503 UNAVAILABLE "The model is overloaded. Please try again later."
  | 'deadline_exceeded'; // 504 DEADLINE_EXCEEDED

interface GeminiSuccess {
  usage?: UsageSpec;
  /** modelVersion reported (default: the model in the URL). */
  model?: string;
  /** Put finishReason on a separate final chunk `{text:"", thoughtSignature}` (Gemini 3 style) instead of on the
   *  last content chunk. Default: true for `gemini-3*` models. */
  finalEmptyChunk?: boolean;
  /** Thought-summary text emitted as `{text, thought: true}` parts before the answer. */
  thought?: string;
}

export type GeminiScenario = (
  /** Text reply; default echo of the last user text (as `{"echo": …}` with responseMimeType application/json).
   *  An output block is `finishReason: 'SAFETY'` (etc.); an empty text gives a candidate without content. */
  | ({ kind: 'text'; text?: string | string[]; finishReason?: GeminiFinishReason } & GeminiSuccess)
  /** functionCall parts (several = parallel), whole in one chunk, with finishReason STOP; no ids unless given. */
  | ({ kind: 'tool_calls'; calls?: ToolCallSpec[]; text?: string } & GeminiSuccess)
  | ({ kind: 'json'; value?: unknown } & GeminiSuccess)
  /** HTTP 200 with promptFeedback.blockReason and no candidates. */
  | ({ kind: 'prompt_blocked'; blockReason?: GeminiBlockReason } & Pick<GeminiSuccess, 'usage' | 'model'>)
  /** `retryDelay` (rate_limit only) goes into RetryInfo and the message; default "1s". */
  | ({ kind: 'error'; error: GeminiErrorName; message?: string; retryDelay?: string } & RetryHints)
  /** 200 stream broken after `afterDeltas` text chunks (default 1) by an error object, sent as an SSE
   *  `data: {"error":…}` event (style `data`, default) or as raw un-prefixed JSON (style `raw`).
   *  Default error `unavailable`. Non-streaming requests get the HTTP error. */
  | { kind: 'stream_error'; text?: string; afterDeltas?: number; error?: GeminiErrorName; message?: string; style?: 'data' | 'raw' }
  | { kind: 'malformed' }
  | TransportScenario
) &
  Delivery;

/** Key in `x-goog-api-key` or `?key=`, default `test-key-gemini`; unknown models get 404 NOT_FOUND. */
export type FakeGeminiOptions = FakeOptions;

export type FakeGemini = FakeServer<GeminiScenario>;

export const GEMINI_TEST_KEY = 'test-key-gemini';
/** Output tokens of one image from Gemini's image models (2.5 Flash Image). */
export const GEMINI_IMAGE_TOKENS = 1290;

const JSON_UTF8 = { 'content-type': 'application/json; charset=UTF-8', vary: 'Origin, X-Origin, Referer', server: 'scaffolding on HTTPServer2' };
const SSE_GEMINI = { 'content-type': 'text/event-stream', vary: 'Origin, X-Origin, Referer', server: 'scaffolding on HTTPServer2' };

const TOP_LEVEL = new Set([
  'contents', 'systemInstruction', 'system_instruction', 'tools', 'toolConfig', 'tool_config', 'safetySettings',
  'safety_settings', 'cachedContent', 'cached_content', 'generationConfig', 'generation_config', 'serviceTier',
  'service_tier', 'model', 'store',
]);
const GEN_CONFIG = new Set(
  [
    'stopSequences', 'responseMimeType', 'responseSchema', 'responseJsonSchema', 'responseModalities', 'candidateCount',
    'maxOutputTokens', 'temperature', 'topP', 'topK', 'seed', 'presencePenalty', 'frequencyPenalty', 'responseLogprobs',
    'logprobs', 'enableEnhancedCivicAnswers', 'speechConfig', 'thinkingConfig', 'mediaResolution', 'imageConfig',
  ].flatMap((k) => [k, k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]),
);
const DATA_FIELDS = ['text', 'inlineData', 'inline_data', 'fileData', 'file_data', 'functionCall', 'function_call', 'functionResponse', 'function_response', 'executableCode', 'executable_code', 'codeExecutionResult', 'code_execution_result'];

export async function startFakeGemini(opts: FakeGeminiOptions = {}): Promise<FakeGemini> {
  const apiKey = opts.apiKey === undefined ? GEMINI_TEST_KEY : opts.apiKey;
  const ids = idMaker();
  let imagesMade = 0;
  const modelList = opts.models ?? ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-3-pro-preview'];
  const knownModel = (m: string) => (opts.models ? opts.models.includes(m) : m.startsWith('gemini-'));

  return startFake<GeminiScenario>({
    basePath: '',
    defaultScenario: { kind: 'text' },
    async handle(ex, next) {
      const path = ex.url.pathname;
      const { method } = ex.req;
      const fail = (e: GeminiError, d?: Delivery) => sendJson(ex, e.status, { error: e.error }, e.headers, d);
      const gen = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+):(generateContent|streamGenerateContent|embedContent|batchEmbedContents)$/.exec(path);
      const list = /^\/(v1beta|v1|v1alpha)\/models$/.exec(path);
      const one = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+)$/.exec(path);
      if (!(gen && method === 'POST') && !((list || one) && method === 'GET')) {
        return fail(status(404, 'NOT_FOUND', `The requested URL ${path} was not found on this server.`));
      }

      const key = headerValue(ex.req.headers['x-goog-api-key']) ?? ex.url.searchParams.get('key') ?? undefined;
      const bearer = /^Bearer\s+(.+)$/i.exec(ex.req.headers.authorization ?? '')?.[1];
      if (!key && bearer) {
        if (apiKey !== null && bearer !== apiKey) return fail(geminiError('unauthenticated'));
      } else if (!key) {
        return fail(status(403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."));
      } else if (apiKey !== null && key !== apiKey) {
        return fail(geminiError('api_key_invalid'));
      }

      if (list) {
        const size = Number(ex.url.searchParams.get('pageSize') ?? 50);
        const start = Number(ex.url.searchParams.get('pageToken') ?? 0);
        const page = modelList.slice(start, start + size).map(modelEntry);
        const out: Record<string, unknown> = { models: page };
        if (start + size < modelList.length) out.nextPageToken = String(start + size);
        return sendJson(ex, 200, out);
      }
      const apiVersion = (gen ?? one)![1];
      const model = decodeURIComponent((gen ?? one)![2]);
      if (!knownModel(model)) return fail(geminiError('not_found', { model, apiVersion }));
      if (one) return sendJson(ex, 200, modelEntry(model));

      if (ex.badJson) return fail(status(400, 'INVALID_ARGUMENT', `Invalid JSON payload received. Unexpected token.\n${ex.record.rawBody.slice(0, 40)}\n^`));
      if (gen![3] === 'embedContent' || gen![3] === 'batchEmbedContents') {
        const batch = gen![3] === 'batchEmbedContents';
        const invalid = validateEmbedBody(ex.record.body, model, batch);
        if (invalid) return fail(invalid);
        const s = next();
        if (await handleTransport(ex, s)) return;
        if (s.kind === 'error') {
          const e = geminiError(s.error, { model, apiVersion, message: s.message, retryDelay: s.retryDelay });
          return sendJson(ex, e.status, { error: e.error }, { ...e.headers, ...retryHeaders(s) }, s);
        }
        const body = ex.record.body as Record<string, unknown>;
        const one = (r: Record<string, unknown>) => {
          const text = ((r.content as { parts: { text: string }[] }).parts).map((p) => p.text).join('');
          return { values: fakeEmbedding(text, typeof r.outputDimensionality === 'number' ? r.outputDimensionality : 3072) };
        };
        const answer = batch ? { embeddings: (body.requests as Record<string, unknown>[]).map(one) } : { embedding: one(body) };
        return sendJson(ex, 200, answer, {}, s);
      }
      const invalid = validateGenerateBody(ex.record.body, model);
      if (invalid) return fail(invalid);
      const body = ex.record.body as Record<string, unknown>;
      const wantsLogprobs = logprobsAsked(body);
      if (wantsLogprobs && !modelHasLogprobs(model)) return fail(status(400, 'INVALID_ARGUMENT', `Logprobs is not enabled for models/${model}`));
      const streaming = gen![3] === 'streamGenerateContent';
      const sse = streaming && ex.url.searchParams.get('alt') === 'sse';

      // Image output (responseModalities IMAGE): only the image models make images, one a call.
      const modalities = (pick((pick(body, 'generationConfig') ?? {}) as Record<string, unknown>, 'responseModalities') ?? []) as unknown[];
      const wantsImage = Array.isArray(modalities) && modalities.some((m) => String(m).toUpperCase() === 'IMAGE');
      if (wantsImage && !/image/.test(model)) return fail(status(400, 'INVALID_ARGUMENT', 'Model does not support the requested response modalities: image'));
      const s = next();
      if (await handleTransport(ex, s)) return;
      if (wantsImage && (s.kind === 'text' || s.kind === 'json')) {
        const prompt = lastUserText(body);
        const png = fakePng(prompt, imagesMade++);
        const input = promptWords(body);
        return sendJson(ex, 200, {
          candidates: [{ content: { role: 'model', parts: [{ text: 'Here is the image.' }, { inlineData: { mimeType: 'image/png', data: png.toString('base64') } }] }, finishReason: 'STOP', index: 0 }],
          usageMetadata: { promptTokenCount: input, candidatesTokenCount: GEMINI_IMAGE_TOKENS + 4, totalTokenCount: input + GEMINI_IMAGE_TOKENS + 4, candidatesTokensDetails: [{ modality: 'IMAGE', tokenCount: GEMINI_IMAGE_TOKENS }, { modality: 'TEXT', tokenCount: 4 }] },
          modelVersion: model,
          responseId: ids('fakeResp', 14),
        }, {}, s);
      }
      const reply = (chunks: Record<string, unknown>[], d: Delivery) => {
        if (!streaming) return sendJson(ex, 200, chunks[0], {}, d);
        if (sse) return deliver(ex, { status: 200, headers: SSE_GEMINI, units: chunks.map((c) => sseData(c, '\r\n')), stream: true }, d);
        // Without alt=sse: one JSON array, delivered element by element.
        const units = chunks.map((c, i) => (i === 0 ? '[' : ',\r\n') + JSON.stringify(c, null, 2));
        units.push(']');
        return deliver(ex, { status: 200, headers: JSON_UTF8, units, stream: true }, d);
      };
      const ctx = { body, model, responseId: ids('fakeResp', 14), lastUser: lastUserText(body), logprobs: wantsLogprobs };
      switch (s.kind) {
        case 'error': {
          const e = geminiError(s.error, { model, apiVersion, message: s.message, retryDelay: s.retryDelay });
          return sendJson(ex, e.status, { error: e.error }, { ...e.headers, ...retryHeaders(s) }, s);
        }
        case 'stream_error': {
          const e = geminiError(s.error ?? 'unavailable', { model, apiVersion, message: s.message });
          if (!streaming) return fail(e);
          const r = build({ kind: 'text', text: s.text }, ctx);
          const chunks = streamChunks(r).slice(0, s.afterDeltas ?? 1);
          const errJson = JSON.stringify({ error: { code: e.error.code, message: e.error.message, status: e.error.status } });
          const tail = s.style === 'raw' ? errJson : sseData(errJson, '\r\n');
          if (!sse) return deliver(ex, { status: 200, headers: JSON_UTF8, units: [...chunks.map((c, i) => (i === 0 ? '[' : ',\r\n') + JSON.stringify(c, null, 2)), ',\r\n' + errJson, ']'], stream: true }, s);
          return deliver(ex, { status: 200, headers: SSE_GEMINI, units: [...chunks.map((c) => sseData(c, '\r\n')), tail], stream: true }, s);
        }
        case 'malformed': {
          if (!streaming) return sendJson(ex, 200, '{"candidates": [{"content": {"parts": [{"text": "Hel', {}, s);
          const r = build({ kind: 'text' }, ctx);
          const first = streamChunks(r).slice(0, 1).map((c) => sseData(c, '\r\n'));
          return deliver(ex, { status: 200, headers: sse ? SSE_GEMINI : JSON_UTF8, units: [...first, 'data: {"candidates": [{"content": {"parts": [{"text": "oo\r\n\r\n'], stream: true }, s);
        }
        case 'prompt_blocked': {
          const input = s.usage?.input ?? promptWords(body);
          const blocked = {
            promptFeedback: { blockReason: s.blockReason ?? 'SAFETY', safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH' }] },
            usageMetadata: { promptTokenCount: input, totalTokenCount: input, promptTokensDetails: [{ modality: 'TEXT', tokenCount: input }] },
            modelVersion: s.model ?? model,
            responseId: ctx.responseId,
          };
          return reply([blocked], s);
        }
        case 'text':
        case 'tool_calls':
        case 'json': {
          const r = build(s, ctx);
          return reply(streaming ? streamChunks(r) : [unaryJson(r)], s);
        }
        default:
          throw new Error(`scenario kind ${s.kind} was not handled by the gemini fake`);
      }
    },
  });
}

/** Google pretty-prints its JSON and labels it `application/json; charset=UTF-8`. */
function sendJson(ex: Exchange, code: number, body: unknown, headers: Record<string, string> = {}, d?: Delivery): Promise<void> {
  return sendAny(ex, code, typeof body === 'string' ? body : JSON.stringify(body, null, 2), { ...JSON_UTF8, ...headers }, d);
}

function modelEntry(name: string) {
  return {
    name: `models/${name}`,
    version: '001',
    displayName: name.replace(/^gemini-/, 'Gemini ').replace(/-/g, ' '),
    description: `Fake ${name}`,
    inputTokenLimit: 1048576,
    outputTokenLimit: 65536,
    supportedGenerationMethods: ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
    temperature: 1,
    topP: 0.95,
    topK: 64,
    maxTemperature: 2,
    thinking: true,
  };
}

// ---------------------------------------------------------------------------------------------
// Errors

interface GeminiError {
  status: number;
  error: { code: number; message: string; status: string; details?: unknown[] };
  headers?: Record<string, string>;
}

function status(code: number, canonical: string, message: string, details?: unknown[]): GeminiError {
  return { status: code, error: details ? { code, message, status: canonical, details } : { code, message, status: canonical } };
}

export function geminiError(name: GeminiErrorName, o: { model?: string; apiVersion?: string; message?: string; retryDelay?: string } = {}): GeminiError {
  const model = o.model ?? 'gemini-2.5-flash';
  const m = (fallback: string) => o.message ?? fallback;
  switch (name) {
    case 'invalid_argument':
      return status(400, 'INVALID_ARGUMENT', m('Request contains an invalid argument.'));
    case 'api_key_invalid': {
      const msg = m('API key not valid. Please pass a valid API key.');
      return status(400, 'INVALID_ARGUMENT', msg, [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
        { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: msg },
      ]);
    }
    case 'context_length_exceeded':
      return status(400, 'INVALID_ARGUMENT', m('The input token count (1300000) exceeds the maximum number of tokens allowed (1048575).'));
    case 'failed_precondition':
      return status(400, 'FAILED_PRECONDITION', m('User location is not supported for the API use.'));
    case 'unauthenticated':
      return status(401, 'UNAUTHENTICATED', m('Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.'), [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
      ]);
    case 'billing':
      return status(402, 'RESOURCE_EXHAUSTED', m('Your prepaid credit balance is exhausted. Add credits to continue using the Gemini API.'));
    case 'permission_denied':
      return status(403, 'PERMISSION_DENIED', m('The caller does not have permission'));
    case 'not_found':
      return status(404, 'NOT_FOUND', m(`models/${model} is not found for API version ${o.apiVersion ?? 'v1beta'}, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`));
    case 'rate_limit': {
      const delay = o.retryDelay ?? '1s';
      return status(
        429,
        'RESOURCE_EXHAUSTED',
        m(`You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10, model: ${model}\nPlease retry in ${delay}.`),
        [
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier', quotaDimensions: { location: 'global', model }, quotaValue: '10' }],
          },
          { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: delay },
        ],
      );
    }
    case 'cancelled':
      return status(499, 'CANCELLED', m('The operation was cancelled.'));
    case 'internal':
      return status(500, 'INTERNAL', m('An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'));
    case 'unavailable':
      return status(503, 'UNAVAILABLE', m('The model is overloaded. Please try again later.'));
    case 'deadline_exceeded':
      return status(504, 'DEADLINE_EXCEEDED', m('Deadline expired before operation could complete.'));
  }
}

// ---------------------------------------------------------------------------------------------
// Request checks

function pick(o: Record<string, unknown>, camel: string): unknown {
  return o[camel] ?? o[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
}

const badArg = (message: string, details?: unknown[]) => status(400, 'INVALID_ARGUMENT', message, details);
const unknownName = (name: string, at?: string) => {
  const message = `Invalid JSON payload received. Unknown name "${name}"${at ? ` at '${at}'` : ''}: Cannot find field.`;
  return badArg(message, [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: at ?? '', description: message }] }]);
};

/** Validate a GenerateContentRequest like the Developer API; returns the error or null. Accepts camelCase and snake_case. */
const TASK_TYPES = new Set(['TASK_TYPE_UNSPECIFIED', 'RETRIEVAL_QUERY', 'RETRIEVAL_DOCUMENT', 'SEMANTIC_SIMILARITY', 'CLASSIFICATION', 'CLUSTERING', 'QUESTION_ANSWERING', 'FACT_VERIFICATION', 'CODE_RETRIEVAL_QUERY']);

/** 400 INVALID_ARGUMENT for a malformed embedContent / batchEmbedContents body, or null. */
export function validateEmbedBody(body: unknown, model: string, batch: boolean): GeminiError | null {
  const bad = (m: string) => status(400, 'INVALID_ARGUMENT', m);
  if (!isRecord(body)) return bad('Invalid JSON payload received.');
  const one = (r: unknown, at: string): GeminiError | null => {
    if (!isRecord(r)) return bad(`Invalid value at '${at}'`);
    if (batch && r.model !== `models/${model}`) return bad(`* BatchEmbedContentsRequest.${at}.model: unexpected model name format`);
    const parts = isRecord(r.content) ? r.content.parts : undefined;
    if (!Array.isArray(parts) || parts.length === 0 || !parts.every((p) => isRecord(p) && typeof p.text === 'string')) return bad(`* ${at}content.parts: contents are required.`);
    if (r.taskType !== undefined && !TASK_TYPES.has(String(r.taskType))) return bad(`Invalid value at '${at}task_type' (type.googleapis.com/google.ai.generativelanguage.v1beta.TaskType), "${String(r.taskType)}"`);
    if (r.outputDimensionality !== undefined && (typeof r.outputDimensionality !== 'number' || r.outputDimensionality < 1)) return bad(`* ${at}output_dimensionality: must be positive`);
    return null;
  };
  if (!batch) return one(body, '');
  if (!Array.isArray(body.requests) || body.requests.length === 0) return bad('* BatchEmbedContentsRequest.requests: requests is required.');
  if (body.requests.length > 100) return bad('* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch');
  for (let i = 0; i < body.requests.length; i++) {
    const e = one(body.requests[i], `requests[${i}].`);
    if (e) return e;
  }
  return null;
}

export function validateGenerateBody(body: unknown, model: string): GeminiError | null {
  if (!isRecord(body)) return badArg('Invalid JSON payload received. Expected an object.');
  for (const k of Object.keys(body)) if (!TOP_LEVEL.has(k)) return unknownName(k);
  const gc = pick(body, 'generationConfig');
  if (gc !== undefined) {
    if (!isRecord(gc)) return badArg("Invalid value at 'generation_config' (type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig)");
    for (const k of Object.keys(gc)) if (!GEN_CONFIG.has(k)) return unknownName(k, 'generation_config');
  }
  const sys = pick(body, 'systemInstruction');
  if (sys !== undefined && (!isRecord(sys) || !Array.isArray(sys.parts))) return badArg("Invalid value at 'system_instruction' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content)");
  const tools = body.tools;
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return badArg("Invalid value at 'tools' (type.googleapis.com/google.ai.generativelanguage.v1beta.Tool)");
    for (let t = 0; t < tools.length; t++) {
      const tool = tools[t] as unknown;
      const decls = isRecord(tool) ? pick(tool, 'functionDeclarations') : undefined;
      if (!Array.isArray(decls)) continue;
      for (let f = 0; f < decls.length; f++) {
        const d = decls[f] as unknown;
        if (!isRecord(d) || typeof d.name !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}$/.test(d.name)) {
          return badArg(`* GenerateContentRequest.tools[${t}].function_declarations[${f}].name: Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:) or dashes (-), with a maximum length of 128.\n`);
        }
      }
    }
  }
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0) return badArg('* GenerateContentRequest.contents: contents is not specified\n');
  // Gemini 3: functionCall parts of the current turn must carry the thoughtSignature the model returned.
  let turnStart = 0;
  contents.forEach((c: unknown, i) => {
    if (isRecord(c) && c.role !== 'model' && Array.isArray(c.parts) && c.parts.some((p: unknown) => isRecord(p) && typeof p.text === 'string')) turnStart = i;
  });
  for (let i = 0; i < contents.length; i++) {
    const c = contents[i] as unknown;
    if (!isRecord(c)) return badArg(`Invalid value at 'contents[${i}]' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content)`);
    if (c.role !== undefined && c.role !== 'user' && c.role !== 'model') return badArg('Please use a valid role: user, model.');
    if (!Array.isArray(c.parts) || c.parts.length === 0) return badArg(`* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`);
    let firstCallInContent = true;
    for (let j = 0; j < c.parts.length; j++) {
      const p = c.parts[j] as unknown;
      const at = `contents[${i}].parts[${j}]`;
      if (!isRecord(p)) return badArg(`Invalid value at '${at}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Part)`);
      for (const k of Object.keys(p)) {
        if (!DATA_FIELDS.includes(k) && !['thought', 'thoughtSignature', 'thought_signature', 'videoMetadata', 'video_metadata', 'partMetadata', 'part_metadata', 'mediaResolution', 'media_resolution'].includes(k)) {
          return unknownName(k, at);
        }
      }
      const set = DATA_FIELDS.filter((k) => p[k] !== undefined);
      if (set.length === 0) return badArg(`* GenerateContentRequest.${at}.data: required oneof field 'data' must have one initialized field\n`);
      if (set.length > 1) return badArg(`Invalid value at '${at}' (oneof field 'data' is already set. Cannot set '${set[1]}')`);
      const inline = pick(p, 'inlineData');
      if (inline !== undefined) {
        if (!isRecord(inline) || typeof pick(inline, 'mimeType') !== 'string') return badArg(`* GenerateContentRequest.${at}.inline_data.mime_type: mime_type is not specified\n`);
        const data = inline.data;
        if (typeof data !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(data)) return badArg(`Invalid value at '${at}.inline_data.data' (TYPE_BYTES), Base64 decoding failed for "${String(data).slice(0, 20)}"`);
      }
      const file = pick(p, 'fileData');
      if (file !== undefined) {
        const uri = isRecord(file) ? String(pick(file, 'fileUri') ?? '') : '';
        if (!/^https:\/\/generativelanguage\.googleapis\.com\/v1beta\/files\/|^https:\/\/(www\.)?(youtube\.com|youtu\.be)\//.test(uri)) {
          return badArg(`Invalid or unsupported file uri: ${uri}`);
        }
      }
      const call = pick(p, 'functionCall');
      if (call !== undefined) {
        if (!isRecord(call) || typeof call.name !== 'string' || call.name === '') return badArg(`* GenerateContentRequest.${at}.function_call.name: Name cannot be empty.\n`);
        if (call.args !== undefined && !isRecord(call.args)) return badArg(`Invalid value at '${at}.function_call.args' (type.googleapis.com/google.protobuf.Struct), ${JSON.stringify(call.args)}`);
        if (model.startsWith('gemini-3') && c.role === 'model' && i > turnStart && firstCallInContent && pick(p, 'thoughtSignature') === undefined) {
          return badArg(`Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${call.name}\` , position ${i + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`);
        }
        firstCallInContent = false;
      }
      const resp = pick(p, 'functionResponse');
      if (resp !== undefined) {
        if (!isRecord(resp) || typeof resp.name !== 'string' || resp.name === '') return badArg(`* GenerateContentRequest.${at}.function_response.name: Name cannot be empty.\n`);
        if (Array.isArray(resp.response)) return badArg(`Invalid JSON payload received. Unknown name "response" at '${at}.function_response': Proto field is not repeating, cannot start list.`);
        if (resp.response !== undefined && !isRecord(resp.response)) return badArg(`Invalid value at '${at}.function_response.response' (type.googleapis.com/google.protobuf.Struct), ${JSON.stringify(resp.response)}`);
      }
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Response builder

function partsText(parts: unknown): string {
  if (!Array.isArray(parts)) return '';
  return parts
    .map((p: unknown) => {
      if (!isRecord(p)) return '';
      if (typeof p.text === 'string' && !p.thought) return p.text;
      const fr = pick(p, 'functionResponse');
      return isRecord(fr) ? JSON.stringify(fr.response ?? {}) : '';
    })
    .filter(Boolean)
    .join(' ');
}

function lastUserText(body: Record<string, unknown>): string {
  const contents = Array.isArray(body.contents) ? (body.contents as unknown[]) : [];
  for (let i = contents.length - 1; i >= 0; i--) {
    const c = contents[i];
    if (isRecord(c) && c.role !== 'model') return partsText(c.parts);
  }
  return '';
}

function promptWords(body: Record<string, unknown>): number {
  const contents = Array.isArray(body.contents) ? (body.contents as unknown[]) : [];
  const sys = pick(body, 'systemInstruction');
  const sysWords = isRecord(sys) ? countWords(partsText(sys.parts)) : 0;
  return Math.max(1, sysWords + contents.reduce((n: number, c: unknown) => n + (isRecord(c) ? countWords(partsText(c.parts)) + 1 : 0), 0));
}

interface Built {
  model: string;
  responseId: string;
  thought?: string;
  deltas: string[];
  calls: Array<{ name: string; args: Record<string, unknown>; id?: string }>;
  finishReason: GeminiFinishReason;
  usage: Usage;
  finalEmptyChunk: boolean;
  /** responseLogprobs: undefined when not asked for; else the top candidates per step (0: none). */
  logprobs?: number;
}

const BLOCKING = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT', 'IMAGE_RECITATION']);

function build(s: Extract<GeminiScenario, { kind: 'text' | 'tool_calls' | 'json' }>, ctx: { body: Record<string, unknown>; model: string; responseId: string; lastUser: string; logprobs?: number }): Built {
  const gc = pick(ctx.body, 'generationConfig');
  const jsonMode = isRecord(gc) && pick(gc, 'responseMimeType') === 'application/json';
  let deltas: string[] = [];
  const calls: Built['calls'] = [];
  let finishReason: GeminiFinishReason = 'STOP';
  switch (s.kind) {
    case 'text': {
      const t = s.text ?? (jsonMode ? JSON.stringify({ echo: ctx.lastUser }) : echoText(ctx.lastUser));
      deltas = Array.isArray(t) ? t : splitDeltas(t);
      finishReason = s.finishReason ?? 'STOP';
      break;
    }
    case 'json':
      deltas = [JSON.stringify(s.value ?? { echo: ctx.lastUser })];
      break;
    case 'tool_calls': {
      if (s.text) deltas = splitDeltas(s.text);
      const tools = Array.isArray(ctx.body.tools) ? (ctx.body.tools as unknown[]) : [];
      const decls = tools.map((t) => (isRecord(t) ? pick(t, 'functionDeclarations') : undefined)).find(Array.isArray) as unknown[] | undefined;
      const first = decls && isRecord(decls[0]) ? String(decls[0].name) : 'tool';
      for (const c of s.calls ?? [{}]) {
        const args = typeof c.arguments === 'string' ? parseObject(c.arguments) : (c.arguments ?? {});
        calls.push({ name: c.name ?? first, args, id: c.id });
      }
      break;
    }
  }
  const thought = s.thought;
  const visible = Math.max(1, deltas.length + calls.length * 8);
  const usage = resolveUsage(s.usage ?? (thought ? { reasoning: countWords(thought) } : undefined), { input: promptWords(ctx.body), visibleOutput: visible });
  return {
    model: s.model ?? ctx.model,
    responseId: ctx.responseId,
    thought,
    deltas,
    calls,
    finishReason,
    usage,
    finalEmptyChunk: s.finalEmptyChunk ?? ctx.model.startsWith('gemini-3'),
    ...(ctx.logprobs !== undefined ? { logprobs: ctx.logprobs } : {}),
  };
}

/** Gemini 2.0 Flash and 1.5 return log probabilities; 2.5 and 3 answer "Logprobs is not enabled". */
function modelHasLogprobs(model: string): boolean {
  return model.startsWith('gemini-2.0-flash') || model.startsWith('gemini-1.5-');
}

/** With generationConfig.responseLogprobs: how many top candidates per step (0 when logprobs is absent). */
function logprobsAsked(body: Record<string, unknown>): number | undefined {
  const gc = pick(body, 'generationConfig');
  if (!isRecord(gc) || pick(gc, 'responseLogprobs') !== true) return undefined;
  const n = pick(gc, 'logprobs');
  return typeof n === 'number' ? n : 0;
}

/**
 * logprobsResult for some text, as Gemini gives it: one chosen candidate per token (a word with
 * its leading space, or a run of spaces), deterministic log probabilities, and with `top` > 0 the
 * top candidates per step, most likely first. A log probability of 0 is left out, as proto3 JSON
 * leaves out zeros (the first token of every answer is certain here).
 */
export function fakeGeminiLogprobs(text: string, top: number, first: boolean): { logprobsResult: Record<string, unknown>; avgLogprobs: number } {
  const tokens = text.match(/\s*\S+|\s+/g) ?? [];
  const chosen: Record<string, unknown>[] = [];
  const steps: Record<string, unknown>[] = [];
  let sum = 0;
  tokens.forEach((token, i) => {
    const lp = first && i === 0 ? 0 : -((token.length * 7 + i * 3) % 23) / 10 - 0.05;
    sum += lp;
    const c: Record<string, unknown> = { token, tokenId: 1000 + ((token.charCodeAt(token.length - 1) * 31 + token.length) % 9000) };
    if (lp !== 0) c.logProbability = lp;
    chosen.push(c);
    if (top > 0) {
      const alts: Record<string, unknown>[] = [{ ...c }];
      for (let k = 1; k < top; k++) alts.push({ token: `${token.trimEnd()}~${k}`, tokenId: 20000 + k, logProbability: lp - k - 0.5 });
      steps.push({ candidates: alts });
    }
  });
  const result: Record<string, unknown> = { chosenCandidates: chosen, logProbabilitySum: sum };
  if (top > 0) result.topCandidates = steps;
  return { logprobsResult: result, avgLogprobs: tokens.length ? sum / tokens.length : 0 };
}

function signature(seed: string): string {
  return 'Ct' + Buffer.from(`fake-thought-signature:${seed}`).toString('base64');
}

/** usageMetadata with zero fields omitted. `fraction` scales the output counts (cumulative streaming usage). */
function usageMetadata(u: Usage, fraction = 1): Record<string, unknown> {
  const candidates = Math.round((u.output - u.reasoning) * fraction);
  const out: Record<string, unknown> = {};
  if (u.input) out.promptTokenCount = u.input;
  if (candidates) out.candidatesTokenCount = candidates;
  out.totalTokenCount = u.input + candidates + u.reasoning;
  if (u.input) out.promptTokensDetails = [{ modality: 'TEXT', tokenCount: u.input }];
  if (u.cached) {
    out.cachedContentTokenCount = u.cached;
    out.cacheTokensDetails = [{ modality: 'TEXT', tokenCount: u.cached }];
  }
  if (u.reasoning) out.thoughtsTokenCount = u.reasoning;
  return out;
}

function callPart(c: Built['calls'][number], first: boolean): Record<string, unknown> {
  const fc: Record<string, unknown> = { name: c.name, args: c.args };
  if (c.id) fc.id = c.id;
  return first ? { functionCall: fc, thoughtSignature: signature(c.name) } : { functionCall: fc };
}

function candidate(parts: Record<string, unknown>[], finishReason?: GeminiFinishReason): Record<string, unknown> {
  const c: Record<string, unknown> = {};
  if (parts.length) c.content = { parts, role: 'model' };
  if (finishReason) c.finishReason = finishReason;
  c.index = 0;
  if (finishReason && BLOCKING.has(finishReason)) {
    c.safetyRatings = [
      { category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'NEGLIGIBLE' },
      { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' },
      { category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' },
      { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true },
    ];
  }
  return c;
}

function unaryJson(r: Built): Record<string, unknown> {
  const parts: Record<string, unknown>[] = [];
  if (r.thought) parts.push({ text: r.thought, thought: true });
  const text = r.deltas.join('');
  if (text) parts.push(r.finalEmptyChunk && !r.calls.length ? { text, thoughtSignature: signature('text') } : { text });
  r.calls.forEach((c, i) => parts.push(callPart(c, i === 0)));
  const blocked = BLOCKING.has(r.finishReason);
  const c = candidate(blocked ? [] : parts, r.finishReason);
  if (r.logprobs !== undefined && !blocked) Object.assign(c, fakeGeminiLogprobs(text, r.logprobs, true));
  return { candidates: [c], usageMetadata: usageMetadata(r.usage), modelVersion: r.model, responseId: r.responseId };
}

/** Stream chunks: thought parts, one chunk per text delta, one chunk with all function calls, finishReason last. */
function streamChunks(r: Built): Record<string, unknown>[] {
  const parts: Record<string, unknown>[][] = [];
  if (r.thought) for (const t of splitDeltas(r.thought)) parts.push([{ text: t, thought: true }]);
  for (const d of r.deltas) parts.push([{ text: d }]);
  if (r.calls.length) parts.push(r.calls.map((c, i) => callPart(c, i === 0)));
  const blocked = BLOCKING.has(r.finishReason);
  const separateFinal = r.finalEmptyChunk || blocked || parts.length === 0;
  const n = parts.length + (separateFinal ? 1 : 0);
  let firstText = true;
  const chunk = (p: Record<string, unknown>[], k: number, finish?: GeminiFinishReason) => {
    const c = candidate(p, finish);
    // Each chunk carries the log probabilities of its own (non-thought) text.
    const text = p.map((x) => (typeof x.text === 'string' && !x.thought ? x.text : '')).join('');
    if (r.logprobs !== undefined && text) {
      Object.assign(c, fakeGeminiLogprobs(text, r.logprobs, firstText));
      firstText = false;
    }
    return { candidates: [c], usageMetadata: usageMetadata(r.usage, k / n), modelVersion: r.model, responseId: r.responseId };
  };
  const out = parts.map((p, i) => chunk(p, i + 1, !separateFinal && i === parts.length - 1 ? r.finishReason : undefined));
  if (separateFinal) {
    const finalParts = blocked ? [] : r.finalEmptyChunk ? [{ text: '', thoughtSignature: signature('final') }] : [];
    out.push(chunk(finalParts, n, r.finishReason));
  }
  return out;
}
