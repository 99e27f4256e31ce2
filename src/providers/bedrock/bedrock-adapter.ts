// The Bedrock Converse adapter (POST /model/{modelId}/converse and /converse-stream): builds
// requests, signs them with SigV4 (authorize), frames the binary event stream (streamDecoder),
// parses answers, classifies errors, and builds the InvokeModel embedding and rerank requests.

import type { ProviderConfig } from "../../config/types.ts";
import { MIN_THINKING_BUDGET, thinkingBlockedBy } from "../../config/model-params.ts";
import { anthropicTemperature, DEFAULT_MAX_TOKENS, jsonInstruction, structuredOutputs, THINKING_BUDGETS } from "../anthropic/index.ts";
import { header, tryJson, type Headers } from "../headers.ts";
import type { ChatResult, ProviderAdapter, ReasoningBlock, ReasoningEffort, ToolCall, UpstreamRequest } from "../types.ts";
import { ProviderError } from "../types.ts";
import type { BedrockConverseRequest, BedrockConverseResponse, BedrockResponseBlock, BedrockSystemBlock } from "./bedrock-api-types.ts";
import { createBedrockSigner, resolveAwsCredentials } from "./bedrock-auth.ts";
import { buildBedrockEmbedRequest, bedrockEmbedBatchLimit, parseBedrockEmbedResponse } from "./bedrock-embed.ts";
import { BEDROCK_IMAGES_PER_CALL, buildBedrockImageRequest, parseBedrockImageResponse } from "./bedrock-images.ts";
import { classifyBedrockError, type BedrockErrorContext } from "./bedrock-error.ts";
import { createBedrockStreamDecoder } from "./bedrock-event-stream.ts";
import { bedrockModelPath } from "./bedrock-path.ts";
import { buildBedrockRerankRequest, parseBedrockRerankResponse } from "./bedrock-rerank.ts";
import { createBedrockStreamTranslator } from "./bedrock-stream.ts";
import { convertBedrockUsage } from "./convert-bedrock-usage.ts";
import { convertToBedrockMessages, prepareBedrockTools } from "./convert-to-bedrock-messages.ts";
import { mapBedrockFinishReason } from "./map-bedrock-finish-reason.ts";

export const EVENT_STREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream";

/** Claude on Bedrock (a model id, inference profile or ARN naming one): it thinks through `thinking`. */
export function isBedrockClaude(model: string): boolean {
  return /(^|[./])anthropic\.claude-/.test(model);
}

const ADAPTIVE_EFFORT: Record<ReasoningEffort, "low" | "medium" | "high"> = { minimal: "low", low: "low", medium: "medium", high: "high" };

/**
 * The Converse body, exported for tests. A JSON schema goes as structured outputs
 * (`outputConfig.textFormat`) where the model has them (`req.params.jsonByInstruction` says
 * which); otherwise JSON output is asked for with an instruction in the system prompt (Converse
 * has no JSON mode every model honours). Thinking is Claude's own field, passed through
 * additionalModelRequestFields; `req.params` says its form and the model's output maximum.
 */
