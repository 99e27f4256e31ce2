// Fake Azure OpenAI server: dated deployment routes (/openai/deployments/{dep}/chat/completions?api-version=…),
// the v1 routes (/openai/v1/chat/completions), models lists, Azure auth, content-filter annotations and error bodies.
import { handleTransport, headerValue, idMaker, isRecord, retryHeaders, sendJson, startFake } from './common.ts';
import type { Delivery, FakeOptions, FakeServer, RetryHints, ToolCallSpec, TransportScenario } from './common.ts';
import { bearerToken, modelParamError, openaiBody, OPENAI_BAD_JSON_MESSAGE, openaiError, serveChatScenario, serveEmbeddingsScenario, validateChatBody } from './openai.ts';
import type { ChatSuccessOptions, ErrorResponse, OpenAIFinishReason } from './openai.ts';

/** Azure errors (wire-formats §2.5). */
export type AzureErrorName =
  | 'content_filter' // 400 code content_filter + innererror ResponsibleAIPolicyViolation (prompt blocked)
  | 'context_length_exceeded' // 400, OpenAI-shaped
  | 'invalid_request' // 400, OpenAI-shaped
  | 'unauthorized' // 401 code "401"
  | 'permission_denied' // 403 code "403"
  | 'deployment_not_found' // 404 DeploymentNotFound
  | 'timeout' // 408 code "Timeout"
  | 'rate_limit' // 429 code "429" + retry-after + retry-after-ms
  | 'server_error' // 500 InternalServerError
  | 'service_unavailable'; // 503

export type AzureFilterCategory = 'hate' | 'self_harm' | 'sexual' | 'violence';

interface AzureExtras {
  /** Output filtered (implied with finish_reason content_filter; default violence/medium). */
  filtered?: { category?: AzureFilterCategory; severity?: 'low' | 'medium' | 'high' };
  /** Add the trailing `content_filter_offsets` chunk that asynchronous filtering sends after the finish chunk. */
  asyncFilter?: boolean;
}

export type AzureScenario = (
  /** `finishReason: 'content_filter'` = output blocked (choice content_filter_results with filtered:true). */
  | ({ kind: 'text'; text?: string | string[]; finishReason?: OpenAIFinishReason } & ChatSuccessOptions & AzureExtras)
  | ({ kind: 'tool_calls'; calls?: ToolCallSpec[]; text?: string } & ChatSuccessOptions & AzureExtras)
  | ({ kind: 'json'; value?: unknown } & ChatSuccessOptions & AzureExtras)
  | ({ kind: 'refusal'; refusal?: string } & ChatSuccessOptions & AzureExtras)
  | ({ kind: 'error'; error: AzureErrorName; message?: string } & RetryHints)
  | { kind: 'stream_error'; text?: string; afterDeltas?: number; error?: AzureErrorName; message?: string; style?: 'data' | 'event' }
  | { kind: 'malformed' }
  | TransportScenario
) &
  Delivery;

/** Key in `api-key` (or `Authorization: Bearer`), default `test-key-azure`. */
export interface FakeAzureOptions extends Pick<FakeOptions, 'apiKey'> {
  /** Deployment name -> model version reported in responses. */
  deployments?: Record<string, string>;
}

export interface FakeAzure extends FakeServer<AzureScenario> {
  /** Base URL of the v1 API (`{origin}/openai/v1`), usable with the plain OpenAI client. */
  v1Url: string;
}

export const AZURE_TEST_KEY = 'test-key-azure';

const NOT_FOUND: ErrorResponse = { status: 404, body: { error: { code: '404', message: 'Resource not found' } } };

