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
//
// The session is a bearer token (`sbs_…`) the console keeps in the tab's sessionStorage and sends
// as it sends a key: the user's e-mail, name and the groups of theirs console.sso names, and its
// expiry, signed with a key derived from SIGNALBOX_MASTER_KEY (so every replica with the same
// master key accepts it; without one, a random key of this process). Its role is worked out again from the configuration in force at
// every request, so taking someone out of console.sso takes effect at once. The caller is
// `sso:<email>`: audit events name the person.

import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { SsoConfig } from "../config/types.ts";
import { GatewayError } from "../router/errors.ts";
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

interface SessionClaims {
  v: 1;
  email: string;
  name: string;
  groups: string[];
  iat: number;
  exp: number;
}

export interface ConsoleSso {
  /** Serve /console/sso/login and /console/sso/callback; false for any other path. */
  handle(path: string, req: Req, res: Res): boolean;
  /** The caller a session token stands for; unauthenticated when it is forged, expired or its user is no longer named in console.sso. */
  verify(token: string): Caller;
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/** The role a user has under the configuration in force: admin, a team's, or none. */
export function ssoRole(cfg: SsoConfig, email: string, groups: readonly string[]): { role: "admin" | "team"; team: string } | undefined {
  const e = email.toLowerCase();
  const inGroups = (want: string[]) => want.some((g) => groups.includes(g));
  const team = cfg.teams.find((t) => t.emails.includes(e) || inGroups(t.groups));
  if (cfg.admins.emails.includes(e) || inGroups(cfg.admins.groups)) return { role: "admin", team: team?.team ?? "platform" };
  return team ? { role: "team", team: team.team } : undefined;
}

export function createConsoleSso(config: () => SsoConfig | undefined, masterKey: string | undefined, now: () => number = Date.now): ConsoleSso {
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
      const tokens = await oc.authorizationCodeGrant(config, current, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true });
      claims = { ...(tokens.claims() ?? {}) };
      // Providers that keep the ID token small give the e-mail and groups through userinfo.
      if ((typeof claims.email !== "string" || claims[cfg.groupsClaim] === undefined) && tokens.access_token) {
        const info = await oc.fetchUserInfo(config, tokens.access_token, String(claims.sub));
        claims = { ...info, ...claims, ...(claims.email === undefined ? { email: info.email } : {}), ...(claims[cfg.groupsClaim] === undefined ? { [cfg.groupsClaim]: info[cfg.groupsClaim] } : {}) };
      }
    } catch (err) {
      log("warn", "console sign-in: the code exchange failed", { reason: (err as Error).message });
      return fail(res, cfg, `the sign-in could not be completed: ${(err as Error).message}`, cli);
    }
    const email = typeof claims.email === "string" ? claims.email.toLowerCase() : "";
    if (!email) return fail(res, cfg, "the identity provider gave no e-mail address (ask for the email scope)", cli);
    if (claims.email_verified === false) return fail(res, cfg, `${email} is not verified at the identity provider`, cli);
    const raw = claims[cfg.groupsClaim];
    // Only the groups console.sso names are kept (a provider may list hundreds; the session is a header).
    const named = new Set([...cfg.admins.groups, ...cfg.teams.flatMap((t) => t.groups)]);
    const groups = (Array.isArray(raw) ? raw : typeof raw === "string" ? [raw] : []).filter((g): g is string => typeof g === "string" && named.has(g)).slice(0, MAX_GROUPS);
    const role = ssoRole(cfg, email, groups);
    if (!role) {
      log("info", "console sign-in refused: not named in console.sso", { user: email });
      return fail(res, cfg, `${email} may not use this console: not named in console.sso's admins or teams`, cli);
    }
    const t = now();
    const session: SessionClaims = { v: 1, email, name: typeof claims.name === "string" ? claims.name : email, groups, iat: t, exp: t + cfg.sessionHours * 3_600_000 };
    log("info", "console sign-in", { user: email, role: role.role, team: role.team });
    redirect(res, landing(cli, `sso=${seal(SESSION_PREFIX, session)}`), `${FLOW_COOKIE}=; ${cookieAttrs(cfg, 0)}`);
  }

  return {
    handle(path, req, res) {
      if (path !== "/console/sso/login" && path !== "/console/sso/callback") return false;
      const cfg = config();
      if (!cfg) return false;
      if (req.method !== "GET") {
        (res as ServerResponse).writeHead(405, { allow: "GET", "content-type": "application/json" });
        res.end(JSON.stringify({ code: "unimplemented", message: `${req.method} is not served on ${path}` }));
        return true;
      }
      const run = path === "/console/sso/login" ? login(cfg, req, res) : callback(cfg, req, res);
      run.catch((err) => {
        log("warn", "console sign-in failed", { path, reason: (err as Error).message });
        if (!res.headersSent) fail(res, cfg, `the identity provider could not be reached: ${(err as Error).message}`);
      });
      return true;
    },
    verify(token) {
      const cfg = config();
      const s = cfg ? open<SessionClaims>(token, SESSION_PREFIX) : undefined;
      if (!cfg || !s || s.v !== 1) throw new GatewayError("unauthenticated", "not a valid console session: sign in again");
      if (s.exp <= now()) throw new GatewayError("unauthenticated", "the console session expired: sign in again");
      const role = ssoRole(cfg, s.email, s.groups);
      if (!role) throw new GatewayError("unauthenticated", `${s.email} may no longer use this console`);
      return { keyName: `sso:${s.email}`, team: role.team, role: role.role, allow: [] };
    },
  };
}
