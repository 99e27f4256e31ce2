// Guardrails as a stage of the engine. The configuration's guardrails are compiled once per config
// generation (detectors, webhooks, limits, schema checks); a request looks up the set it runs (its
// route's, team's and key's, the mandatory ones, and those it asks for); the input stage runs
// before any provider is called, the output stage on the whole answer or inside the stream.
// Detectors find; this file decides (block, redact, flag) and accounts for what it did.

import type { Context } from "@opentelemetry/api";
import type { Config, GuardrailConfig } from "../config/types.ts";
import { ConfigError } from "../config/schema.ts";
import type { ChatMessage, ResponseFormat, StreamEvent, ToolCall, UpstreamRequest } from "../providers/types.ts";
import { fileText, ProviderError } from "../providers/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { AnswerCheck, Execution } from "../router/execute.ts";
import type { Adjustment, Call, Plan } from "../router/types.ts";
import { guardrailEvents } from "../telemetry/tracing.ts";
import { createDenyDetector } from "./detectors/deny.ts";
import { createPromptInjectionDetector, PROMPT_INJECTION_CATEGORIES } from "./detectors/prompt-injection.ts";
import { createPiiDetector, PII_CATEGORIES, type PiiCategory } from "./detectors/pii.ts";
import { createSecretsDetector, SECRET_CATEGORIES, type SecretCategory } from "./detectors/secrets.ts";
import { checkJsonAnswer } from "./json-schema.ts";
import { createStreamRedactor, redactText, type ScanOutput } from "./scanner.ts";
import type { Finding, GuardrailAction, GuardrailActionRecord, GuardrailStage, TextDetector } from "./types.ts";
import { moderate, type Verdict } from "./webhook.ts";
import { azureContentSafety } from "./partners/azure-content-safety.ts";
import { bedrockGuardrail } from "./partners/bedrock.ts";
import { lakeraGuard } from "./partners/lakera.ts";
import { pdfText, type PdfText } from "./pdf-text.ts";

/** A guardrail that asks a service (a webhook, a partner's API) for its verdict. */
export interface RemoteCheck {
  ask(stage: GuardrailStage, text: string, signal: AbortSignal): Promise<Verdict>;
  /** What no usable answer means. */
  readonly fail: "open" | "closed";
}

/** One guardrail, compiled. */
export interface CompiledGuardrail {
  readonly config: GuardrailConfig;
  readonly name: string;
  readonly action: GuardrailAction;
  /** webhook and the partner services: how it asks for a verdict. */
  readonly remote?: RemoteCheck;
  /** pii, secrets, deny. */
  readonly detector?: TextDetector;
  /** The categories its detector reports: how a finding of a stage's scan is put down to it. */
  readonly categories: ReadonlySet<string>;
}

/** The guardrails of one stage, grouped the way the stage runs them. */
export interface StageSet {
  /** pii, secrets and deny guardrails, by action. */
  readonly block: readonly CompiledGuardrail[];
  readonly redact: readonly CompiledGuardrail[];
  readonly flag: readonly CompiledGuardrail[];
  /** The redact guardrails' detectors, scanned together in a stream (one hold-back, joined placeholders). */
  readonly redactDetectors: readonly TextDetector[];
  /** Two redact guardrails report a category in common: a stream counts per guardrail. */
  readonly redactShared: boolean;
  readonly webhooks: readonly CompiledGuardrail[];
  /** max_input_tokens (input only). */
  readonly limits: readonly CompiledGuardrail[];
  readonly empty: boolean;
}

/** The guardrails one request runs. */
export interface Selection {
  /** In configuration order. */
  readonly guardrails: readonly CompiledGuardrail[];
  readonly input: StageSet;
  readonly output: StageSet;
  /** The json_schema guardrail (the first, when several apply). */
  readonly jsonSchema?: CompiledGuardrail;
}

/** The configuration's guardrails, compiled: part of a config generation, swapped with it on reload. */
export interface GuardrailSet {
  /**
   * The set one request runs, or undefined when none applies. `route` is the route the request
   * named (or reached through an alias), "" for a deployment. A name the request asks for that
   * the configuration does not define is invalid_argument, naming the field.
   */
  select(call: Call, route: string): Selection | undefined;
  /**
   * The set of these guardrails (an MCP server's, `mcp_servers[].guardrails`), or undefined when
   * none: input stage for a call's arguments, output stage (and prompt_injection) for its result.
   */
  named(names: readonly string[]): Selection | undefined;
  /** The configuration's guardrails, in order (GuardrailService.ListGuardrails). */
  readonly all: readonly CompiledGuardrail[];
}

/** What running guardrails on one text did (GuardrailService.ApplyGuardrails). */
export type Applied =
  | { blocked: false; text: string; actions: GuardrailActionRecord[] }
  | { blocked: true; guardrail: string; category: string; message: string; actions: GuardrailActionRecord[] };

