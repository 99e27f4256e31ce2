// Two gateway processes sharing one private Redis enforce one rate limit, one budget and one
// budget per end user of a key: send more than the limit through both and count exactly how many
// passed.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { BudgetPeriod, createSignalboxClient, userText } from "@signalbox/client";
import { Redis } from "ioredis";
import { hashKey } from "../../src/server/auth.ts";
import { freePort, startRedis, type TestRedis } from "../helpers/redis.ts";

const RATE_KEY = "sbx_test_rate_key_0001";
const BUDGET_KEY = "sbx_test_budget_key_0002";
const PER_USER_KEY = ["sbx", "test", "per", "user", "0003"].join("_");
const LIFETIME_KEY = ["sbx", "test", "lifetime", "0004"].join("_");
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
  - { name: lifetime, hash: "${hashKey(LIFETIME_KEY)}", team: delta, budget: { period: lifetime, limit_usd: ${(3 * PER_REQUEST) / 1e9} } }
  - { name: per-user, hash: "${hashKey(PER_USER_KEY)}", team: gamma, budget: { period: month, limit_usd: ${(9 * PER_REQUEST) / 1e9} }, per_user_budget: { period: day, limit_usd: ${(3 * PER_REQUEST) / 1e9} } }
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

test("a budget per end user across two replicas: each user of the key gets exactly theirs, the key's own budget still bounds them all", async () => {
  const clients = urls.map((u) => createSignalboxClient({ baseUrl: u, apiKey: PER_USER_KEY }));
  const ask = (i: number, user?: string) => outcome(clients[i % 2].chat.complete({ model: "default", messages: [userText("hi")], maxOutputTokens: 24, ...(user ? { user } : {}) }));
  // Ten at once from alice through both replicas: her daily budget fits three.
  const alice = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(i, "alice")));
  assert.equal(alice.filter((r) => r === "ok").length, 3, JSON.stringify(alice));
  assert.ok(alice.every((r) => r === "ok" || r === Code.ResourceExhausted));
  try {
    await clients[1].chat.complete({ model: "default", messages: [userText("hi")], maxOutputTokens: 24, user: "alice" });
    assert.fail("expected a refusal");
  } catch (e) {
    assert.match(ConnectError.from(e).rawMessage, /budget exhausted: daily budget of user "alice" of key "per-user" \(\$0\.000168\)/);
  }
  // Bob is not held to Alice's spend; over the OpenAI-compatible door too (its `user` field).
  const bob = [];
  for (let i = 0; i < 4; i++) {
    const r = await fetch(`${urls[i % 2]}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${PER_USER_KEY}`, "content-type": "application/json" }, body: JSON.stringify({ model: "default", max_tokens: 24, user: "bob", messages: [{ role: "user", content: "hi" }] }) });
    bob.push(r.status);
    if (r.status === 429) assert.match(((await r.json()) as { error: { message: string } }).error.message, /daily budget of user "bob" of key "per-user"/);
  }
  assert.deepEqual(bob, [200, 200, 200, 429]);
  // Requests without a user are held to the key's budget only: six spent of its nine, three left.
  const anon = [];
  for (let i = 0; i < 5; i++) anon.push(await ask(i));
  assert.deepEqual(anon, ["ok", "ok", "ok", Code.ResourceExhausted, Code.ResourceExhausted]);
  await new Promise((r) => setTimeout(r, 150)); // settlements are batched
  // GetBudget with a user: the key's budget and the user's, from either replica.
  for (const c of clients) {
    const b = await c.usage.getBudget({ user: "alice" });
    assert.deepEqual(
      b.budgets.map((x) => [x.name, x.spentNanoUsd, x.exceeded]),
      [
        ["per-user", BigInt(9 * PER_REQUEST), true],
        ["per-user:alice", BigInt(3 * PER_REQUEST), true],
      ],
    );
  }
  const carol = await clients[0].usage.getBudget({ user: "carol" });
  assert.deepEqual([carol.budgets[1]?.spentNanoUsd, carol.budgets[1]?.remainingNanoUsd], [0n, BigInt(3 * PER_REQUEST)]);
  await assert.rejects(createSignalboxClient({ baseUrl: urls[0], apiKey: BUDGET_KEY }).usage.getBudget({ user: "alice" }), /has no per_user_budget/);
});

test("a lifetime budget across two replicas: exactly three pass, the refusal says it never resets (no Retry-After), and its spend is kept with no period", async () => {
  const clients = urls.map((u) => createSignalboxClient({ baseUrl: u, apiKey: LIFETIME_KEY }));
  const results: ("ok" | Code)[] = [];
  for (let i = 0; i < 6; i++) results.push(await outcome(clients[i % 2].chat.complete({ model: "default", messages: [userText("hi")], maxOutputTokens: 24 })));
  assert.deepEqual(results, ["ok", "ok", "ok", Code.ResourceExhausted, Code.ResourceExhausted, Code.ResourceExhausted]);
  try {
    await clients[0].chat.complete({ model: "default", messages: [userText("hi")], maxOutputTokens: 24 });
    assert.fail("expected a refusal");
  } catch (e) {
    const ce = ConnectError.from(e);
    assert.match(ce.rawMessage, /budget exhausted: lifetime budget of key "lifetime" \(\$0\.000168\): .*; a lifetime budget, it never resets$/);
    assert.equal(ce.metadata.get("retry-after"), null, "nothing to wait for");
  }
  await new Promise((r) => setTimeout(r, 150)); // settlements are batched
  const b = await clients[1].usage.getBudget({});
  assert.deepEqual(
    b.budgets.map((x) => [x.name, x.period, x.spentNanoUsd, x.exceeded, x.resetTime]),
    [["lifetime", BudgetPeriod.LIFETIME, BigInt(3 * PER_REQUEST), true, undefined]],
  );
  // One period from the epoch: its spend is one key that does not expire within any lifetime of ours.
  const r = new Redis(redis.url);
  try {
    const keys = await r.keys("sbx:bs:*key:lifetime*");
    assert.deepEqual(keys, ["sbx:bs:{team:delta}:key:lifetime:0"]);
    assert.ok((await r.pttl(keys[0])) > 100 * 365 * 86_400_000, "expires in year 9999");
  } finally {
    r.disconnect();
  }
});

test("GetBudget shows the rate-limit window of a key", async () => {
  const b = await createSignalboxClient({ baseUrl: urls[1], apiKey: RATE_KEY }).usage.getBudget({});
  assert.equal(b.rateLimits.length, 1);
  assert.equal(b.rateLimits[0].requestsPerMinute, 10);
  assert.equal(b.rateLimits[0].remainingRequests, 0);
  await assert.rejects(createSignalboxClient({ baseUrl: urls[1], apiKey: RATE_KEY }).usage.getBudget({ key: "budgeted" }), /permission_denied|may not read/);
});
