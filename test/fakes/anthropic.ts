// Fake Anthropic Messages server (POST /v1/messages, GET /v1/models): request checks like the real API,
// named-event SSE with ping / input_json_delta / cumulative message_delta usage, and Anthropic error bodies.
import {
  countWords,
  deliver,
  echoText,
  fragment,
  handleTransport,
  idMaker,
  headerValue,
  isRecord,
  parseObject,
  resolveUsage,
  retryHeaders,
  sendJson,
  splitDeltas,
  SSE_HEADERS,
  sseEvent,
  startFake,
} from './common.ts';
import type { Delivery, FakeOptions, FakeServer, RetryHints, ToolCallSpec, TransportScenario, Usage, UsageSpec } from './common.ts';

export type AnthropicStopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'pause_turn' | 'refusal' | 'model_context_window_exceeded';

/** Anthropic errors (wire-formats §3.5, §7). */
export type AnthropicErrorName =
  | 'invalid_request' // 400 invalid_request_error
  | 'context_length_exceeded' // 400 "prompt is too long: … tokens > … maximum"
  | 'output_blocked' // 400 "Output blocked by content filtering policy" (content policy)
  | 'credit_balance_too_low' // 400 invalid_request_error (quota, not retryable)
  | 'authentication_error' // 401 "invalid x-api-key"
  | 'billing_error' // 402
  | 'permission_error' // 403
  | 'not_found_error' // 404 "model: …"
  | 'conflict_error' // 409
  | 'request_too_large' // 413
  | 'rate_limit_error' // 429 + retry-after
  | 'spend_limit' // 429 rate_limit_error with details.error_code enforced_spend_limit_reached, NO retry-after
  | 'api_error' // 500
  | 'timeout_error' // 504
  | 'overloaded_error'; // 529

interface AnthropicSuccess {
  usage?: UsageSpec;
  /** Model reported in the response (default: the requested model). */
  model?: string;
  /** Emit a thinking block (with signature) before the answer. */
  thinking?: string;
}

export type AnthropicScenario = (
  /** Text reply; default echo of the last user message (as `{"echo": …}` when output_config.format asks for JSON).
   *  `stopSequence` defaults to the first of the request's stop_sequences. */
  | ({ kind: 'text'; text?: string | string[]; stopReason?: AnthropicStopReason; stopSequence?: string } & AnthropicSuccess)
  /** tool_use blocks (several = parallel), optionally after a text block; stop_reason tool_use. */
  | ({ kind: 'tool_calls'; calls?: ToolCallSpec[]; text?: string } & AnthropicSuccess)
  | ({ kind: 'json'; value?: unknown } & AnthropicSuccess)
  /** 200 with stop_reason "refusal" and stop_details; `text` = partial output before the refusal (default none). */
  | ({ kind: 'refusal'; text?: string; category?: string | null; explanation?: string | null } & AnthropicSuccess)
  | ({ kind: 'error'; error: AnthropicErrorName; message?: string } & RetryHints)
  /** 200 stream, then `event: error` after `afterDeltas` text deltas (default 1; 0 = right after message_start).
   *  Default error overloaded_error. Non-streaming requests get the HTTP error instead. */
  | { kind: 'stream_error'; text?: string; afterDeltas?: number; error?: AnthropicErrorName; message?: string }
  | { kind: 'malformed' }
  | TransportScenario
) &
  Delivery;

/** Key in `x-api-key` (or `Authorization: Bearer`), default `test-key-anthropic`; unknown models get 404 not_found_error. */
export type FakeAnthropicOptions = FakeOptions;

export type FakeAnthropic = FakeServer<AnthropicScenario>;

export const ANTHROPIC_TEST_KEY = 'test-key-anthropic';

const DEFAULT_MODELS = [
  { id: 'claude-opus-4-8', display_name: 'Claude Opus 4.8', created_at: '2026-06-01T00:00:00Z' },
  { id: 'claude-sonnet-4-6', display_name: 'Claude Sonnet 4.6', created_at: '2026-02-17T00:00:00Z' },
  { id: 'claude-haiku-4-5-20251001', display_name: 'Claude Haiku 4.5', created_at: '2025-10-01T00:00:00Z' },
];

/** Body params of MessageCreateParams in the installed @anthropic-ai/sdk (0.137), plus the beta-only ones. */
const TOP_LEVEL = new Set([
  'model', 'messages', 'max_tokens', 'system', 'temperature', 'top_p', 'top_k', 'stop_sequences', 'stream', 'tools',
  'tool_choice', 'metadata', 'thinking', 'service_tier', 'output_config', 'speed', 'cache_control', 'diagnostics',
  'container', 'inference_geo', 'output_format', 'mcp_servers', 'context_management',
]);

