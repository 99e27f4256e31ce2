// `signalbox chat`: the answer streams to stdout as it arrives; the sources it cites (with `--web`),
// who answered, the tokens and the cost go to stderr afterwards, so `signalbox chat … > answer.txt`
// holds only the answer.

import { readFileSync } from "node:fs";
import { basename, extname } from "node:path";
import { toJson } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { CitationSchema, FailureKindSchema, StreamFinishSchema, StreamStartSchema, TokenLogprobSchema, fileBytes, streamText, systemText, textPart, user, AttemptOutcome, PdfReader, type Citation, type TokenLogprob } from "@signalbox/client";
import { readStdin, setup, traceLink, usageError } from "../context.ts";
import { count, dollars, enumLabel, ms } from "../format.ts";
import { json, note, out, spinner } from "../output.ts";
import { parseChoice, parseCount, parseNumber } from "../parse.ts";
import { parsePair, type ProviderFlags, providerFlags, providerPreferences } from "../request.ts";

export function chatCommand(program: Command): void {
  providerFlags(program
    .command("chat"))
    .description("stream an answer to stdout; its sources (--web), deployment, tokens and cost follow on stderr")
    .argument("[prompt...]", "the user message (read from stdin when absent)")
    .option("--model <model>", 'a route, alias or deployment id (default: "default", or the template\'s model)')
    .option("--template <id>", "start from a prompt of the gateway's library (signalbox prompts list): its instructions and messages come first")
    .option("--template-version <version>", 'with --template: a version or a label (default: "production" if set, else the newest)')
    .option("--var <name=value>", "with --template: a variable's value (repeatable)", parsePair)
    .option("--system <text>", "a system message")
    .option("--max-output-tokens <n>", "cap the answer's length", parseCount(1))
    .option("--temperature <t>", "sampling temperature, 0 to 2", parseNumber(0, 2))
    .option("--logprobs", "each token's probability on stderr afterwards")
    .option("--top-logprobs <n>", "with --logprobs: the n likeliest alternatives of each token (0 to 20)", parseCount(0, 20))
    .option("--file <path>", "a document to send with the prompt: .pdf, .txt, .md, .csv or .html (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--pdf-reader <reader>", "how --file PDFs are read: native (sent as is; needs a model with vision), text (the gateway sends their text layer; free), ocr (through the gateway's ocr route, billed per page)", parseChoice([...PDF_READER_CHOICES]))
    .option("--user <id>", "the end user the request is for (per-user budgets and limits, end users, usage by user)")
    .option("--web", "search the web first (the gateway's web_search engine) and give the model the results; the sources the answer cites follow on stderr")
    .option("--web-results <n>", "web search with n results, 1 to 20 (default: the gateway's max_results); implies --web", parseCount(1, 20))
    .option("--search-prompt <text>", "web search with this text before the results in the prompt (default: the gateway's, asking for markdown links); implies --web")
    .addHelpText(
      "after",
      '\nExamples:\n  signalbox chat --model default "Write a haiku about failover"\n  signalbox chat --template support-reply --var company=Acme "Where is my order?"\n  git diff | signalbox chat --model smart --system "Review this diff"\n  signalbox chat --file q3.pdf "What changed since Q2?"\n  signalbox chat --file scan.pdf --pdf-reader ocr "Summarize this contract"\n  signalbox chat --logprobs --top-logprobs 3 --temperature 0 "Is this spam? Answer yes or no: ..."\n  signalbox chat --web "What changed in Node 24?"\n  signalbox chat --web-results 5 "What changed in Node 24?"',
    )
    .action(async (words: string[], o: { model?: string; template?: string; templateVersion?: string; var?: Record<string, string>; system?: string; maxOutputTokens?: number; temperature?: number; logprobs?: boolean; topLogprobs?: number; file?: string[]; pdfReader?: PdfReaderChoice; user?: string; web?: boolean; webResults?: number; searchPrompt?: string } & ProviderFlags, cmd: Command) => {
      const providers = providerPreferences(o);
      const { mode, sb } = setup(cmd, { csv: false });
      if (!o.template && (o.templateVersion || o.var)) throw usageError("--template-version and --var need --template", "name the prompt: --template <id>");
      const web = o.web || o.webResults !== undefined || o.searchPrompt !== undefined ? { ...(o.webResults !== undefined ? { maxResults: o.webResults } : {}), searchPrompt: o.searchPrompt ?? "" } : undefined;
      const files = (o.file ?? []).map(readDocument);
      // With a template, the message is optional (the template may be the whole request).
      const prompt = words.length ? words.join(" ") : o.template ? "" : await readStdin();
      if (!prompt.trim() && !o.template) throw usageError("no prompt", 'pass it as an argument (signalbox chat "Hello") or on stdin');
      const abort = new AbortController();
      // Ctrl-C stops the upstream call too, not only this process.
      const onSigint = () => abort.abort();
      process.once("SIGINT", onSigint);
      const spin = spinner("waiting for the first token");
      const s = streamText(
        sb.chat,
        {
          model: o.model ?? (o.template ? "" : "default"),
          messages: [...(o.system ? [systemText(o.system)] : []), ...(prompt.trim() || files.length ? [user([...files, ...(prompt.trim() ? [textPart(prompt)] : [])])] : [])],
          ...(o.template ? { prompt: { id: o.template, version: o.templateVersion ?? "", variables: o.var ?? {} } } : {}),
          maxOutputTokens: o.maxOutputTokens,
          temperature: o.temperature,
          ...(o.logprobs || o.topLogprobs !== undefined ? { logprobs: true, topLogprobs: o.topLogprobs } : {}),
          ...(providers ? { routing: { providers } } : {}),
          ...(o.user ? { user: o.user } : {}),
          ...(o.pdfReader ? { pdfReader: pdfReaderOf(o.pdfReader) } : {}),
          ...(web ? { webSearch: web } : {}),
        },
        { signal: abort.signal },
      );
      let printed = "";
      try {
        if (mode === "json") {
          const r = await s.result;
          spin.stop();
          return await json({
            text: r.text,
            ...(o.logprobs || o.topLogprobs !== undefined ? { logprobs: r.logprobs.map((t) => toJson(TokenLogprobSchema, t)) } : {}),
            ...(web ? { citations: r.finish.citations.map((c) => toJson(CitationSchema, c)) } : {}),
            start: toJson(StreamStartSchema, r.start),
            finish: toJson(StreamFinishSchema, r.finish),
          });
        }
        for await (const t of s.textStream) {
          spin.stop();
          printed += t;
          await out(t);
        }
        const r = await s.result;
        if (!printed.endsWith("\n")) await out("\n");
        if (web) note(sources(r.finish.citations, r.start.adjustments.find((a) => a.field === "web_search")?.detail));
        const failed = r.attempts.filter((a) => a.outcome !== AttemptOutcome.SUCCEEDED);
        const u = r.usage;
        note(
          [
            `— ${r.deployment}${r.start.routing?.route ? ` (route ${r.start.routing.route})` : ""}${r.start.cacheHit ? ", from the cache" : ""}`,
            `${count(u?.inputTokens ?? 0n)} in / ${count(u?.outputTokens ?? 0n)} out tokens`,
            dollars(r.cost?.totalNanoUsd),
            ms(r.finish.timing?.latencyMs),
            `${r.attempts.length} attempt${r.attempts.length === 1 ? "" : "s"}${failed.length ? ` (${failed.map((a) => `${a.deployment} ${enumLabel(FailureKindSchema, a.failureKind)}`).join(", ")})` : ""}`,
            `request ${r.start.id}`,
            r.traceId ? `trace ${traceLink(r.traceId)}` : "",
          ]
            .filter(Boolean)
            .join(" · "),
        );
        if (o.logprobs || o.topLogprobs !== undefined) note(logprobsTable(r.logprobs, r.start.adjustments.find((a) => a.field === "logprobs")?.detail));
      } catch (err) {
        if (printed && !printed.endsWith("\n")) await out("\n");
        throw err;
      } finally {
        spin.stop();
        process.off("SIGINT", onSigint);
      }
    });
}

