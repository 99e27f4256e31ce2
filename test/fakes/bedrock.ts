// Fake Amazon Bedrock Runtime (POST /model/{modelId}/converse, /converse-stream, /invoke): every
// request's SigV4 signature is recomputed with the same secret (@smithy/signature-v4) and a wrong
// one is refused as AWS refuses it (403 + x-amzn-errortype); Converse answers are JSON, streams the
// binary event stream (@smithy/eventstream-codec), errors Bedrock's shapes, in-stream exceptions too.
// InvokeModel serves the embedding models and the rerank models (cohere.rerank-*, amazon.rerank-*).
import { fakePng } from './openai.ts';
import { createHash, randomUUID } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import {
  countWords,
  deliver,
  echoText,
  fragment,
  handleTransport,
  isRecord,
  resolveUsage,
  retryHeaders,
  sendJson,
  splitDeltas,
  startFake,
} from './common.ts';
import type { Delivery, Exchange, FakeServer, RetryHints, ToolCallSpec, TransportScenario, Usage, UsageSpec } from './common.ts';
import { fakeRanking } from '../helpers/fake-cohere.ts';

/** Static credentials the fake accepts (build them at run time: never write key-shaped literals). */
export interface FakeAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Bedrock errors, by their AWS error type (plus the context-length flavour of ValidationException). */
export type BedrockErrorName =
  | 'ValidationException' // 400
  | 'ContextLength' // 400 ValidationException "Input is too long for requested model."
  | 'AccessDeniedException' // 403
  | 'ResourceNotFoundException' // 404
  | 'ModelTimeoutException' // 408
  | 'ModelErrorException' // 424
  | 'ThrottlingException' // 429
  | 'ModelNotReadyException' // 429
  | 'ServiceQuotaExceededException' // 400
  | 'InternalServerException' // 500
  | 'ServiceUnavailableException'; // 503

/** Exceptions a ConverseStream may carry after its 200 (the union members of ConverseStreamOutput). */
export type BedrockStreamExceptionName =
  | 'internalServerException'
  | 'modelStreamErrorException'
  | 'validationException'
  | 'throttlingException'
  | 'serviceUnavailableException';

export type BedrockStopReason = 'end_turn' | 'tool_use' | 'max_tokens' | 'stop_sequence' | 'guardrail_intervened' | 'content_filtered' | 'model_context_window_exceeded' | 'malformed_tool_use';

interface BedrockSuccess {
  usage?: UsageSpec;
  /** Emit a reasoningContent block (with signature) before the answer. */
  reasoning?: string;
}

export type BedrockScenario = (
  /** Text reply; default echo of the last user message. */
  | ({ kind: 'text'; text?: string | string[]; stopReason?: BedrockStopReason } & BedrockSuccess)
  /** toolUse blocks (several = parallel), optionally after a text block; stopReason tool_use. */
  | ({ kind: 'tool_calls'; calls?: ToolCallSpec[]; text?: string } & BedrockSuccess)
  | ({ kind: 'error'; error: BedrockErrorName; message?: string } & RetryHints)
  /** 200 stream, then an exception frame after `afterDeltas` text deltas (default 1; 0 = right after messageStart).
   *  Non-streaming requests get the matching HTTP error instead. */
  | { kind: 'stream_exception'; exception?: BedrockStreamExceptionName; text?: string; afterDeltas?: number; message?: string }
  /** A 200 stream that stops after messageStart and `afterDeltas` deltas, without messageStop. */
  | { kind: 'truncated'; afterDeltas?: number }
  | TransportScenario
) &
  Delivery;

export interface FakeBedrockOptions {
  /** Accepted credentials (the first is the default). */
  credentials: FakeAwsCredentials[];
  /** The region the signature must be scoped to (default us-east-1). */
  region?: string;
  /** Known model ids (decoded); default any id containing a dot. */
  models?: string[];
  /** Largest clock skew accepted for x-amz-date (default 5 minutes, as AWS). */
  maxSkewMs?: number;
  /** Guardrails ApplyGuardrail knows, by identifier. */
  guardrails?: Record<string, FakeGuardrail>;
}

/**
 * A guardrail of the fake's ApplyGuardrail: each policy matches words (case-insensitively) in the
 * text. `versions` are the numbered versions it has (DRAFT always exists).
 */
export interface FakeGuardrail {
  versions?: string[];
  /** Denied topics: name → words. */
  topics?: Record<string, string[]>;
  /** Content filters: type (HATE, INSULTS, SEXUAL, VIOLENCE, MISCONDUCT, PROMPT_ATTACK) → words. */
  content?: Record<string, string[]>;
  /** Custom words blocked. */
  words?: string[];
  /** E-mail addresses: ANONYMIZED (masked in the output) or BLOCKED. */
  email?: 'ANONYMIZED' | 'BLOCKED';
  /** Where INPUT interventions say so. */
  blockedInputMessaging?: string;
  blockedOutputsMessaging?: string;
}

export interface FakeBedrock extends FakeServer<BedrockScenario> {
  /** Signature checks, in arrival order: which key signed, and whether the signature was right. */
  signatures: { accessKeyId: string; valid: boolean; reason?: string }[];
}

export const EVENT_STREAM = 'application/vnd.amazon.eventstream';
const codec = new EventStreamCodec(toUtf8, fromUtf8);
const sha256 = Hash.bind(null, 'sha256');

