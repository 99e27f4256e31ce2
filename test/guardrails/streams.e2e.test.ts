// Output guardrails inside streams, end to end through the fake OpenAI (Chat Completions SSE) and
// Anthropic (Messages SSE) servers and both front doors (Connect ChatService.Stream and /v1 SSE):
// a card number or a key split across chunk boundaries at every offset is redacted, and no byte the
// gateway sends contains it; a block before the first content is an error instead of a stream,
// after it the stream ends with a guardrail error; what was delivered is billed and recorded.

import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { Code } from "@connectrpc/connect";
import { AN, ask, awsKeyId, cardNumber, connectStream, errorInfo, githubToken, lastRecord, metric, OA, v1, type Env, envFor, useFakes } from "./harness.ts";

const fakes = useFakes();

const EXTRA = `
guardrails:
  - { name: pii-out, kind: pii, stage: output, action: redact, pii: { categories: [card, email] } }
  - { name: keys-out, kind: secrets, stage: output, action: redact }
  - { name: keys-block, kind: secrets, stage: output, action: block }
routes:
  - { name: oa, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [pii-out, keys-out] }
  - { name: an, targets: [${AN}], retry: { max_retries: 0 }, guardrails: [pii-out, keys-out] }
  - { name: oa-block, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [keys-block] }
  - { name: an-block, targets: [${AN}], retry: { max_retries: 0 }, guardrails: [keys-block] }
`;

const env = (t: TestContext) => envFor(t, fakes, EXTRA);

const PROVIDERS = [
  { name: "openai", route: "oa", block: "oa-block", script: (deltas: string[], chunkDelayMs?: number) => fakes.openai.script({ kind: "text", text: deltas, chunkDelayMs }) },
  { name: "anthropic", route: "an", block: "an-block", script: (deltas: string[], chunkDelayMs?: number) => fakes.anthropic.script({ kind: "text", text: deltas, chunkDelayMs }) },
] as const;

type Door = "connect" | "v1";
const DOORS: Door[] = ["connect", "v1"];

/** One stream through a front door: the text delivered, and every byte (or decoded delta) sent. */
async function stream(e: Env, door: Door, model: string, prompt = "tell me") {
  if (door === "connect") {
    const s = await connectStream(e.client, ask(model, prompt));
    // What the caller's bytes carry: every delta, their concatenation, the error's message.
    const sent = [...s.deltas, s.text, s.error?.rawMessage ?? ""].join("\u0000");
    return { text: s.text, sent, error: s.error, adjustments: s.finishAdjustments };
  }
  const r = await v1(e.t.url, { model, messages: [{ role: "user", content: prompt }], stream: true, stream_options: { include_usage: true } });
  return { text: r.text, sent: r.raw, status: r.status, v1error: r.error, adjustments: (r.json?.signalbox?.adjustments ?? []) as { field: string; detail: string }[] };
}

const SENSITIVE = [
  { what: "card number", value: () => cardNumber(), placeholder: "[REDACTED:card]", guardrail: "pii-out" },
  { what: "AWS access key id", value: awsKeyId, placeholder: "[REDACTED:aws_access_key]", guardrail: "keys-out" },
];

describe("a sensitive string split across chunks at every offset is redacted and never leaked", () => {
  for (const p of PROVIDERS) {
    for (const door of DOORS) {
      for (const s of SENSITIVE) {
        test(`${p.name} stream via ${door}: ${s.what}`, async (t) => {
          const e = await env(t);
          const secret = s.value();
          const before = "Here it is: ";
          const after = " and that is all.";
          const full = before + secret + after;
          for (let cut = 1; cut < secret.length; cut++) {
            const at = before.length + cut;
            p.script([full.slice(0, at), full.slice(at)]);
            const r = await stream(e, door, p.route);
            assert.equal(r.text, before + s.placeholder + after, `cut at ${cut}`);
            assert.ok(!r.sent.includes(secret), `cut at ${cut}: the raw value left the gateway`);
          }
          const rec = await lastRecord(e.t);
          assert.deepEqual(rec.guardrails, [{ name: s.guardrail, stage: "output", action: "redact", category: s.placeholder.slice(10, -1), count: 1 }]);
        });
      }
    }
  }

  for (const door of DOORS) {
    test(`openai stream via ${door}: one character per delta, two values, adjustments counted`, async (t) => {
      const e = await env(t);
      const card = cardNumber();
      const key = githubToken();
      const full = `card ${card}, token ${key}, mail ana@example.org.`;
      fakes.openai.script({ kind: "text", text: [...full] });
      const r = await stream(e, door, "oa");
      assert.equal(r.text, "card [REDACTED:card], token [REDACTED:github_token], mail [REDACTED:email].");
      for (const v of [card, key, "ana@example.org"]) assert.ok(!r.sent.includes(v));
      assert.deepEqual(r.adjustments, [
        { field: "guardrail:pii-out", detail: "output: 2 redactions (card, email)" },
        { field: "guardrail:keys-out", detail: "output: 1 redaction (github_token)" },
      ]);
    });
  }

  test("tool-call argument deltas are scanned too (the fake splits arguments in three)", async (t) => {
    const e = await env(t);
    const card = cardNumber();
    fakes.openai.script({ kind: "tool_calls", calls: [{ name: "charge", arguments: { card, note: "monthly" } }] });
    const s = await connectStream(e.client, { ...(ask("oa", "charge it") as object), tools: [{ name: "charge", parameters: { type: "object" } }] } as never);
    assert.equal(s.error, undefined, s.error?.message);
    const args = s.events.flatMap((x) => (x.event.case === "delta" ? x.event.value.toolCalls.map((c) => c.argumentsDelta) : [])).join("");
    assert.deepEqual(JSON.parse(args), { card: "[REDACTED:card]", note: "monthly" });
    assert.ok(!args.includes(card));
  });

  test("hostile socket chunking (splits inside data:, JSON and UTF-8) changes nothing", async (t) => {
    const e = await env(t);
    const card = cardNumber();
    fakes.openai.script({ kind: "text", text: ["Zahlung mit Karte ", card.slice(0, 7), card.slice(7), " — danke ✓"], chunking: "hostile" });
    const r = await stream(e, "v1", "oa");
    assert.equal(r.text, "Zahlung mit Karte [REDACTED:card] — danke ✓");
    assert.ok(!r.sent.includes(card));
  });
});

