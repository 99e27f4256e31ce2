// Image generation on Gemini's image models, end to end over real sockets: the OpenAI SDK's
// images.generate against the gateway, the gateway against the fake Gemini API and the fake Vertex
// AI (generateContent with responseModalities IMAGE, checked against @google/genai in
// test/fakes/gemini.sdk.test.ts). The size becomes the nearest aspect ratio; n images are n calls,
// concurrently, their tokens summed and billed at the catalog's prices; a model that makes no
// images is Gemini's 400, passed on (a bad request is not tried on the next deployment).

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI from "openai";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { GEMINI_IMAGE_TOKENS, type FakeGemini } from "../fakes/gemini.ts";
import type { FakeVertex } from "../fakes/vertex.ts";
import { startGoogleFakes, type GoogleFakes } from "../helpers/google-fakes.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "gemini", "images"].join("_");

let google: GoogleFakes;
let gemini: FakeGemini;
let vertex: FakeVertex;
let t: TestGateway;
let sdk: OpenAI;

before(async () => {
  google = await startGoogleFakes("img-test");
  ({ gemini, vertex } = google);
  t = await startTestGateway(`
providers:${google.providersYaml}
  - { name: mock, type: mock }
deployments:
  - { id: gemini/flash-image, provider: gemini, model: gemini-2.5-flash-image }
  - { id: vertex/flash-image, provider: vertex, model: gemini-2.5-flash-image }
  - { id: vertex/imagen, provider: vertex, model: imagen-4.0-generate-001 }
  - { id: gemini/text-only, provider: gemini, model: gemini-2.5-flash, operations: [images] }
  - { id: mock/image, provider: mock, model: mock-image-1, operations: [images], pricing: { input: 0, output: 0, per_image: 0.01 } }
routes:
  - { name: gemini-image, targets: [gemini/flash-image], retry: { max_retries: 0 } }
  - { name: vertex-image, targets: [vertex/flash-image], retry: { max_retries: 0 } }
  - { name: imagen, targets: [vertex/imagen], retry: { max_retries: 0 } }
  - { name: refused-then-mock, targets: [gemini/text-only, mock/image], retry: { max_retries: 0 } }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
`);
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
beforeEach(() => gemini.reset());
after(async () => {
  await t.close();
  await google.close();
});

const lastRecord = (): UsageRecord => {
  const r = t.usage.recent();
  return r[r.length - 1];
};
const isPng = (b64: string | undefined) => Buffer.from(b64 ?? "", "base64").subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]));

describe("Gemini's image models", () => {
  test("Gemini API: n images are n generateContent calls with image output and the size's aspect ratio; tokens summed and billed", async () => {
    const res = await sdk.images.generate({ model: "gemini-image", prompt: "a red kite over the sea", n: 2, size: "1536x1024" });
    assert.equal(res.data?.length, 2);
    assert.ok(res.data!.every((d) => isPng(d.b64_json)));
    assert.notEqual(res.data![0].b64_json, res.data![1].b64_json);
    const calls = gemini.requests.filter((r) => r.path.endsWith(":generateContent"));
    assert.equal(calls.length, 2);
    for (const c of calls) {
      const body = c.body as { contents: unknown; generationConfig: Record<string, unknown> };
      assert.deepEqual(body.contents, [{ role: "user", parts: [{ text: "a red kite over the sea" }] }]);
      assert.deepEqual(body.generationConfig, { responseModalities: ["IMAGE"], imageConfig: { aspectRatio: "3:2" } });
    }
    assert.equal(res.usage?.output_tokens, 2 * (GEMINI_IMAGE_TOKENS + 4));
    const rec = lastRecord();
    assert.equal(rec.deployment, "gemini/flash-image");
    assert.equal(rec.usage.images?.count, 2);
    // gemini-2.5-flash-image from the catalog: input $0.30 and output $30 per million tokens.
    assert.equal(rec.cost.total, rec.usage.inputTokens * 300 + rec.usage.outputTokens * 30_000);
  });

  test("Vertex AI: the same body on the publisher's generateContent, with the OAuth token", async () => {
    const res = await sdk.images.generate({ model: "vertex-image", prompt: "a lighthouse", size: "1024x1792" });
    assert.ok(isPng(res.data![0].b64_json));
    const sent = vertex.gemini.requests.at(-1)!.body as { generationConfig: Record<string, unknown> };
    assert.deepEqual(sent.generationConfig, { responseModalities: ["IMAGE"], imageConfig: { aspectRatio: "9:16" } });
    assert.equal(lastRecord().deployment, "vertex/flash-image");
  });

  test("a model that makes no images: Gemini's 400 reaches the caller, and a bad request is not tried elsewhere", async () => {
    await assert.rejects(sdk.images.generate({ model: "refused-then-mock", prompt: "a fox" }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.match(e.message, /does not support the requested response modalities/);
      return true;
    });
    assert.deepEqual(lastRecord().attempts.map((a) => `${a.deployment}:${a.outcome}`), ["gemini/text-only:failed"]);
  });
  test("Imagen on Vertex: :predict, four samples a call (n=6 is 4 + 2), the nearest of Imagen's ratios, billed per image", async () => {
    // The fake's token list survives between tests (a reset would void the gateway's cached token): count from here.
    const before = vertex.requests.length;
    const res = await sdk.images.generate({ model: "imagen", prompt: "a lighthouse", n: 6, size: "1792x1024" });
    assert.equal(res.data?.length, 6);
    assert.ok(res.data!.every((d) => isPng(d.b64_json) && d.revised_prompt === "a lighthouse, highly detailed"));
    const calls = vertex.requests.slice(before).filter((r) => r.path.endsWith("imagen-4.0-generate-001:predict")).map((r) => r.body as { instances: unknown; parameters: Record<string, unknown> });
    assert.deepEqual(calls.map((c) => c.parameters.sampleCount).sort(), [2, 4]);
    assert.ok(calls.every((c) => c.parameters.aspectRatio === "16:9" && JSON.stringify(c.instances) === JSON.stringify([{ prompt: "a lighthouse" }])));
    const rec = lastRecord();
    assert.equal(rec.deployment, "vertex/imagen");
    assert.equal(rec.usage.images?.count, 6);
    assert.equal(rec.cost.total, 6 * 40_000_000, "imagen-4.0-generate-001: $0.04 an image");
  });

  test("Imagen filtering every image is content_filtered: nothing billed per image", async () => {
    await assert.rejects(sdk.images.generate({ model: "imagen", prompt: "something forbidden" }), (e: unknown) => e instanceof OpenAI.APIError && /safety filter/.test(e.message));
    const rec = lastRecord();
    assert.equal(rec.attempts[0].failureKind, "content_filtered");
    assert.equal(rec.usage.images, undefined);
  });
});
