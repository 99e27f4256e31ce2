// Anthropic's Message Batches API through the official Anthropic SDK against a real gateway:
// create, retrieve until ended, results (succeeded and errored, in the order given, errors in
// Anthropic's shape), list, cancel (canceled results), delete; bad requests name their field; keys
// see only their own (another team's batch is not found). Lines run on any deployment: here the mock.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const k = (...p: string[]) => ["sbx", "test", "msgbatch", ...p].join("_");
const KEYS = { a: k("team", "a"), b: k("team", "b") };
let t: TestGateway;
const sdk = (key: string) => new Anthropic({ baseURL: t.url, apiKey: key, maxRetries: 0 });

before(async () => {
  t = await startTestGateway(`
providers:
  - { name: mock, type: mock }
  - { name: slow, type: mock, mock: { ttft_ms: 100 } }
deployments:
  - { id: mock/claude, provider: mock, model: mock-claude, pricing: { input: 3, output: 15 } }
  - { id: slow/claude, provider: slow, model: mock-claude }
routes:
  - { name: claude, targets: [mock/claude] }
  - { name: slow, targets: [slow/claude] }
batches: { concurrency: 2 }
keys:
  - { name: team-a, hash: "${hashKey(KEYS.a)}", team: a, role: team }
  - { name: team-b, hash: "${hashKey(KEYS.b)}", team: b, role: team }
`);
});
after(async () => {
  await t.close();
});

const params = (text: string, extra: Record<string, unknown> = {}, model = "claude") => ({ model, max_tokens: 64, messages: [{ role: "user" as const, content: text }], ...extra });

async function ended(client: Anthropic, id: string) {
  for (let i = 0; i < 400; i++) {
    const b = await client.messages.batches.retrieve(id);
    if (b.processing_status === "ended") return b;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`message batch ${id} did not end`);
}

async function results(client: Anthropic, id: string) {
  const out: Anthropic.Messages.MessageBatchIndividualResponse[] = [];
  for await (const r of await client.messages.batches.results(id)) out.push(r);
  return out;
}

