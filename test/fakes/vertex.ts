// Fake Google Vertex AI: publisher-model endpoints under /v1(beta1)/projects/{p}/locations/{l}/publishers/…
// (Gemini generateContent / streamGenerateContent / predict, Anthropic rawPredict / streamRawPredict, Mistral's
// OCR models' rawPredict, which takes Mistral's OCR body with documents as data URLs only) behind
// OAuth bearer tokens, and the OAuth token endpoint that issues them after verifying the service account's
// RS256-signed JWT assertion. Model answers come from the Gemini and Anthropic fakes, which run behind this
// one: a Vertex request is checked here (token, project, location, publisher, body differences), then
// forwarded in its publisher's Developer-API form and the answer relayed chunk for chunk. Scenarios are
// scripted here; the one a request takes becomes the publisher fake's default just before forwarding
// (the publisher fakes' own queues stay empty), so concurrent requests should share one scenario.
import { createHash, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type AnthropicScenario, type FakeAnthropic } from './anthropic.ts';
import { countWords, handleTransport, isRecord, sendJson, startFake, type Exchange, type FakeServer, type TransportScenario } from './common.ts';
import { GEMINI_TEST_KEY, startFakeGemini, type FakeGemini, type GeminiScenario } from './gemini.ts';
import { fakePng } from './openai.ts';
import { MISTRAL_TEST_KEY, startFakeMistral, type FakeMistral, type MistralScenario } from './mistral.ts';

/** Where google-auth-library addresses the assertion (`aud`), whatever URL it is posted to. */
export const GOOGLE_TOKEN_AUD = 'https://oauth2.googleapis.com/token';
export const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

// ---------------------------------------------------------------------------------------------
// Test service accounts

/** A service account made for one test run: a fresh RSA key pair, never written into the repository. */
export interface TestServiceAccount {
  email: string;
  projectId: string;
  keyId: string;
  /** PKCS#8 PEM, as Google's key files carry it. */
  privateKeyPem: string;
  publicKey: KeyObject;
  /** The key file's JSON (`type: service_account`). */
  keyFile(tokenUri?: string): Record<string, string>;
  /** Write the key file into `dir` and return its path. */
  writeKeyFile(dir: string, tokenUri?: string, name?: string): string;
}

