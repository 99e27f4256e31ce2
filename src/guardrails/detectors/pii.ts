// The `pii` detector: e-mail addresses, phone numbers, payment cards (Luhn), IBANs (mod-97), US
// social security numbers and IP addresses, found by hand-written single passes (no regex that
// could backtrack), each candidate bounded in length so a scan is linear in the text.

import type { Finding, StreamingTextDetector } from "../types.ts";
import {
  asciiClass,
  codeAt,
  inClass,
  isAsciiAlnum,
  isDigit,
  isUpper,
  isWordCode,
  resolveFindings,
  trailingRun,
} from "./text-scan.ts";

/** What the `pii` kind can look for; a guardrail picks any subset. */
export type PiiCategory = "email" | "phone" | "card" | "iban" | "us_ssn" | "ip";
export const PII_CATEGORIES: readonly PiiCategory[] = ["email", "phone", "card", "iban", "us_ssn", "ip"];

export interface PiiDetectorOptions {
  /** Categories to report; all of them when absent. */
  categories?: readonly PiiCategory[];
}

// Longest span one finding can cover, plus the characters after it that decide where it ends.
// A stream holds back at most this many characters for the category.
const EMAIL_LOCAL_MAX = 64;
const EMAIL_DOMAIN_MAX = 253;
const EMAIL_WINDOW = EMAIL_LOCAL_MAX + 1 + EMAIL_DOMAIN_MAX + 2; // ':' and one more decide scp-like "user@host:path"
const NUMBER_CLUSTER_MAX = 34; // "+44 (0)20 7946 0958"-style phones: at most 15 digits, separators, '+' and parens
const NUMBER_WINDOW = NUMBER_CLUSTER_MAX + 2; // a ',' or ':' and a digit after a cluster undo it
const IBAN_MAX = 34 + 8; // 34 characters, printed in groups of four
const IBAN_WINDOW = IBAN_MAX + 1;
const IP_RUN_MAX = 46; // "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" and a trailing '.'
const IP_WINDOW = IP_RUN_MAX + 1;

const EMAIL_LOCAL = asciiClass("A-Za-z0-9._%+-");
const EMAIL_DOMAIN = asciiClass("A-Za-z0-9.-");
const EMAIL_RUN = asciiClass("A-Za-z0-9._%+@:-");
const NUMBER_RUN = asciiClass("0-9 ().+-/:,");
const IBAN_RUN = asciiClass("A-Z0-9 ");
const IP_RUN = asciiClass("0-9A-Fa-f:.");
/** Top-level names that are not mail domains: an address there is a host or a placeholder. */
const NON_MAIL_TLDS = new Set(["local", "localhost", "internal", "invalid", "lan", "localdomain"]);

/** Creates a `pii` detector for the chosen categories; every table is built here, once. */
export function createPiiDetector(options: PiiDetectorOptions = {}): StreamingTextDetector {
  const wanted = new Set<PiiCategory>(options.categories ?? PII_CATEGORIES);
  for (const c of wanted) if (!PII_CATEGORIES.includes(c)) throw new Error(`unknown pii category "${c}"`);
  const email = wanted.has("email");
  const numbers = wanted.has("phone") || wanted.has("card") || wanted.has("us_ssn");
  const iban = wanted.has("iban");
  const ip = wanted.has("ip");
  const maxMatchLength = Math.max(
    email ? EMAIL_WINDOW : 0,
    numbers ? NUMBER_WINDOW : 0,
    iban ? IBAN_WINDOW : 0,
    ip ? IP_WINDOW : 0,
    1,
  );
  return {
    kind: "pii",
    maxMatchLength,
    scan(text: string): Finding[] {
      const out: Finding[] = [];
      if (email) findEmails(text, out);
      if (numbers) findNumbers(text, wanted, out);
      if (iban) findIbans(text, out);
      if (ip) findIps(text, out);
      return resolveFindings(out);
    },
    pendingLength(text: string): number {
      // Every finding (and what decides it) lies inside one run of its category's characters,
      // and a run longer than the window can no longer be a finding: hold the trailing run.
      return Math.max(
        email ? trailingRun(text, EMAIL_RUN, EMAIL_WINDOW - 1) : 0,
        numbers ? fromFirst(text, trailingRun(text, NUMBER_RUN, NUMBER_WINDOW - 1), isNumberStart) : 0,
        iban ? fromFirst(text, trailingRun(text, IBAN_RUN, IBAN_WINDOW - 1), isUpper) : 0,
        ip ? trailingRun(text, IP_RUN, IP_WINDOW - 1) : 0,
      );
    },
  };
}