// What each model accepts: the fake's own reading of Anthropic's model and thinking pages (2026),
// deliberately not the gateway's table.
/** Released after Claude Opus 4.6: adaptive thinking only; temperature, top_p and top_k deprecated (400). */
const AFTER_OPUS_4_6 = /^claude-(opus-4-[7-9]|mythos|fable|(haiku|sonnet|opus)-5)/;
/** Adaptive thinking: Claude 4.6 and later. */
const ADAPTIVE = (m: string) => AFTER_OPUS_4_6.test(m) || /^claude-(opus|sonnet)-4-6/.test(m);
/** output_config.effort: adaptive models and Claude Opus 4.5. */
const EFFORT = (m: string) => ADAPTIVE(m) || /^claude-opus-4-5/.test(m);
/** output_config.format (structured outputs): Claude Opus 4.1, the 4.5 models and later. */
const STRUCTURED = (m: string) => EFFORT(m) || /^claude-(opus-4-1|(haiku|sonnet)-4-5)/.test(m);
const EFFORTS = ['low', 'medium', 'high', 'xhigh', 'max'];
const THINKING_DOCS = 'Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#important-considerations-when-using-extended-thinking';
const BLOCK_TYPES = new Set([
  'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'search_result',
  'server_tool_use', 'web_search_tool_result', 'container_upload',
]);
const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

export async function startFakeAnthropic(opts: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const apiKey = opts.apiKey === undefined ? ANTHROPIC_TEST_KEY : opts.apiKey;
  const ids = idMaker();
  const models = opts.models ? opts.models.map((id) => ({ id, display_name: id, created_at: '2025-01-01T00:00:00Z' })) : DEFAULT_MODELS;
  const knownModel = (m: string) => (opts.models ? opts.models.includes(m) : m.startsWith('claude-'));

  return startFake<AnthropicScenario>({
    basePath: '',
    defaultScenario: { kind: 'text' },
    async handle(ex, next) {
      const requestId = ids('req_011C', 18);
      const base = { 'request-id': requestId, 'anthropic-organization-id': '00000000-0000-4000-8000-00000000fa4e', ...anthropicRateLimitHeaders() };
      const fail = (type: string, message: string, status: number, headers: Record<string, string> = {}) =>
        sendJson(ex, status, { type: 'error', error: { type, message }, request_id: requestId }, { ...base, ...headers });
      const { method } = ex.req;
      const path = ex.url.pathname;
      const isMessages = path === '/v1/messages' && method === 'POST';
      const isModels = (path === '/v1/models' || path.startsWith('/v1/models/')) && method === 'GET';
      if (!isMessages && !isModels) return fail('not_found_error', 'Not Found', 404);

      const key = headerValue(ex.req.headers['x-api-key']) ?? /^Bearer\s+(.+)$/i.exec(ex.req.headers.authorization ?? '')?.[1];
      if (!key) return fail('authentication_error', 'x-api-key header is required', 401);
      if (apiKey !== null && key !== apiKey) return fail('authentication_error', 'invalid x-api-key', 401);
      const version = headerValue(ex.req.headers['anthropic-version']);
      if (!version) return fail('invalid_request_error', 'anthropic-version: header is required', 400);
      if (version !== '2023-06-01' && version !== '2023-01-01') return fail('invalid_request_error', `anthropic-version: invalid version '${version}'`, 400);

      if (isModels) {
        if (path === '/v1/models') {
          const limit = Number(ex.url.searchParams.get('limit') ?? 20);
          const after = ex.url.searchParams.get('after_id');
          const start = after ? models.findIndex((m) => m.id === after) + 1 : 0;
          const page = models.slice(start, start + limit).map(modelEntry);
          return sendJson(ex, 200, { data: page, has_more: start + limit < models.length, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null }, base);
        }
        const id = decodeURIComponent(path.slice('/v1/models/'.length));
        const m = models.find((x) => x.id === id);
        return m ? sendJson(ex, 200, modelEntry(m), base) : fail('not_found_error', `model: ${id}`, 404);
      }

      if (ex.badJson) return fail('invalid_request_error', 'There was an error parsing the body of your request. Please make sure it is valid JSON.', 400);
      const invalid = validateMessagesBody(ex.record.body);
      if (invalid) return fail('invalid_request_error', invalid, 400);
      const body = ex.record.body as Record<string, unknown>;
      if (!knownModel(String(body.model))) return fail('not_found_error', `model: ${String(body.model)}`, 404);

      const s = next();
      if (await handleTransport(ex, s)) return;
      const stream = body.stream === true;
      const errorOut = (name: AnthropicErrorName, message: string | undefined, hints: RetryHints) => {
        const e = anthropicError(name, message);
        const headers = { ...e.headers, ...retryHeaders(hints) };
        return sendJson(ex, e.status, { type: 'error', error: e.error, request_id: requestId }, { ...base, ...headers }, s);
      };
      switch (s.kind) {
        case 'error':
          return errorOut(s.error, s.message, s);
        case 'stream_error': {
          const name = s.error ?? 'overloaded_error';
          if (!stream) return errorOut(name, s.message, {});
          const msg = buildMessage({ kind: 'text', text: s.text }, body, ids);
          const e = anthropicError(name, s.message).error;
          const tail = `event: error\ndata: {"type": "error", "error": {"type": "${e.type}", "message": ${JSON.stringify(e.message)}}}\n\n`;
          return deliver(ex, { status: 200, headers: { ...base, ...SSE_HEADERS }, units: messageEvents(msg, { afterDeltas: s.afterDeltas ?? 1, tail }), stream: true }, s);
        }
        case 'malformed': {
          if (!stream) return sendJson(ex, 200, '{"id":"msg_broken","type":"message","role":"assistant","content":[{"type":"text","text":"Hel', base, s);
          const msg = buildMessage({ kind: 'text' }, body, ids);
          const tail = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_del\n\n';
          return deliver(ex, { status: 200, headers: { ...base, ...SSE_HEADERS }, units: messageEvents(msg, { afterDeltas: 1, tail }), stream: true }, s);
        }
        case 'text':
        case 'tool_calls':
        case 'json':
        case 'refusal': {
          const msg = buildMessage(s, body, ids);
          if (!stream) return sendJson(ex, 200, messageJson(msg), base, s);
          return deliver(ex, { status: 200, headers: { ...base, ...SSE_HEADERS }, units: messageEvents(msg), stream: true }, s);
        }
        default:
          throw new Error(`scenario kind ${s.kind} was not handled by the anthropic fake`);
      }
    },
  });
}

