// The Redis connection every shared store uses: fail fast when Redis is away (no offline queue,
// so nothing on the serving path ever waits for a reconnect), reconnect in the background.

import { Redis, type RedisOptions } from "ioredis";

export function createRedisClient(url: string, extra: RedisOptions = {}): Redis {
  const client = new Redis(url, {
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

/** Connect, waiting at most `ms`; resolves false (and keeps retrying in the background) if Redis is not there. */
export async function connectRedis(client: Redis, ms = 2_000): Promise<boolean> {
  try {
    await Promise.race([client.connect(), new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), ms))]);
    return true;
  } catch {
    return false;
  }
}
