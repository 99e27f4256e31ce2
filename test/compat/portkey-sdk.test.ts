// Portkey's SDK (portkey-ai) pointed at the gateway's /v1: its key header (x-portkey-api-key, no
// Authorization), its trace id (one trace for the requests that name it, and feedback by that
// id), its metadata (recorded; _user is the end user, held to the key's per-user budget) and its
// cache refresh, unary and streamed. Real sockets, the gateway on the mock provider.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { Portkey } from "portkey-ai";
import { createSignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { traceIdOfText } from "../../src/server/context.ts";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const key = (...p: string[]) => ["sbx", "test", "portkey", ...p].join("_");
const APP = key("app");

const YAML = `${MOCK_CONFIG.replace("routes:\n", "routes:\n  - { name: cached, targets: [mock/a], cache: { enabled: true } }\n")}
keys:
  - { name: app, hash: "${hashKey(APP)}", team: a, role: service, per_user_budget: { period: day, limit_usd: 0.0002 } }
`;

type Completion = { id: string; choices: { message: { content: string } }[] };

describe("Portkey's SDK against the gateway", () => {
  let gw: TestGateway;
  const portkey = (opts: Record<string, unknown> = {}) => new Portkey({ apiKey: APP, baseURL: `${gw.url}/v1`, maxRetries: 0, ...opts } as ConstructorParameters<typeof Portkey>[0]);
  const record = (id: string) => createSignalboxClient({ baseUrl: gw.url, apiKey: APP }).usage.getRequest({ id });
  before(async () => {
    gw = await startTestGateway(YAML);
  });
  after(() => gw?.close());

  test("its key header authenticates; a wrong key is a 401", async () => {
    const r = (await portkey().chat.completions.create({ model: "default", messages: [{ role: "user", content: "hello from portkey" }] })) as Completion;
    assert.match(r.choices[0]!.message.content, /You said: "hello from portkey"/);
    assert.equal((await record(r.id)).record?.key, "app");
    await assert.rejects(new Portkey({ apiKey: key("wrong"), baseURL: `${gw.url}/v1`, maxRetries: 0 } as ConstructorParameters<typeof Portkey>[0]).chat.completions.create({ model: "default", messages: [{ role: "user", content: "x" }] }), (e: Error & { status?: number }) => {
      assert.equal(e.status, 401);
      return true;
    });
  });

  test("a trace id of the app's naming: its requests share one W3C trace id, and feedback by that id lands on them", async () => {
    const pk = portkey({ traceID: "checkout-42" });
    const a = (await pk.chat.completions.create({ model: "default", messages: [{ role: "user", content: "first" }] })) as Completion;
    const b = (await pk.chat.completions.create({ model: "default", messages: [{ role: "user", content: "second" }] })) as Completion;
    const want = traceIdOfText("checkout-42");
    assert.match(want, /^[0-9a-f]{32}$/);
    assert.equal((await record(a.id)).record?.traceId, want);
    assert.equal((await record(b.id)).record?.traceId, want);
    // A 32-hex trace id is used as it is.
    const hex = "4bf92f3577b34da6a3ce929d0e0e4736";
    const c = (await portkey({ traceID: hex }).chat.completions.create({ model: "default", messages: [{ role: "user", content: "third" }] })) as Completion;
    assert.equal((await record(c.id)).record?.traceId, hex);
    // Portkey's feedback call names the trace by the app's own id.
    const f = (await pk.feedback.create({ traceID: "checkout-42", value: 1, weight: 0.5, metadata: { comment: "good" } } as Parameters<typeof pk.feedback.create>[0])) as unknown as { status: string; feedback_ids: string[] };
    assert.equal(f.status, "success");
    const scored = await record(b.id);
    assert.deepEqual(scored.feedback.map((x) => [x.value, x.weight, x.metadata.comment]), [[1, 0.5, "good"]]);
  });

  test("its metadata is recorded; _user is the end user, held to the key's budget per end user; the body's own wins", async () => {
    const pk = portkey({ metadata: { _user: "erin", env: "staging" } });
    const r = (await pk.chat.completions.create({ model: "default", max_tokens: 24, messages: [{ role: "user", content: "hi" }] })) as Completion;
    const rec = (await record(r.id)).record!;
    assert.equal(rec.user, "erin");
    assert.equal(rec.metadata.env, "staging");
    assert.equal(rec.metadata._user, "erin");
    // erin's daily budget ($0.0002) fits three of these (56,000 nano-USD each, max_tokens held
    // exactly); the fourth is refused, naming her.
    const results: (number | "ok")[] = [];
    for (let i = 0; i < 4; i++) {
      results.push(
        await pk.chat.completions.create({ model: "default", max_tokens: 24, messages: [{ role: "user", content: "hi" }] }).then(
          () => "ok" as const,
          (e: Error & { status?: number }) => {
            assert.match(e.message.replace(/\\/g, ""), /daily budget of user "erin" of key "app"/);
            return e.status ?? 0;
          },
        ),
      );
    }
    assert.deepEqual(results, ["ok", "ok", 429, 429]);
    // The body's user and metadata win over the header's.
    const own = (await pk.chat.completions.create({ model: "default", max_tokens: 24, user: "frank", messages: [{ role: "user", content: "hi" }], metadata: { env: "prod" } } as Parameters<typeof pk.chat.completions.create>[0])) as Completion;
    const o = (await record(own.id)).record!;
    assert.deepEqual([o.user, o.metadata.env], ["frank", "prod"]);
  });

  test("cacheForceRefresh answers afresh on a cached route; streams work", async () => {
    const ask = (pk: Portkey) => pk.chat.completions.create({ model: "cached", messages: [{ role: "user", content: "cache me" }] }) as Promise<Completion>;
    const first = await ask(portkey());
    const again = await ask(portkey());
    const fresh = await ask(portkey({ cacheForceRefresh: true }));
    assert.deepEqual(
      [(await record(first.id)).record?.cacheHit, (await record(again.id)).record?.cacheHit, (await record(fresh.id)).record?.cacheHit],
      [false, true, false],
    );
    const stream = (await portkey().chat.completions.create({ model: "default", stream: true, messages: [{ role: "user", content: "stream me" }] })) as unknown as AsyncIterable<{ choices: { delta: { content?: string } }[] }>;
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    assert.match(text, /You said: "stream me"/);
  });

  test("bad x-portkey-metadata is a 400 naming the header; nothing reaches the provider", async () => {
    const send = (h: Record<string, string>) => fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "x-portkey-api-key": APP, "content-type": "application/json", ...h }, body: JSON.stringify({ model: "default", messages: [{ role: "user", content: "x" }] }) });
    for (const [h, param] of [
      [{ "x-portkey-metadata": "{not json" }, "x-portkey-metadata"],
      [{ "x-portkey-metadata": "[1]" }, "x-portkey-metadata"],
      [{ "x-portkey-metadata": JSON.stringify({ nested: { a: 1 } }) }, "x-portkey-metadata.nested"],
      [{ "x-portkey-cache-force-refresh": "maybe" }, "x-portkey-cache-force-refresh"],
    ] as const) {
      const r = await send(h);
      assert.equal(r.status, 400);
      assert.equal(((await r.json()) as { error: { param: string } }).error.param, param);
    }
  });
});

