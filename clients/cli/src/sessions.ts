// Console sessions the command line keeps after `signalbox login` (single sign-on through the
// gateway's console.sso): one per gateway URL, in $XDG_CONFIG_HOME/signalbox/sessions.json (else
// ~/.config/signalbox/sessions.json), readable by its owner only. A caller key given with --api-key
// or SIGNALBOX_API_KEY always wins over a stored session; an expired one is not used.

import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export interface StoredSession {
  token: string;
  /** Who the gateway says the session is (sso:<email>), its role and team, when it was stored. */
  who: string;
  role: string;
  team: string;
  /** Epoch ms; the session is not used after it. */
  expiresAt: number;
}

export function sessionsFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "signalbox", "sessions.json");
}

function readAll(file: string): Record<string, StoredSession> {
  if (!existsSync(file)) return {};
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, StoredSession>) : {};
  } catch {
    return {};
  }
}

/** The stored session of a gateway, when one is there and has not expired. */
export function storedSession(url: string, now = Date.now(), file = sessionsFile()): StoredSession | undefined {
  const s = readAll(file)[url];
  return s && typeof s.token === "string" && s.expiresAt > now ? s : undefined;
}

/** Keep (or, with undefined, forget) a gateway's session; the file is written whole, then renamed, mode 0600. */
export function storeSession(url: string, s: StoredSession | undefined, file = sessionsFile()): boolean {
  const all = readAll(file);
  const had = url in all;
  if (s) all[url] = s;
  else delete all[url];
  if (!s && !had) return false;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return had || !!s;
}

/** A session token's expiry (its signed payload says; the gateway checks the signature). */
export function sessionExpiry(token: string): number | undefined {
  const dot = token.lastIndexOf(".");
  if (!token.startsWith("sbs_") || dot < 0) return undefined;
  try {
    const p = JSON.parse(Buffer.from(token.slice(4, dot), "base64url").toString("utf8")) as { exp?: unknown };
    return typeof p.exp === "number" ? p.exp : undefined;
  } catch {
    return undefined;
  }
}