/** The part of the last `run` characters from the first one a finding can start with. */
function fromFirst(text: string, run: number, starts: (c: number) => boolean): number {
  for (let i = text.length - run; i < text.length; i++) if (starts(text.charCodeAt(i))) return text.length - i;
  return 0;
}

const isNumberStart = (c: number): boolean => isDigit(c) || c === 43 || c === 40;

// ---------------------------------------------------------------------------------------------
// E-mail: grown outwards from each '@' (local part at most 64, domain at most 253 characters).

function findEmails(text: string, out: Finding[]): void {
  for (let at = text.indexOf("@"); at !== -1; at = text.indexOf("@", at + 1)) {
    let s = at;
    while (s > 0 && at - s < EMAIL_LOCAL_MAX && inClass(EMAIL_LOCAL, text.charCodeAt(s - 1))) s--;
    if (inClass(EMAIL_LOCAL, codeAt(text, s - 1))) continue; // local part longer than 64
    while (s < at && text.charCodeAt(s) === 46) s++; // "...bob@" starts at b
    if (s === at || codeAt(text, s - 1) === 64) continue; // "@Component", "a@b@c"
    let e = at + 1;
    while (e < text.length && e - at - 1 <= EMAIL_DOMAIN_MAX && inClass(EMAIL_DOMAIN, text.charCodeAt(e))) e++;
    if (e - at - 1 > EMAIL_DOMAIN_MAX) continue;
    // A sentence's full stop (or a dash) after the address is not part of it.
    while (e > at + 1 && (text.charCodeAt(e - 1) === 46 || text.charCodeAt(e - 1) === 45)) e--;
    const local = text.slice(s, at);
    if (local.endsWith(".") || local.includes("..")) continue;
    if (!validMailDomain(text.slice(at + 1, e))) continue;
    const next = codeAt(text, e);
    if (next === 64 || next === 95) continue;
    // "git@github.com:org/repo.git" is an scp-style path, not a mailbox.
    if (next === 58 && e + 1 < text.length && !/\s/.test(text[e + 1])) continue;
    out.push({ category: "email", start: s, end: e });
  }
}

function validMailDomain(domain: string): boolean {
  const labels = domain.split(".");
  if (labels.length < 2) return false; // "foo@bar", "user@localhost"
  for (const label of labels) {
    if (label.length === 0 || label.length > 63) return false;
    if (label.startsWith("-") || label.endsWith("-")) return false;
  }
  const tld = labels[labels.length - 1].toLowerCase();
  if (!/^(?:[a-z]{2,24}|xn--[a-z0-9]{1,59})$/.test(tld)) return false; // "react@18.2.0"
  if (NON_MAIL_TLDS.has(tld)) return false;
  if (/^\d+x$/i.test(labels[0])) return false; // "logo@2x.png"
  return true;
}

// ---------------------------------------------------------------------------------------------
// Numbers: one pass cuts the text into clusters (digit groups joined by single separators, an
// optional leading '+', area codes in parentheses); each whole cluster is then judged as a card,
// a social security number or a phone number. A cluster is judged whole: "4111 1111 1111 1111 2"
// is not a card, and a long run of digits is never searched for a card inside it.

interface Cluster {
  start: number;
  end: number;
  plus: boolean;
  /** Digit groups, in order. */
  groups: string[];
  /** Which groups were written in parentheses. */
  paren: boolean[];
  /** The separator before each group after the first: " ", "-", ".", or "" next to a parenthesis. */
  seps: string[];
  tooLong: boolean;
}

const isSep = (c: number): boolean => c === 32 || c === 45 || c === 46;

