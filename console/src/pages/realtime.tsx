// Realtime: a text conversation with any route that serves OpenAI's Realtime API, held the way a
// browser app holds one. Connect mints a short-lived client secret with the console's key
// (POST /v1/realtime/client_secrets) and opens the WebSocket (/v1/realtime) with that secret only,
// so the key never reaches the socket. Shown: the conversation, each reply streaming in as its
// deltas arrive with its token usage and the session's running totals, every server event with
// its time since connect, and how the socket closed.

import { useQuery } from "@connectrpc/connect-query";
import { RouteService } from "@signalbox/client";
import { type FormEvent, useEffect, useRef, useState } from "react";
import { useSession } from "../context.ts";
import { count } from "../format.ts";
import { Link } from "../router.tsx";
import { storedKey } from "../session.ts";
import { Badge, Card, Empty, Field, PageHeader, type Tone } from "../ui.tsx";

/** How long a minted secret may be used to open the socket (OpenAI's minimum is 10 s). */
const SECRET_SECONDS = 60;
/** The events panel keeps the newest this many. */
const MAX_EVENTS = 300;

type Phase = "idle" | "minting" | "connecting" | "open" | "closing" | "closed";

interface Usage {
  input: number;
  output: number;
}

type Turn = { role: "user"; id: string; text: string } | { role: "assistant"; id: string; text: string; done: boolean; status?: string; usage?: Usage };

interface ServerEvent {
  n: number;
  type: string;
  /** ms since connect */
  at: number;
}

/** OpenAI's error shape, from a refused request or an `error` event. */
interface ApiError {
  status?: number;
  message: string;
  type?: string;
  param?: string | null;
  code?: string | null;
}

interface Closed {
  code: number;
  reason: string;
  /** A session was created before the socket closed; without one the handshake was refused. */
  hadSession: boolean;
  /** The model the session was for. */
  model: string;
}

const STATUS_TITLES: Record<number, string> = {
  400: "The request is not valid.",
  401: "Your key was refused. Sign out and sign in with a valid key.",
  403: "Your key is not allowed to do this.",
  404: "Not found.",
  413: "The request is too large.",
  429: "A rate limit or budget was reached.",
};

const CLOSE_MEANINGS: Record<number, string> = {
  1000: "closed normally",
  1001: "the gateway is going away (draining); connect again",
  1006: "the connection dropped without a close frame",
  1008: "the gateway ended the session by policy (a budget ran out, or the caller fell behind)",
  1011: "the provider dropped the session",
};

const closeTone = (c: Closed): Tone => (!c.hadSession ? "bad" : c.code === 1000 ? "ok" : c.code === 1001 ? "warn" : "bad");

/** Mint a client secret; rejects with the gateway's error in OpenAI's shape. */
async function mintSecret(model: string, instructions: string): Promise<{ value: string; expiresAt: number }> {
  const key = storedKey();
  const session: Record<string, unknown> = { type: "realtime", model, output_modalities: ["text"] };
  if (instructions.trim()) session.instructions = instructions;
  const res = await fetch("/v1/realtime/client_secrets", {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ session, expires_after: { anchor: "created_at", seconds: SECRET_SECONDS } }),
    cache: "no-store",
  });
  const body = (await res.json().catch(() => undefined)) as { value?: string; expires_at?: number; error?: Omit<ApiError, "status"> } | undefined;
  if (!res.ok || !body?.value) {
    const e = body?.error;
    throw { status: res.status, message: e?.message ?? `the gateway answered ${res.status} ${res.statusText}`.trim(), type: e?.type, param: e?.param, code: e?.code } satisfies ApiError;
  }
  return { value: body.value, expiresAt: body.expires_at ?? 0 };
}

