// LiteLLM's proxy configuration (`config.yaml`: model_list, router_settings, litellm_settings,
// general_settings, credential_list, guardrails, mcp_servers) as a Signalbox configuration, for
// `signalbox config import`. What maps:
// - each model_list entry → a deployment on a provider connection (one connection per distinct
//   credential set: prefix, api_base, api_key, api_version, AWS or Vertex settings), its prices,
//   context window, rate limits, model budget and operation (model_info.mode);
// - each model_name → a route of the entries sharing it (LiteLLM's model group), ordered as the
//   router_settings' routing_strategy orders them (simple-shuffle by weight, rpm or tpm;
//   least-busy, usage-based, latency-based and cost-based routing; `order` as priorities), with
//   the group's fallbacks (fallbacks, default_fallbacks, context-window and content-policy
//   fallbacks), retries and timeouts; model_group_alias → aliases;
// - the cache (on every route, semantic when cache_params say so), Redis and PostgreSQL, the master
//   key (hashed, never copied), Slack alerting, usage callbacks that have a Signalbox export
//   (Langfuse, Datadog, S3, GCS), guardrails that have a Signalbox kind (Presidio → pii, Lakera,
//   Bedrock, Azure Content Safety, hide-secrets), MCP servers.
// Everything else is a note naming the setting and what to use instead. `os.environ/NAME` becomes
// `${NAME}`; the importer reads no environment and no file, so a secret given as `os.environ/…`
// stays a reference, and one written in the file stays as written (listed in literalSecrets).

import { createHash } from "node:crypto";
import { lookupModel } from "../catalog.ts";
import type { Operation } from "../types.ts";
import type { ImportNote, ImportResult } from "./types.ts";

/** LiteLLM's provider prefixes ("openai/gpt-4o") whose API a Signalbox provider type speaks as it is. */
export const PROVIDER_TYPE_OF: Record<string, string> = { openai: "openai", azure: "azure", anthropic: "anthropic", gemini: "gemini", openrouter: "openrouter", cohere: "cohere", cohere_chat: "cohere" };
/** Prefixes LiteLLM serves over OpenAI's API: an openai-compatible provider at the given api_base. */
export const OPENAI_LIKE = new Set(["openai_like", "hosted_vllm", "vllm", "ollama", "ollama_chat", "lm_studio", "groq", "together_ai", "deepseek", "mistral", "fireworks_ai", "xai", "perplexity", "deepinfra", "nvidia_nim", "cerebras", "sambanova"]);
/** LiteLLM's `mode` for each operation a deployment serves. */
export const MODE_OF: Record<Operation, string> = { chat: "chat", embeddings: "embedding", rerank: "rerank", images: "image_generation", transcription: "audio_transcription", speech: "audio_speech", moderation: "moderation", realtime: "realtime", search: "search", ocr: "ocr" };
export const OPERATION_OF = Object.fromEntries(Object.entries(MODE_OF).map(([op, mode]) => [mode, op])) as Record<string, Operation>;

/** Where each OpenAI-compatible prefix is served when the entry gives no api_base (LiteLLM's defaults), and the Signalbox vendor quirks it needs. */
export const OPENAI_LIKE_DEFAULTS: Record<string, { base?: string; vendor?: string }> = {
  groq: { base: "https://api.groq.com/openai/v1", vendor: "groq" },
  mistral: { base: "https://api.mistral.ai/v1", vendor: "mistral" },
  together_ai: { base: "https://api.together.xyz/v1", vendor: "together" },
  deepseek: { base: "https://api.deepseek.com/v1" },
  xai: { base: "https://api.x.ai/v1" },
  fireworks_ai: { base: "https://api.fireworks.ai/inference/v1" },
  perplexity: { base: "https://api.perplexity.ai" },
  deepinfra: { base: "https://api.deepinfra.com/v1/openai" },
  nvidia_nim: { base: "https://integrate.api.nvidia.com/v1" },
  cerebras: { base: "https://api.cerebras.ai/v1" },
  sambanova: { base: "https://api.sambanova.ai/v1" },
  ollama: { base: "http://localhost:11434/v1", vendor: "ollama" },
  ollama_chat: { base: "http://localhost:11434/v1", vendor: "ollama" },
  lm_studio: { base: "http://localhost:1234/v1" },
  hosted_vllm: { vendor: "vllm" },
  vllm: { vendor: "vllm" },
  openai_like: {},
};

/** The variable LiteLLM reads a provider's key from when the entry gives none. */
const DEFAULT_KEY_ENV: Record<string, string> = {
  openai: "OPENAI_API_KEY",
  azure: "AZURE_API_KEY",
  anthropic: "ANTHROPIC_API_KEY",
  gemini: "GEMINI_API_KEY",
  openrouter: "OPENROUTER_API_KEY",
  cohere: "COHERE_API_KEY",
  cohere_chat: "COHERE_API_KEY",
  groq: "GROQ_API_KEY",
  mistral: "MISTRAL_API_KEY",
  together_ai: "TOGETHERAI_API_KEY",
  deepseek: "DEEPSEEK_API_KEY",
  xai: "XAI_API_KEY",
  fireworks_ai: "FIREWORKS_AI_API_KEY",
  perplexity: "PERPLEXITYAI_API_KEY",
  deepinfra: "DEEPINFRA_API_KEY",
  nvidia_nim: "NVIDIA_NIM_API_KEY",
  cerebras: "CEREBRAS_API_KEY",
  sambanova: "SAMBANOVA_API_KEY",
};

/** The name a connection of each kind takes (the first one; later ones get -2, -3, …). */
const CONNECTION_NAME: Record<string, string> = { vertex_ai: "vertex", together_ai: "together", fireworks_ai: "fireworks", ollama_chat: "ollama", hosted_vllm: "vllm", openai_like: "openai-compatible", cohere_chat: "cohere", cohere_compat: "cohere-chat", text_completion_openai: "openai" };