function findNumbers(text: string, wanted: ReadonlySet<PiiCategory>, out: Finding[]): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    const startsHere = isDigit(c) || ((c === 43 || c === 40) && isDigit(codeAt(text, i + 1)));
    if (!startsHere) {
      i++;
      continue;
    }
    const cl = readCluster(text, i);
    i = Math.max(cl.end, i + 1);
    if (cl.tooLong || cl.end - cl.start > NUMBER_CLUSTER_MAX) continue;
    if (!clusterBoundaryOk(text, cl)) continue;
    const category =
      (wanted.has("card") && isCard(cl) && "card") ||
      (wanted.has("us_ssn") && isSsn(cl) && "us_ssn") ||
      (wanted.has("phone") && isPhone(cl) && "phone");
    if (category) out.push({ category, start: cl.start, end: cl.end });
  }
}

function readCluster(text: string, start: number): Cluster {
  const n = text.length;
  const cl: Cluster = { start, end: start, plus: false, groups: [], paren: [], seps: [], tooLong: false };
  let p = start;
  if (text.charCodeAt(p) === 43) {
    cl.plus = true;
    p++;
  }
  let sep = "";
  for (;;) {
    const groupStart = p;
    let paren = false;
    if (text.charCodeAt(p) === 40) {
      paren = true;
      p++;
    }
    const digitsStart = p;
    while (p < n && isDigit(text.charCodeAt(p))) p++;
    const digits = p - digitsStart;
    if (digits === 0 || (paren && text.charCodeAt(p) !== 41)) {
      p = groupStart; // not a group after all: the cluster ends before its separator
      break;
    }
    if (paren) p++;
    cl.end = p;
    if (digits > 19 || cl.groups.length >= 12) cl.tooLong = true; // keep walking to skip the whole run, record no more
    if (!cl.tooLong) {
      if (cl.groups.length > 0) cl.seps.push(sep);
      cl.groups.push(text.slice(digitsStart, digitsStart + digits));
      cl.paren.push(paren);
    }
    // The separator before the next group, if one follows.
    const c = codeAt(text, p);
    const afterParen = paren;
    if (isSep(c) && (isDigit(codeAt(text, p + 1)) || (codeAt(text, p + 1) === 40 && isDigit(codeAt(text, p + 2))))) {
      sep = text[p];
      p++;
    } else if (c === 40 && isDigit(codeAt(text, p + 1))) {
      sep = "";
    } else if (afterParen && isDigit(c)) {
      sep = "";
    } else break;
  }
  return cl;
}

function clusterBoundaryOk(text: string, cl: Cluster): boolean {
  const before = codeAt(text, cl.start - 1);
  if (isWordCode(before)) return false;
  // "12:415-555-0100", "1.415.555.0100" after a number: part of something longer.
  if ((before === 46 || before === 45 || before === 47 || before === 58 || before === 44) && isDigit(codeAt(text, cl.start - 2)))
    return false;
  if (before === 46 || before === 45 || before === 43) return false; // "v-1", ".5", "++1"
  const after = codeAt(text, cl.end);
  if (isWordCode(after)) return false;
  if ((after === 46 || after === 45 || after === 47 || after === 58 || after === 44) && isDigit(codeAt(text, cl.end + 1)))
    return false;
  return true;
}

const allSame = (seps: readonly string[]): boolean => seps.every((s) => s === seps[0]);

function isCard(cl: Cluster): boolean {
  if (cl.plus || cl.paren.some(Boolean)) return false;
  const g = cl.groups.map((x) => x.length);
  const digits = cl.groups.join("");
  if (digits.length < 13 || digits.length > 19) return false;
  if (g.length > 1) {
    if (!allSame(cl.seps) || (cl.seps[0] !== " " && cl.seps[0] !== "-")) return false;
    const fours = g.slice(0, -1).every((x) => x === 4) && g[g.length - 1] <= 4;
    const amexLike = g.length === 3 && g[0] === 4 && g[1] === 6 && (g[2] === 5 || g[2] === 4);
    if (!fours && !amexLike) return false;
  }
  return knownIin(digits) && luhn(digits);
}

