// Fake OpenRouter server (POST /api/v1/chat/completions, GET /api/v1/models): OpenAI shape plus `provider`,
// native_finish_reason, gen- ids, always-on usage with cost, `: OPENROUTER PROCESSING` comments, models[] fallback,
// and OpenRouter's error styles (HTTP errors, top-level error in a 200, choices[].error, mid-stream error chunk).
import { deliver, handleTransport, idMaker, retryHeaders, sendJson, SSE_HEADERS, sseData, startFake } from './common.ts';
import type { Delivery, FakeOptions, FakeServer, RetryHints, ToolCallSpec, TransportScenario, UsageSpec } from './common.ts';
import { bearerToken, buildChatResult, chatCompletionJson, chatStreamUnits, serveChatScenario, validateChatBody } from './openai.ts';
import type { ChatResult, ErrorResponse, TokenPrice } from './openai.ts';

export type OpenRouterFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error';

/** OpenRouter errors (wire-formats §5.5). Body `{"error":{"code":N,"message":…,"metadata"?:…}}` unless noted. */
export type OpenRouterErrorName =
  | 'bad_request' // 400
  | 'invalid_model' // 400 "<model> is not a valid model ID"
  | 'context_length_exceeded' // 400, metadata.error_type context_length_exceeded
  | 'provider_error' // 400 "Provider returned error", real reason JSON-encoded in metadata.raw
  | 'unauthorized' // 401 "User not found."
  | 'insufficient_credits' // 402
  | 'moderation' // 403 metadata {reasons, flagged_input, provider_name, model_slug} (content policy)
  | 'guardrail' // 403 prompt-injection guardrail
  | 'no_endpoints' // 404 "No endpoints found for <model>."
  | 'timeout' // 408
  | 'payload_too_large' // 413
  | 'rate_limit' // 429 (metadata.error_type rate_limit_exceeded)
  | 'capacity_exhausted' // 429 availability shape: error_type/http_status/availability on the error object
  | 'server_error' // 500 (masked message)
  | 'bad_gateway' // 502 model down / invalid upstream response
  | 'no_provider' // 503 no provider meets the routing requirements, with Retry-After
  | 'gateway_timeout'; // 504

interface OpenRouterSuccess {
  usage?: UsageSpec;
  /** Served model reported in `model` (default: the one picked from model/models[]). */
  model?: string;
  /** Upstream provider name (default from the model's vendor: OpenAI, Anthropic, Google, …). */
  provider?: string;
  /** usage.cost in USD (default computed from tokens). */
  cost?: number;
  /** `: OPENROUTER PROCESSING` comments before the first chunk (default 1; another follows the first delta). */
  processingComments?: number;
}

export type OpenRouterScenario = (
  /** Text reply; `reasoning` streams `delta.reasoning` first (and sets message.reasoning). */
  | ({ kind: 'text'; text?: string | string[]; finishReason?: OpenRouterFinishReason; nativeFinishReason?: string; reasoning?: string } & OpenRouterSuccess)
  | ({ kind: 'tool_calls'; calls?: ToolCallSpec[]; text?: string } & OpenRouterSuccess)
  | ({ kind: 'json'; value?: unknown } & OpenRouterSuccess)
  | ({ kind: 'refusal'; refusal?: string } & OpenRouterSuccess)
  | ({ kind: 'error'; error: OpenRouterErrorName; message?: string } & RetryHints)
  /** HTTP 200 whose body is only a top-level `error` (streams: a lone error chunk). Default error bad_gateway. */
  | { kind: 'error_in_200'; error?: OpenRouterErrorName; message?: string }
  /** HTTP 200 with partial content and `choices[0].error` + finish_reason "error" (streams: the mid-stream error chunk). */
  | ({ kind: 'choice_error'; text?: string; code?: number; message?: string; errorType?: string } & OpenRouterSuccess)
  /** 200 stream, then a chunk with top-level `error` + finish_reason "error" after `afterDeltas` deltas (default 1);
   *  `style: 'event'` sends `event: error` instead. Non-streaming requests get the HTTP error. Default rate_limit. */
  | { kind: 'stream_error'; text?: string; afterDeltas?: number; error?: OpenRouterErrorName; message?: string; style?: 'data' | 'event' }
  | { kind: 'malformed' }
  | TransportScenario
) &
  Delivery;

/** Bearer key, default `test-key-openrouter`; unknown slugs get 400 "not a valid model ID". */
export interface FakeOpenRouterOptions extends FakeOptions {
  /** Models that fail with 404 "No endpoints found" so that `models[]` fallback moves on. */
  unavailableModels?: string[];
}

