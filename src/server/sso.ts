// Console sign-in through the company's OpenID Connect provider (`console.sso`), with
// openid-client: the authorization code flow with PKCE, state and nonce.
//
//   GET /console/sso/login      redirects to the provider; the flow's state, nonce and PKCE
//                               verifier ride in a signed, HttpOnly cookie (any replica can finish it);
//                               with ?cli_port= the session goes to `signalbox login`'s listener on
//                               127.0.0.1 instead of the console
//   GET /console/sso/callback   exchanges the code, reads the user's e-mail and groups (the ID
//                               token, else userinfo), maps them to a role (console.sso.admins, or
//                               the first of console.sso.teams that names them), and sends the
//                               browser to /console/#sso=<session>; a user named nowhere is refused
//   POST /console/sso/logout    (bearer: the session) signs the session out on every replica (the
//                               control plane keeps the revocation), audited as session.logout; the
//                               answer names the provider's end_session_endpoint URL, when it has one
//   POST /console/sso/device    `signalbox login --device` (RFC 8628): starts the provider's device
//                               flow; answers the user code, the URL and a signed device handle
//   POST /console/sso/device/token  {device}: one poll of the provider's token endpoint: pending,
//                               or the session (the same role mapping as the callback), or a refusal
//
// The session is a bearer token (`sbs_…`) the console keeps in the tab's sessionStorage and sends
// as it sends a key: the user's e-mail, name and the groups of theirs console.sso names, and its
// expiry, signed with a key derived from SIGNALBOX_MASTER_KEY (so every replica with the same
// master key accepts it; without one, a random key of this process). Its role is worked out again from the configuration in force at
// every request, so taking someone out of console.sso takes effect at once. The caller is
// `sso:<email>`: audit events name the person.

import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { SsoConfig } from "../config/types.ts";
import { GatewayError, type GatewayCode } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import { log } from "../telemetry/log.ts";

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

export const SESSION_PREFIX = "sbs_";
const FLOW_COOKIE = "sbx_sso_flow";
/** How long a sign-in at the provider may take. */
const FLOW_TTL_MS = 10 * 60_000;
/** Groups kept in a session, at most (only those console.sso names are). */
const MAX_GROUPS = 200;
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
/** A device poll's body is one small JSON object. */
const MAX_BODY = 16_384;

interface SessionClaims {
  v: 1;
  email: string;
  name: string;
  groups: string[];
  iat: number;
  exp: number;
}

/**
 * Where sign-outs are kept. The gateway gives the control plane's (memory, and PostgreSQL when
 * configured, so every replica refuses a signed-out session); alone, this module keeps them in memory.
 */
export interface SessionRevocations {
  /** Record that session `id` (of `actor`, sso:<email>) is signed out until `expiresAt`. */
  revoke(actor: string, id: string, expiresAt: number): Promise<void>;
  revoked(id: string): boolean;
}

/** A session's id in the revocation list: a hash of the token, so the token itself is kept nowhere. */
export const sessionId = (token: string): string => createHash("sha256").update(token).digest("base64url").slice(0, 32);

