// The `secrets` detector: provider API keys, cloud access keys, GitHub and Slack tokens, JWTs, PEM
// private keys and high-entropy values assigned to secret-sounding names. One pass cuts the text
// into tokens ([A-Za-z0-9_-] runs) and judges each by its prefix and shape; PEM blocks are found
// from their BEGIN line. Every candidate is bounded, so a scan is linear in the text.

import type { Finding, StreamingTextDetector } from "../types.ts";
import { asciiClass, codeAt, inClass, isDigit, isLower, isUpper, resolveFindings, shannonEntropy } from "./text-scan.ts";

/** What the `secrets` kind can look for; a guardrail picks any subset. */
export type SecretCategory =
  | "openai_key"
  | "anthropic_key"
  | "google_api_key"
  | "openrouter_key"
  | "signalbox_key"
  | "stripe_key"
  | "huggingface_token"
  | "aws_access_key"
  | "aws_secret_key"
  | "gcp_private_key_id"
  | "github_token"
  | "slack_token"
  | "jwt"
  | "pem_private_key"
  | "generic_secret";

export const SECRET_CATEGORIES: readonly SecretCategory[] = [
  "openai_key",
  "anthropic_key",
  "google_api_key",
  "openrouter_key",
  "signalbox_key",
  "stripe_key",
  "huggingface_token",
  "aws_access_key",
  "aws_secret_key",
  "gcp_private_key_id",
  "github_token",
  "slack_token",
  "jwt",
  "pem_private_key",
  "generic_secret",
];

export interface SecretsDetectorOptions {
  /** Categories to report; all of them when absent. */
  categories?: readonly SecretCategory[];
}

/** Longest prefixed token (an OpenAI project key is about 164 characters). */
const TOKEN_MAX = 256;
const JWT_MAX = 8192;
/** Longest PEM block, BEGIN line to END line (an 8192-bit RSA key is about 6.5 KB). */
const PEM_MAX = 16384;
const NAME_MAX = 64;
const VALUE_MIN = 16;
const VALUE_MAX = 256;
/** Bits per character a value must exceed to count as a secret (random base64 has about 5). */
export const GENERIC_MIN_ENTROPY = 3.0;

const TOKEN = asciiClass("A-Za-z0-9_-");
const JWT_RUN = asciiClass("A-Za-z0-9_.-");
const BASE64 = asciiClass("A-Za-z0-9+/=");
const PEM_LABEL = asciiClass("A-Z0-9 ");
/** Characters an assigned value may hold: printable ASCII except quotes, backslash and space. */
const VALUE = asciiClass("!#-&(-[]-_a-~");
/** A value and what may still close it: `\"` is two characters, so a trailing backslash waits. */
const VALUE_OR_ESCAPE = asciiClass("!#-&(-~");
/** Characters that end an unquoted value. */
const UNQUOTED_STOP = asciiClass(",;<>(){}[]&");

/** Prefixes a token is judged by; a trailing token that could still grow into one is held. */
const TOKEN_PREFIXES = [
  "sk-", "sk_", "rk_", "AIza", "sbk_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "hf_",
  "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "ABIA", "ACCA",
];

const SECRET_NAME = /api[_-]?key|secret|token|password|passwd|pwd|access[_-]?key|private[_-]?key/;
/** Names that hold something about a secret, not the secret: "token_url", "max_tokens", "api_key_id". */
const NOT_A_SECRET_NAME =
  /(?:^|[_.-])(?:url|uri|path|file|dir|endpoint|type|length|len|count|size|limit|ttl|expiry|expires|expiration|name|field|header|param|env|var|prefix|format|mode|policy|id|ids|index|usage|budget|hint|label)$|tokens$|tokenizer/;
const PLACEHOLDER = /your|example|sample|xxxx|placeholder|changeme|change_me|dummy|redacted|insert|replace|here|\.\.\./i;
const CONSTANT_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;
const DOTTED_PATH = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/;

