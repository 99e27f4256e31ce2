// The json_schema guardrail end to end: an answer to a request with a JSON-schema (or JSON-object)
// response format must parse and validate. An invalid answer is retried on the same deployment,
// then fallen back from, with every attempt recorded (failure kind GUARDRAIL, billed); on_failure
// fallback skips the retry, flag accepts and records; a stream can only flag or end with an error.

import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { AttemptOutcome, FailureKind } from "@signalbox/client";
import { connectStream, errorInfo, lastRecord, OA, v1, envFor, useFakes } from "./harness.ts";

const fakes = useFakes();

const MINI = "openai/gpt-4o-mini";

const EXTRA = `
guardrails:
  - { name: schema-retry, kind: json_schema, json_schema: { on_failure: retry } }
  - { name: schema-fallback, kind: json_schema, json_schema: { on_failure: fallback } }
  - { name: schema-flag, kind: json_schema, json_schema: { on_failure: flag } }
routes:
  - { name: retry, targets: [${OA}, ${MINI}], retry: { max_retries: 0 }, guardrails: [schema-retry] }
  - { name: fallback, targets: [${OA}, ${MINI}], retry: { max_retries: 0 }, guardrails: [schema-fallback] }
  - { name: flag, targets: [${OA}, ${MINI}], retry: { max_retries: 0 }, guardrails: [schema-flag] }
  - { name: plain, targets: [${OA}, ${MINI}], retry: { max_retries: 0 } }
`;

const env = (t: TestContext) => envFor(t, fakes, EXTRA);

const SCHEMA = { type: "object", properties: { name: { type: "string" }, age: { type: "integer", minimum: 0 } }, required: ["name", "age"], additionalProperties: false };
const GOOD = JSON.stringify({ name: "Ana", age: 41 });

function person(model: string, extra: Record<string, unknown> = {}) {
  return {
    model,
    messages: [{ role: 2, content: [{ part: { case: "text", value: "Who is Ana? Answer in JSON." } }] }],
    responseFormat: { type: 3, schemaName: "person", schema: SCHEMA, strict: true },
    ...extra,
  } as never;
}

const view = (attempts: { deployment: string; outcome: number; failureKind: number; reason: string }[]) =>
  attempts.map((a) => [a.deployment, a.outcome === AttemptOutcome.SUCCEEDED ? "ok" : a.failureKind === FailureKind.GUARDRAIL ? "guardrail" : `failed:${a.failureKind}`, a.reason]);