/** Issuer prefixes and lengths of the card networks in use. */
function knownIin(d: string): boolean {
  const len = d.length;
  const p2 = Number(d.slice(0, 2));
  const p3 = Number(d.slice(0, 3));
  const p4 = Number(d.slice(0, 4));
  if (d[0] === "4") return len === 13 || len === 16 || len === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return len === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return len === 15; // American Express
  if (p4 >= 2200 && p4 <= 2204) return len >= 16; // Mir
  if (p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65) return len >= 16; // Discover
  if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return len >= 14; // Diners Club
  if (p4 >= 3528 && p4 <= 3589) return len >= 16; // JCB
  if (p2 === 62) return len >= 16; // UnionPay
  if (p2 === 50 || (p2 >= 56 && p2 <= 58) || p2 === 63 || p2 === 67) return len >= 13; // Maestro
  return false;
}

export function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function isSsn(cl: Cluster): boolean {
  if (cl.plus || cl.paren.some(Boolean) || cl.groups.length !== 3) return false;
  const [area, group, serial] = cl.groups;
  if (area.length !== 3 || group.length !== 2 || serial.length !== 4) return false;
  if (!allSame(cl.seps) || (cl.seps[0] !== "-" && cl.seps[0] !== " ")) return false;
  if (area === "000" || area === "666" || area[0] === "9") return false;
  return group !== "00" && serial !== "0000";
}

function isPhone(cl: Cluster): boolean {
  const g = cl.groups;
  const digits = g.join("");
  if (cl.plus) {
    // E.164: a country code and 8 to 15 digits in all, compact or grouped in any common way.
    if (digits.length < 8 || digits.length > 15 || digits[0] === "0") return false;
    return g.length === 1 ? !cl.paren[0] : g.every((x) => x.length <= 8);
  }
  // Separators next to a parenthesised group may be "" or " "; the others must all agree
  // ("415-555.0100" is not a phone number).
  const plain: string[] = [];
  const around: string[] = [];
  cl.seps.forEach((s, k) => (cl.paren[k] || cl.paren[k + 1] ? around : plain).push(s));
  if (!allSame(plain) || !around.every((s) => s === "" || s === " " || s === "-") || g.length < 2) return false;
  // North American numbers: [1] NXX NXX XXXX, the area code optionally in parentheses.
  const lens = g.map((x) => x.length).join(",");
  if (lens === "3,3,4" || (lens === "1,3,3,4" && g[0] === "1")) {
    const k = g.length - 3;
    if (cl.paren.some((p, j) => p && j !== k)) return false;
    const [area, exchange] = [g[k], g[k + 1]];
    return area[0] >= "2" && area.slice(1) !== "11" && exchange[0] >= "2" && exchange.slice(1) !== "11";
  }
  // National numbers with a trunk 0 ("020 7946 0958", "01 23 45 67 89", "030-12345678").
  if (g[0][0] === "0" && (digits.length === 10 || digits.length === 11)) {
    if (cl.paren.some((p, j) => p && j !== 0) || g[0].length < 2 || g[0].length > 5) return false;
    return g.every((x, j) => j === 0 || (x.length >= 2 && x.length <= 8));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// IBAN: a country code, two check digits and a BBAN of the length that country uses, compact or
// in groups of four, checked with ISO 7064 mod-97. Upper case only (how IBANs are written).

/** IBAN lengths by country (SWIFT IBAN registry). */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22,
  IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18,
  NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31,
  SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
};

const isIbanChar = (c: number): boolean => isUpper(c) || isDigit(c);

function findIbans(text: string, out: Finding[]): void {
  const n = text.length;
  for (let i = 0; i + 4 <= n; i++) {
    if (!isUpper(text.charCodeAt(i)) || isWordCode(codeAt(text, i - 1))) continue;
    if (!isUpper(text.charCodeAt(i + 1)) || !isDigit(text.charCodeAt(i + 2)) || !isDigit(text.charCodeAt(i + 3))) continue;
    const len = IBAN_LENGTHS[text.slice(i, i + 2)];
    if (len === undefined) continue;
    const end = readIban(text, i, len);
    if (end === -1) continue;
    const compact = text.slice(i, end).replaceAll(" ", "");
    if (!mod97(compact)) continue;
    out.push({ category: "iban", start: i, end });
    i = end - 1;
  }
}

/** End of an IBAN of `len` characters starting at `i`, compact or grouped by four; -1 if none. */
function readIban(text: string, i: number, len: number): number {
  let p = i + 4;
  let count = 4;
  if (text.charCodeAt(p) === 32) {
    while (count < len) {
      if (text.charCodeAt(p) !== 32) return -1;
      p++;
      let g = 0;
      while (g < 4 && count < len && isIbanChar(codeAt(text, p))) {
        p++;
        g++;
        count++;
      }
      if (g === 0 || (g < 4 && count < len)) return -1;
    }
  } else {
    while (count < len && isIbanChar(codeAt(text, p))) {
      p++;
      count++;
    }
    if (count < len) return -1;
  }
  return isAsciiAlnum(codeAt(text, p)) ? -1 : p;
}

export function mod97(iban: string): boolean {
  const s = iban.slice(4) + iban.slice(0, 4);
  let r = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) r = (r * 10 + (c - 48)) % 97;
    else r = (r * 100 + (c - 55)) % 97; // A = 10 … Z = 35
  }
  return r === 1;
}

