// Rerank end to end: POST /v1/rerank (Cohere's and Jina's shape) and the typed client's
// RerankService.Rerank over real sockets, routed to the mock: documents ranked best first, top_n,
// return_documents, cost at the deployment's per-search price, usage records with operation
// rerank, input errors that name the field and reach no provider, input guardrails over the query
// and documents, Route explaining a rerank plan, chat never landing on a rerank deployment, and
// configurations that put rerank where there is none refused at load.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createSignalboxClient, ExclusionReason, Operation, rerankDocuments, type SignalboxClient, userText } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "rerank", "team"].join("_");

const CONFIG = `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/rerank, provider: mock, model: mock-rerank-1, operations: [rerank], pricing: { input: 0, output: 0, per_request: 0.002 } }
  - { id: mock/chat, provider: mock, model: mock-chat-1, pricing: { input: 1, output: 2 } }
routes:
  - { name: rerank, targets: [mock/rerank] }
  - { name: mixed, targets: [mock/chat, mock/rerank] }
guardrails:
  - { name: no-pii, kind: pii, stage: input, action: redact, pii: { categories: [email] } }
  - { name: no-secrets, kind: deny, stage: input, action: block, deny: { phrases: [project zephyr] } }
keys:
  - { name: team-a, hash: "${hashKey(KEY)}", team: a, role: team }
`;

const DOCS = ["Paris is the capital of France.", "Bananas are rich in potassium.", "The capital of Germany is Berlin.", "France borders Spain."];

let t: TestGateway;
let typed: SignalboxClient;

