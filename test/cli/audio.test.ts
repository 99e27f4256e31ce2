// `signalbox transcribe` and `signalbox speak` as users run them: the built bundle in a child
// process (Node 24, and the system's Node 20), against a real gateway started in process on the
// embedded default config (config/default.yaml: the `transcription` route on mock/whisper, the
// `speech` route on mock/tts). The mock speaks real WAV and MP3 files that carry their text, and
// hears that text back, so `speak` then `transcribe` round-trips. Also: the client's transcribe()
// and speak() helpers, and the SRT/WebVTT rendering on its own (no gateway).

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AudioService, createSignalboxClient, Operation, type SignalboxClient, speak, speakStream, transcribe, transcribeStream } from "@signalbox/client";
import { DEFAULT_CONFIG_PATH } from "../../src/config/load.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, runCli, SYSTEM_NODE, type CliRun } from "../helpers/cli.ts";
import { cuesOf, toSrt, toVtt } from "../../clients/cli/src/subtitles.ts";

type Run = CliRun;

let g: TestGateway;
let sb: SignalboxClient;
let tmp: string;

/** Run the built CLI against the gateway (no key: the default config has none). */
function cli(args: string[], opts: { env?: Record<string, string>; node?: string; stdin?: string | Uint8Array; cwd?: string } = {}): Promise<Run> {
  return runCli(g?.url ?? "http://127.0.0.1:9", args, { ...opts, cwd: opts.cwd ?? tmp });
}

