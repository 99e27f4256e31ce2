// Values as people read them: dollars from nano-dollars (exactly), times in UTC, enum names in
// lower case, durations in ms/s.

import type { DescEnum } from "@bufbuild/protobuf";
import type { GenEnum } from "@bufbuild/protobuf/codegenv2";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";

/** Exact dollars from nano-dollars: "0.000012345", "1.50" (at least two decimals, no float rounding). */
export function usd(nano: bigint | number | undefined): string {
  const n = BigInt(nano ?? 0);
  const neg = n < 0n;
  const abs = neg ? -n : n;
  const whole = abs / 1_000_000_000n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "").padEnd(2, "0");
  return `${neg ? "-" : ""}${whole}.${frac}`;
}

/** Dollars with a sign for tables: "$0.000012". */
export const dollars = (nano: bigint | number | undefined) => `$${usd(nano)}`;

/** Micro-dollars per million tokens (prices) as dollars: 2500000 → "2.50". */
export const perMtok = (micro: bigint | number | undefined) => usd(BigInt(micro ?? 0) * 1000n);

/** A timestamp as "2026-11-20 14:03:05Z" (UTC, seconds); "" when absent. */
export function time(t: Timestamp | undefined): string {
  if (!t) return "";
  return timestampDate(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** How long ago a timestamp was: "5s ago", "2m ago", "3h ago", "4d ago"; "" when absent. */
export function ago(t: Timestamp | undefined, now = Date.now()): string {
  if (!t) return "";
  // A time a little ahead (another replica's clock) is "0s ago".
  const s = Math.max(0, Math.floor((now - timestampDate(t).getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3_600) return `${Math.floor(s / 60)}m ago`;
  if (s < 172_800) return `${Math.floor(s / 3_600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** A timestamp as RFC 3339, for CSV; "" when absent. */
export function rfc3339(t: Timestamp | undefined): string {
  return t ? timestampDate(t).toISOString() : "";
}

/** Seconds since the epoch (the OpenAI-compatible APIs' times) as "2026-11-20 14:03:05Z"; "" when absent. */
export function unixTime(s: number | null | undefined): string {
  return s ? new Date(s * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "";
}

/** Seconds since the epoch as RFC 3339, for CSV; "" when absent. */
export function unixRfc3339(s: number | null | undefined): string {
  return s ? new Date(s * 1000).toISOString() : "";
}

/** Milliseconds as "850 ms", "12.3 s". */
export function ms(v: number | undefined): string {
  if (v === undefined) return "";
  if (v < 10_000) return `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(1)} s`;
}

/** A length of audio: "42.5 s", "12.3 min", "4.2 h". */
export function audioLength(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** Seconds as "1h", "30m", "45s", "2d". */
export function seconds(s: number): string {
  for (const [unit, n] of [["d", 86_400], ["h", 3_600], ["m", 60]] as const) if (s >= n && s % n === 0) return `${s / n}${unit}`;
  return `${s}s`;
}

/** An enum value's name without its prefix, lower case: FailureKind 2 → "overloaded". */
export function enumLabel(desc: DescEnum, value: number): string {
  const v = desc.value[value];
  if (!v) return String(value);
  return v.name.slice(prefixOf(desc).length).toLowerCase();
}

/** An enum value of a flag's lower-case word (already checked by its parser): "service" → KeyRole.SERVICE. */
export function enumValue<E extends number>(desc: GenEnum<E>, word: string): E {
  const n = desc.values.find((v) => v.name === `${prefixOf(desc)}${word.toUpperCase()}`)?.number;
  if (n === undefined) throw new Error(`${desc.name} has no value "${word}"`);
  return n as E;
}

// protobuf-es keeps the values' shared prefix in lower case with its "_" ("failure_kind_").
const prefixOf = (desc: DescEnum) => (desc.sharedPrefix ?? "").toUpperCase();

/**
 * Whole numbers with thousands separators for tables: 12345 → "12,345". What
 * toLocaleString("en-US") gives, without it: Intl's first use loads ICU data (~20 ms), and help
 * texts use this.
 */
export const count = (n: bigint | number | undefined) => (n === undefined ? "" : BigInt(n).toString().replace(/\B(?=(\d{3})+$)/g, ","));

/** A list for a table cell: "a, b"; `empty` when there is none. */
export const listOf = (xs: readonly string[], empty = "") => (xs.length ? xs.join(", ") : empty);

/** Text under a title, each line indented: a prompt's instructions and messages, an entry's spec. */
export function block(title: string, text: string): string {
  return `${title}\n${text
    .replace(/\n$/, "")
    .split("\n")
    .map((l) => (l ? `  ${l}` : ""))
    .join("\n")}\n`;
}
