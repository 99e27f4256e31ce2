// `signalbox response <id>` (and `response delete`) and `signalbox conversation <id>` as users run
// them: the built bundle in a child process against a real gateway started in process with mock
// deployments, the responses and conversations made with the official OpenAI SDK.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { hashKey } from "../../src/server/auth.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, exited, fieldsOf, ok, runCli, type CliRun } from "../helpers/cli.ts";
import { itemText, responseIdOf, type Item, type StoredResponse } from "../../clients/cli/src/commands/responses.ts";

const KEY = ["sbx", "test", "cliresp", "team", "a"].join("_");

let g: TestGateway;
let tmp: string;
let openai: OpenAI;

function cli(args: string[]): Promise<CliRun> {
  return runCli(g.url, ["--api-key", KEY, ...args], { cwd: tmp });
}



/** The item blocks after a section title ("TURN", "ITEMS"): one line each here. */
const blocksOf = (stdout: string, title: string) => stdout.slice(stdout.indexOf(`\n${title}\n`) + title.length + 2).trimEnd().split("\n");

const outputText = (r: { output: Item[] }) =>
  r.output
    .filter((i) => i.type === "message")
    .flatMap((i) => (Array.isArray(i.content) ? i.content : []))
    .map((p) => p.text ?? "")
    .join("");

describe("how items read (no gateway)", () => {
  test("one block per item; request ids name responses; long text is clipped", () => {
    assert.equal(responseIdOf("req_abc"), "resp_abc");
    assert.equal(responseIdOf("resp_abc"), "resp_abc");
    assert.equal(itemText({ type: "message", role: "user", content: "hi\nthere" }, false), "user: hi\n  there");
    assert.equal(itemText({ type: "message", role: "assistant", content: [{ type: "output_text", text: "yo" }] }, false), "assistant: yo");
    assert.equal(itemText({ type: "function_call", name: "f", arguments: '{"a":1}', call_id: "c" }, false), 'call f({"a":1})');
    assert.equal(itemText({ type: "function_call_output", call_id: "c", output: "42" }, false), "result: 42");
    assert.equal(itemText({ type: "reasoning", summary: [{ text: "think" }] }, false), "reasoning: think");
    const long = itemText({ type: "message", role: "user", content: "x".repeat(2500) }, false);
    assert.match(long, /^user: x{2000}… \(500 more characters; --full shows them\)$/);
    assert.equal(itemText({ type: "message", role: "user", content: "x".repeat(2500) }, true), `user: ${"x".repeat(2500)}`);
  });
});

