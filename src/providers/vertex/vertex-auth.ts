// Google OAuth access tokens for one Vertex connection: a google-auth-library client built from the
// service-account key file (or Application Default Credentials), its token cached and refreshed by
// the library, and every failure to obtain one turned into an "upstream_auth" ProviderError.

import { readFile } from "node:fs/promises";
import type { AuthClient, gaxios } from "google-auth-library";
import type { ProviderConfig } from "../../config/types.ts";
import { clip } from "../headers.ts";
import { ProviderError } from "../types.ts";

export const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";

/** Where google-auth-library sends the JWT assertion (it ignores the key file's token_uri). */
export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";

/**
 * A token is refreshed this long before it expires (the library's own default, stated here): a
 * request never leaves with a token about to lapse in flight.
 */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/** Access tokens for one connection. */
export interface VertexTokenSource {
  /**
   * A valid access token: the cached one, or a fresh one when it is missing or within
   * REFRESH_MARGIN_MS of expiry. Concurrent callers share one refresh (the library keys in-flight
   * refreshes per client). Throws a ProviderError: "upstream_auth" when no token can be had,
   * "canceled" when `signal` fires first.
   */
  token(signal: AbortSignal): Promise<string>;
  /** Vertex refused the token (401): the next call fetches a new one instead of reusing it. */
  invalidate(): void;
}

interface KeyFile {
  type?: string;
  client_email?: string;
  private_key?: string;
  private_key_id?: string;
  token_uri?: string;
}

/**
 * The token source of a `type: vertex` connection. Credentials come from `vertex.credentials_json`
 * (the key file's contents), else `vertex.credentials_file`, else GOOGLE_APPLICATION_CREDENTIALS, else the rest of Application Default Credentials (gcloud's
 * user credentials, the GCE/GKE metadata server). The key file is read on first use, so a missing
 * or broken file fails that deployment's requests (upstream_auth) rather than the gateway's start.
 */
export function createVertexTokenSource(conn: ProviderConfig, env: NodeJS.ProcessEnv = process.env): VertexTokenSource {
  const inline = conn.vertex?.credentialsJson;
  const keyPath = inline === undefined ? (conn.vertex?.credentialsFile ?? env.GOOGLE_APPLICATION_CREDENTIALS) : undefined;
  /** How messages name where the key came from. */
  const source = inline === undefined ? `the Google credentials file ${keyPath}` : "the Google credentials in vertex.credentials_json";
  let client: Promise<AuthClient> | undefined;
  // Strings that must never appear in a message: filled once the key file is read.
  const secrets: string[] = [];

  const fail = (what: string, err?: unknown) =>
    new ProviderError({
      kind: "upstream_auth",
      message: `${conn.name}: ${what}`,
      providerCode: oauthErrorCode(err),
      // The request never reached Vertex: there is nothing to bill.
      unsent: true,
    });

  async function load(): Promise<AuthClient> {
    // Loaded with the first token: a gateway with no Vertex deployment never carries the library.
    const { GoogleAuth, JWT, gaxios } = await import("google-auth-library");
    const clientOptions = { eagerRefreshThresholdMillis: REFRESH_MARGIN_MS };
    if (inline === undefined && !keyPath) return new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE], clientOptions }).getClient();
    let text: string;
    if (inline !== undefined) text = inline;
    else {
      try {
        text = await readFile(keyPath!, "utf8");
      } catch (err) {
        throw fail(`cannot read ${source} (${(err as { code?: string }).code ?? "error"})`);
      }
    }
    let key: KeyFile;
    try {
      key = JSON.parse(text) as KeyFile;
    } catch {
      throw fail(`${source} is not JSON`);
    }
    if (key.private_key) secrets.push(key.private_key);
    const transporter = tokenTransporter(new gaxios.Gaxios(), conn.vertex?.tokenUrl ?? key.token_uri);
    if (key.type === "service_account" || (key.type === undefined && key.private_key)) {
      if (!key.client_email || !key.private_key) throw fail(`the service-account key in ${source.replace(/^the /, "")} lacks client_email or private_key`);
      return new JWT({ email: key.client_email, key: key.private_key, keyId: key.private_key_id, scopes: [CLOUD_PLATFORM_SCOPE], transporter, ...clientOptions });
    }
    // authorized_user, external_account, …: the library knows each kind.
    return new GoogleAuth({ credentials: key as Record<string, string>, scopes: [CLOUD_PLATFORM_SCOPE], clientOptions: { ...clientOptions, transporter } }).getClient();
  }

  async function fetchToken(): Promise<string> {
    client ??= load();
    let c: AuthClient;
    try {
      c = await client;
    } catch (err) {
      client = undefined; // a fixed file is picked up on the next request
      if (err instanceof ProviderError) throw err;
      throw fail(`no Google credentials (${redact(errorText(err), secrets)})`, err);
    }
    let token: string | null | undefined;
    try {
      token = (await c.getAccessToken()).token;
    } catch (err) {
      throw fail(`could not refresh the Google access token (${redact(errorText(err), secrets)})`, err);
    }
    if (!token) throw fail("the Google token endpoint returned no access token");
    return token;
  }

  return {
    async token(signal) {
      signal.throwIfAborted?.();
      // The shared refresh goes on for others; this caller stops waiting when it is canceled.
      return await abortable(fetchToken(), signal);
    },
    invalidate() {
      void client?.then(
        (c) => {
          // JWT's own starting state: "expired", so the next getAccessToken() fetches.
          if (c.credentials.access_token) c.credentials = { refresh_token: c.credentials.refresh_token ?? undefined, expiry_date: 1 };
        },
        () => {},
      );
    },
  };
}

/**
 * A transporter that sends the token request to `target` when it differs from Google's endpoint
 * (a key file's own token_uri, or `vertex.token_url` for tests); the assertion is unchanged.
 */
function tokenTransporter(t: gaxios.Gaxios, target: string | undefined): gaxios.Gaxios {
  if (target && target !== GOOGLE_TOKEN_URL) {
    t.interceptors.request.add({
      resolved: async (opts) => {
        if (String(opts.url) === GOOGLE_TOKEN_URL) opts.url = new URL(target);
        return opts;
      },
    });
  }
  return t;
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(canceled(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(canceled(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function canceled(signal: AbortSignal): ProviderError {
  const r = signal.reason;
  return r instanceof ProviderError ? r : new ProviderError({ kind: "canceled", message: "request canceled", cause: r });
}

/** The OAuth error code of a token endpoint answer (`invalid_grant`), if there was one. */
function oauthErrorCode(err: unknown): string | undefined {
  const data = (err as { response?: { data?: unknown } } | undefined)?.response?.data;
  const code = data !== null && typeof data === "object" ? (data as { error?: unknown }).error : undefined;
  return typeof code === "string" ? code : undefined;
}

function errorText(err: unknown): string {
  const status = (err as { response?: { status?: number } } | undefined)?.response?.status;
  const msg = err instanceof Error ? err.message : String(err);
  return clip(status && !msg.includes(String(status)) ? `HTTP ${status}: ${msg}` : msg, 200);
}

/** Nothing credential-shaped leaves: the key, PEM blocks, JWTs (the signed assertion), OAuth tokens. */
export function redact(s: string, secrets: string[] = []): string {
  let out = s;
  for (const secret of secrets) if (secret.length >= 8) out = out.split(secret).join("[redacted]");
  return out
    .replace(/-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)/g, "[redacted]")
    .replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, "[redacted]")
    .replace(/ya29\.[\w.-]+/g, "[redacted]");
}
