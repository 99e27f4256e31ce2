// End to end through the whole gateway over a real socket, against the fake Azure OpenAI server, in
// both URL families: dated deployment routes (/openai/deployments/{dep}/chat/completions?api-version=…)
// and the v1 routes (/openai/v1/chat/completions, model in the body). Azure's api-key header, its
// api-version feature gates (max_tokens, seed, stream_options, developer role), content-filter finish
// and error bodies, its error catalogue, and the router behaviours (fallback, commit point,
// retry-after, deadlines) shared by the OpenAI family.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test, type TestContext } from "node:test";
import { Code } from "@connectrpc/connect";
import { FailureKind, ImageDetail, Role, ToolChoiceMode } from "@signalbox/client";
import { AZURE_TEST_KEY, startFakeAzure, type AzureErrorName, type AzureScenario, type FakeAzure } from "../fakes/azure.ts";
import {
  ask,
  assertFailure,
  attemptViews,
  BACKUP_DEPLOYMENTS_YAML,
  BACKUP_PROVIDER_YAML,
  collect,
  cost,
  costView,
  estimatedUsage,
  finishName,
  kindName,
  PROTOCOLS,
  rejection,
  routerBehaviourSuite,
  startEnv,
  usageView,
  waitForRecord,
  type ChatRequestInit,
  type Env,
} from "./openai-family-harness.ts";

const DATED = "azure/gpt-4o"; // api_version 2024-10-21, deployment gpt-4o
const V1 = "azure-v1/gpt-4o-mini"; // no api_version: the v1 URL family
const OLD = "azure-old/gpt-4o"; // api_version 2024-06-01: max_tokens, no seed, no stream_options
const PREVIEW = "azure-preview/gpt-4o"; // api_version 2025-04-01-preview: developer role
const FIRST_GA = "azure-2023/gpt-4o"; // api_version 2023-05-15: no tools, no logprobs

function config(origin: string, apiKey = AZURE_TEST_KEY): string {
  const conn = (name: string, version?: string) => `
  - name: ${name}
    type: azure
    base_url: ${origin}
    api_key: ${apiKey}${version ? `\n    api_version: "${version}"` : ""}
    timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 }`;
  return `
providers:${conn("azure", "2024-10-21")}${conn("azure-v1")}${conn("azure-old", "2024-06-01")}${conn("azure-preview", "2025-04-01-preview")}${conn("azure-2023", "2023-05-15")}
${BACKUP_PROVIDER_YAML}
deployments:
  - { id: ${DATED}, provider: azure, model: gpt-4o, pricing: { input: 2.5, cached_input: 1.25, output: 10 } }
  - { id: ${V1}, provider: azure-v1, model: gpt-4o-mini, pricing: { input: 0.15, cached_input: 0.075, output: 0.6 } }
  - { id: ${OLD}, provider: azure-old, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: ${PREVIEW}, provider: azure-preview, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: ${FIRST_GA}, provider: azure-2023, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: azure/missing, provider: azure, model: gpt-9-nowhere, pricing: { input: 1, output: 1 } }
${BACKUP_DEPLOYMENTS_YAML}
routes:
  - { name: solo, targets: [${DATED}], retry: { max_retries: 0 } }
  - name: with-backup
    targets: [${DATED}, backup/mock]
    retry: { max_retries: 0, base_delay_ms: 1, max_delay_ms: 5 }
    timeouts: { first_token_ms: 250, idle_ms: 1000, attempt_ms: 3000, total_ms: 5000 }
  - { name: long-context, targets: [${DATED}, backup/mock, backup/big], retry: { max_retries: 0 } }
  - name: retrying
    targets: [${DATED}, backup/mock]
    retry: { max_retries: 1, base_delay_ms: 50, max_delay_ms: 100, max_retry_after_ms: 500 }
  - { name: missing-then-backup, targets: [azure/missing, backup/mock], retry: { max_retries: 0 } }
`;
}