export function RealtimePage() {
  const { identity } = useSession();
  const models = useQuery(RouteService.method.listModels, {}, { staleTime: 30_000 });
  const [model, setModel] = useState("realtime");
  const [instructions, setInstructions] = useState("");
  const [message, setMessage] = useState("");
  const [phase, setPhase] = useState<Phase>("idle");
  const [mintError, setMintError] = useState<ApiError>();
  const [serverErrors, setServerErrors] = useState<ApiError[]>([]);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [events, setEvents] = useState<ServerEvent[]>([]);
  const [eventCount, setEventCount] = useState(0);
  const [session, setSession] = useState<{ id: string; model: string; instructions?: string }>();
  const [closed, setClosed] = useState<Closed>();
  const [sessions, setSessions] = useState(0);
  const socket = useRef<WebSocket | null>(null);
  const sent = useRef(0);

  // Leaving the page ends the session.
  useEffect(() => () => socket.current?.close(1000, "left the page"), []);

  const connect = async (e: FormEvent) => {
    e.preventDefault();
    if (socket.current) return;
    setMintError(undefined);
    setServerErrors([]);
    setTurns([]);
    setEvents([]);
    setEventCount(0);
    setSession(undefined);
    setClosed(undefined);
    setPhase("minting");
    let secret: { value: string };
    try {
      secret = await mintSecret(model.trim(), instructions);
    } catch (err) {
      setMintError(err instanceof Error ? { message: err.message } : (err as ApiError));
      setPhase("idle");
      return;
    }
    setPhase("connecting");
    const t0 = performance.now();
    let hadSession = false;
    let n = 0;
    const asked = model.trim();
    const ws = new WebSocket(`${location.origin.replace(/^http/, "ws")}/v1/realtime`, ["realtime", `openai-insecure-api-key.${secret.value}`]);
    socket.current = ws;
    ws.onmessage = (m) => {
      let ev: Record<string, any>;
      try {
        ev = JSON.parse(String(m.data));
      } catch {
        return;
      }
      const type = String(ev.type ?? "(no type)");
      const at = performance.now() - t0;
      const seq = n++;
      setEvents((list) => [...(list.length >= MAX_EVENTS ? list.slice(list.length - MAX_EVENTS + 1) : list), { n: seq, type, at }]);
      setEventCount(seq + 1);
      switch (type) {
        case "session.created":
          hadSession = true;
          setPhase("open");
          setSessions((s) => s + 1);
          setSession({ id: String(ev.session?.id ?? ""), model: String(ev.session?.model ?? ""), instructions: ev.session?.instructions });
          break;
        case "session.updated":
          setSession((s) => ({ id: String(ev.session?.id ?? s?.id ?? ""), model: String(ev.session?.model ?? s?.model ?? ""), instructions: ev.session?.instructions }));
          break;
        case "response.created":
          if (ev.response?.id) setTurns((ts) => upsertReply(ts, ev.response.id, (t) => t));
          break;
        case "response.output_text.delta":
        case "response.output_audio_transcript.delta":
          setTurns((ts) => upsertReply(ts, ev.response_id, (t) => ({ ...t, text: t.text + String(ev.delta ?? "") })));
          break;
        case "response.done": {
          const r = ev.response ?? {};
          const usage = r.usage ? { input: Number(r.usage.input_tokens ?? 0), output: Number(r.usage.output_tokens ?? 0) } : undefined;
          setTurns((ts) =>
            upsertReply(ts, r.id, (t) => ({
              ...t,
              // No deltas seen (another modality): the reply as the response states it.
              text: t.text || outputText(r.output),
              done: true,
              status: r.status,
              usage,
            })),
          );
          break;
        }
        case "error":
          setServerErrors((es) => [...es, { message: String(ev.error?.message ?? "an error event"), type: ev.error?.type, param: ev.error?.param, code: ev.error?.code }]);
          break;
      }
    };
    ws.onclose = (c) => {
      if (socket.current === ws) socket.current = null;
      setClosed({ code: c.code, reason: c.reason, hadSession, model: asked });
      setPhase("closed");
      setTurns((ts) => ts.map((t) => (t.role === "assistant" && !t.done ? { ...t, done: true, status: "interrupted" } : t)));
    };
  };

  const disconnect = () => {
    if (!socket.current) return;
    setPhase("closing");
    socket.current.close(1000, "disconnected from the console");
  };

  const send = (e: FormEvent) => {
    e.preventDefault();
    const ws = socket.current;
    const text = message.trim();
    if (!ws || ws.readyState !== WebSocket.OPEN || !text) return;
    ws.send(JSON.stringify({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text }] } }));
    ws.send(JSON.stringify({ type: "response.create", response: { output_modalities: ["text"] } }));
    setTurns((ts) => [...ts, { role: "user", id: `user-${sent.current++}`, text }]);
    setMessage("");
  };

  const replies = turns.filter((t): t is Extract<Turn, { role: "assistant" }> => t.role === "assistant");
  const totals = replies.reduce((s, t) => ({ input: s.input + (t.usage?.input ?? 0), output: s.output + (t.usage?.output ?? 0) }), { input: 0, output: 0 });
  const streaming = replies.some((t) => !t.done);
  const live = phase === "open";
  const busy = phase === "minting" || phase === "connecting" || phase === "closing";

  return (
    <>
      <PageHeader
        title="Realtime"
        subtitle="Hold a text conversation with a route that serves OpenAI's Realtime API, as a browser app does: a short-lived client secret is minted with your key, and the WebSocket is opened with the secret alone."
      />
      <Card>
        <form className="realtime-connect" onSubmit={connect} aria-label="Realtime session">
          <Field label="Model" hint="A route, alias or deployment that serves realtime">
            <input name="model" value={model} onChange={(e) => setModel(e.target.value)} list="realtime-models" disabled={phase !== "idle" && phase !== "closed"} required autoComplete="off" />
          </Field>
          <datalist id="realtime-models">
            {models.data?.routes.map((r) => <option key={`r-${r.name}`} value={r.name} />)}
            {models.data?.aliases.map((a) => <option key={`a-${a.name}`} value={a.name} />)}
            {models.data?.deployments.map((d) => <option key={`d-${d.id}`} value={d.id} />)}
          </datalist>
          <Field label="Instructions" hint="Sent in the client secret's session configuration: the session's first update">
            <textarea name="instructions" rows={2} value={instructions} onChange={(e) => setInstructions(e.target.value)} placeholder="none" disabled={phase !== "idle" && phase !== "closed"} />
          </Field>
          <div className="actions">
            <button type="submit" className="primary" disabled={phase !== "idle" && phase !== "closed"}>
              {phase === "minting" ? "Minting a secret…" : phase === "connecting" ? "Connecting…" : "Connect"}
            </button>
            <button type="button" onClick={disconnect} disabled={!live && phase !== "connecting"}>
              {phase === "closing" ? "Disconnecting…" : "Disconnect"}
            </button>
            <span data-testid="realtime-status" data-phase={phase}>
              <PhaseBadge phase={phase} />
            </span>
            {identity.role === "anonymous" && <span className="muted small">Auth is off: the secret is minted without a key.</span>}
          </div>
        </form>
      </Card>
      {mintError && <ApiErrorBox error={mintError} title={mintError.status ? (STATUS_TITLES[mintError.status] ?? `The gateway answered ${mintError.status}.`) : "Could not reach the gateway."} testId="mint-error" />}
      {closed && <CloseNotice closed={closed} />}
      {serverErrors.map((e, i) => (
        <ApiErrorBox key={i} error={e} title="The session reported an error." testId="event-error" />
      ))}
      <div className="grid-2 wide-left">
        <Card title="Conversation">
          {turns.length === 0 ? (
            <Empty>{live ? "Send a message to start the conversation." : "Connect, then send a message."}</Empty>
          ) : (
            <ol className="rt-turns" data-testid="conversation">
              {turns.map((t) =>
                t.role === "user" ? (
                  <li key={t.id} className="rt-turn rt-user" data-testid="user-turn">
                    <span className="rt-who">You</span>
                    <div className="rt-text">{t.text}</div>
                  </li>
                ) : (
                  <li key={t.id} className="rt-turn rt-assistant" data-testid="assistant-turn" data-done={t.done} data-input-tokens={t.usage?.input} data-output-tokens={t.usage?.output}>
                    <span className="rt-who">Assistant</span>
                    <div className="rt-text">
                      {t.text}
                      {!t.done && <span className="cursor" />}
                    </div>
                    <div className="muted small rt-usage">
                      {t.done ? (
                        <>
                          {t.usage ? `${count(t.usage.input)} in · ${count(t.usage.output)} out` : "no usage reported"}
                          {t.status && t.status !== "completed" && (
                            <>
                              {" "}
                              <Badge tone="warn">{t.status}</Badge>
                            </>
                          )}
                        </>
                      ) : (
                        "streaming…"
                      )}
                    </div>
                  </li>
                ),
              )}
            </ol>
          )}
          <form className="rt-send" onSubmit={send} aria-label="Message">
            <input name="message" value={message} onChange={(e) => setMessage(e.target.value)} placeholder={live ? "Say something…" : "Not connected"} disabled={!live} autoComplete="off" />
            <button type="submit" className="primary" disabled={!live || !message.trim() || streaming}>
              Send
            </button>
          </form>
        </Card>
        <div className="stack">
          <Card title="Session">
            <dl className="facts" data-testid="realtime-totals" data-input-tokens={totals.input} data-output-tokens={totals.output} data-replies={replies.filter((t) => t.done).length}>
              <dt>Session</dt>
              <dd>{session ? <code className="small">{session.id || "–"}</code> : "–"}</dd>
              <dt>Provider model</dt>
              <dd>{session?.model || "–"}</dd>
              <dt>Instructions</dt>
              <dd>{session?.instructions || "–"}</dd>
              <dt>Replies</dt>
              <dd>{replies.filter((t) => t.done).length}</dd>
              <dt>Tokens</dt>
              <dd>
                {count(totals.input)} in · {count(totals.output)} out · {count(totals.input + totals.output)} total
              </dd>
            </dl>
            {sessions > 0 && phase === "closed" && (
              <p className="muted small">
                Each session is recorded as one realtime request: see <Link to="requests">Requests</Link> (Operation: realtime).
              </p>
            )}
          </Card>
          <Card title={`Server events (${eventCount})`}>
            {events.length === 0 ? (
              <Empty>No events yet.</Empty>
            ) : (
              <>
                <ol className="rt-events" data-testid="realtime-events" data-count={eventCount}>
                  {events.map((ev) => (
                    <li key={ev.n} data-testid="realtime-event" data-type={ev.type} className={ev.type === "error" ? "rt-event-error" : undefined}>
                      <span className="muted">+{Math.round(ev.at)} ms</span> <code>{ev.type}</code>
                    </li>
                  ))}
                </ol>
                {eventCount > events.length && <p className="muted small">Showing the newest {events.length} of {eventCount}.</p>}
              </>
            )}
          </Card>
        </div>
      </div>
    </>
  );
}

