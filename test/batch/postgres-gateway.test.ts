// Batches on PostgreSQL through real gateways: a batch started on one gateway, which is then shut
// down mid-batch, is finished by the next gateway on the same database from the first unfinished
// line; every line is answered exactly once, and the files and the batch are there for the second
// gateway's callers as for the first's.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI, { toFile } from "openai";
import type { UsageRecord } from "../../src/usage/record.ts";
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
  - { name: slow, type: mock, mock: { ttft_ms: 40 } }
deployments:
  - { id: slow/chat, provider: slow, model: mock-chat, pricing: { input: 1, output: 2 } }
routes:
  - { name: slow, targets: [slow/chat] }
batches: { concurrency: 2 }
store: { postgres_url: "${url}" }
`;

test("a gateway shut down mid-batch: the next one on the same database finishes it, each line answered once", async (t) => {
  if (!server) return t.skip("PostgreSQL binaries not found (apt-get install -y postgresql)");
  const url = await createDatabase(server.url, "batch_gateways");
  const records: UsageRecord[] = [];
  let gw: TestGateway | undefined = await startTestGateway(config(url));
  try {
    const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "none", maxRetries: 0 });
    const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ custom_id: `l${i}`, method: "POST", url: "/v1/chat/completions", body: { model: "slow", messages: [{ role: "user", content: `Say ${i}` }] } }));
    const file = await sdk.files.create({ file: await toFile(Buffer.from(lines.join("\n")), "in.jsonl"), purpose: "batch" });
    const created = await sdk.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h", metadata: { run: "1" } });
    for (let i = 0; i < 300; i++) {
      const b = await sdk.batches.retrieve(created.id);
      if ((b.request_counts?.completed ?? 0) >= 4) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await gw.close();
    records.push(...gw.usage.recent());
    gw = undefined;

    gw = await startTestGateway(config(url));
    const sdk2 = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "none", maxRetries: 0 });
    let b = await sdk2.batches.retrieve(created.id);
    assert.equal(b.status, "in_progress", "the batch outlived its gateway");
    const mid = b.request_counts!.completed;
    assert.ok(mid >= 4 && mid < 40, `answered before the restart: ${mid}`);
    for (let i = 0; i < 400 && b.status !== "completed"; i++) {
      await new Promise((r) => setTimeout(r, 25));
      b = await sdk2.batches.retrieve(created.id);
    }
    assert.equal(b.status, "completed");
    assert.deepEqual(b.request_counts, { total: 40, completed: 40, failed: 0 });
    assert.deepEqual(b.metadata, { run: "1" });
    const out = (await (await sdk2.files.content(b.output_file_id!)).text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { custom_id: string; response: { request_id: string } });
    assert.deepEqual(out.map((l) => l.custom_id).sort(), lines.map((_, i) => `l${i}`).sort());
    await gw.gw.core.usage.flush();
    records.push(...gw.usage.recent());
    const ok = records.filter((r) => r.metadata.batch_id === created.id && r.status === "ok");
    assert.equal(ok.length, 40, "each line answered exactly once across both gateways");
    assert.equal(new Set(ok.map((r) => r.metadata.batch_custom_id)).size, 40);
    assert.deepEqual(ok.map((r) => r.id).sort(), out.map((l) => l.response.request_id).sort());
    // The input file is still the caller's to read.
    assert.equal((await sdk2.files.retrieve(file.id)).bytes, Buffer.byteLength(lines.join("\n")));
  } finally {
    await gw?.close();
  }
});
