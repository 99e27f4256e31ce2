// The o200k_base encoder built from the ranks as JSON (src/providers/o200k.ts) counts exactly what
// gpt-tokenizer's own gpt-4o module counts, text and chat with functions; the build writes the
// JSON, so the gateway uses it; a JSON from another gpt-tokenizer version is not used.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadO200k, RANKS_FILE, writeRanks, type O200k } from "../../src/providers/o200k.ts";
import { SAMPLES } from "./token-samples.ts";

const reference = createRequire(import.meta.url)("gpt-tokenizer/cjs/model/gpt-4o") as O200k;
const dir = mkdtempSync(join(tmpdir(), "signalbox-o200k-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("o200k_base from JSON", () => {
  test("the build wrote the ranks for the installed gpt-tokenizer, and the gateway's encoder reads them", () => {
    const { version, ranks } = JSON.parse(readFileSync(RANKS_FILE, "utf8")) as { version: string; ranks: unknown[] };
    assert.equal(version, (createRequire(import.meta.url)("gpt-tokenizer/package.json") as { version: string }).version);
    assert.equal(ranks.length, 199_998);
    assert.equal(loadO200k().source, "json");
  });

  test("counts every sample and edge text exactly as gpt-tokenizer's gpt-4o module does", () => {
    const enc = loadO200k();
    const texts = [
      ...SAMPLES.map((s) => s.text),
      "",
      "hello world",
      "<|endoftext|> is text here",
      "\u0000\u0001 control bytes and a lone surrogate \ud800",
      "emoji 👩‍👩‍👧‍👦 and 漢字かなカナ한국어",
      " ".repeat(300),
    ];
    for (const t of texts) {
      const o = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };
      assert.equal(enc.countTokens(t, o), reference.countTokens(t, o), JSON.stringify(t.slice(0, 40)));
    }
  });

  test("counts a chat with and without functions as gpt-tokenizer's gpt-4o module does", () => {
    const enc = loadO200k();
    const chat = { messages: [{ role: "system" as const, content: "Be brief." }, { role: "user" as const, content: "What is the weather in Paris?" }] };
    const functions = [{ name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];
    assert.equal(enc.countChatCompletionTokens(chat), reference.countChatCompletionTokens(chat));
    assert.equal(enc.countChatCompletionTokens({ ...chat, functions }), reference.countChatCompletionTokens({ ...chat, functions }));
  });

  test("a JSON written from another gpt-tokenizer version, a cut-short one or none at all falls back to the module", () => {
    const file = join(dir, "o200k_base.json");
    writeRanks(file);
    assert.equal(loadO200k(file).source, "json");
    const data = JSON.parse(readFileSync(file, "utf8")) as { version: string };
    writeFileSync(file, JSON.stringify({ ...data, version: "0.0.0", ranks: [] }));
    const stale = loadO200k(file);
    assert.equal(stale.source, "module");
    assert.equal(stale.countTokens("hello world"), reference.countTokens("hello world"));
    assert.equal(loadO200k(join(dir, "missing.json")).source, "module");
    writeFileSync(file, '{"version":"cut sho');
    assert.equal(loadO200k(file).source, "module");
  });
});
