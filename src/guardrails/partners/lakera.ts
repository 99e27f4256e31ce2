// Lakera Guard as a guardrail: POST /v2/guard with the text as the user's message (the input) or
// the assistant's (an answer), the project's policy deciding which detectors run. `flagged` is a
// refusal; with the breakdown asked for, its category is the first detector that tripped
// (prompt_attack, moderated_content/hate, pii/email, unknown_links, …). The key travels as a
// bearer token and is never echoed.

import type { GuardrailConfig } from "../../config/types.ts";
import type { RemoteCheck } from "../engine.ts";
import { askService, type Verdict } from "../webhook.ts";

type Options = NonNullable<GuardrailConfig["lakera"]>;

/** A verdict from a /v2/guard answer; undefined when it is not one. */
export function lakeraVerdict(body: unknown): { allow: boolean; category?: string } | undefined {
  if (!body || typeof body !== "object") return undefined;
  const b = body as { flagged?: unknown; breakdown?: unknown };
  if (typeof b.flagged !== "boolean") return undefined;
  if (!b.flagged) return { allow: true };
  const hit = Array.isArray(b.breakdown) ? (b.breakdown as { detected?: unknown; detector_type?: unknown }[]).find((d) => d?.detected === true && typeof d.detector_type === "string") : undefined;
  const category = typeof hit?.detector_type === "string" ? hit.detector_type.replace(/[^A-Za-z0-9_/.-]/g, "").slice(0, 64) : "";
  return { allow: false, category: category || "flagged" };
}

export function lakeraGuard(o: Options): RemoteCheck {
  const headers = { authorization: `Bearer ${o.apiKey}` };
  return {
    fail: o.fail,
    async ask(stage, text, signal): Promise<Verdict> {
      const body = { messages: [{ role: stage === "input" ? "user" : "assistant", content: text }], breakdown: true, ...(o.projectId ? { project_id: o.projectId } : {}) };
      const r = await askService({ url: o.url, headers, body: JSON.stringify(body), timeoutMs: o.timeoutMs, what: "Lakera Guard" }, signal);
      if (!r.ok) return { answered: false, why: r.why };
      const v = lakeraVerdict(r.body);
      return v ? { answered: true, ...v } : { answered: false, why: "Lakera Guard: the answer has no flagged" };
    },
  };
}
