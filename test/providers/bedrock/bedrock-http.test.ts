// The Bedrock adapter composed with the real http-provider and undici transport, against the fake
// Bedrock server on a real socket: every request is SigV4-signed (the fake recomputes the
// signature), the event stream arrives in hostile reads, embeddings go through InvokeModel.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import type { ProviderConfig } from "../../../src/config/types.ts";
import { createBedrockAdapter } from "../../../src/providers/bedrock/index.ts";
import { createHttpProvider } from "../../../src/providers/http-provider.ts";
import { createTransport } from "../../../src/providers/transport.ts";
import { ProviderError, type StreamEvent } from "../../../src/providers/types.ts";
import { startFakeBedrock, type FakeAwsCredentials, type FakeBedrock } from "../../fakes/bedrock.ts";

const creds: FakeAwsCredentials = { accessKeyId: ["TEST", "ID", "ONE"].join(""), secretAccessKey: ["unit", "test", "secret"].join("-"), sessionToken: ["unit", "session"].join("-") };
const envCreds: FakeAwsCredentials = { accessKeyId: ["TEST", "ID", "ENV"].join(""), secretAccessKey: ["env", "test", "secret"].join("-") };
const MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
let fake: FakeBedrock;
const transport = createTransport();

function conn(fakeUrl: string, aws: ProviderConfig["aws"]): ProviderConfig {
  return { name: "bedrock", type: "bedrock", baseUrl: fakeUrl, headers: {}, timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 2000 }, maxConnections: 4, aws } as ProviderConfig;
}
const provider = (aws: ProviderConfig["aws"] = { region: "us-east-1", ...creds }) => createHttpProvider(conn(fake.url, aws), createBedrockAdapter(conn(fake.url, aws)), transport);
const req = { model: MODEL, messages: [{ role: "user" as const, content: [{ type: "text" as const, text: "Hello wörld" }] }] };

before(async () => {
  fake = await startFakeBedrock({ credentials: [creds, envCreds] });
});
beforeEach(() => fake.reset());
after(async () => {
  await transport.close();
  await fake.close();
});

