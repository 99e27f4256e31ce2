// Portkey's request headers on the OpenAI-compatible door, so an app built on Portkey's SDK
// (portkey-ai, pointed at the gateway's /v1 with baseURL) works unchanged:
//
//   x-portkey-api-key              the caller's key (the SDK sends no Authorization header)
//   x-portkey-trace-id             groups requests under one trace id of the app's choosing: a
//                                  32-hex id is the W3C trace id itself; any other text is hashed
//                                  to one (SHA-256's first 16 bytes), so the same text always
//                                  lands in the same trace, and feedback by that text finds it
//   x-portkey-metadata             a JSON object of strings, recorded with the request like the
//                                  body's `metadata` (which wins on a clash); `_user` is the end
//                                  user when the body names none (limits, budgets, A/B splits)
//   x-portkey-cache-force-refresh  "true": answer afresh and refresh the cached answer
//
// Portkey's routing headers (x-portkey-config, -virtual-key, -provider, -request-timeout) are
// read by ./portkey-config.ts.

import { createHash } from "node:crypto";
import { GatewayError } from "../router/errors.ts";
import { traceIdOfText, type RequestContext } from "../server/context.ts";
import { LIMITS } from "../server/validate.ts";

/**
 * A traceparent for a request that names a Portkey trace id and no traceparent of its own: the
 * trace id it stands for, and a parent span id made from the same text, so every request of the
 * trace hangs under one (absent) parent in a trace viewer.
 */
export function portkeyTraceparent(v: string): string {
  let span = createHash("sha256").update(`span\u0000${v}`).digest("hex").slice(0, 16);
  if (span === "0000000000000000") span = "0000000000000001";
  return `00-${traceIdOfText(v)}-${span}-01`;
}

/** x-portkey-metadata: a JSON object of strings (numbers and booleans are written as text); `_user` also names the end user. */
export function portkeyContext(raw: string | undefined): RequestContext | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new GatewayError("invalid_argument", "x-portkey-metadata: must be a JSON object", { field: "x-portkey-metadata" });
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new GatewayError("invalid_argument", "x-portkey-metadata: must be a JSON object", { field: "x-portkey-metadata" });
  const metadata: Record<string, string> = {};
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > LIMITS.metadata) throw new GatewayError("invalid_argument", `x-portkey-metadata: at most ${LIMITS.metadata} entries`, { field: "x-portkey-metadata" });
  for (const [k, x] of entries) {
    if (x === null || x === undefined) continue;
    if (typeof x !== "string" && typeof x !== "number" && typeof x !== "boolean") throw new GatewayError("invalid_argument", `x-portkey-metadata.${k}: must be a string`, { field: `x-portkey-metadata.${k}` });
    const s = String(x);
    if (s.length > LIMITS.metadataValue) throw new GatewayError("invalid_argument", `x-portkey-metadata.${k}: value longer than ${LIMITS.metadataValue} characters`, { field: `x-portkey-metadata.${k}` });
    metadata[k] = s;
  }
  const user = metadata._user;
  if (user !== undefined && user.length > 256) throw new GatewayError("invalid_argument", "x-portkey-metadata._user: at most 256 characters", { field: "x-portkey-metadata._user" });
  return { metadata, ...(user ? { user } : {}) };
}
