// AudioService: validate, then hand the call to the engine's transcription or speech operation (the
// same ones /v1/audio/* use) and translate the answer into protobuf.

import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AudioService, SpeakResponseSchema, SpeakStartSchema, SpeakStreamResponseSchema, TranscribeResponseSchema, type SpeakResponse, type SpeakStreamResponse, type TranscribeResponse } from "../../gen/signalbox/v1/audio_pb.ts";
import type { ChatEngine } from "../engine/chat-engine.ts";
import type { SpeechAnswer, TranscriptionAnswer } from "../engine/audio.ts";
import { callerKey } from "./auth.ts";
import { statusOf } from "./chat-service.ts";
import { requestInfoKey } from "./context.ts";
import { accountToPb, toSpeechCall, toTranscriptionCall } from "./convert.ts";
import { toConnectError } from "./errors.ts";
import { validateSpeechCall, validateTranscriptionCall } from "./validate.ts";

export function transcriptionToPb(a: TranscriptionAnswer): TranscribeResponse {
  return create(TranscribeResponseSchema, {
    ...accountToPb(a),
    text: a.text,
    language: a.language ?? "",
    durationSeconds: a.durationSeconds ?? 0,
    segments: a.segments ?? [],
    words: a.words ?? [],
  });
}

export function speechToPb(a: SpeechAnswer): SpeakResponse {
  return create(SpeakResponseSchema, { ...accountToPb(a), audio: a.audio, mediaType: a.mediaType });
}

export function audioService(engine: ChatEngine): Partial<ServiceImpl<typeof AudioService>> {
  return {
    async transcribe(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toTranscriptionCall(req, ri.id, ctx.values.get(callerKey));
        validateTranscriptionCall(call);
        const a = await engine.transcribe({ call, ri, signal: ctx.signal, statusOf: (err) => statusOf(err === undefined ? undefined : toConnectError(err, ctx.signal, ri.traceId), ctx) });
        return transcriptionToPb(a);
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },
    /**
     * The speech operation with a sink that hands each chunk to this stream: the sink's write waits
     * until the message has been taken (a slow caller holds the provider's reads back).
     */
    async *speakStream(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      const call = (() => {
        try {
          const c = toSpeechCall(req, ri.id, ctx.values.get(callerKey));
          validateSpeechCall(c);
          return c;
        } catch (err) {
          throw toConnectError(err, ctx.signal, ri.traceId);
        }
      })();
      type Event = SpeakStreamResponse["event"];
      const queue: Event[] = [];
      const taken: (() => void)[] = [];
      let wake: (() => void) | undefined;
      let outcome: { ok: true; answer: SpeechAnswer } | { ok: false; err: unknown } | undefined;
      const push = (e: Event) => {
        queue.push(e);
        wake?.();
      };
      void engine
        .speak({
          call,
          ri,
          signal: ctx.signal,
          statusOf: (err) => statusOf(err === undefined ? undefined : toConnectError(err, ctx.signal, ri.traceId), ctx),
          sink: {
            start: (mediaType, deployment, provider) => push({ case: "start", value: create(SpeakStartSchema, { id: ri.id, model: call.model, deployment, provider, mediaType, traceId: ri.traceId }) }),
            write: (chunk) => {
              push({ case: "audio", value: chunk });
              return new Promise<void>((resolve) => taken.push(resolve));
            },
          },
        })
        .then(
          (answer) => (outcome = { ok: true, answer }),
          (err: unknown) => (outcome = { ok: false, err }),
        )
        .finally(() => wake?.());
      try {
        for (;;) {
          while (queue.length) {
            yield create(SpeakStreamResponseSchema, { event: queue.shift()! });
            taken.shift()?.();
          }
          if (outcome) break;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      } finally {
        // The caller went away: let the sink go on (the engine sees the abort and stops).
        for (const t of taken.splice(0)) t();
      }
      if (!outcome.ok) throw toConnectError(outcome.err, ctx.signal, ri.traceId);
      yield create(SpeakStreamResponseSchema, { event: { case: "finish", value: speechToPb(outcome.answer) } });
    },
    async speak(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toSpeechCall(req, ri.id, ctx.values.get(callerKey));
        validateSpeechCall(call);
        const a = await engine.speak({ call, ri, signal: ctx.signal, statusOf: (err) => statusOf(err === undefined ? undefined : toConnectError(err, ctx.signal, ri.traceId), ctx) });
        return speechToPb(a);
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },
  };
}
