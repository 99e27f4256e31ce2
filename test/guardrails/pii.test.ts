// The pii detector's building blocks and options; the corpus test measures it on labelled texts.

import assert from "node:assert/strict";
import { test } from "node:test";
import { createPiiDetector, isIpv4, isIpv6, luhn, mod97 } from "../../src/guardrails/detectors/pii.ts";

const spans = (text: string, categories?: Parameters<typeof createPiiDetector>[0]) =>
  createPiiDetector(categories)
    .scan(text)
    .map((f) => [f.category, text.slice(f.start, f.end)]);

test("Luhn and mod-97 checks", () => {
  assert.ok(luhn("4111111111111111"));
  assert.ok(!luhn("4111111111111112"));
  assert.ok(luhn("378282246310005"));
  assert.ok(mod97("DE89370400440532013000"));
  assert.ok(!mod97("DE88370400440532013000"));
  assert.ok(mod97("GB82WEST12345698765432"));
});

test("IP address parsing", () => {
  for (const ok of ["0.0.0.0", "255.255.255.255", "10.0.0.1"]) assert.ok(isIpv4(ok), ok);
  for (const bad of ["256.0.0.1", "1.2.3", "01.2.3.4", "1.2.3.4.5", "a.b.c.d"]) assert.ok(!isIpv4(bad), bad);
  for (const ok of ["::1", "::", "2001:db8::1", "fe80::1ff:fe23:4567:890a", "::ffff:192.0.2.128", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4"])
    assert.equal(isIpv6(ok), ok !== "::", ok);
  for (const bad of ["1:2:3:4:5:6:7", "1::2::3", "12345::1", "1:2:3:4:5:6:7:8:9", "::ffff:999.0.0.1", "g::1"]) assert.ok(!isIpv6(bad), bad);
});

test("categories select what is reported", () => {
  const text = "mail a.b@example.com, card 4111 1111 1111 1111, ip 10.0.0.1";
  assert.deepEqual(spans(text, { categories: ["card"] }), [["card", "4111 1111 1111 1111"]]);
  assert.deepEqual(spans(text, { categories: ["email", "ip"] }), [
    ["email", "a.b@example.com"],
    ["ip", "10.0.0.1"],
  ]);
  assert.throws(() => createPiiDetector({ categories: ["passport" as never] }), /unknown pii category/);
});

test("a number is judged whole: no card inside a longer run, no phone inside an id", () => {
  assert.deepEqual(spans("41111111111111111111"), []);
  assert.deepEqual(spans("ref 4111-1111-1111-1111-1"), []);
  assert.deepEqual(spans("x4111111111111111"), []);
  assert.deepEqual(spans("id:415-555-0100-7"), []);
  assert.deepEqual(spans("(415) 555-0100"), [["phone", "(415) 555-0100"]]);
});

test("pendingLength holds the trailing token a finding could still grow from, never more than maxMatchLength - 1", () => {
  const d = createPiiDetector();
  assert.equal(d.pendingLength("hello world. "), 0);
  assert.equal(d.pendingLength("card 4111 1111"), "4111 1111".length);
  assert.equal(d.pendingLength("write to jane"), "jane".length);
  assert.equal(d.pendingLength("pay to GB82 WEST"), "GB82 WEST".length);
  assert.equal(d.pendingLength("a".repeat(1000)), d.maxMatchLength - 1);
  assert.equal(createPiiDetector({ categories: ["card"] }).pendingLength("write to jane"), 0);
});
