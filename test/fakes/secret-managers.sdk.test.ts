// The fake secret managers (test/fakes/secret-managers.ts) checked against what real clients send
// and expect: AWS's official @aws-sdk/client-secrets-manager reads a secret (by name and by ARN),
// sees ResourceNotFoundException and a refused signature as the SDK's own errors; Vault's KV v2
// envelope and Kubernetes login as Vault's HTTP API documents them.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { FAKE_AWS, startFakeSecretsManager, startFakeVault, type FakeSecretsManager, type FakeVault } from "./secret-managers.ts";

describe("fake AWS Secrets Manager against the official SDK", () => {
  let aws: FakeSecretsManager;
  before(async () => {
    aws = await startFakeSecretsManager();
    aws.put("prod/llm", JSON.stringify({ openai: "value-one" }));
  });
  after(() => aws.close());
  const client = (creds = FAKE_AWS) => new SecretsManagerClient({ endpoint: aws.url, region: aws.region, credentials: creds, maxAttempts: 1 });

  test("GetSecretValue by name and by ARN; the request is the JSON 1.1 protocol, signed", async () => {
    const r = await client().send(new GetSecretValueCommand({ SecretId: "prod/llm" }));
    assert.equal(r.SecretString, JSON.stringify({ openai: "value-one" }));
    assert.equal(r.Name, "prod/llm");
    assert.deepEqual(r.VersionStages, ["AWSCURRENT"]);
    assert.ok(r.CreatedDate instanceof Date);
    const byArn = await client().send(new GetSecretValueCommand({ SecretId: r.ARN! }));
    assert.equal(byArn.SecretString, r.SecretString);
    const sent = aws.requests.at(-1)!;
    assert.equal(sent.headers["x-amz-target"], "secretsmanager.GetSecretValue");
    assert.equal(sent.headers["content-type"], "application/x-amz-json-1.1");
    assert.match(String(sent.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIAFAKESECRETS0001\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request/);
  });

  test("errors as the SDK knows them: a missing secret, an unknown key, a wrong secret key", async () => {
    await assert.rejects(client().send(new GetSecretValueCommand({ SecretId: "nope" })), (e: unknown) => e instanceof ResourceNotFoundException);
    await assert.rejects(client({ ...FAKE_AWS, accessKeyId: "AKIAOTHER" }).send(new GetSecretValueCommand({ SecretId: "prod/llm" })), (e: unknown) => (e as Error).name === "UnrecognizedClientException");
    await assert.rejects(client({ ...FAKE_AWS, secretAccessKey: "wrong" }).send(new GetSecretValueCommand({ SecretId: "prod/llm" })), (e: unknown) => (e as Error).name === "InvalidSignatureException");
  });
});

describe("fake Vault: KV v2 and Kubernetes auth as Vault's HTTP API documents them", () => {
  let vault: FakeVault;
  before(async () => {
    vault = await startFakeVault();
    vault.token("root-token");
    vault.put("secret/llm/openai", { api_key: "v1" });
    vault.role("signalbox", "sa-jwt");
  });
  after(() => vault.close());

  test("a read: data.data and data.metadata.version; a new version after a write; 403 and 404 with errors", async () => {
    const read = async (token: string, path = "llm/openai") => fetch(`${vault.url}/v1/secret/data/${path}`, { headers: { "x-vault-token": token } });
    let r = await read("root-token");
    assert.equal(r.status, 200);
    let b = (await r.json()) as { data: { data: Record<string, string>; metadata: { version: number } } };
    assert.deepEqual([b.data.data, b.data.metadata.version], [{ api_key: "v1" }, 1]);
    vault.put("secret/llm/openai", { api_key: "v2" });
    b = (await (await read("root-token")).json()) as typeof b;
    assert.deepEqual([b.data.data, b.data.metadata.version], [{ api_key: "v2" }, 2]);
    r = await read("wrong");
    assert.deepEqual([r.status, await r.json()], [403, { errors: ["permission denied"] }]);
    r = await read("root-token", "missing");
    assert.deepEqual([r.status, await r.json()], [404, { errors: [] }]);
  });

  test("kubernetes login hands out a client token that reads", async () => {
    const login = await fetch(`${vault.url}/v1/auth/kubernetes/login`, { method: "POST", body: JSON.stringify({ role: "signalbox", jwt: "sa-jwt" }) });
    const { auth } = (await login.json()) as { auth: { client_token: string; lease_duration: number } };
    assert.equal(auth.lease_duration, 3600);
    const r = await fetch(`${vault.url}/v1/secret/data/llm/openai`, { headers: { "x-vault-token": auth.client_token } });
    assert.equal(r.status, 200);
    const refused = await fetch(`${vault.url}/v1/auth/kubernetes/login`, { method: "POST", body: JSON.stringify({ role: "signalbox", jwt: "other" }) });
    assert.equal(refused.status, 403);
  });
});
