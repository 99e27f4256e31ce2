// Client secrets for the Realtime API (POST /v1/realtime/client_secrets, OpenAI's ephemeral keys):
// a server holding a gateway key mints a short-lived secret for one realtime model and session
// configuration, and hands it to a browser or a phone, which opens a WebRTC call
// (/v1/realtime/calls) or a WebSocket session (/v1/realtime) with it. The gateway key never
// leaves the server.
//
// A secret is self-contained and signed: `ek_sbx_`, the base64url of its claims (the key it acts
// for, by name, the model, the session and whether it is a transcription session's, when it
// expires), `.` and an HMAC-SHA256 of them, so any
// replica that shares the key that signs them can check one without a store round trip. That key
// is derived from SIGNALBOX_MASTER_KEY (HKDF, its own label); without a master key it is random
// per process, and secrets work only on the replica that minted them. A secret acts for its key
// as it is when used: a key revoked or expired since then makes its secrets fail too. Secrets
// authenticate only the realtime endpoints, never chat or the admin API. The same key signs the
// call ids the gateway gives the callers of WebRTC calls (`seal`/`unseal`, their own prefix), so
// any replica can act on a call another placed.

import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { GatewayError } from "../router/errors.ts";

/** What every client secret starts with. */
export const SECRET_PREFIX = "ek_sbx_";
/** OpenAI's bounds on a secret's life (expires_after.seconds), and its default. */
export const MIN_SECRET_SECONDS = 10;
export const MAX_SECRET_SECONDS = 7200;
export const DEFAULT_SECRET_SECONDS = 600;
/** Most a secret's session configuration may be, as JSON (it travels in a header). */
export const MAX_SECRET_SESSION_BYTES = 6 * 1024;

/** What a client secret carries. */
export interface SecretClaims {
  /** The key it acts for, by name. */
  key: string;
  /** The route, alias or deployment it opens. */
  model: string;
  /** The session's configuration (without model and type). */
  session: Record<string, unknown>;
  /** A transcription session's secret (`session.type: "transcription"`); absent: a conversation's. */
  transcription?: boolean;
  /** Unix milliseconds. */
  expiresAt: number;
}

