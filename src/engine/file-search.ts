// File search before the model, for any model: the `file_search` tool on /v1/chat/completions (as
// LiteLLM takes it there: `{type: "file_search", vector_store_ids}`) and ChatRequest's file search
// on Connect. The gateway searches the request's vector stores (src/vectors) with the last user
// message, after admission and the input guardrails, and puts the passages found in a system
// message just before that message, with the instruction to cite a file as [name]; every candidate
// deployment gets as many of them as its context window holds (web-search.ts's fitting). The
// query's embedding is a request of the caller's own (its usage record tagged vector_store); the
// answer says what was found. The Responses API's file_search tool is the model's to decide
// instead (src/compat/responses/mcp-loop.ts).

import { GatewayError } from "../router/errors.ts";
import type { ChatCall, Plan } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import type { SearchHit, VectorStores } from "../vectors/service.ts";
import { fitResults, searchQuery } from "./web-search.ts";

export type { FileSearchRequest } from "../vectors/types.ts";

/** What a file search found, as answers report it. */
export interface FilesSearched {
  query: string;
  results: { file_id: string; filename: string; score: number; attributes: Record<string, string | number | boolean> | null; text: string; vector_store_id: string }[];
  /** What the search cost (its embedding and rerank requests, recorded on their own), nano-USD. */
  costNanos: number;
}

export const FILE_SEARCH_PROMPT =
  "Passages from the user's files that may answer the question follow, best first. Use them where they help, and cite a file you use by its name in square brackets, as [name].";

/** One passage as the model reads it: its number, file and score, and its text. */
export const passageBlock = (h: SearchHit, i: number): string => `[${i + 1}] ${h.filename} (${h.file_id}, score ${h.score.toFixed(3)})\n${h.content.map((c) => c.text).join("\n")}`;

/** Search the call's stores with its last user message and put what is found in every candidate's prompt. */
export async function searchFilesBefore(vectors: VectorStores | undefined, call: ChatCall, plan: Plan, ri: RequestInfo, signal: AbortSignal): Promise<FilesSearched | undefined> {
  const fs = call.fileSearch;
  if (!fs) return undefined;
  if (!vectors?.enabled()) throw new GatewayError("failed_precondition", `${fs.field}: file search needs the gateway's vector stores (vector_stores in its configuration)`, { field: fs.field });
  // Each store named by the request's own field when it is unknown or not the caller's to see.
  await Promise.all(fs.storeIds.map((id, i) => vectors.get(call.caller, id, `${fs.field}.vector_store_ids[${i}]`)));
  const query = searchQuery(call.request.messages);
  if (!query) throw new GatewayError("invalid_argument", `${fs.field}: the request has no user message with text to search for`, { field: "messages" });
  const out = await vectors.search(call.caller, ri, fs.storeIds, [query], { via: "before_model", maxResults: fs.maxResults, ranker: fs.ranker, scoreThreshold: fs.scoreThreshold, ...(fs.filters ? { filters: fs.filters } : {}), ...(fs.keywordWeight !== undefined ? { keywordWeight: fs.keywordWeight } : {}) }, signal);
  if (out.hits.length) fitResults(plan, out.hits, FILE_SEARCH_PROMPT, { block: passageBlock, field: "file_search", what: "file passages" });
  plan.adjustments.push({ field: "file_search", detail: `${out.hits.length} passage${out.hits.length === 1 ? "" : "s"} from ${fs.storeIds.length === 1 ? "the vector store" : `${fs.storeIds.length} vector stores`} added before the last user message` });
  return {
    query,
    results: out.hits.map((h) => ({ file_id: h.file_id, filename: h.filename, score: h.score, attributes: h.attributes, text: h.content.map((c) => c.text).join("\n"), vector_store_id: h.vector_store_id })),
    costNanos: out.costNanos,
  };
}