describe("bedrock over a real socket", () => {
  test("Complete: signed with the config's credentials and session token, accepted, parsed", async () => {
    fake.script({ kind: "text", text: "Hi!", usage: { input: 50, output: 3, cached: 20, cacheWrite: 5 } });
    const res = await provider().complete(req, AbortSignal.timeout(5000));
    assert.equal(res.text, "Hi!");
    assert.deepEqual(res.usage, { inputTokens: 50, outputTokens: 3, cachedInputTokens: 20, cacheWriteTokens: 5, reasoningTokens: 0 });
    assert.deepEqual(fake.signatures, [{ accessKeyId: creds.accessKeyId, valid: true, reason: undefined }]);
    const r = fake.requests[0];
    assert.equal(r.headers["x-amz-security-token"], creds.sessionToken);
    assert.match(String(r.headers.authorization), /^AWS4-HMAC-SHA256 Credential=TESTIDONE\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/);
    assert.equal(r.path, `/model/${encodeURIComponent(MODEL)}/converse`);
  });

  test("Stream: the binary event stream in hostile reads gives the exact text, finish and usage", async () => {
    fake.script({ kind: "text", text: "Grüße aus der 🌍 Cloud", chunking: "hostile", usage: { input: 9, output: 5 } });
    const events: StreamEvent[] = [];
    for await (const batch of provider().stream(req, AbortSignal.timeout(5000))) events.push(...batch);
    assert.equal(events.filter((e) => e.type === "text").map((e) => (e as { text: string }).text).join(""), "Grüße aus der 🌍 Cloud");
    assert.deepEqual(events.find((e) => e.type === "finish"), { type: "finish", finishReason: "stop", rawFinishReason: "end_turn" });
    assert.deepEqual(events.at(-1), { type: "usage", usage: { inputTokens: 9, outputTokens: 5, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } });
  });

  test("Stream: an in-stream throttlingException after content is thrown as rate_limited, content first", async () => {
    fake.script({ kind: "stream_exception", exception: "throttlingException", afterDeltas: 2 });
    const events: StreamEvent[] = [];
    await assert.rejects(
      (async () => {
        for await (const batch of provider().stream(req, AbortSignal.timeout(5000))) events.push(...batch);
      })(),
      (e: unknown) => e instanceof ProviderError && e.kind === "rate_limited",
    );
    assert.equal(events.filter((e) => e.type === "text").length, 2);
  });

  test("credentials from AWS_* environment variables when the config has none", async () => {
    const saved = { a: process.env.AWS_ACCESS_KEY_ID, s: process.env.AWS_SECRET_ACCESS_KEY, t: process.env.AWS_SESSION_TOKEN };
    process.env.AWS_ACCESS_KEY_ID = envCreds.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = envCreds.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    try {
      const p = provider({ region: "us-east-1" });
      const res = await p.complete(req, AbortSignal.timeout(5000));
      assert.match(res.text, /^Echo: /);
      assert.equal(fake.signatures[0].accessKeyId, envCreds.accessKeyId);
      assert.equal(fake.signatures[0].valid, true);
    } finally {
      for (const [k, v] of [["AWS_ACCESS_KEY_ID", saved.a], ["AWS_SECRET_ACCESS_KEY", saved.s], ["AWS_SESSION_TOKEN", saved.t]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  test("no credentials anywhere: upstream_auth before sending; a wrong secret: the fake's 403 is upstream_auth without the secret", async () => {
    const saved = { a: process.env.AWS_ACCESS_KEY_ID, s: process.env.AWS_SECRET_ACCESS_KEY };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    try {
      await assert.rejects(provider({ region: "us-east-1" }).complete(req, AbortSignal.timeout(5000)), (e: unknown) => e instanceof ProviderError && e.kind === "upstream_auth" && e.unsent === true);
      assert.equal(fake.requests.length, 0);
    } finally {
      if (saved.a !== undefined) process.env.AWS_ACCESS_KEY_ID = saved.a;
      if (saved.s !== undefined) process.env.AWS_SECRET_ACCESS_KEY = saved.s;
    }
    const wrong = ["wrong", "secret", "value"].join("-");
    await assert.rejects(provider({ region: "us-east-1", accessKeyId: creds.accessKeyId, secretAccessKey: wrong, sessionToken: creds.sessionToken }).complete(req, AbortSignal.timeout(5000)), (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.kind, "upstream_auth");
      assert.equal(e.status, 403);
      assert.equal(e.providerCode, "InvalidSignatureException");
      assert.ok(!e.message.includes(wrong));
      return true;
    });
  });

  test("embeddings: Titan and Cohere through InvokeModel, signed", async () => {
    const p = provider();
    const t = await p.embed!({ model: "amazon.titan-embed-text-v2:0", inputs: ["hello there"], dimensions: 512 }, AbortSignal.timeout(5000));
    assert.equal(t.embeddings[0].length, 512);
    assert.deepEqual(t.usage, { inputTokens: 2 });
    const c = await p.embed!({ model: "cohere.embed-english-v3", inputs: ["a", "b", "c"], inputType: "document" }, AbortSignal.timeout(5000));
    assert.equal(c.embeddings.length, 3);
    assert.equal(fake.requests.at(-1)?.body.input_type, "search_document");
    // Cohere's count comes from the x-amzn-bedrock-input-token-count header, not an estimate.
    assert.deepEqual(c.usage, { inputTokens: 3 });
    assert.ok(fake.signatures.every((s) => s.valid));
  });

  test("embeddings: a Titan batch is one signed InvokeModel call per input, a large Cohere batch one per 96, merged in order", async () => {
    const p = provider();
    const before = fake.requests.length;
    const inputs = ["alpha one", "beta", "gamma three words"];
    const t = await p.embed!({ model: "amazon.titan-embed-text-v2:0", inputs, dimensions: 256 }, AbortSignal.timeout(5000));
    const sent = fake.requests.slice(before);
    assert.equal(sent.length, 3);
    assert.deepEqual(sent.map((r) => r.body.inputText).sort(), [...inputs].sort());
    // Order is the caller's, whatever order the calls finished in: each vector is its own text's.
    const single = await p.embed!({ model: "amazon.titan-embed-text-v2:0", inputs: ["beta"], dimensions: 256 }, AbortSignal.timeout(5000));
    assert.deepEqual([...t.embeddings[1]], [...single.embeddings[0]]);
    assert.deepEqual(t.usage, { inputTokens: 2 + 1 + 3 });
    const many = Array.from({ length: 200 }, (_, i) => `text ${i}`);
    const mark = fake.requests.length;
    const c = await p.embed!({ model: "cohere.embed-english-v3", inputs: many }, AbortSignal.timeout(5000));
    assert.deepEqual(fake.requests.slice(mark).map((r) => r.body.texts.length), [96, 96, 8]);
    assert.equal(c.embeddings.length, 200);
    assert.deepEqual(c.usage, { inputTokens: 400 });
    assert.ok(fake.signatures.every((s) => s.valid));
  });
});