let fake: FakeAzure;
before(async () => {
  fake = await startFakeAzure();
});
after(() => fake.close());
beforeEach(() => fake.reset());

async function env(t: TestContext, yaml = config(fake.origin)): Promise<Env> {
  const e = await startEnv(yaml);
  t.after(() => e.close());
  return e;
}

const last = () => fake.requests[fake.requests.length - 1];

const FAMILIES = [
  { label: "dated", dep: DATED, path: "/openai/deployments/gpt-4o/chat/completions", query: { "api-version": "2024-10-21" }, served: "gpt-4o-2024-11-20", price: { input: 2.5, output: 10 } },
  { label: "v1", dep: V1, path: "/openai/v1/chat/completions", query: {}, served: "gpt-4o-mini-2024-07-18", price: { input: 0.15, output: 0.6 } },
];

describe("text in both URL families", () => {
  for (const fam of FAMILIES) {
    for (const protocol of PROTOCOLS) {
      test(`${fam.label}, ${protocol}: unary text with the api-key header, deployment model, usage and cost`, async (t) => {
        const { clients } = await env(t);
        fake.script({ kind: "text", text: "Hello from Azure", usage: { input: 2000, output: 500 } });
        const res = await clients[protocol].chat.complete(ask(fam.dep, "hello"));
        assert.equal(res.message?.content[0]?.part.value, "Hello from Azure");
        assert.equal(res.deployment, fam.dep);
        assert.equal(res.provider, fam.dep.split("/")[0]);
        assert.equal(res.providerModel, fam.served);
        assert.equal(finishName(res.finishReason), "STOP");
        assert.equal(res.rawFinishReason, "stop");
        assert.deepEqual(usageView(res.usage), { input: 2000, output: 500, cached: 0, cacheWrite: 0, reasoning: 0, total: 2500, estimated: false });
        assert.deepEqual(costView(res.cost), cost({ input: 2000 * fam.price.input * 1000, output: 500 * fam.price.output * 1000 }));
        assert.deepEqual(attemptViews(res.attempts), [{ deployment: fam.dep, outcome: "SUCCEEDED", reason: "primary" }]);

        const up = last();
        assert.equal(up.path, fam.path);
        assert.deepEqual(up.query, fam.query);
        assert.equal(up.headers["api-key"], AZURE_TEST_KEY);
        assert.equal(up.headers.authorization, undefined);
        assert.deepEqual(up.body, { model: fam.dep === DATED ? "gpt-4o" : "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] });
      });

      test(`${fam.label}, ${protocol}: streamed text (hostile chunking) after the prompt-filter chunk, with usage`, async (t) => {
        const { clients } = await env(t);
        fake.script({ kind: "text", text: "Straße nach Zürich 🚆 fährt", usage: { input: 40, output: 10, cached: 8 }, chunking: "hostile" });
        const c = await collect(clients[protocol], ask(fam.dep, "stream"));
        assert.equal(c.error, undefined, c.error?.message);
        assert.equal(c.text, "Straße nach Zürich 🚆 fährt");
        assert.match(c.order.join(","), /^start(,delta)+,finish$/);
        assert.equal(c.start?.deployment, fam.dep);
        assert.equal(c.start?.providerModel, fam.served);
        assert.equal(c.finish?.providerModel, fam.served);
        assert.equal(finishName(c.finish!.finishReason), "STOP");
        assert.equal(c.finish?.rawFinishReason, "stop");
        assert.deepEqual(usageView(c.finish?.usage), { input: 40, output: 10, cached: 8, cacheWrite: 0, reasoning: 0, total: 50, estimated: false });
        assert.equal(last().path, fam.path);
        assert.deepEqual(last().body.stream_options, { include_usage: true });
        assert.equal(last().body.stream, true);
      });
    }
  }

  test("v1 family with an explicit api_version 'preview' keeps the v1 path and sends the version", async (t) => {
    const yaml = config(fake.origin).replace('providers:', `providers:
  - { name: azure-v1p, type: azure, base_url: ${fake.origin}, api_key: ${AZURE_TEST_KEY}, api_version: preview }`).replace("deployments:", "deployments:\n  - { id: azure-v1p/gpt-4o, provider: azure-v1p, model: gpt-4o, pricing: { input: 1, output: 1 } }");
    const { client } = await env(t, yaml);
    const res = await client.chat.complete(ask("azure-v1p/gpt-4o", "hi"));
    assert.equal(res.message?.content[0]?.part.value, "Echo: hi");
    assert.equal(last().path, "/openai/v1/chat/completions");
    assert.deepEqual(last().query, { "api-version": "preview" });
  });
});

describe("api-version feature gates", () => {
  const messages = [
    { role: Role.DEVELOPER, content: [{ part: { case: "text" as const, value: "Be terse." } }] },
    { role: Role.USER, content: [{ part: { case: "text" as const, value: "hi" } }] },
  ];
  const cases = [
    { dep: DATED, label: "2024-10-21", developer: "system", maxField: "max_completion_tokens", seed: true },
    { dep: PREVIEW, label: "2025-04-01-preview", developer: "developer", maxField: "max_completion_tokens", seed: true },
    { dep: OLD, label: "2024-06-01", developer: "system", maxField: "max_tokens", seed: false },
    { dep: V1, label: "v1", developer: "developer", maxField: "max_completion_tokens", seed: true },
  ];
  for (const c of cases) {
    test(`${c.label}: developer role as ${c.developer}, ${c.maxField}, seed ${c.seed ? "sent" : "dropped"}`, async (t) => {
      const { client } = await env(t);
      await client.chat.complete({ model: c.dep, messages, maxOutputTokens: 100, seed: 42n });
      const body = last().body;
      assert.deepEqual(body.messages, [
        { role: c.developer, content: "Be terse." },
        { role: "user", content: "hi" },
      ]);
      assert.equal(body[c.maxField], 100);
      assert.equal(body[c.maxField === "max_tokens" ? "max_completion_tokens" : "max_tokens"], undefined);
      assert.equal(body.seed, c.seed ? 42 : undefined);
    });
  }

  test("logprobs: sent where the api-version has them (tokens back), dropped and reported on 2023-05-15 (it would answer 400)", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "text", text: "Hi there" });
    const res = await client.chat.complete({ model: DATED, messages, logprobs: true, topLogprobs: 2 });
    assert.equal(last().body.logprobs, true);
    assert.equal(last().body.top_logprobs, 2);
    assert.equal(res.logprobs.map((l) => l.token).join(""), "Hi there");
    assert.ok(res.logprobs.every((l) => l.topLogprobs.length === 2));
    fake.script({ kind: "text", text: "Hi there" });
    const old = await client.chat.complete({ model: FIRST_GA, messages, logprobs: true, topLogprobs: 2 });
    assert.equal(old.message?.content[0]?.part.value, "Hi there");
    assert.equal(last().body.logprobs, undefined);
    assert.equal(last().body.top_logprobs, undefined);
    assert.deepEqual(old.logprobs, []);
    const adj = old.adjustments.find((a) => a.field === "logprobs");
    assert.match(adj?.detail ?? "", /azure api-version 2023-05-15 predates logprobs \(added in 2023-12-01\)/);
  });

  test("2024-06-01 stream: no stream_options (that version rejects it), so usage is estimated", async (t) => {
    const { client, t: gw } = await env(t);
    fake.script({ kind: "text", text: "Old API here", chunkDelayMs: 1 });
    const c = await collect(client, ask(OLD, "hello"));
    assert.equal(c.error, undefined, c.error?.message);
    assert.equal(c.text, "Old API here");
    assert.equal(last().body.stream_options, undefined);
    assert.equal(last().path, "/openai/deployments/gpt-4o/chat/completions");
    assert.deepEqual(last().query, { "api-version": "2024-06-01" });
    // Estimated: the prompt and the 12 characters delivered, by gpt-4o's tokenizer (src/providers/tokens.ts).
    const est = estimatedUsage(gw, OLD, "hello", "Old API here");
    assert.deepEqual(usageView(c.finish?.usage), { input: est.input, output: est.output, cached: 0, cacheWrite: 0, reasoning: 0, total: est.input + est.output, estimated: true });
    assert.deepEqual(costView(c.finish?.cost), cost({ input: est.input * 2_500, output: est.output * 10_000 }));
    const rec = await waitForRecord(gw, (r) => r.model === OLD);
    assert.equal(rec.usageEstimated, true);
    assert.deepEqual(rec.attempts[0].usageSource, { input: "estimated", output: "estimated" });
  });
});