/** The turns with the reply of response `id` changed by `fn` (added first if new). */
function upsertReply(turns: Turn[], id: string | undefined, fn: (t: Extract<Turn, { role: "assistant" }>) => Extract<Turn, { role: "assistant" }>): Turn[] {
  const key = `reply-${id ?? "?"}`;
  const i = turns.findIndex((t) => t.role === "assistant" && t.id === key);
  if (i < 0) return [...turns, fn({ role: "assistant", id: key, text: "", done: false })];
  const next = turns.slice();
  next[i] = fn(turns[i] as Extract<Turn, { role: "assistant" }>);
  return next;
}

/** The text of a response's output items (output_text parts, or audio transcripts). */
function outputText(output: unknown): string {
  if (!Array.isArray(output)) return "";
  return output
    .flatMap((item) => (Array.isArray(item?.content) ? item.content : []))
    .map((c: { text?: string; transcript?: string }) => c?.text ?? c?.transcript ?? "")
    .join("");
}

function PhaseBadge({ phase }: { phase: Phase }) {
  const [tone, label]: [Tone, string] = {
    idle: ["muted", "not connected"] as [Tone, string],
    minting: ["info", "minting a client secret"] as [Tone, string],
    connecting: ["info", "connecting"] as [Tone, string],
    open: ["ok", "connected"] as [Tone, string],
    closing: ["warn", "disconnecting"] as [Tone, string],
    closed: ["muted", "closed"] as [Tone, string],
  }[phase];
  return <Badge tone={tone}>{label}</Badge>;
}

