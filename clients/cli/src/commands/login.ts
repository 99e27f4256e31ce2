// `signalbox login` and `logout`: single sign-on through the gateway's console.sso, as cloud
// command lines do it. The command listens on a loopback port, sends the browser to the
// gateway's /console/sso/login?cli_port=<port>, and the gateway, once the identity provider has
// signed the person in, sends the browser back to that port with the session. With --device (no
// browser here: an SSH session) it is the device flow (RFC 8628): the command prints a code and a
// URL to open on any device, and polls the gateway (which holds the provider's client secret)
// until the session comes. The session is stored per gateway (sessions.ts) and used by every
// command that is given no key; `logout` signs it out at the gateway, then forgets it.

import { type Command } from "commander";
import { createSignalboxClient, KeyRole } from "@signalbox/client";
import { checkedUrl, failure, globals } from "../context.ts";
import { fields, note, out } from "../output.ts";
import { sessionExpiry, sessionsFile, storedSession, storeSession } from "../sessions.ts";

/** A role's name (read in the action: the client package loads only when a command runs). */
const roleName = (r: KeyRole): string => ({ [KeyRole.ADMIN]: "admin", [KeyRole.TEAM]: "team", [KeyRole.SERVICE]: "service" })[r as number] ?? "service";
/** POST JSON to the gateway; the answer's JSON (a refusal's is {code, message}). */
async function postJson(url: string, body?: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const parsed = (await r.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: r.status, body: parsed && typeof parsed === "object" ? parsed : {} };
}
const reason = (r: { status: number; body: Record<string, unknown> }) => (typeof r.body.message === "string" ? r.body.message : `HTTP ${r.status}`);

/** The device flow (RFC 8628) through the gateway: print the code and URL, poll until the session comes. */
async function deviceSession(url: string, issuer: string, timeoutS: number): Promise<string> {
  const start = await postJson(`${url}/console/sso/device`);
  if (start.status !== 200) throw failure(`device sign-in failed: ${reason(start)}`, "run `signalbox login` on a machine with a browser");
  const d = start.body as { user_code: string; verification_uri: string; verification_uri_complete?: string; interval: number; expires_in: number; device: string };
  note(`To sign in at ${issuer}, open ${d.verification_uri} on any device and enter the code: ${d.user_code}`);
  if (d.verification_uri_complete) note(`(or open: ${d.verification_uri_complete})`);
  let interval = Math.max(1, d.interval || 5);
  const deadline = Date.now() + Math.min(timeoutS, d.expires_in || timeoutS) * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, interval * 1000));
    const r = await postJson(`${url}/console/sso/device/token`, { device: d.device });
    if (r.status === 200 && r.body.status === "signed_in" && typeof r.body.session === "string") return r.body.session;
    if (r.status !== 200) throw failure(`sign-in failed: ${reason(r)}`);
    if (r.body.slow_down) interval += 5;
  }
  throw failure(`sign-in failed: no sign-in within ${timeoutS} s`, "run `signalbox login --device` again");
}

const PAGE = (title: string, text: string) =>
  `<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font:16px system-ui;margin:4rem auto;max-width:34rem"><h1>${title}</h1><p>${text.replace(/[<&>]/g, (c) => ({ "<": "&lt;", "&": "&amp;", ">": "&gt;" })[c]!)}</p></body>`;