export function buildBedrockRequestBody(req: UpstreamRequest): BedrockConverseRequest {
  const p = req.params;
  // Hints are sent when the model has a prompt cache (params say so), or when nothing is known.
  const opts = { cachePoints: p ? p.cacheBreakpoints !== undefined : true };
  const prompt = convertToBedrockMessages(req.messages, opts);
  let system: BedrockSystemBlock[] | undefined = prompt.system;
  const format = req.responseFormat;
  const native = format?.type === "json_schema" && structuredOutputs(p) ? format : undefined;
  const json = format && !native ? jsonInstruction(format) : undefined;
  if (json) system = [...(system ?? []), { text: json }];

  const body: BedrockConverseRequest = { messages: prompt.messages };
  if (system) body.system = system;
  Object.assign(body, prepareBedrockTools(req.tools, req.toolChoice, prompt.messages, { ...opts, strictTools: structuredOutputs(p) }));

  let maxTokens = req.maxOutputTokens;
  let thinking: Record<string, unknown> | undefined;
  const form = isBedrockClaude(req.model) ? (p?.thinking ?? (p ? undefined : "manual")) : undefined;
  if (req.reasoningEffort && form && !thinkingBlockedBy(req, form)) {
    if (form === "adaptive") {
      thinking = { type: "adaptive" };
      body.outputConfig = { effort: ADAPTIVE_EFFORT[req.reasoningEffort] };
    } else {
      // The limit covers thinking and answer, and the budget must stay below it.
      const want = req.thinkingBudget ?? THINKING_BUDGETS[req.reasoningEffort];
      maxTokens ??= p?.maxOutputTokens ?? DEFAULT_MAX_TOKENS + want;
      const budget = Math.min(want, maxTokens - 1);
      if (budget >= MIN_THINKING_BUDGET) thinking = { type: "enabled", budget_tokens: budget };
    }
  }

  const inference: NonNullable<BedrockConverseRequest["inferenceConfig"]> = {};
  if (maxTokens !== undefined) inference.maxTokens = maxTokens;
  // While Claude thinks it takes neither a non-default temperature nor a low top_p: both are dropped.
  if (!thinking) {
    // Bedrock's models take temperature 0..1; the top of the OpenAI range (2) lands on 1.
    if (req.temperature !== undefined) inference.temperature = anthropicTemperature(req.temperature);
    if (req.topP !== undefined && (req.temperature === undefined || p?.samplingExclusive !== true)) inference.topP = req.topP;
  }
  const stop = req.stop?.filter((s) => s.trim() !== "");
  if (stop && stop.length > 0) inference.stopSequences = stop;
  if (Object.keys(inference).length > 0) body.inferenceConfig = inference;
  if (thinking) body.additionalModelRequestFields = { thinking };
  if (native) {
    // Bedrock takes the schema as a JSON string; the name, when the caller gave one, is theirs.
    const jsonSchema: { schema: string; name?: string } = { schema: JSON.stringify(native.schema) };
    if (native.name) jsonSchema.name = native.name;
    body.outputConfig = { ...body.outputConfig, textFormat: { type: "json_schema", structure: { jsonSchema } } };
  }
  // seed, penalties, user, parallel_tool_calls: Converse has none (the router drops and reports what the rules reject).
  return body;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Parse a Converse 2xx body into a ChatResult, exported for tests. Bedrock reports no model: `model` is empty. */
export function parseBedrockResponse(body: string, headers: Headers, ctx: BedrockErrorContext = {}): ChatResult {
  const label = ctx.label ? `${ctx.label}: ` : "";
  const json = tryJson(body);
  if (!isObject(json)) {
    throw new ProviderError({ kind: "server_error", message: `${label}bedrock returned a body that is not a JSON object`, requestId: header(headers, "x-amzn-requestid") });
  }
  const r = json as BedrockConverseResponse;
  if (!isObject(r.output) || !isObject(r.output.message)) {
    // A 200 without an answer is an error body a proxy passed through, or a broken one.
    throw classifyBedrockError(undefined, body, headers, { ...ctx, fallbackKind: "server_error" });
  }
  let text = "";
  let reasoning = "";
  const reasoningBlocks: ReasoningBlock[] = [];
  const toolCalls: ToolCall[] = [];
  const blocks: BedrockResponseBlock[] = Array.isArray(r.output.message.content) ? r.output.message.content : [];
  for (const b of blocks) {
    if (b === null || typeof b !== "object") continue;
    if (typeof b.text === "string") text += b.text;
    else if (b.toolUse) toolCalls.push({ id: String(b.toolUse.toolUseId ?? ""), name: String(b.toolUse.name ?? ""), arguments: JSON.stringify(b.toolUse.input ?? {}) });
    else if (typeof b.reasoningContent?.reasoningText?.text === "string") {
      const { text: t, signature } = b.reasoningContent.reasoningText;
      reasoning += t;
      reasoningBlocks.push(typeof signature === "string" && signature !== "" ? { text: t, signature } : { text: t });
    } else if (typeof b.reasoningContent?.redactedContent === "string") reasoningBlocks.push({ text: "", redacted: b.reasoningContent.redactedContent });
    // citations, guard content and unknown blocks are ignored.
  }
  const raw = typeof r.stopReason === "string" ? r.stopReason : "";
  const result: ChatResult = {
    id: header(headers, "x-amzn-requestid") ?? "",
    model: "",
    text,
    toolCalls,
    finishReason: mapBedrockFinishReason(raw),
    rawFinishReason: raw,
  };
  if (reasoning !== "") result.reasoning = reasoning;
  // Blocks are kept when they carry replay state (a signature or redacted data).
  if (reasoningBlocks.some((r) => r.signature || r.redacted)) result.reasoningBlocks = reasoningBlocks;
  if (isObject(r.usage)) result.usage = convertBedrockUsage(r.usage);
  return result;
}

export function createBedrockAdapter(conn: ProviderConfig): ProviderAdapter {
  if (!conn.aws) throw new Error(`provider "${conn.name}": type bedrock needs aws settings (aws.region)`);
  const creds = resolveAwsCredentials(conn.aws);
  const signer = createBedrockSigner(conn.name, conn.aws.region, creds);
  const ctx: BedrockErrorContext = { label: conn.name, secrets: [creds?.secretAccessKey ?? "", creds?.sessionToken ?? ""] };
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(conn.headers ?? {})) extra[k.toLowerCase()] = v;

  return {
    buildRequest(req, stream) {
      return {
        method: "POST",
        path: `${bedrockModelPath(req.model)}/${stream ? "converse-stream" : "converse"}`,
        headers: { ...extra, "content-type": "application/json", accept: stream ? EVENT_STREAM_CONTENT_TYPE : "application/json" },
        body: JSON.stringify(buildBedrockRequestBody(req)),
      };
    },
    authorize(spec, actx) {
      return signer.sign(spec, actx);
    },
    streamDecoder() {
      return createBedrockStreamDecoder(conn.name);
    },
    buildEmbedRequest(req) {
      const spec = buildBedrockEmbedRequest(req, conn.name);
      return { ...spec, headers: { ...extra, ...spec.headers } };
    },
    parseEmbedResponse(body, req, headers) {
      return parseBedrockEmbedResponse(body, req, conn.name, headers);
    },
    embedBatchLimit: bedrockEmbedBatchLimit,
    buildImageRequest(req) {
      const spec = buildBedrockImageRequest(req);
      return { ...spec, headers: { ...extra, ...spec.headers } };
    },
    parseImageResponse(body, req) {
      return parseBedrockImageResponse(body, req, conn.name);
    },
    imagesPerCall: () => BEDROCK_IMAGES_PER_CALL,
    buildRerankRequest(req) {
      const spec = buildBedrockRerankRequest(req, conn.name);
      return { ...spec, headers: { ...extra, ...spec.headers } };
    },
    parseRerankResponse(body, req, headers) {
      return parseBedrockRerankResponse(body, req, conn.name, headers);
    },
    parseResponse(body, headers) {
      return parseBedrockResponse(body, headers, ctx);
    },
    streamTranslator() {
      return createBedrockStreamTranslator(ctx);
    },
    classifyError(status, body, headers) {
      return classifyBedrockError(status, body, headers, ctx);
    },
  };
}
