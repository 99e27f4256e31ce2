// Traffic mirroring (src/engine/mirror.ts): a route's `mirror` sends a share of its requests again,
// once each has ended, to a candidate: here a route on OpenAI (a fake over HTTP) mirrored to Claude
// (a fake Anthropic over HTTP, so the copy leaves in Anthropic's wire format). The caller gets the
// route's answer only; the mirror's usage record is tagged `mirror`, names the request it copies and
// carries the comparison; the caller's rate limit does not count mirrors; a prompt an input
// guardrail blocks is not mirrored, one it redacts is mirrored redacted; a failure on either side is
// compared too; UsageService.GetMirrorReport sums it up (scoped to the caller), the metrics count
// it, and the mirror's span is a trace of its own linked to the request's.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import OpenAI from "openai";
import { parse } from "yaml";
import { Code, createSignalboxClient, SignalboxError, streamText, userText } from "@signalbox/client";
import { buildConfig } from "../../src/config/load.ts";
import { wordSimilarity } from "../../src/engine/mirror.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { fakeEmbedding } from "../fakes/common.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["mirror", "caller", "secret"].join("-");
const OTHER = ["mirror", "other", "secret"].join("-");
const ADMIN = ["mirror", "admin", "secret"].join("-");
const LIMITED = ["mirror", "limited", "secret"].join("-");

const config = (openai: string, anthropic: string) => `
providers:
  - { name: openai, type: openai, base_url: ${openai}, api_key: ${OPENAI_TEST_KEY}, data_policy: { collects: false } }
  - { name: anthropic, type: anthropic, base_url: "${anthropic}", api_key: ${ANTHROPIC_TEST_KEY} }
deployments:
  - { id: openai/gpt-4o-mini, provider: openai, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
  - { id: anthropic/claude, provider: anthropic, model: claude-haiku-4-5, pricing: { input: 1, output: 5 } }
  - { id: openai/embed, provider: openai, model: text-embedding-3-small, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
  - { id: openai/judge, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
guardrails:
  - { name: pii, kind: pii, action: redact, stage: input, pii: { categories: [email] } }
  - { name: no-secrets, kind: deny, action: block, stage: input, deny: { words: [topsecret] } }
routes:
  - name: chat
    targets: [openai/gpt-4o-mini]
    retry: { max_retries: 0 }
    mirror: { target: anthropic/claude }
  - name: guarded
    targets: [openai/gpt-4o-mini]
    guardrails: [pii, no-secrets]
    mirror: { target: anthropic/claude }
  - name: never
    targets: [openai/gpt-4o-mini]
    mirror: { target: anthropic/claude, percent: 0 }
  - name: one-at-a-time
    targets: [openai/gpt-4o-mini]
    mirror: { target: anthropic/claude, max_in_flight: 1 }
  - name: judged
    targets: [openai/gpt-4o-mini]
    mirror: { target: anthropic/claude, judge: openai/judge }
  - name: meaning
    targets: [openai/gpt-4o-mini]
    mirror: { target: anthropic/claude, embedding: openai/embed }
  - name: strict-judge
    targets: [openai/gpt-4o-mini]
    mirror: { target: openai/gpt-4o-mini, judge: anthropic/claude }
  - name: product-only
    targets: [openai/gpt-4o-mini]
    mirror: { target: anthropic/claude, when: { team: [product], metadata.mirror: ["*"] } }
keys:
  - { name: caller, hash: "${hashKey(KEY)}", team: product }
  - { name: other, hash: "${hashKey(OTHER)}", team: elsewhere }
  - { name: limited, hash: "${hashKey(LIMITED)}", team: product, limits: { requests_per_minute: 4 } }
  - { name: admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
`;

type AnthropicBody = { model: string; stream?: boolean; messages: { role: string; content: string | { type: string; text: string }[] }[] };
const anthropicText = (b: AnthropicBody) => b.messages.map((m) => (typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join(""))).join("\n");