describe("usage with cached and reasoning tokens", () => {
  test("dated unary: reasoning and cached tokens as reported", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "text", text: "Copenhagen.", usage: { input: 1000, cached: 600, output: 80, reasoning: 64 } });
    const res = await client.chat.complete(ask(DATED, "capital of Denmark?"));
    assert.deepEqual(usageView(res.usage), { input: 1000, output: 80, cached: 600, cacheWrite: 0, reasoning: 64, total: 1080, estimated: false });
    // 400 × 2.5 + 600 × 1.25 + 16 × 10 + 64 × 10 (reasoning at the output price) USD/M
    assert.deepEqual(costView(res.cost), cost({ input: 1_000_000, cachedInput: 750_000, output: 160_000, reasoning: 640_000 }));
  });

  test("v1 stream: reasoning and cached tokens from the usage chunk", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "text", text: "ok", usage: { input: 3000, cached: 2000, output: 300, reasoning: 200 } });
    const c = await collect(client, ask(V1, "think"));
    assert.deepEqual(usageView(c.finish?.usage), { input: 3000, output: 300, cached: 2000, cacheWrite: 0, reasoning: 200, total: 3300, estimated: false });
    // 1000 × 0.15 + 2000 × 0.075 + 100 × 0.6 + 200 × 0.6 USD/M
    assert.deepEqual(costView(c.finish?.cost), cost({ input: 150_000, cachedInput: 150_000, output: 60_000, reasoning: 120_000 }));
  });
});

