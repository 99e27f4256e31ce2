// Display formats shared by every page: money from nano-USD, counts, durations, times, enum names.

import type { Timestamp } from "@bufbuild/protobuf/wkt";

type EnumSchema = { value: Record<number, { name: string } | undefined> };

/** Dollars from integer nano-USD, with enough digits for sub-cent figures. */
export function usd(nanos: bigint | number | undefined): string {
  const n = Number(nanos ?? 0) / 1e9;
  if (n === 0) return "$0";
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 2 : abs >= 1 ? 3 : abs >= 0.01 ? 4 : 6;
  return `$${n.toFixed(digits)}`;
}

/** A count with thousands separators. */
export function count(n: bigint | number | undefined): string {
  return Number(n ?? 0).toLocaleString("en-US");
}

/** Milliseconds, as "840 ms" or "2.4 s". */
export function ms(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "–";
  if (n >= 10_000) return `${(n / 1000).toFixed(1)} s`;
  if (n >= 1000) return `${(n / 1000).toFixed(2)} s`;
  if (n > 0 && n < 10) return `${n.toFixed(1)} ms`;
  return `${Math.round(n)} ms`;
}

export function tsToMs(t: Timestamp | undefined): number | undefined {
  return t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : undefined;
}

/** A local date and time, "2026-11-20 14:03:07". */
export function dateTime(t: Timestamp | number | undefined): string {
  const m = typeof t === "number" ? t : tsToMs(t);
  if (m === undefined) return "–";
  const d = new Date(m);
  const p = (x: number) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A compact time for lists: "14:03:07" today, "11-20 14:03" before. */
export function shortTime(t: Timestamp | number | undefined): string {
  const m = typeof t === "number" ? t : tsToMs(t);
  if (m === undefined) return "–";
  const full = dateTime(m);
  return new Date(m).toDateString() === new Date().toDateString() ? full.slice(11) : full.slice(5, 16);
}

/** "in 4 min", "3 h ago". */
export function relative(t: Timestamp | number | undefined, now = Date.now()): string {
  const m = typeof t === "number" ? t : tsToMs(t);
  if (m === undefined) return "–";
  const d = m - now;
  const a = Math.abs(d);
  const s = a < 60_000 ? `${Math.round(a / 1000)} s` : a < 3_600_000 ? `${Math.round(a / 60_000)} min` : a < 172_800_000 ? `${Math.round(a / 3_600_000)} h` : `${Math.round(a / 86_400_000)} d`;
  return d >= 0 ? `in ${s}` : `${s} ago`;
}

/** An enum value's name without its prefix, lower-case: FailureKindSchema, 2 → "overloaded". */
export function enumName(schema: EnumSchema, value: number, prefix: string): string {
  const name = schema.value[value]?.name;
  if (!name || value === 0) return "";
  return name.startsWith(prefix) ? name.slice(prefix.length).toLowerCase() : name.toLowerCase();
}

/** Micro-USD per million tokens as "$2.50". */
export function pricePerMtok(micro: bigint | number): string {
  const n = Number(micro) / 1e6;
  return `$${n.toFixed(n < 1 && n > 0 ? 3 : 2)}`;
}

/** "a, b, c" from a comma- or newline-separated input, trimmed, empties dropped. */
export function splitList(s: string): string[] {
  return s
    .split(/[,\n]/)
    .map((x) => x.trim())
    .filter(Boolean);
}
