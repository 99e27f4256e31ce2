// Fake Cohere v2 API (POST /v2/rerank, POST /v2/embed) on a loopback port: bearer-key checks,
// strict request validation answered with Cohere's `{"id","message"}` errors, deterministic
// rankings and vectors, scripted failures by status, and the shared plumbing of test/fakes (request
// recording, transport scenarios, delivery knobs). Its wire format is proven against the official
// cohere-ai SDK in test/providers/cohere-sdk.test.ts.
import { randomUUID } from "node:crypto";
import { countWords, fakeEmbedding, handleTransport, isRecord, retryHeaders, sendJson, startFake } from "../fakes/common.ts";
import type { Delivery, Exchange, FakeServer, RetryHints, TransportScenario } from "../fakes/common.ts";

export type CohereScenario = (
  /** Success (the default): the ranking or the vectors; `searchUnits` / `inputTokens` override the billed units, `noMeta` leaves `meta` out. */
  | { kind: "ok"; searchUnits?: number; inputTokens?: number; noMeta?: boolean }
  /** An HTTP error with Cohere's body (`{"id","message"}`, or `{"message"}` with `noId`); the message defaults per status. */
  | ({ kind: "error"; status: number; message?: string; noId?: boolean } & RetryHints)
  /** 200 with a body that is not JSON. */
  | { kind: "malformed" }
  | TransportScenario
) &
  Delivery;

export interface FakeCohereOptions {
  /** The accepted key (default cohereTestKey()); `null` accepts any non-empty key. */
  apiKey?: string | null;
  /** Known rerank models (default COHERE_RERANK_MODELS). */
  rerankModels?: string[];
  /** Known embed models (default COHERE_EMBED_MODELS). */
  embedModels?: string[];
}

export type FakeCohere = FakeServer<CohereScenario>;

export const COHERE_RERANK_MODELS = ["rerank-v3.5", "rerank-english-v3.0", "rerank-multilingual-v3.0", "rerank-v4.0-pro", "rerank-v4.0-fast"];
export const COHERE_EMBED_MODELS = ["embed-v4.0", "embed-english-v3.0", "embed-multilingual-v3.0", "embed-english-light-v3.0", "embed-multilingual-light-v3.0"];

/** The key the fake accepts by default, assembled at run time (never a key-shaped literal). */
export function cohereTestKey(): string {
  return ["co", "test", "fake", "key"].join("-");
}

const RERANK_KEYS = new Set(["model", "query", "documents", "top_n", "max_tokens_per_doc", "priority"]);
const EMBED_KEYS = new Set(["model", "texts", "input_type", "embedding_types", "output_dimension", "max_tokens", "truncate", "priority"]);
const INPUT_TYPES = new Set(["search_document", "search_query", "classification", "clustering"]);
const V4_DIMENSIONS = [256, 512, 1024, 1536];

/** Messages the fake answers with when a scenario gives none (after Cohere's documented examples). */
function defaultMessage(status: number): string {
  switch (status) {
    case 400:
      return "invalid request: list of documents must not be empty";
    case 401:
      return "invalid api token";
    case 402:
      return "Please add or update your payment method at https://dashboard.cohere.com/billing?tab=payment to continue";
    case 404:
      return "model 'rerank-v3.5' not found, make sure the correct model ID was used and that you have access to the model.";
    case 422:
      return "invalid request: the request could not be processed";
    case 429:
      return "You are using a Trial key, which is limited to 10 API calls / minute. You can continue to use the Trial key for free or upgrade to a Production key with higher rate limits.";
    case 499:
      return "request cancelled";
    case 503:
      return "service unavailable";
    case 504:
      return "gateway timeout";
    default:
      return status >= 500 ? "internal server error, this has been reported to our developers" : `request failed with status ${status}`;
  }
}

/** Lower-case words (letters and digits). */
function words(text: string): Set<string> {
  return new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
}

