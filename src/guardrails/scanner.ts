// Running text detectors over whole texts and over streams. A stream holds back only the tail that
// more text could still turn into (or out of) a finding, never splits a finding across what it
// lets out, and with `redact` never lets the original of a finding out at all.

import { resolveFindings } from "./detectors/text-scan.ts";
import { DETECTOR_CONTEXT, type Finding, type GuardrailAction, redactionFor, type StreamingTextDetector, type TextDetector } from "./types.ts";

/** Text to pass on, and the findings in it (offsets in the text passed on). */
export interface ScanOutput {
  text: string;
  findings: Finding[];
}

/**
 * Findings of all `detectors` in `text`, sorted and non-overlapping (overlapping matches of
 * different detectors are joined into one span, named after the longest).
 */
export function scanText(detectors: readonly TextDetector[], text: string): Finding[] {
  if (detectors.length === 1) return resolveFindings(detectors[0].scan(text));
  return resolveFindings(detectors.flatMap((d) => d.scan(text)));
}

/**
 * `text` with every finding replaced by its placeholder ("[REDACTED:email]"); the findings name
 * the placeholders' spans in the returned text. For unary answers and for inputs.
 */
export function redactText(detectors: readonly TextDetector[], text: string): ScanOutput {
  return applyRedactions(text, scanText(detectors, text), 0);
}

function applyRedactions(text: string, findings: readonly Finding[], outOffset: number): ScanOutput {
  if (findings.length === 0) return { text, findings: [] };
  let out = "";
  let at = 0;
  const placed: Finding[] = [];
  for (const f of findings) {
    out += text.slice(at, f.start);
    const placeholder = redactionFor(f.category);
    placed.push({ category: f.category, start: outOffset + out.length, end: outOffset + out.length + placeholder.length });
    out += placeholder;
    at = f.end;
  }
  out += text.slice(at);
  return { text: out, findings: placed };
}

/** An incremental scanner for one output stream. */
export interface StreamRedactor {
  /** Takes the next chunk; returns what may be passed on now and the findings decided in it. */
  push(chunk: string): ScanOutput;
  /** The stream has ended: returns everything still held back, decided. */
  end(): ScanOutput;
  /** True once a `block` redactor has found something; it passes nothing on after that. */
  readonly blocked: boolean;
}

/**
 * Creates a stream scanner. With `redact`, findings are replaced by placeholders and their
 * offsets are the placeholders' spans in the output. With `flag`, text passes unchanged and
 * without delay (findings are reported once decided, in output offsets). With `block`, text passes
 * up to the first finding and nothing after it; the engine ends the stream.
 *
 * Each step rescans what is held back plus `DETECTOR_CONTEXT` characters already passed on (for
 * decisions that look behind a match, such as a key's name before its value).
 */
export function createStreamRedactor(detectors: readonly TextDetector[], action: GuardrailAction): StreamRedactor {
  const holdOf = detectors.map((d) =>
    isStreaming(d) ? (t: string) => d.pendingLength(t) : () => Math.max(0, d.maxMatchLength - 1),
  );
  let context = ""; // original text already decided, kept for look-behind
  let held = ""; // original text not yet decided
  let inOffset = 0; // offset, in the original stream, of held[0]
  let outOffset = 0; // characters passed on so far (output coordinates)
  let blocked = false;

  const step = (chunk: string, final: boolean): ScanOutput => {
    if (blocked) return { text: "", findings: [] };
    const buf = held + chunk;
    const scanned = context + buf;
    let cut = buf.length;
    if (!final) {
      for (const hold of holdOf) cut = Math.min(cut, buf.length - Math.min(buf.length, hold(scanned)));
      // Never end on the first half of a surrogate pair.
      if (cut > 0 && isHighSurrogate(buf.charCodeAt(cut - 1))) cut--;
    }
    let findings: Finding[] = [];
    if (cut > 0) {
      const all = scanText(detectors, scanned);
      const base = context.length;
      for (const f of all) {
        if (f.end <= base) continue; // decided in an earlier step
        const start = Math.max(f.start, base) - base; // a match reaching back into passed-on text is clipped
        const end = f.end - base;
        if (start < cut && end > cut) cut = start; // never split a finding: hold it whole
        if (start < cut) findings.push({ category: f.category, start, end });
      }
      findings = findings.filter((f) => f.end <= cut);
    }
    const decided = buf.slice(0, cut);
    held = buf.slice(cut);
    context = (context + decided).slice(-DETECTOR_CONTEXT);
    const decidedAt = inOffset;
    inOffset += cut;
    if (action === "flag") {
      // The text already went out as it arrived; only the findings were waiting.
      const shifted = findings.map((f) => ({ category: f.category, start: f.start + decidedAt, end: f.end + decidedAt }));
      return { text: chunk, findings: shifted };
    }
    if (action === "block" && findings.length > 0) {
      blocked = true;
      const text = decided.slice(0, findings[0].start);
      const out = { text, findings: findings.map((f) => ({ category: f.category, start: outOffset + f.start, end: outOffset + f.end })) };
      outOffset += text.length;
      return out;
    }
    const out = applyRedactions(decided, findings, outOffset);
    outOffset += out.text.length;
    return out;
  };

  return {
    push: (chunk) => step(chunk, false),
    end: () => step("", true),
    get blocked() {
      return blocked;
    },
  };
}

const isStreaming = (d: TextDetector): d is StreamingTextDetector =>
  typeof (d as Partial<StreamingTextDetector>).pendingLength === "function";

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
