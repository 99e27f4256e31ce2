// `signalbox realtime <model>`: a conversation over the gateway's Realtime API (OpenAI's events on
// a WebSocket at /v1/realtime?model=…). Each message — the arguments, then stdin's lines when
// stdin is not a terminal, or what is typed at a prompt when it is — is one turn: a user item and
// `response.create`; the reply streams to stdout as it arrives, a newline after each. When the
// session ends (the input does, or Ctrl-D), it is closed with 1000 and who answered, the
// responses and their tokens go to stderr, so `signalbox realtime … > replies.txt` holds only the
// replies. `--audio` asks for spoken replies: their transcript is printed, and `-o file.wav`
// keeps the audio itself.

import { statSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { dirname } from "node:path";
import type { Command } from "commander";
import { WebSocket } from "ws";
import { CliError, checkedUrl, EXIT, failure, type Globals, globals, hintFor, modeOf, traceLink, usageError } from "../context.ts";
import { count } from "../format.ts";
import { note, out } from "../output.ts";
import { answerError } from "../rest.ts";
import { createWav, type WavWriter } from "../wav.ts";

/** The Realtime API's PCM16 audio: 24 kHz, mono. */
const AUDIO_RATE = 24_000;
/** How long the WebSocket handshake may take (the gateway connects to the provider first). */
const HANDSHAKE_MS = 30_000;
/** How long to wait for `session.updated` before the first turn (a server that never says so is not waited for). */
const SESSION_UPDATE_MS = 10_000;
/** How long to wait for the gateway's answer to our close before dropping the connection. */
const CLOSE_MS = 5_000;

const HINTS: Partial<Record<string, string>> = {
  not_found: "check the model: `signalbox models` lists the routes, aliases and deployments; a session needs one that serves realtime (`operations: [realtime]`)",
  permission_denied: "this key may not use that model (its allow list): pick one it may use (`signalbox whoami` shows the key), or use another key",
};

interface Options {
  instructions?: string;
  audio?: boolean;
  output?: string;
}

/** Where the turns come from: one message at a time, undefined at the end. */
interface Turns {
  next(): Promise<string | undefined>;
  /** Stop reading (the session ended). */
  close(): void;
  /** Ctrl-C while reading from a terminal (readline takes it from the process). */
  onInterrupt(fn: () => void): void;
}

/**
 * Lines of stdin (blank ones skipped); at a terminal, a prompt on stderr before each. (readline is
 * imported here, not at the top: every command would load it at start-up; see build.mjs.)
 */
async function lineTurns(interactive: boolean): Promise<Turns> {
  const { createInterface } = await import("node:readline");
  const rl = createInterface(interactive ? { input: process.stdin, output: process.stderr, terminal: true, prompt: "> " } : { input: process.stdin, crlfDelay: Infinity, terminal: false });
  // Lines read before they are asked for wait in the iterator, also once stdin has ended.
  const lines = rl[Symbol.asyncIterator]();
  return {
    async next() {
      for (;;) {
        if (interactive) rl.prompt();
        const r = await lines.next();
        if (r.done) return undefined;
        if (r.value.trim()) return r.value;
      }
    },
    close() {
      rl.close();
    },
    onInterrupt(fn) {
      if (interactive) rl.on("SIGINT", fn);
    },
  };
}

/** The arguments' message, then `rest`'s. */
function withFirst(first: string, rest: Turns | undefined): Turns {
  let given = false;
  return {
    async next() {
      if (!given) {
        given = true;
        return first;
      }
      return rest?.next();
    },
    close: () => rest?.close(),
    onInterrupt: (fn) => rest?.onInterrupt(fn),
  };
}

/** `-o`: a file in a directory that exists (checked before anything is sent). */
function checkOutput(path: string): void {
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  if (path === "" || path === "-") throw usageError(`-o/--output ${JSON.stringify(path)}: not a file name`, "pass the WAV file to write, e.g. -o reply.wav");
  if (isDir(path)) throw usageError(`-o/--output ${path}: is a directory`, "pass the WAV file to write, e.g. -o reply.wav");
  if (!isDir(dirname(path))) throw usageError(`-o/--output ${path}: no such directory: ${dirname(path)}`, "create it first, or pass a path in an existing directory");
}

const header = (h: IncomingHttpHeaders, name: string): string => {
  const v = h[name];
  return (Array.isArray(v) ? v[0] : v) ?? "";
};

/** What the server sent before the session's handlers were in place (its first events come with the 101). */
interface Early {
  frames: [Buffer, boolean][];
  close?: [number, Buffer];
  /** Stop keeping: the session's own handlers take over. */
  stop(): void;
}

/**
 * Open the session's WebSocket: the socket, the 101 answer's headers and what arrived before the
 * caller could listen; or the refusal as the CLI says it.
 */
function connect(wsUrl: string, httpUrl: string, g: Globals): Promise<{ sock: WebSocket; headers: IncomingHttpHeaders; early: Early }> {
  return new Promise((resolve, reject) => {
    const sock = new WebSocket(wsUrl, { headers: g.apiKey ? { authorization: `Bearer ${g.apiKey}` } : {}, perMessageDeflate: false, handshakeTimeout: HANDSHAKE_MS });
    let headers: IncomingHttpHeaders = {};
    let settled = false;
    const fail = (err: CliError) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    sock.once("upgrade", (res) => (headers = res.headers));
    // Refused before the upgrade: a plain HTTP answer, with OpenAI's error body.
    sock.once("unexpected-response", (req, res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.once("error", () => undefined);
      res.once("end", () => {
        fail(answerError({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? "", url: httpUrl, header: (n) => header(res.headers, n) || null, text }, g, HINTS));
        req.destroy();
      });
    });
    sock.on("error", (err: Error & { code?: string }) => {
      if (/handshake has timed out/i.test(err.message)) return fail(new CliError(`the gateway did not open the session in time (deadline_exceeded)`, hintFor({ codeName: "deadline_exceeded", rawMessage: "" }, g), EXIT.failed));
      const rawMessage = err.message || err.code || String(err);
      fail(new CliError(`${rawMessage} (unavailable)`, hintFor({ codeName: "unavailable", rawMessage }, g), EXIT.failed));
    });
    sock.once("open", () => {
      if (settled) return;
      settled = true;
      // Frames that came with the 101 are emitted before an await on this promise resumes.
      const onMessage = (data: Buffer, binary: boolean) => early.frames.push([data, binary]);
      const onClose = (code: number, reason: Buffer) => (early.close = [code, reason]);
      const early: Early = {
        frames: [],
        stop() {
          sock.off("message", onMessage);
          sock.off("close", onClose);
        },
      };
      sock.on("message", onMessage);
      sock.once("close", onClose);
      resolve({ sock, headers, early });
    });
  });
}

/** What to do about a session the other side closed with `code`. */
function closeHint(code: number, reason: string): string | undefined {
  if (code === 1008 && /budget/i.test(reason)) return "a budget is spent: see `signalbox budget`";
  switch (code) {
    case 1001:
      return "the gateway is restarting or draining: open a new session (another replica takes it)";
    case 1006:
      return "the connection was lost: try again";
    case 1008:
      return "the gateway ended the session (a budget or a limit): see `signalbox budget`";
    case 1011:
      return "the provider dropped the session: try again";
    default:
      return undefined;
  }
}

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const plural = (n: number, one: string) => `${count(n)} ${one}${n === 1 ? "" : "s"}`;

export function realtimeCommand(program: Command): void {
  program
    .command("realtime")
    .description("a conversation over the Realtime API (a WebSocket): one turn per line, replies stream to stdout; tokens on stderr")
    .argument("<model>", "a route, alias or deployment that serves realtime")
    .argument("[message...]", "the first turn (then stdin's lines when stdin is not a terminal; with neither, a prompt)")
    .option("--instructions <text>", "the session's instructions (a system prompt)")
    .option("--audio", "spoken replies: print their transcript (and keep the audio with -o)")
    .option("-o, --output <file>", "with --audio: write the replies' audio (PCM16, 24 kHz, mono) to this WAV file")
    .addHelpText(
      "after",
      [
        "",
        "Each turn is a user message and response.create; the reply is printed as it streams, a newline after",
        "each response.done. At the end of the input (or Ctrl-D at the prompt) the session is closed (1000) and a",
        "summary goes to stderr: deployment, responses, tokens in and out (summed from response.done), request id",
        "and trace. Ctrl-C cancels the reply under way; again, it ends the session. --json prints every server",
        "event as one JSON line instead. Exit 1 when the session is refused, the gateway closes it with a code",
        "other than 1000 (a budget that runs out: 1008), or an error event arrived (each is printed on stderr).",
        "",
        "Examples:",
        '  signalbox realtime realtime "Hello over a socket"',
        '  printf "First question\\nSecond question\\n" | signalbox realtime realtime --instructions "Be brief."',
        '  signalbox realtime realtime --audio -o reply.wav "Say something"',
        "  signalbox realtime realtime --json \"hi\" | jq -c 'select(.type == \"response.done\") | .response.usage'",
        "  signalbox realtime realtime                  # a prompt: one turn per line, Ctrl-D ends the session",
      ].join("\n"),
    )
    .action(async (model: string, words: string[], o: Options, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const base = checkedUrl(g);
      if (!model.trim()) throw usageError("no model", "name a route, alias or deployment that serves realtime: signalbox realtime realtime \"Hello\"");
      if (o.output !== undefined && !o.audio) throw usageError("-o/--output needs --audio", "ask for spoken replies with --audio to write their audio");
      if (o.output !== undefined) checkOutput(o.output);

      // The turns: the arguments' message, then stdin's lines (not at a terminal); or a prompt.
      const first = words.join(" ").trim();
      const tty = process.stdin.isTTY === true;
      const interactive = !first && tty;
      const turns = first ? withFirst(first, tty ? undefined : await lineTurns(false)) : await lineTurns(interactive);
      // Without a message and with nothing on stdin, there is nothing to say: no session is opened.
      let pending: string | undefined;
      if (!first && !interactive) {
        pending = await turns.next();
        if (pending === undefined) throw usageError("no message", 'pass it as an argument (signalbox realtime realtime "Hello") or on stdin, one turn per line');
      }

      const httpUrl = `${base}/v1/realtime?model=${encodeURIComponent(model)}`;
      const { sock, headers, early } = await connect(httpUrl.replace(/^http/, "ws"), httpUrl, g).catch((err) => {
        turns.close();
        throw err;
      });
      const requestId = header(headers, "x-request-id");
      const traceId = header(headers, "x-signalbox-trace-id");
      const deployment = header(headers, "x-signalbox-deployment");

      // Output in order, each write awaited before the summary and the exit.
      let writing = Promise.resolve();
      const write = (text: string) => (writing = writing.then(() => out(text)));
      // A reply cut short (the session ended before its response.done) still ends its line.
      let midLine = false;

      let wav: WavWriter | undefined;
      let wavError: string | undefined;
      if (o.output !== undefined) {
        try {
          wav = createWav(o.output, AUDIO_RATE);
        } catch (err) {
          sock.terminate();
          turns.close();
          throw failure(`writing ${o.output}: ${(err as Error).message}`, "check the --output path and its permissions");
        }
      }

      let responses = 0;
      let inputTokens = 0;
      let outputTokens = 0;
      let errors = 0;
      let closed: { code: number; reason: string } | undefined;
      let closing = false;
      let seq = 0;
      const eventId = () => `evt_cli_${(seq++).toString(36)}`;
      const send = (ev: Record<string, unknown>): string => {
        const id = eventId();
        if (sock.readyState === WebSocket.OPEN) sock.send(JSON.stringify({ event_id: id, ...ev }));
        return id;
      };
      // The turn under way: resolved by its response.done, an error that means no response will come, or the close.
      let turn: { done: () => void; responseEvent: string; started: boolean; cancelled: boolean } | undefined;
      let sessionReady: (() => void) | undefined;
      let closedResolve!: () => void;
      const closedP = new Promise<void>((r) => (closedResolve = r));

      const onMessage = (data: Buffer, binary: boolean) => {
        if (binary) return;
        const raw = data.toString("utf8");
        let ev: Record<string, any>;
        try {
          ev = JSON.parse(raw);
        } catch {
          note(`warning: an event that is not JSON: ${raw.slice(0, 120)}`);
          return;
        }
        if (mode === "json") write(raw.includes("\n") ? `${JSON.stringify(ev)}\n` : `${raw}\n`);
        switch (ev.type) {
          case "session.updated":
            sessionReady?.();
            break;
          case "response.created":
            if (turn) turn.started = true;
            break;
          // The reply's text, or the transcript of a spoken one (and the beta's names for them).
          case "response.output_text.delta":
          case "response.text.delta":
          case "response.output_audio_transcript.delta":
          case "response.audio_transcript.delta":
            if (mode !== "json" && typeof ev.delta === "string" && ev.delta) {
              write(ev.delta);
              midLine = !ev.delta.endsWith("\n");
            }
            break;
          case "response.output_audio.delta":
          case "response.audio.delta":
            if (wav && !wavError && typeof ev.delta === "string") {
              try {
                wav.write(Buffer.from(ev.delta, "base64"));
              } catch (err) {
                wavError = (err as Error).message;
              }
            }
            break;
          case "response.done": {
            responses++;
            const r = ev.response ?? {};
            inputTokens += num(r.usage?.input_tokens);
            outputTokens += num(r.usage?.output_tokens);
            if (mode !== "json") write("\n");
            midLine = false;
            if (r.status && r.status !== "completed") {
              const why = r.status_details?.error?.message ?? r.status_details?.reason ?? "";
              note(`(response ${r.status}${why ? `: ${why}` : ""})`);
            }
            turn?.done();
            break;
          }
          case "error": {
            errors++;
            const e = ev.error ?? {};
            const message = typeof e.message === "string" && e.message ? e.message : "the server reported an error";
            note(`error: ${message}${e.code ? ` (${e.code})` : ""}${e.param ? `\n  field: ${e.param}` : ""}`);
            sessionReady?.();
            // No response will come for a response.create that was refused (or, when the error names
            // no event, for one that has not started).
            if (turn && (e.event_id === turn.responseEvent || (!e.event_id && !turn.started))) turn.done();
            break;
          }
        }
      };
      const onClose = (code: number, reason: Buffer) => {
        closed = { code, reason: reason.toString("utf8") };
        sessionReady?.();
        turn?.done();
        turns.close();
        closedResolve();
      };
      early.stop();
      for (const [data, binary] of early.frames) onMessage(data, binary);
      if (early.close) onClose(...early.close);
      else sock.once("close", onClose);
      sock.on("message", onMessage);
      // After the upgrade, socket errors end in a close (1006), reported there.
      sock.on("error", () => undefined);

      // Ctrl-C: cancel the reply under way; else (or again) end the session.
      let stopped = false;
      const interrupt = () => {
        if (turn?.started && !turn.cancelled) {
          turn.cancelled = true;
          send({ type: "response.cancel" });
          note("(cancelling the reply; Ctrl-C again ends the session)");
          return;
        }
        stopped = true;
        turn?.done();
        turns.close();
      };
      process.on("SIGINT", interrupt);
      turns.onInterrupt(interrupt);

      try {
        // The session: text or audio out, the instructions; the first turn after the server took it.
        const ready = new Promise<void>((r) => (sessionReady = r));
        send({
          type: "session.update",
          session: {
            type: "realtime",
            output_modalities: [o.audio ? "audio" : "text"],
            ...(o.instructions !== undefined ? { instructions: o.instructions } : {}),
            ...(o.audio ? { audio: { output: { format: { type: "audio/pcm", rate: AUDIO_RATE } } } } : {}),
          },
        });
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([ready, new Promise<void>((r) => (timer = setTimeout(r, SESSION_UPDATE_MS)))]);
        clearTimeout(timer);
        sessionReady = undefined;
        if (interactive && !closed) note(`connected to ${deployment || model}${requestId ? ` (request ${requestId})` : ""}: one turn per line; Ctrl-D ends the session`);

        for (;;) {
          if (closed || stopped) break;
          const text = pending ?? (await turns.next());
          pending = undefined;
          if (text === undefined || closed || stopped) break;
          await new Promise<void>((resolve) => {
            const t = { done: () => undefined as void, responseEvent: "", started: false, cancelled: false };
            t.done = () => {
              if (turn === t) turn = undefined;
              resolve();
            };
            turn = t;
            send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text }] } });
            t.responseEvent = send({ type: "response.create" });
          });
        }

        // The prompt's line ends before the summary.
        if (interactive) process.stderr.write("\n");
        if (!closed) {
          closing = true;
          sock.close(1000, "the conversation is over");
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([closedP, new Promise<void>((r) => (timer = setTimeout(r, CLOSE_MS)))]);
          clearTimeout(timer);
          if (!closed) sock.terminate();
        }
      } finally {
        process.off("SIGINT", interrupt);
        turns.close();
      }
      if (midLine) write("\n");
      await writing;

      let audio = "";
      if (wav) {
        try {
          const w = wav.finish();
          audio = `${wav.path}: ${w.seconds.toFixed(1)} s of audio`;
        } catch (err) {
          wavError ??= (err as Error).message;
        }
      }
      note(
        [
          `— ${deployment || model}`,
          plural(responses, "response"),
          `${count(inputTokens)} in / ${count(outputTokens)} out tokens`,
          audio,
          errors ? plural(errors, "error") : "",
          requestId ? `request ${requestId}` : "",
          traceId ? `trace ${traceLink(traceId)}` : "",
        ]
          .filter(Boolean)
          .join(" · "),
      );
      if (wavError) throw failure(`writing ${o.output}: ${wavError}`, "check the --output path, its permissions and the free space");
      // The gateway's own close code is reported even when it crossed ours (a budget that ran out
      // as the input ended); a connection we cut after our close went unanswered is not.
      if (closed && closed.code !== 1000 && closed.code !== 1005 && !(closing && closed.code === 1006)) {
        throw failure(`the session was closed: ${closed.code}${closed.reason ? ` ${closed.reason}` : ""}`, closeHint(closed.code, closed.reason));
      }
      // Each error event has been printed: only the exit code is left to set.
      if (errors) throw new CliError("", undefined, EXIT.failed);
    });
}