describe("a block inside a stream", () => {
  for (const p of PROVIDERS) {
    test(`${p.name}: before the first content, Connect gets failed_precondition instead of a stream`, async (t) => {
      const e = await env(t);
      const key = awsKeyId();
      p.script([`${key.slice(0, 9)}`, `${key.slice(9)} is the key`]);
      const s = await connectStream(e.client, ask(p.block, "the key?"));
      assert.equal(s.error?.code, Code.FailedPrecondition);
      assert.deepEqual(s.events, [], "no start, no delta: an error instead of a stream");
      const info = errorInfo(s.error!);
      assert.equal(info.guardrail, "keys-block");
      assert.equal(info.guardrailCategory, "aws_access_key");
      assert.match(s.error!.rawMessage, /guardrail "keys-block" blocked the answer \(category aws_access_key\)/);
      assert.ok(!s.error!.rawMessage.includes(key));
      // Billed: the answer arrived before it was refused.
      assert.ok(Number(info.usage?.inputTokens ?? 0) > 0);
      const rec = await lastRecord(e.t);
      assert.equal(rec.status, "failed_precondition");
      assert.deepEqual(rec.guardrails, [{ name: "keys-block", stage: "output", action: "block", category: "aws_access_key", count: 1 }]);
      assert.equal(rec.attempts[0].failureKind, "guardrail");
      assert.ok(rec.usage.inputTokens > 0);
    });

    test(`${p.name}: before the first content, /v1 gets a 400 guardrail_blocked instead of a stream`, async (t) => {
      const e = await env(t);
      const key = awsKeyId();
      p.script([key, " is the key"]);
      const r = await v1(e.t.url, { model: p.block, messages: [{ role: "user", content: "the key?" }], stream: true });
      assert.equal(r.status, 400);
      assert.deepEqual(r.json, {
        error: { message: 'guardrail "keys-block" blocked the answer (category aws_access_key)', type: "invalid_request_error", param: null, code: "guardrail_blocked" },
      });
      assert.ok(!r.raw.includes(key));
    });

    test(`${p.name}: after the first content, the stream ends with a guardrail error and the delivered part is billed`, async (t) => {
      const e = await env(t);
      const key = githubToken();
      const intro = "Sure, here is a longer introduction that is perfectly safe to send on. ";
      // Written apart, so the intro reaches the caller before the key arrives.
      p.script([intro, "and now: ", key.slice(0, 20), key.slice(20), " done"], 40);
      const s = await connectStream(e.client, ask(p.block, "go"));
      assert.equal(s.error?.code, Code.FailedPrecondition);
      assert.deepEqual(
        s.events.map((x) => x.event.case),
        ["start", ...s.events.slice(1).map(() => "delta")],
      );
      assert.ok(s.text.length > 0 && intro.startsWith(s.text.slice(0, 20)));
      assert.ok(!s.text.includes(key.slice(0, 8)), "nothing of the key went out");
      assert.equal(errorInfo(s.error!).guardrail, "keys-block");
      assert.equal(errorInfo(s.error!).guardrailCategory, "github_token");
      const rec = await lastRecord(e.t);
      assert.equal(rec.status, "failed_precondition");
      assert.ok(rec.usage.outputTokens > 0 && rec.cost.total > 0, "the delivered part is billed");

      p.script([intro, "and now: ", key, " done"], 40);
      const r = await v1(e.t.url, { model: p.block, messages: [{ role: "user", content: "go" }], stream: true });
      assert.equal(r.status, 200);
      assert.deepEqual(r.error, { message: 'guardrail "keys-block" blocked the answer (category github_token)', type: "invalid_request_error", param: null, code: "guardrail_blocked" });
      assert.ok(!r.raw.includes(key.slice(0, 8)));
      assert.ok(!r.raw.includes("data: [DONE]"));
    });
  }

  test("/metrics counts the actions by guardrail, stage and action", async (t) => {
    const e = await env(t);
    fakes.openai.script({ kind: "text", text: [`card ${cardNumber()} ok`] });
    await stream(e, "connect", "oa");
    fakes.openai.script({ kind: "text", text: [awsKeyId()] });
    await stream(e, "connect", "oa-block");
    assert.equal(await metric(e.t, "signalbox_guardrail_actions_total", { guardrail: "pii-out", stage: "output", action: "redact" }), 1);
    assert.equal(await metric(e.t, "signalbox_guardrail_actions_total", { guardrail: "keys-block", stage: "output", action: "block" }), 1);
  });
});
