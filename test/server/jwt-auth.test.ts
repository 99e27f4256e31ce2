// Tokens of a trusted issuer in place of a key's secret (auth.jwt): a local issuer over real HTTP
// (its discovery document and JWKS, keys made with jose), tokens signed as a Kubernetes service
// account's or a client-credentials token would be; the caller acts as the key its subject is
// bound to (team, role, limits, usage records), on the OpenAI door and on Connect. Every way a
// token can be wrong is refused with a 401 saying which, never echoing the token; the issuer's
// key rotation is followed; a revoked key's binding stops at once.

import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { createSignalboxClient, KeyRole, userText } from "@signalbox/client";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import { hashKey } from "../../src/server/auth.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { freePort } from "../helpers/redis.ts";

const ADMIN = ["sbx", "test", "jwt", "admin"].join("_");
const SA = "system:serviceaccount:search:indexer";

interface Signer {
  kid: string;
  alg: string;
  priv: CryptoKey;
  jwk: JWK;
}
async function signer(kid: string, alg: "ES256" | "RS256"): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, priv: privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

describe("auth.jwt: tokens of trusted issuers in place of keys' secrets", () => {
  let gw: TestGateway;
  let issuer: string;
  let idp: Server;
  const published: Signer[] = [];
  let jwksFetches = 0;
  let first: Signer;

  const token = (s: Signer, claims: Record<string, unknown> = {}, opts: { aud?: string; exp?: string | number; iss?: string } = {}) =>
    new SignJWT({ ...claims })
      .setProtectedHeader({ alg: s.alg, kid: s.kid })
      .setIssuer(opts.iss ?? issuer)
      .setSubject(SA)
      .setAudience(opts.aud ?? "signalbox")
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? "10m")
      .sign(s.priv);

  const chat = (bearer: string) =>
    fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" }, body: JSON.stringify({ model: "default", messages: [{ role: "user", content: "hi" }] }) });
  const refused = async (bearer: string, why: RegExp) => {
    const r = await chat(bearer);
    const body = (await r.json()) as { error: { message: string } };
    assert.equal(r.status, 401, JSON.stringify(body));
    assert.match(body.error.message, why);
    assert.ok(!body.error.message.includes(bearer), "the token is not echoed");
  };

  before(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    first = await signer("k1", "ES256");
    published.push(first);
    idp = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      if (req.url === "/.well-known/openid-configuration") return res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
      if (req.url === "/keys") {
        jwksFetches++;
        return res.end(JSON.stringify({ keys: published.map((s) => s.jwk) }));
      }
      res.statusCode = 404;
      res.end("{}");
    });
    await new Promise<void>((r) => idp.listen(port, "127.0.0.1", r));
    gw = await startTestGateway(`${MOCK_CONFIG}
teams: [{ name: search }]
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
  - { name: indexer, hash: "${hashKey(["sbx", "test", "jwt", "indexer"].join("_"))}", team: search, role: service, limits: { requests_per_minute: 4 } }
auth:
  jwt:
    - issuer: ${issuer}
      audience: [signalbox, signalbox-staging]
      jwks_cooldown_ms: 100
      subjects:
        "${SA}": indexer
        "system:serviceaccount:search:crawler": crawler
        "system:serviceaccount:search:ghost": nobody-by-that-name
`);
  });
  after(async () => {
    await gw?.close();
    idp?.close();
  });

  test("a valid token acts as its bound key: team, role, limits and usage records are the key's; the second use costs no fetch", async () => {
    const t = await token(first);
    const r = await chat(t);
    assert.equal(r.status, 200);
    const id = r.headers.get("x-request-id")!;
    const rec = await createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN }).usage.getRequest({ id });
    assert.deepEqual([rec.record?.key, rec.record?.team], ["indexer", "search"]);
    const me = await createSignalboxClient({ baseUrl: gw.url, apiKey: t }).admin.getCaller({});
    assert.deepEqual([me.key, me.team, me.role], ["indexer", "search", KeyRole.SERVICE]);
    const fetches = jwksFetches;
    // The key's own limit (4 a minute) counts the token's requests, on Connect too: the fifth is a 429.
    await createSignalboxClient({ baseUrl: gw.url, apiKey: t }).chat.complete({ model: "default", messages: [userText("again")] });
    assert.equal((await chat(t)).status, 200);
    assert.equal((await chat(t)).status, 200);
    assert.equal((await chat(t)).status, 429);
    assert.equal(jwksFetches, fetches, "a token verified once is remembered");
  });

  test("every way a token can be wrong is a 401 saying which", async () => {
    await refused(await token(first, {}, { aud: "someone-else" }), /aud claim is not accepted/);
    await refused(await token(first, {}, { exp: Math.floor(Date.now() / 1000) - 3600 }), /expired/);
    await refused(await token(first, {}, { iss: "https://elsewhere.example.com" }), /tokens of issuer "https:\/\/elsewhere\.example\.com" are not accepted/);
    await refused(await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(issuer).setSubject("system:serviceaccount:search:other").setAudience("signalbox").setExpirationTime("5m").sign(first.priv), /no key is bound to sub "system:serviceaccount:search:other"/);
    await refused(await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(issuer).setSubject("system:serviceaccount:search:ghost").setAudience("signalbox").setExpirationTime("5m").sign(first.priv), /bound to key "nobody-by-that-name", which is revoked, expired or does not exist/);
    const good = await token(first);
    const [h, p, sig] = good.split(".");
    await refused(`${h}.${p}.${sig!.slice(0, -4)}AAAA`, /signature does not verify/);
    const stranger = await signer("k1", "ES256");
    await refused(await token(stranger), /signature does not verify/);
    const hs = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setIssuer(issuer).setSubject(SA).setAudience("signalbox").setExpirationTime("5m").sign(new TextEncoder().encode("a-shared-secret-nobody-should-trust"));
    await refused(hs, /algorithm is not accepted|not accepted/);
    const none = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(JSON.stringify({ iss: issuer, sub: SA, aud: "signalbox", exp: Math.floor(Date.now() / 1000) + 300 })).toString("base64url")}.`;
    await refused(none, /unknown API key|not a well-formed|not accepted/);
  });

  test("the issuer rotates its keys: a token signed with a new key id is verified after one fresh fetch", async () => {
    const second = await signer("k2", "RS256");
    published.push(second);
    // jose refetches the key set for an unknown key id at most every jwks_cooldown_ms (5 s by
    // default, 100 ms here): wait that out since the last fetch.
    await new Promise((r) => setTimeout(r, 200));
    const fetches = jwksFetches;
    const r = await chat(await token(second, {}, { aud: "signalbox-staging" }));
    assert.ok(r.status === 200 || r.status === 429, `status ${r.status}: ${await r.text()}`);
    assert.notEqual(r.status, 401);
    assert.equal(jwksFetches, fetches + 1, "one fresh fetch");
  });

  test("a key made at run time can be bound; revoking it stops its token at once, even one already verified", async () => {
    const admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN }).admin;
    await admin.createKey({ key: { name: "crawler", team: "search", role: KeyRole.SERVICE } });
    const t = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(issuer).setSubject("system:serviceaccount:search:crawler").setAudience("signalbox").setExpirationTime("5m").sign(first.priv);
    assert.equal((await chat(t)).status, 200);
    await admin.revokeKey({ name: "crawler" });
    await refused(t, /bound to key "crawler", which is revoked/);
  });
});

test("auth.jwt's configuration is checked, naming the field", () => {
  const bad = (jwt: string, why: RegExp) => assert.throws(() => buildConfig(parse(`${MOCK_CONFIG}\nauth:\n  jwt: ${jwt}\n`), {}), why);
  bad(`[{ issuer: "http://idp.example.com", audience: a, subjects: { s: k } }]`, /auth\.jwt\[0\]\.issuer.*must be https/);
  bad(`[{ issuer: "https://idp.example.com", audience: a, subjects: {} }]`, /auth\.jwt\[0\]\.subjects.*binds nobody/);
  bad(`[{ issuer: "https://idp.example.com", subjects: { s: k } }]`, /auth\.jwt\[0\]\.audience/);
  bad(`[{ issuer: "https://idp.example.com", audience: a, subjects: { s: k }, algorithms: [HS256] }]`, /auth\.jwt\[0\]\.algorithms\[0\]/);
  bad(`[{ issuer: "https://a.example.com", audience: a, subjects: { s: k } }, { issuer: "https://a.example.com", audience: b, subjects: { t: k } }]`, /auth\.jwt\[1\]\.issuer.*listed twice/);
  bad(`[{ issuer: "https://idp.example.com", audience: a, subjects: { s: k }, jwks_cooldown_ms: -1 }]`, /auth\.jwt\[0\]\.jwks_cooldown_ms/);
  const ok = buildConfig(parse(`${MOCK_CONFIG}\nauth:\n  jwt: [{ issuer: "https://kubernetes.default.svc", jwks_url: "https://kubernetes.default.svc/openid/v1/jwks", audience: signalbox, subjects: { "system:serviceaccount:a:b": k } }]\n`), {});
  assert.deepEqual(ok.jwtIssuers?.[0], { issuer: "https://kubernetes.default.svc", jwksUrl: "https://kubernetes.default.svc/openid/v1/jwks", audiences: ["signalbox"], jwksCooldownMs: 5_000, claim: "sub", subjects: { "system:serviceaccount:a:b": "k" }, algorithms: ["RS256", "ES256", "PS256", "EdDSA"] });
});
