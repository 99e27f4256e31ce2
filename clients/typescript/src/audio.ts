// Audio in one line: `transcribe(client, model, bytes)` returns what was said (or its English
// translation, with `translate: true`); `speak(client, model, text, voice)` returns the text read
// aloud, as audio bytes with their media type.

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { CallOptions } from "@connectrpc/connect";
import type { SignalboxClient } from "./client.ts";
import {
  SpeakRequestSchema,
  TranscribeRequestSchema,
  type SpeakRequest,
  type SpeakResponse,
  type SpeakStart,
  type TranscribeStart,
  type TranscribeRequest,
  type TranscribeResponse,
} from "./gen/signalbox/v1/audio_pb.ts";

/** Every TranscribeRequest field but the model and the audio, as plain init values. */
export type TranscribeOptions = Omit<Exclude<MessageInitShape<typeof TranscribeRequestSchema>, TranscribeRequest>, "$typeName" | "model" | "audio">;

/** Every SpeakRequest field but the model, the input and the voice, as plain init values. */
export type SpeakOptions = Omit<Exclude<MessageInitShape<typeof SpeakRequestSchema>, SpeakRequest>, "$typeName" | "model" | "input" | "voice">;

export interface TranscribeResult {
  /** What was said (in English when translate was set). */
  text: string;
  /** The whole answer: deployment, language, duration, segments and words, usage, cost, trace id. */
  response: TranscribeResponse;
}

export interface SpeakResult {
  /** The audio's bytes. */
  audio: Uint8Array;
  /** Their media type: "audio/mpeg", "audio/wav", "audio/pcm", ... */
  mediaType: string;
  /** The whole answer: deployment, usage (characters or tokens), cost, attempts, trace id. */
  response: SpeakResponse;
}

/**
 * Transcribe a recording (flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav or webm, at most 25 MB)
 * through the gateway's AudioService. `options` takes any other TranscribeRequest field
 * (filename, media_type, language, prompt, temperature, translate, timestamp_granularities,
 * routing, guardrails, user, tags, metadata); name the format with `filename` or `mediaType`
 * unless it is WAV.
 */
export async function transcribe(client: SignalboxClient, model: string, audio: Uint8Array, options: TranscribeOptions = {}, callOptions?: CallOptions): Promise<TranscribeResult> {
  const response = await client.audio.transcribe(create(TranscribeRequestSchema, { ...options, model, audio }), callOptions);
  return { text: response.text, response };
}

/**
 * Read a text aloud through the gateway's AudioService. `options` takes any other SpeakRequest
 * field (format: mp3, opus, aac, flac, wav or pcm; speed, instructions, routing, guardrails, user,
 * tags, metadata).
 */
export async function speak(client: SignalboxClient, model: string, input: string, voice: string, options: SpeakOptions = {}, callOptions?: CallOptions): Promise<SpeakResult> {
  const response = await client.audio.speak(create(SpeakRequestSchema, { ...options, model, input, voice }), callOptions);
  return { audio: response.audio, mediaType: response.mediaType, response };
}

/** SpeakStream as it arrives: the start (deployment, media type), then audio chunks, then the whole answer's account. */
export type SpeechEvent = { type: "start"; start: SpeakStart } | { type: "audio"; audio: Uint8Array } | { type: "finish"; response: SpeakResponse };

/**
 * Read a text aloud through the gateway's AudioService.SpeakStream: the audio as the provider
 * makes it (play the first chunk while the rest is being made). A failure before the first audio
 * is retried or falls back on the gateway; after it, the iteration throws.
 */
export async function* speakStream(client: SignalboxClient, model: string, input: string, voice: string, options: SpeakOptions = {}, callOptions?: CallOptions): AsyncGenerator<SpeechEvent> {
  for await (const m of client.audio.speakStream(create(SpeakRequestSchema, { ...options, model, input, voice }), callOptions)) {
    const e = m.event;
    if (e.case === "start") yield { type: "start", start: e.value };
    else if (e.case === "audio") yield { type: "audio", audio: e.value };
    else if (e.case === "finish") yield { type: "finish", response: e.value };
  }
}

/** TranscribeStream as it arrives: the start (deployment), text deltas, then the whole answer. */
export type TranscriptEvent = { type: "start"; start: TranscribeStart } | { type: "delta"; text: string } | { type: "finish"; response: TranscribeResponse };

/**
 * Transcribe a recording through AudioService.TranscribeStream: the text as it is made (GPT-4o
 * transcription models stream; whisper gives its text as one delta). Not for translations or
 * timestamps.
 */
export async function* transcribeStream(client: SignalboxClient, model: string, audio: Uint8Array, options: TranscribeOptions = {}, callOptions?: CallOptions): AsyncGenerator<TranscriptEvent> {
  for await (const m of client.audio.transcribeStream(create(TranscribeRequestSchema, { ...options, model, audio }), callOptions)) {
    const e = m.event;
    if (e.case === "start") yield { type: "start", start: e.value };
    else if (e.case === "delta") yield { type: "delta", text: e.value };
    else if (e.case === "finish") yield { type: "finish", response: e.value };
  }
}