function modelEntry(m: { id: string; display_name: string; created_at: string }) {
  return { type: 'model', id: m.id, display_name: m.display_name, created_at: m.created_at, max_input_tokens: 200000, max_tokens: 64000, capabilities: null };
}

/** Rate-limit headers on every response; resets are RFC 3339 timestamps. */
function anthropicRateLimitHeaders(): Record<string, string> {
  const reset = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const out: Record<string, string> = {};
  for (const [k, limit] of [['requests', 4000], ['tokens', 2000000], ['input-tokens', 2000000], ['output-tokens', 400000]] as const) {
    out[`anthropic-ratelimit-${k}-limit`] = String(limit);
    out[`anthropic-ratelimit-${k}-remaining`] = String(limit - 1);
    out[`anthropic-ratelimit-${k}-reset`] = reset;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Errors

export function anthropicError(name: AnthropicErrorName, message?: string): { status: number; error: Record<string, unknown>; headers?: Record<string, string> } {
  const e = (status: number, type: string, fallback: string, headers?: Record<string, string>) => ({ status, error: { type, message: message ?? fallback }, headers });
  switch (name) {
    case 'invalid_request':
      return e(400, 'invalid_request_error', 'messages: at least one message is required');
    case 'context_length_exceeded':
      return e(400, 'invalid_request_error', 'prompt is too long: 213462 tokens > 200000 maximum');
    case 'output_blocked':
      return e(400, 'invalid_request_error', 'Output blocked by content filtering policy');
    case 'credit_balance_too_low':
      return e(400, 'invalid_request_error', 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.');
    case 'authentication_error':
      return e(401, 'authentication_error', 'invalid x-api-key');
    case 'billing_error':
      return e(402, 'billing_error', 'There is an issue with your payment method. Please update your billing information.');
    case 'permission_error':
      return e(403, 'permission_error', 'Your API key does not have permission to use the specified resource.');
    case 'not_found_error':
      return e(404, 'not_found_error', 'model: claude-unknown');
    case 'conflict_error':
      return e(409, 'conflict_error', 'The request conflicts with the current state of the resource.');
    case 'request_too_large':
      return e(413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.');
    case 'rate_limit_error':
      return e(429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit (https://docs.anthropic.com/en/api/rate-limits); see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.', { 'retry-after': '1', 'anthropic-ratelimit-tokens-remaining': '0', 'anthropic-ratelimit-input-tokens-remaining': '0' });
    case 'spend_limit':
      return {
        status: 429,
        error: { type: 'rate_limit_error', message: message ?? 'You have reached your specified API usage limits. You will regain access on 2099-01-01 at 00:00 UTC.', details: { error_code: 'enforced_spend_limit_reached' } },
      };
    case 'api_error':
      return e(500, 'api_error', 'Internal server error');
    case 'timeout_error':
      return e(504, 'timeout_error', 'Request timed out');
    case 'overloaded_error':
      return e(529, 'overloaded_error', 'Overloaded', { 'retry-after': '1' });
  }
}

// ---------------------------------------------------------------------------------------------
// Request checks

/** Validate a Messages body like the real API; returns the error message or null. */
export function validateMessagesBody(body: unknown): string | null {
  if (!isRecord(body)) return 'body: Input should be a valid dictionary';
  for (const k of Object.keys(body)) if (!TOP_LEVEL.has(k)) return `${k}: Extra inputs are not permitted`;
  if (body.model === undefined) return 'model: Field required';
  if (body.messages === undefined) return 'messages: Field required';
  if (body.max_tokens === undefined) return 'max_tokens: Field required';
  if (typeof body.model !== 'string') return 'model: Input should be a valid string';
  if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 0) return 'max_tokens: Input should be a valid integer';
  if (body.temperature !== undefined && (typeof body.temperature !== 'number' || body.temperature < 0 || body.temperature > 1)) {
    return 'temperature: Input should be less than or equal to 1';
  }
  if (body.temperature !== undefined && body.top_p !== undefined && /claude-(haiku|sonnet|opus)-4-[56]/.test(body.model)) {
    return '`temperature` and `top_p` cannot both be specified for this model. Please use only one.';
  }
  const modelProblem = validateForModel(body, body.model);
  if (modelProblem) return modelProblem;
  if (body.metadata !== undefined) {
    if (!isRecord(body.metadata)) return 'metadata: Input should be a valid dictionary';
    for (const k of Object.keys(body.metadata)) if (k !== 'user_id') return `metadata.${k}: Extra inputs are not permitted`;
  }
  if (body.system !== undefined && typeof body.system !== 'string') {
    if (!Array.isArray(body.system)) return 'system: Input should be a valid list';
    for (let i = 0; i < body.system.length; i++) {
      const b = body.system[i] as unknown;
      if (!isRecord(b) || b.type !== 'text' || typeof b.text !== 'string') return `system.${i}: Input should be a valid dictionary or instance of TextBlockParam`;
      const cc = checkCacheControl(b.cache_control, `system.${i}.cache_control`);
      if (cc) return cc;
    }
  }
  const breakpoints = cacheBreakpoints(body).length;
  if (breakpoints > 4) return `A maximum of 4 blocks with cache_control may be provided. Found ${breakpoints}.`;
  if (body.stop_sequences !== undefined && !Array.isArray(body.stop_sequences)) return 'stop_sequences: Input should be a valid list';
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return 'tools: Input should be a valid list';
    for (let i = 0; i < body.tools.length; i++) {
      const t = body.tools[i] as unknown;
      if (!isRecord(t) || typeof t.name !== 'string') return `tools.${i}.name: Field required`;
      if (t.type === undefined && !isRecord(t.input_schema)) return `tools.${i}.custom.input_schema: Field required`;
      if (!/^[a-zA-Z0-9_-]{1,128}$/.test(t.name)) return `tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`;
      if (t.strict !== undefined && typeof t.strict !== 'boolean') return `tools.${i}.custom.strict: Input should be a valid boolean`;
    }
  }
  if (!Array.isArray(body.messages)) return 'messages: Input should be a valid list';
  const msgs = body.messages as unknown[];
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (!isRecord(m)) return `messages.${i}: Input should be a valid dictionary`;
    if (m.role === 'system') {
      return 'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.';
    }
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    const isFinalAssistant = i === msgs.length - 1 && m.role === 'assistant';
    if (typeof m.content === 'string') {
      if (m.content === '' && !isFinalAssistant) return 'messages: text content blocks must be non-empty';
      continue;
    }
    if (!Array.isArray(m.content)) return `messages.${i}.content: Input should be a valid string or list`;
    if (m.content.length === 0 && !isFinalAssistant) return `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
    for (let j = 0; j < m.content.length; j++) {
      const bad = validateBlock(m.content[j], `messages.${i}.content.${j}`, m.role);
      if (bad) return bad;
    }
  }
  // Tool pairing: every tool_use needs a tool_result at the start of the very next (user) message, and every
  // tool_result must answer a tool_use of the previous message.
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i] as Record<string, unknown>;
    const blocks = Array.isArray(m.content) ? (m.content as Record<string, unknown>[]) : [];
    if (m.role === 'assistant') {
      const useIds = blocks.filter((b) => b.type === 'tool_use').map((b) => String(b.id));
      if (useIds.length === 0) continue;
      const nextMsg = msgs[i + 1] as Record<string, unknown> | undefined;
      if (!nextMsg) continue; // the model's own pending turn: the caller has not answered yet (prefill not allowed, but OK to end here)
      const nextBlocks = nextMsg.role === 'user' && Array.isArray(nextMsg.content) ? (nextMsg.content as Record<string, unknown>[]) : [];
      const leading: string[] = [];
      for (const b of nextBlocks) {
        if (b.type !== 'tool_result') break;
        leading.push(String(b.tool_use_id));
      }
      const missing = useIds.filter((id) => !leading.includes(id));
      if (missing.length) {
        return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
      }
    }
    if (m.role === 'user') {
      const prev = msgs[i - 1] as Record<string, unknown> | undefined;
      const prevIds = prev && Array.isArray(prev.content) ? (prev.content as Record<string, unknown>[]).filter((b) => b.type === 'tool_use').map((b) => String(b.id)) : [];
      for (let j = 0; j < blocks.length; j++) {
        const b = blocks[j];
        if (b.type === 'tool_result' && !prevIds.includes(String(b.tool_use_id))) {
          return `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(b.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
        }
      }
    }
  }
  return null;
}

/** Checks that depend on the model: thinking forms, sampling parameters, output_config. */
function validateForModel(body: Record<string, unknown>, model: string): string | null {
  const thinking = body.thinking;
  let thinkingOn = false;
  if (thinking !== undefined) {
    if (!isRecord(thinking)) return 'thinking: Input should be a valid dictionary';
    switch (thinking.type) {
      case 'enabled': {
        if (AFTER_OPUS_4_6.test(model)) return '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.';
        const budget = thinking.budget_tokens;
        if (!Number.isInteger(budget)) return 'thinking.enabled.budget_tokens: Field required';
        if ((budget as number) < 1024) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
        if ((budget as number) >= (body.max_tokens as number)) return '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size';
        thinkingOn = true;
        break;
      }
      case 'adaptive':
        if (!ADAPTIVE(model)) return '"thinking.type.adaptive" is not supported for this model. Use "thinking.type.enabled" with "thinking.budget_tokens" instead.';
        thinkingOn = true;
        break;
      case 'disabled':
        break;
      default:
        return `thinking: Input tag '${String(thinking.type)}' found using 'type' does not match any of the expected tags: 'adaptive', 'disabled', 'enabled'`;
    }
  }
  if (AFTER_OPUS_4_6.test(model)) {
    if (body.temperature !== undefined && body.temperature !== 1) return '`temperature` is deprecated for this model.';
    if (body.top_p !== undefined && (body.top_p as number) < 0.99) return '`top_p` is deprecated for this model.';
    if (body.top_k !== undefined) return '`top_k` is deprecated for this model.';
  }
  if (thinkingOn) {
    if (body.temperature !== undefined && body.temperature !== 1) return `\`temperature\` may only be set to 1 when thinking is enabled. ${THINKING_DOCS}`;
    if (body.top_p !== undefined && (body.top_p as number) < 0.95) return `\`top_p\` must be greater than or equal to 0.95 or unset when thinking is enabled. ${THINKING_DOCS}`;
    if (body.top_k !== undefined) return `\`top_k\` must be unset when thinking is enabled. ${THINKING_DOCS}`;
    const tc = body.tool_choice;
    if (isRecord(tc) && (tc.type === 'any' || tc.type === 'tool')) return 'Thinking may not be enabled when tool_choice forces tool use.';
  }
  const oc = body.output_config;
  if (oc !== undefined) {
    if (!isRecord(oc)) return 'output_config: Input should be a valid dictionary';
    for (const k of Object.keys(oc)) if (k !== 'effort' && k !== 'format') return `output_config.${k}: Extra inputs are not permitted`;
    if (oc.effort != null) {
      if (!EFFORTS.includes(String(oc.effort))) return "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'";
      if (!EFFORT(model)) return 'output_config.effort: effort is not supported for this model.';
    }
    if (oc.format != null) {
      if (!isRecord(oc.format) || oc.format.type !== 'json_schema' || !isRecord(oc.format.schema)) return 'output_config.format.json_schema.schema: Field required';
      if (!STRUCTURED(model)) return `'${model}' does not support output format.`;
    }
  }
  if (body.speed != null && body.speed !== 'standard' && body.speed !== 'fast') return "speed: Input should be 'standard' or 'fast'";
  return body.cache_control === undefined ? null : checkCacheControl(body.cache_control, 'cache_control');
}

function checkCacheControl(cc: unknown, where: string): string | null {
  if (cc === undefined || cc === null) return null;
  if (!isRecord(cc) || cc.type !== 'ephemeral') return `${where}.type: Input should be 'ephemeral'`;
  for (const k of Object.keys(cc)) if (k !== 'type' && k !== 'ttl') return `${where}.${k}: Extra inputs are not permitted`;
  if (cc.ttl !== undefined && cc.ttl !== '5m' && cc.ttl !== '1h') return `${where}.ttl: Input should be '5m' or '1h'`;
  return null;
}

/** Every cache_control in the request (top level, system, tools, message blocks), in order. */
function cacheBreakpoints(body: Record<string, unknown>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const visit = (b: unknown) => {
    if (!isRecord(b)) return;
    if (isRecord(b.cache_control)) out.push(b.cache_control);
    if (b.type === 'tool_result' && Array.isArray(b.content)) b.content.forEach(visit);
  };
  if (isRecord(body.cache_control)) out.push(body.cache_control);
  if (Array.isArray(body.tools)) body.tools.forEach(visit);
  if (Array.isArray(body.system)) body.system.forEach(visit);
  if (Array.isArray(body.messages)) for (const m of body.messages) if (isRecord(m) && Array.isArray(m.content)) m.content.forEach(visit);
  return out;
}

function validateBlock(b: unknown, where: string, role: unknown): string | null {
  if (!isRecord(b) || typeof b.type !== 'string') return `${where}: Input should be a valid dictionary`;
  const cc = checkCacheControl(b.cache_control, `${where}.${b.type}.cache_control`);
  if (cc) return cc;
  if (!BLOCK_TYPES.has(b.type)) {
    return `${where}: Input tag '${b.type}' found using 'type' does not match any of the expected tags: 'text', 'image', 'document', 'search_result', 'thinking', 'redacted_thinking', 'tool_use', 'tool_result', 'server_tool_use', 'web_search_tool_result'`;
  }
  switch (b.type) {
    case 'text':
      if (typeof b.text !== 'string') return `${where}.text.text: Field required`;
      if (b.text === '') return 'messages: text content blocks must be non-empty';
      return null;
    case 'image': {
      const src = b.source;
      if (!isRecord(src)) return `${where}.image.source: Field required`;
      if (src.type === 'base64') {
        if (typeof src.media_type !== 'string' || !IMAGE_TYPES.includes(src.media_type)) {
          return `${where}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`;
        }
        if (typeof src.data !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(src.data)) return `${where}.image.source.base64.data: Invalid base64 data`;
        const actual = sniffImage(src.data);
        if (actual && actual !== src.media_type) {
          return `${where}.image.source.base64: The image was specified using the ${src.media_type} media type, but the image appears to be a ${actual} image`;
        }
        return null;
      }
      if (src.type === 'url') return typeof src.url === 'string' && /^https?:\/\//.test(src.url) ? null : `${where}.image.source.url.url: Field required`;
      if (src.type === 'file') return typeof src.file_id === 'string' ? null : `${where}.image.source.file.file_id: Field required`;
      return `${where}.image.source: Input tag '${String(src.type)}' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'`;
    }
    case 'document': {
      // DocumentBlockParam: base64 PDF, plain text, content blocks, a URL or a file id; title and context nullable strings.
      const src = b.source;
      if (!isRecord(src)) return `${where}.document.source: Field required`;
      if (b.title !== undefined && b.title !== null && typeof b.title !== 'string') return `${where}.document.title: Input should be a valid string`;
      if (src.type === 'base64') {
        if (src.media_type !== 'application/pdf') return `${where}.document.source.base64.media_type: Input should be 'application/pdf'`;
        if (typeof src.data !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(src.data)) return `${where}.document.source.base64.data: Invalid base64 data`;
        if (!Buffer.from(src.data, 'base64').subarray(0, 5).equals(Buffer.from('%PDF-'))) return `${where}.document.source.base64: The PDF specified was not valid.`;
        return null;
      }
      if (src.type === 'text') {
        if (src.media_type !== 'text/plain') return `${where}.document.source.text.media_type: Input should be 'text/plain'`;
        return typeof src.data === 'string' ? null : `${where}.document.source.text.data: Field required`;
      }
      if (src.type === 'url') return typeof src.url === 'string' ? null : `${where}.document.source.url.url: Field required`;
      if (src.type === 'content' || src.type === 'file') return null;
      return `${where}.document.source: Input tag '${String(src.type)}' found using 'type' does not match any of the expected tags: 'base64', 'text', 'content', 'url', 'file'`;
    }
    case 'tool_use':
      if (role !== 'assistant') return `${where}: tool_use blocks can only appear in assistant messages`;
      if (typeof b.id !== 'string' || typeof b.name !== 'string') return `${where}.tool_use.id: Field required`;
      if (!isRecord(b.input)) return `${where}.tool_use.input: Input should be a valid dictionary`;
      return null;
    case 'tool_result':
      if (role !== 'user') return `${where}: tool_result blocks can only appear in user messages`;
      if (typeof b.tool_use_id !== 'string') return `${where}.tool_result.tool_use_id: Field required`;
      return null;
    default:
      return null;
  }
}

function sniffImage(b64: string): string | undefined {
  if (b64.startsWith('iVBORw0KGgo')) return 'image/png';
  if (b64.startsWith('/9j/')) return 'image/jpeg';
  if (b64.startsWith('R0lGOD')) return 'image/gif';
  if (b64.startsWith('UklGR')) return 'image/webp';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Response builder

type Block =
  | { type: 'text'; text: string; deltas: string[] }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown>; json: string };

interface BuiltMessage {
  id: string;
  model: string;
  blocks: Block[];
  stopReason: AnthropicStopReason;
  stopSequence: string | null;
  stopDetails?: { type: 'refusal'; category: string | null; explanation: string | null };
  usage: Usage;
}

function blockText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((b: unknown) => (isRecord(b) ? (b.type === 'text' ? String(b.text) : b.type === 'tool_result' ? blockText(b.content) : '') : ''))
    .filter(Boolean)
    .join(' ');
}