export type FakeOpenRouter = FakeServer<OpenRouterScenario>;

export const OPENROUTER_TEST_KEY = 'test-key-openrouter';

/** USD per million tokens → USD per token. */
const m = (usdPerMillion: number) => usdPerMillion / 1e6;
/**
 * The fake's price list (USD per token, from OpenRouter's /api/v1/models `pricing` as of 2026-08):
 * usage.cost is priced with the served model's row; a slug not listed costs DEFAULT_PRICE.
 */
export const OPENROUTER_PRICES: Record<string, TokenPrice> = {
  'openai/gpt-4o': { prompt: m(2.5), completion: m(10), cacheRead: m(1.25) },
  'openai/gpt-4o-mini': { prompt: m(0.15), completion: m(0.6), cacheRead: m(0.075) },
  'openai/gpt-5': { prompt: m(1.25), completion: m(10), cacheRead: m(0.125) },
  'openai/o3': { prompt: m(2), completion: m(8), cacheRead: m(0.5) },
  'anthropic/claude-sonnet-4.5': { prompt: m(3), completion: m(15), cacheRead: m(0.3), cacheWrite: m(3.75) },
  'anthropic/claude-opus-4.5': { prompt: m(5), completion: m(25), cacheRead: m(0.5), cacheWrite: m(6.25) },
  'anthropic/claude-haiku-4.5': { prompt: m(1), completion: m(5), cacheRead: m(0.1), cacheWrite: m(1.25) },
  'google/gemini-2.5-pro': { prompt: m(1.25), completion: m(10), cacheRead: m(0.125), cacheWrite: m(1.625) },
  'google/gemini-2.5-flash': { prompt: m(0.3), completion: m(2.5), cacheRead: m(0.03), cacheWrite: m(0.3833) },
  'meta-llama/llama-3.3-70b-instruct': { prompt: m(0.13), completion: m(0.4) },
};
/** What a slug without a row costs (the price the fake used for every model before it had a list). */
export const OPENROUTER_DEFAULT_PRICE: TokenPrice = { prompt: m(2.5), completion: m(10) };

/** The served slug's prices: variants (`:free`, `:nitro`, …) price as their base model, `:free` at zero. */
export function openrouterPrice(slug: string): TokenPrice {
  const [base, variant] = slug.split(':');
  if (variant === 'free') return { prompt: 0, completion: 0 };
  return OPENROUTER_PRICES[base] ?? OPENROUTER_DEFAULT_PRICE;
}

