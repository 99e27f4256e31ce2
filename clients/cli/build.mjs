// Builds dist/signalbox.mjs: type-checks the CLI, then bundles it with everything it uses
// (commander, @signalbox/client and its Connect and protobuf runtime, yaml, the MCP client
// @modelcontextprotocol/client, and the gateway's config validator) into one ES module for Node 20+. Nothing is left to install at run time, and
// the build fails if any gateway code other than config validation gets in.

import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../..");
const outfile = join(here, "dist/signalbox.mjs");
const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));

/**
 * Gateway sources: `config check` runs the gateway's own validator, src/config/, with the guardrail
 * detectors it compiles to check a guardrail's settings (pure code) and the JSON log line it writes
 * for warnings; nothing else of the server.
 */
const GATEWAY_CONFIG = /^src\/(config\/|guardrails\/|telemetry\/log\.ts$)/;
const SERVER_PACKAGE = /node_modules\/(ioredis|pg|pg-[a-z-]+|undici|@opentelemetry)\//;

// typescript's "exports" hide bin/: find the package, then its bin.
const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin/tsc");
execFileSync(process.execPath, [tsc, "-p", join(here, "tsconfig.json")], { stdio: "inherit" });

rmSync(join(here, "dist"), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: [join(here, "src/main.ts")],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Bundle everything: `npm install` of the CLI then fetches nothing, and no dependency's own
  // Node floor (commander 15 declares >= 22.12 for require(esm), which a bundle never uses)
  // applies. Node's built-ins stay external (platform node).
  packages: "bundle",
  // The Node entry of @signalbox/client (Connect, gRPC and gRPC-web over node:http/http2).
  conditions: ["node"],
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: "eof",
  // yaml's Node build is CommonJS and requires Node built-ins: give the ES module a require.
  banner: {
    js: [
      "#!/usr/bin/env node",
      `// signalbox ${pkg.version}: the Signalbox command line (bundled; see clients/cli/README.md)`,
      'import { createRequire as __signalboxCreateRequire } from "node:module";',
      "const require = __signalboxCreateRequire(import.meta.url);",
    ].join("\n"),
  },
  define: { SIGNALBOX_CLI_VERSION: JSON.stringify(pkg.version) },
  metafile: true,
  logLevel: "warning",
});

// What each input adds to the output (paths relative to absWorkingDir, the repository root).
const added = Object.entries(result.metafile.outputs[relative(root, outfile)].inputs).filter(([, v]) => v.bytesInOutput > 0);
const problems = added
  .filter(([p]) => SERVER_PACKAGE.test(p) || (p.startsWith("src/") && !GATEWAY_CONFIG.test(p)))
  .map(([p, { bytesInOutput }]) => `${p} (${bytesInOutput} bytes)`);
if (problems.length) {
  rmSync(outfile, { force: true });
  console.error(`clients/cli/build.mjs: gateway code other than config validation got into the CLI bundle:\n  ${problems.join("\n  ")}\nKeep src/config/ free of imports from the rest of the server beyond guardrail compilation (type-only imports are fine).`);
  process.exit(1);
}
chmodSync(outfile, 0o755);
const kb = (statSync(outfile).size / 1024).toFixed(0);
console.log(`clients/cli/dist/signalbox.mjs: ${kb} KiB from ${added.length} modules`);
