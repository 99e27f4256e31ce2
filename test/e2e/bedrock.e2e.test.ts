// End to end through the whole gateway for Amazon Bedrock: typed client → Connect/gRPC server →
// router → Bedrock adapter (SigV4 signed) → undici → the fake Bedrock server on a real socket,
// which verifies every signature and answers with Converse JSON or the binary event stream.

import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { AttemptOutcome, FailureKind, FinishReason, ResponseFormat_Type, ToolChoiceMode, fileBytes, textPart, user as userMessage } from "@signalbox/client";
import { setLogSink } from "../../src/telemetry/log.ts";
import { startFakeBedrock, type BedrockErrorName, type FakeAwsCredentials, type FakeBedrock } from "../fakes/bedrock.ts";
import {
  assertCost,
  assertUsage,
  attemptSummary,
  clientFor,
  codeName,
  collect,
  details,
  enumName,
  gatewayPool,
  lastRecord,
  PNG_1X1,
  PNG_1X1_B64,
  rejection,
  system,
  toolResult,
  assistantCalls,
  user,
  userImageBytes,
  userImageUrl,
  WEATHER_TOOL,
} from "./anthropic-gemini-harness.ts";

const MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const OK = AttemptOutcome.SUCCEEDED;
const FAILED = AttemptOutcome.FAILED;
// Assembled at run time: no key-shaped literals in files.
const creds: FakeAwsCredentials = { accessKeyId: ["E2E", "ACCESS", "KEY"].join(""), secretAccessKey: ["e2e", "secret", "never", "shown"].join("-"), sessionToken: ["e2e", "session", "token", "never", "shown"].join("-") };
const WRONG_SECRET = ["e2e", "wrong", "secret", "value"].join("-");

// Built-in prices (catalog, us. geographic profile of Claude Sonnet 4.5 = the in-Region price):
// input $3.30, cache read $0.33, cache write $4.125, output $16.50 per million tokens
// → nano-USD per token: 3300, 330, 4125, 16500.
const config = (url: string) => `
providers:
  - name: bedrock
    type: bedrock
    base_url: ${url}
    aws: { region: us-east-1, access_key_id: ${creds.accessKeyId}, secret_access_key: ${creds.secretAccessKey}, session_token: ${creds.sessionToken} }
  - name: bedrock-wrong-secret
    type: bedrock
    base_url: ${url}
    aws: { region: us-east-1, access_key_id: ${creds.accessKeyId}, secret_access_key: ${WRONG_SECRET}, session_token: ${creds.sessionToken} }
  - name: backup
    type: mock
    mock: { reply: "backup answer", chunks: 3 }
deployments:
  - { id: bedrock/sonnet, provider: bedrock, model: ${MODEL} }
  - { id: bedrock/wrong, provider: bedrock-wrong-secret, model: ${MODEL} }
  - { id: backup/mock, provider: backup, model: mock-backup, pricing: { input: 1, output: 2 } }
routes:
  - name: bedrock
    targets: [bedrock/sonnet]
    retry: { max_retries: 0 }
  - name: bedrock-fallback
    targets: [bedrock/sonnet, backup/mock]
    retry: { max_retries: 0, base_delay_ms: 5 }
  - name: wrong-secret
    targets: [bedrock/wrong]
    retry: { max_retries: 0 }
`;

let fake: FakeBedrock;
const gws = gatewayPool(() => config(fake.url));

before(async () => {
  fake = await startFakeBedrock({ credentials: [creds] });
});
beforeEach(() => fake.reset());
afterEach(() => gws.closeAll());
after(() => fake.close());

const converse = () => fake.requests.filter((r) => /\/converse(-stream)?$/.test(r.path));

