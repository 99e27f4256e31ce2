// OCR, the engine's tenth operation: a document in (a PDF, an image, a DOCX or PPTX file, as
// bytes or a URL the provider fetches), its pages as Markdown out (Mistral OCR, the mock). The
// same plan (routes, aliases, strategies, allow lists), admission (limits and budgets: the pages
// expected are held at the deployment's per-page price), execution (retries, fallbacks,
// cooldowns, attempt spans), usage record and settlement as every other operation. A document's
// text does not change: when the route's cache is on (or the request asks), it is stored whole
// under the document and the options, and a hit answers with the pages read before, at no cost.
// Output guardrails read what was read (each page's Markdown, header and footer, and the document's
// and images' annotations), fresh or cached:
// a block answers with an error instead (the pages are billed), a redaction changes the text that
// leaves (and says so in the adjustments); the cache keeps the pages as the model read them.

import { trace } from "@opentelemetry/api";
import { answerTarget, ocrKey, type CachedOcr } from "../cache/cache.ts";
import { guardTexts, type GuardrailRun } from "../guardrails/engine.ts";
import type { OcrPage } from "../providers/types.ts";
import { executeOcr } from "../router/execute.ts";
import { ocrContent } from "../usage/content.ts";
import type { OcrCall, Plan } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { operationFrame, type AnswerAccount } from "./account.ts";
import type { CacheMode, CacheStatus, EngineParts } from "./chat-engine.ts";

export interface OcrEngineRequest {
  call: OcrCall;
  ri: RequestInfo;
  signal: AbortSignal;
  cache?: { mode: CacheMode; ttlSeconds?: number };
  statusOf(err: unknown): string;
}

export interface OcrAnswer extends AnswerAccount {
  pages: OcrPage[];
  documentSizeBytes?: number;
  /** With a document annotation asked for: its JSON, as text, checked against the schema. */
  documentAnnotation?: string;
  /** hit: answered from the cache; miss: looked up and not found; off, refresh, bypass as for chat. */
  cache: CacheStatus;
}

export function ocrOperation(e: EngineParts): (r: OcrEngineRequest) => Promise<OcrAnswer> {
  const { core, cache } = e;

  return (r) =>
    operationFrame(e, r, async (f) => {
      const { plan, ex } = f;
      const cp = e.cachePolicy(r.call, r.cache, plan);
      // As chat's key: never across routes, reloads that change them, or A/B variants.
      const key = cp && (cp.lookup || cp.store) ? ocrKey({ scope: cp.scope, ...answerTarget(core.config, plan, r.call.model), request: r.call.request }) : "";
      const lookup = cp?.lookup ? cache.getOcr(key) : undefined;
      await f.admit();
      const guard = f.startGuard();
      const checked = (pages: OcrPage[], annotation: string | undefined) => (guard && !guard.selection.output.empty ? guardRead(guard, plan, { pages, ...(annotation !== undefined ? { annotation } : {}) }, r.signal) : { pages, annotation });
      const hit = lookup ? await lookup : undefined;
      const status: CacheStatus = hit ? "hit" : (cp?.status ?? "off");
      if (r.ri.otel && cp) trace.getSpan(r.ri.otel)?.setAttribute("signalbox.cache", status);
      const size = (n: number | undefined, note: string | undefined) => ({ ...(n !== undefined ? { documentSizeBytes: n } : {}), ...(note !== undefined ? { documentAnnotation: note } : {}) });
      // The exports that capture content keep which document was read and what it said (as it left).
      const capture = e.captureChars(r.call);
      const content = (pages: OcrPage[]) => (capture === undefined ? undefined : ocrContent(r.call.request, pages, capture));
      if (hit) {
        const served = { deployment: hit.deployment, provider: hit.provider, providerModel: hit.providerModel, finishReason: "stop" as const };
        e.servedFromCache(ex, served);
        const { pages, annotation } = await checked(hit.pages, hit.documentAnnotation);
        f.ok(served, content(pages));
        return { ...f.account(served), pages, ...size(hit.documentSizeBytes, annotation), cache: status };
      }
      const out = await executeOcr(r.call, plan, r.signal, f.exec, ex);
      const c = ex.deployment!;
      if (cp?.store) {
        const v: CachedOcr = { deployment: c.deployment.id, provider: c.provider.name, providerModel: out.model, pages: out.pages, ...size(out.documentSizeBytes, out.documentAnnotation), usage: ex.usage, storedAt: Date.now() };
        cache.setOcr(key, v, cp.ttlSeconds);
      }
      const { pages, annotation } = await checked(out.pages, out.documentAnnotation);
      f.ok(undefined, content(pages));
      return { ...f.account({ deployment: c.deployment.id, provider: c.provider.name, providerModel: out.model }), pages, ...size(out.documentSizeBytes, annotation), cache: status };
    });
}

/**
 * The output stage over what was read: each page's Markdown, header and footer, each image's
 * annotation, and the document's annotation (JSON as text: a redaction replaces the matched text
 * inside it, as in any text). Redactions land in place and in the plan's adjustments.
 */
async function guardRead(run: GuardrailRun, plan: Plan, read: { pages: OcrPage[]; annotation?: string }, signal: AbortSignal): Promise<{ pages: OcrPage[]; annotation?: string }> {
  const { pages, annotation } = read;
  const FIELDS = ["markdown", "header", "footer"] as const;
  const at = pages.flatMap((p, i) => FIELDS.filter((k) => p[k]).map((k) => ({ i, k })));
  const images = pages.flatMap((p, i) => p.images.flatMap((im, m) => (im.imageAnnotation ? [{ i, m }] : [])));
  const texts = [...at.map(({ i, k }) => pages[i][k]!), ...images.map(({ i, m }) => pages[i].images[m].imageAnnotation!), ...(annotation ? [annotation] : [])];
  const out = await guardTexts(run, "output", texts, signal);
  if (out.every((t, j) => t === texts[j])) return read;
  plan.adjustments = [...plan.adjustments, ...run.adjustments("output")];
  const guarded = pages.map((p) => ({ ...p, images: p.images.map((im) => ({ ...im })) }));
  at.forEach(({ i, k }, j) => (guarded[i][k] = out[j]));
  images.forEach(({ i, m }, j) => (guarded[i].images[m].imageAnnotation = out[at.length + j]));
  return { pages: guarded, ...(annotation ? { annotation: out[out.length - 1] } : {}) };
}
