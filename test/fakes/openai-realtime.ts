// Fake OpenAI Realtime API (the GA WebSocket protocol) for tests: `GET /v1/realtime?model=X` upgraded to a
// WebSocket with `Authorization: Bearer <key>`, and Azure's `/openai/v1/realtime?model=<deployment>` with an
// `api-key` header. It runs one `ws` WebSocketServer (noServer) behind two listeners: plain HTTP (`url`, the
// provider base_url a gateway turns into ws://) and HTTPS with a throwaway self-signed certificate (`tlsUrl` and
// `ca`, for the official SDK, which only dials wss:).
//
// What it models (event shapes from openai v7's resources/realtime types):
// - handshake refusals as OpenAI answers them, before the upgrade, with its error JSON: 401 invalid_api_key
//   (wrong or missing key), 400 (no ?model=), 404 (other paths), and scripted ones (`refuseNext`: 429 with
//   retry-after: 1, 500 server_error, …). A plain HTTP request gets 426 on the realtime paths, 404 elsewhere;
// - session.created on open, session.update → session.updated (instructions, output_modalities, audio, tools, …
//   merged; `session.type` is required, as in GA), conversation.item.create → conversation.item.added + .done,
//   input_audio_buffer.append/commit/clear (PCM16 24 kHz mono; committing under 100 ms is OpenAI's
//   input_audio_buffer_commit_empty error), response.create → the full response event sequence (below),
//   response.cancel (the running response ends with status "cancelled"), and `error` events for invalid JSON,
//   unknown event types and a second response.create while one runs (conversation_already_has_active_response);
//   the session stays open after an error event. Turn detection is reported as null: the fake never answers on
//   its own, only on response.create;
// - a response: response.created, response.output_item.added, conversation.item.added, response.content_part.added,
//   3–5 deltas (text: response.output_text.delta; audio: response.output_audio_transcript.delta each followed by
//   response.output_audio.delta with 0.1 s of silent PCM16 per word of that delta), then response.output_text.done
//   (or response.output_audio.done + response.output_audio_transcript.done), response.content_part.done,
//   response.output_item.done, conversation.item.done, response.done with usage. Deltas are spaced by
//   DELTA_DELAY_MS so a response.cancel can land mid-response. The reply is
//   `You said: "<last user text | a 1.0-second recording>". This is a short reply from the fake realtime model.`
// - input transcription: with the session's audio.input.transcription.model set, a committed recording gets
//   conversation.item.input_audio_transcription.completed (transcript `a N.N-second recording`) with the
//   transcription model's usage: {type: "duration", seconds} for whisper-1, else {type: "tokens"} with the
//   recording's audio tokens in and the transcript's text tokens out;
// - transcription sessions: `?intent=transcription` without a model opens one (session.type "transcription",
//   object realtime.transcription_session); its session.update must keep type "transcription" and names the
//   model in audio.input.transcription; committed audio is transcribed as below; response.create is an error;
// - scripted server-side endings (`dropAfter`): a TCP cut without a close frame, or a close frame with a code;
// - recording: every frame both ways as raw text, the handshake headers, how the connection closed;
// - the WebRTC calls API (no media: SDP is opaque text, the browser's data channel is a test-side handle):
//   `POST /v1/realtime/calls` (Azure: /openai/v1/realtime/calls, api-key), with multipart/form-data parts `sdp`
//   (the offer) and `session` (JSON, `type: "realtime"`, `model`), as the SDK's calls.create({ sdp, session })
//   sends it, or a raw application/sdp body with ?model= (calls.create({ sdp })). 201 with an answer SDP
//   (REALTIME_ANSWER_SDP) and `location: …/realtime/calls/rtc_<24 hex>`; 400 (no sdp, not `v=0…`, bad session,
//   no model), 401, 415, and refuseNext's scripted refusals. The call runs a session like a WebSocket one (the
//   session part preset as session.update would, same events and usage) whose client is the call's `peer` plus
//   any sidebands: `GET /v1/realtime?call_id=rtc_…` upgraded (404 for an unknown or ended call) receives every
//   server event sent after it attached, and its client events act on the session like the peer's. A sideband
//   closing leaves the call running; `POST …/calls/{id}/hangup` (200, empty body; 404 once ended) or
//   peer.hangup() ends it and closes every sideband with 1000 "call ended". /accept, /reject and /refer are
//   SIP-only: 400 for a WebRTC call. dropAfter does not apply to calls or sidebands.
//
// Usage arithmetic (every response.done carries it; the formulas are deliberately simple so a test can recompute
// them from the events it saw):
//   text tokens of a string  = ceil(chars / 4)                      (textTokens)
//   audio tokens of PCM16    = ceil(bytes / 4800), i.e. 10 per second at 24 kHz (48,000 bytes/s)   (audioTokens)
//   input  = the whole conversation re-read when the response starts: the instructions in effect (the response's
//            own `instructions` if given, else the session's) as text, then every item: user/system/assistant text
//            and function_call_output as text, a committed or input_audio user item as audio (its bytes), an
//            assistant audio reply as audio (the bytes of audio the fake sent); its transcript is not re-counted.
//            input_tokens = text_tokens + audio_tokens; image_tokens = 0.
//   output = text tokens of the text sent (the transcript in audio modality) + audio tokens of the audio sent.
//            A cancelled response counts only what was sent before the cancel.
//   cached = 0, unless `cacheHistory` is true and this session already finished a response: then the
//            instructions and every item before the newest user item are cached (split into text and audio in
//            cached_tokens_details), so cached_tokens = cached text + cached audio ≤ input_tokens.
//   total_tokens = input_tokens + output_tokens.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import { idMaker, isRecord } from './common.ts';

