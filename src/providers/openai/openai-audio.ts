// The Audio API for OpenAI, Azure OpenAI (its deployments path and api-version, from the
// connection's dialect) and OpenAI-compatible servers (Groq, a local whisper server): speech to
// text (`POST /audio/transcriptions`, `/audio/translations`, multipart) and text to speech
// (`POST /audio/speech`, JSON in, audio out). Pure translation.
//
// Transcriptions always come back as JSON, so that every answer carries what it is billed by: a
// whisper model is asked for `verbose_json` (duration, language, segments; usage in seconds), a
// GPT-4o transcription model for `json` (token usage; it takes no other format). The caller's
// text, SRT or WebVTT is rendered by the gateway from that (src/compat/audio.ts). Speech from
// gpt-4o-mini-tts is asked for as server-sent events (`stream_format: "sse"`), whose last event
// reports its tokens; the audio deltas are joined into the bytes the caller gets. tts-1 and
// tts-1-hd answer bytes and are billed per character.

import { tryJson } from "../headers.ts";
import { createSseParser } from "../sse.ts";
import type { HttpRequestSpec, TranscriptionDecoder, SpeechDecoder, SpeechRequest, SpeechResult, SseEvent, TranscriptSpan, TranscriptionRequest, TranscriptionResult } from "../types.ts";
import { ProviderError } from "../types.ts";
import { isObject } from "./openai-error.ts";

/** The audio path (`transcriptions`, `translations` or `speech`) of a dialect whose chat path is `chatPath` (same URL family, same query). */
export function audioPath(chatPath: string, what: "transcriptions" | "translations" | "speech"): string {
  return chatPath.replace("/chat/completions", `/audio/${what}`);
}

export type TranscriptionFamily = "whisper" | "gpt-transcribe" | "other";

export function transcriptionFamily(model: string): TranscriptionFamily {
  const id = (model.includes("/") ? model.slice(model.lastIndexOf("/") + 1) : model).toLowerCase();
  if (id.includes("whisper")) return "whisper";
  if (id.startsWith("gpt-") && id.includes("transcribe")) return "gpt-transcribe";
  return "other";
}

/** Speech models that stream SSE with a usage event (gpt-4o-mini-tts); tts-1 and tts-1-hd answer bytes only. */
export const speechReportsTokens = (model: string): boolean => {
  const id = (model.includes("/") ? model.slice(model.lastIndexOf("/") + 1) : model).toLowerCase();
  return id.startsWith("gpt-") && id.includes("tts");
};

export const SPEECH_MEDIA_TYPES: Record<string, string> = {
  mp3: "audio/mpeg",
  opus: "audio/opus",
  aac: "audio/aac",
  flac: "audio/flac",
  wav: "audio/wav",
  pcm: "audio/pcm",
};

type FilePart = { name: string; filename: string; mediaType: string; bytes: Uint8Array };