/** Creates a `secrets` detector for the chosen categories. */
export function createSecretsDetector(options: SecretsDetectorOptions = {}): StreamingTextDetector {
  const wanted = new Set<SecretCategory>(options.categories ?? SECRET_CATEGORIES);
  for (const c of wanted) if (!SECRET_CATEGORIES.includes(c)) throw new Error(`unknown secrets category "${c}"`);
  const assignments = wanted.has("generic_secret") || wanted.has("aws_secret_key") || wanted.has("gcp_private_key_id");
  const pem = wanted.has("pem_private_key");
  const jwt = wanted.has("jwt");
  const maxMatchLength = pem ? PEM_MAX + 1 : jwt ? JWT_MAX + 2 : VALUE_MAX + NAME_MAX + 32;
  return {
    kind: "secrets",
    maxMatchLength,
    scan(text: string): Finding[] {
      const specific: Finding[] = [];
      const generic: Finding[] = [];
      const n = text.length;
      let i = 0;
      while (i < n) {
        if (!inClass(TOKEN, text.charCodeAt(i))) {
          i++;
          continue;
        }
        const s = i;
        while (i < n && inClass(TOKEN, text.charCodeAt(i))) i++;
        if (jwt && text.charCodeAt(i) === 46 && text.startsWith("eyJ", s) && codeAt(text, s - 1) !== 46) {
          const end = readJwt(text, s, i);
          if (end !== -1) {
            specific.push({ category: "jwt", start: s, end });
            i = end;
            continue;
          }
        }
        if (i - s <= TOKEN_MAX) {
          const category = classifyToken(text.slice(s, i));
          if (category !== undefined && wanted.has(category)) specific.push({ category, start: s, end: i });
        }
        if (assignments && i - s <= NAME_MAX) {
          const f = readAssignment(text, s, i);
          if (f !== undefined && wanted.has(f.category as SecretCategory)) generic.push(f);
        }
      }
      if (pem) findPems(text, specific);
      // Specific categories first: where a generic value is also a known key, the key names it.
      return resolveFindings([...specific, ...generic]);
    },
    pendingLength(text: string): number {
      const n = text.length;
      let pending = 0;
      // A trailing token that starts like (or could still become) a prefixed key.
      const tokenRun = trailing(text, (c) => inClass(TOKEN, c), TOKEN_MAX + 1);
      if (tokenRun <= TOKEN_MAX && tokenRun > 0) {
        const run = text.slice(n - tokenRun);
        if (TOKEN_PREFIXES.some((p) => run.startsWith(p) || p.startsWith(run))) pending = tokenRun;
      }
      if (jwt) {
        const jwtRun = trailing(text, (c) => inClass(JWT_RUN, c), JWT_MAX + 2);
        if (jwtRun > 0 && jwtRun <= JWT_MAX + 1) {
          const head = text.slice(n - jwtRun, n - jwtRun + 3);
          if ("eyJ".startsWith(head) || head === "eyJ") pending = Math.max(pending, jwtRun);
        }
      }
      // A value still being written after a name (the name itself is context, not held).
      if (assignments) pending = Math.max(pending, trailing(text, (c) => inClass(VALUE_OR_ESCAPE, c), VALUE_MAX + 2));
      if (pem) pending = Math.max(pending, pemPending(text));
      return Math.min(pending, maxMatchLength - 1);
    },
  };
}

function trailing(text: string, test: (c: number) => boolean, cap: number): number {
  let k = 0;
  for (let i = text.length - 1; i >= 0 && k < cap && test(text.charCodeAt(i)); i--) k++;
  return k;
}

function mixedCase(s: string): boolean {
  let digit = false;
  let upper = false;
  let lower = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) digit = true;
    else if (isUpper(c)) upper = true;
    else if (isLower(c)) lower = true;
  }
  return digit && upper && lower;
}

