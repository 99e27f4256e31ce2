// OpenRouter's provider preferences (`provider` on /v1, RoutingOptions.providers on Connect): the
// planner's filters and order, pure, then the whole gateway over real sockets with fake Anthropic,
// OpenAI and Gemini upstreams: the OpenAI SDK's chat, legacy completions and Responses calls,
// streamed and not, @signalbox/client's Complete and Route, what reached which upstream, the
// usage records' attempts, and the 400s naming the field.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI from "openai";
import { createSignalboxClient, DataCollection, ExclusionReason, ProviderSort, userText } from "@signalbox/client";
import { parse } from "yaml";
import { buildConfig, ConfigError } from "../../src/config/load.ts";
import { plan } from "../../src/router/plan.ts";
import { createModelRegistry } from "../../src/router/registry.ts";
import type { ChatCall, ProviderPreferences } from "../../src/router/types.ts";
import { createMemoryHealthStore, type DeploymentHealth, type HealthSnapshot, type HealthStore } from "../../src/state/health.ts";
import { hashKey } from "../../src/server/auth.ts";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { GEMINI_TEST_KEY, startFakeGemini, type FakeGemini } from "../fakes/gemini.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// Three providers of three kinds, three prices; the route lists the most expensive last.
const YAML = (anthropic = "http://127.0.0.1:9", openai = "http://127.0.0.1:9", gemini = "http://127.0.0.1:9") => `
providers:
  - { name: anthropic, type: anthropic, base_url: "${anthropic}", api_key: ${ANTHROPIC_TEST_KEY}, data_policy: { zero_retention: true }, timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 } }
  - { name: openai-us, type: openai, base_url: "${openai}", api_key: ${OPENAI_TEST_KEY}, timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 } }
  - { name: gemini, type: gemini, base_url: "${gemini}", api_key: ${GEMINI_TEST_KEY}, data_policy: { collects: false }, timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 } }
deployments:
  - { id: openai/gpt-4o, provider: openai-us, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: claude/sonnet, provider: anthropic, model: claude-sonnet-4-5-20250929, pricing: { input: 3, output: 15 } }
  - { id: gemini/flash, provider: gemini, model: gemini-2.5-flash, pricing: { input: 0.3, output: 2.5 } }
  - { id: gemini/pro, provider: gemini, model: gemini-2.5-pro, pricing: { input: 1.25, output: 10 } }
routes:
  - { name: all, targets: [openai/gpt-4o, claude/sonnet, gemini/flash], retry: { max_retries: 0 } }
  - { name: claude, targets: [claude/sonnet], retry: { max_retries: 0 } }
  - { name: gpt-then-cheap, targets: [openai/gpt-4o, claude/sonnet], fallbacks: [gemini/pro, gemini/flash], retry: { max_retries: 0 } }
keys:
  - { name: team-a, hash: "${hashKey(KEY)}", team: a, role: team }
`;
const KEY = ["sbx", "test", "providers", "team", "a"].join("_");