/**
 * The fakes' relevance of a document to a query: shared words over the geometric mean of both
 * word counts, in [0, 1]. Tests predict the order from it: more shared words rank first.
 */
export function fakeRelevance(query: string, document: string): number {
  const q = words(query);
  const d = words(document);
  if (q.size === 0 || d.size === 0) return 0;
  let shared = 0;
  for (const w of q) if (d.has(w)) shared++;
  return Math.round((shared / Math.sqrt(q.size * d.size)) * 1e6) / 1e6;
}

/** Documents ranked by fakeRelevance, best first (equal scores in document order), at most topN. */
export function fakeRanking(query: string, documents: string[], topN?: number): { index: number; relevance_score: number }[] {
  const ranked = documents.map((d, index) => ({ index, relevance_score: fakeRelevance(query, d) }));
  ranked.sort((a, b) => b.relevance_score - a.relevance_score);
  return topN === undefined ? ranked : ranked.slice(0, topN);
}

const isPositiveInt = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 1;

function unknownKey(body: Record<string, unknown>, allowed: Set<string>): string | null {
  const k = Object.keys(body).find((key) => !allowed.has(key));
  return k === undefined ? null : `invalid request: unknown field: parameter ${k} is not a valid field`;
}

/** A 400 message for a malformed /v2/rerank body, or null. */
function validateRerank(body: Record<string, unknown>): string | null {
  if (typeof body.model !== "string" || body.model === "") return "invalid request: a model parameter is required for this endpoint.";
  if (typeof body.query !== "string" || body.query.trim() === "") return "invalid request: query must not be empty or be only whitespace";
  if (!Array.isArray(body.documents) || body.documents.length === 0) return "invalid request: list of documents must not be empty";
  if (!body.documents.every((d) => typeof d === "string")) return "invalid request: documents must be a list of strings";
  if (body.top_n !== undefined && !isPositiveInt(body.top_n)) return "invalid request: top_n must be a positive integer";
  if (body.max_tokens_per_doc !== undefined && !isPositiveInt(body.max_tokens_per_doc)) return "invalid request: max_tokens_per_doc must be a positive integer";
  if (body.priority !== undefined && (typeof body.priority !== "number" || !Number.isInteger(body.priority) || body.priority < 0)) return "invalid request: priority must be a non-negative integer";
  return unknownKey(body, RERANK_KEYS);
}

/** A 400 message for a malformed /v2/embed body, or null. */
function validateEmbed(body: Record<string, unknown>): string | null {
  if (typeof body.model !== "string" || body.model === "") return "invalid request: a model parameter is required for this endpoint.";
  if (!Array.isArray(body.texts) || body.texts.length === 0) return "invalid request: texts must be a non-empty list of strings";
  if (body.texts.length > 96) return `invalid request: total number of texts must be at most 96 - received ${body.texts.length}`;
  if (!body.texts.every((t) => typeof t === "string")) return "invalid request: texts must be a list of strings";
  if (typeof body.input_type !== "string" || !INPUT_TYPES.has(body.input_type)) return "invalid request: valid input_type must be provided with the provided model";
  if (body.embedding_types !== undefined && !(Array.isArray(body.embedding_types) && body.embedding_types.length > 0 && body.embedding_types.every((t) => t === "float"))) {
    return "invalid request: this fake serves embedding_types [\"float\"] only";
  }
  if (body.output_dimension !== undefined) {
    if (!/^embed-v4/.test(body.model)) return "invalid request: output_dimension is only supported with embed-v4.0 and newer models";
    if (!V4_DIMENSIONS.includes(body.output_dimension as number)) return "invalid request: output_dimension must be one of 256, 512, 1024, 1536";
  }
  if (body.truncate !== undefined && !["NONE", "START", "END"].includes(body.truncate as string)) return "invalid request: truncate must be one of NONE, START, END";
  if (body.max_tokens !== undefined && !isPositiveInt(body.max_tokens)) return "invalid request: max_tokens must be a positive integer";
  return unknownKey(body, EMBED_KEYS);
}

