// Image edits end to end, over real sockets: the official OpenAI SDK's images.edit (multipart) against
// the gateway's POST /v1/images/edits, the gateway against the fake OpenAI's /images/edits (checked here
// against the SDK first), the fake Gemini API and the built-in mock. GPT Image gets every image as an
// `image[]` part with its exact bytes, the mask and input_fidelity, and bills the input images' tokens;
// DALL·E 2 gets one `image` and is asked for the bytes; DALL·E 3 and a masked edit on Gemini are skipped
// unsent and the next deployment answers; Gemini gets the images as inlineData parts before the prompt;
// bad fields are 400s naming them, and reach no provider.

import assert from "node:assert/strict";
import { crc32, deflateSync, inflateSync } from "node:zlib";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI, { toFile } from "openai";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import type { RecordedRequest } from "../fakes/common.ts";
import { GEMINI_IMAGE_TOKENS, type FakeGemini } from "../fakes/gemini.ts";
import { HIGH_FIDELITY_TOKENS, IMAGE_OUTPUT_TOKENS, OPENAI_TEST_KEY, editImageTokens, fakePng, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import type { FakeVertex } from "../fakes/vertex.ts";
import { startGoogleFakes, type GoogleFakes } from "../helpers/google-fakes.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "images", "edit"].join("_");

/** A real PNG of w×h: RGB (colour type 2) or RGBA with a transparent left half (colour type 6), its colour from `seed`. */
function png(w: number, h: number, seed: number, alpha = false): Buffer {
  const channels = alpha ? 4 : 3;
  const row = (y: number) => {
    const r = Buffer.alloc(1 + w * channels);
    for (let x = 0; x < w; x++) r.set(alpha ? [seed & 255, y & 255, x & 255, x < w / 2 ? 0 : 255] : [seed & 255, (seed * 7) & 255, y & 255], 1 + x * channels);
    return r;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, alpha ? 6 : 2, 0, 0, 0], 8);
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "latin1");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0);
    return Buffer.concat([head, data, crc]);
  };
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(Array.from({ length: h }, (_, y) => row(y))))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A JPEG's first bytes (SOI, a JFIF APP0 segment) and its end: what a sniffer calls a JPEG. */
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), Buffer.from("JFIF\0", "latin1"), Buffer.from([1, 1, 0, 0, 1, 0, 1, 0, 0]), Buffer.alloc(40, 7), Buffer.from([0xff, 0xd9])]);

/** A PNG a decoder reads: the signature, an IHDR of the given size, IDAT that inflates to its rows. */
function assertPng(bytes: Buffer, size: [number, number]) {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(bytes.toString("latin1", 12, 16), "IHDR");
  assert.deepEqual([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], size);
  let o = 8;
  const idat: Buffer[] = [];
  while (o < bytes.length) {
    const len = bytes.readUInt32BE(o);
    if (bytes.toString("latin1", o + 4, o + 8) === "IDAT") idat.push(bytes.subarray(o + 8, o + 8 + len));
    o += 12 + len;
  }
  assert.ok(inflateSync(Buffer.concat(idat)).length > 0);
}

const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
const pngFile = (bytes: Buffer, name: string) => toFile(bytes, name, { type: "image/png" });

/** The text fields of a recorded multipart request, by name. */
function textFields(r: RecordedRequest): Record<string, string> {
  return Object.fromEntries(r.parts!.filter(([, v]) => typeof v === "string") as [string, string][]);
}
/** Its file parts in order: name, filename, media type, byte length. */
function fileParts(r: RecordedRequest): [string, string, string, number][] {
  return r.parts!.flatMap(([n, v]) => (typeof v === "string" ? [] : [[n, v.filename, v.type, v.size] as [string, string, string, number]]));
}
function fileBytes(r: RecordedRequest): Buffer[] {
  return r.parts!.flatMap(([, v]) => (typeof v === "string" ? [] : [v.bytes]));
}

// ---------------------------------------------------------------------------------------------
// The fake itself, the SDK straight at it: what the gateway tests below rely on.