/**
 * Run these guardrails on a text at one stage, as a request's text would be (detectors, then the
 * webhooks and partner services; the guardrails that need a request or an answer, max_input_tokens
 * and json_schema, do nothing here). Unknown names are invalid_argument naming `field[i]`.
 */
export async function applyGuardrails(set: GuardrailSet, names: readonly string[], stage: GuardrailStage, text: string, signal: AbortSignal, field = "guardrails"): Promise<Applied> {
  if (names.length === 0) throw new GatewayError("invalid_argument", `${field}: name at least one guardrail`, { field });
  if (names.length > MAX_REQUESTED) throw new GatewayError("invalid_argument", `${field}: at most ${MAX_REQUESTED} guardrails, got ${names.length}`, { field });
  const gs = names.map((n, i) => set.all.find((g) => g.name === n) ?? (() => {
    throw new GatewayError("invalid_argument", `${field}[${i}]: unknown guardrail "${n}"`, { field: `${field}[${i}]` });
  })());
  const chosen = set.all.filter((g) => gs.includes(g) && g.config.stages.includes(stage));
  const sel = selection(chosen);
  if (!sel) return { blocked: false, text, actions: [] };
  const run = startRun(sel);
  try {
    const [out] = await guardTexts(run, stage, [text], signal);
    return { blocked: false, text: out!, actions: run.actions() };
  } catch (err) {
    if (!(err instanceof GatewayError) || err.details.guardrail === undefined) throw err;
    return { blocked: true, guardrail: err.details.guardrail, category: err.details.guardrailCategory ?? "", message: err.message, actions: run.actions() };
  }
}

/** Selections kept per (route, team, key, asked-for names); the map is cleared when it grows past this. */
const MEMO_LIMIT = 4096;
/** Most guardrails one request may ask for. */
const MAX_REQUESTED = 16;

/** Compile one guardrail's detector; errors name the field. */
function compileDetector(g: GuardrailConfig, path: string): TextDetector | undefined {
  const at = (field: string, err: unknown): never => {
    throw new ConfigError(`${path}.${field}`, (err as Error)?.message ?? String(err));
  };
  switch (g.kind) {
    case "pii":
      try {
        return createPiiDetector({ categories: g.pii?.categories as PiiCategory[] | undefined });
      } catch (err) {
        return at("pii.categories", err);
      }
    case "secrets":
      try {
        return createSecretsDetector({ categories: g.secrets?.categories as SecretCategory[] | undefined });
      } catch (err) {
        return at("secrets.categories", err);
      }
    case "deny":
      try {
        return createDenyDetector(g.deny!);
      } catch (err) {
        return at("deny", err);
      }
    case "prompt_injection":
      try {
        return createPromptInjectionDetector(g.promptInjection ?? {});
      } catch (err) {
        return at("prompt_injection.categories", err);
      }
    default:
      return undefined;
  }
}

function categoriesOf(g: GuardrailConfig): ReadonlySet<string> {
  if (g.kind === "pii") return new Set(g.pii?.categories ?? PII_CATEGORIES);
  if (g.kind === "secrets") return new Set(g.secrets?.categories ?? SECRET_CATEGORIES);
  if (g.kind === "prompt_injection") return new Set(g.promptInjection?.categories ?? PROMPT_INJECTION_CATEGORIES);
  return new Set(g.kind === "deny" ? ["deny"] : []);
}

/** How a guardrail that asks a service asks it (undefined for the others). */
function remoteCheck(g: GuardrailConfig, cfg: Config): RemoteCheck | undefined {
  switch (g.kind) {
    case "webhook": {
      const o = g.webhook!;
      return { ask: (stage, text, signal) => moderate(o, g.name, stage, text, signal), fail: o.fail };
    }
    case "bedrock_guardrail":
      return bedrockGuardrail(g.bedrockGuardrail!, cfg.providers.find((p) => p.name === g.bedrockGuardrail!.provider)!);
    case "azure_content_safety":
      return azureContentSafety(g.azureContentSafety!);
    case "lakera":
      return lakeraGuard(g.lakera!);
    default:
      return undefined;
  }
}

/** Check that a guardrail compiles (config load): a deny pattern that does not, an unknown category. */
export function checkGuardrail(g: GuardrailConfig, path: string): void {
  compileDetector(g, path);
}