// ---------------------------------------------------------------------------------------------
// IP addresses: each maximal run of hex digits, ':' and '.' is parsed as IPv6 (full or compressed,
// optionally ending in dotted IPv4), else as IPv4 (octets 0-255, no leading zeros), optionally
// followed by ":port". Private, loopback and documentation ranges are reported like any other.

function findIps(text: string, out: Finding[]): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (!inClass(IP_RUN, text.charCodeAt(i))) {
      i++;
      continue;
    }
    const s = i;
    let colon = false;
    let dot = false;
    while (i < n && inClass(IP_RUN, text.charCodeAt(i))) {
      const c = text.charCodeAt(i);
      if (c === 58) colon = true;
      else if (c === 46) dot = true;
      i++;
    }
    let e = i;
    if ((!colon && !dot) || e - s > IP_RUN_MAX) continue;
    if (isWordCode(codeAt(text, s - 1)) || isWordCode(codeAt(text, e))) continue;
    // One trailing '.' ends a sentence; one trailing ':' (not "::") introduces something else.
    if (text.charCodeAt(e - 1) === 46) e--;
    else if (text.charCodeAt(e - 1) === 58 && text.charCodeAt(e - 2) !== 58) e--;
    const run = text.slice(s, e);
    if (colon && isIpv6(run)) out.push({ category: "ip", start: s, end: e });
    else if (isIpv4(run)) out.push({ category: "ip", start: s, end: e });
    else if (colon) {
      const k = run.indexOf(":");
      if (isIpv4(run.slice(0, k)) && /^\d{1,5}$/.test(run.slice(k + 1))) out.push({ category: "ip", start: s, end: s + k });
    }
  }
}

export function isIpv4(s: string): boolean {
  const parts = s.split(".");
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (p.length === 0 || p.length > 3 || !/^\d+$/.test(p)) return false;
    if (p.length > 1 && p[0] === "0") return false;
    if (Number(p) > 255) return false;
  }
  return true;
}

const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

export function isIpv6(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  const dbl = s.indexOf("::");
  if (dbl !== -1 && s.indexOf("::", dbl + 1) !== -1) return false;
  const groupsOf = (part: string): number => {
    if (part === "") return 0;
    const pieces = part.split(":");
    let count = 0;
    for (let k = 0; k < pieces.length; k++) {
      const piece = pieces[k];
      if (k === pieces.length - 1 && piece.includes(".")) {
        if (!isIpv4(piece)) return -1;
        count += 2;
      } else if (HEX_GROUP.test(piece)) count += 1;
      else return -1;
    }
    return count;
  };
  if (dbl === -1) return groupsOf(s) === 8;
  const head = s.slice(0, dbl);
  const tail = s.slice(dbl + 2);
  if (head.includes(".")) return false;
  const h = groupsOf(head);
  const t = groupsOf(tail);
  if (h < 0 || t < 0 || h + t > 7) return false;
  return /[0-9A-Fa-f]/.test(s);
}