const TOOLS: ChatRequestInit["tools"] = [
  { name: "lookup_order", description: "Find an order", parameters: { type: "object", properties: { id: { type: "string" } }, required: ["id"] }, strict: true },
];

describe("tools", () => {
  test("dated unary: tools (with strict) and tool_choice go upstream; the call comes back", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "tool_calls", calls: [{ id: "call_o1", arguments: { id: "A-17" } }] });
    const res = await client.chat.complete(ask(DATED, "where is A-17?", { tools: TOOLS, toolChoice: { choice: { case: "mode", value: ToolChoiceMode.AUTO } } }));
    assert.deepEqual(
      res.message?.toolCalls.map((c) => [c.id, c.name, c.arguments]),
      [["call_o1", "lookup_order", '{"id":"A-17"}']],
    );
    assert.equal(finishName(res.finishReason), "TOOL_CALLS");
    assert.deepEqual(last().body.tools, [
      {
        type: "function",
        function: { name: "lookup_order", description: "Find an order", parameters: { type: "object", properties: { id: { type: "string" } }, required: ["id"] }, strict: true },
      },
    ]);
    assert.equal(last().body.tool_choice, "auto");
  });

  test("v1 stream: tool-call fragments are reassembled (byte-sliced delivery)", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "tool_calls", calls: [{ id: "call_o2", arguments: { id: "B-99", note: "größer als 5 €" } }], chunking: { bytes: 7 } });
    const c = await collect(client, ask(V1, "find B-99", { tools: TOOLS }));
    assert.equal(c.error, undefined, c.error?.message);
    assert.deepEqual(c.toolCalls, [{ index: 0, id: "call_o2", name: "lookup_order", arguments: '{"id":"B-99","note":"größer als 5 €"}' }]);
    assert.equal(finishName(c.finish!.finishReason), "TOOL_CALLS");
    assert.equal(c.finish?.rawFinishReason, "tool_calls");
  });

  test("follow-up with the assistant call and the tool result", async (t) => {
    const { client } = await env(t);
    const res = await client.chat.complete({
      model: DATED,
      tools: TOOLS,
      messages: [
        { role: Role.USER, content: [{ part: { case: "text", value: "where is A-17?" } }] },
        { role: Role.ASSISTANT, content: [{ part: { case: "text", value: "Let me check." } }], toolCalls: [{ id: "call_o1", name: "lookup_order", arguments: '{"id":"A-17"}' }] },
        { role: Role.TOOL, toolCallId: "call_o1", content: [{ part: { case: "text", value: "shipped" } }] },
      ],
    });
    assert.equal(res.message?.content[0]?.part.value, "Echo: shipped");
    assert.deepEqual(last().body.messages, [
      { role: "user", content: "where is A-17?" },
      { role: "assistant", content: "Let me check.", tool_calls: [{ id: "call_o1", type: "function", function: { name: "lookup_order", arguments: '{"id":"A-17"}' } }] },
      { role: "tool", tool_call_id: "call_o1", content: "shipped" },
    ]);
  });
});

