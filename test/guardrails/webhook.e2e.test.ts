// The webhook guardrail end to end, against a fake moderation service (node:http in this test)
// that allows, blocks, times out and fails: a refusal blocks before any provider call; fail-closed
// guardrails block when the service cannot answer, fail-open ones let the text through and record
// it; OpenAI's moderation answer shape is understood; the output stage checks the final answer.

import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test, type TestContext } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ask, connectStream, errorInfo, gatewayYaml, lastRecord, metric, OA, startEnv, v1, type Env, envFor, useFakes } from "./harness.ts";

type Mode = "allow" | "block" | "slow" | "fail" | "garbage" | "openai-flagged" | "openai-clean";

interface Moderation {
  url: string;
  mode: Mode;
  bodies: any[];
  headers: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

async function startModeration(): Promise<Moderation> {
  const m: Moderation = { url: "", mode: "allow", bodies: [], headers: [], close: async () => {} };
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      m.bodies.push(JSON.parse(raw));
      m.headers.push(req.headers);
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      switch (m.mode) {
        case "allow":
          return json(200, { allow: true });
        case "block":
          return json(200, { allow: false, category: "violence" });
        case "slow":
          return void setTimeout(() => json(200, { allow: true }), 1_000).unref();
        case "fail":
          return json(503, { error: "down" });
        case "garbage":
          return json(200, { verdict: "fine" });
        case "openai-flagged":
          return json(200, { id: "modr-1", model: "omni-moderation-latest", results: [{ flagged: true, categories: { harassment: false, "self-harm": true }, category_scores: {} }] });
        case "openai-clean":
          return json(200, { id: "modr-2", model: "omni-moderation-latest", results: [{ flagged: false, categories: { harassment: false }, category_scores: {} }] });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  m.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/moderate`;
  m.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return m;
}

const fakes = useFakes();
let mod: Moderation;
before(async () => {
  mod = await startModeration();
});
after(() => mod.close());
beforeEach(() => {
  mod.mode = "allow";
  mod.bodies = [];
  mod.headers = [];
});

const extra = () => `
guardrails:
  - { name: mod-closed, kind: webhook, action: block, webhook: { url: "${mod.url}", timeout_ms: 150, fail: closed, headers: { x-moderation-key: test-secret } } }
  - { name: mod-open, kind: webhook, action: block, webhook: { url: "${mod.url}", timeout_ms: 150, fail: open } }
  - { name: mod-flag, kind: webhook, action: flag, webhook: { url: "${mod.url}", fail: open } }
  - { name: mod-openai, kind: webhook, action: block, webhook: { url: "${mod.url}", format: openai, model: omni-moderation-latest } }
  - { name: mod-out, kind: webhook, stage: output, action: block, webhook: { url: "${mod.url}", fail: closed } }
routes:
  - { name: closed, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [mod-closed] }
  - { name: open, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [mod-open] }
  - { name: flag, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [mod-flag] }
  - { name: openai-shape, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [mod-openai] }
  - { name: out, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [mod-out] }
`;

const env = (t: TestContext) => envFor(t, fakes, extra());

async function outcome(e: Env, model: string, text = "hello there"): Promise<{ ok: boolean; err?: ConnectError }> {
  fakes.openai.script({ kind: "text", text: "fine" });
  try {
    await e.client.chat.complete(ask(model, text));
    return { ok: true };
  } catch (x) {
    return { ok: false, err: ConnectError.from(x) };
  }
}

describe("webhook at the input", () => {
  test("allow: the request goes on; the service got {text, stage, guardrail} and its headers", async (t) => {
    const e = await env(t);
    const r = await outcome(e, "closed", "hello there");
    assert.equal(r.ok, true);
    assert.deepEqual(mod.bodies, [{ text: "hello there", stage: "input", guardrail: "mod-closed" }]);
    assert.equal(mod.headers[0]["x-moderation-key"], "test-secret");
    assert.equal(fakes.openai.requests.length, 1);
  });

  test("block: failed_precondition with the service's category, and no upstream call", async (t) => {
    const e = await env(t);
    mod.mode = "block";
    const r = await outcome(e, "closed");
    assert.equal(r.err?.code, Code.FailedPrecondition);
    assert.equal(r.err?.rawMessage, 'guardrail "mod-closed" blocked the request (category violence)');
    assert.equal(errorInfo(r.err!).guardrailCategory, "violence");
    assert.equal(fakes.openai.requests.length, 0);
    const v = await v1(e.t.url, { model: "closed", messages: [{ role: "user", content: "hello" }] });
    assert.equal(v.status, 400);
    assert.equal(v.error?.code, "guardrail_blocked");
    assert.equal(fakes.openai.requests.length, 0);
  });

  for (const mode of ["slow", "fail", "garbage"] as const) {
    test(`the service ${mode === "slow" ? "times out" : mode === "fail" ? "answers 503" : "answers in no known shape"}: fail closed blocks, fail open lets it through`, async (t) => {
      const e = await env(t);
      mod.mode = mode;
      const started = performance.now();
      const closed = await outcome(e, "closed");
      assert.equal(closed.err?.code, Code.FailedPrecondition);
      assert.equal(errorInfo(closed.err!).guardrailCategory, "unavailable");
      assert.match(closed.err!.rawMessage, /^guardrail "mod-closed" blocked the request \(category unavailable\): .*this guardrail fails closed$/);
      if (mode === "slow") {
        assert.match(closed.err!.rawMessage, /did not answer within 150 ms/);
        assert.ok(performance.now() - started < 900, "the timeout is honoured");
      }
      assert.equal(fakes.openai.requests.length, 0);
      const open = await outcome(e, "open");
      assert.equal(open.ok, true);
      assert.equal(fakes.openai.requests.length, 1);
      assert.deepEqual((await lastRecord(e.t)).guardrails, [{ name: "mod-open", stage: "input", action: "flag", category: "unavailable", count: 1 }]);
    });
  }

  test("the service unreachable (connection refused) fails closed or open as configured", async (t) => {
    fakes.openai.reset();
    const dead = "http://127.0.0.1:9/moderate";
    const e = await startEnv(
      gatewayYaml(
        fakes.openai.url,
        fakes.anthropic.url,
        `
guardrails:
  - { name: c, kind: webhook, action: block, webhook: { url: "${dead}", fail: closed } }
  - { name: o, kind: webhook, action: block, webhook: { url: "${dead}", fail: open } }
routes:
  - { name: closed, targets: [${OA}], guardrails: [c] }
  - { name: open, targets: [${OA}], guardrails: [o] }
`,
      ),
    );
    t.after(() => e.close());
    assert.equal(errorInfo((await outcome(e, "closed")).err!).guardrailCategory, "unavailable");
    assert.equal((await outcome(e, "open")).ok, true);
  });

  test("a flag-action webhook records the refusal and sends the request on", async (t) => {
    const e = await env(t);
    mod.mode = "block";
    assert.equal((await outcome(e, "flag")).ok, true);
    assert.deepEqual((await lastRecord(e.t)).guardrails, [{ name: "mod-flag", stage: "input", action: "flag", category: "violence", count: 1 }]);
    assert.equal(await metric(e.t, "signalbox_guardrail_actions_total", { guardrail: "mod-flag", stage: "input", action: "flag" }), 1);
  });

  test("OpenAI's moderation shape: {input, model} out, results[].flagged and categories in", async (t) => {
    const e = await env(t);
    mod.mode = "openai-flagged";
    const r = await outcome(e, "openai-shape", "a worrying message");
    assert.equal(errorInfo(r.err!).guardrailCategory, "self-harm");
    assert.deepEqual(mod.bodies[0], { input: "a worrying message", model: "omni-moderation-latest" });
    mod.mode = "openai-clean";
    assert.equal((await outcome(e, "openai-shape")).ok, true);
  });
});

describe("webhook at the output", () => {
  test("unary: the final answer is checked; a refusal is an error instead of the answer", async (t) => {
    const e = await env(t);
    const ok = await outcome(e, "out");
    assert.equal(ok.ok, true);
    assert.deepEqual(mod.bodies, [{ text: "fine", stage: "output", guardrail: "mod-out" }]);
    mod.mode = "block";
    const r = await outcome(e, "out");
    assert.equal(r.err?.rawMessage, 'guardrail "mod-out" blocked the answer (category violence)');
    assert.equal(fakes.openai.requests.length, 2);
  });

  test("stream: checked at the end, on the whole answer; a refusal ends the stream with the error", async (t) => {
    const e = await env(t);
    mod.mode = "block";
    fakes.openai.script({ kind: "text", text: ["part one, ", "part two"] });
    const s = await connectStream(e.client, ask("out", "go"));
    assert.equal(s.text, "part one, part two");
    assert.equal(s.error?.code, Code.FailedPrecondition);
    assert.equal(errorInfo(s.error!).guardrail, "mod-out");
    assert.deepEqual(mod.bodies, [{ text: "part one, part two", stage: "output", guardrail: "mod-out" }]);
    mod.mode = "allow";
    fakes.openai.script({ kind: "text", text: ["all ", "good"] });
    const fine = await connectStream(e.client, ask("out", "go"));
    assert.equal(fine.error, undefined);
    assert.ok(fine.events.some((x) => x.event.case === "finish"));
  });
});
