// Translates one Chat Completions SSE stream (OpenAI, Azure, OpenRouter, compat servers) into
// provider-neutral events (wire-formats §1.4, §2.4, §5.4, §6, §8.7). Also holds the pieces the
// unary parser shares with it: usage normalisation (§8.4) and content/reasoning extraction.

import type { StreamEvent, StreamTranslator, TokenLogprob, Usage } from "../types.ts";
import { ProviderError } from "../types.ts";
import { tryJson } from "../headers.ts";
import type { OpenAIChatResponseWire, OpenAIResponseMessageWire, OpenAIToolCallWire, OpenAIUsageWire } from "./openai-api-types.ts";
import { errorFromPayload, isObject } from "./openai-error.ts";
import { finishReasonFor } from "./map-openai-finish-reason.ts";

export interface OpenAIStreamOptions {
  /** Extra places usage may arrive besides `usage` (Groq: "x_groq.usage"); the last one seen wins. */
  usagePaths: string[];
  /** The dialect reports `usage.cost` in USD (OpenRouter). */
  reportsCost: boolean;
}

interface ToolCallState {
  /** Dense output index, in order of first appearance. */
  out: number;
  id?: string;
  name?: string;
  started: boolean;
  /** Argument fragments that arrived before the call's name. */
  pending: string;
}

