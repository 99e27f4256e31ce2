// The gateway's entry point: `node src/main.ts [--config file.yaml]`. Loads and validates the
// config (exits non-zero naming the bad field), starts the server, re-reads the config on SIGHUP,
// drains on SIGTERM/SIGINT.

import { parseArgs } from "node:util";
import { ConfigError, DEFAULT_CONFIG_PATH } from "./config/load.ts";
import { loadConfigWithSecrets } from "./secrets/load.ts";
import { createGateway } from "./gateway.ts";
import { startServer } from "./server/http.ts";
import { warmTokenizer } from "./providers/tokens.ts";
import { CONSOLE_PATH, consoleBuilt } from "./server/console.ts";
import { log } from "./telemetry/log.ts";


/** A Redis URL without its password. */
function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(unparseable)";
  }
}

async function main() {
  const { values } = parseArgs({ options: { config: { type: "string", short: "c" }, port: { type: "string", short: "p" } } });
  const path = values.config ?? process.env.SIGNALBOX_CONFIG ?? DEFAULT_CONFIG_PATH;
  let config;
  try {
    config = await loadConfigWithSecrets(path);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`signalbox: invalid configuration in ${path}\n  ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const port = values.port ?? (values.config || process.env.SIGNALBOX_CONFIG ? process.env.PORT : undefined);
  // Applied to the listener, not written into the config: a reload compares the file with the
  // config in force, and must not see the override as a port change.
  const listenPort = port !== undefined ? Number(port) : config.server.port;

  let gw;
  try {
    gw = await createGateway(config, { requestLog: process.env.SIGNALBOX_REQUEST_LOG !== "off", configPath: path });
  } catch (err) {
    process.stderr.write(`signalbox: cannot start: ${(err as Error).message}\n`);
    process.exit(2);
  }
  // The token counter every request's admission uses, built before the first request rather than by it.
  warmTokenizer();
  if (!gw.core.auth.enabled) {
    log("warn", "AUTH IS OFF: no caller keys exist, every request is accepted as 'anonymous' (and may use AdminService to create the first key, which turns auth on). Configure keys before exposing this gateway.");
  }
  if (!config.store.redisUrl && !config.store.redisCluster?.length) {
    log("warn", "using the in-memory store: cooldowns, limits, budgets and usage are per process and lost on restart (set REDIS_URL or store.redis_url, or store.redis_cluster, to share them across replicas)");
  } else {
    const connected = (gw.core.exec.health as { connected?: boolean }).connected;
    log(connected ? "info" : "warn", connected ? "shared state in Redis" : "Redis is not reachable: serving with per-replica state until it is", {
      redis: config.store.redisCluster?.length ? `cluster ${config.store.redisCluster.map((n) => redactUrl(n.includes("://") ? n : `redis://${n}`)).join(",")}` : redactUrl(config.store.redisUrl!),
    });
  }
  if (gw.core.control.storeKind === "memory") {
    log("warn", "keys, teams, prompts, providers, deployments and routes made at run time, and the audit log managed through AdminService and PromptService are kept in memory and lost on restart (set store.postgres_url or DATABASE_URL to keep them in PostgreSQL)");
  } else {
    log("info", "keys, teams and the audit log in PostgreSQL", { postgres: redactUrl(config.store.postgresUrl!) });
  }
  if (config.server.cors) {
    log("info", "CORS is on: browsers on these origins may call the gateway", { allowedOrigins: config.server.cors.allowedOrigins, allowCredentials: config.server.cors.allowCredentials });
  }
  const server = await startServer(gw, {
    port: listenPort,
    host: config.server.host,
    maxRequestBytes: config.server.maxRequestBytes,
  });
  log("info", "signalbox listening", {
    url: server.url,
    port: server.port,
    config: path,
    protocols: ["connect", "grpc", "grpc-web"],
    http: ["HTTP/1.1", "h2c"],
    routes: config.routes.map((r) => r.name),
    deployments: config.deployments.length,
    config_version: gw.configVersion,
  });
  if (config.server.console !== false) {
    if (consoleBuilt()) log("info", `console at ${server.url}${CONSOLE_PATH}`, { console: `${server.url}${CONSOLE_PATH}` });
    else log("warn", "console not built: run npm run build (until then /console/ answers 503)");
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log("info", "shutting down: draining in-flight requests", { signal, graceMs: config.server.shutdownGraceMs });
    server.shutdown(config.server.shutdownGraceMs).then(
      () => {
        log("info", "stopped");
        process.exit(0);
      },
      (err) => {
        log("error", "shutdown failed", { error: String(err) });
        process.exit(1);
      },
    );
  };
  // Re-read the config file; reload() logs the outcome itself, and an invalid file changes
  // nothing and must not stop the process.
  const gateway = gw;
  process.on("SIGHUP", () => {
    if (!stopping) gateway.reload("SIGHUP").catch(() => undefined);
  });
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err) => {
  process.stderr.write(`signalbox: fatal: ${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
});
