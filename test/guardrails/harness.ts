// Shared plumbing for the guardrail end-to-end tests: a gateway in front of the fake OpenAI and
// Anthropic servers, a Connect client, a raw /v1 caller that keeps every byte the gateway sent,
// and sensitive strings assembled at run time (no key-shaped literal in the repository).

import { rejectedWith as rejected } from "../helpers/errors.ts";
import assert from "node:assert/strict";
import { after, before, type TestContext } from "node:test";
import { ConnectError } from "@connectrpc/connect";
import { createSignalboxClient, ErrorInfoSchema, type ChatEvent, type ErrorInfo, type SignalboxClient } from "@signalbox/client";
import type { UsageRecord } from "../../src/usage/record.ts";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

export const OA = "openai/gpt-4o";
export const AN = "claude/sonnet";

/** Providers and deployments on the two fakes; `extra` adds guardrails, routes and more. */
export function gatewayYaml(openaiUrl: string, anthropicUrl: string, extra: string): string {
  return `
providers:
  - { name: openai, type: openai, base_url: ${openaiUrl}, api_key: ${OPENAI_TEST_KEY}, timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 } }
  - { name: anthropic, type: anthropic, base_url: ${anthropicUrl}, api_key: ${ANTHROPIC_TEST_KEY} }
deployments:
  - { id: ${OA}, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: openai/gpt-4o-mini, provider: openai, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
  - { id: ${AN}, provider: anthropic, model: claude-sonnet-4-5-20250929, pricing: { input: 3, output: 15 } }
${extra}
`;
}

/** The fake OpenAI and Anthropic servers, started before a file's tests and closed after them. */
export function useFakes(): { openai: FakeOpenAI; anthropic: FakeAnthropic } {
  const f = {} as { openai: FakeOpenAI; anthropic: FakeAnthropic };
  before(async () => {
    f.openai = await startFakeOpenAI();
    f.anthropic = await startFakeAnthropic();
  });
  after(async () => {
    await f.openai.close();
    await f.anthropic.close();
  });
  return f;
}

export interface Env {
  t: TestGateway;
  client: SignalboxClient;
  close(): Promise<void>;
}

export async function startEnv(yaml: string): Promise<Env> {
  const t = await startTestGateway(yaml);
  return { t, client: createSignalboxClient({ baseUrl: t.url, protocol: "connect" }), close: () => t.close() };
}

/** A gateway in front of the fakes (reset first) with `extra` config; closed when the test ends. */
export async function envFor(t: TestContext, f: ReturnType<typeof useFakes>, extra: string): Promise<Env> {
  f.openai.reset();
  f.anthropic.reset();
  const e = await startEnv(gatewayYaml(f.openai.url, f.anthropic.url, extra));
  t.after(() => e.close());
  return e;
}

/** A Connect request with one user message (and optionally a system prompt). */
export function ask(model: string, text: string, extra: Record<string, unknown> = {}) {
  return { model, messages: [{ role: 2, content: [{ part: { case: "text" as const, value: text } }] }], ...extra } as never;
}

/** Luhn-valid card number of 16 digits, grouped by four, made from a 15-digit prefix. */
export function cardNumber(prefix15 = "453914880343646"): string {
  const digits = prefix15.split("").map(Number);
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    let d = digits[14 - i];
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  const all = prefix15 + String((10 - (sum % 10)) % 10);
  return all.match(/.{4}/g)!.join(" ");
}

/** An AWS-access-key-shaped id, assembled here so no key-shaped literal sits in the source. */
export function awsKeyId(): string {
  return ["AK", "IA", "Z7QK3M9W", "2XH4PL6D"].join("");
}

/** A GitHub-token-shaped string (ghp_ and 36 characters), assembled at run time. */
export function githubToken(): string {
  return ["gh", "p_", "x7Kq2Lm9Vt4Rb8Nc1Zw6", "Yh3Jd5Pf0Gs2Ua7Eo9Qi"].join("").slice(0, 40);
}

export interface ConnectStream {
  events: ChatEvent[];
  text: string;
  /** Each delta's text, as received. */
  deltas: string[];
  error?: ConnectError;
  finishAdjustments: { field: string; detail: string }[];
  startAdjustments: { field: string; detail: string }[];
}

export async function connectStream(client: SignalboxClient, req: never): Promise<ConnectStream> {
  const out: ConnectStream = { events: [], text: "", deltas: [], finishAdjustments: [], startAdjustments: [] };
  try {
    for await (const ev of client.chat.stream(req)) {
      out.events.push(ev);
      if (ev.event.case === "delta") {
        out.deltas.push(ev.event.value.text);
        out.text += ev.event.value.text;
      } else if (ev.event.case === "start") out.startAdjustments = ev.event.value.adjustments.map((a) => ({ field: a.field, detail: a.detail }));
      else if (ev.event.case === "finish") out.finishAdjustments = ev.event.value.adjustments.map((a) => ({ field: a.field, detail: a.detail }));
    }
  } catch (e) {
    out.error = ConnectError.from(e);
  }
  return out;
}

export interface V1Response {
  status: number;
  /** Every byte of the body, as text. */
  raw: string;
  /** Concatenated delta content (streams) or the message content (unary). */
  text: string;
  /** An error object: the whole body's (unary / before the stream) or an SSE error event's. */
  error?: { message: string; type: string; code: string | null; param: string | null };
  json?: any;
}

/** POST /v1/chat/completions and keep the raw body. */
export async function v1(url: string, body: Record<string, unknown>): Promise<V1Response> {
  const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const raw = await res.text();
  const out: V1Response = { status: res.status, raw, text: "" };
  if (!(res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    out.json = JSON.parse(raw);
    if (out.json.error) out.error = out.json.error;
    else out.text = out.json.choices[0].message.content ?? "";
    return out;
  }
  for (const block of raw.split("\n\n")) {
    if (!block.startsWith("data: ") || block === "data: [DONE]") continue;
    const j = JSON.parse(block.slice(6));
    if (j.error) out.error = j.error;
    else if (j.choices?.[0]?.delta?.content) out.text += j.choices[0].delta.content;
    if (j.signalbox) out.json = j;
  }
  return out;
}

/** The ConnectError a call fails with (the test fails when it does not). */
export { rejected };

export function errorInfo(err: ConnectError): ErrorInfo {
  const [info] = err.findDetails(ErrorInfoSchema);
  assert.ok(info, `error has an ErrorInfo detail: ${err.message}`);
  return info;
}

/** The newest usage record (records are written when a request ends). */
export async function lastRecord(t: TestGateway): Promise<UsageRecord> {
  for (let i = 0; i < 50; i++) {
    const r = t.usage.recent();
    if (r.length) return r[r.length - 1];
    await new Promise((res) => setTimeout(res, 10));
  }
  assert.fail("no usage record");
}

/** The value of one series of a counter at GET /metrics (0 when absent). */
export async function metric(t: TestGateway, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const inside = line.slice(name.length + 1, line.indexOf("}"));
    const parts = inside.split(",");
    if (want.every((w) => parts.includes(w)) && parts.length === want.length) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}
