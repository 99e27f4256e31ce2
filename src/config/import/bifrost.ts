// Bifrost's config.json (maximhq/bifrost, transports/config.schema.json) as a Signalbox config
// document: each provider's keys become provider connections, their models deployments and routes
// (Bifrost's weighted keys a weighted route), governance becomes keys and teams, and the client,
// stores, MCP clients and plugins their closest Signalbox settings. Whatever has no counterpart is
// an ImportNote naming its path in the source. Pure: it reads nothing, and a secret is only ever
// carried as `${VAR}` (Bifrost's `env.VAR`) or as the source file wrote it (listed in literalSecrets).
//
// Where Bifrost's format was read: transports/config.schema.json (providers, keys, network_config,
// governance, client, stores, mcp, plugins), docs/deployment-guides/config-json/{providers,governance}.mdx,
// examples/configs/*/config.json, transports/config.example.json (the older `meta_config` shape) and
// core/providers/{groq,ollama} (base URLs without `/v1`, which Bifrost's request paths add).
// Guesses are marked "Guess:" below.

import { createHash } from "node:crypto";
import { lookupModel } from "../catalog.ts";
import type { ImportNote, ImportResult } from "./types.ts";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const given = (v: unknown) => v !== undefined && v !== null && v !== "";
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/** Bifrost providers Signalbox has a type of its own for. */
const NATIVE: Record<string, string> = { openai: "openai", azure: "azure", anthropic: "anthropic", gemini: "gemini", bedrock: "bedrock", vertex: "vertex", openrouter: "openrouter", cohere: "cohere" };

/**
 * OpenAI-compatible Bifrost providers: Signalbox's `compat.vendor` for each, and the base URL
 * Bifrost uses when the file gives none, without the `/v1` its request paths add. Groq's is read
 * in core/providers/groq/groq.go; Ollama, vLLM and SGLang have none (Bifrost requires one).
 * Guess: the others are each provider's public OpenAI-compatible endpoint; Perplexity's paths have no `/v1`.
 */
const COMPAT: Record<string, { vendor: string; base?: string; noV1?: boolean }> = {
  groq: { vendor: "groq", base: "https://api.groq.com/openai" },
  mistral: { vendor: "mistral", base: "https://api.mistral.ai" },
  ollama: { vendor: "ollama" },
  vllm: { vendor: "vllm" },
  sgl: { vendor: "generic" },
  cerebras: { vendor: "generic", base: "https://api.cerebras.ai" },
  perplexity: { vendor: "generic", base: "https://api.perplexity.ai", noV1: true },
  deepseek: { vendor: "generic", base: "https://api.deepseek.com" },
  xai: { vendor: "generic", base: "https://api.x.ai" },
  fireworks: { vendor: "generic", base: "https://api.fireworks.ai/inference" },
  parasail: { vendor: "generic", base: "https://api.parasail.io" },
  nebius: { vendor: "generic", base: "https://api.studio.nebius.com" },
};

/** Signalbox types whose base URL ends in `/v1` where Bifrost's stops before it. */
const APPENDS_V1 = new Set(["openai", "openrouter"]);

/** Bifrost's budget reset durations that are Signalbox's calendar periods (src/compat/bifrost-governance.ts reads them too). */
export const PERIOD_OF: Readonly<Record<string, "day" | "week" | "month">> = { "1d": "day", "24h": "day", "1w": "week", "7d": "week", "1M": "month" };
/** Bifrost's rate-limit reset durations that are Signalbox's per-minute limits (as the governance API reads them too). */
export const PER_MINUTE: ReadonlySet<string> = new Set(["1m", "60s"]);

/** Bifrost's Go durations ("30s", "5m", "1h", "1d", "1w", "1M", "1Y") in seconds; undefined when unreadable. */
function seconds(d: unknown): number | undefined {
  if (typeof d === "number") return d;
  const m = typeof d === "string" ? /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|Y)$/.exec(d.trim()) : null;
  if (!m) return undefined;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, M: 2_592_000, Y: 31_536_000 }[m[2]!]!;
  return Number(m[1]) * unit;
}

