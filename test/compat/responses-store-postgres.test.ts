// Stored responses and conversations in PostgreSQL (a private server): a conversation begun on one gateway and
// continued on another at once (a response is stored before it is answered), streamed turns too;
// everything still there for a gateway started after both stopped; a response answered while
// PostgreSQL is down says store: false, a continuation then is a 503, and the gateway stores and
// continues again once it is back; a background response cut short by its gateway's shutdown; and, on the
// store itself, a response written twice stored once, group commits under concurrency, expiry
// and the sweep that drops it.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import pg from "pg";
import { createPostgresResponseStore } from "../../src/compat/responses/postgres-store.ts";
import type { StoredResponse } from "../../src/compat/responses/store.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { createDatabase, postgresBinDir, startPostgres, type TestPostgres } from "../helpers/postgres.ts";

const available = postgresBinDir() !== undefined || !!process.env.CI;
let server: TestPostgres | undefined;
before(async () => {
  if (available) server = await startPostgres();
});
after(() => server?.destroy());

const config = (url: string) => `
providers:
  - { name: mock, type: mock, mock: { chunks: 3 } }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
routes:
  - { name: chat, targets: [mock/chat] }
store: { postgres_url: "${url}" }
`;

const storedFlag = (r: object) => (r as { store?: boolean }).store;

