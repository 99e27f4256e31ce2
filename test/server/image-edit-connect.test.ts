// Image edits over Connect: ImageService.Generate with images (and a mask) is an edit, through the
// typed client's editImages(), on the built-in mock; media types are read from the bytes when not
// given; bad edits name their field and nothing is planned.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createSignalboxClient, editImages, generateImages, type SignalboxClient } from "@signalbox/client";
import { encodePng } from "../../src/providers/mock/png.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "edit", "a"].join("_");
let t: TestGateway;
let client: SignalboxClient;

before(async () => {
  t = await startTestGateway(`
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/image, provider: mock, model: mock-image-1, operations: [images], pricing: { input: 0, output: 0, per_image: 0.01 } }
routes:
  - { name: image, targets: [mock/image] }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
`);
  client = createSignalboxClient({ baseUrl: t.url, apiKey: KEY });
});
after(async () => {
  await t.close();
});

const red = encodePng(8, 8, [255, 0, 0], [200, 0, 0]);
const blue = encodePng(8, 8, [0, 0, 255], [0, 0, 200]);
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]);

test("an edit of two images with a mask: the answer follows its inputs; billed per image; recorded as images", async () => {
  const a = await editImages(client, "image", "make it purple", [red, { data: blue, filename: "blue.png" }], { mask: red, n: 2 });
  assert.equal(a.images.length, 2);
  assert.equal(a.images[0].mediaType, "image/png");
  assert.equal(a.images[0].revisedPrompt, "make it purple (an edit of 2 images, masked)");
  assert.equal(Buffer.from(a.images[0].data).subarray(1, 4).toString("ascii"), "PNG");
  // The same prompt with other images is another picture; the generation is another again.
  const other = await editImages(client, "image", "make it purple", [blue, red], { mask: red, n: 1 });
  assert.notDeepEqual(Buffer.from(other.images[0].data), Buffer.from(a.images[0].data));
  const gen = await generateImages(client, "image", "make it purple");
  assert.equal(gen.images[0].revisedPrompt, "make it purple");
  assert.equal(a.response.cost?.totalNanoUsd, 2n * 10_000_000n);
  const rec = t.usage.recent().find((r) => r.id === a.response.id)!;
  assert.equal(rec.operation, "images");
  assert.equal(rec.usage.images?.count, 2);
});

test("bad edits name their field; nothing is planned", async () => {
  const refused = async (p: Promise<unknown>, field: RegExp) =>
    assert.rejects(p, (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument && field.test(e.rawMessage));
  const before = t.usage.recent().length;
  await refused(editImages(client, "image", "x", [new Uint8Array([1, 2, 3])]), /^images\[0\]: must be a PNG, JPEG or WebP image/);
  await refused(editImages(client, "image", "x", [red], { mask: JPEG }), /^mask: must be a PNG/);
  await refused(generateImages(client, "image", "x", { mask: { data: red } }), /^mask: applies to an edit/);
  await refused(editImages(client, "image", "x", [red], { inputFidelity: "medium" }), /^input_fidelity: must be high or low/);
  await refused(editImages(client, "image", "x", Array.from({ length: 17 }, () => red)), /^images: at most 16 images, got 17/);
  assert.equal(t.usage.recent().length, before, "no request was recorded");
});