export function createOpenAIStreamTranslator(opts: OpenAIStreamOptions): StreamTranslator {
  let started = false;
  let finished = false;
  let done = false;
  const calls = new Map<string, ToolCallState>();
  let lastCallKey: string | undefined;

  function ensureStarted(out: StreamEvent[], chunk?: OpenAIChatResponseWire): void {
    if (started) return;
    started = true;
    out.push({ type: "start", id: nonEmpty(chunk?.id), model: nonEmpty(chunk?.model) });
  }

  function startCall(s: ToolCallState, out: StreamEvent[]): void {
    s.started = true;
    out.push({ type: "tool_call_start", index: s.out, id: s.id ?? `call_${s.out}`, name: s.name ?? "" });
    if (s.pending !== "") out.push({ type: "tool_call_delta", index: s.out, argumentsDelta: s.pending });
    s.pending = "";
  }

  function toolCallDelta(tc: OpenAIToolCallWire, pos: number, out: StreamEvent[]): void {
    const id = nonEmpty(tc.id ?? undefined);
    // The index is the call's position in the message; servers that omit it are keyed by id,
    // and an anonymous fragment continues the last call.
    const key = typeof tc.index === "number" ? `i${tc.index}` : id !== undefined ? `id${id}` : (lastCallKey ?? `p${pos}`);
    lastCallKey = key;
    let s = calls.get(key);
    if (!s) {
      s = { out: calls.size, started: false, pending: "" };
      calls.set(key, s);
    }
    if (id !== undefined && s.id === undefined) s.id = id;
    const name = nonEmpty(tc.function?.name ?? undefined);
    if (name !== undefined && s.name === undefined) s.name = name;
    const args = argumentsText(tc.function?.arguments);
    if (!s.started && s.name !== undefined) startCall(s, out);
    if (args === "") return;
    if (s.started) out.push({ type: "tool_call_delta", index: s.out, argumentsDelta: args });
    else s.pending += args;
  }

  /** `native` is OpenRouter's native_finish_reason: the upstream provider's own value, kept as raw. */
  function finish(raw: string, out: StreamEvent[], native?: unknown): void {
    finished = true;
    for (const s of calls.values()) if (!s.started) startCall(s, out);
    out.push({ type: "finish", finishReason: finishReasonFor(raw, calls.size > 0), rawFinishReason: typeof native === "string" && native !== "" ? native : raw });
  }

  function chunkEvents(chunk: OpenAIChatResponseWire & Record<string, unknown>): StreamEvent[] {
    const out: StreamEvent[] = [];
    // Usage first: a chunk that also carries an error still reports what was spent.
    let raw: unknown;
    for (const p of opts.usagePaths) {
      const u = readPath(chunk, p);
      if (isObject(u)) raw = u;
    }
    if (isObject(chunk.usage)) raw = chunk.usage;
    const chunkUsage = convertOpenAIUsage(raw, opts.reportsCost);
    // OpenAI / OpenRouter in-band errors: a top-level `error` on any chunk.
    if (chunk.error !== undefined && chunk.error !== null) throw withUsage(errorFromPayload(chunk, "stream_interrupted"), chunkUsage);
    // Azure's first chunk has id "" (prompt filter results): wait for a real id.
    if (!started && nonEmpty(chunk.id) !== undefined) ensureStarted(out, chunk);

    for (const choice of Array.isArray(chunk.choices) ? chunk.choices : []) {
      if (!isObject(choice) || (choice.index ?? 0) !== 0) continue; // we never ask for n > 1
      if (choice.error !== undefined && choice.error !== null) throw withUsage(errorFromPayload(choice.error, "stream_interrupted"), chunkUsage);
      if (choice.finish_reason === "error") {
        throw withUsage(errorFromPayload({ message: "upstream finished the stream with an error" }, "stream_interrupted"), chunkUsage);
      }
      // Azure's trailing content_filter_offsets chunk has no delta: nothing to translate.
      const d = choice.delta;
      if (isObject(d)) {
        const content = splitContent(d.content);
        const reasoning = reasoningText(d) || content.reasoning;
        if (reasoning !== "") push(out, chunk, { type: "reasoning", text: reasoning });
        if (content.text !== "") push(out, chunk, { type: "text", text: content.text });
        // After the text they belong to: never the stream's first content.
        const lp = convertOpenAILogprobs((choice.logprobs as { content?: unknown } | null | undefined)?.content);
        if (lp) push(out, chunk, { type: "logprobs", content: lp });
        if (typeof d.refusal === "string" && d.refusal !== "") push(out, chunk, { type: "refusal", text: d.refusal });
        if (Array.isArray(d.tool_calls)) {
          ensureStarted(out, chunk);
          d.tool_calls.forEach((tc, pos) => {
            if (isObject(tc)) toolCallDelta(tc, pos, out);
          });
        }
      }
      if (typeof choice.finish_reason === "string" && choice.finish_reason !== "" && !finished) {
        ensureStarted(out, chunk);
        finish(choice.finish_reason, out, choice.native_finish_reason);
      }
    }
    // Emitted as soon as it arrives: an in-band error or a cut after it still bills on it.
    if (chunkUsage) out.push({ type: "usage", usage: chunkUsage });
    return out;
  }

  function push(out: StreamEvent[], chunk: OpenAIChatResponseWire, e: StreamEvent): void {
    ensureStarted(out, chunk);
    out.push(e);
  }

  return {
    event(e) {
      if (done) return [];
      if (e.event === "error") {
        throw errorFromPayload(tryJson(e.data) ?? { message: e.data }, "stream_interrupted");
      }
      if (e.event !== "message") return [];
      const data = e.data.trim();
      if (data === "") return [];
      if (data === "[DONE]") {
        done = true;
        const out: StreamEvent[] = [];
        ensureStarted(out);
        if (!finished) finish("", out);
        return out;
      }
      const chunk = tryJson(data);
      if (chunk === undefined) {
        throw new ProviderError({ kind: "stream_interrupted", message: "upstream sent a stream chunk that is not JSON" });
      }
      return isObject(chunk) ? chunkEvents(chunk) : [];
    },
    end() {
      if (!done) throw new ProviderError({ kind: "stream_interrupted", message: "upstream stream ended before [DONE]" });
      return [];
    },
  };
}

/** An in-band error with the usage its chunk (or response) still reported: the attempt is billed on it. */
export function withUsage(e: ProviderError, usage: Usage | undefined): ProviderError {
  if (usage) e.usage = usage;
  return e;
}

/**
 * `choices[].logprobs.content` (unary and stream chunks alike): each token with its log
 * probability, its UTF-8 bytes and its top alternatives. Entries that are not well formed are
 * skipped; nothing (or an empty list) is undefined.
 */
