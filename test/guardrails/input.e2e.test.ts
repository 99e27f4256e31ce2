// Input guardrails (and the output stage of unary answers), end to end through the fake OpenAI
// server and both front doors: a blocked input never reaches the upstream (the fake counts zero
// calls), redactions reach every place text travels (system prompts, messages, tool-call arguments,
// tool results), flags send the text unchanged and are recorded; error shapes name the guardrail and
// category and never the matched text; attached guardrails cannot be dropped, asked-for ones are
// added; usage records, span events and /metrics show the actions; a reload swaps the guardrails.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { createSignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/control/directory.ts";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";
import { startTestGateway } from "../helpers/gateway.ts";
import { ask, awsKeyId, cardNumber, errorInfo, gatewayYaml, githubToken, lastRecord, metric, OA, rejected, v1, envFor, useFakes } from "./harness.ts";

const fakes = useFakes();

const EXTRA = `
guardrails:
  - { name: no-keys, kind: secrets, stage: input, action: block }
  - { name: pii-in, kind: pii, stage: input, action: redact }
  - { name: pii-out, kind: pii, stage: output, action: redact, pii: { categories: [card] } }
  - { name: keys-out, kind: secrets, stage: output, action: block }
  - { name: words, kind: deny, stage: input, action: flag, deny: { words: [frobnicate], phrases: [project zephyr] } }
  - { name: banned, kind: deny, action: block, deny: { phrases: [launch codes] } }
  - { name: small, kind: max_input_tokens, action: block, max_input_tokens: { limit: 50 } }
routes:
  - { name: guarded, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [no-keys, pii-in, words] }
  - { name: output, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [pii-out, keys-out] }
  - { name: small, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [small] }
  - { name: open, targets: [${OA}], retry: { max_retries: 0 } }
`;

const env = (t: TestContext, extra = EXTRA) => envFor(t, fakes, extra);

describe("a blocked input never reaches the upstream", () => {
  test("Connect: failed_precondition with ErrorInfo naming guardrail and category, not the text", async (t) => {
    const e = await env(t);
    const key = awsKeyId();
    const err = await rejected(e.client.chat.complete(ask("guarded", `please use ${key} for the upload`)));
    assert.equal(err.code, Code.FailedPrecondition);
    assert.equal(err.rawMessage, 'guardrail "no-keys" blocked the request (category aws_access_key)');
    const info = errorInfo(err);
    assert.equal(info.guardrail, "no-keys");
    assert.equal(info.guardrailCategory, "aws_access_key");
    assert.equal(info.attempts.length, 0);
    assert.ok(!JSON.stringify(info).includes(key));
    assert.equal(fakes.openai.requests.length, 0, "the upstream saw no call");
    const rec = await lastRecord(e.t);
    assert.equal(rec.status, "failed_precondition");
    assert.equal(rec.attempts.length, 0);
    assert.deepEqual(rec.guardrails, [{ name: "no-keys", stage: "input", action: "block", category: "aws_access_key", count: 1 }]);
    assert.equal(await metric(e.t, "signalbox_guardrail_actions_total", { guardrail: "no-keys", stage: "input", action: "block" }), 1);
  });

  test("Connect stream: the same error instead of a stream, and no upstream call", async (t) => {
    const e = await env(t);
    const events: unknown[] = [];
    const err = await rejected(
      (async () => {
        for await (const ev of e.client.chat.stream(ask("guarded", `token ${githubToken()}`))) events.push(ev);
      })(),
    );
    assert.equal(err.code, Code.FailedPrecondition);
    assert.equal(errorInfo(err).guardrailCategory, "github_token");
    assert.deepEqual(events, []);
    assert.equal(fakes.openai.requests.length, 0);
  });

  for (const stream of [false, true]) {
    test(`/v1 (${stream ? "stream" : "unary"}): 400 guardrail_blocked naming guardrail and category`, async (t) => {
      const e = await env(t);
      const key = awsKeyId();
      const r = await v1(e.t.url, { model: "guarded", stream, messages: [{ role: "system", content: `Credentials: ${key}` }, { role: "user", content: "hi" }] });
      assert.equal(r.status, 400);
      assert.deepEqual(r.json, {
        error: { message: 'guardrail "no-keys" blocked the request (category aws_access_key)', type: "invalid_request_error", param: null, code: "guardrail_blocked" },
      });
      assert.ok(!r.raw.includes(key));
      assert.equal(fakes.openai.requests.length, 0);
    });
  }

  test("keys hide in tool-call arguments and tool results too", async (t) => {
    const e = await env(t);
    const key = awsKeyId();
    const err = await rejected(
      e.client.chat.complete({
        model: "guarded",
        messages: [
          { role: 2, content: [{ part: { case: "text", value: "upload it" } }] },
          { role: 3, content: [], toolCalls: [{ id: "c1", name: "upload", arguments: JSON.stringify({ config: { aws: key } }) }] },
          { role: 4, toolCallId: "c1", name: "upload", content: [{ part: { case: "text", value: "done" } }] },
        ],
      } as never),
    );
    assert.equal(errorInfo(err).guardrailCategory, "aws_access_key");
    const err2 = await rejected(
      e.client.chat.complete({
        model: "guarded",
        messages: [
          { role: 2, content: [{ part: { case: "text", value: "read the file" } }] },
          { role: 3, content: [], toolCalls: [{ id: "c1", name: "read", arguments: "{}" }] },
          { role: 4, toolCallId: "c1", name: "read", content: [{ part: { case: "text", value: `AWS_ACCESS_KEY_ID=${key}` } }] },
        ],
      } as never),
    );
    assert.equal(errorInfo(err2).guardrail, "no-keys");
    assert.equal(fakes.openai.requests.length, 0);
  });

  test("max_input_tokens refuses a prompt over its limit (the planner's estimate)", async (t) => {
    const e = await env(t);
    const err = await rejected(e.client.chat.complete(ask("small", "word ".repeat(400))));
    assert.equal(err.code, Code.FailedPrecondition);
    assert.match(err.rawMessage, /^guardrail "small" blocked the request \(category max_input_tokens\): the input is estimated at \d+ tokens, over the limit of 50$/);
    assert.equal(fakes.openai.requests.length, 0);
    fakes.openai.script({ kind: "text", text: "fine" });
    const ok = await e.client.chat.complete(ask("small", "short"));
    assert.equal(ok.message?.content[0]?.part.value, "fine");
  });
});

