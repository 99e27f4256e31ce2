// Credentials of the config entries made at run time (providers' keys, the headers of providers,
// MCP servers, alerts and webhook guardrails, alerts' URLs): which fields of a spec are secret,
// sealing them with the gateway's master key before they reach a store (AES-256-GCM, node:crypto),
// opening them when read back (with the current key or a previous one, during a rotation), and
// the redacted view every response and audit event gets instead.

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { EntryKind } from "../config/load.ts";

/** What every response shows in place of a credential. */
export const REDACTED = "********";

/** The environment variable that holds the master key. */
export const MASTER_KEY_ENV = "SIGNALBOX_MASTER_KEY";

/** Keys that open credentials but never seal them: the old key during a rotation (or the next, before it is switched on). */
export const PREVIOUS_KEYS_ENV = "SIGNALBOX_MASTER_KEY_PREVIOUS";

/** A master key shorter than this is refused (it would be guessable). */
export const MIN_MASTER_KEY_LENGTH = 32;

/** What a sealed value starts with, then its key's id and ":". */
export const SEALED_PREFIX = "sealed:v2:";
const PREFIX = SEALED_PREFIX;

/**
 * The dotted paths of a spec's credentials: a provider's api_key, aws.access_key_id,
 * aws.secret_access_key, aws.session_token, vertex.credentials_json and headers.<name>; a webhook guardrail's
 * webhook.headers.<name>, a partner guardrail's azure_content_safety.api_key or lakera.api_key; an MCP
 * server's headers.<name>; an alert's url and headers.<name>.
 */
export function secretPaths(kind: EntryKind, spec: Record<string, unknown>): string[] {
  const out: string[] = [];
  const headers = (h: unknown, prefix: string) => {
    if (h && typeof h === "object" && !Array.isArray(h)) for (const [name, v] of Object.entries(h)) if (typeof v === "string") out.push(prefix + name);
  };
  if (kind === "provider") {
    if (typeof spec.api_key === "string") out.push("api_key");
    const aws = spec.aws as Record<string, unknown> | undefined;
    if (aws && typeof aws === "object") for (const f of ["access_key_id", "secret_access_key", "session_token"]) if (typeof aws[f] === "string") out.push(`aws.${f}`);
    const vertex = spec.vertex as Record<string, unknown> | undefined;
    if (vertex && typeof vertex === "object" && typeof vertex.credentials_json === "string") out.push("vertex.credentials_json");
    headers(spec.headers, "headers.");
  } else if (kind === "mcp_server") {
    headers(spec.headers, "headers.");
  } else if (kind === "alert") {
    // A webhook's URL is often its credential (Slack's, Teams').
    if (typeof spec.url === "string") out.push("url");
    headers(spec.headers, "headers.");
  } else if (kind === "guardrail") {
    const webhook = spec.webhook as Record<string, unknown> | undefined;
    if (webhook && typeof webhook === "object") headers(webhook.headers, "webhook.headers.");
    // The partner services' keys (a Bedrock guardrail signs with a provider's credentials instead).
    for (const k of ["azure_content_safety", "lakera"]) {
      const o = spec[k] as Record<string, unknown> | undefined;
      if (o && typeof o === "object" && typeof o.api_key === "string") out.push(`${k}.api_key`);
    }
  }
  return out;
}

/** A path's steps: the objects it passes through, then the field (a header's name may hold dots). */
function steps(path: string): string[] {
  for (const prefix of ["webhook.headers.", "headers.", "aws.", "vertex.", "azure_content_safety.", "lakera."]) {
    if (path.startsWith(prefix)) return [...prefix.slice(0, -1).split("."), path.slice(prefix.length)];
  }
  return [path];
}

export function getPath(spec: Record<string, unknown>, path: string): unknown {
  let at: unknown = spec;
  for (const step of steps(path)) at = at && typeof at === "object" ? (at as Record<string, unknown>)[step] : undefined;
  return at;
}

/** Sets (or, with undefined, removes) the value at a path, copying the objects on the way. */
function set(spec: Record<string, unknown>, path: string, value: unknown): void {
  const [field, ...outer] = steps(path).reverse();
  let at = spec;
  for (const step of outer.reverse()) {
    const next = { ...((at[step] as Record<string, unknown> | undefined) ?? {}) };
    at[step] = next;
    at = next;
  }
  if (value === undefined) delete at[field!];
  else at[field!] = value;
}

/** A copy of the spec with `f` applied to each credential (undefined drops it). */
export function mapSecrets(kind: EntryKind, spec: Record<string, unknown>, f: (value: string, path: string) => string | undefined): Record<string, unknown> {
  const out = structuredClone(spec);
  for (const path of secretPaths(kind, spec)) set(out, path, f(getPath(spec, path) as string, path));
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
      const given = getPath(next, path);
      if (given === undefined || given === REDACTED) set(out, path, getPath(prev, path));
    }
  }
  for (const path of secretPaths(kind, out)) {
    const v = getPath(out, path);
    if (v === "") set(out, path, undefined);
    else if (v === REDACTED) throw Object.assign(new Error(`spec.${path}: "${REDACTED}" stands for a stored value, and there is none to keep: give the credential itself`), { field: `spec.${path}` });
  }
  return out;
}