function stageSet(gs: readonly CompiledGuardrail[], stage: GuardrailStage): StageSet {
  const at = gs.filter((g) => g.config.stages.includes(stage));
  const text = (a: GuardrailAction) => at.filter((g) => g.detector && g.action === a);
  const block = text("block");
  const redact = text("redact");
  const flag = text("flag");
  const s = {
    block,
    redact,
    flag,
    redactDetectors: redact.map((g) => g.detector!),
    redactShared: redact.some((g, i) => redact.some((h, j) => j > i && [...g.categories].some((c) => h.categories.has(c)))),
    webhooks: at.filter((g) => g.remote !== undefined),
    limits: at.filter((g) => g.config.kind === "max_input_tokens"),
    empty: false,
  };
  s.empty = s.block.length + s.redact.length + s.flag.length + s.webhooks.length + s.limits.length === 0;
  return s;
}

function selection(gs: CompiledGuardrail[]): Selection | undefined {
  if (gs.length === 0) return undefined;
  return { guardrails: gs, input: stageSet(gs, "input"), output: stageSet(gs, "output"), jsonSchema: gs.find((g) => g.config.kind === "json_schema") };
}

/** Compile a configuration's guardrails (once per config generation). */
export function compileGuardrails(cfg: Config): GuardrailSet {
  const all: CompiledGuardrail[] = (cfg.guardrails ?? []).map((g, i) => {
    const remote = remoteCheck(g, cfg);
    return { config: g, name: g.name, action: g.action, detector: compileDetector(g, `guardrails[${i}]`), categories: categoriesOf(g), ...(remote ? { remote } : {}) };
  });
  const byName = new Map(all.map((g) => [g.name, g]));
  const attached = (lists: { name: string; guardrails?: string[] }[]) => new Map(lists.filter((x) => x.guardrails?.length).map((x) => [x.name, new Set(x.guardrails)]));
  const routes = attached(cfg.routes);
  const teams = attached(cfg.teams);
  const keys = attached(cfg.keys);
  const memo = new Map<string, Selection | undefined>();
  return {
    all,
    select(call, route) {
      if (all.length === 0) return undefined;
      const asked = call.guardrails;
      const memoKey = `${route}\0${call.caller.team}\0${call.caller.keyName}${asked ? `\0${asked.names.join("\0")}` : ""}`;
      const hit = memo.get(memoKey);
      if (hit !== undefined || memo.has(memoKey)) return hit;
      let wanted: Set<string> | undefined;
      if (asked) {
        if (asked.names.length > MAX_REQUESTED) throw new GatewayError("invalid_argument", `${asked.field}: at most ${MAX_REQUESTED} guardrails, got ${asked.names.length}`, { field: asked.field });
        asked.names.forEach((n, i) => {
          if (!byName.has(n)) throw new GatewayError("invalid_argument", `${asked.field}[${i}]: unknown guardrail "${n}"`, { field: `${asked.field}[${i}]` });
        });
        wanted = new Set(asked.names);
      }
      const r = routes.get(route);
      const t = teams.get(call.caller.team);
      const k = keys.get(call.caller.keyName);
      const s = selection(all.filter((g) => g.config.mandatory || r?.has(g.name) || t?.has(g.name) || k?.has(g.name) || wanted?.has(g.name)));
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(memoKey, s);
      return s;
    },
    named(names) {
      const memoKey = `\u0001${names.join("\0")}`;
      if (memo.has(memoKey)) return memo.get(memoKey);
      const gs = all.filter((g) => names.includes(g.name));
      // A tool's result is what a model reads next: prompt_injection (an input guardrail of a model's
      // request) runs on results, not on the arguments a model wrote.
      const injection = (g: CompiledGuardrail) => g.config.kind === "prompt_injection";
      const results = gs.map((g) => (injection(g) ? { ...g, config: { ...g.config, stages: ["output"] as GuardrailStage[] } } : g));
      const s = gs.length ? { guardrails: gs, input: stageSet(gs.filter((g) => !injection(g)), "input"), output: stageSet(results, "output") } : undefined;
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(memoKey, s);
      return s;
    },
  };
}

/** What the guardrails did to one request, and what the caller is told about it. */
export interface GuardrailRun {
  readonly selection: Selection;
  note(g: CompiledGuardrail, stage: GuardrailStage, action: GuardrailAction, category: string, count: number): void;
  /** Every action so far, one entry per guardrail, stage, action and category. */
  actions(): GuardrailActionRecord[];
  /** Redactions at a stage, as adjustments: field "guardrail:<name>", detail "2 redactions (email, card)". */
  adjustments(stage: GuardrailStage): Adjustment[];
  /** Span events on the request's span (when traced): called once, when the request is recorded. */
  trace(ctx: Context | undefined): void;
}