describe("provider preferences: the planner", () => {
  const config = buildConfig(parse(YAML()), {});
  const registry = createModelRegistry(config);
  const prefs = (p: Partial<ProviderPreferences>): ProviderPreferences => ({ order: [], only: [], ignore: [], allowFallbacks: true, requireParameters: false, dataCollection: "allow", zdr: false, field: "provider", ...p });
  const call = (p: Partial<ProviderPreferences> | undefined, over: Partial<ChatCall> = {}): ChatCall => ({
    id: "req_1",
    model: "all",
    request: { messages: [{ role: "user", content: [{ type: "text", text: "hello" }] }] },
    routing: { fallbacks: [], noFallback: false, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false, ...(p ? { providers: prefs(p) } : {}) },
    tags: [],
    metadata: {},
    caller: { keyName: "k", team: "t", role: "service", allow: [] },
    stream: false,
    ...over,
  });
  const health = (h: Record<string, Partial<DeploymentHealth>> = {}): HealthSnapshot => ({ get: (d) => (h[d] ? { consecutiveFailures: 0, inFlight: 0, awaitingProbe: false, ...h[d] } : undefined), now: 1_000 });
  const planFor = (c: ChatCall, h = health()) => plan({ call: c, registry, health: h, rand: () => 0.5 });
  const ids = (p: ReturnType<typeof plan>) => p.candidates.map((c) => c.deployment.id);
  const why = (p: ReturnType<typeof plan>, id: string) => p.excluded.find((e) => e.deployment === id);

  test("without preferences the route's order stands", () => {
    assert.deepEqual(ids(planFor(call(undefined))), ["openai/gpt-4o", "claude/sonnet", "gemini/flash"]);
  });

  test("order puts the named providers first, by name, type or OpenRouter's slug, and the rest follow", () => {
    const p = planFor(call({ order: ["google-ai-studio", "Anthropic"] }));
    assert.deepEqual(ids(p), ["gemini/flash", "claude/sonnet", "openai/gpt-4o"]);
    assert.match(p.candidates[0].reason, /provider\.order 1$/);
    assert.match(p.candidates[1].reason, /provider\.order 2$/);
    assert.deepEqual(ids(planFor(call({ order: ["openai-us"] }))).slice(0, 1), ["openai/gpt-4o"], "by configured name");
  });

  test("only and ignore leave deployments out with the reason provider_preference", () => {
    const only = planFor(call({ only: ["gemini", "anthropic"] }));
    assert.deepEqual(ids(only), ["claude/sonnet", "gemini/flash"]);
    assert.deepEqual(why(only, "openai/gpt-4o"), { deployment: "openai/gpt-4o", reason: "provider_preference", detail: "provider openai-us is not in provider.only" });
    const ignore = planFor(call({ ignore: ["openai"] }));
    assert.deepEqual(ids(ignore), ["claude/sonnet", "gemini/flash"]);
    assert.equal(why(ignore, "openai/gpt-4o")?.detail, 'provider openai-us is in provider.ignore ("openai")');
  });

  test("a provider name that names nothing configured is a 400 naming the entry", () => {
    assert.throws(() => planFor(call({ only: ["gemini", "mistral"] })), (e: any) => e.code === "invalid_argument" && e.details.field === "provider.only[1]" && /no provider is named "mistral"/.test(e.message));
  });

  test("sort by price, latency or throughput reorders; never observed sorts last", () => {
    assert.deepEqual(ids(planFor(call({ sort: "price" }))), ["gemini/flash", "openai/gpt-4o", "claude/sonnet"]);
    const h = health({ "openai/gpt-4o": { latencyMs: 900, tokensPerSecond: 80 }, "claude/sonnet": { latencyMs: 300, tokensPerSecond: 40 } });
    const lat = planFor(call({ sort: "latency" }), h);
    assert.deepEqual(ids(lat), ["claude/sonnet", "openai/gpt-4o", "gemini/flash"]);
    assert.match(lat.candidates[0].reason, /sorted by latency: latency 300 ms$/);
    assert.match(lat.candidates[2].reason, /latency not observed yet$/);
    const tps = planFor(call({ sort: "throughput" }), h);
    assert.deepEqual(ids(tps), ["openai/gpt-4o", "claude/sonnet", "gemini/flash"]);
    assert.match(tps.candidates[0].reason, /80 tokens\/s$/);
  });

  test("order and sort reorder within each model, never a fallback ahead of the model asked for", () => {
    const p = planFor(call({ sort: "price" }, { model: "gpt-then-cheap" }));
    assert.deepEqual(ids(p), ["openai/gpt-4o", "claude/sonnet", "gemini/pro", "gemini/flash"]);
    const o = planFor(call({ order: ["gemini", "anthropic"] }, { model: "gpt-then-cheap", routing: { ...call(undefined).routing, fallbacks: ["gemini/flash"], providers: prefs({ order: ["gemini", "anthropic"] }) } }));
    assert.deepEqual(ids(o), ["claude/sonnet", "openai/gpt-4o", "gemini/flash", "gemini/pro"], "the request's fallback, then the route's");
  });

  test("allow_fallbacks: false keeps only the providers in order, or the first candidate's", () => {
    const p = planFor(call({ order: ["anthropic"], allowFallbacks: false }));
    assert.deepEqual(ids(p), ["claude/sonnet"]);
    assert.equal(why(p, "gemini/flash")?.detail, "provider gemini is not in provider.order and allow_fallbacks is false");
    const q = planFor(call({ sort: "price", allowFallbacks: false }));
    assert.deepEqual(ids(q), ["gemini/flash"]);
    assert.equal(why(q, "openai/gpt-4o")?.detail, "provider openai-us is not the first provider (gemini) and allow_fallbacks is false");
  });

  test("a cooling provider in order is still tried when nothing else may serve", () => {
    const h = health({ "claude/sonnet": { cooldownUntil: 5_000 } });
    assert.deepEqual(ids(planFor(call({ order: ["anthropic"], allowFallbacks: false }), h)), ["claude/sonnet"]);
  });

  test("data_collection: deny and zdr read the providers' data policies", () => {
    assert.deepEqual(ids(planFor(call({ dataCollection: "deny" }))), ["claude/sonnet", "gemini/flash"]);
    const z = planFor(call({ zdr: true }));
    assert.deepEqual(ids(z), ["claude/sonnet"]);
    assert.equal(why(z, "gemini/flash")?.detail, "provider gemini has no zero-retention data policy (provider.zdr)");
    assert.equal(why(planFor(call({ dataCollection: "deny" })), "openai/gpt-4o")?.detail, "provider openai-us may collect prompts (provider.data_collection: deny)");
  });

  test("max_price leaves out deployments priced above it (over_cost_cap)", () => {
    const p = planFor(call({ maxPrice: { prompt: 2.5 } }));
    assert.deepEqual(ids(p), ["openai/gpt-4o", "gemini/flash"]);
    assert.deepEqual(why(p, "claude/sonnet"), { deployment: "claude/sonnet", reason: "over_cost_cap", detail: "prompt $3 per million tokens > provider.max_price.prompt $2.5" });
    assert.deepEqual(ids(planFor(call({ maxPrice: { completion: 3 } }))), ["gemini/flash"]);
  });

  test("require_parameters leaves out deployments that would not be sent a parameter", () => {
    const c = call({ requireParameters: true });
    c.request = { ...c.request, seed: 7 };
    const p = planFor(c);
    assert.deepEqual(ids(p), ["openai/gpt-4o", "gemini/flash"]);
    assert.equal(why(p, "claude/sonnet")?.reason, "provider_preference");
    assert.match(why(p, "claude/sonnet")!.detail, /does not accept seed \(provider\.require_parameters\)/);
    c.routing.providers = undefined;
    assert.deepEqual(ids(planFor(c)), ["openai/gpt-4o", "claude/sonnet", "gemini/flash"], "without it, seed is dropped for Claude");
  });

  test("nothing left: the plan fails naming every exclusion", () => {
    assert.throws(() => planFor(call({ only: ["openai"], zdr: true })), (e: any) => e.code === "failed_precondition" && /openai\/gpt-4o: provider_preference \(provider openai-us has no zero-retention/.test(e.message));
  });

  test("data_policy in the configuration: zero retention cannot collect", () => {
    const bad = YAML().replace("data_policy: { zero_retention: true }", "data_policy: { zero_retention: true, collects: true }");
    assert.throws(() => buildConfig(parse(bad), {}), (e: any) => e instanceof ConfigError && /providers\[0\]\.data_policy\.collects/.test(e.message));
  });
});

describe("provider preferences: the gateway", () => {
  let claude: FakeAnthropic;
  let gpt: FakeOpenAI;
  let gemini: FakeGemini;
  let t: TestGateway;
  let openai: OpenAI;
  let health: HealthStore;
  before(async () => {
    [claude, gpt, gemini] = await Promise.all([startFakeAnthropic(), startFakeOpenAI(), startFakeGemini()]);
    health = createMemoryHealthStore();
    t = await startTestGateway(YAML(claude.url, gpt.url, gemini.url), { health });
    openai = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  after(async () => {
    await t.close();
    await Promise.all([claude.close(), gpt.close(), gemini.close()]);
  });
  beforeEach(() => {
    claude.reset();
    gpt.reset();
    gemini.reset();
  });
  const generations = (f: { requests: { path: string }[] }) => f.requests.filter((r) => !/\/models$/.test(r.path)).length;
  const lastRecord = () => t.usage.recent().at(-1)!;

  test("chat: order sends the request to the provider named first; nothing reaches the others", async () => {
    claude.script({ kind: "text", text: "from claude", usage: { input: 10, output: 3 } });
    const { data, response } = await openai.chat.completions
      .create({ model: "all", messages: [{ role: "user", content: "hi" }], provider: { order: ["anthropic"] } } as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .withResponse();
    assert.equal(data.choices[0].message.content, "from claude");
    assert.equal(response.headers.get("x-signalbox-deployment"), "claude/sonnet");
    assert.equal(generations(gpt), 0);
    assert.equal(generations(gemini), 0);
  });

  test("chat streamed: sort by price tries the cheapest, then the next cheapest, and records both attempts", async () => {
    gemini.script({ kind: "error", error: "unavailable" } as never);
    gpt.script({ kind: "text", text: ["from ", "gpt"], usage: { input: 10, output: 2 } });
    const stream = await openai.chat.completions.create({ model: "all", stream: true, messages: [{ role: "user", content: "hi" }], provider: { sort: "price" } } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    assert.equal(text, "from gpt");
    const rec = lastRecord();
    assert.deepEqual(rec.attempts.map((a) => [a.deployment, a.outcome]), [["gemini/flash", "failed"], ["openai/gpt-4o", "succeeded"]]);
    assert.equal(generations(claude), 0);
  });

  test("sort by throughput reads what the gateway measured: output tokens a second after the first token", async () => {
    // Claude streams 40 tokens over ~200 ms after its first; GPT streams 40 at once.
    claude.script({ kind: "text", text: Array.from({ length: 5 }, (_, i) => `c${i} `), usage: { input: 10, output: 40 }, chunkDelayMs: 50 });
    gpt.script({ kind: "text", text: ["g0 ", "g1"], usage: { input: 10, output: 40 } });
    for (const order of ["anthropic", "openai"]) {
      const s = await openai.chat.completions.create({ model: "all", stream: true, messages: [{ role: "user", content: "hi" }], provider: { order: [order], allow_fallbacks: false } } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
      for await (const _ of s);
    }
    const snap = health.snapshot();
    const slow = snap.get("claude/sonnet")?.tokensPerSecond;
    const fast = snap.get("openai/gpt-4o")?.tokensPerSecond;
    assert.ok(slow !== undefined && fast !== undefined && fast > slow, `gpt ${fast} tokens/s > claude ${slow}`);
    gemini.script({ kind: "text", text: "from gemini", usage: { input: 10, output: 2 } });
    const r = await openai.chat.completions.create({ model: "all", messages: [{ role: "user", content: "hi" }], provider: { sort: "throughput" } } as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
    assert.equal(r.response.headers.get("x-signalbox-deployment"), "openai/gpt-4o");
    assert.equal(generations(gemini), 0, "never observed: last");
  });

  test("OpenRouter's model shortcuts: :floor sorts by price, :nitro by throughput, with the other preferences; a conflicting sort is a 400", async () => {
    const ask = (model: string, extra: Record<string, unknown> = {}) =>
      openai.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
    const floor = await ask("all:floor");
    assert.equal(floor.response.headers.get("x-signalbox-deployment"), "gemini/flash");
    assert.equal(lastRecord().model, "all", "recorded under the route's own name");
    const floorNoGemini = await ask("all:floor", { provider: { ignore: ["gemini"] } });
    assert.equal(floorNoGemini.response.headers.get("x-signalbox-deployment"), "openai/gpt-4o", "next cheapest");
    // Throughput as measured by the test before: GPT fastest, Gemini never observed.
    const nitro = await ask("all:nitro");
    assert.equal(nitro.response.headers.get("x-signalbox-deployment"), "openai/gpt-4o");
    const legacy = await openai.completions.create({ model: "all:floor", prompt: "hi" } as OpenAI.CompletionCreateParamsNonStreaming).withResponse();
    assert.equal(legacy.response.headers.get("x-signalbox-deployment"), "gemini/flash");
    const sent = generations(gpt) + generations(claude) + generations(gemini);
    await assert.rejects(ask("all:floor", { provider: { sort: "throughput" } }), (e: any) => e.status === 400 && e.param === "model" && /:floor shortcut sorts providers by price, and provider\.sort says throughput/.test(e.message));
    await assert.rejects(ask("all:online"), (e: any) => e.status === 404 || e.status === 400);
    assert.equal(generations(gpt) + generations(claude) + generations(gemini), sent, "nothing refused reached a provider");
  });

  test("chat: allow_fallbacks false with the only allowed provider failing is the provider's error; no other provider is called", async () => {
    claude.script({ kind: "error", error: "overloaded_error" } as never);
    await assert.rejects(
      openai.chat.completions.create({ model: "all", messages: [{ role: "user", content: "hi" }], provider: { order: ["anthropic"], allow_fallbacks: false } } as OpenAI.ChatCompletionCreateParamsNonStreaming),
      (e: any) => e.status >= 500,
    );
    assert.equal(generations(gpt), 0);
    assert.equal(generations(gemini), 0);
  });

  test("chat: ignore, data_collection and max_price (in the SDKs' string form) filter; a provider never named is not called", async () => {
    const r1 = await openai.chat.completions.create({ model: "all", messages: [{ role: "user", content: "hi" }], provider: { ignore: ["openai"], data_collection: "deny" } } as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
    assert.equal(r1.response.headers.get("x-signalbox-deployment"), "claude/sonnet");
    const r2 = await openai.chat.completions.create({ model: "all", messages: [{ role: "user", content: "hi" }], provider: { max_price: { prompt: "1", completion: 5 } } } as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
    assert.equal(r2.response.headers.get("x-signalbox-deployment"), "gemini/flash");
    assert.equal(generations(gpt), 0);
  });

  test("legacy completions and the Responses API take provider too", async () => {
    const c = await openai.completions.create({ model: "all", prompt: "hi", provider: { only: ["gemini"] } } as OpenAI.CompletionCreateParamsNonStreaming).withResponse();
    assert.equal(c.response.headers.get("x-signalbox-deployment"), "gemini/flash");
    const r = await openai.responses.create({ model: "all", input: "hi", provider: { order: ["anthropic"] } } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    assert.equal((r as any).signalbox?.deployment ?? lastRecord().deployment, "claude/sonnet");
    assert.equal(generations(gpt), 0);
  });

  test("the signalbox object's providers is the same; both at once is a 400", async () => {
    const r = await openai.chat.completions.create({ model: "all", messages: [{ role: "user", content: "hi" }], signalbox: { providers: { only: ["anthropic"] } } } as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
    assert.equal(r.response.headers.get("x-signalbox-deployment"), "claude/sonnet");
    await assert.rejects(
      openai.chat.completions.create({ model: "all", messages: [{ role: "user", content: "hi" }], provider: { only: ["gemini"] }, signalbox: { providers: { only: ["anthropic"] } } } as OpenAI.ChatCompletionCreateParamsNonStreaming),
      (e: any) => e.status === 400 && e.param === "provider",
    );
  });

  test("bad preferences are 400s naming the field, and nothing reaches a provider", async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ only: ["mistral"] }, "provider.only[0]", /no provider is named "mistral"/],
      [{ sort: "speed" }, "provider.sort", /price, throughput or latency/],
      [{ quantizations: ["int4"] }, "provider.quantizations", /quantization/],
      [{ max_price: { prompt: -1 } }, "provider.max_price.prompt", /0 or more/],
      [{ max_price: { tokens: 1 } }, "provider.max_price.tokens", /prompt, completion, request, image/],
      [{ data_collection: "maybe" }, "provider.data_collection", /allow or deny/],
      [{ prefer: ["x"] }, "provider.prefer", /not a provider preference/],
    ];
    for (const [provider, param, message] of cases) {
      await assert.rejects(
        openai.chat.completions.create({ model: "all", messages: [{ role: "user", content: "hi" }], provider } as OpenAI.ChatCompletionCreateParamsNonStreaming),
        (e: any) => e.status === 400 && e.param === param && message.test(e.message),
        param,
      );
    }
    assert.equal(generations(gpt) + generations(claude) + generations(gemini), 0);
  });

  test("Connect: Route explains the exclusions and Complete follows the same plan", async () => {
    const sb = createSignalboxClient({ baseUrl: t.url, apiKey: KEY });
    const req = {
      model: "all",
      messages: [userText("hi")],
      routing: { providers: { order: ["gemini"], ignore: ["openai"], sort: ProviderSort.PRICE, dataCollection: DataCollection.ALLOW } },
    };
    const route = await sb.route.route(req as never);
    assert.deepEqual(route.candidates.map((c) => c.deployment), ["gemini/flash", "claude/sonnet"]);
    assert.match(route.candidates[0].reason, /routing\.providers\.order 1, sorted by price/);
    const ex = route.excluded.find((e) => e.deployment === "openai/gpt-4o");
    assert.equal(ex?.reason, ExclusionReason.PROVIDER_PREFERENCE);
    assert.equal(ex?.detail, 'provider openai-us is in routing.providers.ignore ("openai")');
    const res = await sb.chat.complete(req as never);
    assert.equal(res.deployment, "gemini/flash");
    await assert.rejects(sb.chat.complete({ ...req, routing: { providers: { only: ["nobody"] } } } as never), (e: any) => /routing\.providers\.only\[0\]/.test(e.message));
  });
});
