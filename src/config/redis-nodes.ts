// Redis Cluster seed node addresses as written in the config (`store.redis_cluster`): parsed here,
// with no Redis client, so config validation (and the CLI's `config check`) stays free of ioredis.

export interface RedisNode {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls?: boolean;
}

/** Parse one seed node ("host:port", "[::1]:7000", "redis://user:pass@host:port", "rediss://…"); throws with a reason. */
export function parseRedisNode(spec: string): RedisNode {
  const s = spec.trim();
  if (!s) throw new Error("empty node address");
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `redis://${s}`);
  } catch {
    throw new Error(`"${spec}" is not host:port or a redis:// URL`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw new Error(`"${spec}": the scheme must be redis:// or rediss://`);
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw new Error(`"${spec}" has no host`);
  if (u.pathname && u.pathname !== "/") throw new Error(`"${spec}": a cluster has no database number (remove "${u.pathname}")`);
  const port = u.port ? Number(u.port) : 6379;
  return {
    host,
    port,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === "rediss:" ? { tls: true } : {}),
  };
}