const TOP_LEVEL = new Set([
  'messages', 'system', 'inferenceConfig', 'toolConfig', 'guardrailConfig', 'additionalModelRequestFields', 'promptVariables',
  'additionalModelResponseFieldPaths', 'requestMetadata', 'performanceConfig', 'serviceTier', 'outputConfig',
]);
const INFERENCE_KEYS = new Set(['maxTokens', 'temperature', 'topP', 'stopSequences']);
const IMAGE_FORMATS = new Set(['png', 'jpeg', 'gif', 'webp']);

export async function startFakeBedrock(opts: FakeBedrockOptions): Promise<FakeBedrock> {
  const region = opts.region ?? 'us-east-1';
  const maxSkew = opts.maxSkewMs ?? 5 * 60_000;
  const known = (m: string) => (opts.models ? opts.models.includes(m) : m.includes('.'));
  const signatures: FakeBedrock['signatures'] = [];
  let toolIds = 0;

  const server = await startFake<BedrockScenario>({
    basePath: '',
    defaultScenario: { kind: 'text' },
    async handle(ex, next) {
      const requestId = randomUUID();
      const base = { 'x-amzn-requestid': requestId };
      const fail = (status: number, type: string, message: string, headers: Record<string, string> = {}, d?: Delivery) =>
        sendJson(ex, status, { message }, { ...base, 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, ...headers }, d);

      const auth = await verifySignature(ex, opts.credentials, region, maxSkew);
      signatures.push({ accessKeyId: auth.accessKeyId, valid: auth.error === undefined, reason: auth.error?.message });
      if (auth.error) return fail(auth.error.status, auth.error.type, auth.error.message);

      const g = /^\/guardrail\/([^/]+)\/version\/([^/]+)\/apply$/.exec(ex.url.pathname);
      if (g && ex.req.method === 'POST') {
        if (ex.badJson) return fail(400, 'ValidationException', 'Malformed input request, please reformat your input and try again.');
        const id = decodeURIComponent(g[1]);
        const version = decodeURIComponent(g[2]);
        const guard = opts.guardrails?.[id];
        if (!guard || (version !== 'DRAFT' && !(guard.versions ?? []).includes(version))) return fail(404, 'ResourceNotFoundException', 'The guardrail identifier or version provided in the request does not exist.');
        const invalidApply = validateApply(ex.record.body);
        if (invalidApply) return fail(400, 'ValidationException', invalidApply);
        return sendJson(ex, 200, applyGuardrail(guard, ex.record.body as ApplyBody), base);
      }
      const m = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(ex.url.pathname);
      if (ex.req.method !== 'POST' || !m) return fail(404, 'UnknownOperationException', 'Unknown operation');
      const model = decodeURIComponent(m[1]);
      const op = m[2];
      if (ex.badJson) return fail(400, 'ValidationException', 'Malformed input request, please reformat your input and try again.');
      if (!known(model)) return fail(404, 'ResourceNotFoundException', 'Could not resolve the foundation model from the provided model identifier.');
      const body = (ex.record.body ?? {}) as Record<string, unknown>;

      const s = next();
      if (await handleTransport(ex, s)) return;
      const stream = op === 'converse-stream';
      if (s.kind === 'error') {
        const e = bedrockError(s.error, s.message);
        return fail(e.status, e.type, e.message, { ...e.headers, ...retryHeaders(s) }, s);
      }
      if (op === 'invoke') {
        if (s.kind === 'stream_exception') return fail(500, 'InternalServerException', s.message ?? 'Internal server error');
        if (isImageModel(model)) {
          const invalidImage = validateImage(body);
          if (invalidImage) return fail(400, 'ValidationException', invalidImage);
          return sendJson(ex, 200, imageResponse(body), base, s);
        }
        if (isRerankModel(model)) {
          const invalidRerank = validateRerank(model, body);
          if (invalidRerank) return fail(400, 'ValidationException', invalidRerank);
          return sendJson(ex, 200, rerankResponse(model, body), base, s);
        }
        const invalid = validateEmbed(model, body);
        if (invalid) return fail(400, 'ValidationException', invalid);
        return sendJson(ex, 200, embedResponse(model, body), { ...base, 'x-amzn-bedrock-input-token-count': String(embedTokens(body)) }, s);
      }
      const invalid = validateConverse(body);
      if (invalid) return fail(400, 'ValidationException', invalid);

      switch (s.kind) {
        case 'stream_exception': {
          const name = s.exception ?? 'throttlingException';
          if (!stream) {
            const e = bedrockError(streamToHttp(name), s.message);
            return fail(e.status, e.type, e.message, e.headers, s);
          }
          const msg = build({ kind: 'text', text: s.text }, body, () => `tooluse_${String(++toolIds).padStart(22, '0')}`);
          const units = streamFrames(msg, { afterDeltas: s.afterDeltas ?? 1, tail: exceptionFrame(name, s.message ?? defaultStreamMessage(name)) });
          return deliver(ex, { status: 200, headers: { ...base, 'content-type': EVENT_STREAM }, units, stream: true }, s);
        }
        case 'truncated': {
          const msg = build({ kind: 'text' }, body, () => `tooluse_${String(++toolIds).padStart(22, '0')}`);
          const units = streamFrames(msg, { afterDeltas: s.afterDeltas ?? 1 });
          return deliver(ex, { status: 200, headers: { ...base, 'content-type': EVENT_STREAM }, units, stream: true }, s);
        }
        case 'text':
        case 'tool_calls': {
          const msg = build(s, body, () => `tooluse_${String(++toolIds).padStart(22, '0')}`);
          if (!stream) return sendJson(ex, 200, converseJson(msg), base, s);
          return deliver(ex, { status: 200, headers: { ...base, 'content-type': EVENT_STREAM }, units: streamFrames(msg), stream: true }, s);
        }
        default:
          throw new Error(`scenario kind ${(s as { kind: string }).kind} was not handled by the bedrock fake`);
      }
    },
  });
  const reset = server.reset;
  return Object.assign(server, {
    signatures,
    reset() {
      reset();
      signatures.length = 0;
    },
  });
}

