// A rough, provider-neutral token estimate of a request's prompt, used before any provider has
// counted: for planning (context windows, expected cost, budget reservations) and by the mock.

import type { UpstreamRequest } from "./types.ts";

/** Rough token estimate of a request's prompt: about four characters a token, plus per-message overhead. */
export function estimatePromptTokens(req: Pick<UpstreamRequest, "messages" | "tools">): number {
  let chars = 0;
  let images = 0;
  for (const m of req.messages) {
    chars += 16;
    for (const p of m.content) {
      if (p.type === "text") chars += p.text.length;
      else images++;
    }
    for (const c of m.toolCalls ?? []) chars += c.name.length + c.arguments.length;
  }
  for (const t of req.tools ?? []) chars += t.name.length + (t.description?.length ?? 0) + JSON.stringify(t.parameters ?? {}).length;
  return Math.max(1, Math.ceil(chars / 4)) + images * 765;
}
