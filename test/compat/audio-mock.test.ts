// Audio on the built-in mock, over real sockets: the official OpenAI SDK's audio.speech and
// audio.transcriptions (and translations) against the gateway, and AudioService over Connect.
// Speech is a real WAV (or PCM, or MP3 frames) carrying its text, and transcribing it reads the
// text back; every response format renders (json, text, srt, vtt, verbose_json); billing per
// character and per second of audio; guardrails on the text read and on the transcript; bad fields
// name themselves and nothing reaches a provider; every request has its usage record.

import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import OpenAI, { toFile } from "openai";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AudioService, SpeakRequestSchema, TranscribeRequestSchema, type SpeakResponse, type TranscribeResponse } from "../../gen/signalbox/v1/audio_pb.ts";
import { ExclusionReason, RouteService } from "../../gen/signalbox/v1/route_pb.ts";
import { Operation } from "../../gen/signalbox/v1/common_pb.ts";
import { hashKey } from "../../src/server/auth.ts";
import { readRecording, wavWithText } from "../../src/providers/mock/audio.ts";
import { estimateAudioSeconds } from "../../src/engine/audio.ts";
import { renderSubtitles } from "../../src/compat/audio.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "audio", "a"].join("_");
const BROKE = ["sbx", "test", "audio", "broke"].join("_");

let t: TestGateway;
let sdk: OpenAI;