export function convertOpenAILogprobs(content: unknown): TokenLogprob[] | undefined {
  if (!Array.isArray(content) || content.length === 0) return undefined;
  const out: TokenLogprob[] = [];
  for (const c of content) {
    const t = tokenOf(c);
    if (!t) continue;
    const top = Array.isArray((c as { top_logprobs?: unknown }).top_logprobs) ? ((c as { top_logprobs: unknown[] }).top_logprobs.map(tokenOf).filter(Boolean) as TokenLogprob["top"]) : [];
    out.push({ ...t, top });
  }
  return out.length ? out : undefined;
}

function tokenOf(v: unknown): { token: string; logprob: number; bytes?: number[] } | undefined {
  if (!isObject(v) || typeof v.token !== "string" || typeof v.logprob !== "number" || !Number.isFinite(v.logprob)) return undefined;
  const bytes = Array.isArray(v.bytes) && v.bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255) ? (v.bytes as number[]) : undefined;
  return bytes ? { token: v.token, logprob: v.logprob, bytes } : { token: v.token, logprob: v.logprob };
}

/** Usage normalised per wire-formats §8.4: prompt_tokens already includes cached tokens. */
export function convertOpenAIUsage(raw: unknown, reportsCost: boolean): Usage | undefined {
  if (!isObject(raw)) return undefined;
  const u = raw as OpenAIUsageWire;
  const inputTokens = count(u.prompt_tokens);
  const outputTokens =
    typeof u.completion_tokens === "number" ? count(u.completion_tokens) : Math.max(0, count(u.total_tokens) - inputTokens);
  const usage: Usage = {
    inputTokens,
    outputTokens,
    cachedInputTokens: count(u.prompt_tokens_details?.cached_tokens ?? u.prompt_token_details?.cached_tokens ?? u.num_cached_tokens),
    cacheWriteTokens: count(u.prompt_tokens_details?.cache_write_tokens),
    reasoningTokens: count(u.completion_tokens_details?.reasoning_tokens),
  };
  if (reportsCost && typeof u.cost === "number" && Number.isFinite(u.cost) && u.cost >= 0) {
    // BYOK: OpenRouter's fee plus what the provider bills the caller's own key.
    const upstream = u.is_byok === true ? u.cost_details?.upstream_inference_cost : undefined;
    usage.providerCostUsd = typeof upstream === "number" && Number.isFinite(upstream) && upstream > 0 ? u.cost + upstream : u.cost;
  }
  return usage;
}

/**
 * Text and reasoning of a message or delta `content`: a string, or (Mistral reasoning models) an
 * array of `{type:"text", text}` and `{type:"thinking", thinking:[{type:"text", text}]}` chunks.
 */
export function splitContent(content: unknown): { text: string; reasoning: string } {
  if (typeof content === "string") return { text: content, reasoning: "" };
  let text = "";
  let reasoning = "";
  if (Array.isArray(content)) {
    for (const part of content) {
      if (!isObject(part)) continue;
      if (part.type === "text" && typeof part.text === "string") text += part.text;
      else if (part.type === "thinking") reasoning += flattenText(part.thinking);
    }
  }
  return { text, reasoning };
}

/** Reasoning text: `reasoning` (OpenRouter, newer vLLM/Ollama) or `reasoning_content` (compat). */
export function reasoningText(m: OpenAIResponseMessageWire): string {
  if (typeof m.reasoning === "string" && m.reasoning !== "") return m.reasoning;
  if (typeof m.reasoning_content === "string") return m.reasoning_content;
  return "";
}

/** Tool-call arguments as JSON text (some compat servers send an object). */
export function argumentsText(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === undefined || v === null) return "";
  return JSON.stringify(v);
}

/** Read a dotted path ("x_groq.usage") from a JSON object. */
export function readPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split(".")) {
    if (!isObject(cur) || !Object.hasOwn(cur, key)) return undefined;
    cur = cur[key];
  }
  return cur;
}

function flattenText(v: unknown): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return v.map(flattenText).join("");
  if (isObject(v) && typeof v.text === "string") return v.text;
  return "";
}

function count(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.round(v) : 0;
}

function nonEmpty(v: string | undefined | null): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}