/** LiteLLM's routing strategies and the route strategy each becomes. */
const STRATEGY_OF: Record<string, string> = {
  "simple-shuffle": "weighted",
  "least-busy": "least-busy",
  "usage-based-routing": "usage",
  "usage-based-routing-v2": "usage",
  "latency-based-routing": "latency",
  "cost-based-routing": "cost",
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** A model_list entry, read. */
interface Entry {
  index: number;
  group: string;
  deploymentId: string;
  weight?: number;
  rpm?: number;
  tpm?: number;
  order?: number;
  timeoutS?: number;
  streamTimeoutS?: number;
  /** LiteLLM's tag-based routing: the request tags this deployment serves ("default": untagged requests). */
  tags?: string[];
  /** A wildcard deployment named as its group: callers reach it by name, with no route. */
  wildcard?: boolean;
}

/**
 * Convert a parsed LiteLLM config. Throws an Error naming the path for what is no LiteLLM config at
 * all (not an object, model_list not a list); everything else becomes config or notes.
 */
export function importLiteLLM(doc: unknown, opts: { masterKey?: (name: string) => string | undefined } = {}): ImportResult {
  if (!isObj(doc)) throw new Error("the file is not a LiteLLM config: expected a mapping with model_list");
  if (doc.model_list !== undefined && !Array.isArray(doc.model_list)) throw new Error("model_list: must be a list of {model_name, litellm_params}");
  const notes: ImportNote[] = [];
  const env: string[] = [];
  const literalSecrets: string[] = [];
  const secretValues: string[] = [];
  const literal = (path: string, value: string) => {
    literalSecrets.push(path);
    secretValues.push(value);
  };
  const note = (path: string, kind: ImportNote["kind"], detail: string) => notes.push({ path, kind, detail });

  // os.environ/NAME → ${NAME}, anywhere in a string (LiteLLM reads it only as the whole value).
  // LiteLLM sets the file's environment_variables before it reads the rest: a reference to one of
  // them takes the file's value as its default (the environment's, when set, wins here).
  const fileEnv = new Map<string, string>();
  if (isObj(doc.environment_variables))
    for (const [k, v] of Object.entries(doc.environment_variables)) if ((typeof v === "string" || typeof v === "number") && !String(v).includes("}")) fileEnv.set(k, String(v));
  const usedFileEnv = new Set<string>();
  const ref = (v: unknown): unknown => {
    if (typeof v === "string") {
      const m = /^os\.environ\/([A-Za-z_][A-Za-z0-9_]*)$/.exec(v.trim());
      if (m && fileEnv.has(m[1])) {
        usedFileEnv.add(m[1]);
        return `\${${m[1]}:-${fileEnv.get(m[1])}}`;
      }
      if (m) {
        if (!env.includes(m[1])) env.push(m[1]);
        return `\${${m[1]}}`;
      }
      return v;
    }
    if (Array.isArray(v)) return v.map(ref);
    if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, ref(x)]));
    return v;
  };
  const envRef = (name: string) => {
    if (!env.includes(name)) env.push(name);
    return `\${${name}}`;
  };
  const str = (v: unknown): string | undefined => (typeof v === "string" && v.trim() ? (ref(v.trim()) as string) : undefined);
  /** A credential: carried as a reference, or as written (then listed to be moved into the environment). */
  const secret = (v: unknown, path: string): string | undefined => {
    const s = str(v);
    if (s !== undefined && !s.startsWith("${")) literal(path, s);
    return s;
  };
  // LiteLLM reads its file as YAML 1.1, where 80_000 is a number; YAML 1.2 (this reader) keeps it a string.
  const num = (v: unknown): number | undefined => {
    if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
    const t = typeof v === "string" ? v.trim().replace(/(\d)_(?=\d)/g, "$1") : "";
    return t && Number.isFinite(Number(t)) ? Number(t) : undefined;
  };

  const router = isObj(doc.router_settings) ? doc.router_settings : {};
  const settings = isObj(doc.litellm_settings) ? doc.litellm_settings : {};
  const general = isObj(doc.general_settings) ? doc.general_settings : {};
  const credentials = new Map<string, Obj>();
  if (Array.isArray(doc.credential_list))
    doc.credential_list.forEach((c, i) => {
      if (isObj(c) && typeof c.credential_name === "string" && isObj(c.credential_values)) credentials.set(c.credential_name, c.credential_values);
      else note(`credential_list[${i}]`, "dropped", "not a {credential_name, credential_values} entry");
    });

  // ---- Provider connections, one per distinct credential set. ----
  const providers: Obj[] = [];
  const connectionByKey = new Map<string, string>();
  const taken = new Set<string>();
  const connection = (kind: string, spec: Obj): string => {
    const key = JSON.stringify([kind, spec]);
    const known = connectionByKey.get(key);
    if (known) return known;
    const base = (CONNECTION_NAME[kind] ?? kind).toLowerCase().replace(/[^a-z0-9_.-]+/g, "-");
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    taken.add(name);
    connectionByKey.set(key, name);
    providers.push({ name, ...spec });
    return name;
  };

  // ---- Deployments. ----
  const deployments: Obj[] = [];
  const ids = new Set<string>();
  const deploymentBySpec = new Map<string, string>();
  const entries: Entry[] = [];
  const list = (doc.model_list ?? []) as unknown[];
  // A model_name that is also a deployment's natural id (openai/gpt-4o as the group of openai/gpt-4o)
  // is the group's: the deployment takes another id, so the caller's name reaches the route (and its
  // fallbacks, retries and cache), as it reached LiteLLM's model group.
  const groupNames = new Set(list.flatMap((x) => (isObj(x) && typeof x.model_name === "string" ? [x.model_name] : [])));
  list.forEach((raw, i) => {
    const at = `model_list[${i}]`;
    if (!isObj(raw) || typeof raw.model_name !== "string" || !raw.model_name || !isObj(raw.litellm_params)) {
      note(at, "dropped", "not a {model_name, litellm_params} entry");
      return;
    }
    const group = raw.model_name;
    const cred = typeof raw.litellm_params.litellm_credential_name === "string" ? credentials.get(raw.litellm_params.litellm_credential_name) : undefined;
    if (typeof raw.litellm_params.litellm_credential_name === "string" && !cred) note(`${at}.litellm_params.litellm_credential_name`, "manual", `no credential "${raw.litellm_params.litellm_credential_name}" in credential_list: give the provider its api_key`);
    const lp: Obj = { ...(cred ?? {}), ...raw.litellm_params };
    const info = isObj(raw.model_info) ? raw.model_info : {};
    const model = str(lp.model);
    if (!model) {
      note(`${at}.litellm_params.model`, "dropped", "no model: the entry was left out");
      return;
    }
    const target = placeOf(model, lp, info, `${at}.litellm_params`);
    if ("unsupported" in target) {
      note(`${at}.litellm_params.model`, "dropped", target.unsupported);
      return;
    }
    const name = connection(target.kind, target.spec);
    const upstream = target.model;
    const wildcard = upstream.endsWith("*");
    // The id comes once the deployment is known: the same deployment in two model groups is one.
    const d: Obj = { provider: name, model: upstream };
    const later: ((id: string) => void)[] = [];
    const baseModel = str(info.base_model);
    if (baseModel) d.base_model = baseModel.replace(/^azure\//, "");
    // Prices: LiteLLM's per token (and per cached token) → Signalbox's per million.
    const perMillion = (usd: number) => Math.round(usd * 1e12) / 1e6;
    const price = (k: string) => num(lp[k] ?? info[k]);
    const pricing: Obj = {};
    const inCost = price("input_cost_per_token");
    const outCost = price("output_cost_per_token");
    const cached = price("cache_read_input_token_cost");
    const write = price("cache_creation_input_token_cost");
    if (inCost !== undefined) pricing.input = perMillion(inCost);
    if (outCost !== undefined) pricing.output = perMillion(outCost);
    if (cached !== undefined) pricing.cached_input = perMillion(cached);
    if (write !== undefined) pricing.cache_write = perMillion(write);
    const perSecond = price("input_cost_per_second") ?? price("output_cost_per_second");
    if (perSecond !== undefined) note(`${at}.litellm_params.input_cost_per_second`, "manual", "prices per second of compute have no counterpart: set pricing per million tokens (or per_minute for transcription)");
    const mode = str(info.mode);
    const operation = mode ? OPERATION_OF[mode] : undefined;
    if (mode && !operation) note(`${at}.model_info.mode`, "dropped", `mode "${mode}" has no counterpart here (${Object.keys(OPERATION_OF).join(", ")} do): the deployment serves chat`);
    if (operation && operation !== "chat") d.operations = [operation];
    // A model the built-in catalog does not price needs prices to load: zero, said loudly.
    const known = lookupModel(baseModel?.replace(/^azure\//, "") ?? upstream);
    if (!wildcard && !known && (pricing.input === undefined || pricing.output === undefined)) {
      pricing.input ??= 0;
      pricing.output ??= 0;
      later.push((id) => note(`${at}.litellm_params.model`, "manual", `"${upstream}" is not in the built-in price table and the entry gives no input_cost_per_token/output_cost_per_token: priced at 0 (free) until you set pricing.input and pricing.output (USD per million tokens) on deployment ${id}`));
    }
    if (Object.keys(pricing).length) d.pricing = pricing;
    const maxIn = num(info.max_input_tokens ?? lp.max_input_tokens);
    const maxOut = num(info.max_output_tokens ?? info.max_tokens ?? lp.max_output_tokens);
    if (maxIn) d.context_window = maxIn;
    if (maxOut) d.max_output_tokens = maxOut;
    if (!wildcard && !known && !maxIn) d.context_window = 128_000;
    // Older configs give rpm and tpm beside litellm_params, which LiteLLM's router reads too.
    const rpm = num(lp.rpm ?? raw.rpm);
    const tpm = num(lp.tpm ?? raw.tpm);
    for (const k of Object.keys(raw)) if (!["model_name", "litellm_params", "model_info", "rpm", "tpm"].includes(k)) note(`${at}.${k}`, "dropped", "not read by this import");
    if (rpm || tpm) d.limits = { ...(rpm ? { requests_per_minute: Math.round(rpm) } : {}), ...(tpm ? { tokens_per_minute: Math.round(tpm) } : {}) };
    const maxBudget = num(lp.max_budget);
    if (maxBudget !== undefined) {
      const period = periodOf(str(lp.budget_duration));
      if (period) d.budget = { period, limit_usd: maxBudget };
      else note(`${at}.litellm_params.budget_duration`, "dropped", `a deployment's spending cap is per day, week or month here (1d, 7d, 30d/1mo): "${str(lp.budget_duration) ?? "none"}" was left out with max_budget`);
    }
    const tags = Array.isArray(lp.tags) ? lp.tags.filter((t): t is string => typeof t === "string" && t.length > 0) : undefined;
    // Everything else an entry sets is said, never silently lost.
    for (const k of Object.keys(raw.litellm_params)) {
      if (PARAMS_READ.has(k)) continue;
      note(`${at}.litellm_params.${k}`, "dropped", SAMPLING.has(k) ? `a default ${k} for every request has no counterpart here: callers send it (a route's max_output_tokens caps output)` : droppedWhy(k));
    }
    for (const k of Object.keys(info)) {
      if (INFO_READ.has(k)) continue;
      note(`${at}.model_info.${k}`, "dropped", k === "access_groups" ? "access groups are keys' allow lists here (keys[].allow: routes, aliases, deployments, wildcards)" : k.startsWith("supports_") ? (known ? "capabilities come from the built-in catalog for this model" : "set the deployment's capabilities (tools, vision, json_mode, streaming, …)") : "not read by this import");
    }
    if (info.id !== undefined) later.push((id) => note(`${at}.model_info.id`, "changed", `the deployment's id here is ${id}`));
    // A wildcard group ("*", "anthropic/*") is served by its wildcard deployment under the group's own
    // name: a request for "anthropic/claude-x" reaches it with no route, as LiteLLM's wildcard routing does.
    const wildcardId = wildcard && /^(?:\*|[A-Za-z0-9][A-Za-z0-9_.:/-]*\*)$/.test(group) && !ids.has(group) ? group : undefined;
    const same = JSON.stringify(d);
    let id = wildcardId ? undefined : deploymentBySpec.get(same);
    if (id === undefined) {
      const baseId = wildcardId ?? (wildcard ? `${name}/${upstream}` : `${name}/${upstream.replace(/[^A-Za-z0-9_.:/-]+/g, "-")}`);
      id = baseId;
      for (let n = 2; !wildcardId && (ids.has(id) || groupNames.has(id)); n++) id = `${baseId}-${n}`;
      ids.add(id);
      deploymentBySpec.set(same, id);
      if (id !== baseId && groupNames.has(baseId)) note(`${at}.litellm_params.model`, "changed", `the deployment's id is ${id}: "${baseId}" names the model group (its route)`);
      deployments.push({ id, ...d });
    }
    for (const f of later) f(id);
    entries.push({ index: i, group, deploymentId: id, ...(wildcardId ? { wildcard: true } : {}), weight: num(lp.weight), rpm, tpm, order: num(lp.order), timeoutS: num(lp.timeout), streamTimeoutS: num(lp.stream_timeout), ...(tags?.length ? { tags } : {}) });
  });

  /** Where a `prefix/model` runs: a connection's type and settings, and the model it is sent. */
  function placeOf(model: string, lp: Obj, info: Obj, at: string): { kind: string; spec: Obj; model: string } | { unsupported: string } {
    let prefix: string;
    let upstream: string;
    const slash = model.indexOf("/");
    if (slash > 0) {
      prefix = model.slice(0, slash);
      upstream = model.slice(slash + 1);
    } else {
      // LiteLLM infers the provider of a bare model name from its own price table.
      upstream = model;
      prefix = /^(gpt-|o[1-9]|chatgpt-|text-embedding-|dall-e|gpt-image|whisper|tts-|omni-moderation|text-moderation|davinci|babbage)/.test(model) ? "openai" : /^claude-/.test(model) ? "anthropic" : /^command|^embed-|^rerank-/.test(model) ? "cohere" : /^gemini-|^text-embedding-00|^imagen-/.test(model) ? "vertex_ai" : "";
      if (!prefix) return { unsupported: `"${model}" has no provider prefix and is not a model LiteLLM (or this importer) recognises: write it as provider/model` };
    }
    if (prefix === "text-completion-openai") prefix = "openai";
    // LiteLLM appends its paths to api_base as written; a trailing slash would double one here.
    const apiBase = str(lp.api_base)?.replace(/\/+$/, "") ?? (prefix === "azure" ? envRef("AZURE_API_BASE") : undefined);
    // No key given: LiteLLM reads the provider's usual variable, and so will the gateway.
    const apiKey = secret(lp.api_key, `${at}.api_key`) ?? (DEFAULT_KEY_ENV[prefix] && !(prefix === "openai" && apiBase && !/^https:\/\/api\.openai\.com/.test(apiBase)) ? envRef(DEFAULT_KEY_ENV[prefix]) : undefined);
    const headers = isObj(lp.extra_headers) ? (ref(lp.extra_headers) as Obj) : isObj(lp.headers) ? (ref(lp.headers) as Obj) : undefined;
    const organization = str(lp.organization);
    const extra: Obj = { ...(headers || organization ? { headers: { ...(headers ?? {}), ...(organization ? { "OpenAI-Organization": organization } : {}) } } : {}) };
    if (prefix === "azure" || prefix === "azure_text") {
      if (!apiBase) return { unsupported: "an Azure deployment needs api_base (the resource's endpoint): left out" };
      const apiVersion = str(lp.api_version);
      if (!apiVersion) note(`${at}.api_version`, "changed", "no api_version: the gateway's default Azure API version is used");
      if (lp.azure_ad_token !== undefined || lp.tenant_id !== undefined) note(`${at}.azure_ad_token`, "manual", "Entra ID tokens for Azure OpenAI are not read from the config: use an api_key");
      return { kind: "azure", spec: { type: "azure", base_url: apiBase, ...(apiKey ? { api_key: apiKey } : {}), ...(apiVersion ? { api_version: apiVersion } : {}), ...extra }, model: upstream };
    }
    if (prefix === "bedrock" || prefix === "sagemaker_chat") {
      if (prefix !== "bedrock") return { unsupported: `${prefix}/… has no counterpart here` };
      // bedrock/converse/<id> and bedrock/invoke/<id> pick LiteLLM's route to the same model; the gateway always uses Converse.
      const m = upstream.replace(/^(converse|invoke)\//, "");
      if (m !== upstream) note(`${at}.model`, "changed", `"${upstream}": the gateway calls Bedrock's Converse API for every model`);
      // LiteLLM's own variable for the region when the entry names none.
      const region = str(lp.aws_region_name) ?? envRef("AWS_REGION_NAME");
      for (const k of ["aws_role_name", "aws_profile_name", "aws_session_name", "aws_web_identity_token", "aws_bedrock_runtime_endpoint"])
        if (lp[k] !== undefined) note(`${at}.${k}`, "manual", `${k} is not read: give the provider aws.access_key_id and aws.secret_access_key (or the AWS_* environment)`);
      const aws: Obj = { region };
      const id = secret(lp.aws_access_key_id, `${at}.aws_access_key_id`);
      const key = secret(lp.aws_secret_access_key, `${at}.aws_secret_access_key`);
      const token = secret(lp.aws_session_token, `${at}.aws_session_token`);
      if (id) aws.access_key_id = id;
      if (key) aws.secret_access_key = key;
      if (token) aws.session_token = token;
      return { kind: "bedrock", spec: { type: "bedrock", aws, ...extra }, model: m };
    }
    if (prefix === "vertex_ai" || prefix === "vertex_ai_beta") {
      const project = str(lp.vertex_project) ?? "${VERTEXAI_PROJECT}";
      const location = str(lp.vertex_location) ?? "${VERTEXAI_LOCATION}";
      for (const [k, v] of [["VERTEXAI_PROJECT", lp.vertex_project], ["VERTEXAI_LOCATION", lp.vertex_location]] as const) if (v === undefined && !env.includes(k)) env.push(k);
      const vertex: Obj = { project, location };
      const creds = lp.vertex_credentials;
      if (typeof creds === "string") {
        const c = ref(creds) as string;
        // A path, or the service account's JSON itself (as LiteLLM takes either).
        if (c.trim().startsWith("{")) {
          vertex.credentials_json = c;
          literal(`${at}.vertex_credentials`, c);
        } else if (c.startsWith("${")) vertex.credentials_json = c;
        else vertex.credentials_file = c;
        if (c.startsWith("${")) note(`${at}.vertex_credentials`, "changed", "read as the service account's JSON (credentials_json); if the variable holds a file's path, use vertex.credentials_file instead");
      } else if (isObj(creds)) {
        vertex.credentials_json = JSON.stringify(creds);
        literal(`${at}.vertex_credentials`, vertex.credentials_json as string);
      }
      // Vertex's Claude ids keep their @date; the gateway picks the publisher by the id.
      const m = upstream.replace(/^(anthropic|google|gemini)\//, (p) => (p === "gemini/" ? "" : p));
      return { kind: "vertex_ai", spec: { type: "vertex", vertex, ...(apiBase ? { base_url: apiBase } : {}), ...extra }, model: m };
    }
    // Signalbox's cohere type serves embeddings and rerank; Cohere's chat models go through its OpenAI-compatible API.
    if ((prefix === "cohere" || prefix === "cohere_chat") && !isCohereNonChat(upstream, info.mode)) {
      note(`${at}.model`, "changed", `"${model}" is a chat model: reached through Cohere's OpenAI-compatible API (https://api.cohere.ai/compatibility/v1), as an openai-compatible provider`);
      return { kind: "cohere_compat", spec: { type: "openai-compatible", base_url: apiBase ?? "https://api.cohere.ai/compatibility/v1", ...(apiKey ? { api_key: apiKey } : {}), ...extra }, model: upstream };
    }
    const type = PROVIDER_TYPE_OF[prefix];
    if (type) {
      // An openai/ entry with its own api_base is LiteLLM's way to reach any OpenAI-compatible server.
      if (type === "openai" && apiBase && !/^https:\/\/api\.openai\.com/.test(apiBase)) {
        return { kind: "openai_like", spec: { type: "openai-compatible", base_url: apiBase, ...(apiKey ? { api_key: apiKey } : {}), ...extra }, model: upstream };
      }
      return { kind: prefix, spec: { type, ...(apiBase ? { base_url: apiBase } : {}), ...(apiKey ? { api_key: apiKey } : {}), ...extra }, model: upstream };
    }
    if (OPENAI_LIKE.has(prefix)) {
      const dflt = OPENAI_LIKE_DEFAULTS[prefix] ?? {};
      // LiteLLM's ollama api_base is the server's root; its OpenAI-compatible API is under /v1.
      const base = apiBase && (prefix === "ollama" || prefix === "ollama_chat") && !/\/v1\/?$/.test(apiBase) ? `${apiBase.replace(/\/+$/, "")}/v1` : (apiBase ?? dflt.base);
      if (!base) return { unsupported: `${prefix}/… needs api_base (the server's address): left out` };
      return { kind: prefix, spec: { type: "openai-compatible", base_url: base, ...(apiKey ? { api_key: apiKey } : {}), ...(dflt.vendor ? { compat: { vendor: dflt.vendor } } : {}), ...extra }, model: upstream };
    }
    return { unsupported: `LiteLLM provider "${prefix}" has no counterpart here (openai, azure, anthropic, gemini, vertex_ai, bedrock, openrouter, cohere and OpenAI-compatible servers do): left out` };
  }

  /** Whether a Cohere model is one of its embeddings or rerank models (by the entry's mode, else the catalog, else its name). */
  function isCohereNonChat(m: string, mode: unknown): boolean {
    if (mode === "embedding" || mode === "rerank") return true;
    if (mode !== undefined || m.endsWith("*")) return false;
    const ops = lookupModel(m)?.operations;
    return ops ? ops.some((o) => o === "embeddings" || o === "rerank") : /^(embed|rerank)-/.test(m);
  }

  // ---- Routes: one per model group, named as callers name it. ----
  const strategyName = str(router.routing_strategy) ?? "simple-shuffle";
  const strategy = STRATEGY_OF[strategyName];
  if (!strategy) note("router_settings.routing_strategy", "changed", `"${strategyName}" has no counterpart: routes keep their targets' order (priority)`);
  if (isObj(router.routing_strategy_args)) note("router_settings.routing_strategy_args", "dropped", "the latency strategy's settings are routes[].latency {epsilon, stale_after_ms}");
  const groups = new Map<string, Entry[]>();
  for (const e of entries) groups.set(e.group, [...(groups.get(e.group) ?? []), e]);
  const routeNameOf = new Map<string, string>();
  const aliases: Record<string, string> = {};
  const routes: Obj[] = [];
  const routeNames = new Set<string>();
  for (const [group, all] of groups) {
    const es = all.filter((e) => !e.wildcard);
    if (es.length < all.length && all.length > 1) note(`model_list (model_name "${group}")`, "changed", `several deployments under a wildcard name: the first, ${all[0].deploymentId}, serves it`);
    if (!es.length) continue;
    // A route's name cannot hold "/" (openai/gpt-4o as a model_name): the route gets a name that can, and an alias keeps the caller's.
    let name = group.replace(/[^A-Za-z0-9_.:-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "") || "route";
    const base = name;
    for (let n = 2; routeNames.has(name) || ids.has(name); n++) name = `${base}-${n}`;
    routeNames.add(name);
    routeNameOf.set(group, name);
    if (name !== group) {
      if (ids.has(group)) note(`model_list (model_name "${group}")`, "changed", `the name is also a deployment's id: callers reach that deployment alone by it; the model group is route ${name}`);
      else aliases[group] = name;
    }
    // Tag-based routing: a deployment tagged serves the requests carrying one of its tags, those
    // tagged "default" (else all of the group) the others. Here: a route of each tag's deployments,
    // picked by a condition on the request's tags.
    const tags = [...new Set(es.flatMap((e) => e.tags ?? []))].filter((t) => t !== "default");
    const plain = tags.length && es.some((e) => e.tags?.includes("default")) ? es.filter((e) => e.tags?.includes("default")) : es;
    const route: Obj = { name, ...ordering(group, plain) };
    if (tags.length) {
      route.conditions = tags.map((tag) => {
        let sub = `${name}.${tag.replace(/[^A-Za-z0-9_.:-]+/g, "-")}`;
        const subBase = sub;
        for (let n = 2; routeNames.has(sub) || ids.has(sub) || groups.has(sub); n++) sub = `${subBase}-${n}`;
        routeNames.add(sub);
        routes.push({ name: sub, ...ordering(group, es.filter((e) => e.tags?.includes(tag))) });
        return { when: { tag: [tag] }, target: sub };
      });
      note(`model_list (model_name "${group}") tags`, "changed", `tag-based routing as route ${name}'s conditions: a request tagged ${tags.map((t) => `"${t}"`).join(", ")} goes to route ${tags.map((t) => `${name}.${t}`).join(", ")} (the first tag that matches, where LiteLLM pools every matching deployment); others to ${plain === es ? "every deployment of the group" : 'the deployments tagged "default"'}`);
    }
    const timeouts: Obj = {};
    const t = Math.max(...es.map((e) => e.timeoutS ?? 0));
    const st = Math.max(...es.map((e) => e.streamTimeoutS ?? 0));
    if (t > 0) timeouts.attempt_ms = Math.round(t * 1000);
    if (st > 0) timeouts.first_token_ms = Math.round(st * 1000);
    if (Object.keys(timeouts).length) route.timeouts = timeouts;
    routes.push(route);
  }
  /** How a model group's deployments are ordered, as router_settings' routing_strategy orders them. */
  function ordering(group: string, all: Entry[]): Obj {
    // Entries that became the same deployment count once (the first one's weight and order).
    const es = all.filter((e, i) => all.findIndex((x) => x.deploymentId === e.deploymentId) === i);
    if (es.some((e) => e.order !== undefined)) {
      // LiteLLM's order: the lowest first, the next order only when those fail.
      if (es.length > 1 && strategy && strategy !== "weighted") note(`router_settings.routing_strategy`, "changed", `model group "${group}" has order: its deployments are tried by order (priority), not by ${strategyName}`);
      return { strategy: "priority", targets: [...es].sort((a, b) => (a.order ?? Infinity) - (b.order ?? Infinity)).map((e) => e.deploymentId) };
    }
    if (es.length === 1) return { targets: [es[0].deploymentId] };
    if (strategy === "weighted") {
      // simple-shuffle draws by weight, else rpm, else tpm, else evenly.
      const by = es.every((e) => e.weight !== undefined) ? "weight" : es.every((e) => e.rpm !== undefined) ? "rpm" : es.every((e) => e.tpm !== undefined) ? "tpm" : undefined;
      const raw = es.map((e) => Math.max(1, Math.round((by ? (e[by] as number) : 1) * (by === "weight" ? 100 : 1))));
      // The same shares in the smallest whole numbers (rpm 600 and 300 are 2 and 1).
      const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
      const d = raw.reduce(gcd);
      return { strategy: "weighted", targets: es.map((e, i) => ({ deployment: e.deploymentId, weight: raw[i] / d })) };
    }
    return { ...(strategy ? { strategy } : {}), targets: es.map((e) => e.deploymentId) };
  }
  for (const e of entries) if (e.timeoutS !== undefined || e.streamTimeoutS !== undefined) note(`model_list[${e.index}].litellm_params.${e.timeoutS !== undefined ? "timeout" : "stream_timeout"}`, "changed", `route ${routeNameOf.get(e.group)}'s timeouts: timeout → attempt_ms, stream_timeout → first_token_ms (the longest of its deployments')`);
  const routeOf = (group: string) => routes.find((r) => r.name === routeNameOf.get(group));

  // model_group_alias: {alias: group} or {alias: {model, hidden}}.
  if (isObj(router.model_group_alias))
    for (const [alias, v] of Object.entries(router.model_group_alias)) {
      const to = typeof v === "string" ? v : isObj(v) && typeof v.model === "string" ? v.model : undefined;
      const route = to ? routeNameOf.get(to) : undefined;
      if (!route) note(`router_settings.model_group_alias.${alias}`, "dropped", `no model group "${to ?? ""}"`);
      else if (routeNames.has(alias) || ids.has(alias)) note(`router_settings.model_group_alias.${alias}`, "dropped", `"${alias}" already names a route or deployment`);
      else aliases[alias] = route;
    }

  // Fallbacks, by model group; each named group becomes its route.
  const fallbacksOf = (v: unknown, path: string, kind: "fallbacks" | "context" | "content") => {
    if (!Array.isArray(v)) return;
    let added = 0;
    v.forEach((item, i) => {
      if (!isObj(item)) return note(`${path}[${i}]`, "dropped", 'not a {"group": ["fallback", …]} entry');
      for (const [group, to] of Object.entries(item)) {
        const route = routeOf(group);
        if (!route) {
          note(`${path}[${i}].${group}`, "dropped", `no model group "${group}"`);
          continue;
        }
        const names = (Array.isArray(to) ? to : [to]).flatMap((x) => {
          const r = typeof x === "string" ? routeNameOf.get(x) : undefined;
          if (!r) note(`${path}[${i}].${group}`, "dropped", `fallback "${String(x)}" is no model group`);
          return r && r !== route.name ? [r] : [];
        });
        route.fallbacks = [...new Set([...((route.fallbacks as string[]) ?? []), ...names])];
        added += names.length;
        if (kind === "content" && names.length) route.fallback_on_content_filter = true;
      }
    });
    if (!added) return;
    if (kind === "context") note(path, "changed", "added as ordinary fallbacks: the planner already leaves out, before sending, every deployment whose context window cannot hold the prompt");
    if (kind === "content") note(path, "changed", "added as fallbacks, with fallback_on_content_filter: true on the routes they belong to");
  };
  for (const src of [
    ["router_settings", router],
    ["litellm_settings", settings],
  ] as const) {
    fallbacksOf(src[1].fallbacks, `${src[0]}.fallbacks`, "fallbacks");
    fallbacksOf(src[1].context_window_fallbacks, `${src[0]}.context_window_fallbacks`, "context");
    fallbacksOf(src[1].content_policy_fallbacks, `${src[0]}.content_policy_fallbacks`, "content");
  }
  const defaults = router.default_fallbacks ?? settings.default_fallbacks;
  if (Array.isArray(defaults)) {
    const names = defaults.flatMap((x) => (typeof x === "string" && routeNameOf.get(x) ? [routeNameOf.get(x)!] : []));
    for (const r of routes) if (!(r.fallbacks as string[] | undefined)?.length) {
      const own = names.filter((n) => n !== r.name);
      if (own.length) r.fallbacks = own;
    }
  }
  const retries = num(router.num_retries ?? settings.num_retries);
  if (retries !== undefined) for (const r of routes) r.retry = { max_retries: Math.min(10, Math.round(retries)) };
  const total = num(router.timeout ?? settings.request_timeout);
  if (total !== undefined) for (const r of routes) r.timeouts = { ...((r.timeouts as Obj) ?? {}), total_ms: Math.round(total * 1000) };
  const streamT = num(router.stream_timeout);
  if (streamT !== undefined) for (const r of routes) r.timeouts = { first_token_ms: Math.round(streamT * 1000), ...((r.timeouts as Obj) ?? {}) };
  for (const k of Object.keys(router)) if (!ROUTER_READ.has(k)) note(`router_settings.${k}`, "dropped", droppedWhy(k));

  // ---- State: Redis and PostgreSQL. ----
  const store: Obj = {};
  const cacheParams = isObj(settings.cache_params) ? settings.cache_params : {};
  const redisUrl = str(router.redis_url ?? cacheParams.redis_url);
  // LiteLLM's Redis also comes from REDIS_HOST, REDIS_PORT and REDIS_PASSWORD (the file's environment_variables among them).
  const fromEnv = (n: string) => (fileEnv.has(n) ? `os.environ/${n}` : undefined);
  const redisHost = str(router.redis_host ?? cacheParams.host ?? fromEnv("REDIS_HOST"));
  if (redisUrl) store.redis_url = redisUrl;
  else if (redisHost) {
    const port = str(String(router.redis_port ?? cacheParams.port ?? fromEnv("REDIS_PORT") ?? "6379"));
    const password = secret(router.redis_password ?? cacheParams.password ?? fromEnv("REDIS_PASSWORD"), router.redis_password !== undefined ? "router_settings.redis_password" : "litellm_settings.cache_params.password");
    store.redis_url = `redis://${password ? `:${password}@` : ""}${redisHost}:${port}`;
  }
  const db = str(general.database_url);
  if (db) {
    store.postgres_url = db;
    if (!db.startsWith("${")) literal("general_settings.database_url", db);
  }

  // ---- The response cache. ----
  if (settings.cache === true) {
    const type = str(cacheParams.type) ?? "local";
    const ttl = num(cacheParams.ttl);
    const cache: Obj = { enabled: true, ...(ttl ? { ttl_seconds: Math.round(ttl) } : {}) };
    if (type === "redis-semantic" || type === "qdrant-semantic") {
      const model = str(cacheParams.redis_semantic_cache_embedding_model ?? cacheParams.qdrant_semantic_cache_embedding_model);
      const route = model ? routeNameOf.get(model) : undefined;
      if (route) cache.semantic = { embedding: route, ...(num(cacheParams.similarity_threshold) ? { threshold: num(cacheParams.similarity_threshold) } : {}) };
      else note("litellm_settings.cache_params", "changed", "a semantic cache needs its embedding model among model_list's groups: exact matches only");
    } else if (!["local", "redis", "redis-cluster", "s3", "disk", "gcs", "azure-blob"].includes(type)) note("litellm_settings.cache_params.type", "changed", `"${type}": the gateway's own cache (in memory, or Redis with store.redis_url)`);
    for (const r of routes) r.cache = structuredClone(cache);
    if (!store.redis_url && type !== "local") note("litellm_settings.cache_params", "changed", "answers are cached in memory on each replica (give store.redis_url to share them)");
    for (const k of ["supported_call_types", "namespace", "mode"]) if (cacheParams[k] !== undefined) note(`litellm_settings.cache_params.${k}`, "dropped", droppedWhy(`cache.${k}`));
  }

  // ---- Keys: the master key, hashed. ----
  const keys: Obj[] = [];
  const master = general.master_key;
  if (typeof master === "string" && master) {
    const m = /^os\.environ\/(.+)$/.exec(master.trim());
    // The caller may read that one variable (the CLI does, from its own environment) so the key can be hashed.
    const fromEnv = m ? opts.masterKey?.(m[1]) : undefined;
    if (m && fromEnv) {
      keys.push({ name: "master", team: "platform", role: "admin", hash: `sha256:${createHash("sha256").update(fromEnv).digest("hex")}` });
      note("general_settings.master_key", "changed", `became keys[0] (admin, team platform) by the hash of ${m[1]}'s value: the same key works; the key itself is not in this file`);
    } else if (m) note("general_settings.master_key", "manual", `the master key comes from ${m[1]}, which this import does not read: add an admin key to keys[] (npm run hash-key prints a new key and its hash; until then auth is off)`);
    else {
      keys.push({ name: "master", team: "platform", role: "admin", hash: `sha256:${createHash("sha256").update(master).digest("hex")}` });
      note("general_settings.master_key", "changed", "became keys[0] (admin, team platform) by its hash: the same key works; the key itself is not in this file");
    }
  } else note("general_settings.master_key", "manual", "no master key: auth is off until keys[] has one (npm run hash-key)");

  // ---- Alerting. ----
  const alerts: Obj[] = [];
  if (Array.isArray(general.alerting) && general.alerting.includes("slack")) {
    alerts.push({ name: "slack", url: "${SLACK_WEBHOOK_URL}", format: "slack" });
    if (!env.includes("SLACK_WEBHOOK_URL")) env.push("SLACK_WEBHOOK_URL");
    if (general.alert_types !== undefined || general.alerting_threshold !== undefined) note("general_settings.alert_types", "changed", "every Signalbox alert event is sent (budgets, cooldowns, Redis and PostgreSQL outages, …): alerts[0].events narrows them");
  }
  for (const a of Array.isArray(general.alerting) ? general.alerting : []) if (a !== "slack") note("general_settings.alerting", "dropped", `"${String(a)}": alerts go to Slack or any JSON webhook (alerts[])`);

  // ---- Usage callbacks → exports. ----
  const exports: Obj[] = [];
  const callbacks = new Set<string>([...(Array.isArray(settings.success_callback) ? settings.success_callback : []), ...(Array.isArray(settings.callbacks) ? settings.callbacks : [])].filter((x): x is string => typeof x === "string"));
  const use = (...names: string[]) => names.forEach((n) => env.includes(n) || env.push(n));
  for (const cb of callbacks) {
    const from = Array.isArray(settings.success_callback) && settings.success_callback.includes(cb) ? "litellm_settings.success_callback" : "litellm_settings.callbacks";
    if (cb === "langfuse" || cb === "langfuse_otel") {
      exports.push({ name: "langfuse", type: "langfuse", public_key: "${LANGFUSE_PUBLIC_KEY}", secret_key: "${LANGFUSE_SECRET_KEY}", url: "${LANGFUSE_HOST:-https://cloud.langfuse.com}" });
      use("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY");
    } else if (cb === "datadog" || cb === "datadog_llm_observability") {
      exports.push({ name: "datadog", type: "datadog", api_key: "${DD_API_KEY}", site: "${DD_SITE:-datadoghq.com}" });
      use("DD_API_KEY");
    } else if (cb === "s3" || cb === "s3_v2") {
      const p = isObj(settings.s3_callback_params) ? settings.s3_callback_params : {};
      const bucket = str(p.s3_bucket_name);
      if (!bucket) note("litellm_settings.s3_callback_params.s3_bucket_name", "dropped", "the S3 export needs a bucket: left out");
      else
        exports.push({
          name: "s3",
          type: "s3",
          bucket,
          ...(str(p.s3_region_name) ? { region: str(p.s3_region_name) } : {}),
          ...(str(p.s3_path) ? { prefix: str(p.s3_path) } : {}),
          ...(str(p.s3_endpoint_url) ? { endpoint: str(p.s3_endpoint_url), path_style: true } : {}),
          ...(p.s3_aws_access_key_id ? { access_key_id: secret(p.s3_aws_access_key_id, "litellm_settings.s3_callback_params.s3_aws_access_key_id") } : {}),
          ...(p.s3_aws_secret_access_key ? { secret_access_key: secret(p.s3_aws_secret_access_key, "litellm_settings.s3_callback_params.s3_aws_secret_access_key") } : {}),
        });
    } else if (cb === "gcs_bucket") {
      exports.push({ name: "gcs", type: "gcs", bucket: "${GCS_BUCKET_NAME}", credentials_file: "${GCS_PATH_SERVICE_ACCOUNT}" });
      use("GCS_BUCKET_NAME", "GCS_PATH_SERVICE_ACCOUNT");
    } else if (cb === "otel" || cb === "opentelemetry" || cb === "arize" || cb === "arize_phoenix") note(from, "manual", `"${cb}": the gateway exports OpenTelemetry traces itself: set OTEL_EXPORTER_OTLP_ENDPOINT (and OTEL_LOGS_EXPORTER=otlp for usage as logs), or add a usage_export of type otlp`);
    else if (cb === "prometheus") note(from, "changed", '"prometheus": /metrics is always served');
    else note(from, "dropped", `"${cb}" has no usage export here (S3, GCS, Azure Blob, Datadog, Splunk, Langfuse, OTLP and any HTTP endpoint do)`);
  }
  if (Array.isArray(settings.failure_callback) && settings.failure_callback.length) note("litellm_settings.failure_callback", "changed", "failed requests are exported with the others (each record has its status)");

  // ---- Guardrails. ----
  const guardrails: Obj[] = [];
  const bedrockProvider = () => providers.find((p) => p.type === "bedrock")?.name as string | undefined;
  if (Array.isArray(doc.guardrails))
    doc.guardrails.forEach((g, i) => {
      const at = `guardrails[${i}]`;
      const gp = isObj(g) && isObj(g.litellm_params) ? g.litellm_params : undefined;
      const name = isObj(g) && typeof g.guardrail_name === "string" ? g.guardrail_name.replace(/[^A-Za-z0-9_.:-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "") : "";
      if (!gp || !name) return note(at, "dropped", "not a {guardrail_name, litellm_params: {guardrail, mode}} entry");
      const modes = (Array.isArray(gp.mode) ? gp.mode : [gp.mode]).filter((m): m is string => typeof m === "string");
      const input = modes.some((m) => m === "pre_call" || m === "during_call");
      const output = modes.some((m) => m === "post_call");
      const stage = input && output ? "both" : output ? "output" : "input";
      const common: Obj = { name, stage, ...(gp.default_on === true ? { mandatory: true } : {}) };
      if (modes.includes("logging_only")) note(`${at}.litellm_params.mode`, "changed", "logging_only: the guardrail flags (records) instead of acting");
      const action = modes.includes("logging_only") ? "flag" : undefined;
      const kind = String(gp.guardrail ?? "");
      if (kind === "presidio") guardrails.push({ ...common, kind: "pii", action: action ?? "redact" });
      else if (kind === "hide-secrets" || kind === "hide_secrets") guardrails.push({ ...common, kind: "secrets", action: action ?? "redact" });
      else if (kind === "lakera" || kind === "lakera_v2") {
        const key = secret(gp.api_key, `${at}.litellm_params.api_key`) ?? "${LAKERA_API_KEY}";
        if (!gp.api_key) use("LAKERA_API_KEY");
        guardrails.push({ ...common, kind: "lakera", ...(action ? { action } : {}), lakera: { api_key: key, ...(str(gp.api_base) ? { url: `${str(gp.api_base)!.replace(/\/+$/, "")}/v2/guard` } : {}), ...(str(gp.project_id) ? { project_id: str(gp.project_id) } : {}) } });
      } else if (kind === "bedrock") {
        const provider = bedrockProvider();
        if (!provider) return note(at, "manual", "a Bedrock guardrail runs through a Bedrock provider: add one (type bedrock) and this guardrail (kind bedrock_guardrail)");
        guardrails.push({ ...common, kind: "bedrock_guardrail", ...(action ? { action } : {}), bedrock_guardrail: { provider, guardrail_identifier: str(gp.guardrailIdentifier), ...(gp.guardrailVersion !== undefined ? { guardrail_version: String(gp.guardrailVersion) } : {}) } });
      } else if (kind === "azure/prompt_shield" || kind === "azure/text_moderations") {
        const endpoint = str(gp.api_base);
        if (!endpoint) return note(at, "dropped", "Azure Content Safety needs api_base (its endpoint)");
        guardrails.push({ ...common, kind: "azure_content_safety", ...(action ? { action } : {}), azure_content_safety: { endpoint, api_key: secret(gp.api_key, `${at}.litellm_params.api_key`) ?? "${AZURE_CONTENT_SAFETY_KEY}", ...(kind === "azure/prompt_shield" ? { prompt_shield: true } : {}) } });
        if (!gp.api_key) use("AZURE_CONTENT_SAFETY_KEY");
      } else note(at, "dropped", `guardrail "${kind}" has no counterpart here (pii, secrets, deny lists, prompt injection, JSON schema, webhooks, Bedrock Guardrails, Azure Content Safety and Lakera do; a webhook guardrail can call your own service)`);
    });

  // ---- MCP servers. ----
  const mcp: Obj[] = [];
  if (isObj(doc.mcp_servers))
    for (const [id, s] of Object.entries(doc.mcp_servers)) {
      const at = `mcp_servers.${id}`;
      const safe = id.replace(/[^A-Za-z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || "mcp";
      if (!isObj(s)) continue;
      if (typeof s.url === "string") {
        const headers: Obj = {};
        const token = secret(s.auth_value ?? s.authentication_token, `${at}.auth_value`);
        if (token) headers.Authorization = `Bearer ${token}`;
        if (isObj(s.extra_headers) || isObj(s.headers)) Object.assign(headers, ref(s.extra_headers ?? s.headers));
        mcp.push({ id: safe, url: str(s.url), ...(Object.keys(headers).length ? { headers } : {}), ...(typeof s.description === "string" ? { description: s.description } : {}), ...(Array.isArray(s.allowed_tools) ? { tools: s.allowed_tools } : {}) });
      } else if (typeof s.command === "string") mcp.push({ id: safe, command: s.command, ...(Array.isArray(s.args) ? { args: s.args.map(String) } : {}), ...(isObj(s.env) ? { env: ref(s.env) } : {}) });
      else note(at, "dropped", "neither a url nor a command");
      if (safe !== id) note(at, "changed", `its id here is ${safe}`);
    }

  // ---- Settings with no counterpart. ----
  for (const k of ["max_budget", "budget_duration"]) if (settings[k] !== undefined) note(`litellm_settings.${k}`, "manual", "a budget for the whole proxy has no counterpart: give teams or keys budgets (teams[].budget, keys[].budget)");
  for (const k of ["drop_params", "modify_params"]) if (settings[k] !== undefined) note(`litellm_settings.${k}`, "changed", "the gateway already sends each model only the parameters it accepts (README: Parameters each model accepts), and says what it left out");
  for (const k of ["set_verbose", "json_logs", "turn_off_message_logging", "redact_user_api_key_info"]) if (settings[k] !== undefined) note(`litellm_settings.${k}`, "dropped", "logs are JSON lines without prompts or keys; prompts are kept only where an export's capture_content says so");
  for (const k of Object.keys(settings)) if (!SETTINGS_READ.has(k)) note(`litellm_settings.${k}`, "dropped", droppedWhy(k));
  for (const k of Object.keys(general))
    if (!["master_key", "database_url", "alerting", "alert_types", "alerting_threshold"].includes(k)) note(`general_settings.${k}`, "dropped", droppedWhy(`general.${k}`));
  if (isObj(doc.environment_variables))
    for (const k of Object.keys(doc.environment_variables)) {
      if (usedFileEnv.has(k)) {
        note(`environment_variables.${k}`, "changed", `read as \${${k}:-…}: this file's value is the default, and the gateway's environment wins when it sets ${k}`);
        literal(`environment_variables.${k}`, fileEnv.get(k)!);
      } else note(`environment_variables.${k}`, "manual", "not referenced by anything imported; set it in the gateway's environment if something else needs it (its value is not copied here)");
    }
  for (const k of Object.keys(doc)) if (!["model_list", "router_settings", "litellm_settings", "general_settings", "environment_variables", "credential_list", "guardrails", "mcp_servers"].includes(k)) note(k, "dropped", "not read by this import");
  if (!deployments.length) note("model_list", "manual", "no model could be carried over: the config needs at least one deployment");

  const config: Obj = {
    ...(Object.keys(store).length ? { store } : {}),
    providers,
    deployments,
    ...(Object.keys(aliases).length ? { aliases } : {}),
    routes,
    ...(keys.length ? { keys } : {}),
    ...(guardrails.length ? { guardrails } : {}),
    ...(alerts.length ? { alerts } : {}),
    ...(exports.length ? { usage_export: exports } : {}),
    ...(mcp.length ? { mcp_servers: mcp } : {}),
  };
  // Every ${NAME} the config holds, including those a source value carried inside a string.
  for (const m of JSON.stringify(config).matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}/g)) if (!env.includes(m[1]) && !/:-/.test(m[0])) env.push(m[1]);
  return { from: "litellm", config, notes, env, literalSecrets, secretValues };
}

/** What the import reads of an entry's litellm_params (the rest is noted). */
const PARAMS_READ = new Set([
  "model", "api_key", "api_base", "api_version", "rpm", "tpm", "weight", "order", "timeout", "stream_timeout", "tags", "organization", "extra_headers", "headers",
  "input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost", "cache_creation_input_token_cost", "input_cost_per_second", "output_cost_per_second",
  "max_budget", "budget_duration", "max_input_tokens", "max_output_tokens", "litellm_credential_name",
  "aws_region_name", "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_role_name", "aws_profile_name", "aws_session_name", "aws_web_identity_token", "aws_bedrock_runtime_endpoint",
  "vertex_project", "vertex_location", "vertex_credentials", "azure_ad_token", "tenant_id",
]);
/** Request parameters LiteLLM lets an entry default. */
const SAMPLING = new Set(["temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop", "presence_penalty", "frequency_penalty", "reasoning_effort", "response_format", "n"]);
/** What the import reads of model_info (the rest is noted). */
const INFO_READ = new Set(["id", "mode", "base_model", "max_input_tokens", "max_output_tokens", "max_tokens", "input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost", "cache_creation_input_token_cost", "description"]);
/** What the import reads of router_settings (the rest is noted). */
const ROUTER_READ = new Set(["routing_strategy", "routing_strategy_args", "num_retries", "timeout", "stream_timeout", "redis_host", "redis_port", "redis_password", "redis_url", "fallbacks", "context_window_fallbacks", "content_policy_fallbacks", "default_fallbacks", "model_group_alias", "enable_tag_filtering"]);
/** What the import reads of litellm_settings (the rest is noted). */
const SETTINGS_READ = new Set(["cache", "cache_params", "success_callback", "callbacks", "failure_callback", "s3_callback_params", "fallbacks", "context_window_fallbacks", "content_policy_fallbacks", "default_fallbacks", "num_retries", "request_timeout", "max_budget", "budget_duration", "drop_params", "modify_params", "set_verbose", "json_logs", "turn_off_message_logging", "redact_user_api_key_info"]);

/** LiteLLM's budget_duration as a calendar period (a deployment's spending cap resets by the calendar). */
function periodOf(d: string | undefined): "day" | "week" | "month" | undefined {
  if (!d) return undefined;
  if (/^(1d|24h)$/.test(d)) return "day";
  if (/^(7d|1w)$/.test(d)) return "week";
  if (/^(30d|1mo|1M)$/.test(d)) return "month";
  return undefined;
}

/** Why a setting is left out, and what does its work here. */
function droppedWhy(k: string): string {
  const why: Record<string, string> = {
    max_retries: "retries are a route's (routes[].retry.max_retries)",
    drop_params: "the gateway already sends each model only the parameters it accepts",
    additional_drop_params: "the gateway already sends each model only the parameters it accepts",
    allowed_openai_params: "the gateway already sends each model only the parameters it accepts",
    merge_reasoning_content_in_choices: "reasoning comes back as reasoning_content (chat) or reasoning items (Responses)",
    region_name: "regions are the provider's settings (aws.region, vertex.location, an Azure endpoint)",
    mock_response: "use a mock provider (type: mock) for canned answers",
    allowed_fails: "a deployment cools down on its own failures (README: Behaviour worth knowing)",
    cooldown_time: "a deployment cools down on its own failures (README: Behaviour worth knowing)",
    allowed_fails_policy: "a deployment cools down on its own failures (README: Behaviour worth knowing)",
    retry_policy: "retries are a route's, by failure kind (routes[].retry.retry_on)",
    model_group_retry_policy: "retries are a route's, by failure kind (routes[].retry.retry_on)",
    retry_after: "retries back off by routes[].retry.base_delay_ms and honour Retry-After up to max_retry_after_ms",
    enable_pre_call_checks: "the planner always checks context windows and capabilities before sending",
    optional_pre_call_checks: "the planner always checks context windows and capabilities before sending",
    disable_cooldowns: "cooldowns are always on",
    provider_budget_config: "a provider's spending cap is providers[].budget",
    "cache.supported_call_types": "routes cache chat, embeddings and the other operations they serve",
    "cache.namespace": "cache keys are scoped by route and team",
    "cache.mode": "routes[].cache.enabled turns caching on per route",
    model_info: "not read by this import",
    deployment_affinity: "sticky routing is the request's routing.sticky_key (or user), per route",
    guardrails: "guardrails are the top-level guardrails list (imported from it)",
    default_team_settings: "teams are managed with AdminService (or teams[] in the file)",
    default_internal_user_params: "users are keys and end users here (AdminService)",
    max_internal_user_budget: "budgets are keys', teams' and end users'",
    request_timeout: "a route's timeouts.total_ms",
  };
  if (k.startsWith("general.")) {
    const g = k.slice(8);
    const general: Record<string, string> = {
      store_model_in_db: "models, routes and providers can always be added at run time (AdminService.PutConfigEntry, LiteLLM's /model/new) with store.postgres_url",
      ui_username: "the console signs in with a key or SSO (console.sso)",
      ui_password: "the console signs in with a key or SSO (console.sso)",
      allowed_routes: "keys' access is by route, alias and deployment (keys[].allow)",
      public_routes: "only the health probes answer without a key",
      enforce_user_param: "a key's per_user_limits and per_user_budget read the request's user",
      proxy_batch_write_at: "usage is written in batches off the response path",
      disable_spend_logs: "every request has a usage record",
      litellm_key_header_name: "the key is read from Authorization, x-api-key, x-goog-api-key and the peers' key headers",
      background_health_checks: "health_checks: {interval_seconds} checks deployments in the background",
      health_check_interval: "health_checks: {interval_seconds} checks deployments in the background",
      max_parallel_requests: "keys[].limits and routes' strategies bound the load",
      global_max_parallel_requests: "keys[].limits and routes' strategies bound the load",
    };
    return general[g] ?? "not read by this import";
  }
  return why[k] ?? "not read by this import";
}
