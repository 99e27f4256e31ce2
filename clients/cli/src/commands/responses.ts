// `signalbox response <id>` (and `response cancel|delete`) and `signalbox conversation <id>` (and
// `conversation delete`): the gateway's stored Responses API responses and OpenAI's Conversations
// API (REST: GET /v1/responses/{id}, /v1/responses/{id}/input_items, /v1/conversations/{id},
// /v1/conversations/{id}/items; see rest.ts). A response shows its facts, then its turn: every input
// item, then its output; a conversation its facts and every item in order. A request id (req_…, as
// `signalbox requests` lists them) names the response it answered (resp_…).

import type { Command } from "commander";
import { failure, globals, modeOf, traceLink } from "../context.ts";
import { count, dollars, unixTime } from "../format.ts";
import { fields, json, note, out, section, waiting } from "../output.ts";
import { type Rest, restOf } from "../rest.ts";
import { parseCount } from "../parse.ts";

/** The largest list page the input_items and items endpoints give. */
const LIST_PAGE = 100;
/** How much of each item's text is shown without --full. */
const CLIP = 2000;

const RESPONSE_HINTS = {
  not_found: "check the id: a response is kept unless it was made with store: false, until it expires or is deleted, and a key sees only its own (or its team's); `signalbox requests` lists request ids (req_…), which name their responses",
};
const CONVERSATION_HINTS = {
  not_found: "check the id: a conversation (conv_…) is kept until it is deleted, and a key sees only its own (or its team's); a response's CONVERSATION shows the one it belongs to",
};

// ── what the API shows ─────────────────────────────────────────────────────────────────────────

interface Part {
  type: string;
  text?: string;
  refusal?: string;
  filename?: string;
  image_url?: string;
}

/** An input, output or conversation item (the kinds this shows; others by their type). */
export interface Item {
  id?: string;
  type: string;
  role?: string;
  content?: string | Part[] | null;
  name?: string;
  arguments?: string;
  call_id?: string;
  output?: string | Part[];
  summary?: { text: string }[];
}

export interface StoredResponse {
  id: string;
  object: "response";
  created_at: number;
  status: string;
  model: string;
  output: Item[];
  usage?: { input_tokens: number; output_tokens: number; input_tokens_details?: { cached_tokens?: number } | null; output_tokens_details?: { reasoning_tokens?: number } | null } | null;
  previous_response_id?: string | null;
  conversation?: { id: string } | null;
  background?: boolean | null;
  error?: { code?: string | null; message?: string | null } | null;
  incomplete_details?: { reason?: string } | null;
  signalbox?: { deployment?: string; cost_nano_usd?: number; trace_id?: string } | null;
}

export interface Conversation {
  id: string;
  object: "conversation";
  created_at: number;
  metadata?: Record<string, string> | null;
  signalbox?: { responses?: number; input_tokens?: number; output_tokens?: number; cost_nano_usd?: number } | null;
}

