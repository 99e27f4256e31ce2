// Stored Chat Completions (`store: true`), through the official `openai` SDK's own methods
// (chat.completions.retrieve, list with its cursor pages and metadata filter, update, delete,
// messages.list) against a real gateway and a fake OpenAI upstream: unary and streamed answers
// kept as they were returned, who may see what, the 400s, a gateway that stores nothing, and two
// replicas on one private PostgreSQL where a completion stored on one is read on the other and
// after a restart.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { hashKey } from "../../src/server/auth.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startPostgresReplicas } from "../helpers/postgres.ts";

const SVC_A = ["sbx", "stored", "svc", "a"].join("_");
const SVC_A2 = ["sbx", "stored", "svc", "a2"].join("_");
const TEAM_A = ["sbx", "stored", "team", "a"].join("_");
const ADMIN = ["sbx", "stored", "admin"].join("_");

const yaml = (openai: string, extra = "") => `
${extra}
providers:
  - { name: openai, type: openai, base_url: "${openai}", api_key: ${OPENAI_TEST_KEY}, timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 } }
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: openai/gpt-4o-mini, provider: openai, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
routes:
  - { name: default, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
  - { name: small, targets: [openai/gpt-4o-mini], retry: { max_retries: 0 } }
  - { name: cached, targets: [openai/gpt-4o-mini], retry: { max_retries: 0 }, cache: { enabled: true } }
keys:
  - { name: svc-a, hash: "${hashKey(SVC_A)}", team: a, role: service }
  - { name: svc-a2, hash: "${hashKey(SVC_A2)}", team: a, role: service }
  - { name: team-a, hash: "${hashKey(TEAM_A)}", team: a, role: team }
  - { name: root, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
`;

const sdk = (t: TestGateway, key: string) => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0 });
async function all<T>(page: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of page) out.push(x);
  return out;
}

