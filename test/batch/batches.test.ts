// The Batch API through the official OpenAI SDK against a real gateway socket: files.create, then
// batches.create, retrieve until done, and the output and error files read back, line by line.
// Each line goes through the engine as the key that made the batch (usage records tagged "batch",
// with the batch and custom id in their metadata); a line the endpoint would refuse is a line of
// the error file with that refusal; a malformed input file fails the batch at validation and names
// the line; rate-limited lines wait and run; cancel keeps what was answered; keys see only what
// they may (another team's batch is "not found").

import assert from "node:assert/strict";
import { makePdf } from "../helpers/pdf.ts";
import { after, before, describe, test } from "node:test";
import OpenAI, { toFile } from "openai";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const k = (...p: string[]) => ["sbx", "test", "batch", ...p].join("_");
const KEYS = { admin: k("admin"), teamA: k("team", "a"), svcA: k("svc", "a"), teamB: k("team", "b") };

let t: TestGateway;
const sdk = (key: string) => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0 });

before(async () => {
  t = await startTestGateway(`
providers:
  - { name: mock, type: mock }
  - { name: slow, type: mock, mock: { ttft_ms: 60 } }
  - { name: busy, type: mock, mock: { failure_rate: 0.5, failure_kind: rate_limited, retry_after_ms: 20 } }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
  - { id: mock/embed, provider: mock, model: mock-embed, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
  - { id: mock/moderation, provider: mock, model: mock-moderation-1, operations: [moderation], pricing: { input: 0, output: 0 } }
  - { id: mock/ocr, provider: mock, model: mock-ocr-1, operations: [ocr], pricing: { input: 0, output: 0, per_page: 0.002 } }
  - { id: mock/search, provider: mock, model: mock-search-1, operations: [search], pricing: { input: 0, output: 0, per_request: 0.005 } }
  - { id: slow/chat, provider: slow, model: mock-chat }
  - { id: busy/chat, provider: busy, model: mock-chat }
routes:
  - { name: chat, targets: [mock/chat] }
  - { name: embed, targets: [mock/embed] }
  - { name: moderation, targets: [mock/moderation] }
  - { name: ocr, targets: [mock/ocr] }
  - { name: search, targets: [mock/search] }
  - { name: slow, targets: [slow/chat] }
  - { name: busy, targets: [busy/chat], retry: { max_retries: 0 } }
batches: { concurrency: 2 }
keys:
  - { name: admin, hash: "${hashKey(KEYS.admin)}", team: ops, role: admin }
  - { name: team-a, hash: "${hashKey(KEYS.teamA)}", team: a, role: team }
  - { name: svc-a, hash: "${hashKey(KEYS.svcA)}", team: a, role: service }
  - { name: team-b, hash: "${hashKey(KEYS.teamB)}", team: b, role: team }
`);
});
after(async () => {
  await t.close();
});

const jsonl = (lines: unknown[]) => lines.map((l) => JSON.stringify(l)).join("\n") + "\n";
const chatLine = (id: string, text: string, extra: Record<string, unknown> = {}, model = "chat") => ({
  custom_id: id,
  method: "POST",
  url: "/v1/chat/completions",
  body: { model, messages: [{ role: "user", content: text }], ...extra },
});

async function upload(client: OpenAI, content: string, name = "requests.jsonl") {
  return client.files.create({ file: await toFile(Buffer.from(content), name, { type: "application/jsonl" }), purpose: "batch" });
}

/** Poll until the batch is in a final state. */
async function settle(client: OpenAI, id: string) {
  for (let i = 0; i < 400; i++) {
    const b = await client.batches.retrieve(id);
    if (["completed", "failed", "expired", "cancelled"].includes(b.status)) return b;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`batch ${id} did not finish`);
}

const linesOf = async (client: OpenAI, fileId: string | null | undefined) => {
  assert.ok(fileId, "a file id");
  const text = await (await client.files.content(fileId)).text();
  return text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { id: string; custom_id: string; response: { status_code: number; request_id: string; body: any } | null; error: { code: string; message: string } | null });
};

