// The contract every batch store must keep (memory-store.test.ts and postgres-store.test.ts run it):
// files and their bytes, list order and paging, visibility, compare-and-set updates, idempotent
// line results, and leases driven by the caller's clock. Each test opens an empty store.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { BatchRecord, BatchStatus, BatchStore, FilePurpose, LineResult, ListPage, Owner, StoredFile, Visibility } from "../../src/batch/store.ts";

const ALICE: Owner = { key: "alice", team: "red" };
const BOB: Owner = { key: "bob", team: "red" };
const CAROL: Owner = { key: "carol", team: "blue" };

export function fileOf(id: string, createdAt: number, owner: Owner = ALICE, extra: Partial<StoredFile> = {}): StoredFile {
  return { id, object: "file", bytes: 10, created_at: createdAt, filename: `${id}.jsonl`, purpose: "batch", status: "processed", owner, ...extra };
}

export function batchOf(id: string, createdAt: number, status: BatchStatus = "validating", owner: Owner = ALICE): BatchRecord {
  return {
    id,
    object: "batch",
    endpoint: "/v1/chat/completions",
    input_file_id: `file-for-${id}`,
    completion_window: "24h",
    status,
    created_at: createdAt,
    expires_at: createdAt + 86_400,
    request_counts: { total: 0, completed: 0, failed: 0 },
    metadata: null,
    usage: { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 },
    cost_nano_usd: 0,
    owner,
  };
}

/** A finished line whose numbers all differ (and pass 2^32), so a swapped or truncated column shows. */
export function resultOf(line: number, json: string, ok = true): LineResult {
  return { line, customId: `req-${line}`, ok, json, inputTokens: 1000 + line, cachedInputTokens: 200 + line, outputTokens: 30 + line, reasoningTokens: 4 + line, costNanos: 12_345_678_901_234 + line };
}

/** Every byte value, a NUL, and sequences that are not UTF-8: only a byte-exact store returns them. */
export const BINARY = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from([0, 0xff, 0xfe, 0xc3, 0x28, 0x80, 0]), Buffer.from("{\"custom_id\":\"é\"}\n")]);

const ids = <T extends { id: string }>(p: ListPage<T>) => ({ ids: p.data.map((x) => x.id), hasMore: p.hasMore });

