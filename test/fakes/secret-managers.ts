// Fake secret managers over real HTTP, for the gateway's `${secret:…}` references
// (src/config/secrets.ts):
// - HashiCorp Vault's KV version 2 engine: `GET /v1/<mount>/data/<path>` with `X-Vault-Token`
//   (`X-Vault-Namespace` when set), answering Vault's envelope (`data.data`, `data.metadata.version`)
//   or `{"errors": [...]}` (403 permission denied, 404 with an empty list); Kubernetes auth
//   (`POST /v1/auth/<mount>/login` with `{role, jwt}` → `auth.client_token`, `lease_duration`).
// - AWS Secrets Manager's GetSecretValue (the JSON 1.1 protocol: `POST /`, `X-Amz-Target:
//   secretsmanager.GetSecretValue`), whose SigV4 signature is checked by signing the same request
//   again with the known secret key (@smithy/signature-v4), answering `SecretString` or AWS's
//   `{"__type", "Message"}` errors. test/fakes/secret-managers.sdk.test.ts checks it against the
//   official @aws-sdk/client-secrets-manager.
// Secrets can be changed while the fakes run (rotation); every request is recorded.

import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SignatureV4 } from "@smithy/signature-v4";
import { Hash } from "@smithy/hash-node";

export interface Recorded {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function serve(handler: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => Promise<void> | void) {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      void Promise.resolve(handler(req, body, res)).catch((err) => {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [String(err)] }));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())).then(() => undefined),
    closeAll: () => server.closeAllConnections(),
  };
}

const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};

export interface FakeVault {
  url: string;
  requests: Recorded[];
  /** Write a secret (a new version) at `<mount>/<path>`. */
  put(mountAndPath: string, data: Record<string, unknown>): void;
  /** Accept this token. */
  token(t: string): void;
  /** Kubernetes auth: a role, and the service-account token it accepts; logins hand out tokens leased this many seconds. */
  role(role: string, jwt: string, leaseSeconds?: number): void;
  /** Only requests with this namespace header are answered (Vault Enterprise). */
  namespace?: string;
  close(): Promise<void>;
}

/** `kv1`: mounts of KV version 1 engines (`GET /v1/<mount>/<path>` answers `data` itself, no versions); every other mount is KV version 2. */
export async function startFakeVault(opts: { namespace?: string; kv1?: string[] } = {}): Promise<FakeVault> {
  const secrets = new Map<string, { data: Record<string, unknown>; version: number; created: string }>();
  const tokens = new Set<string>();
  const roles = new Map<string, { jwt: string; lease: number }>();
  const s = await serve((req, body, res) => {
    const url = new URL(req.url ?? "/", "http://vault");
    if (opts.namespace && req.headers["x-vault-namespace"] !== opts.namespace) return json(res, 403, { errors: ["permission denied"] });
    const login = /^\/v1\/auth\/([^/]+)\/login$/.exec(url.pathname);
    if (login && req.method === "POST") {
      let b: { role?: string; jwt?: string };
      try {
        b = JSON.parse(body);
      } catch {
        return json(res, 400, { errors: ["failed to parse JSON input"] });
      }
      if (!b.role) return json(res, 400, { errors: ["missing role"] });
      const r = roles.get(b.role);
      if (!r) return json(res, 400, { errors: [`invalid role name "${b.role}"`] });
      if (b.jwt !== r.jwt) return json(res, 403, { errors: ["permission denied"] });
      const client = `hvs.${randomUUID().replace(/-/g, "")}`;
      tokens.add(client);
      return json(res, 200, { request_id: randomUUID(), lease_id: "", renewable: false, lease_duration: 0, data: null, wrap_info: null, warnings: null, auth: { client_token: client, accessor: randomUUID(), policies: ["default", "llm"], token_policies: ["default", "llm"], metadata: { role: b.role, service_account_name: "signalbox" }, lease_duration: r.lease, renewable: true, entity_id: randomUUID(), token_type: "service", orphan: true } });
    }
    const v1 = /^\/v1\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (v1 && opts.kv1?.includes(v1[1]) && req.method === "GET") {
      const token = req.headers["x-vault-token"];
      if (typeof token !== "string" || !tokens.has(token)) return json(res, 403, { errors: ["permission denied"] });
      const sec = secrets.get(`${v1[1]}/${decodeURIComponent(v1[2])}`);
      if (!sec) return json(res, 404, { errors: [] });
      return json(res, 200, { request_id: randomUUID(), lease_id: "", renewable: false, lease_duration: 2_764_800, data: sec.data, wrap_info: null, warnings: null, auth: null });
    }
    const kv = /^\/v1\/([^/]+)\/data\/(.+)$/.exec(url.pathname);
    if (!kv || req.method !== "GET" || opts.kv1?.includes(kv[1])) return json(res, 404, { errors: [] });
    const token = req.headers["x-vault-token"];
    if (typeof token !== "string" || !tokens.has(token)) return json(res, 403, { errors: ["permission denied"] });
    const key = `${kv[1]}/${decodeURIComponent(kv[2])}`;
    const sec = secrets.get(key);
    if (!sec) return json(res, 404, { errors: [] });
    return json(res, 200, {
      request_id: randomUUID(),
      lease_id: "",
      renewable: false,
      lease_duration: 0,
      data: { data: sec.data, metadata: { created_time: sec.created, custom_metadata: null, deletion_time: "", destroyed: false, version: sec.version } },
      wrap_info: null,
      warnings: null,
      auth: null,
    });
  });
  return {
    url: s.url,
    requests: s.requests,
    put(k, data) {
      const prev = secrets.get(k);
      secrets.set(k, { data: { ...data }, version: (prev?.version ?? 0) + 1, created: new Date().toISOString() });
    },
    token: (t) => void tokens.add(t),
    role: (role, jwt, leaseSeconds = 3600) => void roles.set(role, { jwt, lease: leaseSeconds }),
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    close: () => {
      s.closeAll();
      return s.close();
    },
  };
}

