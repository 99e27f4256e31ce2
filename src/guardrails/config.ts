// The `guardrails:` section of the config file: each named guardrail's kind, stage, action and its
// kind's options, and the names routes, teams and keys attach. Validation only; every error names
// the field. src/guardrails/engine.ts compiles what this returns, once per configuration.

import type { GuardrailConfig, ProviderConfig } from "../config/types.ts";
import { bool, ConfigError, httpUrl, join, list, num, obj, opt, record, req, str, type V } from "../config/schema.ts";
import type { GuardrailAction, GuardrailKind, GuardrailStage } from "./types.ts";

const KINDS = ["pii", "secrets", "deny", "prompt_injection", "json_schema", "webhook", "max_input_tokens", "bedrock_guardrail", "azure_content_safety", "lakera"] as const satisfies readonly GuardrailKind[];
const ACTIONS = ["block", "redact", "flag"] as const satisfies readonly GuardrailAction[];
const STAGES = ["input", "output", "both"] as const;

/** The YAML key of each kind's options block. */
const OPTIONS_KEY: Record<GuardrailKind, string> = {
  pii: "pii",
  secrets: "secrets",
  deny: "deny",
  prompt_injection: "prompt_injection",
  json_schema: "json_schema",
  webhook: "webhook",
  max_input_tokens: "max_input_tokens",
  bedrock_guardrail: "bedrock_guardrail",
  azure_content_safety: "azure_content_safety",
  lakera: "lakera",
};

/** Where each kind can run, and the stage it runs at when `stage` is not given. */
const KIND_STAGES: Record<GuardrailKind, { allowed: readonly (typeof STAGES)[number][]; default: (typeof STAGES)[number] }> = {
  pii: { allowed: STAGES, default: "both" },
  secrets: { allowed: STAGES, default: "both" },
  deny: { allowed: STAGES, default: "both" },
  // Instructions smuggled into a prompt (or a tool result): the input only.
  prompt_injection: { allowed: ["input"], default: "input" },
  // A moderation service sees the prompt before the provider does, or the final answer.
  webhook: { allowed: STAGES, default: "input" },
  max_input_tokens: { allowed: ["input"], default: "input" },
  json_schema: { allowed: ["output"], default: "output" },
  // The partner services screen prompts, and answers too.
  bedrock_guardrail: { allowed: STAGES, default: "input" },
  azure_content_safety: { allowed: STAGES, default: "input" },
  lakera: { allowed: STAGES, default: "input" },
};

/** Kinds that find spans in text (so they can redact); the others can only block or flag. */
const TEXT_KINDS = new Set<GuardrailKind>(["pii", "secrets", "deny", "prompt_injection"]);

const categories = (v: unknown, p: string) => list(str({ min: 1 }), { min: 1 })(v, p);


/** How long a service is waited for, and what no answer means (every kind that asks one). */
const REMOTE = {
  timeout_ms: opt(num({ min: 1, max: 60_000, int: true }), 2_000),
  fail: opt(str({ oneOf: ["open", "closed"] }), "closed"),
};

const guardrailSpec = obj<any>({
  name: req(str({ min: 1, pattern: /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/ })),
  kind: req(str({ oneOf: KINDS })),
  stage: opt(str({ oneOf: STAGES })),
  action: opt(str({ oneOf: ACTIONS })),
  mandatory: opt(bool, false),
  pii: opt(obj({ categories: opt(categories) })),
  secrets: opt(obj({ categories: opt(categories) })),
  deny: opt(
    obj({
      words: opt(list(str({ min: 1 })), []),
      phrases: opt(list(str({ min: 1 })), []),
      patterns: opt(list(str({ min: 1 })), []),
      leetspeak: opt(bool),
    }),
  ),
  prompt_injection: opt(obj({ categories: opt(categories), phrases: opt(list(str({ min: 1 })), []) })),
  webhook: opt(
    obj({
      url: req(httpUrl),
      timeout_ms: opt(num({ min: 1, max: 60_000, int: true }), 2_000),
      fail: opt(str({ oneOf: ["open", "closed"] }), "closed"),
      headers: opt(record(str()), {}),
      format: opt(str({ oneOf: ["signalbox", "openai"] }), "signalbox"),
      model: opt(str({ min: 1 })),
    }),
  ),
  max_input_tokens: opt(obj({ limit: req(num({ min: 1, int: true })) })),
  bedrock_guardrail: opt(
    obj({
      provider: req(str({ min: 1 })),
      guardrail_identifier: req(str({ min: 1, pattern: /^[A-Za-z0-9:/._-]+$/ })),
      guardrail_version: opt(str({ min: 1, pattern: /^(DRAFT|[0-9]{1,8})$/ }), "DRAFT"),
      ...REMOTE,
    }),
  ),
  azure_content_safety: opt(
    obj({
      endpoint: req(httpUrl),
      api_key: req(str({ min: 1 })),
      api_version: opt(str({ min: 1 }), "2024-09-01"),
      categories: opt(list(str({ oneOf: ["Hate", "SelfHarm", "Sexual", "Violence"] }), { min: 1 }), ["Hate", "SelfHarm", "Sexual", "Violence"]),
      threshold: opt(num({ min: 0, max: 7, int: true }), 4),
      blocklists: opt(list(str({ min: 1 })), []),
      prompt_shield: opt(bool, false),
      ...REMOTE,
    }),
  ),
  lakera: opt(
    obj({
      api_key: req(str({ min: 1 })),
      url: opt(httpUrl, "https://api.lakera.ai/v2/guard"),
      project_id: opt(str({ min: 1 })),
      ...REMOTE,
    }),
  ),
  json_schema: opt(obj({ on_failure: opt(str({ oneOf: ["retry", "fallback", "flag"] }), "retry") }), { onFailure: "retry" }),
});

