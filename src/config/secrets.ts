// Secrets from a secret manager instead of the environment (the readers of each source are in
// src/secrets/readers.ts, outside the configuration the command line bundles): any string of the config file may say
// `${secret:<source>:<path>[#<field>]}`, and the gateway reads it from the named source of the
// `secrets` section when it loads the file (start-up, and every reload), and reads every source
// again each `refresh_seconds`: a secret rotated in the manager reloads the configuration (the
// providers whose key changed get new connections; requests under way finish on the old ones), with
// no restart and no value ever in a log, an error, a span or the audit log (the reload names what
// changed, never how).
//
// Sources:
// - `vault`: HashiCorp Vault's KV version 2 engine (`GET /v1/<mount>/data/<path>`), with a token
//   (`token`, or `token_file`), or Kubernetes auth (`kubernetes_role`: the pod's service-account
//   token, `jwt_file`, is exchanged at `POST /v1/auth/<auth_mount>/login` for a client token, again
//   when it expires); `namespace` for Vault Enterprise. `#field` picks a key of the secret's data
//   (required when it has several).
// - `aws_secrets_manager`: AWS Secrets Manager's GetSecretValue, signed with SigV4 by the same
//   well-kept signer as Bedrock (@smithy/signature-v4), with the source's `access_key_id` and
//   `secret_access_key` (and `session_token`) or the AWS_* environment; the path is the secret's
//   name or ARN; `#field` reads a key of a JSON SecretString.
// - `gcp_secret_manager`: Google Secret Manager's `versions/<v>:access` (latest unless the path says
//   `<secret>/versions/<n>`), with a Google access token from google-auth-library as for Vertex (a
//   service-account key in `credentials_file` or `credentials_json`, else Application Default
//   Credentials: GKE's workload identity, the metadata server); `#field` reads a key of JSON.
// - `azure_key_vault`: Azure Key Vault's `GET <url>/secrets/<name>[/<version>]` (api-version 7.4),
//   with an Entra ID token for the app registration (`tenant_id`, `client_id` and a `client_secret`,
//   or AKS workload identity's `federated_token_file`; AZURE_TENANT_ID, AZURE_CLIENT_ID and
//   AZURE_FEDERATED_TOKEN_FILE when unset); `#field` reads a key of JSON.
// - `file`: a file's contents (Kubernetes' mounted secrets, which the kubelet rotates in place),
//   without its trailing newline; `#field` reads a key of a JSON file.

import { createHmac, randomBytes } from "node:crypto";
import { ConfigError, httpUrl, join, num, obj, opt, list, req, str, substituteEnv } from "./schema.ts";

export interface SecretSource {
  name: string;
  type: "vault" | "aws_secrets_manager" | "gcp_secret_manager" | "azure_key_vault" | "file";
  /** vault: the server (https://vault:8200); aws: an endpoint instead of secretsmanager.<region>.amazonaws.com. */
  url?: string;
  token?: string;
  tokenFile?: string;
  kubernetesRole?: string;
  authMount?: string;
  jwtFile?: string;
  mount?: string;
  /** vault: the KV engine's version at `mount` (2, the default: `<mount>/data/<path>`; 1: `<mount>/<path>`). */
  kvVersion?: number;
  namespace?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** gcp: the project, and the service account (a key file, its JSON, else Application Default Credentials). */
  project?: string;
  credentialsFile?: string;
  credentialsJson?: string;
  tokenUrl?: string;
  /** azure: the app registration (a client secret, or AKS workload identity's federated token file), and the Entra ID authority. */
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  federatedTokenFile?: string;
  authorityUrl?: string;
  timeoutMs: number;
}

export interface SecretsConfig {
  refreshMs: number;
  sources: SecretSource[];
}

