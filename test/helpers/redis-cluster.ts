// A private Redis Cluster for tests: `masters` × (1 + `replicasPerMaster`) redis-server processes
// on free loopback ports, no persistence, node tables in a temporary folder, joined with
// `redis-cli --cluster create`, each stopped by its pid.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./redis.ts";

export interface TestRedisCluster {
  /** Every node, "127.0.0.1:port", in start order. */
  nodes: string[];
  /** The current masters ("127.0.0.1:port"), ordered by the first slot they serve. */
  masters(): Promise<string[]>;
  /** The master serving a slot now. */
  masterOf(slot: number): Promise<string>;
  /** SIGKILL the i-th of masters(); resolves with its address once the process has exited. */
  killMaster(i: number): Promise<string>;
  /** SIGKILL a node by address. */
  kill(node: string): Promise<void>;
  /** Resolves once every live node reports cluster_state:ok, every slot has a live master and every live replica is in sync. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Whether redis-server and redis-cli can be run here. */
export function redisClusterAvailable(): boolean {
  return ["redis-server", "redis-cli"].every((bin) => spawnSync(bin, ["--version"], { stdio: "ignore" }).status === 0);
}

/** Start one node; `onSpawn` sees the process at once (so a failed start can still stop it). */
function launch(port: number, busPort: number, dir: string, onSpawn: (p: ChildProcess) => void): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      "redis-server",
      [
        "--cluster-enabled", "yes",
        "--cluster-config-file", join(dir, `nodes-${port}.conf`),
        "--cluster-node-timeout", "1000",
        "--port", String(port),
        // The bus port is chosen too: the default (port + 10000) may be taken, or past 65535.
        "--cluster-port", String(busPort),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--protected-mode", "no",
        // Replicas sync at once (the default waits 5 s for more replicas to share the transfer).
        "--repl-diskless-sync-delay", "0",
        "--dir", dir,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    onSpawn(proc);
    let out = "";
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes("Ready to accept connections")) {
        proc.stdout!.off("data", onData);
        proc.stdout!.resume();
        proc.off("exit", onExit);
        resolve(proc);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`redis-server exited with ${code}: ${out}`));
    proc.stdout!.on("data", onData);
    proc.stderr!.resume();
    proc.once("error", reject);
    proc.once("exit", onExit);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One short-lived connection to a node: run a command, close. Rejects if the node is down. */
async function ask(node: string, ...args: string[]): Promise<unknown> {
  const [host, port] = node.split(":");
  const c = new Redis({ host, port: Number(port), lazyConnect: true, enableOfflineQueue: false, connectTimeout: 500, commandTimeout: 1000, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  c.on("error", () => {});
  try {
    await c.connect();
    return await c.call(args[0], ...args.slice(1));
  } finally {
    c.disconnect();
  }
}

interface SlotRange {
  start: number;
  end: number;
  master: string;
}

export async function startRedisCluster(opts: { masters?: number; replicasPerMaster?: number } = {}): Promise<TestRedisCluster> {
  const nMasters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 1;
  const dir = mkdtempSync(join(tmpdir(), "signalbox-redis-cluster-"));
  const nNodes = nMasters * (1 + replicas);
  const ports: number[] = [];
  while (ports.length < 2 * nNodes) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const busPorts = ports.splice(nNodes);
  const procs = new Map<string, ChildProcess>();
  const nodes = ports.map((p) => `127.0.0.1:${p}`);
  const stop = async () => {
    await Promise.all(
      [...procs.values()].map(async (proc) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGKILL");
        await exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(ports.map((p, i) => launch(p, busPorts[i], dir, (proc) => procs.set(nodes[i], proc))));
    const create = spawnSync("redis-cli", ["--cluster", "create", ...nodes, "--cluster-replicas", String(replicas), "--cluster-yes"], { encoding: "utf8", timeout: 30_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}\n${create.stderr}`);
  } catch (err) {
    await stop();
    throw err;
  }

  const alive = () => nodes.filter((n) => {
    const p = procs.get(n)!;
    return p.exitCode === null && p.signalCode === null;
  });

  /** Slot ranges and their masters, as a live node sees them. */
  const ranges = async (): Promise<SlotRange[]> => {
    for (const n of alive()) {
      try {
        const reply = (await ask(n, "CLUSTER", "SLOTS")) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
        return reply.map(([start, end, m]) => ({ start, end, master: `${m[0]}:${m[1]}` })).sort((a, b) => a.start - b.start);
      } catch {
        // Try the next node.
      }
    }
    throw new Error("no cluster node answers");
  };
  const masters = async () => [...new Set((await ranges()).map((r) => r.master))];

  const waitHealthy = async (timeoutMs = 20_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      let ok = true;
      for (const n of alive()) {
        try {
          const info = String(await ask(n, "CLUSTER", "INFO"));
          if (!info.includes("cluster_state:ok")) ok = false;
        } catch {
          ok = false;
        }
        if (!ok) break;
      }
      if (ok) {
        // Every live replica has synced with its master (a replica that never did cannot take over).
        for (const n of alive()) {
          try {
            const info = String(await ask(n, "INFO", "replication"));
            if (info.includes("role:slave") && !info.includes("master_link_status:up")) ok = false;
          } catch {
            ok = false;
          }
          if (!ok) break;
        }
      }
      if (ok) {
        // Every live node agrees that every slot has a live master.
        const live = new Set(alive());
        try {
          const rs = await ranges();
          const covered = rs.reduce((n, r) => n + (r.end - r.start + 1), 0);
          if (covered === 16384 && rs.every((r) => live.has(r.master))) return;
        } catch {
          // Not yet.
        }
      }
      if (Date.now() > end) throw new Error(`the cluster did not become healthy within ${timeoutMs} ms`);
      await sleep(100);
    }
  };
  try {
    await waitHealthy();
  } catch (err) {
    await stop();
    throw err;
  }

  const kill = async (node: string) => {
    const proc = procs.get(node);
    if (!proc) throw new Error(`unknown node ${node}`);
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await exited;
  };

  return {
    nodes,
    masters,
    async masterOf(slot) {
      const r = (await ranges()).find((x) => slot >= x.start && slot <= x.end);
      if (!r) throw new Error(`slot ${slot} is not served`);
      return r.master;
    },
    async killMaster(i) {
      const m = (await masters())[i];
      if (!m) throw new Error(`no master #${i}`);
      await kill(m);
      return m;
    },
    kill,
    waitHealthy,
    stop,
  };
}