export function startRun(selection: Selection): GuardrailRun {
  const acts = new Map<string, GuardrailActionRecord>();
  return {
    selection,
    note(g, stage, action, category, count) {
      const k = `${g.name}\0${stage}\0${action}\0${category}`;
      const a = acts.get(k);
      if (a) a.count += count;
      else acts.set(k, { name: g.name, stage, action, category, count });
    },
    actions: () => [...acts.values()],
    adjustments(stage) {
      const by = new Map<string, { n: number; cats: string[] }>();
      for (const a of acts.values()) {
        if (a.stage !== stage || a.action !== "redact") continue;
        const e = by.get(a.name) ?? { n: 0, cats: [] };
        e.n += a.count;
        e.cats.push(a.category);
        by.set(a.name, e);
      }
      return [...by].map(([name, e]) => ({ field: `guardrail:${name}`, detail: `${stage}: ${e.n} redaction${e.n === 1 ? "" : "s"} (${e.cats.join(", ")})` }));
    },
    trace(ctx) {
      if (acts.size) guardrailEvents(ctx, [...acts.values()]);
    },
  };
}

/** The error a block is: failed_precondition naming the guardrail and category, never the matched text. */
export function blockError(g: CompiledGuardrail, stage: GuardrailStage, category: string, why?: string): GatewayError {
  const what = stage === "input" ? "the request" : "the answer";
  return new GatewayError("failed_precondition", `guardrail "${g.name}" blocked ${what} (category ${category})${why ? `: ${why}` : ""}`, { guardrail: g.name, guardrailCategory: category });
}

/** A guardrail error with what the request was billed (an output block comes after the answer). */
export function billed(err: unknown, ex: Execution): unknown {
  if (!(err instanceof GatewayError) || !err.details.guardrail) return err;
  return new GatewayError(err.code, err.message, { ...err.details, attempts: ex.attempts, usage: ex.usage, usageEstimated: ex.usageEstimated, cost: ex.cost }, err.cause);
}

/** Count findings by category. */
function byCategory(fs: readonly Finding[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of fs) m.set(f.category, (m.get(f.category) ?? 0) + 1);
  return m;
}

/** Count findings, by category, for one guardrail. */
function noteFindings(run: GuardrailRun, stage: GuardrailStage, g: CompiledGuardrail, action: GuardrailAction, fs: readonly Finding[]): void {
  for (const [cat, n] of byCategory(fs)) run.note(g, stage, action, cat, n);
}

/**
 * Scan one whole text with a stage's detectors, each guardrail's detector once: a block finding
 * throws, flags are counted, redactions are applied (overlapping matches of several guardrails
 * joined into one placeholder by the scanner). Returns the text to send on (the same string when
 * nothing was redacted).
 */
function scanWhole(run: GuardrailRun, stage: GuardrailStage, set: StageSet, text: string, pdf?: string): string {
  if (!text) return text;
  for (const g of set.block) {
    const f = g.detector!.scan(text);
    if (f.length) {
      run.note(g, stage, "block", f[0].category, 1);
      throw blockError(g, stage, f[0].category, pdf && `found in ${pdf}`);
    }
  }
  for (const g of set.flag) noteFindings(run, stage, g, "flag", g.detector!.scan(text));
  if (set.redact.length === 0) return text;
  const found: Finding[] = [];
  for (const g of set.redact) {
    const f = g.detector!.scan(text);
    if (pdf && f.length) {
      // The text of a PDF cannot be replaced in it: what a redaction would hide must not leave.
      run.note(g, stage, "block", f[0].category, f.length);
      throw blockError(g, stage, f[0].category, `found in ${pdf}, and a PDF cannot be redacted`);
    }
    noteFindings(run, stage, g, "redact", f);
    for (const x of f) found.push(x);
  }
  if (found.length === 0) return text;
  // The findings are in hand: the scanner only joins and applies them.
  return redactText([{ kind: "pii", maxMatchLength: 1, scan: () => found }], text).text;
}

/** Ask the stage's webhooks about `text`, side by side; a refusal (or a closed failure) throws. */
async function runWebhooks(run: GuardrailRun, stage: GuardrailStage, hooks: readonly CompiledGuardrail[], text: string, signal: AbortSignal): Promise<void> {
  if (hooks.length === 0 || !text) return;
  const verdicts = await Promise.all(hooks.map((g) => g.remote!.ask(stage, text, signal)));
  if (signal.aborted) throw new GatewayError("canceled", "request canceled");
  let blocked: GatewayError | undefined;
  verdicts.forEach((v, i) => {
    const g = hooks[i];
    if (v.answered) {
      if (v.allow) return;
      const category = v.category ?? "moderation";
      run.note(g, stage, g.action, category, 1);
      if (g.action === "block") blocked ??= blockError(g, stage, category);
    } else if (g.remote!.fail === "closed") {
      run.note(g, stage, "block", "unavailable", 1);
      blocked ??= blockError(g, stage, "unavailable", `${v.why}; this guardrail fails closed`);
    } else {
      run.note(g, stage, "flag", "unavailable", 1);
    }
  });
  if (blocked) throw blocked;
}