export const secretsSpec = obj<SecretsConfig & { refreshSeconds: number }>({
  refresh_seconds: opt(num({ min: 1, max: 86_400, int: true }), 300),
  sources: req(
    list(
      obj<SecretSource>({
        name: req(str({ min: 1, pattern: /^[A-Za-z0-9_-]+$/ })),
        type: req(str({ oneOf: ["vault", "aws_secrets_manager", "gcp_secret_manager", "azure_key_vault", "file"] })) as never,
        url: opt(httpUrl),
        token: opt(str({ min: 1 })),
        token_file: opt(str({ min: 1 })),
        kubernetes_role: opt(str({ min: 1 })),
        auth_mount: opt(str({ min: 1 }), "kubernetes"),
        jwt_file: opt(str({ min: 1 }), "/var/run/secrets/kubernetes.io/serviceaccount/token"),
        mount: opt(str({ min: 1 }), "secret"),
        kv_version: opt(num({ min: 1, max: 2, int: true }), 2),
        namespace: opt(str({ min: 1 })),
        region: opt(str({ min: 1 })),
        access_key_id: opt(str({ min: 1 })),
        secret_access_key: opt(str({ min: 1 })),
        session_token: opt(str({ min: 1 })),
        project: opt(str({ min: 1 })),
        credentials_file: opt(str({ min: 1 })),
        credentials_json: opt(str({ min: 1 })),
        token_url: opt(httpUrl),
        tenant_id: opt(str({ min: 1 })),
        client_id: opt(str({ min: 1 })),
        client_secret: opt(str({ min: 1 })),
        federated_token_file: opt(str({ min: 1 })),
        authority_url: opt(httpUrl),
        timeout_ms: opt(num({ min: 100, max: 60_000, int: true }), 5_000),
      }),
      { min: 1 },
    ),
  ),
});

const DIGEST_KEY = randomBytes(32);

