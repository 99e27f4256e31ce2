// Image generation on Bedrock over a real socket: Nova Canvas through InvokeModel, signed with
// SigV4, against the fake Bedrock (its TEXT_IMAGE answers checked against the AWS SDK in
// test/fakes/bedrock.sdk.test.ts). Five images a call at most: seven are two calls, concurrently;
// sizes become multiples of 16 in Bedrock's range; the gateway's high-quality names are premium;
// a blocked prompt is Bedrock's ValidationException; the catalog prices each image.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import type { ProviderConfig } from "../../../src/config/types.ts";
import { lookupModel } from "../../../src/config/catalog.ts";
import { resolvePricing } from "../../../src/config/pricing.ts";
import { createBedrockAdapter } from "../../../src/providers/bedrock/index.ts";
import { createHttpProvider } from "../../../src/providers/http-provider.ts";
import { createTransport } from "../../../src/providers/transport.ts";
import { ProviderError } from "../../../src/providers/types.ts";
import { computeCost, ZERO_USAGE } from "../../../src/usage/cost.ts";
import { startFakeBedrock, type FakeAwsCredentials, type FakeBedrock } from "../../fakes/bedrock.ts";

const creds: FakeAwsCredentials = { accessKeyId: ["TEST", "IMAGES", "ID"].join(""), secretAccessKey: ["images", "test", "secret"].join("-") };
const CANVAS = "amazon.nova-canvas-v1:0";
const signal = () => AbortSignal.timeout(5000);

describe("Bedrock images over a real socket", () => {
  let fake: FakeBedrock;
  const transport = createTransport();
  const conn = (): ProviderConfig =>
    ({ name: "bedrock", type: "bedrock", baseUrl: fake.url, headers: {}, timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 2000 }, maxConnections: 8, aws: { region: "us-east-1", ...creds } }) as ProviderConfig;
  const provider = () => createHttpProvider(conn(), createBedrockAdapter(conn()), transport);

  before(async () => {
    fake = await startFakeBedrock({ credentials: [creds] });
  });
  beforeEach(() => fake.reset());
  after(async () => {
    await transport.close();
    await fake.close();
  });

  test("Nova Canvas: seven images are two signed calls (5 + 2); the size in Bedrock's terms; hd is premium", async () => {
    const res = await provider().generateImages!({ model: CANVAS, prompt: "a lighthouse", n: 7, size: "1000x500", quality: "hd" }, signal());
    assert.equal(res.images.length, 7);
    assert.ok(res.images.every((i) => Buffer.from(i.b64!, "base64").subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]))));
    assert.deepEqual([res.size, res.quality], ["1008x496", "premium"]);
    const bodies = fake.requests.map((r) => r.body as { taskType: string; textToImageParams: { text: string }; imageGenerationConfig: Record<string, unknown> });
    assert.deepEqual(bodies.map((b) => b.imageGenerationConfig.numberOfImages).sort(), [2, 5]);
    for (const b of bodies) {
      assert.equal(b.taskType, "TEXT_IMAGE");
      assert.equal(b.textToImageParams.text, "a lighthouse");
      assert.deepEqual([b.imageGenerationConfig.width, b.imageGenerationConfig.height, b.imageGenerationConfig.quality], [1008, 496, "premium"]);
    }
    assert.equal(fake.requests.every((r) => r.path === "/model/amazon.nova-canvas-v1%3A0/invoke"), true);
    assert.ok(fake.signatures.length === 2 && fake.signatures.every((s) => s.valid));
  });

  test("a blocked prompt is Bedrock's ValidationException, not retried as a server fault", async () => {
    await assert.rejects(provider().generateImages!({ model: CANVAS, prompt: "something forbidden", n: 1 }, signal()), (e: unknown) => e instanceof ProviderError && e.status === 400 && /content filters/.test(e.message));
  });

  test("the catalog prices Nova Canvas per image by quality and size", () => {
    const { pricing } = resolvePricing(lookupModel(CANVAS), undefined);
    const cost = (quality: string, size: string, count: number) => computeCost({ ...ZERO_USAGE, images: { count, quality, size } }, pricing).total;
    assert.equal(cost("standard", "1024x1024", 2), 80_000_000);
    assert.equal(cost("premium", "1024x1024", 1), 60_000_000);
    assert.equal(cost("premium", "2048x2048", 1), 80_000_000);
  });
});
