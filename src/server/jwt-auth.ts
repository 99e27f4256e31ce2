// Callers that present a signed token of a trusted issuer instead of a key's secret (`auth.jwt`):
// a Kubernetes pod's projected service-account token, a cloud workload identity's token, an OIDC
// provider's client-credentials token. Nothing to distribute or rotate: the platform mints the
// token. The token's subject (or another claim) is bound to a key, and the caller acts as that key
// (its team, role, limits, budget and allow list), as a console session acts as its person.
//
// Verified with jose: the signature against the issuer's published keys (fetched once, refreshed
// when a token names a key id not seen yet, at most every `jwks_cooldown_ms`), `iss` exactly, `aud`
// one of the configured, `exp` required, `nbf` and `iat` honoured with 30 s of leeway, and only
// asymmetric algorithms. A token verified once is remembered until it expires (at most 2,000), so
// a pod that reuses its token costs a map lookup per request, as a key does.

import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import type { JwtIssuerConfig } from "../config/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";

const JWT = /^eyJ[\w-]*\.eyJ[\w-]*\.[\w-]+$/;
const CACHE_MAX = 2_000;
const LEEWAY_S = 30;

export interface JwtAuth {
  /** Whether an Authorization header carries a JWT this gateway might accept. */
  matches(token: string): boolean;
  /** The caller the token stands for (cached until the token expires); throws unauthenticated. */
  verify(token: string): Caller | Promise<Caller>;
}

const unauthenticated = (message: string) => new GatewayError("unauthenticated", message);

/** The key sets of the issuers, made once per JWKS URL and cooldown (a reload keeps them). */
const keySets = new Map<string, JWTVerifyGetKey>();

async function jwksOf(cfg: JwtIssuerConfig): Promise<JWTVerifyGetKey> {
  let url = cfg.jwksUrl;
  if (!url) {
    const disc = `${cfg.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    const res = await fetch(disc, { signal: AbortSignal.timeout(5_000) }).catch((err: Error) => {
      throw unauthenticated(`the signing keys of ${cfg.issuer} could not be found (${disc}: ${err.message})`);
    });
    const doc = (await res.json().catch(() => ({}))) as { jwks_uri?: unknown };
    if (!res.ok || typeof doc.jwks_uri !== "string") throw unauthenticated(`the signing keys of ${cfg.issuer} could not be found (${disc} answered ${res.status} without a jwks_uri)`);
    url = doc.jwks_uri;
  }
  const id = `${cfg.jwksCooldownMs} ${url}`;
  let set = keySets.get(id);
  if (!set) keySets.set(id, (set = createRemoteJWKSet(new URL(url), { cooldownDuration: cfg.jwksCooldownMs, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 })));
  return set;
}

export function createJwtAuth(issuers: () => readonly JwtIssuerConfig[] | undefined, callerByName: (name: string) => Caller | undefined, now: () => number = Date.now): JwtAuth {
  /** Tokens already verified: the key bound to each, until the token expires. */
  const verified = new Map<string, { key: string; subject: string; exp: number; issuer: JwtIssuerConfig }>();
  /** Each issuer's key set, found once (discovery included). */
  const sets = new Map<JwtIssuerConfig, Promise<JWTVerifyGetKey>>();

  const bound = (cfg: JwtIssuerConfig, key: string, subject: string): Caller => {
    const caller = callerByName(key);
    if (!caller) throw unauthenticated(`${cfg.claim} "${subject}" of ${cfg.issuer} is bound to key "${key}", which is revoked, expired or does not exist`);
    return caller;
  };

  async function verifyAsync(token: string, cfg: JwtIssuerConfig): Promise<Caller> {
    let set = sets.get(cfg);
    if (!set) {
      set = jwksOf(cfg);
      sets.set(cfg, set);
      set.catch(() => sets.delete(cfg));
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(token, await set, { issuer: cfg.issuer, audience: cfg.audiences, algorithms: cfg.algorithms, clockTolerance: LEEWAY_S, requiredClaims: ["exp"] }));
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw unauthenticated(`token of ${cfg.issuer} refused: ${describe(err)}`);
    }
    const subject = payload[cfg.claim];
    if (typeof subject !== "string" || !subject) throw unauthenticated(`token of ${cfg.issuer} has no "${cfg.claim}" claim`);
    const key = cfg.subjects[subject];
    if (!key) throw unauthenticated(`no key is bound to ${cfg.claim} "${subject}" of ${cfg.issuer} (auth.jwt subjects)`);
    const caller = bound(cfg, key, subject);
    if (verified.size >= CACHE_MAX) verified.delete(verified.keys().next().value!);
    verified.set(token, { key, subject, exp: payload.exp! * 1000, issuer: cfg });
    return caller;
  }

  return {
    matches: (token) => JWT.test(token) && (issuers()?.length ?? 0) > 0,
    verify(token) {
      const list = issuers() ?? [];
      const hit = verified.get(token);
      // The configuration in force still trusts the issuer and binds the subject (a reload may change either).
      if (hit && list.includes(hit.issuer)) {
        if (hit.exp + LEEWAY_S * 1000 > now()) return bound(hit.issuer, hit.key, hit.subject);
        verified.delete(token);
        throw unauthenticated(`token of ${hit.issuer.issuer} refused: it expired`);
      }
      let iss: unknown;
      try {
        iss = decodeJwt(token).iss;
      } catch {
        throw unauthenticated("the bearer token is neither a key nor a well-formed JWT");
      }
      const cfg = list.find((c) => c.issuer === iss);
      if (!cfg) throw unauthenticated(`tokens of issuer ${JSON.stringify(iss ?? null)} are not accepted here (auth.jwt)`);
      return verifyAsync(token, cfg);
    },
  };
}

/** jose's refusal in words (never the token). */
function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "it expired";
  if (err instanceof errors.JWTClaimValidationFailed) return `its ${err.claim} claim ${err.reason === "check_failed" ? "is not accepted" : err.reason === "missing" ? "is missing" : "is not valid"}`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return "its signature does not verify";
  if (err instanceof errors.JWKSNoMatchingKey) return "it is signed with a key the issuer does not publish";
  if (err instanceof errors.JOSEAlgNotAllowed) return "its algorithm is not accepted";
  if (err instanceof errors.JWKSTimeout) return "the issuer's signing keys could not be fetched in time";
  if (err instanceof errors.JOSEError) return err.message;
  return (err as Error)?.message ?? String(err);
}
