import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { geminiAspectRatio, parseGeminiImageResponse } from "../../../src/providers/gemini/gemini-images.ts";
import { ProviderError } from "../../../src/providers/types.ts";

describe("Gemini images", () => {
  it("a size becomes the nearest aspect ratio Gemini takes; auto and absent leave it to the model", () => {
    assert.equal(geminiAspectRatio("1024x1024"), "1:1");
    assert.equal(geminiAspectRatio("1536x1024"), "3:2");
    assert.equal(geminiAspectRatio("1792x1024"), "16:9");
    assert.equal(geminiAspectRatio("1024x1792"), "9:16");
    assert.equal(geminiAspectRatio("2560x1080"), "21:9");
    assert.equal(geminiAspectRatio("auto"), undefined);
    assert.equal(geminiAspectRatio(undefined), undefined);
  });

  it("the inlineData images, the JPEG format, the tokens; no image is content_filtered, billed on the prompt", () => {
    const body = (parts: unknown[], finishReason = "STOP") =>
      JSON.stringify({ candidates: [{ content: { role: "model", parts }, finishReason }], usageMetadata: { promptTokenCount: 7, candidatesTokenCount: 1290 }, modelVersion: "gemini-2.5-flash-image" });
    const r = parseGeminiImageResponse(body([{ text: "here" }, { inlineData: { mimeType: "image/jpeg", data: "AAEC" } }]));
    assert.deepEqual(r, { model: "gemini-2.5-flash-image", images: [{ b64: "AAEC" }], outputFormat: "jpeg", usage: { inputTokens: 7, outputTokens: 1290 } });
    assert.throws(
      () => parseGeminiImageResponse(body([{ text: "I can't draw that." }], "IMAGE_SAFETY")),
      (e: unknown) => e instanceof ProviderError && e.kind === "content_filtered" && /IMAGE_SAFETY/.test(e.message) && e.usage?.inputTokens === 7,
    );
  });
});
