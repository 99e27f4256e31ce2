// Durable usage under load: 20,000 requests through two gateway replicas sharing one PostgreSQL,
// which is stopped and started again in the middle. Afterwards every answered request has exactly
// one record (the same set of request ids), and GetUsage totals equal the sum of the records.

import assert from "node:assert/strict";
import { test } from "node:test";
import pg from "pg";
import { Pool } from "undici";
import { setLogSink } from "../../src/telemetry/log.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startPostgres } from "../helpers/postgres.ts";

const TOTAL = Number(process.env.SBX_DURABLE_REQUESTS ?? 20_000);
const CONCURRENCY = 32;

test(`${TOTAL} requests through two replicas, PostgreSQL restarted in the middle: every answered request has exactly one record`, async (t) => {
  const server = await startPostgres();
  if (!server) return t.skip("PostgreSQL binaries not found (apt-get install -y postgresql)");
  const logs: string[] = [];
  setLogSink((line) => logs.push(line));
  const gateways: TestGateway[] = [];
  const pools: Pool[] = [];
  // A pool, not a client: its connections die with the restart and it makes new ones.
  const db = new pg.Pool({ connectionString: server.url, max: 2 });
  db.on("error", () => {});
  try {
    const yaml = `
store: { postgres_url: "${server.url}" }
providers: [{ name: m, type: mock, mock: { ttft_ms: 0, inter_chunk_ms: 0 } }]
deployments:
  - { id: m/a, provider: m, model: a, pricing: { input: 1.5, output: 6 } }
routes:
  - { name: r, targets: [m/a] }
`;
    gateways.push(await startTestGateway(yaml), await startTestGateway(yaml));
    const stored = async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM signalbox_requests")).rows[0].n;
    for (const g of gateways) pools.push(new Pool(g.url, { connections: CONCURRENCY / 2, pipelining: 1 }));

    const answered: string[] = [];
    const statuses = new Map<number, number>();
    let inputTokens = 0n;
    let outputTokens = 0n;
    let sent = 0;
    const started = performance.now();
    const timeline: Record<string, number> = {};
    const mark = (what: string) => (timeline[what] = Math.round(performance.now() - started));

    const worker = async (w: number) => {
      const pool = pools[w % pools.length];
      while (sent < TOTAL) {
        const n = sent++;
        const res = await pool.request({
          path: "/v1/chat/completions",
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "r", messages: [{ role: "user", content: `request ${n}` }], user: `u${n % 7}` }),
        });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        const body = (await res.body.json()) as { usage?: { prompt_tokens: number; completion_tokens: number } };
        if (res.statusCode !== 200) continue;
        answered.push(String(res.headers["x-request-id"]));
        inputTokens += BigInt(body.usage?.prompt_tokens ?? 0);
        outputTokens += BigInt(body.usage?.completion_tokens ?? 0);
      }
    };
    const until = async (cond: () => boolean) => {
      while (!cond()) await new Promise((r) => setTimeout(r, 5));
    };
    // PostgreSQL goes away at 30% of the load and comes back at 60% (and after at least a second).
    const outage = (async () => {
      await until(() => answered.length >= TOTAL * 0.3);
      mark("pgStop");
      await server.stop();
      mark("pgStopped");
      const down = performance.now();
      await until(() => (answered.length >= TOTAL * 0.6 && performance.now() - down >= 1000) || sent >= TOTAL);
      mark("pgStart");
      const waiting = answered.length;
      await server.start();
      mark("pgStarted");
      // How long the replicas take to write what waited (the buffer drains in full batches).
      for (;;) {
        const n = await stored().catch(() => 0);
        if (n >= waiting) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      mark("backlogWritten");
    })();
    await Promise.all([...Array.from({ length: CONCURRENCY }, (_, w) => worker(w)), outage]);
    mark("loadDone");
    const loadMs = performance.now() - started;

    // Flush both replicas: whatever waited for PostgreSQL is written now.
    for (let i = 0; i < 20 && (await stored()) < answered.length; i++) await Promise.all(gateways.map((g) => g.gw.core.usage.flush()));
    mark("flushed");

    assert.deepEqual(Object.fromEntries(statuses), { 200: TOTAL }, "no request failed because of PostgreSQL");
    const { rows } = await db.query<{ n: number; ids: number }>("SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM signalbox_requests");
    assert.deepEqual(rows[0], { n: answered.length, ids: answered.length }, "exactly one record per answered request");
    const ids = (await db.query<{ id: string }>("SELECT id FROM signalbox_requests")).rows.map((r) => r.id);
    assert.deepEqual(ids.sort(), [...answered].sort(), "the same request ids");

    // GetUsage (Connect JSON, from either replica) equals the sum of the records.
    const [sums] = (
      await db.query<{ cost: string; input: string; output: string }>(
        "SELECT sum(cost_total)::text AS cost, sum(input_tokens)::text AS input, sum(output_tokens)::text AS output FROM signalbox_requests",
      )
    ).rows;
    assert.equal(BigInt(sums.input), inputTokens, "the records' tokens are what the responses said");
    assert.equal(BigInt(sums.output), outputTokens);
    for (const g of gateways) {
      const res = await fetch(`${g.url}/signalbox.v1.UsageService/GetUsage`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ startTime: new Date(Date.now() - 3_600_000).toISOString(), endTime: new Date(Date.now() + 3_600_000).toISOString() }),
      });
      assert.equal(res.status, 200);
      const usage = (await res.json()) as { rows: { requests: string; usage: { inputTokens: string; outputTokens: string }; cost: { totalNanoUsd: string } }[]; droppedRecords?: string };
      assert.equal(usage.rows.length, 1);
      assert.equal(BigInt(usage.rows[0].requests), BigInt(TOTAL));
      assert.equal(BigInt(usage.rows[0].cost.totalNanoUsd), BigInt(sums.cost));
      assert.equal(BigInt(usage.rows[0].usage.inputTokens), inputTokens);
      assert.equal(BigInt(usage.rows[0].usage.outputTokens), outputTokens);
      assert.equal(BigInt(usage.droppedRecords ?? "0"), 0n);
    }
    const [roll] = (await db.query<{ n: string }>("SELECT sum(requests)::text AS n FROM signalbox_usage_hourly")).rows;
    assert.equal(roll.n, String(TOTAL), "the rollups counted each record once");

    const warned = logs.filter((l) => l.includes("usage store: PostgreSQL unavailable")).length;
    assert.equal(warned, 2, "one warning per replica for the outage");
    assert.equal(logs.filter((l) => l.includes("usage store: PostgreSQL is back")).length, 2);
    const batches = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'signalbox_requests'::regclass");
    assert.ok(batches.rows[0].n >= 2);
    t.diagnostic(
      `${TOTAL} requests in ${Math.round(loadMs)} ms (${Math.round((TOTAL / loadMs) * 1000)}/s, concurrency ${CONCURRENCY}); timeline ms ${JSON.stringify(timeline)}`,
    );
    await Promise.all(pools.splice(0).map((p) => p.close()));
    await Promise.all(gateways.splice(0).map((g) => g.close()));
    // What each replica's writer did (batches, sizes, time in PostgreSQL).
    for (const line of logs.filter((l) => l.includes('"usage store: closed"'))) {
      const f = JSON.parse(line) as { batches: number; written: number; maxBatch: number; writeMs: number; failedWrites: number; duplicates: number };
      t.diagnostic(
        `writer: ${f.written} records in ${f.batches} batches (mean ${Math.round(f.written / Math.max(1, f.batches))}, max ${f.maxBatch}), ${f.writeMs} ms in PostgreSQL (${Math.round((f.written / Math.max(1, f.writeMs)) * 1000)} rows/s), ${f.failedWrites} failed attempts, ${f.duplicates} duplicates`,
      );
    }
  } finally {
    setLogSink((line) => process.stdout.write(line));
    await Promise.allSettled(pools.map((p) => p.close()));
    await Promise.allSettled(gateways.map((g) => g.close()));
    await db.end().catch(() => {});
    await server.destroy();
  }
});
