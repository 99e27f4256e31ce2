// The console's browser tests: Debian's chromium driven by playwright-core (headless, no sandbox,
// no GPU, no background networking, a fresh profile), and the console built first when its bundle
// is older than its sources.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CONSOLE = join(ROOT, "console");
/** Where the tests leave their screenshots. */
export const OUTPUT_DIR = join(ROOT, "test-output", "console");

export const haveChromium = existsSync(CHROMIUM);
/** The `skip` of a browser suite: skipped without chromium, except in CI, where that is a failure. */
export const skipWithoutChromium = !haveChromium && !process.env.CI ? `${CHROMIUM} is missing (apt-get install -y chromium); set CI=1 to make this a failure` : false;

function consoleStale(): boolean {
  const built = join(CONSOLE, "dist", "index.html");
  if (!existsSync(built)) return true;
  const builtAt = statSync(built).mtimeMs;
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  const clientDist = join(ROOT, "clients", "typescript", "dist");
  return Math.max(newest(join(CONSOLE, "src")), statSync(join(CONSOLE, "build.mjs")).mtimeMs, statSync(join(CONSOLE, "index.html")).mtimeMs, existsSync(clientDist) ? newest(clientDist) : 0) > builtAt;
}

/** Before a browser suite: chromium is there (a failure in CI), the console bundle is current, the screenshot directory exists. */
export async function prepareConsole(): Promise<void> {
  if (!haveChromium) throw new Error(`CI is set but ${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
  if (consoleStale()) {
    const r = spawnSync(process.execPath, [join(CONSOLE, "build.mjs")], { encoding: "utf8" });
    assert.equal(r.status, 0, `console build failed:\n${r.stdout}\n${r.stderr}`);
  }
  await mkdir(OUTPUT_DIR, { recursive: true });
}

/** Headless chromium with a fresh profile in `profileDir`. */
export function launchChromium(profileDir: string, viewport: { width: number; height: number }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport,
  });
}

/**
 * A page of `context` signed in to the console at `origin` with `key` (an admin key: the identity
 * badge says admin), its browser-console errors and page errors collected into `errors`.
 */
export async function signedInPage(context: BrowserContext, origin: string, key: string, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`${page.url()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror on ${page.url()}: ${e.message}`));
  await page.goto(`${origin}/console/`);
  await page.locator("input[name=key]").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("[data-testid=identity][data-role=admin]").waitFor();
  return page;
}

/**
 * A console suite's teardown: the browser context, the gateway and whatever else it started (in
 * that order), its scratch directory, then how long the suite took.
 */
export async function endSuite(name: string, started: number, work: string | undefined, ...parts: ({ close(): Promise<unknown> } | undefined)[]): Promise<void> {
  for (const c of parts) await c?.close();
  if (work) await rm(work, { recursive: true, force: true });
  console.log(`# console ${name} suite: ${Math.round(performance.now() - started)} ms`);
}
