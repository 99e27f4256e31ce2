// The guardrails' vocabulary: detectors are pure functions from text to findings (kind, span),
// compiled once at config load; actions (block, redact, flag) are applied by the engine, never
// by detectors. A finding names the rule and category that matched, never the matched text.

/** What a guardrail looks for. */
export type GuardrailKind = "pii" | "secrets" | "deny" | "prompt_injection" | "json_schema" | "webhook" | "max_input_tokens" | RemoteGuardrailKind;

/** Guardrails that ask a service for a verdict (the webhook and the partner services in ./partners/). */
export type RemoteGuardrailKind = "webhook" | "bedrock_guardrail" | "azure_content_safety" | "lakera";

/** Where it runs: on what is sent to the provider, on what comes back, or both. */
export type GuardrailStage = "input" | "output";

/** What the engine does when it matches. */
export type GuardrailAction = "block" | "redact" | "flag";

/** One match: which category, where (UTF-16 offsets into the scanned text). Never the text itself. */
export interface Finding {
  /** e.g. "email", "phone", "card", "iban", "us_ssn", "ip"; "aws_access_key", "github_token", "jwt", "pem_private_key", "generic_secret"; "deny"; … */
  category: string;
  start: number;
  end: number;
}

/**
 * A text detector (pii, secrets, deny): compiled once, pure, linear in the text (no pattern may
 * backtrack catastrophically). `maxMatchLength` bounds how many characters one match can span, so
 * a stream scanner knows how much to hold back to catch a match split across chunks.
 */
export interface TextDetector {
  readonly kind: "pii" | "secrets" | "deny" | "prompt_injection";
  readonly maxMatchLength: number;
  scan(text: string): Finding[];
}

/** The placeholder a redaction leaves, e.g. "[REDACTED:email]". */
export const redactionFor = (category: string): string => `[REDACTED:${category}]`;

/**
 * What one guardrail did to one request at one stage, for one category: the usage record, the
 * trace's span events and the metrics carry these (counts, never text).
 */
export interface GuardrailActionRecord {
  /** The guardrail's name in the configuration. */
  name: string;
  stage: GuardrailStage;
  action: GuardrailAction;
  /** The category that matched ("card", "deny", "json_schema", "max_input_tokens", a moderation category, "unavailable"). */
  category: string;
  /** Matches (redactions, flags); 1 for a block. */
  count: number;
}

/**
 * A text detector that can also say how much of a text's end is still undecided: how many of its
 * last characters could become part of a finding (or change whether one matches) once more text
 * is appended. A stream scanner holds back exactly those, instead of `maxMatchLength - 1`, so an
 * answer is delayed by a partial word, not by the longest pattern. Never more than
 * `maxMatchLength - 1`. Decisions may look at most `DETECTOR_CONTEXT` characters before a finding.
 */
export interface StreamingTextDetector extends TextDetector {
  pendingLength(text: string): number;
}

/** How far before a finding a detector may look to decide it (a key's name before its value). */
export const DETECTOR_CONTEXT = 128;
