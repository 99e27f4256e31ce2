// Prompt management at run time (PromptService): versions, labels that move without a deploy, and
// every door that names a prompt (the Responses API's `prompt`, Chat Completions' prompt_id,
// ChatRequest.prompt, RouteService.Route), against a fake OpenAI upstream that records what it was
// sent. Then who may see and change what, the audit log, and two replicas on one private
// PostgreSQL: a change on one reaches the other within a second, and prompts survive a restart.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { Code, createSignalboxClient, PromptSource, Role, userText, type SignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startPostgresReplicas } from "../helpers/postgres.ts";

const ADMIN = ["sbx", "prompts", "admin"].join("_");
const TEAM_A = ["sbx", "prompts", "team", "a"].join("_");
const SERVICE_A = ["sbx", "prompts", "svc", "a"].join("_");
const TEAM_B = ["sbx", "prompts", "team", "b"].join("_");

const yaml = (openai: string, store = "") => `
${store}
providers:
  - { name: openai, type: openai, base_url: "${openai}", api_key: ${OPENAI_TEST_KEY}, timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 } }
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: openai/gpt-4o-mini, provider: openai, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
routes:
  - { name: default, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
  - { name: small, targets: [openai/gpt-4o-mini], retry: { max_retries: 0 } }
teams: [{ name: a }, { name: b }]
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
  - { name: team-a, hash: "${hashKey(TEAM_A)}", team: a, role: team }
  - { name: svc-a, hash: "${hashKey(SERVICE_A)}", team: a, role: service }
  - { name: team-b, hash: "${hashKey(TEAM_B)}", team: b, role: team }
prompts:
  - { id: cfg, version: 1, instructions: "Hi {{name}}" }
`;

/** The messages the fake upstream got in its last chat request, as role: text. */
function sent(fake: FakeOpenAI): string[] {
  const chats = fake.requests.filter((r) => r.path.endsWith("/chat/completions"));
  const body = chats[chats.length - 1].body as { messages: { role: string; content: string | { text: string }[] }[]; model: string };
  return body.messages.map((m) => `${m.role}: ${typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("")}`);
}
const lastModel = (fake: FakeOpenAI) => (fake.requests.filter((r) => r.path.endsWith("/chat/completions")).at(-1)!.body as { model: string }).model;

