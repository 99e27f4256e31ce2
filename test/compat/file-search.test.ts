// The Responses API's hosted file_search tool, run by the gateway on its own vector stores
// (src/vectors, src/compat/responses/mcp-loop.ts) for a model behind a real provider API (a fake
// OpenAI over HTTP, for the chat turns and the embeddings): the model is offered a file_search
// function, decides its queries, the gateway searches the request's stores and gives the results
// back, and the answer's `[name]` marks become file citations; unary and streamed; include
// file_search_call.results; tool_choice file_search; filters; errors naming their field with
// nothing sent to any model; another key's store unseen; the built-in mock model searching.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI, { toFile } from "openai";
import { Code, createSignalboxClient, SignalboxError, userText } from "@signalbox/client";
import { GoogleGenAI } from "@google/genai";
import { hashKey } from "../../src/server/auth.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["files", "caller", "secret"].join("-");
const OTHER = ["files", "other", "secret"].join("-");

const config = (openai: string, vectors = "vector_stores: { embedding: openai/embed }") => `
providers:
  - { name: openai, type: openai, base_url: ${openai}, api_key: ${OPENAI_TEST_KEY} }
  - { name: mock, type: mock }
deployments:
  - { id: openai/gpt-4o-mini, provider: openai, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
  - { id: openai/embed, provider: openai, model: text-embedding-3-small, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
  - { id: mock/chat, provider: mock, model: mock-chat, capabilities: [tools, streaming], pricing: { input: 1, output: 2 } }
aliases:
  mini: openai/gpt-4o-mini
keys:
  - { name: caller, hash: "${hashKey(KEY)}", team: docs }
  - { name: other, hash: "${hashKey(OTHER)}", team: elsewhere }
${vectors}
`;

type Msg = { role: string; content: string | { type: string; text: string }[] | null; tool_calls?: { id: string; function: { name: string; arguments: string } }[]; tool_call_id?: string };
const textOf = (m: Msg) => (typeof m.content === "string" ? m.content : (m.content ?? []).map((p) => p.text).join(""));
type ChatBody = { tools?: { function: { name: string; parameters: unknown } }[]; tool_choice?: unknown; messages: Msg[] };
const chats = (f: FakeOpenAI) => f.requests.filter((r) => r.path.endsWith("/chat/completions")).map((r) => r.body as ChatBody);
const embeddings = (f: FakeOpenAI) => f.requests.filter((r) => r.path.endsWith("/embeddings")).map((r) => r.body as { input: string[] });

const LEAVE = "# Leave policy\nEmployees get 25 days of paid leave a year. Leave requests go to your manager two weeks ahead.";
const TRAVEL = "# Travel\nTravel expenses are reimbursed within 30 days when the receipts are attached.";