export function makeTestServiceAccount(projectId = 'signalbox-test', name = 'gateway'): TestServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const email = `${name}@${projectId}.iam.gserviceaccount.com`;
  const keyId = randomBytes(20).toString('hex');
  const keyFile = (tokenUri = GOOGLE_TOKEN_AUD) => ({
    type: 'service_account',
    project_id: projectId,
    private_key_id: keyId,
    private_key: privateKeyPem,
    client_email: email,
    client_id: String(100000000000000000000n + BigInt(`0x${keyId.slice(0, 12)}`)),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: tokenUri,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
    universe_domain: 'googleapis.com',
  });
  return {
    email,
    projectId,
    keyId,
    privateKeyPem,
    publicKey,
    keyFile,
    writeKeyFile(dir, tokenUri, file = `${name}-key.json`) {
      const path = join(dir, file);
      writeFileSync(path, JSON.stringify(keyFile(tokenUri), null, 2), { mode: 0o600 });
      return path;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/** Errors Vertex itself returns (google.rpc.Status), for either publisher. */
export type VertexErrorName =
  | 'resource_exhausted' // 429 quota per minute per base model
  | 'unavailable' // 503
  | 'permission_denied' // 403
  | 'unauthenticated' // 401
  | 'not_found' // 404 publisher model
  | 'invalid_argument' // 400
  | 'context_length_exceeded' // 400 INVALID_ARGUMENT "The input token count … exceeds the maximum …"
  | 'internal' // 500
  | 'deadline_exceeded'; // 504

export type VertexScenario =
  /** A Vertex-level google.rpc.Status error; `array` sends it as `[{"error":…}]`, as Vertex does for some Claude errors. */
  | { kind: 'vertex_error'; error: VertexErrorName; message?: string; array?: boolean }
  /** Forwarded to the publisher fake of the request (Gemini or Anthropic scenario). */
  | GeminiScenario
  | AnthropicScenario
  | MistralScenario
  | TransportScenario;

export interface TokenFailure {
  status?: number;
  /** OAuth error code, default `invalid_grant`. */
  error?: string;
  description?: string;
}

export interface FakeVertexOptions {
  project?: string;
  location?: string;
  /** The service accounts whose assertions the token endpoint accepts (by client_email). */
  accounts: TestServiceAccount[];
  /** Token lifetime in seconds (default 3600). */
  expiresIn?: number;
}

export interface IssuedToken {
  token: string;
  email: string;
  scope: string;
  expiresAt: number;
}

export interface FakeVertex extends FakeServer<VertexScenario> {
  /** `http://127.0.0.1:PORT/token`: the OAuth token endpoint. */
  tokenUrl: string;
  project: string;
  location: string;
  /** Tokens issued, in order (the token endpoint's successful answers). */
  issued: IssuedToken[];
  /** Token requests refused (bad assertion, or failing on demand), with the reason. */
  refused: string[];
  /** Lifetime of tokens issued from now on, seconds. */
  setExpiresIn(seconds: number): void;
  /** Refuse the next `times` token requests (default: every one until `failTokens(null)`). */
  failTokens(f: TokenFailure | null, times?: number): void;
  /** Delay token answers (to make concurrent requests overlap a refresh). */
  setTokenDelay(ms: number): void;
  /** Expire every issued token now (Vertex then answers 401 ACCESS_TOKEN_EXPIRED). */
  expireTokens(): void;
  /** The Gemini and Anthropic fakes behind this one (their recorded requests are the forwarded forms). */
  gemini: FakeGemini;
  anthropic: FakeAnthropic;
  mistral: FakeMistral;
}

// ---------------------------------------------------------------------------------------------

const JSON_UTF8 = { 'content-type': 'application/json; charset=UTF-8', vary: 'Origin, X-Origin, Referer', server: 'scaffolding on HTTPServer2' };

function status(code: number, canonical: string, message: string, details?: unknown[]) {
  return { code, body: { error: details ? { code, message, status: canonical, details } : { code, message, status: canonical } } };
}

export function vertexError(name: VertexErrorName, ctx: { resource: string; model: string; message?: string }) {
  const m = (fallback: string) => ctx.message ?? fallback;
  const base = ctx.model.replace(/@.*$/, '');
  switch (name) {
    case 'resource_exhausted':
      return status(429, 'RESOURCE_EXHAUSTED', m(`Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model with base model: ${base}. Please submit a quota increase request. https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.`));
    case 'unavailable':
      return status(503, 'UNAVAILABLE', m('The service is currently unavailable.'));
    case 'permission_denied':
      return status(403, 'PERMISSION_DENIED', m(`Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/${ctx.resource}' (or it may not exist).`), [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'IAM_PERMISSION_DENIED', domain: 'aiplatform.googleapis.com', metadata: { permission: 'aiplatform.endpoints.predict', resource: ctx.resource } },
      ]);
    case 'unauthenticated':
      return status(401, 'UNAUTHENTICATED', m('Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.'), [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED', domain: 'googleapis.com', metadata: { service: 'aiplatform.googleapis.com', method: 'google.cloud.aiplatform.v1.PredictionService.GenerateContent' } },
      ]);
    case 'not_found':
      return status(404, 'NOT_FOUND', m(`Publisher Model \`${ctx.resource}\` was not found or your project does not have access to it. Please ensure you are using a valid model version. For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions`));
    case 'invalid_argument':
      return status(400, 'INVALID_ARGUMENT', m('Request contains an invalid argument.'));
    case 'context_length_exceeded':
      return status(400, 'INVALID_ARGUMENT', m('The input token count (1300000) exceeds the maximum number of tokens allowed (1048576).'));
    case 'internal':
      return status(500, 'INTERNAL', m('Internal error encountered.'));
    case 'deadline_exceeded':
      return status(504, 'DEADLINE_EXCEEDED', m('Deadline expired before operation could complete.'));
  }
}

const ROUTE = /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/(google|anthropic|mistralai)\/models\/([^/:]+):([A-Za-z]+)$/;
const METHODS: Record<string, Set<string>> = {
  google: new Set(['generateContent', 'streamGenerateContent', 'predict']),
  anthropic: new Set(['rawPredict', 'streamRawPredict']),
  mistralai: new Set(['rawPredict']),
};

export async function startFakeVertex(opts: FakeVertexOptions): Promise<FakeVertex> {
  const project = opts.project ?? opts.accounts[0]?.projectId ?? 'signalbox-test';
  const location = opts.location ?? 'us-central1';
  const gemini = await startFakeGemini({ apiKey: GEMINI_TEST_KEY });
  const anthropic = await startFakeAnthropic({ apiKey: ANTHROPIC_TEST_KEY });
  const mistral = await startFakeMistral({ apiKey: MISTRAL_TEST_KEY });
  const accounts = new Map(opts.accounts.map((a) => [a.email, a]));
  const issued: IssuedToken[] = [];
  const refused: string[] = [];
  let expiresIn = opts.expiresIn ?? 3600;
  let failure: { f: TokenFailure; left: number } | undefined;
  let tokenDelayMs = 0;
  let tokenUrl = '';

  const fake = await startFake<VertexScenario>({
    basePath: '',
    defaultScenario: { kind: 'text' },
    async handle(ex, next) {
      const path = ex.url.pathname;
      if (path === '/token' && ex.req.method === 'POST') return token(ex);
      const route = ROUTE.exec(path);
      const gfail = (e: { code: number; body: unknown }, array = false) => sendJson(ex, e.code, JSON.stringify(array ? [e.body] : e.body, null, 2), JSON_UTF8);
      if (!route || ex.req.method !== 'POST' || !METHODS[route[4]].has(route[6])) {
        return gfail(status(404, 'NOT_FOUND', `The requested URL ${path} was not found on this server.`));
      }
      const [, , p, l, publisher, rawModel, method] = route;
      const model = decodeURIComponent(rawModel);
      const resource = `projects/${p}/locations/${l}/publishers/${publisher}/models/${model}`;

      // Authentication first, as Google's front end does.
      const bearer = /^Bearer\s+(\S+)$/i.exec(ex.req.headers.authorization ?? '')?.[1];
      if (!bearer) {
        return gfail(status(401, 'UNAUTHENTICATED', 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.', [
          { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'CREDENTIALS_MISSING', domain: 'googleapis.com', metadata: { service: 'aiplatform.googleapis.com' } },
        ]));
      }
      const t = issued.find((x) => x.token === bearer);
      if (!t) return gfail(vertexError('unauthenticated', { resource, model }));
      if (t.expiresAt <= Date.now()) {
        return gfail(status(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.', [
          { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'ACCESS_TOKEN_EXPIRED', domain: 'googleapis.com', metadata: { service: 'aiplatform.googleapis.com' } },
        ]));
      }
      if (!t.scope.split(' ').includes(CLOUD_PLATFORM)) return gfail(status(403, 'PERMISSION_DENIED', 'Request had insufficient authentication scopes.'));
      if (p !== project || (l !== location && !(l === 'global' && location === 'global'))) return gfail(vertexError('permission_denied', { resource, model }));
      const known = publisher === 'anthropic' ? model.startsWith('claude-') : publisher === 'mistralai' ? model.startsWith('mistral-ocr-') : /^(gemini-|text-embedding-|text-multilingual-embedding-|imagen-)/.test(model);
      if (!known) return gfail(vertexError('not_found', { resource, model }));
      if (ex.badJson || !isRecord(ex.record.body)) return gfail(status(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.'));

      const s = next();
      if (await handleTransport(ex, s)) return;
      if (s.kind === 'vertex_error') return gfail(vertexError(s.error, { resource, model, message: s.message }), s.array);
      if (method === 'predict') return model.startsWith('imagen-') ? imagen(ex) : predict(ex, model);

      const body = { ...(ex.record.body as Record<string, unknown>) };
      if (publisher === 'mistralai') {
        // Mistral's OCR body as it is (the model in the body too). Vertex's partner models reach no
        // network: a document must come as a data URL (LiteLLM's Vertex OCR fetches URLs for that
        // reason); the 400 below is a guess at how Vertex words the refusal.
        const doc = isRecord(body.document) ? body.document : {};
        const url = doc.document_url ?? doc.image_url;
        if (typeof url === 'string' && !url.startsWith('data:')) return gfail(status(400, 'INVALID_ARGUMENT', 'Document URLs are not supported: send the document as a base64 data URL.'));
        // The Vertex fake's default (a text answer) is, for an OCR model, a reading of the document.
        mistral.setDefault(s.kind === 'text' ? { kind: 'ocr' } : (s as MistralScenario));
        return relay(ex, `${mistral.origin}/v1/ocr`, { authorization: `Bearer ${MISTRAL_TEST_KEY}` }, body);
      }
      if (publisher === 'anthropic') {
        // Vertex's differences from the Messages API: the model is in the URL, the version in the body.
        const aerr = (message: string) => sendJson(ex, 400, { type: 'error', error: { type: 'invalid_request_error', message } });
        const version = body.anthropic_version;
        if (version === undefined) return aerr('anthropic_version: Field required');
        if (typeof version !== 'string' || !/^(vertex-2023-10-16|\d{4}-\d{2}-\d{2})$/.test(version)) return aerr(`anthropic_version: invalid version '${String(version)}'`);
        if ('model' in body) return aerr('model: Extra inputs are not permitted');
        if ((method === 'streamRawPredict') !== (body.stream === true)) return aerr(`stream: ${method} requires "stream": ${method === 'streamRawPredict'}`);
        delete body.anthropic_version;
        anthropic.setDefault(s as AnthropicScenario);
        const headers: Record<string, string> = { 'x-api-key': ANTHROPIC_TEST_KEY, 'anthropic-version': '2023-06-01' };
        const beta = ex.req.headers['anthropic-beta'];
        if (typeof beta === 'string') headers['anthropic-beta'] = beta;
        return relay(ex, `${anthropic.origin}/v1/messages`, headers, { model, ...body });
      }
      gemini.setDefault(s as GeminiScenario);
      return relay(ex, `${gemini.origin}/v1beta/models/${encodeURIComponent(model)}:${method}${ex.url.search}`, { 'x-goog-api-key': GEMINI_TEST_KEY }, body);
    },
  });
  tokenUrl = `${fake.origin}/token`;

  /** The OAuth 2.0 JWT-bearer grant (RFC 7523), checked as Google checks it. */
  async function token(ex: Exchange): Promise<void> {
    if (tokenDelayMs) await new Promise((r) => setTimeout(r, tokenDelayMs));
    const refuse = (code: number, error: string, description: string) => {
      refused.push(`${error}: ${description}`);
      return sendJson(ex, code, { error, error_description: description });
    };
    if (!/^application\/x-www-form-urlencoded/.test(ex.req.headers['content-type'] ?? '')) return refuse(400, 'invalid_request', 'Expected application/x-www-form-urlencoded.');
    const form = new URLSearchParams(ex.record.rawBody);
    if (form.get('grant_type') !== JWT_BEARER) return refuse(400, 'unsupported_grant_type', `Invalid grant_type: ${form.get('grant_type') ?? ''}`);
    const claims = verifyAssertion(form.get('assertion') ?? '');
    if (typeof claims === 'string') return refuse(400, 'invalid_grant', claims);
    if (failure && failure.left > 0) {
      failure.left--;
      return refuse(failure.f.status ?? 400, failure.f.error ?? 'invalid_grant', failure.f.description ?? 'Invalid grant: account not found');
    }
    const t: IssuedToken = { token: `ya29.fake-${randomBytes(24).toString('hex')}`, email: claims.iss, scope: claims.scope, expiresAt: Date.now() + expiresIn * 1000 };
    issued.push(t);
    return sendJson(ex, 200, { access_token: t.token, expires_in: expiresIn, token_type: 'Bearer' });
  }

  /** The assertion's claims, or why it is refused (Google's own wordings where known). */
  function verifyAssertion(jwt: string): { iss: string; scope: string } | string {
    const parts = jwt.split('.');
    if (parts.length !== 3) return 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.';
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      return 'Invalid JWT: Cannot parse the header or the claim set.';
    }
    if (header.alg !== 'RS256') return `Invalid JWT: alg ${String(header.alg)} is not RS256.`;
    const account = typeof claims.iss === 'string' ? accounts.get(claims.iss) : undefined;
    if (!account) return 'Invalid grant: account not found';
    if (header.kid !== undefined && header.kid !== account.keyId) return 'Invalid JWT Signature.';
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
    if (!verify('RSA-SHA256', signed, account.publicKey, Buffer.from(parts[2], 'base64url'))) return 'Invalid JWT Signature.';
    if (claims.aud !== GOOGLE_TOKEN_AUD && claims.aud !== tokenUrl) return `Invalid JWT: audience ${String(claims.aud)} is not the token endpoint.`;
    const now = Math.floor(Date.now() / 1000);
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (!Number.isFinite(iat) || !Number.isFinite(exp) || exp <= now || iat > now + 60 || exp - iat > 3600) {
      return 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';
    }
    if (typeof claims.scope !== 'string' || claims.scope.trim() === '') return 'Invalid JWT: scope is missing.';
    return { iss: account.email, scope: claims.scope };
  }

  return {
    ...fake,
    tokenUrl,
    project,
    location,
    issued,
    refused,
    gemini,
    anthropic,
    mistral,
    reset() {
      fake.reset();
      gemini.reset();
      anthropic.reset();
      mistral.reset();
      issued.length = 0;
      refused.length = 0;
      expiresIn = opts.expiresIn ?? 3600;
      failure = undefined;
      tokenDelayMs = 0;
    },
    setExpiresIn(seconds) {
      expiresIn = seconds;
    },
    failTokens(f, times = Infinity) {
      failure = f ? { f, left: times } : undefined;
    },
    setTokenDelay(ms) {
      tokenDelayMs = ms;
    },
    expireTokens() {
      for (const t of issued) t.expiresAt = 0;
    },
    async close() {
      await Promise.all([fake.close(), gemini.close(), anthropic.close(), mistral.close()]);
    },
  };
}

