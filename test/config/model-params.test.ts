// The catalog's parameter rules: lookups by exact id and dated snapshot, the documented families,
// Azure api-version gating, and resolution at config load (base_model, strict_params).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildConfig } from "../../src/config/load.ts";
import { acceptsEverything, azureSupports, resolveModelParams, thinkingBlockedBy } from "../../src/config/model-params.ts";
import type { ModelParams } from "../../src/providers/types.ts";

const openai = (model: string) => resolveModelParams({ type: "openai" }, model, 1000);
const claude = (model: string) => resolveModelParams({ type: "anthropic" }, model, 64000);
const azure = (apiVersion: string, model = "gpt-4o") => resolveModelParams({ type: "azure", apiVersion }, model, 1000);
const rejected = (p: ModelParams) => Object.keys(p.rejects).sort();

describe("OpenAI reasoning models", () => {
  test("o-series and gpt-5 reject sampling parameters and stop, take max_completion_tokens; dated snapshots find their model", () => {
    for (const m of ["o3", "o3-2025-04-16", "o4-mini-2025-04-16", "gpt-5", "gpt-5-2025-08-07", "gpt-5-mini", "gpt-5-nano-2025-08-07", "gpt-5-pro", "gpt-5.1", "gpt-5.2-2025-12-11"]) {
      const p = openai(m);
      assert.deepEqual(rejected(p), ["frequency_penalty", "logit_bias", "logprobs", "presence_penalty", "stop", "temperature", "top_p"], m);
      assert.equal(p.maxTokensField, "max_completion_tokens", m);
      assert.deepEqual(p.rejects.temperature?.keepIf, { min: 1, max: 1 }, `${m}: the default temperature is still accepted`);
    }
    assert.equal(openai("o3").source, "o3");
    assert.equal(openai("gpt-5-2025-08-07").source, "gpt-5");
  });

  test("o1 and o3-mini also reject parallel_tool_calls; efforts per model", () => {
    assert.ok(openai("o1-2024-12-17").rejects.parallel_tool_calls);
    assert.ok(openai("o3-mini-2025-01-31").rejects.parallel_tool_calls);
    assert.equal(openai("o3").rejects.parallel_tool_calls, undefined);
    assert.deepEqual(openai("o3").efforts, ["low", "medium", "high"]);
    assert.deepEqual(openai("gpt-5-mini").efforts, ["minimal", "low", "medium", "high"]);
    assert.deepEqual(openai("gpt-5-pro").efforts, ["high"]);
  });

  test("chat models, unknown names and look-alikes take everything (no prefix matching)", () => {
    for (const m of ["gpt-4o", "gpt-4.1-mini", "gpt-5-chat-latest", "o3x", "gpt-5-mini-preview", "my-o3"]) {
      assert.ok(acceptsEverything(openai(m)), m);
    }
  });

  test("OpenRouter and the mock get no rules; Gemini logit_bias (none), and logprobs where the model has none", () => {
    assert.ok(acceptsEverything(resolveModelParams({ type: "openrouter" }, "openai/o3", 1000)));
    assert.ok(acceptsEverything(resolveModelParams({ type: "mock" }, "o3", 1000)));
    for (const type of ["gemini", "vertex"] as const) {
      for (const m of ["gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-3-pro-preview", "models/gemini-3-flash-preview"]) {
        const g = resolveModelParams({ type }, m, 1000);
        assert.ok(g.rejects.logit_bias, `${type} ${m}`);
        assert.match(g.rejects.logprobs!.why, /Logprobs is not enabled/, `${type} ${m}`);
      }
      // Gemini 2.0 Flash (and Flash-Lite) and 1.5 return them: only logit_bias is refused.
      for (const m of ["gemini-2.0-flash", "gemini-2.0-flash-lite-001", "models/gemini-1.5-flash-002"]) {
        const g = resolveModelParams({ type }, m, 1000);
        assert.equal(g.rejects.logprobs, undefined, `${type} ${m}`);
        assert.ok(g.rejects.logit_bias, `${type} ${m}`);
      }
    }
    // Claude (also on Vertex) and Bedrock Converse have none.
    assert.ok(resolveModelParams({ type: "anthropic" }, "claude-sonnet-4-5", 1000).rejects.logprobs);
    assert.ok(resolveModelParams({ type: "vertex" }, "claude-sonnet-4-5@20250929", 1000).rejects.logprobs);
    assert.ok(resolveModelParams({ type: "bedrock" }, "amazon.nova-pro-v1:0", 1000).rejects.logprobs);
    assert.equal(resolveModelParams({ type: "openai" }, "gpt-4o", 1000).rejects.logprobs, undefined);
  });
});

