// The webhook guardrail: POST the text to an external moderation service, with a timeout, and read
// its verdict. Signalbox's shape is {text, stage, guardrail} → {allow, category?}; a moderation
// endpoint in OpenAI's shape ({input} → {results: [{flagged, categories}]}) fits too. A service
// that does not answer in time or in shape fails open or closed, as configured.

import type { GuardrailConfig } from "../config/types.ts";
import type { GuardrailStage } from "./types.ts";

export type WebhookOptions = NonNullable<GuardrailConfig["webhook"]>;

export type Verdict =
  /** The service answered. `category` names why it refused (absent: it gave none). */
  | { answered: true; allow: boolean; category?: string }
  /** No usable answer (timeout, network, non-2xx, unreadable body): the guardrail's `fail` decides. */
  | { answered: false; why: string };

/** The most of a moderation answer read. */
const MAX_ANSWER_BYTES = 1 << 20;

/** Read a verdict from either answer shape; undefined when it is neither. */
export function parseVerdict(body: unknown): { allow: boolean; category?: string } | undefined {
  if (!body || typeof body !== "object") return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b.allow === "boolean") return { allow: b.allow, ...(typeof b.category === "string" && b.category ? { category: b.category } : {}) };
  if (Array.isArray(b.results)) {
    for (const r of b.results as unknown[]) {
      if (!r || typeof r !== "object" || typeof (r as { flagged?: unknown }).flagged !== "boolean") return undefined;
      const { flagged, categories } = r as { flagged: boolean; categories?: Record<string, unknown> };
      if (!flagged) continue;
      const category = categories && typeof categories === "object" ? Object.keys(categories).find((k) => categories[k] === true) : undefined;
      return { allow: false, ...(category ? { category } : {}) };
    }
    return b.results.length ? { allow: true } : undefined;
  }
  return undefined;
}

/** Ask the service about `text`. Never throws: failures come back as unanswered verdicts. */
export async function moderate(o: WebhookOptions, guardrail: string, stage: GuardrailStage, text: string, signal: AbortSignal): Promise<Verdict> {
  const body = o.format === "openai" ? { input: text, ...(o.model ? { model: o.model } : {}) } : { text, stage, guardrail };
  const r = await askService({ url: o.url, headers: o.headers, body: JSON.stringify(body), timeoutMs: o.timeoutMs, what: "moderation service" }, signal);
  if (!r.ok) return { answered: false, why: r.why };
  const v = parseVerdict(r.body);
  return v ? { answered: true, ...v } : { answered: false, why: "moderation answer has neither allow nor results" };
}

/** One call to a verdict service: a POST with a JSON body (signed first when `sign` is given). */
export interface ServiceCall {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** How errors name the service ("moderation service", "Bedrock guardrail"). */
  what: string;
}

/**
 * POST a JSON body to a verdict service with a timeout (and the request's cancellation), and read
 * its JSON answer. Never throws: a timeout, a network error, a non-2xx status or an unreadable
 * answer comes back as `{ok: false, why}`, which names no credential.
 */
export async function askService(c: ServiceCall, signal: AbortSignal): Promise<{ ok: true; body: unknown } | { ok: false; why: string }> {
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => ctl.abort(new Error("timeout")), c.timeoutMs);
  try {
    const res = await fetch(c.url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json", ...c.headers }, body: c.body, signal: ctl.signal });
    const raw = await res.text();
    if (res.status < 200 || res.status > 299) return { ok: false, why: `${c.what} answered HTTP ${res.status}` };
    if (raw.length > MAX_ANSWER_BYTES) return { ok: false, why: `${c.what}: answer too large` };
    try {
      return { ok: true, body: JSON.parse(raw) };
    } catch {
      return { ok: false, why: `${c.what}: answer is not JSON` };
    }
  } catch (err) {
    if (signal.aborted) return { ok: false, why: "request canceled" };
    if (ctl.signal.aborted) return { ok: false, why: `${c.what} did not answer within ${c.timeoutMs} ms` };
    const code = ((err as Error)?.cause as { code?: unknown } | undefined)?.code;
    return { ok: false, why: `${c.what} unreachable (${typeof code === "string" ? code : "network error"})` };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}