type SuccessScenario = Extract<AnthropicScenario, { kind: 'text' | 'tool_calls' | 'json' | 'refusal' }>;

function buildMessage(s: SuccessScenario, body: Record<string, unknown>, ids: (p: string, w?: number) => string): BuiltMessage {
  const msgs = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : [];
  const lastUser = [...msgs].reverse().find((m) => m.role === 'user');
  const last = lastUser ? blockText(lastUser.content) : '';
  const oc = isRecord(body.output_config) ? body.output_config : {};
  const jsonMode = (isRecord(oc.format) && oc.format.type === 'json_schema') || isRecord(body.output_format);
  const blocks: Block[] = [];
  const thinking = s.thinking;
  if (thinking) blocks.push({ type: 'thinking', thinking, signature: 'EqQBCkYIARgCKkA' + Buffer.from(thinking).toString('base64').slice(0, 24) });
  const addText = (t: string | string[]) => {
    const deltas = Array.isArray(t) ? t : splitDeltas(t);
    if (deltas.length) blocks.push({ type: 'text', text: deltas.join(''), deltas });
  };
  let stopReason: AnthropicStopReason = 'end_turn';
  let stopSequence: string | null = null;
  let stopDetails: BuiltMessage['stopDetails'];
  switch (s.kind) {
    case 'text':
      addText(s.text ?? (jsonMode ? JSON.stringify({ echo: last }) : echoText(last)));
      stopReason = s.stopReason ?? 'end_turn';
      if (stopReason === 'stop_sequence') stopSequence = s.stopSequence ?? (Array.isArray(body.stop_sequences) ? String(body.stop_sequences[0]) : 'END');
      break;
    case 'json':
      addText(fragment(JSON.stringify(s.value ?? { echo: last }), 4));
      break;
    case 'refusal':
      if (s.text) addText(s.text);
      stopReason = 'refusal';
      stopDetails = {
        type: 'refusal',
        category: s.category === undefined ? 'cyber' : s.category,
        explanation: s.explanation === undefined ? 'This request triggered restrictions on violative cyber content.' : s.explanation,
      };
      break;
    case 'tool_calls': {
      if (s.text) addText(s.text);
      const first = Array.isArray(body.tools) && isRecord(body.tools[0]) ? String(body.tools[0].name) : 'tool';
      for (const c of s.calls ?? [{}]) {
        const input = typeof c.arguments === 'string' ? parseObject(c.arguments) : (c.arguments ?? {});
        blocks.push({ type: 'tool_use', id: c.id ?? ids('toolu_01', 22), name: c.name ?? first, input, json: JSON.stringify(input) });
      }
      stopReason = 'tool_use';
      break;
    }
  }
  const visible = blocks.reduce((n, b) => n + (b.type === 'text' ? b.deltas.length : b.type === 'tool_use' ? 10 : 0), 0);
  const prompt = Math.max(1, countWords(blockText(body.system ?? '')) + msgs.reduce((n, m) => n + countWords(blockText(m.content)) + 3, 0));
  const thinkingTokens = thinking ? countWords(thinking) : 0;
  const usage = resolveUsage(s.usage ?? (thinking ? { reasoning: thinkingTokens } : undefined), { input: prompt, visibleOutput: Math.max(1, visible) });
  // Writes are 1-hour ones when every breakpoint of the request asks for 1h (unless the scenario says).
  const ttls = cacheBreakpoints(body).map((c) => c.ttl ?? '5m');
  if (s.usage?.cacheWrite1h === undefined && ttls.length > 0 && ttls.every((t) => t === '1h')) usage.cacheWrite1h = usage.cacheWrite;
  return { id: ids('msg_01', 22), model: s.model ?? String(body.model), blocks, stopReason, stopSequence, stopDetails, usage };
}

