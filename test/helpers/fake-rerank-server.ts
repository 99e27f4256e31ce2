// Fake OpenAI-compatible reranker (POST /v1/rerank) in three flavours: vLLM, Jina and llama.cpp,
// which share Cohere v1's request (`{model, query, documents, top_n}`) and differ in their answer's
// extras (an echoed `document`, `usage.total_tokens` or `prompt_tokens`) and in their error bodies.
// Strict: an unknown field or a wrong type is a 400 in the flavour's error shape. Rankings are the
// Cohere fake's (fakeRanking), so tests predict the order the same way.
import { countWords, handleTransport, isRecord, retryHeaders, sendJson, startFake } from "../fakes/common.ts";
import type { Delivery, Exchange, FakeServer, RetryHints, TransportScenario } from "../fakes/common.ts";
import { fakeRanking } from "./fake-cohere.ts";

export type RerankServerFlavor = "vllm" | "jina" | "llamacpp";

export type RerankServerScenario = (
  /** Success (the default); `noUsage` leaves `usage` out. */
  | { kind: "ok"; noUsage?: boolean }
  /** An HTTP error in the flavour's body. */
  | ({ kind: "error"; status: number; message?: string } & RetryHints)
  /** 200 with a body that is not JSON. */
  | { kind: "malformed" }
  | TransportScenario
) &
  Delivery;

export interface FakeRerankServerOptions {
  flavor: RerankServerFlavor;
  /** The model the server serves (vLLM answers 404 for any other); default "BAAI/bge-reranker-v2-m3". */
  model?: string;
  /** A required bearer key (vLLM's --api-key); absent: no auth. */
  apiKey?: string;
}

export type FakeRerankServer = FakeServer<RerankServerScenario>;

const REQUEST_KEYS = new Set(["model", "query", "documents", "top_n"]);

function errorBody(flavor: RerankServerFlavor, status: number, message: string): unknown {
  if (flavor === "jina") return { detail: message };
  if (flavor === "llamacpp") return { error: { code: status, message, type: status === 401 ? "authentication_error" : "invalid_request_error" } };
  return { object: "error", message, type: status === 404 ? "NotFoundError" : "BadRequestError", param: null, code: status };
}

function validate(body: Record<string, unknown>): string | null {
  const extra = Object.keys(body).find((k) => !REQUEST_KEYS.has(k));
  if (extra !== undefined) return `Extra inputs are not permitted: ${extra}`;
  if (typeof body.model !== "string") return "model: Input should be a valid string";
  if (typeof body.query !== "string" || body.query === "") return "query: Input should be a non-empty string";
  if (!Array.isArray(body.documents) || body.documents.length === 0 || !body.documents.every((d) => typeof d === "string")) return "documents: Input should be a non-empty list of strings";
  if (body.top_n !== undefined && !(typeof body.top_n === "number" && Number.isInteger(body.top_n) && body.top_n >= 1)) return "top_n: Input should be greater than or equal to 1";
  return null;
}

export async function startFakeRerankServer(opts: FakeRerankServerOptions): Promise<FakeRerankServer> {
  const served = opts.model ?? "BAAI/bge-reranker-v2-m3";
  let n = 0;
  return startFake<RerankServerScenario>({
    basePath: "/v1",
    defaultScenario: { kind: "ok" },
    async handle(ex: Exchange, next) {
      const base = { "x-request-id": `req-${++n}` };
      const fail = (status: number, message: string, headers: Record<string, string> = {}, d?: Delivery) => sendJson(ex, status, errorBody(opts.flavor, status, message), { ...base, ...headers }, d);
      if (ex.req.method !== "POST" || ex.url.pathname !== "/v1/rerank") return fail(404, `Not Found: ${ex.req.method} ${ex.url.pathname}`);
      if (opts.apiKey !== undefined && ex.req.headers.authorization !== `Bearer ${opts.apiKey}`) {
        return opts.flavor === "vllm" ? sendJson(ex, 401, { error: "Unauthorized" }, base) : fail(401, "Invalid API key");
      }
      if (ex.badJson || !isRecord(ex.record.body)) return fail(400, "JSON decode error");
      const body = ex.record.body;
      const invalid = validate(body);
      if (invalid) return fail(opts.flavor === "vllm" ? 400 : 422, invalid);
      if (opts.flavor === "vllm" && body.model !== served) return fail(404, `The model \`${String(body.model)}\` does not exist.`);

      const s = next();
      if (await handleTransport(ex, s)) return;
      if (s.kind === "error") return fail(s.status, s.message ?? `upstream failed with status ${s.status}`, retryHeaders(s), s);
      if (s.kind === "malformed") return sendJson(ex, 200, "{\"results\": [", base, s);

      const query = body.query as string;
      const documents = body.documents as string[];
      const ranking = fakeRanking(query, documents, body.top_n as number | undefined);
      // Each document is scored with the query beside it: both count.
      const tokens = documents.reduce((t, d) => t + countWords(query) + countWords(d), 0);
      const withDocs = ranking.map((r) => ({ index: r.index, document: { text: documents[r.index] }, relevance_score: r.relevance_score }));
      const answer: Record<string, unknown> =
        opts.flavor === "vllm"
          ? { id: `rerank-${n}`, model: served, results: withDocs }
          : opts.flavor === "jina"
            ? { model: body.model, results: withDocs }
            : { model: body.model, object: "list", results: ranking };
      if (!(s.kind === "ok" && s.noUsage)) answer.usage = opts.flavor === "llamacpp" ? { prompt_tokens: tokens, total_tokens: tokens } : { total_tokens: tokens };
      return sendJson(ex, 200, answer, base, s);
    },
  });
}
