// Credentials of providers made at run time: which fields of a spec are secret, sealing them with
// the gateway's master key before they reach a store (AES-256-GCM, node:crypto), opening them when
// read back, and the redacted view every response and audit event gets instead.

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { EntryKind } from "../config/load.ts";

/** What every response shows in place of a credential. */
export const REDACTED = "********";

/** The environment variable that holds the master key. */
export const MASTER_KEY_ENV = "SIGNALBOX_MASTER_KEY";

/** A master key shorter than this is refused (it would be guessable). */
export const MIN_MASTER_KEY_LENGTH = 32;

const PREFIX = "sealed:v1:";

/** The dotted paths of a spec's credentials: api_key, aws.access_key_id, aws.secret_access_key, aws.session_token, headers.<name>. */
export function secretPaths(kind: EntryKind, spec: Record<string, unknown>): string[] {
  if (kind !== "provider") return [];
  const out: string[] = [];
  if (typeof spec.api_key === "string") out.push("api_key");
  const aws = spec.aws as Record<string, unknown> | undefined;
  if (aws && typeof aws === "object") for (const f of ["access_key_id", "secret_access_key", "session_token"]) if (typeof aws[f] === "string") out.push(`aws.${f}`);
  const headers = spec.headers as Record<string, unknown> | undefined;
  if (headers && typeof headers === "object" && !Array.isArray(headers)) for (const [h, v] of Object.entries(headers)) if (typeof v === "string") out.push(`headers.${h}`);
  return out;
}

/** Read and write one dotted path ("aws.secret_access_key", "headers.x-api-key": the first dot splits). */
function get(spec: Record<string, unknown>, path: string): unknown {
  const dot = path.indexOf(".");
  if (dot < 0) return spec[path];
  const inner = spec[path.slice(0, dot)] as Record<string, unknown> | undefined;
  return inner && typeof inner === "object" ? inner[path.slice(dot + 1)] : undefined;
}

function set(spec: Record<string, unknown>, path: string, value: unknown): void {
  const dot = path.indexOf(".");
  if (dot < 0) {
    if (value === undefined) delete spec[path];
    else spec[path] = value;
    return;
  }
  const outer = path.slice(0, dot);
  const inner = { ...((spec[outer] as Record<string, unknown> | undefined) ?? {}) };
  if (value === undefined) delete inner[path.slice(dot + 1)];
  else inner[path.slice(dot + 1)] = value;
  spec[outer] = inner;
}

/** A copy of the spec with `f` applied to each credential (undefined drops it). */
export function mapSecrets(kind: EntryKind, spec: Record<string, unknown>, f: (value: string, path: string) => string | undefined): Record<string, unknown> {
  const out = structuredClone(spec);
  for (const path of secretPaths(kind, spec)) set(out, path, f(get(spec, path) as string, path));
  return out;
}

/** The spec every response and audit event shows: each credential replaced by REDACTED. */
export const redactSpec = (kind: EntryKind, spec: Record<string, unknown>) => mapSecrets(kind, spec, () => REDACTED);

/**
 * A replacement spec with the credentials it leaves out (or gives as REDACTED) kept from the one
 * it replaces; an empty string removes one.
 */
export function carrySecrets(kind: EntryKind, next: Record<string, unknown>, prev: Record<string, unknown> | undefined): Record<string, unknown> {
  const out = structuredClone(next);
  if (prev) {
    for (const path of secretPaths(kind, prev)) {
      const given = get(next, path);
      if (given === undefined || given === REDACTED) set(out, path, get(prev, path));
    }
  }
  for (const path of secretPaths(kind, out)) {
    const v = get(out, path);
    if (v === "") set(out, path, undefined);
    else if (v === REDACTED) throw Object.assign(new Error(`spec.${path}: "${REDACTED}" stands for a stored value, and there is none to keep: give the credential itself`), { field: `spec.${path}` });
  }
  return out;
}

export interface Sealer {
  /** Whether a master key was given (without one, nothing can be sealed). */
  readonly keyed: boolean;
  /** `bound`: what the value belongs to ("provider/groq#api_key"); opening needs the same. */
  seal(plain: string, bound: string): string;
  /** Throws when the value was sealed with another key or for another place (or is damaged). */
  open(value: string, bound: string): string;
}

export const isSealed = (v: unknown): v is string => typeof v === "string" && v.startsWith(PREFIX);

/**
 * AES-256-GCM under a key derived from the master key (HKDF-SHA256): `sealed:v1:` and the
 * base64url of a 12-byte random nonce, the ciphertext and the 16-byte tag. The entry's kind and
 * name and the field are bound as associated data, so a sealed value copied to another entry or
 * field does not open.
 */
export function createSealer(masterKey: string | undefined): Sealer {
  if (masterKey !== undefined && masterKey.length < MIN_MASTER_KEY_LENGTH) {
    throw new Error(`${MASTER_KEY_ENV} must be at least ${MIN_MASTER_KEY_LENGTH} characters (e.g. the output of: openssl rand -base64 32)`);
  }
  const key = masterKey === undefined ? undefined : Buffer.from(hkdfSync("sha256", masterKey, "signalbox", "config-entry-secrets", 32));
  return {
    keyed: key !== undefined,
    seal(plain, bound) {
      if (!key) throw new Error(`no ${MASTER_KEY_ENV}: nothing can be sealed`);
      const iv = randomBytes(12);
      const c = createCipheriv("aes-256-gcm", key, iv);
      c.setAAD(Buffer.from(bound, "utf8"));
      const body = Buffer.concat([c.update(plain, "utf8"), c.final()]);
      return PREFIX + Buffer.concat([iv, body, c.getAuthTag()]).toString("base64url");
    },
    open(value, bound) {
      if (!isSealed(value)) return value;
      if (!key) throw new Error(`its credentials are sealed and this replica has no ${MASTER_KEY_ENV}`);
      const raw = Buffer.from(value.slice(PREFIX.length), "base64url");
      try {
        const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
        d.setAAD(Buffer.from(bound, "utf8"));
        d.setAuthTag(raw.subarray(raw.length - 16));
        return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString("utf8");
      } catch {
        throw new Error(`its credentials do not open with this replica's ${MASTER_KEY_ENV} (sealed with another key)`);
      }
    },
  };
}