describe("bedrock: text", () => {
  test("Complete: exact text, normalised usage with cache reads and writes, hand-computed cost, a valid signature", async () => {
    const t = await gws.start();
    fake.script({ kind: "text", text: "Hello from Bedrock.", usage: { input: 100, output: 20, cached: 30, cacheWrite: 10 } });
    const res = await clientFor(t).chat.complete({ model: "bedrock", messages: [system("Be brief."), user("Hi there")], maxOutputTokens: 200, temperature: 0.5, stop: ["END"] });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["Hello from Bedrock."]);
    assert.equal(res.deployment, "bedrock/sonnet");
    assert.equal(res.provider, "bedrock");
    assert.equal(res.finishReason, FinishReason.STOP);
    assert.equal(res.rawFinishReason, "end_turn");
    // Bedrock's inputTokens (60) excludes cache reads (30) and writes (10): the unified input is 100.
    assertUsage(res.usage, { input: 100, output: 20, cached: 30, cacheWrite: 10 });
    // uncached 60×3300 + cached 30×330 + cache write 10×4125 + output 20×16500
    assertCost(res.cost, { input: 198_000, cachedInput: 9_900, cacheWrite: 41_250, output: 330_000 });
    assert.equal(res.attempts[0].cost?.totalNanoUsd, 579_150n);

    assert.equal(fake.requests.length, 1);
    assert.deepEqual(fake.signatures, [{ accessKeyId: creds.accessKeyId, valid: true, reason: undefined }]);
    const r = fake.requests[0];
    assert.equal(r.path, `/model/${encodeURIComponent(MODEL)}/converse`);
    assert.deepEqual(r.body, {
      messages: [{ role: "user", content: [{ text: "Hi there" }] }],
      system: [{ text: "Be brief." }],
      inferenceConfig: { maxTokens: 200, temperature: 0.5, stopSequences: ["END"] },
    });
    const rec = await lastRecord(t, "bedrock");
    assert.equal(rec.status, "ok");
    assert.equal(rec.cost.total, 579_150);
  });

  for (const protocol of ["connect", "grpc"] as const) {
    test(`${protocol}: Stream delivers the exact text over the binary event stream in hostile reads, with usage and cost`, async () => {
      const t = await gws.start();
      fake.script({ kind: "text", text: "Grüße aus der 🌍 Cloud, ganz genau.", chunking: "hostile", usage: { input: 40, output: 8, cached: 10, cacheWrite: 0 } });
      const s = await collect(clientFor(t, protocol).chat.stream({ model: "bedrock", messages: [user("Stream please")] }));
      assert.equal(s.error, undefined, s.error?.message);
      assert.equal(s.text, "Grüße aus der 🌍 Cloud, ganz genau.");
      assert.equal(s.start?.deployment, "bedrock/sonnet");
      assert.equal(s.finish?.finishReason, FinishReason.STOP);
      assertUsage(s.finish?.usage, { input: 40, output: 8, cached: 10 });
      // 30×3300 + 10×330 + 8×16500
      assertCost(s.finish?.cost, { input: 99_000, cachedInput: 3_300, output: 132_000 });
      assert.equal(converse()[0].path, `/model/${encodeURIComponent(MODEL)}/converse-stream`);
      assert.ok(fake.signatures.every((x) => x.valid));
    });
  }
});

describe("bedrock: JSON output", () => {
  test("a JSON schema goes as structured outputs (outputConfig.textFormat) to Claude Sonnet 4.5; a JSON object by instruction, noted", async () => {
    const t = await gws.start();
    const c = clientFor(t);
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };
    fake.script({ kind: "text", text: '{"city":"Paris"}' });
    const res = await c.chat.complete({ model: "bedrock", messages: [user("Where is the Louvre?")], responseFormat: { type: ResponseFormat_Type.JSON_SCHEMA, schemaName: "place", schema: schema as never, strict: true } });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ['{"city":"Paris"}']);
    const body = converse()[0].body;
    assert.deepEqual(body.outputConfig, { textFormat: { type: "json_schema", structure: { jsonSchema: { schema: JSON.stringify(schema), name: "place" } } } });
    assert.equal(body.system, undefined);
    assert.deepEqual(res.adjustments.filter((a) => a.field === "response_format"), []);

    fake.script({ kind: "text", text: '{"ok":true}' });
    const obj = await c.chat.complete({ model: "bedrock", messages: [user("JSON please")], responseFormat: { type: ResponseFormat_Type.JSON_OBJECT } });
    const second = converse()[1].body;
    assert.equal(second.outputConfig, undefined);
    assert.match(second.system[0].text, /single valid JSON object/);
    assert.deepEqual(obj.adjustments.filter((a) => a.field === "response_format").map((a) => a.detail), ["json_object: asked for in the system prompt (this model has no native form for it); validate the JSON"]);
  });
});