test("a conversation across two gateways and a restart of both", async (t) => {
  if (!server) return t.skip("PostgreSQL binaries not found (apt-get install -y postgresql)");
  const url = await createDatabase(server.url, "responses_gateways");
  let a: TestGateway | undefined = await startTestGateway(config(url));
  let b: TestGateway | undefined = await startTestGateway(config(url));
  let c: TestGateway | undefined;
  try {
    const onA = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: "none", maxRetries: 0 });
    const onB = new OpenAI({ baseURL: `${b.url}/v1`, apiKey: "none", maxRetries: 0 });
    const first = await onA.responses.create({ model: "chat", input: "Hello there" });
    assert.equal(storedFlag(first), true);
    // At once on the other gateway: it was stored before it was answered.
    const second = await onB.responses.create({ model: "chat", input: "And then?", previous_response_id: first.id });
    assert.equal(second.previous_response_id, first.id);
    assert.deepEqual(await onB.responses.retrieve(first.id), first);
    // A streamed turn on B, continued on A.
    const third = await onB.responses.stream({ model: "chat", input: [{ role: "user", content: "Once more" }], previous_response_id: second.id }).finalResponse();
    assert.equal(storedFlag(third), true);
    const fourth = await onA.responses.create({ model: "chat", input: "Last", previous_response_id: third.id });
    // The mock counts the prompt it was sent: each turn's prompt is larger than the one before.
    const prompts = [first, second, third, fourth].map((r) => r.usage!.input_tokens);
    assert.ok(prompts.every((n, i) => i === 0 || n > prompts[i - 1]), `prompts grow with the conversation: ${prompts}`);

    await Promise.all([a.close(), b.close()]);
    a = b = undefined;
    c = await startTestGateway(config(url));
    const onC = new OpenAI({ baseURL: `${c.url}/v1`, apiKey: "none", maxRetries: 0 });
    assert.deepEqual(await onC.responses.retrieve(fourth.id), fourth, "still there after both gateways stopped");
    const items = await onC.responses.inputItems.list(third.id);
    assert.deepEqual(
      items.data.map((i) => ((i as OpenAI.Responses.ResponseInputMessageItem).content[0] as { text: string }).text),
      ["Once more"],
    );
    const fifth = await onC.responses.create({ model: "chat", input: "After the restart", previous_response_id: fourth.id });
    assert.ok(fifth.usage!.input_tokens > fourth.usage!.input_tokens);
    await onC.responses.delete(first.id);
    assert.ok((await onC.responses.retrieve(first.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
    const broken = await onC.responses.create({ model: "chat", input: "x", previous_response_id: fifth.id }).catch((e) => e);
    assert.ok(broken instanceof OpenAI.BadRequestError);
    assert.match(broken.message, /lost its turns before/);
  } finally {
    await Promise.all([a?.close(), b?.close(), c?.close()]);
  }
});

test("a conversation on PostgreSQL: created on one gateway, answered on another, all of it there after both stopped", async (t) => {
  if (!server) return t.skip("PostgreSQL binaries not found (apt-get install -y postgresql)");
  const url = await createDatabase(server.url, "conversations_gateways");
  let a: TestGateway | undefined = await startTestGateway(config(url));
  let b: TestGateway | undefined = await startTestGateway(config(url));
  let c: TestGateway | undefined;
  const text = (i: OpenAI.Conversations.ConversationItem) => ((i as { content?: { text: string }[] }).content ?? []).map((p) => p.text).join("");
  try {
    const onA = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: "none", maxRetries: 0 });
    const onB = new OpenAI({ baseURL: `${b.url}/v1`, apiKey: "none", maxRetries: 0 });
    const conv = await onA.conversations.create({ metadata: { team: "x" }, items: [{ type: "message", role: "developer", content: "Be brief." }] });
    const first = await onB.responses.create({ model: "chat", conversation: conv.id, input: "First question" });
    const second = await onA.responses.stream({ model: "chat", conversation: conv.id, input: "Second question" }).finalResponse();
    assert.ok(second.usage!.input_tokens > first.usage!.input_tokens, "the second turn read the first");
    await onB.conversations.items.create(conv.id, { items: [{ type: "message", role: "user", content: "A note" }] });
    await onA.conversations.update(conv.id, { metadata: { team: "y" } });

    await Promise.all([a.close(), b.close()]);
    a = b = undefined;
    c = await startTestGateway(config(url));
    const onC = new OpenAI({ baseURL: `${c.url}/v1`, apiKey: "none", maxRetries: 0 });
    const kept = await onC.conversations.retrieve(conv.id);
    assert.deepEqual(kept.metadata, { team: "y" });
    assert.deepEqual((kept as unknown as { signalbox: Record<string, number> }).signalbox, {
      responses: 2,
      input_tokens: first.usage!.input_tokens + second.usage!.input_tokens,
      output_tokens: first.usage!.output_tokens + second.usage!.output_tokens,
      cost_nano_usd: (first as unknown as { signalbox: { cost_nano_usd: number } }).signalbox.cost_nano_usd + (second as unknown as { signalbox: { cost_nano_usd: number } }).signalbox.cost_nano_usd,
    }, "what its responses used and cost, summed across gateways and kept");
    const items: OpenAI.Conversations.ConversationItem[] = [];
    for await (const i of onC.conversations.items.list(conv.id, { order: "asc" })) items.push(i);
    assert.deepEqual(
      items.map((i) => `${(i as { role?: string }).role}: ${text(i)}`),
      ["developer: Be brief.", "user: First question", `assistant: ${first.output_text}`, "user: Second question", `assistant: ${second.output_text}`, "user: A note"],
    );
    // The hold is shared by replicas: taken on one, refused on another until let go.
    const { createPostgresConversationStore } = await import("../../src/compat/responses/postgres-store.ts");
    const [s1, s2] = await Promise.all([createPostgresConversationStore(url, { log: () => {} }), createPostgresConversationStore(url, { log: () => {} })]);
    try {
      const now = Date.now();
      assert.equal(await s1.lock(conv.id, "resp_1", now + 60_000, now), true);
      assert.equal(await s2.lock(conv.id, "resp_2", now + 60_000, now), false);
      const busy = await onC.responses.create({ model: "chat", conversation: conv.id, input: "x" }).catch((e) => e);
      assert.equal(busy.code, "conversation_locked");
      assert.equal(await s2.lock(conv.id, "resp_2", now + 120_000, now + 61_000), true, "lapsed");
      await s2.unlock(conv.id, "resp_2");
    } finally {
      await Promise.all([s1.close(), s2.close()]);
    }
    await onC.conversations.items.delete(items[5].id!, { conversation_id: conv.id });
    await onC.conversations.delete(conv.id);
    assert.ok((await onC.conversations.retrieve(conv.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      assert.equal((await db.query("SELECT count(*)::int AS n FROM signalbox_conversation_items")).rows[0].n, 0, "its items went with it");
    } finally {
      await db.end();
    }
  } finally {
    await Promise.all([a?.close(), b?.close(), c?.close()]);
  }
});

test("a background response under way when its gateway stops ends failed, saying so, for the next gateway's callers", async (t) => {
  if (!server) return t.skip("PostgreSQL binaries not found (apt-get install -y postgresql)");
  const url = await createDatabase(server.url, "responses_background");
  const slow = config(url).replace("mock: { chunks: 3 }", "mock: { chunks: 3, ttft_ms: 60000 }");
  let gw: TestGateway | undefined = await startTestGateway(slow);
  try {
    const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "none", maxRetries: 0 });
    const r = await sdk.responses.create({ model: "chat", input: "A long job", background: true });
    for (let i = 0; i < 200 && (await sdk.responses.retrieve(r.id)).status !== "in_progress"; i++) await new Promise((res) => setTimeout(res, 10));
    await gw.close();
    const records = gw.usage.recent();
    gw = await startTestGateway(config(url));
    const again = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "none", maxRetries: 0 });
    const got = await again.responses.retrieve(r.id);
    assert.equal(got.status, "failed");
    assert.match(got.error?.message ?? "", /the gateway stopped before this background response was answered/);
    assert.equal(records.find((x) => x.id.replace(/^req_/, "resp_") === r.id)?.status, "canceled", "its usage was recorded before the gateway closed");
  } finally {
    await gw?.close();
  }
});