describe("signalbox response and conversation against a gateway", () => {
  let first: StoredResponse;
  let firstReq: string;
  let second: StoredResponse;
  let convId: string;
  let convTurns: StoredResponse[];

  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-responses-"));
    g = await startTestGateway(`${MOCK_CONFIG}keys:\n  - { name: team-a, hash: "${hashKey(KEY)}", team: a, role: team }\n`);
    openai = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const made = await openai.responses.create({ model: "default", input: "Name a colour of the sea" }).withResponse();
    first = made.data as unknown as StoredResponse;
    firstReq = made.response.headers.get("x-request-id")!;
    second = (await openai.responses.create({ model: "default", input: "And of the sky?", previous_response_id: first.id })) as unknown as StoredResponse;
    const conv = await openai.conversations.create({ metadata: { topic: "weather" } });
    convId = conv.id;
    convTurns = [];
    for (const input of ["Is it raining?", "Will it snow?"]) convTurns.push((await openai.responses.create({ model: "default", input, conversation: convId })) as unknown as StoredResponse);
  });

  after(async () => {
    await g?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("response <resp id> and <req id>: the facts, the input text and the answer", async () => {
    assert.match(firstReq, /^req_/);
    assert.equal(responseIdOf(firstReq), first.id, "the request id names the response");
    const answer = outputText(first);
    assert.ok(answer.length > 0, "the mock answered");
    for (const id of [first.id, firstReq]) {
      const r = ok(await cli(["response", id]), `response ${id}`);
      const f = fieldsOf(r.stdout);
      assert.equal(f.get("ID"), first.id);
      assert.equal(f.get("STATUS"), "completed");
      assert.equal(f.get("DEPLOYMENT"), "mock/a");
      assert.equal(f.get("TOKENS"), `${first.usage!.input_tokens} in, ${first.usage!.output_tokens} out`);
      assert.match(f.get("COST") ?? "", /^\$0\.\d+$/);
      assert.ok(!f.has("PREVIOUS"));
      assert.deepEqual(blocksOf(r.stdout, "TURN"), ["user: Name a colour of the sea", `assistant: ${answer}`]);
    }
    // The continuation: its previous response, and only its own input.
    const c = ok(await cli(["response", second.id]));
    assert.equal(fieldsOf(c.stdout).get("PREVIOUS"), first.id);
    assert.deepEqual(blocksOf(c.stdout, "TURN"), ["user: And of the sky?", `assistant: ${outputText(second)}`]);
  });

  test("response --json: {response, input_items} with the right ids", async () => {
    const j = JSON.parse(ok(await cli(["response", second.id, "--json"])).stdout) as { response: StoredResponse; input_items: Item[] };
    assert.equal(j.response.id, second.id);
    assert.equal(j.response.previous_response_id, first.id);
    assert.equal(j.input_items.length, 1);
    assert.equal(j.input_items[0].type, "message");
    assert.equal(JSON.parse(ok(await cli(["response", firstReq, "--json"])).stdout).response.id, first.id);
  });

  test("conversation: the four turns in order, and the totals", async () => {
    const r = ok(await cli(["conversation", convId]));
    const f = fieldsOf(r.stdout);
    assert.equal(f.get("ID"), convId);
    assert.equal(f.get("RESPONSES"), "2");
    const inTokens = convTurns.reduce((s, t) => s + t.usage!.input_tokens, 0);
    const outTokens = convTurns.reduce((s, t) => s + t.usage!.output_tokens, 0);
    assert.equal(f.get("TOKENS"), `${inTokens} in, ${outTokens} out`);
    assert.match(f.get("COST") ?? "", /^\$0\.\d+$/);
    assert.equal(f.get("META topic"), "weather");
    assert.deepEqual(blocksOf(r.stdout, "ITEMS"), ["user: Is it raining?", `assistant: ${outputText(convTurns[0])}`, "user: Will it snow?", `assistant: ${outputText(convTurns[1])}`]);
    assert.equal(fieldsOf(ok(await cli(["response", convTurns[1].id])).stdout).get("CONVERSATION"), convId);

    const j = JSON.parse(ok(await cli(["conversation", convId, "--json"])).stdout) as { conversation: { id: string; signalbox: { responses: number } }; items: Item[] };
    assert.equal(j.conversation.id, convId);
    assert.equal(j.conversation.signalbox.responses, 2);
    assert.equal(j.items.length, 4);
  });

  test("response delete: says what it deleted; the response is then not found", async () => {
    const d = ok(await cli(["response", "delete", second.id]));
    assert.match(d.stdout, new RegExp(`^deleted response ${second.id}\\t`));
    const r = exited(await cli(["response", second.id]), 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, new RegExp(`error: response_id: no response "${second.id}".*\\(not_found\\)`));
    assert.match(r.stderr, /hint: check the id: a response is kept/);
    // Deleting it again: not found too.
    assert.match(exited(await cli(["response", "delete", second.id]), 1).stderr, /\(not_found\)/);
  });

  test("response cancel: a background response on a slow route ends cancelled; an ended one is refused", async () => {
    const bg = await openai.responses.create({ model: "slow", input: "Take your time", background: true });
    const c = ok(await cli(["response", "cancel", bg.id]));
    assert.equal(c.stdout, `cancelled response ${bg.id}\n`);
    assert.equal(fieldsOf(ok(await cli(["response", bg.id])).stdout).get("BACKGROUND"), "yes");
    const late = exited(await cli(["response", "cancel", first.id]), 1);
    assert.match(late.stderr, /\(invalid_argument\)/);
    assert.match(late.stderr, /hint: only a background response that is queued or in progress can be cancelled/);
  });

  test("response follow: a streamed background response's text, from the start or after an event; --json is the events", async () => {
    // Made streamed and left after its first delta: the run goes on without its caller.
    const res = await fetch(`${g.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock/trickle", input: "Tell me slowly", background: true, stream: true }),
    });
    const reader = res.body!.getReader();
    let seen = "";
    while (!seen.includes("response.output_text.delta")) seen += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const events = seen.split("\n\n").filter((f) => f.includes("data: ")).map((f) => JSON.parse(f.slice(f.indexOf("data: ") + 6)) as { type: string; sequence_number: number; response?: { id: string } });
    const id = events[0]!.response!.id;
    const last = events.at(-1)!.sequence_number;
    const whole = ok(await cli(["response", "follow", id]));
    const stored = (await openai.responses.retrieve(id)).output_text;
    assert.equal(whole.stdout, `${stored}\n`);
    assert.match(whole.stderr, /completed · \d+ in, \d+ out/);
    const tail = ok(await cli(["response", "follow", id, "--after", String(last), "--json"])).stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { type: string; sequence_number: number });
    assert.equal(tail[0]!.sequence_number, last + 1);
    assert.equal(tail.at(-1)!.type, "response.completed");
    const notBackground = exited(await cli(["response", "follow", first.id]), 1);
    assert.match(notBackground.stderr, /only a background response's stream can be followed/);
  });

  test("an unknown conversation: not found, exit 1, with the hint", async () => {
    for (const args of [["conversation", "conv_nope"], ["conversation", "delete", "conv_nope"]]) {
      const r = exited(await cli(args), 1, args.join(" "));
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /no conversation "conv_nope".*\(not_found\)/);
      assert.match(r.stderr, /hint: check the id: a conversation \(conv_…\) is kept until it is deleted/);
    }
  });

  test("conversation delete: says what it deleted; it is then not found", async () => {
    const d = ok(await cli(["conversation", "delete", convId]));
    assert.match(d.stdout, new RegExp(`^deleted conversation ${convId}\\t2 responses\\t\\$`));
    assert.match(exited(await cli(["conversation", convId]), 1).stderr, /\(not_found\)/);
  });
});
