// Provider keys from secret managers (src/config/secrets.ts), through a real gateway started from a
// config file: HashiCorp Vault (KV v2, a token and Kubernetes auth), AWS Secrets Manager (SigV4
// checked by the fake) and a mounted file, each fake over real HTTP (test/fakes/secret-managers.ts).
// Each provider gets its key from its source; a key rotated in its source reaches the provider
// within a refresh, with no restart (the config reloads, naming what changed and never a value); a
// source that goes away keeps the keys in force and says so; bad references are errors naming the
// field; no value is ever in a log line, an error or the audit log.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { buildConfig, ConfigError, extendConfig } from "../../src/config/load.ts";
import { buildConfigWithSecrets, loadConfigWithSecrets } from "../../src/secrets/load.ts";
import { createGateway, type Gateway } from "../../src/gateway.ts";
import { startServer, type RunningServer } from "../../src/server/http.ts";
import { setLogSink } from "../../src/telemetry/log.ts";
import { createMemoryUsageSink } from "../../src/usage/record.ts";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { FAKE_AWS, startFakeAzureKeyVault, startFakeGcpSecretManager, type FakeAzureKeyVault, startFakeSecretsManager, startFakeVault, type FakeGcpSecretManager, type FakeSecretsManager, type FakeVault } from "../fakes/secret-managers.ts";
import { makeTestServiceAccount, startFakeVertex, type FakeVertex } from "../fakes/vertex.ts";
import { NODE24 } from "../helpers/cli.ts";
import { poll } from "../helpers/wait.ts";
import { startWebhook, type Webhook } from "../helpers/webhook.ts";

// Secret values, assembled at run time.
const V = (...p: string[]) => p.join("-");
const OPENAI_V1 = V("sk", "vault", "one", "0001");
const OPENAI_V2 = V("sk", "vault", "two", "0002");
const ANTHROPIC_V1 = ANTHROPIC_TEST_KEY;
const FILE_V1 = V("sk", "file", "one", "0003");
const FILE_V2 = V("sk", "file", "two", "0004");
const GCP_V1 = V("sk", "gcp", "one", "0005");
const GCP_V2 = V("sk", "gcp", "two", "0006");
const AZURE_V1 = V("sk", "azure", "one", "0007");
const AZ_SECRET = V("azure", "client", "secret");
const AZ_FEDERATED = V("eyJ", "aks", "federated");
const ROOT = V("hvs", "root", "token");
const JWT = V("eyJ", "service", "account");

