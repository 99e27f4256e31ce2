// The o200k_base encoder (gpt-tokenizer's, with gpt-4o's chat framing), built from its ranks as
// JSON. gpt-tokenizer ships the 200,000 ranks as a 2.4 MB JavaScript module; compiling it leaves
// about 24 MB more resident memory behind than parsing the same ranks as JSON (a process that only
// loads the encoder: 107 MB against 83), memory the parser never gives back, on every replica.
// `npm run build` writes the JSON from the installed module (`node src/providers/o200k.ts`); the
// file names the gpt-tokenizer version it came from, and without it (or from another version)
// the encoder comes from gpt-tokenizer's own module, as before.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);

type Ranks = (string | number[])[];
interface ChatCounter {
  (r: { messages: { role: "user" | "system" | "assistant"; content: string }[]; functions?: unknown[] }): number;
}
export interface O200k {
  countTokens(text: string, o?: { allowedSpecial?: Set<string>; disallowedSpecial?: Set<string> }): number;
  countChatCompletionTokens: ChatCounter;
  /** Tokens of a text (special tokens read as text), and back: what cuts a file into chunks of so many tokens. */
  encode(text: string, o?: { disallowedSpecial?: Set<string> }): number[];
  decode(tokens: Iterable<number>): string;
}

export const RANKS_FILE = fileURLToPath(new URL("../../dist/tokenizer/o200k_base.json", import.meta.url));

const installedVersion = (): string => (require("gpt-tokenizer/package.json") as { version: string }).version;

/** The ranks from the JSON, when it was written from the installed gpt-tokenizer. */
function readRanks(file: string): Ranks | undefined {
  let data: { version?: unknown; ranks?: unknown };
  try {
    data = JSON.parse(readFileSync(file, "utf8")) as typeof data;
  } catch {
    return undefined; // not written (a run without the build) or cut short: the module instead
  }
  return data.version === installedVersion() && Array.isArray(data.ranks) ? (data.ranks as Ranks) : undefined;
}

export function loadO200k(file = RANKS_FILE): O200k & { source: "json" | "module" } {
  const ranks = readRanks(file);
  if (ranks) {
    const { GptEncoding } = require("gpt-tokenizer/cjs/GptEncoding") as typeof import("gpt-tokenizer/GptEncoding");
    // What gpt-tokenizer/model/gpt-4o builds, minus the spec's catalogue data: the chat counter
    // exists for models that call functions.
    const api = GptEncoding.getEncodingApiForModel("gpt-4o", () => ranks, { supported_features: ["function_calling"] } as never);
    return { countTokens: api.countTokens, countChatCompletionTokens: api.countChatCompletionTokens as unknown as ChatCounter, encode: api.encode, decode: api.decode, source: "json" };
  }
  const mod = require("gpt-tokenizer/cjs/model/gpt-4o") as O200k;
  return { countTokens: mod.countTokens, countChatCompletionTokens: mod.countChatCompletionTokens, encode: mod.encode, decode: mod.decode, source: "module" };
}

/** Write the JSON from the installed module (the build's step). */
export function writeRanks(file = RANKS_FILE): void {
  const ranks = (require("gpt-tokenizer/cjs/bpeRanks/o200k_base") as { default: Ranks }).default;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ version: installedVersion(), ranks }));
}

if (import.meta.main) writeRanks();
