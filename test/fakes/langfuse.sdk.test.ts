// The fake Langfuse (test/fakes/langfuse.ts) checked against what Langfuse's own JS SDK writes:
// @langfuse/tracing's observations (startActiveObservation, startObservation as "span" and
// "generation", nested, update, setTraceIO, setTraceAsPublic) and @langfuse/core's
// propagateAttributes (userId, sessionId, tags, metadata, trace name, version) on a tracer provider
// of our OpenTelemetry SDK, registered for Langfuse alone with setLangfuseTracerProvider, exported
// by @opentelemetry/exporter-trace-otlp-proto to `<baseUrl>/api/public/otel/v1/traces` with the
// headers @langfuse/otel's exporter sends (Basic auth, x-langfuse-sdk-name / -version / -public-key).
// @langfuse/otel itself is not installed: its LangfuseSpanProcessor's one job that matters here,
// copying propagated attributes onto each span as it starts, is redone in a few lines below.
// OTLP/JSON is checked with @langfuse/core's API client (opentelemetry.exportTraces), which posts
// hex ids the way the OTLP/JSON spec says.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { context, type Context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { CompressionAlgorithm } from "@opentelemetry/otlp-exporter-base";
import { BatchSpanProcessor, SimpleSpanProcessor, TracerProvider, type ReadableSpan, type Span, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace";
import { getPropagatedAttributesFromContext, LANGFUSE_SDK_NAME, LANGFUSE_SDK_VERSION, LangfuseAPIClient, propagateAttributes } from "@langfuse/core";
import { setLangfuseTracerProvider, startActiveObservation, startObservation } from "@langfuse/tracing";
import { fromBinary } from "@bufbuild/protobuf";
import { ExportTraceServiceResponseSchema } from "../../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import { LANGFUSE_OTEL_PATH, startFakeLangfuse, type FakeLangfuse, type LangfuseObservation, type LangfuseTrace } from "./langfuse.ts";

// Key-shaped strings are assembled at run time: no credential-looking literal in the source.
const PUBLIC_KEY = ["pk", "lf", "fake", "0000"].join("-");
const SECRET_KEY = ["sk", "lf", "fake", "0000"].join("-");

/** The headers @langfuse/otel's exporter sends, plus the ingestion version the gateway adds. */
const langfuseHeaders = (publicKey = PUBLIC_KEY, secretKey = SECRET_KEY) => ({
  Authorization: `Basic ${Buffer.from(`${publicKey}:${secretKey}`).toString("base64")}`,
  "x-langfuse-sdk-name": LANGFUSE_SDK_NAME,
  "x-langfuse-sdk-version": LANGFUSE_SDK_VERSION,
  "x-langfuse-public-key": publicKey,
});

/** What @langfuse/otel's LangfuseSpanProcessor does on start: the propagated trace attributes onto the span. */
const propagating: SpanProcessor = {
  onStart: (span: Span, parent: Context) => void span.setAttributes(getPropagatedAttributesFromContext(parent)),
  onEnd: () => {},
  forceFlush: async () => {},
  shutdown: async () => {},
};

/** An exporter that records each export's result. */
function recording(inner: SpanExporter): SpanExporter & { results: ExportResult[] } {
  const results: ExportResult[] = [];
  return {
    results,
    export: (spans: ReadableSpan[], done: (r: ExportResult) => void) =>
      inner.export(spans, (r) => {
        results.push(r);
        done(r);
      }),
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

const at = (iso: string) => new Date(iso);
const messagesIn = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "What is 2 + 2?" },
];
const messagesOut = [{ role: "assistant", content: "4" }];

describe("fake Langfuse against @langfuse/tracing over OTLP/HTTP protobuf", () => {
  let lf: FakeLangfuse;
  let provider: TracerProvider;
  const contextManager = new AsyncLocalStorageContextManager();

  before(async () => {
    lf = await startFakeLangfuse({ publicKey: PUBLIC_KEY, secretKey: SECRET_KEY });
    const exporter = new OTLPTraceExporter({
      url: lf.url + LANGFUSE_OTEL_PATH,
      headers: { ...langfuseHeaders(), "x-langfuse-ingestion-version": "4" },
      compression: CompressionAlgorithm.GZIP,
    });
    provider = new TracerProvider({ spanProcessors: [propagating, new BatchSpanProcessor({ exporter, scheduledDelayMillis: 60_000 })] });
    // propagateAttributes and startActiveObservation need an active context manager.
    context.setGlobalContextManager(contextManager.enable());
    setLangfuseTracerProvider(provider);
  });
  after(async () => {
    setLangfuseTracerProvider(null);
    context.disable();
    await provider.shutdown();
    await lf.close();
  });

  test("a nested span and generation, trace attributes propagated: traces() and observations() are what the SDK was given", async () => {
    const ids = await startActiveObservation(
      "chat-request",
      (root) =>
        propagateAttributes({ userId: "user-42", sessionId: "session-7", tags: ["gateway", "chat"], metadata: { tenant: "acme", route: "primary" }, traceName: "chat completion", version: "1.2.3" }, () => {
          root.update({ input: { path: "/v1/chat/completions" }, metadata: { attempt: 1 } });
          root.setTraceIO({ input: messagesIn, output: "plain text answer" });
          root.setTraceAsPublic();
          // The top-level startObservation with parentSpanContext: the method on an observation
          // (root.startObservation) drops options.startTime.
          const gen = startObservation(
            "openai.chat",
            { model: "gpt-4o-mini", modelParameters: { temperature: 0.2, max_tokens: 64 }, input: messagesIn, environment: "staging" },
            { asType: "generation", startTime: at("2026-12-07T10:00:00.100Z"), parentSpanContext: root.otelSpan.spanContext() },
          );
          gen.update({
            output: messagesOut,
            completionStartTime: at("2026-12-07T10:00:00.250Z"),
            usageDetails: { input: 21, output: 1, total: 22 },
            costDetails: { input: 0.0000315, output: 0.0000006, total: 0.0000321 },
            metadata: { provider: "openai", retries: 0 },
          });
          gen.end(at("2026-12-07T10:00:00.400Z"));
          const tool = startObservation("guardrail", { input: "check this" }, { asType: "span", startTime: at("2026-12-07T10:00:00.410Z"), parentSpanContext: root.otelSpan.spanContext() });
          tool.update({ level: "ERROR", statusMessage: "upstream timed out", output: { blocked: false } });
          tool.end(at("2026-12-07T10:00:00.500Z"));
          root.end(at("2026-12-07T10:00:00.600Z"));
          return { trace: root.traceId, root: root.id, gen: gen.id, tool: tool.id };
        }),
      { startTime: at("2026-12-07T10:00:00.000Z"), endOnExit: false },
    );
    await provider.forceFlush();
    await lf.waitFor((f) => f.observations().length >= 3, 5000);

    const sent = lf.requests.at(-1)!;
    assert.equal(sent.status, 200);
    assert.equal(sent.path, LANGFUSE_OTEL_PATH);
    assert.equal(sent.headers["content-type"], "application/x-protobuf");
    assert.equal(sent.headers["content-encoding"], "gzip");
    assert.equal(sent.headers["x-langfuse-sdk-name"], "javascript");
    assert.equal(sent.headers["x-langfuse-sdk-version"], LANGFUSE_SDK_VERSION);
    assert.equal(sent.headers["x-langfuse-public-key"], PUBLIC_KEY);
    assert.equal(sent.headers["x-langfuse-ingestion-version"], "4");

    const expectedTrace: LangfuseTrace = {
      id: ids.trace,
      name: "chat completion",
      userId: "user-42",
      sessionId: "session-7",
      tags: ["gateway", "chat"],
      metadata: { tenant: "acme", route: "primary" },
      input: messagesIn,
      output: "plain text answer",
      environment: "staging",
      version: "1.2.3",
      public: true,
    };
    assert.deepEqual(lf.traces(), [expectedTrace]);

    const byId = new Map(lf.observations().map((o) => [o.id, o]));
    const gen: LangfuseObservation = {
      id: ids.gen,
      traceId: ids.trace,
      parentObservationId: ids.root,
      type: "generation",
      name: "openai.chat",
      startTime: "2026-12-07T10:00:00.100Z",
      endTime: "2026-12-07T10:00:00.400Z",
      completionStartTime: "2026-12-07T10:00:00.250Z",
      model: "gpt-4o-mini",
      modelParameters: { temperature: 0.2, max_tokens: 64 },
      usageDetails: { input: 21, output: 1, total: 22 },
      costDetails: { input: 0.0000315, output: 0.0000006, total: 0.0000321 },
      input: messagesIn,
      output: messagesOut,
      level: "DEFAULT",
      metadata: { provider: "openai", retries: 0 },
      environment: "staging",
    };
    assert.deepEqual(byId.get(ids.gen), gen);
    assert.deepEqual(byId.get(ids.tool), {
      id: ids.tool,
      traceId: ids.trace,
      parentObservationId: ids.root,
      type: "span",
      name: "guardrail",
      startTime: "2026-12-07T10:00:00.410Z",
      endTime: "2026-12-07T10:00:00.500Z",
      input: "check this",
      output: { blocked: false },
      level: "ERROR",
      statusMessage: "upstream timed out",
      metadata: {},
      environment: "default",
    } satisfies LangfuseObservation);
    assert.deepEqual(byId.get(ids.root), {
      id: ids.root,
      traceId: ids.trace,
      type: "span",
      name: "chat-request",
      startTime: "2026-12-07T10:00:00.000Z",
      endTime: "2026-12-07T10:00:00.600Z",
      input: { path: "/v1/chat/completions" },
      level: "DEFAULT",
      metadata: { attempt: 1 },
      environment: "default",
    } satisfies LangfuseObservation);
    assert.deepEqual(
      lf.observations().map((o) => o.id).sort(),
      [ids.root, ids.gen, ids.tool].sort(),
    );
  });

  test("a generation with only gen_ai.* attributes: a generation with model, usage and I/O from the conventions; a span's ERROR status sets level and message", async () => {
    const n = lf.observations().length;
    const tracer = provider.getTracer("genai-instrumentation");
    const span = tracer.startSpan("chat gpt-4o", {
      startTime: at("2026-12-07T11:00:00.000Z"),
      attributes: {
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.request.temperature": 0.5,
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5,
        "input.value": JSON.stringify(messagesIn),
        "output.value": "4",
      },
    });
    span.setStatus({ code: 2, message: "rate limited" });
    span.end(at("2026-12-07T11:00:01.000Z"));
    await provider.forceFlush();
    await lf.waitFor((f) => f.observations().length > n, 5000);
    const o = lf.observations().at(-1)!;
    assert.equal(o.type, "generation");
    assert.equal(o.model, "gpt-4o-2024-08-06");
    assert.deepEqual(o.modelParameters, { temperature: 0.5 });
    assert.deepEqual(o.usageDetails, { input: 10, output: 5, total: 15 });
    assert.deepEqual(o.input, messagesIn);
    assert.equal(o.output, 4, "a JSON-parsable string is parsed");
    assert.equal(o.level, "ERROR");
    assert.equal(o.statusMessage, "rate limited");
    const t = lf.traces().find((x) => x.id === o.traceId)!;
    assert.deepEqual(t, { id: o.traceId, name: "chat gpt-4o", tags: [], metadata: {}, environment: "default" }, "a root span names its trace");
  });
});

describe("fake Langfuse refusals and retries, with OTLPTraceExporter", () => {
  let lf: FakeLangfuse;
  before(async () => {
    lf = await startFakeLangfuse({ publicKey: PUBLIC_KEY, secretKey: SECRET_KEY });
  });
  after(() => lf.close());

  /** A provider of its own (not registered anywhere) exporting uncompressed with the given keys. */
  const exportOne = async (name: string, secretKey = SECRET_KEY) => {
    const exporter = recording(new OTLPTraceExporter({ url: lf.url + LANGFUSE_OTEL_PATH, headers: langfuseHeaders(PUBLIC_KEY, secretKey) }));
    const p = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    p.getTracer("t").startSpan(name, { attributes: { "langfuse.observation.type": "event" } }).end();
    // SimpleSpanProcessor.forceFlush rethrows a failed export's error: the recorded result says it.
    await p.forceFlush().catch(() => {});
    await p.shutdown();
    return exporter.results;
  };

  test("a wrong secret key: 401 with Langfuse's message, nothing kept", async () => {
    const results = await exportOne("denied", ["sk", "lf", "wrong"].join("-"));
    assert.equal(results[0]?.code, ExportResultCode.FAILED);
    assert.equal(lf.requests.at(-1)!.status, 401);
    assert.deepEqual([lf.observations().length, lf.traces().length], [0, 0]);
    const none = await fetch(lf.url + LANGFUSE_OTEL_PATH, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(none.status, 401);
    assert.deepEqual(await none.json(), { message: "Invalid credentials. Confirm that you've configured the correct host." });
  });

  test("failNext(1): the export gets 503 and nothing is kept; the exporter's retry lands once", async () => {
    lf.failNext(1);
    const before = lf.requests.length;
    const results = await exportOne("retried");
    assert.deepEqual(lf.requests.slice(before).map((r) => r.status), [503, 200]);
    assert.equal(results[0]?.code, ExportResultCode.SUCCESS);
    assert.deepEqual(lf.observations().map((o) => [o.name, o.type]), [["retried", "event"]]);
  });

  test("failNext(1, 500): not retried, the export fails, nothing kept", async () => {
    lf.failNext(1, 500);
    const n = lf.observations().length;
    const results = await exportOne("lost");
    assert.equal(results[0]?.code, ExportResultCode.FAILED);
    assert.equal(lf.requests.at(-1)!.status, 500);
    assert.equal(lf.observations().length, n);
  });

  test("the protobuf answer is an empty ExportTraceServiceResponse; other paths 404; garbage 400", async () => {
    const auth = langfuseHeaders();
    const ok = await fetch(lf.url + LANGFUSE_OTEL_PATH, { method: "POST", headers: { ...auth, "content-type": "application/x-protobuf" }, body: new Uint8Array(0) });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("content-type"), "application/x-protobuf");
    const body = new Uint8Array(await ok.arrayBuffer());
    assert.equal(fromBinary(ExportTraceServiceResponseSchema, body).partialSuccess, undefined);
    assert.equal((await fetch(`${lf.url}/api/public/ingestion`, { method: "POST", headers: auth, body: "{}" })).status, 404);
    assert.equal((await fetch(lf.url + LANGFUSE_OTEL_PATH, { headers: auth })).status, 404);
    const garbage = await fetch(lf.url + LANGFUSE_OTEL_PATH, { method: "POST", headers: { ...auth, "content-type": "application/x-protobuf" }, body: new Uint8Array([0xff, 0xff, 0xff]) });
    assert.equal(garbage.status, 400);
    const badGzip = await fetch(lf.url + LANGFUSE_OTEL_PATH, { method: "POST", headers: { ...auth, "content-type": "application/json", "content-encoding": "gzip" }, body: "{}" });
    assert.equal(badGzip.status, 400);
  });
});

describe("fake Langfuse with OTLP/JSON from @langfuse/core's API client", () => {
  let lf: FakeLangfuse;
  before(async () => {
    lf = await startFakeLangfuse({ publicKey: PUBLIC_KEY, secretKey: SECRET_KEY });
  });
  after(() => lf.close());

  const traceId = "0123456789abcdef0123456789abcdef";
  const str = (key: string, stringValue: string) => ({ key, value: { stringValue } });
  const request = {
    resourceSpans: [
      {
        resource: { attributes: [str("service.name", "signalbox")] },
        scopeSpans: [
          {
            scope: { name: "signalbox", version: "0.1.0" },
            spans: [
              {
                traceId,
                spanId: "00000000000000a1",
                name: "gateway request",
                kind: 2,
                startTimeUnixNano: "1796637600000000000",
                endTimeUnixNano: "1796637601500000000",
                attributes: [
                  str("langfuse.trace.name", "json trace"),
                  str("user.id", "u-1"),
                  str("langfuse.session.id", "s-1"),
                  { key: "langfuse.trace.tags", value: { arrayValue: { values: [{ stringValue: "json" }] } } },
                  str("langfuse.trace.metadata", JSON.stringify({ team: "core", n: 3 })),
                  str("langfuse.environment", "production"),
                  str("langfuse.release", "2026.12.07"),
                ],
                status: {},
              },
              {
                traceId,
                spanId: "00000000000000b2",
                parentSpanId: "00000000000000a1",
                name: "llm",
                kind: 3,
                startTimeUnixNano: "1796637600100000000",
                endTimeUnixNano: "1796637601400000000",
                attributes: [
                  str("langfuse.observation.model.name", "claude-x"),
                  str("langfuse.observation.completion_start_time", "2026-12-07T10:00:00.300Z"),
                  str("langfuse.observation.usage_details", JSON.stringify({ input: 3, output: 4 })),
                  str("langfuse.observation.cost_details", JSON.stringify({ total: 0.01 })),
                  str("langfuse.observation.input", "not json {"),
                  str("langfuse.observation.metadata.region", "eu"),
                  { key: "langfuse.observation.prompt.version", value: { intValue: 3 } },
                  str("langfuse.observation.prompt.name", "greeter"),
                  str("langfuse.environment", "production"),
                ],
                status: { code: 2, message: "overloaded" },
              },
            ],
          },
        ],
      },
    ],
  };

  test("exportTraces posts hex ids as JSON: 200 {}, mapped like protobuf", async () => {
    const client = new LangfuseAPIClient({ environment: "", baseUrl: lf.url, username: PUBLIC_KEY, password: SECRET_KEY, xLangfuseSdkName: LANGFUSE_SDK_NAME, xLangfuseSdkVersion: LANGFUSE_SDK_VERSION, xLangfusePublicKey: PUBLIC_KEY });
    const out = await client.opentelemetry.exportTraces(request as Parameters<typeof client.opentelemetry.exportTraces>[0]);
    assert.deepEqual(out, {});
    assert.match(String(lf.requests.at(-1)!.headers["content-type"]), /^application\/json/);
    assert.deepEqual(lf.traces(), [
      { id: traceId, name: "json trace", userId: "u-1", sessionId: "s-1", tags: ["json"], metadata: { team: "core", n: 3 }, environment: "production", release: "2026.12.07" },
    ] satisfies LangfuseTrace[]);
    assert.deepEqual(lf.observations(), [
      { id: "00000000000000a1", traceId, type: "span", name: "gateway request", startTime: "2026-12-07T10:00:00.000Z", endTime: "2026-12-07T10:00:01.500Z", level: "DEFAULT", metadata: {}, environment: "production" },
      {
        id: "00000000000000b2",
        traceId,
        parentObservationId: "00000000000000a1",
        type: "generation",
        name: "llm",
        startTime: "2026-12-07T10:00:00.100Z",
        endTime: "2026-12-07T10:00:01.400Z",
        completionStartTime: "2026-12-07T10:00:00.300Z",
        model: "claude-x",
        usageDetails: { input: 3, output: 4 },
        costDetails: { total: 0.01 },
        input: "not json {",
        level: "ERROR",
        statusMessage: "overloaded",
        metadata: { region: "eu" },
        environment: "production",
        promptName: "greeter",
        promptVersion: 3,
      },
    ] satisfies LangfuseObservation[]);
  });

  test("gzipped JSON by hand is accepted too; bad JSON 400; a wrong key 401, nothing kept", async () => {
    const n = lf.observations().length;
    const post = (body: Uint8Array<ArrayBuffer> | string, headers: Record<string, string>) => fetch(lf.url + LANGFUSE_OTEL_PATH, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
    const single = { resourceSpans: [{ ...request.resourceSpans[0], scopeSpans: [{ ...request.resourceSpans[0].scopeSpans[0], spans: [{ ...request.resourceSpans[0].scopeSpans[0].spans[0], spanId: "00000000000000c3" }] }] }] };
    const r = await post(new Uint8Array(gzipSync(JSON.stringify(single))), { ...langfuseHeaders(), "content-encoding": "gzip" });
    assert.deepEqual([r.status, await r.json()], [200, {}]);
    assert.equal(lf.observations().length, n + 1);
    assert.equal(lf.observations().at(-1)!.id, "00000000000000c3");
    assert.equal((await post("{not json", langfuseHeaders())).status, 400);
    assert.equal((await post(JSON.stringify(single), langfuseHeaders(PUBLIC_KEY, "nope"))).status, 401);
    assert.equal(lf.observations().length, n + 1);
  });

  test("scores.create: a numeric score on a trace is kept by its id (again: replaced); no trace is a 400; a wrong key 401", async () => {
    const client = new LangfuseAPIClient({ environment: "", baseUrl: lf.url, username: PUBLIC_KEY, password: SECRET_KEY, xLangfuseSdkName: LANGFUSE_SDK_NAME, xLangfuseSdkVersion: LANGFUSE_SDK_VERSION, xLangfusePublicKey: PUBLIC_KEY });
    const first = await client.scores.create({ id: "fb_1", traceId, name: "user-feedback", value: 1, dataType: "NUMERIC", comment: "spot on", metadata: { weight: 1 }, environment: "production" });
    assert.deepEqual(first, { id: "fb_1" });
    await client.scores.create({ id: "fb_1", traceId, name: "user-feedback", value: -1, dataType: "NUMERIC" });
    assert.deepEqual(lf.scores(), [{ id: "fb_1", traceId, name: "user-feedback", value: -1, dataType: "NUMERIC", environment: "default" }]);
    await assert.rejects(client.scores.create({ name: "user-feedback", value: 1 }), /400|traceId/);
    const wrong = new LangfuseAPIClient({ environment: "", baseUrl: lf.url, username: PUBLIC_KEY, password: "nope" });
    await assert.rejects(wrong.scores.create({ traceId, name: "user-feedback", value: 1 }), /401|Unauthorized|credentials/i);
    assert.equal(lf.scores().length, 1);
  });

  test("waitFor rejects after its timeout saying what arrived", async () => {
    await assert.rejects(lf.waitFor((f) => f.observations().length > 100, 50), /condition not met after 50 ms; \d+ request\(s\).*observations: span gateway request/);
  });
});
