// Azure AI Content Safety as a guardrail: text:analyze (a severity per harm category, and the
// named blocklists) on every stage it runs at, and, with prompt_shield, text:shieldPrompt (Prompt
// Shields: a jailbreak or injection attack in the prompt) on the input. A category at or above
// `threshold` (0–7; the service reports 0, 2, 4 and 6) or a blocklist hit refuses. Texts longer
// than the service takes in one call (10,000 characters) are sent in pieces, side by side; any
// piece refusing refuses. The key travels in Ocp-Apim-Subscription-Key and is never echoed.

import type { GuardrailConfig } from "../../config/types.ts";
import type { RemoteCheck } from "../engine.ts";
import { askService, type Verdict } from "../webhook.ts";

type Options = NonNullable<GuardrailConfig["azureContentSafety"]>;

/** The most characters text:analyze and text:shieldPrompt take in one call. */
export const AZURE_MAX_TEXT = 10_000;

const CATEGORY: Record<string, string> = { Hate: "hate", SelfHarm: "self_harm", Sexual: "sexual", Violence: "violence" };

/** Pieces of at most `n` characters (never splitting a surrogate pair). */
export function pieces(text: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; ) {
    let end = Math.min(text.length, i + n);
    if (end < text.length && /[\uD800-\uDBFF]/.test(text[end - 1]!)) end--;
    out.push(text.slice(i, end));
    i = end;
  }
  return out.length ? out : [""];
}

/** A verdict from a text:analyze answer; undefined when it is not one. */
export function analyzeVerdict(body: unknown, threshold: number): { allow: boolean; category?: string } | undefined {
  if (!body || typeof body !== "object") return undefined;
  const b = body as { categoriesAnalysis?: unknown; blocklistsMatch?: unknown };
  if (!Array.isArray(b.categoriesAnalysis)) return undefined;
  if (Array.isArray(b.blocklistsMatch) && b.blocklistsMatch.length > 0) return { allow: false, category: "blocklist" };
  for (const c of b.categoriesAnalysis as { category?: unknown; severity?: unknown }[]) {
    if (typeof c?.severity === "number" && c.severity >= threshold) return { allow: false, category: CATEGORY[String(c.category)] ?? "harm" };
  }
  return { allow: true };
}

/** A verdict from a text:shieldPrompt answer; undefined when it is not one. */
export function shieldVerdict(body: unknown): { allow: boolean; category?: string } | undefined {
  if (!body || typeof body !== "object") return undefined;
  const u = (body as { userPromptAnalysis?: { attackDetected?: unknown } }).userPromptAnalysis;
  if (typeof u?.attackDetected !== "boolean") return undefined;
  return u.attackDetected ? { allow: false, category: "prompt_attack" } : { allow: true };
}

export function azureContentSafety(o: Options): RemoteCheck {
  const base = o.endpoint.replace(/\/+$/, "");
  const headers = { "ocp-apim-subscription-key": o.apiKey };
  const what = "Azure AI Content Safety";
  const analyzeUrl = `${base}/contentsafety/text:analyze?api-version=${encodeURIComponent(o.apiVersion)}`;
  const shieldUrl = `${base}/contentsafety/text:shieldPrompt?api-version=${encodeURIComponent(o.apiVersion)}`;
  const outputType = o.threshold % 2 === 1 ? "EightSeverityLevels" : "FourSeverityLevels";

  const one = async (url: string, body: unknown, read: (b: unknown) => { allow: boolean; category?: string } | undefined, signal: AbortSignal): Promise<Verdict> => {
    const r = await askService({ url, headers, body: JSON.stringify(body), timeoutMs: o.timeoutMs, what }, signal);
    if (!r.ok) return { answered: false, why: r.why };
    const v = read(r.body);
    return v ? { answered: true, ...v } : { answered: false, why: `${what}: the answer is not in the API's shape` };
  };

  return {
    fail: o.fail,
    async ask(stage, text, signal): Promise<Verdict> {
      const calls: Promise<Verdict>[] = [];
      for (const t of pieces(text, AZURE_MAX_TEXT)) {
        calls.push(one(analyzeUrl, { text: t, categories: o.categories, outputType, ...(o.blocklists.length ? { blocklistNames: o.blocklists, haltOnBlocklistHit: true } : {}) }, (b) => analyzeVerdict(b, o.threshold), signal));
        if (o.promptShield && stage === "input") calls.push(one(shieldUrl, { userPrompt: t, documents: [] }, shieldVerdict, signal));
      }
      const verdicts = await Promise.all(calls);
      // A refusal wins over a missing answer: the service said no to some piece.
      return verdicts.find((v) => v.answered && !v.allow) ?? verdicts.find((v) => !v.answered) ?? { answered: true, allow: true };
    },
  };
}
