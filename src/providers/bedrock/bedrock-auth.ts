// AWS Signature Version 4 for Bedrock requests, with the well-kept signer (@smithy/signature-v4
// and @smithy/hash-node): credentials are resolved once per connection (its config, else the
// standard AWS_* environment variables); every request is signed just before it is sent.

import type { SignatureV4 } from "@smithy/signature-v4";
import { newSignatureV4, type AwsCredentials } from "../../cloud/aws-sigv4.ts";
import type { AwsSettings } from "../../config/types.ts";
import type { AuthorizeContext, HttpRequestSpec } from "../types.ts";
import { ProviderError } from "../types.ts";

/** The signing name of bedrock-runtime. */
export const BEDROCK_SERVICE = "bedrock";

export type { AwsCredentials };

/** Credentials from the connection's config, else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN. */
export function resolveAwsCredentials(aws: AwsSettings | undefined, env: Record<string, string | undefined> = process.env): AwsCredentials | undefined {
  const fromConfig = aws?.accessKeyId && aws.secretAccessKey;
  const accessKeyId = fromConfig ? aws.accessKeyId : env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = fromConfig ? aws.secretAccessKey : env.AWS_SECRET_ACCESS_KEY;
  // A session token belongs to its key pair: never mix the config's keys with the environment's token.
  const sessionToken = fromConfig ? aws.sessionToken : env.AWS_SESSION_TOKEN;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

export interface BedrockSigner {
  sign(spec: HttpRequestSpec, ctx: AuthorizeContext): Promise<HttpRequestSpec>;
}

/**
 * A signer for one connection. The path is signed exactly as it is sent (already URI-encoded;
 * the signer encodes it once more for the canonical request, as AWS wants for every service but
 * S3). `host` is signed but not sent: undici derives the same value from the base URL.
 */
export function createBedrockSigner(label: string, region: string, creds: AwsCredentials | undefined): BedrockSigner {
  // The signer's modules are loaded with the first request: a gateway with no Bedrock deployment
  // never carries them.
  let signer: Promise<SignatureV4> | undefined;
  const makeSigner = () => newSignatureV4(BEDROCK_SERVICE, region, creds!, true);
  const bases = new Map<string, URL>();
  return {
    async sign(spec, ctx) {
      if (!creds) {
        throw new ProviderError({
          kind: "upstream_auth",
          message: `${label}: no AWS credentials (set aws.access_key_id and aws.secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`,
          unsent: true,
        });
      }
      let base = bases.get(ctx.baseUrl);
      if (!base) {
        base = new URL(ctx.baseUrl);
        bases.set(ctx.baseUrl, base);
      }
      const full = base.pathname.replace(/\/+$/, "") + spec.path;
      const q = full.indexOf("?");
      const path = q < 0 ? full : full.slice(0, q);
      const query: Record<string, string> = {};
      if (q >= 0) for (const [k, v] of new URLSearchParams(full.slice(q + 1))) query[k] = v;
      let signed;
      try {
        signed = await (await (signer ??= makeSigner())).sign({
          method: spec.method,
          protocol: base.protocol,
          hostname: base.hostname,
          ...(base.port ? { port: Number(base.port) } : {}),
          path,
          query,
          headers: { ...spec.headers, host: base.host },
          body: spec.body,
        });
      } catch (err) {
        // The signer's own messages never hold the secret, but the cause is kept out of the message anyway.
        throw new ProviderError({ kind: "upstream_auth", message: `${label}: could not sign the request with SigV4`, cause: err, unsent: true });
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== "host") headers[k] = String(v);
      return { ...spec, headers };
    },
  };
}
