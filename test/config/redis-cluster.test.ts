// store.redis_cluster: seed nodes from the file or REDIS_CLUSTER_NODES, each checked; one Redis and
// a cluster at once is an error naming the field.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { buildConfig, ConfigError } from "../../src/config/load.ts";
import { hasRedis, parseRedisNode } from "../../src/state/redis.ts";

const BASE = `
providers: [{ name: mock, type: mock }]
deployments: [{ id: mock/a, provider: mock, model: mock-a }]
`;
const build = (store: string, env: Record<string, string> = {}) => buildConfig(parse(`${BASE}\n${store}`), env);

function rejects(store: string, path: string, message: RegExp, env: Record<string, string> = {}) {
  assert.throws(
    () => build(store, env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.path, path);
      assert.match(err.message, message);
      return true;
    },
  );
}

test("store.redis_cluster: seed nodes as host:port or redis:// URLs", () => {
  const c = build(`store: { redis_cluster: ["127.0.0.1:7000", "redis://10.0.0.2:7001", "rediss://user:pw@redis-0.redis:6380"] }`);
  assert.deepEqual(c.store.redisCluster, ["127.0.0.1:7000", "redis://10.0.0.2:7001", "rediss://user:pw@redis-0.redis:6380"]);
  assert.equal(c.store.redisUrl, undefined);
  assert.equal(hasRedis(c.store), true);
  assert.equal(hasRedis(build("").store), false);
});

test("REDIS_CLUSTER_NODES, comma-separated, when the file sets no store", () => {
  const c = build("", { REDIS_CLUSTER_NODES: " 10.0.0.1:7000, 10.0.0.2:7000 ,," });
  assert.deepEqual(c.store.redisCluster, ["10.0.0.1:7000", "10.0.0.2:7000"]);
  assert.equal(build("", { REDIS_URL: "redis://r:6379" }).store.redisUrl, "redis://r:6379", "one Redis keeps working unchanged");
  assert.equal(build("", { REDIS_URL: "redis://r:6379" }).store.redisCluster, undefined);
});

test("one Redis and a cluster at once is an error naming the field", () => {
  rejects(`store: { redis_url: "redis://r:6379", redis_cluster: ["10.0.0.1:7000"] }`, "store.redis_cluster", /store\.redis_cluster .* and store\.redis_url .* are both set/);
  rejects(`store: { redis_cluster: ["10.0.0.1:7000"] }`, "store.redis_cluster", /store\.redis_cluster .* and REDIS_URL .*both set/, { REDIS_URL: "redis://r:6379" });
  rejects(`store: { redis_url: "redis://r:6379" }`, "store.redis_url", /REDIS_CLUSTER_NODES .* and store\.redis_url/, { REDIS_CLUSTER_NODES: "10.0.0.1:7000" });
});

test("a bad seed node names its entry", () => {
  rejects(`store: { redis_cluster: ["10.0.0.1:7000", "http://x:1"] }`, "store.redis_cluster[1]", /scheme must be redis:\/\/ or rediss:\/\//);
  rejects(`store: { redis_cluster: ["redis://10.0.0.1:7000/2"] }`, "store.redis_cluster[0]", /no database number/);
  rejects(`store: { redis_cluster: ["10.0.0.1:99999"] }`, "store.redis_cluster[0]", /not host:port/);
  rejects(`store: { redis_cluster: [] }`, "store.redis_cluster", /at least 1/);
  rejects("", "REDIS_CLUSTER_NODES[1]", /not host:port/, { REDIS_CLUSTER_NODES: "10.0.0.1:7000,bad host:1" });
});

test("parseRedisNode", () => {
  assert.deepEqual(parseRedisNode("127.0.0.1:7000"), { host: "127.0.0.1", port: 7000 });
  assert.deepEqual(parseRedisNode("[::1]:7000"), { host: "::1", port: 7000 });
  assert.deepEqual(parseRedisNode("redis-0"), { host: "redis-0", port: 6379 });
  assert.deepEqual(parseRedisNode("rediss://u%40x:p%3Aw@h:1"), { host: "h", port: 1, username: "u@x", password: "p:w", tls: true });
});
