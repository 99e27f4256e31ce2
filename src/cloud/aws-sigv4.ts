// AWS Signature Version 4 for the gateway's own calls to AWS services beside Bedrock's (Secrets
// Manager, S3): @smithy/signature-v4 (the AWS SDK's signer), loaded with the first request, one
// signer per service, region and key pair.

import type { SignatureV4 } from "@smithy/signature-v4";

export interface AwsCredentials {
  accessKeyId: string;
  /** Secret. */
  secretAccessKey: string;
  /** Secret (temporary credentials only). */
  sessionToken?: string;
}

/** A new signer (the modules loaded on first use). `uriEscapePath: false` for S3, true for every other service. */
export async function newSignatureV4(service: string, region: string, credentials: AwsCredentials, uriEscapePath = true): Promise<SignatureV4> {
  const [{ SignatureV4 }, { Hash }] = await Promise.all([import("@smithy/signature-v4"), import("@smithy/hash-node")]);
  return new SignatureV4({ service, region, credentials: { ...credentials }, sha256: Hash.bind(null, "sha256"), uriEscapePath });
}

export interface AwsSigner {
  /**
   * The headers to send with a request to `url` (its path already URI-encoded, as it is sent):
   * the given ones plus `x-amz-date`, `authorization`, the session token's and, for S3, the
   * payload's SHA-256. `host` is signed but not returned (fetch sends the same value).
   */
  sign(method: string, url: URL, headers: Record<string, string>, body?: string | Uint8Array): Promise<Record<string, string>>;
}

export function createAwsSigner(service: string, region: string, credentials: AwsCredentials): AwsSigner {
  let signer: Promise<SignatureV4> | undefined;
  return {
    async sign(method, url, headers, body) {
      signer ??= newSignatureV4(service, region, credentials, service !== "s3");
      const query: Record<string, string> = {};
      for (const [k, v] of url.searchParams) query[k] = v;
      const signed = await (await signer).sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        // Signed as it is sent (each segment encoded as AWS encodes: see awsEncode); the signer
        // encodes it once more for the canonical request of every service but S3, as AWS wants.
        path: url.pathname || "/",
        query,
        headers: { host: url.host, ...headers },
        ...(body !== undefined ? { body } : {}),
      });
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(signed.headers)) if (k !== "host") out[k] = String(v);
      return out;
    },
  };
}

/** A path segment or query value encoded as SigV4 wants (RFC 3986: all but A–Z a–z 0–9 - _ . ~). */
export const awsEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
