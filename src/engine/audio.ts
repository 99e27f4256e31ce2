// Audio, the engine's fifth and sixth operations: speech to text (transcription, and translation
// into English) and text to speech. The same plan (routes, aliases, strategies, allow lists),
// admission (limits and budgets), execution (retries, fallbacks, cooldowns, attempt spans), usage
// record and settlement as every other operation. Guardrails: a speech request's text goes through
// the input stage before anything is sent (a redaction changes what is read aloud); a transcript
// goes through the output stage before it is returned (a redaction changes the text, and the
// timed segments and words, which would still carry what was redacted, are left out). Neither is
// cached.

import { guardAnswer, guardEmbedInput } from "../guardrails/engine.ts";
import type { TranscriptSpan } from "../providers/types.ts";
import { executeSpeech, executeTranscription, type SpeechSink, type TranscriptSink } from "../router/execute.ts";
import type { SpeechCall, TranscriptionCall } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { operationFrame, type AnswerAccount } from "./account.ts";
import type { EngineParts } from "./chat-engine.ts";

export interface AudioEngineRequest<C> {
  call: C;
  ri: RequestInfo;
  signal: AbortSignal;
  /** The status name a failed request is recorded with. */
  statusOf(err: unknown): string;
  /** Speech: where the audio goes as it is made (the /v1 door streams it); absent: collected into the answer. */
  sink?: SpeechSink;
  /** Transcription: where the transcript goes as it is made (`stream: true` on /v1); absent: whole, in the answer only. */
  transcriptSink?: TranscriptSink;
}

export interface TranscriptionAnswer extends AnswerAccount {
  text: string;
  language?: string;
  durationSeconds?: number;
  segments?: TranscriptSpan[];
  words?: TranscriptSpan[];
}

export interface SpeechAnswer extends AnswerAccount {
  /** The audio, when no sink took it as it came (then empty). */
  audio: Uint8Array;
  mediaType: string;
  /** Bytes of audio made. */
  bytes: number;
}

const MEDIA_BY_EXTENSION: Record<string, string> = {
  flac: "audio/flac",
  mp3: "audio/mpeg",
  mpga: "audio/mpeg",
  mpeg: "audio/mpeg",
  mp4: "audio/mp4",
  m4a: "audio/mp4",
  ogg: "audio/ogg",
  oga: "audio/ogg",
  opus: "audio/ogg",
  wav: "audio/wav",
  webm: "audio/webm",
};

/** A recording's media type from its file name's extension (unknown: audio/wav, OpenAI's most forgiving). */
export function audioMediaType(filename: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(filename)?.[1]?.toLowerCase();
  return (ext && MEDIA_BY_EXTENSION[ext]) || "audio/wav";
}

/**
 * A recording's length as the gateway can tell without decoding it: a WAV's from its header, any
 * other format from its size at 128 kbit/s (16 kB a second). What admission reserves for; the
 * bill is what the provider reports.
 */
export function estimateAudioSeconds(audio: Uint8Array): number {
  const b = Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength);
  if (b.length >= 12 && b.toString("ascii", 0, 4) === "RIFF" && b.toString("ascii", 8, 12) === "WAVE") {
    let byteRate = 0;
    for (let at = 12; at + 8 <= b.length; ) {
      const id = b.toString("ascii", at, at + 4);
      const size = b.readUInt32LE(at + 4);
      if (id === "fmt " && size >= 16 && at + 20 <= b.length) byteRate = b.readUInt32LE(at + 16);
      else if (id === "data" && byteRate > 0) return Math.min(size, b.length - at - 8) / byteRate;
      at += 8 + size + (size % 2);
    }
  }
  return b.length / 16_000;
}

export function transcriptionOperation(e: EngineParts): (r: AudioEngineRequest<TranscriptionCall>) => Promise<TranscriptionAnswer> {
  return (r) =>
    operationFrame(e, r, async (f) => {
      await f.admit();
      const guard = f.startGuard();
      // Output guardrails judge the whole transcript before any of it leaves: with any, the
      // transcript is not streamed but handed over whole once they passed it.
      const guarded = guard !== undefined && !guard.selection.output.empty;
      const out = await executeTranscription(r.call, f.plan, r.signal, f.exec, f.ex, guarded ? undefined : r.transcriptSink);
      const c = f.ex.deployment!;
      let text = out.text;
      let timed = true;
      if (guarded) {
        const checked = await guardAnswer(guard, { text, toolCalls: [] }, r.signal);
        if (checked.text !== text) {
          text = checked.text;
          timed = false;
          f.plan.adjustments = [...f.plan.adjustments, ...guard.adjustments("output")];
        }
        if (r.transcriptSink) {
          r.transcriptSink.start(c.deployment.id, c.provider.name);
          await r.transcriptSink.delta(text);
        }
      }
      f.ok();
      return {
        ...f.account({ deployment: c.deployment.id, provider: c.provider.name, providerModel: out.model }),
        text,
        ...(out.language ? { language: out.language } : {}),
        ...(out.durationSeconds !== undefined ? { durationSeconds: out.durationSeconds } : {}),
        ...(timed && out.segments ? { segments: out.segments } : {}),
        ...(timed && out.words ? { words: out.words } : {}),
      };
    });
}

export function speechOperation(e: EngineParts): (r: AudioEngineRequest<SpeechCall>) => Promise<SpeechAnswer> {
  return (r) =>
    operationFrame(e, r, async (f) => {
      const { call } = r;
      await f.admit();
      // Input guardrails over the text: a block sends nothing; a redaction changes what is read.
      const guard = f.startGuard();
      const sending = guard ? await guardEmbedInput(guard, f.plan, [call.request.input], r.signal) : undefined;
      const sent: SpeechCall = sending && sending[0] !== call.request.input ? { ...call, request: { ...call.request, input: sending[0] } } : call;
      const chunks: Uint8Array[] = [];
      const sink: SpeechSink = r.sink ?? { start: () => {}, write: (c) => void chunks.push(c) };
      const out = await executeSpeech(sent, f.plan, r.signal, f.exec, f.ex, sink);
      const c = f.ex.deployment!;
      f.ok();
      return {
        ...f.account({ deployment: c.deployment.id, provider: c.provider.name, providerModel: out.model }),
        audio: r.sink ? new Uint8Array(0) : Buffer.concat(chunks),
        mediaType: out.mediaType,
        bytes: out.bytes,
      };
    });
}