test("a streamed background response followed again on another replica, from where the caller left: the same events, numbered alike, live to the end", async (t) => {
  if (!server) return t.skip("PostgreSQL binaries not found (apt-get install -y postgresql)");
  const url = await createDatabase(server.url, "responses_background_shared");
  const slow = config(url).replace("mock: { chunks: 3 }", "mock: { chunks: 12, inter_chunk_ms: 60 }");
  const a = await startTestGateway(slow);
  const b = await startTestGateway(slow);
  try {
    const onA = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: "none", maxRetries: 0 });
    const onB = new OpenAI({ baseURL: `${b.url}/v1`, apiKey: "none", maxRetries: 0 });
    let id = "";
    const seen: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const e of await onA.responses.create({ model: "chat", input: "A long job", background: true, stream: true })) {
      seen.push(e);
      if (e.type === "response.created") id = e.response.id;
      // The caller drops after two deltas.
      if (seen.filter((x) => x.type === "response.output_text.delta").length === 2) break;
    }
    const lastSeen = seen.at(-1)!.sequence_number;
    // It comes back through replica b, which does not run it, from the event after the last it saw.
    const rest: OpenAI.Responses.ResponseStreamEvent[] = [];
    let liveDeltas = 0;
    for await (const e of await onB.responses.retrieve(id, { stream: true, starting_after: lastSeen })) {
      rest.push(e);
      // Still running while b streams it: the deltas come live, not in one replay at the end.
      if (e.type === "response.output_text.delta" && (await onB.responses.retrieve(id)).status === "in_progress") liveDeltas++;
    }
    assert.ok(liveDeltas > 0, "followed live");
    assert.deepEqual(rest.map((e) => e.sequence_number), rest.map((_, i) => lastSeen + 1 + i), "numbered as the stream was, after starting_after");
    assert.equal(rest.at(-1)!.type, "response.completed");
    const text = [...seen, ...rest].flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : [])).join("");
    assert.equal(text, (await onB.responses.retrieve(id)).output_text, "what a saw and what b streamed make the whole answer");
    // From the start on b: every event, numbered from 0, the same as a's.
    const all: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const e of await onB.responses.retrieve(id, { stream: true })) all.push(e);
    assert.deepEqual(all.map((e) => e.sequence_number), all.map((_, i) => i));
    assert.deepEqual(all.slice(0, seen.length).map((e) => JSON.stringify(e)), seen.map((e) => JSON.stringify(e)));
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test("a streamed background response whose shared events were swept: another replica replays it whole from the store", async (t) => {
  if (!server) return t.skip("PostgreSQL binaries not found (apt-get install -y postgresql)");
  const url = await createDatabase(server.url, "responses_background_stream");
  const a = await startTestGateway(config(url));
  const b = await startTestGateway(config(url));
  try {
    const onA = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: "none", maxRetries: 0 });
    const onB = new OpenAI({ baseURL: `${b.url}/v1`, apiKey: "none", maxRetries: 0 });
    let id = "";
    for await (const e of await onA.responses.create({ model: "chat", input: "A short job", background: true, stream: true })) {
      if (e.type === "response.created") id = e.response.id;
    }
    assert.ok(id);
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      // Its events were shared (the end's marker written), then swept.
      for (let i = 0; i < 80 && !(await pool.query("SELECT 1 FROM signalbox_response_events WHERE response_id = $1 AND seq = -1", [id])).rowCount; i++) await new Promise((r) => setTimeout(r, 25));
      assert.ok((await pool.query("DELETE FROM signalbox_response_events WHERE response_id = $1", [id])).rowCount! > 1);
    } finally {
      await pool.end();
    }
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const e of await onB.responses.retrieve(id, { stream: true })) events.push(e);
    assert.equal(events[0]!.type, "response.created");
    assert.equal(events.at(-1)!.type, "response.completed");
    const done = await onB.responses.retrieve(id);
    assert.equal(done.status, "completed");
    const text = events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : [])).join("");
    assert.equal(text, done.output_text, "the replay carries the whole answer");
    assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i), "numbered in the replay's own sequence");
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test("a background response whose replica died (its heartbeat ran out) is read back failed; the heartbeat is renewed by keepAlive", async (t) => {
  if (!server) return t.skip("PostgreSQL binaries not found (apt-get install -y postgresql)");
  const url = await createDatabase(server.url, "responses_heartbeat");
  const store = await createPostgresResponseStore(url, { log: () => {} });
  const gw = await startTestGateway(config(url));
  try {
    const now = Date.now();
    const running = (id: string, aliveUntil: number): StoredResponse => ({ id, owner: { team: "", key: "" }, createdAt: now, expiresAt: now + 60_000, response: { id, object: "response", status: "in_progress", background: true, output: [] }, inputItems: [], aliveUntil });
    await store.put(running("resp_dead", now - 1));
    await store.put(running("resp_alive", now + 1));
    await store.keepAlive(["resp_alive"], now + 60_000);
    assert.equal((await store.get("resp_alive"))?.aliveUntil, now + 60_000);
    const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "none", maxRetries: 0 });
    const dead = await sdk.responses.retrieve("resp_dead");
    assert.equal(dead.status, "failed");
    assert.match(dead.error?.message ?? "", /replica running this background response stopped/);
    assert.equal((await store.get("resp_dead"))?.response.status, "failed", "and so it stays");
    assert.equal((await sdk.responses.retrieve("resp_alive")).status, "in_progress");
    const cont = await sdk.responses.create({ model: "chat", input: "x", previous_response_id: "resp_alive" }).catch((e) => e);
    assert.ok(cont instanceof OpenAI.BadRequestError);
    assert.match(cont.message, /still in_progress/);
  } finally {
    await gw.close();
    await store.close();
  }
});