interface ItemList {
  object: "list";
  data: Item[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

// ── how they read ──────────────────────────────────────────────────────────────────────────────

/** A request id names the response it answered: req_XYZ → resp_XYZ. */
export const responseIdOf = (id: string) => (id.startsWith("req_") ? `resp_${id.slice("req_".length)}` : id);

const responsePath = (id: string) => `/v1/responses/${encodeURIComponent(id)}`;
const conversationPath = (id: string) => `/v1/conversations/${encodeURIComponent(id)}`;

function clip(text: string, full: boolean): string {
  const chars = [...text];
  if (full || chars.length <= CLIP) return text;
  return `${chars.slice(0, CLIP).join("")}… (${count(chars.length - CLIP)} more characters; --full shows them)`;
}

/** A part as text: its text, a refusal, or what it is ([image], [file name.pdf]). */
function partText(p: Part): string {
  if (typeof p.text === "string") return p.text;
  if (p.type === "refusal") return `[refused] ${p.refusal ?? ""}`;
  if (p.type === "input_image") return "[image]";
  if (p.type === "input_file") return `[file${p.filename ? ` ${p.filename}` : ""}]`;
  return `[${p.type}]`;
}

const contentText = (c: string | Part[] | null | undefined) => (typeof c === "string" ? c : (c ?? []).map(partText).join("\n"));

/** "label: text", the text's further lines indented, so each item is a block of its own. */
const block = (label: string, text: string) => `${label}${text.replace(/\n/g, "\n  ")}`;

/** One item as a line block: `user: …`, `assistant: …`, `call name(args)`, `result: …`, `reasoning: …`. */
export function itemText(it: Item, full: boolean): string {
  switch (it.type) {
    case "message":
      return block(`${it.role ?? "assistant"}: `, clip(contentText(it.content), full));
    case "function_call":
      return block("call ", clip(`${it.name ?? ""}(${it.arguments ?? ""})`, full));
    case "function_call_output":
      return block("result: ", clip(contentText(it.output), full));
    case "reasoning":
      return block("reasoning: ", clip((it.summary ?? []).map((s) => s.text).join("\n"), full));
    case "item_reference":
      return `[item ${it.id ?? ""}]`;
    default:
      return `[${it.type}${it.id ? ` ${it.id}` : ""}]`;
  }
}

const itemsText = (items: Item[], full: boolean) => items.map((it) => `${itemText(it, full)}\n`).join("");

function tokensText(u: StoredResponse["usage"]): string {
  if (!u) return "";
  const cached = u.input_tokens_details?.cached_tokens ?? 0;
  const reasoning = u.output_tokens_details?.reasoning_tokens ?? 0;
  return `${count(u.input_tokens)} in, ${count(u.output_tokens)} out` + (cached || reasoning ? ` (cached ${count(cached)}, reasoning ${count(reasoning)})` : "");
}

const costNano = (n: number | undefined) => BigInt(Math.round(n ?? 0));

/** A response's facts as "NAME  value" lines, then its turn: the input items, then the output. */
export function describeResponse(r: StoredResponse, input: Item[], full: boolean): string {
  const head = fields([
    ["ID", r.id],
    ["STATUS", r.status + (r.incomplete_details?.reason ? ` (${r.incomplete_details.reason})` : "")],
    ["MODEL", r.model],
    ["DEPLOYMENT", r.signalbox?.deployment ?? ""],
    ["TOKENS", tokensText(r.usage)],
    ["COST", r.signalbox ? dollars(costNano(r.signalbox.cost_nano_usd)) : ""],
    ["CREATED", unixTime(r.created_at)],
    ["PREVIOUS", r.previous_response_id ?? ""],
    ["CONVERSATION", r.conversation?.id ?? ""],
    ["BACKGROUND", r.background ? "yes" : ""],
    ["ERROR", r.error ? `${r.error.code ?? "error"}${r.error.message ? `: ${r.error.message}` : ""}` : ""],
    ["TRACE", r.signalbox?.trace_id ? traceLink(r.signalbox.trace_id) : ""],
  ]);
  const turn = itemsText([...input, ...(r.output ?? [])], full);
  return `${head}\n${section("TURN")}${turn || "(no items)\n"}`;
}

/** A conversation's facts as "NAME  value" lines, then every item in order. */
export function describeConversation(c: Conversation, items: Item[], full: boolean): string {
  const s = c.signalbox ?? {};
  const head = fields([
    ["ID", c.id],
    ["CREATED", unixTime(c.created_at)],
    ["RESPONSES", count(s.responses ?? 0)],
    ["TOKENS", `${count(s.input_tokens ?? 0)} in, ${count(s.output_tokens ?? 0)} out`],
    ["COST", dollars(costNano(s.cost_nano_usd))],
    ...Object.entries(c.metadata ?? {}).map(([k, v]): [string, string] => [`META ${k}`, v]),
  ]);
  return `${head}\n${section("ITEMS")}${itemsText(items, full) || "(no items)\n"}`;
}

// ── calls ──────────────────────────────────────────────────────────────────────────────────────

/** Every item of a list endpoint, oldest first, following `has_more` pages. */
async function allItems(rest: Rest, path: string): Promise<Item[]> {
  const data: Item[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await rest.get<ItemList>(path, { order: "asc", limit: LIST_PAGE, after });
    data.push(...page.data);
    after = page.last_id ?? page.data.at(-1)?.id;
    if (!page.has_more || !after || !page.data.length) return data;
  }
}

/**
 * Read a Server-Sent Events body, handing each event's JSON to `on`; what a failed or cancelled
 * response said (its `error` event), or undefined when it ended well.
 */
async function followEvents(res: Response, on: (e: Record<string, unknown>) => void): Promise<string | undefined> {
  const decoder = new TextDecoder();
  let buf = "";
  let error: string | undefined;
  const take = (frame: string) => {
    const data = frame
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).trimStart())
      .join("\n");
    if (!data) return;
    const e = JSON.parse(data) as Record<string, unknown>;
    if (e.type === "error") error = `${String(e.message ?? "the response failed")}${e.code ? ` (${String(e.code)})` : ""}`;
    on(e);
  };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    for (let at = buf.indexOf("\n\n"); at >= 0; at = buf.indexOf("\n\n")) {
      take(buf.slice(0, at));
      buf = buf.slice(at + 2);
    }
  }
  if (buf.trim()) take(buf);
  return error;
}

