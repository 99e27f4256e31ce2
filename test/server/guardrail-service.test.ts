// GuardrailService (and LiteLLM's /guardrails/list and /guardrails/apply_guardrail, and
// `signalbox guardrails`) against a real gateway: the configuration's guardrails listed without
// any service's URL or key; named ones run on a text with no model call: redactions come back in
// place, a block names the guardrail and category (exit 1 on the command line), a flag lets the
// text through, the stage chooses which run; unknown names and bad input name the field; a
// webhook is called as for a request; a caller needs a key.

import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createSignalboxClient, GuardrailStage, type SignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, exited, ok, runCli } from "../helpers/cli.ts";

const key = (...p: string[]) => ["sbx", "test", "guardsvc", ...p].join("_");
const APP = key("app");
const SLOW = key("slow");
const HOOK_TOKEN = ["hook", "token", "for", "tests"].join("-");

let hookBodies: unknown[] = [];
let hook: http.Server;
let hookUrl = "";

const yaml = () => `${MOCK_CONFIG}guardrails:
  - { name: no-pii, kind: pii, stage: both, action: redact, pii: { categories: [email] } }
  - { name: no-keys, kind: secrets, stage: input, action: block }
  - { name: words, kind: deny, stage: output, action: flag, deny: { words: [frobnicate] } }
  - { name: moderation, kind: webhook, action: block, webhook: { url: "${hookUrl}", headers: { authorization: "Bearer ${HOOK_TOKEN}" } } }
keys:
  - { name: app, hash: "${hashKey(APP)}", team: a, role: service }
  - { name: slow, hash: "${hashKey(SLOW)}", team: a, role: service, limits: { requests_per_minute: 2 } }
`;

