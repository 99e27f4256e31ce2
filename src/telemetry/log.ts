// Structured JSON logs, one object per line on stdout. Callers pass fields, never secrets:
// nothing here knows what a key is, so nothing that holds one may be passed in.

export type Level = "debug" | "info" | "warn" | "error";

let sink: (line: string) => void = (line) => process.stdout.write(line);

export function log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  sink(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}

/** Redirect log lines (tests capture them to check what is logged). */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}