describe("prompts on the embedded store", () => {
  let fake: FakeOpenAI;
  let t: TestGateway;
  let admin: SignalboxClient;
  let openai: OpenAI;
  const lastTags = () => t.usage.recent().at(-1)!.tags;
  before(async () => {
    fake = await startFakeOpenAI();
    t = await startTestGateway(yaml(fake.url));
    admin = createSignalboxClient({ baseUrl: t.url, apiKey: ADMIN });
    openai = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: SERVICE_A, maxRetries: 0 });
  });
  after(async () => {
    await t.close();
    await fake.close();
  });

  test("versions and labels: create, list, get (newest first), the config file's prompt beside them", async () => {
    const v1 = await admin.prompts.createPromptVersion({
      promptId: "greet",
      model: "default",
      instructions: "You greet {{who}} warmly.",
      messages: [{ role: "user", content: "Say hi to {{who}} from {{place}}." }],
      description: "first cut",
      labels: ["production"],
    });
    assert.equal(v1.version?.version, "1");
    assert.deepEqual(v1.version?.variables, ["who", "place"]);
    assert.deepEqual(v1.version?.labels, ["production"]);
    assert.equal(v1.prompt?.team, "", "an admin's prompt is shared");
    const v2 = await admin.prompts.createPromptVersion({ promptId: "greet", model: "small", instructions: "You greet {{who}} briefly.", messages: [{ role: "user", content: "Hi to {{who}}." }], description: "shorter", labels: ["staging"] });
    assert.equal(v2.version?.version, "2");
    assert.deepEqual(v2.prompt?.labels, { production: "1", staging: "2" });

    const list = await admin.prompts.listPrompts({});
    assert.deepEqual(list.prompts.map((p) => [p.promptId, p.source, p.latestVersion, p.versionCount]), [["cfg", PromptSource.CONFIG, "1", 1], ["greet", PromptSource.STORE, "2", 2]]);
    const got = await admin.prompts.getPrompt({ promptId: "greet" });
    assert.deepEqual(got.versions.map((v) => [v.version, v.labels, v.description, v.createdBy]), [["2", ["staging"], "shorter", "root"], ["1", ["production"], "first cut", "root"]]);
    const r = await admin.prompts.renderPrompt({ promptId: "greet", variables: { who: "Ada", place: "Paris" } });
    assert.equal(r.version?.version, "1", "no version: the production label");
    assert.equal(r.instructions, "You greet Ada warmly.");
    assert.deepEqual(r.messages.map((m) => m.content), ["Say hi to Ada from Paris."]);
    assert.equal(r.model, "default");
  });

  test("the Responses API follows the production label; moving it changes the next request, no deploy", async () => {
    fake.script({ kind: "text", text: "Hello Ada!" });
    const r1 = await openai.responses.create({ prompt: { id: "greet", variables: { who: "Ada", place: "Paris" } } } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    assert.equal(r1.output_text, "Hello Ada!");
    assert.deepEqual(sent(fake), ["system: You greet Ada warmly.", "user: Say hi to Ada from Paris."]);
    assert.equal(lastModel(fake), "gpt-4o");
    assert.ok(lastTags().includes("prompt:greet@1"));
    assert.deepEqual((r1 as unknown as { prompt: unknown }).prompt, { id: "greet", version: "1", variables: { who: "Ada", place: "Paris" } });

    await admin.prompts.setPromptLabel({ promptId: "greet", label: "production", version: "2" });
    await openai.responses.create({ prompt: { id: "greet", variables: { who: "Ada" } }, input: "and be quick" } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    assert.deepEqual(sent(fake), ["system: You greet Ada briefly.", "user: Hi to Ada.", "user: and be quick"]);
    assert.equal(lastModel(fake), "gpt-4o-mini", "version 2's model");
    assert.ok(lastTags().includes("prompt:greet@2"));
    // A version by number or by label, and "latest".
    for (const [version, tag] of [["1", "prompt:greet@1"], ["staging", "prompt:greet@2"], ["latest", "prompt:greet@2"]]) {
      const vars = version === "1" ? { who: "Ada", place: "Rome" } : { who: "Ada" };
      await openai.responses.create({ prompt: { id: "greet", version, variables: vars } } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
      assert.ok(lastTags().includes(tag), `${version} → ${tag}`);
    }
    await admin.prompts.setPromptLabel({ promptId: "greet", label: "production", version: "1" });
  });

  test("Chat Completions: prompt_id, prompt_version and prompt_variables; the request's own messages follow", async () => {
    fake.script({ kind: "text", text: "Hi Bob" });
    const c = await openai.chat.completions.create({ prompt_id: "greet", prompt_variables: { who: "Bob", place: "Oslo" }, messages: [{ role: "user", content: "thanks" }] } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(c.choices[0].message.content, "Hi Bob");
    assert.deepEqual(sent(fake), ["system: You greet Bob warmly.", "user: Say hi to Bob from Oslo.", "user: thanks"]);
    assert.ok(lastTags().includes("prompt:greet@1"));
    // Without messages at all, streamed, a version by label.
    const s = await openai.chat.completions.create({ prompt_id: "greet", prompt_version: "staging", prompt_variables: { who: "Cy" }, stream: true } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
    for await (const _ of s);
    assert.deepEqual(sent(fake), ["system: You greet Cy briefly.", "user: Hi to Cy."]);
    assert.ok(lastTags().includes("prompt:greet@2"));
  });

  test("the Anthropic and Gemini doors name a prompt in the signalbox object; so may Chat Completions", async () => {
    const anthropic = new Anthropic({ baseURL: t.url, apiKey: SERVICE_A, maxRetries: 0 });
    fake.script({ kind: "text", text: "Hi from the Messages API" });
    const m = await anthropic.messages.create({ max_tokens: 100, messages: [{ role: "user", content: "thanks" }], signalbox: { prompt: { id: "greet", version: "1", variables: { who: "Ann", place: "Lyon" } } } } as never);
    assert.equal((m as unknown as { content: { text: string }[] }).content[0]!.text, "Hi from the Messages API");
    assert.deepEqual(sent(fake), ["system: You greet Ann warmly.", "user: Say hi to Ann from Lyon.", "user: thanks"]);
    assert.ok(lastTags().includes("prompt:greet@1"));
    fake.script({ kind: "text", text: "Hi from generateContent" });
    const g = await fetch(`${t.url}/v1beta/models/default:generateContent`, {
      method: "POST",
      headers: { "x-goog-api-key": SERVICE_A, "content-type": "application/json" },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "cheers" }] }], signalbox: { prompt: { id: "greet", version: "staging", variables: { who: "Gil" } } } }),
    });
    assert.equal(g.status, 200, await g.clone().text());
    assert.deepEqual(sent(fake), ["system: You greet Gil briefly.", "user: Hi to Gil.", "user: cheers"]);
    assert.ok(lastTags().includes("prompt:greet@2"));
    fake.script({ kind: "text", text: "ok" });
    await openai.chat.completions.create({ signalbox: { prompt: { id: "greet", version: "1", variables: { who: "Hal", place: "Bonn" } } } } as never);
    assert.deepEqual(sent(fake), ["system: You greet Hal warmly.", "user: Say hi to Hal from Bonn."]);
    // Errors name the field; nothing reaches the provider.
    const before = fake.requests.length;
    const bad = await anthropic.messages.create({ model: "default", max_tokens: 10, messages: [{ role: "user", content: "x" }], signalbox: { prompt: { id: "greet", version: "1", variables: { who: "x" } } } } as never).catch((e) => e);
    assert.equal(bad.status, 400);
    assert.match((bad.error as { error: { message: string } }).error.message, /^signalbox\.prompt\.variables\.place: is required by prompt "greet"/);
    const unknown = await fetch(`${t.url}/v1beta/models/default:generateContent`, {
      method: "POST",
      headers: { "x-goog-api-key": SERVICE_A, "content-type": "application/json" },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "x" }] }], signalbox: { prompt: { id: "nope" } } }),
    });
    assert.equal(unknown.status, 400);
    assert.match(JSON.stringify(await unknown.json()), /signalbox\.prompt\.id: no prompt \\"nope\\"/);
    const both = await openai.chat.completions.create({ prompt_id: "greet", signalbox: { prompt: { id: "greet" } }, messages: [{ role: "user", content: "x" }] } as never).catch((e) => e);
    assert.equal(both.status, 400);
    assert.equal(both.param, "signalbox.prompt");
    assert.equal(fake.requests.length, before);
  });

  test("Connect: ChatRequest.prompt with no model; Route plans the same; errors name the caller's own message", async () => {
    const sb = createSignalboxClient({ baseUrl: t.url, apiKey: SERVICE_A });
    fake.script({ kind: "text", text: "ok" });
    const res = await sb.chat.complete({ model: "", messages: [], prompt: { id: "greet", variables: { who: "Di", place: "Lima" } } });
    assert.equal(res.deployment, "openai/gpt-4o");
    assert.deepEqual(sent(fake), ["system: You greet Di warmly.", "user: Say hi to Di from Lima."]);
    const route = await sb.route.route({ messages: [userText("x")], prompt: { id: "greet", version: "2", variables: { who: "Di" } } });
    assert.equal(route.candidates[0].deployment, "openai/gpt-4o-mini");
    await assert.rejects(
      sb.chat.complete({ messages: [userText("ok"), { role: Role.TOOL, content: [{ part: { case: "text", value: "result" } }] }], prompt: { id: "greet", variables: { who: "Di", place: "Lima" } } }),
      (e: any) => e.code === Code.InvalidArgument && /^messages\[1\]/.test(e.rawMessage) && !/messages\[3\]/.test(e.rawMessage),
    );
  });

  test("a version's model parameters apply where the request sets none of its own, at every door", async () => {
    const made = await admin.prompts.createPromptVersion({ promptId: "tuned", model: "default", instructions: "Classify {{x}}.", parameters: { temperature: 0.2, maxOutputTokens: 77, stop: ["END"], reasoningEffort: "" } });
    assert.equal(made.version?.parameters?.temperature, 0.2);
    assert.equal((await admin.prompts.getPrompt({ promptId: "tuned" })).versions[0].parameters?.maxOutputTokens, 77);
    const body = () => fake.requests.filter((r) => r.path.endsWith("/chat/completions")).at(-1)!.body as Record<string, unknown>;
    const maxOf = (b: Record<string, unknown>) => b.max_completion_tokens ?? b.max_tokens;
    fake.script({ kind: "text", text: "a" });
    await openai.chat.completions.create({ prompt_id: "tuned", prompt_variables: { x: "this" } } as never);
    assert.deepEqual([body().temperature, maxOf(body()), body().stop], [0.2, 77, ["END"]]);
    fake.script({ kind: "text", text: "a" });
    await openai.chat.completions.create({ prompt_id: "tuned", prompt_variables: { x: "this" }, temperature: 1, max_tokens: 5 } as never);
    assert.deepEqual([body().temperature, maxOf(body()), body().stop], [1, 5, ["END"]], "the request's own win");
    fake.script({ kind: "text", text: "a" });
    await openai.responses.create({ prompt: { id: "tuned", variables: { x: "that" } } } as never);
    assert.deepEqual([body().temperature, maxOf(body())], [0.2, 77]);
    const sb = createSignalboxClient({ baseUrl: t.url, apiKey: SERVICE_A });
    fake.script({ kind: "text", text: "a" });
    await sb.chat.complete({ prompt: { id: "tuned", variables: { x: "it" } } });
    assert.deepEqual([body().temperature, maxOf(body())], [0.2, 77]);
    await assert.rejects(admin.prompts.createPromptVersion({ promptId: "tuned", instructions: "x", parameters: { temperature: 3 } }), (e: any) => /parameters\.temperature/.test(e.rawMessage));
    await assert.rejects(admin.prompts.createPromptVersion({ promptId: "tuned", instructions: "x", parameters: { reasoningEffort: "max" } }), (e: any) => /parameters\.reasoning_effort/.test(e.rawMessage));
    await admin.prompts.deletePrompt({ promptId: "tuned" });
  });

  test("bad references are 400s naming the field, and nothing reaches the provider", async () => {
    const before = fake.requests.length;
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ prompt_id: "nope", messages: [{ role: "user", content: "x" }] }, "prompt_id", /no prompt "nope"/],
      [{ prompt_id: "greet", prompt_variables: { who: "x" } }, "prompt_variables.place", /required by prompt "greet" version "1"/],
      [{ prompt_id: "greet", prompt_variables: { who: "x", place: "y", extra: "z" } }, "prompt_variables.extra", /not a variable/],
      [{ prompt_id: "greet", prompt_version: "9", prompt_variables: {} }, "prompt_version", /no version or label "9" \(versions "1", "2"; labels "production", "staging"\)/],
      [{ prompt_version: "1", model: "default", messages: [{ role: "user", content: "x" }] }, "prompt_version", /needs prompt_id/],
    ];
    for (const [body, param, message] of cases) {
      await assert.rejects(openai.chat.completions.create(body as never), (e: any) => e.status === 400 && e.param === param && message.test(e.message), param);
    }
    await assert.rejects(openai.responses.create({ prompt: { id: "greet", variables: { who: 1, place: "y" } } } as never), (e: any) => e.status === 400 && e.param === "prompt.variables.who");
    assert.equal(fake.requests.length, before);
  });

  test("who may do what: teams own their prompts, service keys read, config prompts are read-only, admins see all", async () => {
    const teamA = createSignalboxClient({ baseUrl: t.url, apiKey: TEAM_A }).prompts;
    const teamB = createSignalboxClient({ baseUrl: t.url, apiKey: TEAM_B }).prompts;
    const svcA = createSignalboxClient({ baseUrl: t.url, apiKey: SERVICE_A }).prompts;
    const mine = await teamA.createPromptVersion({ promptId: "a-only", instructions: "Team A's {{x}}" });
    assert.equal(mine.prompt?.team, "a");
    await assert.rejects(teamA.createPromptVersion({ promptId: "a-for-b", instructions: "x", team: "b" }), (e: any) => e.code === Code.PermissionDenied);
    await assert.rejects(svcA.createPromptVersion({ promptId: "svc", instructions: "x" }), (e: any) => e.code === Code.PermissionDenied);
    await assert.rejects(teamB.setPromptLabel({ promptId: "greet", label: "production", version: "2" }), (e: any) => e.code === Code.PermissionDenied, "a shared prompt is an admin's");
    await assert.rejects(admin.prompts.createPromptVersion({ promptId: "cfg", instructions: "x" }), (e: any) => e.code === Code.FailedPrecondition && /config file/.test(e.rawMessage));
    await assert.rejects(admin.prompts.createPromptVersion({ promptId: "bad id!", instructions: "x" }), (e: any) => e.code === Code.InvalidArgument && /prompt_id/.test(e.rawMessage));
    await assert.rejects(admin.prompts.createPromptVersion({ promptId: "empty" }), (e: any) => e.code === Code.InvalidArgument && /instructions/.test(e.rawMessage));
    await assert.rejects(admin.prompts.createPromptVersion({ promptId: "x", instructions: "x", messages: [{ role: "robot", content: "x" }] }), (e: any) => /messages\[0\]\.role/.test(e.rawMessage));
    await assert.rejects(admin.prompts.createPromptVersion({ promptId: "x", instructions: "x", model: "gpt-9" }), (e: any) => /model: unknown route/.test(e.rawMessage));
    await assert.rejects(admin.prompts.setPromptLabel({ promptId: "greet", label: "latest", version: "1" }), (e: any) => /reserved/.test(e.rawMessage));
    await assert.rejects(admin.prompts.setPromptLabel({ promptId: "greet", label: "canary", version: "7" }), (e: any) => /no version "7"/.test(e.rawMessage));

    assert.deepEqual((await svcA.listPrompts({})).prompts.map((p) => p.promptId), ["a-only", "cfg", "greet"]);
    assert.deepEqual((await teamB.listPrompts({})).prompts.map((p) => p.promptId), ["cfg", "greet"], "another team's prompt is not listed");
    await assert.rejects(teamB.getPrompt({ promptId: "a-only" }), (e: any) => e.code === Code.NotFound);
    assert.deepEqual((await admin.prompts.listPrompts({ team: "a" })).prompts.map((p) => p.promptId), ["a-only"]);
    // Used in a request: team A's service key may, team B's key may not.
    fake.script({ kind: "text", text: "ok" });
    await openai.chat.completions.create({ model: "default", prompt_id: "a-only", prompt_variables: { x: "plan" } } as never);
    assert.deepEqual(sent(fake), ["system: Team A's plan"]);
    const asB = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: TEAM_B, maxRetries: 0 });
    await assert.rejects(asB.chat.completions.create({ model: "default", prompt_id: "a-only", prompt_variables: { x: "plan" } } as never), (e: any) => e.status === 400 && e.param === "prompt_id");

    await teamA.deletePrompt({ promptId: "a-only" });
    await assert.rejects(teamA.getPrompt({ promptId: "a-only" }), (e: any) => e.code === Code.NotFound);
    const audit = await admin.admin.listAuditEvents({ pageSize: 100 });
    const actions = audit.events.filter((e) => e.target.startsWith("prompt:")).map((e) => `${e.action} ${e.target} ${e.actor}`);
    assert.ok(actions.includes("prompt.create_version prompt:greet root"));
    assert.ok(actions.includes("prompt.label prompt:greet root"));
    assert.ok(actions.includes("prompt.create_version prompt:a-only team-a"));
    assert.ok(actions.includes("prompt.delete prompt:a-only team-a"));
  });
});

