// How results reach the terminal or a script: aligned tables, CSV, JSON, "name  value" blocks,
// and the spinner. One column list drives both the table and the CSV, so they cannot disagree.

/** One column: its table header, its CSV name, its value for display and its raw value for CSV. */
export interface Column<R> {
  header: string;
  /** CSV header (snake_case); defaults to the table header, lower-cased with spaces as "_". */
  csv?: string;
  /** What the table shows. */
  show: (row: R) => string;
  /** What CSV holds (plain numbers, RFC 3339 times); defaults to `show`. */
  raw?: (row: R) => string | number | bigint | boolean;
  /** Right-align (numbers). */
  right?: boolean;
}

/** An aligned table: two spaces between columns, headers in capitals, no trailing blanks. */
export function table<R>(columns: Column<R>[], rows: R[]): string {
  const cells = rows.map((r) => columns.map((c) => oneLine(c.show(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => width(row[i]))));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => {
        const pad = " ".repeat(widths[i] - width(v));
        return columns[i].right ? pad + v : i === vals.length - 1 ? v : v + pad;
      })
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join("\n") + "\n";
}

/** RFC 4180 CSV with a header row. */
export function csv<R>(columns: Column<R>[], rows: R[]): string {
  const head = columns.map((c) => c.csv ?? c.header.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, ""));
  const body = rows.map((r) => columns.map((c) => csvCell(c.raw ? c.raw(r) : c.show(r))));
  return [head.map(csvCell), ...body].map((cols) => cols.join(",")).join("\r\n") + "\r\n";
}

function csvCell(v: string | number | bigint | boolean): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** "NAME  value" lines, names aligned; pairs whose value is "" are left out. */
export function fields(pairs: [string, string][]): string {
  const shown = pairs.filter(([, v]) => v !== "");
  const w = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n") + "\n";
}

/** A section title above a table, when a command prints several. */
export const section = (title: string) => `${title}\n`;

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, " ");
// Characters as the terminal shows them (no colour codes are ever printed).
const width = (s: string) => [...s].length;

/** Write to stdout, and wait until it is flushed (a pipe closed early is not an error). */
export function out(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (!text) return resolve();
    process.stdout.write(text, () => resolve());
  });
}

/** A message for people: stderr, so stdout stays clean for scripts. */
export function note(text: string): void {
  process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** JSON for scripts: two-space indented, one document, a final newline. */
export function json(value: unknown): Promise<void> {
  return out(`${JSON.stringify(value, null, 2)}\n`);
}

export interface Spinner {
  /** Say something else from the next frame on (progress). */
  update(label: string): void;
  stop(): void;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** A spinner on stderr while something waits; nothing at all when stderr is not a terminal. */
export function spinner(label: string): Spinner {
  const err = process.stderr;
  if (!err.isTTY) return { update() {}, stop() {} };
  let i = 0;
  // "\x1b[K" clears what a longer label left behind.
  const draw = () => err.write(`\r${FRAMES[i++ % FRAMES.length]} ${label}\x1b[K`);
  // Only after a short wait: a fast answer should not flash.
  let timer: NodeJS.Timeout | undefined;
  const delay = setTimeout(() => {
    draw();
    timer = setInterval(draw, 80);
  }, 120);
  let stopped = false;
  return {
    update(next) {
      label = next;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(delay);
      if (timer) {
        clearInterval(timer);
        err.write("\r\x1b[2K");
      }
    },
  };
}

/** Run `work` with a spinner on stderr (`work` may change its label to show progress). */
export async function waiting<T>(label: string, work: (progress: (label: string) => void) => Promise<T>): Promise<T> {
  const s = spinner(label);
  try {
    return await work((l) => s.update(l));
  } finally {
    s.stop();
  }
}