describe("the file_search tool", () => {
  let openai: FakeOpenAI;
  let g: TestGateway;
  let store: string;
  const files: Record<string, string> = {};
  const sdk = (key = KEY) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: key, maxRetries: 0 });
  const searching = (...queries: string[]) => ({ kind: "tool_calls" as const, calls: [{ id: "call_fs", name: "file_search", arguments: { queries } }] });
  // The fake's script is one queue for every endpoint: the query's embedding takes the entry after the search.
  const embedded = { kind: "text" as const };

  before(async () => {
    openai = await startFakeOpenAI();
    g = await startTestGateway(config(openai.url));
    const vs = await sdk().vectorStores.create({ name: "handbook" });
    store = vs.id;
    for (const [name, text, attrs] of [["leave.md", LEAVE, { topic: "leave", year: 2026 }], ["travel.md", TRAVEL, { topic: "travel", year: 2025 }]] as const) {
      const f = await sdk().files.create({ file: await toFile(Buffer.from(text), name), purpose: "assistants" });
      files[name] = f.id;
      const added = await sdk().vectorStores.files.createAndPoll(store, { file_id: f.id, attributes: attrs }, { pollIntervalMs: 20 });
      assert.equal(added.status, "completed", JSON.stringify(added.last_error));
    }
  });
  after(async () => {
    await g.close();
    await openai.close();
  });
  beforeEach(() => openai.reset());

  test("the model decides its queries; the gateway searches the store and gives the results back; the answer's [name] is a file citation; every step accounted", async () => {
    const answer = "Employees get 25 days of paid leave a year [leave.md].";
    openai.script([searching("paid leave days"), embedded, { kind: "text", text: answer }]);
    const r = await sdk().responses.create({ model: "openai/gpt-4o-mini", input: "How much paid leave do I get?", tools: [{ type: "file_search", vector_store_ids: [store], max_num_results: 2 }] });
    assert.deepEqual(r.output.map((o) => o.type), ["file_search_call", "message"]);
    const call = r.output[0] as OpenAI.Responses.ResponseFileSearchToolCall;
    assert.equal(call.status, "completed");
    assert.deepEqual(call.queries, ["paid leave days"]);
    assert.equal(call.results, null, "results only with include file_search_call.results");
    const part = (r.output[1] as OpenAI.Responses.ResponseOutputMessage).content[0] as OpenAI.Responses.ResponseOutputText;
    assert.equal(part.text, answer);
    assert.deepEqual(part.annotations, [{ type: "file_citation", file_id: files["leave.md"], filename: "leave.md", index: answer.indexOf("[leave.md]") + "[leave.md]".length }]);
    assert.equal(r.output_text, answer);
    assert.deepEqual(r.tools, [{ type: "file_search", vector_store_ids: [store], max_num_results: 2, filters: null, ranking_options: { ranker: "auto", score_threshold: 0 } }]);

    // What the model was sent: the function with its queries, then the call's results with the file's text, best first.
    const [decide, answered] = chats(openai);
    assert.deepEqual(decide.tools!.map((t) => t.function.name), ["file_search"]);
    assert.deepEqual((decide.tools![0].function.parameters as { required: string[] }).required, ["queries"]);
    assert.deepEqual(answered.messages.map((m) => m.role), ["user", "assistant", "tool"]);
    assert.equal(answered.messages[1].tool_calls![0].function.name, "file_search");
    assert.equal(answered.messages[2].tool_call_id, "call_fs");
    const results = textOf(answered.messages[2]);
    assert.match(results, /Cite a file you use by its name in square brackets/);
    assert.ok(results.indexOf(`[1] leave.md (${files["leave.md"]}`) >= 0, results);
    assert.ok(results.includes("25 days of paid leave"), results);
    // The query was embedded by the store's embedding deployment, over its provider's API.
    assert.deepEqual(embeddings(openai).map((b) => b.input), [["paid leave days"]]);

    // Accounting: two model turns, the query's embedding as the caller's request tagged vector_store; the response's cost counts it.
    const sb = (r as unknown as { signalbox: { cost_nano_usd: number; file_search_cost_nano_usd: number; trace_id: string } }).signalbox;
    assert.ok(sb.file_search_cost_nano_usd > 0);
    const recs = g.usage.recent();
    const embed = recs.filter((x) => x.tags.includes("vector_store") && x.metadata["signalbox.vector_store_id"] === store && x.deployment === "openai/embed");
    assert.ok(embed.length >= 3, "two files indexed and one query embedded");
    assert.ok(embed.every((x) => x.key === "caller" && x.team === "docs"));
    const turns = recs.filter((x) => x.deployment === "openai/gpt-4o-mini");
    assert.equal(sb.cost_nano_usd, turns.slice(-2).reduce((n, x) => n + x.cost.total, 0) + sb.file_search_cost_nano_usd);
  });

  test("include file_search_call.results; the tool's filters keep to the files' attributes; tool_choice file_search forces the first turn only", async () => {
    openai.script([searching("expenses"), embedded, { kind: "text", text: "See [travel.md]." }]);
    const r = await sdk().responses.create({
      model: "openai/gpt-4o-mini",
      input: "What about money?",
      tools: [{ type: "file_search", vector_store_ids: [store], filters: { type: "eq", key: "topic", value: "travel" } }],
      include: ["file_search_call.results"],
      tool_choice: { type: "file_search" },
    });
    const call = r.output[0] as OpenAI.Responses.ResponseFileSearchToolCall;
    assert.deepEqual(call.results!.map((x) => [x.file_id, x.filename, x.attributes]), [[files["travel.md"], "travel.md", { topic: "travel", year: 2025 }]]);
    assert.equal(call.results![0].text, TRAVEL);
    assert.ok(call.results![0].score! > 0 && call.results![0].score! <= 1);
    const [decide, answered] = chats(openai);
    assert.deepEqual(decide.tool_choice, { type: "function", function: { name: "file_search" } });
    assert.notDeepEqual(answered.tool_choice, decide.tool_choice, "the next turn may answer");
    assert.deepEqual(r.tool_choice, { type: "file_search" });
  });

  test("streamed: the call's events (in progress, searching, completed), then the answer's text and its file citation", async () => {
    const answer = "Twenty-five days [leave.md].";
    openai.script([searching("leave"), embedded, { kind: "text", text: ["Twenty-five ", "days ", "[leave.md]."] }]);
    const stream = await sdk().responses.create({ model: "openai/gpt-4o-mini", input: "Leave?", tools: [{ type: "file_search", vector_store_ids: [store] }], stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    const types = events.map((e) => e.type);
    const at = (t: string) => types.indexOf(t as OpenAI.Responses.ResponseStreamEvent["type"]);
    assert.ok(at("response.file_search_call.in_progress") > 0);
    assert.ok(at("response.file_search_call.in_progress") < at("response.file_search_call.searching"));
    assert.ok(at("response.file_search_call.searching") < at("response.file_search_call.completed"));
    assert.ok(at("response.file_search_call.completed") < at("response.output_text.delta"));
    const added = events.find((e) => e.type === "response.output_text.annotation.added") as OpenAI.Responses.ResponseOutputTextAnnotationAddedEvent;
    assert.deepEqual(added.annotation, { type: "file_citation", file_id: files["leave.md"], filename: "leave.md", index: answer.length - 1 });
    const done = events.find((e) => e.type === "response.completed") as OpenAI.Responses.ResponseCompletedEvent;
    assert.deepEqual(done.response.output.map((o) => o.type), ["file_search_call", "message"]);
    assert.deepEqual((done.response.output[0] as OpenAI.Responses.ResponseFileSearchToolCall).queries, ["leave"]);
    assert.equal(((done.response.output[1] as OpenAI.Responses.ResponseOutputMessage).content[0] as OpenAI.Responses.ResponseOutputText).text, answer);
    assert.deepEqual(new Set(events.map((e) => e.sequence_number)).size, events.length, "one sequence across the turns");
  });

  test("/metrics counts the searches by door, their passages and the files indexed", async () => {
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    const value = (line: RegExp) => Number(metrics.split("\n").find((l) => line.test(l))?.split(" ").at(-1) ?? NaN);
    assert.ok(value(/^signalbox_vector_store_searches_total\{via="file_search",outcome="ok"\}/) >= 1, metrics.split("\n").filter((l) => l.includes("vector_store")).join("\n"));
    assert.ok(value(/^signalbox_vector_store_search_results_total\{via="file_search"\}/) >= 1);
    assert.ok(value(/^signalbox_vector_store_search_duration_seconds_count\{via="file_search"\}/) >= 1);
    assert.equal(value(/^signalbox_vector_store_files_total\{outcome="completed"\}/), 2);
    assert.ok(value(/^signalbox_vector_store_chunks_total/) >= 2);
  });

  test("a stored response with a file search continues with previous_response_id: the earlier answer is there, the search is not replayed", async () => {
    openai.script([searching("leave"), embedded, { kind: "text", text: "25 days [leave.md]." }]);
    const first = await sdk().responses.create({ model: "openai/gpt-4o-mini", input: "How much leave?", tools: [{ type: "file_search", vector_store_ids: [store] }] });
    assert.deepEqual(first.output.map((o) => o.type), ["file_search_call", "message"]);
    openai.script({ kind: "text", text: "Yes, every year." });
    const next = await sdk().responses.create({ model: "openai/gpt-4o-mini", previous_response_id: first.id, input: "Every year?", tools: [{ type: "file_search", vector_store_ids: [store] }] });
    assert.equal(next.output_text, "Yes, every year.");
    const sent = chats(openai).at(-1)!;
    // The earlier turn's question and answer; its file_search_call item is accepted and not replayed.
    assert.deepEqual(sent.messages.map((m) => m.role), ["user", "assistant", "user"]);
    assert.equal(textOf(sent.messages[1]), "25 days [leave.md].");
  });

  test("a model that answers without searching: no file_search_call, nothing embedded", async () => {
    openai.script({ kind: "text", text: "Hello." });
    const r = await sdk().responses.create({ model: "openai/gpt-4o-mini", input: "Say hello", tools: [{ type: "file_search", vector_store_ids: [store] }] });
    assert.deepEqual(r.output.map((o) => o.type), ["message"]);
    assert.equal(embeddings(openai).length, 0);
    assert.equal((r as unknown as { signalbox: { file_search_cost_nano_usd: number } }).signalbox.file_search_cost_nano_usd, 0);
  });

  test("the built-in mock model searches with the user's words and cites the first file", async () => {
    const r = await sdk().responses.create({ model: "mock/chat", input: "paid leave policy", tools: [{ type: "file_search", vector_store_ids: [store] }], include: ["file_search_call.results"] });
    assert.deepEqual(r.output.map((o) => o.type), ["file_search_call", "message"]);
    const first = (r.output[0] as OpenAI.Responses.ResponseFileSearchToolCall).results![0];
    assert.equal(first.filename, "leave.md");
    const part = (r.output[1] as OpenAI.Responses.ResponseOutputMessage).content[0] as OpenAI.Responses.ResponseOutputText;
    assert.match(part.text, /\[leave\.md\]/);
    assert.equal((part.annotations[0] as { type: string }).type, "file_citation");
  });

  test("bad tools and stores are refused naming the field, and no model is called", async () => {
    const cases: [Record<string, unknown>, string, number][] = [
      [{ tools: [{ type: "file_search", vector_store_ids: ["vs_nope"] }] }, "tools[0].vector_store_ids[0]", 404],
      [{ tools: [{ type: "file_search", vector_store_ids: [] }] }, "tools[0].vector_store_ids", 400],
      [{ tools: [{ type: "file_search", vector_store_ids: [store], max_num_results: 51 }] }, "tools[0].max_num_results", 400],
      [{ tools: [{ type: "file_search", vector_store_ids: [store], filters: { type: "like", key: "a", value: "b" } }] }, "tools[0].filters.type", 400],
      [{ tools: [{ type: "file_search", vector_store_ids: [store], ranking_options: { score_threshold: 2 } }] }, "tools[0].ranking_options.score_threshold", 400],
      [{ tools: [{ type: "file_search", vector_store_ids: [store], extra: 1 }] }, "tools[0].extra", 400],
      [{ tools: [{ type: "file_search", vector_store_ids: [store] }, { type: "function", name: "file_search" }] }, "tools", 400],
      [{ tools: [{ type: "function", name: "f" }], tool_choice: { type: "file_search" } }, "tool_choice.type", 400],
      [{ tools: [{ type: "file_search", vector_store_ids: [store] }], background: true }, "background", 400],
    ];
    for (const [body, param, status] of cases) {
      const err = await sdk()
        .responses.create({ model: "openai/gpt-4o-mini", input: "Hi", ...body } as unknown as OpenAI.Responses.ResponseCreateParamsNonStreaming)
        .catch((e: unknown) => e);
      assert.ok(err instanceof OpenAI.APIError, `${param}: ${String(err)}`);
      assert.equal(err.status, status, `${param}: ${err.message}`);
      assert.equal((err.error as { param?: string }).param, param, err.message);
    }
    // Another team's key cannot use the store (nor learn that it exists).
    const err = await sdk(OTHER)
      .responses.create({ model: "openai/gpt-4o-mini", input: "Hi", tools: [{ type: "file_search", vector_store_ids: [store] }] })
      .catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.NotFoundError);
    assert.equal(chats(openai).length, 0, "nothing reached a model");
  });

  test("a batch's /v1/responses line with the file_search tool is that line's 400, naming the tool", async () => {
    const line = { custom_id: "fs", method: "POST", url: "/v1/responses", body: { model: "openai/gpt-4o-mini", input: "Hi", tools: [{ type: "file_search", vector_store_ids: [store] }] } };
    const input = await sdk().files.create({ file: await toFile(Buffer.from(JSON.stringify(line)), "in.jsonl"), purpose: "batch" });
    let b = await sdk().batches.create({ input_file_id: input.id, endpoint: "/v1/responses", completion_window: "24h" });
    for (let i = 0; i < 200 && b.status !== "completed"; i++) {
      await new Promise((r) => setTimeout(r, 20));
      b = await sdk().batches.retrieve(b.id);
    }
    assert.equal(b.status, "completed");
    const err = JSON.parse((await (await sdk().files.content(b.error_file_id!)).text()).trim()) as { response: { status_code: number; body: { error: { param: string } } } };
    assert.equal(err.response.status_code, 400);
    assert.equal(err.response.body.error.param, "tools[0].type");
    assert.equal(chats(openai).length, 0);
  });

  test("Chat Completions' file_search tool (as LiteLLM takes it): the passages before the last user message, the answer's signalbox.file_search says what was found; streamed too", async () => {
    openai.script([embedded, { kind: "text", text: "25 days [leave.md]." }]);
    const r = await sdk().chat.completions.create({
      model: "openai/gpt-4o-mini",
      messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "How many days of paid leave?" }],
      tools: [{ type: "file_search", vector_store_ids: [store], max_num_results: 1 }] as never,
    });
    assert.equal(r.choices[0].message.content, "25 days [leave.md].");
    const sent = chats(openai).at(-1)!;
    assert.equal(sent.tools, undefined, "the tool is the gateway's: nothing of it reaches the provider");
    assert.deepEqual(sent.messages.map((m) => m.role), ["system", "system", "user"]);
    const passages = textOf(sent.messages[1]);
    assert.match(passages, /^Passages from the user's files/);
    assert.match(passages, new RegExp(`\\[1\\] leave\\.md \\(${files["leave.md"]}, score [0-9.]+\\)\n# Leave policy`));
    assert.ok(!passages.includes("travel.md"), "max_num_results 1");
    assert.deepEqual(embeddings(openai).at(-1)!.input, ["How many days of paid leave?"]);
    const sb = (r as unknown as { signalbox: { file_search: { query: string; results: { file_id: string; filename: string; score: number }[]; cost_nano_usd: number }; adjustments: { field: string }[] } }).signalbox;
    assert.equal(sb.file_search.query, "How many days of paid leave?");
    assert.deepEqual(sb.file_search.results.map((x) => [x.file_id, x.filename]), [[files["leave.md"], "leave.md"]]);
    assert.ok(sb.file_search.cost_nano_usd > 0);
    assert.ok(sb.adjustments.some((a) => a.field === "file_search"));

    openai.script([embedded, { kind: "text", text: ["Travel ", "is reimbursed [travel.md]."] }]);
    const stream = await sdk().chat.completions.create({
      model: "openai/gpt-4o-mini",
      messages: [{ role: "user", content: "expenses reimbursed?" }],
      tools: [{ type: "file_search", vector_store_ids: [store], filters: { type: "eq", key: "topic", value: "travel" } }] as never,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let last: unknown;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? "";
      last = c;
    }
    assert.equal(text, "Travel is reimbursed [travel.md].");
    assert.deepEqual((last as { signalbox: { file_search: { results: { filename: string }[] } } }).signalbox.file_search.results.map((x) => x.filename), ["travel.md"]);
    // Unknown stores and a second tool are refused naming the field; nothing reaches the model.
    openai.reset();
    for (const [tools, param, status] of [
      [[{ type: "file_search", vector_store_ids: ["vs_nope"] }], "tools[0].vector_store_ids[0]", 404],
      [[{ type: "file_search", vector_store_ids: [store] }, { type: "file_search", vector_store_ids: [store] }], "tools[1].type", 400],
      [[{ type: "file_search", vector_store_ids: [store], max_num_results: 0 }], "tools[0].max_num_results", 400],
    ] as const) {
      const err = await sdk().chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }], tools: tools as never }).catch((e: unknown) => e);
      assert.ok(err instanceof OpenAI.APIError, String(err));
      assert.equal(err.status, status, err.message);
      assert.equal((err.error as { param?: string }).param, param, err.message);
    }
    assert.equal(chats(openai).length, 0);
    // The built-in mock model cites the first passage's file.
    const m = await sdk().chat.completions.create({ model: "mock/chat", messages: [{ role: "user", content: "leave policy" }], tools: [{ type: "file_search", vector_store_ids: [store] }] as never });
    assert.match(m.choices[0].message.content!, /Source: \[leave\.md\]/);
  });

  test("Connect's ChatRequest.file_search: the passages before the question; file_passages on the answer and on a stream's start; bad fields named", async () => {
    const client = createSignalboxClient({ baseUrl: g.url, apiKey: KEY });
    openai.script([embedded, { kind: "text", text: "Twenty-five [leave.md]." }]);
    const r = await client.chat.complete({ model: "openai/gpt-4o-mini", messages: [userText("paid leave days")], fileSearch: { vectorStoreIds: [store], maxResults: 1, filters: { type: "eq", key: "topic", value: "leave" } } });
    assert.equal(r.message?.content.map((p) => (p.part.case === "text" ? p.part.value : "")).join(""), "Twenty-five [leave.md].");
    assert.deepEqual(r.filePassages.map((p) => [p.fileId, p.filename, p.attributes]), [[files["leave.md"], "leave.md", { topic: "leave", year: 2026 }]]);
    assert.equal(r.filePassages[0].text, LEAVE);
    assert.match(textOf(chats(openai).at(-1)!.messages[0]), /^Passages from the user's files/);
    openai.script([embedded, { kind: "text", text: "ok" }]);
    let start: unknown;
    for await (const ev of client.chat.stream({ model: "openai/gpt-4o-mini", messages: [userText("travel")], fileSearch: { vectorStoreIds: [store], semanticOnly: true } })) {
      if (ev.event.case === "start") start = ev.event.value;
    }
    assert.ok((start as { filePassages: { filename: string }[] }).filePassages.length >= 1);
    openai.reset();
    await assert.rejects(client.chat.complete({ model: "openai/gpt-4o-mini", messages: [userText("x")], fileSearch: { vectorStoreIds: [] } }), (e: SignalboxError) => e.code === Code.InvalidArgument && e.field === "file_search.vector_store_ids");
    await assert.rejects(client.chat.complete({ model: "openai/gpt-4o-mini", messages: [userText("x")], fileSearch: { vectorStoreIds: ["vs_nope"] } }), (e: SignalboxError) => e.code === Code.NotFound && e.field === "file_search.vector_store_ids[0]");
    await assert.rejects(client.chat.complete({ model: "openai/gpt-4o-mini", messages: [userText("x")], fileSearch: { vectorStoreIds: [store], filters: { type: "like" } } }), (e: SignalboxError) => e.code === Code.InvalidArgument && e.field === "file_search.filters.type");
    assert.equal(chats(openai).length, 0);
  });

  test("Gemini's fileSearch tool names the gateway's stores (fileSearchStores/vs_…): passages before the question, the grounding's retrieved context, streamed too", async () => {
    const ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: g.url, apiVersion: "v1beta" } });
    const params = { model: "mini", contents: "How many days of paid leave?", config: { tools: [{ fileSearch: { fileSearchStoreNames: [`fileSearchStores/${store}`], topK: 1 } }] } };
    openai.script([embedded, { kind: "text", text: "25 days." }]);
    const r = await ai.models.generateContent(params);
    assert.equal(r.text, "25 days.");
    const chunks = r.candidates![0].groundingMetadata!.groundingChunks!;
    assert.deepEqual(chunks.map((c) => [c.retrievedContext?.title, c.retrievedContext?.fileSearchStore]), [["leave.md", `fileSearchStores/${store}`]]);
    assert.equal(chunks[0].retrievedContext!.text, LEAVE);
    assert.match(textOf(chats(openai).at(-1)!.messages[0]), /^Passages from the user's files[\s\S]*leave\.md/);
    openai.script([embedded, { kind: "text", text: "25 days." }]);
    let last: typeof r | undefined;
    for await (const c of await ai.models.generateContentStream(params)) last = c;
    assert.equal(last!.candidates![0].groundingMetadata!.groundingChunks![0].retrievedContext!.title, "leave.md");
    // A metadata filter (AIP-160) over the files' attributes: only travel.md may be found.
    openai.script([embedded, { kind: "text", text: "Within 30 days." }]);
    const filtered = await ai.models.generateContent({ ...params, config: { tools: [{ fileSearch: { fileSearchStoreNames: [store], topK: 5, metadataFilter: 'topic = "travel" AND year >= 2025' } }] } });
    assert.deepEqual(filtered.candidates![0].groundingMetadata!.groundingChunks!.map((c) => c.retrievedContext?.title), ["travel.md"]);
    // A filter outside AIP-160's comparisons is refused by name, nothing sent.
    openai.reset();
    await assert.rejects(ai.models.generateContent({ ...params, config: { tools: [{ fileSearch: { fileSearchStoreNames: [store], metadataFilter: 'NOT topic = "leave"' } }] } }), /tools\[0\]\.file_search\.metadata_filter: \\"NOT\\" at 1/);
    await assert.rejects(ai.models.generateContent({ ...params, config: { tools: [{ fileSearch: { fileSearchStoreNames: ["fileSearchStores/vs_nope"] } }] } }), /tools\[0\]\.file_search\.vector_store_ids\[0\]/);
    assert.equal(chats(openai).length, 0);
  });

  test("a gateway without vector_stores refuses the tool naming it", async () => {
    const bare = await startTestGateway(config(openai.url, ""));
    try {
      const client = new OpenAI({ baseURL: `${bare.url}/v1`, apiKey: KEY, maxRetries: 0 });
      const err = await client.responses.create({ model: "openai/gpt-4o-mini", input: "Hi", tools: [{ type: "file_search", vector_store_ids: ["vs_1"] }] }).catch((e: unknown) => e);
      assert.ok(err instanceof OpenAI.BadRequestError, String(err));
      assert.equal((err.error as { param?: string }).param, "tools[0].type");
      assert.match(err.message, /vector_stores/);
      assert.equal(chats(openai).length, 0);
    } finally {
      await bare.close();
    }
  });
});
