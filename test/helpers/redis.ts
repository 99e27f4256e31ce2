// A private redis-server for tests: a free loopback port, no persistence unless asked, stopped by its pid.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";

export interface TestRedis {
  url: string;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
  /** Start it again on the same port (after stop), for outage tests. */
  restart(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

function launch(port: number, dir?: string): Promise<ChildProcess> {
  // With a dir: an append-only file fsynced on every write, so a killed server comes back with
  // everything it acknowledged (what a production Redis with AOF "always" keeps).
  const persistence = dir ? ["--appendonly", "yes", "--appendfsync", "always", "--dir", dir] : ["--appendonly", "no"];
  return new Promise((resolve, reject) => {
    const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence, "--protected-mode", "no"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes("Ready to accept connections")) {
        proc.stdout!.off("data", onData);
        proc.stdout!.resume();
        resolve(proc);
      }
    };
    proc.stdout!.on("data", onData);
    proc.once("error", reject);
    proc.once("exit", (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
}

/** A private redis-server on a free port; `persist` keeps its data across restart() (AOF, fsync always). */
export async function startRedis(opts: { persist?: boolean } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = opts.persist ? mkdtempSync(join(tmpdir(), "signalbox-redis-")) : undefined;
  let proc = await launch(port, dir);
  const stop = async () => {
    // Killed by a signal, a process has signalCode set and exitCode null: it has exited all the same.
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get proc() {
      return proc;
    },
    stop,
    async restart() {
      await stop();
      proc = await launch(port, dir);
    },
  };
}
