// Amazon Bedrock Guardrails as a guardrail: ApplyGuardrail (POST
// /guardrail/{id}/version/{version}/apply on bedrock-runtime) with the text as INPUT or OUTPUT,
// signed with SigV4 by a configured Bedrock provider's region and credentials, so the guardrail's
// own config holds no secret. GUARDRAIL_INTERVENED is a refusal; its category is the first policy
// that acted (content.HATE, topic.<name>, word, pii.EMAIL, regex.<name>, grounding,
// automated_reasoning): names from the guardrail's definition, never the matched text. An
// intervention that only masks (PII anonymised) is a refusal too: the gateway cannot take
// Bedrock's masked text back into a request, so mask with the gateway's own pii guardrail.

import type { GuardrailConfig, ProviderConfig } from "../../config/types.ts";
import { createBedrockSigner, resolveAwsCredentials } from "../../providers/bedrock/bedrock-auth.ts";
import type { RemoteCheck } from "../engine.ts";
import { askService, type Verdict } from "../webhook.ts";

type Options = NonNullable<GuardrailConfig["bedrockGuardrail"]>;

/** Which policy acted, from one ApplyGuardrail assessment. */
function categoryOf(a: Record<string, any>): string | undefined {
  const acted = (x: { action?: string } | undefined) => x?.action !== undefined && x.action !== "NONE";
  for (const t of a.topicPolicy?.topics ?? []) if (acted(t)) return `topic.${t.name}`;
  for (const f of a.contentPolicy?.filters ?? []) if (acted(f)) return `content.${f.type}`;
  if ([...(a.wordPolicy?.customWords ?? []), ...(a.wordPolicy?.managedWordLists ?? [])].some(acted)) return "word";
  for (const p of a.sensitiveInformationPolicy?.piiEntities ?? []) if (acted(p)) return `pii.${p.type}`;
  for (const r of a.sensitiveInformationPolicy?.regexes ?? []) if (acted(r)) return `regex.${r.name}`;
  if ((a.contextualGroundingPolicy?.filters ?? []).some(acted)) return "grounding";
  if (a.automatedReasoningPolicy) return "automated_reasoning";
  return undefined;
}

/** A verdict from an ApplyGuardrail answer; undefined when it is not one. */
export function bedrockVerdict(body: unknown): { allow: boolean; category?: string } | undefined {
  if (!body || typeof body !== "object") return undefined;
  const b = body as { action?: unknown; assessments?: unknown };
  if (b.action === "NONE") return { allow: true };
  if (b.action !== "GUARDRAIL_INTERVENED") return undefined;
  const assessments = Array.isArray(b.assessments) ? (b.assessments as Record<string, any>[]) : [];
  for (const a of assessments) {
    const c = a && typeof a === "object" ? categoryOf(a) : undefined;
    if (c) return { allow: false, category: c };
  }
  return { allow: false, category: "intervened" };
}

export function bedrockGuardrail(o: Options, provider: ProviderConfig): RemoteCheck {
  const creds = resolveAwsCredentials(provider.aws);
  const signer = createBedrockSigner(provider.name, provider.aws!.region, creds);
  const base = provider.baseUrl.replace(/\/+$/, "");
  const path = `/guardrail/${encodeURIComponent(o.guardrailIdentifier)}/version/${encodeURIComponent(o.guardrailVersion)}/apply`;
  const what = `Bedrock guardrail ${o.guardrailIdentifier}`;
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(provider.headers ?? {})) extra[k.toLowerCase()] = v;
  return {
    fail: o.fail,
    async ask(stage, text, signal): Promise<Verdict> {
      const body = JSON.stringify({ source: stage === "input" ? "INPUT" : "OUTPUT", content: [{ text: { text } }] });
      let headers: Record<string, string>;
      try {
        headers = (await signer.sign({ method: "POST", path, headers: { ...extra, "content-type": "application/json", accept: "application/json" }, body }, { baseUrl: provider.baseUrl, signal })).headers;
      } catch (err) {
        return { answered: false, why: `${what}: ${(err as Error).message}` };
      }
      const r = await askService({ url: base + path, headers, body, timeoutMs: o.timeoutMs, what }, signal);
      if (!r.ok) return { answered: false, why: r.why };
      const v = bedrockVerdict(r.body);
      return v ? { answered: true, ...v } : { answered: false, why: `${what}: the answer has no action` };
    },
  };
}
