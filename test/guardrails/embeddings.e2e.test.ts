// Guardrails on embeddings, end to end through the fake OpenAI server and both front doors: the
// input stage runs on every input text before anything is answered. A block reaches no provider
// (the fake counts zero calls) and is answered even when the vectors are cached; redactions change
// what is sent (the fake's vectors are those of the redacted text) and are reported in the
// answer's adjustments; flags send the text unchanged; the usage record lists every action;
// asking for a guardrail by name works on both doors (an unknown name names the field); output
// guardrails and json_schema do not apply (a vector is not text); webhooks see the inputs as sent.

import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test, type TestContext } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { fakeEmbedding } from "../fakes/common.ts";
import { awsKeyId, cardNumber, envFor, errorInfo, lastRecord, metric, rejected, useFakes } from "./harness.ts";

const fakes = useFakes();

/** A moderation service that refuses any text containing "forbidden" and keeps what it was sent. */
let mod: { url: string; texts: string[]; close(): Promise<void> };
before(async () => {
  const texts: string[] = [];
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      const { text } = JSON.parse(raw) as { text: string };
      texts.push(text);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(text.includes("forbidden") ? { allow: false, category: "policy" } : { allow: true }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  mod = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/moderate`,
    texts,
    close: () => new Promise((r) => server.close(() => r())),
  };
});
after(() => mod.close());

const extra = () => `
  - { id: openai/small, provider: openai, model: text-embedding-3-small }
guardrails:
  - { name: no-keys, kind: secrets, stage: input, action: block }
  - { name: pii-in, kind: pii, stage: input, action: redact }
  - { name: words, kind: deny, stage: input, action: flag, deny: { words: [frobnicate] } }
  - { name: banned, kind: deny, action: block, deny: { phrases: [launch codes] } }
  - { name: pii-out, kind: pii, stage: output, action: block }
  - { name: small, kind: max_input_tokens, action: block, max_input_tokens: { limit: 20 } }
  - { name: moderation, kind: webhook, stage: input, action: block, webhook: { url: "${mod.url}", timeout_ms: 2000, fail: closed } }
  - { name: valid-json, kind: json_schema, json_schema: { on_failure: fallback } }
routes:
  - { name: guarded, targets: [openai/small], retry: { max_retries: 0 }, guardrails: [no-keys, pii-in, words] }
  - { name: output-only, targets: [openai/small], retry: { max_retries: 0 }, guardrails: [pii-out, valid-json] }
  - { name: small, targets: [openai/small], retry: { max_retries: 0 }, guardrails: [small] }
  - { name: moderated, targets: [openai/small], retry: { max_retries: 0 }, guardrails: [pii-in, moderation] }
  - { name: cached, targets: [openai/small], retry: { max_retries: 0 }, cache: { enabled: true } }
  - { name: open, targets: [openai/small], retry: { max_retries: 0 } }
`;

// The deployments list of the harness's config ends the YAML's "deployments:" block; the embedding
// deployment is appended to it.
const env = (t: TestContext) => envFor(t, fakes, extra());

async function embeddings(url: string, body: Record<string, unknown>): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

const sentInputs = () => fakes.openai.requests.filter((r) => r.path === "/v1/embeddings").map((r) => (r.body as { input: string[] }).input);

describe("input guardrails on embeddings", () => {
  test("/v1: a redaction changes what is sent, the vectors are the redacted text's, the answer and the record say so", async (t) => {
    const e = await env(t);
    const card = cardNumber();
    const res = await embeddings(e.t.url, { model: "guarded", input: [`charge card ${card} today`, "a clean sentence", "frobnicate the widget"], encoding_format: "float" });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const sent = sentInputs();
    assert.deepEqual(sent, [["charge card [REDACTED:card] today", "a clean sentence", "frobnicate the widget"]], "the flagged input went unchanged, the card did not go at all");
    assert.ok(!JSON.stringify(fakes.openai.requests).includes(card));
    const first = res.json.data[0].embedding as number[];
    assert.deepEqual(
      first.map((x) => Math.fround(x)),
      fakeEmbedding("charge card [REDACTED:card] today", 1536).map((x) => Math.fround(x)),
    );
    assert.deepEqual(res.json.signalbox.adjustments, [{ field: "guardrail:pii-in", detail: "input: 1 redaction (card)" }]);
    const rec = await lastRecord(e.t);
    assert.equal(rec.operation, "embeddings");
    assert.equal(rec.status, "ok");
    assert.deepEqual(
      [...(rec.guardrails ?? [])].sort((a, b) => a.name.localeCompare(b.name)),
      [
        { name: "pii-in", stage: "input", action: "redact", category: "card", count: 1 },
        { name: "words", stage: "input", action: "flag", category: "deny", count: 1 },
      ],
    );
    assert.ok(!JSON.stringify(rec).includes(card));
    assert.equal(await metric(e.t, "signalbox_guardrail_actions_total", { guardrail: "pii-in", stage: "input", action: "redact" }), 1);
  });

  test("/v1: a block is a 400 naming guardrail and category, nothing reaches the provider, the request is recorded", async (t) => {
    const e = await env(t);
    const key = awsKeyId();
    const res = await embeddings(e.t.url, { model: "guarded", input: ["fine", `upload with ${key}`] });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, "guardrail_blocked");
    assert.equal(res.json.error.message, 'guardrail "no-keys" blocked the request (category aws_access_key)');
    assert.ok(!JSON.stringify(res.json).includes(key));
    assert.deepEqual(sentInputs(), []);
    const rec = await lastRecord(e.t);
    assert.equal(rec.operation, "embeddings");
    assert.equal(rec.status, "failed_precondition");
    assert.equal(rec.attempts.length, 0);
    assert.deepEqual(rec.guardrails, [{ name: "no-keys", stage: "input", action: "block", category: "aws_access_key", count: 1 }]);
  });

  test("Connect: guardrails asked for by name run on top of the route's; a block is failed_precondition with ErrorInfo", async (t) => {
    const e = await env(t);
    const ok = await e.client.embedding.embed({ model: "open", inputs: ["status of the launch"], guardrails: ["banned"] });
    assert.equal(ok.embeddings.length, 1);
    const err = await rejected(e.client.embedding.embed({ model: "open", inputs: ["send the launch codes"], guardrails: ["banned"] }));
    assert.equal(err.code, Code.FailedPrecondition);
    assert.equal(err.rawMessage, 'guardrail "banned" blocked the request (category deny)');
    const info = errorInfo(err);
    assert.equal(info.guardrail, "banned");
    assert.equal(info.guardrailCategory, "deny");
    assert.equal(sentInputs().length, 1, "only the allowed request reached the provider");
    // Connect's answer carries the redactions too.
    const red = await e.client.embedding.embed({ model: "open", inputs: ["write to jane.doe@example.com"], guardrails: ["pii-in"] });
    assert.deepEqual(
      red.adjustments.map((a) => ({ field: a.field, detail: a.detail })),
      [{ field: "guardrail:pii-in", detail: "input: 1 redaction (email)" }],
    );
    assert.deepEqual(sentInputs()[1], ["write to [REDACTED:email]"]);
  });

  test("an unknown guardrail name is invalid_argument naming the field, on both doors, and reaches no provider", async (t) => {
    const e = await env(t);
    const err = await rejected(e.client.embedding.embed({ model: "open", inputs: ["x"], guardrails: ["banned", "nope"] }));
    assert.equal(err.code, Code.InvalidArgument);
    assert.match(err.rawMessage, /^guardrails\[1\]: unknown guardrail "nope"/);
    const res = await embeddings(e.t.url, { model: "open", input: "x", signalbox: { guardrails: ["nope"] } });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.param, "signalbox.guardrails[0]");
    assert.deepEqual(sentInputs(), []);
  });

  test("a cached vector is not served when an input guardrail blocks", async (t) => {
    const e = await env(t);
    const text = "the launch codes are in the safe";
    const first = await embeddings(e.t.url, { model: "cached", input: [text] });
    assert.equal(first.status, 200);
    const again = await embeddings(e.t.url, { model: "cached", input: [text] });
    assert.equal(again.json.signalbox.cache, "hit");
    const blocked = await embeddings(e.t.url, { model: "cached", input: [text], signalbox: { guardrails: ["banned"] } });
    assert.equal(blocked.status, 400);
    assert.equal(blocked.json.error.code, "guardrail_blocked");
    assert.equal(sentInputs().length, 1, "the provider was called once, for the first request");
  });

  test("output guardrails and json_schema do not apply to embeddings; max_input_tokens does", async (t) => {
    const e = await env(t);
    const res = await embeddings(e.t.url, { model: "output-only", input: ["mail jane.doe@example.com"] });
    assert.equal(res.status, 200);
    assert.deepEqual(sentInputs(), [["mail jane.doe@example.com"]]);
    assert.deepEqual(res.json.signalbox.adjustments, []);
    const long = await embeddings(e.t.url, { model: "small", input: ["word ".repeat(30), "another ".repeat(10)] });
    assert.equal(long.status, 400);
    assert.match(long.json.error.message, /^guardrail "small" blocked the request \(category max_input_tokens\): the inputs are estimated at \d+ tokens, over the limit of 20$/);
    assert.equal(sentInputs().length, 1);
  });

  test("an input webhook sees the inputs as they will leave (redactions applied), once, and can block", async (t) => {
    const e = await env(t);
    mod.texts.length = 0;
    const ok = await embeddings(e.t.url, { model: "moderated", input: ["call me at jane.doe@example.com", "second"] });
    assert.equal(ok.status, 200);
    assert.deepEqual(mod.texts, ["call me at [REDACTED:email]\n\nsecond"]);
    const no = await embeddings(e.t.url, { model: "moderated", input: ["a forbidden text"] });
    assert.equal(no.status, 400);
    assert.equal(no.json.error.message, 'guardrail "moderation" blocked the request (category policy)');
    assert.equal(sentInputs().length, 1);
  });
});
