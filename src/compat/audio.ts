// OpenAI's Audio API on the gateway's port, so the official SDKs' `audio.transcriptions.create`,
// `audio.translations.create` and `audio.speech.create` work unchanged against any deployment that
// serves the operation:
//   POST /v1/audio/transcriptions, /v1/audio/translations  multipart/form-data: file, model,
//        language, prompt, response_format (json, text, srt, verbose_json, vtt), temperature,
//        timestamp_granularities[]; `signalbox` (a JSON text field) carries the Connect API's
//        routing options, tags and guardrails, `metadata` likewise.
//   POST /v1/audio/speech  JSON: model, input, voice, instructions, response_format, speed,
//        stream_format → the audio's bytes (or, with stream_format "sse", OpenAI's speech events).
// Every answer says what it cost in headers (x-signalbox-deployment, x-signalbox-cost-nano-usd);
// the JSON formats also carry a `signalbox` object. The text formats (text, SRT, WebVTT) are
// rendered by the gateway from the transcript and its segments, whichever provider answered.

import type { ChatEngine } from "../engine/chat-engine.ts";
import { audioMediaType, estimateAudioSeconds, type SpeechAnswer, type TranscriptionAnswer } from "../engine/audio.ts";
import type { Caller, SpeechCall, TranscriptionCall } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { validateSpeechCall, validateTranscriptionCall, type AudioFieldNames } from "../server/validate.ts";
import type { TranscriptSpan } from "../providers/types.ts";
import { bad, isObj, num, signalboxOptions, str, stringMetadata } from "./request.ts";
import { rateLimitHeaders } from "./response.ts";

const FORM_FIELDS: AudioFieldNames = { audio: "file", format: "response_format", timestamps: "timestamp_granularities[]", routing: "signalbox" };
const TRANSCRIPT_FORMATS = new Set(["json", "text", "srt", "verbose_json", "vtt"]);
const FORM_KNOWN = new Set(["file", "model", "language", "prompt", "response_format", "temperature", "timestamp_granularities[]", "timestamp_granularities", "stream", "include[]", "chunking_strategy", "signalbox", "metadata", "user"]);
const SPEECH_KNOWN = new Set(["model", "input", "voice", "instructions", "response_format", "speed", "stream_format", "user", "metadata", "signalbox"]);

type Ctx = { ri: RequestInfo; caller: Caller; signal: AbortSignal; statusOf(err: unknown): string };

/** A form's text field: once at most, a string. */
function field(form: FormData, k: string): string | undefined {
  const all = form.getAll(k);
  if (all.length > 1) bad(k, "must be given once");
  const v = all[0];
  if (v === undefined) return undefined;
  if (typeof v !== "string") bad(k, "must be a text field, not a file");
  return v;
}

/** A JSON object carried in a text field (`signalbox`, `metadata`). */
function jsonField(form: FormData, k: string): Record<string, unknown> | undefined {
  const raw = field(form, k);
  if (raw === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    bad(k, "must be a JSON object");
  }
  if (!isObj(v)) bad(k, "must be a JSON object");
  return v;
}