describe("image input", () => {
  test("bytes and URL images in the upstream body", async (t) => {
    const { client } = await env(t);
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]);
    await client.chat.complete({
      model: V1,
      messages: [
        {
          role: Role.USER,
          content: [
            { part: { case: "image", value: { source: { case: "url", value: "https://example.com/a.png" }, detail: ImageDetail.HIGH } } },
            { part: { case: "image", value: { source: { case: "data", value: jpeg }, mediaType: "image/jpeg", detail: ImageDetail.AUTO } } },
            { part: { case: "text", value: "compare" } },
          ],
        },
      ],
    });
    assert.deepEqual(last().body.messages[0].content, [
      { type: "image_url", image_url: { url: "https://example.com/a.png", detail: "high" } },
      { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQ", detail: "auto" } },
      { type: "text", text: "compare" },
    ]);
  });
});

describe("finish reasons", () => {
  const cases: Array<{ raw: string; unified: string; scenario: AzureScenario }> = [
    { raw: "stop", unified: "STOP", scenario: { kind: "text", text: "fine" } },
    { raw: "length", unified: "LENGTH", scenario: { kind: "text", text: "trunc", finishReason: "length" } },
    { raw: "tool_calls", unified: "TOOL_CALLS", scenario: { kind: "tool_calls", calls: [{ arguments: { id: "1" } }] } },
    { raw: "function_call", unified: "TOOL_CALLS", scenario: { kind: "text", text: "legacy", finishReason: "function_call" } },
    { raw: "content_filter", unified: "CONTENT_FILTER", scenario: { kind: "text", text: "Here is how", finishReason: "content_filter", filtered: { category: "violence", severity: "high" } } },
  ];
  for (const { raw, unified, scenario } of cases) {
    test(`unary and stream: ${raw} → ${unified}`, async (t) => {
      const { client } = await env(t);
      fake.script([scenario, scenario]);
      const res = await client.chat.complete(ask(DATED, "go", { tools: TOOLS }));
      assert.equal(finishName(res.finishReason), unified);
      assert.equal(res.rawFinishReason, raw);
      const c = await collect(client, ask(DATED, "go", { tools: TOOLS }));
      assert.equal(c.error, undefined, c.error?.message);
      assert.equal(finishName(c.finish!.finishReason), unified);
      assert.equal(c.finish?.rawFinishReason, raw);
    });
  }

  test("output filtered mid-answer: the partial text is kept and the finish is content_filter", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "text", text: "Step one", finishReason: "content_filter", asyncFilter: true });
    const c = await collect(client, ask(DATED, "how to"));
    assert.equal(c.error, undefined, c.error?.message);
    assert.equal(c.text, "Step one");
    assert.equal(finishName(c.finish!.finishReason), "CONTENT_FILTER");
  });

  test("the trailing asynchronous content_filter_offsets chunk is ignored", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "text", text: "All good here", asyncFilter: true, usage: { input: 9, output: 3 } });
    const c = await collect(client, ask(DATED, "hi"));
    assert.equal(c.error, undefined, c.error?.message);
    assert.equal(c.text, "All good here");
    assert.equal(finishName(c.finish!.finishReason), "STOP");
    assert.deepEqual(usageView(c.finish?.usage), { input: 9, output: 3, cached: 0, cacheWrite: 0, reasoning: 0, total: 12, estimated: false });
  });

  test("refusal", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "refusal", refusal: "I can't do that." });
    const res = await client.chat.complete(ask(V1, "nope"));
    assert.equal(res.refusal, "I can't do that.");
    assert.equal(finishName(res.finishReason), "STOP");
  });
});