/**
 * "Sources:" and one line per result the answer cites, in order of appearance (`[1] title — url`),
 * each once. None cited: why, when the gateway said (the search failed, and it answered without).
 */
function sources(citations: Citation[], searched: string | undefined): string {
  const cited = citations.filter((c, i) => citations.findIndex((d) => d.url === c.url) === i);
  if (cited.length === 0) return `no sources cited${searched ? ` (web search: ${searched})` : ""}`;
  return ["Sources:", ...cited.map((c, i) => `[${i + 1}] ${c.title ? `${c.title.replace(/\s+/g, " ").trim()} — ` : ""}${c.url}`)].join("\n");
}

/**
 * One line per token: its probability, the token (quoted, so spaces show), and the alternatives
 * the model weighed. Without any (a model that has none), why.
 */
function logprobsTable(tokens: TokenLogprob[], dropped: string | undefined): string {
  if (tokens.length === 0) return `no token probabilities${dropped ? `: ${dropped}` : ""}`;
  const pct = (lp: number) => `${(Math.exp(lp) * 100).toFixed(1)}%`.padStart(6);
  const lines = tokens.map((t) => {
    const alts = t.topLogprobs.filter((a) => a.token !== t.token);
    return `${pct(t.logprob)}  ${JSON.stringify(t.token)}${alts.length ? `   (${alts.map((a) => `${JSON.stringify(a.token)} ${pct(a.logprob).trim()}`).join(", ")})` : ""}`;
  });
  const mean = tokens.reduce((s, t) => s + t.logprob, 0) / tokens.length;
  return `${lines.join("\n")}\n${tokens.length} tokens · mean probability ${pct(mean).trim()} · perplexity ${Math.exp(-mean).toFixed(2)}`;
}

/** `--pdf-reader`'s values; pdfReaderOf gives the ChatRequest.pdf_reader each sends (read when the action runs: the client loads lazily). */
const PDF_READER_CHOICES = ["native", "text", "ocr"] as const;
type PdfReaderChoice = (typeof PDF_READER_CHOICES)[number];
const pdfReaderOf = (c: PdfReaderChoice): PdfReader => ({ native: PdfReader.NATIVE, text: PdfReader.TEXT, ocr: PdfReader.OCR })[c];

/** The media types `--file` knows, by extension. */
const DOCUMENT_TYPES: Record<string, string> = {
  ".pdf": "application/pdf",
  ".txt": "text/plain",
  ".md": "text/markdown",
  ".csv": "text/csv",
  ".html": "text/html",
  ".htm": "text/html",
};

/** A `--file` as a document part; an unknown extension or an unreadable file is a usage error. */
function readDocument(path: string) {
  const mediaType = DOCUMENT_TYPES[extname(path).toLowerCase()];
  if (!mediaType) throw usageError(`--file ${path}: unknown document type`, `use a ${Object.keys(DOCUMENT_TYPES).join(", ")} file`);
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw usageError(`--file ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, "check the path");
  }
  return fileBytes(data, mediaType, basename(path));
}