/** The category of a whole token judged by its prefix and shape, or undefined. */
export function classifyToken(t: string): SecretCategory | undefined {
  const c0 = t.charCodeAt(0);
  if (c0 === 115 /* s */) {
    if (t.startsWith("sk-ant-")) return t.length >= 7 + 32 && mixedCase(t.slice(7)) ? "anthropic_key" : undefined;
    if (t.startsWith("sk-or-v1-")) return /^[0-9a-f]{32,}$/.test(t.slice(9)) ? "openrouter_key" : undefined;
    if (t.startsWith("sk-")) {
      const body = t.slice(3).replace(/^(?:proj|svcacct|admin|None)-/, "");
      return body.length >= 20 && mixedCase(body) ? "openai_key" : undefined;
    }
    if (/^sk_(?:live|test)_[A-Za-z0-9]{20,}$/.test(t)) return mixedCase(t.slice(8)) ? "stripe_key" : undefined;
    if (t.startsWith("sbk_")) return /^[A-Za-z0-9_-]{40,64}$/.test(t.slice(4)) && mixedCase(t.slice(4)) ? "signalbox_key" : undefined;
    return undefined;
  }
  if (c0 === 114 /* r */) return /^rk_(?:live|test)_[A-Za-z0-9]{20,}$/.test(t) && mixedCase(t.slice(8)) ? "stripe_key" : undefined;
  if (c0 === 65 /* A */) {
    if (t.length === 39 && t.startsWith("AIza")) return mixedCase(t.slice(4)) ? "google_api_key" : undefined;
    if (t.length === 20 && /^(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}$/.test(t)) return "aws_access_key";
    return undefined;
  }
  if (c0 === 103 /* g */) {
    if (/^gh[pousr]_[A-Za-z0-9]{36,251}$/.test(t)) return mixedCase(t.slice(4)) ? "github_token" : undefined;
    if (/^github_pat_[A-Za-z0-9_]{50,240}$/.test(t)) return mixedCase(t.slice(11)) ? "github_token" : undefined;
    return undefined;
  }
  if (c0 === 120 /* x */) return /^xox[abposr]-[0-9A-Za-z-]{10,}$/.test(t) && /\d{6}/.test(t) ? "slack_token" : undefined;
  if (c0 === 104 /* h */) return /^hf_[A-Za-z0-9]{34,}$/.test(t) && mixedCase(t.slice(3)) ? "huggingface_token" : undefined;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// JWT: header.payload.signature, base64url; the header must decode to a JSON object with "alg".

function readJwt(text: string, s: number, headerEnd: number): number {
  const runEnd = (from: number): number => {
    let p = from;
    while (p < text.length && p - s <= JWT_MAX && inClass(TOKEN, text.charCodeAt(p))) p++;
    return p;
  };
  const payloadEnd = runEnd(headerEnd + 1);
  if (text.charCodeAt(payloadEnd) !== 46 || !text.startsWith("eyJ", headerEnd + 1)) return -1;
  const end = runEnd(payloadEnd + 1);
  if (end - s > JWT_MAX) return -1;
  if (text.charCodeAt(end) === 46 && inClass(TOKEN, codeAt(text, end + 1))) return -1; // five parts: JWE, or not a JWT
  if (headerEnd - s > 2048) return -1;
  let alg: unknown;
  try {
    alg = (JSON.parse(Buffer.from(text.slice(s, headerEnd), "base64url").toString("utf8")) as { alg?: unknown }).alg;
  } catch {
    return -1;
  }
  if (typeof alg !== "string") return -1;
  const signature = end - payloadEnd - 1;
  return signature >= 16 || (alg === "none" && signature >= 0) ? end : -1;
}

// ---------------------------------------------------------------------------------------------
// Assignments: `name = value`, `name: value`, `"name": "value"`, `\"name\": \"value\"` inside a
// JSON string, `--name value`, `Authorization: Bearer value`. The finding is the value only.

function readAssignment(text: string, ns: number, ne: number): Finding | undefined {
  const name = text.slice(ns, ne).toLowerCase();
  const gcp = name.endsWith("private_key_id");
  const auth = name === "authorization";
  if (!gcp && !auth && (!SECRET_NAME.test(name) || NOT_A_SECRET_NAME.test(name))) return undefined;
  let p = ne;
  if (text.charCodeAt(p) === 92 && text.charCodeAt(p + 1) === 34) p += 2;
  else if (text.charCodeAt(p) === 34 || text.charCodeAt(p) === 39) p++;
  if (text.charCodeAt(p) === 93) p++; // config['SECRET_KEY'] = …
  const spaces = (): number => {
    const from = p;
    while ((text.charCodeAt(p) === 32 || text.charCodeAt(p) === 9) && p - from < 8) p++;
    return p - from;
  };
  const before = spaces();
  const c = text.charCodeAt(p);
  if (c === 58 /* : */) {
    p++;
    if (text.charCodeAt(p) === 61) p++;
  } else if (c === 61 /* = */) {
    p++;
    if (text.charCodeAt(p) === 62 || text.charCodeAt(p) === 61) p++;
  } else if (!(name.startsWith("--") && before > 0)) return undefined;
  spaces();
  let quote = -1;
  let escaped = false;
  const q = text.charCodeAt(p);
  if (q === 92 && text.charCodeAt(p + 1) === 34) {
    quote = 34;
    escaped = true;
    p += 2;
  } else if (q === 34 || q === 39 || q === 96) {
    quote = q;
    p++;
  }
  const scheme = /^(?:bearer|basic|token) +/i.exec(text.slice(p, p + 16));
  if (scheme !== null) p += scheme[0].length;
  else if (auth) return undefined;
  const vs = p;
  while (p < text.length && p - vs <= VALUE_MAX) {
    const v = text.charCodeAt(p);
    if (!inClass(VALUE, v) || (quote === -1 && inClass(UNQUOTED_STOP, v))) break;
    p++;
  }
  let ve = p;
  if (ve - vs > VALUE_MAX) return undefined;
  if (quote !== -1) {
    const closes = escaped ? text.charCodeAt(ve) === 92 && text.charCodeAt(ve + 1) === 34 : text.charCodeAt(ve) === quote;
    if (!closes) return undefined;
  } else if (text.charCodeAt(ve - 1) === 46) ve--; // a sentence's full stop
  const value = text.slice(vs, ve);
  if (value.length < VALUE_MIN) return undefined;
  if (gcp) return /^[0-9a-f]{40}$/.test(value) ? { category: "gcp_private_key_id", start: vs, end: ve } : undefined;
  if (name.includes("aws") && name.includes("secret") && /^[A-Za-z0-9/+=]{40}$/.test(value))
    return { category: "aws_secret_key", start: vs, end: ve };
  if (!looksSecret(value, /pass|pwd/.test(name))) return undefined;
  return { category: "generic_secret", start: vs, end: ve };
}

/** A value with the entropy of a secret that is not a placeholder, reference or identifier. */
function looksSecret(value: string, password: boolean): boolean {
  if (shannonEntropy(value) <= GENERIC_MIN_ENTROPY) return false;
  if (/^[$%{<*#]/.test(value) || value.includes("://") || /^[.~]?\//.test(value) || /^\d+$/.test(value)) return false;
  if (PLACEHOLDER.test(value) || CONSTANT_NAME.test(value) || DOTTED_PATH.test(value)) return false;
  // Outside passwords, a value of one-case letters and dashes is a name ("prod-db-credentials").
  if (!password && (/^[a-z_-]+$/.test(value) || /^[A-Z_-]+$/.test(value))) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// PEM private keys: "-----BEGIN <label>PRIVATE KEY<label>-----", a base64 body (real or
// JSON-escaped newlines; legacy "Proc-Type:"/"DEK-Info:" lines), "-----END …-----". A BEGIN line
// followed by a key-like body but no END line (a truncated key) is reported up to its last line.

interface PemParse {
  /** End of the block: after the END line, or after the last key-like line without one; -1 if none. */
  end: number;
  /** The text ended before the block was decided: more text could change it. */
  open: boolean;
  /** Where to look for the next BEGIN. */
  resume: number;
}

function parsePem(text: string, b: number): PemParse {
  const n = text.length;
  let p = b + 11; // "-----BEGIN "
  while (p < n && p - b - 11 <= 40 && inClass(PEM_LABEL, text.charCodeAt(p))) p++;
  if (p >= n) return { end: -1, open: true, resume: n };
  const label = text.slice(b + 11, p);
  if (!text.startsWith("-----", p)) {
    const rest = text.slice(p);
    return { end: -1, open: rest.length < 5 && "-----".startsWith(rest), resume: p };
  }
  if (!label.includes("PRIVATE KEY")) return { end: -1, open: false, resume: p };
  p += 5;
  let segLen = 0;
  let prevSegLen = 0;
  let longest = 0;
  let lastKeyEnd = -1;
  const endSegment = (at: number): void => {
    if (segLen > 0) {
      if (segLen >= 16 || prevSegLen >= 60 || text.charCodeAt(at - 1) === 61) lastKeyEnd = at;
      longest = Math.max(longest, segLen);
      prevSegLen = segLen;
    }
    segLen = 0;
  };
  const noEnd = (open: boolean, at: number): PemParse => {
    endSegment(at);
    return { end: longest >= 40 ? lastKeyEnd : -1, open, resume: Math.max(at, b + 1) };
  };
  const withEnd = (end: number): PemParse => {
    endSegment(end);
    return { end: longest >= 16 ? end : -1, open: false, resume: end };
  };
  // A blank line ends the body once it holds key material (or before any "Proc-Type:" header).
  let newlines = 0;
  let headerField = false;
  const newline = (at: number): PemParse | undefined => {
    if (++newlines >= 2 && (longest >= 40 || !headerField)) return noEnd(false, at);
    return undefined;
  };
  while (p < n) {
    if (p - b > PEM_MAX) return noEnd(false, p);
    const c = text.charCodeAt(p);
    if (inClass(BASE64, c)) {
      segLen++;
      newlines = 0;
      p++;
    } else if (c === 32 || c === 9 || c === 13 || c === 58 || c === 44) {
      endSegment(p);
      if (c === 58) headerField = true;
      p++;
    } else if (c === 10) {
      endSegment(p);
      const stop = newline(p);
      if (stop !== undefined) return stop;
      p++;
    } else if (c === 92 /* \ */) {
      endSegment(p);
      p++;
      const e = codeAt(text, p);
      if (e === 110 || e === 114) p++; // a JSON-escaped "\n" or "\r"
      if (e === 110) {
        const stop = newline(p);
        if (stop !== undefined) return stop;
      }
    } else if (c === 45 /* - */) {
      endSegment(p);
      const rest = text.slice(p, p + 9);
      if (rest === "-----END ") {
        let q = p + 9;
        while (q < n && q - p - 9 <= 40 && inClass(PEM_LABEL, text.charCodeAt(q))) q++;
        if (q >= n) return { end: -1, open: true, resume: n };
        const tail = text.slice(q, q + 5);
        if (tail === "-----") return withEnd(q + 5);
        if (q + 5 > n && "-----".startsWith(tail)) return { end: -1, open: true, resume: n };
        return noEnd(false, p);
      }
      if (p + 9 > n && "-----END ".startsWith(rest)) return { end: -1, open: true, resume: n };
      if (text.startsWith("-----", p)) return noEnd(false, p);
      p++; // a dash inside "DEK-Info: AES-128-CBC"
    } else return noEnd(false, p);
  }
  return noEnd(true, p);
}

function findPems(text: string, out: Finding[]): void {
  for (let b = text.indexOf("-----BEGIN "); b !== -1; ) {
    const r = parsePem(text, b);
    if (r.end !== -1) out.push({ category: "pem_private_key", start: b, end: r.end });
    b = text.indexOf("-----BEGIN ", Math.max(r.resume, b + 1));
  }
}

function pemPending(text: string): number {
  const n = text.length;
  const marker = "-----BEGIN ";
  let pending = 0;
  for (let k = Math.min(marker.length - 1, n); k > 0; k--) {
    if (marker.startsWith(text.slice(n - k))) {
      pending = k;
      break;
    }
  }
  const b = text.lastIndexOf(marker);
  if (b !== -1 && n - b <= PEM_MAX + 1 && parsePem(text, b).open) pending = Math.max(pending, n - b);
  return pending;
}