function dimensionsOf(model: string, body: Record<string, unknown>): number {
  if (/^embed-v4/.test(model)) return typeof body.output_dimension === "number" ? body.output_dimension : 1536;
  return /light/.test(model) ? 384 : 1024;
}

const API_VERSION = { version: "2", is_experimental: false };

export async function startFakeCohere(opts: FakeCohereOptions = {}): Promise<FakeCohere> {
  const apiKey = opts.apiKey === undefined ? cohereTestKey() : opts.apiKey;
  const rerankModels = opts.rerankModels ?? COHERE_RERANK_MODELS;
  const embedModels = opts.embedModels ?? COHERE_EMBED_MODELS;

  return startFake<CohereScenario>({
    basePath: "",
    defaultScenario: { kind: "ok" },
    async handle(ex: Exchange, next) {
      const id = randomUUID();
      const base = { "x-debug-trace-id": randomUUID().replace(/-/g, "") };
      const fail = (status: number, message: string, headers: Record<string, string> = {}, d?: Delivery, noId = false) =>
        sendJson(ex, status, noId ? { message } : { id, message }, { ...base, ...headers }, d);

      const path = ex.url.pathname;
      const op = path === "/v2/rerank" ? "rerank" : path === "/v2/embed" ? "embed" : undefined;
      if (ex.req.method !== "POST" || !op) return fail(404, `Not Found (${ex.req.method} ${path})`);
      const auth = ex.req.headers.authorization;
      const token = typeof auth === "string" && /^bearer /i.test(auth) ? auth.slice(7).trim() : "";
      if (token === "") return fail(401, "no api key supplied");
      if (apiKey !== null && token !== apiKey) return fail(401, "invalid api token");
      if (ex.badJson || !isRecord(ex.record.body)) return fail(400, "invalid request: could not parse the JSON body");
      const body = ex.record.body;
      const invalid = op === "rerank" ? validateRerank(body) : validateEmbed(body);
      if (invalid) return fail(400, invalid);
      const model = body.model as string;
      const known = op === "rerank" ? rerankModels : embedModels;
      if (!known.includes(model)) {
        if ((op === "rerank" ? embedModels : rerankModels).includes(model)) return fail(400, `invalid request: model '${model}' is not supported by the ${op} API`);
        return fail(404, `model '${model}' not found, make sure the correct model ID was used and that you have access to the model.`);
      }

      const s = next();
      if (await handleTransport(ex, s)) return;
      switch (s.kind) {
        case "error":
          return fail(s.status, s.message ?? defaultMessage(s.status), retryHeaders(s), s, s.noId);
        case "malformed":
          return sendJson(ex, 200, "{\"id\": \"truncated", base, s);
        case "ok":
          break;
        default:
          throw new Error(`scenario kind ${(s as { kind: string }).kind} was not handled by the cohere fake`);
      }
      if (op === "rerank") {
        const documents = body.documents as string[];
        const answer: Record<string, unknown> = { id, results: fakeRanking(body.query as string, documents, body.top_n as number | undefined) };
        if (!s.noMeta) answer.meta = { api_version: API_VERSION, billed_units: { search_units: s.searchUnits ?? Math.ceil(documents.length / 100) } };
        return sendJson(ex, 200, answer, base, s);
      }
      const texts = body.texts as string[];
      const dims = dimensionsOf(model, body);
      const answer: Record<string, unknown> = { id, embeddings: { float: texts.map((t) => fakeEmbedding(t, dims)) }, texts, response_type: "embeddings_by_type" };
      if (!s.noMeta) answer.meta = { api_version: API_VERSION, billed_units: { input_tokens: s.inputTokens ?? texts.reduce((n, t) => n + Math.max(1, countWords(t)), 0) } };
      return sendJson(ex, 200, answer, base, s);
    },
  });
}