describe("Gemini models", () => {
  const gemini = (model: string) => resolveModelParams({ type: "gemini" }, model, 65536);
  test("thinking by family: 2.5 a budget, 3 a level (3 Pro only low/high), 1.5/2.0/Gemma none", () => {
    assert.equal(gemini("gemini-2.5-flash-lite").thinkingControl, "budget");
    assert.equal(gemini("models/gemini-2.5-pro").thinkingControl, "budget");
    assert.equal(gemini("gemini-3-flash-preview").thinkingControl, "level");
    assert.equal(gemini("gemini-3-flash-preview").efforts, undefined);
    assert.deepEqual(gemini("gemini-3-pro-preview").efforts, ["low", "high"]);
    assert.equal(gemini("gemini-3-pro-preview").source, "Gemini 3 Pro");
    for (const m of ["gemini-2.0-flash", "gemini-1.5-pro-002", "gemma-3-27b-it"]) {
      assert.ok(gemini(m).rejects.reasoning_effort, m);
      assert.equal(gemini(m).thinkingControl, undefined, m);
    }
    // An unknown (newer) Gemini model gets today's form.
    assert.equal(gemini("gemini-4-ultra").thinkingControl, "level");
  });

  test("the router maps an effort Gemini 3 Pro does not take and the adapter sends the level it was given", async () => {
    const { fitRequest } = await import("../../src/router/fit-params.ts");
    const { convertToGeminiThinkingConfig } = await import("../../src/providers/gemini/index.ts");
    const p = gemini("gemini-3-pro-preview");
    const fit = fitRequest({ messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }], reasoningEffort: "minimal" }, p);
    assert.equal(fit.request.reasoningEffort, "low");
    assert.match(fit.dropped[0].detail, /sent as low: this model takes low, high/);
    assert.deepEqual(convertToGeminiThinkingConfig("gemini-3-pro-preview", "low", p), { thinkingLevel: "low", includeThoughts: true });
    assert.deepEqual(convertToGeminiThinkingConfig("gemini-2.5-flash", "high", gemini("gemini-2.5-flash")), { thinkingBudget: 24576, includeThoughts: true });
    // A model that does not think: the router drops the effort, and the adapter sends no config either.
    const old = gemini("gemini-2.0-flash");
    assert.equal(fitRequest({ messages: [], reasoningEffort: "high" }, old).request.reasoningEffort, undefined);
    assert.equal(convertToGeminiThinkingConfig("gemini-2.0-flash", "high", old), undefined);
  });
});

describe("Claude models", () => {
  test("every Claude model: no seed or penalties, 4 cache breakpoints, the model's maximum", () => {
    for (const m of ["claude-3-5-haiku-20241022", "claude-sonnet-4-5-20250929", "claude-opus-4-8", "claude-unknown-9"]) {
      const p = claude(m);
      for (const k of ["seed", "presence_penalty", "frequency_penalty"] as const) assert.ok(p.rejects[k], `${m} ${k}`);
      assert.equal(p.cacheBreakpoints, 4);
      assert.equal(p.maxOutputTokens, 64000);
    }
  });

  test("thinking form, structured outputs and sampling per family", () => {
    const row = (m: string) => {
      const p = claude(m);
      return { thinking: p.thinking, schemaNative: !p.jsonByInstruction?.includes("json_schema"), exclusive: p.samplingExclusive, noTemp: p.rejects.temperature !== undefined };
    };
    assert.deepEqual(row("claude-3-5-haiku-20241022"), { thinking: undefined, schemaNative: false, exclusive: false, noTemp: false });
    assert.deepEqual(row("claude-sonnet-4-20250514"), { thinking: "manual", schemaNative: false, exclusive: false, noTemp: false });
    assert.deepEqual(row("claude-opus-4-1"), { thinking: "manual", schemaNative: true, exclusive: false, noTemp: false });
    assert.deepEqual(row("claude-haiku-4-5-20251001"), { thinking: "manual", schemaNative: true, exclusive: true, noTemp: false });
    assert.deepEqual(row("claude-sonnet-4-6"), { thinking: "adaptive", schemaNative: true, exclusive: true, noTemp: false });
    for (const m of ["claude-opus-4-7", "claude-opus-4-8", "claude-fable-5", "claude-mythos-preview", "claude-sonnet-5-5"]) {
      assert.deepEqual(row(m), { thinking: "adaptive", schemaNative: true, exclusive: true, noTemp: true }, m);
    }
    // A model the table does not name keeps the conservative shape (manual thinking, JSON by instruction).
    assert.deepEqual(row("claude-next-1"), { thinking: "manual", schemaNative: false, exclusive: true, noTemp: false });
    assert.ok(claude("claude-3-5-haiku").rejects.reasoning_effort, "a model that does not think");
  });

  test("thinking is blocked by a forced tool, mid tool loop, and (manual) by a limit too small for the minimum budget", () => {
    const u = { role: "user" as const, content: [{ type: "text" as const, text: "x" }] };
    assert.match(thinkingBlockedBy({ messages: [u], toolChoice: { type: "required" } }, "adaptive") ?? "", /forced tool/);
    const loop = [u, { role: "assistant" as const, content: [], toolCalls: [{ id: "1", name: "f", arguments: "{}" }] }, { role: "tool" as const, toolCallId: "1", content: [] }, u];
    assert.match(thinkingBlockedBy({ messages: loop }, "adaptive") ?? "", /tool loop/);
    assert.equal(thinkingBlockedBy({ messages: [...loop, { role: "assistant", content: [] }, u] }, "manual"), undefined);
    assert.match(thinkingBlockedBy({ messages: [u], maxOutputTokens: 1024 }, "manual") ?? "", /minimum thinking budget/);
    assert.equal(thinkingBlockedBy({ messages: [u], maxOutputTokens: 1024 }, "adaptive"), undefined);
  });
});

