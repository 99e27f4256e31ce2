// streamText: one call that streams a chat, hands out the text as it arrives, and resolves to the
// whole answer with its usage, cost and attempts.

import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CallOptions, Client } from "@connectrpc/connect";
import { type ChatRequestSchema, type ChatService, FinishReason, type StreamFinish, type StreamStart, type TokenLogprob } from "./gen/signalbox/v1/chat_pb.ts";
import type { Attempt, Cost, Usage } from "./gen/signalbox/v1/common_pb.ts";
import { SignalboxError } from "./errors.ts";

/** A tool call assembled from its streamed fragments. */
export interface StreamedToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** Everything a finished stream said. */
export interface StreamTextResult {
  text: string;
  reasoning: string;
  refusal: string;
  toolCalls: StreamedToolCall[];
  /** With `logprobs: true` in the request: the text's tokens with their log probabilities, in order. */
  logprobs: TokenLogprob[];
  /** Which deployment answered, the route, the trace id. */
  start: StreamStart;
  finish: StreamFinish;
  finishReason: FinishReason;
  usage: Usage | undefined;
  cost: Cost | undefined;
  /** Total cost in dollars (from the exact nano-USD figure). */
  costUsd: number;
  attempts: Attempt[];
  deployment: string;
  traceId: string;
}

export interface StreamTextOptions extends CallOptions {
  /** Called with each text fragment as it arrives (and the text so far). */
  onText?: (delta: string, textSoFar: string) => void;
  /** Called once the gateway has committed to a deployment. */
  onStart?: (start: StreamStart) => void;
}

export interface StreamTextHandle {
  /** The text fragments as they arrive. Iterate it, or just await `result`. */
  textStream: AsyncIterable<string>;
  /** The whole answer; rejects with a SignalboxError if the stream fails. */
  result: Promise<StreamTextResult>;
}

/**
 * Stream a chat. `for await (const t of h.textStream)` shows the text live; `await h.result`
 * gives the final usage and cost. Either alone works; the stream runs once either is used.
 */
export function streamText(chat: Client<typeof ChatService>, request: MessageInitShape<typeof ChatRequestSchema>, opts: StreamTextOptions = {}): StreamTextHandle {
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let failure: unknown;
  let iterated = false;
  let started: Promise<StreamTextResult> | undefined;

  const run = async (): Promise<StreamTextResult> => {
    let text = "";
    let reasoning = "";
    let refusal = "";
    const tools: StreamedToolCall[] = [];
    const logprobs: TokenLogprob[] = [];
    let start: StreamStart | undefined;
    let finish: StreamFinish | undefined;
    try {
      for await (const ev of chat.stream(request, opts)) {
        const e = ev.event;
        if (e.case === "start") {
          start = e.value;
          opts.onStart?.(e.value);
        } else if (e.case === "delta") {
          const d = e.value;
          if (d.text) {
            text += d.text;
            opts.onText?.(d.text, text);
            if (iterated) {
              queue.push(d.text);
              wake?.();
            }
          }
          reasoning += d.reasoning;
          refusal += d.refusal;
          if (d.logprobs.length) logprobs.push(...d.logprobs);
          for (const tc of d.toolCalls) {
            const t = (tools[tc.index] ??= { id: "", name: "", arguments: "" });
            if (tc.id) t.id = tc.id;
            if (tc.name) t.name = tc.name;
            t.arguments += tc.argumentsDelta;
          }
        } else if (e.case === "finish") {
          finish = e.value;
        }
      }
    } catch (err) {
      failure = SignalboxError.from(err);
      throw failure;
    } finally {
      ended = true;
      wake?.();
    }
    if (!start || !finish) throw (failure = SignalboxError.from(new Error("stream ended without a finish event")));
    return {
      text,
      reasoning,
      refusal,
      toolCalls: tools.filter(Boolean),
      logprobs,
      start,
      finish,
      finishReason: finish.finishReason,
      usage: finish.usage,
      cost: finish.cost,
      costUsd: Number(finish.cost?.totalNanoUsd ?? 0n) / 1e9,
      attempts: finish.attempts,
      deployment: start.deployment,
      traceId: start.traceId,
    };
  };
  const begin = () => (started ??= run());

  return {
    get result() {
      return begin();
    },
    textStream: {
      [Symbol.asyncIterator]() {
        iterated = true;
        // Failures surface through the iterator; keep the promise from being an unhandled rejection.
        begin().catch(() => {});
        return {
          async next(): Promise<IteratorResult<string>> {
            for (;;) {
              if (queue.length) return { value: queue.shift()!, done: false };
              if (ended) {
                if (failure) throw failure;
                return { value: undefined, done: true };
              }
              await new Promise<void>((r) => (wake = r));
              wake = undefined;
            }
          },
        };
      },
    },
  };
}
