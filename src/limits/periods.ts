// Calendar-aligned budget periods in UTC: day, ISO week (Monday 00:00), month; and a lifetime
// budget's one period, which never resets (LiteLLM's max_budget without a duration, OpenRouter's
// limit without a reset, Portkey's budget without a periodic reset).

export type Period = "day" | "week" | "month" | "lifetime";

/** Where a lifetime budget's period "ends": the last day of year 9999, never reached. */
export const NEVER = Date.UTC(9999, 11, 31);

/** When the period containing `t` resets; undefined for a lifetime budget, which never does. */
export const resetsAt = (period: Period, t: number): number | undefined => (period === "lifetime" ? undefined : periodBounds(period, t).end);

/** "resets <time>", or that it never does: for refusals. */
export const resetText = (period: Period, t: number): string => (period === "lifetime" ? "a lifetime budget, it never resets" : `resets ${new Date(periodBounds(period, t).end).toISOString()}`);

/** [start, end) of the period containing `t` (epoch ms). */
export function periodBounds(period: Period, t: number): { start: number; end: number } {
  const d = new Date(t);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const day = d.getUTCDate();
  switch (period) {
    case "day": {
      const start = Date.UTC(y, m, day);
      return { start, end: start + 86_400_000 };
    }
    case "week": {
      const dow = (d.getUTCDay() + 6) % 7; // Monday = 0
      const start = Date.UTC(y, m, day - dow);
      return { start, end: start + 7 * 86_400_000 };
    }
    case "month":
      return { start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
    case "lifetime":
      return { start: 0, end: NEVER };
  }
}
