// Caller authentication: `Authorization: Bearer <key>` checked against the sha256 hashes in
// config. With no keys configured, every caller is anonymous (and start-up says so loudly).

import { createHash } from "node:crypto";
import { createContextKey } from "@connectrpc/connect";
import type { KeyConfig } from "../config/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";

export const ANONYMOUS: Caller = Object.freeze({ keyName: "anonymous", team: "default", role: "anonymous", allow: [] }) as Caller;

/** The authenticated caller of the current RPC. */
export const callerKey = createContextKey<Caller>(ANONYMOUS, { description: "signalbox caller" });

export function hashKey(key: string): string {
  return `sha256:${createHash("sha256").update(key, "utf8").digest("hex")}`;
}

export interface Authenticator {
  readonly enabled: boolean;
  /** Resolve the caller from the Authorization header value; throws unauthenticated. */
  authenticate(authorization: string | null): Caller;
}

export function createAuthenticator(keys: KeyConfig[]): Authenticator {
  const byHash = new Map<string, Caller>();
  for (const k of keys) {
    byHash.set(k.hash, { keyName: k.name, team: k.team, role: k.role, allow: k.allow, maxOutputTokens: k.maxOutputTokens, key: k });
  }
  const enabled = keys.length > 0;
  return {
    enabled,
    authenticate(authorization) {
      if (!enabled) return ANONYMOUS;
      if (!authorization) throw new GatewayError("unauthenticated", "missing Authorization: Bearer <key> header");
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!m) throw new GatewayError("unauthenticated", "Authorization header must be \"Bearer <key>\"");
      const h = hashKey(m[1]);
      const caller = byHash.get(h);
      // Looking up the sha256 of the presented key leaks nothing useful through timing.
      if (!caller) throw new GatewayError("unauthenticated", "unknown API key");
      return caller;
    },
  };
}
