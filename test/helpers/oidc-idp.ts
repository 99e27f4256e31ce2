// A real OpenID Connect identity provider for tests: oidc-provider on a loopback port, with one
// confidential client and its development login and consent pages (any login name signs in; the
// account's e-mail is `<login>@example.com`, its groups come from `groups`), RP-initiated logout
// (end_session_endpoint) and the device flow (RFC 8628), each of which a test may turn off.

import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";

/** oidc-provider ships no type declarations; the little used here is typed by hand. */
interface ProviderLike {
  callback(): (req: unknown, res: unknown) => void;
  on(event: string, fn: (...args: unknown[]) => void): void;
  use(fn: (ctx: { oidc?: { route?: string }; body?: unknown }, next: () => Promise<void>) => Promise<void>): void;
}

export interface TestIdp {
  /** The issuer, e.g. http://127.0.0.1:41234 (no trailing slash). */
  issuer: string;
  /** Errors the provider reported (server_error and the like), for assertions and diagnostics. */
  errors: string[];
  close(): Promise<void>;
}

export interface TestIdpOptions {
  port: number;
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  /** A login name's groups; default none. */
  groups?: (login: string) => string[];
  /** Where the provider may send the browser after a sign-out (RP-initiated logout). */
  postLogoutRedirectUris?: string[];
  /** Advertise end_session_endpoint; default true. */
  endSession?: boolean;
  /** Offer the device flow (device_authorization_endpoint); default true. */
  deviceFlow?: boolean;
  /** How long a device code lives, read as each is made; default 600 s. */
  deviceCodeTtl?: () => number;
  /**
   * The polling interval (seconds) the device authorization response advises (RFC 8628's
   * `interval`); default none, as oidc-provider sends, so clients wait 5 s between polls.
   */
  deviceInterval?: number;
}

