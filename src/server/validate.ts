// Input validation for every RPC, in one place, before any work: a bad request is
// invalid_argument with a message that starts with the path of the bad field.

import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { Role, type ChatRequest } from "../../gen/signalbox/v1/chat_pb.ts";
import { Dimension, Granularity } from "../../gen/signalbox/v1/common_pb.ts";
import type { GetBudgetRequest, GetUsageRequest, ListRequestsRequest } from "../../gen/signalbox/v1/usage_pb.ts";
import { GatewayError } from "../router/errors.ts";

export const LIMITS = {
  messages: 2048,
  stop: 4,
  tools: 128,
  maxOutputTokens: 1_000_000,
  tags: 32,
  metadata: 64,
  metadataValue: 512,
  fallbacks: 16,
} as const;

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const ROLES = new Set<number>([Role.SYSTEM, Role.DEVELOPER, Role.USER, Role.ASSISTANT, Role.TOOL]);

function bad(field: string, message: string): never {
  throw new GatewayError("invalid_argument", `${field}: ${message}`, { field });
}

function range(field: string, v: number | undefined, lo: number, hi: number) {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v < lo || v > hi) bad(field, `must be between ${lo} and ${hi}, got ${v}`);
}

export function validateChatRequest(r: ChatRequest): void {
  if (!r.model.trim()) bad("model", "is required");
  if (r.messages.length === 0) bad("messages", "must contain at least one message");
  if (r.messages.length > LIMITS.messages) bad("messages", `at most ${LIMITS.messages} messages, got ${r.messages.length}`);
  const toolIds = new Set<string>();
  r.messages.forEach((m, i) => {
    const f = `messages[${i}]`;
    if (!ROLES.has(m.role)) {
      bad(`${f}.role`, "is required (ROLE_SYSTEM, ROLE_DEVELOPER, ROLE_USER, ROLE_ASSISTANT or ROLE_TOOL)");
    }
    m.content.forEach((p, j) => {
      const pf = `${f}.content[${j}]`;
      switch (p.part.case) {
        case "text":
          break;
        case "image": {
          const img = p.part.value;
          if (m.role !== Role.USER) bad(pf, "images are only allowed in user messages");
          if (img.source.case === undefined) bad(`${pf}.image`, "needs url or data");
          if (img.source.case === "url" && !/^(https?:|data:image\/[a-z+.-]+;base64,)/i.test(img.source.value)) {
            bad(`${pf}.image.url`, "must be an http(s) URL or a data:image/...;base64, URL");
          }
          if (img.source.case === "data") {
            if (img.source.value.length === 0) bad(`${pf}.image.data`, "is empty");
            if (!/^image\/[a-z0-9+.-]+$/i.test(img.mediaType)) bad(`${pf}.image.media_type`, "is required with data (e.g. image/png)");
          }
          break;
        }
        default:
          bad(pf, "needs text or image");
      }
    });
    m.toolCalls.forEach((c, j) => {
      if (m.role !== Role.ASSISTANT) bad(`${f}.tool_calls`, "only assistant messages carry tool calls");
      if (!c.id) bad(`${f}.tool_calls[${j}].id`, "is required");
      if (!TOOL_NAME.test(c.name)) bad(`${f}.tool_calls[${j}].name`, "must match [A-Za-z0-9_-]{1,64}");
      toolIds.add(c.id);
    });
    const hasText = m.content.some((p) => p.part.case === "text" || p.part.case === "image");
    if (m.role === Role.TOOL) {
      if (!m.toolCallId) bad(`${f}.tool_call_id`, "is required for ROLE_TOOL messages");
      if (!toolIds.has(m.toolCallId)) bad(`${f}.tool_call_id`, `"${m.toolCallId}" answers no earlier assistant tool call`);
    } else if (!hasText && m.toolCalls.length === 0) {
      bad(`${f}.content`, "must not be empty");
    }
  });
  range("temperature", r.temperature, 0, 2);
  range("top_p", r.topP, 0, 1);
  range("presence_penalty", r.presencePenalty, -2, 2);
  range("frequency_penalty", r.frequencyPenalty, -2, 2);
  if (r.maxOutputTokens !== undefined && (r.maxOutputTokens < 1 || r.maxOutputTokens > LIMITS.maxOutputTokens)) {
    bad("max_output_tokens", `must be between 1 and ${LIMITS.maxOutputTokens}, got ${r.maxOutputTokens}`);
  }
  if (r.stop.length > LIMITS.stop) bad("stop", `at most ${LIMITS.stop} stop sequences, got ${r.stop.length}`);
  r.stop.forEach((s, i) => s === "" && bad(`stop[${i}]`, "must not be empty"));
  if (r.tools.length > LIMITS.tools) bad("tools", `at most ${LIMITS.tools} tools, got ${r.tools.length}`);
  const names = new Set<string>();
  r.tools.forEach((t, i) => {
    if (!TOOL_NAME.test(t.name)) bad(`tools[${i}].name`, "must match [A-Za-z0-9_-]{1,64}");
    if (names.has(t.name)) bad(`tools[${i}].name`, `duplicate tool "${t.name}"`);
    names.add(t.name);
  });
  const tc = r.toolChoice?.choice;
  if (tc?.case === "tool" && !names.has(tc.value)) bad("tool_choice.tool", `"${tc.value}" is not one of the request's tools`);
  if (tc && tc.case !== undefined && r.tools.length === 0 && !(tc.case === "mode" && tc.value === 2)) bad("tool_choice", "requires tools");
  const rf = r.responseFormat;
  if (rf?.type === 3) {
    if (!rf.schema) bad("response_format.schema", "is required for TYPE_JSON_SCHEMA");
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(rf.schemaName)) bad("response_format.schema_name", "must match [A-Za-z0-9_-]{1,64} for TYPE_JSON_SCHEMA");
  }
  const ro = r.routing;
  if (ro) {
    if (ro.fallbacks.length > LIMITS.fallbacks) bad("routing.fallbacks", `at most ${LIMITS.fallbacks} entries`);
    ro.fallbacks.forEach((f, i) => !f.trim() && bad(`routing.fallbacks[${i}]`, "must not be empty"));
    if (ro.maxCostNanoUsd !== undefined && ro.maxCostNanoUsd < 0n) bad("routing.max_cost_nano_usd", "must not be negative");
    if (ro.maxAttempts > 20) bad("routing.max_attempts", "must be at most 20");
    const t = ro.timeouts;
    if (t) {
      for (const [k, v] of Object.entries({ first_token_ms: t.firstTokenMs, idle_ms: t.idleMs, attempt_ms: t.attemptMs, total_ms: t.totalMs })) {
        if (v !== undefined && v === 0) bad(`routing.timeouts.${k}`, "must be positive when set");
      }
    }
  }
  if (r.tags.length > LIMITS.tags) bad("tags", `at most ${LIMITS.tags} tags`);
  r.tags.forEach((t, i) => (t === "" || t.length > 64) && bad(`tags[${i}]`, "must be 1..64 characters"));
  const meta = Object.entries(r.metadata);
  if (meta.length > LIMITS.metadata) bad("metadata", `at most ${LIMITS.metadata} entries`);
  for (const [k, v] of meta) if (v.length > LIMITS.metadataValue) bad(`metadata.${k}`, `value longer than ${LIMITS.metadataValue} characters`);
  if (r.user.length > 256) bad("user", "at most 256 characters");
}