/** Parse a transcription or translation upload into a call, and the response format asked for. */
export async function parseTranscription(body: Buffer, contentType: string | undefined, translate: boolean, id: string, caller: Caller): Promise<{ call: TranscriptionCall; format: string; stream: boolean }> {
  if (!contentType?.toLowerCase().startsWith("multipart/form-data")) bad("body", "must be multipart/form-data (a file upload), as OpenAI's audio endpoints take it");
  let form: FormData;
  try {
    form = await new Response(new Uint8Array(body.buffer, body.byteOffset, body.byteLength) as Uint8Array<ArrayBuffer>, { headers: { "content-type": contentType } }).formData();
  } catch {
    bad("body", "could not parse the multipart/form-data body");
  }
  for (const k of new Set(form.keys())) if (!FORM_KNOWN.has(k)) bad(k, `Unrecognized request argument supplied: ${k}`);
  const model = field(form, "model") ?? bad("model", "is required (a route, alias or deployment that serves transcription)");
  const files = form.getAll("file");
  if (files.length !== 1 || typeof files[0] === "string") bad("file", "is required: one audio file (flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav or webm)");
  const file = files[0] as File;
  const audio = new Uint8Array(await file.arrayBuffer());
  const format = field(form, "response_format") ?? "json";
  if (!TRANSCRIPT_FORMATS.has(format)) bad("response_format", `must be one of json, text, srt, verbose_json, vtt, got "${format}"`);
  const streamField = field(form, "stream");
  if (streamField !== undefined && streamField !== "true" && streamField !== "false") bad("stream", `must be true or false, got "${streamField}"`);
  const stream = streamField === "true";
  if (stream && translate) bad("stream", "a translation is not streamed");
  if (stream && format !== "json" && format !== "text") bad("response_format", `a streamed transcript is json or text, not ${format}`);
  if (form.getAll("include[]").length) bad("include[]", "log probabilities of a transcription are not supported by this gateway");
  if (form.has("chunking_strategy")) bad("chunking_strategy", "is not supported by this gateway");
  const language = field(form, "language");
  if (translate && language !== undefined) bad("language", "is not taken by a translation (it is always into English)");
  const tRaw = field(form, "temperature");
  const temperature = tRaw === undefined ? undefined : Number(tRaw);
  if (temperature !== undefined && !Number.isFinite(temperature)) bad("temperature", `must be a number, got "${tRaw}"`);
  const granularities = [...form.getAll("timestamp_granularities[]"), ...form.getAll("timestamp_granularities")].map((g) => String(g));
  if (granularities.length && format !== "verbose_json") bad("timestamp_granularities[]", 'needs response_format "verbose_json"');
  // SRT, WebVTT and verbose_json need segments: ask for them.
  const timestamps = (granularities.length ? granularities : format === "verbose_json" || format === "srt" || format === "vtt" ? ["segment"] : []) as ("segment" | "word")[];
  const user = field(form, "user") || undefined;
  const sb = jsonField(form, "signalbox");
  const meta = jsonField(form, "metadata");
  const opts = signalboxOptions(sb ? { signalbox: sb } : {}, model, user);
  const filename = file.name && file.name !== "blob" ? file.name : "audio.wav";
  const prompt = field(form, "prompt");
  const call: TranscriptionCall = {
    operation: "transcription",
    id,
    model,
    request: {
      audio,
      filename,
      mediaType: file.type && file.type !== "application/octet-stream" ? file.type : audioMediaType(filename),
      ...(translate ? { translate: true } : {}),
      ...(language ? { language } : {}),
      ...(prompt ? { prompt } : {}),
      ...(temperature !== undefined ? { temperature } : {}),
      ...(timestamps.length ? { timestamps } : {}),
    },
    estimatedSeconds: estimateAudioSeconds(audio),
    routing: opts.routing,
    user,
    tags: opts.tags,
    metadata: meta ? stringMetadata({ metadata: meta }) : {},
    caller,
    ...(opts.guardrails ? { guardrails: opts.guardrails } : {}),
  };
  validateTranscriptionCall(call, FORM_FIELDS);
  return { call, format, stream };
}

