// AudioService: validate, then hand the call to the engine's transcription or speech operation (the
// same ones /v1/audio/* use) and translate the answer into protobuf.

import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { GatewayError } from "../router/errors.ts";
import { AudioService, SpeakResponseSchema, SpeakStartSchema, SpeakStreamResponseSchema, TranscribeResponseSchema, TranscribeStartSchema, TranscribeStreamResponseSchema, type SpeakResponse, type SpeakStreamResponse, type TranscribeResponse, type TranscribeStreamResponse } from "../../gen/signalbox/v1/audio_pb.ts";
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
    /** The speech operation with a sink that hands each chunk to this stream (see relay). */
    async *speakStream(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      const call = validated(() => {
        const c = toSpeechCall(req, ri.id, ctx.values.get(callerKey));
        validateSpeechCall(c);
        return c;
      }, ctx, ri.traceId);
      const answer = yield* relay<SpeechAnswer, SpeakStreamResponse>(
        (emit) =>
          engine.speak({
            call,
            ri,
            signal: ctx.signal,
            statusOf: (err) => statusOf(err === undefined ? undefined : toConnectError(err, ctx.signal, ri.traceId), ctx),
            sink: {
              start: (mediaType, deployment, provider) =>
                void emit(create(SpeakStreamResponseSchema, { event: { case: "start", value: create(SpeakStartSchema, { id: ri.id, model: call.model, deployment, provider, mediaType, traceId: ri.traceId }) } })),
              write: (chunk) => emit(create(SpeakStreamResponseSchema, { event: { case: "audio", value: chunk } })),
            },
          }),
        ctx,
        ri.traceId,
      );
      yield create(SpeakStreamResponseSchema, { event: { case: "finish", value: speechToPb(answer) } });
    },
    /** The transcription operation with a sink that hands each piece of text to this stream (see relay). */
    async *transcribeStream(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      const call = validated(() => {
        const c = toTranscriptionCall(req, ri.id, ctx.values.get(callerKey));
        validateTranscriptionCall(c);
        if (c.request.translate) throw new GatewayError("invalid_argument", "translate: a translation is not streamed (use Transcribe)", { field: "translate" });
        if (c.request.timestamps?.length) throw new GatewayError("invalid_argument", "timestamp_granularities: timestamps are not streamed (use Transcribe)", { field: "timestamp_granularities" });
        return c;
      }, ctx, ri.traceId);
      const answer = yield* relay<TranscriptionAnswer, TranscribeStreamResponse>(
        (emit) =>
          engine.transcribe({
            call,
            ri,
            signal: ctx.signal,
            statusOf: (err) => statusOf(err === undefined ? undefined : toConnectError(err, ctx.signal, ri.traceId), ctx),
            transcriptSink: {
              start: (deployment, provider) =>
                void emit(create(TranscribeStreamResponseSchema, { event: { case: "start", value: create(TranscribeStartSchema, { id: ri.id, model: call.model, deployment, provider, traceId: ri.traceId }) } })),
              delta: (text) => (text ? emit(create(TranscribeStreamResponseSchema, { event: { case: "delta", value: text } })) : undefined),
            },
          }),
        ctx,
        ri.traceId,
      );
      yield create(TranscribeStreamResponseSchema, { event: { case: "finish", value: transcriptionToPb(answer) } });
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

/** A request's validation, its failure as the RPC's error. */
function validated<T>(f: () => T, ctx: HandlerContext, traceId: string): T {
  try {
    return f();
  } catch (err) {
    throw toConnectError(err, ctx.signal, traceId);
  }
}

/**
 * Run an engine operation whose sink emits messages, and yield them as they come: an emit's promise
 * settles once the message has been taken by the caller, so a slow caller holds the provider's
 * reads back. Returns the operation's answer; its failure (before or after the first message) is
 * the RPC's error.
 */
async function* relay<A, M>(run: (emit: (m: M) => Promise<void>) => Promise<A>, ctx: HandlerContext, traceId: string): AsyncGenerator<M, A> {
  const queue: M[] = [];
  const taken: (() => void)[] = [];
  let wake: (() => void) | undefined;
  let outcome: { ok: true; answer: A } | { ok: false; err: unknown } | undefined;
  const emit = (m: M) => {
    queue.push(m);
    wake?.();
    return new Promise<void>((resolve) => taken.push(resolve));
  };
  void run(emit)
    .then(
      (answer) => (outcome = { ok: true, answer }),
      (err: unknown) => (outcome = { ok: false, err }),
    )
    .finally(() => wake?.());
  try {
    for (;;) {
      while (queue.length) {
        yield queue.shift()!;
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
  if (!outcome.ok) throw toConnectError(outcome.err, ctx.signal, traceId);
  return outcome.answer;
}
