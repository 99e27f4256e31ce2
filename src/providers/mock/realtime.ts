// The mock provider's Realtime API: a session held in process that speaks OpenAI's Realtime events
// (the GA names), so `/v1/realtime` works with no keys and no network. It keeps the conversation's
// items, answers `response.create` with the mock's deterministic reply (text deltas, or with audio
// output an audio transcript and silent 24 kHz PCM16 audio beside it, a tenth of a second a word)
// and reports usage in `response.done` as OpenAI does: every turn reads the whole conversation
// again (input), audio at ten tokens a second.

import type { ProviderConfig } from "../../config/types.ts";
import { LinkInbox, type RealtimeLink } from "../realtime.ts";
import { ProviderError } from "../types.ts";

const WORDS = "signalbox relays every realtime event and accounts for every token it carries".split(" ");
/** PCM16 mono at 24 kHz: 48,000 bytes a second; OpenAI bills about ten audio tokens a second. */
const PCM_BYTES_PER_SECOND = 48_000;
const AUDIO_TOKENS_PER_SECOND = 10;

/** Connection attempts per mock connection, for its failure schedule (as its chat calls'). */
const attempts = new Map<string, number>();

interface Item {
  id: string;
  role: string;
  text: string;
  audioSeconds: number;
}

const textTokens = (s: string) => (s ? Math.max(1, Math.ceil(s.length / 4)) : 0);