// ---------------------------------------------------------------------------------------------
// SigV4

interface AuthResult {
  accessKeyId: string;
  error?: { status: number; type: string; message: string };
}

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** Check a request's SigV4 signature the way AWS does: recompute it with the secret of the key that claims to have signed. */
export async function verifySignature(ex: Exchange, accepted: FakeAwsCredentials[], region: string, maxSkewMs: number): Promise<AuthResult> {
  const h = ex.req.headers;
  const one = (name: string) => {
    const v = h[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
  const deny = (accessKeyId: string, type: string, message: string, status = 403): AuthResult => ({ accessKeyId, error: { status, type, message } });
  const auth = one('authorization');
  if (!auth) return deny('', 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return deny('', 'IncompleteSignatureException', `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.`, 400);
  const [, accessKeyId, scopeDate, scopeRegion, scopeService, signedList, signature] = m;
  const creds = accepted.find((c) => c.accessKeyId === accessKeyId);
  const token = one('x-amz-security-token');
  if (!creds || (creds.sessionToken ?? '') !== (token ?? '')) return deny(accessKeyId, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  if (scopeService !== 'bedrock') return deny(accessKeyId, 'InvalidSignatureException', `Credential should be scoped to correct service: 'bedrock'.`);
  if (scopeRegion !== region) return deny(accessKeyId, 'InvalidSignatureException', `Credential should be scoped to a valid region.`);
  const signed = signedList.split(';');
  if (!signed.includes('host') || !signed.includes('x-amz-date')) return deny(accessKeyId, 'InvalidSignatureException', `'Host' and 'X-Amz-Date' must be signed.`);
  const amzDate = one('x-amz-date') ?? '';
  const dm = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dm || amzDate.slice(0, 8) !== scopeDate) return deny(accessKeyId, 'IncompleteSignatureException', 'Date must be in ISO-8601 basic format and match the credential scope.', 400);
  const date = new Date(Date.UTC(+dm[1], +dm[2] - 1, +dm[3], +dm[4], +dm[5], +dm[6]));
  if (Math.abs(Date.now() - date.getTime()) > maxSkewMs) {
    return deny(accessKeyId, 'InvalidSignatureException', `Signature expired: ${amzDate} is now earlier than the allowed skew of ${maxSkewMs / 60_000} minutes.`);
  }
  const bodyHash = createHash('sha256').update(ex.record.rawBody, 'utf8').digest('hex');
  const claimed = one('x-amz-content-sha256');
  if (claimed !== undefined && claimed !== bodyHash && claimed !== 'UNSIGNED-PAYLOAD') return deny(accessKeyId, 'InvalidSignatureException', SIGNATURE_MISMATCH);

  // Recompute over exactly the headers the client says it signed (the signer re-adds x-amz-date
  // from the signing date and the token from the credentials).
  const headers: Record<string, string> = {};
  for (const name of signed) {
    if (name === 'x-amz-date' || name === 'x-amz-security-token') continue;
    const v = one(name);
    if (v === undefined) return deny(accessKeyId, 'InvalidSignatureException', SIGNATURE_MISMATCH);
    headers[name] = v;
  }
  const rawUrl = ex.req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const query: Record<string, string> = {};
  if (q >= 0) for (const [k, v] of new URLSearchParams(rawUrl.slice(q + 1))) query[k] = v;
  const signer = new SignatureV4({
    service: 'bedrock',
    region,
    sha256,
    applyChecksum: signed.includes('x-amz-content-sha256'),
    credentials: { accessKeyId, secretAccessKey: creds.secretAccessKey, ...(signed.includes('x-amz-security-token') && token ? { sessionToken: token } : {}) },
  });
  const again = await signer.sign(
    { method: ex.req.method ?? 'POST', protocol: 'http:', hostname: '127.0.0.1', path: q >= 0 ? rawUrl.slice(0, q) : rawUrl, query, headers, body: ex.record.rawBody },
    { signingDate: date, signableHeaders: new Set(signed) },
  );
  const expected = /Signature=([0-9a-f]{64})$/.exec(String(again.headers.authorization ?? ''))?.[1];
  const expectedList = /SignedHeaders=([a-z0-9;-]+),/.exec(String(again.headers.authorization ?? ''))?.[1];
  if (expected !== signature || expectedList !== signedList) return deny(accessKeyId, 'InvalidSignatureException', SIGNATURE_MISMATCH);
  return { accessKeyId };
}

// ---------------------------------------------------------------------------------------------
// Errors

export function bedrockError(name: BedrockErrorName, message?: string): { status: number; type: string; message: string; headers?: Record<string, string> } {
  const e = (status: number, type: string, fallback: string, headers?: Record<string, string>) => ({ status, type, message: message ?? fallback, headers });
  switch (name) {
    case 'ValidationException':
      return e(400, 'ValidationException', 'A conversation must start with a user message. Try again with a conversation that starts with a user message.');
    case 'ContextLength':
      return e(400, 'ValidationException', 'Input is too long for requested model.');
    case 'ServiceQuotaExceededException':
      return e(400, 'ServiceQuotaExceededException', 'Your request exceeds the service quota for your account. You can view your quotas at https://docs.aws.amazon.com/servicequotas/latest/userguide/gs-request-quota.html.');
    case 'AccessDeniedException':
      return e(403, 'AccessDeniedException', "You don't have access to the model with the specified model ID.");
    case 'ResourceNotFoundException':
      return e(404, 'ResourceNotFoundException', 'Could not resolve the foundation model from the provided model identifier.');
    case 'ModelTimeoutException':
      return e(408, 'ModelTimeoutException', 'Model has timed out in processing the request. Try your request again.');
    case 'ModelErrorException':
      return e(424, 'ModelErrorException', 'The model returned an error. Try your request again.');
    case 'ThrottlingException':
      return e(429, 'ThrottlingException', 'Too many requests, please wait before trying again.', { 'retry-after': '1' });
    case 'ModelNotReadyException':
      return e(429, 'ModelNotReadyException', 'Model is not ready to serve inference requests. The AWS SDK will automatically retry the operation.');
    case 'InternalServerException':
      return e(500, 'InternalServerException', 'The server encountered an internal error while processing the request.');
    case 'ServiceUnavailableException':
      return e(503, 'ServiceUnavailableException', 'Bedrock is unable to process your request.');
  }
}

function streamToHttp(name: BedrockStreamExceptionName): BedrockErrorName {
  switch (name) {
    case 'internalServerException':
    case 'modelStreamErrorException':
      return 'InternalServerException';
    case 'validationException':
      return 'ValidationException';
    case 'throttlingException':
      return 'ThrottlingException';
    case 'serviceUnavailableException':
      return 'ServiceUnavailableException';
  }
}

function defaultStreamMessage(name: BedrockStreamExceptionName): string {
  switch (name) {
    case 'throttlingException':
      return 'Too many tokens, please wait before trying again.';
    case 'modelStreamErrorException':
      return 'Model stream errored: the model produced an error while generating the response.';
    case 'validationException':
      return 'Input is too long for requested model.';
    case 'serviceUnavailableException':
      return 'Bedrock is unable to process your request.';
    default:
      return 'The server encountered an internal error while processing the request.';
  }
}

// ---------------------------------------------------------------------------------------------
// Request checks

/** Validate a Converse body like the real API; returns the error message or null. */
export function validateConverse(body: unknown): string | null {
  if (!isRecord(body)) return 'Malformed input request, please reformat your input and try again.';
  for (const k of Object.keys(body)) if (!TOP_LEVEL.has(k)) return `Malformed input request: extraneous key [${k}] is not permitted, please reformat your input and try again.`;
  if (body.inferenceConfig !== undefined) {
    if (!isRecord(body.inferenceConfig)) return 'Malformed input request: inferenceConfig must be an object.';
    for (const k of Object.keys(body.inferenceConfig)) if (!INFERENCE_KEYS.has(k)) return `Malformed input request: extraneous key [${k}] is not permitted, please reformat your input and try again.`;
    const t = body.inferenceConfig.temperature;
    if (t !== undefined && (typeof t !== 'number' || t < 0 || t > 1)) return 'The value at inferenceConfig.temperature must be between 0 and 1.';
  }
  if (body.system !== undefined) {
    if (!Array.isArray(body.system)) return 'Malformed input request: system must be a list.';
    for (const [i, b] of body.system.entries()) {
      if (!isRecord(b) || (typeof b.text !== 'string' && !isRecord(b.cachePoint))) return `The system content block at system.${i} is invalid.`;
      if (typeof b.text === 'string' && b.text.trim() === '') return `The text field in the SystemContentBlock object at system.${i} is blank. Add text to the text field, and try again.`;
    }
  }
  if (body.outputConfig !== undefined) {
    const invalid = validateOutputConfig(body.outputConfig);
    if (invalid) return invalid;
  }
  const msgs = body.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
  let usesTools = false;
  const docNames = new Set<string>();
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i] as unknown;
    if (!isRecord(m) || (m.role !== 'user' && m.role !== 'assistant')) return `Malformed input request: messages.${i}.role must be user or assistant.`;
    if (i === 0 && m.role !== 'user') return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
    if (i > 0 && (msgs[i - 1] as Record<string, unknown>).role === m.role) {
      return 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.';
    }
    if (!Array.isArray(m.content) || m.content.length === 0) return `The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`;
    for (const [j, b] of (m.content as unknown[]).entries()) {
      const where = `messages.${i}.content.${j}`;
      if (!isRecord(b)) return `Malformed input request: ${where} must be an object.`;
      const keys = Object.keys(b);
      if (keys.length !== 1) return `Malformed input request: ${where} must have exactly one member.`;
      const [k] = keys;
      switch (k) {
        case 'text':
          if (typeof b.text !== 'string' || b.text.trim() === '') return `The text field in the ContentBlock object at ${where} is blank. Add text to the text field, and try again.`;
          break;
        case 'image': {
          const img = b.image as Record<string, unknown>;
          if (!isRecord(img) || !IMAGE_FORMATS.has(String(img.format))) return `The format of the image at ${where} is invalid.`;
          const src = img.source as Record<string, unknown>;
          if (!isRecord(src) || typeof src.bytes !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(src.bytes)) return `The image source at ${where} is invalid.`;
          break;
        }
        case 'document': {
          // DocumentBlock: format, name (letters, digits, single spaces, hyphens, parentheses, square brackets), source.bytes.
          const doc = b.document as Record<string, unknown>;
          if (!isRecord(doc) || !['pdf', 'csv', 'doc', 'docx', 'xls', 'xlsx', 'html', 'txt', 'md'].includes(String(doc.format))) return `The format of the document at ${where} is invalid.`;
          if (typeof doc.name !== 'string' || !/^[A-Za-z0-9\-()[\] ]+$/.test(doc.name) || /\s{2}/.test(doc.name)) return `The document name at ${where} is invalid.`;
          const dsrc = doc.source as Record<string, unknown>;
          if (!isRecord(dsrc) || typeof dsrc.bytes !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(dsrc.bytes)) return `The document source at ${where} is invalid.`;
          const name = doc.name;
          if (docNames.has(name)) return `The document names in the request must be unique (${name}).`;
          docNames.add(name);
          break;
        }
        case 'toolUse':
        case 'toolResult':
          usesTools = true;
          if (k === 'toolUse' && m.role !== 'assistant') return `toolUse blocks are only allowed in assistant messages (${where}).`;
          if (k === 'toolResult' && m.role !== 'user') return `toolResult blocks are only allowed in user messages (${where}).`;
          break;
        case 'reasoningContent':
        case 'cachePoint':
          break;
        default:
          return `Malformed input request: unknown content block type ${k} at ${where}.`;
      }
    }
  }
  const tc = body.toolConfig;
  if (usesTools && !isRecord(tc)) return 'The toolConfig field must be defined when using toolUse and toolResult content blocks.';
  if (tc !== undefined) {
    if (!isRecord(tc) || !Array.isArray(tc.tools) || tc.tools.length === 0) return 'The value at toolConfig.tools failed to satisfy constraint: Member must have length greater than or equal to 1';
    for (const [i, t] of (tc.tools as unknown[]).entries()) {
      if (!isRecord(t)) return `Malformed input request: toolConfig.tools.${i} must be an object.`;
      if (isRecord(t.cachePoint)) continue;
      const spec = t.toolSpec as Record<string, unknown>;
      if (!isRecord(spec) || typeof spec.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(spec.name)) return `The value at toolConfig.tools.${i}.toolSpec.name failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+`;
      if (!isRecord(spec.inputSchema) || !isRecord(spec.inputSchema.json)) return `toolConfig.tools.${i}.toolSpec.inputSchema.json is required.`;
      for (const k of Object.keys(spec)) if (!['name', 'description', 'inputSchema', 'strict'].includes(k)) return `Malformed input request: extraneous key [${k}] is not permitted, please reformat your input and try again.`;
      if (spec.strict !== undefined && typeof spec.strict !== 'boolean') return `toolConfig.tools.${i}.toolSpec.strict must be a boolean.`;
    }
  }
  return null;
}

/** OutputConfig: effort, and textFormat (structured outputs: type json_schema, the schema as a JSON string). */
function validateOutputConfig(oc: unknown): string | null {
  if (!isRecord(oc)) return 'Malformed input request: outputConfig must be an object.';
  for (const k of Object.keys(oc)) if (k !== 'textFormat' && k !== 'effort') return `Malformed input request: extraneous key [${k}] is not permitted, please reformat your input and try again.`;
  const tf = oc.textFormat;
  if (tf === undefined) return null;
  if (!isRecord(tf) || tf.type !== 'json_schema') return "The value at outputConfig.textFormat.type failed to satisfy constraint: Member must satisfy enum value set: [json_schema]";
  const st = tf.structure;
  if (!isRecord(st) || Object.keys(st).length !== 1 || !isRecord(st.jsonSchema)) return 'Malformed input request: outputConfig.textFormat.structure must have exactly one member (jsonSchema).';
  const js = st.jsonSchema;
  for (const k of Object.keys(js)) if (!['schema', 'name', 'description'].includes(k)) return `Malformed input request: extraneous key [${k}] is not permitted, please reformat your input and try again.`;
  if (typeof js.schema !== 'string') return 'Malformed input request: outputConfig.textFormat.structure.jsonSchema.schema must be a string.';
  let schema: unknown;
  try {
    schema = JSON.parse(js.schema);
  } catch {
    return 'The JSON schema in outputConfig.textFormat is not valid JSON.';
  }
  if (!isRecord(schema)) return 'The JSON schema in outputConfig.textFormat must be an object.';
  if (js.name !== undefined && typeof js.name !== 'string') return 'Malformed input request: outputConfig.textFormat.structure.jsonSchema.name must be a string.';
  return null;
}

function validateEmbed(model: string, body: Record<string, unknown>): string | null {
  if (model.startsWith('amazon.titan-embed')) {
    if (typeof body.inputText !== 'string' || body.inputText === '') return 'Malformed input request: #: required key [inputText] not found, please reformat your input and try again.';
    if (body.dimensions !== undefined && ![256, 512, 1024].includes(body.dimensions as number)) return 'Malformed input request: #/dimensions: 100 is not a valid enum value, please reformat your input and try again.';
    for (const k of Object.keys(body)) if (!['inputText', 'dimensions', 'normalize', 'embeddingTypes'].includes(k)) return `Malformed input request: extraneous key [${k}] is not permitted, please reformat your input and try again.`;
    return null;
  }
  if (model.startsWith('cohere.embed')) {
    if (!Array.isArray(body.texts) || body.texts.length === 0 || body.texts.length > 96) return 'Malformed input request: #/texts: expected between 1 and 96 items.';
    if (!['search_document', 'search_query', 'classification', 'clustering'].includes(String(body.input_type))) return 'Malformed input request: #: required key [input_type] not found, please reformat your input and try again.';
    return null;
  }
  return `The provided model identifier is invalid.`;
}

const isRerankModel = (model: string) => /(^|\/)(cohere|amazon)\.rerank/.test(model);

// ---------------------------------------------------------------------------------------------
// Image generation (InvokeModel on amazon.nova-canvas-v1:0 and amazon.titan-image-generator-v2:0)

const isImageModel = (model: string) => /(^|[./])amazon\.(nova-canvas|titan-image-generator)/.test(model);

/**
 * The TEXT_IMAGE body as Nova Canvas and Titan Image check it: a prompt of 1–1,024 characters,
 * 1–5 images, sides of 320–4,096 that are multiples of 16, quality standard or premium. A prompt
 * with "forbidden" in it is blocked by the content filters, as Bedrock answers that (a 400).
 */
function validateImage(body: Record<string, unknown>): string | null {
  if (body.taskType !== 'TEXT_IMAGE') return `Malformed input request: taskType ${JSON.stringify(body.taskType)} is not supported, please reformat your input and try again.`;
  const p = isRecord(body.textToImageParams) ? body.textToImageParams : undefined;
  const text = p?.text;
  if (typeof text !== 'string' || text.length < 1 || text.length > 1024) return 'Malformed input request: #/textToImageParams/text: expected minLength: 1, maxLength: 1024, please reformat your input and try again.';
  const c = isRecord(body.imageGenerationConfig) ? body.imageGenerationConfig : {};
  const n = c.numberOfImages ?? 1;
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 5) return 'Malformed input request: #/imageGenerationConfig/numberOfImages: must be between 1 and 5, please reformat your input and try again.';
  for (const k of ['width', 'height'] as const) {
    const v = c[k] ?? 1024;
    if (!Number.isInteger(v) || (v as number) < 320 || (v as number) > 4096 || (v as number) % 16 !== 0) return `Malformed input request: #/imageGenerationConfig/${k}: must be a multiple of 16 between 320 and 4096, please reformat your input and try again.`;
  }
  if (c.quality !== undefined && c.quality !== 'standard' && c.quality !== 'premium') return 'Malformed input request: #/imageGenerationConfig/quality: standard or premium, please reformat your input and try again.';
  if (/forbidden/i.test(text)) return 'This request has been blocked by our content filters.';
  return null;
}