export async function startFakeAzure(opts: FakeAzureOptions = {}): Promise<FakeAzure> {
  const apiKey = opts.apiKey === undefined ? AZURE_TEST_KEY : opts.apiKey;
  const deployments = opts.deployments ?? { 'gpt-4o': 'gpt-4o-2024-11-20', 'gpt-4o-mini': 'gpt-4o-mini-2024-07-18', 'o3-mini': 'o3-mini-2025-01-31' };
  const ids = idMaker();

  const fake = await startFake<AzureScenario>({
    basePath: '/openai',
    defaultScenario: { kind: 'text' },
    async handle(ex, next) {
      const reqId = ids('', 8) + '-fake-4000-8000-000000000000';
      const base = { 'apim-request-id': reqId, 'x-request-id': reqId, 'x-ms-region': 'East US' };
      const fail = (e: ErrorResponse, extra: Record<string, string> = {}) => sendJson(ex, e.status, e.body, { ...base, ...e.headers, ...extra });
      const { method } = ex.req;
      const path = ex.url.pathname;
      const apiVersion = ex.url.searchParams.get('api-version');
      const dated = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(path);
      const isV1Chat = path === '/openai/v1/chat/completions';
      const datedEmbeddings = /^\/openai\/deployments\/([^/]+)\/embeddings$/.exec(path);
      const isV1Embeddings = path === '/openai/v1/embeddings';
      const isModels = path === '/openai/models';
      const isV1Models = path === '/openai/v1/models';
      const known = (dated || isV1Chat || datedEmbeddings || isV1Embeddings) ? method === 'POST' : (isModels || isV1Models) && method === 'GET';
      if (!known) return fail(NOT_FOUND);

      // Dated routes need ?api-version=YYYY-MM-DD[-preview]; /openai/v1 takes none (or v1 / preview).
      if (dated || datedEmbeddings || isModels) {
        if (!apiVersion) return fail(NOT_FOUND);
        if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(apiVersion)) return fail({ status: 400, body: { error: { code: 'BadRequest', message: 'API version not supported' } } });
      } else if (apiVersion && apiVersion !== 'v1' && apiVersion !== 'preview') {
        return fail({ status: 400, body: { error: { code: 'BadRequest', message: 'api-version query parameter is not allowed when using /v1 path' } } });
      }

      const key = headerValue(ex.req.headers['api-key']) ?? bearerToken(ex.req.headers.authorization);
      if (!key || (apiKey !== null && key !== apiKey)) return fail(azureError('unauthorized'));

      if (isModels) return sendJson(ex, 200, { data: Object.values(deployments).map(datedModelEntry), object: 'list' }, base);
      if (isV1Models) return sendJson(ex, 200, { object: 'list', data: Object.keys(deployments).map((id) => ({ id, object: 'model', created: 1715367049, owned_by: 'system' })) }, base);

      if (ex.badJson) return fail(openaiBody(400, OPENAI_BAD_JSON_MESSAGE, 'invalid_request_error', null, null));
      const body = ex.record.body as Record<string, unknown>;
      if (datedEmbeddings || isV1Embeddings) {
        const name = datedEmbeddings ? decodeURIComponent(datedEmbeddings[1]) : isRecord(body) ? String(body.model ?? '') : '';
        if (!(name in deployments)) return fail(azureError('deployment_not_found'));
        const version = apiVersion ?? 'v1';
        return serveEmbeddingsScenario(ex, next, { body, model: deployments[name], headers: base, errorFor: (n, message) => azureError(n as AzureErrorName, { message, apiVersion: version }) });
      }
      const deployment = dated ? decodeURIComponent(dated[1]) : isRecord(body) ? String(body.model ?? '') : '';
      if (!(deployment in deployments)) return fail(azureError('deployment_not_found'));
      const invalid = validateChatBody(body, 'azure');
      if (invalid) return fail(openaiBody(400, invalid.message, 'invalid_request_error', invalid.param, invalid.code));
      // A dated api-version knows only the fields that existed when it was published.
      const unknown = dated && apiVersion ? fieldUnknownTo(apiVersion, body) : null;
      if (unknown) return fail(unknown);
      const rejected = modelParamError(deployments[deployment], body);
      if (rejected) return fail(rejected);

      const s = next();
      if (await handleTransport(ex, s)) return;
      const version = apiVersion ?? 'v1';
      const okHeaders = { ...base, 'x-ratelimit-remaining-requests': '99', 'x-ratelimit-remaining-tokens': '99000', 'azureml-model-session': 'd001-fake' };
      await serveChatScenario(ex, s, {
        flavor: 'azure',
        stream: body.stream === true,
        body,
        ids,
        model: deployments[deployment],
        headers: okHeaders,
        errorFor: (name, message) => azureError(name as AzureErrorName, { message, apiVersion: version, hints: s as RetryHints }),
        defaultStreamError: 'server_error',
        streamErrorObject: (name, message) => (azureError(name as AzureErrorName, { message, apiVersion: version }).body as { error: unknown }).error,
        decorate(r, sc) {
          const x = sc as AzureExtras;
          r.asyncFilter = x.asyncFilter;
          if (x.filtered || r.finishReason === 'content_filter') {
            r.filtered = { category: x.filtered?.category ?? 'violence', severity: x.filtered?.severity ?? 'medium' };
          }
        },
      });
    },
  });
  return { ...fake, v1Url: `${fake.origin}/openai/v1` };
}

/**
 * The dated api-version that introduced each request field (learn.microsoft.com API lifecycle and
 * wire-formats §2.3; the fake's own reading). Fields not listed exist in every version.
 */
