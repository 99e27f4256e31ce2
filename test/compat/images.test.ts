// Image generation end to end, over real sockets: the official OpenAI SDK's images.generate and the
// typed client's generateImages against the gateway, the gateway against the fake OpenAI (its
// images endpoint checked against the SDK in test/fakes/openai-images.sdk.test.ts) and the
// built-in mock. GPT Image is billed by the tokens it reports, DALL·E per image by quality and
// size; each model family is sent only the fields it takes; a failing deployment falls back; the
// input guardrails scan the prompt before anything is sent; bad fields name themselves and reach no
// provider; budgets refuse; RouteService explains the plan; every request has its usage record.

import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI from "openai";
import { createSignalboxClient, generateImages, type SignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { IMAGE_OUTPUT_TOKENS, OPENAI_TEST_KEY, defaultRevisedPrompt, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "images", "a"].join("_");
const BROKE = ["sbx", "test", "images", "broke"].join("_");

let fake: FakeOpenAI;
let t: TestGateway;
let sdk: OpenAI;
let typed: SignalboxClient;

before(async () => {
  fake = await startFakeOpenAI();
  t = await startTestGateway(`
providers:
  - { name: openai, type: openai, base_url: "${fake.url}", api_key: ${OPENAI_TEST_KEY} }
  - { name: mock, type: mock }
deployments:
  - { id: openai/gpt-image-1, provider: openai, model: gpt-image-1 }
  - { id: openai/dall-e-3, provider: openai, model: dall-e-3 }
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o }
  - { id: mock/image, provider: mock, model: mock-image-1, operations: [images], pricing: { input: 0, output: 0, per_image: 0.01 } }
routes:
  - { name: gpt-image, targets: [openai/gpt-image-1], retry: { max_retries: 0 } }
  - { name: dalle, targets: [openai/dall-e-3], retry: { max_retries: 0 } }
  - { name: with-backup, targets: [openai/gpt-image-1, mock/image], retry: { max_retries: 0 } }
guardrails:
  - { name: no-email, kind: pii, stage: input, action: block, pii: { categories: [email] } }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
  - { name: broke, hash: "${hashKey(BROKE)}", team: b, role: service, budget: { period: month, limit_usd: 0 } }
`);
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
  typed = createSignalboxClient({ baseUrl: t.url, apiKey: KEY });
});
beforeEach(() => fake.reset());
after(async () => {
  await t.close();
  await fake.close();
});

const lastRecord = (): UsageRecord => {
  const r = t.usage.recent();
  return r[r.length - 1];
};
const sent = () => fake.requests.filter((r) => r.path.endsWith("/images/generations")).at(-1)?.body as Record<string, unknown> | undefined;

/** A PNG a decoder reads: the signature, an IHDR of the given size (when given), an IDAT that inflates. */
function assertPng(bytes: Buffer, size?: [number, number]) {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(bytes.toString("latin1", 12, 16), "IHDR");
  if (size) assert.deepEqual([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], size);
  let o = 8;
  const idat: Buffer[] = [];
  while (o < bytes.length) {
    const len = bytes.readUInt32BE(o);
    if (bytes.toString("latin1", o + 4, o + 8) === "IDAT") idat.push(bytes.subarray(o + 8, o + 8 + len));
    o += 12 + len;
  }
  assert.ok(inflateSync(Buffer.concat(idat)).length > 0);
}

describe("POST /v1/images/generations (the OpenAI SDK)", () => {
  test("GPT Image: the bytes, OpenAI's usage, billed by tokens; only the fields GPT Image takes are sent", async () => {
    const res = await sdk.images.generate({ model: "gpt-image", prompt: "a lighthouse at dusk", n: 2, size: "1024x1024", quality: "low", background: "opaque", moderation: "low", user: "u-1" });
    assert.equal(res.data?.length, 2);
    for (const im of res.data!) assertPng(Buffer.from(im.b64_json!, "base64"));
    assert.notDeepEqual(res.data![0].b64_json, res.data![1].b64_json);
    const body = sent()!;
    assert.equal(body.n, 2);
    assert.equal(body.quality, "low");
    assert.equal(body.background, "opaque");
    assert.equal(body.moderation, "low", "the moderation level is passed on");
    assert.equal("response_format" in body, false, "GPT Image refuses response_format");
    const out = IMAGE_OUTPUT_TOKENS["1024x1024"].low * 2;
    assert.equal(res.usage?.output_tokens, out);
    assert.equal(res.usage?.total_tokens, res.usage!.input_tokens + out);
    const rec = lastRecord();
    assert.equal(rec.operation, "images");
    assert.equal(rec.deployment, "openai/gpt-image-1");
    assert.equal(rec.user, "u-1");
    assert.equal(rec.usage.inputTokens, res.usage?.input_tokens);
    assert.equal(rec.usage.outputTokens, out);
    assert.equal(rec.usage.images?.count, 2);
    // gpt-image-1 from the built-in catalog: input $5 and output $40 per million tokens.
    assert.equal(rec.cost.total, rec.usage.inputTokens * 5_000 + out * 40_000);
    assert.equal((res as unknown as { signalbox: { cost_nano_usd: number } }).signalbox.cost_nano_usd, rec.cost.total);
  });

  test("DALL·E 3: per image by quality and size; the revised prompt; a URL when asked for, the bytes by default", async () => {
    fake.script({ kind: "images", revisedPrompt: "A tall white lighthouse at dusk" });
    const res = await sdk.images.generate({ model: "dalle", prompt: "a lighthouse", size: "1792x1024", quality: "hd", style: "natural" });
    assertPng(Buffer.from(res.data![0].b64_json!, "base64"));
    assert.equal(res.data![0].revised_prompt, "A tall white lighthouse at dusk");
    assert.equal(sent()!.response_format, "b64_json");
    assert.equal(sent()!.style, "natural");
    assert.equal(res.usage, undefined, "DALL·E reports no tokens");
    const rec = lastRecord();
    assert.deepEqual(rec.usage.images, { count: 1, size: "1792x1024", quality: "hd" });
    assert.equal(rec.cost.total, 120_000_000, "$0.12 for an HD 1792x1024 image");

    const withUrl = await sdk.images.generate({ model: "dalle", prompt: "a lighthouse", response_format: "url" });
    const url = withUrl.data![0].url!;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/.*\.png$/);
    assertPng(Buffer.from(await (await fetch(url)).arrayBuffer()));
    assert.equal(withUrl.data![0].revised_prompt, defaultRevisedPrompt("a lighthouse"));
    assert.equal(lastRecord().cost.total, 40_000_000, "$0.04 for a standard 1024x1024 image");
  });

  test("a deployment that fails falls back to the next, which bills per image", async () => {
    fake.script({ kind: "error", error: "rate_limit" });
    const res = await sdk.images.generate({ model: "with-backup", prompt: "a fox", size: "1536x1024" });
    assertPng(Buffer.from(res.data![0].b64_json!, "base64"), [1024, 1024]);
    const rec = lastRecord();
    assert.deepEqual(rec.attempts.map((a) => `${a.deployment}:${a.outcome}`), ["openai/gpt-image-1:failed", "mock/image:succeeded"]);
    assert.equal(rec.deployment, "mock/image");
    assert.equal(rec.cost.total, 10_000_000);
  });

  test("bad fields are 400s naming them, and reach no provider", async () => {
    for (const [body, param] of [
      [{ model: "gpt-image", prompt: "x", n: 11 }, "n"],
      [{ model: "gpt-image", prompt: "x", size: "big" }, "size"],
      [{ model: "gpt-image", prompt: "" }, "prompt"],
      [{ model: "gpt-image", prompt: "x", stream: true }, "stream"],
      [{ model: "gpt-image", prompt: "x", output_compression: 101 }, "output_compression"],
      [{ model: "gpt-image", prompt: "x", response_format: "svg" }, "response_format"],
      [{ model: "gpt-image", prompt: "x", colour: "red" }, "colour"],
      [{ model: "gpt-image" }, "prompt"],
    ] as const) {
      const res = await fetch(`${t.url}/v1/images/generations`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(((await res.json()) as { error: { param: string } }).error.param, param, JSON.stringify(body));
    }
    assert.equal(fake.requests.length, 0);
  });

  test("a chat model is not an image model, and an image route does not chat", async () => {
    await assert.rejects(sdk.images.generate({ model: "openai/gpt-4o", prompt: "x" }), (e: unknown) => e instanceof OpenAI.APIError && /serves images|serve images/.test(e.message));
    await assert.rejects(sdk.chat.completions.create({ model: "gpt-image", messages: [{ role: "user", content: "hi" }] }), (e: unknown) => e instanceof OpenAI.APIError && /serves chat|serve chat/.test(e.message));
    assert.equal(fake.requests.length, 0);
  });

  test("the input guardrails scan the prompt before anything is sent", async () => {
    const res = await fetch(`${t.url}/v1/images/generations`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-image", prompt: "a poster with jane@example.com on it", signalbox: { guardrails: ["no-email"] } }),
    });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /no-email/);
    assert.equal(fake.requests.length, 0);
    // A blocked request is recorded as the refusal it was (failed_precondition), with the guardrail's action.
    const rec = lastRecord();
    assert.equal(rec.status, "failed_precondition");
    assert.equal(rec.attempts.length, 0);
  });

  test("a spent budget refuses before any provider is called", async () => {
    const broke = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: BROKE, maxRetries: 0 });
    await assert.rejects(broke.images.generate({ model: "gpt-image", prompt: "x" }), (e: unknown) => e instanceof OpenAI.RateLimitError);
    assert.equal(fake.requests.length, 0);
    // Per-image prices are reserved too, not only tokens (mock/image bills no tokens at all).
    await assert.rejects(broke.images.generate({ model: "mock/image", prompt: "x" }), (e: unknown) => e instanceof OpenAI.RateLimitError);
    assert.equal(lastRecord().attempts.length, 0);
  });
});

