// The Vertex token source against the fake OAuth endpoint (which verifies the RS256 assertion):
// one fetch cached across calls and shared by concurrent ones, refreshed before expiry, re-fetched
// after Vertex refuses a token, and every failure an upstream_auth error free of secrets.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import type { ProviderConfig } from "../../../src/config/types.ts";
import { ProviderError } from "../../../src/providers/types.ts";
import { createVertexTokenSource } from "../../../src/providers/vertex/index.ts";
import { makeTestServiceAccount, startFakeVertex, type FakeVertex } from "../../fakes/vertex.ts";

const sa = makeTestServiceAccount("auth-test");
let dir: string;
let keyPath: string;
let fake: FakeVertex;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vertex-auth-"));
  keyPath = sa.writeKeyFile(dir);
  fake = await startFakeVertex({ accounts: [sa], project: "auth-test" });
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => fake.reset());

function conn(vertex: Partial<NonNullable<ProviderConfig["vertex"]>> = {}): ProviderConfig {
  return {
    name: "vertex-auth",
    type: "vertex",
    baseUrl: fake.origin,
    headers: {},
    timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 },
    maxConnections: 4,
    compat: { maxTokensField: "max_tokens", streamUsage: false, dropFields: [], usagePaths: [], developerRole: true },
    mock: { ttftMs: 0, interChunkMs: 0, chunks: 1, failureRate: 0, failureKind: "unknown", failAfterChunks: -1, outputTokens: 1 },
    vertex: { project: "auth-test", location: "us-central1", credentialsFile: keyPath, tokenUrl: fake.tokenUrl, ...vertex },
  };
}

const signal = () => new AbortController().signal;
const noSecrets = (s: string) => {
  assert.ok(!s.includes(sa.privateKeyPem.split("\n")[1]), "no private key material");
  assert.ok(!/PRIVATE KEY/.test(s));
  assert.ok(!/eyJ[\w-]+\.[\w-]+\./.test(s), "no signed assertion");
  for (const t of fake.issued) assert.ok(!s.includes(t.token), "no access token");
};

describe("vertex token source", () => {
  test("fetched once and cached across calls", async () => {
    const src = createVertexTokenSource(conn());
    const a = await src.token(signal());
    const b = await src.token(signal());
    assert.equal(a, b);
    assert.equal(fake.issued.length, 1);
    assert.equal(fake.issued[0].token, a);
    assert.equal(fake.issued[0].email, sa.email);
  });

  test("concurrent callers share one refresh", async () => {
    fake.setTokenDelay(50);
    const src = createVertexTokenSource(conn());
    const all = await Promise.all(Array.from({ length: 8 }, () => src.token(signal())));
    assert.equal(new Set(all).size, 1);
    assert.equal(fake.issued.length, 1);
    assert.equal(fake.requests.filter((r) => r.path === "/token").length, 1);
  });

  test("refreshed before it expires (5 minutes ahead)", async () => {
    fake.setExpiresIn(301); // one second before the refresh margin starts
    const src = createVertexTokenSource(conn());
    const first = await src.token(signal());
    assert.equal(await src.token(signal()), first);
    await new Promise((r) => setTimeout(r, 1100));
    const second = await src.token(signal());
    assert.notEqual(second, first);
    assert.equal(fake.issued.length, 2);
  });

  test("invalidate(): a token Vertex refused is not reused", async () => {
    const src = createVertexTokenSource(conn());
    const first = await src.token(signal());
    src.invalidate();
    await new Promise((r) => setImmediate(r));
    assert.notEqual(await src.token(signal()), first);
    assert.equal(fake.issued.length, 2);
  });

  test("a refused refresh is upstream_auth, unsent, with the OAuth code and no secret; it recovers", async () => {
    const src = createVertexTokenSource(conn());
    fake.failTokens({ error: "invalid_grant", description: "Invalid grant: account disabled" }, 1);
    const err = await src.token(signal()).then(
      () => assert.fail("expected a failure"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ProviderError);
    assert.equal(err.kind, "upstream_auth");
    assert.equal(err.unsent, true);
    assert.equal(err.providerCode, "invalid_grant");
    assert.match(err.message, /^vertex-auth: could not refresh the Google access token \(.*invalid_grant/);
    noSecrets(err.message);
    noSecrets(JSON.stringify(err));
    assert.ok(await src.token(signal()));
    assert.equal(fake.issued.length, 1);
  });

  test("a key the endpoint does not accept (wrong signature) fails the same way", async () => {
    const forged = { ...sa.keyFile(), private_key: makeTestServiceAccount("auth-test", "other").privateKeyPem };
    const path = join(dir, "forged.json");
    writeFileSync(path, JSON.stringify(forged));
    const err = await createVertexTokenSource(conn({ credentialsFile: path })).token(signal()).catch((e: unknown) => e);
    assert.ok(err instanceof ProviderError && err.kind === "upstream_auth");
    assert.deepEqual(fake.refused, ["invalid_grant: Invalid JWT Signature."]);
    noSecrets(err.message);
    assert.ok(!err.message.includes(forged.private_key.split("\n")[1]));
  });

  test("a missing or broken key file is upstream_auth naming the file", async () => {
    const missing = await createVertexTokenSource(conn({ credentialsFile: join(dir, "nope.json") })).token(signal()).catch((e: unknown) => e);
    assert.ok(missing instanceof ProviderError && missing.kind === "upstream_auth");
    assert.match(missing.message, /cannot read the Google credentials file .*nope\.json \(ENOENT\)/);
    const broken = join(dir, "broken.json");
    writeFileSync(broken, "{not json");
    const bad = await createVertexTokenSource(conn({ credentialsFile: broken })).token(signal()).catch((e: unknown) => e);
    assert.ok(bad instanceof ProviderError && bad.kind === "upstream_auth");
    assert.match(bad.message, /is not JSON/);
  });

  test("GOOGLE_APPLICATION_CREDENTIALS when no file is configured; the key file's token_uri when no token_url", async () => {
    const withUri = sa.writeKeyFile(dir, fake.tokenUrl, "with-token-uri.json");
    const c = conn({ tokenUrl: undefined });
    delete c.vertex!.credentialsFile;
    const src = createVertexTokenSource(c, { GOOGLE_APPLICATION_CREDENTIALS: withUri });
    assert.ok(await src.token(signal()));
    assert.equal(fake.issued.length, 1);
  });

  test("a canceled caller stops waiting (canceled, not upstream_auth)", async () => {
    fake.setTokenDelay(200);
    const ac = new AbortController();
    const p = createVertexTokenSource(conn()).token(ac.signal);
    setTimeout(() => ac.abort(), 20);
    const err = await p.catch((e: unknown) => e);
    assert.ok(err instanceof ProviderError);
    assert.equal(err.kind, "canceled");
  });
});