/** Where one text of a request sits, so a redaction can be put back in each candidate's copy. */
interface TextEdits {
  /** message index → part index → new text. */
  parts: Map<number, Map<number, string>>;
  /** message index → tool-call index → new arguments. */
  args: Map<number, Map<number, string>>;
}

function setEdit(m: Map<number, Map<number, string>>, i: number, j: number, text: string) {
  let inner = m.get(i);
  if (!inner) m.set(i, (inner = new Map()));
  inner.set(j, text);
}

function applyEdits(messages: ChatMessage[], e: TextEdits): ChatMessage[] {
  return messages.map((m, i) => {
    const parts = e.parts.get(i);
    const args = e.args.get(i);
    if (!parts && !args) return m;
    return {
      ...m,
      content: parts
        ? m.content.map((p, j) => {
            if (!parts.has(j)) return p;
            if (p.type === "text") return { ...p, text: parts.get(j)! };
            // A text document whose content a redaction changed.
            if (p.type === "file") return { ...p, data: Buffer.from(parts.get(j)!, "utf8") };
            return p;
          })
        : m.content,
      ...(args && m.toolCalls ? { toolCalls: m.toolCalls.map((t, j) => (args.has(j) ? { ...t, arguments: args.get(j)! } : t)) } : {}),
    };
  });
}

/** max_input_tokens against the planner's estimate: a block throws, a flag is noted. */
function inputLimits(run: GuardrailRun, set: StageSet, plan: Plan, what: string): void {
  for (const g of set.limits) {
    const limit = g.config.maxInputTokens!.limit;
    if (plan.estimatedInputTokens <= limit) continue;
    run.note(g, "input", g.action, "max_input_tokens", 1);
    if (g.action === "block") throw blockError(g, "input", "max_input_tokens", `${what} estimated at ${plan.estimatedInputTokens} tokens, over the limit of ${limit}`);
  }
}

/**
 * A PDF's text against the input stage: scanned as any text, except that a redaction cannot be
 * made inside a PDF, so a redact guardrail that finds something blocks instead (scanWhole). A PDF
 * that cannot be read blocks when a block or redact guardrail applies (it could not be checked)
 * and is flagged otherwise. Returns the text for the webhooks.
 */
function scanPdf(run: GuardrailRun, set: StageSet, pdf: PdfText, name: string): string {
  if ("error" in pdf) {
    const g = set.block[0] ?? set.redact[0];
    if (g) {
      run.note(g, "input", "block", "unreadable_pdf", 1);
      throw blockError(g, "input", "unreadable_pdf", `${name}: ${pdf.error}, so it could not be checked`);
    }
    for (const f of set.flag) run.note(f, "input", "flag", "unreadable_pdf", 1);
    return "";
  }
  scanWhole(run, "input", set, pdf.text, name);
  return pdf.text;
}

/**
 * The input stage, before any provider is called: max_input_tokens against the planner's estimate,
 * then every text the request carries (system prompts and messages of every role, tool-call
 * arguments, tool results, text documents, the text of PDFs; image parts are not checked), then
 * the webhooks (sent the text as it will leave, redactions applied). A block throws (nothing
 * reaches a provider); redactions are put into every candidate's request and reported in the
 * plan's adjustments. A PDF is read (pdf-text.ts) only when a scan or a webhook needs it.
 */
export async function guardInput(run: GuardrailRun, plan: Plan, request: Omit<UpstreamRequest, "model">, signal: AbortSignal): Promise<void> {
  const set = run.selection.input;
  if (set.empty) return;
  inputLimits(run, set, plan, "the input is");
  const edits: TextEdits = { parts: new Map(), args: new Map() };
  let edited = false;
  const hooks = set.webhooks.length > 0;
  const sent: string[] = [];
  const scans = set.block.length + set.redact.length + set.flag.length > 0;
  // PDFs are read first, side by side (message index, part index → its text).
  const pdfs = new Map<string, PdfText>();
  const reads: Promise<void>[] = [];
  request.messages.forEach((m, i) =>
    m.content.forEach((p, j) => {
      if ((scans || hooks) && p.type === "file" && p.mediaType === "application/pdf") reads.push(pdfText(p.data).then((t) => void pdfs.set(`${i}:${j}`, t)));
    }),
  );
  if (reads.length) await Promise.all(reads);
  if (signal.aborted) throw new GatewayError("canceled", "request canceled");
  request.messages.forEach((m, i) => {
    m.content.forEach((p, j) => {
      const pdf = pdfs.get(`${i}:${j}`);
      if (pdf) {
        const text = scans ? scanPdf(run, set, pdf, p.type === "file" && p.filename ? `the PDF "${p.filename}"` : "a PDF") : "text" in pdf ? pdf.text : "";
        if (hooks && text) sent.push(text);
        return;
      }
      const text = p.type === "text" ? p.text : p.type === "file" ? fileText(p) : undefined;
      if (text === undefined) return;
      const out = scans ? scanWhole(run, "input", set, text) : text;
      if (out !== text) {
        setEdit(edits.parts, i, j, out);
        edited = true;
      }
      if (hooks) sent.push(out);
    });
    m.toolCalls?.forEach((t, j) => {
      const out = scans ? scanWhole(run, "input", set, t.arguments) : t.arguments;
      if (out !== t.arguments) {
        setEdit(edits.args, i, j, out);
        edited = true;
      }
      if (hooks) sent.push(out);
    });
  });
  if (edited) {
    // Candidates share message arrays when fitting changed nothing: edit each distinct one once.
    const done = new Map<ChatMessage[], ChatMessage[]>();
    for (const c of plan.candidates) {
      let messages = done.get(c.request.messages);
      if (!messages) done.set(c.request.messages, (messages = applyEdits(c.request.messages, edits)));
      c.request = { ...c.request, messages };
    }
    plan.adjustments = [...plan.adjustments, ...run.adjustments("input")];
  }
  if (hooks) await runWebhooks(run, "input", set.webhooks, sent.join("\n\n"), signal);
}