/** POST `body` to the publisher fake and relay its answer (status, headers, every chunk as it comes). */
function relay(ex: Exchange, url: string, headers: Record<string, string>, body: unknown): Promise<void> {
  return new Promise<void>((resolve) => {
    const up = http.request(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, signal: ex.signal }, (r) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(r.headers)) if (v !== undefined && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
      ex.res.writeHead(r.statusCode ?? 502, out);
      ex.record.status = r.statusCode;
      ex.res.flushHeaders();
      r.on('data', (c: Buffer) => ex.res.write(c));
      r.on('end', () => {
        ex.res.end();
        resolve();
      });
      r.on('error', cut);
      r.on('aborted', cut);
    });
    // The publisher fake reset its connection (a `disconnect` or a `destroy` interrupt): do the same.
    const cut = () => {
      ex.res.destroy();
      resolve();
    };
    up.on('error', cut);
    up.end(JSON.stringify(body));
  });
}

// ---------------------------------------------------------------------------------------------
// Embeddings (:predict)

/** The default dimensions of Vertex's embedding models. */
export function defaultDimensions(model: string): number {
  return model.startsWith('gemini-embedding') ? 3072 : 768;
}

/** The fake's deterministic vector for a text: unit length, derived from its SHA-256. */
export function fakeEmbedding(text: string, dims: number): number[] {
  const out: number[] = [];
  let block = createHash('sha256').update(text).digest();
  for (let i = 0; out.length < dims; i++) {
    if (i > 0 && i % 32 === 0) block = createHash('sha256').update(block).digest();
    out.push((block[i % 32] - 127.5) / 127.5);
  }
  const norm = Math.hypot(...out) || 1;
  // Rounded to float32 so a client's Float32Array holds exactly these values.
  return out.map((v) => Math.fround(v / norm));
}