describe("Azure api-versions", () => {
  test("each field from the version that introduced it; the v1 family has them all", () => {
    assert.equal(azureSupports("2024-06-01", "seed"), false);
    assert.equal(azureSupports("2024-10-21", "seed"), true);
    assert.equal(azureSupports("2024-10-21", "parallel_tool_calls"), false);
    assert.equal(azureSupports("2024-12-01-preview", "parallel_tool_calls"), true);
    assert.equal(azureSupports("2024-08-01-preview", "max_completion_tokens"), false);
    assert.equal(azureSupports("2024-09-01-preview", "max_completion_tokens"), true);
    for (const v of ["", "v1", "preview"]) assert.equal(azureSupports(v, "prediction"), true, v);
  });

  test("a deployment's rules: the version's gaps, then its model's", () => {
    const old = azure("2024-06-01");
    assert.deepEqual(rejected(old), ["parallel_tool_calls", "reasoning_effort", "response_format", "seed"]);
    assert.deepEqual(old.rejects.response_format?.keepTypes, ["text", "json_object"], "json_object is older than json_schema");
    assert.match(old.rejects.seed!.why, /azure api-version 2024-06-01 predates seed \(added in 2024-10-21\)/);
    assert.deepEqual(rejected(azure("2023-05-15")), ["logprobs", "parallel_tool_calls", "reasoning_effort", "response_format", "seed", "tool_choice", "tools"]);
    assert.match(azure("2023-05-15").rejects.logprobs!.why, /predates logprobs \(added in 2023-12-01\)/);
    assert.equal(azure("2023-12-01-preview").rejects.logprobs, undefined);
    assert.ok(acceptsEverything(azure("")));
    assert.ok(acceptsEverything(azure("2025-04-01-preview")));
    // A reasoning deployment on a version before max_completion_tokens cannot be sent an output limit at all.
    const o3 = azure("2024-06-01", "o3-mini");
    assert.match(o3.rejects.max_output_tokens!.why, /o3-mini takes only max_completion_tokens, which azure api-version 2024-06-01 predates/);
    assert.equal(o3.source, "o3-mini; azure api-version 2024-06-01");
  });

  test("compat drop_fields become reported rejections", () => {
    const p = resolveModelParams({ type: "openai-compatible", compat: { dropFields: ["seed", "user", "x_custom"] } }, "llama", 1000);
    assert.deepEqual(rejected(p), ["seed", "user"]);
    assert.match(p.rejects.seed!.why, /compat.drop_fields/);
  });
});

describe("config load", () => {
  const yaml = {
    providers: [
      { name: "az", type: "azure", base_url: "https://x.openai.azure.com", api_key: "k", api_version: "2024-06-01" },
      { name: "oa", type: "openai", api_key: "k" },
    ],
    deployments: [
      { id: "az/reasoner", provider: "az", model: "my-deployment", base_model: "o3-mini", pricing: { input: 1, output: 1 } },
      { id: "oa/o3", provider: "oa", model: "o3", max_output_tokens: 50000 },
    ],
    routes: [{ name: "strict", targets: ["oa/o3"], strict_params: true }, { name: "lax", targets: ["oa/o3"] }],
  };

  test("deployments resolve their rules once (base_model names an Azure deployment's model); routes read strict_params", () => {
    const cfg = buildConfig(yaml, {});
    const [az, oa] = cfg.deployments;
    assert.equal(az.baseModel, "o3-mini");
    assert.equal(az.params.source, "o3-mini; azure api-version 2024-06-01");
    assert.ok(az.params.rejects.temperature);
    assert.equal(oa.params.maxOutputTokens, 50000);
    assert.deepEqual(cfg.routes.map((r) => r.strictParams), [true, false]);
  });
});