/**
 * The input stage for an embeddings request: the same rules as a chat prompt's, on each input
 * text (max_input_tokens on the plan's estimate; block, redact and flag per input; the webhooks
 * see the inputs as they will leave, joined by blank lines, once). Returns the inputs to send:
 * the same array when nothing was redacted, else a copy with the redactions, each input still at
 * its index. There is no output stage: a vector is not text.
 */
export async function guardEmbedInput(run: GuardrailRun, plan: Plan, inputs: readonly string[], signal: AbortSignal): Promise<readonly string[]> {
  const set = run.selection.input;
  if (set.empty) return inputs;
  inputLimits(run, set, plan, "the inputs are");
  const scans = set.block.length + set.redact.length + set.flag.length > 0;
  const out = scans ? inputs.map((text) => scanWhole(run, "input", set, text)) : inputs;
  const edited = out.some((text, i) => text !== inputs[i]);
  if (edited) plan.adjustments = [...plan.adjustments, ...run.adjustments("input")];
  if (set.webhooks.length) await runWebhooks(run, "input", set.webhooks, out.join("\n\n"), signal);
  return edited ? out : inputs;
}

/** A whole answer as the output stage sees it. */
export interface AnswerText {
  text: string;
  reasoning?: string;
  refusal?: string;
  toolCalls: ToolCall[];
}

/**
 * The output stage for a whole answer (unary, or a cached answer): text, reasoning, refusal and
 * tool-call arguments are scanned; then the webhooks see the answer as it will leave. A block
 * throws (the caller gets an error instead of the answer, and the answer is billed).
 */
export async function guardAnswer<A extends AnswerText>(run: GuardrailRun, a: A, signal: AbortSignal): Promise<A> {
  const set = run.selection.output;
  if (set.empty) return a;
  const scan = (t: string | undefined) => (t ? scanWhole(run, "output", set, t) : t);
  const out: A = { ...a, text: scan(a.text)!, reasoning: scan(a.reasoning), refusal: scan(a.refusal) };
  if (a.toolCalls.length) out.toolCalls = a.toolCalls.map((t) => ({ ...t, arguments: scan(t.arguments)! }));
  await runWebhooks(run, "output", set.webhooks, finalText(out), signal);
  return out;
}

/**
 * A stage over texts that are not a model's (an MCP tool call's arguments or results): each is
 * scanned (a block throws, redactions come back in place), then the stage's webhooks see them
 * together.
 */
export async function guardTexts(run: GuardrailRun, stage: GuardrailStage, texts: readonly string[], signal: AbortSignal): Promise<string[]> {
  const set = stage === "input" ? run.selection.input : run.selection.output;
  if (set.empty || texts.length === 0) return [...texts];
  const out = texts.map((t) => scanWhole(run, stage, set, t));
  await runWebhooks(run, stage, set.webhooks, out.join("\n\n"), signal);
  return out;
}

/** What an output webhook is sent: the answer's text, refusal and tool-call arguments. */
function finalText(a: AnswerText): string {
  const parts = [a.text];
  if (a.refusal) parts.push(a.refusal);
  for (const t of a.toolCalls) parts.push(t.arguments);
  return parts.filter(Boolean).join("\n\n");
}

/** Whether a request's response format asks for JSON (what json_schema checks). */
const jsonFormat = (f: ResponseFormat | undefined): f is Exclude<ResponseFormat, { type: "text" }> => f !== undefined && f.type !== "text";

