// The real process: `node src/main.ts` starts on the embedded defaults, serves, and on SIGTERM
// stops accepting, lets an in-flight stream finish, and exits 0.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { test } from "node:test";
import { createSignalboxClient, userText } from "@signalbox/client";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

test("SIGTERM drains an in-flight stream, refuses new connections, exits 0", async () => {
  const port = await freePort();
  const proc = spawn(process.execPath, ["src/main.ts"], {
    cwd: new URL("../..", import.meta.url).pathname,
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  let out = "";
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on("data", (d) => {
      out += d;
      if (out.includes("signalbox listening")) resolve();
    });
    proc.once("exit", () => reject(new Error(`gateway exited early: ${out}`)));
  });
  assert.match(out, /AUTH IS OFF/, "start-up says loudly that auth is off");

  const client = createSignalboxClient({ baseUrl: `http://127.0.0.1:${port}`, protocol: "grpc" });
  // mock/slow: first token after 300 ms, then 20 chunks 10 ms apart (about 0.5 s in all).
  const events: string[] = [];
  let text = "";
  const streaming = (async () => {
    for await (const ev of client.chat.stream({ model: "mock/slow", messages: [userText("drain me")] })) {
      events.push(ev.event.case!);
      if (ev.event.case === "delta") text += ev.event.value.text;
    }
  })();
  await new Promise((r) => setTimeout(r, 100));
  proc.kill("SIGTERM");
  await streaming;
  assert.equal(events[0], "start");
  assert.equal(events.at(-1), "finish", "the in-flight stream ran to its end");
  assert.match(text, /drain me/);
  assert.equal(await exited, 0);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
});