describe("a chat batch, start to finish", () => {
  test("every line answered as /v1/chat/completions would; a bad line in the error file; usage, cost and records add up", async () => {
    const client = sdk(KEYS.teamA);
    const input = jsonl([
      chatLine("one", "Say one"),
      chatLine("two", "Say two", { max_tokens: 40 }),
      chatLine("bad", "Say bad", { temperature: "hot" }),
      chatLine("three", "Say three"),
      chatLine("four", "Say four", { metadata: { mine: "yes" } }),
    ]);
    const file = await upload(client, input);
    assert.equal(file.purpose, "batch");
    assert.equal(file.bytes, Buffer.byteLength(input));
    assert.equal((await client.files.retrieve(file.id)).filename, "requests.jsonl");
    assert.equal(await (await client.files.content(file.id)).text(), input);

    const created = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h", metadata: { job: "nightly" } });
    assert.equal(created.status, "validating");
    assert.equal(created.object, "batch");
    assert.deepEqual(created.metadata, { job: "nightly" });
    assert.ok(created.expires_at! - created.created_at === 86_400);

    const b = await settle(client, created.id);
    assert.equal(b.status, "completed");
    assert.deepEqual(b.request_counts, { total: 5, completed: 4, failed: 1 });
    assert.ok(b.in_progress_at && b.finalizing_at && b.completed_at);

    const out = await linesOf(client, b.output_file_id);
    assert.deepEqual(out.map((l) => l.custom_id).sort(), ["four", "one", "three", "two"]);
    for (const l of out) {
      assert.match(l.id, /^batch_req_/);
      assert.equal(l.error, null);
      assert.equal(l.response!.status_code, 200);
      assert.match(l.response!.request_id, /^req_/);
      assert.equal(l.response!.body.object, "chat.completion");
      assert.ok(l.response!.body.choices[0].message.content.length > 0);
    }
    const errs = await linesOf(client, b.error_file_id);
    assert.equal(errs.length, 1);
    assert.equal(errs[0].custom_id, "bad");
    assert.equal(errs[0].response!.status_code, 400);
    assert.equal(errs[0].response!.body.error.param, "temperature");

    // The batch's usage is its lines' usage; its cost is theirs at the deployment's prices.
    const input_tokens = out.reduce((a, l) => a + l.response!.body.usage.prompt_tokens, 0);
    const output_tokens = out.reduce((a, l) => a + l.response!.body.usage.completion_tokens, 0);
    assert.equal(b.usage!.input_tokens, input_tokens);
    assert.equal(b.usage!.output_tokens, output_tokens);
    assert.equal(b.usage!.total_tokens, input_tokens + output_tokens);
    const cost = (b as unknown as { signalbox: { cost_nano_usd: number } }).signalbox.cost_nano_usd;
    assert.equal(cost, input_tokens * 1000 + output_tokens * 2000);

    // Each line is a request of the key that made the batch, tagged and tied to the batch.
    await t.gw.core.usage.flush();
    // (The bad line was refused before any call, as at the endpoint itself: no record.)
    const recs = t.usage.recent().filter((r: UsageRecord) => r.metadata.batch_id === b.id);
    assert.equal(recs.length, 4);
    for (const r of recs) {
      assert.equal(r.key, "team-a");
      assert.ok(r.tags.includes("batch"));
    }
    assert.deepEqual(recs.map((r) => r.metadata.batch_custom_id).sort(), ["four", "one", "three", "two"]);
    assert.equal(recs.find((r) => r.metadata.batch_custom_id === "four")!.metadata.mine, "yes");
    assert.deepEqual(
      recs.filter((r) => r.status === "ok").map((r) => r.id).sort(),
      out.map((l) => l.response!.request_id).sort(),
      "the output's request ids are the records' ids",
    );

    // The produced files are the owner's, with purpose batch_output.
    const outFile = await client.files.retrieve(b.output_file_id!);
    assert.equal(outFile.purpose, "batch_output");
    assert.equal(outFile.filename, `${b.id}_output.jsonl`);
  });

  test("files and outputs that expire: expires_after on the upload, output_expires_after on the batch", async () => {
    const client = sdk(KEYS.teamA);
    const file = await client.files.create({
      file: await toFile(Buffer.from(jsonl([chatLine("x", "hi")])), "x.jsonl"),
      purpose: "batch",
      expires_after: { anchor: "created_at", seconds: 7200 },
    });
    assert.equal(file.expires_at, file.created_at + 7200);
    const b = await settle(client, (await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h", output_expires_after: { anchor: "created_at", seconds: 3600 } })).id);
    const out = await client.files.retrieve(b.output_file_id!);
    assert.equal(out.expires_at, out.created_at + 3600);
    await assert.rejects(
      client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h", output_expires_after: { anchor: "created_at", seconds: 60 } }),
      (e: InstanceType<typeof OpenAI.APIError>) => e.status === 400 && (e.error as { param?: string }).param === "output_expires_after.seconds",
    );
  });

  test("embeddings and moderations batches", async () => {
    const client = sdk(KEYS.svcA);
    const file = await upload(
      client,
      jsonl([
        { custom_id: "e1", method: "POST", url: "/v1/embeddings", body: { model: "embed", input: "hello" } },
        { custom_id: "e2", method: "POST", url: "/v1/embeddings", body: { model: "embed", input: ["a", "b"] } },
      ]),
    );
    const b = await settle(client, (await client.batches.create({ input_file_id: file.id, endpoint: "/v1/embeddings", completion_window: "24h" })).id);
    assert.equal(b.status, "completed");
    const out = await linesOf(client, b.output_file_id);
    const e2 = out.find((l) => l.custom_id === "e2")!;
    assert.equal(e2.response!.body.data.length, 2);
    assert.equal(e2.response!.body.data[0].embedding.length, 16);
    assert.equal(b.error_file_id ?? null, null);

    const mod = await upload(client, jsonl([{ custom_id: "m1", method: "POST", url: "/v1/moderations", body: { model: "moderation", input: ["I will attack you", "Have a nice day."] } }]));
    const mb = await settle(client, (await client.batches.create({ input_file_id: mod.id, endpoint: "/v1/moderations", completion_window: "24h" })).id);
    assert.equal(mb.status, "completed");
    const [m1] = await linesOf(client, mb.output_file_id);
    assert.deepEqual(
      m1.response!.body.results.map((r: { flagged: boolean; categories: { violence: boolean } }) => [r.flagged, r.categories.violence]),
      [
        [true, true],
        [false, false],
      ],
    );
  });
});

describe("OCR and search lines", () => {
  test("a batch of documents is read page by page, a batch of queries searched; each line billed as its request", async () => {
    const client = sdk(KEYS.svcA);
    const doc = (i: number) => `data:application/pdf;base64,${makePdf([`Invoice ${i}`, `Total ${i * 10} EUR`]).toString("base64")}`;
    const file = await upload(client, jsonl([1, 2].map((i) => ({ custom_id: `d${i}`, method: "POST", url: "/v1/ocr", body: { document: { type: "document_url", document_url: doc(i) } } }))));
    const b = await settle(client, (await client.batches.create({ input_file_id: file.id, endpoint: "/v1/ocr" as "/v1/embeddings", completion_window: "24h" })).id);
    assert.equal(b.status, "completed");
    const out = await linesOf(client, b.output_file_id);
    const d2 = out.find((l) => l.custom_id === "d2")!;
    assert.deepEqual(d2.response!.body.pages.map((p: { markdown: string }) => p.markdown), ["Invoice 2", "Total 20 EUR"]);
    // Four pages at $0.002.
    assert.equal((b as unknown as { signalbox: { cost_nano_usd: number } }).signalbox.cost_nano_usd, 8_000_000);

    const q = await upload(client, jsonl([{ custom_id: "s1", method: "POST", url: "/v1/search", body: { query: "node 24", max_results: 2 } }]));
    const sb = await settle(client, (await client.batches.create({ input_file_id: q.id, endpoint: "/v1/search" as "/v1/embeddings", completion_window: "24h" })).id);
    assert.equal(sb.status, "completed");
    const [s1] = await linesOf(client, sb.output_file_id);
    assert.equal(s1.response!.body.results.length, 2);
  });
});

describe("the other chat doors in a batch", () => {
  test("a chat line with n: 2 answers two choices from two calls; the batch's usage counts both", async () => {
    const client = sdk(KEYS.teamA);
    const f = await upload(client, jsonl([chatLine("two", "Two takes, please", { n: 2, seed: 3 })]));
    const b = await settle(client, (await client.batches.create({ input_file_id: f.id, endpoint: "/v1/chat/completions", completion_window: "24h" })).id);
    assert.equal(b.status, "completed");
    const [line] = await linesOf(client, b.output_file_id);
    const body = line.response!.body;
    assert.deepEqual(
      body.choices.map((c: { index: number }) => c.index),
      [0, 1],
    );
    assert.ok(body.choices.every((c: { message: { content: string } }) => c.message.content.length > 0));
    await t.gw.core.usage.flush();
    const recs = t.usage.recent().filter((r: UsageRecord) => r.metadata.batch_id === b.id);
    assert.equal(recs.length, 2, "one record a choice");
    assert.equal(body.usage.prompt_tokens, recs[0].usage.inputTokens + recs[1].usage.inputTokens);
    assert.equal(b.usage!.input_tokens, body.usage.prompt_tokens);
    assert.equal(b.usage!.output_tokens, body.usage.completion_tokens);
  });

  test("/v1/responses and /v1/completions lines answer as those endpoints would", async () => {
    const client = sdk(KEYS.teamA);
    const rf = await upload(client, jsonl([{ custom_id: "r1", method: "POST", url: "/v1/responses", body: { model: "chat", input: "Say hello", metadata: { mine: "r" } } }]));
    const rb = await settle(client, (await client.batches.create({ input_file_id: rf.id, endpoint: "/v1/responses", completion_window: "24h" })).id);
    assert.equal(rb.status, "completed");
    const [r1] = await linesOf(client, rb.output_file_id);
    assert.equal(r1.response!.body.object, "response");
    assert.equal(r1.response!.body.status, "completed");
    assert.ok(r1.response!.body.output[0].content[0].text.length > 0);
    assert.equal(rb.usage!.input_tokens, r1.response!.body.usage.input_tokens);

    const cf = await upload(client, jsonl([{ custom_id: "c1", method: "POST", url: "/v1/completions", body: { model: "chat", prompt: "Once upon a time", max_tokens: 8 } }]));
    const cb = await settle(client, (await client.batches.create({ input_file_id: cf.id, endpoint: "/v1/completions", completion_window: "24h" })).id);
    assert.equal(cb.status, "completed");
    const [c1] = await linesOf(client, cb.output_file_id);
    assert.equal(c1.response!.body.object, "text_completion");
    assert.ok(c1.response!.body.choices[0].text.length > 0);

    await t.gw.core.usage.flush();
    const recs = t.usage.recent().filter((r: UsageRecord) => r.metadata.batch_id === rb.id || r.metadata.batch_id === cb.id);
    assert.deepEqual(recs.map((r) => r.metadata.batch_custom_id).sort(), ["c1", "r1"]);
    assert.equal(recs.find((r) => r.metadata.batch_custom_id === "r1")!.metadata.mine, "r");
    assert.ok(recs.every((r) => r.tags.includes("batch")));
  });
});

describe("validation", () => {
  test("a malformed input file fails the batch and names each bad line", async () => {
    const client = sdk(KEYS.teamA);
    const content = [
      JSON.stringify(chatLine("x", "hi")),
      "{not json",
      JSON.stringify(chatLine("x", "again")),
      JSON.stringify({ ...chatLine("y", "hi"), url: "/v1/embeddings" }),
      JSON.stringify({ custom_id: "z", method: "GET", url: "/v1/chat/completions", body: {} }),
      JSON.stringify({ method: "POST", url: "/v1/chat/completions", body: {} }),
    ].join("\n");
    const file = await upload(client, content);
    const b = await settle(client, (await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" })).id);
    assert.equal(b.status, "failed");
    assert.ok(b.failed_at);
    assert.deepEqual(
      b.errors!.data!.map((e) => [e.line, e.code, e.param]),
      [
        [2, "invalid_json_line", null],
        [3, "duplicate_custom_id", "custom_id"],
        [4, "mismatched_endpoint", "url"],
        [5, "invalid_request", "method"],
        [6, "missing_required_parameter", "custom_id"],
      ],
    );
    // Nothing ran.
    await t.gw.core.usage.flush();
    assert.equal(t.usage.recent().filter((r: UsageRecord) => r.metadata.batch_id === b.id).length, 0);
  });

  test("bad create requests name their field and store nothing", async () => {
    const client = sdk(KEYS.teamA);
    const file = await upload(client, jsonl([chatLine("a", "hi")]));
    const refused = async (body: Record<string, unknown>, param: string) => {
      const before = (await client.batches.list()).data.length;
      await assert.rejects(client.batches.create(body as never), (e: InstanceType<typeof OpenAI.APIError>) => e.status === 400 && (e.error as { param?: string }).param === param);
      assert.equal((await client.batches.list()).data.length, before);
    };
    await refused({ input_file_id: file.id, endpoint: "/v1/images/edits", completion_window: "24h" }, "endpoint");
    await refused({ input_file_id: file.id, endpoint: "/v1/messages", completion_window: "24h" }, "endpoint");
    await refused({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "1h" }, "completion_window");
    await refused({ endpoint: "/v1/chat/completions", completion_window: "24h" }, "input_file_id");
    await refused({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h", metadata: { n: 1 } }, "metadata.n");
    await assert.rejects(client.batches.create({ input_file_id: "file-nope", endpoint: "/v1/chat/completions", completion_window: "24h" }), (e: InstanceType<typeof OpenAI.APIError>) => e.status === 404);
    await assert.rejects(client.files.create({ file: await toFile(Buffer.from("{}\n"), "x.jsonl"), purpose: "fine-tune" }), (e: InstanceType<typeof OpenAI.APIError>) => e.status === 400 && (e.error as { param?: string }).param === "purpose");
  });
});

describe("running", () => {
  test("lines refused by a rate limit wait as told and run; none fails", async () => {
    const client = sdk(KEYS.teamA);
    const file = await upload(client, jsonl(Array.from({ length: 8 }, (_, i) => chatLine(`r${i}`, `Say ${i}`, {}, "busy"))));
    const b = await settle(client, (await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" })).id);
    assert.equal(b.status, "completed");
    assert.deepEqual(b.request_counts, { total: 8, completed: 8, failed: 0 });
    await t.gw.core.usage.flush();
    const recs = t.usage.recent().filter((r: UsageRecord) => r.metadata.batch_id === b.id);
    assert.ok(recs.some((r) => r.status === "resource_exhausted"), "some tries were refused upstream (429) and waited");
    assert.equal(recs.filter((r) => r.status === "ok").length, 8);
  });

  test("cancel: the lines answered stay in the output; the rest are in the error file as cancelled", async () => {
    const client = sdk(KEYS.teamA);
    const file = await upload(client, jsonl(Array.from({ length: 40 }, (_, i) => chatLine(`c${i}`, `Say ${i}`, {}, "slow"))));
    const created = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    // Let a few lines finish.
    for (let i = 0; i < 200; i++) {
      const cur = await client.batches.retrieve(created.id);
      if ((cur.request_counts?.completed ?? 0) >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const cancelling = await client.batches.cancel(created.id);
    assert.ok(cancelling.status === "cancelling" || cancelling.status === "cancelled", cancelling.status);
    const b = await settle(client, created.id);
    assert.equal(b.status, "cancelled");
    assert.ok(b.cancelling_at && b.cancelled_at);
    const done = b.request_counts!.completed;
    assert.ok(done >= 2 && done < 40, `completed ${done}`);
    assert.equal(b.request_counts!.total, 40);
    const out = await linesOf(client, b.output_file_id);
    const errs = await linesOf(client, b.error_file_id);
    assert.equal(out.length, done);
    assert.equal(out.length + errs.length, 40, "every line is in one file or the other");
    assert.ok(errs.every((l) => l.response === null && l.error!.code === "batch_cancelled"));
    // Cancelling again changes nothing; a completed batch cannot be cancelled.
    assert.equal((await client.batches.cancel(b.id)).status, "cancelled");
    const small = await upload(client, jsonl([chatLine("s", "hi")]));
    const done2 = await settle(client, (await client.batches.create({ input_file_id: small.id, endpoint: "/v1/chat/completions", completion_window: "24h" })).id);
    assert.equal(done2.status, "completed");
    await assert.rejects(client.batches.cancel(done2.id), (e: InstanceType<typeof OpenAI.APIError>) => e.status === 400 && /completed and can no longer be cancelled/.test(e.message));
  });
});

describe("who sees what", () => {
  test("a team key sees its team's, a service key its own, an admin all; others get not found", async () => {
    const a = sdk(KEYS.teamA);
    const svc = sdk(KEYS.svcA);
    const other = sdk(KEYS.teamB);
    const admin = sdk(KEYS.admin);
    const file = await svc.files.create({ file: await toFile(Buffer.from(jsonl([chatLine("v", "hi")])), "v.jsonl"), purpose: "batch" });
    const batch = await settle(svc, (await svc.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" })).id);
    const teamFile = await upload(a, jsonl([chatLine("w", "hi")]));

    assert.equal((await a.batches.retrieve(batch.id)).id, batch.id, "the team's key sees its service key's batch");
    assert.equal((await admin.batches.retrieve(batch.id)).id, batch.id);
    await assert.rejects(other.batches.retrieve(batch.id), (e: InstanceType<typeof OpenAI.APIError>) => e.status === 404);
    await assert.rejects(other.files.content(batch.output_file_id!), (e: InstanceType<typeof OpenAI.APIError>) => e.status === 404);
    await assert.rejects(other.batches.cancel(batch.id), (e: InstanceType<typeof OpenAI.APIError>) => e.status === 404);
    await assert.rejects(svc.files.retrieve(teamFile.id), (e: InstanceType<typeof OpenAI.APIError>) => e.status === 404, "a service key sees only its own");
    await assert.rejects(other.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" }), (e: InstanceType<typeof OpenAI.APIError>) => e.status === 404);

    const ids = async (c: OpenAI) => {
      const out: string[] = [];
      for await (const b of c.batches.list({ limit: 2 })) out.push(b.id);
      return out;
    };
    assert.ok((await ids(a)).includes(batch.id));
    assert.ok((await ids(admin)).includes(batch.id));
    assert.ok(!(await ids(other)).includes(batch.id));
    assert.deepEqual(await ids(other), []);
    const svcFiles = (await svc.files.list()).data.map((f) => f.id);
    assert.ok(svcFiles.includes(file.id) && !svcFiles.includes(teamFile.id));
    // Paging: newest first, no repeats.
    const all = await ids(admin);
    assert.equal(new Set(all).size, all.length);

    // Deleting: the owner's team may; then it is gone.
    assert.deepEqual(await a.files.delete(teamFile.id), { id: teamFile.id, object: "file", deleted: true });
    await assert.rejects(a.files.retrieve(teamFile.id), (e: InstanceType<typeof OpenAI.APIError>) => e.status === 404);
  });
});