export interface Sealer {
  /** Whether a master key was given (without one, nothing can be sealed). */
  readonly keyed: boolean;
  /** The current master key's id ("mk_" and 12 hex digits, derived from the key, revealing nothing of it). */
  readonly keyId: string | undefined;
  /** `bound`: what the value belongs to ("provider/groq#api_key"); opening needs the same. Sealed with the current key. */
  seal(plain: string, bound: string): string;
  /** With the current key or a previous one; throws when none opens it (or it was sealed for another place, or is damaged). */
  open(value: string, bound: string): string;
  /** The id of the key a sealed value was sealed with ("" for a value that is not sealed, or a `v1` one no key of ours opens). */
  keyOf(value: string, bound: string): string;
}

const PREFIX_V1 = "sealed:v1:";
export const isSealed = (v: unknown): v is string => typeof v === "string" && (v.startsWith(PREFIX) || v.startsWith(PREFIX_V1));

/** The id of a master key: a separate HKDF output, so it tells keys apart without revealing either. */
export const masterKeyId = (masterKey: string) => `mk_${Buffer.from(hkdfSync("sha256", masterKey, "signalbox", "master-key-id", 6)).toString("hex")}`;

function checkLength(key: string, name: string): void {
  if (key.length < MIN_MASTER_KEY_LENGTH) throw new Error(`${name} must be at least ${MIN_MASTER_KEY_LENGTH} characters (e.g. the output of: openssl rand -base64 32)`);
}

/** The keys SIGNALBOX_MASTER_KEY_PREVIOUS holds: separated by commas, spaces or newlines (base64 has none of them). */
export const parsePreviousKeys = (v: string | undefined): string[] => (v ?? "").split(/[\s,]+/).filter(Boolean);

/**
 * AES-256-GCM under a key derived from the master key (HKDF-SHA256): `sealed:v2:`, the key's id,
 * `:` and the base64url of a 12-byte random nonce, the ciphertext and the 16-byte tag. The entry's
 * kind and name and the field are bound as associated data, so a sealed value copied to another
 * entry or field does not open. `previous` keys only open values (a rotation: the old key, or the
 * next one before it is switched on), found by the id the value names; `sealed:v1:` values (no
 * id) are tried with every key.
 */
export function createSealer(masterKey: string | undefined, previous: readonly string[] = []): Sealer {
  if (masterKey !== undefined) checkLength(masterKey, MASTER_KEY_ENV);
  if (previous.length && masterKey === undefined) throw new Error(`${PREVIOUS_KEYS_ENV} is set without ${MASTER_KEY_ENV}: set the current key too`);
  for (const k of previous) checkLength(k, `every key of ${PREVIOUS_KEYS_ENV}`);
  const derive = (k: string) => Buffer.from(hkdfSync("sha256", k, "signalbox", "config-entry-secrets", 32));
  const ring = new Map<string, Buffer>();
  for (const k of masterKey === undefined ? [] : [masterKey, ...previous]) if (!ring.has(masterKeyId(k))) ring.set(masterKeyId(k), derive(k));
  const keyId = masterKey === undefined ? undefined : masterKeyId(masterKey);
  const key = keyId === undefined ? undefined : ring.get(keyId);
  const decrypt = (k: Buffer, raw: Buffer, bound: string) => {
    const d = createDecipheriv("aes-256-gcm", k, raw.subarray(0, 12));
    d.setAAD(Buffer.from(bound, "utf8"));
    d.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString("utf8");
  };
  const known = () => [...ring.keys()].join(", ");
  /** The plain text and the id of the key that opened it. */
  function unseal(value: string, bound: string): [string, string] {
    if (!key) throw new Error(`its credentials are sealed and this replica has no ${MASTER_KEY_ENV}`);
    if (value.startsWith(PREFIX_V1)) {
      const raw = Buffer.from(value.slice(PREFIX_V1.length), "base64url");
      for (const [id, k] of ring) {
        try {
          return [decrypt(k, raw, bound), id];
        } catch {}
      }
      throw new Error(`its credentials open with none of this replica's master keys (${known()}): sealed with another key`);
    }
    const rest = value.slice(PREFIX.length);
    const colon = rest.indexOf(":");
    const id = rest.slice(0, colon);
    const k = ring.get(id);
    if (!k) throw new Error(`its credentials are sealed with master key ${id}, which this replica does not have (it has ${known()}): give it in ${MASTER_KEY_ENV} or ${PREVIOUS_KEYS_ENV}`);
    try {
      return [decrypt(k, Buffer.from(rest.slice(colon + 1), "base64url"), bound), id];
    } catch {
      throw new Error(`its credentials do not open with master key ${id} (damaged, or sealed for another entry)`);
    }
  }
  return {
    keyed: key !== undefined,
    keyId,
    seal(plain, bound) {
      if (!key) throw new Error(`no ${MASTER_KEY_ENV}: nothing can be sealed`);
      const iv = randomBytes(12);
      const c = createCipheriv("aes-256-gcm", key, iv);
      c.setAAD(Buffer.from(bound, "utf8"));
      const body = Buffer.concat([c.update(plain, "utf8"), c.final()]);
      return `${PREFIX}${keyId}:${Buffer.concat([iv, body, c.getAuthTag()]).toString("base64url")}`;
    },
    open(value, bound) {
      return isSealed(value) ? unseal(value, bound)[0] : value;
    },
    keyOf(value, bound) {
      if (!isSealed(value)) return "";
      if (value.startsWith(PREFIX)) return value.slice(PREFIX.length, value.indexOf(":", PREFIX.length));
      try {
        return unseal(value, bound)[1];
      } catch {
        return "";
      }
    },
  };
}