export interface ConsoleSso {
  /** Serve /console/sso/login, /callback, /logout, /device and /device/token; false for any other path. */
  handle(path: string, req: Req, res: Res): boolean;
  /** The caller a session token stands for; unauthenticated when it is forged, expired or its user is no longer named in console.sso. */
  verify(token: string): Caller;
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/** The routes this module serves, with their method. */
const ROUTES: Record<string, "GET" | "POST"> = {
  "/console/sso/login": "GET",
  "/console/sso/callback": "GET",
  "/console/sso/logout": "POST",
  "/console/sso/device": "POST",
  "/console/sso/device/token": "POST",
};

async function readBody(req: Req): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new GatewayError("invalid_argument", `the body is larger than ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The role a user has under the configuration in force: admin, a team's, or none. */
export function ssoRole(cfg: SsoConfig, email: string, groups: readonly string[]): { role: "admin" | "team"; team: string } | undefined {
  const e = email.toLowerCase();
  const inGroups = (want: string[]) => want.some((g) => groups.includes(g));
  const team = cfg.teams.find((t) => t.emails.includes(e) || inGroups(t.groups));
  if (cfg.admins.emails.includes(e) || inGroups(cfg.admins.groups)) return { role: "admin", team: team?.team ?? "platform" };
  return team ? { role: "team", team: team.team } : undefined;
}

function memoryRevocations(now: () => number): SessionRevocations {
  const ids = new Map<string, number>();
  return {
    async revoke(_actor, id, expiresAt) {
      ids.set(id, expiresAt);
    },
    revoked: (id) => (ids.get(id) ?? 0) > now(),
  };
}

/** The HTTP status of a refusal these routes answer in JSON. */
const STATUS: Partial<Record<GatewayCode, number>> = { invalid_argument: 400, failed_precondition: 400, deadline_exceeded: 400, unauthenticated: 401, permission_denied: 403, unavailable: 503 };

export function createConsoleSso(config: () => SsoConfig | undefined, masterKey: string | undefined, now: () => number = Date.now, revocations: SessionRevocations = memoryRevocations(now)): ConsoleSso {
  const key = masterKey ? Buffer.from(hkdfSync("sha256", masterKey, "signalbox", "console-sessions", 32)) : randomBytes(32);
  let warned = !!masterKey;
  const sign = (payload: string) => createHmac("sha256", key).update(payload).digest();
  const seal = (prefix: string, value: unknown) => {
    const payload = prefix + b64(JSON.stringify(value));
    return `${payload}.${b64(sign(payload))}`;
  };
  const open = <T>(token: string, prefix: string): T | undefined => {
    const dot = token.lastIndexOf(".");
    if (!token.startsWith(prefix) || dot < 0) return undefined;
    const payload = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1), "base64url");
    const want = sign(payload);
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) return undefined;
    try {
      return JSON.parse(Buffer.from(payload.slice(prefix.length), "base64url").toString("utf8")) as T;
    } catch {
      return undefined;
    }
  };

  // The provider's configuration, discovered once per issuer and client (a reload may change them).
  let discovered: { id: string; config: Promise<import("openid-client").Configuration> } | undefined;
  const client = async (cfg: SsoConfig) => {
    const id = `${cfg.issuer}\u0000${cfg.clientId}\u0000${cfg.clientSecret ?? ""}`;
    if (!discovered || discovered.id !== id) {
      const oc = await import("openid-client");
      const issuer = new URL(cfg.issuer);
      // Plain http only to a provider on this machine (a development IdP); anything else is https.
      const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(issuer.hostname);
      const config = oc.discovery(issuer, cfg.clientId, undefined, cfg.clientSecret ? oc.ClientSecretBasic(cfg.clientSecret) : oc.None(), loopback ? { execute: [oc.allowInsecureRequests] } : undefined);
      discovered = { id, config };
      config.catch(() => {
        if (discovered?.config === config) discovered = undefined;
      });
    }
    return discovered.config;
  };

  const redirect = (res: Res, location: string, cookie?: string) => {
    const headers: Record<string, string | string[]> = { location, "cache-control": "no-store" };
    if (cookie) headers["set-cookie"] = cookie;
    (res as ServerResponse).writeHead(302, headers);
    res.end();
  };
  const cookieAttrs = (cfg: SsoConfig, maxAgeS: number) => `Path=/console/sso; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}${new URL(cfg.redirectUrl).protocol === "https:" ? "; Secure" : ""}`;
  /** Where a finished sign-in goes: the console, or the command line's loopback listener (`signalbox login`). */
  const landing = (cliPort: number | undefined, result: string) => (cliPort ? `http://127.0.0.1:${cliPort}/signalbox/login?${result}` : `/console/#${result}`);
  const fail = (res: Res, cfg: SsoConfig, message: string, cliPort?: number) => redirect(res, landing(cliPort, `sso_error=${encodeURIComponent(message)}`), `${FLOW_COOKIE}=; ${cookieAttrs(cfg, 0)}`);

