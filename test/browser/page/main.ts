/// <reference lib="dom" />
// The page test/browser/browser.test.ts loads in Chromium, bundled by esbuild for the browser
// (which must pick @signalbox/client's "browser" entry). It reads what to do from its query string:
//   ?gateway=<url>&protocol=connect|grpc-web&model=<route or deployment>&mode=stream|cancel
// - stream: streams a chat, renders each text delta as it arrives (a <span class="delta"> in #out),
//   then the usage and cost of the finish event (#usage, #cost), then status "done";
// - cancel: aborts the call (AbortController) right after the first delta; status "aborted: ...".
// Any failure sets the status to "error: <code> <message>". document.title mirrors the status.
// window.__events is the timeline the test reads: what was rendered, when, and what the DOM held then.

import { codeName, ConnectError, createSignalboxClient, streamText, userText } from "@signalbox/client";

interface PageEvent {
  kind: "start" | "delta" | "finish" | "abort" | "error";
  /** performance.now() when the event was rendered. */
  t: number;
  /** Delta spans in #out after rendering this event. */
  spans: number;
  /** Whether #usage held anything after rendering this event. */
  usageShown: boolean;
}

declare global {
  interface Window {
    __events: PageEvent[];
    /** Date.now() when the page called abort() (cancel mode). */
    __abortedAt?: number;
  }
}

const $ = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el;
};

const q = new URLSearchParams(location.search);
const baseUrl = q.get("gateway") ?? "";
const protocol = q.get("protocol") === "grpc-web" ? "grpc-web" : "connect";
const model = q.get("model") ?? "default";
const mode = q.get("mode") === "cancel" ? "cancel" : "stream";

const out = $("out");
const usageEl = $("usage");
const costEl = $("cost");
window.__events = [];

function mark(kind: PageEvent["kind"]): void {
  window.__events.push({ kind, t: performance.now(), spans: out.querySelectorAll(".delta").length, usageShown: usageEl.textContent !== "" });
}

function setStatus(text: string, cls: "ok" | "err" | "" = ""): void {
  const el = $("status");
  el.textContent = text;
  el.className = cls;
  document.title = text;
}

/**
 * "<code name> <message>" of anything a call threw. Reads the ConnectError fields directly rather
 * than trusting `instanceof`: ConnectError's duck-typed Symbol.hasInstance (name === "ConnectError")
 * is inherited by SignalboxError, so `x instanceof SignalboxError` is true for a plain ConnectError
 * and false for a real SignalboxError, and SignalboxError.from() can hand back either.
 */
function describeError(err: unknown): string {
  const e = err as Partial<ConnectError> | undefined;
  if (err instanceof Error && typeof e?.code === "number" && typeof e.rawMessage === "string") return `${codeName(e.code)} ${e.rawMessage}`;
  const c = ConnectError.from(err);
  return `${codeName(c.code)} ${c.rawMessage}`;
}

async function run(): Promise<void> {
  $("origin").textContent = location.origin;
  $("gateway").textContent = baseUrl;
  $("protocol").textContent = protocol;
  $("model").textContent = model;
  setStatus("streaming");
  const client = createSignalboxClient({ baseUrl, protocol });
  const ctl = new AbortController();
  const handle = streamText(
    client.chat,
    { model, messages: [userText(`Hello from a browser over ${protocol}: tell me something in several pieces.`)] },
    {
      signal: ctl.signal,
      onStart(start) {
        $("deployment").textContent = start.deployment;
        mark("start");
      },
      onText(delta) {
        const span = document.createElement("span");
        span.className = "delta";
        span.textContent = delta;
        out.append(span);
        mark("delta");
        if (mode === "cancel" && !ctl.signal.aborted) {
          window.__abortedAt = Date.now();
          ctl.abort();
          mark("abort");
        }
      },
    },
  );
  try {
    const res = await handle.result;
    const u = res.usage;
    usageEl.textContent = u ? `${u.inputTokens} input + ${u.outputTokens} output tokens` : "";
    usageEl.dataset.inputTokens = String(u?.inputTokens ?? 0n);
    usageEl.dataset.outputTokens = String(u?.outputTokens ?? 0n);
    costEl.textContent = `$${res.costUsd.toFixed(9)}`;
    costEl.dataset.nanoUsd = String(res.cost?.totalNanoUsd ?? 0n);
    mark("finish");
    setStatus(mode === "cancel" ? "error: finished although aborted" : "done", mode === "cancel" ? "err" : "ok");
  } catch (err) {
    mark(ctl.signal.aborted ? "abort" : "error");
    setStatus(`${ctl.signal.aborted ? "aborted" : "error"}: ${describeError(err)}`, ctl.signal.aborted ? "" : "err");
  }
}

run().catch((err: unknown) => setStatus(`error: page ${String(err)}`, "err"));
