// Calls to the gateway's REST endpoints (the OpenAI-compatible Files, Batch, Responses and Conversations APIs, which have no
// Connect service): fetch with the same URL and key as the typed client, and an OpenAI error body
// ({error: {message, type, param, code}}) turned into the CLI's usual words on stderr: the message,
// the code its HTTP status stands for, the field at fault, the trace, and what to do next.

import { CliError, checkedUrl, EXIT, type Globals, hintFor, traceLink } from "./context.ts";

/** What an HTTP status says, as the Connect code the gateway maps it from (compat/response.ts). */
const CODE_OF_STATUS: Record<number, string> = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "not_found",
  405: "unimplemented",
  409: "aborted",
  413: "resource_exhausted",
  429: "resource_exhausted",
  499: "canceled",
  500: "internal",
  501: "unimplemented",
  502: "unavailable",
  503: "unavailable",
  504: "deadline_exceeded",
};

export const codeOfStatus = (status: number) => CODE_OF_STATUS[status] ?? (status >= 500 ? "internal" : "unknown");

/** A timeout for JSON calls (as the typed client's), and a longer one for files. */
const CALL_TIMEOUT_MS = 30_000;
const FILE_TIMEOUT_MS = 10 * 60_000;

export interface Rest {
  /** GET a JSON document. */
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T>;
  /** POST a JSON body (or none); the JSON answer. */
  post<T>(path: string, body?: unknown): Promise<T>;
  /** POST multipart/form-data; the JSON answer. */
  upload<T>(path: string, form: FormData): Promise<T>;
  /** GET the bytes of a path, as a response whose body is still to be read. */
  download(path: string): Promise<Response>;
  /** DELETE a path; the JSON answer. */
  delete<T>(path: string): Promise<T>;
}

/** REST calls for these flags (bad usage when --url is not http(s)); `hints` by code name override the usual ones. */
export function restOf(g: Globals, hints: Partial<Record<string, string>> = {}): Rest {
  const base = checkedUrl(g);
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    accept: "application/json",
    ...(g.apiKey ? { authorization: `Bearer ${g.apiKey}` } : {}),
    ...extra,
  });
  const call = async (method: string, path: string, init: { body?: string | FormData; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Response> => {
    let res: Response;
    try {
      res = await fetch(base + path, { method, headers: headers(init.headers), body: init.body, signal: AbortSignal.timeout(init.timeoutMs ?? CALL_TIMEOUT_MS) });
    } catch (err) {
      throw networkError(err, g);
    }
    if (!res.ok) throw await apiError(res, g, hints);
    return res;
  };
  const jsonOf = async <T>(res: Response): Promise<T> => {
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`the gateway answered ${res.url} with something that is not JSON: ${text.slice(0, 120)}`, `is ${g.url} a Signalbox gateway?`, EXIT.failed);
    }
  };
  return {
    async get(path, query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) q.set(k, String(v));
      const qs = q.toString();
      return jsonOf(await call("GET", qs ? `${path}?${qs}` : path));
    },
    async post(path, body) {
      return jsonOf(await call("POST", path, body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }));
    },
    async upload(path, form) {
      return jsonOf(await call("POST", path, { body: form, timeoutMs: FILE_TIMEOUT_MS }));
    },
    download(path) {
      return call("GET", path, { headers: { accept: "*/*" }, timeoutMs: FILE_TIMEOUT_MS });
    },
    async delete(path) {
      return jsonOf(await call("DELETE", path));
    },
  };
}

/** An error answer as the CLI says it: `error: <message> (<code>)`, the field, the trace, a hint. */
async function apiError(res: Response, g: Globals, hints: Partial<Record<string, string>>): Promise<CliError> {
  const text = await res.text().catch(() => "");
  return answerError({ status: res.status, statusText: res.statusText, url: res.url, header: (name) => res.headers.get(name), text }, g, hints);
}

/** An HTTP error answer, however it was received (fetch, or a refused WebSocket upgrade). */
export interface ErrorAnswer {
  status: number;
  statusText: string;
  /** The URL asked for (http or https). */
  url: string;
  header(name: string): string | null;
  text: string;
}

/** An error answer's body ({error: {message, param}}) and headers as the CLI says them (see apiError). */
export function answerError(res: ErrorAnswer, g: Globals, hints: Partial<Record<string, string>> = {}): CliError {
  const text = res.text;
  let body: { error?: { message?: unknown; param?: unknown; code?: unknown }; message?: unknown } | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const codeName = codeOfStatus(res.status);
  const e = body?.error;
  const message = typeof e?.message === "string" && e.message ? e.message : typeof body?.message === "string" ? body.message : text.trim().slice(0, 200) || `HTTP ${res.status} ${res.statusText}`;
  const field = typeof e?.param === "string" && e.param ? e.param : undefined;
  const retryAfter = res.header("retry-after-ms") ?? (res.header("retry-after") ? String(Number(res.header("retry-after")) * 1000) : null);
  const retryAfterMs = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  const lines = [`${message} (${codeName})`];
  if (field) lines.push(`  field: ${field}`);
  const traceId = res.header("x-signalbox-trace-id");
  if (traceId) lines.push(`  trace: ${traceLink(traceId)}`);
  // No OpenAI error body on a 404 or 405: the path itself is not served (a gateway from before it).
  const unserved = !e && (res.status === 404 || res.status === 405);
  const hint = unserved
    ? `the gateway at ${g.url} does not serve ${new URL(res.url).pathname.split("/").slice(0, 3).join("/")}: is it an older version?`
    : (hints[codeName] ?? hintFor({ codeName, rawMessage: message, field, retryAfterMs }, g));
  return new CliError(lines.join("\n"), hint, EXIT.failed);
}

/** A call that never got an answer: the gateway is not there, or took too long. */
function networkError(err: unknown, g: Globals): CliError {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError") {
    return new CliError(`the gateway did not answer in time (deadline_exceeded)`, hintFor({ codeName: "deadline_exceeded", rawMessage: "" }, g), EXIT.failed);
  }
  const detail = e?.cause?.message ?? e?.cause?.code ?? "";
  const rawMessage = `${e?.message ?? String(err)}${detail ? `: ${detail}` : ""}`;
  return new CliError(`${rawMessage} (unavailable)`, hintFor({ codeName: "unavailable", rawMessage }, g), EXIT.failed);
}