/** The only key the fake accepts, assembled at run time so no key-shaped literal sits in the source. */
export const REALTIME_TEST_KEY: string = ['sk', 'fake', 'realtime', 'key'].join('-');

export interface FakeRealtimeSession {
  /** "transcription" for a transcription session (?intent=transcription, no model). */
  intent?: string;
  /** "/v1/realtime", or "/openai/v1/realtime" for Azure. */
  path: string;
  /** From ?model= (Azure: the deployment). */
  model: string;
  /** The handshake's request headers (names lower-cased, as Node parses them). */
  headers: Record<string, string | string[] | undefined>;
  /** Every client frame as raw text, in order. */
  received: string[];
  /** Every server frame as raw text, in order. */
  sent: string[];
  /** How the connection closed, once it did: the code and reason the fake's socket saw (the client's close
   *  frame; for a server-initiated close, the code the client echoed; 1006 for a cut connection). */
  closed?: { code: number; reason: string };
}

/** A WebRTC call made through POST /v1/realtime/calls (or Azure's /openai/v1/realtime/calls). */
export interface FakeRealtimeCall {
  /** "rtc_" + 24 hex digits. */
  id: string;
  /** "/v1/realtime/calls", or "/openai/v1/realtime/calls" for Azure. */
  path: string;
  /** The session part's `model`, else ?model=. */
  model: string;
  /** The SDP offer as received. */
  sdp: string;
  /** The parsed `session` part, if there was one. */
  session: Record<string, unknown> | undefined;
  /** multipart/form-data (sdp + session parts), or a raw application/sdp body. */
  contentType: 'multipart' | 'sdp';
  /** The POST's request headers (names lower-cased, as Node parses them). */
  headers: Record<string, string | string[] | undefined>;
  /** The browser's side: its data channel. */
  peer: {
    /** A client event as the data channel would carry it (throws once the call ended, like a closed channel). */
    send(event: Record<string, unknown>): void;
    /** Every server event delivered to the peer, raw text, from session.created on. */
    received: string[];
    /** The browser closes the peer connection: the call ends, every sideband is closed with 1000. */
    hangup(): void;
  };
  /** One record per accepted sideband WebSocket, in attach order (`model` is the call's; `received` is what that
   *  sideband sent, `sent` what it was sent). Sidebands are not listed in FakeRealtime.sessions. */
  sidebands: FakeRealtimeSession[];
  /** How it ended, once it did: POST …/hangup, or peer.hangup(). */
  ended?: 'hangup' | 'peer';
  /** Cut every open sideband's TCP connection without a close frame (a network drop between gateway and
   *  provider; the sideband records 1006); the call goes on. */
  cutSidebands(): void;
}

export interface FakeRealtime {
  /** "http://127.0.0.1:<port>/v1": a provider base_url (the gateway turns http into ws). */
  url: string;
  /** "https://127.0.0.1:<port2>/v1": the same handler over TLS, for the official SDK (it only speaks wss:). */
  tlsUrl: string;
  /** PEM of tlsUrl's self-signed certificate (CN and SAN 127.0.0.1). */
  ca: string;
  /** Accepted sessions, in handshake order. */
  sessions: FakeRealtimeSession[];
  /** WebRTC calls created, in creation order. */
  calls: FakeRealtimeCall[];
  /** Handshakes (sidebands included) and call creations refused: model ('' when none was given or known) and
   *  HTTP status. */
  refusals: { model: string; status: number }[];
  /** The next `count` handshakes or call creations (default 1) that would be accepted are refused with this HTTP
   *  status and OpenAI's error JSON (429 also sends retry-after: 1; 401 code invalid_api_key; 500 server_error). */
  refuseNext(status: number, count?: number): void;
  /** The next accepted WebSocket session (not a call, not a sideband) ends from the server side once it has sent
   *  `responses` response.done events (0: right after session.created): "destroy" cuts the TCP connection
   *  without a close frame; otherwise a close frame with that code and reason. */
  dropAfter(responses: number, how: 'destroy' | { code: number; reason: string }): void;
  /** Report the conversation before the newest user item as cached (see the usage notes at the top). Default false. */
  cacheHistory: boolean;
  /** Clears sessions, calls, refusals, pending refusals and drops, and sets cacheHistory back to false. Calls
   *  still running go on (their ids stay valid for sidebands and hangup). */
  reset(): void;
  /** Ends every connection and every running call (without setting `ended`), then stops listening. */
  close(): Promise<void>;
}

/** Pause between the deltas of a response (and before its closing events). */
export const DELTA_DELAY_MS = 10;
/** PCM16 mono at 24 kHz. */
const BYTES_PER_SECOND = 48_000;
/** 10 audio tokens per second of audio. */
const BYTES_PER_AUDIO_TOKEN = 4_800;
/** Audio the fake speaks per word of its reply (0.1 s). */
const AUDIO_BYTES_PER_WORD = 4_800;
const REALTIME_PATH = '/v1/realtime';
const AZURE_PATH = '/openai/v1/realtime';
/** POST …/realtime/calls, and POST …/realtime/calls/{id}/{action}. */
const CALLS_RE = /^(\/v1|\/openai\/v1)\/realtime\/calls(?:\/([^/]+)\/([^/]+))?$/;

/** The SDP answer every call gets (opaque to the fake: syntactically plausible, never negotiated). */
export const REALTIME_ANSWER_SDP: string = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'a=msid-semantic: WMS',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:fakeRtc1',
  'a=ice-pwd:fakeRealtimeIcePassword0001',
  'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF',
  'a=setup:passive',
  'a=mid:0',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:fakeRtc1',
  'a=ice-pwd:fakeRealtimeIcePassword0001',
  'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF',
  'a=setup:passive',
  'a=mid:1',
  'a=sctp-port:5000',
  '',
].join('\r\n');