describe("redactions and flags at the input", () => {
  test("every place text travels is redacted before it is sent; adjustments count them", async (t) => {
    const e = await env(t);
    const card = cardNumber();
    fakes.openai.script({ kind: "text", text: "ok" });
    const res = await e.client.chat.complete({
      model: "guarded",
      messages: [
        { role: 1, content: [{ part: { case: "text", value: "Support agent for ana@example.org" } }] },
        { role: 2, content: [{ part: { case: "text", value: `Charge ${card} please` } }] },
        { role: 3, content: [], toolCalls: [{ id: "c1", name: "charge", arguments: JSON.stringify({ card }) }] },
        { role: 4, toolCallId: "c1", name: "charge", content: [{ part: { case: "text", value: "receipt sent to bob@example.net" } }] },
      ],
    } as never);
    const sent = fakes.openai.requests[0].body;
    assert.equal(sent.messages[0].content, "Support agent for [REDACTED:email]");
    assert.equal(sent.messages[1].content, "Charge [REDACTED:card] please");
    assert.equal(sent.messages[2].tool_calls[0].function.arguments, JSON.stringify({ card: "[REDACTED:card]" }));
    assert.equal(sent.messages[3].content, "receipt sent to [REDACTED:email]");
    assert.ok(!fakes.openai.requests[0].rawBody.includes(card));
    assert.deepEqual(
      res.adjustments.map((a) => ({ field: a.field, detail: a.detail })),
      [{ field: "guardrail:pii-in", detail: "input: 4 redactions (email, card)" }],
    );
    const rec = await lastRecord(e.t);
    assert.deepEqual(rec.guardrails, [
      { name: "pii-in", stage: "input", action: "redact", category: "email", count: 2 },
      { name: "pii-in", stage: "input", action: "redact", category: "card", count: 2 },
    ]);
  });

  test("a flag sends the text unchanged and records it (homoglyphs and zero-width evasions included)", async (t) => {
    const e = await env(t);
    fakes.openai.script({ kind: "text", text: "ok" });
    // Cyrillic "о" and a zero-width space inside the word, and the phrase across punctuation.
    const text = "Please fr\u043ebni\u200bcate the Project-Zephyr plan";
    await e.client.chat.complete(ask("guarded", text));
    assert.equal(fakes.openai.requests[0].body.messages[0].content, text);
    const rec = await lastRecord(e.t);
    assert.deepEqual(rec.guardrails, [{ name: "words", stage: "input", action: "flag", category: "deny", count: 2 }]);
    assert.equal(await metric(e.t, "signalbox_guardrail_actions_total", { guardrail: "words", stage: "input", action: "flag" }), 1);
  });
});

