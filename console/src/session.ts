// Who is using the console: the caller key (kept in this tab's sessionStorage only, never in a URL
// or localStorage), what the gateway says the key is, and the typed client that sends it.

import { createSignalboxClient, KeyRole, type SignalboxClient } from "@signalbox/client";

const STORAGE_KEY = "signalbox.console.key";

/** /console/config.json */
export interface Settings {
  traceUrl?: string;
  authEnabled: boolean;
  /** Present when console sign-in through the company's SSO (OpenID Connect) is configured. */
  sso?: { issuer: string };
}

/** The key's name, team and role as the gateway resolves it (AdminService.GetCaller). */
export interface Identity {
  key: string;
  team: string;
  role: "admin" | "team" | "service" | "anonymous";
}

export interface Session {
  identity: Identity;
  client: SignalboxClient;
  settings: Settings;
}

export const storedKey = (): string | undefined => sessionStorage.getItem(STORAGE_KEY) ?? undefined;
export const storeKey = (key: string): void => sessionStorage.setItem(STORAGE_KEY, key);
export const forgetKey = (): void => sessionStorage.removeItem(STORAGE_KEY);

/** Where the console's SSO sign-in starts: a full-page navigation to the identity provider. */
export const SSO_LOGIN_PATH = "/console/sso/login";

/** Where a console session (`sbs_…`) is signed out at the gateway. */
const SSO_LOGOUT_PATH = "/console/sso/logout";

/**
 * Sign an SSO session out at the gateway (every replica then refuses it); returns the identity
 * provider's end-session URL to send the browser to, when it has one. A caller key is not a
 * session: nothing to do. A gateway that cannot be reached leaves the session to expire.
 */
export async function ssoSignOut(key: string | undefined): Promise<string | undefined> {
  if (!key?.startsWith("sbs_")) return undefined;
  try {
    const res = await fetch(SSO_LOGOUT_PATH, { method: "POST", headers: { authorization: `Bearer ${key}` }, cache: "no-store" });
    const body = (await res.json().catch(() => ({}))) as { end_session_url?: unknown };
    return res.ok && typeof body.end_session_url === "string" ? body.end_session_url : undefined;
  } catch {
    return undefined;
  }
}

/** The identity provider's host, for the sign-in button ("login.example.com"). */
export function ssoHost(sso: { issuer: string }): string {
  try {
    return new URL(sso.issuer).host || sso.issuer;
  } catch {
    return sso.issuer;
  }
}

function decodeFragment(value: string): string {
  const plus = value.replaceAll("+", " ");
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}

/**
 * What the gateway handed back after an SSO sign-in, in the URL fragment: `#sso=<token>` (kept
 * like a caller key, in this tab's sessionStorage) or `#sso_error=<message>`. The fragment is
 * removed from the URL (and so from history) either way; says whether a token was kept, and the
 * error message, if any.
 */
export function takeSsoResult(): { signedIn?: boolean; error?: string } {
  const hash = location.hash;
  let error: string | undefined;
  let signedIn = false;
  if (hash.startsWith("#sso=")) {
    const token = decodeFragment(hash.slice("#sso=".length)).trim();
    if (token) {
      storeKey(token);
      signedIn = true;
    } else error = "The SSO sign-in returned no token.";
  } else if (hash.startsWith("#sso_error=")) {
    error = decodeFragment(hash.slice("#sso_error=".length)).trim() || "The SSO sign-in failed.";
  } else {
    return {};
  }
  history.replaceState(null, "", location.pathname + location.search);
  return { signedIn, error };
}

async function getJson<T>(path: string, key?: string): Promise<T> {
  const res = await fetch(path, { headers: key ? { authorization: `Bearer ${key}` } : {}, cache: "no-store" });
  const body = (await res.json().catch(() => ({}))) as T & { message?: string };
  if (!res.ok) throw new Error(body.message ?? `${path} answered ${res.status}`);
  return body;
}

export const loadSettings = (): Promise<Settings> => getJson<Settings>("/console/config.json");

const ROLES: Record<number, Identity["role"]> = { [KeyRole.ADMIN]: "admin", [KeyRole.TEAM]: "team", [KeyRole.SERVICE]: "service" };

/** Who the key is (AdminService.GetCaller); rejects with the gateway's words when the key is refused. */
export async function identify(key?: string): Promise<Identity> {
  const c = await clientFor(key).admin.getCaller({});
  return { key: c.key, team: c.team, role: c.authEnabled ? (ROLES[c.role] ?? "service") : "anonymous" };
}

/** The typed client for this origin, sending the key as a bearer token. */
export function clientFor(key?: string): SignalboxClient {
  return createSignalboxClient({ baseUrl: location.origin, apiKey: key, opentelemetry: false });
}

/** Admins, and everyone while auth is off, may see and manage everything. */
export const isAdmin = (id: Identity): boolean => id.role === "admin" || id.role === "anonymous";

/** The trace link for a trace id, from the configured template; undefined without one. */
export function traceLink(settings: Settings, traceId: string): string | undefined {
  if (!settings.traceUrl || !traceId) return undefined;
  return settings.traceUrl.replaceAll("{trace_id}", encodeURIComponent(traceId));
}