/**
 * The json_schema guardrail as the executor's answer check (unary): an answer that is not JSON or
 * does not validate fails its attempt (billed, failure kind "guardrail"); on_failure retry asks for
 * one more try at the same deployment, then the next candidate; fallback goes straight to it; flag
 * accepts the answer and records it.
 */
export function answerCheck(run: GuardrailRun, format: ResponseFormat | undefined): AnswerCheck | undefined {
  const g = run.selection.jsonSchema;
  if (!g || !jsonFormat(format)) return undefined;
  const onFailure = g.config.jsonSchema!.onFailure;
  return (res, candidate, ex) => {
    const c = checkJsonAnswer(res.text, format);
    if (c.ok) return undefined;
    if (onFailure === "flag") {
      run.note(g, "output", "flag", "json_schema", 1);
      return undefined;
    }
    run.note(g, "output", "block", "json_schema", 1);
    const before = ex.attempts.filter((a) => a.deployment === candidate.deployment.id && a.failureKind === "guardrail").length;
    return new ProviderError({ kind: "guardrail", message: `guardrail "${g.name}": ${c.reason}`, retryable: onFailure === "retry" && before === 0 });
  };
}

/** A request that failed because every answer failed json_schema: the error names the guardrail. */
export function schemaFailure(run: GuardrailRun | undefined, err: unknown): unknown {
  const g = run?.selection.jsonSchema;
  if (!g || !(err instanceof GatewayError) || err.details.failureKind !== "guardrail" || err.details.guardrail) return err;
  return new GatewayError(err.code, err.message, { ...err.details, guardrail: g.name, guardrailCategory: "json_schema" }, err.cause);
}

/** The output stage inside a stream. */
export interface StreamGuard {
  /** Scan one batch of content events: returns what may be sent now (redacted; the scanner's hold-back kept). A block throws. */
  batch(events: StreamEvent[]): StreamEvent[];
  /** The upstream stream ended: release what is held back (scanned), then run the end-of-stream checks. */
  end(signal: AbortSignal): Promise<StreamEvent[]>;
}

/**
 * The output stage of a stream, or undefined when it has none. Text, reasoning, refusal and each
 * tool call's arguments are scanned incrementally, in one pass, by the scanner (which holds back
 * only what a match split across chunks needs); webhooks and json_schema run on the whole text at
 * the end, when it has already been delivered: they can flag, or end the stream with an error.
 */
/**
 * Whether the output stage holds back or rewrites text (a block or redact guardrail): then the
 * answer's token log probabilities are not returned, since their tokens would show the text
 * before it was scanned.
 */
export function hidesLogprobs(run: GuardrailRun): boolean {
  const s = run.selection.output;
  return s.block.length + s.redact.length > 0;
}

/** The adjustment that says so. */
export const LOGPROBS_HIDDEN = {
  field: "logprobs",
  detail: "not returned: an output guardrail blocks or redacts text, and the tokens would show it before the scan",
} as const;

export function streamGuard(run: GuardrailRun, format: ResponseFormat | undefined): StreamGuard | undefined {
  const set = run.selection.output;
  const schema = jsonFormat(format) ? run.selection.jsonSchema : undefined;
  const scans = set.block.length + set.redact.length + set.flag.length > 0;
  const keep = set.webhooks.length > 0 || schema !== undefined;
  if (!scans && !keep) return undefined;
  const channels = new Map<string, Channel>();
  const channel = (key: string) => {
    let c = channels.get(key);
    if (!c) channels.set(key, (c = openChannel(run, set)));
    return c;
  };
  // The whole answer as sent, for the end-of-stream checks.
  let text = "";
  let refusal = "";
  const args: string[] = [];
  const sent = (e: StreamEvent) => {
    if (!keep) return;
    if (e.type === "text") text += e.text;
    else if (e.type === "refusal") refusal += e.text;
    else if (e.type === "tool_call_delta") args[e.index] = (args[e.index] ?? "") + e.argumentsDelta;
  };
  const pass = (events: StreamEvent[], out: StreamEvent[]) => {
    for (const e of events) {
      let r: StreamEvent | undefined = e;
      if (scans) {
        if (e.type === "text" || e.type === "reasoning" || e.type === "refusal") {
          const t = channel(e.type).push(e.text);
          r = t ? { type: e.type, text: t } : undefined;
        } else if (e.type === "tool_call_delta") {
          const t = channel(`tool:${e.index}`).push(e.argumentsDelta);
          r = t ? { type: e.type, index: e.index, argumentsDelta: t } : undefined;
        }
      }
      if (r) {
        sent(r);
        out.push(r);
      }
    }
  };
  return {
    batch(events) {
      const out: StreamEvent[] = [];
      pass(events, out);
      return out;
    },
    async end(signal) {
      const out: StreamEvent[] = [];
      for (const [key, c] of channels) {
        const t = c.end();
        if (!t) continue;
        const e: StreamEvent = key.startsWith("tool:") ? { type: "tool_call_delta", index: Number(key.slice(5)), argumentsDelta: t } : { type: key as "text", text: t };
        sent(e);
        out.push(e);
      }
      if (schema) {
        const c = checkJsonAnswer(text, format);
        if (!c.ok) {
          const flag = schema.config.jsonSchema!.onFailure === "flag";
          run.note(schema, "output", flag ? "flag" : "block", "json_schema", 1);
          // Delivered already: a stream cannot retry or fall back after its commit point.
          if (!flag) throw blockError(schema, "output", "json_schema", c.reason);
        }
      }
      await runWebhooks(run, "output", set.webhooks, finalText({ text, refusal, toolCalls: args.filter((a) => a !== undefined).map((a) => ({ id: "", name: "", arguments: a })) }), signal);
      return out;
    },
  };
}