export function mockRealtimeLink(conn: ProviderConfig, model: string, signal: AbortSignal): Promise<RealtimeLink> {
  const s = conn.mock;
  const n = attempts.get(conn.name) ?? 0;
  attempts.set(conn.name, n + 1);
  if (s.failureRate > 0 && Math.floor((n + 1) * s.failureRate) > Math.floor(n * s.failureRate)) {
    return Promise.reject(new ProviderError({ kind: s.failureKind, message: `mock provider "${conn.name}" injected failure: ${s.failureKind}`, retryAfterMs: s.retryAfterMs, unsent: true }));
  }
  if (signal.aborted) return Promise.reject(new ProviderError({ kind: "canceled", message: "realtime session canceled before it opened", unsent: true }));

  let seq = 0;
  const id = (p: string) => `${p}_mock${Date.now().toString(36)}${(seq++).toString(36)}`;
  const session: Record<string, unknown> = { type: "realtime", object: "realtime.session", id: id("sess"), model, output_modalities: ["audio"], instructions: "" };
  const items: Item[] = [];
  let audio = 0;
  let closed = false;
  let running: { id: string; cancel: boolean } | undefined;
  const timers = new Set<NodeJS.Timeout>();

  const inbox = new LinkInbox();
  const link: RealtimeLink = {
    start: (h) => inbox.start(h),
    send(data, binary) {
      if (closed) return;
      if (binary) return emit({ type: "error", error: { type: "invalid_request_error", code: "invalid_event", message: "binary frames are not events", param: null, event_id: null } });
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(data.toString("utf8"));
      } catch {
        return emit({ type: "error", error: { type: "invalid_request_error", code: "invalid_json", message: "the event is not JSON", param: null, event_id: null } });
      }
      handle(ev);
    },
    close(code, reason) {
      end(code, reason);
    },
  };

  function emit(ev: Record<string, unknown>): void {
    if (closed) return;
    const frame = Buffer.from(JSON.stringify({ event_id: id("event"), ...ev }));
    inbox.message(frame, false);
  }

  function end(code: number, reason: string): void {
    if (closed) return;
    closed = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    queueMicrotask(() => inbox.close(code, reason, false));
  }

  function later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  function handle(ev: Record<string, unknown>): void {
    const clientId = typeof ev.event_id === "string" ? ev.event_id : null;
    switch (ev.type) {
      case "session.update": {
        const upd = (ev.session ?? {}) as Record<string, unknown>;
        for (const k of ["instructions", "output_modalities", "audio", "tools", "tool_choice", "max_output_tokens", "temperature"]) if (k in upd) session[k] = upd[k];
        return emit({ type: "session.updated", session });
      }
      case "conversation.item.create": {
        const it = (ev.item ?? {}) as { type?: string; role?: string; content?: { type?: string; text?: string }[] };
        const text = (it.content ?? []).map((c) => (typeof c.text === "string" ? c.text : "")).join(" ").trim();
        const item: Item = { id: id("item"), role: it.role ?? "user", text, audioSeconds: 0 };
        items.push(item);
        const shown = { id: item.id, type: it.type ?? "message", object: "realtime.item", status: "completed", role: item.role, content: it.content ?? [] };
        emit({ type: "conversation.item.added", previous_item_id: items.at(-2)?.id ?? null, item: shown });
        return emit({ type: "conversation.item.done", previous_item_id: items.at(-2)?.id ?? null, item: shown });
      }
      case "input_audio_buffer.append":
        audio += typeof ev.audio === "string" ? Math.floor((ev.audio.length * 3) / 4) : 0;
        return;
      case "input_audio_buffer.clear":
        audio = 0;
        return emit({ type: "input_audio_buffer.cleared" });
      case "input_audio_buffer.commit": {
        const item: Item = { id: id("item"), role: "user", text: "", audioSeconds: audio / PCM_BYTES_PER_SECOND };
        audio = 0;
        items.push(item);
        return emit({ type: "input_audio_buffer.committed", previous_item_id: items.at(-2)?.id ?? null, item_id: item.id });
      }
      case "response.cancel":
        if (running) running.cancel = true;
        return;
      case "response.create":
        return respond((ev.response ?? {}) as Record<string, unknown>);
      default:
        return emit({ type: "error", error: { type: "invalid_request_error", code: "invalid_value", message: `Invalid value: '${String(ev.type)}'. Supported values are the Realtime API's client events.`, param: "type", event_id: clientId } });
    }
  }

  function respond(opts: Record<string, unknown>): void {
    if (running) return emit({ type: "error", error: { type: "invalid_request_error", code: "conversation_already_has_active_response", message: `Conversation already has an active response in progress: ${running.id}. Wait until the response is finished before creating a new one.`, param: null, event_id: null } });
    const modalities = (opts.output_modalities ?? session.output_modalities) as string[];
    const spoken = Array.isArray(modalities) && modalities.includes("audio");
    const heard = [...items].reverse().find((i) => i.role === "user");
    const said = heard ? (heard.text || `a ${heard.audioSeconds.toFixed(1)}-second recording`) : "nothing yet";
    const words = [`(${model})`, "You", "said:", JSON.stringify(said.slice(0, 80)) + "."];
    for (let i = 0; words.length < Math.max(4, s.outputTokens); i++) words.push(WORDS[i % WORDS.length]);
    const reply = s.reply ?? words.join(" ");
    const r = { id: id("resp"), cancel: false };
    running = r;
    const itemId = id("item");
    // What this turn reads: the whole conversation so far (OpenAI bills it again every turn).
    const inText = items.reduce((t, i) => t + textTokens(i.text), textTokens(String(session.instructions ?? "")));
    const inAudio = items.reduce((t, i) => t + Math.ceil(i.audioSeconds * AUDIO_TOKENS_PER_SECOND), 0);
    const base = { object: "realtime.response", id: r.id, conversation_id: session.id, output_modalities: spoken ? ["audio"] : ["text"] };
    const part = spoken ? { type: "audio", transcript: "" } : { type: "text", text: "" };
    const pieces = reply.split(/(?<= )/);
    const chunks: string[] = [];
    const per = Math.max(1, Math.ceil(pieces.length / Math.max(1, s.chunks)));
    for (let i = 0; i < pieces.length; i += per) chunks.push(pieces.slice(i, i + per).join(""));
    let sent = 0;
    const step = () => {
      if (closed) return;
      if (r.cancel || sent === chunks.length) return finish();
      const delta = chunks[sent++];
      if (spoken) {
        emit({ type: "response.output_audio_transcript.delta", response_id: r.id, item_id: itemId, output_index: 0, content_index: 0, delta });
        const samples = Buffer.alloc(Math.round(PCM_BYTES_PER_SECOND * 0.1 * delta.trim().split(/\s+/).length));
        emit({ type: "response.output_audio.delta", response_id: r.id, item_id: itemId, output_index: 0, content_index: 0, delta: samples.toString("base64") });
      } else emit({ type: "response.output_text.delta", response_id: r.id, item_id: itemId, output_index: 0, content_index: 0, delta });
      later(s.interChunkMs, step);
    };
    const finish = () => {
      const text = chunks.slice(0, sent).join("");
      const outText = textTokens(text);
      const outAudio = spoken ? Math.ceil(text.trim().split(/\s+/).filter(Boolean).length * 0.1 * AUDIO_TOKENS_PER_SECOND) : 0;
      const content = spoken ? { type: "output_audio", transcript: text } : { type: "output_text", text };
      const item = { id: itemId, type: "message", object: "realtime.item", status: r.cancel ? "incomplete" : "completed", role: "assistant", content: [content] };
      if (!r.cancel) {
        if (spoken) emit({ type: "response.output_audio_transcript.done", response_id: r.id, item_id: itemId, output_index: 0, content_index: 0, transcript: text });
        else emit({ type: "response.output_text.done", response_id: r.id, item_id: itemId, output_index: 0, content_index: 0, text });
        emit({ type: "response.content_part.done", response_id: r.id, item_id: itemId, output_index: 0, content_index: 0, part: content });
        emit({ type: "response.output_item.done", response_id: r.id, output_index: 0, item });
      }
      items.push({ id: itemId, role: "assistant", text, audioSeconds: 0 });
      running = undefined;
      emit({
        type: "response.done",
        response: {
          ...base,
          status: r.cancel ? "cancelled" : "completed",
          status_details: r.cancel ? { type: "cancelled", reason: "client_cancelled" } : null,
          output: [item],
          usage: {
            total_tokens: inText + inAudio + outText + outAudio,
            input_tokens: inText + inAudio,
            output_tokens: outText + outAudio,
            input_token_details: { text_tokens: inText, audio_tokens: inAudio, image_tokens: 0, cached_tokens: 0, cached_tokens_details: { text_tokens: 0, audio_tokens: 0, image_tokens: 0 } },
            output_token_details: { text_tokens: outText, audio_tokens: outAudio },
          },
        },
      });
    };
    emit({ type: "response.created", response: { ...base, status: "in_progress", output: [] } });
    emit({ type: "response.output_item.added", response_id: r.id, output_index: 0, item: { id: itemId, type: "message", object: "realtime.item", status: "in_progress", role: "assistant", content: [] } });
    emit({ type: "response.content_part.added", response_id: r.id, item_id: itemId, output_index: 0, content_index: 0, part });
    later(s.ttftMs, step);
  }

  // The session exists once the socket is open: its first event, as OpenAI's.
  emit({ type: "session.created", session });
  return Promise.resolve(link);
}
