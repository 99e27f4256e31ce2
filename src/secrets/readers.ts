// The readers of the secret managers src/config/secrets.ts names (Vault, AWS Secrets Manager,
// Google Secret Manager, Azure Key Vault, files): over HTTP with undici's fetch, signed or
// authenticated as each wants. Kept apart from src/config so that the command line's bundle (which
// validates config files) never carries them.

import { readFile } from "node:fs/promises";
import type { ProviderConfig } from "../config/types.ts";
import type { SecretReader, SecretSource } from "../config/secrets.ts";
import { resolveAwsCredentials } from "../providers/bedrock/bedrock-auth.ts";
import { createAwsSigner, type AwsSigner } from "../cloud/aws-sigv4.ts";
import { createEntraTokenSource, type EntraTokenSource } from "../cloud/azure-entra.ts";
import { createVertexTokenSource, type VertexTokenSource } from "../providers/vertex/vertex-auth.ts";

/** The sources' readers, over HTTP (undici's fetch) and the file system. */
export function defaultReader(env: Record<string, string | undefined>): SecretReader {
  // Vault client tokens from Kubernetes auth, per source, until they expire.
  const tokens = new Map<string, { token: string; until: number }>();

  async function vaultToken(src: SecretSource, signal: AbortSignal): Promise<string> {
    if (src.token) return src.token;
    if (src.tokenFile) return (await readFile(src.tokenFile, "utf8")).trim();
    const held = tokens.get(src.name);
    if (held && held.until > Date.now()) return held.token;
    const jwt = (await readFile(src.jwtFile!, "utf8").catch((err: Error) => {
      throw new Error(`cannot read the service-account token ${src.jwtFile}: ${err.message}`);
    })).trim();
    const res = await fetch(`${src.url!.replace(/\/+$/, "")}/v1/auth/${src.authMount}/login`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(src.namespace ? { "x-vault-namespace": src.namespace } : {}) },
      body: JSON.stringify({ role: src.kubernetesRole, jwt }),
      signal,
    });
    const body = (await res.json().catch(() => ({}))) as { auth?: { client_token?: string; lease_duration?: number }; errors?: string[] };
    if (!res.ok || !body.auth?.client_token) throw new Error(`vault source "${src.name}": kubernetes login as role "${src.kubernetesRole}" refused (HTTP ${res.status}${body.errors?.length ? `: ${body.errors.join("; ")}` : ""})`);
    // Renewed a little before the lease ends.
    const lease = (body.auth.lease_duration ?? 3600) * 1000;
    tokens.set(src.name, { token: body.auth.client_token, until: Date.now() + Math.max(lease * 0.8, lease - 60_000) });
    return body.auth.client_token;
  }

  async function vault(src: SecretSource, path: string, signal: AbortSignal): Promise<Record<string, unknown>> {
    const token = await vaultToken(src, signal);
    // KV version 2 reads `<mount>/data/<path>` and answers `data.data`; version 1 reads `<mount>/<path>` and answers `data`.
    const v1 = src.kvVersion === 1;
    const url = `${src.url!.replace(/\/+$/, "")}/v1/${src.mount}/${v1 ? "" : "data/"}${path.replace(/^\/+/, "").split("/").map(encodeURIComponent).join("/")}`;
    const res = await fetch(url, { headers: { "x-vault-token": token, ...(src.namespace ? { "x-vault-namespace": src.namespace } : {}) }, signal });
    if (res.status === 403 && src.kubernetesRole) tokens.delete(src.name);
    const body = (await res.json().catch(() => ({}))) as { data?: { data?: Record<string, unknown> | null } & Record<string, unknown>; errors?: string[] };
    if (res.status === 404) throw new Error(`vault source "${src.name}": no secret at ${src.mount}/${path}`);
    if (!res.ok) throw new Error(`vault source "${src.name}": HTTP ${res.status}${body.errors?.length ? `: ${body.errors.join("; ")}` : ""}`);
    const data = v1 ? body.data : body.data?.data;
    // A deleted (or destroyed) latest version reads as data: null.
    if (!data) throw new Error(`vault source "${src.name}": the secret at ${src.mount}/${path} has no current version`);
    return data;
  }

  // Signers per source (the credentials may differ by source).
  const signers = new Map<string, { id: string; signer: AwsSigner }>();

  async function aws(src: SecretSource, path: string, signal: AbortSignal): Promise<string> {
    const creds = resolveAwsCredentials({ region: src.region!, accessKeyId: src.accessKeyId, secretAccessKey: src.secretAccessKey, sessionToken: src.sessionToken } as never, env);
    if (!creds) throw new Error(`aws_secrets_manager source "${src.name}": no AWS credentials (access_key_id and secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`);
    const base = new URL(src.url ?? `https://secretsmanager.${src.region}.amazonaws.com/`);
    const id = `${src.region}\0${creds.accessKeyId}\0${creds.secretAccessKey}\0${creds.sessionToken ?? ""}`;
    let held = signers.get(src.name);
    if (held?.id !== id) {
      held = { id, signer: createAwsSigner("secretsmanager", src.region!, creds) };
      signers.set(src.name, held);
    }
    const signer = held.signer;
    const body = JSON.stringify({ SecretId: path });
    const headers = await signer.sign("POST", base, { "content-type": "application/x-amz-json-1.1", "x-amz-target": "secretsmanager.GetSecretValue" }, body);
    const res = await fetch(base, { method: "POST", headers, body, signal });
    const out = (await res.json().catch(() => ({}))) as { SecretString?: string; SecretBinary?: string; __type?: string; message?: string; Message?: string };
    if (!res.ok) {
      const type = (out.__type ?? "").split("#").pop() || `HTTP ${res.status}`;
      throw new Error(`aws_secrets_manager source "${src.name}": ${type}${out.message || out.Message ? `: ${out.message ?? out.Message}` : ""}`);
    }
    if (typeof out.SecretString === "string") return out.SecretString;
    if (typeof out.SecretBinary === "string") return Buffer.from(out.SecretBinary, "base64").toString("utf8");
    throw new Error(`aws_secrets_manager source "${src.name}": the secret has no value`);
  }

  // Google access tokens per source (google-auth-library, as for Vertex), for this reader's reads.
  const google = new Map<string, VertexTokenSource>();

  async function gcp(src: SecretSource, path: string, signal: AbortSignal): Promise<string> {
    let ts = google.get(src.name);
    if (!ts) {
      const conn = { name: `gcp_secret_manager source "${src.name}"`, vertex: { project: src.project!, location: "global", ...(src.credentialsFile ? { credentialsFile: src.credentialsFile } : {}), ...(src.credentialsJson ? { credentialsJson: src.credentialsJson } : {}), ...(src.tokenUrl ? { tokenUrl: src.tokenUrl } : {}) } } as unknown as ProviderConfig;
      ts = createVertexTokenSource(conn, env as NodeJS.ProcessEnv);
      google.set(src.name, ts);
    }
    const token = await ts.token(signal);
    // "<secret>" (its latest version) or "<secret>/versions/<n>".
    const [secret, version = "latest"] = path.replace(/^\/+/, "").split("/versions/");
    const url = `${(src.url ?? "https://secretmanager.googleapis.com").replace(/\/+$/, "")}/v1/projects/${encodeURIComponent(src.project!)}/secrets/${encodeURIComponent(secret)}/versions/${encodeURIComponent(version)}:access`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal });
    const body = (await res.json().catch(() => ({}))) as { payload?: { data?: string }; error?: { status?: string; message?: string } };
    if (!res.ok) throw new Error(`gcp_secret_manager source "${src.name}": ${body.error?.status ?? `HTTP ${res.status}`}${body.error?.message ? `: ${body.error.message}` : ""}`);
    if (typeof body.payload?.data !== "string") throw new Error(`gcp_secret_manager source "${src.name}": the secret version has no payload`);
    return Buffer.from(body.payload.data, "base64").toString("utf8");
  }

  // Entra ID access tokens per source, for this reader's reads.
  const entra = new Map<string, EntraTokenSource>();

  function azureToken(src: SecretSource, signal: AbortSignal): Promise<string> {
    let ts = entra.get(src.name);
    if (!ts) {
      ts = createEntraTokenSource(`azure_key_vault source "${src.name}"`, { tenantId: src.tenantId!, clientId: src.clientId!, ...(src.clientSecret ? { clientSecret: src.clientSecret } : { federatedTokenFile: src.federatedTokenFile }), ...(src.authorityUrl ? { authorityUrl: src.authorityUrl } : {}) }, "https://vault.azure.net/.default");
      entra.set(src.name, ts);
    }
    return ts.token(signal);
  }

  async function azure(src: SecretSource, path: string, signal: AbortSignal): Promise<string> {
    const token = await azureToken(src, signal);
    // "<name>" (its current version) or "<name>/<version>".
    const [name, version] = path.replace(/^\/+/, "").split("/");
    const url = `${src.url!.replace(/\/+$/, "")}/secrets/${encodeURIComponent(name)}${version ? `/${encodeURIComponent(version)}` : ""}?api-version=7.4`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal });
    const body = (await res.json().catch(() => ({}))) as { value?: string; error?: { code?: string; message?: string } };
    if (res.status === 401) entra.get(src.name)?.invalidate();
    if (!res.ok) throw new Error(`azure_key_vault source "${src.name}": ${body.error?.code ?? `HTTP ${res.status}`}${body.error?.message ? `: ${body.error.message}` : ""}`);
    if (typeof body.value !== "string") throw new Error(`azure_key_vault source "${src.name}": the secret has no value`);
    return body.value;
  }

  async function file(src: SecretSource, path: string): Promise<string> {
    try {
      return (await readFile(path, "utf8")).replace(/\r?\n$/, "");
    } catch (err) {
      throw new Error(`file source "${src.name}": cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  return {
    async read(src, path, signal) {
      if (src.type === "vault") return vault(src, path, signal);
      if (src.type === "aws_secrets_manager") return aws(src, path, signal);
      if (src.type === "gcp_secret_manager") return gcp(src, path, signal);
      if (src.type === "azure_key_vault") return azure(src, path, signal);
      return file(src, path);
    },
  };
}