describe("failures (route without fallback, no retries)", () => {
  const cases: Array<{ error: AzureErrorName; status: number; kind: FailureKind; code: Code }> = [
    { error: "content_filter", status: 400, kind: FailureKind.CONTENT_FILTERED, code: Code.InvalidArgument },
    { error: "context_length_exceeded", status: 400, kind: FailureKind.CONTEXT_LENGTH_EXCEEDED, code: Code.InvalidArgument },
    { error: "invalid_request", status: 400, kind: FailureKind.BAD_REQUEST, code: Code.InvalidArgument },
    { error: "unauthorized", status: 401, kind: FailureKind.UPSTREAM_AUTH, code: Code.Unavailable },
    { error: "permission_denied", status: 403, kind: FailureKind.UPSTREAM_AUTH, code: Code.Unavailable },
    { error: "deployment_not_found", status: 404, kind: FailureKind.MODEL_NOT_FOUND, code: Code.Unavailable },
    { error: "timeout", status: 408, kind: FailureKind.TIMEOUT, code: Code.DeadlineExceeded },
    { error: "rate_limit", status: 429, kind: FailureKind.RATE_LIMITED, code: Code.ResourceExhausted },
    { error: "server_error", status: 500, kind: FailureKind.SERVER_ERROR, code: Code.Unavailable },
    { error: "service_unavailable", status: 503, kind: FailureKind.OVERLOADED, code: Code.Unavailable },
  ];
  for (const { error, status, kind, code } of cases) {
    test(`HTTP ${status} ${error} → ${Code[code]} / ${kindName(kind)} (unary and stream)`, async (t) => {
      const { client } = await env(t);
      fake.script([{ kind: "error", error }, { kind: "error", error }]);
      const err = await rejection(client.chat.complete(ask("solo", "hello")));
      const info = assertFailure(err, code, kind);
      assert.notEqual(err.code, Code.Unauthenticated);
      assert.deepEqual(attemptViews(info.attempts), [{ deployment: DATED, outcome: "FAILED", kind: kindName(kind), status, reason: "primary" }]);
      const c = await collect(client, ask("solo", "hello"));
      const sinfo = assertFailure(c.error, code, kind);
      assert.deepEqual(attemptViews(sinfo.attempts), [{ deployment: DATED, outcome: "FAILED", kind: kindName(kind), status, reason: "primary" }]);
    });
  }

  test("Azure's 429 retry-after (1 s) reaches the caller", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "error", error: "rate_limit" });
    const err = await rejection(client.chat.complete(ask("solo", "hello")));
    const info = assertFailure(err, Code.ResourceExhausted, FailureKind.RATE_LIMITED);
    assert.equal(info.retryAfterMs, 1000);
    assert.equal(err.metadata.get("retry-after"), "1");
  });

  test("a wrong key in the gateway's config: unavailable / upstream_auth, never unauthenticated", async (t) => {
    const { client } = await env(t, config(fake.origin, "0123456789abcdef0123456789abcdef"));
    for (const dep of [DATED, V1]) {
      const err = await rejection(client.chat.complete(ask(dep, "hello")));
      const info = assertFailure(err, Code.Unavailable, FailureKind.UPSTREAM_AUTH);
      assert.notEqual(err.code, Code.Unauthenticated);
      assert.equal(info.attempts[0].httpStatus, 401);
      assert.equal(last().headers["api-key"], "0123456789abcdef0123456789abcdef");
    }
  });

  test("a deployment name Azure does not know is model_not_found and falls back", async (t) => {
    const { client } = await env(t);
    const err = await rejection(client.chat.complete(ask("azure/missing", "hello")));
    assertFailure(err, Code.Unavailable, FailureKind.MODEL_NOT_FOUND);
    assert.equal(last().path, "/openai/deployments/gpt-9-nowhere/chat/completions");
    const res = await client.chat.complete(ask("missing-then-backup", "hello"));
    assert.deepEqual(attemptViews(res.attempts), [
      { deployment: "azure/missing", outcome: "FAILED", kind: "MODEL_NOT_FOUND", status: 404, reason: "primary" },
      { deployment: "backup/mock", outcome: "SUCCEEDED", reason: "fallback after model_not_found from azure/missing" },
    ]);
  });

  test("in-band rate-limit error in a stream (code \"429\") is rate_limited", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "stream_error", afterDeltas: 0, error: "rate_limit" });
    const c = await collect(client, ask("solo", "hello"));
    assertFailure(c.error, Code.ResourceExhausted, FailureKind.RATE_LIMITED);
  });

  test("malformed 200 body → unavailable / server_error", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "malformed" });
    const err = await rejection(client.chat.complete(ask("solo", "hello")));
    assertFailure(err, Code.Unavailable, FailureKind.SERVER_ERROR);
  });

  test("content-filtered prompt does not fall back, unless the route or request allows it", async (t) => {
    const { client } = await env(t);
    fake.script([{ kind: "error", error: "content_filter" }, { kind: "error", error: "content_filter" }]);
    const err = await rejection(client.chat.complete(ask("with-backup", "hello")));
    const info = assertFailure(err, Code.InvalidArgument, FailureKind.CONTENT_FILTERED);
    assert.equal(info.attempts.length, 1);
    const res = await client.chat.complete(ask("with-backup", "hello", { routing: { fallbackOnContentFilter: true } }));
    assert.equal(res.deployment, "backup/mock");
  });
});