function ApiErrorBox({ error, title, testId }: { error: ApiError; title: string; testId: string }) {
  return (
    <div className="error" role="alert" data-testid={testId} data-status={error.status} data-code={error.code ?? undefined} data-param={error.param ?? undefined}>
      <strong>{title}</strong>
      <div>
        {error.param && (
          <>
            Field <code>{error.param}</code>:{" "}
          </>
        )}
        {error.message}
        {(error.code || error.status) && (
          <span className="muted small">
            {" "}
            ({[error.status && `HTTP ${error.status}`, error.code && `code ${error.code}`].filter(Boolean).join(", ")})
          </span>
        )}
      </div>
    </div>
  );
}

function CloseNotice({ closed }: { closed: Closed }) {
  const what = closed.hadSession ? (CLOSE_MEANINGS[closed.code] ?? "the session ended") : `the gateway refused the session for "${closed.model}" (check the model serves realtime and the key may use it)`;
  return (
    <div className={closed.hadSession && closed.code === 1000 ? "rt-closed" : "error"} role={closed.hadSession && closed.code === 1000 ? "status" : "alert"} data-testid="realtime-closed" data-code={closed.code} data-had-session={closed.hadSession}>
      <Badge tone={closeTone(closed)}>closed {closed.code}</Badge> {what}
      {closed.reason && (
        <>
          {" "}
          · reason: <q>{closed.reason}</q>
        </>
      )}
    </div>
  );
}
