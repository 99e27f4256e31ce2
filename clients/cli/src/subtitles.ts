// Subtitles from a transcript's segments: SubRip (.srt) and WebVTT (.vtt), rendered here rather
// than by the provider, so every model that returns segments gets both. Pure functions, no I/O.

/** A stretch of the transcript: seconds from the start of the recording, and what was said. */
export interface Cue {
  start: number;
  end: number;
  text: string;
}

/**
 * Milliseconds from seconds, rounded, never negative (a NaN or a negative time is 0), and an end
 * never before its start.
 */
function span(c: Cue): [number, number] {
  const ms = (s: number) => (Number.isFinite(s) && s > 0 ? Math.round(s * 1000) : 0);
  const start = ms(c.start);
  return [start, Math.max(start, ms(c.end))];
}

/** "hh:mm:ss" + sep + "mmm" (hours keep growing past 99 rather than wrapping). */
function clock(totalMs: number, sep: "," | "."): string {
  const h = Math.floor(totalMs / 3_600_000);
  const m = Math.floor(totalMs / 60_000) % 60;
  const s = Math.floor(totalMs / 1000) % 60;
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(h)}:${pad(m)}:${pad(s)}${sep}${pad(totalMs % 1000, 3)}`;
}

/**
 * A cue's text on as many lines as it has, none blank (a blank line ends a cue in both formats),
 * trimmed; "" when there is nothing to show.
 */
function lines(text: string): string {
  return text
    .split(/\r\n|\r|\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .join("\n");
}

/** Cues worth showing: those with text. */
const shown = (cues: readonly Cue[]) => cues.map((c) => ({ c, text: lines(c.text) })).filter((x) => x.text !== "");

/**
 * SubRip: numbered cues from 1, "00:00:01,500 --> 00:00:03,000", the text, a blank line after
 * each. No cues at all is "" (an empty .srt file).
 */
export function toSrt(cues: readonly Cue[]): string {
  return shown(cues)
    .map(({ c, text }, i) => {
      const [a, b] = span(c);
      return `${i + 1}\n${clock(a, ",")} --> ${clock(b, ",")}\n${text}\n\n`;
    })
    .join("");
}

/**
 * WebVTT: the "WEBVTT" header, then cues "00:00:01.500 --> 00:00:03.000" with their text escaped
 * (&, < and > as entities, so a transcript that says "<b>" is not markup; "-->" cannot end up in
 * a cue since ">" is escaped).
 */
export function toVtt(cues: readonly Cue[]): string {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return `WEBVTT\n\n${shown(cues)
    .map(({ c, text }) => {
      const [a, b] = span(c);
      return `${clock(a, ".")} --> ${clock(b, ".")}\n${esc(text)}\n\n`;
    })
    .join("")}`;
}

/**
 * The cues of a transcript: its segments when it has any; else the whole text as one cue, from 0
 * to the recording's duration when known, else to an estimate of 0.4 s a word (150 words a
 * minute), at least a second.
 */
export function cuesOf(t: { text: string; segments: readonly Cue[]; durationSeconds: number }): { cues: Cue[]; whole: boolean } {
  if (t.segments.length > 0) return { cues: t.segments.map((s) => ({ start: s.start, end: s.end, text: s.text })), whole: false };
  if (!t.text.trim()) return { cues: [], whole: false };
  const words = t.text.trim().split(/\s+/).length;
  const end = t.durationSeconds > 0 ? t.durationSeconds : Math.max(1, words * 0.4);
  return { cues: [{ start: 0, end, text: t.text }], whole: true };
}
