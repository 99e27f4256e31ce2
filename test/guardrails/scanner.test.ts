// The stream scanner: sensitive strings split across chunks at every offset, in several chunkings,
// come out exactly as a one-shot redaction of the whole text, and no prefix passed on ever holds
// the original; flag passes text unchanged, block stops before the first finding.

import assert from "node:assert/strict";
import { test } from "node:test";
import { createDenyDetector } from "../../src/guardrails/detectors/deny.ts";
import { createPiiDetector } from "../../src/guardrails/detectors/pii.ts";
import { createSecretsDetector } from "../../src/guardrails/detectors/secrets.ts";
import { createStreamRedactor, redactText, scanText } from "../../src/guardrails/scanner.ts";
import type { Finding, GuardrailAction, TextDetector } from "../../src/guardrails/types.ts";
import { buildCorpus, CORPUS_DENY } from "./corpus.ts";
import { makeSamples, seeded } from "./samples.ts";

const k = makeSamples(99);
const pii = createPiiDetector();
const secrets = createSecretsDetector();
const deny = createDenyDetector(CORPUS_DENY);
const all: TextDetector[] = [pii, secrets, deny];

const projectKey = k.openaiProject();
const pem = k.pem("RSA ", 4);
const jwt = k.jwt();
const aws = k.awsAccessKey();
const generic = k.generic(28);

/** Texts and the originals that must never be passed on whole. */
const cases: { name: string; text: string; secrets: string[] }[] = [
  { name: "card", text: "Please charge 4111 1111 1111 1111 today, thanks.", secrets: ["4111 1111 1111 1111"] },
  { name: "key in JSON", text: `{"api_key": "${projectKey}", "model": "gpt"}`, secrets: [projectKey] },
  {
    name: "key in tool arguments",
    text: `{"name":"fetch","arguments":"{\\"headers\\":{\\"Authorization\\":\\"Bearer ${jwt}\\"}}"}`,
    secrets: [jwt],
  },
  { name: "emails", text: "Contact jane.doe@example.com or bob@example.org: now.", secrets: ["jane.doe@example.com", "bob@example.org"] },
  { name: "PEM", text: `Here is the key:\n${pem}\nDone.`, secrets: [pem] },
  { name: "truncated PEM", text: `cut: ${k.pemTruncated("", 2)}`, secrets: [k.pemTruncated("", 2).split("\n")[1]] },
  { name: "AWS and generic", text: `AWS ${aws} and password="${generic}" end`, secrets: [aws, generic] },
  { name: "IBAN and phone", text: "IBAN GB82 WEST 1234 5698 7654 32, tel +44 20 7946 0958.", secrets: ["GB82 WEST 1234 5698 7654 32", "+44 20 7946 0958"] },
  { name: "deny evasion", text: "Tell me about Pr0ject\u200b Blue\u00adbird 🐦 and f@lc0n!", secrets: ["Pr0ject\u200b Blue\u00adbird", "f@lc0n"] },
  { name: "near-misses only", text: "v1.2.3 on 2024-01-15, id 123-456-7890, @Component, foo@bar.", secrets: [] },
];

function runStream(detectors: TextDetector[], action: GuardrailAction, chunks: string[], onStep?: (emitted: string) => void) {
  const r = createStreamRedactor(detectors, action);
  let text = "";
  const findings: Finding[] = [];
  for (const c of chunks) {
    const out = r.push(c);
    text += out.text;
    findings.push(...out.findings);
    onStep?.(text);
  }
  const out = r.end();
  text += out.text;
  findings.push(...out.findings);
  onStep?.(text);
  return { text, findings, blocked: r.blocked };
}

/** Chunkings of `text`: split in two at every offset, in three around every offset, fixed sizes at every alignment, random. */
function* chunkings(text: string): Generator<string[]> {
  for (let i = 0; i <= text.length; i++) yield [text.slice(0, i), text.slice(i)];
  for (let i = 0; i + 5 <= text.length; i += 2) yield [text.slice(0, i), text.slice(i, i + 5), text.slice(i + 5)];
  for (const size of [1, 3, 7, 16]) {
    for (let shift = 0; shift < size; shift++) {
      const parts = [text.slice(0, shift)];
      for (let i = shift; i < text.length; i += size) parts.push(text.slice(i, i + size));
      yield parts;
    }
  }
  const rand = seeded(text.length);
  for (let n = 0; n < 20; n++) {
    const parts: string[] = [];
    for (let i = 0; i < text.length; ) {
      const size = 1 + Math.floor(rand() * 12);
      parts.push(text.slice(i, i + size));
      i += size;
    }
    yield parts;
  }
}

for (const c of cases) {
  test(`redact stream, every split: ${c.name}`, () => {
    const whole = redactText(all, c.text);
    for (const s of c.secrets) assert.ok(!whole.text.includes(s), `one-shot redaction leaves ${s}`);
    let runs = 0;
    for (const chunks of chunkings(c.text)) {
      const got = runStream(all, "redact", chunks, (emitted) => {
        assert.ok(whole.text.startsWith(emitted), `passed on ${JSON.stringify(emitted)} for chunks ${JSON.stringify(chunks)}`);
        for (const s of c.secrets) assert.ok(!emitted.includes(s), `leaked ${s}`);
        const last = emitted.charCodeAt(emitted.length - 1);
        if (emitted.length < whole.text.length) assert.ok(!(last >= 0xd800 && last <= 0xdbff), "split a surrogate pair");
      });
      assert.equal(got.text, whole.text, `chunks ${JSON.stringify(chunks)}`);
      assert.deepEqual(got.findings, whole.findings, `chunks ${JSON.stringify(chunks)}`);
      runs++;
    }
    assert.ok(runs > c.text.length);
  });
}