export async function startTestIdp(opts: TestIdpOptions): Promise<TestIdp> {
  // A non-literal specifier: the module has no declarations, and its shape is ProviderLike.
  const moduleName: string = "oidc-provider";
  const Provider = (await import(moduleName)).default as new (issuer: string, config: unknown) => ProviderLike;
  const issuer = `http://127.0.0.1:${opts.port}`;
  const groups = opts.groups ?? (() => []);
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: opts.clientId,
        client_secret: opts.clientSecret,
        redirect_uris: opts.redirectUris,
        grant_types: ["authorization_code", ...(opts.deviceFlow === false ? [] : ["urn:ietf:params:oauth:grant-type:device_code"])],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
        post_logout_redirect_uris: opts.postLogoutRedirectUris ?? [],
      },
    ],
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, email: `${id}@example.com`, name: id, groups: groups(id) }),
    }),
    claims: { openid: ["sub"], email: ["email"], profile: ["name"], groups: ["groups"] },
    scopes: ["openid", "email", "profile", "groups"],
    features: { devInteractions: { enabled: true }, deviceFlow: { enabled: opts.deviceFlow !== false }, rpInitiatedLogout: { enabled: opts.endSession !== false } },
    ttl: { DeviceCode: () => opts.deviceCodeTtl?.() ?? 600 },
    // Cookie signing keys, made per run.
    cookies: { keys: [crypto.randomUUID()] },
  });
  if (opts.deviceInterval !== undefined) {
    const interval = opts.deviceInterval;
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.oidc?.route === "device_authorization" && ctx.body && typeof ctx.body === "object") (ctx.body as Record<string, unknown>).interval = interval;
    });
  }
  const errors: string[] = [];
  for (const event of ["server_error", "authorization.error", "grant.error", "userinfo.error", "end_session.error"]) {
    provider.on(event, (_ctx: unknown, err: unknown) => errors.push(`${event}: ${(err as Error)?.message ?? String(err)}`));
  }
  const server: Server = createServer(provider.callback() as Parameters<typeof createServer>[0] & {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, "127.0.0.1", () => resolve());
  });
  return {
    issuer,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A cookie jar per origin, good enough for one flow. */
export class Browser {
  jar = new Map<string, Map<string, string>>();
  async get(url: string, init: RequestInit = {}): Promise<Response> {
    const u = new URL(url);
    const cookies = [...(this.jar.get(u.host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(u, { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string>), ...(cookies ? { cookie: cookies } : {}) } });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair!.indexOf("=");
      let m = this.jar.get(u.host);
      if (!m) this.jar.set(u.host, (m = new Map()));
      const v = pair!.slice(i + 1);
      if (v === "" || /max-age=0/i.test(c) || /expires=Thu, 01 Jan 1970/i.test(c)) m.delete(pair!.slice(0, i));
      else m.set(pair!.slice(0, i), v);
    }
    return res;
  }
  /** Follow redirects (and the provider's login and consent forms) until a URL starting with `stop`. */
  async signIn(start: string, login: string, stop: string): Promise<string> {
    return (await this.walk(start, login, stop)).url;
  }
  /** Redirects, login and consent forms, until a URL starting with `stop` or (without one) a page with no form. */
  private async walk(start: string, login: string, stop?: string): Promise<{ url: string; html?: string }> {
    let url = start;
    for (let i = 0; i < 20; i++) {
      if (stop !== undefined && url.startsWith(stop)) return { url };
      const res = await this.get(url);
      if (res.status >= 300 && res.status < 400) {
        url = new URL(res.headers.get("location")!, url).href;
        continue;
      }
      const html = await res.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      if (!action && stop === undefined) return { url, html };
      assert.ok(action, `no form at ${url}: ${res.status} ${html.slice(0, 300)}`);
      const prompt = /name="prompt" value="([^"]+)"/.exec(html)![1]!;
      const body = new URLSearchParams(prompt === "login" ? { prompt, login, password: "any" } : { prompt });
      const post = await this.get(new URL(action!.replaceAll("&amp;", "&"), url).href, { method: "POST", body, headers: { "content-type": "application/x-www-form-urlencoded" } });
      assert.ok(post.status >= 300 && post.status < 400, `form post: ${post.status}`);
      url = new URL(post.headers.get("location")!, url).href;
    }
    throw new Error("too many redirects");
  }
  /** Post a page's form (by its id, else the first) with its hidden fields and `extra`; returns the response. */
  private async postForm(html: string, at: string, id: string | undefined, extra: Record<string, string> = {}): Promise<Response> {
    const form = new RegExp(`<form[^>]*${id ? `id="${id.replace(".", "\\.")}"` : ""}[^>]*>([\\s\\S]*?)</form>`).exec(html);
    assert.ok(form, `no form ${id} at ${at}: ${html.slice(0, 300)}`);
    const action = /action="([^"]+)"/.exec(form[0])![1]!.replaceAll("&amp;", "&");
    const fields: Record<string, string> = {};
    for (const m of form[1]!.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) fields[m[1]!] = m[2]!;
    return this.get(new URL(action, at).href, { method: "POST", body: new URLSearchParams({ ...fields, ...extra }), headers: { "content-type": "application/x-www-form-urlencoded" } });
  }
  /**
   * The person's side of the device flow: open verification_uri_complete, confirm the code (or
   * abort), sign in as `login` through the provider's pages; returns the provider's last page.
   */
  async approveDevice(verificationUriComplete: string, login: string, opts: { abort?: boolean } = {}): Promise<string> {
    let url = verificationUriComplete;
    let res = await this.get(url);
    while (res.status >= 300 && res.status < 400) res = await this.get((url = new URL(res.headers.get("location")!, url).href));
    let page = await res.text();
    // The provider's pages submit themselves (a script) until the confirmation form.
    for (let i = 0; i < 5 && !page.includes('id="op.deviceConfirmForm"'); i++) {
      res = await this.postForm(page, url, undefined);
      while (res.status >= 300 && res.status < 400) res = await this.get((url = new URL(res.headers.get("location")!, url).href));
      page = await res.text();
    }
    const posted = await this.postForm(page, url, "op.deviceConfirmForm", opts.abort ? { abort: "yes" } : {});
    if (posted.status < 300 || posted.status >= 400) return posted.text();
    return (await this.walk(new URL(posted.headers.get("location")!, url).href, login)).html ?? "";
  }
  /** Follow the provider's sign-out page (end_session) to where it sends the browser, confirming. */
  async endSession(endSessionUrl: string): Promise<string> {
    let url = endSessionUrl;
    let res = await this.get(url);
    while (res.status >= 300 && res.status < 400) res = await this.get((url = new URL(res.headers.get("location")!, url).href));
    const posted = await this.postForm(await res.text(), url, "op.logoutForm", { logout: "yes" });
    assert.ok(posted.status >= 300 && posted.status < 400, `logout form: ${posted.status}`);
    return new URL(posted.headers.get("location")!, url).href;
  }
}
