// Flag values: durations, times, lists, budgets, counts. Each parser throws commander's
// InvalidArgumentError, so a bad value is reported as bad usage (exit 2) with an example of a
// good one.

import { InvalidArgumentError } from "commander";

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
const DURATION = /^(\d+)(s|m|h|d|w)$/;
// RFC 3339: a date, a time and an offset (Z or ±hh:mm); fractional seconds optional.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** "30s", "15m", "2h", "7d", "1w" in milliseconds, or undefined when it is not a duration. */
export function durationMs(s: string): number | undefined {
  const m = DURATION.exec(s.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]] : undefined;
}

/** A duration flag ("--grace 1h") in milliseconds. */
export function parseDuration(s: string): number {
  const ms = durationMs(s);
  if (ms === undefined) throw new InvalidArgumentError(`"${s}" is not a duration: use a number and a unit, e.g. 30s, 15m, 2h, 7d`);
  return ms;
}

/**
 * A point in time for --since/--until: a duration counts back from now ("7d" = seven days ago),
 * "now" is now, and anything else must be RFC 3339 ("2026-11-20T00:00:00Z").
 */
export function parsePastTime(s: string, now = Date.now()): Date {
  return parseTime(s, now, -1);
}

/** A point in time for --expires: a duration counts forward from now ("30d" = in thirty days). */
export function parseFutureTime(s: string, now = Date.now()): Date {
  return parseTime(s, now, 1);
}

function parseTime(s: string, now: number, sign: 1 | -1): Date {
  const v = s.trim();
  if (v === "now") return new Date(now);
  const ms = durationMs(v);
  if (ms !== undefined) return new Date(now + sign * ms);
  if (RFC3339.test(v)) {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return new Date(t);
  }
  throw new InvalidArgumentError(`"${s}" is not a time: use a duration (30s, 15m, 2h, 7d) or RFC 3339 (2026-11-20T00:00:00Z)`);
}

/** "a,b, c" → ["a", "b", "c"]; "" → [] (so `--allow ""` clears a list). */
export function parseList(s: string): string[] {
  return s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
}

/** A whole number >= min (default 0). */
export function parseCount(min = 0, max = Number.MAX_SAFE_INTEGER): (s: string) => number {
  return (s) => {
    const v = s.trim();
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      throw new InvalidArgumentError(`"${s}" is not a whole number${min > 0 ? ` >= ${min}` : ""}${max < Number.MAX_SAFE_INTEGER ? ` <= ${max}` : ""}`);
    }
    return Number(v);
  };
}

/** A decimal number within [min, max] ("0.7" for --temperature). */
export function parseNumber(min: number, max: number): (s: string) => number {
  return (s) => {
    const v = s.trim();
    const n = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`"${s}" is not a number between ${min} and ${max}`);
    return n;
  };
}

/** Like parseCount, but "none" (clear the setting) is allowed too: returns null for it. */
export function parseCountOrNone(min = 0): (s: string) => number | null {
  const count = parseCount(min);
  return (s) => (s.trim() === "none" ? null : count(s));
}

/** One of a fixed set of lower-case words. */
export function parseChoice<T extends string>(choices: readonly T[]): (s: string) => T {
  return (s) => {
    const v = s.trim().toLowerCase() as T;
    if (!choices.includes(v)) throw new InvalidArgumentError(`"${s}" is not one of ${choices.join(", ")}`);
    return v;
  };
}

/** A budget's period: a calendar day, ISO week or month (UTC), or the whole life of its owner (never resets). */
export type Period = "day" | "week" | "month" | "lifetime";

export interface BudgetFlag {
  limitUsd: number;
  period: Period;
}

/** "10/month", "$2.50/day", "500/week", "100/lifetime" ("100/total" too); "none" (clear it) → null. */
export function parseBudget(s: string): BudgetFlag | null {
  const v = s.trim();
  if (v === "none") return null;
  const m = /^\$?(\d+(?:\.\d+)?)\s*\/\s*(day|week|month|lifetime|total)$/i.exec(v);
  if (!m || Number(m[1]) <= 0) {
    throw new InvalidArgumentError(`"${s}" is not a budget: use <USD>/<period> with period day, week, month or lifetime (never resets), e.g. 10/month, 100/lifetime (or "none" to remove it)`);
  }
  const period = m[2].toLowerCase();
  return { limitUsd: Number(m[1]), period: (period === "total" ? "lifetime" : period) as Period };
}

/** "team=search", "deployment=mock/a,mock/b" → the dimension and its values. */
export function parseFilter(dimensions: readonly string[]): (s: string, prev: { dimension: string; values: string[] }[] | undefined) => { dimension: string; values: string[] }[] {
  return (s, prev = []) => {
    const i = s.indexOf("=");
    const dimension = i > 0 ? s.slice(0, i).trim().toLowerCase() : "";
    const values = i > 0 ? parseList(s.slice(i + 1)) : [];
    if (!dimensions.includes(dimension) || values.length === 0) {
      throw new InvalidArgumentError(`"${s}" is not a filter: use <dimension>=<value>[,<value>…] with dimension one of ${dimensions.join(", ")}, e.g. team=search`);
    }
    return [...prev, { dimension, values }];
  };
}