/** One multipart/form-data body: text fields, then the files. The boundary is fixed per request (random). */
export function multipartBody(fields: [string, string][], files: FilePart | FilePart[]): { body: Uint8Array; contentType: string } {
  const boundary = `----signalbox${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  const quote = (s: string) => s.replace(/[\r\n"]/g, (c) => (c === '"' ? "%22" : c === "\r" ? "%0D" : "%0A"));
  let head = "";
  for (const [k, v] of fields) head += `--${boundary}\r\nContent-Disposition: form-data; name="${quote(k)}"\r\n\r\n${v}\r\n`;
  const parts: Uint8Array[] = [];
  for (const file of Array.isArray(files) ? files : [files]) {
    parts.push(Buffer.from(`${head}--${boundary}\r\nContent-Disposition: form-data; name="${quote(file.name)}"; filename="${quote(file.filename)}"\r\nContent-Type: ${file.mediaType}\r\n\r\n`, "utf8"), file.bytes);
    head = "\r\n";
  }
  const body = Buffer.concat([...parts, Buffer.from(`${head}--${boundary}--\r\n`, "utf8")]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

/**
 * The upstream request for one transcription. A request a model cannot serve is refused before
 * sending (unsent, so the router tries the next deployment): translation and timestamps are
 * whisper's alone.
 */
export function buildOpenAITranscription(req: TranscriptionRequest, path: string, headers: Record<string, string>, family: TranscriptionFamily = transcriptionFamily(req.model), stream = false): HttpRequestSpec {
  if (family === "gpt-transcribe") {
    if (req.translate) throw new ProviderError({ kind: "model_not_found", message: `${req.model} does not translate (whisper-1 does)`, unsent: true });
    if (req.timestamps?.length) throw new ProviderError({ kind: "model_not_found", message: `${req.model} gives no timestamps (whisper-1 does)`, unsent: true });
  }
  const fields: [string, string][] = [["model", req.model]];
  const verbose = family === "whisper" || (family === "other" && (req.timestamps?.length ?? 0) > 0);
  fields.push(["response_format", verbose ? "verbose_json" : "json"]);
  if (req.language !== undefined && !req.translate) fields.push(["language", req.language]);
  if (req.prompt !== undefined) fields.push(["prompt", req.prompt]);
  if (req.temperature !== undefined) fields.push(["temperature", String(req.temperature)]);
  // The SDK sends an array field as repeated `name[]` parts.
  if (verbose) for (const g of req.timestamps ?? []) fields.push(["timestamp_granularities[]", g]);
  if (stream) fields.push(["stream", "true"]);
  const { body, contentType } = multipartBody(fields, { name: "file", filename: req.filename, mediaType: req.mediaType, bytes: req.audio });
  return { method: "POST", path, headers: { ...headers, accept: stream ? "text/event-stream" : "application/json", "content-type": contentType }, bytes: body };
}

const spans = (v: unknown, textKey: "text" | "word"): TranscriptSpan[] | undefined =>
  Array.isArray(v)
    ? v.filter(isObject).map((s) => ({ start: Number(s.start) || 0, end: Number(s.end) || 0, text: typeof s[textKey] === "string" ? (s[textKey] as string) : "" }))
    : undefined;

/** Parse a transcription's JSON (json or verbose_json): the text, what the provider said of the audio, and what it billed. */
export function parseOpenAITranscription(body: string): TranscriptionResult {
  const json = tryJson(body);
  if (!isObject(json) || typeof json.text !== "string") throw new ProviderError({ kind: "server_error", message: "upstream sent a transcription without text" });
  const out: TranscriptionResult = { model: "", text: json.text };
  if (typeof json.language === "string" && json.language) out.language = json.language;
  if (typeof json.duration === "number") out.durationSeconds = json.duration;
  const segments = spans(json.segments, "text");
  if (segments?.length) out.segments = segments;
  const words = spans(json.words, "word");
  if (words?.length) out.words = words;
  const u = json.usage;
  if (isObject(u)) {
    if (u.type === "duration" && typeof u.seconds === "number") out.usage = { seconds: u.seconds };
    else if (typeof u.input_tokens === "number" && typeof u.output_tokens === "number") out.usage = { inputTokens: u.input_tokens, outputTokens: u.output_tokens };
  }
  // A whisper answer without usage still says how long the audio was: that is what it bills.
  if (!out.usage && out.durationSeconds !== undefined) out.usage = { seconds: Math.ceil(out.durationSeconds) };
  return out;
}

/** The speech request: JSON; gpt-4o-mini-tts over SSE (for its usage), tts-1 as bytes. */
export function buildOpenAISpeech(req: SpeechRequest, path: string, headers: Record<string, string>): HttpRequestSpec {
  const sse = speechReportsTokens(req.model);
  if (req.instructions !== undefined && !sse && /^tts-1/.test(req.model)) {
    throw new ProviderError({ kind: "bad_request", message: `${req.model} does not take instructions (gpt-4o-mini-tts does)`, unsent: true });
  }
  const body: Record<string, unknown> = { model: req.model, input: req.input, voice: /^voice_/.test(req.voice) ? { id: req.voice } : req.voice, response_format: req.format };
  if (req.speed !== undefined) body.speed = req.speed;
  if (req.instructions !== undefined) body.instructions = req.instructions;
  if (sse) body.stream_format = "sse";
  return { method: "POST", path, headers: { ...headers, accept: sse ? "text/event-stream" : SPEECH_MEDIA_TYPES[req.format] }, body: JSON.stringify(body) };
}

/**
 * A speech answer's decoder: the bytes as they come, or, for an SSE answer (gpt-4o-mini-tts), each
 * `speech.audio.delta` event's audio decoded as it arrives and the `speech.audio.done` event's
 * usage kept. An error event fails the stream.
 */
export function openAISpeechDecoder(req: SpeechRequest, headers: Record<string, string | string[] | undefined>): SpeechDecoder & { mediaType: string } {
  const mediaType = SPEECH_MEDIA_TYPES[req.format];
  const ct = String(headers["content-type"] ?? "").toLowerCase();
  if (!ct.startsWith("text/event-stream")) return { mediaType, push: (c) => [c], end: () => [], usage: () => undefined };
  const parser = createSseParser();
  let usage: SpeechResult["usage"];
  const decode = (events: SseEvent[]): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (const e of events) {
      if (!e.data || e.data === "[DONE]") continue;
      const j = tryJson(e.data);
      if (!isObject(j)) throw new ProviderError({ kind: "stream_interrupted", message: "upstream sent a speech event that is not JSON" });
      if (j.type === "speech.audio.delta" && typeof j.audio === "string") out.push(Buffer.from(j.audio, "base64"));
      else if (j.type === "speech.audio.done" && isObject(j.usage) && typeof j.usage.input_tokens === "number" && typeof j.usage.output_tokens === "number") {
        usage = { inputTokens: j.usage.input_tokens, outputTokens: j.usage.output_tokens };
      } else if (j.type === "error" || isObject(j.error)) {
        const err = isObject(j.error) ? j.error : j;
        throw new ProviderError({ kind: "server_error", message: `upstream speech stream failed: ${typeof err.message === "string" ? err.message : "error event"}` });
      }
    }
    return out;
  };
  return { mediaType, push: (c) => decode(parser.push(c)), end: () => decode(parser.end()), usage: () => usage };
}

/**
 * The streamed transcription request: the GPT-4o transcription models stream (`stream: true`:
 * `transcript.text.delta` events, then `transcript.text.done` with the text and usage); whisper
 * does not (undefined: the unary request instead), nor does a translation.
 */
export function buildOpenAITranscriptionStream(req: TranscriptionRequest, path: string, headers: Record<string, string>): HttpRequestSpec | undefined {
  const family = transcriptionFamily(req.model);
  if (family !== "gpt-transcribe" || req.translate || req.timestamps?.length) return undefined;
  return buildOpenAITranscription(req, path, headers, family, true);
}

export function openAITranscriptionDecoder(): TranscriptionDecoder {
  const parser = createSseParser();
  let result: TranscriptionResult | undefined;
  const decode = (events: SseEvent[]): string[] => {
    const out: string[] = [];
    for (const e of events) {
      if (!e.data || e.data === "[DONE]") continue;
      const j = tryJson(e.data);
      if (!isObject(j)) throw new ProviderError({ kind: "stream_interrupted", message: "upstream sent a transcript event that is not JSON" });
      if (j.type === "transcript.text.delta" && typeof j.delta === "string") out.push(j.delta);
      else if (j.type === "transcript.text.done" && typeof j.text === "string") {
        result = { model: "", text: j.text };
        const u = j.usage;
        if (isObject(u) && typeof u.input_tokens === "number" && typeof u.output_tokens === "number") result.usage = { inputTokens: u.input_tokens, outputTokens: u.output_tokens };
        else if (isObject(u) && typeof u.seconds === "number") result.usage = { seconds: u.seconds };
      } else if (j.type === "error" || isObject(j.error)) {
        const err = isObject(j.error) ? j.error : j;
        throw new ProviderError({ kind: "server_error", message: `upstream transcript stream failed: ${typeof err.message === "string" ? err.message : "error event"}` });
      }
    }
    return out;
  };
  return { push: (c) => decode(parser.push(c)), end: () => decode(parser.end()), result: () => result };
}