const TASK_TYPES = new Set(['RETRIEVAL_QUERY', 'RETRIEVAL_DOCUMENT', 'SEMANTIC_SIMILARITY', 'CLASSIFICATION', 'CLUSTERING', 'QUESTION_ANSWERING', 'FACT_VERIFICATION', 'CODE_RETRIEVAL_QUERY']);

const IMAGEN_PARAMETERS = new Set(['sampleCount', 'aspectRatio', 'negativePrompt', 'seed', 'addWatermark', 'enhancePrompt', 'personGeneration', 'safetySetting', 'includeRaiReason', 'includeSafetyAttributes', 'outputOptions', 'sampleImageSize', 'language', 'guidanceScale', 'storageUri']);
const IMAGEN_RATIOS = new Set(['1:1', '3:4', '4:3', '9:16', '16:9']);

/**
 * Imagen's :predict (what @google/genai's generateImages sends on Vertex): one instance with the
 * prompt, 1..4 samples, one of five aspect ratios; predictions carry each image's bytes and media
 * type, and the prompt as Imagen rewrote it when enhancePrompt is on (the default). A prompt with
 * "forbidden" in it is filtered: its prediction carries raiFilteredReason and no bytes.
 */
function imagen(ex: Exchange): Promise<void> {
  const bad = (message: string) => sendJson(ex, 400, JSON.stringify({ error: { code: 400, message, status: 'INVALID_ARGUMENT' } }, null, 2), JSON_UTF8);
  const body = ex.record.body as Record<string, unknown>;
  const instances = body.instances;
  if (!Array.isArray(instances) || instances.length !== 1 || !isRecord(instances[0]) || typeof instances[0].prompt !== 'string' || instances[0].prompt === '') {
    return bad('Invalid instances: one instance with a non-empty prompt is required.');
  }
  const prompt = instances[0].prompt;
  const params = isRecord(body.parameters) ? body.parameters : {};
  for (const k of Object.keys(params)) if (!IMAGEN_PARAMETERS.has(k)) return bad(`Invalid parameter: ${k}`);
  const n = params.sampleCount === undefined ? 4 : Number(params.sampleCount);
  if (!Number.isInteger(n) || n < 1 || n > 4) return bad('sampleCount must be between 1 and 4.');
  if (params.aspectRatio !== undefined && !IMAGEN_RATIOS.has(String(params.aspectRatio))) return bad(`Unsupported aspect ratio: ${String(params.aspectRatio)}`);
  const mime = isRecord(params.outputOptions) && typeof params.outputOptions.mimeType === 'string' ? params.outputOptions.mimeType : 'image/png';
  const enhanced = params.enhancePrompt === false ? undefined : `${prompt}, highly detailed`;
  const predictions = /forbidden/i.test(prompt)
    ? [{ raiFilteredReason: "Your current safety filter threshold filtered out 1 generated images. You will not be charged for blocked images." }]
    : Array.from({ length: n }, (_, i) => ({ bytesBase64Encoded: fakePng(prompt, i).toString('base64'), mimeType: mime, ...(enhanced ? { prompt: enhanced } : {}) }));
  return sendJson(ex, 200, JSON.stringify({ predictions }, null, 2), JSON_UTF8);
}