/** A `${secret:…}` reference in a string of the file. */
const REF = /\$\{secret:([A-Za-z0-9_-]+):([^}#]+)(?:#([^}]+))?\}/g;

interface Ref {
  source: string;
  path: string;
  field?: string;
  /** Where in the file it was first seen (errors name it). */
  at: string;
}

const refKey = (r: { source: string; path: string; field?: string }) => `${r.source}:${r.path}${r.field !== undefined ? `#${r.field}` : ""}`;

/** Every reference in the parsed file, by its key. */
function collect(v: unknown, path: string, out: Map<string, Ref>): void {
  if (typeof v === "string") {
    for (const m of v.matchAll(REF)) {
      const r: Ref = { source: m[1], path: m[2].trim(), ...(m[3] !== undefined ? { field: m[3].trim() } : {}), at: path };
      if (!out.has(refKey(r))) out.set(refKey(r), r);
    }
  } else if (Array.isArray(v)) v.forEach((x, i) => collect(x, join(path, i), out));
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) if (!(path === "" && k === "secrets")) collect(x, join(path, k), out);
}

/** Where the first `${secret:…}` reference of a parsed file is (its path), or undefined when it has none. */
export function hasSecretRefs(doc: unknown): string | undefined {
  const refs = new Map<string, Ref>();
  collect(doc, "", refs);
  const first = refs.values().next().value;
  return first ? first.at || "(top)" : undefined;
}

/** The file's `secrets` section, checked (its own strings may use ${VAR}, never ${secret:…}). */
export function secretsOf(doc: unknown, env: Record<string, string | undefined>): SecretsConfig | undefined {
  const raw = (doc as Record<string, unknown> | null)?.secrets;
  if (raw === undefined || raw === null) return undefined;
  const s = secretsSpec(substituteEnv(raw, env, "secrets"), "secrets");
  const names = new Set<string>();
  s.sources.forEach((src, i) => {
    const at = `secrets.sources[${i}]`;
    if (names.has(src.name)) throw new ConfigError(`${at}.name`, `duplicate source "${src.name}"`);
    names.add(src.name);
    if (src.type === "vault") {
      if (!src.url) throw new ConfigError(`${at}.url`, "is required for a vault source");
      const auths = [src.token && "token", src.tokenFile && "token_file", src.kubernetesRole && "kubernetes_role"].filter(Boolean);
      if (auths.length !== 1) throw new ConfigError(at, `a vault source needs exactly one of token, token_file or kubernetes_role${auths.length ? ` (it has ${auths.join(" and ")})` : ""}`);
    }
    if (src.type === "aws_secrets_manager" && !src.region) throw new ConfigError(`${at}.region`, "is required for an aws_secrets_manager source");
    if (src.type === "gcp_secret_manager" && !src.project) throw new ConfigError(`${at}.project`, "is required for a gcp_secret_manager source");
    if (src.type === "azure_key_vault") {
      if (!src.url) throw new ConfigError(`${at}.url`, "is required for an azure_key_vault source (https://<vault>.vault.azure.net)");
      src.tenantId ??= env.AZURE_TENANT_ID;
      src.clientId ??= env.AZURE_CLIENT_ID;
      if (!src.clientSecret) src.federatedTokenFile ??= env.AZURE_FEDERATED_TOKEN_FILE;
      if (!src.tenantId || !src.clientId) throw new ConfigError(at, "an azure_key_vault source needs tenant_id and client_id (or AZURE_TENANT_ID and AZURE_CLIENT_ID)");
      if (!src.clientSecret === !src.federatedTokenFile) throw new ConfigError(at, "an azure_key_vault source needs one of client_secret or federated_token_file (or AZURE_FEDERATED_TOKEN_FILE: AKS workload identity)");
    } else for (const f of ["tenantId", "clientId", "clientSecret", "federatedTokenFile", "authorityUrl"] as const) if (src[f]) throw new ConfigError(`${at}.${f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, "only applies to an azure_key_vault source");
    if (src.type !== "gcp_secret_manager") for (const f of ["project", "credentialsFile", "credentialsJson", "tokenUrl"] as const) if (src[f]) throw new ConfigError(`${at}.${f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, "only applies to a gcp_secret_manager source");
    if (src.type !== "vault" && src.kvVersion !== 2) throw new ConfigError(`${at}.kv_version`, "only applies to a vault source");
    if (src.type !== "vault") for (const f of ["token", "tokenFile", "kubernetesRole", "namespace"] as const) if (src[f]) throw new ConfigError(`${at}.${f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, "only applies to a vault source");
    if (src.type !== "aws_secrets_manager") for (const f of ["region", "accessKeyId", "secretAccessKey", "sessionToken"] as const) if (src[f]) throw new ConfigError(`${at}.${f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, "only applies to an aws_secrets_manager source");
  });
  return { refreshMs: (s as unknown as { refreshSeconds: number }).refreshSeconds * 1000, sources: s.sources };
}

/** What a load read: each reference's value, and a digest of them all (a refresh compares digests, never values). */
export interface ResolvedSecrets {
  config?: SecretsConfig;
  values: Map<string, string>;
  digest: string;
}

export interface SecretReader {
  read(src: SecretSource, path: string, signal: AbortSignal): Promise<string | Record<string, unknown>>;
}

/**
 * Read every reference of the parsed file from its source (each source and path once). An unknown
 * source, a missing secret or field, or a source that cannot be read is a ConfigError naming the
 * field that refers to it and the reference, never a value.
 */
export async function resolveSecrets(doc: unknown, env: Record<string, string | undefined>, reader: SecretReader): Promise<ResolvedSecrets> {
  const refs = new Map<string, Ref>();
  collect(doc, "", refs);
  const config = secretsOf(doc, env);
  const values = new Map<string, string>();
  if (refs.size === 0) return { ...(config ? { config } : {}), values, digest: "" };
  const first = refs.values().next().value!;
  if (!config) throw new ConfigError(first.at, `\${secret:${refKey(first)}} needs a secrets section naming source "${first.source}"`);
  const sources = new Map(config.sources.map((s) => [s.name, s]));
  // One read per source and path, however many fields and strings use it.
  const reads = new Map<string, Promise<string | Record<string, unknown>>>();
  await Promise.all(
    [...refs.entries()].map(async ([key, r]) => {
      const src = sources.get(r.source);
      if (!src) throw new ConfigError(r.at, `\${secret:${key}}: unknown secrets source "${r.source}" (secrets.sources: ${[...sources.keys()].join(", ")})`);
      const rk = `${r.source}\u0000${r.path}`;
      let p = reads.get(rk);
      if (!p) {
        p = reader.read(src, r.path, AbortSignal.timeout(src.timeoutMs));
        reads.set(rk, p);
      }
      let got: string | Record<string, unknown>;
      try {
        got = await p;
      } catch (err) {
        throw new ConfigError(r.at, `\${secret:${key}}: ${(err as Error)?.message ?? String(err)}`);
      }
      values.set(key, pick(got, r, key));
    }),
  );
  // Keyed by a secret of this process: the digest says whether values changed, and nothing of them.
  const h = createHmac("sha256", DIGEST_KEY);
  for (const k of [...values.keys()].sort()) h.update(k).update("\u0000").update(values.get(k)!).update("\u0000");
  return { config, values, digest: h.digest("hex") };
}

/** The value a reference names: a field of structured data, or the whole of a plain string. */
function pick(got: string | Record<string, unknown>, r: Ref, key: string): string {
  if (r.field === undefined) {
    if (typeof got === "string") return got;
    const keys = Object.keys(got);
    if (keys.length === 1 && typeof got[keys[0]] === "string") return got[keys[0]] as string;
    throw new ConfigError(r.at, `\${secret:${key}}: the secret has ${keys.length} fields (${keys.join(", ")}): name one, as \${secret:${key}#<field>}`);
  }
  let data = got;
  if (typeof data === "string") {
    try {
      data = JSON.parse(data) as Record<string, unknown>;
    } catch {
      throw new ConfigError(r.at, `\${secret:${key}}: the secret is not JSON, so it has no field "${r.field}"`);
    }
  }
  const v = data && typeof data === "object" ? (data as Record<string, unknown>)[r.field] : undefined;
  if (v === undefined || v === null) throw new ConfigError(r.at, `\${secret:${key}}: the secret has no field "${r.field}"`);
  return typeof v === "string" ? v : JSON.stringify(v);
}

/**
 * For checking a file without reading its secrets (`signalbox config check`): every reference's
 * source must be one of the secrets section's, and each is replaced by a placeholder. Returns the
 * file so substituted and how many references it has.
 */
export function placeholderSecrets(doc: unknown, env: Record<string, string | undefined>): { doc: unknown; refs: number } {
  const refs = new Map<string, Ref>();
  collect(doc, "", refs);
  if (refs.size === 0) return { doc, refs: 0 };
  const config = secretsOf(doc, env);
  const names = new Set(config?.sources.map((s) => s.name) ?? []);
  for (const [key, r] of refs) {
    if (!config) throw new ConfigError(r.at, `\${secret:${key}} needs a secrets section naming source "${r.source}"`);
    if (!names.has(r.source)) throw new ConfigError(r.at, `\${secret:${key}}: unknown secrets source "${r.source}" (secrets.sources: ${[...names].join(", ")})`);
  }
  return { doc: substituteSecrets(doc, new Map([...refs.keys()].map((k) => [k, "secret-not-read"]))), refs: refs.size };
}

/** Replace every reference in the parsed file with its value (the secrets section is left as it is). */
export function substituteSecrets(v: unknown, values: ReadonlyMap<string, string>, top = true): unknown {
  if (typeof v === "string") {
    return v.replace(REF, (_all, source: string, path: string, field: string | undefined) => values.get(refKey({ source, path: path.trim(), ...(field !== undefined ? { field: field.trim() } : {}) })) ?? "");
  }
  if (Array.isArray(v)) return v.map((x) => substituteSecrets(x, values, false));
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = top && k === "secrets" ? x : substituteSecrets(x, values, false);
    return out;
  }
  return v;
}
