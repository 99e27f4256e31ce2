// The Redis connection every shared store uses: fail fast when Redis is away (no offline queue,
// so nothing on the serving path ever waits for a reconnect), reconnect in the background.
//
// One Redis (`store.redis_url`) or a Redis Cluster (`store.redis_cluster`, seed nodes): both
// give a client with the same command interface (ioredis' `Redis` and `Cluster`), so the stores
// take a `RedisClient` and never ask which it is, as long as they keep to the cluster's rules:
// every Lua script, MULTI and pipeline touches keys of ONE hash slot (a shared `{tag}` in the
// key), and commands on different slots are sent separately.

import { createRequire } from "node:module";
import type { Cluster, ClusterOptions, Redis, RedisOptions } from "ioredis";
import { parseRedisNode, type RedisNode } from "../config/redis-nodes.ts";

// ioredis (CommonJS only, so require() and import give the same module) is loaded when the first
// client is made: a gateway on the in-memory store never carries it (about 9 MB of resident memory).
let ioredis: typeof import("ioredis") | undefined;
const lib = () => (ioredis ??= createRequire(import.meta.url)("ioredis") as typeof import("ioredis"));

export { parseRedisNode, type RedisNode };

/** What every shared store talks to: one Redis or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** Where the shared state lives: `Config.store` (one of the two, never both). */
export interface RedisStoreConfig {
  redisUrl?: string;
  /** Seed nodes of a Redis Cluster: "host:port" or redis:// / rediss:// URLs. */
  redisCluster?: string[];
}

/** Whether shared state is configured at all (otherwise the stores are in memory). */
export const hasRedis = (store: RedisStoreConfig): boolean => Boolean(store.redisUrl || store.redisCluster?.length);

export function createRedisClient(url: string, extra: RedisOptions = {}): Redis {
  const client = new (lib().Redis)(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 1_000,
    // Keep trying, at most every 2 s.
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    lazyConnect: true,
    ...extra,
  });
  // Errors surface on each command; the connection-level event would otherwise crash the process.
  client.on("error", () => {});
  return client;
}

/**
 * A Redis Cluster client with the same fail-fast behaviour as createRedisClient:
 * - no offline queue (a command while the cluster is not ready fails at once);
 * - per-node short connect and command timeouts (`redisOptions`);
 * - reads and writes on masters only (`scaleReads: "master"`): a replica may lag, and limits and
 *   budgets must read what was just written;
 * - a command on a slot whose master just died is retried for a short while (MOVED, TRYAGAIN,
 *   CLUSTERDOWN, a closed connection: every 100 ms, at most `maxRedirections` times, so about
 *   0.6 s) while the cluster promotes a replica, then fails, and the stores fall back as when a
 *   single Redis is away;
 * - the whole cluster unreachable: reconnect in the background (clusterRetryStrategy), at most
 *   every 2 s.
 * `lazyConnect` differs from a single Redis: a lazy Cluster connects on its first command, and
 * with no offline queue that command fails; connectRedis() connects it explicitly instead.
 */
export function createClusterClient(nodes: readonly string[], extra: ClusterOptions = {}): Cluster {
  const parsed = nodes.map(parseRedisNode);
  const auth = parsed.find((n) => n.password || n.username || n.tls);
  const client = new (lib().Cluster)(
    parsed.map(({ host, port }) => ({ host, port })),
    {
      enableOfflineQueue: false,
      scaleReads: "master",
      lazyConnect: true,
      enableReadyCheck: true,
      clusterRetryStrategy: (times) => Math.min(times * 100, 2_000),
      maxRedirections: 6,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: 1_000,
      slotsRefreshInterval: 5_000,
      redisOptions: {
        maxRetriesPerRequest: 1,
        connectTimeout: 2_000,
        commandTimeout: 1_000,
        ...(auth?.username ? { username: auth.username } : {}),
        ...(auth?.password ? { password: auth.password } : {}),
        ...(auth?.tls ? { tls: {} } : {}),
      },
      ...extra,
    },
  );
  // Errors surface on each command; the connection-level events would otherwise crash the process.
  client.on("error", () => {});
  client.on("node error", () => {});
  return client;
}

/** The client for the configured store: a Cluster for `redis_cluster`, one Redis for `redis_url`. */
export function createRedisConnection(store: RedisStoreConfig): RedisClient {
  if (store.redisCluster?.length) return createClusterClient(store.redisCluster);
  if (store.redisUrl) return createRedisClient(store.redisUrl);
  throw new Error("no Redis configured (store.redis_url or store.redis_cluster)");
}

/** Connect, waiting at most `ms`; resolves false (and keeps retrying in the background) if Redis is not there. */
export async function connectRedis(client: RedisClient, ms = 2_000): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([client.connect(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("timeout")), ms)))]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Close a client, gracefully if it answers. */
export async function closeRedis(client: RedisClient): Promise<void> {
  await client.quit().catch(() => client.disconnect());
}