function predict(ex: Exchange, model: string): Promise<void> {
  const bad = (message: string) => sendJson(ex, 400, JSON.stringify({ error: { code: 400, message, status: 'INVALID_ARGUMENT' } }, null, 2), JSON_UTF8);
  const body = ex.record.body as Record<string, unknown>;
  const instances = body.instances;
  if (!Array.isArray(instances) || instances.length === 0) return bad('Invalid instances: instances must be a non-empty list.');
  const max = model.startsWith('gemini-embedding') ? 1 : 250;
  if (instances.length > max) return bad(`Unable to submit request because the model supports up to ${max} instances per request, but ${instances.length} were given.`);
  const params = isRecord(body.parameters) ? body.parameters : {};
  for (const k of Object.keys(params)) if (k !== 'outputDimensionality' && k !== 'autoTruncate') return bad(`Invalid parameter: ${k}`);
  const dims = params.outputDimensionality === undefined ? defaultDimensions(model) : Number(params.outputDimensionality);
  if (!Number.isInteger(dims) || dims < 1 || dims > defaultDimensions(model)) return bad(`outputDimensionality must be between 1 and ${defaultDimensions(model)}.`);
  let chars = 0;
  const predictions = [];
  for (const inst of instances) {
    if (!isRecord(inst) || typeof inst.content !== 'string') return bad('Invalid instance: content is required.');
    for (const k of Object.keys(inst)) if (k !== 'content' && k !== 'task_type' && k !== 'title') return bad(`Invalid instance field: ${k}`);
    if (inst.task_type !== undefined && !TASK_TYPES.has(String(inst.task_type))) return bad(`Invalid task_type: ${String(inst.task_type)}`);
    chars += inst.content.length;
    predictions.push({ embeddings: { statistics: { truncated: false, token_count: Math.max(1, countWords(inst.content)) }, values: fakeEmbedding(inst.content, dims) } });
  }
  return sendJson(ex, 200, JSON.stringify({ predictions, metadata: { billableCharacterCount: chars } }, null, 2), JSON_UTF8);
}
