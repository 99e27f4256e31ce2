// OpenRouter's `transforms: ["middle-out"]`: a prompt too long for a deployment's context window is
// made to fit by removing messages from the middle of the conversation (where recall matters
// least), then, if that is not enough, by cutting the middle out of the longest remaining text.
// The system and developer messages that lead the prompt and the last turn are always kept, and a
// tool call is never separated from its results: they go together or not at all. Pure; the planner
// runs it per deployment whose window is too small, and reports what it removed.

import type { ChatMessage, ContentPart, UpstreamRequest } from "../providers/types.ts";

type Request = Omit<UpstreamRequest, "model">;

export interface Compressed {
  request: Request;
  /** The prompt's tokens after compression (by the deployment's tokenizer). */
  tokens: number;
  /** Messages removed. */
  removed: number;
  /** Characters cut from the middle of one text, when removing messages was not enough. */
  cut: number;
}

/** How long the marker left where text was cut is. */
const CUT_MARKER = "\n[…]\n";
const MAX_CUTS = 6;

/**
 * The request with its middle removed until its prompt (counted by `count`) is at most `limit`
 * tokens, or undefined when even the leading system messages and the last turn do not fit.
 */
export function middleOut(req: Request, limit: number, count: (messages: ChatMessage[]) => number): Compressed | undefined {
  const msgs = req.messages;
  // Units: an assistant turn with tool calls and the tool results after it go together.
  const units: ChatMessage[][] = [];
  for (const m of msgs) {
    const last = units[units.length - 1];
    if (m.role === "tool" && last && (last[0].toolCalls?.length ?? 0) > 0) last.push(m);
    else units.push([m]);
  }
  let lead = 0;
  while (lead < units.length - 1 && (units[lead][0].role === "system" || units[lead][0].role === "developer")) lead++;
  const keep = units.map(() => true);
  const base = count([]);
  const unitTokens = units.map((u) => count(u) - base);
  let total = count(msgs);
  // Removal order: the middle of the removable units (after the lead, before the last), outward.
  const first = lead;
  const last = units.length - 2;
  const order: number[] = [];
  if (last >= first) {
    const mid = Math.floor((first + last) / 2);
    for (let d = 0; order.length < last - first + 1; d++) {
      if (mid + d <= last && d >= 0) order.push(mid + d);
      if (d > 0 && mid - d >= first) order.push(mid - d);
    }
  }
  let removed = 0;
  const kept = () => units.flatMap((u, i) => (keep[i] ? u : []));
  for (const i of order) {
    if (total <= limit) break;
    keep[i] = false;
    removed += units[i].length;
    total -= unitTokens[i];
    // The per-unit figures are estimates: recount once they say it fits.
    if (total <= limit) total = count(kept());
  }
  let messages = kept();
  total = count(messages);
  let cut = 0;
  for (let n = 0; total > limit && n < MAX_CUTS; n++) {
    const target = longestText(messages, lead);
    if (!target) break;
    const { mi, pi, text } = target;
    const excess = total - limit;
    const textTokens = Math.max(1, count([{ role: "user", content: [{ type: "text", text }] }]) - base);
    // Characters per token of this text, a margin for the marker and the estimate.
    const drop = Math.min(text.length - 2, Math.ceil(((excess + 8) * text.length) / textTokens) + CUT_MARKER.length);
    if (drop <= 0) break;
    const keepChars = text.length - drop;
    const head = Math.ceil(keepChars / 2);
    const next = text.slice(0, head) + CUT_MARKER + text.slice(text.length - (keepChars - head));
    cut += text.length - next.length + CUT_MARKER.length;
    messages = messages.map((m, i) => (i !== mi ? m : { ...m, content: m.content.map((p, j): ContentPart => (j === pi ? { ...(p as Extract<ContentPart, { type: "text" }>), text: next } : p)) }));
    total = count(messages);
  }
  if (total > limit) return undefined;
  return { request: { ...req, messages }, tokens: total, removed, cut };
}

/** The longest text part of a message after the leading system messages (the last turn's too). */
function longestText(messages: ChatMessage[], lead: number): { mi: number; pi: number; text: string } | undefined {
  let best: { mi: number; pi: number; text: string } | undefined;
  for (let mi = lead; mi < messages.length; mi++) {
    messages[mi].content.forEach((p, pi) => {
      if (p.type === "text" && p.text.length > (best?.text.length ?? 64)) best = { mi, pi, text: p.text };
    });
  }
  return best;
}