function imageResponse(body: Record<string, unknown>): { images: string[]; error: null } {
  const text = String((body.textToImageParams as Record<string, unknown>).text);
  const n = Number((isRecord(body.imageGenerationConfig) ? body.imageGenerationConfig.numberOfImages : undefined) ?? 1);
  return { images: Array.from({ length: n }, (_, i) => fakePng(text, i).toString('base64')), error: null };
}
const RERANK_KEYS: Record<'cohere' | 'amazon', string[]> = {
  // Cohere Rerank 3.5: the v2 body without model, with api_version (2 or later).
  cohere: ['query', 'documents', 'top_n', 'max_tokens_per_doc', 'api_version'],
  // Amazon Rerank 1.0: the query and the documents.
  amazon: ['query', 'documents'],
};

/** A ValidationException message for a malformed rerank body, or null. */
function validateRerank(model: string, body: Record<string, unknown>): string | null {
  const family = /cohere\.rerank/.test(model) ? 'cohere' : 'amazon';
  for (const k of Object.keys(body)) if (!RERANK_KEYS[family].includes(k)) return `Malformed input request: #: extraneous key [${k}] is not permitted, please reformat your input and try again.`;
  if (typeof body.query !== 'string' || body.query === '') return 'Malformed input request: #: required key [query] not found, please reformat your input and try again.';
  if (!Array.isArray(body.documents) || body.documents.length === 0 || body.documents.length > 1000 || !body.documents.every((d) => typeof d === 'string')) {
    return 'Malformed input request: #/documents: expected between 1 and 1000 strings, please reformat your input and try again.';
  }
  if (family === 'cohere') {
    if (typeof body.api_version !== 'number' || body.api_version < 2) return 'Malformed input request: #: required key [api_version] not found, please reformat your input and try again.';
    for (const k of ['top_n', 'max_tokens_per_doc']) {
      const v = body[k];
      if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= 1)) return `Malformed input request: #/${k}: must be an integer of at least 1, please reformat your input and try again.`;
    }
  }
  return null;
}