/** Anthropic's input_tokens EXCLUDES cache reads and writes. */
function usageJson(u: Usage, outputTokens: number) {
  return {
    input_tokens: Math.max(0, u.input - u.cached - u.cacheWrite),
    cache_creation_input_tokens: u.cacheWrite,
    cache_read_input_tokens: u.cached,
    cache_creation: { ephemeral_5m_input_tokens: Math.max(0, u.cacheWrite - u.cacheWrite1h), ephemeral_1h_input_tokens: Math.min(u.cacheWrite, u.cacheWrite1h) },
    output_tokens: outputTokens,
    service_tier: 'standard',
  };
}

function blockJson(b: Block) {
  switch (b.type) {
    case 'text':
      return { type: 'text', text: b.text, citations: null };
    case 'thinking':
      return { type: 'thinking', thinking: b.thinking, signature: b.signature };
    case 'tool_use':
      return { type: 'tool_use', id: b.id, name: b.name, input: b.input };
  }
}

function messageJson(m: BuiltMessage) {
  const out: Record<string, unknown> = {
    id: m.id,
    type: 'message',
    role: 'assistant',
    model: m.model,
    content: m.blocks.map(blockJson),
    stop_reason: m.stopReason,
    stop_sequence: m.stopSequence,
    usage: usageJson(m.usage, m.usage.output),
  };
  if (m.stopDetails) out.stop_details = m.stopDetails;
  return out;
}

