// AudioService: validate, then hand the call to the engine's transcription or speech operation (the
// same ones /v1/audio/* use) and translate the answer into protobuf.

import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AudioService, SpeakResponseSchema, TranscribeResponseSchema, type SpeakResponse, type TranscribeResponse } from "../../gen/signalbox/v1/audio_pb.ts";
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