/** Cohere on Bedrock answers with an id; Amazon Rerank with the results only. */
function rerankResponse(model: string, body: Record<string, unknown>) {
  const results = fakeRanking(String(body.query), body.documents as string[], body.top_n as number | undefined);
  return /cohere\.rerank/.test(model) ? { id: randomUUID(), results } : { results };
}

function embedTokens(body: Record<string, unknown>): number {
  const texts = typeof body.inputText === 'string' ? [body.inputText] : Array.isArray(body.texts) ? (body.texts as string[]) : [];
  return texts.reduce((n, t) => n + Math.max(1, countWords(t)), 0);
}

/** Deterministic vectors: component k of text t is derived from its characters (same text, same vector). */
export function fakeVector(text: string, dims: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < dims; k++) out.push(Number((((text.charCodeAt(k % Math.max(1, text.length)) || 1) * (k + 1)) % 97 / 97).toFixed(6)));
  return out;
}

function embedResponse(model: string, body: Record<string, unknown>) {
  if (model.startsWith('amazon.titan-embed')) {
    const dims = typeof body.dimensions === 'number' ? body.dimensions : 1024;
    return { embedding: fakeVector(String(body.inputText), dims), inputTextTokenCount: embedTokens(body) };
  }
  const texts = body.texts as string[];
  return { id: randomUUID(), texts, embeddings: texts.map((t) => fakeVector(t, 1024)), response_type: 'embeddings_floats' };
}

