// Calendar-aligned budget periods in UTC: day, ISO week (Monday 00:00), month.

export type Period = "day" | "week" | "month";

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
  }
}
