// What operations other than chat bill by, summed in usage reports: images generated, seconds of
// audio transcribed, characters spoken, searches, and their per-unit charges (Cost.request), as
// GetUsage returns them over Connect from a real gateway's store, next to the records they come from.
// (Every store sums them the same way: test/usage/suite.ts compares each with a reference.)

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI, { toFile } from "openai";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createSignalboxClient, Dimension, Granularity, userText, type SignalboxClient } from "@signalbox/client";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashKey } from "../../src/server/auth.ts";
import { buildCliIfStale, runCli } from "../helpers/cli.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "units", "a"].join("_");

let t: TestGateway;
let sdk: OpenAI;
let typed: SignalboxClient;

before(async () => {
  t = await startTestGateway(`
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/image, provider: mock, model: mock-image-1, operations: [images], pricing: { input: 0, output: 0, per_image: 0.01 } }
  - { id: mock/whisper, provider: mock, model: mock-whisper-1, operations: [transcription], pricing: { per_minute: 0.006 } }
  - { id: mock/tts, provider: mock, model: mock-tts-1, operations: [speech], pricing: { per_million_characters: 15 } }
  - { id: mock/rerank, provider: mock, model: mock-rerank-1, operations: [rerank], pricing: { input: 0, output: 0, per_request: 0.002 } }
  - { id: mock/chat, provider: mock, model: mock-chat }
routes:
  - { name: image, targets: [mock/image] }
  - { name: transcription, targets: [mock/whisper] }
  - { name: speech, targets: [mock/tts] }
  - { name: rerank, targets: [mock/rerank] }
  - { name: chat, targets: [mock/chat] }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
`);
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
  typed = createSignalboxClient({ baseUrl: t.url, apiKey: KEY });
});
after(async () => {
  await t.close();
});

test("GetUsage sums images, audio seconds, characters and searches by operation, and reports their charges as Cost.request", async () => {
  const since = Date.now() - 1000;
  // Two requests of two images each at $0.01 an image.
  await sdk.images.generate({ model: "image", prompt: "a red bicycle", n: 2 });
  await sdk.images.generate({ model: "image", prompt: "a blue bicycle", n: 2 });
  // 44 characters spoken at $15 a million, twice.
  const text = "The quick brown fox jumps over the lazy dog.";
  const speech = await sdk.audio.speech.create({ model: "speech", input: text, voice: "alloy", response_format: "wav" });
  const wav = Buffer.from(await speech.arrayBuffer());
  await sdk.audio.speech.create({ model: "speech", input: text, voice: "alloy", response_format: "wav" }).then((r) => r.arrayBuffer());
  // That recording transcribed: billed by the seconds the model reports.
  await sdk.audio.transcriptions.create({ model: "transcription", file: await toFile(wav, "fox.wav", { type: "audio/wav" }) });
  // One search at $0.002.
  const rr = await fetch(`${t.url}/v1/rerank`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "rerank", query: "bicycles", documents: ["a red bicycle", "a sandwich"] }),
  });
  assert.equal(rr.status, 200);
  await rr.arrayBuffer();
  await typed.chat.complete({ model: "chat", messages: [userText("hi")] });
  await t.gw.core.usage.flush();

  const records = t.usage.recent().filter((r) => r.time >= since);
  const sumOf = (op: string, f: (r: (typeof records)[number]) => number) => records.filter((r) => r.operation === op).reduce((a, r) => a + f(r), 0);

  const res = await typed.usage.getUsage({ startTime: timestampFromMs(since), granularity: Granularity.TOTAL, groupBy: [Dimension.OPERATION] });
  const by = new Map(res.rows.map((r) => [r.group.operation, r]));
  assert.deepEqual([...by.keys()].sort(), ["chat", "images", "rerank", "speech", "transcription"]);

  const images = by.get("images")!;
  assert.equal(Number(images.requests), 2);
  assert.equal(images.usage?.images, 4n);
  assert.equal(images.cost?.requestNanoUsd, 4n * 10_000_000n);
  assert.equal(images.cost?.totalNanoUsd, 40_000_000n);

  const speak = by.get("speech")!;
  assert.equal(speak.usage?.characters, 88n);
  assert.equal(speak.cost?.requestNanoUsd, 88n * 15_000n);
  assert.equal(speak.cost?.totalNanoUsd, BigInt(sumOf("speech", (r) => r.cost.total)));

  const tr = by.get("transcription")!;
  const seconds = sumOf("transcription", (r) => r.usage.audioSeconds ?? 0);
  assert.ok(seconds > 0);
  assert.equal(tr.usage?.audioSeconds, seconds);
  assert.equal(tr.cost?.requestNanoUsd, BigInt(sumOf("transcription", (r) => r.cost.request ?? 0)));
  assert.equal(tr.cost?.requestNanoUsd, tr.cost?.totalNanoUsd, "a per-minute model bills nothing but its seconds");

  const search = by.get("rerank")!;
  assert.equal(search.usage?.searchUnits, 1n);
  assert.equal(search.cost?.requestNanoUsd, 2_000_000n);

  // Chat has none of them.
  const chat = by.get("chat")!;
  assert.equal(chat.usage?.images, 0n);
  assert.equal(chat.usage?.characters, 0n);
  assert.equal(chat.usage?.audioSeconds, 0);
  assert.equal(chat.cost?.requestNanoUsd, 0n);
});

test("the CLI's usage table shows the units when some row has them, and its CSV always", async () => {
  buildCliIfStale();
  const cwd = mkdtempSync(join(tmpdir(), "sbx-units-"));
  try {
    const run = async (args: string[]) => {
      const r = await runCli(t.url, ["--api-key", KEY, ...args], { cwd });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const table = await run(["usage", "--since", "1h", "--group-by", "operation"]);
    const head = table.split("\n").find((l) => l.includes("OPERATION"))!;
    for (const h of ["IMAGES", "AUDIO", "CHARACTERS", "SEARCHES", "COST"]) assert.ok(head.includes(h), `${h} in ${head}`);
    const images = table.split("\n").find((l) => l.startsWith("images"))!;
    assert.match(images, /\s4\s/, "four images");
    const chatOnly = await run(["usage", "--since", "1h", "--filter", "operation=chat"]);
    assert.ok(!chatOnly.includes("IMAGES"), chatOnly);
    const csv = (await run(["usage", "--since", "1h", "--filter", "operation=chat", "--csv"])).split("\r\n")[0];
    assert.ok(csv.endsWith("images,audio_seconds,characters,search_units,pages,request_cost_usd"), csv);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