describe("message batches", () => {
  test("create, end, results in the order given: succeeded messages and an errored one in Anthropic's shape; usage and cost add up", async () => {
    const client = sdk(KEYS.a);
    const created = await client.messages.batches.create({
      requests: [
        { custom_id: "first", params: params("Say one") },
        { custom_id: "bad", params: params("Say bad", { temperature: "hot" }) },
        { custom_id: "third", params: params("Say three", { system: "Be brief.", metadata: { user_id: "u-7" } }) },
      ],
    });
    assert.match(created.id, /^msgbatch_/);
    assert.equal(created.type, "message_batch");
    assert.equal(created.processing_status, "in_progress");
    assert.deepEqual(created.request_counts, { processing: 3, succeeded: 0, errored: 0, canceled: 0, expired: 0 });
    assert.equal(created.results_url, null);
    assert.equal(new Date(created.expires_at).getTime() - new Date(created.created_at).getTime(), 86_400_000);

    const b = await ended(client, created.id);
    assert.deepEqual(b.request_counts, { processing: 0, succeeded: 2, errored: 1, canceled: 0, expired: 0 });
    assert.equal(b.results_url, `${t.url}/v1/messages/batches/${b.id}/results`);
    assert.ok(b.ended_at);

    const rs = await results(client, b.id);
    assert.deepEqual(
      rs.map((r) => [r.custom_id, r.result.type]),
      [
        ["first", "succeeded"],
        ["bad", "errored"],
        ["third", "succeeded"],
      ],
    );
    const first = rs[0].result as Anthropic.Messages.MessageBatchSucceededResult;
    assert.equal(first.message.type, "message");
    assert.equal(first.message.role, "assistant");
    assert.ok((first.message.content[0] as Anthropic.TextBlock).text.length > 0);
    const bad = rs[1].result as Anthropic.Messages.MessageBatchErroredResult;
    assert.equal(bad.error.type, "error");
    assert.equal(bad.error.error.type, "invalid_request_error");
    assert.match(bad.error.error.message, /^temperature: /);

    // Each line a /v1/messages request of the key that made the batch, tagged and tied to it.
    await t.gw.core.usage.flush();
    const recs = t.usage.recent().filter((r: UsageRecord) => r.metadata.batch_id === b.id);
    assert.deepEqual(recs.map((r) => r.metadata.batch_custom_id).sort(), ["first", "third"]);
    for (const r of recs) {
      assert.equal(r.key, "team-a");
      assert.ok(r.tags.includes("batch"));
    }
    assert.equal(recs.find((r) => r.metadata.batch_custom_id === "third")!.user, "u-7");
    const cost = (b as unknown as { signalbox: { cost_nano_usd: number } }).signalbox.cost_nano_usd;
    assert.equal(cost, recs.reduce((a, r) => a + r.cost.total, 0));
    assert.ok(cost > 0);
    // The messages' usage is each record's.
    const third = (rs[2].result as Anthropic.Messages.MessageBatchSucceededResult).message;
    const rec3 = recs.find((r) => r.metadata.batch_custom_id === "third")!;
    assert.equal(third.usage.output_tokens, rec3.usage.outputTokens);
  });

  test("cancel: the answered stay succeeded, the rest are canceled; delete once ended", async () => {
    const client = sdk(KEYS.a);
    const created = await client.messages.batches.create({ requests: Array.from({ length: 60 }, (_, i) => ({ custom_id: `c${i}`, params: params(`Say ${i}`, {}, "slow") })) });
    for (let i = 0; i < 200; i++) {
      const cur = await client.messages.batches.retrieve(created.id);
      if (cur.request_counts.succeeded >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const canceling = await client.messages.batches.cancel(created.id);
    assert.ok(canceling.processing_status === "canceling" || canceling.processing_status === "ended", canceling.processing_status);
    assert.ok(canceling.cancel_initiated_at);
    // A batch still processing cannot be deleted.
    if (canceling.processing_status === "canceling") {
      await assert.rejects(client.messages.batches.delete(created.id), (e: unknown) => e instanceof Anthropic.BadRequestError);
    }
    const b = await ended(client, created.id);
    const c = b.request_counts;
    assert.ok(c.succeeded >= 2 && c.canceled > 0, JSON.stringify(c));
    assert.equal(c.succeeded + c.errored + c.canceled + c.expired, 60);
    const rs = await results(client, b.id);
    assert.deepEqual(
      rs.map((r) => r.custom_id),
      Array.from({ length: 60 }, (_, i) => `c${i}`),
    );
    assert.equal(rs.filter((r) => r.result.type === "canceled").length, c.canceled);

    assert.deepEqual(await client.messages.batches.delete(b.id), { id: b.id, type: "message_batch_deleted" });
    await assert.rejects(client.messages.batches.retrieve(b.id), (e: unknown) => e instanceof Anthropic.NotFoundError);
  });

  test("list pages forward, newest first; another team sees none; OpenAI's /v1/batches does not list them", async () => {
    const a = sdk(KEYS.a);
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push((await a.messages.batches.create({ requests: [{ custom_id: "x", params: params("hi") }] })).id);
    const seen: string[] = [];
    for await (const b of a.messages.batches.list({ limit: 2 })) seen.push(b.id);
    for (const id of mine) assert.ok(seen.includes(id), id);
    assert.equal(new Set(seen).size, seen.length, "no batch twice");
    assert.ok(seen.every((id) => id.startsWith("msgbatch_")));

    const other = sdk(KEYS.b);
    const theirs: string[] = [];
    for await (const b of other.messages.batches.list()) theirs.push(b.id);
    assert.deepEqual(theirs, []);
    await assert.rejects(other.messages.batches.retrieve(mine[0]), (e: unknown) => e instanceof Anthropic.NotFoundError);
    await assert.rejects(other.messages.batches.cancel(mine[0]), (e: unknown) => e instanceof Anthropic.NotFoundError);

    const openai = await fetch(`${t.url}/v1/batches`, { headers: { authorization: `Bearer ${KEYS.a}` } });
    const list = (await openai.json()) as { data: { id: string }[] };
    assert.ok(list.data.every((b) => !b.id.startsWith("msgbatch_")));
  });

  test("bad requests name their field in Anthropic's error shape, and store nothing", async () => {
    const client = sdk(KEYS.b);
    const refused = async (body: unknown, field: RegExp) => {
      await assert.rejects(client.messages.batches.create(body as never), (e: unknown) => {
        assert.ok(e instanceof Anthropic.BadRequestError, String(e));
        const err = (e as InstanceType<typeof Anthropic.BadRequestError>).error as { type: string; error: { type: string; message: string } };
        assert.equal(err.type, "error");
        assert.equal(err.error.type, "invalid_request_error");
        assert.match(err.error.message, field);
        return true;
      });
    };
    await refused({ requests: [] }, /^requests: is required/);
    await refused({ requests: [{ custom_id: "has space", params: params("x") }] }, /^requests\.0\.custom_id: /);
    await refused({ requests: [{ custom_id: "a", params: params("x") }, { custom_id: "a", params: params("y") }] }, /^requests\.1\.custom_id: "a" is used/);
    await refused({ requests: [{ custom_id: "a", params: params("x", { stream: true }) }] }, /^requests\.0\.params\.stream: /);
    await refused({ requests: [{ custom_id: "a" }] }, /^requests\.0\.params: /);
    await refused({ requests: [{ custom_id: "a", params: params("x") }], extra: 1 }, /^extra: /);
    const left: string[] = [];
    for await (const b of client.messages.batches.list()) left.push(b.id);
    assert.deepEqual(left, []);
  });
});
