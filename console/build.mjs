// Builds the console into console/dist: esbuild bundles src/main.tsx (browser platform, so
// @signalbox/client resolves to its web build) into hashed app-XXXX.js / app-XXXX.css, writes
// index.html pointing at them, and a gzip copy of each asset the gateway sends when accepted.
// Run from anywhere: `node console/build.mjs` (the root `npm run build` does).

import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
// @signalbox/client brings its own @connectrpc/connect; connect-query imports the workspace's.
// Bundle one copy: the client's, which its transports and error class are built on.
const clientDir = join(here, "..", "clients", "typescript");
const oneConnect = {
  name: "one-connect",
  setup(b) {
    b.onResolve({ filter: /^@connectrpc\/connect$/ }, (args) => {
      if (args.pluginData === "one-connect") return undefined;
      return b.resolve(args.path, { kind: args.kind, resolveDir: clientDir, pluginData: "one-connect" });
    });
  },
};

const started = performance.now();
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
const result = await build({
  entryPoints: { app: join(here, "src/main.tsx") },
  bundle: true,
  platform: "browser",
  format: "esm",
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  jsx: "automatic",
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  entryNames: "[name]-[hash]",
  outdir: dist,
  metafile: true,
  define: { "process.env.NODE_ENV": '"production"' },
  plugins: [oneConnect],
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((p) => join(process.cwd(), p));
const pick = (ext) => {
  const f = outputs.find((p) => p.endsWith(ext) && !p.endsWith(".map"));
  if (!f) throw new Error(`no ${ext} output`);
  return basename(f);
};
const js = pick(".js");
const css = pick(".css");
const html = (await readFile(join(here, "index.html"), "utf8")).replace("%APP_JS%", js).replace("%APP_CSS%", css);
await writeFile(join(dist, "index.html"), html);

let report = [];
for (const name of [js, css, "index.html"]) {
  const p = join(dist, name);
  const body = await readFile(p);
  const gz = gzipSync(body, { level: 9 });
  await writeFile(`${p}.gz`, gz);
  report.push(`${name} ${(body.length / 1024).toFixed(1)} KiB (gzip ${(gz.length / 1024).toFixed(1)} KiB)`);
}
process.stdout.write(`console built in ${Math.round(performance.now() - started)} ms → ${dist}\n  ${report.join("\n  ")}\n`);
