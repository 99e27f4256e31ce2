// Two gateway processes sharing one private Redis enforce one rate limit and one budget: send
// more than the limit through both and count exactly how many passed.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createSignalboxClient, userText } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { freePort, startRedis, type TestRedis } from "../helpers/redis.ts";

const RATE_KEY = "sbx_test_rate_key_0001";
const BUDGET_KEY = "sbx_test_budget_key_0002";
// mock/a: $1/M input, $2/M output; "hi" is 8 prompt tokens (o200k: 1, and OpenAI's framing of one
// message, 7) and the mock answers 24 tokens: 8 × 1,000 + 24 × 2,000 = 56,000 nano-USD a request.
// The budget fits exactly five.
const PER_REQUEST = 56_000;

let redis: TestRedis;
const procs: ChildProcess[] = [];
const urls: string[] = [];

async function startGateway(config: string): Promise<string> {
  const port = await freePort();
  const proc = spawn(process.execPath, ["src/main.ts", "--config", config, "--port", String(port)], {
    cwd: new URL("../..", import.meta.url).pathname,
    stdio: ["ignore", "pipe", "inherit"],
  });
  procs.push(proc);
  await new Promise<void>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("signalbox listening")) resolve();
    });
    proc.once("exit", (c) => reject(new Error(`gateway exited ${c}: ${out}`)));
  });
  return `http://127.0.0.1:${port}`;
}

before(async () => {
  redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), "signalbox-limits-"));
  const file = join(dir, "config.yaml");
  writeFileSync(
    file,
    `
server: { host: 127.0.0.1 }
store: { redis_url: "${redis.url}" }
providers: [{ name: mock, type: mock }]
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
routes:
  - { name: default, targets: [mock/a] }
keys:
  - { name: rate-limited, hash: "${hashKey(RATE_KEY)}", team: alpha, limits: { requests_per_minute: 10 } }
  - { name: budgeted, hash: "${hashKey(BUDGET_KEY)}", team: beta, budget: { period: day, limit_usd: ${(5 * PER_REQUEST) / 1e9} } }
`,
  );
  urls.push(await startGateway(file), await startGateway(file));
});

after(async () => {
  for (const p of procs) p.kill("SIGTERM");
  await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once("exit", r)))));
  await redis.stop();
});

async function outcome(p: Promise<unknown>): Promise<"ok" | Code> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

test("one requests-per-minute limit across two replicas: exactly 10 of 16 pass", async () => {
  const clients = urls.map((u) => createSignalboxClient({ baseUrl: u, apiKey: RATE_KEY }));
  const results: ("ok" | Code)[] = [];
  for (let i = 0; i < 16; i++) results.push(await outcome(clients[i % 2].chat.complete({ model: "default", messages: [userText("hi")] })));
  assert.equal(results.filter((r) => r === "ok").length, 10);
  assert.ok(results.slice(10).every((r) => r === Code.ResourceExhausted), JSON.stringify(results));
  // The refusal says which limit and when to retry.
  try {
    await clients[0].chat.complete({ model: "default", messages: [userText("hi")] });
    assert.fail("expected a refusal");
  } catch (e) {
    const ce = ConnectError.from(e);
    assert.match(ce.rawMessage, /rate limit exceeded: requests per minute of key "rate-limited" \(10\); retry in \d+ s/);
    assert.ok(Number(ce.metadata.get("retry-after")) >= 1);
  }
});

test("one budget across two replicas: concurrent requests cannot overspend it", async () => {
  const clients = urls.map((u) => createSignalboxClient({ baseUrl: u, apiKey: BUDGET_KEY }));
  // Twenty at once through both replicas: reservations hold the budget while they run.
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => outcome(clients[i % 2].chat.complete({ model: "default", messages: [userText("hi")], maxOutputTokens: 24 }))),
  );
  const passed = results.filter((r) => r === "ok").length;
  assert.equal(passed, 5, JSON.stringify(results));
  assert.ok(results.every((r) => r === "ok" || r === Code.ResourceExhausted));
  try {
    await clients[1].chat.complete({ model: "default", messages: [userText("hi")], maxOutputTokens: 24 });
    assert.fail("expected a refusal");
  } catch (e) {
    assert.match(ConnectError.from(e).rawMessage, /budget exhausted: daily budget of key "budgeted" \(\$0\.000280\): spent \$(0|0\.000\d+), \$(0|0\.000\d+) held by requests in flight, this request reserves \$0\.0000560; resets \d{4}-\d\d-\d\dT00:00:00\.000Z/);
  }
  // GetBudget from either replica: exactly five requests' cost spent, nothing left.
  await new Promise((r) => setTimeout(r, 150)); // settlements are batched
  for (const c of clients) {
    const b = await c.usage.getBudget({});
    assert.equal(b.budgets.length, 1);
    assert.equal(b.budgets[0].name, "budgeted");
    assert.equal(b.budgets[0].spentNanoUsd, BigInt(5 * PER_REQUEST));
    assert.equal(b.budgets[0].reservedNanoUsd, 0n);
    assert.equal(b.budgets[0].remainingNanoUsd, 0n);
    assert.equal(b.budgets[0].exceeded, true);
  }
});

test("GetBudget shows the rate-limit window of a key", async () => {
  const b = await createSignalboxClient({ baseUrl: urls[1], apiKey: RATE_KEY }).usage.getBudget({});
  assert.equal(b.rateLimits.length, 1);
  assert.equal(b.rateLimits[0].requestsPerMinute, 10);
  assert.equal(b.rateLimits[0].remainingRequests, 0);
  await assert.rejects(createSignalboxClient({ baseUrl: urls[1], apiKey: RATE_KEY }).usage.getBudget({ key: "budgeted" }), /permission_denied|may not read/);
});