/** Seconds as SRT ("00:01:02,345") or WebVTT ("00:01:02.345") time. */
function clock(seconds: number, sep: "," | "."): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(Math.floor(ms / 3_600_000))}:${p(Math.floor(ms / 60_000) % 60)}:${p(Math.floor(ms / 1000) % 60)}${sep}${p(ms % 1000, 3)}`;
}

/** The transcript's segments (or, with none, the whole text as one) as SRT or WebVTT. */
export function renderSubtitles(text: string, segments: readonly TranscriptSpan[] | undefined, duration: number | undefined, kind: "srt" | "vtt"): string {
  const cues = segments?.length ? segments : [{ start: 0, end: duration ?? 0, text }];
  const sep = kind === "srt" ? "," : ".";
  const body = cues.map((c, i) => `${kind === "srt" ? `${i + 1}\n` : ""}${clock(c.start, sep)} --> ${clock(c.end, sep)}\n${c.text.trim()}\n`).join("\n");
  return kind === "vtt" ? `WEBVTT\n\n${body}` : body;
}

function accountHeaders(a: TranscriptionAnswer | SpeechAnswer, ri: RequestInfo): Record<string, string> {
  return { "x-signalbox-deployment": a.deployment, "x-signalbox-cost-nano-usd": String(a.cost.total), "x-request-id": ri.id, "x-signalbox-trace-id": ri.traceId, ...rateLimitHeaders(a.limits) };
}

function signalboxJson(a: TranscriptionAnswer | SpeechAnswer) {
  return {
    id: a.id,
    deployment: a.deployment,
    provider: a.provider,
    provider_model: a.providerModel,
    route: a.routing.route,
    variant: a.routing.variant,
    attempts: a.attempts.length,
    cost_nano_usd: a.cost.total,
    trace_id: a.traceId,
    adjustments: a.adjustments,
  };
}

/** OpenAI's usage object of a transcription: seconds for the models billed by duration, else tokens. */
function transcriptionUsage(a: TranscriptionAnswer) {
  if (a.usage.audioSeconds) return { type: "duration", seconds: Math.ceil(a.usage.audioSeconds) };
  return { type: "tokens", input_tokens: a.usage.inputTokens, output_tokens: a.usage.outputTokens, total_tokens: a.usage.inputTokens + a.usage.outputTokens };
}

/** The answer in the response format asked for. */
export function transcriptionOut(a: TranscriptionAnswer, format: string, translate: boolean): { body: string; contentType: string } {
  switch (format) {
    case "text":
      return { body: `${a.text}\n`, contentType: "text/plain; charset=utf-8" };
    case "srt":
    case "vtt":
      return { body: renderSubtitles(a.text, a.segments, a.durationSeconds, format), contentType: format === "vtt" ? "text/vtt; charset=utf-8" : "text/plain; charset=utf-8" };
    case "verbose_json":
      return {
        contentType: "application/json",
        body: JSON.stringify({
          task: translate ? "translate" : "transcribe",
          language: a.language ?? "",
          duration: a.durationSeconds ?? 0,
          text: a.text,
          ...(a.segments ? { segments: a.segments.map((s, id) => ({ id, start: s.start, end: s.end, text: s.text })) } : {}),
          ...(a.words ? { words: a.words.map((w) => ({ word: w.text, start: w.start, end: w.end })) } : {}),
          usage: transcriptionUsage(a),
          signalbox: signalboxJson(a),
        }),
      };
    default:
      return { contentType: "application/json", body: JSON.stringify({ text: a.text, usage: transcriptionUsage(a), signalbox: signalboxJson(a) }) };
  }
}

/**
 * One transcription or translation upload: the engine's answer in the format asked for; with
 * `stream: true`, OpenAI's transcript events as the text is made (`transcript.text.delta`, then
 * `transcript.text.done` with the text and usage), the head with the first text. Deployments that
 * do not stream (whisper, output guardrails in force) give their whole text as one delta.
 */
export async function serveTranscription(engine: ChatEngine, body: Buffer, contentType: string | undefined, translate: boolean, res: StreamResponse, r: Ctx): Promise<void> {
  const { call, format, stream } = await parseTranscription(body, contentType, translate, r.ri.id, r.caller);
  if (!stream) {
    const a = await engine.transcribe({ call, ri: r.ri, signal: r.signal, statusOf: r.statusOf });
    const out = transcriptionOut(a, format, translate);
    const bytes = Buffer.from(out.body);
    res.writeHead(200, { ...accountHeaders(a, r.ri), "content-type": out.contentType, "content-length": String(bytes.byteLength) });
    res.end(bytes);
    return;
  }
  const write = (chunk: string) => writeOn(res, chunk);
  const a = await engine.transcribe({
    call,
    ri: r.ri,
    signal: r.signal,
    statusOf: r.statusOf,
    transcriptSink: {
      start(deployment) {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-signalbox-deployment": deployment, "x-request-id": r.ri.id, "x-signalbox-trace-id": r.ri.traceId, trailer: "x-signalbox-cost-nano-usd" });
      },
      delta: (text) => (text ? write(`data: ${JSON.stringify({ type: "transcript.text.delta", delta: text })}\n\n`) : undefined),
    },
  });
  res.write(`data: ${JSON.stringify({ type: "transcript.text.done", text: a.text, usage: transcriptionUsage(a), signalbox: signalboxJson(a) })}\n\n`);
  res.addTrailers({ "x-signalbox-cost-nano-usd": String(a.cost.total) });
  res.end();
}

/** Parse and validate a speech body. */
export function parseSpeech(body: unknown, id: string, caller: Caller): { call: SpeechCall; sse: boolean } {
  if (!isObj(body)) bad("body", "must be a JSON object");
  for (const k of Object.keys(body)) if (!SPEECH_KNOWN.has(k)) bad(k, `Unrecognized request argument supplied: ${k}`);
  const model = str(body, "model", "model") ?? bad("model", "is required (a route, alias or deployment that serves speech)");
  const input = str(body, "input", "input") ?? bad("input", "is required");
  let voice: string;
  if (isObj(body.voice)) voice = str(body.voice, "id", "voice.id") ?? bad("voice.id", "is required (a custom voice's id)");
  else voice = str(body, "voice", "voice") ?? bad("voice", "is required");
  const format = str(body, "response_format", "response_format") ?? "mp3";
  const streamFormat = str(body, "stream_format", "stream_format");
  if (streamFormat !== undefined && streamFormat !== "audio" && streamFormat !== "sse") bad("stream_format", `must be audio or sse, got "${streamFormat}"`);
  const speed = num(body, "speed", "speed");
  const instructions = str(body, "instructions", "instructions");
  const user = str(body, "user", "user") || undefined;
  const opts = signalboxOptions(body, model, user);
  const call: SpeechCall = {
    operation: "speech",
    id,
    model,
    request: { input, voice, format: format as SpeechCall["request"]["format"], ...(speed !== undefined ? { speed } : {}), ...(instructions !== undefined ? { instructions } : {}) },
    routing: opts.routing,
    user,
    tags: opts.tags,
    metadata: stringMetadata(body),
    caller,
    ...(opts.guardrails ? { guardrails: opts.guardrails } : {}),
  };
  validateSpeechCall(call, { audio: "input", format: "response_format", timestamps: "", routing: "signalbox" });
  return { call, sse: streamFormat === "sse" };
}

const speechEvent = (chunk: Uint8Array) => `data: {"type":"speech.audio.delta","audio":"${Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("base64")}"}\n\n`;

/** Write a piece of a stream; when the caller is slower than the provider, a promise for when it has drained (or gone). */
function writeOn(res: StreamResponse, chunk: Uint8Array | string): void | Promise<void> {
  if (res.write(chunk) || res.destroyed) return;
  return new Promise((resolve) => {
    res.once("drain", resolve);
    res.once("close", resolve);
  });
}

/** The response a speech or transcript stream writes to: Node's, seen through what this needs. */
export interface StreamResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: Uint8Array | string): boolean;
  once(event: "drain" | "close", fn: () => void): unknown;
  addTrailers(headers: Record<string, string>): void;
  end(chunk?: string | Uint8Array): unknown;
  readonly destroyed: boolean;
}

/**
 * One speech request, streamed to the caller as the provider makes it: the head (200, the audio's
 * media type, the deployment) at the first audio chunk, then each chunk as it arrives (a slow
 * caller holds the provider's reads back); the cost in a trailer. With stream_format "sse",
 * OpenAI's speech events instead: a delta per chunk, then done with the usage. A failure before
 * the first chunk is an ordinary error answer (the caller's handler sends it); after it, the
 * response is cut (the caller sees a truncated body) and the request is recorded as failed.
 */
export async function serveSpeech(engine: ChatEngine, body: unknown, res: StreamResponse, r: Ctx): Promise<void> {
  const { call, sse } = parseSpeech(body, r.ri.id, r.caller);
  const write = (chunk: Uint8Array | string) => writeOn(res, chunk);
  const a = await engine.speak({
    call,
    ri: r.ri,
    signal: r.signal,
    statusOf: r.statusOf,
    sink: {
      start(mediaType, deployment) {
        res.writeHead(200, {
          "content-type": sse ? "text/event-stream" : mediaType,
          ...(sse ? { "cache-control": "no-cache" } : {}),
          "x-signalbox-deployment": deployment,
          "x-request-id": r.ri.id,
          "x-signalbox-trace-id": r.ri.traceId,
          trailer: "x-signalbox-cost-nano-usd",
        });
      },
      write: (chunk) => write(sse ? speechEvent(chunk) : chunk),
    },
  });
  if (sse) {
    const u = a.usage;
    res.write(`data: ${JSON.stringify({ type: "speech.audio.done", usage: { input_tokens: u.inputTokens, output_tokens: u.outputTokens, total_tokens: u.inputTokens + u.outputTokens } })}\n\n`);
  }
  res.addTrailers({ "x-signalbox-cost-nano-usd": String(a.cost.total) });
  res.end();
}

/** Whether a path is one of the audio endpoints. */
export const isAudioPath = (path: string): boolean => path === "/v1/audio/transcriptions" || path === "/v1/audio/translations" || path === "/v1/audio/speech";
