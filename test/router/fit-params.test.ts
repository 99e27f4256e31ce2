// Fitting a request to a deployment's parameter rules: what is dropped, what is changed, what is
// only noted, and that a request the model takes as it is comes back untouched.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { resolveModelParams } from "../../src/config/model-params.ts";
import type { ChatMessage, ModelParams, UpstreamRequest } from "../../src/providers/types.ts";
import { fitRequest } from "../../src/router/fit-params.ts";

type Req = Omit<UpstreamRequest, "model">;
const user = (text: string): ChatMessage => ({ role: "user", content: [{ type: "text", text }] });
const base: Req = { messages: [user("hi")] };
const openai = (m: string) => resolveModelParams({ type: "openai" }, m, 100_000);
const claude = (m: string) => resolveModelParams({ type: "anthropic" }, m, 64_000);
const fields = (f: { field: string }[]) => f.map((a) => a.field);

describe("fitRequest", () => {
  test("no rules, or rules the request does not touch: the very same request, nothing reported", () => {
    const req: Req = { ...base, temperature: 0.3, seed: 1 };
    assert.equal(fitRequest(req, undefined).request, req);
    assert.equal(fitRequest(req, openai("gpt-4o")).request, req);
    const fit = fitRequest({ ...base, maxOutputTokens: 10 }, openai("o3"));
    assert.deepEqual([fit.dropped, fit.notes], [[], []]);
  });

  test("a reasoning model: sampling parameters and stop dropped with why; temperature 1 kept; the rest untouched", () => {
    const req: Req = { ...base, temperature: 0.2, topP: 0.9, stop: ["END"], presencePenalty: 0.1, frequencyPenalty: 0.1, seed: 3, maxOutputTokens: 50, user: "u" };
    const fit = fitRequest(req, openai("o3-2025-04-16"));
    assert.deepEqual(fields(fit.dropped), ["temperature", "top_p", "stop", "presence_penalty", "frequency_penalty"]);
    assert.equal(fit.dropped[0].detail, "not sent (0.2): o3 is a reasoning model: only the default temperature 1 is accepted");
    assert.equal(fit.dropped[2].detail, 'not sent (["END"]): o3 is a reasoning model: stop sequences are not supported');
    assert.deepEqual(fit.request, { ...base, seed: 3, maxOutputTokens: 50, user: "u" });
    assert.deepEqual(req.temperature, 0.2, "the caller's request is not modified");
    assert.deepEqual(fitRequest({ ...base, temperature: 1 }, openai("o3")).dropped, []);
  });

  test("an effort the model lacks goes to the nearest it takes, reported", () => {
    const o3 = fitRequest({ ...base, reasoningEffort: "minimal" }, openai("o3"));
    assert.equal(o3.request.reasoningEffort, "low");
    assert.deepEqual(o3.dropped, [{ field: "reasoning_effort", detail: "sent as low: this model takes low, medium, high" }]);
    assert.equal(fitRequest({ ...base, reasoningEffort: "low" }, openai("gpt-5-pro")).request.reasoningEffort, "high");
    assert.equal(fitRequest({ ...base, reasoningEffort: "minimal" }, openai("gpt-5")).request.reasoningEffort, "minimal");
  });

  test("dropping tools drops tool_choice and parallel_tool_calls with them", () => {
    const p = resolveModelParams({ type: "azure", apiVersion: "2023-05-15" }, "gpt-4o", 1000);
    const fit = fitRequest({ ...base, tools: [{ name: "f" }], toolChoice: { type: "auto" }, parallelToolCalls: false }, p);
    assert.deepEqual(fields(fit.dropped), ["tools"]);
    assert.deepEqual(fit.request, base);
  });

  test("response_format: json_object kept on an api-version before json_schema, json_schema dropped", () => {
    const p = resolveModelParams({ type: "azure", apiVersion: "2024-06-01" }, "gpt-4o", 1000);
    assert.deepEqual(fitRequest({ ...base, responseFormat: { type: "json_object" } }, p).dropped, []);
    const fit = fitRequest({ ...base, responseFormat: { type: "json_schema", name: "n", schema: {} } }, p);
    assert.deepEqual(fit.dropped, [{ field: "response_format", detail: "not sent (json_schema): azure api-version 2024-06-01 predates response_format.json_schema (added in 2024-08-01)" }]);
  });

  test("Claude: while it thinks temperature and top_p go; when it cannot think the effort goes and they stay", () => {
    const sonnet = claude("claude-sonnet-4-5");
    const thinking = fitRequest({ ...base, reasoningEffort: "low", temperature: 0.5, topP: 0.97 }, sonnet);
    assert.deepEqual(fields(thinking.dropped), ["temperature"], "top_p 0.97 is allowed while thinking");
    const forced = fitRequest({ ...base, tools: [{ name: "f" }], toolChoice: { type: "required" }, reasoningEffort: "low", temperature: 0.5 }, sonnet);
    assert.deepEqual(forced.dropped, [{ field: "reasoning_effort", detail: 'not sent ("low"): Claude cannot think with a forced tool choice' }]);
    assert.equal(forced.request.temperature, 0.5);
    // Without thinking, Claude 4.5 takes temperature or top_p, not both.
    assert.deepEqual(fields(fitRequest({ ...base, temperature: 0.5, topP: 0.9 }, sonnet).dropped), ["top_p"]);
    assert.deepEqual(fitRequest({ ...base, temperature: 0.5, topP: 0.9 }, claude("claude-3-5-haiku")).dropped, []);
  });

  test("Claude after Opus 4.6: temperature and top_p deprecated (1 and >= 0.99 kept); adaptive effort has no minimal", () => {
    const opus = claude("claude-opus-4-8");
    assert.deepEqual(fields(fitRequest({ ...base, temperature: 0.7, topP: 0.5 }, opus).dropped), ["temperature", "top_p"]);
    assert.deepEqual(fitRequest({ ...base, temperature: 1 }, opus).dropped, []);
    assert.equal(fitRequest({ ...base, reasoningEffort: "minimal" }, opus).request.reasoningEffort, "low");
  });

  test("JSON asked for by instruction is a note, not a drop", () => {
    const fit = fitRequest({ ...base, responseFormat: { type: "json_object" } }, claude("claude-opus-4-8"));
    assert.deepEqual(fit.dropped, []);
    assert.deepEqual(fields(fit.notes), ["response_format"]);
    assert.deepEqual(fitRequest({ ...base, responseFormat: { type: "json_schema", name: "n", schema: {} } }, claude("claude-opus-4-8")).notes, []);
    assert.equal(fitRequest({ ...base, responseFormat: { type: "json_schema", name: "n", schema: {} } }, claude("claude-sonnet-4")).notes.length, 1);
  });

  test("cache hints beyond the provider's breakpoints: the earliest are ignored (a note), the caller's parts untouched", () => {
    const hinted = (n: number): ChatMessage => ({ role: "user", content: Array.from({ length: n }, (_, i) => ({ type: "text" as const, text: `p${i}`, cache: { ttl: "1h" as const } })) });
    const req: Req = { messages: [hinted(2), { role: "assistant", content: [{ type: "text", text: "a" }] }, hinted(4)] };
    const fit = fitRequest(req, claude("claude-opus-4-8"));
    assert.deepEqual(fit.notes, [{ field: "messages", detail: "6 cache hints, the provider takes 4: the first 2 ignored" }]);
    assert.deepEqual(fit.request.messages.flatMap((m) => m.content.map((p) => p.cache !== undefined)), [false, false, false, true, true, true, true]);
    assert.equal(fit.request.messages[1], req.messages[1], "messages without hints are shared");
    assert.equal(req.messages[0].content[0].cache?.ttl, "1h");
    // Four or fewer: nothing to do; providers without cache_control ignore hints altogether.
    assert.deepEqual(fitRequest({ messages: [hinted(4)] }, claude("claude-opus-4-8")).notes, []);
    assert.deepEqual(fitRequest(req, openai("o3")).notes, []);
  });

  test("prompt_cache: auto places breakpoints after the system prompt and the last message, only when the caller placed none", () => {
    const auto = { ...claude("claude-sonnet-4-5"), autoCache: true };
    const sys = (text: string): ChatMessage => ({ role: "system", content: [{ type: "text", text }] });
    const req: Req = {
      messages: [sys("You are terse."), user("first"), { role: "assistant", content: [{ type: "text", text: "ok" }] }, { role: "user", content: [{ type: "text", text: "second" }, { type: "image", url: "https://x/cat.png" }] }],
    };
    const fit = fitRequest(req, auto);
    assert.deepEqual(
      fit.request.messages.map((m) => m.content.map((p) => p.cache !== undefined)),
      [[true], [false], [false], [false, true]],
    );
    assert.deepEqual([fit.dropped, fit.notes], [[], []], "nothing to report: the deployment asked for it");
    assert.equal(req.messages[3].content[1].cache, undefined, "the caller's request is not modified");
    // The caller's own hints win: none added.
    const hinted: Req = { messages: [sys("S"), { role: "user", content: [{ type: "text", text: "q", cache: { ttl: "1h" } }] }] };
    assert.deepEqual(fitRequest(hinted, auto).request.messages.map((m) => m.content.map((p) => p.cache)), [[undefined], [{ ttl: "1h" }]]);
    const toolHint: Req = { messages: [user("q")], tools: [{ name: "f", cache: {} }] };
    assert.equal(fitRequest(toolHint, auto).request.messages[0].content[0].cache, undefined);
    // No system prompt: the last message alone; without the setting, nothing.
    assert.deepEqual(fitRequest(base, auto).request.messages[0].content[0].cache, {});
    assert.equal(fitRequest(base, claude("claude-sonnet-4-5")).request.messages[0].content[0].cache, undefined);
  });

  test("rules reached through ModelParams alone (any provider shape)", () => {
    const p: ModelParams = { source: "test", rejects: { user: { why: "no user" } }, maxOutputTokens: 1 };
    assert.deepEqual(fitRequest({ ...base, user: "u" }, p).dropped, [{ field: "user", detail: 'not sent ("u"): no user' }]);
  });
});