describe("prompts on PostgreSQL, two replicas", () => {
  let rig: Awaited<ReturnType<typeof startPostgresReplicas>>;
  let fake: FakeOpenAI;
  let A: TestGateway;
  let B: TestGateway;
  before(async () => {
    rig = await startPostgresReplicas("prompts", (openai, url) => yaml(openai, `store: { postgres_url: "${url}" }`));
    if (rig) [fake, [A, B]] = [rig.fake, rig.replicas];
  });
  after(async () => {
    if (rig) rig.replicas[1] = B;
    await rig?.close();
  });

  /** Polls `fn` on a replica until it holds (a change notice takes well under a second). */
  async function eventually(fn: () => Promise<boolean>, what: string) {
    const until = Date.now() + 2_000;
    while (!(await fn())) {
      if (Date.now() > until) assert.fail(`not within 2 s: ${what}`);
      await sleep(20);
    }
  }

  test("a version made on A serves requests on B; a label moved on B moves on A; both survive a restart", async (t) => {
    if (!rig) return t.skip("PostgreSQL binaries not installed");
    const onA = createSignalboxClient({ baseUrl: A.url, apiKey: ADMIN });
    const onB = () => createSignalboxClient({ baseUrl: B.url, apiKey: ADMIN });
    await onA.prompts.createPromptVersion({ promptId: "triage", model: "default", instructions: "Triage v1 for {{team}}", labels: ["production"] });
    await onA.prompts.createPromptVersion({ promptId: "triage", model: "default", instructions: "Triage v2 for {{team}}" });
    const bChat = () => new OpenAI({ baseURL: `${B.url}/v1`, apiKey: SERVICE_A, maxRetries: 0 });
    await eventually(async () => (await onB().prompts.getPrompt({ promptId: "triage" }).catch(() => undefined))?.prompt?.versionCount === 2, "B sees both versions");
    await bChat().chat.completions.create({ prompt_id: "triage", prompt_variables: { team: "search" } } as never);
    assert.deepEqual(sent(fake), ["system: Triage v1 for search"]);

    await onB().prompts.setPromptLabel({ promptId: "triage", label: "production", version: "2" });
    await eventually(async () => (await onA.prompts.getPrompt({ promptId: "triage" })).prompt?.labels.production === "2", "A sees the label move");
    const aChat = new OpenAI({ baseURL: `${A.url}/v1`, apiKey: SERVICE_A, maxRetries: 0 });
    await aChat.chat.completions.create({ prompt_id: "triage", prompt_variables: { team: "ads" } } as never);
    assert.deepEqual(sent(fake), ["system: Triage v2 for ads"]);

    // Concurrent versions from both replicas get distinct numbers.
    await Promise.all([onA.prompts.createPromptVersion({ promptId: "triage", instructions: "from A {{team}}" }), onB().prompts.createPromptVersion({ promptId: "triage", instructions: "from B {{team}}" })]);
    await eventually(async () => (await onA.prompts.getPrompt({ promptId: "triage" })).prompt?.versionCount === 4, "A sees B's version");
    const all = await onA.prompts.getPrompt({ promptId: "triage" });
    assert.deepEqual(all.versions.map((v) => v.version), ["4", "3", "2", "1"]);
    assert.deepEqual(new Set(all.versions.slice(0, 2).map((v) => v.instructions)), new Set(["from A {{team}}", "from B {{team}}"]));

    // A replica started afresh reads them from the store.
    await B.close();
    B = await startTestGateway(rig.config);
    const again = await onB().prompts.getPrompt({ promptId: "triage" });
    assert.equal(again.prompt?.labels.production, "2");
    assert.deepEqual(again.versions.map((v) => v.version), ["4", "3", "2", "1"]);
    await onB().prompts.deletePrompt({ promptId: "triage" });
    await eventually(async () => (await onA.prompts.listPrompts({})).prompts.every((p) => p.promptId !== "triage"), "A sees the delete");
  });
});