describe("json_schema on unary answers", () => {
  test("an invalid answer is retried, then fallen back from, with every attempt recorded and billed", async (t) => {
    const e = await env(t);
    fakes.openai.script([
      { kind: "text", text: "Ana is 41.", usage: { input: 20, output: 5 } },
      { kind: "text", text: JSON.stringify({ name: "Ana", age: "forty-one" }), usage: { input: 20, output: 9 } },
      { kind: "text", text: GOOD, usage: { input: 20, output: 9 } },
    ]);
    const res = await e.client.chat.complete(person("retry"));
    assert.equal(res.message?.content[0]?.part.value, GOOD);
    assert.equal(res.deployment, MINI);
    assert.deepEqual(view(res.attempts), [
      [OA, "guardrail", "primary"],
      [OA, "guardrail", "retry 1 after guardrail"],
      [MINI, "ok", `fallback after guardrail from ${OA}`],
    ]);
    assert.equal(res.attempts[0].errorMessage, 'guardrail "schema-retry": the answer is not valid JSON');
    assert.match(res.attempts[1].errorMessage, /^guardrail "schema-retry": the answer does not match schema "person": answer\/age must be integer$/);
    // Every answer was billed: 3 × 20 input tokens, 5 + 9 + 9 output tokens.
    assert.equal(Number(res.usage?.inputTokens), 60);
    assert.equal(Number(res.usage?.outputTokens), 23);
    assert.deepEqual(
      fakes.openai.requests.map((r) => r.body.model),
      ["gpt-4o", "gpt-4o", "gpt-4o-mini"],
    );
    const rec = await lastRecord(e.t);
    assert.equal(rec.status, "ok");
    assert.deepEqual(rec.guardrails, [{ name: "schema-retry", stage: "output", action: "block", category: "json_schema", count: 2 }]);
    assert.deepEqual(
      rec.attempts.map((a) => a.failureKind ?? "ok"),
      ["guardrail", "guardrail", "ok"],
    );
  });

  test("on_failure fallback moves to the next candidate at once", async (t) => {
    const e = await env(t);
    fakes.openai.script([{ kind: "text", text: "{}" }, { kind: "text", text: GOOD }]);
    const res = await e.client.chat.complete(person("fallback"));
    assert.deepEqual(view(res.attempts), [
      [OA, "guardrail", "primary"],
      [MINI, "ok", `fallback after guardrail from ${OA}`],
    ]);
    assert.match(res.attempts[0].errorMessage, /must have required property 'name'/);
  });

  test("on_failure flag returns the answer and records it", async (t) => {
    const e = await env(t);
    fakes.openai.script({ kind: "text", text: "not JSON at all" });
    const res = await e.client.chat.complete(person("flag"));
    assert.equal(res.message?.content[0]?.part.value, "not JSON at all");
    assert.equal(res.attempts.length, 1);
    const rec = await lastRecord(e.t);
    assert.deepEqual(rec.guardrails, [{ name: "schema-flag", stage: "output", action: "flag", category: "json_schema", count: 1 }]);
  });

  test("when no candidate answers validly: failed_precondition naming the guardrail, on both doors", async (t) => {
    const e = await env(t);
    fakes.openai.setDefault({ kind: "text", text: "[]" });
    let err: ConnectError | undefined;
    try {
      await e.client.chat.complete(person("fallback"));
    } catch (x) {
      err = ConnectError.from(x);
    }
    assert.equal(err?.code, Code.FailedPrecondition);
    const info = errorInfo(err!);
    assert.equal(info.guardrail, "schema-fallback");
    assert.equal(info.guardrailCategory, "json_schema");
    assert.equal(info.failureKind, FailureKind.GUARDRAIL);
    assert.equal(info.attempts.length, 2);

    const r = await v1(e.t.url, {
      model: "retry",
      messages: [{ role: "user", content: "Who is Ana?" }],
      response_format: { type: "json_schema", json_schema: { name: "person", schema: SCHEMA, strict: true } },
    });
    assert.equal(r.status, 400);
    assert.equal(r.error?.code, "guardrail_blocked");
    assert.equal(r.error?.type, "invalid_request_error");
    assert.match(r.error!.message, /^all 4 attempts failed; last: guardrail "schema-retry": the answer does not match schema "person"/);
    assert.equal(fakes.openai.requests.length, 2 + 4);
  });

  test("a JSON-object response format must parse to an object; no format, no check", async (t) => {
    const e = await env(t);
    fakes.openai.script([{ kind: "text", text: "sure: {" }, { kind: "text", text: '{"ok":true}' }]);
    const res = await e.client.chat.complete(person("retry", { responseFormat: { type: 2 } }));
    assert.equal(res.message?.content[0]?.part.value, '{"ok":true}');
    assert.equal(res.attempts.length, 2);
    fakes.openai.script({ kind: "text", text: "plain words" });
    const plain = await e.client.chat.complete(person("retry", { responseFormat: undefined }));
    assert.equal(plain.attempts.length, 1);
  });
});

describe("json_schema on streams (validated at the end: the stream has committed)", () => {
  test("retry or fallback cannot happen after content went out: the stream ends with the guardrail error", async (t) => {
    const e = await env(t);
    fakes.openai.script({ kind: "text", text: ['{"name":', '"Ana"}'] });
    const s = await connectStream(e.client, person("retry"));
    assert.equal(s.text, '{"name":"Ana"}');
    assert.equal(s.error?.code, Code.FailedPrecondition);
    assert.equal(errorInfo(s.error!).guardrail, "schema-retry");
    assert.match(s.error!.rawMessage, /^guardrail "schema-retry" blocked the answer \(category json_schema\): the answer does not match schema "person": answer must have required property 'age'$/);
    assert.equal(fakes.openai.requests.length, 1);
  });

  test("flag lets a stream finish and records it; a valid stream is untouched", async (t) => {
    const e = await env(t);
    fakes.openai.script({ kind: "text", text: ["nope"] });
    const s = await connectStream(e.client, person("flag"));
    assert.equal(s.error, undefined);
    assert.equal(s.text, "nope");
    assert.deepEqual((await lastRecord(e.t)).guardrails, [{ name: "schema-flag", stage: "output", action: "flag", category: "json_schema", count: 1 }]);
    fakes.openai.script({ kind: "text", text: [GOOD.slice(0, 5), GOOD.slice(5)] });
    const ok = await connectStream(e.client, person("retry"));
    assert.equal(ok.error, undefined);
    assert.equal(ok.text, GOOD);
  });
});