export function loginCommands(program: Command): void {
  program
    .command("login")
    .description("sign in through the gateway's single sign-on (console.sso) and keep the session for this gateway")
    .option("--no-browser", "print the sign-in URL instead of opening a browser")
    .option("--device", "sign in on another device (no browser here, e.g. over SSH): print a code and a URL, wait for the sign-in")
    .option("--timeout <seconds>", "how long to wait for the sign-in", (s) => Number(s), 300)
    .addHelpText("after", "\nThe session is kept in $XDG_CONFIG_HOME/signalbox/sessions.json (mode 0600) and used when no --api-key or\nSIGNALBOX_API_KEY is given. `signalbox logout` signs it out at the gateway and forgets it.\nWith --device (no browser on this machine): open the printed URL on any device and enter the code.")
    .action(async (o: { browser: boolean; device?: boolean; timeout: number }, cmd: Command) => {
      const g = globals(cmd);
      const url = checkedUrl(g);
      const settings = (await fetch(`${url}/console/config.json`).then((r) => (r.ok ? r.json() : {})).catch((err: Error) => {
        throw failure(`could not reach ${url}: ${err.message}`);
      })) as { sso?: { issuer: string } };
      if (!settings.sso) throw failure(`${url} has no single sign-on (console.sso)`, "use a caller key: --api-key or SIGNALBOX_API_KEY");
      const token = o.device ? await deviceSession(url, settings.sso.issuer, o.timeout) : await browserSession(url, settings.sso.issuer, o.browser, o.timeout);
      const me = await createSignalboxClient({ baseUrl: url, apiKey: token }).admin.getCaller({});
      const expiresAt = sessionExpiry(token) ?? Date.now() + 3_600_000;
      storeSession(url, { token, who: me.key, role: roleName(me.role), team: me.team, expiresAt });
      await out(
        fields([
          ["signed in as", me.key],
          ["role", roleName(me.role)],
          ["team", me.team],
          ["until", new Date(expiresAt).toISOString()],
          ["kept in", sessionsFile()],
        ]),
      );
    });

  program
    .command("logout")
    .description("sign the session `signalbox login` kept for this gateway out at the gateway, and forget it")
    .action(async (_o: object, cmd: Command) => {
      const url = checkedUrl(globals(cmd));
      const s = storedSession(url);
      if (s) {
        // Forgotten here whatever happens: a gateway out of reach only means the session stays valid there until it expires.
        try {
          const r = await postJson(`${url}/console/sso/logout`, undefined, s.token);
          if (r.status !== 200) note(`warning: the gateway did not sign the session out (${reason(r)}); it is forgotten here`);
          else if (typeof r.body.end_session_url === "string") note(`To sign out at the identity provider too, open: ${r.body.end_session_url}`);
        } catch (err) {
          note(`warning: could not reach ${url} to sign the session out (${(err as Error).message}); it is forgotten here but stays valid until ${new Date(s.expiresAt).toISOString()}`);
        }
      }
      const had = storeSession(url, undefined);
      await out(had ? `signed out of ${url}\n` : `no session was kept for ${url}\n`);
    });
}

/** The browser flow: a loopback listener receives the session from the gateway's callback. */
async function browserSession(url: string, issuer: string, openBrowser: boolean, timeoutS: number): Promise<string> {
  const http = await import("node:http");
  let settle: (v: { token?: string; error?: string }) => void = () => {};
  const result = new Promise<{ token?: string; error?: string }>((r) => (settle = r));
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://127.0.0.1");
    if (u.pathname !== "/signalbox/login") {
      res.writeHead(404).end();
      return;
    }
    const token = u.searchParams.get("sso") ?? undefined;
    const error = u.searchParams.get("sso_error") ?? undefined;
    res.writeHead(token ? 200 : 400, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", connection: "close" });
    res.end(token ? PAGE("Signed in", "Signalbox's command line has the session. You can close this tab.") : PAGE("Sign-in failed", error ?? "no session came back"));
    settle({ token, error: token ? undefined : (error ?? "no session came back") });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const login = `${url}/console/sso/login?cli_port=${port}`;
  note(`Sign in at ${issuer} through: ${login}`);
  if (openBrowser) {
    const { spawn } = await import("node:child_process");
    const opener = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
    try {
      spawn(opener, [login], { stdio: "ignore", detached: true }).on("error", () => note("(could not open a browser: open the URL above yourself)")).unref();
    } catch {
      note("(could not open a browser: open the URL above yourself)");
    }
  }
  const timer = setTimeout(() => settle({ error: `no sign-in within ${timeoutS} s` }), timeoutS * 1000);
  const r = await result;
  clearTimeout(timer);
  server.closeAllConnections();
  server.close();
  if (!r.token) throw failure(`sign-in failed: ${r.error}`);
  return r.token;
}
