// Every RPC over Connect, gRPC and gRPC-web on a real socket, over HTTP/1.1 and HTTP/2.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.ts";
import { createSignalboxClient, FinishReason, userText, type SignalboxClientOptions } from "@signalbox/client";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

let t: TestGateway;
before(async () => {
  t = await startTestGateway(MOCK_CONFIG);
});
after(() => t.close());

const variants: { name: string; opts: Omit<SignalboxClientOptions, "baseUrl"> }[] = [
  { name: "connect binary HTTP/1.1", opts: { protocol: "connect" } },
  { name: "connect JSON HTTP/1.1", opts: { protocol: "connect", json: true } },
  { name: "connect binary HTTP/2", opts: { protocol: "connect", httpVersion: "2" } },
  { name: "grpc HTTP/2", opts: { protocol: "grpc" } },
  { name: "grpc-web HTTP/1.1", opts: { protocol: "grpc-web" } },
  { name: "grpc-web HTTP/2", opts: { protocol: "grpc-web", httpVersion: "2" } },
];

for (const v of variants) {
  describe(v.name, () => {
    const client = () => createSignalboxClient({ baseUrl: t.url, ...v.opts });

    test("Complete answers from the mock and reports deployment, usage, cost and attempts", async () => {
      const res = await client().chat.complete({ model: "default", messages: [userText("hello over the wire")] });
      assert.equal(res.deployment, "mock/a");
      assert.equal(res.provider, "mock");
      assert.equal(res.finishReason, FinishReason.STOP);
      const text = res.message?.content[0]?.part.value;
      assert.match(String(text), /hello over the wire/);
      assert.ok(res.usage!.inputTokens > 0n && res.usage!.outputTokens > 0n);
      // 1 USD/M input and 2 USD/M output: cost = in*1000 + out*2000 nano-USD.
      assert.equal(res.cost!.totalNanoUsd, res.usage!.inputTokens * 1000n + res.usage!.outputTokens * 2000n);
      assert.equal(res.attempts.length, 1);
      assert.match(res.traceId, /^[0-9a-f]{32}$/);
    });

    test("Stream sends start, deltas and finish", async () => {
      const events = [];
      for await (const ev of client().chat.stream({ model: "default", messages: [userText("stream me")] })) events.push(ev);
      assert.equal(events[0].event.case, "start");
      assert.equal(events.at(-1)!.event.case, "finish");
      const deltas = events.filter((e) => e.event.case === "delta");
      assert.ok(deltas.length >= 2, `expected several deltas, got ${deltas.length}`);
      const text = deltas.map((e) => (e.event.case === "delta" ? e.event.value.text : "")).join("");
      assert.match(text, /stream me/);
      const fin = events.at(-1)!.event.value as { usage?: { outputTokens: bigint }; attempts: unknown[] };
      assert.ok(fin.usage!.outputTokens > 0n);
      assert.equal(fin.attempts.length, 1);
    });

    test("Route returns the plan without calling a provider", async () => {
      const res = await client().route.route({ model: "fallback", messages: [userText("x")] });
      assert.deepEqual(
        res.candidates.map((c) => c.deployment),
        ["mock/flaky", "mock/b"],
      );
      assert.equal(res.routing?.route, "fallback");
    });

    test("ListModels lists deployments, aliases and routes", async () => {
      const res = await client().route.listModels({});
      assert.ok(res.deployments.some((d) => d.id === "mock/a"));
      assert.deepEqual(res.aliases.map((a) => [a.name, a.target]), [["fast", "mock/a"]]);
      assert.ok(res.routes.some((r) => r.name === "fallback"));
    });

    test("GetBudget answers (no budgets with auth off)", async () => {
      const res = await client().usage.getBudget({});
      assert.deepEqual(res.budgets, []);
    });

    test("GetUsage and ListRequests answer over the usage store", async () => {
      const c = client();
      await c.chat.complete({ model: "default", messages: [userText("count me")] });
      const usage = await c.usage.getUsage({ startTime: timestampFromMs(Date.now() - 3_600_000) });
      assert.ok(usage.rows.length >= 1 && usage.rows[0].requests >= 1n);
      const list = await c.usage.listRequests({ pageSize: 5 });
      assert.ok(list.records.length >= 1);
      assert.equal(list.records[0].model !== "", true);
    });

    test("grpc.health.v1.Health/Check reports SERVING", async () => {
      const opts = { baseUrl: t.url, httpVersion: (v.opts.httpVersion ?? (v.opts.protocol === "grpc" ? "2" : "1.1")) as "1.1" | "2" };
      const transport =
        v.opts.protocol === "grpc"
          ? createGrpcTransport({ baseUrl: t.url })
          : v.opts.protocol === "grpc-web"
            ? createGrpcWebTransport(opts)
            : createConnectTransport(opts);
      const res = await createClient(Health, transport).check({ service: "" });
      assert.equal(res.status, HealthCheckResponse_ServingStatus.SERVING);
    });
  });
}

test("GET /healthz", async () => {
  const res = await fetch(`${t.url}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "serving" });
});

test("curl-style Connect JSON works and returns the trace id header", async () => {
  const res = await fetch(`${t.url}/signalbox.v1.ChatService/Complete`, {
    method: "POST",
    headers: { "content-type": "application/json", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    body: JSON.stringify({ model: "fast", messages: [{ role: "ROLE_USER", content: [{ text: "hi" }] }] }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { deployment: string; traceId: string; routing: { alias: string } };
  assert.equal(body.deployment, "mock/a");
  assert.equal(body.routing.alias, "fast");
  assert.equal(body.traceId, "0af7651916cd43dd8448eb211c80319c", "the caller's traceparent is continued");
  assert.equal(res.headers.get("x-signalbox-trace-id"), "0af7651916cd43dd8448eb211c80319c");
});

test("Connect GET works for ListModels (NO_SIDE_EFFECTS)", async () => {
  const res = await fetch(`${t.url}/signalbox.v1.RouteService/ListModels?connect=v1&encoding=json&message=%7B%7D`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { deployments: unknown[] };
  assert.ok(body.deployments.length >= 5);
});
