// `signalbox login` and `logout`: single sign-on through the gateway's console.sso, as cloud
// command lines do it. The command listens on a loopback port, sends the browser to the
// gateway's /console/sso/login?cli_port=<port>, and the gateway, once the identity provider has
// signed the person in, sends the browser back to that port with the session. The session is
// stored per gateway (sessions.ts) and used by every command that is given no key.

import { type Command } from "commander";
import { createSignalboxClient, KeyRole } from "@signalbox/client";
import { checkedUrl, failure, globals } from "../context.ts";
import { fields, note, out } from "../output.ts";
import { sessionExpiry, sessionsFile, storeSession } from "../sessions.ts";

/** A role's name (read in the action: the client package loads only when a command runs). */
const roleName = (r: KeyRole): string => ({ [KeyRole.ADMIN]: "admin", [KeyRole.TEAM]: "team", [KeyRole.SERVICE]: "service" })[r as number] ?? "service";
const PAGE = (title: string, text: string) =>
  `<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font:16px system-ui;margin:4rem auto;max-width:34rem"><h1>${title}</h1><p>${text.replace(/[<&>]/g, (c) => ({ "<": "&lt;", "&": "&amp;", ">": "&gt;" })[c]!)}</p></body>`;

export function loginCommands(program: Command): void {
  program
    .command("login")
    .description("sign in through the gateway's single sign-on (console.sso) and keep the session for this gateway")
    .option("--no-browser", "print the sign-in URL instead of opening a browser")
    .option("--timeout <seconds>", "how long to wait for the sign-in", (s) => Number(s), 300)
    .addHelpText("after", "\nThe session is kept in $XDG_CONFIG_HOME/signalbox/sessions.json (mode 0600) and used when no --api-key or\nSIGNALBOX_API_KEY is given. `signalbox logout` forgets it.")
    .action(async (o: { browser: boolean; timeout: number }, cmd: Command) => {
      const g = globals(cmd);
      const url = checkedUrl(g);
      const settings = (await fetch(`${url}/console/config.json`).then((r) => (r.ok ? r.json() : {})).catch((err: Error) => {
        throw failure(`could not reach ${url}: ${err.message}`);
      })) as { sso?: { issuer: string } };
      if (!settings.sso) throw failure(`${url} has no single sign-on (console.sso)`, "use a caller key: --api-key or SIGNALBOX_API_KEY");
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
      note(`Sign in at ${settings.sso.issuer} through: ${login}`);
      if (o.browser) {
        const { spawn } = await import("node:child_process");
        const opener = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
        try {
          spawn(opener, [login], { stdio: "ignore", detached: true }).on("error", () => note("(could not open a browser: open the URL above yourself)")).unref();
        } catch {
          note("(could not open a browser: open the URL above yourself)");
        }
      }
      const timer = setTimeout(() => settle({ error: `no sign-in within ${o.timeout} s` }), o.timeout * 1000);
      const r = await result;
      clearTimeout(timer);
      server.closeAllConnections();
      server.close();
      if (!r.token) throw failure(`sign-in failed: ${r.error}`);
      const me = await createSignalboxClient({ baseUrl: url, apiKey: r.token }).admin.getCaller({});
      const expiresAt = sessionExpiry(r.token) ?? Date.now() + 3_600_000;
      storeSession(url, { token: r.token, who: me.key, role: roleName(me.role), team: me.team, expiresAt });
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
    .description("forget the session `signalbox login` kept for this gateway")
    .action(async (_o: object, cmd: Command) => {
      const url = checkedUrl(globals(cmd));
      const had = storeSession(url, undefined);
      await out(had ? `signed out of ${url}\n` : `no session was kept for ${url}\n`);
    });
}
