// Traffic mirroring with PostgreSQL as the usage store: two replicas mirror their requests, each
// comparison lands in the database with its mirror's record, and GetMirrorReport on a replica
// started afterwards (both others stopped) sums up every replica's, exactly: the report is read
// from the durable records, not from any replica's memory.

import assert from "node:assert/strict";
import { test } from "node:test";
import { createSignalboxClient, userText } from "@signalbox/client";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { postgresForFile, queryRows } from "../helpers/postgres.ts";

const { freshDb, need } = postgresForFile("mirror");

const config = (url: string) => `
providers:
  - { name: mock, type: mock }
  - { name: flaky, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: mock/b, provider: mock, model: mock-b, pricing: { input: 3, output: 4 } }
  - { id: mock/flaky, provider: flaky, model: mock-flaky, pricing: { input: 1, output: 1 } }
routes:
  - { name: chat, targets: [mock/a], mirror: { target: mock/b } }
  - { name: candidate-down, targets: [mock/a], mirror: { target: mock/flaky } }
store: { postgres_url: "${url}" }
`;

const idle = async (g: TestGateway) => {
  for (let i = 0; i < 500 && g.gw.engine.mirrors.running() > 0; i++) await new Promise((r) => setTimeout(r, 10));
};

test("two replicas' mirrors, compared from the database after both stopped", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const a = await startTestGateway(config(url));
  const b = await startTestGateway(config(url));
  const ids: string[] = [];
  try {
    for (const [g, n] of [[a, 5], [b, 4]] as const) {
      const c = createSignalboxClient({ baseUrl: g.url });
      for (let i = 0; i < n; i++) ids.push((await c.chat.complete({ model: "chat", messages: [userText(`replica question ${ids.length}`)] })).id);
      ids.push((await c.chat.complete({ model: "candidate-down", messages: [userText("and this one")] })).id);
    }
    await Promise.all([idle(a), idle(b)]);
  } finally {
    await a.close();
    await b.close();
  }
  // Every mirror's record is in the database, tagged and linked to the request it copies.
  const rows = await queryRows<{ of: string; status: string }>(url, "SELECT detail->'metadata'->>'signalbox.mirror_of' AS of, status FROM signalbox_requests WHERE detail->'metadata'->>'signalbox.mirror_of' IS NOT NULL");
  assert.deepEqual(rows.map((r) => r.of).sort(), [...ids].sort());

  const c = await startTestGateway(config(url));
  try {
    const r = await createSignalboxClient({ baseUrl: c.url }).usage.getMirrorReport({ leastAlike: 3 });
    assert.equal(Number(r.recordsRead), 11);
    const chat = r.summaries.find((s) => s.route === "chat")!;
    assert.deepEqual([chat.target, Number(chat.count), Number(chat.primary!.ok), Number(chat.mirror!.ok), Number(chat.compared)], ["mock/b", 9, 9, 9, 9]);
    assert.equal(Number(chat.primary!.deployments["mock/a"]), 9);
    assert.equal(chat.leastAlike.length, 3);
    assert.ok(chat.meanSimilarity > 0 && chat.meanSimilarity <= 1);
    const down = r.summaries.find((s) => s.route === "candidate-down")!;
    assert.deepEqual([down.target, Number(down.count), Number(down.primary!.ok), Number(down.mirror!.failed), Number(down.mirrorFailedOnly), Number(down.compared)], ["mock/flaky", 2, 2, 2, 2, 0]);
    // The mirrors' cost, from their own records.
    const [cost] = await queryRows<{ total: string }>(url, "SELECT sum(cost_total)::text AS total FROM signalbox_requests WHERE detail->'metadata'->>'signalbox.mirror.route' = 'chat'");
    assert.equal(String(chat.mirror!.costNanoUsd), cost.total);
  } finally {
    await c.close();
  }
});