describe("the fake OpenAI's POST /v1/images/edits (the openai SDK straight at it)", () => {
  let fake: FakeOpenAI;
  let client: OpenAI;
  before(async () => {
    fake = await startFakeOpenAI();
    client = new OpenAI({ apiKey: OPENAI_TEST_KEY, baseURL: fake.url, maxRetries: 0 });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  const rejects = async (p: Promise<unknown>, param: string | null, message: RegExp) =>
    assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.equal(e.param, param);
      assert.match(e.message, message);
      return true;
    });

  test("gpt-image-1, one image as `image`: ImagesResponse with the settings and usage counting the image's tokens", async () => {
    const prompt = "make the sky purple";
    const img = png(1536, 1024, 1);
    const res = await client.images.edit({ model: "gpt-image-1", image: await pngFile(img, "wide.png"), prompt, quality: "high", size: "1536x1024" });
    const req = fake.requests[0];
    assert.equal(req.path, "/v1/images/edits");
    assert.deepEqual(fileParts(req), [["image", "wide.png", "image/png", img.length]]);
    assert.ok(fileBytes(req)[0].equals(img));
    assert.deepEqual(textFields(req), { model: "gpt-image-1", prompt, quality: "high", size: "1536x1024" });
    assert.deepEqual(
      { ...res, created: 0 },
      {
        created: 0,
        background: "opaque",
        output_format: "png",
        quality: "high",
        size: "1536x1024",
        data: [{ b64_json: fakePng(prompt, 0).toString("base64") }],
        // 1536x1024 → 768x512: two 512-px tiles, 65 + 2 × 129 image tokens.
        usage: { input_tokens: 4 + 323, input_tokens_details: { text_tokens: 4, image_tokens: 323 }, output_tokens: IMAGE_OUTPUT_TOKENS["1536x1024"].high, total_tokens: 327 + IMAGE_OUTPUT_TOKENS["1536x1024"].high },
      },
    );
    assert.equal(editImageTokens(1536, 1024), 323);
    assert.equal(editImageTokens(1536, 1024, "high"), 323 + HIGH_FIDELITY_TOKENS.other);
  });

  test("streaming: image_edit.partial_image then image_edit.completed events with the usage", async () => {
    const stream = await client.images.edit({ model: "gpt-image-1", image: [await pngFile(png(8, 8, 2), "a.png")], prompt: "a hat", stream: true, partial_images: 1 });
    const events = [];
    for await (const ev of stream) events.push(ev);
    assert.deepEqual(events.map((e) => e.type), ["image_edit.partial_image", "image_edit.completed"]);
    const done = events[1] as OpenAI.Images.ImageEditCompletedEvent;
    assert.equal(done.b64_json, fakePng("a hat", 0).toString("base64"));
    assert.deepEqual(done.usage.input_tokens_details, { text_tokens: 2, image_tokens: 194 });
  });

  test("OpenAI's 400s: the Content-Type a file needs, DALL·E 3, DALL·E 2's one PNG, GPT Image's limits and the mask", async () => {
    const img = png(8, 8, 3);
    const mask = png(8, 8, 4, true);
    // toFile without a type: undici sends application/octet-stream, which GPT Image refuses (the real API's well-known 400).
    await rejects(client.images.edit({ model: "gpt-image-1", image: await toFile(img, "a.png"), prompt: "x" }), "image", /^400 Invalid file 'image': unsupported mimetype \('application\/octet-stream'\)\. Supported file formats are 'image\/jpeg', 'image\/png', and 'image\/webp'\.$/);
    await rejects(client.images.edit({ model: "gpt-image-1", image: await toFile(Buffer.from("hello"), "a.png", { type: "image/png" }), prompt: "x" }), "image", /Invalid image file or mode for image 1/);
    await rejects(client.images.edit({ model: "dall-e-3", image: await pngFile(img, "a.png"), prompt: "x" }), "model", /does not support edits/);
    await rejects(client.images.edit({ model: "dall-e-2", image: [await pngFile(img, "a.png")], prompt: "x" }), "image", /exactly one image, sent as 'image'/);
    await rejects(client.images.edit({ model: "dall-e-2", image: await toFile(JPEG, "a.jpg", { type: "image/jpeg" }), prompt: "x" }), "image", /Supported file formats are 'image\/png'\.$/);
    await rejects(client.images.edit({ model: "dall-e-2", image: await pngFile(png(16, 8, 1), "a.png"), prompt: "x" }), "image", /must be square/);
    await rejects(client.images.edit({ model: "dall-e-2", image: await pngFile(img, "a.png"), prompt: "x", input_fidelity: "high" }), "input_fidelity", /^400 Unsupported parameter/);
    await rejects(client.images.edit({ model: "gpt-image-1", image: await pngFile(img, "a.png"), prompt: "x", response_format: "b64_json" }), "response_format", /Unknown parameter: 'response_format'/);
    await rejects(client.images.edit({ model: "gpt-image-1", image: await pngFile(img, "a.png"), prompt: "x", input_fidelity: "medium" as "high" }), "input_fidelity", /Supported values are: 'high' and 'low'/);
    const many = await Promise.all(Array.from({ length: 17 }, (_, i) => pngFile(img, `${i}.png`)));
    await rejects(client.images.edit({ model: "gpt-image-1", image: many, prompt: "x" }), "image", /maximum length 16, but got an array with length 17/);
    await rejects(client.images.edit({ model: "gpt-image-1", image: await pngFile(img, "a.png"), mask: await toFile(JPEG, "m.jpg", { type: "image/jpeg" }), prompt: "x" }), "mask", /Supported file formats are 'image\/png'/);
    await rejects(client.images.edit({ model: "gpt-image-1", image: await pngFile(img, "a.png"), mask: await pngFile(png(8, 8, 5), "m.png"), prompt: "x" }), "mask", /missing alpha channel/);
    await rejects(client.images.edit({ model: "gpt-image-1", image: await pngFile(img, "a.png"), mask: await pngFile(png(16, 16, 5, true), "m.png"), prompt: "x" }), "mask", /must be the size of the first image \(8x8\)/);
    await rejects(client.images.edit({ model: "gpt-image-1", image: await pngFile(img, "a.png"), prompt: "" }), "prompt", /empty string/);
    // Every one was recorded, and refused.
    assert.equal(fake.requests.length, 14);
    assert.ok(fake.requests.every((r) => r.status === 400));
    // A valid DALL·E 2 edit with a mask: a URL the fake serves by default, no usage.
    const ok = await client.images.edit({ model: "dall-e-2", image: await pngFile(img, "a.png"), mask: await pngFile(mask, "m.png"), prompt: "x", size: "256x256" });
    assert.match(ok.data![0].url!, /^http:\/\/127\.0\.0\.1:\d+\/v1\/files\/img-\w+\.png$/);
    assert.equal(ok.usage, undefined);
    assert.deepEqual(fileParts(fake.requests.at(-1)!).map((f) => f[0]), ["image", "mask"]);
  });
});