describe("secrets from secret managers", () => {
  let vault: FakeVault;
  let aws: FakeSecretsManager;
  let gvertex: FakeVertex;
  let gcp: FakeGcpSecretManager;
  let saKey: string;
  let akv: FakeAzureKeyVault;
  let openai: FakeOpenAI;
  let local: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let dir: string;
  let file: string;
  let keyFile: string;
  let gw: Gateway;
  let server: RunningServer;
  let hook: Webhook;
  const logs: string[] = [];
  const values = () => [OPENAI_V1, OPENAI_V2, FILE_V1, FILE_V2, GCP_V1, GCP_V2, AZURE_V1, AZ_SECRET, AZ_FEDERATED, ROOT, JWT, FAKE_AWS.secretAccessKey];

  const yaml = (refresh = 1) => `
secrets:
  refresh_seconds: ${refresh}
  sources:
    - { name: vault, type: vault, url: ${vault.url}, token: ${ROOT} }
    - { name: k8s-vault, type: vault, url: ${vault.url}, kubernetes_role: signalbox, jwt_file: ${join(dir, "sa-token")} }
    - { name: aws, type: aws_secrets_manager, region: ${aws.region}, url: ${aws.url}, access_key_id: ${FAKE_AWS.accessKeyId}, secret_access_key: "${FAKE_AWS.secretAccessKey}" }
    - { name: files, type: file }
    - { name: azure, type: azure_key_vault, url: ${akv.url}, authority_url: ${akv.authorityUrl}, tenant_id: contoso, client_id: gateway-app, client_secret: ${AZ_SECRET} }
    - { name: aks, type: azure_key_vault, url: ${akv.url}, authority_url: ${akv.authorityUrl}, tenant_id: contoso, client_id: gateway-app, federated_token_file: ${join(dir, "aks-token")} }
    - { name: gcp, type: gcp_secret_manager, project: sb-secrets, url: ${gcp.url}, credentials_file: ${saKey}, token_url: ${gvertex.tokenUrl} }
providers:
  - { name: openai, type: openai, base_url: ${openai.url}, api_key: "\${secret:vault:llm/openai#api_key}" }
  - { name: anthropic, type: anthropic, base_url: "${anthropic.url}", api_key: "\${secret:aws:prod/llm#anthropic}" }
  - { name: local, type: openai-compatible, base_url: ${local.url}, api_key: "\${secret:files:${keyFile}}" }
  - { name: other, type: openai, base_url: ${openai.url}, api_key: "\${secret:k8s-vault:llm/openai#api_key}" }
  - { name: azurekey, type: openai-compatible, base_url: ${local.url}, api_key: "\${secret:azure:llm-key}" }
  - { name: akskey, type: openai-compatible, base_url: ${local.url}, api_key: "\${secret:aks:llm-key}" }
  - { name: google, type: openai-compatible, base_url: ${local.url}, api_key: "\${secret:gcp:gateway-key}" }
deployments:
  - { id: openai/mini, provider: openai, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
  - { id: anthropic/haiku, provider: anthropic, model: claude-haiku-4-5, pricing: { input: 1, output: 5 } }
  - { id: local/llama, provider: local, model: gpt-4o-mini, pricing: { input: 0, output: 0 } }
  - { id: other/mini, provider: other, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
  - { id: azure/mini, provider: azurekey, model: gpt-4o-mini, pricing: { input: 0, output: 0 } }
  - { id: aks/mini, provider: akskey, model: gpt-4o-mini, pricing: { input: 0, output: 0 } }
  - { id: google/mini, provider: google, model: gpt-4o-mini, pricing: { input: 0, output: 0 } }
alerts:
  - { name: ops, url: "${hook.origin}/ops", events: [secrets_unavailable, secrets_recovered] }
`;

  const ask = async (model: string) => {
    const r = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }) });
    assert.equal(r.status, 200, await r.clone().text());
    return r.json();
  };
  const bearerOf = (f: FakeOpenAI) => String(f.requests.at(-1)?.headers.authorization ?? "");
  const metrics = async () => (await fetch(`${server.url}/metrics`)).text();

  before(async () => {
    setLogSink((l) => logs.push(l));
    hook = await startWebhook();
    dir = mkdtempSync(join(tmpdir(), "signalbox-secrets-"));
    keyFile = join(dir, "local-key");
    writeFileSync(keyFile, `${FILE_V1}\n`);
    writeFileSync(join(dir, "sa-token"), JWT);
    vault = await startFakeVault();
    vault.token(ROOT);
    vault.role("signalbox", JWT);
    vault.put("secret/llm/openai", { api_key: OPENAI_V1, org: "acme" });
    writeFileSync(join(dir, "aks-token"), AZ_FEDERATED);
    akv = await startFakeAzureKeyVault({ tenantId: "contoso", clientId: "gateway-app", clientSecret: AZ_SECRET, federatedToken: AZ_FEDERATED });
    akv.put("llm-key", AZURE_V1);
    const sa = makeTestServiceAccount("sb-secrets");
    gvertex = await startFakeVertex({ accounts: [sa], project: "sb-secrets" });
    saKey = sa.writeKeyFile(dir);
    gcp = await startFakeGcpSecretManager("sb-secrets", (t) => gvertex.issued.some((x) => x.token === t));
    gcp.put("gateway-key", GCP_V1);
    aws = await startFakeSecretsManager();
    aws.put("prod/llm", JSON.stringify({ anthropic: ANTHROPIC_V1 }));
    openai = await startFakeOpenAI({ apiKey: null });
    local = await startFakeOpenAI({ apiKey: null });
    anthropic = await startFakeAnthropic();
    file = join(dir, "gateway.yaml");
    writeFileSync(file, yaml());
    gw = await createGateway(await loadConfigWithSecrets(file), { usage: createMemoryUsageSink(), configPath: file });
    server = await startServer(gw, { port: 0, host: "127.0.0.1", maxRequestBytes: 1 << 20 });
  });
  after(async () => {
    await server?.shutdown(0);
    await Promise.all([hook?.close(), vault?.close(), aws?.close(), akv?.close(), gcp?.close(), gvertex?.close(), openai?.close(), local?.close(), anthropic?.close()]);
    setLogSink((l) => process.stdout.write(l));
    rmSync(dir, { recursive: true, force: true });
  });

  test("each provider's key comes from its source: Vault (a token, and Kubernetes auth), AWS Secrets Manager (signed), a file", async () => {
    await ask("openai/mini");
    assert.equal(bearerOf(openai), `Bearer ${OPENAI_V1}`);
    await ask("other/mini");
    assert.equal(bearerOf(openai), `Bearer ${OPENAI_V1}`);
    await ask("anthropic/haiku");
    assert.equal(anthropic.requests.at(-1)?.headers["x-api-key"], ANTHROPIC_V1);
    await ask("local/llama");
    assert.equal(bearerOf(local), `Bearer ${FILE_V1}`);
    await ask("google/mini");
    assert.equal(bearerOf(local), `Bearer ${GCP_V1}`);
    await ask("azure/mini");
    assert.equal(bearerOf(local), `Bearer ${AZURE_V1}`);
    await ask("aks/mini");
    assert.equal(bearerOf(local), `Bearer ${AZURE_V1}`);
    // Azure: an Entra ID token by the client secret and by the federated token, then the secret's current version.
    const grants = akv.requests.filter((r) => r.path === "/contoso/oauth2/v2.0/token").map((r) => new URLSearchParams(r.body));
    assert.ok(grants.some((f) => f.get("client_secret") === AZ_SECRET && f.get("scope") === "https://vault.azure.net/.default"));
    assert.ok(grants.some((f) => f.get("client_assertion") === AZ_FEDERATED));
    assert.ok(akv.requests.some((r) => r.path === "/secrets/llm-key?api-version=7.4"));
    // Google: an access token from the service account's signed assertion, then the latest version.
    assert.ok(gcp.requests.some((r) => r.path === "/v1/projects/sb-secrets/secrets/gateway-key/versions/latest:access" && /^Bearer /.test(String(r.headers.authorization))));
    // Vault was asked with the token, and once through Kubernetes login; AWS with a signed request (the fake checks the signature).
    assert.ok(vault.requests.some((r) => r.path === "/v1/secret/data/llm/openai" && r.headers["x-vault-token"] === ROOT));
    assert.ok(vault.requests.some((r) => r.path === "/v1/auth/kubernetes/login" && JSON.parse(r.body).jwt === JWT));
    assert.ok(aws.requests.some((r) => r.headers["x-amz-target"] === "secretsmanager.GetSecretValue" && JSON.parse(r.body).SecretId === "prod/llm"));
  });

  test("a key rotated in Vault and in its file reaches the provider within a refresh, no restart; the reload names providers, never values", async () => {
    const before = gw.configVersion;
    vault.put("secret/llm/openai", { api_key: OPENAI_V2, org: "acme" });
    writeFileSync(keyFile, `${FILE_V2}\n`);
    gcp.put("gateway-key", GCP_V2);
    await poll(async () => {
      await ask("openai/mini");
      const a = bearerOf(openai);
      await ask("local/llama");
      const b = bearerOf(local);
      await ask("google/mini");
      return a === `Bearer ${OPENAI_V2}` && b === `Bearer ${FILE_V2}` && bearerOf(local) === `Bearer ${GCP_V2}` ? true : undefined;
    }, 10_000, "the rotated keys to be used");
    assert.notEqual(gw.configVersion, before);
    assert.match(await metrics(), /signalbox_secrets_refreshes_total\{outcome="changed"\} [1-9]/);
    const reload = logs.map((l) => JSON.parse(l)).find((l) => l.msg === "config reloaded" && l.actor === "secrets");
    assert.ok(reload, "a reload by secrets");
    // One reload may see all three rotations, or two reloads split them.
    const changed = logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "config reloaded" && l.actor === "secrets").flatMap((l) => l.changes);
    for (const p of ["openai", "local", "google"]) assert.ok(changed.includes(`provider changed: ${p}`), JSON.stringify(changed));
    const audit = await gw.core.control.listAudit({ caller: { keyName: "admin", team: "", role: "admin", allow: [] }, authEnabled: false, traceId: "" }, { limit: 50 });
    assert.ok(audit.items.some((e) => e.action === "config.reload" && e.actor === "secrets"));
    assert.doesNotMatch(JSON.stringify(audit.items), new RegExp(values().join("|").replace(/[/+]/g, "\\$&")));
  });

  test("a source that goes away keeps the keys in force, says so, and is read again once it is back", async () => {
    aws.down = true;
    await poll(async () => ((await metrics()).match(/signalbox_secrets_refreshes_total\{outcome="failed"\} [1-9]/) ? true : undefined), 10_000, "a failed refresh");
    await ask("anthropic/haiku");
    assert.equal(anthropic.requests.at(-1)?.headers["x-api-key"], ANTHROPIC_V1);
    const warned = logs.map((l) => JSON.parse(l)).find((l) => l.msg === "secrets could not be read again: the values in force are kept");
    assert.match(warned.error, /\$\{secret:aws:prod\/llm#anthropic\}: aws_secrets_manager source "aws": ServiceUnavailable/);
    aws.down = false;
    const n = (await metrics()).match(/signalbox_secrets_refreshes_total\{outcome="unchanged"\} (\d+)/)?.[1] ?? "0";
    await poll(async () => (Number((await metrics()).match(/signalbox_secrets_refreshes_total\{outcome="unchanged"\} (\d+)/)?.[1] ?? 0) > Number(n) ? true : undefined), 10_000, "an unchanged refresh");
    // Alerted once when the source went away (however many refreshes failed), and once when it was back.
    await poll(async () => (hook.received.some((r) => r.body.event === "secrets_recovered") ? true : undefined), 5_000, "the recovery alert");
    const events = hook.received.map((r) => r.body);
    assert.deepEqual(events.map((e) => e.event), ["secrets_unavailable", "secrets_recovered"]);
    assert.match(String(events[0].reason), /aws_secrets_manager source "aws": ServiceUnavailable/);
    for (const v of values()) assert.ok(!JSON.stringify(events).includes(v), "a value in an alert");
  });

  test("no secret value in any log line", () => {
    const all = logs.join("");
    for (const v of values()) assert.ok(!all.includes(v), "a value reached the log");
  });

  test("bad references and sources are errors naming the field, without the value", async () => {
    const doc = (extra: string, key = "${secret:vault:llm/openai#api_key}") =>
      parse(`secrets:\n  sources:\n    - { name: vault, type: vault, url: ${vault.url}, token: ${ROOT} }\n${extra}providers:\n  - { name: openai, type: openai, base_url: ${openai.url}, api_key: "${key}" }\n`);
    const refused = async (d: unknown, message: RegExp) => {
      const err = await buildConfigWithSecrets(d, {}).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, message);
      for (const v of values()) assert.ok(!err.message.includes(v), `a value in: ${err.message}`);
    };
    await refused(doc("", "${secret:nowhere:x}"), /^providers\[0\]\.api_key: \$\{secret:nowhere:x\}: unknown secrets source "nowhere" \(secrets\.sources: vault\)$/);
    await refused(doc("", "${secret:vault:llm/missing#api_key}"), /^providers\[0\]\.api_key: \$\{secret:vault:llm\/missing#api_key\}: vault source "vault": no secret at secret\/llm\/missing$/);
    await refused(doc("", "${secret:vault:llm/openai#nope}"), /the secret has no field "nope"/);
    await refused(doc("", "${secret:vault:llm/openai}"), /the secret has 2 fields \(api_key, org\): name one, as \$\{secret:vault:llm\/openai#<field>\}/);
    await refused(parse(`providers:\n  - { name: openai, type: openai, api_key: "\${secret:vault:x#y}" }\n`), /^providers\[0\]\.api_key: \$\{secret:vault:x#y\} needs a secrets section naming source "vault"$/);
    await refused(parse(`secrets:\n  sources:\n    - { name: v, type: vault, url: ${vault.url} }\n`), /^secrets\.sources\[0\]: a vault source needs exactly one of token, token_file or kubernetes_role$/);
    await refused(parse(`secrets:\n  sources:\n    - { name: a, type: aws_secrets_manager }\n`), /^secrets\.sources\[0\]\.region: is required/);
    await refused(parse(`secrets:\n  sources:\n    - { name: f, type: file, region: eu-west-1 }\n`), /^secrets\.sources\[0\]\.region: only applies to an aws_secrets_manager source$/);
    await refused(parse(`secrets:\n  sources:\n    - { name: g, type: gcp_secret_manager }\n`), /^secrets\.sources\[0\]\.project: is required/);
    await refused(parse(`secrets:\n  sources:\n    - { name: a, type: azure_key_vault, url: ${akv.url}, tenant_id: t, client_id: c }\n`), /^secrets\.sources\[0\]: an azure_key_vault source needs one of client_secret or federated_token_file/);
    const azDoc = (secret: string, path: string) => parse(`secrets:\n  sources:\n    - { name: az, type: azure_key_vault, url: ${akv.url}, authority_url: ${akv.authorityUrl}, tenant_id: contoso, client_id: gateway-app, client_secret: "${secret}" }\nproviders:\n  - { name: g, type: openai, api_key: "\${secret:az:${path}}" }\n`);
    await refused(azDoc("wrong", "llm-key"), /azure_key_vault source "az": Entra ID refused the token request \(invalid_client: AADSTS7000215: Invalid client secret provided/);
    await refused(azDoc(AZ_SECRET, "nope"), /azure_key_vault source "az": SecretNotFound: A secret with \(name\/id\) nope was not found in this key vault/);
    const gcpDoc = (path: string) => parse(`secrets:\n  sources:\n    - { name: gcp, type: gcp_secret_manager, project: sb-secrets, url: ${gcp.url}, credentials_file: ${saKey}, token_url: ${gvertex.tokenUrl} }\nproviders:\n  - { name: g, type: openai, api_key: "\${secret:gcp:${path}}" }\ndeployments: [{ id: g/a, provider: g, model: gpt-4o-mini }]\n`);
    await refused(gcpDoc("absent"), /gcp_secret_manager source "gcp": NOT_FOUND: Secret \[projects\/sb-secrets\/secrets\/absent\] not found or has no versions\./);
    // An older version by number.
    assert.equal((await buildConfigWithSecrets(gcpDoc("gateway-key/versions/1"), {})).providers[0].apiKey, GCP_V1);
    // A KV version 1 engine: `<mount>/<path>`, the secret's data itself.
    const kv1 = await startFakeVault({ kv1: ["kv"] });
    try {
      kv1.token(ROOT);
      kv1.put("kv/llm/openai", { api_key: OPENAI_V2 });
      const kv1Doc = (version: string) => parse(`secrets:\n  sources:\n    - { name: old, type: vault, url: ${kv1.url}, token: ${ROOT}, mount: kv${version} }\nproviders:\n  - { name: openai, type: openai, api_key: "\${secret:old:llm/openai#api_key}" }\ndeployments: [{ id: openai/a, provider: openai, model: gpt-4o-mini }]\n`);
      assert.equal((await buildConfigWithSecrets(kv1Doc(", kv_version: 1"), {})).providers[0].apiKey, OPENAI_V2);
      assert.equal(kv1.requests.at(-1)?.path, "/v1/kv/llm/openai");
      // Read as version 2 (the default), the same mount has no `data/` path.
      await refused(kv1Doc(""), /vault source "old": no secret at kv\/llm\/openai/);
      await refused(parse(`secrets:\n  sources:\n    - { name: f, type: file, kv_version: 1 }\n`), /^secrets\.sources\[0\]\.kv_version: only applies to a vault source$/);
    } finally {
      await kv1.close();
    }
    // A wrong Vault token: Vault's own error, no token in it.
    await refused(parse(`secrets:\n  sources:\n    - { name: vault, type: vault, url: ${vault.url}, token: not-it }\nproviders:\n  - { name: openai, type: openai, api_key: "\${secret:vault:llm/openai#api_key}" }\n`), /vault source "vault": HTTP 403: permission denied/);
    // An entry made at run time never reads a source: refused, naming the field.
    const { problems } = extendConfig(buildConfig(parse("providers: [{ name: mock, type: mock }]\ndeployments: [{ id: mock/a, provider: mock, model: mock-a }]")), [{ kind: "provider", name: "p2", spec: { type: "openai", api_key: "${secret:vault:llm/openai#api_key}" } }]);
    assert.match(problems.get("provider/p2")?.message ?? "", /^spec\.api_key: \$\{secret:…\} references are read from the config file only/);
    // The synchronous builder cannot read a source: it says so instead of sending the reference as a key.
    assert.throws(() => buildConfig(doc("")), /providers\[0\]\.api_key: a \$\{secret:…\} reference is read from its source when the file is loaded/);
  });

  test("the gateway started on a file whose secret cannot be read exits 2, naming the field", () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, `secrets:\n  sources:\n    - { name: files, type: file }\nproviders:\n  - { name: openai, type: openai, api_key: "\${secret:files:${join(dir, "absent")}}" }\n`);
    const r = spawnSync(NODE24, ["src/main.ts", "--config", bad], { encoding: "utf8", timeout: 30_000, env: { ...process.env, PORT: "0" } });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /invalid configuration in .*bad\.yaml\n {2}providers\[0\]\.api_key: \$\{secret:files:.*absent\}: file source "files": cannot read .*absent: ENOENT/);
  });
});

describe("a secrets section a reload brings in", () => {
  test("is read at that reload and refreshed from then on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "signalbox-secrets-reload-"));
    const upstream = await startFakeOpenAI({ apiKey: null });
    const file = join(dir, "gateway.yaml");
    const keyFile = join(dir, "key");
    const base = `providers:\n  - { name: local, type: openai-compatible, base_url: ${upstream.url}, api_key: KEYSPEC }\ndeployments:\n  - { id: local/mini, provider: local, model: gpt-4o-mini, pricing: { input: 0, output: 0 } }\n`;
    writeFileSync(file, base.replace("KEYSPEC", "plain-key-in-the-file"));
    const gw = await createGateway(await loadConfigWithSecrets(file), { usage: createMemoryUsageSink(), configPath: file });
    const server = await startServer(gw, { port: 0, host: "127.0.0.1", maxRequestBytes: 1 << 20 });
    const ask = async () => {
      const r = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "local/mini", messages: [{ role: "user", content: "hi" }] }) });
      assert.equal(r.status, 200);
      await r.arrayBuffer();
      return String(upstream.requests.at(-1)?.headers.authorization ?? "");
    };
    try {
      assert.equal(await ask(), "Bearer plain-key-in-the-file");
      writeFileSync(keyFile, FILE_V1);
      writeFileSync(file, `secrets:\n  refresh_seconds: 1\n  sources: [{ name: files, type: file }]\n${base.replace("KEYSPEC", `"\${secret:files:${keyFile}}"`)}`);
      await gw.reload("test");
      assert.equal(await ask(), `Bearer ${FILE_V1}`);
      writeFileSync(keyFile, FILE_V2);
      await poll(async () => ((await ask()) === `Bearer ${FILE_V2}` ? true : undefined), 10_000, "the rotated key after a reload brought secrets in");
    } finally {
      await server.shutdown(0);
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