/** Named SSE events. With `cut`, stop after `afterDeltas` text deltas and append `tail` (an error event). */
function messageEvents(m: BuiltMessage, cut?: { afterDeltas: number; tail: string }): string[] {
  const ev: string[] = [];
  ev.push(
    sseEvent('message_start', {
      type: 'message_start',
      message: { id: m.id, type: 'message', role: 'assistant', model: m.model, content: [], stop_reason: null, stop_sequence: null, usage: usageJson(m.usage, 1) },
    }),
  );
  let pinged = false;
  const ping = () => {
    if (!pinged) ev.push('event: ping\ndata: {"type": "ping"}\n\n');
    pinged = true;
  };
  let sent = 0;
  const limit = cut ? cut.afterDeltas : Infinity;
  if (cut && limit === 0) {
    ping();
    return [...ev, cut.tail];
  }
  for (let index = 0; index < m.blocks.length; index++) {
    const b = m.blocks[index];
    const delta = (d: Record<string, unknown>) => ev.push(sseEvent('content_block_delta', { type: 'content_block_delta', index, delta: d }));
    if (b.type === 'text') {
      ev.push(sseEvent('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }));
      ping();
      for (const d of b.deltas) {
        if (sent >= limit) return [...ev, cut!.tail];
        delta({ type: 'text_delta', text: d });
        sent++;
      }
      if (sent >= limit) return [...ev, cut!.tail];
    } else if (b.type === 'thinking') {
      ev.push(sseEvent('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } }));
      ping();
      for (const d of splitDeltas(b.thinking)) delta({ type: 'thinking_delta', thinking: d });
      delta({ type: 'signature_delta', signature: b.signature });
    } else {
      ev.push(sseEvent('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } }));
      ping();
      delta({ type: 'input_json_delta', partial_json: '' });
      for (const f of fragment(b.json, 3)) delta({ type: 'input_json_delta', partial_json: f });
    }
    ev.push(sseEvent('content_block_stop', { type: 'content_block_stop', index }));
  }
  if (cut) return [...ev, cut.tail];
  const u = m.usage;
  const delta: Record<string, unknown> = { stop_reason: m.stopReason, stop_sequence: m.stopSequence };
  if (m.stopDetails) delta.stop_details = m.stopDetails;
  ev.push(
    sseEvent('message_delta', {
      type: 'message_delta',
      delta,
      usage: { input_tokens: Math.max(0, u.input - u.cached - u.cacheWrite), cache_creation_input_tokens: u.cacheWrite, cache_read_input_tokens: u.cached, output_tokens: u.output },
    }),
  );
  ev.push(sseEvent('message_stop', { type: 'message_stop' }));
  return ev;
}