// ---------------------------------------------------------------------------------------------
// The gateway

let fake: FakeOpenAI;
let google: GoogleFakes;
let gemini: FakeGemini;
let vertex: FakeVertex;
let t: TestGateway;
let sdk: OpenAI;

before(async () => {
  [fake, google] = await Promise.all([startFakeOpenAI(), startGoogleFakes("edit-test")]);
  ({ gemini, vertex } = google);
  t = await startTestGateway(`
providers:${google.providersYaml}
  - { name: openai, type: openai, base_url: "${fake.url}", api_key: ${OPENAI_TEST_KEY} }
  - { name: mock, type: mock }
deployments:
  - { id: openai/gpt-image-1, provider: openai, model: gpt-image-1 }
  - { id: openai/dall-e-2, provider: openai, model: dall-e-2 }
  - { id: openai/dall-e-3, provider: openai, model: dall-e-3 }
  - { id: gemini/flash-image, provider: gemini, model: gemini-2.5-flash-image }
  - { id: vertex/imagen, provider: vertex, model: imagen-4.0-generate-001 }
  - { id: mock/image, provider: mock, model: mock-image-1, operations: [images], pricing: { input: 0, output: 0, per_image: 0.01 } }
routes:
  - { name: gpt-image, targets: [openai/gpt-image-1], retry: { max_retries: 0 } }
  - { name: dalle2, targets: [openai/dall-e-2], retry: { max_retries: 0 } }
  - { name: dalle3-then-mock, targets: [openai/dall-e-3, mock/image], retry: { max_retries: 0 } }
  - { name: gemini-image, targets: [gemini/flash-image], retry: { max_retries: 0 } }
  - { name: gemini-then-mock, targets: [gemini/flash-image, mock/image], retry: { max_retries: 0 } }
  - { name: imagen-then-mock, targets: [vertex/imagen, mock/image], retry: { max_retries: 0 } }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
`);
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
beforeEach(() => {
  fake.reset();
  gemini.reset();
});
after(async () => {
  await t.close();
  await Promise.all([fake.close(), google.close()]);
});

const lastRecord = (): UsageRecord => {
  const r = t.usage.recent();
  return r[r.length - 1];
};
const attempts = (rec: UsageRecord) => rec.attempts.map((a) => `${a.deployment}:${a.outcome}${a.failureKind ? `:${a.failureKind}` : ""}`);
const edits = () => fake.requests.filter((r) => r.path === "/v1/images/edits");

describe("POST /v1/images/edits through the gateway (the OpenAI SDK's images.edit)", () => {
  test("gpt-image-1: two images as image[] with their exact bytes, the mask, input_fidelity; the images back; billed by tokens", async () => {
    const a = png(32, 32, 11);
    const b = png(32, 32, 12);
    const mask = png(32, 32, 13, true);
    const prompt = "put a red kite in the sky";
    const res = await sdk.images.edit({
      model: "gpt-image",
      image: [await pngFile(a, "beach.png"), await pngFile(b, "kite.png")],
      mask: await pngFile(mask, "sky-mask.png"),
      prompt,
      input_fidelity: "high",
      n: 2,
      quality: "low",
      size: "1024x1024",
    });
    // What OpenAI received: one request, the images in order as image[] with the bytes sent, the mask, the fields.
    assert.equal(fake.requests.length, 1);
    const req = edits()[0];
    assert.equal(req.status, 200);
    assert.match(String(req.headers["content-type"]), /^multipart\/form-data; boundary=/);
    assert.deepEqual(fileParts(req), [
      ["image[]", "beach.png", "image/png", a.length],
      ["image[]", "kite.png", "image/png", b.length],
      ["mask", "sky-mask.png", "image/png", mask.length],
    ]);
    const [sentA, sentB, sentMask] = fileBytes(req);
    assert.ok(sentA.equals(a) && sentB.equals(b) && sentMask.equals(mask), "the bytes sent upstream are the caller's");
    // Each file's bytes appear verbatim in the raw upstream body.
    assert.ok(req.rawBytes.includes(a) && req.rawBytes.includes(b) && req.rawBytes.includes(mask));
    assert.deepEqual(textFields(req), { model: "gpt-image-1", prompt, n: "2", size: "1024x1024", quality: "low", input_fidelity: "high" });

    // The answer: the fake's two images, OpenAI's usage (the images' tokens counted in the input).
    assert.deepEqual(res.data?.map((d) => d.b64_json), [fakePng(prompt, 0).toString("base64"), fakePng(prompt, 1).toString("base64")]);
    const imageTokens = 2 * editImageTokens(32, 32, "high");
    assert.equal(imageTokens, 2 * (194 + HIGH_FIDELITY_TOKENS.square));
    const input = words(prompt) + imageTokens;
    const output = IMAGE_OUTPUT_TOKENS["1024x1024"].low * 2;
    assert.equal(res.usage?.input_tokens, input);
    assert.equal(res.usage?.output_tokens, output);
    assert.equal(res.usage?.total_tokens, input + output);
    assert.equal(res.quality, "low");
    assert.equal(res.size, "1024x1024");

    const rec = lastRecord();
    assert.equal(rec.operation, "images");
    assert.equal(rec.status, "ok");
    assert.equal(rec.deployment, "openai/gpt-image-1");
    assert.deepEqual(attempts(rec), ["openai/gpt-image-1:succeeded"]);
    assert.equal(rec.usage.images?.count, 2);
    assert.equal(rec.usage.inputTokens, input);
    assert.equal(rec.usage.outputTokens, output);
    // gpt-image-1 from the catalog: $5 a million text input tokens, $10 image input, $40 output.
    assert.equal(rec.usage.imageInputTokens, imageTokens);
    assert.equal(rec.cost.total, words(prompt) * 5_000 + imageTokens * 10_000 + output * 40_000);
    assert.equal((res as unknown as { signalbox: { cost_nano_usd: number; images: number } }).signalbox.cost_nano_usd, rec.cost.total);
  });

  test(
    "gpt-image-1: the input images' tokens are reported as image tokens and billed at the image-input rate ($10/M)",
    async () => {
      const prompt = "a kite";
      const res = await sdk.images.edit({ model: "gpt-image", image: await pngFile(png(8, 8, 21), "a.png"), prompt, quality: "low" });
      assert.deepEqual(res.usage?.input_tokens_details, { text_tokens: 2, image_tokens: 194 });
      assert.equal(lastRecord().cost.total, 2 * 5_000 + 194 * 10_000 + IMAGE_OUTPUT_TOKENS["1024x1024"].low * 40_000);
    },
  );

  test("a provider's refusal of a field is passed on naming it (OpenAI's param)", async () => {
    // A mask without an alpha channel: OpenAI's 400 is about `mask`.
    await assert.rejects(sdk.images.edit({ model: "gpt-image", image: await pngFile(png(8, 8, 91), "a.png"), mask: await pngFile(png(8, 8, 92, false), "m.png"), prompt: "x" }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.equal(e.param, "mask");
      assert.match(e.message, /mask image missing alpha channel/);
      return true;
    });
    assert.equal(edits().length, 1, "sent once: a caller's mistake is not retried elsewhere");
  });

  test("dall-e-2: one PNG as `image` (not image[]), the bytes asked for with response_format b64_json, billed per image", async () => {
    const square = png(64, 64, 31);
    const prompt = "a lighthouse at night";
    const res = await sdk.images.edit({ model: "dalle2", image: await pngFile(square, "lighthouse.png"), prompt, size: "256x256" });
    const req = edits()[0];
    assert.equal(fake.requests.length, 1);
    assert.equal(req.status, 200);
    assert.deepEqual(fileParts(req), [["image", "lighthouse.png", "image/png", square.length]]);
    assert.ok(fileBytes(req)[0].equals(square));
    assert.deepEqual(textFields(req), { model: "dall-e-2", prompt, size: "256x256", response_format: "b64_json" });
    assert.deepEqual(res.data, [{ b64_json: fakePng(prompt, 0).toString("base64") }]);
    assert.equal(res.usage, undefined, "DALL·E reports no tokens");
    const rec = lastRecord();
    assert.equal(rec.deployment, "openai/dall-e-2");
    assert.equal(rec.usage.images?.count, 1);
    assert.equal(rec.cost.total, 16_000_000, "dall-e-2: $0.016 a 256x256 image");
  });

  test("dall-e-3 has no edits: skipped unsent (OpenAI never sees it) and the next deployment answers", async () => {
    const prompt = "a boat";
    const res = await sdk.images.edit({ model: "dalle3-then-mock", image: await pngFile(png(8, 8, 41), "boat.png"), prompt, size: "64x64" });
    assert.equal(fake.requests.length, 0);
    assertPng(Buffer.from(res.data![0].b64_json!, "base64"), [64, 64]);
    assert.equal(res.data![0].revised_prompt, `${prompt} (an edit of 1 image)`);
    const rec = lastRecord();
    assert.equal(rec.deployment, "mock/image");
    assert.deepEqual(attempts(rec), ["openai/dall-e-3:failed:model_not_found", "mock/image:succeeded"]);
    assert.equal(rec.attempts[0].errorMessage, "dall-e-3 does not edit images (gpt-image-1 and dall-e-2 do)");
    assert.equal(rec.attempts[0].httpStatus, undefined, "nothing was sent, so no status came back");
    assert.equal(rec.attempts[0].cost.total, 0);
    assert.equal(rec.cost.total, 10_000_000, "only the mock's image is billed");
  });

  test("the built-in mock alone: two images and a mask make a PNG whose revised prompt says what it edited", async () => {
    const prompt = "turn the cat into a tiger";
    const res = await sdk.images.edit({
      model: "mock/image",
      image: [await pngFile(png(8, 8, 51), "cat.png"), await toFile(JPEG, "bg.jpg", { type: "image/jpeg" })],
      mask: await pngFile(png(8, 8, 52, true), "mask.png"),
      prompt,
      size: "128x96",
    });
    assert.equal(res.data?.length, 1);
    assertPng(Buffer.from(res.data![0].b64_json!, "base64"), [128, 96]);
    assert.equal(res.data![0].revised_prompt, `${prompt} (an edit of 2 images, masked)`);
    // The same prompt without the images is a different picture: the edit's inputs colour it.
    const plain = await sdk.images.generate({ model: "mock/image", prompt, size: "128x96" });
    assert.notEqual(plain.data![0].b64_json, res.data![0].b64_json);
    assert.equal(plain.data![0].revised_prompt, prompt);
    const rec = t.usage.recent().at(-2)!;
    assert.equal(rec.operation, "images");
    assert.equal(rec.deployment, "mock/image");
    assert.equal(rec.usage.images?.count, 1);
    assert.equal(rec.cost.total, 10_000_000);
    assert.equal(fake.requests.length, 0);
  });

  test("bad input is a 400 naming the field, and reaches no provider", async () => {
    const img = () => new File([new Uint8Array(png(8, 8, 61))], "a.png", { type: "image/png" });
    const form = (fields: Record<string, string | File | File[]>) => {
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) for (const x of Array.isArray(v) ? v : [v]) f.append(k, x);
      return f;
    };
    const cases: [string, FormData, string][] = [
      ["no image", form({ model: "gpt-image", prompt: "x" }), "image"],
      ["a text file as the image", form({ model: "gpt-image", prompt: "x", image: new File(["hello"], "notes.txt", { type: "text/plain" }) }), "image"],
      ["a text field as the image", form({ model: "gpt-image", prompt: "x", image: "a.png" }), "image"],
      ["a JPEG mask", form({ model: "gpt-image", prompt: "x", image: img(), mask: new File([new Uint8Array(JPEG)], "m.jpg", { type: "image/jpeg" }) }), "mask"],
      ["input_fidelity medium", form({ model: "gpt-image", prompt: "x", image: img(), input_fidelity: "medium" }), "input_fidelity"],
      ["an unknown field", form({ model: "gpt-image", prompt: "x", image: img(), colour: "red" }), "colour"],
      ["stream", form({ model: "gpt-image", prompt: "x", image: img(), stream: "true" }), "stream"],
      ["17 images", form({ model: "gpt-image", prompt: "x", "image[]": Array.from({ length: 17 }, img) }), "image"],
      ["no prompt", form({ model: "gpt-image", image: img() }), "prompt"],
      ["text declared a PNG", form({ model: "gpt-image", prompt: "x", image: new File(["not a picture"], "a.png", { type: "image/png" }) }), "image"],
      ["a PNG declared a JPEG", form({ model: "gpt-image", prompt: "x", image: new File([new Uint8Array(png(8, 8, 63))], "a.jpg", { type: "image/jpeg" }) }), "image"],
    ];
    for (const [what, body, param] of cases) {
      const res = await fetch(`${t.url}/v1/images/edits`, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body });
      assert.equal(res.status, 400, what);
      const err = ((await res.json()) as { error: { param: string; type: string; message: string } }).error;
      assert.equal(err.param, param, `${what}: ${err.message}`);
      assert.equal(err.type, "invalid_request_error", what);
    }
    // The SDK's stream: true is refused by name too.
    await assert.rejects(sdk.images.edit({ model: "gpt-image", image: await pngFile(png(8, 8, 62), "a.png"), prompt: "x", stream: true }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.param, "stream");
      return true;
    });
    // A PNG sent with no type and no file name is read from its bytes.
    const blob = await fetch(`${t.url}/v1/images/edits`, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: form({ model: "mock/image", prompt: "x", image: new File([new Uint8Array(png(8, 8, 64))], "blob") }) });
    assert.equal(blob.status, 200, await blob.clone().text());
    // A JSON body is not an edit.
    const json = await fetch(`${t.url}/v1/images/edits`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify({ model: "gpt-image", prompt: "x" }) });
    assert.equal(json.status, 400);
    assert.equal(((await json.json()) as { error: { param: string } }).error.param, "body");
    assert.equal(fake.requests.length, 0);
    assert.equal(gemini.requests.length, 0);
  });
});

