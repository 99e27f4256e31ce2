// The hot path's view of prompt templates: the config file's prompts[] (read-only) and the
// control store's (PromptService), in memory on every replica, and what a request naming one gets:
// the version its version or label picks, rendered with its variables. No I/O here, ever.

import { PLACEHOLDER, type PromptConfig } from "../config/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { ChatMessage } from "../providers/types.ts";
import type { Caller, ChatCall } from "../router/types.ts";
import type { ManagedPrompt, PromptParameters } from "./types.ts";

/** The label a request without a version gets, when the prompt has it. */
export const DEFAULT_LABEL = "production";

export interface PromptVersionView {
  version: string;
  model?: string;
  instructions?: string;
  messages: PromptConfig["messages"];
  /** The placeholders, in order of first use. */
  variables: string[];
  parameters?: PromptParameters;
  description: string;
  createdAt: number;
  createdBy: string;
}

/** A prompt as requests and PromptService see it, whichever its source. */
export interface PromptView {
  id: string;
  /** "" is shared. */
  team: string;
  source: "config" | "store";
  /** Oldest first. */
  versions: PromptVersionView[];
  /** Label → version. */
  labels: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

/** A template rendered for one request: its placeholders filled. */
export interface RenderedPrompt {
  id: string;
  version: string;
  model?: string;
  instructions?: string;
  messages: { role: string; content: string }[];
  variables: Record<string, string>;
  parameters?: PromptParameters;
}

export interface PromptLibrary {
  /** The prompt with this id: the config file's wins its id. */
  find(id: string): PromptView | undefined;
  /** Every prompt, by id. */
  list(): PromptView[];
  /** A store prompt changed (undefined: deleted). */
  setStore(id: string, p: ManagedPrompt | undefined): void;
  /** Replace every store prompt (a full resync). */
  replaceStore(all: ManagedPrompt[]): void;
}

/** The placeholders of some template texts, in order of first use. */
export function placeholders(texts: Iterable<string | undefined>): string[] {
  const out: string[] = [];
  for (const t of texts) if (t) for (const m of t.matchAll(PLACEHOLDER)) if (!out.includes(m[1])) out.push(m[1]);
  return out;
}

function storeView(p: ManagedPrompt): PromptView {
  return {
    id: p.id,
    team: p.team,
    source: "store",
    versions: p.versions.map((v) => ({
      version: String(v.version),
      ...(v.model ? { model: v.model } : {}),
      ...(v.instructions ? { instructions: v.instructions } : {}),
      messages: v.messages,
      variables: placeholders([v.instructions, ...v.messages.map((m) => m.content)]),
      ...(v.parameters ? { parameters: v.parameters } : {}),
      description: v.description,
      createdAt: v.createdAt,
      createdBy: v.createdBy,
    })),
    labels: Object.fromEntries(Object.entries(p.labels).map(([l, v]) => [l, String(v)])),
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

function configViews(prompts: readonly PromptConfig[], at: number): Map<string, PromptView> {
  const out = new Map<string, PromptView>();
  for (const p of prompts) {
    let v = out.get(p.id);
    if (!v) out.set(p.id, (v = { id: p.id, team: "", source: "config", versions: [], labels: {}, createdAt: at, updatedAt: at }));
    v.versions.push({
      version: p.version,
      ...(p.model ? { model: p.model } : {}),
      ...(p.instructions ? { instructions: p.instructions } : {}),
      messages: p.messages,
      variables: p.variables,
      description: "",
      createdAt: at,
      createdBy: "config",
    });
  }
  return out;
}

/** `configPrompts` is read at each lookup (a reload replaces it); its views are rebuilt when it changes. */
export function createPromptLibrary(configPrompts: () => readonly PromptConfig[] | undefined): PromptLibrary {
  const store = new Map<string, PromptView>();
  let cfgSource: readonly PromptConfig[] | undefined;
  let cfg = new Map<string, PromptView>();
  const config = () => {
    const now = configPrompts() ?? [];
    if (now !== cfgSource) {
      cfgSource = now;
      cfg = configViews(now, Date.now());
    }
    return cfg;
  };
  return {
    find: (id) => config().get(id) ?? store.get(id),
    list() {
      const c = config();
      const all = [...c.values(), ...[...store.values()].filter((p) => !c.has(p.id))];
      return all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },
    setStore(id, p) {
      if (p && p.versions.length > 0) store.set(id, storeView(p));
      else store.delete(id);
    },
    replaceStore(all) {
      store.clear();
      for (const p of all) if (p.versions.length > 0) store.set(p.id, storeView(p));
    },
  };
}

/** Whether a caller may use (and read) a prompt: shared ones, its team's; everything for admins and with auth off. */
export function mayUse(p: PromptView, caller: Caller): boolean {
  return p.team === "" || caller.role === "admin" || caller.role === "anonymous" || caller.team === p.team;
}

/**
 * The version a request's `version` picks: a label, a version, or "latest"; none: the
 * "production" label when the prompt has it, else the newest. A 400 naming `field` otherwise.
 */
export function pickVersion(p: PromptView, version: string | undefined, field: string): PromptVersionView {
  const latest = p.versions[p.versions.length - 1];
  if (version === undefined || version === "") {
    const labelled = p.labels[DEFAULT_LABEL];
    return (labelled !== undefined ? p.versions.find((v) => v.version === labelled) : undefined) ?? latest;
  }
  if (version === "latest") return latest;
  const byLabel = p.labels[version];
  const v = p.versions.find((x) => x.version === (byLabel ?? version));
  if (v) return v;
  const labels = Object.keys(p.labels);
  throw new GatewayError(
    "invalid_argument",
    `${field}: prompt "${p.id}" has no version or label "${version}" (versions ${p.versions.map((x) => `"${x.version}"`).join(", ")}${labels.length ? `; labels ${labels.map((l) => `"${l}"`).join(", ")}` : ""})`,
    { field },
  );
}

/** The prompt a request names, for this caller: a 400 naming `idField` when there is none it may use. */
export function findPrompt(lib: PromptLibrary, caller: Caller, id: string, idField: string): PromptView {
  const p = lib.find(id);
  if (!p || !mayUse(p, caller)) throw new GatewayError("invalid_argument", `${idField}: no prompt "${id}"`, { field: idField });
  return p;
}

/**
 * Fills a version's placeholders from `given` (strings, or what `text` makes a string of): every
 * placeholder required, no others. Errors name `${field}.<name>` (field: where the variables are, `prompt.variables`).
 */
export function renderPrompt(p: PromptView, v: PromptVersionView, given: Record<string, unknown>, field: string, text: (value: unknown, path: string) => string = plainText): RenderedPrompt {
  const variables: Record<string, string> = {};
  const at = (k: string) => `${field}.${k}`;
  for (const [k, value] of Object.entries(given)) {
    if (!v.variables.includes(k)) {
      throw new GatewayError("invalid_argument", `${at(k)}: is not a variable of prompt "${p.id}" version "${v.version}" (it has ${v.variables.length ? v.variables.join(", ") : "none"})`, { field: at(k) });
    }
    variables[k] = text(value, at(k));
  }
  for (const name of v.variables) {
    if (!(name in variables)) throw new GatewayError("invalid_argument", `${at(name)}: is required by prompt "${p.id}" version "${v.version}"`, { field: at(name) });
  }
  const fill = (s: string) => s.replace(PLACEHOLDER, (_, name: string) => variables[name]);
  return {
    id: p.id,
    version: v.version,
    ...(v.model ? { model: v.model } : {}),
    ...(v.instructions ? { instructions: fill(v.instructions) } : {}),
    messages: v.messages.map((m) => ({ role: m.role, content: fill(m.content) })),
    variables,
    ...(v.parameters ? { parameters: v.parameters } : {}),
  };
}

/** A version's model parameters, where the request set none of its own. */
export function applyPromptParameters(req: ChatCall["request"], p: PromptParameters | undefined): void {
  if (!p) return;
  if (req.temperature === undefined && p.temperature !== undefined) req.temperature = p.temperature;
  if (req.topP === undefined && p.topP !== undefined) req.topP = p.topP;
  if (req.maxOutputTokens === undefined && p.maxOutputTokens !== undefined) req.maxOutputTokens = p.maxOutputTokens;
  if (req.stop === undefined && p.stop?.length) req.stop = [...p.stop];
  if (req.reasoningEffort === undefined && p.reasoningEffort !== undefined) req.reasoningEffort = p.reasoningEffort;
}

function plainText(value: unknown, path: string): string {
  if (typeof value === "string") return value;
  throw new GatewayError("invalid_argument", `${path}: must be a string`, { field: path });
}

/** The usage tag of a rendered prompt: GetUsage grouped by tag compares versions' cost and errors. */
export const promptTag = (r: RenderedPrompt): string => `prompt:${r.id}@${r.version}`;

/**
 * Puts a rendered prompt in front of a chat call: its instructions as a system message, then its
 * messages, then the call's own; its model when the call names none; its usage tag. Returns how
 * many messages it put in front (what `validatePrompted` shifts errors by).
 */
export function applyPrompt(call: ChatCall, r: RenderedPrompt): number {
  const lead: ChatMessage[] = [];
  if (r.instructions) lead.push({ role: "system", content: [{ type: "text", text: r.instructions }] });
  for (const m of r.messages) lead.push({ role: m.role as ChatMessage["role"], content: [{ type: "text", text: m.content }] });
  call.request = { ...call.request, messages: [...lead, ...call.request.messages] };
  applyPromptParameters(call.request, r.parameters);
  if (!call.model.trim() && r.model) call.model = r.model;
  call.tags = [...call.tags, promptTag(r)];
  return lead.length;
}

/**
 * Validates a call a prompt was put in front of: an error about the caller's own message i names
 * messages[i] as the caller sent it, not as it stands behind the prompt's.
 */
export function validatePrompted(offset: number, validate: () => void): void {
  if (offset === 0) return validate();
  try {
    validate();
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    const shift = (s: string) => s.replace(/\bmessages\[(\d+)\]/g, (all, n: string) => (Number(n) >= offset ? `messages[${Number(n) - offset}]` : all));
    throw new GatewayError(err.code, shift(err.message), { ...err.details, ...(err.details.field ? { field: shift(err.details.field) } : {}) }, err);
  }
}