routerBehaviourSuite<AzureScenario>({
  fake: () => fake,
  config: (origin) => config(origin),
  dep: DATED,
  usageChunk: true,
  streamError: { kind: "STREAM_INTERRUPTED" },
  rateLimited: (ms) => ({ kind: "error", error: "rate_limit", retryAfterMs: ms }),
  contextLength: { kind: "error", error: "context_length_exceeded" },
  fallsBack: [
    { name: "429 rate_limited", scenario: { kind: "error", error: "rate_limit" }, kind: "RATE_LIMITED", status: 429 },
    { name: "503 service unavailable", scenario: { kind: "error", error: "service_unavailable" }, kind: "OVERLOADED", status: 503 },
    { name: "500 server_error", scenario: { kind: "error", error: "server_error" }, kind: "SERVER_ERROR", status: 500 },
    { name: "401 upstream auth", scenario: { kind: "error", error: "unauthorized" }, kind: "UPSTREAM_AUTH", status: 401 },
    { name: "403 firewall", scenario: { kind: "error", error: "permission_denied" }, kind: "UPSTREAM_AUTH", status: 403 },
    { name: "404 DeploymentNotFound", scenario: { kind: "error", error: "deployment_not_found" }, kind: "MODEL_NOT_FOUND", status: 404 },
    { name: "408 upstream timeout", scenario: { kind: "error", error: "timeout" }, kind: "TIMEOUT", status: 408 },
  ],
  noFallback: [
    { name: "400 bad_request", scenario: { kind: "error", error: "invalid_request" }, kind: "BAD_REQUEST", code: Code.InvalidArgument },
    { name: "400 content_filter (ResponsibleAIPolicyViolation)", scenario: { kind: "error", error: "content_filter" }, kind: "CONTENT_FILTERED", code: Code.InvalidArgument },
  ],
});