test("with PostgreSQL down a response is answered with store: false; once it is back, responses are stored again", async (t) => {
  if (!server) return t.skip("PostgreSQL binaries not found (apt-get install -y postgresql)");
  const url = await createDatabase(server.url, "responses_outage");
  const gw = await startTestGateway(config(url));
  try {
    const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "none", maxRetries: 0 });
    const before = await sdk.responses.create({ model: "chat", input: "Before" });
    await server.stop();
    let down: OpenAI.Responses.Response;
    try {
      down = await sdk.responses.create({ model: "chat", input: "While the database is away" });
      // Continuing needs the store: a 503 that says so (the SDK would retry it), not a 500.
      const cont = await sdk.responses.create({ model: "chat", input: "More", previous_response_id: before.id }).catch((e) => e);
      assert.ok(cont instanceof OpenAI.APIError && cont.status === 503, String(cont));
      assert.match(cont.message, /response store is unavailable/);
    } finally {
      await server.start();
    }
    assert.equal(down.output_text.length > 0, true, "answered");
    assert.equal(storedFlag(down), false);
    assert.ok((await sdk.responses.retrieve(down.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
    const back = await sdk.responses.create({ model: "chat", input: "Back again" });
    assert.equal(storedFlag(back), true);
    assert.equal((await sdk.responses.retrieve(back.id)).id, back.id);
    assert.equal((await sdk.responses.create({ model: "chat", input: "More", previous_response_id: before.id })).previous_response_id, before.id);
  } finally {
    await gw.close();
  }
});

test("the store: a response written twice is stored once, concurrent writes, a chain of 100, expiry and its sweep", async (t) => {
  if (!server) return t.skip("PostgreSQL binaries not found (apt-get install -y postgresql)");
  const url = await createDatabase(server.url, "responses_store");
  const store = await createPostgresResponseStore(url, { log: () => {} });
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const now = Date.now();
    const rec = (id: string, expiresAt = now + 60_000, previousId?: string): StoredResponse => ({
      id,
      owner: { team: "a", key: "k" },
      createdAt: now,
      expiresAt,
      ...(previousId ? { previousId } : {}),
      response: { id, object: "response", output: [{ type: "message", role: "assistant", content: [{ type: "output_text", text: `answer ${id} ✓` }] }] },
      inputItems: [{ id: `msg_${id}_i0`, type: "message", role: "user", content: [{ type: "input_text", text: "q" }] }],
    });
    await store.put(rec("resp_twice"));
    await store.put(rec("resp_twice"));
    const { rows } = await db.query("SELECT count(*)::int AS n FROM signalbox_responses WHERE id = 'resp_twice'");
    assert.equal(rows[0].n, 1);
    assert.deepEqual(await store.get("resp_twice"), rec("resp_twice"), "read back as written");

    // 100 at once (group commits), a chain read back oldest first by one query.
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.put(rec(`resp_c${String(i).padStart(3, "0")}`, now + 60_000, i ? `resp_c${String(i - 1).padStart(3, "0")}` : undefined))));
    const chain = await store.chain("resp_c099");
    assert.equal(chain.length, 100);
    assert.deepEqual(chain.map((r) => r.id).slice(0, 3), ["resp_c000", "resp_c001", "resp_c002"]);

    // Expired: not read, and dropped by the sweep (and only it).
    await store.put(rec("resp_old", now - 1));
    assert.equal(await store.get("resp_old"), undefined);
    assert.deepEqual(await store.chain("resp_old"), []);
    assert.equal(await store.sweep(), 1);
    assert.equal((await db.query("SELECT count(*)::int AS n FROM signalbox_responses")).rows[0].n, 101);
    assert.equal(await store.delete("resp_twice"), true);
    assert.equal(await store.delete("resp_twice"), false);
  } finally {
    await db.end();
    await store.close();
  }
});
