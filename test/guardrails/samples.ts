// Key-shaped test strings, assembled at run time from a seeded generator so that no real-looking
// credential is ever written in the repository (a secret scanner runs on commits).

/** A small deterministic generator (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
export const LOWER = "abcdefghijklmnopqrstuvwxyz";
export const DIGITS = "0123456789";
export const ALNUM = UPPER + LOWER + DIGITS;
export const HEX = "0123456789abcdef";
export const B64URL = ALNUM + "-_";
export const B64 = ALNUM + "+/";

/** Builds key-shaped strings; every piece is joined at run time. */
export function makeSamples(seed: number) {
  const rand = seeded(seed);
  const pick = (alphabet: string, n: number): string => {
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
    return s;
  };
  /** Random text of `n` characters with at least one digit, upper- and lower-case letter. */
  const mixed = (n: number, alphabet = ALNUM): string => {
    for (;;) {
      const s = pick(alphabet, n);
      if (/\d/.test(s) && /[A-Z]/.test(s) && /[a-z]/.test(s)) return s;
    }
  };
  const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  const dash = (...parts: string[]): string => parts.join("-");
  const under = (...parts: string[]): string => parts.join("_");
  const pemLabel = (kind: string): string[] => [
    ["-----BEGIN", `${kind}PRIVATE`, "KEY-----"].join(" "),
    ["-----END", `${kind}PRIVATE`, "KEY-----"].join(" "),
  ];
  return {
    pick,
    mixed,
    openai: () => dash("sk", mixed(48)),
    openaiProject: () => dash("sk", "proj", mixed(74, B64URL) + mixed(20) + mixed(62, B64URL)),
    anthropic: () => dash("sk", "ant", "api03", mixed(93, B64URL)) + "AA",
    google: () => ["AI", "za"].join("") + mixed(35, B64URL),
    openrouter: () => dash("sk", "or", "v1", pick(HEX, 64)),
    signalbox: () => under("sbk", mixed(43, B64URL)),
    stripe: () => under("sk", "live", mixed(24)),
    huggingface: () => under("hf", mixed(34)),
    awsAccessKey: () => ["AK", "IA"].join("") + pick(UPPER + "234567", 16),
    awsSessionKey: () => ["AS", "IA"].join("") + pick(UPPER + "234567", 16),
    awsSecret: () => mixed(40, ALNUM + "+/"),
    gcpKeyId: () => pick(HEX, 40),
    github: (kind = "p") => under(`gh${kind}`, mixed(36)),
    githubPat: () => under("github", "pat", mixed(22)) + "_" + mixed(59),
    slack: (kind = "b") => dash(`xox${kind}`, pick(DIGITS, 12), pick(DIGITS, 13), mixed(24)),
    jwt: (header: Record<string, unknown> = { alg: "HS256", typ: "JWT" }, payload: Record<string, unknown> = { sub: "1234567890", name: "Ada", iat: 1516239022 }) =>
      [b64url(header), b64url(payload), mixed(43, B64URL)].join("."),
    pem: (kind = "RSA ", lines = 12, newline = "\n") => {
      const [begin, end] = pemLabel(kind);
      const body = Array.from({ length: lines }, () => pick(B64, 64));
      return [begin, ...body, pick(B64, 40) + "==", end].join(newline);
    },
    pemTruncated: (kind = "", lines = 4) => {
      const [begin] = pemLabel(kind);
      return [begin, ...Array.from({ length: lines }, () => pick(B64, 64))].join("\n");
    },
    pemHeader: (kind = "") => pemLabel(kind),
    generic: (n = 32) => mixed(n),
    /** A card number with the given prefix and length that passes (or, with `valid` false, fails) Luhn. */
    card: (prefix: string, length: number, valid = true): string => {
      const body = prefix + pick(DIGITS, length - prefix.length - 1);
      const check = luhnCheckDigit(body);
      return body + String(valid ? check : (check + 1 + Math.floor(rand() * 8)) % 10);
    },
  };
}

export function luhnCheckDigit(body: string): number {
  let sum = 0;
  let double = true;
  for (let i = body.length - 1; i >= 0; i--) {
    let d = body.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return (10 - (sum % 10)) % 10;
}

/** Groups a digit string by four ("4111 1111 1111 1111"). */
export const groupBy4 = (digits: string, sep = " "): string => digits.replace(/(.{4})(?=.)/g, `$1${sep}`);