  async function login(cfg: SsoConfig, req: Req, res: Res): Promise<void> {
    // `signalbox login` listens on a loopback port for the session; only a port, so the session
    // can go nowhere but this machine's 127.0.0.1.
    const reqUrl = req.url ?? "";
    const q = reqUrl.indexOf("?");
    const portText = new URLSearchParams(q < 0 ? "" : reqUrl.slice(q + 1)).get("cli_port");
    let cliPort: number | undefined;
    if (portText !== null) {
      cliPort = Number(portText);
      if (!Number.isInteger(cliPort) || cliPort < 1024 || cliPort > 65_535) {
        (res as ServerResponse).writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ code: "invalid_argument", message: "cli_port: must be a port from 1024 to 65535" }));
        return;
      }
    }
    if (!warned) {
      warned = true;
      log("warn", "console.sso without SIGNALBOX_MASTER_KEY: console sessions are signed with a key of this process, valid on this replica only and until it restarts");
    }
    const oc = await import("openid-client");
    const config = await client(cfg);
    const flow = { state: oc.randomState(), nonce: oc.randomNonce(), verifier: oc.randomPKCECodeVerifier(), exp: now() + FLOW_TTL_MS, ...(cliPort ? { cliPort } : {}) };
    const url = oc.buildAuthorizationUrl(config, {
      redirect_uri: cfg.redirectUrl,
      scope: cfg.scopes.join(" "),
      state: flow.state,
      nonce: flow.nonce,
      code_challenge: await oc.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: "S256",
    });
    redirect(res, url.href, `${FLOW_COOKIE}=${seal("f_", flow)}; ${cookieAttrs(cfg, FLOW_TTL_MS / 1000)}`);
  }

  async function callback(cfg: SsoConfig, req: Req, res: Res): Promise<void> {
    const cookie = /(?:^|;\s*)sbx_sso_flow=([^;]+)/.exec(String(req.headers.cookie ?? ""))?.[1];
    const flow = cookie ? open<{ state: string; nonce: string; verifier: string; exp: number; cliPort?: number }>(cookie, "f_") : undefined;
    if (!flow || flow.exp <= now()) return fail(res, cfg, "the sign-in took too long or was started elsewhere: sign in again");
    const cli = flow.cliPort;
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
    const error = query.get("error");
    if (error) return fail(res, cfg, `the identity provider refused the sign-in: ${query.get("error_description") || error}`, cli);
    const oc = await import("openid-client");
    const config = await client(cfg);
    const current = new URL(cfg.redirectUrl);
    current.search = q < 0 ? "" : url.slice(q);
    let claims: Record<string, unknown>;
    try {
      // Providers that keep the ID token small give the e-mail and groups through userinfo.
      claims = await claimsOf(cfg, await oc.authorizationCodeGrant(config, current, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true }));
    } catch (err) {
      log("warn", "console sign-in: the code exchange failed", { reason: (err as Error).message });
      return fail(res, cfg, `the sign-in could not be completed: ${(err as Error).message}`, cli);
    }
    const r = sessionFor(cfg, claims);
    if ("error" in r) return fail(res, cfg, r.error, cli);
    redirect(res, landing(cli, `sso=${r.session}`), `${FLOW_COOKIE}=; ${cookieAttrs(cfg, 0)}`);
  }

  /** The claims of the ID token, completed from userinfo when the provider keeps the ID token small. */
  async function claimsOf(cfg: SsoConfig, tokens: import("openid-client").TokenEndpointResponse & import("openid-client").TokenEndpointResponseHelpers): Promise<Record<string, unknown>> {
    const oc = await import("openid-client");
    let claims: Record<string, unknown> = { ...(tokens.claims() ?? {}) };
    if ((typeof claims.email !== "string" || claims[cfg.groupsClaim] === undefined) && tokens.access_token) {
      const info = await oc.fetchUserInfo(await client(cfg), tokens.access_token, claims.sub === undefined ? oc.skipSubjectCheck : String(claims.sub));
      claims = { ...info, ...claims, ...(claims.email === undefined ? { email: info.email } : {}), ...(claims[cfg.groupsClaim] === undefined ? { [cfg.groupsClaim]: info[cfg.groupsClaim] } : {}) };
    }
    return claims;
  }

  /** A session for the person the provider named, under console.sso's role mapping; or why there is none. */
  function sessionFor(cfg: SsoConfig, claims: Record<string, unknown>): { session: string } | { error: string } {
    const email = typeof claims.email === "string" ? claims.email.toLowerCase() : "";
    if (!email) return { error: "the identity provider gave no e-mail address (ask for the email scope)" };
    if (claims.email_verified === false) return { error: `${email} is not verified at the identity provider` };
    const raw = claims[cfg.groupsClaim];
    // Only the groups console.sso names are kept (a provider may list hundreds; the session is a header).
    const named = new Set([...cfg.admins.groups, ...cfg.teams.flatMap((t) => t.groups)]);
    const groups = (Array.isArray(raw) ? raw : typeof raw === "string" ? [raw] : []).filter((g): g is string => typeof g === "string" && named.has(g)).slice(0, MAX_GROUPS);
    const role = ssoRole(cfg, email, groups);
    if (!role) {
      log("info", "console sign-in refused: not named in console.sso", { user: email });
      return { error: `${email} may not use this console: not named in console.sso's admins or teams` };
    }
    const t = now();
    const session: SessionClaims = { v: 1, email, name: typeof claims.name === "string" ? claims.name : email, groups, iat: t, exp: t + cfg.sessionHours * 3_600_000 };
    log("info", "console sign-in", { user: email, role: role.role, team: role.team });
    return { session: seal(SESSION_PREFIX, session) };
  }

  const answer = (res: Res, status: number, body: unknown) => {
    (res as ServerResponse).writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  };
  const refuse = (code: GatewayCode, message: string) => new GatewayError(code, message);

  async function logout(cfg: SsoConfig, req: Req, res: Res): Promise<void> {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(String(req.headers.authorization ?? ""))?.[1];
    const s = token ? open<SessionClaims>(token, SESSION_PREFIX) : undefined;
    if (!token || !s || s.v !== 1) throw refuse("unauthenticated", "not a valid console session: send the session to sign out as Authorization: Bearer <session>");
    const id = sessionId(token);
    // An expired or already signed-out session needs no revocation: signing out again is harmless.
    if (s.exp > now() && !revocations.revoked(id)) {
      await revocations.revoke(`sso:${s.email}`, id, s.exp);
      log("info", "console sign-out", { user: s.email });
    }
    // RP-initiated logout: the browser goes to the provider to end its session there too.
    let endSession: string | undefined;
    try {
      const oc = await import("openid-client");
      const provider = await client(cfg);
      if (provider.serverMetadata().end_session_endpoint) {
        endSession = oc.buildEndSessionUrl(provider, { client_id: cfg.clientId, post_logout_redirect_uri: new URL("/console/", cfg.redirectUrl).href }).href;
      }
    } catch (err) {
      log("warn", "console sign-out: the identity provider's discovery failed; its session stays", { reason: (err as Error).message });
    }
    answer(res, 200, { signed_out: true, ...(endSession ? { end_session_url: endSession } : {}) });
  }

  async function deviceStart(cfg: SsoConfig, res: Res): Promise<void> {
    const oc = await import("openid-client");
    const provider = await client(cfg);
    if (!provider.serverMetadata().device_authorization_endpoint) {
      throw refuse("failed_precondition", `the identity provider ${cfg.issuer} offers no device sign-in (no device_authorization_endpoint): run signalbox login on a machine with a browser`);
    }
    const d = await oc.initiateDeviceAuthorization(provider, { scope: cfg.scopes.join(" ") });
    const exp = now() + d.expires_in * 1000;
    answer(res, 200, {
      user_code: d.user_code,
      verification_uri: d.verification_uri,
      ...(d.verification_uri_complete ? { verification_uri_complete: d.verification_uri_complete } : {}),
      interval: d.interval ?? 5,
      expires_in: d.expires_in,
      // The device code, signed: only this gateway's polls (which hold the client's secret) redeem it.
      device: seal("d_", { dc: d.device_code, exp }),
    });
  }

  async function deviceToken(cfg: SsoConfig, req: Req, res: Res): Promise<void> {
    let body: { device?: unknown };
    try {
      body = JSON.parse(await readBody(req)) as { device?: unknown };
    } catch {
      throw refuse("invalid_argument", 'the body must be JSON: {"device": "<the handle /console/sso/device gave>"}');
    }
    const h = typeof body?.device === "string" ? open<{ dc: string; exp: number }>(body.device, "d_") : undefined;
    if (!h) throw refuse("invalid_argument", "device: not a device sign-in this gateway started: run signalbox login --device again");
    if (h.exp <= now()) throw refuse("deadline_exceeded", "the device code expired before the sign-in was approved: run signalbox login --device again");
    const oc = await import("openid-client");
    const provider = await client(cfg);
    let claims: Record<string, unknown>;
    try {
      claims = await claimsOf(cfg, await oc.genericGrantRequest(provider, DEVICE_GRANT, { device_code: h.dc }));
    } catch (err) {
      if (err instanceof oc.ResponseBodyError) {
        if (err.error === "authorization_pending") return answer(res, 200, { status: "pending" });
        if (err.error === "slow_down") return answer(res, 200, { status: "pending", slow_down: true });
        if (err.error === "access_denied") throw refuse("permission_denied", "the sign-in was refused at the identity provider");
        if (err.error === "expired_token") throw refuse("deadline_exceeded", "the device code expired before the sign-in was approved: run signalbox login --device again");
      }
      log("warn", "console device sign-in: the token request failed", { reason: (err as Error).message });
      throw refuse("unavailable", `the sign-in could not be completed: ${(err as Error).message}`);
    }
    const r = sessionFor(cfg, claims);
    if ("error" in r) throw refuse("permission_denied", r.error);
    answer(res, 200, { status: "signed_in", session: r.session });
  }

  return {
    handle(path, req, res) {
      const route = ROUTES[path];
      if (!route) return false;
      const cfg = config();
      if (!cfg) return false;
      if (req.method !== route) {
        (res as ServerResponse).writeHead(405, { allow: route, "content-type": "application/json" });
        res.end(JSON.stringify({ code: "unimplemented", message: `${req.method} is not served on ${path}` }));
        return true;
      }
      const run =
        path === "/console/sso/login" ? login(cfg, req, res)
        : path === "/console/sso/callback" ? callback(cfg, req, res)
        : path === "/console/sso/logout" ? logout(cfg, req, res)
        : path === "/console/sso/device" ? deviceStart(cfg, res)
        : deviceToken(cfg, req, res);
      run.catch((err) => {
        if (res.headersSent) return;
        // The JSON routes answer their refusals in JSON; the browser's routes go back to the sign-in page.
        if (route === "POST") {
          const known = err instanceof GatewayError && STATUS[err.code] !== undefined;
          if (!known) log("warn", "console sign-in failed", { path, reason: (err as Error).message });
          const e = known ? (err as GatewayError) : refuse("unavailable", `the identity provider could not be reached: ${(err as Error).message}`);
          return answer(res, STATUS[e.code]!, { code: e.code, message: e.message });
        }
        log("warn", "console sign-in failed", { path, reason: (err as Error).message });
        fail(res, cfg, `the identity provider could not be reached: ${(err as Error).message}`);
      });
      return true;
    },
    verify(token) {
      const cfg = config();
      const s = cfg ? open<SessionClaims>(token, SESSION_PREFIX) : undefined;
      if (!cfg || !s || s.v !== 1) throw new GatewayError("unauthenticated", "not a valid console session: sign in again");
      if (s.exp <= now()) throw new GatewayError("unauthenticated", "the console session expired: sign in again");
      if (revocations.revoked(sessionId(token))) throw new GatewayError("unauthenticated", "the console session was signed out: sign in again");
      const role = ssoRole(cfg, s.email, s.groups);
      if (!role) throw new GatewayError("unauthenticated", `${s.email} may no longer use this console`);
      return { keyName: `sso:${s.email}`, team: role.team, role: role.role, allow: [] };
    },
  };
}
