// Console sign-in through OpenID Connect (console.sso), against a real identity provider
// (oidc-provider on a loopback port) over HTTP, the browser played by fetch with a cookie jar:
// the code flow with PKCE, state and nonce; roles from e-mail addresses and groups; the session
// token accepted as a key (GetCaller, AdminService, audit actor) and refused when forged,
// expired, or when its user is taken out of console.sso by a reload; a user named nowhere, and a
// callback without the flow's cookie, refused. Sign-out (POST /console/sso/logout) ends the session
// on every door at once, is audited, and names the provider's end_session URL. The device flow
// (POST /console/sso/device, /device/token) gives an admin a session and refuses a user named
// nowhere, an aborted sign-in and an expired code. The browser test
// (test/console/sso.browser.test.ts) walks the same flow in chromium.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createSignalboxClient, KeyRole } from "@signalbox/client";
import { buildConfig } from "../../src/config/load.ts";
import { hashKey } from "../../src/server/auth.ts";
import { createConsoleSso, ssoRole } from "../../src/server/sso.ts";
import { parse } from "yaml";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { freePort } from "../helpers/redis.ts";
import { Browser, startTestIdp, type TestIdp } from "../helpers/oidc-idp.ts";

const ADMIN_KEY = ["sbx", "test", "sso", "admin"].join("_");
const CLIENT_SECRET = ["idp", "client", "secret", "for", "tests"].join("-");
const MASTER = ["master", "key", "for", "sso", "tests", "0123456789"].join("-");

const GROUPS: Record<string, string[]> = { alice: ["platform-admins"], bob: ["search-team", "everyone"], carol: ["everyone"] };

