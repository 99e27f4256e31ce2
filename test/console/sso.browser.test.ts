// Console sign-in through the company's SSO, end to end in a real browser: Debian's Chromium (driven
// by playwright-core) opens the console of a gateway started in process, clicks "Sign in with SSO",
// signs in at a real OpenID Connect provider (oidc-provider, its development login and consent
// pages, on another loopback port) and comes back signed in. Checks: an admin group member (alice)
// is an admin and the admin pages load; a team group member (bob) is a team user of team search
// and is refused the admin-only pages; someone in no mapped group (carol) is sent back to the
// sign-in screen with the gateway's refusal; the token leaves no trace in the URL or in
// localStorage (sessionStorage only, like a caller key) and sign-out forgets it.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, createSignalboxClient, SignalboxError } from "@signalbox/client";
import type { BrowserContext, Page } from "playwright-core";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import { createGateway } from "../../src/gateway.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startServer, type RunningServer } from "../../src/server/http.ts";
import { createMemoryUsageSink } from "../../src/usage/record.ts";
import { launchChromium, OUTPUT_DIR, prepareConsole, skipWithoutChromium } from "../helpers/browser.ts";
import { MOCK_CONFIG } from "../helpers/gateway.ts";
import { startTestIdp, type TestIdp } from "../helpers/oidc-idp.ts";
import { freePort } from "../helpers/redis.ts";
import { poll } from "../helpers/wait.ts";

// Secrets are built at run time so no literal key or secret sits in the source.
const ADMIN_KEY = ["sso", "test", "admin", "key"].join("-");
const CLIENT_SECRET = ["console", "client", crypto.randomUUID()].join("-");
const CLIENT_ID = "signalbox-console";
const STORAGE_KEY = "signalbox.console.key";