const VENDORS: Record<string, string> = { openai: 'OpenAI', anthropic: 'Anthropic', google: 'Google', 'meta-llama': 'DeepInfra', mistralai: 'Mistral', 'x-ai': 'xAI', deepseek: 'DeepSeek' };
const NATIVE_FINISH: Record<string, Record<string, string>> = {
  Anthropic: { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', content_filter: 'refusal' },
  Google: { stop: 'STOP', length: 'MAX_TOKENS', tool_calls: 'STOP', content_filter: 'SAFETY' },
};

export async function startFakeOpenRouter(opts: FakeOpenRouterOptions = {}): Promise<FakeOpenRouter> {
  const apiKey = opts.apiKey === undefined ? OPENROUTER_TEST_KEY : opts.apiKey;
  const ids = idMaker();
  const unavailable = new Set(opts.unavailableModels ?? []);
  const validModel = (m: string) => (opts.models ? opts.models.includes(m) : /^[a-z0-9-]+\/[\w.:-]+$/i.test(m));

  return startFake<OpenRouterScenario>({
    basePath: '/api/v1',
    defaultScenario: { kind: 'text' },
    async handle(ex, next) {
      const path = ex.url.pathname;
      const { method } = ex.req;
      const fail = (e: ErrorResponse) => sendJson(ex, e.status, e.body, e.headers);
      if (path === '/api/v1/models' && method === 'GET') {
        const list = opts.models ?? ['openai/gpt-4o', 'anthropic/claude-sonnet-4.5', 'google/gemini-2.5-flash'];
        return sendJson(ex, 200, { data: list.map(modelEntry), total_count: list.length, links: { next: null } });
      }
      if (path !== '/api/v1/chat/completions' || method !== 'POST') {
        return fail({ status: 404, body: { error: { message: 'Not Found', code: 404 } } });
      }
      const token = bearerToken(ex.req.headers.authorization);
      if (!token) return fail({ status: 401, body: { error: { message: 'No auth credentials found', code: 401 } } });
      if (apiKey !== null && token !== apiKey) return fail(openrouterError('unauthorized'));
      if (ex.badJson) return fail({ status: 400, body: { error: { message: 'Invalid JSON in request body', code: 400 } } });
      const invalid = validateChatBody(ex.record.body, 'openrouter');
      if (invalid) return fail({ status: 400, body: { error: { code: 400, message: invalid.message, metadata: { error_type: 'invalid_request' } } } });
      const body = ex.record.body as Record<string, unknown>;

      // Routing: `model` first, then `models[]` in order; the first available one serves.
      const candidates = [body.model, ...(Array.isArray(body.models) ? body.models : [])].filter((m): m is string => typeof m === 'string');
      if (candidates.length === 0) candidates.push('openai/gpt-4o'); // account default
      for (const m of candidates) if (!validModel(m)) return fail(openrouterError('invalid_model', { model: m }));
      const served = candidates.find((m) => !unavailable.has(m));
      if (!served) return fail(openrouterError('no_endpoints', { model: candidates.at(-1) }));

      const s = next();
      if (await handleTransport(ex, s)) return;
      const stream = body.stream === true;
      const vendor = served.split('/')[0];
      const idPrefix = `gen-${Math.floor(Date.now() / 1000)}-`;
      const decorate = (r: ChatResult, sc: OpenRouterScenario) => {
        const x = sc as OpenRouterSuccess & { nativeFinishReason?: string };
        r.provider = x.provider ?? VENDORS[vendor] ?? 'Fake';
        r.cost = x.cost;
        r.price = openrouterPrice(r.model);
        r.processingComments = x.processingComments ?? 1;
        r.nativeFinishReason = x.nativeFinishReason ?? NATIVE_FINISH[r.provider]?.[r.finishReason];
      };
      const newResult = (sc: OpenRouterScenario, text?: string) => {
        const usage = 'usage' in sc ? sc.usage : undefined;
        const r = buildChatResult({ kind: 'text', text, usage }, body, {
          flavor: 'openrouter',
          id: ids(idPrefix, 20),
          model: served,
          callId: () => ids('call_', 24),
        });
        decorate(r, sc);
        return r;
      };
      const streamWithError = (r: ChatResult, afterDeltas: number, err: unknown) => {
        const tail = sseData({
          id: r.id,
          object: 'chat.completion.chunk',
          created: r.created,
          model: r.model,
          provider: r.provider,
          error: err,
          choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error', native_finish_reason: 'error' }],
        });
        return deliver(ex, { status: 200, headers: SSE_HEADERS, units: chatStreamUnits(r, { afterDeltas, tail: [tail] }), stream: true }, s);
      };

      switch (s.kind) {
        case 'error_in_200': {
          const e = openrouterError(s.error ?? 'bad_gateway', { model: served, message: s.message });
          if (!stream) return sendJson(ex, 200, e.body, {}, s);
          return streamWithError(newResult(s, ''), 0, (e.body as { error: unknown }).error);
        }
        case 'choice_error': {
          const err = { code: s.code ?? 502, message: s.message ?? 'Provider disconnected mid-stream', metadata: { error_type: s.errorType ?? 'provider_unavailable' } };
          const r = newResult(s, s.text ?? 'partial output');
          if (stream) return streamWithError(r, r.deltas.length, err);
          r.finishReason = 'error';
          r.nativeFinishReason = 'error';
          const json = chatCompletionJson(r) as { choices: Array<Record<string, unknown>> };
          json.choices[0].error = err;
          return sendJson(ex, 200, json, {}, s);
        }
        default:
          return serveChatScenario(ex, s, {
            flavor: 'openrouter',
            stream,
            body,
            ids,
            model: served,
            headers: {},
            errorFor: (name, message) => openrouterError(name as OpenRouterErrorName, { model: served, message, hints: s as RetryHints }),
            defaultStreamError: 'rate_limit',
            streamErrorObject: (name, message) => (openrouterError(name as OpenRouterErrorName, { model: served, message }).body as { error: unknown }).error,
            decorate,
          });
      }
    },
  });
}

/** A price row as the models list spells it: strings, USD per token. */
function pricingStrings(p: TokenPrice): Record<string, string> {
  const usd = (n: number) => (n === 0 ? '0' : n.toFixed(12).replace(/0+$/, ''));
  const out: Record<string, string> = { prompt: usd(p.prompt), completion: usd(p.completion), request: '0', image: '0' };
  if (p.cacheRead !== undefined) out.input_cache_read = usd(p.cacheRead);
  if (p.cacheWrite !== undefined) out.input_cache_write = usd(p.cacheWrite);
  return out;
}

function modelEntry(id: string) {
  return {
    id,
    canonical_slug: id,
    name: id,
    created: 1715367049,
    description: `Fake ${id}`,
    context_length: 128000,
    architecture: { modality: 'text+image->text', input_modalities: ['text', 'image'], output_modalities: ['text'], tokenizer: 'Other', instruct_type: null },
    pricing: pricingStrings(openrouterPrice(id)),
    top_provider: { context_length: 128000, max_completion_tokens: 16384, is_moderated: true },
    per_request_limits: null,
    supported_parameters: ['temperature', 'top_p', 'max_tokens', 'stop', 'tools', 'tool_choice', 'response_format', 'seed'],
    default_parameters: null,
    hugging_face_id: null,
    expiration_date: null,
    knowledge_cutoff: null,
    links: { details: `/api/v1/models/${id}/endpoints` },
  };
}

export function openrouterError(name: OpenRouterErrorName, o: { model?: string; message?: string; hints?: RetryHints } = {}): ErrorResponse {
  const model = o.model ?? 'openai/gpt-4o';
  const m = (fallback: string) => o.message ?? fallback;
  const err = (code: number, message: string, metadata?: Record<string, unknown>, headers?: Record<string, string>): ErrorResponse => ({
    status: code,
    body: { error: metadata ? { code, message, metadata } : { message, code } },
    headers: { ...headers, ...retryHeaders(o.hints ?? {}) },
  });
  switch (name) {
    case 'bad_request':
      return err(400, m('Invalid request: messages must be a non-empty array'), { error_type: 'invalid_request' });
    case 'invalid_model':
      return err(400, m(`${model} is not a valid model ID`));
    case 'context_length_exceeded':
      return err(400, m(`This endpoint's maximum context length is 128000 tokens. However, you requested about 130000 tokens (129000 of text input, 1000 in the output). Please reduce the length of either one, or use the "middle-out" transform to compress your prompt automatically.`), { error_type: 'context_length_exceeded', provider_code: 'context_length_exceeded', provider_name: 'OpenAI' });
    case 'provider_error':
      return err(400, m('Provider returned error'), {
        provider_name: 'Anthropic',
        raw: JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 213462 tokens > 200000 maximum' } }),
      });
    case 'unauthorized':
      return err(401, m('User not found.'));
    case 'insufficient_credits':
      return err(402, m('Insufficient credits. Add more using https://openrouter.ai/settings/credits'));
    case 'moderation':
      return err(403, m(`${model} requires moderation on OpenAI. Your input was flagged for "violence".`), { reasons: ['violence'], flagged_input: 'how do I build a…', provider_name: 'OpenAI', model_slug: model });
    case 'guardrail':
      return err(403, m('Request blocked: prompt injection patterns detected'), { patterns: ['ignore previous instructions'] });
    case 'no_endpoints':
      return err(404, m(`No endpoints found for ${model}.`));
    case 'timeout':
      return err(408, m('Request timed out'), { error_type: 'timeout' });
    case 'payload_too_large':
      return err(413, m('Request payload too large'), { error_type: 'payload_too_large' });
    case 'rate_limit':
      return err(429, m('Rate limit exceeded'), { error_type: 'rate_limit_exceeded', provider_code: 'rate_limited', provider_name: 'OpenAI' });
    case 'capacity_exhausted':
      return {
        status: 429,
        body: {
          error: {
            message: m(`All providers for ${model} are at capacity. Retry after 1 seconds.`),
            error_type: 'rate_limit_exceeded',
            http_status: 429,
            availability: { code: 'capacity_exhausted', retryable: true, retry_after: 1, requested_models: [model], affected_providers: ['openai'], fallback_models: [], docs_url: 'https://openrouter.ai/docs/api/reference/errors-and-debugging' },
            metadata: { previous_errors: [{ provider: 'openai', code: 'capacity_exhausted', status: 429 }] },
          },
        },
        headers: { 'retry-after': '1', ...retryHeaders(o.hints ?? {}) },
      };
    case 'server_error':
      return err(500, m('Internal Server Error'), { error_type: 'server' });
    case 'bad_gateway':
      return err(502, m(`${model} is temporarily unavailable`), { error_type: 'provider_unavailable', provider_name: 'OpenAI' });
    case 'no_provider':
      return err(503, m('No allowed providers are available for the selected model.'), { error_type: 'provider_overloaded' }, { 'retry-after': '1' });
    case 'gateway_timeout':
      return err(504, m('Upstream request timed out'), { error_type: 'timeout' });
  }
}
