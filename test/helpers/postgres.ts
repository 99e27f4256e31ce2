// A private PostgreSQL for tests: Debian's initdb/pg_ctl on a fresh data dir under the temp dir,
// a free loopback port, trust auth, fsync off; stopped (and restarted) with pg_ctl for outage tests.

import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { after, before, type TestContext } from "node:test";
import pg from "pg";
import { freePort } from "./redis.ts";
import { startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "./gateway.ts";

export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth: any password is accepted). */
  url: string;
  port: number;
  /** The instance's folder: `data/` (the cluster), the socket and `log`. */
  dir: string;
  /** pg_ctl stop -m fast; the data dir stays, so start() brings the same cluster back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** stop() (when running), then start() on the same port. */
  restart(): Promise<void>;
  /** SIGKILL the postmaster (a crash: clients see their connections vanish). start() recovers. */
  kill(): Promise<void>;
  /** Stop and remove the folder. */
  destroy(): Promise<void>;
}

/** The newest `/usr/lib/postgresql/<ver>/bin` that has initdb and pg_ctl, if any. */
export function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(root, v, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_ctl"))) return bin;
  }
  return undefined;
}

/** uid/gid of the `postgres` OS user when we are root (initdb refuses to run as root). */
function runAs(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("running as root and there is no postgres user to run initdb as");
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

function run(bin: string, args: string[], user: { uid: number; gid: number } | undefined, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { cwd, ...user, env: { PATH: "/usr/bin:/bin", LANG: "C", LC_ALL: "C" }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} ${args[0]} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * Start a private PostgreSQL (about 2 s). Resolves undefined when the binaries are missing and
 * CI is unset (the caller skips); in CI a missing PostgreSQL is an error.
 */
export async function startPostgres(): Promise<TestPostgres | undefined> {
  const bin = postgresBinDir();
  if (!bin) {
    if (process.env.CI) throw new Error("PostgreSQL binaries not found under /usr/lib/postgresql (apt-get install -y postgresql)");
    return undefined;
  }
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), "signalbox-pg-"));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, "data");
  const port = await freePort();
  const pgCtl = join(bin, "pg_ctl");
  await run(join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"], user, dir);
  const serverOpts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50`;
  let running = false;

  const start = async () => {
    await run(pgCtl, ["-D", data, "-o", serverOpts, "-l", join(dir, "log"), "-w", "-t", "30", "start"], user, dir);
    running = true;
  };
  const stop = async () => {
    if (!running) return;
    await run(pgCtl, ["-D", data, "-m", "fast", "-w", "-t", "30", "stop"], user, dir);
    running = false;
  };
  // A test that dies must not leave a postmaster behind.
  const onExit = () => {
    if (!running) return;
    try {
      execFileSync(pgCtl, ["-D", data, "-m", "immediate", "stop"], { cwd: dir, ...user, stdio: "ignore" });
    } catch {
      // Nothing more to do on the way out.
    }
  };
  process.on("exit", onExit);

  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start,
    stop,
    async restart() {
      await stop();
      await start();
    },
    async kill() {
      if (!running) return;
      const pid = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
      process.kill(pid, "SIGKILL");
      // The postmaster is gone; its backends notice and exit on their own. Wait for the port to close.
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      running = false;
      // A killed cluster leaves postmaster.pid behind; pg_ctl start copes (the pid is dead).
    },
    async destroy() {
      try {
        await stop();
      } finally {
        process.off("exit", onExit);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Create a fresh database on the server of `url` and return a URL for it. */
export async function createDatabase(url: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * A private PostgreSQL with a fresh database and a fake OpenAI upstream, and two gateway replicas
 * on them (`yaml` makes the config from the upstream's URL and the database's). Undefined when
 * PostgreSQL's binaries are missing (an error under CI). `close` stops everything, `replicas`
 * included as they stand then (a test may restart one).
 */
export async function startPostgresReplicas(
  database: string,
  yaml: (openaiUrl: string, postgresUrl: string) => string,
): Promise<{ server: TestPostgres; fake: FakeOpenAI; config: string; replicas: [TestGateway, TestGateway]; close(): Promise<void> } | undefined> {
  const server = await startPostgres();
  if (!server) {
    if (process.env.CI) throw new Error("PostgreSQL binaries not installed");
    return undefined;
  }
  const fake = await startFakeOpenAI();
  const config = yaml(fake.url, await createDatabase(server.url, database));
  const out = {
    server,
    fake,
    config,
    replicas: (await Promise.all([startTestGateway(config), startTestGateway(config)])) as [TestGateway, TestGateway],
    async close() {
      await Promise.allSettled(out.replicas.map((r) => r.close()));
      await fake.close();
      await server.destroy();
    },
  };
  return out;
}

/**
 * A private cluster for one test file: started before its tests and destroyed after them (with
 * every database they made in it), fresh databases named `<prefix>_<n>`, and `need`, which skips a
 * test when the cluster could not start (no PostgreSQL binaries outside CI). `available` says
 * before any test runs whether the binaries are there (or CI, which must have them).
 */
export function postgresForFile(prefix: string) {
  const available = postgresBinDir() !== undefined || !!process.env.CI;
  let server: TestPostgres | undefined;
  let dbs = 0;
  before(async () => {
    if (available) server = await startPostgres();
  });
  after(() => server?.destroy());
  return {
    available,
    get server(): TestPostgres | undefined {
      return server;
    },
    freshDb: () => createDatabase(server!.url, `${prefix}_${++dbs}`),
    need(t: TestContext): boolean {
      if (!server) t.skip("PostgreSQL binaries not found (apt-get install -y postgresql)");
      return !!server;
    },
  };
}

/** One query on a connection of its own: its rows. */
export async function queryRows<T extends pg.QueryResultRow>(url: string, text: string, values?: unknown[]): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}
