// The secrets detector's rules that the corpus does not pin down one by one.

import assert from "node:assert/strict";
import { test } from "node:test";
import { classifyToken, createSecretsDetector } from "../../src/guardrails/detectors/secrets.ts";
import { makeSamples } from "./samples.ts";

const k = makeSamples(7);
const spans = (text: string, d = createSecretsDetector()) => d.scan(text).map((f) => [f.category, text.slice(f.start, f.end)]);

test("tokens are judged whole, by prefix and shape", () => {
  assert.equal(classifyToken(k.openai()), "openai_key");
  assert.equal(classifyToken(k.anthropic()), "anthropic_key");
  assert.equal(classifyToken(k.awsAccessKey()), "aws_access_key");
  assert.equal(classifyToken(k.awsAccessKey() + "X"), undefined);
  assert.equal(classifyToken(k.github()), "github_token");
  assert.equal(classifyToken(["sk", "x".repeat(40)].join("-")), undefined);
  const key = k.google();
  assert.deepEqual(spans(`prefix_${key}`), []);
  assert.deepEqual(spans(`(${key})`), [["google_api_key", key]]);
});

test("a JWT needs a header that decodes to JSON with alg", () => {
  const good = k.jwt({ alg: "RS256" });
  assert.deepEqual(spans(`t=${good};`), [["jwt", good]]);
  const noAlg = k.jwt({ typ: "JWT" });
  assert.deepEqual(spans(noAlg), []);
  assert.deepEqual(spans(`${good}.${k.mixed(20)}`), [], "five parts are not a JWT");
});

test("PEM blocks: labels, escaped newlines, truncation, and what is not a private key", () => {
  const pem = k.pem("EC ", 2);
  assert.deepEqual(spans(`x ${pem} y`), [["pem_private_key", pem]]);
  const escaped = k.pem("", 2, "\\n");
  assert.deepEqual(spans(`"${escaped}"`), [["pem_private_key", escaped]]);
  const cut = k.pemTruncated("", 2);
  assert.deepEqual(spans(`${cut}\n\nNext paragraph.`), [["pem_private_key", cut]]);
  assert.deepEqual(spans(pem.replaceAll("PRIVATE KEY", "CERTIFICATE")), []);
});

test("assignments: the value is the finding; names, placeholders and references are not", () => {
  const v = k.generic(24);
  assert.deepEqual(spans(`DB_PASSWORD=${v}`), [["generic_secret", v]]);
  assert.deepEqual(spans(`"client_secret": "${v}"`), [["generic_secret", v]]);
  assert.deepEqual(spans(`token_url=${v}`), []);
  assert.deepEqual(spans(`password=${"ab".repeat(10)}`), [], "low entropy");
  assert.deepEqual(spans(`api_key: ${v.slice(0, 15)}`), [], "shorter than 16");
  assert.deepEqual(spans("api_key = settings.OPENAI_API_KEY"), []);
});

test("categories select what is reported", () => {
  const key = k.openai();
  const pem = k.pem("", 1);
  const d = createSecretsDetector({ categories: ["pem_private_key"] });
  assert.deepEqual(spans(`${key} ${pem}`, d), [["pem_private_key", pem]]);
  assert.throws(() => createSecretsDetector({ categories: ["password" as never] }), /unknown secrets category/);
});

test("pendingLength holds only what could still become a key", () => {
  const d = createSecretsDetector();
  assert.equal(d.pendingLength("plain words and "), 0);
  assert.equal(d.pendingLength("key: sk-pro"), "sk-pro".length);
  assert.equal(d.pendingLength("token AKI"), "AKI".length);
  const begin = k.pemHeader("RSA ")[0];
  assert.equal(d.pendingLength(`a ${begin}\nMIIE`), `${begin}\nMIIE`.length);
  assert.equal(d.pendingLength("text -----BEG"), "-----BEG".length);
  assert.ok(d.pendingLength(`${begin}\n${"A".repeat(40000)}`) <= d.maxMatchLength - 1);
});
