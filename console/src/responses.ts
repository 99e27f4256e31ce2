// Stored Responses API responses as the console reads them: GET /v1/responses/{id} and its input
// items (GET /v1/responses/{id}/input_items), with the session's key, through the batches' REST
// helpers. A response's id is its request's id with `resp_` for `req_`, so a request's page can
// ask for its response; one that was not stored (another API, `store: false`, expired) is a 404.

import { json, seg } from "./batches.ts";

/** A content part of a message item. */
export interface ContentPart {
  type: string;
  text?: string;
  refusal?: string;
}

/** An input or output item; only the fields the console shows are typed. */
export interface ResponseItem {
  id?: string;
  type: string;
  role?: string;
  status?: string;
  content?: ContentPart[] | string;
  name?: string;
  arguments?: string;
  call_id?: string;
  output?: unknown;
  summary?: { type: string; text: string }[];
}

/** A response as GET /v1/responses/{id} answers it. */
export interface StoredResponse {
  id: string;
  object: "response";
  status: string;
  model: string;
  output: ResponseItem[];
  usage?: { input_tokens: number; output_tokens: number } | null;
  previous_response_id?: string | null;
  conversation?: { id: string } | null;
  background?: boolean | null;
  store?: boolean;
  error?: { code?: string; message?: string } | null;
}

export interface InputItemList {
  object: "list";
  data: ResponseItem[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** The response id of a request id (`req_XYZ` → `resp_XYZ`), as the gateway makes them. */
export const responseIdOf = (requestId: string): string => `resp_${requestId.replace(/^req_/, "")}`;
/** The request id of a response id (`resp_XYZ` → `req_XYZ`). */
export const requestIdOf = (responseId: string): string => `req_${responseId.replace(/^resp_/, "")}`;

export const getStoredResponse = (id: string): Promise<StoredResponse> => json<StoredResponse>(`/v1/responses/${seg(id)}`);

/** One page of a response's input items; `after` is the last id of the page before. */
export function listInputItems(id: string, after = "", limit = 100, order: "asc" | "desc" = "asc"): Promise<InputItemList> {
  const q = new URLSearchParams({ order, limit: String(limit) });
  if (after) q.set("after", after);
  return json<InputItemList>(`/v1/responses/${seg(id)}/input_items?${q}`);
}

/** Every input item of a response, oldest first, following `has_more` a page (of 100) at a time. */
export async function allInputItems(id: string): Promise<ResponseItem[]> {
  const out: ResponseItem[] = [];
  let after = "";
  for (let i = 0; i < 1000; i++) {
    const page = await listInputItems(id, after);
    out.push(...page.data);
    if (!page.has_more || !page.last_id || page.last_id === after) break;
    after = page.last_id;
  }
  return out;
}
