// `signalbox realtime` as users run it: the built bundle in a child process (Node 24, and the
// system's Node 20 for one session) against a real gateway started in process, whose mock
// deployment serves the Realtime API (/v1/realtime, a WebSocket). A turn per message (the
// arguments, then stdin's lines), the replies on stdout, the summary's tokens equal to the
// session's usage record; --json's lines are the server's events; --audio -o writes a WAV; a
// refused session (unknown model, a key whose allow list leaves the model out) exits 1 with the
// gateway's message and a hint; no model is bad usage (exit 2); a budget that runs out mid-session
// ends it with 1008 and exit 1.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, exited, ok, runCli, SYSTEM_NODE, type CliRun } from "../helpers/cli.ts";

const k = (...p: string[]) => ["sbx", "test", "clirealtime", ...p].join("_");
const KEYS = { team: k("team", "a"), limited: k("limited"), broke: k("broke") };

let g: TestGateway;
let tmp: string;

/** Run the built CLI against the gateway as `key` (default: team a's key). */
function cli(args: string[], opts: { key?: string; node?: string; stdin?: string } = {}): Promise<CliRun> {
  return runCli(g?.url ?? "http://127.0.0.1:9", ["--api-key", opts.key ?? KEYS.team, ...args], { cwd: tmp, node: opts.node, stdin: opts.stdin });
}

/** The summary line on stderr: deployment, responses, tokens, request and trace. */
function summaryOf(stderr: string) {
  const line = stderr.split("\n").find((l) => l.startsWith("— ")) ?? "";
  const m = /^— (\S+) · (\d+) responses? · ([\d,]+) in \/ ([\d,]+) out tokens · (?:.* · )?request (req_\w+) · trace ([0-9a-f]{32})$/.exec(line);
  assert.ok(m, `a summary line on stderr:\n${stderr}`);
  const n = (s: string) => Number(s.replace(/,/g, ""));
  return { deployment: m[1], responses: n(m[2]), inputTokens: n(m[3]), outputTokens: n(m[4]), requestId: m[5], traceId: m[6] };
}

/** The session's usage record, once written (after both sides closed). */
async function recordOf(requestId: string): Promise<UsageRecord> {
  for (let i = 0; i < 200; i++) {
    const r = g.usage.recent().find((x) => x.operation === "realtime" && x.id === requestId);
    if (r) return r;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`no realtime record ${requestId}`);
}