export interface SecretBook {
  mint(claims: SecretClaims): string;
  /** The claims of a secret, or unauthenticated (forged, malformed or expired). */
  open(value: string): SecretClaims;
  /** An opaque token carrying `claims`, signed with the same key (another use than secrets: its prefix is signed too). */
  seal(prefix: string, claims: Record<string, unknown>): string;
  /** The claims of a token `seal` made with `prefix`; undefined when it is not one (or was altered). */
  unseal(prefix: string, token: string): Record<string, unknown> | undefined;
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export function createSecretBook(masterKey: string | undefined, now: () => number = Date.now): SecretBook {
  const key = masterKey ? Buffer.from(hkdfSync("sha256", masterKey, "signalbox", "realtime-client-secrets", 32)) : randomBytes(32);
  const sign = (body: string) => createHmac("sha256", key).update(body).digest();
  return {
    seal(prefix, claims) {
      const body = b64(JSON.stringify(claims));
      return `${prefix}${body}.${b64(sign(`${prefix}${body}`))}`;
    },
    unseal(prefix, token) {
      if (!token.startsWith(prefix)) return undefined;
      const dot = token.lastIndexOf(".");
      if (dot < prefix.length) return undefined;
      const mac = Buffer.from(token.slice(dot + 1), "base64url");
      const want = sign(token.slice(0, dot));
      if (mac.length !== want.length || !timingSafeEqual(mac, want)) return undefined;
      try {
        const v = JSON.parse(Buffer.from(token.slice(prefix.length, dot), "base64url").toString("utf8"));
        return v && typeof v === "object" && !Array.isArray(v) ? v : undefined;
      } catch {
        return undefined;
      }
    },
    mint(c) {
      const body = b64(JSON.stringify({ v: 1, k: c.key, m: c.model, s: c.session, e: c.expiresAt, ...(c.transcription ? { t: 1 } : {}), n: b64(randomBytes(9)) }));
      return `${SECRET_PREFIX}${body}.${b64(sign(body))}`;
    },
    open(value) {
      const invalid = () => new GatewayError("unauthenticated", "invalid client secret");
      if (!value.startsWith(SECRET_PREFIX)) throw invalid();
      const dot = value.lastIndexOf(".");
      if (dot < SECRET_PREFIX.length) throw invalid();
      const body = value.slice(SECRET_PREFIX.length, dot);
      const mac = Buffer.from(value.slice(dot + 1), "base64url");
      const want = sign(body);
      if (mac.length !== want.length || !timingSafeEqual(mac, want)) throw invalid();
      let c: { k?: unknown; m?: unknown; s?: unknown; e?: unknown; t?: unknown };
      try {
        c = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
      } catch {
        throw invalid();
      }
      if (typeof c.k !== "string" || typeof c.m !== "string" || typeof c.e !== "number" || !c.s || typeof c.s !== "object") throw invalid();
      if (c.e <= now()) throw new GatewayError("unauthenticated", "client secret expired");
      return { key: c.k, model: c.m, session: c.s as Record<string, unknown>, expiresAt: c.e, ...(c.t === 1 ? { transcription: true } : {}) };
    },
  };
}

/**
 * The body of POST /v1/realtime/client_secrets, checked: `session` (type "realtime", `model`
 * naming a route, alias or deployment) and `expires_after` ({anchor: "created_at", seconds}).
 */
export function parseSecretRequest(body: unknown, nowMs: number): { model: string; session: Record<string, unknown>; expiresAt: number; transcription: boolean } {
  const bad = (field: string, what: string) => new GatewayError("invalid_argument", `${field}: ${what}`, { field });
  if (!body || typeof body !== "object" || Array.isArray(body)) throw bad("body", "must be a JSON object");
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (k !== "session" && k !== "expires_after") throw bad(k, "is not a field of a client secret request (session, expires_after)");
  const s = b.session;
  if (!s || typeof s !== "object" || Array.isArray(s)) throw bad("session", "is required: the session's configuration, with its model");
  const session = s as Record<string, unknown>;
  if (session.type !== undefined && session.type !== "realtime" && session.type !== "transcription") throw bad("session.type", `"${String(session.type)}" is not a session type ("realtime" or "transcription")`);
  const transcription = session.type === "transcription";
  if (typeof session.model !== "string" || !session.model) throw bad("session.model", transcription ? "is required (the route, alias or deployment of a transcription model that transcribes the session)" : "is required (a route, alias or deployment that serves realtime)");
  let seconds = DEFAULT_SECRET_SECONDS;
  if (b.expires_after !== undefined) {
    const e = b.expires_after;
    if (!e || typeof e !== "object" || Array.isArray(e)) throw bad("expires_after", 'must be an object: {"anchor": "created_at", "seconds": n}');
    const { anchor, seconds: sec } = e as Record<string, unknown>;
    if (anchor !== undefined && anchor !== "created_at") throw bad("expires_after.anchor", 'must be "created_at"');
    if (sec !== undefined) {
      if (typeof sec !== "number" || !Number.isInteger(sec) || sec < MIN_SECRET_SECONDS || sec > MAX_SECRET_SECONDS) throw bad("expires_after.seconds", `must be a whole number of seconds from ${MIN_SECRET_SECONDS} to ${MAX_SECRET_SECONDS}`);
      seconds = sec;
    }
  }
  const { model, type: _t, ...rest } = session;
  if (Buffer.byteLength(JSON.stringify(rest)) > MAX_SECRET_SESSION_BYTES) throw bad("session", `is larger than ${MAX_SECRET_SESSION_BYTES} bytes as JSON (a client secret carries it); set long instructions or tools with session.update once connected`);
  return { model: model as string, session: rest, expiresAt: nowMs + seconds * 1000, transcription };
}