describe("which guardrails a request runs", () => {
  test("a request asks for an additional guardrail it may use (Connect: guardrails; /v1: signalbox.guardrails)", async (t) => {
    const e = await env(t);
    fakes.openai.script({ kind: "text", text: "sure" });
    const free = await e.client.chat.complete(ask("open", "what are the launch codes?"));
    assert.equal(free.message?.content[0]?.part.value, "sure");
    const err = await rejected(e.client.chat.complete(ask("open", "what are the launch codes?", { guardrails: ["banned"] })));
    assert.equal(errorInfo(err).guardrail, "banned");
    assert.equal(errorInfo(err).guardrailCategory, "deny");
    const r = await v1(e.t.url, { model: "open", messages: [{ role: "user", content: "the LAUNCH codes" }], signalbox: { guardrails: ["banned"] } });
    assert.equal(r.status, 400);
    assert.equal(r.error?.code, "guardrail_blocked");
    assert.equal(fakes.openai.requests.length, 1, "only the unguarded request went upstream");
  });

  test("attached guardrails cannot be dropped: asking for others adds, never replaces", async (t) => {
    const e = await env(t);
    const err = await rejected(e.client.chat.complete(ask("guarded", `key ${awsKeyId()}`, { guardrails: ["banned"] })));
    assert.equal(errorInfo(err).guardrail, "no-keys");
    assert.equal(fakes.openai.requests.length, 0);
  });

  test("mandatory guardrails run on every route, team and key", async (t) => {
    const e = await env(t, `
guardrails:
  - { name: everywhere, kind: secrets, action: block, mandatory: true }
routes:
  - { name: open, targets: [${OA}], retry: { max_retries: 0 } }
`);
    for (const model of ["open", OA]) {
      const err = await rejected(e.client.chat.complete(ask(model, `key ${awsKeyId()}`)));
      assert.equal(errorInfo(err).guardrail, "everywhere");
    }
    assert.equal(fakes.openai.requests.length, 0);
  });

  test("team and key attachments apply to that team's and key's requests only", async (t) => {
    fakes.openai.reset();
    const yaml = gatewayYaml(
      fakes.openai.url,
      fakes.anthropic.url,
      `
guardrails:
  - { name: team-rule, kind: deny, action: block, deny: { words: [frobnicate] } }
  - { name: key-rule, kind: deny, action: block, deny: { words: [quux] } }
teams: [{ name: red, guardrails: [team-rule] }]
keys:
  - { name: red-key, hash: "${hashKey("red-secret")}", team: red, guardrails: [key-rule] }
  - { name: red-other, hash: "${hashKey("red-other-secret")}", team: red }
  - { name: blue-key, hash: "${hashKey("blue-secret")}", team: blue }
`,
    );
    const tg = await startTestGateway(yaml);
    t.after(() => tg.close());
    const as = (apiKey: string) => createSignalboxClient({ baseUrl: tg.url, protocol: "connect", apiKey });
    const guardrailOf = async (apiKey: string, text: string) => {
      fakes.openai.script({ kind: "text", text: "ok" });
      try {
        await as(apiKey).chat.complete(ask(OA, text));
        return "";
      } catch (e) {
        return errorInfo(ConnectError.from(e)).guardrail;
      }
    };
    assert.equal(await guardrailOf("red-secret", "frobnicate it"), "team-rule");
    assert.equal(await guardrailOf("red-secret", "quux it"), "key-rule");
    assert.equal(await guardrailOf("red-other-secret", "frobnicate it"), "team-rule");
    assert.equal(await guardrailOf("red-other-secret", "quux it"), "");
    assert.equal(await guardrailOf("blue-secret", "frobnicate quux"), "");
    assert.equal(fakes.openai.requests.length, 2);
  });

  test("an unknown guardrail is invalid_argument naming the field on both doors", async (t) => {
    const e = await env(t);
    const err = await rejected(e.client.chat.complete(ask("open", "hi", { guardrails: ["banned", "nope"] })));
    assert.equal(err.code, Code.InvalidArgument);
    assert.equal(err.rawMessage, 'guardrails[1]: unknown guardrail "nope"');
    assert.equal(errorInfo(err).field, "guardrails[1]");
    const r = await v1(e.t.url, { model: "open", messages: [{ role: "user", content: "hi" }], signalbox: { guardrails: ["nope"] } });
    assert.equal(r.status, 400);
    assert.equal(r.error?.param, "signalbox.guardrails[0]");
    assert.equal(fakes.openai.requests.length, 0);
  });
});