describe("stored chat completions on the embedded store", () => {
  let fake: FakeOpenAI;
  let t: TestGateway;
  let a: OpenAI;
  before(async () => {
    fake = await startFakeOpenAI();
    t = await startTestGateway(yaml(fake.url));
    a = sdk(t, SVC_A);
  });
  after(async () => {
    await t.close();
    await fake.close();
  });

  test("store: true keeps the completion as returned, with its metadata and messages; store: false and none keep nothing", async () => {
    fake.script({ kind: "text", text: "Paris.", usage: { input: 12, output: 2 } });
    const made = await a.chat.completions.create({ model: "default", store: true, metadata: { topic: "geo", run: "1" }, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Capital of France?" }] });
    const got = await a.chat.completions.retrieve(made.id);
    assert.equal(got.id, made.id);
    assert.equal(got.choices[0].message.content, "Paris.");
    assert.deepEqual(got.usage, made.usage);
    assert.deepEqual(got.metadata, { topic: "geo", run: "1" });
    const msgs = await all(a.chat.completions.messages.list(made.id));
    assert.deepEqual(msgs.map((m) => [m.id, m.role, m.content]), [[`${made.id}-0`, "system", "Be brief."], [`${made.id}-1`, "user", "Capital of France?"]]);
    const plain = await a.chat.completions.create({ model: "default", messages: [{ role: "user", content: "x" }] });
    await assert.rejects(a.chat.completions.retrieve(plain.id), (e: any) => e.status === 404);
  });

  test("a streamed answer is stored whole once it ends: text and tool calls", async () => {
    fake.script({ kind: "text", text: ["Hel", "lo"], usage: { input: 5, output: 2 } });
    const s = await a.chat.completions.create({ model: "small", stream: true, stream_options: { include_usage: true }, store: true, metadata: { topic: "stream" }, messages: [{ role: "user", content: "hi" }] });
    let id = "";
    for await (const c of s) id = c.id;
    const got = await a.chat.completions.retrieve(id);
    assert.equal(got.choices[0].message.content, "Hello");
    assert.equal(got.model, "gpt-4o-mini");
    assert.equal(got.usage?.completion_tokens, 2);
    fake.script({ kind: "tool_calls", calls: [{ name: "get_weather", arguments: '{"city":"Oslo"}' }] });
    const tools = [{ type: "function" as const, function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    const s2 = await a.chat.completions.create({ model: "default", stream: true, store: true, tools, messages: [{ role: "user", content: "weather?" }] });
    for await (const c of s2) id = c.id;
    const call = (await a.chat.completions.retrieve(id)).choices[0].message.tool_calls?.[0];
    assert.equal(call?.type === "function" ? call.function.arguments : "", '{"city":"Oslo"}');
    // Served from the cache: the cached answer is what is stored.
    fake.script({ kind: "text", text: ["From ", "the cache"] });
    for await (const c of await a.chat.completions.create({ model: "cached", stream: true, messages: [{ role: "user", content: "cache me" }] })) void c;
    const sent = fake.requests.length;
    const hit = await a.chat.completions.create({ model: "cached", stream: true, store: true, messages: [{ role: "user", content: "cache me" }] }).withResponse();
    assert.equal(hit.response.headers.get("x-signalbox-cache"), "hit");
    for await (const c of hit.data) id = c.id;
    assert.equal(fake.requests.length, sent, "no upstream call");
    assert.equal((await a.chat.completions.retrieve(id)).choices[0].message.content, "From the cache");
    await a.chat.completions.delete(id);
  });

  test("list: by model and metadata, both orders, cursor pages; update replaces the metadata; delete", async () => {
    for (let i = 0; i < 5; i++) {
      fake.script({ kind: "text", text: `n${i}` });
      await a.chat.completions.create({ model: "default", store: true, metadata: { batch: "pages", i: String(i) }, messages: [{ role: "user", content: `q${i}` }] });
    }
    const asc = await all(a.chat.completions.list({ metadata: { batch: "pages" }, limit: 2 }));
    assert.deepEqual(asc.map((c) => c.choices[0].message.content), ["n0", "n1", "n2", "n3", "n4"], "three pages of two, oldest first");
    const desc = await a.chat.completions.list({ metadata: { batch: "pages" }, order: "desc", limit: 3 });
    assert.deepEqual(desc.data.map((c) => c.choices[0].message.content), ["n4", "n3", "n2"]);
    assert.equal(desc.has_more, true);
    assert.deepEqual((await all(a.chat.completions.list({ model: "gpt-4o-mini" }))).map((c) => c.model), ["gpt-4o-mini"]);
    const updated = await a.chat.completions.update(asc[0].id, { metadata: { batch: "pages", i: "0", reviewed: "yes" } });
    assert.deepEqual(updated.metadata, { batch: "pages", i: "0", reviewed: "yes" });
    assert.deepEqual((await all(a.chat.completions.list({ metadata: { reviewed: "yes" } }))).map((c) => c.id), [asc[0].id]);
    const del = await a.chat.completions.delete(asc[1].id);
    assert.deepEqual(del, { object: "chat.completion.deleted", id: asc[1].id, deleted: true });
    await assert.rejects(a.chat.completions.retrieve(asc[1].id), (e: any) => e.status === 404);
    assert.equal((await all(a.chat.completions.list({ metadata: { batch: "pages" } }))).length, 4);
  });

  test("who sees what: a service key its own, a team key its team's, an admin everything", async () => {
    fake.script({ kind: "text", text: "mine" });
    const mine = await a.chat.completions.create({ model: "default", store: true, metadata: { who: "a" }, messages: [{ role: "user", content: "x" }] });
    const other = sdk(t, SVC_A2);
    await assert.rejects(other.chat.completions.retrieve(mine.id), (e: any) => e.status === 404);
    assert.equal((await all(other.chat.completions.list({ metadata: { who: "a" } }))).length, 0);
    await assert.rejects(other.chat.completions.delete(mine.id), (e: any) => e.status === 404);
    assert.equal((await sdk(t, TEAM_A).chat.completions.retrieve(mine.id)).id, mine.id);
    assert.equal((await all(sdk(t, ADMIN).chat.completions.list({ metadata: { who: "a" } }))).length, 1);
  });

  test("bad input is a 400 naming the field", async () => {
    fake.script({ kind: "text", text: "x" });
    const c = await a.chat.completions.create({ model: "default", store: true, messages: [{ role: "user", content: "x" }] });
    await assert.rejects(a.chat.completions.update(c.id, { metadata: { k: 1 } } as never), (e: any) => e.status === 400 && e.param === "metadata.k");
    await assert.rejects(a.chat.completions.update(c.id, { metadata: {}, model: "x" } as never), (e: any) => e.status === 400 && e.param === "model");
    await assert.rejects(a.chat.completions.list({ limit: 500 }), (e: any) => e.status === 400 && e.param === "limit");
    await assert.rejects(a.chat.completions.list({ order: "sideways" } as never), (e: any) => e.status === 400 && e.param === "order");
    await assert.rejects(a.chat.completions.create({ model: "default", stream: true, n: 2, store: true, messages: [{ role: "user", content: "x" }] }), (e: any) => e.status === 400 && e.param === "store");
  });
});

describe("stored chat completions: a gateway that stores nothing", () => {
  test("store: true is refused, and the list is empty", async () => {
    const fake = await startFakeOpenAI();
    const t = await startTestGateway(yaml(fake.url, "responses: { store: false }"));
    try {
      const a = sdk(t, SVC_A);
      await assert.rejects(a.chat.completions.create({ model: "default", store: true, messages: [{ role: "user", content: "x" }] }), (e: any) => e.status === 400 && e.param === "store");
      assert.equal(fake.requests.length, 0);
      assert.deepEqual((await a.chat.completions.list()).data, []);
    } finally {
      await t.close();
      await fake.close();
    }
  });
});

describe("stored chat completions on PostgreSQL, two replicas", () => {
  let rig: Awaited<ReturnType<typeof startPostgresReplicas>>;
  let fake: FakeOpenAI;
  let A: TestGateway;
  let B: TestGateway;
  before(async () => {
    rig = await startPostgresReplicas("stored_completions", (openai, url) => yaml(openai, `store: { postgres_url: "${url}" }`));
    if (rig) [fake, [A, B]] = [rig.fake, rig.replicas];
  });
  after(async () => {
    if (rig) rig.replicas[1] = B;
    await rig?.close();
  });

  test("stored on A, read, listed, updated and deleted on B, and still there after B restarts", async (t) => {
    if (!rig) return t.skip("PostgreSQL binaries not installed");
    fake.script({ kind: "text", text: "from A" });
    const made = await sdk(A, SVC_A).chat.completions.create({ model: "default", store: true, metadata: { shard: "x" }, messages: [{ role: "user", content: "hello" }] });
    fake.script({ kind: "text", text: "also A" });
    const second = await sdk(A, SVC_A).chat.completions.create({ model: "default", store: true, metadata: { shard: "x" }, messages: [{ role: "user", content: "again" }] });
    const b = sdk(B, SVC_A);
    assert.equal((await b.chat.completions.retrieve(made.id)).choices[0].message.content, "from A");
    const pages = await all(b.chat.completions.list({ metadata: { shard: "x" }, limit: 1 }));
    assert.deepEqual(pages.map((c) => c.id), [made.id, second.id]);
    assert.deepEqual((await b.chat.completions.list({ metadata: { shard: "x" }, order: "desc", limit: 1 })).data.map((c) => c.id), [second.id]);
    await b.chat.completions.update(made.id, { metadata: { shard: "x", seen: "b" } });
    await B.close();
    B = await startTestGateway(rig.config);
    const again = sdk(B, SVC_A);
    assert.deepEqual((await again.chat.completions.retrieve(made.id)).metadata, { shard: "x", seen: "b" });
    assert.deepEqual((await all(again.chat.completions.messages.list(made.id))).map((m) => m.content), ["hello"]);
    await again.chat.completions.delete(made.id);
    await assert.rejects(sdk(A, SVC_A).chat.completions.retrieve(made.id), (e: any) => e.status === 404);
    await assert.rejects(sdk(B, SVC_A2).chat.completions.retrieve(second.id), (e: any) => e.status === 404);
  });
});
