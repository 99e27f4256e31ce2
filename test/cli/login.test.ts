// `signalbox login` through the gateway's single sign-on, against a real identity provider
// (oidc-provider): the command listens on a loopback port and prints the sign-in URL
// (--no-browser); the test plays the browser (a cookie jar over fetch) through the provider's
// login and consent pages; the gateway sends the session to the command's port; the command
// stores it (mode 0600) and every command without a key uses it; a key given wins; `logout`
// signs it out at the gateway (the token is refused there at once) and forgets it, even when the
// gateway is out of reach (a warning). `login --device` prints a code and a URL, the test approves
// it at the provider, and the command gets the session by polling (every second: the provider
// advises interval 1). A refused user gets the gateway's reason and exit code 1.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hashKey } from "../../src/server/auth.ts";
import { BUNDLE, buildCliIfStale, NODE24, runCli } from "../helpers/cli.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { Browser, startTestIdp, type TestIdp } from "../helpers/oidc-idp.ts";
import { freePort } from "../helpers/redis.ts";

const ADMIN = ["sbx", "test", "login", "admin"].join("_");
const SECRET = ["idp", "secret", "for", "cli", "login"].join("-");
const MASTER = ["master", "key", "cli", "login", "0123456789abcdef"].join("-");

describe("signalbox login (single sign-on)", () => {
  let gw: TestGateway;
  let idp: TestIdp;
  let origin: string;
  const home = mkdtempSync(join(tmpdir(), "signalbox-login-"));
  const env = { XDG_CONFIG_HOME: join(home, "config") };

  /** Start `signalbox login <args>`; resolves with the first match of `printed` on its stderr, and how it ends. */
  async function startLogin(args: string[], printed: RegExp) {
    const child = spawn(NODE24, [BUNDLE, "login", ...args], { env: { ...process.env, SIGNALBOX_URL: origin, NO_COLOR: "1", ...env, SIGNALBOX_API_KEY: "" }, stdio: ["ignore", "pipe", "pipe"] });
    const io = { stdout: "", stderr: "" };
    child.stdout.on("data", (d) => (io.stdout += d));
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on("data", (d) => {
        io.stderr += d;
        const m = printed.exec(io.stderr);
        if (m) resolve(m[1]!);
      });
      child.once("close", () => reject(new Error(`login ended before printing its URL: ${io.stderr}`)));
    });
    const ended = new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once("close", r)));
    return { url, io, ended };
  }

  /** Start `signalbox login --no-browser`, sign `who` in through the provider, return how the command ended. */
  async function login(who: string) {
    const { url, io, ended } = await startLogin(["--no-browser", "--timeout", "30"], /through: (\S+)/);
    assert.match(url, new RegExp(`^${origin}/console/sso/login\\?cli_port=\\d+$`));
    const port = new URL(url).searchParams.get("cli_port");
    // The browser: the provider's pages, then the gateway's callback, then the command's own port.
    const b = new Browser();
    const end = await b.signIn(url, who, `http://127.0.0.1:${port}/`);
    const landed = await fetch(end);
    const page = await landed.text();
    return { code: await ended, stdout: io.stdout, stderr: io.stderr, page, landed: landed.status };
  }

  before(async () => {
    buildCliIfStale();
    const idpPort = await freePort();
    const gwPort = await freePort();
    origin = `http://127.0.0.1:${gwPort}`;
    idp = await startTestIdp({ port: idpPort, clientId: "signalbox-console", clientSecret: SECRET, redirectUris: [`${origin}/console/sso/callback`], postLogoutRedirectUris: [`${origin}/console/`], groups: (login) => (login === "alice" ? ["platform-admins"] : []), deviceInterval: 1 });
    gw = await startTestGateway(
      `${MOCK_CONFIG}
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
teams: [{ name: ops }]
console:
  sso:
    issuer: ${idp.issuer}
    client_id: signalbox-console
    client_secret: ${SECRET}
    redirect_url: ${origin}/console/sso/callback
    scopes: [openid, email, profile, groups]
    admins: { groups: [platform-admins] }
`,
      { port: gwPort, masterKey: MASTER },
    );
  });
  after(async () => {
    await gw?.close();
    await idp?.close();
  });

  test("login keeps the session (mode 0600); commands without a key use it; a key wins; logout signs it out at the gateway and forgets it", async () => {
    const r = await login("alice");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.landed, 200);
    assert.match(r.page, /Signed in/);
    assert.match(r.stdout, /signed in as\s+sso:alice@example\.com/);
    assert.match(r.stdout, /role\s+admin/);
    const file = join(env.XDG_CONFIG_HOME, "signalbox", "sessions.json");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(file, "utf8")) as Record<string, { token: string; who: string }>;
    assert.equal(stored[origin]?.who, "sso:alice@example.com");
    assert.match(stored[origin]!.token, /^sbs_/);
    // Any command without a key now acts as alice.
    const me = await runCli(origin, ["whoami"], { cwd: home, env });
    assert.equal(me.code, 0, me.stderr);
    assert.match(me.stdout, /key\s+sso:alice@example\.com/);
    const keys = await runCli(origin, ["keys", "list"], { cwd: home, env });
    assert.equal(keys.code, 0, keys.stderr);
    assert.match(keys.stdout, /root/);
    // A key given wins over the session.
    const withKey = await runCli(origin, ["whoami", "--api-key", ADMIN], { cwd: home, env });
    assert.match(withKey.stdout, /key\s+root/);
    const token = stored[origin]!.token;
    const out = await runCli(origin, ["logout"], { cwd: home, env });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /signed out of/);
    assert.match(out.stderr, /sign out at the identity provider too, open: http:\/\/127\.0\.0\.1:\d+\/session\/end\?/);
    // The gateway refuses the token at once: a copy of it is worth nothing.
    const v1 = await fetch(`${origin}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(v1.status, 401);
    const after = await runCli(origin, ["whoami"], { cwd: home, env });
    assert.equal(after.code, 1);
    assert.match(after.stderr, /unauthenticated|API key/);
  });

  test("logout forgets the session even when the gateway is out of reach, with a warning", async () => {
    const r = await login("alice");
    assert.equal(r.code, 0, r.stderr);
    const file = join(env.XDG_CONFIG_HOME, "signalbox", "sessions.json");
    const stored = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    // The same session, kept for a gateway address nobody answers on.
    const gone = `http://127.0.0.1:${await freePort()}`;
    writeFileSync(file, JSON.stringify({ ...stored, [gone]: stored[origin] }));
    const out = await runCli(gone, ["logout"], { cwd: home, env });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /warning: could not reach .* forgotten here but stays valid until/);
    assert.match(out.stdout, /signed out of/);
    assert.equal((JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>)[gone], undefined);
    assert.equal((await runCli(origin, ["logout"], { cwd: home, env })).code, 0);
  });

  test("login --device: the code and URL are printed; once approved at the provider the session is kept", async () => {
    const { url: complete, io, ended } = await startLogin(["--device", "--timeout", "60"], /or open: (\S+)\)/);
    assert.match(io.stderr, /open http:\/\/127\.0\.0\.1:\d+\/device on any device and enter the code: \w{4}-\w{4}/);
    assert.match(await new Browser().approveDevice(complete, "alice"), /Sign-in Success/);
    assert.equal(await ended, 0, io.stderr);
    assert.match(io.stdout, /signed in as\s+sso:alice@example\.com/);
    const me = await runCli(origin, ["whoami"], { cwd: home, env });
    assert.match(me.stdout, /key\s+sso:alice@example\.com/);
    assert.equal((await runCli(origin, ["logout"], { cwd: home, env })).code, 0);
  });

  test("a user console.sso does not name is refused with the gateway's reason; nothing is kept", async () => {
    const r = await login("mallory");
    assert.equal(r.code, 1);
    assert.equal(r.landed, 400);
    assert.match(r.stderr, /sign-in failed: mallory@example\.com may not use this console/);
    const me = await runCli(origin, ["whoami"], { cwd: home, env });
    assert.equal(me.code, 1);
  });

  test("login against a gateway without console.sso says so; a bad cli_port is a 400", async () => {
    const plain = await startTestGateway(`${MOCK_CONFIG}\nkeys: [{ name: root, hash: "${hashKey(ADMIN)}", team: ops, role: admin }]\n`);
    try {
      const r = await runCli(plain.url, ["login", "--no-browser"], { cwd: home, env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /has no single sign-on/);
    } finally {
      await plain.close();
    }
    const bad = await fetch(`${origin}/console/sso/login?cli_port=80`, { redirect: "manual" });
    assert.equal(bad.status, 400);
  });
});
