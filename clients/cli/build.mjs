// Builds dist/signalbox.mjs: type-checks the CLI, then bundles it with everything it uses
// (commander, @signalbox/client and its Connect and protobuf runtime, yaml, the MCP client
// @modelcontextprotocol/client, ws for `realtime`, and the gateway's config validator and the importers of LiteLLM's and Bifrost's configs) into one ES module for Node 20+. Nothing is left to install at run time, and
// the build fails if any gateway code other than config validation gets in.

import { execFileSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
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

/**
 * Start-up time. A command line pays for every module it evaluates, on every run, whatever the
 * command; most of the bundle (the protobuf descriptors of @signalbox/client and their runtime, the
 * MCP client with its zod schemas, yaml, ws with the http, https, net, tls, crypto and zlib
 * built-ins it loads, the gateway's config validator) is only needed once a
 * command's action runs. Two plugins keep it out of `--help`, `--version` and commands that do not
 * use it, without changing what any code does:
 *
 * - lazyDeps: the CLI's own imports of these packages go through a small CommonJS stand-in whose
 *   named exports are getters that `require()` the real module on first use. esbuild turns a
 *   required ES module into one that is initialized on demand, so the package (and everything only
 *   it imports) is evaluated when a name from it is first read, inside the one output file. Only
 *   the CLI's own imports are redirected: the packages import each other as usual. Code evaluated
 *   at load time must therefore not read these names (the program's definition only builds
 *   commander objects); read them in actions or in functions actions call.
 *   test/cli/startup.test.ts checks that `--version` and `--help` load no network built-in.
 * - builtinsByRequire: Node built-ins are loaded with `require`, not `import`. An ES import of a
 *   built-in makes Node build its ES facade, which reads every export: `node:http`'s lazy fetch
 *   getters then load Node's internal undici (~50 ms on Node 24), and `import` statements of
 *   built-ins are hoisted to the top of the bundle, so http2, https, tls, zlib... would load on
 *   every run. Required through esbuild's CommonJS interop, each loads when the module using it
 *   is evaluated, and a named import still reads the built-in's property at the time of use.
 */
const LAZY = /^(@signalbox\/client|@bufbuild\/protobuf(\/[a-z0-9]+)?|@modelcontextprotocol\/client|yaml|ws)$/;
const LAZY_PATH = /\/src\/config\/(import\/)?[^/]+\.ts$/;
const CLI_SOURCE = join(here, "src") + "/";

/**
 * The names the CLI's sources import from each lazy module (by specifier, or by path for relative
 * imports): the stand-in defines only these (fewer getters to copy at load).
 */
function importedNames() {
  const names = new Map();
  for (const file of readdirSync(CLI_SOURCE, { recursive: true }).filter((f) => f.endsWith(".ts"))) {
    const path = join(CLI_SOURCE, file);
    for (const m of readFileSync(path, "utf8").matchAll(/^import\s+(type\s+)?([^;]*?)\s+from\s+"([^"]+)";/gms)) {
      const [, typeOnly, clause, spec] = m;
      const key = spec.startsWith(".") ? resolve(dirname(path), spec) : spec;
      if (typeOnly || !(LAZY.test(spec) || (spec.startsWith(".") && LAZY_PATH.test(key)))) continue;
      if (!/^\{[^}]*\}$/.test(clause)) throw new Error(`${file}: import ${clause} from "${spec}": import named values from a lazily loaded module (see build.mjs)`);
      const set = names.get(key) ?? new Set();
      for (const item of clause.slice(1, -1).split(",").map((x) => x.trim())) if (item && !item.startsWith("type ")) set.add(item.split(/\s+as\s+/)[0]);
      names.set(key, set);
    }
  }
  return names;
}

