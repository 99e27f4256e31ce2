// Microsoft Entra ID access tokens for the gateway's own calls to Azure services (Key Vault, Blob
// Storage): the client-credentials grant with a client secret, or with a federated token (AKS
// workload identity's projected service-account token), kept until shortly before they expire.

import { readFile } from "node:fs/promises";

export interface EntraApp {
  tenantId: string;
  clientId: string;
  /** Secret: never in a message. */
  clientSecret?: string;
  /** A file holding a federated token (read at each grant: the kubelet rotates it). */
  federatedTokenFile?: string;
  /** Default https://login.microsoftonline.com. */
  authorityUrl?: string;
}

export interface EntraTokenSource {
  token(signal?: AbortSignal): Promise<string>;
  /** Forget the token held (a 401 from the service). */
  invalidate(): void;
}

/** Tokens for `scope` (e.g. https://storage.azure.com/.default); `label` starts every error message. */
export function createEntraTokenSource(label: string, app: EntraApp, scope: string, now: () => number = Date.now): EntraTokenSource {
  let held: { token: string; until: number } | undefined;
  return {
    async token(signal) {
      if (held && held.until > now()) return held.token;
      const form = new URLSearchParams({ grant_type: "client_credentials", client_id: app.clientId, scope });
      if (app.clientSecret) form.set("client_secret", app.clientSecret);
      else {
        const assertion = (await readFile(app.federatedTokenFile!, "utf8").catch((err: Error) => {
          throw new Error(`${label}: cannot read the federated token ${app.federatedTokenFile}: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
        })).trim();
        form.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        form.set("client_assertion", assertion);
      }
      const res = await fetch(`${(app.authorityUrl ?? "https://login.microsoftonline.com").replace(/\/+$/, "")}/${encodeURIComponent(app.tenantId)}/oauth2/v2.0/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form,
        ...(signal ? { signal } : {}),
      });
      const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number | string; error?: string; error_description?: string };
      // Entra's error_description starts with its AADSTS code: enough to act on, and it never carries the secret.
      if (!res.ok || !body.access_token) throw new Error(`${label}: Entra ID refused the token request (${body.error ?? `HTTP ${res.status}`}${body.error_description ? `: ${body.error_description.split(/\r?\n/)[0].slice(0, 200)}` : ""})`);
      // Renewed five minutes before it expires (an hour by default).
      const life = Number(body.expires_in ?? 3600) * 1000 || 3_600_000;
      held = { token: body.access_token, until: now() + Math.max(life - 300_000, life / 2) };
      return body.access_token;
    },
    invalidate() {
      held = undefined;
    },
  };
}