// ---------------------------------------------------------------------------------------------
// Response builder

type Block =
  | { type: 'text'; text: string; deltas: string[] }
  | { type: 'reasoning'; text: string; signature: string }
  | { type: 'toolUse'; id: string; name: string; input: Record<string, unknown>; json: string };

interface Built {
  blocks: Block[];
  stopReason: BedrockStopReason;
  usage: Usage;
}

function blockText(content: unknown): string {
  if (!Array.isArray(content)) return '';
  return content
    .map((b: unknown) => (isRecord(b) ? (typeof b.text === 'string' ? b.text : isRecord(b.toolResult) ? blockText(b.toolResult.content) : '') : ''))
    .filter(Boolean)
    .join(' ');
}

function build(s: Extract<BedrockScenario, { kind: 'text' | 'tool_calls' }>, body: Record<string, unknown>, toolId: () => string): Built {
  const msgs = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : [];
  const lastUser = [...msgs].reverse().find((m) => m.role === 'user');
  const last = lastUser ? blockText(lastUser.content) : '';
  const blocks: Block[] = [];
  if (s.reasoning) blocks.push({ type: 'reasoning', text: s.reasoning, signature: `sig-${Buffer.from(s.reasoning).toString('base64').slice(0, 16)}` });
  const addText = (t: string | string[]) => {
    const deltas = Array.isArray(t) ? t : splitDeltas(t);
    if (deltas.length) blocks.push({ type: 'text', text: deltas.join(''), deltas });
  };
  let stopReason: BedrockStopReason = 'end_turn';
  if (s.kind === 'text') {
    addText(s.text ?? echoText(last));
    stopReason = s.stopReason ?? 'end_turn';
  } else {
    if (s.text) addText(s.text);
    const tc = isRecord(body.toolConfig) && Array.isArray(body.toolConfig.tools) ? (body.toolConfig.tools as Record<string, unknown>[]) : [];
    const first = tc.map((t) => (isRecord(t.toolSpec) ? String(t.toolSpec.name) : '')).find(Boolean) ?? 'tool';
    for (const c of s.calls ?? [{}]) {
      const input = typeof c.arguments === 'string' ? (JSON.parse(c.arguments) as Record<string, unknown>) : (c.arguments ?? {});
      blocks.push({ type: 'toolUse', id: c.id ?? toolId(), name: c.name ?? first, input, json: JSON.stringify(input) });
    }
    stopReason = 'tool_use';
  }
  const visible = blocks.reduce((n, b) => n + (b.type === 'text' ? b.deltas.length : b.type === 'toolUse' ? 10 : 0), 0);
  const system = Array.isArray(body.system) ? blockText(body.system) : '';
  const prompt = Math.max(1, countWords(system) + msgs.reduce((n, m) => n + countWords(blockText(m.content)) + 3, 0));
  const reasoningTokens = s.reasoning ? countWords(s.reasoning) : 0;
  const usage = resolveUsage(s.usage ?? (s.reasoning ? { reasoning: reasoningTokens } : undefined), { input: prompt, visibleOutput: Math.max(1, visible) });
  return { blocks, stopReason, usage };
}