const DIMENSIONS = new Set<number>(Object.values(Dimension));
const GRANULARITIES = new Set<number>(Object.values(Granularity));

const tsMs = (t: Timestamp | undefined) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : undefined);

function validateRange(start: Timestamp | undefined, end: Timestamp | undefined, required: boolean) {
  const s = tsMs(start);
  const e = tsMs(end);
  if (required && s === undefined) bad("start_time", "is required");
  if (s !== undefined && e !== undefined && e <= s) bad("end_time", "must be after start_time");
}

function validateFilters(filters: { dimension: Dimension; values: string[] }[]) {
  filters.forEach((f, i) => {
    if (f.dimension === Dimension.UNSPECIFIED || !DIMENSIONS.has(f.dimension)) bad(`filters[${i}].dimension`, "is required");
    if (f.values.length === 0) bad(`filters[${i}].values`, "needs at least one value");
  });
}

export function validateGetUsage(r: GetUsageRequest): void {
  validateRange(r.startTime, r.endTime, true);
  if (!GRANULARITIES.has(r.granularity)) bad("granularity", `unknown value ${r.granularity}`);
  r.groupBy.forEach((d, i) => {
    if (d === Dimension.UNSPECIFIED || !DIMENSIONS.has(d)) bad(`group_by[${i}]`, `unknown dimension ${d}`);
  });
  validateFilters(r.filters);
}

export function validateListRequests(r: ListRequestsRequest): void {
  validateRange(r.startTime, r.endTime, false);
  validateFilters(r.filters);
  if (r.pageSize > 1000) bad("page_size", "must be at most 1000");
}

export function validateGetBudget(_r: GetBudgetRequest): void {}
