// OpenRouter's account endpoints on the gateway, driven by OpenRouter's own SDK (@openrouter/sdk,
// whose responses are checked against its zod schemas, so a field missing or of the wrong type
// fails): GET /v1/generation (a request's cost, tokens, attempts), POST /v1/generation/feedback
// (a report kept as a score of -1) and GET /v1/key (the calling key, its budget and its spend);
// its model list reads /v1/models; its read endpoints (credits, models.count, models.listForUser,
// endpoints.list, endpoints.listZdrEndpoints, providers.list) see only what the key may use; and
// the SDK's chat calls, unary and streamed, read the gateway's answers.
// Real sockets, the gateway on the mock provider; a key sees only what it may read.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { OpenRouter } from "@openrouter/sdk";
import type { ChatResult, ChatStreamChunk } from "@openrouter/sdk/models";
import { ListEndpointsResponse$inboundSchema } from "@openrouter/sdk/models/operations";
import { createSignalboxClient, Dimension } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const key = (...p: string[]) => ["sbx", "test", "openrouter", ...p].join("_");
const SVC = key("svc");
const OTHER = key("other");
const ADMIN = key("admin");
const NARROW = key("narrow");

const YAML = `${MOCK_CONFIG}
keys:
  - { name: svc, hash: "${hashKey(SVC)}", team: a, role: service, limits: { requests_per_minute: 600 }, budget: { period: month, limit_usd: 5 } }
  - { name: other, hash: "${hashKey(OTHER)}", team: b, role: service }
  - { name: admin, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
  - { name: narrow, hash: "${hashKey(NARROW)}", team: b, role: service, allow: [fallback] }
teams:
  - { name: a, budget: { period: day, limit_usd: 100 } }
`;