describe("traffic mirroring", () => {
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let g: TestGateway;
  let exporter: InMemorySpanExporter;
  const sdk = (key = KEY) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: key, maxRetries: 0 });
  const client = (key = KEY) => createSignalboxClient({ baseUrl: g.url, apiKey: key });
  const records = () => g.usage.recent();
  const mirrorsOf = (id: string) => records().filter((r) => r.metadata["signalbox.mirror_of"] === id);
  async function mirrorOf(id: string): Promise<UsageRecord> {
    for (let i = 0; i < 300; i++) {
      const m = mirrorsOf(id);
      if (m.length && g.gw.engine.mirrors.running() === 0) return m[0];
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no mirror of ${id}`);
  }
  const settled = async () => {
    for (let i = 0; i < 300 && g.gw.engine.mirrors.running() > 0; i++) await new Promise((r) => setTimeout(r, 10));
  };

  before(async () => {
    openai = await startFakeOpenAI();
    anthropic = await startFakeAnthropic();
    exporter = new InMemorySpanExporter();
    g = await startTestGateway(config(openai.url, anthropic.url), { tracing: startTracing({ processor: new SimpleSpanProcessor({ exporter }) })! });
  });
  after(async () => {
    await g.close();
    await openai.close();
    await anthropic.close();
  });
  beforeEach(async () => {
    await settled();
    openai.reset();
    anthropic.reset();
  });

  test("the caller gets the route's answer; the same prompt goes to the candidate afterwards, in its own wire format; the mirror's record names the request it copies and compares the two", async () => {
    openai.script({ kind: "text", text: "Paris is the capital of France." });
    anthropic.script({ kind: "text", text: "The capital of France is Paris, of course." });
    const { data, response } = await sdk()
      .chat.completions.create({ model: "chat", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "What is the capital of France?" }] })
      .withResponse();
    assert.equal(data.choices[0].message.content, "Paris is the capital of France.");
    const id = response.headers.get("x-request-id")!;
    const m = await mirrorOf(id);
    // The candidate was asked the same thing, by the gateway, in Anthropic's format.
    assert.equal(anthropic.requests.length, 1);
    const sent = anthropic.requests[0].body as AnthropicBody & { system?: unknown };
    assert.equal(sent.model, "claude-haiku-4-5");
    assert.match(anthropicText(sent), /What is the capital of France\?/);
    assert.match(JSON.stringify(sent.system), /Be brief\./);
    assert.equal(sent.stream, undefined);
    // Its record: the caller's key and team, tagged, linked, with both sides.
    assert.equal(m.key, "caller");
    assert.equal(m.team, "product");
    assert.equal(m.model, "anthropic/claude");
    assert.equal(m.deployment, "anthropic/claude");
    assert.equal(m.status, "ok");
    assert.ok(m.tags.includes("mirror"));
    assert.ok(m.cost.total > 0);
    assert.equal(m.metadata["signalbox.mirror.route"], "chat");
    assert.equal(m.metadata["signalbox.mirror.primary_status"], "ok");
    assert.equal(m.metadata["signalbox.mirror.primary_deployment"], "openai/gpt-4o-mini");
    const primary = records().find((r) => r.id === id)!;
    assert.equal(m.metadata["signalbox.mirror.primary_output_tokens"], String(primary.usage.outputTokens));
    assert.equal(m.metadata["signalbox.mirror.primary_cost_nano_usd"], String(primary.cost.total));
    assert.equal(m.metadata["signalbox.mirror.primary_latency_ms"], String(primary.latencyMs));
    const sim = wordSimilarity("Paris is the capital of France.", "The capital of France is Paris, of course.");
    assert.ok(sim > 0.7 && sim < 1, String(sim));
    assert.equal(m.metadata["signalbox.mirror.similarity"], sim.toFixed(3));
    // The route's own record is untouched by its mirror, and its trace is its own.
    assert.ok(!primary.tags.includes("mirror"));
    assert.notEqual(m.traceId, primary.traceId);
    // The mirror's span: the root of its own trace, linked to the request's span.
    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === "mirror anthropic/claude" && s.attributes["signalbox.mirror.of"] === id)!;
    assert.ok(root, "a mirror span");
    assert.equal(root.parentSpanContext, undefined);
    assert.equal(root.spanContext().traceId, m.traceId);
    assert.equal(root.links[0]?.context.traceId, primary.traceId);
    assert.equal(root.attributes["signalbox.mirror.similarity"], sim);
    const attempt = spans.find((s) => s.spanContext().traceId === m.traceId && s.kind === SpanKind.CLIENT);
    assert.equal(attempt?.attributes["signalbox.deployment"], "anthropic/claude");
  });

  test("mirrors do not count against the caller's rate limit (4 a minute: 4 requests and their 4 mirrors pass)", async () => {
    const c = client(LIMITED);
    for (let i = 0; i < 3; i++) {
      const a = await c.chat.complete({ model: "chat", messages: [userText(`question ${i}`)] });
      await mirrorOf(a.id);
    }
    // The caller's fourth request: three of its own before it, three mirrors not counted.
    const fourth = await c.chat.complete({ model: "chat", messages: [userText("question 3")] });
    await mirrorOf(fourth.id);
    assert.equal(anthropic.requests.length, 4);
    // The fifth is the caller's own fifth: refused, and not mirrored.
    const refused = await c.chat.complete({ model: "chat", messages: [userText("question 4")] }).catch((e: unknown) => e);
    assert.ok(refused instanceof SignalboxError && refused.code === Code.ResourceExhausted, String(refused));
    await settled();
    assert.equal(anthropic.requests.length, 4);
  });

  test("a stream is mirrored as a stream: the caller's events are the route's; the mirror's time to first token is recorded", async () => {
    openai.script({ kind: "text", text: ["Streams ", "flow ", "in ", "pieces."] });
    anthropic.script({ kind: "text", text: ["Streams ", "arrive ", "piece by piece."] });
    const s = await streamText(client(["mirror", "admin", "secret"].join("-")).chat, { model: "chat", messages: [userText("How do streams work?")] }).result;
    assert.equal(s.text, "Streams flow in pieces.");
    const m = await mirrorOf(s.start.id);
    assert.equal((anthropic.requests[0].body as AnthropicBody).stream, true);
    assert.equal(m.streamed, true);
    assert.ok(m.ttftMs !== undefined);
    assert.equal(m.metadata["signalbox.mirror.similarity"], wordSimilarity("Streams flow in pieces.", "Streams arrive piece by piece.").toFixed(3));
  });

  test("an input guardrail's block is not mirrored; its redaction is mirrored redacted", async () => {
    const blocked = await sdk(ADMIN)
      .chat.completions.create({ model: "guarded", messages: [{ role: "user", content: "the topsecret plan" }] })
      .catch((e: unknown) => e);
    assert.ok(blocked instanceof OpenAI.APIError && blocked.status === 400, String(blocked));
    await settled();
    assert.equal(anthropic.requests.length, 0);
    assert.equal(openai.requests.length, 0);

    const { response } = await sdk(ADMIN)
      .chat.completions.create({ model: "guarded", messages: [{ role: "user", content: "Write to jane.doe@example.com about the launch" }] })
      .withResponse();
    await mirrorOf(response.headers.get("x-request-id")!);
    const text = anthropicText(anthropic.requests[0].body as AnthropicBody);
    assert.doesNotMatch(text, /jane\.doe@example\.com/);
    assert.match(text, /about the launch/);
  });

  test("failures are compared too: the route failed and the mirror answered, or the other way round", async () => {
    openai.script({ kind: "error", error: "server_error" });
    const failed = await sdk(ADMIN)
      .chat.completions.create({ model: "chat", messages: [{ role: "user", content: "Will the candidate answer?" }] })
      .withResponse()
      .catch((e: unknown) => e);
    assert.ok(failed instanceof OpenAI.APIError, String(failed));
    const failedId = (failed as InstanceType<typeof OpenAI.APIError>).headers?.get("x-request-id") ?? "";
    assert.ok(failedId);
    const rescued = await mirrorOf(failedId);
    assert.equal(rescued.status, "ok");
    assert.notEqual(rescued.metadata["signalbox.mirror.primary_status"], "ok");
    assert.equal(rescued.metadata["signalbox.mirror.similarity"], undefined);

    // Overloaded on the attempt and on its retry.
    anthropic.script([{ kind: "error", error: "overloaded_error" }, { kind: "error", error: "overloaded_error" }]);
    const { response } = await sdk(ADMIN).chat.completions.create({ model: "chat", messages: [{ role: "user", content: "Will the candidate fail?" }] }).withResponse();
    const down = await mirrorOf(response.headers.get("x-request-id")!);
    assert.notEqual(down.status, "ok");
    assert.equal(down.metadata["signalbox.mirror.primary_status"], "ok");
  });

  test("percent 0 mirrors nothing; beyond max_in_flight a request is not mirrored and counted as skipped", async () => {
    const { response } = await sdk(ADMIN).chat.completions.create({ model: "never", messages: [{ role: "user", content: "hi" }] }).withResponse();
    await settled();
    assert.equal(mirrorsOf(response.headers.get("x-request-id")!).length, 0);
    assert.equal(anthropic.requests.length, 0);

    // The first mirror is held upstream: the next two requests find the route's one slot taken.
    anthropic.script({ kind: "text", text: "slow", delayMs: 400 } as never);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { response: r } = await sdk(ADMIN).chat.completions.create({ model: "one-at-a-time", messages: [{ role: "user", content: `n ${i}` }] }).withResponse();
      ids.push(r.headers.get("x-request-id")!);
    }
    await settled();
    assert.deepEqual(ids.map((id) => mirrorsOf(id).length), [1, 0, 0]);
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    assert.match(metrics, /signalbox_mirror_requests_total\{route="one-at-a-time",target="anthropic\/claude",outcome="skipped"\} 2/);
    assert.match(metrics, /signalbox_mirror_requests_total\{route="chat",target="anthropic\/claude",outcome="ok"\} \d+/);
    assert.match(metrics, /signalbox_mirror_similarity_bucket\{route="chat",target="anthropic\/claude",le="1"\} \d+/);
  });

  test("governance: only requests matching mirror.when are copied; a request's data policy goes with its copy", async () => {
    const ask = async (key: string, metadata?: Record<string, string>, model = "product-only", extra: Record<string, unknown> = {}) => {
      const { response } = await sdk(key)
        .chat.completions.create({ model, messages: [{ role: "user", content: "governed" }], ...(metadata ? { metadata } : {}), ...extra } as never)
        .withResponse();
      await settled();
      return response.headers.get("x-request-id")!;
    };
    // The platform team is not the product team; the product team without the metadata is not matched either.
    assert.equal(mirrorsOf(await ask(ADMIN, { mirror: "yes" })).length, 0);
    assert.equal(mirrorsOf(await ask(KEY)).length, 0);
    assert.equal(anthropic.requests.length, 0);
    assert.equal(mirrorsOf(await ask(KEY, { mirror: "yes" })).length, 1);
    assert.equal(anthropic.requests.length, 1);
    // A request that forbids data collection: its copy may go only to a provider that promises not to
    // collect, and the candidate (no data_policy) does not: the copy fails, nothing is sent to it.
    anthropic.reset();
    const id = await ask(ADMIN, undefined, "chat", { provider: { data_collection: "deny" } });
    const m = await mirrorOf(id);
    assert.notEqual(m.status, "ok");
    assert.equal(anthropic.requests.length, 0);
    // The same for the judge, which reads both answers: a collecting provider's judge is not asked.
    openai.reset();
    openai.script([{ kind: "text", text: "Route says." }, { kind: "text", text: "Mirror says." }]);
    const judged = await mirrorOf(await ask(ADMIN, undefined, "strict-judge", { provider: { data_collection: "deny" } }));
    assert.equal(judged.status, "ok");
    assert.equal(judged.metadata["signalbox.mirror.verdict"], "failed");
    assert.equal(anthropic.requests.length, 0);
  });

  test("with mirror.embedding, the answers' meanings are compared too: one embeddings request of both, outside the caller's limits", async () => {
    const routeText = "The meeting moved to Thursday afternoon.";
    const mirrorText = "We now meet on Thursday, after lunch.";
    openai.script({ kind: "text", text: routeText });
    anthropic.script({ kind: "text", text: mirrorText });
    const a = await client(ADMIN).chat.complete({ model: "meaning", messages: [userText("When is the meeting?")] });
    const m = await mirrorOf(a.id);
    const embeds = openai.requests.filter((r) => r.path.endsWith("/embeddings"));
    assert.equal(embeds.length, 1);
    assert.deepEqual((embeds[0].body as { input: string[] }).input, [routeText, mirrorText]);
    const [x, y] = [fakeEmbedding(routeText, 1536), fakeEmbedding(mirrorText, 1536)];
    const dot = x.reduce((t, v, i) => t + v * y[i], 0) / Math.sqrt(x.reduce((t, v) => t + v * v, 0) * y.reduce((t, v) => t + v * v, 0));
    assert.equal(m.metadata["signalbox.mirror.semantic_similarity"], dot.toFixed(3));
    // Its own record: the caller's, tagged mirror, naming the mirror whose answers it embedded.
    const e = records().find((r) => r.metadata["signalbox.mirror.embedding_of"] === m.id)!;
    assert.deepEqual([e.operation, e.model, e.key, e.tags], ["embeddings", "openai/embed", "admin", ["mirror"]]);
    const r = await client(ADMIN).usage.getMirrorReport({ route: "meaning" });
    assert.equal(Number(r.summaries[0].semanticCompared), 1);
    assert.ok(Math.abs(r.summaries[0].meanSemanticSimilarity - Number(dot.toFixed(3))) < 1e-3);
    assert.ok(Math.abs((r.summaries[0].leastAlike[0].semanticSimilarity ?? NaN) - Number(dot.toFixed(3))) < 1e-3);
    assert.match(await (await fetch(`${g.url}/metrics`)).text(), /signalbox_mirror_semantic_similarity_count\{route="meaning",target="anthropic\/claude"\} 1/);
  });

  test("a judge reads the question and both answers, in a drawn order, and its verdict goes in the mirror's record and the report", async (t) => {
    const admin = client(ADMIN);
    const ask = async (draw: number, routeText: string, mirrorText: string, judgeSays: string) => {
      openai.reset();
      anthropic.reset();
      openai.script([{ kind: "text", text: routeText }, { kind: "text", text: judgeSays }]);
      anthropic.script({ kind: "text", text: mirrorText });
      const random = t.mock.method(Math, "random", () => draw);
      try {
        const a = await admin.chat.complete({ model: "judged", messages: [userText("Name three primary colours.")] });
        assert.equal((a.message?.content ?? []).map((p) => (p.part.case === "text" ? p.part.value : "")).join(""), routeText);
        const m = await mirrorOf(a.id);
        return { a, m, judgeBody: openai.requests[1]?.body as { model: string; temperature?: number; messages: { role: string; content: string }[] } };
      } finally {
        random.mock.restore();
      }
    };
    // Drawn 0.1: the mirror's answer is answer 1; the judge prefers answer 1: the mirror is better.
    const first = await ask(0.1, "Red.", "Red, yellow and blue.", 'Sure: {"better": "1", "reason": "Answer 1 names all three."}');
    assert.equal(first.judgeBody.model, "gpt-4o");
    assert.equal(first.judgeBody.temperature, 0);
    const input = first.judgeBody.messages.map((x) => (typeof x.content === "string" ? x.content : JSON.stringify(x.content))).join("\n");
    assert.match(input, /Name three primary colours\./);
    assert.ok(input.indexOf("Red, yellow and blue.") < input.indexOf("<answer_2>") && input.lastIndexOf("Red.") > input.indexOf("<answer_2>"), input);
    assert.equal(first.m.metadata["signalbox.mirror.verdict"], "mirror");
    assert.equal(first.m.metadata["signalbox.mirror.verdict_reason"], "Answer 1 names all three.");
    // The judge's own record: the caller's, tagged mirror, naming the mirror it judged.
    const judgeRecord = records().find((x) => x.metadata["signalbox.mirror.judge_of"] === first.m.id)!;
    assert.deepEqual([judgeRecord.model, judgeRecord.key, judgeRecord.tags, judgeRecord.status], ["openai/judge", "admin", ["mirror"], "ok"]);
    assert.equal(judgeRecord.traceId, first.m.traceId);

    // Drawn 0.9: the route's answer is answer 1; the judge prefers answer 1 again: the route is better.
    const second = await ask(0.9, "Red, yellow and blue.", "Green.", '{"better":"1","reason":"The other is wrong."}');
    assert.equal(second.m.metadata["signalbox.mirror.verdict"], "route");
    // No verdict in the judge's answer: "failed", the mirror's record still written.
    const third = await ask(0.9, "Red, blue, yellow.", "Blue, red, yellow.", "I cannot decide.");
    assert.equal(third.m.metadata["signalbox.mirror.verdict"], "failed");
    assert.equal(third.m.status, "ok");

    const r = await admin.usage.getMirrorReport({ route: "judged" });
    const s = r.summaries[0];
    assert.deepEqual([Number(s.count), Number(s.judged), Number(s.mirrorBetter), Number(s.routeBetter), Number(s.ties)], [3, 3, 1, 1, 0]);
    assert.deepEqual(s.routeBetterPairs.map((p) => [p.requestId, p.verdict, p.verdictReason]), [[second.a.id, "route", "The other is wrong."]]);
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    for (const v of ["mirror", "route", "failed"]) assert.match(metrics, new RegExp(`signalbox_mirror_verdicts_total\\{route="judged",target="anthropic/claude",verdict="${v}"\\} 1`));
  });

  test("GetMirrorReport: both sides by route and target, how alike, the least alike pairs first; scoped to the caller", async () => {
    const admin = client(ADMIN);
    openai.script([{ kind: "text", text: "alpha beta gamma" }, { kind: "text", text: "one two three" }]);
    anthropic.script([{ kind: "text", text: "alpha beta gamma" }, { kind: "text", text: "four five six" }]);
    const a = await admin.chat.complete({ model: "chat", messages: [userText("first")] });
    await mirrorOf(a.id);
    const b = await admin.chat.complete({ model: "chat", messages: [userText("second")] });
    const mb = await mirrorOf(b.id);

    const r = await admin.usage.getMirrorReport({ route: "chat", leastAlike: 2 });
    assert.equal(r.truncated, false);
    assert.equal(r.summaries.length, 1);
    const s = r.summaries[0];
    assert.equal(s.route, "chat");
    assert.equal(s.target, "anthropic/claude");
    const all = records().filter((x) => x.metadata["signalbox.mirror.route"] === "chat");
    assert.equal(Number(s.count), all.length);
    assert.equal(Number(r.recordsRead), all.length);
    assert.equal(Number(s.mirror!.ok), all.filter((x) => x.status === "ok").length);
    assert.equal(Number(s.primary!.ok), all.filter((x) => x.metadata["signalbox.mirror.primary_status"] === "ok").length);
    assert.equal(Number(s.mirrorAnsweredOnly), all.filter((x) => x.status === "ok" && x.metadata["signalbox.mirror.primary_status"] !== "ok").length);
    assert.equal(Number(s.mirrorFailedOnly), all.filter((x) => x.status !== "ok" && x.metadata["signalbox.mirror.primary_status"] === "ok").length);
    assert.equal(Number(s.mirrorAnsweredOnly), 1);
    assert.equal(Number(s.mirrorFailedOnly), 2);
    assert.equal(Number(s.mirror!.costNanoUsd), all.reduce((t, x) => t + x.cost.total, 0));
    assert.ok(Number(s.primary!.deployments["openai/gpt-4o-mini"]) >= 2);
    const sims = all.flatMap((x) => (x.metadata["signalbox.mirror.similarity"] ? [Number(x.metadata["signalbox.mirror.similarity"])] : []));
    assert.equal(Number(s.compared), sims.length);
    assert.ok(Math.abs(s.meanSimilarity - sims.reduce((t, v) => t + v, 0) / sims.length) < 1e-3);
    // The least alike first: "one two three" against "four five six" shares no word.
    assert.equal(s.leastAlike.length, 2);
    assert.deepEqual([s.leastAlike[0].requestId, s.leastAlike[0].mirrorRequestId, s.leastAlike[0].similarity, s.leastAlike[0].mirrorTraceId], [b.id, mb.id, 0, mb.traceId]);
    assert.ok(s.leastAlike[0].similarity <= s.leastAlike[1].similarity);

    // Every route's; another team sees none of them; the caller's own team sees its own only.
    const every = await admin.usage.getMirrorReport({});
    assert.ok(every.summaries.some((x) => x.route === "guarded"));
    const other = await client(OTHER).usage.getMirrorReport({});
    assert.equal(other.summaries.length, 0);
    const own = await client().usage.getMirrorReport({});
    assert.equal(Number(own.summaries.find((x) => x.route === "chat")?.count), records().filter((x) => x.key === "caller" && x.metadata["signalbox.mirror.route"] === "chat").length);
    // ListModels says which routes mirror, to what.
    const models = await admin.route.listModels({});
    assert.deepEqual(
      models.routes.filter((x) => x.mirror).map((x) => [x.name, x.mirror!.target, x.mirror!.percent, x.mirror!.maxInFlight]),
      [
        ["chat", "anthropic/claude", 100, 16],
        ["guarded", "anthropic/claude", 100, 16],
        ["never", "anthropic/claude", 0, 16],
        ["one-at-a-time", "anthropic/claude", 100, 1],
        ["judged", "anthropic/claude", 100, 16],
        ["meaning", "anthropic/claude", 100, 16],
        ["strict-judge", "openai/gpt-4o-mini", 100, 16],
        ["product-only", "anthropic/claude", 100, 16],
      ],
    );
    const bad = await admin.usage.getMirrorReport({ leastAlike: 51 }).catch((e: unknown) => e);
    assert.ok(bad instanceof SignalboxError && bad.code === Code.InvalidArgument && bad.field === "least_alike", String(bad));
  });
});

describe("mirror configuration and shutdown", () => {
  const base = `
providers: [{ name: mock, type: mock }]
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: mock/embed, provider: mock, model: mock-embed, operations: [embeddings], pricing: { input: 1, output: 0 } }
routes:
`;
  const load = (route: string) => () => buildConfig(parse(`${base}  - ${route}\n`), {});
  test("a target must exist, serve chat and not be the route itself; percent and max_in_flight are bounded", () => {
    assert.throws(load("{ name: r, targets: [mock/a], mirror: { target: mock/nope } }"), /routes\[0\]\.mirror\.target: unknown route, alias or deployment "mock\/nope"/);
    assert.throws(load("{ name: r, targets: [mock/a], mirror: { target: r } }"), /routes\[0\]\.mirror\.target: a route cannot mirror its requests to itself/);
    assert.throws(load("{ name: r, targets: [mock/a], mirror: { target: mock/embed } }"), /routes\[0\]\.mirror\.target: deployment "mock\/embed" does not serve chat/);
    assert.throws(load("{ name: r, targets: [mock/a], mirror: { target: mock/a, percent: 101 } }"), /routes\[0\]\.mirror\.percent/);
    assert.throws(load("{ name: r, targets: [mock/a], mirror: { target: mock/a, max_in_flight: 0 } }"), /routes\[0\]\.mirror\.max_in_flight/);
    assert.throws(load("{ name: r, targets: [mock/a], mirror: {} }"), /routes\[0\]\.mirror\.target/);
    assert.throws(load("{ name: r, targets: [mock/a], mirror: { target: mock/a, when: { colour: red } } }"), /routes\[0\]\.mirror\.when\.colour: unknown field/);
    assert.throws(load("{ name: r, targets: [mock/a], mirror: { target: mock/a, embedding: mock/a } }"), /routes\[0\]\.mirror\.embedding: deployment "mock\/a" does not serve embeddings/);
    assert.throws(load("{ name: r, targets: [mock/a], mirror: { target: mock/a, judge: nobody } }"), /routes\[0\]\.mirror\.judge: unknown route, alias or deployment "nobody"/);
    assert.throws(load("{ name: r, targets: [mock/a], mirror: { target: mock/a, judge: mock/embed } }"), /routes\[0\]\.mirror\.judge: deployment "mock\/embed" does not serve chat/);
    const ok = load("{ name: r, targets: [mock/a], mirror: { target: mock/a } }")();
    assert.deepEqual(ok.routes[0].mirror, { target: "mock/a", percent: 100, maxInFlight: 16 });
  });

  test("a gateway that stops cuts its mirrors off and records them (canceled), nothing lost", async () => {
    const g = await startTestGateway(`
providers:
  - { name: mock, type: mock }
  - { name: slow, type: mock, mock: { ttft_ms: 5000, inter_chunk_ms: 5, chunks: 4 } }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: mock/slow, provider: slow, model: mock-slow, pricing: { input: 1, output: 1 } }
routes:
  - { name: chat, targets: [mock/a], mirror: { target: mock/slow } }
`);
    const a = await createSignalboxClient({ baseUrl: g.url }).chat.complete({ model: "chat", messages: [userText("hello")] });
    assert.equal(g.gw.engine.mirrors.running(), 1);
    const t0 = Date.now();
    await g.close();
    assert.ok(Date.now() - t0 < 3000, "closed without waiting for the mirror's answer");
    const m = g.usage.recent().find((r) => r.metadata["signalbox.mirror_of"] === a.id);
    assert.equal(m?.status, "canceled");
    assert.equal(m?.model, "mock/slow");
  });
});