describe("unary answers", () => {
  test("redacted before the caller sees them, counted in adjustments on both doors", async (t) => {
    const e = await env(t);
    const card = cardNumber();
    fakes.openai.script({ kind: "text", text: `Your card ${card} is on file.` });
    const res = await e.client.chat.complete(ask("output", "which card?"));
    assert.equal(res.message?.content[0]?.part.value, "Your card [REDACTED:card] is on file.");
    assert.deepEqual(
      res.adjustments.map((a) => ({ field: a.field, detail: a.detail })),
      [{ field: "guardrail:pii-out", detail: "output: 1 redaction (card)" }],
    );
    fakes.openai.script({ kind: "text", text: `Your card ${card} is on file.` });
    const r = await v1(e.t.url, { model: "output", messages: [{ role: "user", content: "which card?" }] });
    assert.equal(r.text, "Your card [REDACTED:card] is on file.");
    assert.ok(!r.raw.includes(card));
    assert.deepEqual(r.json.signalbox.adjustments, [{ field: "guardrail:pii-out", detail: "output: 1 redaction (card)" }]);
  });

  test("a block after the answer arrived is an error instead of it, and billed", async (t) => {
    const e = await env(t);
    const key = githubToken();
    fakes.openai.script({ kind: "text", text: `use ${key}`, usage: { input: 12, output: 7 } });
    const err = await rejected(e.client.chat.complete(ask("output", "token?")));
    assert.equal(err.code, Code.FailedPrecondition);
    assert.equal(err.rawMessage, 'guardrail "keys-out" blocked the answer (category github_token)');
    const info = errorInfo(err);
    assert.equal(Number(info.usage?.inputTokens), 12);
    assert.equal(Number(info.usage?.outputTokens), 7);
    assert.ok(Number(info.cost?.totalNanoUsd) > 0);
    const rec = await lastRecord(e.t);
    assert.equal(rec.status, "failed_precondition");
    assert.equal(rec.usage.outputTokens, 7);
    assert.deepEqual(rec.guardrails, [{ name: "keys-out", stage: "output", action: "block", category: "github_token", count: 1 }]);
  });
});

describe("traces and reloads", () => {
  test("span events on the RPC span name guardrail, stage, action, category and count, never text", async (t) => {
    fakes.openai.reset();
    const exporter = new InMemorySpanExporter();
    const tracing = startTracing({ processor: new SimpleSpanProcessor({ exporter }) })!;
    const tg = await startTestGateway(gatewayYaml(fakes.openai.url, fakes.anthropic.url, EXTRA), { tracing });
    t.after(async () => {
      await tg.close();
      await tracing.shutdown();
    });
    const client = createSignalboxClient({ baseUrl: tg.url, protocol: "connect" });
    fakes.openai.script({ kind: "text", text: "ok" });
    const card = cardNumber();
    await client.chat.complete(ask("guarded", `card ${card}`));
    const rpc = exporter.getFinishedSpans().find((s) => s.name === "signalbox.v1.ChatService/Complete")!;
    const events = rpc.events.filter((ev) => ev.name === "guardrail").map((ev) => ev.attributes);
    assert.deepEqual(events, [
      { "signalbox.guardrail.name": "pii-in", "signalbox.guardrail.stage": "input", "signalbox.guardrail.action": "redact", "signalbox.guardrail.category": "card", "signalbox.guardrail.count": 1 },
    ]);
    assert.ok(!JSON.stringify(exporter.getFinishedSpans().map((s) => [s.attributes, s.events])).includes(card.slice(0, 9)));
  });

  test("a reload swaps the guardrails in one step", async (t) => {
    fakes.openai.reset();
    const dir = mkdtempSync(join(tmpdir(), "guardrails-reload-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "config.yaml");
    const yaml = (guard: string) => gatewayYaml(fakes.openai.url, fakes.anthropic.url, `${guard}\nroutes: [{ name: chat, targets: [${OA}], retry: { max_retries: 0 }${guard ? ", guardrails: [g]" : ""} }]`);
    writeFileSync(path, yaml(""));
    const tg = await startTestGateway(yaml(""), { configPath: path });
    t.after(() => tg.close());
    const client = createSignalboxClient({ baseUrl: tg.url, protocol: "connect" });
    fakes.openai.script({ kind: "text", text: "ok" });
    await client.chat.complete(ask("chat", "launch codes"));
    writeFileSync(path, yaml("guardrails: [{ name: g, kind: deny, action: block, deny: { phrases: [launch codes] } }]"));
    const result = await tg.gw.reload("test");
    assert.ok(result.changes.includes("guardrail added: g"), result.changes.join("; "));
    const err = await rejected(client.chat.complete(ask("chat", "launch codes")));
    assert.equal(errorInfo(err).guardrail, "g");
    // An invalid guardrail refuses the reload and keeps the one in force.
    writeFileSync(path, yaml("guardrails: [{ name: g, kind: deny, action: block, deny: { patterns: ['(a+)+b'] } }]"));
    await assert.rejects(tg.gw.reload("test"), /guardrails\[0\]\.deny/);
    assert.equal(errorInfo(await rejected(client.chat.complete(ask("chat", "launch codes")))).guardrail, "g");
    assert.equal(fakes.openai.requests.length, 1);
  });
});