describe("console sign-in through SSO (OpenID Connect) in Chromium", { skip: skipWithoutChromium }, () => {
  let work: string;
  let idp: TestIdp;
  let server: RunningServer;
  let origin: string;
  let context: BrowserContext;
  const errors: string[] = [];
  /** Every URL the browser's main frame went to, for diagnostics when a flow goes wrong. */
  const visited: string[] = [];

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-sso-"));
    // Each side needs the other's URL: pick both ports first, then start the provider, then the gateway.
    const idpPort = await freePort();
    let gwPort = await freePort();
    while (gwPort === idpPort) gwPort = await freePort();
    origin = `http://127.0.0.1:${gwPort}`;
    idp = await startTestIdp({
      port: idpPort,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [`${origin}/console/sso/callback`],
      postLogoutRedirectUris: [`${origin}/console/`],
      groups: (id) => (id === "alice" ? ["platform-admins"] : id === "bob" ? ["search-team"] : []),
    });
    const yaml = `${MOCK_CONFIG}
teams:
  - { name: platform }
  - { name: search }
keys:
  - { name: sso-test-admin, hash: "${hashKey(ADMIN_KEY)}", team: platform, role: admin }
console:
  sso:
    issuer: ${idp.issuer}
    client_id: ${CLIENT_ID}
    client_secret: "${CLIENT_SECRET}"
    redirect_url: ${origin}/console/sso/callback
    scopes: [openid, email, profile, groups]
    admins: { groups: [platform-admins] }
    teams: [{ team: search, groups: [search-team] }]
`;
    // As startTestGateway, but on the chosen port (the provider already knows the callback URL).
    const config = buildConfig(parse(yaml), {});
    const gw = await createGateway(config, { usage: createMemoryUsageSink() });
    server = await startServer(gw, { port: gwPort, host: "127.0.0.1", maxRequestBytes: config.server.maxRequestBytes });
    assert.equal(new URL(server.url).origin, origin);
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 860 });
    // The provider's development pages import a web font; there is no network to fetch it from.
    await context.route(/^https?:\/\/(fonts\.googleapis\.com|fonts\.gstatic\.com)\//, (r) => r.abort());
  });

  after(async () => {
    await context?.close();
    await server?.shutdown(0);
    await idp?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function newPage(): Promise<Page> {
    // Nobody is signed in at the provider either: each flow starts from no cookies.
    await context.clearCookies();
    const p = await context.newPage();
    p.on("console", (m) => {
      if (m.type() === "error") errors.push(`${p.url()}: ${m.text()}`);
    });
    p.on("pageerror", (e) => errors.push(`pageerror on ${p.url()}: ${e.message}`));
    p.on("framenavigated", (f) => {
      if (f === p.mainFrame()) visited.push(f.url().replace(/#sso=[^&]*/, "#sso=<token>"));
    });
    return p;
  }

  const where = (p: Page) => `now at ${p.url()}; went through:\n  ${visited.slice(-12).join("\n  ")}\nprovider errors: ${idp.errors.join("; ") || "none"}`;

  /** From the console's sign-in screen through the provider's login (and consent) back to the console. */
  async function ssoSignIn(p: Page, login: string): Promise<void> {
    visited.length = 0;
    await p.goto(`${origin}/console/`);
    const button = p.getByRole("button", { name: /Sign in with SSO/ });
    await button.waitFor();
    assert.match(await button.innerText(), new RegExp(new URL(idp.issuer).host.replace(/\./g, "\\.")), "the button names the provider's host");
    await button.click();
    const loginBox = p.locator("input[name=login]");
    await loginBox.waitFor({ timeout: 15_000 }).catch((err: Error) => {
      throw new Error(`no login form at the provider: ${err.message}\n${where(p)}`);
    });
    assert.equal(new URL(p.url()).origin, idp.issuer, "the login form is the provider's");
    await loginBox.fill(login);
    await p.locator("input[name=password]").fill("any-password");
    await p.locator("button[type=submit]").click();
    // The provider may ask for consent; then the gateway sends the browser back to the console.
    await poll(
      async () => {
        const url = new URL(p.url());
        if (url.origin === origin && url.pathname.startsWith("/console/") && !url.pathname.startsWith("/console/sso/")) return true;
        const consent = p.getByRole("button", { name: "Continue" });
        if (url.origin === idp.issuer && (await consent.isVisible().catch(() => false))) await consent.click().catch(() => {});
        return undefined;
      },
      20_000,
      `the console after ${login}'s sign-in`,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${where(p)}`);
    });
  }

  test("the sign-in screen offers SSO beside the caller key", async () => {
    const res = await fetch(`${origin}/console/config.json`);
    assert.equal(res.status, 200);
    const settings = (await res.json()) as { authEnabled: boolean; sso?: { issuer: string } };
    assert.equal(settings.authEnabled, true);
    assert.equal(settings.sso?.issuer, idp.issuer, "config.json names the issuer");
    const p = await newPage();
    await p.goto(`${origin}/console/`);
    await p.getByRole("button", { name: /Sign in with SSO/ }).waitFor();
    await p.locator("input[name=key]").waitFor();
    await p.screenshot({ path: join(OUTPUT_DIR, "sso-signin.png"), fullPage: true });
    await p.close();
  });

  test("alice (platform-admins) signs in as an admin; the token stays out of the URL and localStorage", async () => {
    const p = await newPage();
    await ssoSignIn(p, "alice");
    const identity = p.locator("[data-testid=identity]");
    await p.locator("[data-testid=identity][data-role=admin]").waitFor({ timeout: 15_000 }).catch(async (err: Error) => {
      const alert = await p.getByRole("alert").allInnerTexts().catch(() => []);
      throw new Error(`alice is not signed in as an admin: ${err.message}; alerts: ${JSON.stringify(alert)}\n${where(p)}`);
    });
    assert.equal(await identity.getAttribute("data-key"), "sso:alice@example.com");
    assert.match(await identity.innerText(), /sso:alice@example\.com/);

    // No fragment left in the URL: the console replaced the history entry it arrived with.
    assert.equal(new URL(p.url()).hash, "", `the fragment is gone (${p.url()})`);
    assert.ok(!(await p.evaluate(() => location.href)).includes("sso="));
    // The token: in this tab's sessionStorage only.
    const stored = await p.evaluate((k) => ({ session: sessionStorage.getItem(k), local: JSON.stringify({ ...localStorage }) }), STORAGE_KEY);
    assert.ok(stored.session?.startsWith("sbs_"), `an sbs_ token in sessionStorage (${stored.session?.slice(0, 4)}…)`);
    assert.ok(!stored.local.includes(stored.session!), "the token is not in localStorage");
    assert.equal(await p.evaluate(() => localStorage.length), 0, "nothing in localStorage");

    // The token is a bearer credential like a caller key.
    const caller = await createSignalboxClient({ baseUrl: origin, apiKey: stored.session!, protocol: "connect", opentelemetry: false }).admin.getCaller({});
    assert.equal(caller.key, "sso:alice@example.com");

    // The admin pages load.
    const nav = p.getByRole("navigation", { name: "Pages" });
    await nav.getByRole("link", { name: "Keys & teams", exact: true }).click();
    await p.locator("[data-testid=key-row][data-name=sso-test-admin]").waitFor();
    assert.equal(await nav.getByRole("link", { name: "Alerts", exact: true }).count(), 1, "an admin sees Alerts");
    await nav.getByRole("link", { name: "Providers & routes", exact: true }).click();
    assert.equal(await p.getByText("has no access to this page").count(), 0);
    await nav.getByRole("link", { name: "Keys & teams", exact: true }).click();
    await p.locator("[data-testid=key-row][data-name=sso-test-admin]").waitFor();
    await p.screenshot({ path: join(OUTPUT_DIR, "sso-signed-in.png"), fullPage: true });

    // Sign-out signs the session out at the gateway (refused there at once), then at the provider,
    // which asks to confirm and sends the browser back to the console's sign-in screen.
    await p.getByRole("button", { name: "Sign out" }).click();
    await p.getByRole("button", { name: "Yes, sign me out" }).click({ timeout: 15_000 });
    await p.getByRole("button", { name: /Sign in with SSO/ }).waitFor({ timeout: 15_000 });
    assert.equal(new URL(p.url()).href, `${origin}/console/`);
    assert.equal(await p.evaluate((k) => sessionStorage.getItem(k), STORAGE_KEY), null);
    await assert.rejects(createSignalboxClient({ baseUrl: origin, apiKey: stored.session!, protocol: "connect", opentelemetry: false }).admin.getCaller({}), /signed out/);
    await p.close();
  });

  test("bob (search-team) signs in as a team user of team search and is refused the admin pages", async () => {
    const p = await newPage();
    await ssoSignIn(p, "bob");
    const identity = p.locator("[data-testid=identity]");
    await p.locator("[data-testid=identity][data-role=team]").waitFor({ timeout: 15_000 }).catch(async (err: Error) => {
      const alert = await p.getByRole("alert").allInnerTexts().catch(() => []);
      throw new Error(`bob is not signed in as a team user: ${err.message}; alerts: ${JSON.stringify(alert)}\n${where(p)}`);
    });
    assert.equal(await identity.getAttribute("data-key"), "sso:bob@example.com");
    assert.equal(await identity.getAttribute("data-team"), "search");
    assert.match(await identity.innerText(), /sso:bob@example\.com[\s\S]*team search/);
    assert.equal(new URL(p.url()).hash, "");
    const nav = p.getByRole("navigation", { name: "Pages" });
    assert.equal(await nav.getByRole("link", { name: "Alerts", exact: true }).count(), 0, "alerts are for admins");
    assert.equal(await nav.getByRole("link", { name: "Providers & routes", exact: true }).count(), 0, "providers & routes are for admins");
    // Going there anyway: the console says no.
    await p.goto(`${origin}/console/alerts`);
    await p.getByText("has no access to this page").waitFor();
    // The gateway says no too (not only the console's menu).
    const token = await p.evaluate((k) => sessionStorage.getItem(k), STORAGE_KEY);
    assert.ok(token?.startsWith("sbs_"));
    const c = createSignalboxClient({ baseUrl: origin, apiKey: token!, protocol: "connect", opentelemetry: false });
    const caller = await c.admin.getCaller({});
    assert.equal(caller.key, "sso:bob@example.com");
    assert.equal(caller.team, "search");
    await assert.rejects(c.admin.listAlerts({}), (err: unknown) => {
      const e = SignalboxError.from(err);
      assert.equal(e.code, Code.PermissionDenied, `listing alerts as bob: ${e.message}`);
      return true;
    });
    await p.close();
  });

  test("carol (no mapped group) is sent back to the sign-in screen with the refusal", async () => {
    const p = await newPage();
    await ssoSignIn(p, "carol");
    const alert = p.locator(".signin").getByRole("alert");
    await alert.waitFor({ timeout: 15_000 }).catch((err: Error) => {
      throw new Error(`no alert on the sign-in screen for carol: ${err.message}\n${where(p)}`);
    });
    const text = await alert.innerText();
    assert.match(text, /not (permitted|allowed|authori[sz]ed)|no access|may not|not a member|denied/i, `the alert says carol is not permitted: "${text}"`);
    assert.equal(new URL(p.url()).hash, "", "the error fragment is gone");
    assert.equal(await p.locator("[data-testid=identity]").count(), 0, "not signed in");
    assert.equal(await p.evaluate((k) => sessionStorage.getItem(k), STORAGE_KEY), null);
    await p.screenshot({ path: join(OUTPUT_DIR, "sso-refused.png"), fullPage: true });
    await p.close();
  });

  test("the console shows an #sso_error fragment's message and removes the fragment", async () => {
    const p = await newPage();
    await p.goto(`${origin}/console/#sso_error=${encodeURIComponent("The provider said: access_denied & more")}`);
    const alert = p.locator(".signin").getByRole("alert");
    await alert.waitFor();
    assert.match(await alert.innerText(), /The provider said: access_denied & more/);
    assert.equal(new URL(p.url()).hash, "");
    assert.equal(new URL(p.url()).pathname, "/console/");
    await p.close();
  });

  test("no browser errors beyond the expected refusals", () => {
    // A refused bearer (none expected here) or a failed font fetch at the provider is not the console's fault.
    const unexpected = errors.filter((e) => !/fonts\.googleapis|ERR_FAILED|net::ERR_/.test(e));
    assert.deepEqual(unexpected, []);
  });
});