// ── the commands ───────────────────────────────────────────────────────────────────────────────

export function responseCommands(program: Command): void {
  const response = program
    .command("response")
    .description("one stored response (OpenAI Responses API): status, model, deployment, tokens, cost, then its turn (input, then output); cancel, delete")
    .argument("<id>", "the response's id (resp_…), or the id of the request that made it (req_…, as `signalbox requests` lists them)")
    .option("--full", `show each item's whole text (else clipped at ${count(CLIP)} characters)`)
    .addHelpText(
      "after",
      [
        "",
        "The turn is one block per item: `user: …`, `assistant: …`, `call name(args)`, `result: …`,",
        "`reasoning: …`; the input items (every page) first, then the output. --json prints",
        "{response, input_items}: the API's response object and its input items, oldest first.",
        "",
        "Examples:",
        "  signalbox response resp_579cba1dmx8kg7ez2",
        "  signalbox response req_579cba1dmx8kg7ez2 --full",
        "  signalbox response resp_579cba1dmx8kg7ez2 --json | jq .response.usage",
      ].join("\n"),
    )
    .action(async (raw: string, o: { full?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, RESPONSE_HINTS);
      const id = responseIdOf(raw);
      const { r, input } = await waiting("reading the response", async () => {
        const r = await rest.get<StoredResponse>(responsePath(id));
        return { r, input: await allItems(rest, `${responsePath(id)}/input_items`) };
      });
      if (mode === "json") return json({ response: r, input_items: input });
      await out(describeResponse(r, input, !!o.full));
    });

  response
    .command("cancel")
    .description("stop a background response that is queued or in progress: it ends cancelled")
    .argument("<id>", "the response's id (resp_…) or its request's (req_…)")
    .addHelpText("after", "\nExamples:\n  signalbox response cancel resp_579cba1dmx8kg7ez2\n  signalbox response cancel resp_579cba1dmx8kg7ez2 --json | jq -r .status")
    .action(async (raw: string, _o: object, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, { ...RESPONSE_HINTS, invalid_argument: "only a background response that is queued or in progress can be cancelled: `signalbox response` shows its status" });
      const r = await waiting("cancelling the response", () => rest.post<StoredResponse>(`${responsePath(responseIdOf(raw))}/cancel`));
      if (mode === "json") return json(r);
      await out(`${r.status} response ${r.id}\n`);
    });

  response
    .command("follow")
    .description("follow a background response's stream (created with background and stream): its text as it comes, from the start or after an event")
    .argument("<id>", "the response's id (resp_…) or its request's (req_…)")
    .option("--after <n>", "start after this sequence_number (the last event you saw)", parseCount(0))
    .addHelpText(
      "after",
      [
        "",
        "The text goes to stdout as it comes; the end (completed, incomplete) and the tokens to stderr.",
        "--json prints every event as a line of JSON (its sequence_number in it) instead. A response that",
        "failed or was cancelled exits 1 with its error. On a replica that does not run it, the gateway",
        "waits for its end and replays it whole.",
        "",
        "Examples:",
        "  signalbox response follow resp_579cba1dmx8kg7ez2",
        "  signalbox response follow resp_579cba1dmx8kg7ez2 --after 41 --json | jq -c '[.sequence_number, .type]'",
      ].join("\n"),
    )
    .action(async (raw: string, o: { after?: number }, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, { ...RESPONSE_HINTS, invalid_argument: "only a background response's stream can be followed: one created with background and stream (`signalbox response` shows it)" });
      const query = `?stream=true${o.after === undefined ? "" : `&starting_after=${o.after}`}`;
      const res = await rest.download(`${responsePath(responseIdOf(raw))}${query}`);
      const failed = await followEvents(res, (e) => {
        if (mode === "json") process.stdout.write(`${JSON.stringify(e)}\n`);
        else if (e.type === "response.output_text.delta" && typeof e.delta === "string") process.stdout.write(e.delta);
        else if (e.type === "response.completed" || e.type === "response.incomplete") {
          const r = e.response as StoredResponse;
          process.stdout.write("\n");
          note(`${r.status} · ${count(r.usage?.input_tokens ?? 0)} in, ${count(r.usage?.output_tokens ?? 0)} out`);
        }
      });
      if (failed) throw failure(failed, "`signalbox response` shows how it ended");
    });

  response
    .command("delete")
    .description("delete a stored response (no confirmation): it can no longer be read or continued")
    .argument("<id>", "the response's id (resp_…) or its request's (req_…)")
    .addHelpText("after", "\nExamples:\n  signalbox response delete resp_579cba1dmx8kg7ez2")
    .action(async (raw: string, _o: object, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, RESPONSE_HINTS);
      const id = responseIdOf(raw);
      // Read it first (a not_found says so as any read does), to say what was deleted.
      const { r, deleted } = await waiting("deleting the response", async () => {
        const r = await rest.get<StoredResponse>(responsePath(id));
        return { r, deleted: await rest.delete<{ id: string; object: string; deleted: boolean }>(responsePath(id)) };
      });
      if (mode === "json") return json(deleted);
      await out(`deleted response ${deleted.id ?? r.id}\t${r.model}\t${r.status}${r.conversation?.id ? `\tconversation ${r.conversation.id}` : ""}\n`);
      if (r.conversation?.id) note(`its items stay in conversation ${r.conversation.id}: \`signalbox conversation delete ${r.conversation.id}\` deletes them`);
    });

  const conversation = program
    .command("conversation")
    .description("one conversation (OpenAI Conversations API): created, metadata, responses, tokens, cost, then every item in order; delete")
    .argument("<id>", "the conversation's id (conv_…)")
    .option("--full", `show each item's whole text (else clipped at ${count(CLIP)} characters)`)
    .addHelpText(
      "after",
      [
        "",
        "Items are one block each, oldest first (every page): `user: …`, `assistant: …`,",
        "`call name(args)`, `result: …`, `reasoning: …`. --json prints {conversation, items}.",
        "",
        "Examples:",
        "  signalbox conversation conv_68f1…",
        "  signalbox conversation conv_68f1… --json | jq .conversation.signalbox",
      ].join("\n"),
    )
    .action(async (id: string, o: { full?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, CONVERSATION_HINTS);
      const { c, items } = await waiting("reading the conversation", async () => {
        const c = await rest.get<Conversation>(conversationPath(id));
        return { c, items: await allItems(rest, `${conversationPath(id)}/items`) };
      });
      if (mode === "json") return json({ conversation: c, items });
      await out(describeConversation(c, items, !!o.full));
    });

  conversation
    .command("delete")
    .description("delete a conversation and its items (no confirmation)")
    .argument("<id>", "the conversation's id (conv_…)")
    .addHelpText("after", "\nExamples:\n  signalbox conversation delete conv_68f1…")
    .action(async (id: string, _o: object, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, CONVERSATION_HINTS);
      const { c, deleted } = await waiting("deleting the conversation", async () => {
        const c = await rest.get<Conversation>(conversationPath(id));
        return { c, deleted: await rest.delete<{ id: string; object: string; deleted: boolean }>(conversationPath(id)) };
      });
      if (mode === "json") return json(deleted);
      const s = c.signalbox ?? {};
      await out(`deleted conversation ${deleted.id ?? c.id}\t${count(s.responses ?? 0)} responses\t${dollars(costNano(s.cost_nano_usd))}\n`);
    });
}