describe("GuardrailService", () => {
  let g: TestGateway;
  let sb: SignalboxClient;
  let tmp: string;
  before(async () => {
    hook = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        const b = JSON.parse(raw) as { text: string };
        hookBodies.push(b);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(b.text.includes("violent") ? { allow: false, category: "violence" } : { allow: true }));
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/check`;
    g = await startTestGateway(yaml());
    sb = createSignalboxClient({ baseUrl: g.url, apiKey: APP });
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-guardrails-"));
  });
  after(async () => {
    await g?.close();
    hook?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("ListGuardrails: names, kinds, stages and actions; never a service's URL or key", async () => {
    const r = await sb.guardrails.listGuardrails({});
    assert.deepEqual(
      r.guardrails.map((x) => [x.name, x.kind, x.stages, x.action, x.mandatory]),
      [
        ["no-pii", "pii", [GuardrailStage.INPUT, GuardrailStage.OUTPUT], "redact", false],
        ["no-keys", "secrets", [GuardrailStage.INPUT], "block", false],
        ["words", "deny", [GuardrailStage.OUTPUT], "flag", false],
        ["moderation", "webhook", [GuardrailStage.INPUT], "block", false],
      ],
    );
    assert.doesNotMatch(JSON.stringify(r), new RegExp(`${HOOK_TOKEN}|127\\.0\\.0\\.1`));
  });

  test("ApplyGuardrails: redactions in place, a block named, a flag recorded; the stage chooses which run; no model is called", async () => {
    const before = g.usage.recent().length;
    const red = await sb.guardrails.applyGuardrails({ guardrails: ["no-pii", "no-keys"], text: "mail ana@example.com please" });
    assert.equal(red.blocked, false);
    assert.equal(red.text, "mail [REDACTED:email] please");
    assert.deepEqual(red.actions.map((a) => [a.guardrail, a.stage, a.action, a.category, a.count]), [["no-pii", GuardrailStage.INPUT, "redact", "email", 1]]);
    const aws = ["AK", "IA", "Z7QK3M9W", "2XH4PL6D"].join("");
    const blocked = await sb.guardrails.applyGuardrails({ guardrails: ["no-keys"], text: `my key is ${aws}` });
    assert.deepEqual([blocked.blocked, blocked.blockedBy, blocked.category, blocked.text], [true, "no-keys", "aws_access_key", ""]);
    assert.match(blocked.message, /^guardrail "no-keys" blocked the request \(category aws_access_key\)/);
    assert.doesNotMatch(JSON.stringify(blocked), new RegExp(aws));
    // words runs on answers only: at the input nothing happens; at the output, a flag.
    assert.deepEqual((await sb.guardrails.applyGuardrails({ guardrails: ["words"], text: "frobnicate it" })).actions, []);
    const flagged = await sb.guardrails.applyGuardrails({ guardrails: ["words"], text: "frobnicate it", stage: GuardrailStage.OUTPUT });
    assert.deepEqual([flagged.blocked, flagged.text, flagged.actions.map((a) => [a.action, a.category])], [false, "frobnicate it", [["flag", "deny"]]]);
    assert.equal(g.usage.recent().length, before, "no request was made");
  });

  test("a webhook is asked, as for a request's text", async () => {
    hookBodies = [];
    assert.equal((await sb.guardrails.applyGuardrails({ guardrails: ["moderation"], text: "a calm text" })).blocked, false);
    const r = await sb.guardrails.applyGuardrails({ guardrails: ["moderation"], text: "a violent text" });
    assert.deepEqual([r.blocked, r.blockedBy, r.category], [true, "moderation", "violence"]);
    assert.deepEqual(hookBodies, [
      { text: "a calm text", stage: "input", guardrail: "moderation" },
      { text: "a violent text", stage: "input", guardrail: "moderation" },
    ]);
  });

  test("unknown names and an empty list name the field; a caller needs a key", async () => {
    const fail = async (p: Promise<unknown>, code: Code, re: RegExp) =>
      assert.rejects(p, (e: unknown) => {
        const c = ConnectError.from(e);
        assert.equal(c.code, code);
        assert.match(c.rawMessage, re);
        return true;
      });
    await fail(sb.guardrails.applyGuardrails({ guardrails: ["no-pii", "nope"], text: "x" }), Code.InvalidArgument, /^guardrails\[1\]: unknown guardrail "nope"/);
    await fail(sb.guardrails.applyGuardrails({ guardrails: [], text: "x" }), Code.InvalidArgument, /^guardrails: name at least one guardrail/);
    await fail(createSignalboxClient({ baseUrl: g.url }).guardrails.listGuardrails({}), Code.Unauthenticated, /./);
  });

  test("each check counts against the key's requests per minute, as a request would", async () => {
    const slow = createSignalboxClient({ baseUrl: g.url, apiKey: SLOW });
    for (let i = 0; i < 2; i++) assert.equal((await slow.guardrails.applyGuardrails({ guardrails: ["no-pii"], text: "x" })).blocked, false);
    await assert.rejects(slow.guardrails.applyGuardrails({ guardrails: ["no-pii"], text: "x" }), (e: unknown) => {
      const c = ConnectError.from(e);
      assert.equal(c.code, Code.ResourceExhausted);
      assert.match(c.rawMessage, /^rate limit exceeded: /);
      return true;
    });
    const viaLiteLLM = await fetch(`${g.url}/guardrails/apply_guardrail`, { method: "POST", headers: { authorization: `Bearer ${SLOW}`, "content-type": "application/json" }, body: JSON.stringify({ guardrail_name: "no-pii", text: "x" }) });
    assert.equal(viaLiteLLM.status, 429);
  });

  test("LiteLLM's /guardrails/list and /guardrails/apply_guardrail", async () => {
    const h = { authorization: `Bearer ${APP}`, "content-type": "application/json" };
    const list = (await (await fetch(`${g.url}/guardrails/list`, { headers: h })).json()) as { guardrails: { guardrail_name: string; litellm_params: { guardrail: string; mode: string } }[] };
    assert.deepEqual(
      list.guardrails.map((x) => [x.guardrail_name, x.litellm_params.guardrail, x.litellm_params.mode]),
      [
        ["no-pii", "pii", "pre_call,post_call"],
        ["no-keys", "secrets", "pre_call"],
        ["words", "deny", "post_call"],
        ["moderation", "webhook", "pre_call"],
      ],
    );
    const apply = (body: unknown) => fetch(`${g.url}/guardrails/apply_guardrail`, { method: "POST", headers: h, body: JSON.stringify(body) });
    const ok200 = await apply({ guardrail_name: "no-pii", text: "write to ana@example.com", language: "en" });
    assert.equal(ok200.status, 200);
    const okBody = (await ok200.json()) as { response_text: string; signalbox: { ignored: string[] } };
    assert.equal(okBody.response_text, "write to [REDACTED:email]");
    assert.deepEqual(okBody.signalbox.ignored, ["language"]);
    const refused = await apply({ guardrail_name: "moderation", text: "violent words" });
    assert.equal(refused.status, 400);
    assert.match(JSON.stringify(await refused.json()), /guardrail \\"moderation\\" blocked the request \(category violence\)/);
    const unknown = await apply({ guardrail_name: "nope", text: "x" });
    assert.equal(unknown.status, 400);
    assert.match(JSON.stringify(await unknown.json()), /guardrail_name: unknown guardrail/);
  });

  test("signalbox guardrails: list, and check (the text as it would leave; a block exits 1 naming it)", async () => {
    const cli = (args: string[], stdin?: string) => runCli(g.url, ["--api-key", APP, ...args], { cwd: tmp, ...(stdin !== undefined ? { stdin } : {}) });
    const list = ok(await cli(["guardrails"]), "guardrails list");
    assert.match(list.stdout, /NAME\s+KIND\s+STAGES\s+ACTION\s+MANDATORY/);
    assert.match(list.stdout, /no-pii\s+pii\s+input, output\s+redact\s+no/);
    const red = ok(await cli(["guardrails", "check", "-g", "no-pii", "mail ana@example.com"]), "check");
    assert.equal(red.stdout, "mail [REDACTED:email]\n");
    assert.match(red.stderr, /no-pii: redact email/);
    const piped = ok(await cli(["guardrails", "check", "-g", "words", "--stage", "output", "-"], "frobnicate the widget\n"), "check from stdin");
    assert.equal(piped.stdout, "frobnicate the widget\n");
    assert.match(piped.stderr, /words: flag deny/);
    const blocked = exited(await cli(["guardrails", "check", "-g", "moderation", "violent plans"]), 1, "a block");
    assert.match(blocked.stderr, /blocked by guardrail "moderation" \(category violence\)/);
    assert.equal(blocked.stdout, "");
    exited(await cli(["guardrails", "check", "-g", "no-pii", "--stage", "sideways", "x"]), 2, "a bad stage");
  });
});