describe("console sign-in through OpenID Connect", () => {
  let gw: TestGateway;
  let idp: TestIdp;
  let origin: string;
  let deviceTtl = 600;
  const yaml = (issuer: string, admins = "{ groups: [platform-admins] }") => `${MOCK_CONFIG}
keys:
  - { name: root, hash: "${hashKey(ADMIN_KEY)}", team: ops, role: admin }
teams: [{ name: search }, { name: ops }]
console:
  sso:
    issuer: ${issuer}
    client_id: signalbox-console
    client_secret: ${CLIENT_SECRET}
    redirect_url: ORIGIN/console/sso/callback
    scopes: [openid, email, profile, groups]
    admins: ${admins}
    teams: [{ team: search, groups: [search-team] }, { team: ops, emails: [dave@example.com] }]
`;
  before(async () => {
    const idpPort = await freePort();
    const gwPort = await freePort();
    origin = `http://127.0.0.1:${gwPort}`;
    idp = await startTestIdp({ port: idpPort, clientId: "signalbox-console", clientSecret: CLIENT_SECRET, redirectUris: [`${origin}/console/sso/callback`], postLogoutRedirectUris: [`${origin}/console/`], groups: (login) => GROUPS[login] ?? [], deviceCodeTtl: () => deviceTtl });
    gw = await startTestGateway(yaml(idp.issuer).replace("ORIGIN", origin), { port: gwPort, masterKey: MASTER });
    assert.equal(gw.url, origin);
  });
  after(async () => {
    await gw?.close();
    await idp?.close();
  });

  const signIn = async (who: string) => {
    const b = new Browser();
    const end = await b.signIn(`${origin}/console/sso/login`, who, `${origin}/console/#`);
    return { end, browser: b };
  };

  test("an admin by group: the session is a key of its own, audited by name; the flow cookie is gone", async () => {
    const cfg = (await (await fetch(`${origin}/console/config.json`)).json()) as { sso?: { issuer: string } };
    assert.deepEqual(cfg.sso, { issuer: idp.issuer });
    const { end, browser } = await signIn("alice");
    const token = new URL(end).hash.replace(/^#sso=/, "");
    assert.match(token, /^sbs_[\w-]+\.[\w-]+$/);
    assert.equal(browser.jar.get(new URL(origin).host)?.has("sbx_sso_flow") ?? false, false, "the flow's cookie is cleared");
    const sb = createSignalboxClient({ baseUrl: origin, apiKey: token });
    const me = await sb.admin.getCaller({});
    assert.deepEqual([me.key, me.role, me.authEnabled], ["sso:alice@example.com", KeyRole.ADMIN, true]);
    await sb.admin.createKey({ key: { name: "made-by-alice", team: "search", role: KeyRole.SERVICE } });
    const audit = await createSignalboxClient({ baseUrl: origin, apiKey: ADMIN_KEY }).admin.listAuditEvents({});
    assert.equal(audit.events.find((e) => e.target === "key:made-by-alice")?.actor, "sso:alice@example.com");
    assert.ok(!JSON.stringify(audit.events, (_k, v) => (typeof v === "bigint" ? String(v) : v)).includes(token), "the session token is not in the audit log");
  });

  test("a team user by group (bob) and by e-mail (dave); a user named nowhere (carol) is refused", async () => {
    const bob = new URL((await signIn("bob")).end).hash.replace(/^#sso=/, "");
    const me = await createSignalboxClient({ baseUrl: origin, apiKey: bob }).admin.getCaller({});
    assert.deepEqual([me.key, me.team, me.role], ["sso:bob@example.com", "search", KeyRole.TEAM]);
    await assert.rejects(createSignalboxClient({ baseUrl: origin, apiKey: bob }).admin.createKey({ key: { name: "x", team: "ops", role: KeyRole.SERVICE } }), /permission_denied|may not/);
    const dave = new URL((await signIn("dave")).end).hash.replace(/^#sso=/, "");
    assert.equal((await createSignalboxClient({ baseUrl: origin, apiKey: dave }).admin.getCaller({})).team, "ops");
    const carol = new URL((await signIn("carol")).end);
    assert.match(decodeURIComponent(carol.hash), /^#sso_error=carol@example\.com may not use this console/);
  });

  test("a callback without the flow's cookie, or with a forged state, is refused; so is a forged, tampered or foreign session", async () => {
    const r = await fetch(`${origin}/console/sso/callback?code=abc&state=def`, { redirect: "manual" });
    assert.equal(r.status, 302);
    assert.match(decodeURIComponent(r.headers.get("location")!), /#sso_error=the sign-in took too long or was started elsewhere/);
    const { end } = await signIn("alice");
    const token = new URL(end).hash.replace(/^#sso=/, "");
    const [payload, mac] = token.split(".");
    const forged = `${payload!.slice(0, -2)}AA.${mac}`;
    await assert.rejects(createSignalboxClient({ baseUrl: origin, apiKey: forged }).admin.getCaller({}), /not a valid console session/);
    // A session signed under another master key (another deployment) means nothing here.
    const other = createConsoleSso(() => gw.config.console.sso, "another-master-key-entirely");
    assert.throws(() => other.verify(token), /not a valid console session/);
  });

  const post = async (path: string, body?: unknown, token?: string) => {
    const r = await fetch(`${origin}${path}`, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, string> };
  };

  test("sign-out: the session is refused at once on /v1 and Connect, audited without the token; the answer names the provider's end_session URL", async () => {
    const { end, browser } = await signIn("alice");
    const token = new URL(end).hash.replace(/^#sso=/, "");
    const models = () => fetch(`${origin}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await models()).status, 200);
    const out = await post("/console/sso/logout", undefined, token);
    assert.equal(out.status, 200);
    const url = new URL(out.body.end_session_url!);
    assert.equal(url.origin, idp.issuer);
    assert.deepEqual([url.searchParams.get("client_id"), url.searchParams.get("post_logout_redirect_uri")], ["signalbox-console", `${origin}/console/`]);
    assert.equal((await models()).status, 401);
    await assert.rejects(createSignalboxClient({ baseUrl: origin, apiKey: token }).admin.getCaller({}), /signed out/);
    // Signing out again is harmless; a forged session is not a session.
    assert.equal((await post("/console/sso/logout", undefined, token)).status, 200);
    assert.equal((await post("/console/sso/logout", undefined, `${token.slice(0, -3)}AAA`)).status, 401);
    assert.equal((await post("/console/sso/logout")).status, 401);
    const audit = await createSignalboxClient({ baseUrl: origin, apiKey: ADMIN_KEY }).admin.listAuditEvents({});
    const logouts = audit.events.filter((e) => e.action === "session.logout");
    assert.deepEqual(logouts.map((e) => e.actor), ["sso:alice@example.com"], "one event for the one sign-out");
    assert.ok(!JSON.stringify(audit.events, (_k, v) => (typeof v === "bigint" ? String(v) : v)).includes(token.split(".")[1]!), "the session token is not in the audit log");
    // The provider's own session ends too, and it sends the browser back to the console.
    assert.equal(await browser.endSession(url.href), `${origin}/console/`);
    // Another session of the same person is untouched.
    const again = new URL((await signIn("alice")).end).hash.replace(/^#sso=/, "");
    assert.equal((await createSignalboxClient({ baseUrl: origin, apiKey: again }).admin.getCaller({})).key, "sso:alice@example.com");
  });

  test("device sign-in: an admin gets a session; a user named nowhere, an aborted sign-in and an expired code are refused", async () => {
    const start = async () => {
      const r = await post("/console/sso/device");
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as unknown as { user_code: string; verification_uri: string; verification_uri_complete: string; interval: number; device: string };
    };
    const d = await start();
    assert.match(d.verification_uri, new RegExp(`^${idp.issuer}/`));
    assert.ok(d.user_code && d.interval > 0);
    assert.deepEqual((await post("/console/sso/device/token", { device: d.device })).body, { status: "pending" });
    assert.match(await new Browser().approveDevice(d.verification_uri_complete, "alice"), /Sign-in Success/);
    const done = await post("/console/sso/device/token", { device: d.device });
    assert.equal(done.body.status, "signed_in", JSON.stringify(done.body));
    assert.match(done.body.session!, /^sbs_/);
    const me = await createSignalboxClient({ baseUrl: origin, apiKey: done.body.session! }).admin.getCaller({});
    assert.deepEqual([me.key, me.role], ["sso:alice@example.com", KeyRole.ADMIN]);

    const c = await start();
    await new Browser().approveDevice(c.verification_uri_complete, "carol");
    const carol = await post("/console/sso/device/token", { device: c.device });
    assert.deepEqual([carol.status, carol.body.code], [403, "permission_denied"]);
    assert.match(carol.body.message!, /carol@example\.com may not use this console/);

    const a = await start();
    await new Browser().approveDevice(a.verification_uri_complete, "bob", { abort: true });
    const aborted = await post("/console/sso/device/token", { device: a.device });
    assert.deepEqual([aborted.status, aborted.body.message], [403, "the sign-in was refused at the identity provider"]);

    deviceTtl = 1;
    const e = await start();
    deviceTtl = 600;
    await new Promise((r) => setTimeout(r, 1100));
    const expired = await post("/console/sso/device/token", { device: e.device });
    assert.deepEqual([expired.status, expired.body.code], [400, "deadline_exceeded"]);
    assert.match(expired.body.message!, /expired.*signalbox login --device again/);
    const forged = await post("/console/sso/device/token", { device: `${d.device.slice(0, -3)}AAA` });
    assert.equal(forged.status, 400);
    assert.equal(idp.errors.filter((m) => !/access_denied|authorization_pending|expired/.test(m)).length, 0, idp.errors.join("\n"));
  });

  test("the role is worked out again at every request: a reload that takes a user out of console.sso ends their session", async () => {
    const sso = createConsoleSso(() => current, MASTER, () => now);
    let now = Date.now();
    let current = gw.config.console.sso;
    const token = new URL((await signIn("alice")).end).hash.replace(/^#sso=/, "");
    assert.equal(sso.verify(token).role, "admin");
    current = buildConfig(parse(yaml(idp.issuer, "{ emails: [someone-else@example.com] }").replace("ORIGIN", origin)), {}).console.sso;
    assert.throws(() => sso.verify(token), /alice@example\.com may no longer use this console/);
    current = gw.config.console.sso;
    now += 9 * 3_600_000;
    assert.throws(() => sso.verify(token), /expired/);
  });
});

test("roles: admins by e-mail or group; the first team that names the user; nobody else", () => {
  const cfg = buildConfig(parse(`${MOCK_CONFIG}
console:
  sso:
    issuer: https://login.example.com
    client_id: c
    redirect_url: https://gw.example.com/console/sso/callback
    admins: { emails: [Root@Example.com], groups: [admins] }
    teams: [{ team: a, groups: [g1] }, { team: b, groups: [g1, g2] }]
`), {}).console.sso!;
  assert.deepEqual(ssoRole(cfg, "root@example.com", []), { role: "admin", team: "platform" });
  assert.deepEqual(ssoRole(cfg, "x@example.com", ["admins", "g2"]), { role: "admin", team: "b" });
  assert.deepEqual(ssoRole(cfg, "x@example.com", ["g2", "g1"]), { role: "team", team: "a" });
  assert.equal(ssoRole(cfg, "x@example.com", ["g3"]), undefined);
  assert.deepEqual([cfg.scopes, cfg.groupsClaim, cfg.sessionHours], [["openid", "email", "profile"], "groups", 8]);
});

test("console.sso's configuration is checked, naming the field", () => {
  const bad = (sso: string, field: RegExp) => assert.throws(() => buildConfig(parse(`${MOCK_CONFIG}\nconsole:\n  sso: ${sso}\n`), {}), field);
  const base = "issuer: https://login.example.com, client_id: c, redirect_url: https://gw.example.com/console/sso/callback";
  bad(`{ ${base} }`, /console\.sso.*names nobody/);
  bad(`{ ${base}, admins: { groups: [a] }, scopes: [email] }`, /console\.sso\.scopes.*openid/);
  bad(`{ issuer: https://login.example.com, client_id: c, redirect_url: https://gw.example.com/elsewhere, admins: { groups: [a] } }`, /console\.sso\.redirect_url/);
  bad(`{ ${base}, admins: { groups: [a] }, teams: [{ team: t }] }`, /console\.sso\.teams\[0\].*names nobody/);
  bad(`{ client_id: c, redirect_url: https://gw.example.com/console/sso/callback, admins: { groups: [a] } }`, /console\.sso\.issuer/);
});