describe("signalbox realtime against a gateway", () => {
  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-realtime-"));
    g = await startTestGateway(`
providers:
  - { name: mock, type: mock }
  - { name: wordy, type: mock, mock: { output_tokens: 2000, chunks: 4, ttft_ms: 1, inter_chunk_ms: 1 } }
deployments:
  - { id: mock/realtime, provider: mock, model: mock-realtime-1, operations: [realtime], pricing: { input: 0.6, output: 2.4 } }
  - { id: mock/chat, provider: mock, model: mock-chat }
  - { id: mock/wordy, provider: wordy, model: mock-wordy, operations: [realtime], pricing: { input: 0.6, output: 2.4 } }
routes:
  - { name: realtime, targets: [mock/realtime] }
  - { name: wordy, targets: [mock/wordy] }
  - { name: chat, targets: [mock/chat] }
keys:
  - { name: team-a, hash: "${hashKey(KEYS.team)}", team: a, role: team }
  - { name: limited, hash: "${hashKey(KEYS.limited)}", team: a, role: service, allow: [chat] }
  - { name: broke, hash: "${hashKey(KEYS.broke)}", team: b, role: service, budget: { period: day, limit_usd: 0.003 } }
`);
  });

  after(async () => {
    await g?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("two lines on stdin are two turns; the replies on stdout, the summary's tokens are the session's usage record", async () => {
    const r = ok(await cli(["realtime", "realtime", "--instructions", "Be brief."], { stdin: "first question\n\nsecond question\n" }));
    const lines = r.stdout.split("\n");
    assert.equal(lines.length, 3, `one line per reply, then the end:\n${r.stdout}`);
    assert.match(lines[0], /^\(mock-realtime-1\) You said: "first question"\. /);
    assert.match(lines[1], /^\(mock-realtime-1\) You said: "second question"\. /);
    assert.equal(lines[2], "");
    const s = summaryOf(r.stderr);
    assert.equal(s.deployment, "mock/realtime");
    assert.equal(s.responses, 2);
    const rec = await recordOf(s.requestId);
    assert.equal(rec.status, "ok");
    assert.equal(rec.deployment, "mock/realtime");
    assert.equal(rec.key, "team-a");
    assert.equal(rec.traceId, s.traceId);
    assert.ok(s.inputTokens > 0 && s.outputTokens > 0);
    assert.equal(s.inputTokens, rec.usage.inputTokens);
    assert.equal(s.outputTokens, rec.usage.outputTokens);
  });

  const v20 = existsSync(SYSTEM_NODE);
  test(`one message as arguments is one turn${v20 ? ", on the system's Node 20" : ""}; --json prints every server event as a JSON line`, async () => {
    const [text, json] = await Promise.all([
      cli(["realtime", "realtime", "hello", "over", "a", "socket"], { node: v20 ? SYSTEM_NODE : undefined }),
      cli(["--json", "realtime", "realtime", "hi there"]),
    ]);
    ok(text, "a text turn");
    assert.match(text.stdout, /^\(mock-realtime-1\) You said: "hello over a socket"\. [^\n]+\n$/);
    assert.equal(summaryOf(text.stderr).responses, 1);

    ok(json, "--json");
    const events = json.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; delta?: string; response?: { usage?: { input_tokens: number; output_tokens: number } } });
    const types = events.map((e) => e.type);
    for (const t of ["session.created", "session.updated", "conversation.item.added", "response.created", "response.output_text.delta", "response.done"]) assert.ok(types.includes(t), `${t} among ${types.join(", ")}`);
    assert.equal(types.at(-1), "response.done");
    const reply = events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");
    assert.match(reply, /You said: "hi there"/);
    const s = summaryOf(json.stderr);
    assert.equal(s.outputTokens, events.at(-1)!.response!.usage!.output_tokens);
  });

  test("--audio -o file.wav: the transcript on stdout, the audio in a 24 kHz mono 16-bit WAV", async () => {
    const file = join(tmp, "reply.wav");
    const r = ok(await cli(["realtime", "realtime", "--audio", "-o", file, "say something"]));
    assert.match(r.stdout, /^\(mock-realtime-1\) You said: "say something"\. [^\n]+\n$/);
    assert.match(r.stderr, /reply\.wav: \d+\.\d s of audio/);
    const wav = readFileSync(file);
    assert.equal(wav.toString("latin1", 0, 4), "RIFF");
    assert.equal(wav.readUInt32LE(4), wav.length - 8);
    assert.equal(wav.toString("latin1", 8, 16), "WAVEfmt ");
    assert.equal(wav.readUInt16LE(20), 1, "PCM");
    assert.equal(wav.readUInt16LE(22), 1, "mono");
    assert.equal(wav.readUInt32LE(24), 24_000);
    assert.equal(wav.readUInt16LE(34), 16);
    assert.equal(wav.toString("latin1", 36, 40), "data");
    const data = wav.readUInt32LE(40);
    assert.equal(data, wav.length - 44);
    assert.ok(data > 0 && data % 2 === 0, `data length ${data}`);
  });

  test("refused sessions exit 1 with the gateway's message and a hint; no model is bad usage (exit 2)", async () => {
    const [unknown, denied, usage] = await Promise.all([
      cli(["realtime", "no-such-model", "hi"]),
      cli(["realtime", "realtime", "hi"], { key: KEYS.limited }),
      cli(["realtime"]),
    ]);
    exited(unknown, 1, "an unknown model");
    assert.equal(unknown.stdout, "");
    assert.match(unknown.stderr, /error: .*no-such-model.* \(not_found\)/);
    assert.match(unknown.stderr, /hint: check the model/);

    exited(denied, 1, "a key that may not use the model");
    assert.equal(denied.stdout, "");
    assert.match(denied.stderr, /error: model: key "limited" may not use "realtime" \(permission_denied\)/);
    assert.match(denied.stderr, /hint: this key may not use that model/);

    exited(usage, 2, "no model");
    assert.match(usage.stderr, /missing required argument 'model'/);
  });

  test("a budget that runs out mid-session: the reply that spent it is printed, then the gateway's error and close 1008, exit 1 with a hint; the next session is refused", async () => {
    const run = await cli(["realtime", "wordy"], { key: KEYS.broke, stdin: "talk a lot\nand more\n" });
    exited(run, 1, "a spent budget");
    assert.match(run.stdout, /You said: "talk a lot"/);
    assert.doesNotMatch(run.stdout, /You said: "and more"/);
    assert.match(run.stderr, /budget exhausted during a realtime session/);
    assert.match(run.stderr, /1008/);
    assert.match(run.stderr, /hint: a budget is spent: see `signalbox budget`/);
    const again = await cli(["realtime", "wordy", "hi"], { key: KEYS.broke });
    exited(again, 1, "a spent budget, up front");
    assert.match(again.stderr, /budget exhausted/);
  });
});