/** A connection, key, team or MCP server name made safe: lowercase letters, digits and `-`, `_`, `.`. */
const safeName = (s: string) => s.toLowerCase().replace(/[^a-z0-9_.-]+/g, "-").replace(/^[^a-z0-9]+|-+$/g, "");
/** A model as the part of a deployment id after the connection. */
const idPart = (m: string) => m.replace(/[^A-Za-z0-9_.:\/-]/g, "-");
/** A model as a route name (no `/`, which deployment ids use). */
const routeName = (m: string) => m.replace(/[^A-Za-z0-9_.:-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");

interface Target {
  deployment: string;
  weight: number;
  provider: string;
}

/** Converts a parsed Bifrost config.json into a Signalbox config document; throws on a shape it cannot read, naming the path. */
export function importBifrost(doc: unknown): ImportResult {
  if (!isObj(doc)) throw new Error(`(root): a Bifrost config.json is a JSON object, got ${Array.isArray(doc) ? "an array" : typeof doc}`);
  const notes: ImportNote[] = [];
  const literalSecrets: string[] = [];
  const secretValues: string[] = [];
  const note = (path: string, kind: ImportNote["kind"], detail: string) => notes.push({ path, kind, detail });
  // Config version 2 (the default since Bifrost v1.5): an empty allow list denies; version 1: it allows all.
  const emptyAllowsAll = doc.version === 1;

  /**
   * A Bifrost value as a Signalbox string: `env.NAME` (or {env_var, from_env}) becomes `${NAME}`,
   * `vault.<path>` an environment variable to fill from the vault; a literal is kept, and listed in
   * literalSecrets when `secret`.
   */
  const val = (v: unknown, path: string, secret: boolean): string | undefined => {
    if (isObj(v)) {
      if (typeof v.env_var === "string" && v.env_var && v.from_env !== false) return `\${${v.env_var.replace(/^env\./, "")}}`;
      return val(v.value, path, secret);
    }
    if (typeof v === "number") return String(v);
    if (typeof v !== "string" || v === "") return undefined;
    const env = /^env\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(v);
    if (env) return `\${${env[1]}}`;
    if (v.startsWith("vault.")) {
      const name = `BIFROST_VAULT_${v.slice(6).replace(/[^A-Za-z0-9]+/g, "_").toUpperCase()}`;
      note(path, "manual", `a Bifrost vault reference: set ${name} from your vault, or use a \${secret:…} reference (README "Secrets from a secret manager")`);
      return `\${${name}}`;
    }
    if (secret) {
      literalSecrets.push(path);
      secretValues.push(v);
    }
    return v;
  };

  const config: Obj = {};
  const server: Obj = {};
  const store: Obj = {};

  // --- Providers and their keys: connections, deployments, routes -------------------------------
  if (!isObj(doc.providers)) throw new Error(`providers: must be an object of providers ({"openai": {"keys": [...]}, …}), got ${doc.providers === undefined ? "nothing" : JSON.stringify(doc.providers)}`);
  const providers: Obj[] = [];
  const deployments: Obj[] = [];
  const depIds = new Set<string>();
  const routes = new Map<string, { model: string; path: string; targets: Target[] }>();
  // Per Bifrost provider: the deployments made from each model name, its wildcards, its retry settings.
  const served = new Map<string, { byModel: Map<string, string[]>; wildcards: string[] }>();
  const retryOf = new Map<string, Obj>();
  const usedNames = new Set<string>();

  for (const [pname, pv] of Object.entries(doc.providers)) {
    const ppath = `providers.${pname}`;
    if (!isObj(pv)) throw new Error(`${ppath}: must be an object with keys, got ${JSON.stringify(pv)}`);
    const custom = isObj(pv.custom_provider_config) ? pv.custom_provider_config : undefined;
    const baseKind = typeof custom?.base_provider_type === "string" ? custom.base_provider_type : pname;
    // A custom provider on OpenAI's API is an OpenAI-compatible server, not OpenAI itself.
    const type = custom && baseKind === "openai" ? "openai-compatible" : NATIVE[baseKind] ?? (COMPAT[baseKind] ? "openai-compatible" : undefined);
    if (!type) {
      note(ppath, "dropped", `Signalbox has no ${pname} provider: add it by hand if it speaks OpenAI's API (type openai-compatible with its base_url)`);
      continue;
    }
    const compat = COMPAT[baseKind] ?? (type === "openai-compatible" ? { vendor: "generic" } : undefined);
    const keys = pv.keys ?? [];
    if (!Array.isArray(keys)) throw new Error(`${ppath}.keys: must be a list of keys, got ${JSON.stringify(pv.keys)}`);
    // The older shape keeps the cloud settings on the provider (`meta_config`), the newer on each key.
    const meta = isObj(pv.meta_config) ? pv.meta_config : undefined;
    const net = isObj(pv.network_config) ? pv.network_config : {};
    const npath = `${ppath}.network_config`;

    // Provider-wide settings every connection of this provider shares.
    const shared: Obj = {};
    if (isObj(net.extra_headers)) {
      shared.headers = headersOf(net.extra_headers, `${npath}.extra_headers`, val);
    }
    const timeout = net.default_request_timeout_in_seconds;
    if (typeof timeout === "number" && timeout > 0) {
      shared.timeouts = { headers_ms: Math.round(timeout * 1000) };
      note(`${npath}.default_request_timeout_in_seconds`, "changed", `became timeouts.headers_ms (${timeout * 1000}): Bifrost bounds a whole unary request; here it bounds the wait for the response headers (a route's timeouts.attempt_ms bounds a whole attempt)`);
    }
    if (typeof net.max_conns_per_host === "number") shared.max_connections = Math.min(10_000, Math.max(1, Math.round(net.max_conns_per_host)));
    const retry: Obj = {};
    if (typeof net.max_retries === "number") retry.max_retries = Math.min(10, Math.max(0, Math.round(net.max_retries)));
    const backoff = net.retry_backoff_initial ?? net.retry_backoff_initial_ms;
    const backoffMax = net.retry_backoff_max ?? net.retry_backoff_max_ms;
    if (typeof backoff === "number") retry.base_delay_ms = Math.round(backoff);
    if (typeof backoffMax === "number") retry.max_delay_ms = Math.round(backoffMax);
    if (Object.keys(retry).length) retryOf.set(pname, retry);
    const handledNet = new Set(["base_url", "extra_headers", "default_request_timeout_in_seconds", "max_conns_per_host", "max_retries", "retry_backoff_initial", "retry_backoff_max", "retry_backoff_initial_ms", "retry_backoff_max_ms"]);
    for (const k of Object.keys(net)) if (!handledNet.has(k)) note(`${npath}.${k}`, "dropped", "no counterpart in a Signalbox provider connection");
    for (const k of ["concurrency_and_buffer_size", "proxy_config", "send_back_raw_request", "send_back_raw_response", "store_raw_request_response", "prompt_cache", "openai_config"]) {
      if (given(pv[k])) note(`${ppath}.${k}`, "dropped", k === "prompt_cache" ? "set prompt_cache: auto on the Claude deployments instead" : "no counterpart in a Signalbox provider connection");
    }

    /** The Signalbox base URL of a Bifrost one: `/v1` added where Bifrost's paths add it. */
    const baseOf = (raw: string | undefined): string | undefined => {
      if (!raw) return undefined;
      let u = raw.replace(/\/+$/, "");
      if (type === "gemini") u = u.replace(/\/v1(beta)?$/, "");
      const v1 = (type === "openai-compatible" && !compat?.noV1) || APPENDS_V1.has(type);
      if (v1 && !/\/v1$/.test(u)) u = `${u}/v1`;
      return u;
    };

    const byConn = new Map<string, string>();
    let connCount = 0;
    const conns = new Map<string, { weight: number; models: Map<string, { upstream: string; path: string }>; wildcard?: string }>();
    keys.forEach((k, i) => {
      const kpath = `${ppath}.keys[${i}]`;
      if (!isObj(k)) throw new Error(`${kpath}: must be an object {name, value, models, weight}, got ${JSON.stringify(k)}`);
      const spec: Obj = { type };
      const own = (n: string) => (isObj(k[n]) ? (k[n] as Obj) : undefined);
      const kc = own(`${baseKind}_key_config`) ?? meta;
      const kcPath = own(`${baseKind}_key_config`) ? `${kpath}.${baseKind}_key_config` : `${ppath}.meta_config`;
      const rawBase = typeof kc?.url === "string" ? val(kc.url, `${kcPath}.url`, false) : val(net.base_url, `${npath}.base_url`, false);
      const apiKey = val(k.value, `${kpath}.value`, true);
      if (type === "bedrock") {
        const region = val(kc?.region, `${kcPath}.region`, false);
        if (!region) {
          note(kpath, "dropped", "a Bedrock key without bedrock_key_config.region: Signalbox's bedrock connection is one region (aws.region)");
          return;
        }
        const aws: Obj = { region };
        const ak = val(kc?.access_key ?? kc?.access_key_id, `${kcPath}.access_key`, true);
        const sk = val(kc?.secret_key ?? kc?.secret_access_key, `${kcPath}.secret_key`, true);
        const st = val(kc?.session_token, `${kcPath}.session_token`, true);
        if (ak) aws.access_key_id = ak;
        if (sk) aws.secret_access_key = sk;
        if (st) aws.session_token = st;
        spec.aws = aws;
        if (!ak) note(kcPath, "changed", "no access key: Signalbox reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (instance roles and IRSA are not used)");
        if (apiKey) note(`${kpath}.value`, "manual", "Bedrock API keys (bearer) are not supported here: give the connection an access key pair (aws.access_key_id, aws.secret_access_key)");
        for (const f of ["role_arn", "external_id", "session_name"]) if (given(kc?.[f])) note(`${kcPath}.${f}`, "manual", "AssumeRole is not supported here: give temporary credentials (aws.session_token) or an access key pair");
        if (given(kc?.arn)) note(`${kcPath}.arn`, "manual", "Guess: Bifrost prefixes inference-profile ids with this ARN; name the full ARN in each deployment's model");
        if (given(kc?.batch_s3_config)) note(`${kcPath}.batch_s3_config`, "dropped", "Signalbox's Batch API runs batches itself and needs no S3 bucket");
      } else if (type === "vertex") {
        const project = val(kc?.project_id, `${kcPath}.project_id`, false);
        const location = val(kc?.region, `${kcPath}.region`, false);
        if (!project || !location) {
          note(kpath, "dropped", "a Vertex key without vertex_key_config.project_id and region: Signalbox's vertex connection needs vertex.project and vertex.location");
          return;
        }
        const vertex: Obj = { project, location };
        const creds = val(kc?.auth_credentials, `${kcPath}.auth_credentials`, true);
        if (creds) {
          vertex.credentials_json = creds;
          if (creds.startsWith("${")) note(`${kcPath}.auth_credentials`, "manual", `became vertex.credentials_json: the variable must hold the service-account key's JSON itself (not base64, which Bifrost also accepts)`);
        }
        spec.vertex = vertex;
        for (const f of ["project_number", "force_single_region"]) if (given(kc?.[f])) note(`${kcPath}.${f}`, "dropped", "no counterpart: a Signalbox vertex connection calls its location as given");
      } else {
        let base = baseOf(rawBase);
        if (type === "azure") {
          base = val(kc?.endpoint, `${kcPath}.endpoint`, false)?.replace(/\/+$/, "");
          const version = val(kc?.api_version, `${kcPath}.api_version`, false);
          if (version) spec.api_version = version;
          if (given(kc?.client_id) || given(kc?.tenant_id)) note(kcPath, "manual", "Entra ID (client_id, client_secret, tenant_id) is not supported here: give the connection an API key (api_key)");
        } else if (!base && compat?.base) base = baseOf(compat.base);
        if (base) spec.base_url = base;
        if (rawBase && base !== rawBase && type !== "azure") note(typeof kc?.url === "string" ? `${kcPath}.url` : `${npath}.base_url`, "changed", `became base_url ${base}: Bifrost adds the API version to its paths, Signalbox's base URL includes it`);
        if (!base && (type === "openai-compatible" || type === "azure")) {
          note(kpath, "dropped", `no base URL: Signalbox's ${type} connection needs base_url (${type === "azure" ? "azure_key_config.endpoint" : "network_config.base_url"})`);
          return;
        }
        if (apiKey) spec.api_key = apiKey;
        else if (type !== "openai-compatible") {
          note(`${kpath}.value`, "manual", type === "azure" ? "no key: Bifrost would use DefaultAzureCredential, which is not supported here; set api_key" : `no key: set api_key (\${ENV_VAR}) on the ${pname} connection`);
          spec.api_key = `\${${pname.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_API_KEY}`;
        }
        if (compat && compat.vendor) spec.compat = { vendor: compat.vendor };
      }
      Object.assign(spec, shared);

      // One connection per distinct credential set: two keys with the same settings share one.
      const fp = JSON.stringify(spec);
      let conn = byConn.get(fp);
      if (!conn) {
        // The first connection is named after the provider, so `provider/model` names callers sent Bifrost still name a deployment.
        const fromKey = typeof k.name === "string" && k.name.trim() ? safeName(k.name.includes(pname) ? k.name : `${pname}-${k.name}`) : "";
        conn = connCount === 0 ? safeName(pname) || "provider" : fromKey || `${safeName(pname)}-${connCount + 1}`;
        for (let n = 2; usedNames.has(conn); n++) conn = `${connCount === 0 ? safeName(pname) : fromKey || safeName(pname)}-${n}`;
        usedNames.add(conn);
        byConn.set(fp, conn);
        connCount++;
        providers.push({ name: conn, ...spec });
        conns.set(conn, { weight: 0, models: new Map() });
      }
      const c = conns.get(conn)!;
      const weight = typeof k.weight === "number" && k.weight >= 0 ? k.weight : 1;

      // The models the key serves, each with the name sent upstream (Azure deployment, Bedrock profile, alias).
      const wire = new Map<string, string>();
      const maps: [unknown, string][] = [[kc?.deployments, `${kcPath}.deployments`], [k.aliases, `${kpath}.aliases`]];
      for (const [m, mpath] of maps) {
        if (!isObj(m)) continue;
        for (const [name, target] of Object.entries(m)) {
          const id = typeof target === "string" ? target : isObj(target) && typeof target.model_id === "string" ? target.model_id : undefined;
          if (id) wire.set(name, id);
          else note(`${mpath}.${name}`, "dropped", "not a deployment name or {model_id}");
          if (isObj(target)) for (const f of Object.keys(target)) if (f !== "model_id" && f !== "model_name") note(`${mpath}.${name}.${f}`, "dropped", "per-alias overrides have no counterpart: make a connection of its own for them");
        }
      }
      const listed = strings(k.models);
      if (typeof kc?.model_name === "string") listed.push(kc.model_name);
      const all = listed.includes("*") || (listed.length === 0 && wire.size === 0 && emptyAllowsAll);
      if (listed.length === 0 && wire.size === 0 && !all) {
        note(`${kpath}.models`, "dropped", "the key lists no models, which Bifrost (config version 2) reads as none: its connection has no deployments");
      }
      for (const m of new Set([...listed.filter((x) => x !== "*"), ...wire.keys()])) if (!c.models.has(m)) c.models.set(m, { upstream: wire.get(m) ?? m, path: `${kpath}.models` });
      if (all) c.wildcard ??= `${kpath}.models`;
      c.weight += weight;
      if (k.use_for_batch_api === true) note(`${kpath}.use_for_batch_api`, "dropped", "Signalbox's Batch API runs batches through the deployments themselves");
    });

    // Deployments, wildcards and route targets of this provider's connections.
    const serve = { byModel: new Map<string, string[]>(), wildcards: [] as string[] };
    served.set(pname, serve);
    for (const [conn, c] of conns) {
      for (const [model, { upstream, path: mpath }] of c.models) {
        const id = `${conn}/${idPart(model)}`;
        if (depIds.has(id)) continue;
        const d: Obj = { id, provider: conn, model: upstream };
        if (idPart(model) !== model) note(mpath, "changed", `model "${model}" became deployment id "${id}" (characters a deployment id cannot hold replaced)`);
        // An Azure deployment (or an alias) runs the model named in Bifrost: priced and parameter-checked as it.
        if (upstream !== model && (type === "azure" || (!lookupModel(upstream) && lookupModel(model)))) d.base_model = model;
        const priced = (d.base_model as string | undefined) ?? upstream;
        const cat = lookupModel(priced);
        if (type === "cohere" && !cat?.operations?.some((o) => o === "embeddings" || o === "rerank")) {
          note(mpath, "dropped", `model "${model}": Signalbox's cohere connections serve embeddings and rerank only; reach Cohere's chat models another way`);
          continue;
        }
        if (!cat) {
          d.pricing = { input: 0, output: 0 };
          note(mpath, "manual", `model "${model}" is not in Signalbox's price table: deployment ${id} got pricing {input: 0, output: 0}; set its real prices (USD per million tokens)`);
        }
        deployments.push(d);
        depIds.add(id);
        serve.byModel.set(model, [...(serve.byModel.get(model) ?? []), id]);
        // A route named after the model spreads it over the keys serving it, by Bifrost's key weights.
        const r = routeName(model);
        if (!r) continue;
        const route = routes.get(r) ?? { model, path: mpath, targets: [] };
        route.targets.push({ deployment: id, weight: Math.round(c.weight * 100), provider: pname });
        routes.set(r, route);
      }
      if (c.wildcard && type === "cohere") note(c.wildcard, "dropped", `a key allows every model (["*"]), but Signalbox's cohere connections serve embeddings and rerank only, each model listed with its operation: list them`);
      else if (c.wildcard) {
        const id = `${conn}/*`;
        deployments.push({ id, provider: conn, model: "*" });
        serve.wildcards.push(id);
        note(c.wildcard, "manual", `a key allows every model (["*"]): wildcard deployment ${id} serves the models Signalbox's catalog prices; list others as deployments with pricing (README "Wildcard deployments")`);
      }
    }
  }
  if (!providers.length) throw new Error("providers: no provider Signalbox can serve (see the notes)");

  const routeList: Obj[] = [];
  for (const [name, r] of routes) {
    if (name !== r.model) note(r.path, "changed", `route "${name}" is model "${r.model}" (a route name cannot hold "/" or other such characters)`);
    const froms = new Set(r.targets.map((t) => t.provider));
    if (froms.size > 1) note(r.path, "changed", `model "${r.model}" is served by ${[...froms].join(" and ")}: route ${name} spreads it over all of them by key weight; Bifrost callers name a provider (provider/model, a deployment here)`);
    const route: Obj = { name, targets: r.targets.length > 1 ? r.targets.map(({ deployment, weight }) => ({ deployment, weight })) : [r.targets[0]!.deployment] };
    if (r.targets.length > 1) route.strategy = "weighted";
    const retries = [...froms].map((p) => retryOf.get(p)).filter((x): x is Obj => !!x);
    if (retries.length) route.retry = Object.assign({}, ...retries);
    routeList.push(route);
  }

  config.providers = providers;
  config.deployments = deployments;
  if (routeList.length) config.routes = routeList;

  // --- MCP clients --------------------------------------------------------------------------------
  const mcpIds = new Map<string, string>();
  const mcpServers = importMcp(doc.mcp, val, note, mcpIds);
  if (mcpServers.length) config.mcp_servers = mcpServers;

  // --- Governance: virtual keys, teams ------------------------------------------------------------
  const gov = isObj(doc.governance) ? doc.governance : {};
  const gpath = "governance";
  const budgets = new Map<string, Obj>();
  const rateLimits = new Map<string, Obj>();
  (Array.isArray(gov.budgets) ? gov.budgets : []).forEach((b) => isObj(b) && typeof b.id === "string" && budgets.set(b.id, b));
  (Array.isArray(gov.rate_limits) ? gov.rate_limits : []).forEach((r) => isObj(r) && typeof r.id === "string" && rateLimits.set(r.id, r));
  const budgetPath = (id: string) => `${gpath}.budgets[${(gov.budgets as Obj[]).findIndex((b) => b.id === id)}]`;

  /** A Bifrost budget as a Signalbox budget, or undefined with a note. */
  const budgetOf = (b: Obj, path: string): Obj | undefined => {
    if (typeof b.max_limit !== "number" || b.max_limit < 0) {
      note(path, "dropped", "a budget without max_limit (USD)");
      return undefined;
    }
    if (!given(b.reset_duration)) return { period: "lifetime", limit_usd: b.max_limit };
    const period = PERIOD_OF[String(b.reset_duration).trim()];
    if (!period) {
      note(`${path}.reset_duration`, "dropped", `"${b.reset_duration}": Signalbox budgets reset by calendar day (1d), ISO week (1w) or month (1M), or never: set one by hand`);
      return undefined;
    }
    return { period, limit_usd: b.max_limit };
  };
  /** The one budget of an owner: budgets naming it, its budget_id, or inline budget(s); Signalbox keeps one. */
  const ownerBudget = (owner: Obj, ownerField: string, path: string): Obj | undefined => {
    const found: [Obj, string][] = [];
    for (const [id, b] of budgets) if (b[ownerField] === owner.id) found.push([b, budgetPath(id)]);
    if (typeof owner.budget_id === "string") {
      const b = budgets.get(owner.budget_id);
      if (b) found.push([b, budgetPath(owner.budget_id)]);
      else note(`${path}.budget_id`, "dropped", `no budget "${owner.budget_id}" in governance.budgets`);
    }
    if (isObj(owner.budget)) found.push([owner.budget, `${path}.budget`]);
    if (Array.isArray(owner.budgets)) owner.budgets.forEach((b, i) => isObj(b) && found.push([b, `${path}.budgets[${i}]`]));
    let kept: Obj | undefined;
    for (const [b, bpath] of found) {
      if (kept) {
        note(bpath, "dropped", "Signalbox keeps one budget per key or team: the first was kept; put another on the team, or keep the tightest");
        continue;
      }
      kept = budgetOf(b, bpath);
    }
    return kept;
  };
  /** A Bifrost rate limit as per-minute limits (Signalbox's only window), dropping other windows with a note. */
  const limitsOf = (id: unknown, path: string): Obj | undefined => {
    if (typeof id !== "string") return undefined;
    const r = rateLimits.get(id);
    if (!r) {
      note(path, "dropped", `no rate limit "${id}" in governance.rate_limits`);
      return undefined;
    }
    const rpath = `${gpath}.rate_limits[${(gov.rate_limits as Obj[]).findIndex((x) => x.id === id)}]`;
    const out: Obj = {};
    for (const [kind, field] of [["request", "requests_per_minute"], ["token", "tokens_per_minute"]] as const) {
      const max = r[`${kind}_max_limit`];
      if (typeof max !== "number" || max <= 0) continue;
      const dur = String(r[`${kind}_reset_duration`] ?? "1m").trim();
      if (PER_MINUTE.has(dur)) out[field] = Math.round(max);
      else {
        const per = seconds(dur);
        const hint = per ? ` (${max} per ${dur} is about ${Math.max(1, Math.round((max * 60) / per))} a minute, but allows no bursts)` : "";
        note(`${rpath}.${kind}_reset_duration`, "dropped", `"${dur}": Signalbox's limits are per minute: set limits.${field} by hand${hint}`);
      }
    }
    return Object.keys(out).length ? out : undefined;
  };

  const teams: Obj[] = [];
  const teamName = new Map<string, string>();
  const teamLimits = new Map<string, Obj>();
  (Array.isArray(gov.teams) ? gov.teams : []).forEach((t, i) => {
    const tpath = `${gpath}.teams[${i}]`;
    if (!isObj(t) || typeof t.id !== "string") throw new Error(`${tpath}: a team is an object with an id, got ${JSON.stringify(t)}`);
    let name = safeName(typeof t.name === "string" ? t.name : t.id) || safeName(t.id) || `team-${i + 1}`;
    for (let n = 2; [...teamName.values()].includes(name); n++) name = `${safeName(String(t.name ?? t.id))}-${n}`;
    teamName.set(t.id, name);
    const team: Obj = { name };
    const budget = ownerBudget(t, "team_id", tpath);
    if (budget) team.budget = budget;
    const limits = limitsOf(t.rate_limit_id, `${tpath}.rate_limit_id`);
    if (limits) {
      teamLimits.set(t.id, limits);
      note(`${tpath}.rate_limit_id`, "changed", "a team's rate limit became the limits of each of its keys (each key counts on its own, not one shared bucket)");
    }
    if (given(t.customer_id)) note(`${tpath}.customer_id`, "dropped", "Signalbox has no customers (no organisations above teams)");
    for (const f of ["profile", "config", "claims", "business_unit_id", "source_id", "calendar_aligned"]) if (given(t[f])) note(`${tpath}.${f}`, "dropped", f === "calendar_aligned" ? "Signalbox's budgets always reset on calendar boundaries (UTC)" : "no counterpart on a Signalbox team");
    teams.push(team);
  });

  const keys: Obj[] = [];
  (Array.isArray(gov.virtual_keys) ? gov.virtual_keys : []).forEach((vk, i) => {
    const vpath = `${gpath}.virtual_keys[${i}]`;
    if (!isObj(vk)) throw new Error(`${vpath}: a virtual key is an object, got ${JSON.stringify(vk)}`);
    const label = typeof vk.name === "string" && vk.name ? vk.name : String(vk.id ?? `virtual-key-${i + 1}`);
    if (vk.is_active === false) return note(vpath, "dropped", `virtual key "${label}" is inactive: not imported`);
    const value = vk.value;
    if (typeof value !== "string" || !value) return note(`${vpath}.value`, "manual", `virtual key "${label}" has no value (Bifrost makes one): run \`npm run hash-key\` and add the key with its hash`);
    if (/^(env|vault)\./.test(value)) return note(`${vpath}.value`, "manual", `virtual key "${label}" is read from ${value.split(".")[0]} at start-up, which an import cannot hash: run \`npm run hash-key\` with that value (or a new one) and add the key with its hash`);
    let name = safeName(label) || `virtual-key-${i + 1}`;
    for (let n = 2; keys.some((k) => k.name === name); n++) name = `${safeName(label)}-${n}`;
    const key: Obj = { name, hash: `sha256:${createHash("sha256").update(value).digest("hex")}`, role: "service" };
    if (typeof vk.team_id === "string") {
      const team = teamName.get(vk.team_id);
      if (team) key.team = team;
      else note(`${vpath}.team_id`, "dropped", `no team "${vk.team_id}" in governance.teams`);
    }
    if (given(vk.customer_id)) note(`${vpath}.customer_id`, "dropped", "Signalbox has no customers (no organisations above teams): attach the key to a team");
    const budget = ownerBudget(vk, "virtual_key_id", vpath);
    if (budget) key.budget = budget;
    const limits = limitsOf(vk.rate_limit_id, `${vpath}.rate_limit_id`) ?? (typeof vk.team_id === "string" ? teamLimits.get(vk.team_id) : undefined);
    if (limits) key.limits = limits;

    // provider_configs: the deployments of each provider (all, or the allowed models').
    const allow: string[] = [];
    const pcs = Array.isArray(vk.provider_configs) ? vk.provider_configs : [];
    pcs.forEach((pc, j) => {
      const cpath = `${vpath}.provider_configs[${j}]`;
      if (!isObj(pc) || typeof pc.provider !== "string") return note(cpath, "dropped", "a provider config without a provider");
      const s = served.get(pc.provider);
      if (!s) return note(cpath, "dropped", `no imported provider "${pc.provider}"`);
      const models = pc.allowed_models === undefined ? ["*"] : strings(pc.allowed_models);
      if (models.includes("*") || (models.length === 0 && emptyAllowsAll)) allow.push(...[...s.byModel.values()].flat(), ...s.wildcards);
      else if (models.length === 0) note(`${cpath}.allowed_models`, "dropped", "empty: Bifrost (config version 2) allows no model of this provider");
      for (const m of models.filter((x) => x !== "*")) {
        const ids = s.byModel.get(m) ?? s.wildcards.map((w) => `${w.slice(0, -1)}${idPart(m)}`);
        if (ids.length) allow.push(...ids);
        else note(`${cpath}.allowed_models`, "dropped", `no deployment of "${m}" on ${pc.provider}`);
      }
      if (pcs.length > 1 && given(pc.weight)) note(`${cpath}.weight`, "dropped", "a key here spreads over providers by the routes' weights, not its own");
      const keyIds = strings(pc.key_ids);
      if (keyIds.length && !keyIds.includes("*")) note(`${cpath}.key_ids`, "dropped", "a key here may use every connection of the deployments it is allowed: narrow allow to those connections' deployments by hand");
      if (strings(pc.blacklisted_models).length) note(`${cpath}.blacklisted_models`, "dropped", "allow lists here have no exclusions: list the allowed deployments instead");
      for (const f of ["rate_limit_id", "budget_id", "budgets"]) if (Array.isArray(pc[f]) ? (pc[f] as unknown[]).length : given(pc[f])) note(`${cpath}.${f}`, "dropped", "per-provider limits and budgets are not kept: set them on the key");
    });
    if (pcs.length && !allow.length) return note(`${vpath}.provider_configs`, "manual", `virtual key "${label}" would be allowed nothing imported, and an empty allow list allows every model here: not imported; add it by hand`);
    if (!pcs.length && !emptyAllowsAll) note(`${vpath}.provider_configs`, "changed", "none: Bifrost (config version 2) denies every model; the key here may name any model (set allow to narrow it)");
    if (Array.isArray(vk.mcp_configs) && vk.mcp_configs.length) {
      vk.mcp_configs.forEach((mc, j) => {
        const mpath = `${vpath}.mcp_configs[${j}]`;
        const server = isObj(mc) ? mcpIds.get(String(mc.mcp_client_name ?? mc.mcp_client_id)) : undefined;
        if (!server || !allow.length) return note(mpath, "dropped", server ? "an allow list of MCP servers alone would deny every model here: allow them by hand (mcp:<id>)" : "no imported MCP server of that name");
        const tools = strings((mc as Obj).tools_to_execute);
        if (tools.includes("*")) allow.push(`mcp:${server}`);
        else tools.forEach((t) => allow.push(`mcp:${server}/${t}`));
      });
    }
    // Callers name the model (the route of its name), as they named it to Bifrost: a route whose
    // every deployment the key may use is allowed too; one that reaches further is not, and said.
    if (allow.length) {
      const allowed = new Set(allow);
      for (const [name, r] of routes) {
        const inside = r.targets.filter((t) => allowed.has(t.deployment)).length;
        if (inside === r.targets.length) allow.push(name);
        else if (inside) note(`${vpath}.provider_configs`, "changed", `virtual key "${label}" may not use every deployment of route ${name}: it names the deployments it may use (${r.targets.filter((t) => allowed.has(t.deployment)).map((t) => t.deployment).join(", ")})`);
      }
      key.allow = [...new Set(allow)];
    }
    for (const f of ["description", "expires_at", "calendar_aligned", "access_profile_id"]) if (given(vk[f])) note(`${vpath}.${f}`, "dropped", f === "expires_at" ? "keys here do not expire: revoke it when due" : "no counterpart on a Signalbox key");
    keys.push(key);
  });
  if (keys.length) config.keys = keys;
  if (teams.length) config.teams = teams;
  (Array.isArray(gov.customers) ? gov.customers : []).forEach((c, i) => note(`${gpath}.customers[${i}]`, "dropped", `customer "${isObj(c) ? c.name ?? c.id : c}": Signalbox has no customers (no organisations above teams); group its keys by team`));
  const govElse: Record<string, string> = {
    routing_rules: "routing rules (CEL) have no counterpart: use a route's conditions (team, key, user, tag, metadata) or fallbacks",
    model_configs: "per-model limits and budgets: set deployments' limits and budget (spending caps)",
    pricing_overrides: "set the deployments' pricing instead",
    auth_config: "the dashboard's admin login: make an admin key (`npm run hash-key`, role admin) instead",
    providers: "provider budgets: set budget {period, limit_usd} on the provider connections",
    business_units: "no counterpart (no organisations above teams)",
    roles: "no counterpart: keys have roles admin, team or service",
    complexity_analyzer_config: "use a route with strategy complexity",
  };
  for (const [f, why] of Object.entries(govElse)) if (Array.isArray(gov[f]) ? (gov[f] as unknown[]).length : given(gov[f])) note(`${gpath}.${f}`, "dropped", why);

  // --- Client settings, stores, plugins, the rest --------------------------------------------------
  const client = isObj(doc.client) ? doc.client : {};
  const origins = strings(client.allowed_origins)
    .map((o) => o.trim().replace(/\/+$/, ""))
    .filter((o, i) => {
      const ok = o === "*" || /^https?:\/\/(\*\.)?[^/?#*@]+$/i.test(o);
      if (!ok) note(`client.allowed_origins[${i}]`, "dropped", `"${o}" is not an origin (scheme://host[:port])`);
      return ok;
    });
  if (origins.length) {
    const cors: Obj = { allowed_origins: origins };
    if (strings(client.allowed_headers).length) cors.allowed_headers = strings(client.allowed_headers).filter((h) => !h.includes("*"));
    server.cors = cors;
  }
  if (typeof client.max_request_body_size_mb === "number") server.max_request_bytes = Math.round(client.max_request_body_size_mb * 1024 * 1024);
  if (typeof client.log_retention_days === "number" && client.log_retention_days >= 1) store.usage_retention_days = Math.min(3650, Math.round(client.log_retention_days));
  for (const f of ["enforce_governance_header", "enforce_auth_on_inference"]) {
    if (client[f] === false && keys.length) note(`client.${f}`, "changed", "with keys configured, every request here needs one");
  }
  const clientDone = new Set(["allowed_origins", "allowed_headers", "max_request_body_size_mb", "log_retention_days", "enforce_governance_header", "enforce_auth_on_inference"]);
  for (const [f, v] of Object.entries(client)) if (!clientDone.has(f) && given(v) && v !== false) note(`client.${f}`, "dropped", "no counterpart in Signalbox's server settings");

  importStore(doc, val, note, store);
  const exports = importPlugins(doc.plugins, val, note, config, served);
  if (exports.length) config.usage_export = exports;

  const top = new Set(["$schema", "version", "providers", "governance", "client", "config_store", "logs_store", "mcp", "plugins"]);
  for (const [f, v] of Object.entries(doc)) if (!top.has(f) && given(v)) note(f, "dropped", f === "encryption_key" ? "Signalbox seals run-time credentials with its own key (README)" : "no counterpart in a Signalbox configuration");

  const out: Obj = {};
  if (Object.keys(server).length) out.server = server;
  if (Object.keys(store).length) out.store = store;
  Object.assign(out, config);
  return { from: "bifrost", config: out, notes, env: envNames(out), literalSecrets, secretValues };
}

type Val = (v: unknown, path: string, secret: boolean) => string | undefined;

/** Headers with their values converted; a header named like a credential is a secret when literal. */
function headersOf(h: Obj, path: string, val: Val): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(h)) {
    const s = val(v, `${path}.${name}`, /auth|key|token|secret|cookie/i.test(name));
    if (s !== undefined) out[name] = s;
  }
  return out;
}
type Note = (path: string, kind: ImportNote["kind"], detail: string) => void;

/** mcp.client_configs as mcp_servers: HTTP (and SSE, by URL) and stdio servers; `ids` maps each Bifrost client name and id to its server id. */
function importMcp(mcp: unknown, val: Val, note: Note, ids: Map<string, string>): Obj[] {
  if (!isObj(mcp)) return [];
  const out: Obj[] = [];
  (Array.isArray(mcp.client_configs) ? mcp.client_configs : []).forEach((c, i) => {
    const path = `mcp.client_configs[${i}]`;
    if (!isObj(c)) return note(path, "dropped", "not an MCP client config");
    const label = String(c.name ?? c.client_id ?? c.id ?? `mcp-${i + 1}`);
    if (c.disabled === true || c.is_enabled === false) return note(path, "dropped", `MCP client "${label}" is disabled`);
    const id = label.replace(/[^A-Za-z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || `mcp-${i + 1}`;
    const s: Obj = { id };
    const kind = c.connection_type;
    if (kind === "http" || kind === "sse") {
      const http = isObj(c.http_config) ? c.http_config : {};
      const url = val(c.connection_string ?? c.http_url ?? http.url, `${path}.connection_string`, false);
      if (!url) return note(path, "dropped", "an HTTP MCP client without a URL");
      s.url = url;
      if (kind === "sse") note(`${path}.connection_type`, "changed", "Signalbox speaks MCP's streamable HTTP transport: a server that only serves SSE will not answer");
    } else if (kind === "stdio" && isObj(c.stdio_config) && typeof c.stdio_config.command === "string") {
      s.command = c.stdio_config.command;
      if (strings(c.stdio_config.args).length) s.args = strings(c.stdio_config.args);
      // Bifrost's envs names variables passed through from its own environment.
      const env = strings(c.stdio_config.envs);
      if (env.length) s.env = Object.fromEntries(env.map((e) => [e, `\${${e}}`]));
    } else return note(path, "dropped", `connection type ${JSON.stringify(kind)} (an in-process client, or no stdio_config) has no counterpart`);
    if (isObj(c.headers)) s.headers = headersOf(c.headers, `${path}.headers`, val);
    const tools = strings(c.tools_to_execute);
    if (Array.isArray(c.tools_to_execute) && tools.length === 0) return note(`${path}.tools_to_execute`, "dropped", `MCP client "${label}" allows no tools ([]): not imported`);
    if (tools.length && !tools.includes("*")) s.tools = tools;
    const timeout = seconds(typeof c.tool_execution_timeout === "number" ? `${c.tool_execution_timeout}s` : c.tool_execution_timeout);
    if (timeout && timeout > 0) s.timeout_ms = Math.min(600_000, Math.round(timeout * 1000));
    if (isObj(c.tool_pricing)) note(`${path}.tool_pricing`, "manual", "set price_per_call_usd (one price for all the server's tools)");
    if (given(c.auth_type) && c.auth_type !== "none" && c.auth_type !== "headers") note(`${path}.auth_type`, "manual", `${c.auth_type} is not supported here: give the server's credential in headers`);
    for (const f of ["tools_to_auto_execute", "is_code_mode_client", "allow_on_all_virtual_keys", "allowed_extra_headers", "tls_config", "tool_sync_interval"]) {
      if (Array.isArray(c[f]) ? (c[f] as unknown[]).length : given(c[f]) && c[f] !== false) note(`${path}.${f}`, "dropped", f === "allow_on_all_virtual_keys" ? "every key with an empty allow list may use every server here; others need mcp:<id>" : "no counterpart on a Signalbox MCP server");
    }
    for (const k of [c.name, c.client_id, c.id]) if (typeof k === "string") ids.set(k, id);
    out.push(s);
  });
  for (const f of ["tool_manager_config", "tool_groups", "tool_sync_interval"]) if (given(mcp[f])) note(`mcp.${f}`, "dropped", "no counterpart in Signalbox's MCP gateway");
  return out;
}

/** config_store and logs_store: a PostgreSQL one becomes store.postgres_url (logs_store's when both differ). */
function importStore(doc: Obj, val: Val, note: Note, store: Obj): void {
  const urls: [string, string][] = [];
  for (const name of ["logs_store", "config_store"]) {
    const s = doc[name];
    if (!isObj(s)) continue;
    if (s.enabled === false) {
      note(name, "dropped", "disabled");
      continue;
    }
    const c = isObj(s.config) ? s.config : {};
    const cpath = `${name}.config`;
    if (s.type === "postgres") {
      if (given(c.password_command)) note(`${cpath}.password_command`, "manual", "a password command is not supported: put the password in the URL's environment variable");
      const part = (f: string, secret = false) => {
        const v = val(c[f], `${cpath}.${f}`, secret);
        return v === undefined ? "" : v.startsWith("${") ? v : encodeURIComponent(v);
      };
      const pw = part("password", true);
      const auth = `${part("user")}${pw ? `:${pw}` : ""}`;
      const port = part("port");
      const query = given(c.ssl_mode) ? `?sslmode=${part("ssl_mode")}` : "";
      urls.push([name, `postgres://${auth ? `${auth}@` : ""}${part("host") || "localhost"}${port ? `:${port}` : ""}/${part("db_name") || "bifrost"}${query}`]);
      if (/\$\{/.test(pw)) note(`${cpath}.password`, "manual", "the password goes into store.postgres_url as it is: URL-encode it if it has characters such as @, : or /");
    } else note(name, "dropped", `a ${String(s.type)} store: Signalbox keeps keys, teams and request records in PostgreSQL (store.postgres_url); without one they are in memory`);
    if (name === "logs_store") {
      if (typeof s.retention_days === "number" && s.retention_days >= 1) store.usage_retention_days = Math.min(3650, Math.round(s.retention_days));
      if (given(s.object_storage)) note(`${name}.object_storage`, "manual", "archive request records to S3 or GCS with usage_export (type s3 or gcs) instead");
      if (given(s.writer)) note(`${name}.writer`, "dropped", "no counterpart");
    }
    if (isObj(s.vault_store)) note(`${name}.vault_store`, "manual", "use Signalbox's secret sources (secrets.sources, README \"Secrets from a secret manager\")");
  }
  if (urls.length) {
    store.postgres_url = urls[0]![1];
    if (urls.length > 1 && urls[1]![1] !== urls[0]![1]) note(urls[1]![0], "changed", `Signalbox keeps keys, teams and request records in one database: ${urls[0]![0]}'s was kept`);
  }
}

/** Plugins: semantic_cache → routes' cache; otel → an otlp usage export; datadog (agentless) → a datadog one; the rest notes. */
function importPlugins(plugins: unknown, val: Val, note: Note, config: Obj, served: Map<string, { byModel: Map<string, string[]> }>): Obj[] {
  const exports: Obj[] = [];
  (Array.isArray(plugins) ? plugins : []).forEach((p, i) => {
    const path = `plugins[${i}]`;
    if (!isObj(p)) return note(path, "dropped", "not a plugin");
    if (p.enabled === false) return note(path, "dropped", `plugin ${String(p.name)} is disabled`);
    const c = isObj(p.config) ? p.config : {};
    const cpath = `${path}.config`;
    switch (p.name) {
      case "semantic_cache": {
        const ttl = seconds(c.ttl) ?? 300;
        const cache: Obj = { enabled: true, ttl_seconds: Math.max(1, Math.round(ttl)) };
        const candidate = typeof c.provider === "string" && typeof c.embedding_model === "string" ? served.get(c.provider)?.byModel.get(c.embedding_model)?.[0] : undefined;
        // Only a deployment Signalbox knows to serve embeddings can embed the cache's prompts.
        const d = ((config.deployments as Obj[] | undefined) ?? []).find((x) => x.id === candidate);
        const embedding = d && lookupModel(String(d.base_model ?? d.model))?.operations?.includes("embeddings") ? candidate : undefined;
        if (embedding) cache.semantic = { embedding, threshold: Math.max(0.5, typeof c.threshold === "number" ? c.threshold : 0.8) };
        else if (given(c.provider)) note(cpath, "manual", `no imported deployment of ${String(c.embedding_model)} on ${String(c.provider)}: the routes got the exact-match cache; add cache.semantic with an embedding deployment`);
        for (const r of (config.routes as Obj[] | undefined) ?? []) r.cache = { ...cache };
        note(path, "changed", "became each route's cache: Bifrost caches only requests with a cache key (x-bf-cache-key), Signalbox every request of the route (x-signalbox-cache: no-store skips it)");
        if (given(c.vector_store_namespace) || given(c.default_cache_key)) note(cpath, "dropped", "the cache lives in Signalbox's own store (Redis with store.redis_url)");
        return;
      }
      case "otel": {
        const profiles = Array.isArray(c.profiles) ? c.profiles.filter(isObj) : [c];
        profiles.forEach((o, j) => {
          const opath = Array.isArray(c.profiles) ? `${cpath}.profiles[${j}]` : cpath;
          if (o.enabled === false) return;
          if (o.protocol === "grpc") return note(opath, "manual", "OTLP over gRPC: Signalbox exports OTLP over HTTP; add usage_export {type: otlp, url: <collector>:4318/v1/traces}");
          let url = val(o.collector_url, `${opath}.collector_url`, false);
          if (!url) return note(opath, "dropped", "no collector_url");
          if (!/^https?:\/\//.test(url) && !url.startsWith("${")) url = `http://${url}`;
          // Guess: Bifrost's collector_url may be the collector's root; Signalbox wants the traces endpoint.
          if (!url.startsWith("${") && !/\/v1\/traces$/.test(url)) url = `${url.replace(/\/+$/, "")}/v1/traces`;
          const e: Obj = { name: `otel${j ? `-${j + 1}` : ""}`, type: "otlp", url };
          if (isObj(o.headers)) e.headers = headersOf(o.headers, `${opath}.headers`, val);
          exports.push(e);
          note(opath, "changed", "became usage_export (type otlp): each request a GenAI span to the collector; metrics are served at /metrics");
        });
        return;
      }
      case "datadog": {
        const key = c.agentless === true ? val(c.api_key, `${cpath}.api_key`, true) : undefined;
        if (!key) return note(path, "manual", "agent mode has no counterpart: add usage_export {type: datadog, api_key, site} (logs intake) instead");
        exports.push({ name: "datadog", type: "datadog", api_key: key, ...(typeof c.site === "string" ? { site: c.site } : {}), ...(typeof c.service_name === "string" ? { service: c.service_name } : {}) });
        return note(path, "changed", "became usage_export (type datadog): request records as Datadog logs, not APM traces");
      }
      case "telemetry":
        return note(path, "changed", "Signalbox serves Prometheus metrics at /metrics itself; custom labels and the push gateway are not kept");
      case "logging":
        return note(path, "changed", "Signalbox records every request (in PostgreSQL with store.postgres_url); content capture is usage_export's capture_content");
      case "governance":
        return note(path, "changed", "with keys configured, every request here needs one (is_vk_mandatory); required_headers have no counterpart");
      case "maxim":
        return note(path, "dropped", "no Maxim exporter: send request records elsewhere with usage_export (langfuse, otlp, http)");
      default:
        return note(path, "dropped", `plugin ${String(p.name)} has no counterpart in Signalbox`);
    }
  });
  return exports;
}

/** Every `${NAME}` the document references, in order of first use (its key order). */
function envNames(doc: unknown): string[] {
  const names: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === "string") for (const m of v.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}/g)) names.includes(m[1]!) || names.push(m[1]!);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (isObj(v)) Object.values(v).forEach(walk);
  };
  walk(doc);
  return names;
}
