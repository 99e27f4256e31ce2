// Redis killed under load and restarted, with the whole gateway on it (limits, budget,
// cooldowns, usage): no request fails because of it, and every usage record arrives.

import assert from "node:assert/strict";
import { test } from "node:test";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createSignalboxClient, userText } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway } from "../helpers/gateway.ts";
import { startRedis } from "../helpers/redis.ts";

const KEY = "sbx_test_outage_key_01";

test("Redis killed during load and restarted: every request served, every record stored", async () => {
  // Persistent, as production Redis for usage should be: what it acknowledged before the kill
  // survives, and what the gateway buffered meanwhile is written after the restart.
  const redis = await startRedis({ persist: true });
  const t = await startTestGateway(`
store: { redis_url: "${redis.url}" }
providers: [{ name: m, type: mock }]
deployments:
  - { id: m/a, provider: m, model: a, pricing: { input: 1, output: 1 } }
routes:
  - { name: r, targets: [m/a] }
keys:
  - { name: outage, hash: "${hashKey(KEY)}", team: ops, role: admin, limits: { requests_per_minute: 100000 }, budget: { period: day, limit_usd: 1000 } }
`);
  try {
    const client = createSignalboxClient({ baseUrl: t.url, apiKey: KEY });
    const start = Date.now() - 1000;
    let sent = 0;
    let failed = 0;
    const burst = async (n: number) => {
      await Promise.all(
        Array.from({ length: n }, () =>
          client.chat.complete({ model: "r", messages: [userText("load")] }).then(
            () => void sent++,
            () => void (sent++, failed++),
          ),
        ),
      );
    };
    await burst(40);
    await redis.stop();
    await burst(60); // Redis is gone: limits per replica, records buffered.
    await redis.restart();
    await burst(40);
    assert.equal(failed, 0, "no request failed because of Redis");
    // Every record arrives once Redis is back (the store retries every second).
    let total = 0n;
    for (let i = 0; i < 60 && total < BigInt(sent); i++) {
      await new Promise((r) => setTimeout(r, 250));
      const usage = await client.usage.getUsage({ startTime: timestampFromMs(start) }).catch(() => undefined);
      total = usage?.rows.reduce((n, row) => n + row.requests, 0n) ?? 0n;
    }
    assert.equal(total, BigInt(sent), "every record arrived");
    const usage = await client.usage.getUsage({ startTime: timestampFromMs(start) });
    assert.equal(usage.droppedRecords, 0n);
  } finally {
    await t.close();
    await redis.stop();
  }
});
