// Names made from the free-text labels other gateways' admin APIs take (OpenRouter's key `name`,
// Bifrost's virtual key and team `name`, Portkey's key and virtual key `name`): the gateway's
// names are [a-z0-9][a-z0-9._-]{0,63}, so the label is kept in metadata and a name derived from it.
// Also the one lookup those APIs share: a key of theirs by id, live and a service key.

import { randomBytes } from "node:crypto";
import { GatewayError } from "../router/errors.ts";
import type { ManagedKey } from "../control/types.ts";

/**
 * A key those APIs manage (a live service key) by id, or `notFound`: a revoked key, another role's
 * or one the caller may not see is not found either. The id is never echoed in the error: a caller
 * may have put a secret there by mistake.
 */
export async function liveServiceKey(get: () => Promise<ManagedKey>, notFound: () => GatewayError): Promise<ManagedKey> {
  try {
    const k = await get();
    if (k.revokedAt === undefined && k.role === "service") return k;
  } catch (err) {
    if (!(err instanceof GatewayError && err.code === "not_found")) throw err;
  }
  throw notFound();
}

/** A valid gateway name from a label: accents dropped, lowercased, any other character run as '-'. */
export function nameFromLabel(label: string, fallback: string): string {
  const slug = label
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 48)
    .replace(/[^a-z0-9]+$/, "");
  return slug || fallback;
}

/**
 * Make something named after a label: the label's name when free, else that name with a random
 * suffix; a name taken meanwhile (by another replica: `make` fails with already_exists) is tried
 * again, five times in all.
 */
export async function withFreeName<T>(label: string, fallback: string, taken: (name: string) => boolean, make: (name: string) => Promise<T>): Promise<T> {
  const base = nameFromLabel(label, fallback);
  for (let i = 0; ; i++) {
    const name = i === 0 && !taken(base) ? base : `${base}-${randomBytes(3).toString("hex")}`;
    try {
      return await make(name);
    } catch (err) {
      if (!(i < 4 && err instanceof GatewayError && err.code === "already_exists")) throw err;
    }
  }
}