before(async () => {
  t = await startTestGateway(`
providers:
  - { name: mock, type: mock }
  - { name: down, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
  - { name: slow, type: mock, mock: { chunks: 4, inter_chunk_ms: 150 } }
  - { name: cut, type: mock, mock: { chunks: 4, inter_chunk_ms: 5, failure_rate: 1, failure_kind: server_error, fail_after_chunks: 2 } }
deployments:
  - { id: mock/whisper, provider: mock, model: mock-whisper-1, operations: [transcription], pricing: { per_minute: 0.006 } }
  - { id: mock/tts, provider: mock, model: mock-tts-1, operations: [speech], pricing: { per_million_characters: 15 } }
  - { id: down/tts, provider: down, model: mock-tts-1, operations: [speech], pricing: { per_million_characters: 30 } }
  - { id: slow/tts, provider: slow, model: mock-tts-1, operations: [speech], pricing: { per_million_characters: 15 } }
  - { id: cut/tts, provider: cut, model: mock-tts-1, operations: [speech], pricing: { per_million_characters: 15 } }
  - { id: slow/whisper, provider: slow, model: mock-whisper-1, operations: [transcription], pricing: { per_minute: 0.006 } }
  - { id: cut/whisper, provider: cut, model: mock-whisper-1, operations: [transcription], pricing: { per_minute: 0.006 } }
  - { id: mock/chat, provider: mock, model: mock-chat }
routes:
  - { name: transcription, targets: [mock/whisper] }
  - { name: speech, targets: [mock/tts] }
  - { name: speech-fallback, targets: [down/tts, mock/tts], retry: { max_retries: 0 } }
  - { name: speech-slow, targets: [slow/tts] }
  - { name: speech-cut, targets: [cut/tts, mock/tts], retry: { max_retries: 0 } }
  - { name: transcription-slow, targets: [slow/whisper] }
  - { name: transcription-cut, targets: [cut/whisper, mock/whisper], retry: { max_retries: 0 } }
  - { name: chat-only, targets: [mock/chat] }
guardrails:
  - { name: no-email-in, kind: pii, stage: input, action: redact, pii: { categories: [email] } }
  - { name: no-email-out, kind: pii, stage: output, action: redact, pii: { categories: [email] } }
  - { name: block-email, kind: pii, stage: input, action: block, pii: { categories: [email] } }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
  - { name: broke, hash: "${hashKey(BROKE)}", team: b, role: service, budget: { period: month, limit_usd: 0 } }
`);
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
after(async () => {
  await t.close();
});

const lastRecord = (): UsageRecord => {
  const r = t.usage.recent();
  return r[r.length - 1];
};
const transport = () => createConnectTransport({ baseUrl: t.url, httpVersion: "1.1", interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${KEY}`), next(req))] });
const connect = () => createClient(AudioService, transport());

describe("the mock's recordings", () => {
  test("a WAV carries its text and its length; an MP3 likewise; estimates read the header", () => {
    const wav = wavWithText("Testing one two.", 1.5);
    assert.deepEqual(readRecording(wav), { text: "Testing one two.", seconds: 1.5 });
    assert.equal(estimateAudioSeconds(wav), 1.5);
    // Anything else: its size at 128 kbit/s.
    assert.equal(estimateAudioSeconds(new Uint8Array(32_000)), 2);
  });

  test("SRT and WebVTT from segments, or the whole text as one cue", () => {
    const segs = [
      { start: 0, end: 1.5, text: "One." },
      { start: 1.5, end: 3725.25, text: " Two." },
    ];
    assert.equal(renderSubtitles("One. Two.", segs, 3725.25, "srt"), "1\n00:00:00,000 --> 00:00:01,500\nOne.\n\n2\n00:00:01,500 --> 01:02:05,250\nTwo.\n");
    assert.equal(renderSubtitles("One. Two.", segs, 3725.25, "vtt"), "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nOne.\n\n00:00:01.500 --> 01:02:05.250\nTwo.\n");
    assert.equal(renderSubtitles("All.", undefined, 2, "vtt"), "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nAll.\n");
  });
});

describe("POST /v1/audio/speech and /v1/audio/transcriptions (the OpenAI SDK)", () => {
  test("speech as WAV, then transcribed back: the text round-trips; billed per character and per second", async () => {
    const text = "The quick brown fox jumps over the lazy dog.";
    const res = await sdk.audio.speech.create({ model: "speech", input: text, voice: "alloy", response_format: "wav" });
    assert.equal(res.headers.get("content-type"), "audio/wav");
    assert.equal(res.headers.get("x-signalbox-deployment"), "mock/tts");
    const wav = Buffer.from(await res.arrayBuffer());
    assert.equal(wav.toString("ascii", 0, 4), "RIFF");
    assert.equal(readRecording(wav).text, text);
    // 44 characters at $15 a million (the cost is also the response's trailer: see the streaming test).
    let r = lastRecord();
    assert.equal(r.operation, "speech");
    assert.equal(r.status, "ok");
    assert.equal(r.cost.total, 44 * 15_000);
    assert.equal(r.deployment, "mock/tts");

    const tr = await sdk.audio.transcriptions.create({ model: "transcription", file: await toFile(wav, "fox.wav", { type: "audio/wav" }) });
    assert.equal(tr.text, text);
    // 44 characters at 60 ms: 2.64 s, billed as 3 s at $0.006 a minute.
    assert.deepEqual((tr as unknown as { usage: unknown }).usage, { type: "duration", seconds: 3 });
    r = lastRecord();
    assert.equal(r.operation, "transcription");
    assert.equal(r.cost.total, 300_000);
    assert.equal(r.usage.audioSeconds, 3);
  });

  test("speech is streamed: the first audio arrives before the rest is made; the cost is the trailer", async () => {
    const started = performance.now();
    const got = await new Promise<{ firstMs: number; totalMs: number; status: number; headers: http.IncomingHttpHeaders; trailers: NodeJS.Dict<string>; body: Buffer }>((resolve, reject) => {
      const req = http.request(`${t.url}/v1/audio/speech`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" } }, (res) => {
        const parts: Buffer[] = [];
        let firstMs = 0;
        res.on("data", (c: Buffer) => {
          if (!parts.length) firstMs = performance.now() - started;
          parts.push(c);
        });
        res.on("end", () => resolve({ firstMs, totalMs: performance.now() - started, status: res.statusCode!, headers: res.headers, trailers: res.trailers, body: Buffer.concat(parts) }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(JSON.stringify({ model: "speech-slow", input: "Streaming as it is made.", voice: "alloy", response_format: "wav" }));
    });
    assert.equal(got.status, 200);
    assert.equal(got.headers["content-type"], "audio/wav");
    assert.equal(got.headers["x-signalbox-deployment"], "slow/tts");
    assert.equal(got.headers["transfer-encoding"], "chunked");
    // Four chunks 150 ms apart: the first is here well before the last.
    assert.ok(got.totalMs - got.firstMs >= 300, `first ${got.firstMs.toFixed(0)} ms, all ${got.totalMs.toFixed(0)} ms`);
    assert.equal(readRecording(got.body).text, "Streaming as it is made.");
    assert.equal(got.trailers["x-signalbox-cost-nano-usd"], String(24 * 15_000));
    const r = lastRecord();
    assert.equal(r.status, "ok");
    assert.ok((r.attempts[0].ttftMs ?? 0) >= 0);
  });

  test("a stream cut after its first audio: the response is cut, the request recorded as failed and billed; before it, a fallback", async () => {
    const res = await fetch(`${t.url}/v1/audio/speech`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify({ model: "speech-cut", input: "This will be cut off midway.", voice: "alloy", response_format: "wav" }) });
    assert.equal(res.status, 200);
    await assert.rejects(res.arrayBuffer());
    // The record is written as the request ends.
    for (let i = 0; i < 50 && lastRecord().attempts[0]?.deployment !== "cut/tts"; i++) await new Promise((r) => setTimeout(r, 10));
    const r = lastRecord();
    assert.notEqual(r.status, "ok");
    assert.deepEqual(
      r.attempts.map((a) => [a.deployment, a.outcome]),
      [["cut/tts", "failed"]],
    );
    assert.equal(r.cost.total, 28 * 15_000);
  });

  test("a streamed transcript (stream: true): the SDK's transcript events, the text as it is made, then done with the usage", async () => {
    const started = performance.now();
    const stream = await sdk.audio.transcriptions.create({ model: "transcription-slow", file: await toFile(wavWithText("One two three four.", 2), "s.wav", { type: "audio/wav" }), stream: true });
    const seen: { type: string; at: number; text: string }[] = [];
    for await (const e of stream) seen.push({ type: e.type, at: performance.now() - started, text: e.type === "transcript.text.delta" ? e.delta : e.type === "transcript.text.done" ? e.text : "" });
    const deltas = seen.filter((e) => e.type === "transcript.text.delta");
    assert.deepEqual(
      deltas.map((d) => d.text),
      ["One ", "two ", "three ", "four."],
    );
    assert.ok(deltas[3].at - deltas[0].at >= 300, JSON.stringify(seen));
    const done = seen.at(-1)!;
    assert.equal(done.type, "transcript.text.done");
    assert.equal(done.text, "One two three four.");
    const r = lastRecord();
    assert.equal(r.status, "ok");
    assert.equal(r.usage.audioSeconds, 2);
  });

  test("a transcript cut after its first words ends with an error event, recorded as failed; output guardrails hold the stream back", async () => {
    const form = new FormData();
    form.set("model", "transcription-cut");
    form.set("stream", "true");
    form.set("file", new Blob([new Uint8Array(wavWithText("Alpha beta gamma delta.", 2))], { type: "audio/wav" }), "c.wav");
    const res = await fetch(`${t.url}/v1/audio/transcriptions`, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: form });
    assert.equal(res.status, 200);
    const events = (await res.text()).split("\n\n").filter(Boolean).map((e) => JSON.parse(e.slice(6)) as { type?: string; delta?: string; error?: { message: string } });
    assert.deepEqual(
      events.slice(0, 2).map((e) => e.delta),
      ["Alpha ", "beta "],
    );
    assert.match(events.at(-1)!.error!.message, /after 2 deltas/);
    for (let i = 0; i < 50 && lastRecord().attempts[0]?.deployment !== "cut/whisper"; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      lastRecord().attempts.map((a) => [a.deployment, a.outcome]),
      [["cut/whisper", "failed"]],
    );

    // With an output guardrail the transcript is judged whole, then sent as one delta, redacted.
    const guarded = new FormData();
    guarded.set("model", "transcription-slow");
    guarded.set("stream", "true");
    guarded.set("signalbox", JSON.stringify({ guardrails: ["no-email-out"] }));
    guarded.set("file", new Blob([new Uint8Array(wavWithText("Mail jane@example.com now.", 2))], { type: "audio/wav" }), "g.wav");
    const g = await fetch(`${t.url}/v1/audio/transcriptions`, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: guarded });
    const ge = (await g.text()).split("\n\n").filter(Boolean).map((e) => JSON.parse(e.slice(6)) as { type: string; delta?: string; text?: string });
    assert.deepEqual(
      ge.map((e) => e.type),
      ["transcript.text.delta", "transcript.text.done"],
    );
    assert.ok(!ge[0].delta!.includes("jane@example.com"));
  });

  test("MP3 (the default format) and raw PCM", async () => {
    const mp3 = Buffer.from(await (await sdk.audio.speech.create({ model: "speech", input: "Hello there.", voice: "nova" })).arrayBuffer());
    assert.equal(mp3.toString("ascii", 0, 3), "ID3");
    assert.equal(readRecording(mp3).text, "Hello there.");
    const res = await sdk.audio.speech.create({ model: "speech", input: "Hello there.", voice: "nova", response_format: "pcm" });
    assert.equal(res.headers.get("content-type"), "audio/pcm");
    // 12 characters: 0.72 s of 24 kHz 16-bit mono.
    assert.equal((await res.arrayBuffer()).byteLength, Math.round(0.72 * 24_000) * 2);
  });

  test("every response format: text, srt, vtt, verbose_json with words and segments; translations", async () => {
    const wav = wavWithText("First sentence. Second one!", 4);
    const file = () => toFile(wav, "two.wav", { type: "audio/wav" });
    assert.equal(await sdk.audio.transcriptions.create({ model: "transcription", file: await file(), response_format: "text" }), "First sentence. Second one!\n");
    const srt = await sdk.audio.transcriptions.create({ model: "transcription", file: await file(), response_format: "srt" });
    assert.equal(srt, "1\n00:00:00,000 --> 00:00:02,000\nFirst sentence.\n\n2\n00:00:02,000 --> 00:00:04,000\nSecond one!\n");
    const vtt = await sdk.audio.transcriptions.create({ model: "transcription", file: await file(), response_format: "vtt" });
    assert.ok(String(vtt).startsWith("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nFirst sentence.\n"));
    const v = await sdk.audio.transcriptions.create({ model: "transcription", file: await file(), response_format: "verbose_json", timestamp_granularities: ["word", "segment"], language: "en" });
    assert.equal(v.duration, 4);
    assert.equal(v.language, "en");
    assert.deepEqual(
      v.segments?.map((s) => [s.start, s.end, s.text]),
      [
        [0, 2, "First sentence."],
        [2, 4, "Second one!"],
      ],
    );
    assert.deepEqual(
      v.words?.map((w) => w.word),
      ["First", "sentence.", "Second", "one!"],
    );
    const tl = await sdk.audio.translations.create({ model: "transcription", file: await file() });
    assert.equal(tl.text, "[en] First sentence. Second one!");
  });

  test("a failing speech deployment falls back; the failed attempt is recorded", async () => {
    const res = await sdk.audio.speech.create({ model: "speech-fallback", input: "Backup.", voice: "alloy", response_format: "wav" });
    assert.equal(res.headers.get("x-signalbox-deployment"), "mock/tts");
    const r = lastRecord();
    assert.deepEqual(
      r.attempts.map((a) => [a.deployment, a.outcome]),
      [
        ["down/tts", "failed"],
        ["mock/tts", "succeeded"],
      ],
    );
  });

  test("guardrails: the text read is redacted before it is sent; the transcript is redacted before it is returned", async () => {
    const res = await fetch(`${t.url}/v1/audio/speech`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "speech", input: "Mail jane@example.com today.", voice: "alloy", response_format: "wav", signalbox: { guardrails: ["no-email-in"] } }),
    });
    assert.equal(res.status, 200);
    const heard = readRecording(Buffer.from(await res.arrayBuffer())).text!;
    assert.ok(!heard.includes("jane@example.com"), heard);
    assert.match(heard, /^Mail .+ today\.$/);

    const form = new FormData();
    form.set("model", "transcription");
    form.set("file", new Blob([new Uint8Array(wavWithText("Write to jane@example.com. Thanks.", 3))], { type: "audio/wav" }), "mail.wav");
    form.set("response_format", "verbose_json");
    form.set("signalbox", JSON.stringify({ guardrails: ["no-email-out"] }));
    const tr = await fetch(`${t.url}/v1/audio/transcriptions`, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: form });
    assert.equal(tr.status, 200);
    const j = (await tr.json()) as { text: string; segments?: unknown[]; signalbox: { adjustments: { kind: string }[] } };
    assert.ok(!j.text.includes("jane@example.com"), j.text);
    // The segments would still carry what was redacted: left out.
    assert.equal(j.segments, undefined);
    assert.ok(j.signalbox.adjustments.length > 0);

    const blocked = await fetch(`${t.url}/v1/audio/speech`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "speech", input: "Mail jane@example.com today.", voice: "alloy", signalbox: { guardrails: ["block-email"] } }),
    });
    assert.equal(blocked.status, 400);
    assert.equal(lastRecord().attempts.length, 0);
  });

  test("bad fields name themselves and nothing is sent", async () => {
    const before = t.usage.recent().length;
    const speech = async (body: Record<string, unknown>) => {
      const res = await fetch(`${t.url}/v1/audio/speech`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });
      return { status: res.status, error: ((await res.json()) as { error: { param: string; message: string } }).error };
    };
    const ok = { model: "speech", input: "hi", voice: "alloy" };
    for (const [body, param] of [
      [{ ...ok, input: "" }, "input"],
      [{ ...ok, input: "x".repeat(4097) }, "input"],
      [{ ...ok, voice: undefined }, "voice"],
      [{ ...ok, response_format: "ogg" }, "response_format"],
      [{ ...ok, speed: 5 }, "speed"],
      [{ ...ok, stream_format: "chunks" }, "stream_format"],
      [{ ...ok, pitch: 2 }, "pitch"],
    ] as const) {
      const r = await speech(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.error.param, param);
    }
    const upload = async (fields: Record<string, string>, file = true) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      if (file) form.set("file", new Blob([new Uint8Array(wavWithText("x", 1))], { type: "audio/wav" }), "x.wav");
      const res = await fetch(`${t.url}/v1/audio/transcriptions`, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: form });
      return { status: res.status, error: ((await res.json()) as { error: { param: string } }).error };
    };
    for (const [fields, param, file] of [
      [{ model: "transcription" }, "file", false],
      [{}, "model", true],
      [{ model: "transcription", response_format: "docx" }, "response_format", true],
      [{ model: "transcription", temperature: "2" }, "temperature", true],
      [{ model: "transcription", language: "english!" }, "language", true],
      [{ model: "transcription", "timestamp_granularities[]": "word" }, "timestamp_granularities[]", true],
      [{ model: "transcription", stream: "true", response_format: "srt" }, "response_format", true],
      [{ model: "transcription", stream: "maybe" }, "stream", true],
      [{ model: "transcription", diarize: "yes" }, "diarize", true],
    ] as const) {
      const r = await upload(fields, file);
      assert.equal(r.status, 400, JSON.stringify(fields));
      assert.equal(r.error.param, param);
    }
    const json = await fetch(`${t.url}/v1/audio/transcriptions`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: "{}" });
    assert.equal(json.status, 400);
    // None of these planned or recorded anything.
    assert.equal(t.usage.recent().length, before);
  });

  test("a route that serves no audio is refused by operation; an empty budget refuses before the provider", async () => {
    const res = await fetch(`${t.url}/v1/audio/speech`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify({ model: "chat-only", input: "hi", voice: "alloy" }) });
    assert.ok(res.status >= 400);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /speech/);
    const broke = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: BROKE, maxRetries: 0 });
    await assert.rejects(broke.audio.speech.create({ model: "speech", input: "hi", voice: "alloy" }), (e: { status?: number }) => e.status === 429 || e.status === 402 || e.status === 403);
    assert.equal(lastRecord().attempts.length, 0);
  });
});

describe("AudioService over Connect", () => {
  test("Speak then Transcribe: the bytes, the media type, usage and cost; the record's operation", async () => {
    const c = connect();
    const s = await c.speak(create(SpeakRequestSchema, { model: "speech", input: "Connect speaks.", voice: "echo", format: "wav", tags: ["tts"] }));
    assert.equal(s.mediaType, "audio/wav");
    assert.equal(s.deployment, "mock/tts");
    assert.equal(s.usage?.characters, 15n);
    assert.equal(s.cost?.totalNanoUsd, BigInt(15 * 15_000));
    assert.equal(readRecording(s.audio).text, "Connect speaks.");
    const tr = await c.transcribe(create(TranscribeRequestSchema, { model: "transcription", audio: s.audio, filename: "c.wav", timestampGranularities: ["segment"] }));
    assert.equal(tr.text, "Connect speaks.");
    assert.equal(tr.durationSeconds, 0.9);
    assert.equal(tr.segments.length, 1);
    assert.equal(tr.usage?.audioSeconds, 1);
    assert.equal(tr.cost?.totalNanoUsd, 100_000n);
    const rec = await fetch(`${t.url}/signalbox.v1.UsageService/GetRequest`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify({ id: tr.id }) });
    assert.equal(rec.status, 200);
    const j = (await rec.json()) as { record: { operation: string; usage: { audioSeconds: number } } };
    assert.equal(j.record.operation, "OPERATION_TRANSCRIPTION");
    assert.equal(j.record.usage.audioSeconds, 1);
  });

  test("SpeakStream: the start with the first audio, chunks as they are made, the finish with usage and cost", async () => {
    const c = connect();
    const started = performance.now();
    const events: { case: string; at: number; bytes?: number }[] = [];
    let audio = Buffer.alloc(0);
    let finish: SpeakResponse | undefined;
    for await (const m of c.speakStream(create(SpeakRequestSchema, { model: "speech-slow", input: "Streamed over Connect.", voice: "alloy", format: "wav" }))) {
      const e = m.event;
      events.push({ case: e.case ?? "", at: performance.now() - started, ...(e.case === "audio" ? { bytes: e.value.length } : {}) });
      if (e.case === "start") {
        assert.equal(e.value.deployment, "slow/tts");
        assert.equal(e.value.provider, "slow");
        assert.equal(e.value.mediaType, "audio/wav");
      } else if (e.case === "audio") audio = Buffer.concat([audio, e.value]);
      else if (e.case === "finish") finish = e.value;
    }
    assert.deepEqual(
      events.map((e) => e.case),
      ["start", "audio", "audio", "audio", "audio", "finish"],
    );
    // Four chunks 150 ms apart: the first arrives well before the last.
    assert.ok(events[4].at - events[1].at >= 300, JSON.stringify(events));
    assert.equal(readRecording(audio).text, "Streamed over Connect.");
    assert.equal(finish?.usage?.characters, 22n);
    assert.equal(finish?.cost?.totalNanoUsd, BigInt(22 * 15_000));
    assert.equal(finish?.audio.length, 0);

    // Cut after the first audio: the stream ends with an error after the audio it had.
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const m of c.speakStream(create(SpeakRequestSchema, { model: "speech-cut", input: "Cut me off.", voice: "alloy", format: "wav" }))) got.push(m.event.case ?? "");
      })(),
      /failed after/,
    );
    assert.deepEqual(got.slice(0, 2), ["start", "audio"]);
    assert.ok(!got.includes("finish"));
    // Refused before anything: an ordinary error.
    await assert.rejects(
      (async () => {
        for await (const _ of c.speakStream(create(SpeakRequestSchema, { model: "speech", input: "", voice: "alloy" }))) void _;
      })(),
      /input: is required/,
    );
  });

  test("TranscribeStream: the start, the text as it is made, the finish; translations refused", async () => {
    const c = connect();
    const kinds: string[] = [];
    let text = "";
    let finish: TranscribeResponse | undefined;
    for await (const m of c.transcribeStream(create(TranscribeRequestSchema, { model: "transcription-slow", audio: wavWithText("Red green blue.", 2), filename: "c.wav" }))) {
      const e = m.event;
      kinds.push(e.case ?? "");
      if (e.case === "start") assert.equal(e.value.deployment, "slow/whisper");
      if (e.case === "delta") text += e.value;
      if (e.case === "finish") finish = e.value;
    }
    assert.deepEqual(kinds, ["start", "delta", "delta", "delta", "finish"]);
    assert.equal(text, "Red green blue.");
    assert.equal(finish?.text, "Red green blue.");
    assert.equal(finish?.usage?.audioSeconds, 2);
    await assert.rejects(
      (async () => {
        for await (const _ of c.transcribeStream(create(TranscribeRequestSchema, { model: "transcription", audio: wavWithText("x", 1), translate: true }))) void _;
      })(),
      /translate: a translation is not streamed/,
    );
  });

  test("validation names the proto fields", async () => {
    const c = connect();
    await assert.rejects(c.speak(create(SpeakRequestSchema, { model: "speech", input: "x", voice: "alloy", format: "ogg" })), /format/);
    await assert.rejects(c.transcribe(create(TranscribeRequestSchema, { model: "transcription" })), /audio: is required/);
    await assert.rejects(c.transcribe(create(TranscribeRequestSchema, { model: "transcription", audio: wavWithText("x", 1), timestampGranularities: ["paragraph"] })), /timestamp_granularities\[0\]/);
  });
});

describe("RouteService for audio plans", () => {
  test("RouteSpeech and RouteTranscription: only deployments of the operation, priced per character and per second", async () => {
    const route = createClient(RouteService, transport());
    const sp = await route.routeSpeech(create(SpeakRequestSchema, { model: "speech-fallback", input: "Twenty characters!!!", voice: "alloy" }));
    assert.equal(sp.operation, Operation.SPEECH);
    assert.deepEqual(
      sp.candidates.map((c) => [c.deployment, c.expectedCostNanoUsd]),
      [
        ["down/tts", 20n * 30_000n],
        ["mock/tts", 20n * 15_000n],
      ],
    );
    const tr = await route.routeTranscription(create(TranscribeRequestSchema, { model: "transcription", audio: wavWithText("x", 90) }));
    assert.equal(tr.operation, Operation.TRANSCRIPTION);
    // 90 s at $0.006 a minute.
    assert.deepEqual(
      tr.candidates.map((c) => [c.deployment, c.expectedCostNanoUsd]),
      [["mock/whisper", 9_000_000n]],
    );
    // Naming a chat deployment: excluded for its operation.
    const wrong = await route.routeTranscription(create(TranscribeRequestSchema, { model: "transcription", audio: wavWithText("x", 1), routing: { fallbacks: ["mock/chat"] } }));
    assert.ok(wrong.excluded.some((e) => e.deployment === "mock/chat" && e.reason === ExclusionReason.WRONG_OPERATION));
    await assert.rejects(route.routeSpeech(create(SpeakRequestSchema, { model: "speech", input: "", voice: "alloy" })), /input: is required/);
  });
});