/** Bedrock's inputTokens EXCLUDES cache reads and writes; totalTokens counts everything. */
function usageJson(u: Usage) {
  const input = Math.max(0, u.input - u.cached - u.cacheWrite);
  const out: Record<string, unknown> = { inputTokens: input, outputTokens: u.output, totalTokens: input + u.output + u.cached + u.cacheWrite };
  if (u.cached > 0 || u.cacheWrite > 0) {
    out.cacheReadInputTokens = u.cached;
    out.cacheWriteInputTokens = u.cacheWrite;
  }
  if (u.cacheWrite > 0) {
    const h1 = Math.min(u.cacheWrite, u.cacheWrite1h);
    const details = [];
    if (h1 > 0) details.push({ ttl: '1h', inputTokens: h1 });
    if (u.cacheWrite - h1 > 0) details.push({ ttl: '5m', inputTokens: u.cacheWrite - h1 });
    out.cacheDetails = details;
  }
  return out;
}

function converseJson(m: Built) {
  const content = m.blocks.map((b) => {
    switch (b.type) {
      case 'text':
        return { text: b.text };
      case 'reasoning':
        return { reasoningContent: { reasoningText: { text: b.text, signature: b.signature } } };
      case 'toolUse':
        return { toolUse: { toolUseId: b.id, name: b.name, input: b.input } };
    }
  });
  return { output: { message: { role: 'assistant', content } }, stopReason: m.stopReason, usage: usageJson(m.usage), metrics: { latencyMs: 42 } };
}

/** One event-stream message; `p` pads the payload as Bedrock does (clients ignore it). */
export function eventFrame(eventType: string, payload: Record<string, unknown>): Uint8Array {
  const body = JSON.stringify({ ...payload, p: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123'.slice(0, 1 + (eventType.length * 7) % 50) });
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8(body),
  });
}

export function exceptionFrame(exceptionType: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ':exception-type': { type: 'string', value: exceptionType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    },
    body: fromUtf8(JSON.stringify({ message })),
  });
}