describe("bedrock: tools and images", () => {
  test("Stream: a tool call is reassembled, then answered with a toolResult turn", async () => {
    const t = await gws.start();
    fake.script({ kind: "tool_calls", calls: [{ name: "get_weather", arguments: { city: "Paris", unit: "c" }, id: "tooluse_w1" }] });
    const c = clientFor(t);
    const s = await collect(c.chat.stream({ model: "bedrock", messages: [user("Weather in Paris?")], tools: [WEATHER_TOOL], toolChoice: { choice: { case: "mode", value: ToolChoiceMode.REQUIRED } } }));
    assert.equal(s.error, undefined, s.error?.message);
    assert.equal(s.finish?.finishReason, FinishReason.TOOL_CALLS);
    assert.deepEqual(s.toolCalls.map((x) => [x.id, x.name, JSON.parse(x.arguments)]), [["tooluse_w1", "get_weather", { city: "Paris", unit: "c" }]]);
    const first = converse()[0].body;
    assert.deepEqual(first.toolConfig.toolChoice, { any: {} });
    assert.equal(first.toolConfig.tools[0].toolSpec.name, "get_weather");

    fake.script({ kind: "text", text: "It is 18 degrees." });
    const res = await c.chat.complete({
      model: "bedrock",
      messages: [user("Weather in Paris?"), assistantCalls([{ id: "tooluse_w1", name: "get_weather", arguments: '{"city":"Paris","unit":"c"}' }]), toolResult("tooluse_w1", "18C", { name: "get_weather" })],
      tools: [WEATHER_TOOL],
    });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["It is 18 degrees."]);
    const second = converse()[1].body;
    assert.deepEqual(second.messages.slice(1), [
      { role: "assistant", content: [{ toolUse: { toolUseId: "tooluse_w1", name: "get_weather", input: { city: "Paris", unit: "c" } } }] },
      { role: "user", content: [{ toolResult: { toolUseId: "tooluse_w1", content: [{ text: "18C" }] } }] },
    ]);
  });

  test("image bytes become an image block; an https image URL is refused before anything is sent", async () => {
    const t = await gws.start();
    const res = await clientFor(t).chat.complete({ model: "bedrock", messages: [userImageBytes("What is this?", PNG_1X1, "image/png")] });
    assert.match(String(res.message?.content[0].part.value), /^Echo: What is this\?/);
    assert.deepEqual(converse()[0].body.messages[0].content, [{ text: "What is this?" }, { image: { format: "png", source: { bytes: PNG_1X1_B64 } } }]);

    const { err, info } = await rejection(clientFor(t).chat.complete({ model: "bedrock", messages: [userImageUrl("And this?", "https://example.com/cat.png")] }));
    assert.equal(err.code, Code.InvalidArgument);
    assert.equal(info.failureKind, FailureKind.BAD_REQUEST);
    assert.match(err.message, /does not fetch image URLs/);
    assert.equal(fake.requests.length, 1, "the refused request never reached Bedrock");
  });

  test("files become document blocks the fake accepts: a PDF and a CSV, named after the files", async () => {
    const t = await gws.start();
    const pdf = Buffer.from("%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n");
    const csv = Buffer.from("region,revenue\nnorth,10\n");
    const res = await clientFor(t).chat.complete({
      model: "bedrock",
      messages: [userMessage([fileBytes(pdf, "application/pdf", "Q3 report.pdf"), fileBytes(csv, "text/csv", "revenue.csv"), textPart("Compare them.")])],
    });
    assert.match(String(res.message?.content[0].part.value), /^Echo: Compare them\./);
    assert.deepEqual(converse()[0].body.messages[0].content, [
      { document: { format: "pdf", name: "Q3 report-1", source: { bytes: pdf.toString("base64") } } },
      { document: { format: "csv", name: "revenue-2", source: { bytes: csv.toString("base64") } } },
      { text: "Compare them." },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------

interface FailureCase {
  error: BedrockErrorName;
  kind: FailureKind;
  code: Code;
  status: number;
  fallsBack: boolean;
}

const FAILURES: FailureCase[] = [
  { error: "ValidationException", kind: FailureKind.BAD_REQUEST, code: Code.InvalidArgument, status: 400, fallsBack: false },
  { error: "ContextLength", kind: FailureKind.CONTEXT_LENGTH_EXCEEDED, code: Code.InvalidArgument, status: 400, fallsBack: false },
  { error: "ServiceQuotaExceededException", kind: FailureKind.QUOTA_EXHAUSTED, code: Code.Unavailable, status: 400, fallsBack: true },
  { error: "AccessDeniedException", kind: FailureKind.UPSTREAM_AUTH, code: Code.Unavailable, status: 403, fallsBack: true },
  { error: "ResourceNotFoundException", kind: FailureKind.MODEL_NOT_FOUND, code: Code.Unavailable, status: 404, fallsBack: true },
  { error: "ModelTimeoutException", kind: FailureKind.TIMEOUT, code: Code.DeadlineExceeded, status: 408, fallsBack: true },
  { error: "ModelErrorException", kind: FailureKind.SERVER_ERROR, code: Code.Unavailable, status: 424, fallsBack: true },
  { error: "ThrottlingException", kind: FailureKind.RATE_LIMITED, code: Code.ResourceExhausted, status: 429, fallsBack: true },
  { error: "ModelNotReadyException", kind: FailureKind.OVERLOADED, code: Code.Unavailable, status: 429, fallsBack: true },
  { error: "InternalServerException", kind: FailureKind.SERVER_ERROR, code: Code.Unavailable, status: 500, fallsBack: true },
  { error: "ServiceUnavailableException", kind: FailureKind.OVERLOADED, code: Code.Unavailable, status: 503, fallsBack: true },
];

describe("bedrock: failures, alone on their route", () => {
  for (const [i, f] of FAILURES.entries()) {
    const protocol = i % 2 === 0 ? "connect" : "grpc";
    test(`${f.error} → ${codeName(f.code)} / ${enumName(FailureKind, f.kind)} (${protocol})`, async () => {
      const t = await gws.start();
      fake.script({ kind: "error", error: f.error });
      const { err, info } = await rejection(clientFor(t, protocol).chat.complete({ model: "bedrock", messages: [user("fail please")] }));
      assert.equal(codeName(err.code), codeName(f.code));
      assert.equal(info.failureKind, f.kind);
      assert.equal(info.attempts.length, 1);
      const a = info.attempts[0];
      assert.deepEqual([a.deployment, a.outcome, a.failureKind, a.httpStatus], ["bedrock/sonnet", FAILED, f.kind, f.status]);
      assert.ok(a.errorMessage.includes(f.error === "ContextLength" ? "ValidationException" : f.error), a.errorMessage);
      assert.equal(fake.requests.length, 1);
      if (f.kind === FailureKind.RATE_LIMITED) assert.equal(a.retryAfterMs, 1000);
    });
  }
});

describe("bedrock: failures on a route with a mock fallback", () => {
  for (const f of FAILURES) {
    test(`Stream: ${f.error} ${f.fallsBack ? "falls back" : "does not fall back"}`, async () => {
      const t = await gws.start();
      fake.script({ kind: "error", error: f.error });
      const s = await collect(clientFor(t).chat.stream({ model: "bedrock-fallback", messages: [user("fail please")] }));
      if (f.fallsBack) {
        assert.equal(s.error, undefined, s.error?.message);
        assert.equal(s.text, "backup answer");
        assert.deepEqual(attemptSummary(s.finish!.attempts), [
          ["bedrock/sonnet", FAILED, f.kind],
          ["backup/mock", OK, FailureKind.UNSPECIFIED],
        ]);
      } else {
        assert.ok(s.error);
        assert.equal(details(s.error).info.failureKind, f.kind);
      }
    });
  }

  test("a throttled stream (in-stream throttlingException before any content) falls back to the mock", async () => {
    const t = await gws.start();
    fake.script({ kind: "stream_exception", exception: "throttlingException", afterDeltas: 0 });
    const s = await collect(clientFor(t).chat.stream({ model: "bedrock-fallback", messages: [user("hi")] }));
    assert.equal(s.error, undefined, s.error?.message);
    assert.equal(s.start?.deployment, "backup/mock");
    assert.equal(s.text, "backup answer");
    assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["bedrock/sonnet", FAILED, FailureKind.RATE_LIMITED]]);
  });

  test("an in-stream modelStreamErrorException after content ends the stream with unavailable, content delivered", async () => {
    const t = await gws.start();
    fake.script({ kind: "stream_exception", exception: "modelStreamErrorException", afterDeltas: 2 });
    const s = await collect(clientFor(t).chat.stream({ model: "bedrock-fallback", messages: [user("one two three")] }));
    assert.equal(s.text, "Echo: one ");
    assert.ok(s.error);
    assert.equal(s.error.code, Code.Unavailable);
    assert.equal(details(s.error).info.failureKind, FailureKind.SERVER_ERROR);
  });

  test("a stream cut before messageStop, before content, falls back (stream_interrupted)", async () => {
    const t = await gws.start();
    fake.script({ kind: "truncated", afterDeltas: 0 });
    const s = await collect(clientFor(t).chat.stream({ model: "bedrock-fallback", messages: [user("hi")] }));
    assert.equal(s.error, undefined, s.error?.message);
    assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["bedrock/sonnet", FAILED, FailureKind.STREAM_INTERRUPTED]]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("bedrock: the gateway's own AWS credentials", () => {
  test("a wrong secret is refused by the fake's signature check: unavailable / upstream_auth, never unauthenticated", async () => {
    const t = await gws.start();
    const { err, info } = await rejection(clientFor(t).chat.complete({ model: "wrong-secret", messages: [user("hi")] }));
    assert.equal(err.code, Code.Unavailable);
    assert.equal(info.failureKind, FailureKind.UPSTREAM_AUTH);
    assert.equal(info.attempts[0].httpStatus, 403);
    assert.match(info.attempts[0].errorMessage, /InvalidSignatureException/);
    assert.equal(fake.signatures[0].valid, false);
  });

  test("the AWS secret and session token never appear in responses, errors, logs or usage records", async () => {
    const logs: string[] = [];
    setLogSink((line) => logs.push(line));
    try {
      const t = await gws.start();
      const c = clientFor(t);
      const seen: string[] = [];
      const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));
      fake.script({ kind: "text", usage: { input: 5, output: 2 } });
      seen.push(json(await c.chat.complete({ model: "bedrock", messages: [user("hi")] })));
      fake.script({ kind: "stream_exception", exception: "throttlingException", afterDeltas: 1 });
      const s = await collect(c.chat.stream({ model: "bedrock", messages: [user("hi")] }));
      seen.push(json(s.events), String(s.error?.message), json(s.error?.details));
      for (const model of ["wrong-secret", "bedrock"]) {
        if (model === "bedrock") fake.script({ kind: "error", error: "AccessDeniedException", message: "denied" });
        const { err, info } = await rejection(c.chat.complete({ model, messages: [user("hi")] }));
        seen.push(err.message, json(info), json(err.metadata));
      }
      await lastRecord(t, "bedrock");
      seen.push(json(t.usage.recent()), ...logs);
      const all = seen.join("\n");
      assert.ok(all.length > 0);
      for (const secret of [creds.secretAccessKey, creds.sessionToken!, WRONG_SECRET]) assert.ok(!all.includes(secret), "a secret leaked");
    } finally {
      setLogSink((line) => process.stdout.write(line));
    }
  });
});