describe("image edits on Gemini's image models (and Vertex Imagen, which has none)", () => {
  test("the images as inlineData parts (base64 of the exact bytes, their media types) before the prompt's text", async () => {
    const a = png(16, 16, 71);
    const prompt = "make it a night scene";
    const res = await sdk.images.edit({ model: "gemini-image", image: [await pngFile(a, "day.png"), await toFile(JPEG, "sky.jpg", { type: "image/jpeg" })], prompt, size: "1536x1024" });
    const calls = gemini.requests.filter((r) => r.path.endsWith(":generateContent"));
    assert.equal(calls.length, 1);
    assert.equal(calls[0].path, "/v1beta/models/gemini-2.5-flash-image:generateContent");
    assert.equal(calls[0].status, 200);
    assert.deepEqual(calls[0].body, {
      contents: [
        {
          role: "user",
          parts: [{ inlineData: { mimeType: "image/png", data: a.toString("base64") } }, { inlineData: { mimeType: "image/jpeg", data: JPEG.toString("base64") } }, { text: prompt }],
        },
      ],
      generationConfig: { responseModalities: ["IMAGE"], imageConfig: { aspectRatio: "3:2" } },
    });
    assert.equal(res.data?.length, 1);
    assert.equal(Buffer.from(res.data![0].b64_json!, "base64").subarray(0, 4).toString("latin1"), "\x89PNG");
    assert.equal(res.usage?.output_tokens, GEMINI_IMAGE_TOKENS + 4);
    const rec = lastRecord();
    assert.equal(rec.deployment, "gemini/flash-image");
    assert.equal(rec.usage.images?.count, 1);
    assert.equal(rec.usage.outputTokens, GEMINI_IMAGE_TOKENS + 4);
    assert.equal(fake.requests.length, 0);
  });

  test("a mask has no place in Gemini's request: Gemini is skipped unsent and the mock answers", async () => {
    const prompt = "remove the boat";
    const res = await sdk.images.edit({ model: "gemini-then-mock", image: await pngFile(png(8, 8, 81), "sea.png"), mask: await pngFile(png(8, 8, 82, true), "m.png"), prompt, size: "32x32" });
    assert.equal(gemini.requests.length, 0);
    assertPng(Buffer.from(res.data![0].b64_json!, "base64"), [32, 32]);
    assert.equal(res.data![0].revised_prompt, `${prompt} (an edit of 1 image, masked)`);
    const rec = lastRecord();
    assert.equal(rec.deployment, "mock/image");
    assert.deepEqual(attempts(rec), ["gemini/flash-image:failed:model_not_found", "mock/image:succeeded"]);
    assert.equal(rec.attempts[0].errorMessage, "gemini-2.5-flash-image takes no mask (describe the edit in the prompt)");
    assert.equal(rec.attempts[0].httpStatus, undefined);
  });

  test("Imagen on Vertex refuses an edit unsent: no :predict call, the mock answers", async () => {
    const before = vertex.requests.length;
    const res = await sdk.images.edit({ model: "imagen-then-mock", image: await pngFile(png(8, 8, 91), "a.png"), prompt: "a hat", size: "16x16" });
    assert.equal(vertex.requests.slice(before).filter((r) => r.path.endsWith(":predict")).length, 0);
    assert.equal(res.data![0].revised_prompt, "a hat (an edit of 1 image)");
    const rec = lastRecord();
    assert.deepEqual(attempts(rec), ["vertex/imagen:failed:model_not_found", "mock/image:succeeded"]);
    assert.equal(rec.attempts[0].httpStatus, undefined);
    assert.equal(rec.deployment, "mock/image");
  });
});