const lazyDeps = {
  name: "lazy-deps",
  setup(b) {
    const names = importedNames();
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.kind !== "import-statement" || args.namespace !== "file" || !args.importer.startsWith(CLI_SOURCE)) return;
      if (!LAZY.test(args.path) && !(args.path.startsWith(".") && LAZY_PATH.test(args.path))) return;
      const real = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir });
      if (real.errors.length) return { errors: real.errors };
      if (!LAZY.test(args.path) && !LAZY_PATH.test(real.path)) return;
      const key = args.path.startsWith(".") ? resolve(args.resolveDir, args.path) : args.path;
      // A stand-in of its own name (.cjs: esbuild takes it as CommonJS whatever the real module is).
      return { path: `${relative(root, real.path)}.lazy.cjs`, namespace: "lazy-deps", pluginData: { real: real.path, names: [...(names.get(key) ?? [])].sort() } };
    });
    b.onLoad({ filter: /.*/, namespace: "lazy-deps" }, ({ path, pluginData: { real, names } }) => ({
      loader: "js",
      resolveDir: dirname(real),
      contents: [
        "let m;",
        `const load = () => (m ??= require(${JSON.stringify(path.replace(/\.lazy\.cjs$/, ".names.mjs"))}));`,
        `for (const k of ${JSON.stringify(names)}) Object.defineProperty(exports, k, { enumerable: true, get: () => load()[k] });`,
      ].join("\n"),
      pluginData: { real, names },
    }));
    // What the stand-in requires: an ES module exporting just those names, so that esbuild still
    // leaves out what the CLI does not use (a required module keeps all it exports).
    b.onResolve({ filter: /\.names\.mjs$/, namespace: "lazy-deps" }, ({ path, pluginData }) => ({ path, namespace: "lazy-names", pluginData }));
    b.onLoad({ filter: /.*/, namespace: "lazy-names" }, ({ pluginData: { real, names } }) => ({
      loader: "js",
      resolveDir: dirname(real),
      contents: `export { ${names.join(", ")} } from ${JSON.stringify(real)};`,
    }));
  },
};

const BUILTIN = new RegExp(`^(node:.+|${builtinModules.map((m) => m.replace(/[/]/g, "\\/")).join("|")})$`);
const builtinsByRequire = {
  name: "builtins-by-require",
  setup(b) {
    b.onResolve({ filter: BUILTIN }, (args) =>
      args.namespace === "builtin" || args.kind !== "import-statement" ? { path: args.path, external: true } : { path: args.path, namespace: "builtin" },
    );
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({ loader: "js", contents: `module.exports = require(${JSON.stringify(args.path)});` }));
  },
};

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
  plugins: [lazyDeps, builtinsByRequire],
  metafile: true,
  logLevel: "warning",
});

// What each input adds to the output (paths relative to absWorkingDir, the repository root).
const added = Object.entries(result.metafile.outputs[relative(root, outfile)].inputs).filter(([, v]) => v.bytesInOutput > 0);
// Modules under a lazily loaded one are wrapped in an initializer, kept even when empty (a module
// src/config imports only types from): `var init_x=__esm({"src/router/errors.ts"(){"use strict";init_y()}});`
// brings in no code.
const output = readFileSync(outfile, "utf8");
const emptyInit = (p) => new RegExp(`__esm\\(\\{${JSON.stringify(p).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\(\\)\\{("use strict";?)?(init_\\w+\\(\\);?)*\\}\\}\\)`).test(output);
const problems = added
  .filter(([p]) => SERVER_PACKAGE.test(p) || (p.startsWith("src/") && !GATEWAY_CONFIG.test(p)))
  .filter(([p]) => !emptyInit(p))
  .map(([p, { bytesInOutput }]) => `${p} (${bytesInOutput} bytes)`);
if (problems.length) {
  rmSync(outfile, { force: true });
  console.error(`clients/cli/build.mjs: gateway code other than config validation got into the CLI bundle:\n  ${problems.join("\n  ")}\nKeep src/config/ free of imports from the rest of the server beyond guardrail compilation (type-only imports are fine).`);
  process.exit(1);
}
chmodSync(outfile, 0o755);
const kb = (statSync(outfile).size / 1024).toFixed(0);
console.log(`clients/cli/dist/signalbox.mjs: ${kb} KiB from ${added.length} modules`);
