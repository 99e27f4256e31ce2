// The command line starts without what its commands need (clients/cli/build.mjs): `--version`,
// `--help` and a command's help load none of the network built-ins (http, https, http2, tls, zlib,
// crypto) nor Node's internal undici, which the bundle's lazily loaded packages (the typed client
// on connect-node, ws, the MCP client) and `import`s of built-ins would pull in at start-up. A
// command that talks to the gateway does load them. Checked on the built bundle, in a child
// process, from Node's own list of loaded built-ins.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUNDLE = join(ROOT, "clients/cli/dist/signalbox.mjs");
const NODE24 = existsSync(join(ROOT, "node_modules/.bin/node")) ? join(ROOT, "node_modules/.bin/node") : process.execPath;
const NETWORK = ["http", "https", "http2", "tls", "zlib", "crypto", "internal/deps/undici/undici"];

const dir = mkdtempSync(join(tmpdir(), "sbx-cli-startup-"));
after(() => rmSync(dir, { recursive: true, force: true }));
// Preloaded: at exit, the built-ins the process loaded, on stderr's last line.
const probe = join(dir, "loaded.cjs");
writeFileSync(probe, `process.on("exit", () => require("fs").writeSync(2, "\\nLOADED " + JSON.stringify(process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice(13))) + "\\n"));\n`);

function loaded(args: string[]): { status: number | null; stdout: string; builtins: string[] } {
  const r = spawnSync(NODE24, ["--require", probe, BUNDLE, ...args], { encoding: "utf8", env: { ...process.env, SIGNALBOX_URL: "", SIGNALBOX_API_KEY: "" }, timeout: 30_000 });
  const line = r.stderr.split("\n").findLast((l) => l.startsWith("LOADED "));
  assert.ok(line, `no list of loaded built-ins: ${r.stderr}`);
  return { status: r.status, stdout: r.stdout, builtins: JSON.parse(line.slice(7)) };
}

describe("start-up", () => {
  for (const args of [["--version"], ["--help"], ["usage", "--help"], ["realtime", "--help"]]) {
    test(`signalbox ${args.join(" ")} loads no network built-in`, () => {
      const r = loaded(args);
      assert.equal(r.status, 0);
      assert.ok(r.stdout.length > 0);
      assert.deepEqual(NETWORK.filter((m) => r.builtins.includes(m)), []);
    });
  }

  test("a command that calls the gateway loads them when it runs", () => {
    // Nothing listens on port 1: the call fails, after the client was loaded.
    const r = loaded(["--url", "http://127.0.0.1:1", "usage"]);
    assert.notEqual(r.status, 0);
    assert.ok(r.builtins.includes("http") || r.builtins.includes("http2"), r.builtins.join(", "));
  });
});