/** One stream channel's scanner: text in, scanned text out (held back, redacted); a block throws. */
interface Channel {
  push(s: string): string;
  end(): string;
}

/**
 * One stream channel's scanners. Flag scanners see the text as it arrives and delay nothing. Each
 * block guardrail has its own scanner, side by side on the same text: the channel lets out what all
 * of them have decided (the longest hold-back, not their sum), and a finding names its guardrail
 * and throws before anything from its start is let out. Then one scanner for all the redact
 * guardrails replaces their findings; when two of them report the same category, a flag scanner
 * per guardrail counts which one matched.
 */
function openChannel(run: GuardrailRun, set: StageSet): Channel {
  const flags = set.flag.map((g) => ({ g, r: createStreamRedactor([g.detector!], "flag") }));
  const blocks = set.block.map((g) => ({ g, r: createStreamRedactor([g.detector!], "block"), out: 0 }));
  const redact = set.redact.length ? createStreamRedactor(set.redactDetectors, "redact") : undefined;
  const counters = set.redactShared ? set.redact.map((g) => ({ g, r: createStreamRedactor([g.detector!], "flag") })) : undefined;
  let undecided = ""; // text every block scanner has not yet let out
  let released = 0; // characters the block stage has let out
  const step = (chunk: string, final: boolean): string => {
    for (const f of flags) noteFindings(run, "output", f.g, "flag", (final ? f.r.end() : f.r.push(chunk)).findings);
    let text = chunk;
    if (blocks.length) {
      undecided += chunk;
      let upTo = Infinity;
      for (const b of blocks) {
        const r = final ? b.r.end() : b.r.push(chunk);
        if (r.findings.length) {
          const cat = r.findings[0].category;
          run.note(b.g, "output", "block", cat, 1);
          throw blockError(b.g, "output", cat);
        }
        b.out += r.text.length;
        upTo = Math.min(upTo, b.out);
      }
      text = undecided.slice(0, upTo - released);
      undecided = undecided.slice(upTo - released);
      released = upTo;
    }
    if (!redact) return text;
    let r: ScanOutput = text ? redact.push(text) : { text: "", findings: [] };
    if (final) {
      const last = redact.end();
      r = { text: r.text + last.text, findings: [...r.findings, ...last.findings] };
    }
    if (counters) {
      for (const c of counters) {
        const a = text ? c.r.push(text).findings : [];
        noteFindings(run, "output", c.g, "redact", final ? [...a, ...c.r.end().findings] : a);
      }
    } else {
      for (const [cat, n] of byCategory(r.findings)) run.note(set.redact.find((g) => g.categories.has(cat)) ?? set.redact[0], "output", "redact", cat, n);
    }
    return r.text;
  };
  return { push: (s) => step(s, false), end: () => step("", true) };
}

/** A cached answer's stream batches through the output stage, all of it before anything is sent. */
export async function guardReplay(sg: StreamGuard, batches: Iterable<StreamEvent[]>, signal: AbortSignal): Promise<StreamEvent[][]> {
  const out: StreamEvent[][] = [];
  for (const b of batches) {
    const e = sg.batch(b);
    if (e.length) out.push(e);
  }
  const tail = await sg.end(signal);
  if (tail.length) out.push(tail);
  return out;
}

/**
 * A guardrail blocked a stream while its upstream attempt runs: end the attempt as failed (kind
 * guardrail, billed for what arrived) and return the error to throw, with what was billed.
 */
export async function stopForGuardrail(upstream: AsyncGenerator<unknown>, err: unknown, ex: Execution): Promise<unknown> {
  await upstream.throw(new ProviderError({ kind: "guardrail", message: (err as Error)?.message ?? "blocked by a guardrail" })).catch(() => {});
  return billed(err, ex);
}