/** camelCase property of each kind's options block in the validated object. */
const OPTIONS_PROP: Record<GuardrailKind, keyof GuardrailConfig> = {
  pii: "pii",
  secrets: "secrets",
  deny: "deny",
  prompt_injection: "promptInjection",
  json_schema: "jsonSchema",
  webhook: "webhook",
  max_input_tokens: "maxInputTokens",
  bedrock_guardrail: "bedrockGuardrail",
  azure_content_safety: "azureContentSafety",
  lakera: "lakera",
};

/**
 * Validate one guardrail. `checkKind` lets the engine compile the kind's detector now (a deny
 * pattern that does not compile, an unknown category) so that the error names the field.
 */
export const guardrailEntry =
  (checkKind: (g: GuardrailConfig, path: string) => void): V<GuardrailConfig> =>
  (v, path) => {
    // json_schema's default options block would otherwise be present for every kind.
    const given = v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    const raw = guardrailSpec(v, path);
    const kind = raw.kind as GuardrailKind;
    for (const k of KINDS) {
      if (k !== kind && given[OPTIONS_KEY[k]] !== undefined) throw new ConfigError(join(path, OPTIONS_KEY[k]), `only applies to kind ${k} (this guardrail's kind is ${kind})`);
    }
    const stages = KIND_STAGES[kind];
    const stage = (raw.stage ?? stages.default) as (typeof STAGES)[number];
    if (!stages.allowed.includes(stage)) throw new ConfigError(join(path, "stage"), `kind ${kind} runs at ${stages.allowed.join(" or ")} only, got "${stage}"`);
    let action = raw.action as GuardrailAction | undefined;
    if (kind === "json_schema") {
      if (action !== undefined) throw new ConfigError(join(path, "action"), "kind json_schema takes json_schema.on_failure (retry, fallback or flag) instead of an action");
      action = raw.jsonSchema.onFailure === "flag" ? "flag" : "block";
    } else if (action === undefined) {
      throw new ConfigError(join(path, "action"), "is required (block, redact or flag)");
    } else if (action === "redact" && !TEXT_KINDS.has(kind)) {
      throw new ConfigError(join(path, "action"), `kind ${kind} finds no span of text to replace: use block or flag`);
    }
    if (kind === "webhook" && !raw.webhook) throw new ConfigError(join(path, "webhook"), "is required for kind webhook (url, timeout_ms, fail)");
    for (const [k, what] of [["bedrock_guardrail", "provider, guardrail_identifier"], ["azure_content_safety", "endpoint, api_key"], ["lakera", "api_key"]] as const) {
      if (kind === k && !raw[OPTIONS_PROP[k]]) throw new ConfigError(join(path, k), `is required for kind ${k} (${what})`);
    }
    if (kind === "max_input_tokens" && !raw.maxInputTokens) throw new ConfigError(join(path, "max_input_tokens"), "is required for kind max_input_tokens (limit)");
    if (kind === "deny") {
      const d = raw.deny;
      if (!d || d.words.length + d.phrases.length + d.patterns.length === 0) throw new ConfigError(join(path, "deny"), "needs at least one of words, phrases or patterns");
    }
    const g: GuardrailConfig = {
      name: raw.name,
      kind,
      stages: stage === "both" ? ["input", "output"] : [stage as GuardrailStage],
      action,
      mandatory: raw.mandatory,
    };
    const prop = OPTIONS_PROP[kind];
    const opts = raw[prop];
    if (opts !== undefined) (g as unknown as Record<string, unknown>)[prop] = opts;
    checkKind(g, path);
    return g;
  };

/** Validate the section and check every attached name exists. */
export function buildGuardrails(
  rawList: unknown,
  attached: { path: string; names: string[] | undefined }[],
  checkKind: (g: GuardrailConfig, path: string) => void,
): GuardrailConfig[] {
  const out = rawList === undefined || rawList === null ? [] : list(guardrailEntry(checkKind))(rawList, "guardrails");
  const names = new Set<string>();
  out.forEach((g, i) => {
    if (names.has(g.name)) throw new ConfigError(`guardrails[${i}].name`, `duplicate guardrail "${g.name}"`);
    names.add(g.name);
  });
  for (const a of attached) {
    a.names?.forEach((n, j) => {
      if (!names.has(n)) throw new ConfigError(`${a.path}[${j}]`, `unknown guardrail "${n}"${names.size ? ` (defined: ${[...names].join(", ")})` : " (the config defines no guardrails)"}`);
    });
  }
  return out;
}

/** The validator of an attachment list (`routes[].guardrails`, `teams[].guardrails`, `keys[].guardrails`). */
export const guardrailNames = list(str({ min: 1 }));

/** A Bedrock guardrail signs with a configured Bedrock provider's region and credentials: it must name one. */
export function checkGuardrailProvider(g: GuardrailConfig, path: string, providers: ReadonlyMap<string, ProviderConfig>): void {
  const name = g.bedrockGuardrail?.provider;
  if (name === undefined) return;
  const p = providers.get(name);
  if (!p) throw new ConfigError(join(path, "bedrock_guardrail.provider"), `unknown provider "${name}"`);
  if (p.type !== "bedrock") throw new ConfigError(join(path, "bedrock_guardrail.provider"), `provider "${name}" is of type ${p.type}; name a bedrock provider (its region and credentials sign the calls)`);
}