/** A browser-like SDP offer (audio + the "oai-events" data channel) a test can send; the fake only checks `v=0`. */
export const REALTIME_OFFER_SDP: string = [
  'v=0',
  'o=- 2890844526 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:offr',
  'a=ice-pwd:fakeOfferIcePassword00001',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 0.0.0.0',
  'a=mid:1',
  'a=sctp-port:5000',
  '',
].join('\r\n');

export const textTokens = (s: string): number => Math.ceil(s.length / 4);
export const audioTokens = (bytes: number): number => Math.ceil(bytes / BYTES_PER_AUDIO_TOKEN);

interface OpenAIErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null };
}

const STATUS_TEXT: Record<number, string> = http.STATUS_CODES as Record<number, string>;

/** OpenAI's error body for a refused handshake. */
function handshakeError(status: number, model: string): OpenAIErrorBody {
  const e = (message: string, type: string, code: string | null, param: string | null = null): OpenAIErrorBody => ({ error: { message, type, code, param } });
  switch (status) {
    case 400:
      return e("Missing required parameter: 'model'.", 'invalid_request_error', 'missing_required_parameter', 'model');
    case 401:
      return e('Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.', 'invalid_request_error', 'invalid_api_key');
    case 403:
      return e('Country, region, or territory not supported', 'request_forbidden', 'unsupported_country_region_territory');
    case 404:
      return e(`The model \`${model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found');
    case 429:
      return e(`Rate limit reached for ${model || 'realtime'} on requests per min (RPM): Limit 100, Used 100, Requested 1. Please try again in 1s.`, 'requests', 'rate_limit_exceeded');
    case 500:
      return e('The server had an error while processing your request. Sorry about that!', 'server_error', 'server_error');
    case 503:
      return e('The engine is currently overloaded, please try again later.', 'server_error', 'overloaded');
    default:
      return e(STATUS_TEXT[status] ?? `HTTP ${status}`, status >= 500 ? 'server_error' : 'invalid_request_error', null);
  }
}

/** Write a raw HTTP response onto an upgrade socket (nothing has been sent on it yet) and close it. */
function refuseSocket(socket: Duplex, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(text)}`,
    'Connection: close',
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
  ].join('\r\n');
  socket.end(`${head}\r\n\r\n${text}`);
}

const execFileAsync = promisify(execFile);

/** A self-signed certificate for 127.0.0.1, made with the openssl CLI in a temp dir that is removed at once. */
async function selfSigned(): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-realtime-tls-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    await execFileAsync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ]);
    return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One item of the conversation, with what usage needs. */
interface ConvItem {
  id: string;
  role: 'user' | 'assistant' | 'system' | 'tool';
  /** Text the item contributes (its text parts, or a function output). */
  text: string;
  /** PCM16 bytes the item contributes. */
  audioBytes: number;
}

interface TokenSplit {
  text: number;
  audio: number;
}

type Json = Record<string, unknown>;

/** Deep-ish merge for session.update: objects are merged recursively, anything else replaces. */
function merge(into: Json, from: Json): Json {
  const out: Json = { ...into };
  for (const [k, v] of Object.entries(from)) out[k] = isRecord(v) && isRecord(out[k]) ? merge(out[k] as Json, v) : v;
  return out;
}

/** The reply's words, cut into 3–5 deltas (each delta keeps its trailing space). */
function cutDeltas(reply: string): string[] {
  const words = reply.match(/\S+\s*/g) ?? [];
  const n = Math.max(3, Math.min(5, Math.ceil(words.length / 3)));
  const per = Math.ceil(words.length / n);
  const out: string[] = [];
  for (let i = 0; i < words.length; i += per) out.push(words.slice(i, i + per).join(''));
  return out;
}

/** A session.update's `session` (or a call's session part) that OpenAI would reject: why, else undefined. */
function sessionConfigError(upd: unknown): { code: string; message: string; param: string } | undefined {
  if (!isRecord(upd)) return { code: 'missing_required_parameter', message: "Missing required parameter: 'session'.", param: 'session' };
  if (upd.type === undefined) return { code: 'missing_required_parameter', message: "Missing required parameter: 'session.type'.", param: 'session.type' };
  if (upd.type !== 'realtime') return { code: 'invalid_value', message: "Invalid value: 'session.type'. A realtime session cannot be changed into a transcription session.", param: 'session.type' };
  const mods = upd.output_modalities;
  if (mods !== undefined && !(Array.isArray(mods) && mods.length === 1 && (mods[0] === 'text' || mods[0] === 'audio'))) {
    return { code: 'invalid_value', message: "Invalid modalities: supported combinations are: ['text'] and ['audio'].", param: 'session.output_modalities' };
  }
  if (upd.instructions !== undefined && typeof upd.instructions !== 'string') {
    return { code: 'invalid_type', message: "Invalid type for 'session.instructions': expected a string.", param: 'session.instructions' };
  }
  return undefined;
}

/** A ws message's bytes as text. */
function rawText(data: RawData): string {
  const raw = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  return raw.toString('utf8');
}

/** Where a session's server events go, and how it can be dropped: a WebSocket, or a call (peer + sidebands). */
interface SessionIO {
  model: string;
  /** A transcription session (?intent=transcription): session.type "transcription", no responses. */
  transcription?: boolean;
  /** Whether a server event can go out now. */
  canSend(): boolean;
  /** Deliver (and record) one server event. */
  send(text: string): void;
  /** A scripted server-side ending (dropAfter). */
  drop?: { responses: number; perform(): void };
}

/** A running session: feed it client events; end() stops it (a running response stops sending). */
interface SessionHandle {
  receive(text: string, isBinary: boolean): void;
  end(): void;
}