test("flag passes text as it arrives and reports the one-shot findings", () => {
  for (const c of cases) {
    const expected = scanText(all, c.text);
    for (const chunks of [[...c.text], [c.text.slice(0, 9), c.text.slice(9)]]) {
      const r = createStreamRedactor(all, "flag");
      let text = "";
      const findings: Finding[] = [];
      for (const chunk of chunks) {
        const out = r.push(chunk);
        assert.equal(out.text, chunk, "flag delays nothing");
        text += out.text;
        findings.push(...out.findings);
      }
      findings.push(...r.end().findings);
      assert.equal(text, c.text);
      assert.deepEqual(findings, expected, c.name);
    }
  }
});

test("block passes text up to the first finding, then nothing", () => {
  for (const c of cases) {
    const expected = scanText(all, c.text);
    for (const chunks of [[...c.text], [c.text]]) {
      const got = runStream(all, "block", chunks);
      if (expected.length === 0) {
        assert.equal(got.text, c.text);
        assert.equal(got.blocked, false);
        continue;
      }
      assert.equal(got.blocked, true, c.name);
      assert.equal(got.text, c.text.slice(0, expected[0].start), c.name);
      assert.equal(got.findings[0].category, expected[0].category);
      assert.equal(got.findings[0].start, expected[0].start);
    }
  }
});

test("a stream of prose is held back by at most its last word", () => {
  const prose = "The quick brown fox jumps over the lazy dog, and then it rests for a while. ".repeat(20);
  const r = createStreamRedactor(all, "redact");
  let passed = 0;
  let maxHeld = 0;
  for (let i = 0; i < prose.length; i += 4) {
    passed += r.push(prose.slice(i, i + 4)).text.length;
    maxHeld = Math.max(maxHeld, Math.min(prose.length, i + 4) - passed);
  }
  passed += r.end().text.length;
  assert.equal(passed, prose.length);
  const holds = all.map((d) => `${d.kind} maxMatchLength=${d.maxMatchLength}`);
  console.log(`hold-back: ${holds.join(", ")}; most held on prose in 4-character chunks: ${maxHeld}`);
  assert.ok(maxHeld <= 16, `held ${maxHeld} characters of prose`);
});

test("a detector without pendingLength is held back by maxMatchLength - 1", () => {
  const plain: TextDetector = { kind: "pii", maxMatchLength: 20, scan: (t) => pii.scan(t) };
  const r = createStreamRedactor([plain], "redact");
  assert.equal(r.push("x".repeat(49) + " ").text, "x".repeat(31));
  // The card starts where the held tail begins: it waits, whole, for the end of the stream.
  assert.equal(r.push("4111111111111111 ok").text, "x".repeat(18) + " ");
  assert.equal(r.end().text, "[REDACTED:card] ok");
});

test("pathological streams stay linear and hold back a bounded tail", () => {
  for (const [name, unit] of [
    ["a", "a"],
    ["digits", "1"],
    ["a@", "a@"],
    ["BEGIN", "-----BEGIN "],
    ["base64", "QUJD"],
  ] as const) {
    const r = createStreamRedactor(all, "redact");
    const chunk = unit.repeat(Math.ceil(100 / unit.length));
    const t0 = performance.now();
    let passed = 0;
    let maxHeld = 0;
    let pushed = 0;
    for (let i = 0; i < 1000; i++) {
      passed += r.push(chunk).text.length;
      pushed += chunk.length;
      maxHeld = Math.max(maxHeld, pushed - passed);
    }
    r.end();
    const ms = performance.now() - t0;
    console.log(`stream of 100 KB "${name}…" in 100-character chunks: ${ms.toFixed(1)} ms, held at most ${maxHeld}`);
    assert.ok(ms < 2000, `${name}: ${ms} ms`);
    assert.ok(maxHeld <= secrets.maxMatchLength, `${name}: held ${maxHeld}`);
  }
});

test("random texts from corpus pieces and awkward fragments, random chunkings: stream equals one-shot", () => {
  const corpus = buildCorpus().map((e) => e.text);
  const fragments = [" ", "\n", ".", ":", "=", '"', "\\", '\\"', "@", "-", "(", "+1 ", "415", "0100", "4111 ", "\u200b", "\u0301", "é", "🐦", "\\n", "AKIA", "sk-", "eyJ", "-----BEGIN ", "-----END ", "PRIVATE KEY-----", "password=", "api_key: ", "Bearer ", "GB82 ", "WEST ", "::", "fe80", "f@lc0n", "project ", "bluebird", "ticket-12", "34", "Ｆ", "і", "!"];
  const rand = seeded(2024);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  for (let n = 0; n < 60; n++) {
    let text = "";
    for (let p = 3 + Math.floor(rand() * 10); p > 0; p--) text += rand() < 0.3 ? pick(corpus) : rand() < 0.05 ? k.pem("", 1) : pick(fragments);
    const whole = redactText(all, text).text;
    for (let c = 0; c < 3; c++) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; ) {
        const size = 1 + Math.floor(rand() * (c === 0 ? 3 : 40));
        chunks.push(text.slice(i, i + size));
        i += size;
      }
      const got = runStream(all, "redact", chunks, (emitted) => assert.ok(whole.startsWith(emitted), JSON.stringify(text)));
      assert.equal(got.text, whole, JSON.stringify(text));
    }
  }
});
