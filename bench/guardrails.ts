// What the guardrails add per request, in process: the `pii` and `secrets` rules (redact, both
// stages) on a short prompt and on one of about 8k tokens, at the input stage, on a unary answer of
// the same size, and inside a stream of it (token-sized deltas). Run by `npm run bench` (and alone:
// node bench/guardrails.ts).

import { parse } from "yaml";
import { buildConfig } from "../src/config/load.ts";
import { compileGuardrails, guardAnswer, guardInput, startRun, streamGuard } from "../src/guardrails/engine.ts";
import { countTextTokens } from "../src/providers/tokens.ts";
import type { StreamEvent, UpstreamRequest } from "../src/providers/types.ts";
import type { ChatCall, Plan } from "../src/router/types.ts";

const config = buildConfig(
  parse(`
providers: [{ name: m, type: mock }]
deployments: [{ id: d/a, provider: m, model: a }]
guardrails:
  - { name: pii, kind: pii, action: redact }
  - { name: secrets, kind: secrets, action: redact }
routes: [{ name: chat, targets: [d/a], guardrails: [pii, secrets] }]
`),
  {},
);
const guardrails = compileGuardrails(config);
const call = { id: "req_bench", model: "chat", caller: { keyName: "anonymous", team: "default", role: "anonymous", allow: [] } } as unknown as ChatCall;
const selection = guardrails.select(call, "chat")!;

/** Prose with what real prompts carry: numbers, dates, amounts, an address or two, code-ish tokens. */
const PARA =
  "On 2026-03-14 the team in Lisbon reviewed ticket INC-48213: the billing job retried 3 times and charged EUR 1,249.50 twice. " +
  "Contact ana.silva@example.com or call +351 21 123 4567 for details; the config key retry_limit=5 and the host 10.0.4.17:8443 were involved. ";

function textOf(tokens: number): string {
  let s = "";
  while (countTextTokens(s, "o200k") < tokens) s += PARA;
  return s;
}

const SIGNAL = new AbortController().signal;

const request = (text: string): Omit<UpstreamRequest, "model"> => ({
  messages: [
    { role: "system", content: [{ type: "text", text: "You are a careful support assistant." }] },
    { role: "user", content: [{ type: "text", text }] },
  ],
});

const plan = (): Plan => ({ estimatedInputTokens: 0, candidates: [], adjustments: [] }) as unknown as Plan;

async function timeIt(n: number, fn: () => unknown): Promise<number> {
  for (let i = 0; i < Math.min(50, n); i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return ((performance.now() - t0) * 1000) / n;
}

/** µs per request, per stage, for a short prompt and an 8k-token one. */
export async function guardrailCosts(): Promise<{ prompt: string; chars: number; stage: string; usPerRequest: number }[]> {
  const cases: [string, string, number][] = [
    ["short (one sentence)", "Summarise the attached incident in two sentences, please.", 20_000],
    ["8k tokens", textOf(8000), 60],
  ];
  const out: { prompt: string; chars: number; stage: string; usPerRequest: number }[] = [];
  for (const [name, text, n] of cases) {
    const req = request(text);
    out.push({ prompt: name, chars: text.length, stage: "input (before the provider call)", usPerRequest: await timeIt(n, () => guardInput(startRun(selection), plan(), req, SIGNAL)) });
    const answer = { text, toolCalls: [] };
    out.push({ prompt: name, chars: text.length, stage: "output, unary answer", usPerRequest: await timeIt(n, () => guardAnswer(startRun(selection), answer, SIGNAL)) });
    // Token-sized deltas (4 characters), a batch each, as a stream read token by token delivers
    // them; and 64-character batches, as reads that carry several tokens do.
    for (const size of [4, 64]) {
      const batches: StreamEvent[][] = [];
      for (let i = 0; i < text.length; i += size) batches.push([{ type: "text", text: text.slice(i, i + size) }]);
      out.push({
        prompt: name,
        chars: text.length,
        stage: `output, stream (${batches.length} batches of ${size} chars)`,
        usPerRequest: await timeIt(Math.max(5, Math.floor(n / 4)), async () => {
          const sg = streamGuard(startRun(selection), undefined)!;
          for (const b of batches) sg.batch(b);
          await sg.end(SIGNAL);
        }),
      });
    }
  }
  return out;
}

export const guardrailTable = (rows: Awaited<ReturnType<typeof guardrailCosts>>) =>
  rows.map((r) => ({ prompt: r.prompt, characters: r.chars, stage: r.stage, "µs per request": r.usPerRequest.toFixed(1) }));

if (import.meta.main) console.table(guardrailTable(await guardrailCosts()));
