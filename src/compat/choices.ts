// OpenAI's `n` on /v1/chat/completions and /v1/completions (and in batches), and Gemini's
// candidateCount: n choices are n calls through the engine, run together. Each is a whole gateway
// request of its own: planned (a load-balanced route may answer choices from different
// deployments), admitted against the caller's limits and budgets, retried and fallen back on its
// own, and recorded as its own usage record (request id `<id>`, `<id>-1`, …, `<id>-(n-1)`), so
// every choice's tokens and cost are accounted for. A provider's native `n` would bill the prompt
// once; n calls bill it n times, which the summed `usage` says. Choices are never served from or
// stored in the response cache (n copies of one answer are not n choices), and with a `seed`,
// choice i asks for seed + i. All or nothing: the first choice that fails cancels the others and is
// the request's error.

import type { Answer, ChatEngine, EngineEvent, EngineRequest, Summary } from "../engine/chat-engine.ts";

/** The most choices one request may ask for (OpenAI allows 128; each choice here is an upstream call). */
export const MAX_CHOICES = 16;

/** The engine request of choice `i` of a request that asked for several. */
export function choiceRequest(er: EngineRequest, i: number, signal: AbortSignal): EngineRequest {
  const req = er.call.request;
  return {
    ...er,
    call: { ...er.call, id: i === 0 ? er.call.id : `${er.call.id}-${i}`, request: i > 0 && req.seed !== undefined ? { ...req, seed: req.seed + i } : req },
    signal,
    cache: { mode: "bypass" },
    // A choice canceled because another failed is recorded as canceled.
    statusOf: (err) => (signal.aborted && !er.signal.aborted ? "canceled" : er.statusOf(err)),
  };
}

/**
 * One abort signal for the choices of a request: fired by the caller's signal, or by the first
 * choice that fails (`fail`). `done` stops listening to the caller's signal.
 */
export function choiceSignal(outer: AbortSignal): { signal: AbortSignal; fail(): void; done(): void } {
  const ac = new AbortController();
  const stop = () => ac.abort(outer.reason);
  if (outer.aborted) stop();
  else outer.addEventListener("abort", stop, { once: true });
  return {
    signal: ac.signal,
    fail: () => ac.abort(new Error("another choice of this request failed")),
    done: () => outer.removeEventListener("abort", stop),
  };
}

/** Every choice's answer, in order; one choice is one plain call. */
export async function completeChoices(engine: ChatEngine, er: EngineRequest, n: number): Promise<Answer[]> {
  if (n <= 1) return [await engine.complete(er)];
  const s = choiceSignal(er.signal);
  try {
    return await Promise.all(
      Array.from({ length: n }, (_, i) =>
        engine.complete(choiceRequest(er, i, s.signal)).catch((err: unknown) => {
          s.fail();
          throw err;
        }),
      ),
    );
  } finally {
    s.done();
  }
}

/** Several choices' streams, each past its start. */
export interface StartedChoices {
  /** Each choice's start event, in order. */
  starts: Extract<EngineEvent, { type: "start" }>[];
  streams: AsyncIterator<EngineEvent>[];
  fail(): void;
  done(): void;
}

/**
 * The choices' streams, opened together: resolves once every one has started (so a refusal of
 * any choice, a rate limit say, is a plain HTTP error before anything is written), with each
 * stream's start event and the iterator to read the rest from.
 */
async function startChoices(engine: ChatEngine, er: EngineRequest, n: number): Promise<StartedChoices> {
  const s = choiceSignal(er.signal);
  const streams = Array.from({ length: n }, (_, i) => engine.stream(choiceRequest(er, i, s.signal))[Symbol.asyncIterator]());
  try {
    const starts = await Promise.all(
      streams.map(async (it) => {
        try {
          const r = await it.next();
          if (r.done || r.value.type !== "start") throw new Error("a choice's stream ended before it started");
          return r.value;
        } catch (err) {
          s.fail();
          throw err;
        }
      }),
    );
    return { starts, streams, fail: s.fail, done: s.done };
  } catch (err) {
    // The streams that did start end now (their records say canceled).
    await closeChoices({ streams, fail: s.fail, done: s.done });
    throw err;
  }
}

/** Cancels whatever of the choices' streams still runs and waits for each to end (idempotent). */
async function closeChoices(c: Pick<StartedChoices, "streams" | "fail" | "done">): Promise<void> {
  c.fail();
  await Promise.allSettled(c.streams.map((it) => it.return?.(undefined)));
  c.done();
}

/**
 * Reads the started choices' streams to their ends, together, handing each event to `each` with
 * its choice's index. The first failure cancels the others, waits for every stream to end (their
 * records say canceled), and is thrown.
 */
async function pumpChoices(c: StartedChoices, each: (i: number, ev: EngineEvent) => void): Promise<void> {
  try {
    await Promise.all(
      c.streams.map(async (it, i) => {
        try {
          for (let r = await it.next(); !r.done; r = await it.next()) each(i, r.value);
        } catch (err) {
          c.fail();
          throw err;
        }
      }),
    );
  } catch (err) {
    await closeChoices(c);
    throw err;
  }
  c.done();
}

/** How a door writes several choices' stream, made once every choice has started. */
export interface ChoiceStream {
  /** Each event of choice `i` after its start. */
  each(i: number, ev: EngineEvent): void;
  /** The stream's last bytes, after every choice has ended. */
  end(): string;
  /** A failure after the head: the door's error chunk and the status to record. */
  failed(err: unknown): { status: number; text: string };
}

/**
 * Several choices streamed: every choice's stream started (a refusal of any is thrown, before a
 * byte is written), then `open` writes the head and returns the door's writer, and each choice's
 * events reach it as they come. A choice that fails after the head cancels the others and ends the
 * stream with the door's error chunk. Returns the status to record.
 */
export async function streamChoices(
  res: { readonly headersSent: boolean; end(chunk: string): unknown },
  engine: ChatEngine,
  er: EngineRequest,
  n: number,
  open: (starts: StartedChoices["starts"]) => ChoiceStream,
): Promise<number> {
  const started = await startChoices(engine, er, n);
  let w: ChoiceStream | undefined;
  try {
    const opened = (w = open(started.starts));
    await pumpChoices(started, (i, ev) => opened.each(i, ev));
  } catch (err) {
    await closeChoices(started);
    if (!w || !res.headersSent) throw err;
    const f = w.failed(err);
    if (!er.signal.aborted) res.end(f.text);
    return f.status;
  }
  res.end(w.end());
  return 200;
}

/** Summed usage and cost of several answers or summaries (what the request as a whole used). */
export function sumUsage(parts: readonly Pick<Summary, "usage" | "cost">[]): Pick<Summary, "usage" | "cost"> {
  if (parts.length === 1) return parts[0];
  const add = <T extends object>(into: T, from: T) => {
    const a = into as Record<string, unknown>;
    for (const [k, v] of Object.entries(from)) if (typeof v === "number") a[k] = (typeof a[k] === "number" ? (a[k] as number) : 0) + v;
  };
  const usage = { ...parts[0].usage };
  const cost = { ...parts[0].cost };
  for (const p of parts.slice(1)) {
    add(usage, p.usage);
    add(cost, p.cost);
  }
  return { usage, cost };
}