test("with tracing on, a Portkey trace id is the request's trace: the HTTP span and its attempt spans carry it; a traceparent wins over it", async () => {
  const exporter = new InMemorySpanExporter();
  const gw = await startTestGateway(MOCK_CONFIG, { tracing: startTracing({ processor: new SimpleSpanProcessor({ exporter }) })! });
  try {
    const pk = new Portkey({ apiKey: "unused", baseURL: `${gw.url}/v1`, maxRetries: 0, traceID: "order-7" } as ConstructorParameters<typeof Portkey>[0]);
    await pk.chat.completions.create({ model: "default", messages: [{ role: "user", content: "trace me" }] });
    const want = traceIdOfText("order-7");
    let spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === want);
    for (let i = 0; i < 100 && !spans.some((s) => s.kind === SpanKind.CLIENT); i++) {
      await new Promise((r) => setTimeout(r, 10));
      spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === want);
    }
    const server = spans.find((s) => s.kind === SpanKind.SERVER);
    assert.ok(server, "the HTTP span is in the Portkey trace");
    assert.ok(spans.some((s) => s.kind === SpanKind.CLIENT), "so is the attempt");
    const parent = "0af7651916cd43dd8448eb211c80319c";
    const r = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", "x-portkey-trace-id": "order-7", traceparent: `00-${parent}-b7ad6b7169203331-01` }, body: JSON.stringify({ model: "default", messages: [{ role: "user", content: "x" }] }) });
    assert.equal(r.headers.get("x-signalbox-trace-id"), parent);
  } finally {
    await gw.close();
  }
});