describe("ImageService (typed client) and RouteService.RouteImages", () => {
  test("generateImages: PNG bytes with their media type, images and cost in the answer", async () => {
    const { images, response } = await generateImages(typed, "gpt-image", "a red kite", { n: 1, quality: "medium" });
    assert.equal(images.length, 1);
    assert.equal(images[0].mediaType, "image/png");
    assertPng(Buffer.from(images[0].data));
    assert.equal(response.deployment, "openai/gpt-image-1");
    assert.equal(response.usage?.images, 1n);
    assert.equal(response.usage?.outputTokens, BigInt(IMAGE_OUTPUT_TOKENS["1024x1024"].medium));
    assert.equal(response.cost?.totalNanoUsd, BigInt(lastRecord().cost.total));
    assert.equal(response.quality, "medium");
  });

  test("validation names the field; RouteImages plans only deployments that serve images", async () => {
    await assert.rejects(generateImages(typed, "gpt-image", "x", { n: 0 }), /n: must be an integer between 1 and 10/);
    const plan = await typed.route.routeImages({ model: "with-backup", prompt: "x", n: 2, quality: "high" });
    assert.deepEqual(plan.candidates.map((c) => c.deployment), ["openai/gpt-image-1", "mock/image"]);
    // What a high-quality image is expected to cost at GPT Image's output price, reserved against budgets.
    assert.ok(plan.candidates[0].expectedCostNanoUsd >= BigInt(IMAGE_OUTPUT_TOKENS["1024x1024"].high * 2 * 40_000));
    assert.equal(plan.candidates[1].expectedCostNanoUsd, 20_000_000n);
    assert.equal(fake.requests.length, 0);
  });
});