function ok(r: Run, what = "the command"): Run {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout:\n${r.stdout.slice(0, 2000)}\nstderr:\n${r.stderr}`);
  return r;
}

/** Whether these bytes are a RIFF/WAVE file. */
function isWav(b: Uint8Array): boolean {
  const s = Buffer.from(b);
  return s.length >= 12 && s.toString("latin1", 0, 4) === "RIFF" && s.toString("latin1", 8, 12) === "WAVE";
}


describe("subtitles (no gateway)", () => {
  const segments = [
    { start: 0, end: 1.5, text: " Hello there. " },
    { start: 1.5, end: 3723.0456, text: "General <Kenobi> & co --> out" },
    { start: 4000, end: 4001, text: "   " },
    { start: -1, end: Number.NaN, text: "two\n\nlines" },
  ];

  test("SRT: numbered cues, hh:mm:ss,mmm, a blank line after each; blank cues left out, blank lines inside dropped", () => {
    assert.equal(
      toSrt(segments),
      "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n" +
        "2\n00:00:01,500 --> 01:02:03,046\nGeneral <Kenobi> & co --> out\n\n" +
        "3\n00:00:00,000 --> 00:00:00,000\ntwo\nlines\n\n",
    );
    assert.equal(toSrt([]), "");
  });

  test("WebVTT: the header, hh:mm:ss.mmm, markup characters escaped", () => {
    assert.equal(
      toVtt(segments),
      "WEBVTT\n\n" +
        "00:00:00.000 --> 00:00:01.500\nHello there.\n\n" +
        "00:00:01.500 --> 01:02:03.046\nGeneral &lt;Kenobi&gt; &amp; co --&gt; out\n\n" +
        "00:00:00.000 --> 00:00:00.000\ntwo\nlines\n\n",
    );
    assert.equal(toVtt([]), "WEBVTT\n\n");
  });

  test("times: rounded to the millisecond, an end never before its start, hours past 99", () => {
    assert.equal(toSrt([{ start: 2.0004, end: 1, text: "x" }]), "1\n00:00:02,000 --> 00:00:02,000\nx\n\n");
    assert.equal(toVtt([{ start: 0.0005, end: 360_000.9999, text: "x" }]), "WEBVTT\n\n00:00:00.001 --> 100:00:01.000\nx\n\n");
  });

  test("cuesOf: the segments when there are some; else the whole text as one cue, to the duration or an estimate", () => {
    assert.deepEqual(cuesOf({ text: "a b", segments: [{ start: 1, end: 2, text: "a b" }], durationSeconds: 9 }), { cues: [{ start: 1, end: 2, text: "a b" }], whole: false });
    assert.deepEqual(cuesOf({ text: "Hello there", segments: [], durationSeconds: 0.66 }), { cues: [{ start: 0, end: 0.66, text: "Hello there" }], whole: true });
    assert.deepEqual(cuesOf({ text: "one two three four five", segments: [], durationSeconds: 0 }), { cues: [{ start: 0, end: 2, text: "one two three four five" }], whole: true });
    assert.deepEqual(cuesOf({ text: "hi", segments: [], durationSeconds: 0 }).cues[0].end, 1, "at least a second");
    assert.deepEqual(cuesOf({ text: " ", segments: [], durationSeconds: 3 }), { cues: [], whole: false });
  });
});

describe("the client's audio surface (no gateway)", () => {
  test("AudioService on the client, its methods, and the new operations", () => {
    const c = createSignalboxClient({ baseUrl: "http://127.0.0.1:9" });
    assert.equal(typeof c.audio.transcribe, "function");
    assert.equal(typeof c.audio.speak, "function");
    assert.equal(typeof c.audio.speakStream, "function");
    assert.deepEqual(
      AudioService.methods.map((m) => m.localName),
      ["transcribe", "transcribeStream", "speak", "speakStream"],
    );
    assert.equal(Operation.TRANSCRIPTION, 5);
    assert.equal(Operation.SPEECH, 6);
    assert.equal(typeof transcribe, "function");
    assert.equal(typeof speak, "function");
  });
});

describe("transcribe and speak against the default config", () => {
  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-audio-"));
    g = await startTestGateway(readFileSync(DEFAULT_CONFIG_PATH, "utf8"));
    sb = createSignalboxClient({ baseUrl: g.url });
  });

  after(async () => {
    await g?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("bad usage is refused before any call (exit 2, the flag named, nothing on stdout)", async () => {
    const dir = mkdtempSync(join(tmp, "bad-"));
    const wav = join(dir, "a.wav");
    writeFileSync(wav, "RIFF....WAVE");
    const txt = join(dir, "notes.txt");
    writeFileSync(txt, "not audio at all");
    const unreachable = { env: { SIGNALBOX_URL: "http://127.0.0.1:9" }, cwd: dir };
    const cases: [string, string[]][] = [
      ["--format", ["transcribe", "transcription", wav, "--format", "docx"]],
      ["--timestamps", ["transcribe", "transcription", wav, "--timestamps", "syllable"]],
      ["--temperature", ["transcribe", "transcription", wav, "--temperature", "1.5"]],
      ["no such file", ["transcribe", "transcription", join(dir, "missing.wav")]],
      ["unknown audio format", ["transcribe", "transcription", txt]],
      ["--json and --format srt", ["--json", "transcribe", "transcription", wav, "--format", "srt"]],
      ["--format", ["speak", "speech", "hi", "--format", "ogg"]],
      ["--speed", ["speak", "speech", "hi", "--speed", "5"]],
      ["--output", ["speak", "speech", "hi", "-o", join(dir, "missing", "x.mp3")]],
      ["--json and -o -", ["--json", "speak", "speech", "hi", "-o", "-"]],
      ["--bogus", ["speak", "speech", "hi", "--bogus"]],
    ];
    // Independent runs (none reaches a gateway): started at once, checked in order.
    const [runs, noText, noAudio] = await Promise.all([
      Promise.all(cases.map(([, args]) => cli(args, unreachable))),
      cli(["speak", "speech"], { ...unreachable, stdin: "  \n" }),
      cli(["transcribe", "transcription", "-"], { ...unreachable, stdin: "" }),
    ]);
    for (const [i, [named, args]] of cases.entries()) {
      const r = runs[i];
      assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
      assert.ok(r.stderr.includes(named), `${args.join(" ")} says "${named}": ${r.stderr}`);
      assert.equal(r.stdout, "");
    }
    assert.equal(noText.code, 2, noText.stderr);
    assert.match(noText.stderr, /no text/);
    assert.equal(noAudio.code, 2, noAudio.stderr);
    assert.match(noAudio.stderr, /no audio on stdin/);
    assert.deepEqual(readdirSync(dir).sort(), ["a.wav", "notes.txt"], "nothing written");
  });

  test('round trip: speak "Hello there" as WAV to out.wav, then transcribe it back', async () => {
    const dir = mkdtempSync(join(tmp, "trip-"));
    const s = ok(await cli(["speak", "speech", "Hello there", "--format", "wav", "-o", "out.wav"], { cwd: dir }), "speak");
    assert.ok(isWav(readFileSync(join(dir, "out.wav"))), "out.wav is a RIFF/WAVE file");
    const size = statSync(join(dir, "out.wav")).size;
    // stdout: the path, a tab, then who spoke it, the bytes and the cost (one line); stderr quiet.
    assert.match(s.stdout, /^out\.wav\tmock\/tts \(route speech\) · [\d,]+ bytes audio\/wav · .*\$\d+\.\d+ · \d+ ms · request \S+/);
    assert.equal(s.stdout.split("\n").length, 2, "one line");
    assert.ok(s.stdout.includes(` ${size.toLocaleString("en-US")} bytes `), s.stdout);
    assert.equal(s.stderr, "");

    const t = ok(await cli(["transcribe", "transcription", "out.wav"], { cwd: dir }), "transcribe");
    assert.equal(t.stdout, "Hello there\n");
    assert.match(t.stderr, /^— mock\/whisper \(route transcription\) · .*\$\d+\.\d+ · \d+ ms · request \S+/);

    // The same on the system's Node 20, which the CLI supports.
    if (existsSync(SYSTEM_NODE)) {
      const t20 = ok(await cli(["transcribe", "transcription", join(dir, "out.wav")], { node: SYSTEM_NODE }), "transcribe on Node 20");
      assert.equal(t20.stdout, "Hello there\n");
    }
  });

  test("stdin both ways: text piped into speak, -o - writes the audio to stdout; a WAV piped into transcribe -", async () => {
    const s = ok(await cli(["speak", "speech", "-", "--format", "wav", "-o", "-"], { stdin: "Piped words\n" }), "speak -o -");
    assert.ok(isWav(s.bytes), "stdout holds the WAV");
    assert.match(s.stderr, /^— mock\/tts \(route speech\) · [\d,]+ bytes audio\/wav · /, "the summary on stderr");
    assert.ok(s.stderr.includes(` ${s.bytes.length.toLocaleString("en-US")} bytes `), s.stderr);
    const t = ok(await cli(["transcribe", "transcription", "-"], { stdin: s.bytes }), "transcribe -");
    assert.equal(t.stdout, "Piped words\n", "the WAV was recognised from its bytes");
  });

  test("speak writes ./speech.<ext> by default (MP3 unless asked), into a directory given with -o", async () => {
    const here = mkdtempSync(join(tmp, "cwd-"));
    const d = ok(await cli(["speak", "speech", "Default", "output"], { cwd: here }), "speak");
    assert.deepEqual(readdirSync(here), ["speech.mp3"]);
    assert.match(d.stdout, /^speech\.mp3\tmock\/tts \(route speech\) · [\d,]+ bytes audio\/mpeg · /);
    const t = ok(await cli(["transcribe", "transcription", "speech.mp3"], { cwd: here }), "transcribe the MP3");
    assert.equal(t.stdout, "Default output\n");

    const into = mkdtempSync(join(tmp, "into-"));
    const w = ok(await cli(["speak", "speech", "Into a directory", "--format", "wav", "-o", `${into}/`]), "speak -o dir/");
    assert.equal(w.stdout.split("\t")[0], join(into, "speech.wav"));
    assert.ok(isWav(readFileSync(join(into, "speech.wav"))));
  });

  test("--json: the API's JSON form (speak: the bytes replaced by the file), equal to the client's answer", async () => {
    const dir = mkdtempSync(join(tmp, "json-"));
    const j = JSON.parse(ok(await cli(["--json", "speak", "speech", "Hello there", "--format", "wav", "--voice", "coral", "-o", "hello.wav"], { cwd: dir })).stdout);
    assert.equal(j.deployment, "mock/tts");
    assert.equal(j.file, "hello.wav");
    assert.equal(j.bytes, statSync(join(dir, "hello.wav")).size);
    assert.equal(j.audio, undefined, "no bytes in the JSON");
    assert.equal(j.mediaType, "audio/wav");
    assert.match(j.id, /\S/);

    const wav = readFileSync(join(dir, "hello.wav"));
    const direct = await transcribe(sb, "transcription", wav, { filename: "hello.wav" });
    const both = [["--json", "transcribe", "transcription", "hello.wav"], ["transcribe", "transcription", "hello.wav", "--format", "json"]];
    const runs = await Promise.all(both.map((args) => cli(args, { cwd: dir })));
    for (const r of runs) {
      const t = JSON.parse(ok(r).stdout);
      assert.equal(t.text, "Hello there");
      assert.equal(t.text, direct.text);
      assert.equal(t.deployment, direct.response.deployment);
      assert.equal(t.deployment, "mock/whisper");
      assert.equal(t.routing?.route, "transcription");
    }
  });

  test("--format srt and vtt: subtitles rendered from the transcript", async () => {
    const dir = mkdtempSync(join(tmp, "subs-"));
    ok(await cli(["speak", "speech", "Hello there", "--format", "wav", "-o", "hello.wav"], { cwd: dir }));
    // The cues' texts, in order, say what was said (in one cue, or split across several).
    const said = (text: string, time: RegExp) =>
      text
        .split("\n\n")
        .map((block) => block.split("\n").filter((l) => l && !time.test(l) && !/^\d+$/.test(l) && l !== "WEBVTT"))
        .flat()
        .join(" ");
    // The two renderings, at once.
    const [srtRun, vttRun] = await Promise.all([cli(["transcribe", "transcription", "hello.wav", "--format", "srt"], { cwd: dir }), cli(["transcribe", "transcription", "hello.wav", "--format", "vtt"], { cwd: dir })]);
    const srt = ok(srtRun);
    assert.match(srt.stdout, /^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n[^\n]+\n\n/);
    assert.match(srt.stdout, /\n\n$/);
    assert.equal(said(srt.stdout, / --> /), "Hello there", srt.stdout);
    const vtt = ok(vttRun);
    assert.match(vtt.stdout, /^WEBVTT\n\n\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}\n[^\n]+\n\n/);
    assert.equal(said(vtt.stdout, / --> /), "Hello there", vtt.stdout);
    // Either way the cues end within the recording's length (about 0.66 s of mock speech), or at it.
    const ends = [...srt.stdout.matchAll(/--> (\d\d):(\d\d):(\d\d),(\d{3})/g)].map((m) => Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000);
    assert.ok(ends.length >= 1 && ends.every((e) => e > 0 && e <= 30), `cue ends: ${ends.join(", ")}`);
  });

  test("the routing, tag, user and metadata flags reach the gateway (the usage record carries them)", async () => {
    const dir = mkdtempSync(join(tmp, "tags-"));
    ok(await cli(["speak", "speech", "Tagged", "--format", "wav", "-o", "t.wav", "--tag", "cli-audio-speak", "--user", "u-audio", "--metadata", "ticket=42"], { cwd: dir }));
    ok(await cli(["transcribe", "transcription", "t.wav", "--tag", "cli-audio-transcribe", "--user", "u-audio", "--no-fallback", "--language", "en"], { cwd: dir }));
    let records: Awaited<ReturnType<typeof sb.usage.listRequests>>["records"] = [];
    for (let i = 0; i < 100; i++) {
      records = (await sb.usage.listRequests({ pageSize: 100 })).records.filter((r) => r.user === "u-audio");
      if (records.length >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const spoke = records.find((r) => r.tags.includes("cli-audio-speak"));
    const heard = records.find((r) => r.tags.includes("cli-audio-transcribe"));
    assert.ok(spoke && heard, `records: ${JSON.stringify(records.map((r) => ({ tags: r.tags, op: r.operation })))}`);
    assert.equal(spoke.operation, Operation.SPEECH);
    assert.equal(heard.operation, Operation.TRANSCRIPTION);
  });

  test("the client's one-line helpers: speak() then transcribe()", async () => {
    const s = await speak(sb, "speech", "Hello there", "alloy", { format: "wav" });
    assert.equal(s.mediaType, "audio/wav");
    assert.ok(isWav(s.audio));
    assert.equal(s.response.deployment, "mock/tts");
    assert.deepEqual(s.audio, s.response.audio);
    const t = await transcribe(sb, "transcription", s.audio, { mediaType: s.mediaType });
    assert.equal(t.text, "Hello there");
    assert.equal(t.response.deployment, "mock/whisper");
  });

  test("the client's speakStream(): the start, the audio as it comes, the finish", async () => {
    const kinds: string[] = [];
    const parts: Uint8Array[] = [];
    for await (const e of speakStream(sb, "speech", "Streamed hello", "alloy", { format: "wav" })) {
      kinds.push(e.type);
      if (e.type === "start") assert.equal(e.start.deployment, "mock/tts");
      if (e.type === "audio") parts.push(e.audio);
      if (e.type === "finish") assert.equal(e.response.usage?.characters, 14n);
    }
    assert.equal(kinds[0], "start");
    assert.equal(kinds.at(-1), "finish");
    assert.ok(kinds.filter((k) => k === "audio").length >= 1);
    const t = await transcribe(sb, "transcription", Buffer.concat(parts), { mediaType: "audio/wav" });
    assert.equal(t.text, "Streamed hello");
    // And back, streamed: the client's transcribeStream().
    let heard = "";
    const order: string[] = [];
    for await (const e of transcribeStream(sb, "transcription", Buffer.concat(parts), { mediaType: "audio/wav" })) {
      order.push(e.type);
      if (e.type === "delta") heard += e.text;
      if (e.type === "finish") assert.equal(e.response.text, "Streamed hello");
    }
    assert.equal(heard, "Streamed hello");
    assert.equal(order[0], "start");
    assert.equal(order.at(-1), "finish");
  });
});