const post = (path: string, body: unknown) =>
  fetch(`${t.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });

before(async () => {
  t = await startTestGateway(CONFIG);
  typed = createSignalboxClient({ baseUrl: t.url, apiKey: KEY });
});
after(async () => {
  await t.close();
});

describe("POST /v1/rerank", () => {
  test("documents ranked best first, with scores, Cohere's meta and Jina's usage", async () => {
    const res = await post("/v1/rerank", { model: "rerank", query: "capital of France", documents: DOCS });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-signalbox-deployment"), "mock/rerank");
    const body = (await res.json()) as {
      id: string;
      results: { index: number; relevance_score: number; document?: unknown }[];
      meta: { billed_units: Record<string, number> };
      usage: { total_tokens: number };
      model: string;
      signalbox: { deployment: string; cost_nano_usd: number; route: string };
    };
    assert.equal(body.results.length, DOCS.length);
    assert.equal(body.results[0].index, 0, "the document sharing the most words with the query comes first");
    assert.equal(body.results.at(-1)!.index, 1, "the banana comes last");
    for (let i = 1; i < body.results.length; i++) assert.ok(body.results[i - 1].relevance_score >= body.results[i].relevance_score, "best first");
    assert.equal(body.results[0].document, undefined, "no documents unless asked");
    assert.deepEqual(
      body.results.map((r) => r.index).sort(),
      [0, 1, 2, 3],
    );
    assert.equal(body.model, "mock-rerank-1");
    assert.equal(body.signalbox.route, "rerank");
    assert.ok(body.usage.total_tokens > 0);
    // One search at $0.002, billed as one.
    assert.equal(body.meta.billed_units.search_units, 1);
    assert.equal(body.signalbox.cost_nano_usd, 2_000_000);
    const rec = t.usage.recent().at(-1)!;
    assert.equal(rec.id, body.id);
    assert.equal(rec.operation, "rerank");
    assert.equal(rec.streamed, false);
    assert.equal(rec.cost.total, 2_000_000);
    assert.equal(rec.usage.searchUnits, 1);
    assert.equal(rec.status, "ok");
  });

  test("top_n, {text} documents and return_documents; /v2/rerank is the same door", async () => {
    const res = await post("/v2/rerank", { model: "rerank", query: "capital of France", documents: DOCS.map((text) => ({ text })), top_n: 2, return_documents: true });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { results: { index: number; document: { text: string } }[] };
    assert.equal(body.results.length, 2);
    assert.equal(body.results[0].index, 0);
    assert.deepEqual(body.results[0].document, { text: DOCS[0] });
  });

  test("bad input names the field and reaches no provider", async () => {
    const before = t.usage.recent().length;
    const cases: [unknown, string][] = [
      [{ model: "rerank", documents: DOCS }, "query"],
      [{ model: "rerank", query: "q" }, "documents"],
      [{ model: "rerank", query: "q", documents: [] }, "documents"],
      [{ model: "rerank", query: "q", documents: ["a", ""] }, "documents[1]"],
      [{ model: "rerank", query: "q", documents: ["a", 7] }, "documents[1]"],
      [{ model: "rerank", query: "q", documents: [{ text: "a", title: "t" }] }, "documents[0].title"],
      [{ model: "rerank", query: "q", documents: ["a"], top_n: 0 }, "top_n"],
      [{ model: "rerank", query: "q", documents: ["a"], max_tokens_per_doc: 0 }, "max_tokens_per_doc"],
      [{ model: "rerank", query: "q", documents: ["a"], rank_fields: ["text"] }, "rank_fields"],
      [{ query: "q", documents: ["a"] }, "model"],
    ];
    for (const [body, field] of cases) {
      const res = await post("/v1/rerank", body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const err = (await res.json()) as { error: { message: string; param: string } };
      assert.equal(err.error.param, field, JSON.stringify(body));
      assert.match(err.error.message, new RegExp(field.replace(/[[\].]/g, "\\$&")));
    }
    assert.equal(t.usage.recent().length, before, "nothing recorded: nothing was routed");
  });

  test("a chat model is not a reranker: 400 naming model; GET is 405", async () => {
    const res = await post("/v1/rerank", { model: "mock/chat", query: "q", documents: ["a"] });
    assert.equal(res.status, 400);
    const err = (await res.json()) as { error: { param: string } };
    assert.equal(err.error.param, "model");
    const get = await fetch(`${t.url}/v1/rerank`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(get.status, 405);
  });

  test("input guardrails: a redaction changes what is ranked, a block ranks nothing", async () => {
    const res = await post("/v1/rerank", { model: "rerank", query: "who is jane", documents: ["mail jane@example.com today", "nothing here"], signalbox: { guardrails: ["no-pii"] }, return_documents: true });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { results: { index: number; document: { text: string } }[]; signalbox: { adjustments: { field: string }[] } };
    assert.ok(body.signalbox.adjustments.length > 0, "the redaction is reported");
    // The caller gets its own text back, never the redacted one.
    assert.equal(body.results.find((r) => r.index === 0)!.document.text, "mail jane@example.com today");
    const blocked = await post("/v1/rerank", { model: "rerank", query: "status", documents: ["all about project zephyr"], signalbox: { guardrails: ["no-secrets"] } });
    assert.equal(blocked.status, 400);
    const rec = t.usage.recent().at(-1)!;
    assert.equal(rec.operation, "rerank");
    assert.notEqual(rec.status, "ok");
    assert.equal(rec.attempts.length, 0, "no provider was called");
  });
});

describe("RerankService (typed client)", () => {
  test("rerankDocuments: ranked documents with their texts, usage, cost and a GetRequest record", async () => {
    const { ranked, response } = await rerankDocuments(typed, "rerank", "capital of France", DOCS, { topN: 3, tags: ["rr"] });
    assert.equal(ranked.length, 3);
    assert.equal(ranked[0].index, 0);
    assert.equal(ranked[0].document, DOCS[0]);
    assert.equal(response.deployment, "mock/rerank");
    assert.equal(response.cost?.totalNanoUsd, 2_000_000n);
    assert.equal(response.results[0].document, undefined);
    await t.gw.core.usage.flush();
    const got = await typed.usage.getRequest({ id: response.id });
    assert.equal(got.record?.operation, Operation.RERANK);
  });

  test("return_documents, and a bad request names the field", async () => {
    const res = await typed.rerank.rerank({ model: "rerank", query: "France", documents: DOCS, returnDocuments: true, topN: 1 });
    assert.equal(res.results.length, 1);
    assert.equal(res.results[0].document, DOCS[res.results[0].index]);
    await assert.rejects(typed.rerank.rerank({ model: "rerank", query: "q", documents: ["a", ""] }), /documents\[1\]/);
  });

  test("Route explains a rerank plan: only rerank deployments are candidates", async () => {
    const plan = await typed.route.routeRerank({ model: "mixed", query: "q", documents: ["a b c"] });
    assert.equal(plan.operation, Operation.RERANK);
    assert.deepEqual(
      plan.candidates.map((c) => c.deployment),
      ["mock/rerank"],
    );
    assert.equal(plan.excluded.find((e) => e.deployment === "mock/chat")?.reason, ExclusionReason.WRONG_OPERATION);
    assert.equal(plan.candidates[0].expectedCostNanoUsd, 2_000_000n);
    const chat = await typed.route.route({ model: "mixed", messages: [userText("hi")] });
    assert.deepEqual(
      chat.candidates.map((c) => c.deployment),
      ["mock/chat"],
    );
    assert.equal(chat.excluded.find((e) => e.deployment === "mock/rerank")?.reason, ExclusionReason.WRONG_OPERATION);
  });
});

describe("configuration", () => {
  test("rerank on a provider without a rerank API, and chat on Cohere, are refused naming the field", () => {
    assert.throws(
      () => buildConfig(parse(`providers: [{ name: oa, type: openai, api_key: x }]\ndeployments: [{ id: oa/r, provider: oa, model: some-reranker, operations: [rerank], pricing: { input: 1, output: 0 } }]\n`)),
      /deployments\[0\]\.operations.*no rerank API/,
    );
    assert.throws(
      () => buildConfig(parse(`providers: [{ name: co, type: cohere, api_key: x }]\ndeployments: [{ id: co/chat, provider: co, model: command-r, pricing: { input: 1, output: 1 } }]\n`)),
      /deployments\[0\]\.operations.*rerank and embeddings only/,
    );
  });
});