const CLIENT_EVENTS = [
  'session.update',
  'input_audio_buffer.append',
  'input_audio_buffer.commit',
  'input_audio_buffer.clear',
  'conversation.item.create',
  'conversation.item.retrieve',
  'conversation.item.truncate',
  'conversation.item.delete',
  'response.create',
  'response.cancel',
  'output_audio_buffer.clear',
];

/** A call's live state behind its public record. */
interface CallState {
  call: FakeRealtimeCall;
  session: SessionHandle;
  /** Open sidebands and their records. */
  open: Map<WebSocket, FakeRealtimeSession>;
  done: boolean;
}

/** OpenAI-shaped error body. */
const apiError = (message: string, code: string | null, param: string | null = null, type = 'invalid_request_error'): OpenAIErrorBody => ({ error: { message, type, code, param } });
const callNotFound = (id: string): OpenAIErrorBody => apiError(`Call '${id}' not found.`, 'call_not_found', 'call_id');

export async function startFakeRealtime(): Promise<FakeRealtime> {
  const ids = idMaker();
  const sessions: FakeRealtimeSession[] = [];
  const calls: FakeRealtimeCall[] = [];
  const callsById = new Map<string, CallState>();
  const refusals: { model: string; status: number }[] = [];
  let pendingRefusals: number[] = [];
  let pendingDrops: Array<{ responses: number; how: 'destroy' | { code: number; reason: string } }> = [];
  const live = new Set<WebSocket>();
  let cacheHistory = false;
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://fake');
    let model = url.searchParams.get('model') ?? '';
    const refuse = (status: number, extra: Record<string, string> = {}, body: unknown = handshakeError(status, model)): void => {
      refusals.push({ model, status });
      refuseSocket(socket, status, body, extra);
    };
    const azure = url.pathname === AZURE_PATH;
    if (url.pathname !== REALTIME_PATH && !azure) {
      refuse(404, {}, { error: { message: `Invalid URL (GET ${url.pathname})`, type: 'invalid_request_error', code: null, param: null } });
      return;
    }
    const presented = azure ? req.headers['api-key'] : req.headers.authorization;
    const expected = azure ? REALTIME_TEST_KEY : `Bearer ${REALTIME_TEST_KEY}`;
    if (presented !== expected) {
      refuse(401);
      return;
    }
    const callId = url.searchParams.get('call_id');
    if (callId !== null) {
      const st = callsById.get(callId);
      if (!st || st.done) {
        refuse(404, {}, callNotFound(callId));
        return;
      }
      model = st.call.model;
      const scripted = pendingRefusals.shift();
      if (scripted !== undefined) {
        refuse(scripted, scripted === 429 ? { 'retry-after': '1' } : {});
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => attachSideband(st, ws, { path: url.pathname, model, headers: { ...req.headers }, received: [], sent: [] }));
      return;
    }
    const intent = url.searchParams.get('intent') ?? undefined;
    if (intent !== undefined && intent !== 'transcription') {
      refuse(400, {}, { error: { message: `Invalid value: '${intent}'. Supported values are: 'transcription'.`, type: 'invalid_request_error', code: 'invalid_value', param: 'intent' } });
      return;
    }
    if (!model && !intent) {
      refuse(400);
      return;
    }
    const scripted = pendingRefusals.shift();
    if (scripted !== undefined) {
      refuse(scripted, scripted === 429 ? { 'retry-after': '1' } : {});
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const rec: FakeRealtimeSession = { path: url.pathname, model, headers: { ...req.headers }, received: [], sent: [], ...(intent ? { intent } : {}) };
      sessions.push(rec);
      live.add(ws);
      const drop = pendingDrops.shift();
      /** Settles once the latest frame has been handed to the socket (a cut must not swallow it). */
      let flushed: Promise<void> = Promise.resolve();
      const io: SessionIO = {
        model,
        ...(intent ? { transcription: true } : {}),
        canSend: () => ws.readyState === ws.OPEN,
        send(text) {
          rec.sent.push(text);
          flushed = new Promise((resolve) => ws.send(text, () => resolve()));
        },
        drop: drop && {
          responses: drop.responses,
          perform() {
            const how = drop.how;
            if (how === 'destroy') {
              // Let the frames already sent reach the client, then cut the TCP connection without a close frame.
              void flushed.then(() => setTimeout(() => ws.terminate(), 10));
            } else {
              try {
                ws.close(how.code, how.reason);
              } catch {
                ws.terminate(); // a code ws may not send (1005, 1006, …): cut instead
              }
            }
          },
        },
      };
      ws.on('error', () => {});
      const session = runSession(io);
      ws.on('close', (code, reason) => {
        session.end();
        live.delete(ws);
        rec.closed = { code, reason: reason.toString() };
      });
      ws.on('message', (data: RawData, isBinary: boolean) => {
        const text = rawText(data);
        rec.received.push(text);
        session.receive(text, isBinary);
      });
    });
  };

  /** A sideband joins a call: it gets every server event from now on, and its client events drive the session. */
  function attachSideband(st: CallState, ws: WebSocket, rec: FakeRealtimeSession): void {
    st.call.sidebands.push(rec);
    live.add(ws);
    ws.on('error', () => {});
    ws.on('close', (code, reason) => {
      st.open.delete(ws);
      live.delete(ws);
      rec.closed = { code, reason: reason.toString() };
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const text = rawText(data);
      rec.received.push(text);
      st.session.receive(text, isBinary);
    });
    if (st.done) ws.close(1000, 'call ended'); // it ended while the upgrade was in flight
    else st.open.set(ws, rec);
  }

  /** Ends a call: the session stops, every sideband gets a 1000 close frame. `how` unset: the fake is closing. */
  function endCall(st: CallState, how?: 'hangup' | 'peer'): void {
    if (st.done) return;
    st.done = true;
    if (how) st.call.ended = how;
    st.session.end();
    for (const ws of st.open.keys()) {
      try {
        ws.close(1000, 'call ended');
      } catch {
        ws.terminate();
      }
    }
  }

  const sendJson = (res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...extra });
    res.end(text);
  };

  /** POST …/realtime/calls and POST …/realtime/calls/{id}/{hangup|accept|reject|refer}. */
  async function onCalls(req: http.IncomingMessage, res: http.ServerResponse, url: URL, match: RegExpExecArray): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const [, prefix, callId, action] = match;
    const azure = prefix === '/openai/v1';
    const presented = azure ? req.headers['api-key'] : req.headers.authorization;
    const authorized = presented === (azure ? REALTIME_TEST_KEY : `Bearer ${REALTIME_TEST_KEY}`);
    if (callId !== undefined) {
      if (!authorized) return sendJson(res, 401, handshakeError(401, ''));
      if (!['hangup', 'accept', 'reject', 'refer'].includes(action)) {
        return sendJson(res, 404, apiError(`Invalid URL (POST ${url.pathname})`, null));
      }
      const st = callsById.get(callId);
      if (!st || st.done) return sendJson(res, 404, callNotFound(callId));
      if (action !== 'hangup') {
        return sendJson(res, 400, apiError(`Call '${callId}' is a WebRTC call: '${action}' only applies to incoming SIP calls.`, 'invalid_call_type', 'call_id'));
      }
      endCall(st, 'hangup');
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      return;
    }

    let model = url.searchParams.get('model') ?? '';
    const fail = (status: number, err: OpenAIErrorBody, extra: Record<string, string> = {}): void => {
      refusals.push({ model, status });
      sendJson(res, status, err, extra);
    };
    if (!authorized) return fail(401, handshakeError(401, model));
    const contentTypeHeader = String(req.headers['content-type'] ?? '');
    const media = contentTypeHeader.split(';')[0].trim().toLowerCase();
    let sdp: string | undefined;
    let sessionText: string | undefined;
    let contentType: 'multipart' | 'sdp';
    if (media === 'multipart/form-data') {
      contentType = 'multipart';
      let form: FormData;
      try {
        form = await new Response(body, { headers: { 'content-type': contentTypeHeader } }).formData();
      } catch {
        return fail(400, apiError('Could not parse the multipart/form-data body.', 'invalid_request_body'));
      }
      const part = async (name: string): Promise<string | undefined> => {
        const v = form.get(name);
        return v === null ? undefined : typeof v === 'string' ? v : await v.text();
      };
      sdp = await part('sdp');
      sessionText = await part('session');
    } else if (media === 'application/sdp') {
      contentType = 'sdp';
      sdp = body.toString('utf8');
    } else {
      return fail(
        415,
        apiError(`Unsupported content type: '${media || 'none'}'. Send multipart/form-data (parts 'sdp' and 'session') or an application/sdp body.`, 'unsupported_content_type'),
      );
    }
    let session: Json | undefined;
    if (sessionText !== undefined) {
      try {
        session = JSON.parse(sessionText);
      } catch {
        return fail(400, apiError("Invalid 'session': expected a JSON object.", 'invalid_json', 'session'));
      }
      if (isRecord(session) && typeof session.model === 'string' && session.model) model = session.model;
    }
    if (!sdp) return fail(400, apiError("Missing required parameter: 'sdp'.", 'missing_required_parameter', 'sdp'));
    if (!sdp.startsWith('v=0')) return fail(400, apiError("Invalid SDP offer: it must start with 'v=0'.", 'invalid_offer', 'sdp'));
    if (session !== undefined) {
      const bad = sessionConfigError(session);
      if (bad) return fail(400, apiError(bad.message, bad.code, bad.param));
    }
    if (!model) {
      const param = contentType === 'multipart' ? 'session.model' : 'model';
      return fail(400, apiError(`Missing required parameter: '${param}'.`, 'missing_required_parameter', param));
    }
    const scripted = pendingRefusals.shift();
    if (scripted !== undefined) return fail(scripted, handshakeError(scripted, model), scripted === 429 ? { 'retry-after': '1' } : {});

    const id = `rtc_${randomBytes(12).toString('hex')}`;
    const callsPath = `${prefix}/realtime/calls`;
    const st: CallState = { call: undefined as unknown as FakeRealtimeCall, session: undefined as unknown as SessionHandle, open: new Map(), done: false };
    const call: FakeRealtimeCall = {
      id,
      path: callsPath,
      model,
      sdp,
      session,
      contentType,
      headers: { ...req.headers },
      peer: {
        send(event) {
          if (st.done) throw new Error(`call ${id} has ended: its data channel is closed`);
          st.session.receive(JSON.stringify(event), false);
        },
        received: [],
        hangup: () => endCall(st, 'peer'),
      },
      sidebands: [],
      cutSidebands() {
        for (const ws of st.open.keys()) ws.terminate();
      },
    };
    st.call = call;
    calls.push(call);
    callsById.set(id, st);
    st.session = runSession(
      {
        model,
        canSend: () => !st.done,
        send(text) {
          call.peer.received.push(text);
          for (const [ws, rec] of st.open) {
            if (ws.readyState !== ws.OPEN) continue;
            rec.sent.push(text);
            ws.send(text);
          }
        },
      },
      session,
    );
    res.writeHead(201, { 'content-type': 'application/sdp', 'content-length': Buffer.byteLength(REALTIME_ANSWER_SDP), location: `${callsPath}/${id}` });
    res.end(REALTIME_ANSWER_SDP);
  }

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const reqUrl = new URL(req.url ?? '/', 'http://fake');
    const path = reqUrl.pathname;
    const callsMatch = req.method === 'POST' ? CALLS_RE.exec(path) : null;
    if (callsMatch) {
      void onCalls(req, res, reqUrl, callsMatch).catch(() => {
        if (!res.headersSent) sendJson(res, 500, handshakeError(500, ''));
        else res.destroy();
      });
      return;
    }
    const realtime = path === REALTIME_PATH || path === AZURE_PATH;
    const status = realtime ? 426 : 404;
    const message = realtime ? 'This endpoint only accepts WebSocket connections (Upgrade: websocket).' : `Invalid URL (${req.method} ${path})`;
    const body = JSON.stringify({ error: { message, type: 'invalid_request_error', code: null, param: null } });
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(realtime ? { upgrade: 'websocket' } : {}) });
    res.end(body);
  };

  /** One session's logic, independent of its transport: a WebSocket, or a call's peer plus its sidebands. It sends
   *  session.created (with `initial` merged in as session.update would) before returning. */
  function runSession(io: SessionIO, initial: Json = {}): SessionHandle {
    let session: Json = io.transcription ? {
      type: 'transcription',
      object: 'realtime.transcription_session',
      id: ids('sess_'),
      expires_at: Math.floor(Date.now() / 1000) + 3600,
      include: null,
      audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: null, noise_reduction: null, turn_detection: null } },
    } : {
      type: 'realtime',
      object: 'realtime.session',
      id: ids('sess_'),
      model: io.model,
      output_modalities: ['audio'],
      instructions: '',
      tools: [],
      tool_choice: 'auto',
      max_output_tokens: 'inf',
      tracing: null,
      truncation: 'auto',
      prompt: null,
      expires_at: Math.floor(Date.now() / 1000) + 3600,
      include: null,
      audio: {
        input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: null, noise_reduction: null, turn_detection: null },
        output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy', speed: 1 },
      },
    };
    const conversationId = ids('conv_');
    const items: ConvItem[] = [];
    let bufferBytes = 0;
    let active: { id: string; cancelled: boolean } | undefined;
    let responsesDone = 0;
    let ended = false;

    const send = (type: string, fields: Json = {}): void => {
      if (ended || !io.canSend()) return;
      io.send(JSON.stringify({ type, event_id: ids('event_'), ...fields }));
    };
    const error = (code: string | null, message: string, param: string | null, clientEventId: unknown): void =>
      send('error', { error: { type: 'invalid_request_error', code, message, param, event_id: typeof clientEventId === 'string' ? clientEventId : null } });
    const lastId = (): string | null => items.at(-1)?.id ?? null;
    /** With audio.input.transcription set, a committed recording is transcribed, billed by the transcription model:
     *  whisper-1 by its seconds ({type: "duration"}), the others in tokens (audio tokens of the recording in, text
     *  tokens of the transcript out). */
    const transcribe = (itemId: string, bytes: number): void => {
      const t = (session.audio as Json | undefined)?.input as Json | undefined;
      const model = (t?.transcription as Json | null | undefined)?.model;
      if (typeof model !== 'string') return;
      const transcript = `a ${(bytes / BYTES_PER_SECOND).toFixed(1)}-second recording`;
      const usage =
        model === 'whisper-1'
          ? { type: 'duration', seconds: bytes / BYTES_PER_SECOND }
          : { type: 'tokens', input_tokens: audioTokens(bytes), input_token_details: { audio_tokens: audioTokens(bytes), text_tokens: 0 }, output_tokens: textTokens(transcript), total_tokens: audioTokens(bytes) + textTokens(transcript) };
      send('conversation.item.input_audio_transcription.completed', { item_id: itemId, content_index: 0, transcript, usage });
    };
    const maybeDrop = (): void => {
      if (!io.drop || responsesDone < io.drop.responses || ended) return;
      ended = true;
      io.drop.perform();
    };

    function receive(text: string, isBinary: boolean): void {
      if (ended) return;
      let ev: unknown;
      try {
        if (isBinary) throw new SyntaxError('binary frame');
        ev = JSON.parse(text);
      } catch {
        error('invalid_json', "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.", null, null);
        return;
      }
      if (!isRecord(ev) || typeof ev.type !== 'string') {
        error('missing_required_parameter', "Missing required parameter: 'type'.", 'type', isRecord(ev) ? ev.event_id : null);
        return;
      }
      handle(ev as Json & { type: string });
    }

    function handle(ev: Json & { type: string }): void {
      const evId = ev.event_id;
      switch (ev.type) {
        case 'session.update': {
          const upd = ev.session;
          if (io.transcription) {
            if (!isRecord(upd) || upd.type !== 'transcription') return error('invalid_value', "Invalid value: 'session.type'. A transcription session cannot be changed into a realtime session.", 'session.type', evId);
            const { type: _t, ...rest } = upd;
            session = merge(session, rest);
            send('session.updated', { session });
            return;
          }
          const bad = sessionConfigError(upd);
          if (bad) return error(bad.code, bad.message, bad.param, evId);
          const { type: _type, ...rest } = upd as Json;
          session = merge(session, rest);
          send('session.updated', { session });
          return;
        }
        case 'conversation.item.create': {
          const item = ev.item;
          if (!isRecord(item)) return error('missing_required_parameter', "Missing required parameter: 'item'.", 'item', evId);
          const id = typeof item.id === 'string' && item.id ? item.id : ids('item_');
          if (items.some((i) => i.id === id)) return error('item_id_already_exists', `Item with id '${id}' already exists.`, 'item.id', evId);
          let conv: ConvItem;
          if (item.type === 'message') {
            const role = item.role;
            if (role !== 'user' && role !== 'assistant' && role !== 'system') return error('invalid_value', `Invalid value: '${String(role)}'. Supported values are: 'user', 'assistant', and 'system'.`, 'item.role', evId);
            if (!Array.isArray(item.content)) return error('missing_required_parameter', "Missing required parameter: 'item.content'.", 'item.content', evId);
            let text = '';
            let audioBytes = 0;
            for (const [i, part] of item.content.entries()) {
              if (!isRecord(part)) return error('invalid_type', `Invalid type for 'item.content[${i}]'.`, `item.content[${i}]`, evId);
              if (part.type === 'input_text' || part.type === 'output_text' || part.type === 'text') text += typeof part.text === 'string' ? part.text : '';
              else if (part.type === 'input_audio' && role === 'user') audioBytes += typeof part.audio === 'string' ? Buffer.from(part.audio, 'base64').length : 0;
              else return error('invalid_value', `Invalid value: '${String(part.type)}' is not a supported content type for role '${role}'.`, `item.content[${i}].type`, evId);
            }
            conv = { id, role, text, audioBytes };
          } else if (item.type === 'function_call_output') {
            conv = { id, role: 'tool', text: typeof item.output === 'string' ? item.output : '', audioBytes: 0 };
          } else {
            return error('invalid_value', `Invalid value: '${String(item.type)}'. Supported values are: 'message' and 'function_call_output'.`, 'item.type', evId);
          }
          const prev = typeof ev.previous_item_id === 'string' ? ev.previous_item_id : lastId();
          items.push(conv);
          const wire = { ...item, id, object: 'realtime.item', status: 'completed' };
          send('conversation.item.added', { previous_item_id: prev, item: wire });
          send('conversation.item.done', { previous_item_id: prev, item: wire });
          return;
        }
        case 'input_audio_buffer.append': {
          if (typeof ev.audio !== 'string') return error('missing_required_parameter', "Missing required parameter: 'audio'.", 'audio', evId);
          bufferBytes += Buffer.from(ev.audio, 'base64').length;
          return;
        }
        case 'input_audio_buffer.commit': {
          if (bufferBytes < BYTES_PER_SECOND / 10) {
            const ms = ((bufferBytes / BYTES_PER_SECOND) * 1000).toFixed(2);
            return error('input_audio_buffer_commit_empty', `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${ms}ms of audio.`, null, evId);
          }
          const id = ids('item_');
          const prev = lastId();
          items.push({ id, role: 'user', text: '', audioBytes: bufferBytes });
          bufferBytes = 0;
          send('input_audio_buffer.committed', { previous_item_id: prev, item_id: id });
          const wire = { id, type: 'message', object: 'realtime.item', status: 'completed', role: 'user', content: [{ type: 'input_audio', transcript: null }] };
          send('conversation.item.added', { previous_item_id: prev, item: wire });
          send('conversation.item.done', { previous_item_id: prev, item: wire });
          transcribe(id, items[items.length - 1].audioBytes);
          return;
        }
        case 'input_audio_buffer.clear':
          bufferBytes = 0;
          send('input_audio_buffer.cleared');
          return;
        case 'response.cancel':
          if (!active || active.cancelled) return error('response_cancel_not_active', 'Cancellation failed: no active response found', null, evId);
          active.cancelled = true;
          return;
        case 'response.create': {
          if (io.transcription) return error('invalid_request_error', 'Transcription sessions do not create responses.', null, evId);
          if (active) return error('conversation_already_has_active_response', `Conversation already has an active response in progress: ${active.id}. Wait until the response is finished before creating a new one.`, null, evId);
          const params = isRecord(ev.response) ? ev.response : {};
          const mods = params.output_modalities;
          if (mods !== undefined && !(Array.isArray(mods) && mods.length === 1 && (mods[0] === 'text' || mods[0] === 'audio'))) {
            return error('invalid_value', "Invalid modalities: supported combinations are: ['text'] and ['audio'].", 'response.output_modalities', evId);
          }
          active = { id: ids('resp_'), cancelled: false };
          void respond(active, params).catch(() => {});
          return;
        }
        default:
          if (CLIENT_EVENTS.includes(ev.type)) {
            return error('unsupported_event', `The fake does not implement '${ev.type}'.`, 'type', evId);
          }
          return error('invalid_value', `Invalid value: '${ev.type}'. Supported values are: ${CLIENT_EVENTS.map((t) => `'${t}'`).join(', ')}.`, 'type', evId);
      }
    }

    /** Token split of instructions + items[0..end). */
    function tokensOf(instructions: string, end: number): TokenSplit {
      const t: TokenSplit = { text: textTokens(instructions), audio: 0 };
      for (const it of items.slice(0, end)) {
        t.text += textTokens(it.text);
        t.audio += audioTokens(it.audioBytes);
      }
      return t;
    }

    function replyFor(): string {
      const lastUser = items.findLast((i) => i.role === 'user');
      const said = !lastUser ? 'nothing' : lastUser.text || `a ${(lastUser.audioBytes / BYTES_PER_SECOND).toFixed(1)}-second recording`;
      return `You said: "${said}". This is a short reply from the fake realtime model.`;
    }

    async function respond(run: { id: string; cancelled: boolean }, params: Json): Promise<void> {
      const modalities = (params.output_modalities as string[] | undefined) ?? (session.output_modalities as string[]);
      const audio = modalities[0] === 'audio';
      const instructions = typeof params.instructions === 'string' ? params.instructions : String(session.instructions ?? '');
      const input = tokensOf(instructions, items.length);
      const newestUser = items.findLastIndex((i) => i.role === 'user');
      const cached = cacheHistory && responsesDone > 0 ? tokensOf(instructions, newestUser === -1 ? items.length : newestUser) : { text: 0, audio: 0 };
      const sessionAudio = session.audio as { output?: { format?: unknown; voice?: unknown } };
      const response: Json = {
        object: 'realtime.response',
        id: run.id,
        status: 'in_progress',
        status_details: null,
        output: [],
        conversation_id: conversationId,
        output_modalities: modalities,
        max_output_tokens: params.max_output_tokens ?? session.max_output_tokens ?? 'inf',
        audio: { output: { format: sessionAudio.output?.format ?? { type: 'audio/pcm', rate: 24000 }, voice: sessionAudio.output?.voice ?? 'alloy' } },
        usage: null,
        metadata: params.metadata ?? null,
      };
      send('response.created', { response });
      const itemId = ids('item_');
      const prev = lastId();
      const at = { response_id: run.id, item_id: itemId, output_index: 0, content_index: 0 };
      send('response.output_item.added', { response_id: run.id, output_index: 0, item: { id: itemId, type: 'message', object: 'realtime.item', status: 'in_progress', role: 'assistant', content: [] } });
      send('conversation.item.added', { previous_item_id: prev, item: { id: itemId, type: 'message', object: 'realtime.item', status: 'in_progress', role: 'assistant', content: [] } });
      send('response.content_part.added', { ...at, part: audio ? { type: 'audio', transcript: '' } : { type: 'text', text: '' } });
      let said = '';
      let audioBytes = 0;
      for (const delta of cutDeltas(replyFor())) {
        await new Promise((r) => setTimeout(r, DELTA_DELAY_MS));
        if (run.cancelled || ended) break;
        said += delta;
        if (audio) {
          const pcm = Buffer.alloc(AUDIO_BYTES_PER_WORD * delta.trim().split(/\s+/).length);
          audioBytes += pcm.length;
          send('response.output_audio_transcript.delta', { ...at, delta });
          send('response.output_audio.delta', { ...at, delta: pcm.toString('base64') });
        } else {
          send('response.output_text.delta', { ...at, delta });
        }
      }
      await new Promise((r) => setTimeout(r, DELTA_DELAY_MS));
      const status = run.cancelled ? 'cancelled' : 'completed';
      if (audio) {
        send('response.output_audio.done', at);
        send('response.output_audio_transcript.done', { ...at, transcript: said });
        send('response.content_part.done', { ...at, part: { type: 'audio', transcript: said } });
      } else {
        send('response.output_text.done', { ...at, text: said });
        send('response.content_part.done', { ...at, part: { type: 'text', text: said } });
      }
      const item = {
        id: itemId,
        type: 'message',
        object: 'realtime.item',
        status: run.cancelled ? 'incomplete' : 'completed',
        role: 'assistant',
        content: [audio ? { type: 'output_audio', transcript: said } : { type: 'output_text', text: said }],
      };
      send('response.output_item.done', { response_id: run.id, output_index: 0, item });
      send('conversation.item.done', { previous_item_id: prev, item });
      // An assistant audio reply is re-read as audio; a text reply as text (see the usage notes at the top).
      items.push({ id: itemId, role: 'assistant', text: audio ? '' : said, audioBytes });
      const out = { text: textTokens(said), audio: audioTokens(audioBytes) };
      const inputTokens = input.text + input.audio;
      const outputTokens = out.text + out.audio;
      const usage = {
        total_tokens: inputTokens + outputTokens,
        input_tokens: inputTokens,
        output_tokens: outputTokens,
        input_token_details: {
          text_tokens: input.text,
          audio_tokens: input.audio,
          image_tokens: 0,
          cached_tokens: cached.text + cached.audio,
          cached_tokens_details: { text_tokens: cached.text, audio_tokens: cached.audio, image_tokens: 0 },
        },
        output_token_details: { text_tokens: out.text, audio_tokens: out.audio },
      };
      active = undefined;
      send('response.done', {
        response: { ...response, status, status_details: run.cancelled ? { type: 'cancelled', reason: 'client_cancelled' } : null, output: [item], usage },
      });
      responsesDone++;
      maybeDrop();
    }

    const { type: _type, ...preset } = initial;
    session = merge(session, preset);
    send('session.created', { session });
    maybeDrop();
    return {
      receive,
      end() {
        ended = true;
      },
    };
  }

  const tls = await selfSigned();
  const plain = http.createServer(onRequest);
  const secure = https.createServer({ key: tls.key, cert: tls.cert }, onRequest);
  // Every TCP connection, upgraded or not, so close() can end them all (server.close waits for upgraded ones).
  const sockets = new Set<Socket>();
  for (const server of [plain, secure]) {
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server.on('upgrade', onUpgrade);
    server.on('clientError', (_err, socket: Socket) => socket.destroy());
  }
  const listen = (server: http.Server): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const [port, tlsPort] = [await listen(plain), await listen(secure)];

  const fake: FakeRealtime = {
    url: `http://127.0.0.1:${port}/v1`,
    tlsUrl: `https://127.0.0.1:${tlsPort}/v1`,
    ca: tls.cert,
    sessions,
    calls,
    refusals,
    get cacheHistory() {
      return cacheHistory;
    },
    set cacheHistory(v: boolean) {
      cacheHistory = v;
    },
    refuseNext(status, count = 1) {
      for (let i = 0; i < count; i++) pendingRefusals.push(status);
    },
    dropAfter(responses, how) {
      pendingDrops.push({ responses, how });
    },
    reset() {
      sessions.length = 0;
      calls.length = 0;
      refusals.length = 0;
      pendingRefusals = [];
      pendingDrops = [];
      cacheHistory = false;
    },
    async close() {
      for (const st of callsById.values()) endCall(st);
      for (const ws of live) ws.terminate();
      live.clear();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => wss.close(() => r()));
      await Promise.all(
        [plain, secure].map(
          (s) =>
            new Promise<void>((r) => {
              s.close(() => r());
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
  return fake;
}