const FIELD_SINCE: Record<string, string> = {
  tools: '2023-12-01',
  tool_choice: '2023-12-01',
  response_format: '2023-12-01',
  logprobs: '2023-12-01',
  top_logprobs: '2023-12-01',
  'response_format.json_schema': '2024-08-01',
  stream_options: '2024-09-01',
  max_completion_tokens: '2024-09-01',
  seed: '2024-10-21',
  parallel_tool_calls: '2024-12-01',
  reasoning_effort: '2024-12-01',
  store: '2024-12-01',
  metadata: '2024-12-01',
  'role developer': '2024-12-01',
  prediction: '2025-01-01',
  modalities: '2025-01-01',
  audio: '2025-01-01',
};

/** 400 unknown_parameter for the first field the api-version predates, or null. */
function fieldUnknownTo(apiVersion: string, body: Record<string, unknown>): ErrorResponse | null {
  const date = apiVersion.slice(0, 10);
  const unknown = (field: string) => openaiBody(400, `Unknown parameter: '${field}'.`, 'invalid_request_error', field, 'unknown_parameter');
  for (const field of Object.keys(body)) {
    const since = FIELD_SINCE[field];
    if (since && date < since && body[field] != null) return unknown(field);
  }
  const rf = body.response_format;
  if (isRecord(rf) && rf.type === 'json_schema' && date < FIELD_SINCE['response_format.json_schema']) {
    return openaiBody(400, "Invalid value: 'json_schema'. Supported values are: 'text' and 'json_object'.", 'invalid_request_error', 'response_format.type', 'invalid_value');
  }
  if (date < FIELD_SINCE['role developer'] && Array.isArray(body.messages) && body.messages.some((m) => isRecord(m) && m.role === 'developer')) {
    return openaiBody(400, "Invalid value: 'developer'. Supported values are: 'system', 'assistant', 'user', 'function', and 'tool'.", 'invalid_request_error', 'messages[0].role', 'invalid_value');
  }
  return null;
}

function datedModelEntry(id: string) {
  return {
    status: 'succeeded',
    capabilities: { fine_tune: false, inference: true, completion: false, chat_completion: true, embeddings: false },
    lifecycle_status: 'generally-available',
    deprecation: { inference: 1798761600 },
    id,
    created_at: 1715367049,
    object: 'model',
  };
}

const CONTENT_FILTER_MESSAGE =
  "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766";

export function azureError(name: AzureErrorName, o: { message?: string; apiVersion?: string; hints?: RetryHints } = {}): ErrorResponse {
  const m = (fallback: string) => o.message ?? fallback;
  switch (name) {
    case 'content_filter':
      return {
        status: 400,
        body: {
          error: {
            message: m(CONTENT_FILTER_MESSAGE),
            type: null,
            param: 'prompt',
            code: 'content_filter',
            status: 400,
            innererror: {
              code: 'ResponsibleAIPolicyViolation',
              content_filter_result: {
                hate: { filtered: false, severity: 'safe' },
                jailbreak: { filtered: true, detected: true },
                self_harm: { filtered: false, severity: 'safe' },
                sexual: { filtered: false, severity: 'safe' },
                violence: { filtered: true, severity: 'medium' },
              },
            },
          },
        },
      };
    case 'context_length_exceeded':
    case 'invalid_request':
      return openaiError(name, { message: o.message }); // Azure passes these through in OpenAI's shape
    case 'unauthorized':
      return { status: 401, body: { error: { code: '401', message: m('Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.') } } };
    case 'permission_denied':
      return { status: 403, body: { error: { code: '403', message: m('Access denied due to Virtual Network/Firewall rules.') } } };
    case 'deployment_not_found':
      return { status: 404, body: { error: { code: 'DeploymentNotFound', message: m('The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.') } } };
    case 'timeout':
      return { status: 408, body: { error: { code: 'Timeout', message: m('The operation was timeout.') } } };
    case 'rate_limit': {
      const secs = typeof o.hints?.retryAfter === 'number' ? o.hints.retryAfter : 1;
      return {
        status: 429,
        body: {
          error: {
            code: '429',
            message: m(`Requests to the ChatCompletions_Create Operation under Azure OpenAI API version ${o.apiVersion ?? '2024-10-21'} have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after ${secs} second${secs === 1 ? '' : 's'}. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.`),
          },
        },
        headers: { 'retry-after': String(secs), 'retry-after-ms': String(secs * 1000), 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-remaining-tokens': '0', ...retryHeaders(o.hints ?? {}) },
      };
    }
    case 'server_error':
      return { status: 500, body: { error: { code: 'InternalServerError', message: m('The server had an error while processing your request. Sorry about that!') } } };
    case 'service_unavailable':
      return { status: 503, body: { error: { code: 'ServiceUnavailable', message: m('The service is temporarily unable to process your request. Please try again later.') } } };
  }
}