describe("OpenRouter's account endpoints, through @openrouter/sdk", () => {
  let gw: TestGateway;
  const sdk = (apiKey: string) => new OpenRouter({ apiKey, serverURL: `${gw.url}/v1`, retryConfig: { strategy: "none" } });
  const chat = async (apiKey: string, model: string, content: string) => {
    const r = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, body: JSON.stringify({ model, messages: [{ role: "user", content }], user: "u-7" }) });
    assert.equal(r.status, 200);
    return (await r.json()) as { id: string; usage: { prompt_tokens: number; completion_tokens: number; cost: number } };
  };
  before(async () => {
    gw = await startTestGateway(YAML);
  });
  after(() => gw?.close());

  test("the SDK's unary chat call parses the gateway's answer", async () => {
    const r = (await sdk(SVC).chat.send({ chatRequest: { model: "default", messages: [{ role: "user", content: "hello there" }] } })) as ChatResult;
    assert.match(String(r.choices[0]?.message.content), /You said: "hello there"/);
    assert.ok((r.usage?.cost ?? 0) > 0);
  });

  test("GET /v1/generation: the completion's id gives its cost, tokens, finish, route and every attempt (a fallback's failed hop with its status)", async () => {
    const c = await chat(SVC, "fallback", "tell me about fallbacks");
    const g = await sdk(SVC).generations.getGeneration({ id: c.id });
    const d = g.data;
    assert.equal(d.id, c.id);
    assert.equal(d.totalCost, c.usage.cost);
    assert.ok(d.totalCost > 0);
    assert.equal(d.usage, d.totalCost);
    assert.equal(d.tokensPrompt, c.usage.prompt_tokens);
    assert.equal(d.tokensCompletion, c.usage.completion_tokens);
    assert.equal(d.nativeTokensPrompt, c.usage.prompt_tokens);
    assert.equal(d.model, "mock-b");
    assert.equal(d.providerName, "mock");
    assert.equal(d.router, "fallback");
    assert.equal(d.finishReason, "stop");
    assert.equal(d.apiType, "completions");
    assert.equal(d.externalUser, "u-7");
    assert.equal(d.workspaceId, "a");
    assert.equal(d.streamed, false);
    assert.equal(d.cancelled, false);
    assert.equal(d.isByok, false);
    assert.ok(Date.parse(d.createdAt) > Date.now() - 60_000);
    // The failed hop keeps the status its provider answered (the mock's overloaded: 529).
    assert.deepEqual(
      d.providerResponses?.map((p) => [p.endpointId, p.modelPermaslug, p.providerName, p.status]),
      [
        ["mock/flaky", "mock-flaky", "flaky", 529],
        ["mock/b", "mock-b", "mock", 200],
      ],
    );
    // The gateway's own account rides beside OpenRouter's fields (the SDK keeps only its own).
    const raw = (await (await fetch(`${gw.url}/v1/generation?id=${c.id}`, { headers: { authorization: `Bearer ${SVC}` } })).json()) as { data: { signalbox: { status: string; deployment: string; attempts: number; trace_id: string } } };
    assert.equal(raw.data.signalbox.status, "ok");
    assert.equal(raw.data.signalbox.deployment, "mock/b");
    assert.equal(raw.data.signalbox.attempts, 2);
    assert.match(raw.data.signalbox.trace_id, /^[0-9a-f]{32}$/);
  });

  test("a streamed request is a generation too; another team's key is told it does not exist, an admin reads it", async () => {
    // The SDK's own chat call, streamed (each chunk checked against its schema), then its stats.
    const stream = (await sdk(SVC).chat.send({ chatRequest: { model: "default", stream: true, messages: [{ role: "user", content: "stream it" }] } })) as AsyncIterable<ChatStreamChunk>;
    let id = "";
    let text = "";
    for await (const chunk of stream) {
      id = chunk.id;
      text += chunk.choices[0]?.delta.content ?? "";
    }
    assert.match(text, /You said: "stream it"/);
    const d = (await sdk(SVC).generations.getGeneration({ id })).data;
    assert.equal(d.streamed, true);
    assert.ok(d.generationTime !== null && d.latency !== null && d.generationTime <= d.latency);
    await assert.rejects(sdk(OTHER).generations.getGeneration({ id }), (e: Error & { statusCode?: number; body?: string }) => {
      assert.equal(e.statusCode, 404);
      assert.match(JSON.parse(e.body!).error.message, /no generation/);
      assert.equal(JSON.parse(e.body!).error.code, 404);
      return true;
    });
    assert.equal((await sdk(ADMIN).generations.getGeneration({ id })).data.id, id);
  });

  test("bad input names the field; a wrong key is a 401 in OpenRouter's shape", async () => {
    const noId = await fetch(`${gw.url}/v1/generation`, { headers: { authorization: `Bearer ${SVC}` } });
    assert.equal(noId.status, 400);
    const body = (await noId.json()) as { error: { code: number; message: string; metadata: { param: string } } };
    assert.equal(body.error.code, 400);
    assert.equal(body.error.metadata.param, "id");
    const wrong = await fetch(`${gw.url}/v1/key`, { headers: { authorization: `Bearer ${key("nope")}` } });
    assert.equal(wrong.status, 401);
    const w = (await wrong.json()) as { error: { code: number; message: string } };
    assert.equal(w.error.code, 401);
    assert.ok(!w.error.message.includes(key("nope")), "the key is not echoed");
    const post = await fetch(`${gw.url}/v1/key`, { method: "POST", headers: { authorization: `Bearer ${SVC}` } });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET");
    // Plugins: the PDF engines (native, pdf-text, mistral-ocr: test/compat/ocr.test.ts); web search
    // needs web_search in the config (this gateway has none: refused naming it); the rest are refused by name.
    const chat = (plugins: unknown) => fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${SVC}`, "content-type": "application/json" }, body: JSON.stringify({ model: "fallback", messages: [{ role: "user", content: "hi" }], plugins }) });
    assert.equal((await chat([{ id: "file-parser", pdf: { engine: "native" } }])).status, 200);
    for (const [plugins, param] of [[[{ id: "web", max_results: 3 }], "web_search"], [[{ id: "moderation" }], "plugins[0].id"], [[{ id: "file-parser", pdf: { engine: "tesseract" } }], "plugins[0].pdf.engine"]] as const) {
      const r = await chat(plugins);
      assert.equal(r.status, 400);
      assert.equal(((await r.json()) as { error: { param: string } }).error.param, param);
    }
  });

  test("POST /v1/generation/feedback: a report is a -1 score with its category and comment, in the feedback summary", async () => {
    const c = await chat(SVC, "default", "give me something to report");
    const res = await sdk(SVC).generations.submitFeedback({ submitGenerationFeedbackRequest: { generationId: c.id, category: "incorrect_response", comment: "wrong capital" } });
    assert.equal(res.data.success, true);
    const got = await createSignalboxClient({ baseUrl: gw.url, apiKey: SVC }).usage.getRequest({ id: c.id });
    assert.deepEqual(
      got.feedback.map((f) => [f.value, f.metadata.category, f.metadata.comment, f.metadata.source]),
      [[-1, "incorrect_response", "wrong capital", "openrouter"]],
    );
    const summary = await createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN }).usage.getFeedbackSummary({ groupBy: [Dimension.KEY] });
    assert.equal(summary.rows.find((r) => r.group.key === "svc")?.negative, 1n);
    const bad = await fetch(`${gw.url}/v1/generation/feedback`, { method: "POST", headers: { authorization: `Bearer ${SVC}`, "content-type": "application/json" }, body: JSON.stringify({ generation_id: c.id, category: "meh" }) });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /^category: must be one of latency, incoherence/);
    const other = await fetch(`${gw.url}/v1/generation/feedback`, { method: "POST", headers: { authorization: `Bearer ${OTHER}`, "content-type": "application/json" }, body: JSON.stringify({ generation_id: c.id, category: "other" }) });
    assert.equal(other.status, 404);
  });

  test("GET /v1/models in OpenRouter's shape too: prices per token, context, modalities and parameters, as its SDK reads them", async () => {
    const page = await sdk(SVC).models.list();
    const list = page.result;
    assert.equal(list.totalCount, list.data.length);
    assert.equal(list.links.next, null);
    const by = new Map(list.data.map((m) => [m.id, m]));
    // default → mock/a ($1 and $2 a million tokens); fallback → mock/flaky and mock/b, priced apart: "-1", as OpenRouter marks a router.
    assert.deepEqual([by.get("default")?.pricing.prompt, by.get("default")?.pricing.completion], ["0.000001", "0.000002"]);
    assert.deepEqual([by.get("fallback")?.pricing.prompt, by.get("fallback")?.pricing.completion], ["-1", "-1"]);
    assert.deepEqual([by.get("mock/b")?.pricing.prompt, by.get("mock/b")?.pricing.completion], ["0.000003", "0.000004"]);
    const b = by.get("mock/b")!;
    assert.equal(b.canonicalSlug, "mock/b");
    assert.ok((b.contextLength ?? 0) > 0);
    assert.deepEqual(b.architecture.outputModalities, ["text"]);
    assert.ok(b.supportedParameters.includes("max_tokens"));
    assert.equal(b.topProvider.isModerated, false);
    // The OpenAI fields are all still there.
    const raw = (await (await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${SVC}` } })).json()) as { object: string; data: { id: string; object: string; owned_by: string }[] };
    assert.equal(raw.object, "list");
    assert.deepEqual(raw.data.find((m) => m.id === "mock/b")?.owned_by, "mock");
  });

  test("GET /v1/key: the budget with the least room bounds the key; its spend today, this week, this month and in all match its requests", async () => {
    const before = (await sdk(SVC).apiKeys.getCurrentKeyMetadata()).data;
    const c = await chat(SVC, "default", "one more for the spend");
    await gw.gw.core.limits.flush?.();
    const k = (await sdk(SVC).apiKeys.getCurrentKeyMetadata()).data;
    assert.equal(k.label, "svc");
    assert.equal(k.limit, 5);
    assert.equal(k.limitReset, "monthly");
    assert.equal(k.isFreeTier, false);
    assert.equal(k.isManagementKey, false);
    assert.equal(k.rateLimit.requests, 600);
    assert.equal(k.workspaceId, "a");
    const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≈ ${b}`);
    near(k.usage - before.usage, c.usage.cost);
    near(k.usageDaily - before.usageDaily, c.usage.cost);
    near(k.usageMonthly, k.usage);
    near(k.usageWeekly, k.usage);
    // Every request this key made in this test file, summed from the usage store, is its usage.
    const rows = (await createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN }).usage.getUsage({ startTime: timestampFromMs(Date.now() - 86_400_000), groupBy: [Dimension.KEY] })).rows;
    near(k.usage, Number(rows.find((r) => r.group.key === "svc")!.cost!.totalNanoUsd) / 1e9);
    near(k.limitRemaining!, 5 - k.usage);
    const admin = (await sdk(ADMIN).apiKeys.getCurrentKeyMetadata()).data;
    assert.equal(admin.isManagementKey, true);
    assert.equal(admin.limit, null);
    assert.equal(admin.usage, 0);
    assert.equal(admin.rateLimit.requests, -1);
  });
  test("GET /v1/credits: the budget that bounds the key is its credits, what is spent against it in its period the usage", async () => {
    const c = (await sdk(SVC).credits.getCredits()).data;
    const k = (await sdk(SVC).apiKeys.getCurrentKeyMetadata()).data;
    // svc: its own $5 a month has less room than its team's $100 a day.
    assert.equal(c.totalCredits, 5);
    assert.ok(c.totalUsage > 0);
    assert.ok(Math.abs(c.totalCredits - c.totalUsage - k.limitRemaining!) < 1e-9, "credits less usage is /v1/key's limit_remaining");
    const raw = (await (await fetch(`${gw.url}/v1/credits`, { headers: { authorization: `Bearer ${SVC}` } })).json()) as { data: { signalbox: { budget: { scope: string; period: string } } } };
    assert.deepEqual([raw.data.signalbox.budget.scope, raw.data.signalbox.budget.period], ["key", "month"]);
    // No budget bounds other: no credits, its spend in all as the usage.
    const o = (await sdk(OTHER).credits.getCredits()).data;
    assert.equal(o.totalCredits, 0);
    assert.equal(o.totalUsage, (await sdk(OTHER).apiKeys.getCurrentKeyMetadata()).data.usage);
    const anon = await fetch(`${gw.url}/v1/credits`);
    assert.equal(anon.status, 401);
    assert.equal(((await anon.json()) as { error: { code: number } }).error.code, 401);
  });

  test("models.count and models.listForUser: the models the key may name, as /v1/models lists them", async () => {
    const all = (await sdk(SVC).models.list()).result.data.map((m) => m.id);
    assert.equal((await sdk(SVC).models.count()).data.count, all.length);
    assert.equal((await sdk(NARROW).models.count()).data.count, 1);
    assert.equal((await sdk(SVC).models.count({ outputModalities: "embeddings" })).data.count, 0);
    const mine = (await sdk(NARROW).models.listForUser({ bearer: NARROW })).result;
    assert.deepEqual(mine.data.map((m) => m.id), ["fallback"]);
    assert.deepEqual((await sdk(SVC).models.listForUser({ bearer: SVC })).result.data.map((m) => m.id), all);
  });

  test("GET /v1/models/{id}/endpoints: the deployments behind a model, priced per token, with their health; a model the key may not name is a 404", async () => {
    const b = (await sdk(SVC).endpoints.list({ author: "mock", slug: "b" })).data;
    assert.equal(b.id, "mock/b");
    assert.deepEqual(b.architecture.outputModalities, ["text"]);
    assert.equal(b.endpoints.length, 1);
    const e = b.endpoints[0]!;
    assert.deepEqual([e.modelId, e.modelName, e.providerName, e.tag, e.quantization], ["mock/b", "mock-b", "mock", "mock", null]);
    assert.deepEqual([e.pricing.prompt, e.pricing.completion], ["0.000003", "0.000004"]);
    assert.ok(e.contextLength > 0);
    assert.ok(e.supportedParameters.includes("max_tokens"));
    assert.equal(e.status, 0);
    assert.equal(e.uptimeLast30m, null);
    // A route has no author/slug of its own: its name alone, by path. Its targets in order; the
    // flaky one failed in the fallback test above (failing: -1, or cooling down: -10).
    const res = await fetch(`${gw.url}/v1/models/fallback/endpoints`, { headers: { authorization: `Bearer ${NARROW}` } });
    assert.equal(res.status, 200);
    const route = ListEndpointsResponse$inboundSchema.parse(await res.json()).data;
    assert.deepEqual(route.endpoints.map((x) => x.modelId), ["mock/flaky", "mock/b"]);
    assert.ok(route.endpoints[0]!.status! < 0 && route.endpoints[1]!.status === 0);
    // An alias is its target's; an encoded slash reads the same.
    const alias = ListEndpointsResponse$inboundSchema.parse(await (await fetch(`${gw.url}/v1/models/fast/endpoints`, { headers: { authorization: `Bearer ${SVC}` } })).json()).data;
    assert.deepEqual(alias.endpoints.map((x) => x.modelId), ["mock/a"]);
    const encoded = (await (await fetch(`${gw.url}/v1/models/mock%2Fa/endpoints`, { headers: { authorization: `Bearer ${SVC}` } })).json()) as { data: { id: string } };
    assert.equal(encoded.data.id, "mock/a");
    for (const [apiKey, author, slug] of [[SVC, "nope", "x"], [NARROW, "mock", "b"]] as const) {
      await assert.rejects(sdk(apiKey).endpoints.list({ author, slug }), (err: Error & { statusCode?: number; body?: string }) => {
        assert.equal(err.statusCode, 404);
        const body = JSON.parse(err.body!) as { error: { code: number; message: string; metadata: { param: string } } };
        assert.equal(body.error.code, 404);
        assert.match(body.error.message, new RegExp(`"${author}/${slug}" does not exist or this key may not use it`));
        assert.equal(body.error.metadata.param, "model");
        return true;
      });
    }
    assert.equal((await fetch(`${gw.url}/v1/models/mock/b/endpoints`)).status, 401);
  });

  test("providers.list and endpoints.listZdrEndpoints: only what the key's models reach, never a connection's secrets", async () => {
    const all = (await sdk(SVC).providers.list()).data.map((p) => p.slug);
    assert.deepEqual(all, ["mock", "flaky", "slow", "trickle"]);
    assert.deepEqual((await sdk(NARROW).providers.list()).data.map((p) => p.name), ["mock", "flaky"]);
    const raw = await (await fetch(`${gw.url}/v1/providers`, { headers: { authorization: `Bearer ${NARROW}` } })).text();
    assert.doesNotMatch(raw, /base_?url|api_?key|headers|http/i);
    assert.deepEqual((JSON.parse(raw) as { data: { signalbox: { type: string; zero_retention: boolean; deployments: string[] } }[] }).data[0]!.signalbox, { type: "mock", collects_data: false, zero_retention: true, deployments: ["mock/b"] });
    // The mock keeps no data: every endpoint the key reaches is a zero-retention one.
    assert.deepEqual((await sdk(NARROW).endpoints.listZdrEndpoints()).data.map((e) => e.modelId), ["mock/flaky", "mock/b"]);
    assert.equal((await sdk(SVC).endpoints.listZdrEndpoints()).data.length, 5);
  });
});