export interface FakeSecretsManager {
  url: string;
  region: string;
  requests: Recorded[];
  /** Store (or rotate: a new version) a secret's string under its name. */
  put(name: string, value: string): void;
  /** Refuse every request (503 ServiceUnavailable) until set back to false. */
  down: boolean;
  close(): Promise<void>;
}

/** Credentials the fake accepts (built at run time: no key-shaped literal in the source). */
export const FAKE_AWS = { accessKeyId: ["AKIA", "FAKESECRETS", "0001"].join(""), secretAccessKey: ["fake", "secret", "access", "key", "for", "tests"].join("/") };

export async function startFakeSecretsManager(opts: { region?: string } = {}): Promise<FakeSecretsManager> {
  const region = opts.region ?? "eu-west-1";
  const secrets = new Map<string, { value: string; version: string; created: number }>();
  const signer = new SignatureV4({ service: "secretsmanager", region, credentials: FAKE_AWS, sha256: Hash.bind(null, "sha256") });
  const state = { down: false };
  const error = (res: http.ServerResponse, status: number, type: string, message: string) => json(res, status, { __type: type, Message: message }, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": randomUUID() });

  /** Sign what was received again, with the headers its signature names and its own date: the same signature or not. */
  async function signatureOk(req: http.IncomingMessage, body: string): Promise<"ok" | "unknown key" | "bad"> {
    const auth = String(req.headers.authorization ?? "");
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/secretsmanager\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) return "bad";
    if (m[1] !== FAKE_AWS.accessKeyId) return "unknown key";
    if (m[3] !== region) return "bad";
    const amzDate = String(req.headers["x-amz-date"] ?? "");
    const when = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
    if (!when) return "bad";
    const headers: Record<string, string> = {};
    for (const h of m[4].split(";")) headers[h] = String(req.headers[h] ?? "");
    const url = new URL(req.url ?? "/", "http://x");
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const again = await signer.sign(
      { method: req.method ?? "POST", protocol: "http:", hostname: String(req.headers.host ?? "").split(":")[0], path: url.pathname, query, headers, body },
      { signingDate: new Date(Date.UTC(+when[1], +when[2] - 1, +when[3], +when[4], +when[5], +when[6])), unsignableHeaders: new Set(), signableHeaders: new Set(Object.keys(headers)) },
    );
    const sig = /Signature=([0-9a-f]{64})/.exec(String(again.headers.authorization ?? ""))?.[1];
    return sig === m[5] ? "ok" : "bad";
  }

  const s = await serve(async (req, body, res) => {
    if (state.down) return error(res, 503, "ServiceUnavailable", "Service Unavailable");
    if (req.method !== "POST" || (req.url ?? "/").split("?")[0] !== "/") return error(res, 404, "UnknownOperationException", "");
    const target = req.headers["x-amz-target"];
    if (target !== "secretsmanager.GetSecretValue") return error(res, 400, "UnknownOperationException", "");
    const signed = await signatureOk(req, body);
    if (signed === "unknown key") return error(res, 400, "UnrecognizedClientException", "The security token included in the request is invalid.");
    if (signed === "bad") return error(res, 400, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.");
    let b: { SecretId?: string; VersionStage?: string };
    try {
      b = JSON.parse(body);
    } catch {
      return error(res, 400, "SerializationException", "Start of structure or map found where not expected.");
    }
    if (!b.SecretId) return error(res, 400, "ValidationException", "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null");
    const name = b.SecretId.startsWith("arn:") ? b.SecretId.split(":secret:")[1]?.replace(/-[A-Za-z0-9]{6}$/, "") ?? "" : b.SecretId;
    const sec = secrets.get(name);
    if (!sec) return error(res, 400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    return json(
      res,
      200,
      { ARN: `arn:aws:secretsmanager:${region}:123456789012:secret:${name}-AbCdEf`, Name: name, VersionId: sec.version, SecretString: sec.value, VersionStages: ["AWSCURRENT"], CreatedDate: sec.created },
      { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": randomUUID() },
    );
  });
  return {
    url: s.url,
    region,
    requests: s.requests,
    put(name, value) {
      secrets.set(name, { value, version: randomUUID(), created: Date.now() / 1000 });
    },
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    close: () => {
      s.closeAll();
      return s.close();
    },
  };
}

export interface FakeGcpSecretManager {
  url: string;
  requests: Recorded[];
  /** Add a version of a secret (versions count from 1; "latest" is the newest). */
  put(secret: string, value: string): void;
  close(): Promise<void>;
}

/**
 * Google Secret Manager's `GET /v1/projects/<p>/secrets/<s>/versions/<v>:access`, answering
 * `{name, payload: {data (base64), dataCrc32c}}` or Google's `{"error": {code, message, status}}`;
 * a bearer token is accepted when `validToken` says so (the fake Vertex's token endpoint issues them).
 */
export async function startFakeGcpSecretManager(project: string, validToken: (t: string) => boolean): Promise<FakeGcpSecretManager> {
  const secrets = new Map<string, string[]>();
  const gerror = (res: http.ServerResponse, code: number, status: string, message: string) => json(res, code, { error: { code, message, status } });
  const s = await serve((req, _body, res) => {
    const url = new URL(req.url ?? "/", "http://gcp");
    const m = /^\/v1\/projects\/([^/]+)\/secrets\/([^/]+)\/versions\/([^/:]+):access$/.exec(url.pathname);
    if (!m || req.method !== "GET") return gerror(res, 404, "NOT_FOUND", "Method not found.");
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
    if (!token || !validToken(token)) return gerror(res, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.");
    const [p, name, v] = [decodeURIComponent(m[1]), decodeURIComponent(m[2]), decodeURIComponent(m[3])];
    if (p !== project) return gerror(res, 403, "PERMISSION_DENIED", `Permission 'secretmanager.versions.access' denied for resource 'projects/${p}/secrets/${name}/versions/${v}' (or it may not exist).`);
    const versions = secrets.get(name);
    const n = v === "latest" ? versions?.length : Number(v);
    if (!versions || !n || !versions[n - 1]) return gerror(res, 404, "NOT_FOUND", `Secret [projects/${p}/secrets/${name}] not found or has no versions.`);
    const data = Buffer.from(versions[n - 1], "utf8").toString("base64");
    return json(res, 200, { name: `projects/${p}/secrets/${name}/versions/${n}`, payload: { data, dataCrc32c: "0" } });
  });
  return {
    url: s.url,
    requests: s.requests,
    put(secret, value) {
      secrets.set(secret, [...(secrets.get(secret) ?? []), value]);
    },
    close: () => {
      s.closeAll();
      return s.close();
    },
  };
}

export interface FakeAzureKeyVault {
  /** The vault's URL (https://<vault>.vault.azure.net in Azure). */
  url: string;
  /** The Entra ID authority (https://login.microsoftonline.com in Azure): `<url>/<tenant>/oauth2/v2.0/token`. */
  authorityUrl: string;
  requests: Recorded[];
  /** Set (or rotate: a new version) a secret. */
  put(name: string, value: string): void;
  close(): Promise<void>;
}

/**
 * Azure Key Vault's `GET /secrets/<name>[/<version>]?api-version=7.4` (`{value, id, attributes}`,
 * errors as `{"error": {code, message}}`) and Entra ID's client-credentials token endpoint
 * (`POST /<tenant>/oauth2/v2.0/token`, a client secret or a federated client assertion, scope
 * https://vault.azure.net/.default), both on one server.
 */
export async function startFakeAzureKeyVault(app: { tenantId: string; clientId: string; clientSecret?: string; federatedToken?: string }): Promise<FakeAzureKeyVault> {
  const secrets = new Map<string, { value: string; version: string }[]>();
  const tokens = new Set<string>();
  let base = "";
  const s = await serve((req, body, res) => {
    const url = new URL(req.url ?? "/", "http://akv");
    const tok = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
    if (tok && req.method === "POST") {
      const f = new URLSearchParams(body);
      const bad = (status: number, error: string, description: string) => json(res, status, { error, error_description: description, error_codes: [Number(/AADSTS(\d+)/.exec(description)?.[1] ?? 0)], timestamp: new Date().toISOString(), trace_id: randomUUID(), correlation_id: randomUUID() });
      if (decodeURIComponent(tok[1]) !== app.tenantId) return bad(400, "invalid_request", `AADSTS90002: Tenant '${decodeURIComponent(tok[1])}' not found.`);
      if (f.get("grant_type") !== "client_credentials") return bad(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.");
      if (f.get("client_id") !== app.clientId) return bad(400, "unauthorized_client", `AADSTS700016: Application with identifier '${f.get("client_id")}' was not found in the directory.`);
      if (f.get("scope") !== "https://vault.azure.net/.default") return bad(400, "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid.");
      const bySecret = app.clientSecret !== undefined && f.get("client_secret") === app.clientSecret;
      const byAssertion = app.federatedToken !== undefined && f.get("client_assertion_type") === "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" && f.get("client_assertion") === app.federatedToken;
      if (!bySecret && !byAssertion) return bad(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.");
      const access = `eyJ0eXAi.${randomUUID()}`;
      tokens.add(access);
      return json(res, 200, { token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: access });
    }
    const m = /^\/secrets\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
    const kvError = (status: number, code: string, message: string) => json(res, status, { error: { code, message } });
    if (!m || req.method !== "GET") return kvError(400, "BadParameter", "The request URI contains an invalid name");
    if (!url.searchParams.get("api-version")) return kvError(400, "BadParameter", "The request is missing the api-version parameter.");
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
    if (!token) return kvError(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.");
    if (!tokens.has(token)) return kvError(401, "Unauthorized", "AKV10022: Invalid audience.");
    const name = decodeURIComponent(m[1]);
    const versions = secrets.get(name) ?? [];
    const v = m[2] ? versions.find((x) => x.version === m[2]) : versions.at(-1);
    if (!v) return kvError(404, "SecretNotFound", `A secret with (name/id) ${name}${m[2] ? `/${m[2]}` : ""} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`);
    return json(res, 200, { value: v.value, id: `${base}/secrets/${name}/${v.version}`, attributes: { enabled: true, created: Math.floor(Date.now() / 1000), updated: Math.floor(Date.now() / 1000), recoveryLevel: "Recoverable+Purgeable", recoverableDays: 90 }, tags: {} });
  });
  base = s.url;
  return {
    url: s.url,
    authorityUrl: s.url,
    requests: s.requests,
    put(name, value) {
      secrets.set(name, [...(secrets.get(name) ?? []), { value, version: randomUUID().replace(/-/g, "") }]);
    },
    close: () => {
      s.closeAll();
      return s.close();
    },
  };
}