export function batchStoreSuite(name: string, open: () => Promise<BatchStore>): void {
  const use = (fn: (s: BatchStore) => Promise<void>) => async () => {
    const s = await open();
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  };

  describe(`${name}: files`, () => {
    test(
      "a file and its bytes round-trip exactly; a file put again under its id replaces it; unknown ids are undefined",
      use(async (s) => {
        const f = fileOf("file-1", 1_700_000_000, ALICE, { expires_at: 1_700_003_600, filename: "in put.jsonl", bytes: BINARY.length });
        await s.putFile(f, BINARY);
        assert.deepEqual(await s.getFile("file-1"), f);
        const got = await s.fileContent("file-1");
        assert.ok(Buffer.isBuffer(got));
        assert.equal(got.length, BINARY.length);
        assert.ok(got.equals(BINARY), "every byte comes back as it went in");

        const empty = fileOf("file-empty", 1_700_000_001, BOB, { bytes: 0, purpose: "batch_output" });
        await s.putFile(empty, Buffer.alloc(0));
        assert.deepEqual(await s.getFile("file-empty"), empty);
        assert.equal((await s.fileContent("file-empty"))?.length, 0);

        // What a caller does to the file it got does not change the stored one.
        const mine = (await s.getFile("file-1"))!;
        mine.filename = "changed";
        mine.owner.team = "changed";
        assert.deepEqual(await s.getFile("file-1"), f);

        const again = fileOf("file-1", 1_700_000_005, CAROL, { purpose: "user_data", bytes: 3 });
        await s.putFile(again, Buffer.from("abc"));
        assert.deepEqual(await s.getFile("file-1"), again);
        assert.equal((await s.fileContent("file-1"))?.toString("latin1"), "abc");
        assert.deepEqual(ids(await s.listFiles({ limit: 10 })).ids, ["file-1", "file-empty"]);

        assert.equal(await s.getFile("file-nope"), undefined);
        assert.equal(await s.fileContent("file-nope"), undefined);
      }),
    );

    test(
      "listFiles pages newest first (ties by id, descending) and oldest first, with after and hasMore",
      use(async (s) => {
        // Put in no particular order; three files share created_at 200.
        const put: [string, number][] = [
          ["file-05", 150],
          ["file-02", 200],
          ["file-07", 50],
          ["file-04", 300],
          ["file-00", 200],
          ["file-01", 100],
          ["file-03", 200],
        ];
        for (const [id, at] of put) await s.putFile(fileOf(id, at), Buffer.from(id));
        const desc = ["file-04", "file-03", "file-02", "file-00", "file-05", "file-01", "file-07"];

        assert.deepEqual(ids(await s.listFiles({ limit: 100 })), { ids: desc, hasMore: false });
        assert.deepEqual(ids(await s.listFiles({ limit: 3 })), { ids: desc.slice(0, 3), hasMore: true });
        assert.deepEqual(ids(await s.listFiles({ limit: 3, after: "file-02" })), { ids: ["file-00", "file-05", "file-01"], hasMore: true });
        assert.deepEqual(ids(await s.listFiles({ limit: 3, after: "file-01" })), { ids: ["file-07"], hasMore: false });
        assert.deepEqual(ids(await s.listFiles({ limit: 7 })), { ids: desc, hasMore: false }, "a page that holds exactly the rest has no more");
        assert.deepEqual(ids(await s.listFiles({ limit: 6 })), { ids: desc.slice(0, 6), hasMore: true });
        assert.deepEqual(ids(await s.listFiles({ limit: 3, after: "file-07" })), { ids: [], hasMore: false });
        assert.deepEqual(ids(await s.listFiles({ limit: 3, after: "file-nope" })), { ids: [], hasMore: false }, "an unknown cursor ends the list");

        const asc = [...desc].reverse();
        assert.deepEqual(ids(await s.listFiles({ limit: 100, order: "asc" })), { ids: asc, hasMore: false });
        assert.deepEqual(ids(await s.listFiles({ limit: 4, order: "asc" })), { ids: ["file-07", "file-01", "file-05", "file-00"], hasMore: true });
        assert.deepEqual(ids(await s.listFiles({ limit: 4, order: "asc", after: "file-00" })), { ids: ["file-02", "file-03", "file-04"], hasMore: false });
        assert.deepEqual(ids(await s.listFiles({ limit: 4, order: "asc", after: "file-05" })), { ids: ["file-00", "file-02", "file-03", "file-04"], hasMore: false });
        assert.deepEqual(ids(await s.listFiles({ limit: 2, order: "desc", after: "file-03" })), { ids: ["file-02", "file-00"], hasMore: true });

        // Pages are whole records.
        assert.deepEqual((await s.listFiles({ limit: 1 })).data, [fileOf("file-04", 300)]);
      }),
    );

    test(
      "listFiles shows a caller only its team's or its key's files, filtered by purpose",
      use(async (s) => {
        await s.putFile(fileOf("file-a1", 10, ALICE), Buffer.from("a1"));
        await s.putFile(fileOf("file-b1", 20, BOB), Buffer.from("b1"));
        await s.putFile(fileOf("file-c1", 30, CAROL), Buffer.from("c1"));
        await s.putFile(fileOf("file-a2", 40, ALICE, { purpose: "batch_output" }), Buffer.from("a2"));
        const list = async (visibility: Visibility | undefined, purpose?: FilePurpose, after?: string, limit = 100) => ids(await s.listFiles({ visibility, purpose, after, limit }));

        assert.deepEqual((await list(undefined)).ids, ["file-a2", "file-c1", "file-b1", "file-a1"]);
        assert.deepEqual((await list({})).ids, ["file-a2", "file-c1", "file-b1", "file-a1"]);
        assert.deepEqual((await list({ team: "red" })).ids, ["file-a2", "file-b1", "file-a1"]);
        assert.deepEqual((await list({ team: "blue" })).ids, ["file-c1"]);
        assert.deepEqual((await list({ key: "alice" })).ids, ["file-a2", "file-a1"]);
        assert.deepEqual((await list({ team: "red", key: "bob" })).ids, ["file-b1"]);
        assert.deepEqual((await list({ team: "red", key: "carol" })).ids, []);
        assert.deepEqual((await list({ team: "green" })).ids, []);
        assert.deepEqual((await list(undefined, "batch_output")).ids, ["file-a2"]);
        assert.deepEqual((await list({ team: "red" }, "batch")).ids, ["file-b1", "file-a1"]);
        assert.deepEqual((await list({ team: "blue" }, "batch_output")).ids, []);

        // Paging within what the caller sees.
        assert.deepEqual(await list({ team: "red" }, undefined, undefined, 1), { ids: ["file-a2"], hasMore: true });
        assert.deepEqual(await list({ team: "red" }, undefined, "file-a2", 1), { ids: ["file-b1"], hasMore: true });
        assert.deepEqual(await list({ team: "red" }, undefined, "file-b1", 1), { ids: ["file-a1"], hasMore: false });
        assert.deepEqual(await list({ team: "red" }, "batch", undefined, 1), { ids: ["file-b1"], hasMore: true });
        assert.deepEqual(await list({ team: "red" }, "batch", "file-b1", 1), { ids: ["file-a1"], hasMore: false });
        // A cursor the caller may not see ends its list (it learns nothing about other teams' files).
        assert.deepEqual(await list({ team: "blue" }, undefined, "file-a2"), { ids: [], hasMore: false });
      }),
    );

    test(
      "deleteFile removes the file and its bytes, and says whether there was one",
      use(async (s) => {
        await s.putFile(fileOf("file-1", 1), Buffer.from("one"));
        await s.putFile(fileOf("file-2", 2), Buffer.from("two"));
        assert.equal(await s.deleteFile("file-1"), true);
        assert.equal(await s.deleteFile("file-1"), false);
        assert.equal(await s.deleteFile("file-nope"), false);
        assert.equal(await s.getFile("file-1"), undefined);
        assert.equal(await s.fileContent("file-1"), undefined);
        assert.deepEqual(ids(await s.listFiles({ limit: 10 })), { ids: ["file-2"], hasMore: false });
        assert.equal((await s.fileContent("file-2"))?.toString(), "two");
      }),
    );

    test(
      "expireFiles deletes the files whose expires_at has come (not those without one) and counts them",
      use(async (s) => {
        await s.putFile(fileOf("file-e1", 1, ALICE, { expires_at: 100 }), Buffer.from("e1"));
        await s.putFile(fileOf("file-e2", 2, ALICE, { expires_at: 200 }), Buffer.from("e2"));
        await s.putFile(fileOf("file-keep", 3), Buffer.from("keep"));
        await s.putFile(fileOf("file-e4", 4, BOB, { expires_at: 201 }), Buffer.from("e4"));
        assert.equal(await s.expireFiles(99_999), 0);
        assert.equal(await s.expireFiles(199_999), 1);
        assert.equal(await s.getFile("file-e1"), undefined);
        assert.deepEqual((await s.getFile("file-e2"))?.expires_at, 200);
        assert.equal(await s.expireFiles(200_000), 1, "expires_at is inclusive");
        assert.equal(await s.fileContent("file-e2"), undefined);
        assert.equal(await s.expireFiles(200_000), 0);
        assert.deepEqual(ids(await s.listFiles({ limit: 10 })).ids, ["file-e4", "file-keep"]);
        assert.equal(await s.expireFiles(10_000_000), 1);
        assert.deepEqual(ids(await s.listFiles({ limit: 10 })).ids, ["file-keep"]);
        assert.equal((await s.fileContent("file-keep"))?.toString(), "keep");
      }),
    );
  });

  describe(`${name}: batches`, () => {
    test(
      "a batch record round-trips exactly, optional fields and all",
      use(async (s) => {
        const full: BatchRecord = {
          ...batchOf("batch_full", 1_700_000_000, "completed", CAROL),
          output_file_id: "file-out",
          error_file_id: "file-err",
          in_progress_at: 1_700_000_001,
          finalizing_at: 1_700_000_050,
          completed_at: 1_700_000_060,
          request_counts: { total: 3, completed: 2, failed: 1 },
          metadata: { project: "q3 \"eval\"", note: "ünïcode ✓ 🚀", empty: "" },
          errors: { object: "list", data: [{ code: "invalid_json_line", message: "line 2 is not valid JSON", param: null, line: 2 }] },
          usage: { input_tokens: 1234, input_tokens_details: { cached_tokens: 34 }, output_tokens: 56, output_tokens_details: { reasoning_tokens: 7 }, total_tokens: 1290 },
          cost_nano_usd: 9_007_199_254_740_991,
        };
        const plain = batchOf("batch_plain", 1_700_000_002);
        await s.createBatch(full);
        await s.createBatch(plain);
        assert.deepEqual(await s.getBatch("batch_full"), full);
        assert.deepEqual(await s.getBatch("batch_plain"), plain);
        assert.equal(await s.getBatch("batch_nope"), undefined);

        const mine = (await s.getBatch("batch_full"))!;
        mine.status = "failed";
        mine.request_counts.total = 99;
        assert.deepEqual(await s.getBatch("batch_full"), full, "what a caller does to its copy does not change the stored one");
      }),
    );

    test(
      "listBatches pages newest first (ties by id, descending), and shows a caller only its team's or its key's batches",
      use(async (s) => {
        const put: [string, number, Owner][] = [
          ["batch_c", 20, BOB],
          ["batch_a", 30, ALICE],
          ["batch_e", 10, CAROL],
          ["batch_b", 20, ALICE],
          ["batch_d", 20, CAROL],
        ];
        for (const [id, at, owner] of put) await s.createBatch(batchOf(id, at, "validating", owner));
        const all = ["batch_a", "batch_d", "batch_c", "batch_b", "batch_e"];
        const list = async (limit: number, after?: string, visibility?: Visibility) => ids(await s.listBatches({ limit, after, visibility }));

        assert.deepEqual(await list(100), { ids: all, hasMore: false });
        assert.deepEqual(await list(2), { ids: ["batch_a", "batch_d"], hasMore: true });
        assert.deepEqual(await list(2, "batch_d"), { ids: ["batch_c", "batch_b"], hasMore: true });
        assert.deepEqual(await list(2, "batch_b"), { ids: ["batch_e"], hasMore: false });
        assert.deepEqual(await list(3, "batch_d"), { ids: ["batch_c", "batch_b", "batch_e"], hasMore: false });
        assert.deepEqual(await list(2, "batch_e"), { ids: [], hasMore: false });
        assert.deepEqual(await list(2, "batch_nope"), { ids: [], hasMore: false });

        assert.deepEqual(await list(100, undefined, { team: "red" }), { ids: ["batch_a", "batch_c", "batch_b"], hasMore: false });
        assert.deepEqual(await list(1, "batch_a", { team: "red" }), { ids: ["batch_c"], hasMore: true });
        assert.deepEqual(await list(100, undefined, { key: "alice" }), { ids: ["batch_a", "batch_b"], hasMore: false });
        assert.deepEqual(await list(100, undefined, { team: "blue", key: "carol" }), { ids: ["batch_d", "batch_e"], hasMore: false });
        assert.deepEqual(await list(100, undefined, { team: "blue", key: "alice" }), { ids: [], hasMore: false });
        assert.deepEqual(await list(100, "batch_a", { team: "blue" }), { ids: [], hasMore: false }, "a cursor the caller may not see ends its list");
        assert.deepEqual((await s.listBatches({ limit: 1, visibility: { key: "carol" } })).data, [batchOf("batch_d", 20, "validating", CAROL)]);
      }),
    );

    test(
      "updateBatch replaces the record only from an allowed status (compare and set)",
      use(async (s) => {
        const b = batchOf("batch_1", 100);
        await s.createBatch(b);
        const running: BatchRecord = { ...b, status: "in_progress", in_progress_at: 101, request_counts: { total: 5, completed: 0, failed: 0 } };
        assert.deepEqual(await s.updateBatch("batch_1", ["validating"], running), running);
        assert.deepEqual(await s.getBatch("batch_1"), running);

        // The status moved on: nothing changes.
        const stale: BatchRecord = { ...b, status: "failed", failed_at: 102 };
        assert.equal(await s.updateBatch("batch_1", ["validating"], stale), undefined);
        assert.equal(await s.updateBatch("batch_1", [], stale), undefined);
        assert.deepEqual(await s.getBatch("batch_1"), running);

        const cancelling: BatchRecord = { ...running, status: "cancelling", cancelling_at: 103 };
        assert.deepEqual(await s.updateBatch("batch_1", ["validating", "in_progress"], cancelling), cancelling);
        const cancelled: BatchRecord = { ...cancelling, status: "cancelled", cancelled_at: 104, output_file_id: "file-out" };
        assert.deepEqual(await s.updateBatch("batch_1", ["cancelling"], cancelled), cancelled);
        assert.equal(await s.updateBatch("batch_1", ["cancelling"], cancelling), undefined);
        assert.deepEqual(await s.getBatch("batch_1"), cancelled);
        assert.deepEqual((await s.listBatches({ limit: 10 })).data, [cancelled], "lists show the new record");

        assert.equal(await s.updateBatch("batch_nope", ["validating"], { ...b, id: "batch_nope" }), undefined);
        assert.equal(await s.getBatch("batch_nope"), undefined);
        // A terminal status set by updateBatch is what claim goes by.
        assert.equal(await s.claim("runner", 1_000, 0), undefined);
      }),
    );
  });

  describe(`${name}: results`, () => {
    test(
      "addResults keeps the first result of each line, per batch; results come by line; dropResults forgets a batch's",
      use(async (s) => {
        await s.addResults("batch_1", [resultOf(3, '{"c":3}', false), resultOf(1, '{"a":1}')]);
        await s.addResults("batch_1", [resultOf(1, '{"a":"again"}', false), resultOf(2, '{"b":2}'), resultOf(2, '{"b":"twice in one call"}')]);
        await s.addResults("batch_1", []);
        await s.addResults("batch_2", [resultOf(1, '{"other":1}')]);
        assert.deepEqual(await s.results("batch_1"), [resultOf(1, '{"a":1}'), resultOf(2, '{"b":2}'), resultOf(3, '{"c":3}', false)]);
        assert.deepEqual(await s.results("batch_2"), [resultOf(1, '{"other":1}')]);
        assert.deepEqual(await s.results("batch_nope"), []);

        // A whole retried flush (its reply lost) changes nothing.
        await s.addResults("batch_1", [resultOf(3, "{}"), resultOf(2, "{}"), resultOf(1, "{}")]);
        assert.deepEqual(
          (await s.results("batch_1")).map((r) => r.json),
          ['{"a":1}', '{"b":2}', '{"c":3}'],
        );

        const many = Array.from({ length: 500 }, (_, i) => resultOf(500 - i, JSON.stringify({ line: 500 - i, text: "x\u0001\n\"y\"" })));
        await s.addResults("batch_3", many);
        assert.deepEqual(await s.results("batch_3"), [...many].reverse());

        await s.dropResults("batch_1");
        assert.deepEqual(await s.results("batch_1"), []);
        assert.deepEqual(await s.results("batch_2"), [resultOf(1, '{"other":1}')]);
        assert.equal((await s.results("batch_3")).length, 500);
        await s.dropResults("batch_nope");
        // Dropped lines are gone, so the key (batch, line) is free again.
        await s.addResults("batch_1", [resultOf(1, '{"new":1}')]);
        assert.deepEqual(await s.results("batch_1"), [resultOf(1, '{"new":1}')]);
      }),
    );
  });

  describe(`${name}: deleting and listing by prefix`, () => {
    test(
      "deleteBatch forgets a batch and its lines, and nothing else; listBatches keeps one API's ids by prefix",
      use(async (s) => {
        await s.createBatch({ ...batchOf("batch_a", 1_700_000_001) });
        await s.createBatch({ ...batchOf("msgbatch_b", 1_700_000_002) });
        await s.createBatch({ ...batchOf("msgbatch_c", 1_700_000_003) });
        await s.addResults("msgbatch_b", [resultOf(1, '{"b":1}')]);
        await s.addResults("batch_a", [resultOf(1, '{"a":1}')]);
        assert.deepEqual((await s.listBatches({ limit: 10, idPrefix: "msgbatch_" })).data.map((b) => b.id), ["msgbatch_c", "msgbatch_b"]);
        assert.deepEqual((await s.listBatches({ limit: 10, idPrefix: "batch_" })).data.map((b) => b.id), ["batch_a"]);
        const page = await s.listBatches({ limit: 1, idPrefix: "msgbatch_" });
        assert.deepEqual([page.data.map((b) => b.id), page.hasMore], [["msgbatch_c"], true]);
        assert.equal(await s.deleteBatch("msgbatch_b"), true);
        assert.equal(await s.deleteBatch("msgbatch_b"), false);
        assert.equal(await s.getBatch("msgbatch_b"), undefined);
        assert.deepEqual(await s.results("msgbatch_b"), []);
        assert.deepEqual(await s.results("batch_a"), [resultOf(1, '{"a":1}')]);
        assert.deepEqual((await s.listBatches({ limit: 10 })).data.map((b) => b.id), ["msgbatch_c", "batch_a"]);
      }),
    );
  });

  describe(`${name}: leases`, () => {
    test(
      "claim takes the oldest batch with work left (ties by id), never a finished one",
      use(async (s) => {
        const put: [string, number, BatchStatus][] = [
          ["batch_completed", 10, "completed"],
          ["batch_failed", 11, "failed"],
          ["batch_expired", 12, "expired"],
          ["batch_cancelled", 13, "cancelled"],
          ["batch_finalizing", 40, "finalizing"],
          ["batch_validating", 20, "validating"],
          ["batch_progress", 30, "in_progress"],
          ["batch_cancelling", 30, "cancelling"],
        ];
        for (const [id, at, status] of put) await s.createBatch(batchOf(id, at, status));
        const got: (string | undefined)[] = [];
        for (const h of ["h1", "h2", "h3", "h4", "h5"]) got.push(await s.claim(h, 60_000, 1_000));
        assert.deepEqual(got, ["batch_validating", "batch_cancelling", "batch_progress", "batch_finalizing", undefined]);
      }),
    );

    test(
      "claim passes over the batches the holder says it already runs",
      use(async (s) => {
        for (const [id, at] of [["batch_a", 1], ["batch_b", 2], ["batch_c", 3]] as const) await s.createBatch(batchOf(id, at));
        assert.equal(await s.claim("h1", 60_000, 1_000), "batch_a");
        // Without exclude the holder is handed its own batch again (a restarted loop resumes it).
        assert.equal(await s.claim("h1", 60_000, 1_000), "batch_a");
        assert.equal(await s.claim("h1", 60_000, 1_000, ["batch_a"]), "batch_b");
        assert.equal(await s.claim("h1", 60_000, 1_000, ["batch_a", "batch_b"]), "batch_c");
        assert.equal(await s.claim("h1", 60_000, 1_000, ["batch_a", "batch_b", "batch_c"]), undefined);
        // Another holder gets none of them while the leases hold.
        assert.equal(await s.claim("h2", 60_000, 1_000), undefined);
      }),
    );

    test(
      "a leased batch goes to no other holder until its lease runs out; then to the next, and the first loses it",
      use(async (s) => {
        await s.createBatch(batchOf("batch_1", 1));
        await s.createBatch(batchOf("batch_2", 2));
        assert.equal(await s.claim("A", 1_000, 0), "batch_1");
        assert.equal(await s.claim("A", 1_000, 0), "batch_1", "a holder may claim what it holds (a restart under the same name)");
        assert.equal(await s.claim("B", 1_000, 999), "batch_2");
        assert.equal(await s.claim("C", 1_000, 999), undefined);
        assert.equal(await s.claim("C", 1_000, 1_000), "batch_1", "A's lease ran out at 1000");
        assert.equal(await s.renew("batch_1", "A", 1_000, 1_001), false);
        assert.equal(await s.claim("A", 1_000, 1_500), undefined, "C holds batch_1 to 2000, B batch_2 to 1999");
        assert.equal(await s.renew("batch_1", "C", 1_000, 1_100), true);
        assert.equal(await s.claim("D", 1_000, 2_000), "batch_2", "batch_1 is held to 2100 now");
      }),
    );

    test(
      "renew extends only the holder's lease",
      use(async (s) => {
        await s.createBatch(batchOf("batch_1", 1));
        assert.equal(await s.claim("A", 1_000, 0), "batch_1");
        assert.equal(await s.renew("batch_1", "B", 1_000, 500), false);
        assert.equal(await s.renew("batch_1", "A", 1_000, 500), true);
        assert.equal(await s.claim("B", 1_000, 1_200), undefined, "renewed to 1500");
        assert.equal(await s.claim("B", 1_000, 1_500), "batch_1");
        assert.equal(await s.renew("batch_1", "A", 1_000, 1_600), false, "taken over");
        assert.equal(await s.renew("batch_1", "B", 5_000, 1_600), true);
        assert.equal(await s.claim("A", 1_000, 6_599), undefined);
        assert.equal(await s.renew("batch_nope", "A", 1_000, 0), false);
      }),
    );

    test(
      "release frees a lease only for its holder",
      use(async (s) => {
        await s.createBatch(batchOf("batch_1", 1));
        assert.equal(await s.claim("A", 10_000, 0), "batch_1");
        await s.release("batch_1", "B");
        assert.equal(await s.claim("B", 10_000, 1), undefined);
        await s.release("batch_1", "A");
        assert.equal(await s.renew("batch_1", "A", 10_000, 2), false, "a released lease cannot be renewed");
        assert.equal(await s.claim("B", 10_000, 2), "batch_1");
        await s.release("batch_nope", "B");
        assert.equal(await s.claim("C", 10_000, 3), undefined);
      }),
    );
  });
}