/** The frames of a ConverseStream answer. With `cut`, stop after `afterDeltas` text deltas (then the tail frame, if any). */
function streamFrames(m: Built, cut?: { afterDeltas: number; tail?: Uint8Array }): Buffer[] {
  const ev: Uint8Array[] = [eventFrame('messageStart', { role: 'assistant' })];
  const done = () => (cut?.tail ? [...ev, cut.tail] : ev).map((u) => Buffer.from(u));
  const limit = cut ? cut.afterDeltas : Infinity;
  let sent = 0;
  if (limit === 0) return done();
  for (let index = 0; index < m.blocks.length; index++) {
    const b = m.blocks[index];
    const delta = (d: Record<string, unknown>) => ev.push(eventFrame('contentBlockDelta', { contentBlockIndex: index, delta: d }));
    if (b.type === 'text') {
      for (const d of b.deltas) {
        if (sent >= limit) return done();
        delta({ text: d });
        sent++;
      }
      if (sent >= limit) return done();
    } else if (b.type === 'reasoning') {
      for (const d of splitDeltas(b.text)) delta({ reasoningContent: { text: d } });
      delta({ reasoningContent: { signature: b.signature } });
    } else {
      ev.push(eventFrame('contentBlockStart', { contentBlockIndex: index, start: { toolUse: { toolUseId: b.id, name: b.name } } }));
      for (const f of fragment(b.json, 3)) delta({ toolUse: { input: f } });
    }
    ev.push(eventFrame('contentBlockStop', { contentBlockIndex: index }));
  }
  if (cut) return done();
  ev.push(eventFrame('messageStop', { stopReason: m.stopReason }));
  ev.push(eventFrame('metadata', { usage: usageJson(m.usage), metrics: { latencyMs: 42 } }));
  return ev.map((u) => Buffer.from(u));
}

// ---------------------------------------------------------------------------------------------
// ApplyGuardrail

interface ApplyBody {
  source: 'INPUT' | 'OUTPUT';
  content: { text: { text: string; qualifiers?: string[] } }[];
  outputScope?: 'INTERVENTIONS' | 'FULL';
}

function validateApply(body: unknown): string | null {
  if (!body || typeof body !== 'object') return 'Malformed input request, please reformat your input and try again.';
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (k !== 'source' && k !== 'content' && k !== 'outputScope') return `Malformed input request: extraneous key [${k}] is not permitted, please reformat your input and try again.`;
  if (b.source !== 'INPUT' && b.source !== 'OUTPUT') return "1 validation error detected: Value at 'source' failed to satisfy constraint: Member must satisfy enum value set: [INPUT, OUTPUT]";
  if (!Array.isArray(b.content) || b.content.length === 0) return 'The content field is required and must contain at least one content block.';
  for (const c of b.content as unknown[]) {
    const t = (c as { text?: { text?: unknown } })?.text;
    if (!t || typeof t.text !== 'string') return 'Each content block must contain a text block with a text field.';
  }
  return null;
}

const hits = (text: string, words: readonly string[]) => words.some((w) => text.toLowerCase().includes(w.toLowerCase()));
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;

function applyGuardrail(g: FakeGuardrail, body: ApplyBody): Record<string, unknown> {
  const text = body.content.map((c) => c.text.text).join('\n');
  const topics = Object.entries(g.topics ?? {}).filter(([, w]) => hits(text, w)).map(([name]) => ({ name, type: 'DENY', action: 'BLOCKED', detected: true }));
  const filters = Object.entries(g.content ?? {}).filter(([, w]) => hits(text, w)).map(([type]) => ({ type, confidence: 'HIGH', filterStrength: 'HIGH', action: 'BLOCKED', detected: true }));
  const words = (g.words ?? []).filter((w) => hits(text, [w])).map((match) => ({ match, action: 'BLOCKED', detected: true }));
  const emails = g.email ? [...text.matchAll(EMAIL)].map((m) => ({ match: m[0], type: 'EMAIL', action: g.email, detected: true })) : [];
  const assessment: Record<string, unknown> = {};
  if (topics.length) assessment.topicPolicy = { topics };
  if (filters.length) assessment.contentPolicy = { filters };
  if (words.length) assessment.wordPolicy = { customWords: words, managedWordLists: [] };
  if (emails.length) assessment.sensitiveInformationPolicy = { piiEntities: emails, regexes: [] };
  const intervened = Object.keys(assessment).length > 0;
  const blocked = topics.length + filters.length + words.length > 0 || emails.some((e) => e.action === 'BLOCKED');
  const messaging = body.source === 'INPUT' ? (g.blockedInputMessaging ?? 'Sorry, the model cannot answer this question.') : (g.blockedOutputsMessaging ?? 'Sorry, the model cannot answer this question.');
  const outputs = !intervened ? [] : blocked ? [{ text: messaging }] : [{ text: text.replace(EMAIL, '{EMAIL}') }];
  const units = Math.max(1, Math.ceil(text.length / 1000));
  return {
    usage: { topicPolicyUnits: g.topics ? units : 0, contentPolicyUnits: g.content ? units : 0, wordPolicyUnits: g.words ? units : 0, sensitiveInformationPolicyUnits: g.email ? units : 0, sensitiveInformationPolicyFreeUnits: 0, contextualGroundingPolicyUnits: 0 },
    action: intervened ? 'GUARDRAIL_INTERVENED' : 'NONE',
    ...(intervened ? { actionReason: 'Guardrail blocked.' } : {}),
    outputs,
    assessments: intervened ? [assessment] : [],
    guardrailCoverage: { textCharacters: { guarded: text.length, total: text.length } },
  };
}
