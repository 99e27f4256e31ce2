// Audio through the gateway to OpenAI, over real sockets: the official SDK against the gateway, the
// gateway against the fake OpenAI (its audio endpoints checked against the SDK in
// test/fakes/openai-audio.sdk.test.ts). What each model family is asked for (verbose_json from
// whisper, json from the GPT-4o transcription models, SSE from gpt-4o-mini-tts), what it is billed
// by (seconds, tokens, characters), the upload's bytes intact, fallbacks (a model that cannot
// translate is skipped unsent; a provider error falls back), and Azure's and OpenAI-compatible
// paths.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI, { toFile } from "openai";
import { hashKey } from "../../src/server/auth.ts";
import { createOpenAIAdapter } from "../../src/providers/openai/openai-adapter.ts";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { readRecording } from "../../src/providers/mock/audio.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, transcriptionTokenUsage, type FakeOpenAI } from "../fakes/openai.ts";
import { readWav, wavWithText } from "../fakes/audio.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "audio", "oa"].join("_");

let fake: FakeOpenAI;
let t: TestGateway;
let sdk: OpenAI;

before(async () => {
  fake = await startFakeOpenAI();
  t = await startTestGateway(`
providers:
  - { name: openai, type: openai, base_url: "${fake.url}", api_key: ${OPENAI_TEST_KEY} }
  - { name: groq, type: openai-compatible, base_url: "${fake.url}", api_key: ${OPENAI_TEST_KEY} }
  - { name: mock, type: mock }
deployments:
  - { id: openai/whisper-1, provider: openai, model: whisper-1 }
  - { id: openai/gpt-4o-transcribe, provider: openai, model: gpt-4o-transcribe }
  - { id: openai/tts-1, provider: openai, model: tts-1 }
  - { id: openai/gpt-4o-mini-tts, provider: openai, model: gpt-4o-mini-tts }
  - { id: groq/whisper-large-v3, provider: groq, model: whisper-large-v3, operations: [transcription], pricing: { per_minute: 0.00185 } }
  - { id: mock/whisper, provider: mock, model: mock-whisper-1, operations: [transcription], pricing: { per_minute: 0.006 } }
routes:
  - { name: whisper, targets: [openai/whisper-1], retry: { max_retries: 0 } }
  - { name: gpt-transcribe, targets: [openai/gpt-4o-transcribe], retry: { max_retries: 0 } }
  - { name: transcribe-then-whisper, targets: [openai/gpt-4o-transcribe, openai/whisper-1], retry: { max_retries: 0 } }
  - { name: whisper-backup, targets: [openai/whisper-1, mock/whisper], retry: { max_retries: 0 } }
  - { name: groq, targets: [groq/whisper-large-v3], retry: { max_retries: 0 } }
  - { name: tts, targets: [openai/tts-1], retry: { max_retries: 0 } }
  - { name: mini-tts, targets: [openai/gpt-4o-mini-tts], retry: { max_retries: 0 } }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
`);
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
beforeEach(() => fake.reset());
after(async () => {
  await t.close();
  await fake.close();
});

const lastRecord = (): UsageRecord => {
  const r = t.usage.recent();
  return r[r.length - 1];
};
const audioRequests = () => fake.requests.filter((r) => r.path.includes("/audio/"));
const upload = (text: string, seconds: number, name = "talk.wav") => toFile(wavWithText(text, seconds), name, { type: "audio/wav" });

describe("transcription through OpenAI", () => {
  test("whisper-1: asked for verbose_json, the upload's bytes intact; billed by the seconds it reports", async () => {
    const wav = wavWithText("The meeting starts at nine. Bring the slides.", 7.2);
    const res = await sdk.audio.transcriptions.create({ model: "whisper", file: await toFile(wav, "meeting.wav", { type: "audio/wav" }), language: "en", prompt: "Meeting notes", temperature: 0.2 });
    assert.equal(res.text, "The meeting starts at nine. Bring the slides.");
    const sent = audioRequests();
    assert.equal(sent.length, 1);
    assert.equal(sent[0].path, "/v1/audio/transcriptions");
    assert.equal(sent[0].headers.authorization, `Bearer ${OPENAI_TEST_KEY}`);
    const form = sent[0].body as Record<string, unknown> & { file: { filename: string; type: string; bytes: Buffer } };
    assert.equal(form.model, "whisper-1");
    assert.equal(form.response_format, "verbose_json");
    assert.equal(form.language, "en");
    assert.equal(form.prompt, "Meeting notes");
    assert.equal(form.temperature, "0.2");
    assert.equal(form.file.filename, "meeting.wav");
    assert.equal(form.file.type, "audio/wav");
    assert.ok(Buffer.compare(form.file.bytes, wav) === 0, "the recording reaches the provider byte for byte");
    // 7.2 s reported as 8 s of duration usage, at $0.006 a minute.
    const r = lastRecord();
    assert.equal(r.operation, "transcription");
    assert.equal(r.deployment, "openai/whisper-1");
    assert.equal(r.usage.audioSeconds, 8);
    assert.equal(r.cost.total, 800_000);
    assert.equal(r.attempts[0].usageSource?.input, "reported");
  });

  test("whisper-1: segments and words as asked; SRT rendered by the gateway from the segments", async () => {
    const v = await sdk.audio.transcriptions.create({ model: "whisper", file: await upload("One. Two. Three.", 6), response_format: "verbose_json", timestamp_granularities: ["word", "segment"] });
    assert.deepEqual((audioRequests()[0].body as Record<string, unknown>)["timestamp_granularities[]"], ["word", "segment"]);
    assert.equal(v.duration, 6);
    assert.equal(v.segments?.length, 3);
    assert.equal(v.words?.length, 3);
    const srt = String(await sdk.audio.transcriptions.create({ model: "whisper", file: await upload("One. Two.", 4), response_format: "srt" }));
    // The provider was asked for verbose_json, not SRT.
    assert.equal((audioRequests().at(-1)!.body as Record<string, unknown>).response_format, "verbose_json");
    assert.match(srt, /^1\n00:00:00,000 --> 00:00:02,000\nOne\.\n\n2\n00:00:02,000 --> 00:00:04,000\nTwo\.\n$/);
  });

  test("gpt-4o-transcribe: asked for json; billed by the tokens it reports", async () => {
    const res = await sdk.audio.transcriptions.create({ model: "gpt-transcribe", file: await upload("Tokens, not seconds.", 3) });
    assert.equal(res.text, "Tokens, not seconds.");
    assert.equal((audioRequests()[0].body as Record<string, unknown>).response_format, "json");
    const u = transcriptionTokenUsage(3, "Tokens, not seconds.");
    assert.deepEqual((res as unknown as { usage: unknown }).usage, { type: "tokens", input_tokens: u.input_tokens, output_tokens: u.output_tokens, total_tokens: u.total_tokens });
    const r = lastRecord();
    assert.equal(r.usage.inputTokens, u.input_tokens);
    assert.equal(r.usage.audioSeconds, undefined);
    // $6 and $10 per million.
    assert.equal(r.cost.total, u.input_tokens * 6_000 + u.output_tokens * 10_000);
  });

  test("gpt-4o-transcribe streamed: asked with stream=true upstream, its deltas passed on as they come, billed by its tokens", async () => {
    const stream = await sdk.audio.transcriptions.create({ model: "gpt-transcribe", file: await upload("Streaming through the gateway.", 3), stream: true });
    let text = "";
    let done: { text: string; usage?: { input_tokens?: number } } | undefined;
    let deltas = 0;
    for await (const e of stream) {
      if (e.type === "transcript.text.delta") {
        text += e.delta;
        deltas++;
      } else if (e.type === "transcript.text.done") done = e as never;
    }
    assert.equal(text, "Streaming through the gateway.");
    assert.ok(deltas > 1, "the provider's deltas, not one piece");
    assert.equal(done?.text, text);
    const form = audioRequests()[0].body as Record<string, unknown>;
    assert.equal(form.stream, "true");
    assert.equal(form.response_format, "json");
    const u = transcriptionTokenUsage(3, "Streaming through the gateway.");
    assert.equal(done?.usage?.input_tokens, u.input_tokens);
    const r = lastRecord();
    assert.equal(r.usage.inputTokens, u.input_tokens);
    assert.equal(r.cost.total, u.input_tokens * 6_000 + u.output_tokens * 10_000);
    // whisper-1 does not stream: the whole text as one delta, then done.
    const w = await sdk.audio.transcriptions.create({ model: "whisper", file: await upload("Whole at once.", 2), stream: true });
    const kinds: string[] = [];
    for await (const e of w) kinds.push(e.type);
    assert.deepEqual(kinds, ["transcript.text.delta", "transcript.text.done"]);
    assert.equal((audioRequests().at(-1)!.body as Record<string, unknown>).stream, undefined);
  });

  test("a translation skips the model that cannot translate, unsent, for whisper-1", async () => {
    const res = await sdk.audio.translations.create({ model: "transcribe-then-whisper", file: await upload("Bonjour tout le monde.", 2) });
    assert.equal(res.text, "[en] Bonjour tout le monde.");
    const sent = audioRequests();
    assert.equal(sent.length, 1, "gpt-4o-transcribe was never sent the translation");
    assert.equal(sent[0].path, "/v1/audio/translations");
    assert.equal((sent[0].body as Record<string, unknown>).model, "whisper-1");
    assert.equal((sent[0].body as Record<string, unknown>).language, undefined);
    const r = lastRecord();
    assert.deepEqual(
      r.attempts.map((a) => [a.deployment, a.outcome]),
      [
        ["openai/gpt-4o-transcribe", "failed"],
        ["openai/whisper-1", "succeeded"],
      ],
    );
    // The translation reports no usage: billed by the duration it gives (2 s).
    assert.equal(r.usage.audioSeconds, 2);
    assert.equal(r.cost.total, 200_000);
  });

  test("SRT from a model that gives no timestamps is refused, and nothing is sent", async () => {
    await assert.rejects(sdk.audio.transcriptions.create({ model: "gpt-transcribe", file: await upload("x", 1), response_format: "srt" }), (e: { status?: number; message?: string }) => (e.status ?? 0) >= 400 && /timestamps/.test(e.message ?? ""));
    assert.equal(audioRequests().length, 0);
  });

  test("a provider error falls back to the next deployment; the failure is recorded", async () => {
    fake.script({ kind: "error", error: "rate_limit" });
    const res = await sdk.audio.transcriptions.create({ model: "whisper-backup", file: await upload("Backup plan.", 2) });
    assert.equal(res.text, "Backup plan.");
    const r = lastRecord();
    assert.deepEqual(
      r.attempts.map((a) => [a.deployment, a.outcome, a.failureKind]),
      [
        ["openai/whisper-1", "failed", "rate_limited"],
        ["mock/whisper", "succeeded", undefined],
      ],
    );
  });

  test("an OpenAI-compatible server (Groq's whisper-large-v3), priced by per_minute alone", async () => {
    const res = await sdk.audio.transcriptions.create({ model: "groq", file: await upload("Fast whisper.", 61) });
    assert.equal(res.text, "Fast whisper.");
    assert.equal((audioRequests()[0].body as Record<string, unknown>).model, "whisper-large-v3");
    // 61 s at $0.00185 a minute.
    assert.equal(lastRecord().cost.total, Math.round((0.00185 * 1e9 * 61) / 60));
  });
});

describe("speech through OpenAI", () => {
  test("tts-1: the bytes as they came, billed per character; instructions refused before sending", async () => {
    const res = await sdk.audio.speech.create({ model: "tts", input: "Read this aloud.", voice: "onyx", response_format: "wav", speed: 1.25 });
    assert.equal(res.headers.get("content-type"), "audio/wav");
    const wav = Buffer.from(await res.arrayBuffer());
    assert.ok(readWav(wav), "a WAV");
    assert.equal(readRecording(wav).text, "Read this aloud.");
    const body = audioRequests()[0].body as Record<string, unknown>;
    assert.deepEqual(body, { model: "tts-1", input: "Read this aloud.", voice: "onyx", response_format: "wav", speed: 1.25 });
    const r = lastRecord();
    assert.equal(r.usage.characters, 16);
    assert.equal(r.cost.total, 16 * 15_000);

    await assert.rejects(sdk.audio.speech.create({ model: "tts", input: "x", voice: "onyx", instructions: "whisper it" }), (e: { status?: number }) => e.status === 400);
    assert.equal(audioRequests().length, 1);
  });

  test("gpt-4o-mini-tts: asked for SSE upstream (for its usage), the caller still gets the bytes; billed by tokens", async () => {
    const res = await sdk.audio.speech.create({ model: "mini-tts", input: "Tokens for speech.", voice: { id: "voice_1234" }, instructions: "Calm.", response_format: "mp3" });
    assert.equal(res.headers.get("content-type"), "audio/mpeg");
    const mp3 = Buffer.from(await res.arrayBuffer());
    assert.deepEqual([...mp3.subarray(0, 2)], [0xff, 0xfb]);
    const body = audioRequests()[0].body as Record<string, unknown>;
    assert.equal(body.stream_format, "sse");
    assert.deepEqual(body.voice, { id: "voice_1234" });
    const r = lastRecord();
    assert.ok(r.usage.inputTokens > 0 && r.usage.outputTokens > 0);
    assert.equal(r.usage.characters, undefined);
    // $0.60 and $12 per million.
    assert.equal(r.cost.total, r.usage.inputTokens * 600 + r.usage.outputTokens * 12_000);
  });

  test("the caller may ask for SSE itself: OpenAI's speech events, with the usage", async () => {
    const res = await fetch(`${t.url}/v1/audio/speech`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mini-tts", input: "Streamed speech.", voice: "alloy", response_format: "pcm", stream_format: "sse" }),
    });
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const events = (await res.text())
      .split("\n\n")
      .filter(Boolean)
      .map((e) => JSON.parse(e.slice("data: ".length)) as { type: string; audio?: string; usage?: { input_tokens: number } });
    assert.equal(events.at(-1)!.type, "speech.audio.done");
    assert.ok(events.at(-1)!.usage!.input_tokens > 0);
    const pcm = Buffer.concat(events.filter((e) => e.type === "speech.audio.delta").map((e) => Buffer.from(e.audio!, "base64")));
    assert.ok(pcm.length > 0 && pcm.length % 2 === 0);
  });
});

describe("the adapter's paths", () => {
  test("Azure: the deployment's audio paths with its api-version; OpenAI's v1 family without one", async () => {
    const cfg = buildConfig(parse(`
providers:
  - { name: az, type: azure, base_url: "https://example.openai.azure.com", api_key: ${OPENAI_TEST_KEY}, api_version: "2024-06-01" }
  - { name: az1, type: azure, base_url: "https://example.openai.azure.com", api_key: ${OPENAI_TEST_KEY} }
deployments:
  - { id: az/whisper, provider: az, model: my-whisper, base_model: whisper-1 }
routes:
  - { name: default, targets: [az/whisper] }
`), {});
    const az = createOpenAIAdapter(cfg.providers.find((p) => p.name === "az")!);
    const req = { model: "my-whisper", audio: new Uint8Array([1, 2, 3]), filename: "a.wav", mediaType: "audio/wav" };
    const spec = az.buildTranscriptionRequest!(req);
    assert.equal(spec.path, "/openai/deployments/my-whisper/audio/transcriptions?api-version=2024-06-01");
    assert.equal(spec.headers["api-key"], OPENAI_TEST_KEY);
    assert.match(spec.headers["content-type"], /^multipart\/form-data; boundary=/);
    assert.ok(spec.bytes && Buffer.from(spec.bytes).includes(Buffer.from([1, 2, 3])));
    assert.equal(az.buildTranscriptionRequest!({ ...req, translate: true }).path, "/openai/deployments/my-whisper/audio/translations?api-version=2024-06-01");
    assert.equal(az.buildSpeechRequest!({ model: "my-tts", input: "x", voice: "alloy", format: "mp3" }).path, "/openai/deployments/my-tts/audio/speech?api-version=2024-06-01");
    const v1 = createOpenAIAdapter(cfg.providers.find((p) => p.name === "az1")!);
    assert.equal(v1.buildSpeechRequest!({ model: "tts-1", input: "x", voice: "alloy", format: "mp3" }).path, "/openai/v1/audio/speech");
  });
});
