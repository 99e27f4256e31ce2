// `signalbox rerank`: documents ordered by relevance to a query (RerankService.Rerank). The
// documents are the arguments, or stdin one per line; the ranking goes to stdout (a table, CSV or
// JSON), and who ranked them, the searches and the cost go to stderr.

import { toJson } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { RerankResponseSchema, rerankDocuments, type RankedDocument } from "@signalbox/client";
import { readStdin, responseSummary, setup, usageError } from "../context.ts";
import { count } from "../format.ts";
import { type Column, csv, json, note, out, table, waiting } from "../output.ts";
import { parseCount } from "../parse.ts";

const COLUMNS: Column<RankedDocument & { rank: number }>[] = [
  { header: "RANK", show: (r) => String(r.rank), raw: (r) => r.rank, right: true },
  { header: "SCORE", show: (r) => r.score.toFixed(4), raw: (r) => r.score, right: true },
  { header: "INDEX", show: (r) => String(r.index), raw: (r) => r.index, right: true },
  { header: "DOCUMENT", show: (r) => (r.document.length > 80 ? `${r.document.slice(0, 79)}…` : r.document), raw: (r) => r.document },
];

export function rerankCommand(program: Command): void {
  program
    .command("rerank")
    .description("rank documents by relevance to a query; the ranking on stdout, deployment and cost on stderr")
    .argument("[documents...]", "the documents (read from stdin, one per line, when absent)")
    .requiredOption("--query <text>", "what the documents are ranked against")
    .option("--model <model>", "a route, alias or deployment id that serves rerank", "rerank")
    .option("--top <n>", "return only the n best", parseCount(1))
    .addHelpText("after", '\nExamples:\n  signalbox rerank --query "capital of France" "Paris is in France" "Bananas are yellow"\n  grep -h . notes/*.txt | signalbox rerank --query "failover" --top 5')
    .action(async (docs: string[], o: { query: string; model: string; top?: number }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const documents = docs.length ? docs : (await readStdin()).split("\n").filter((l) => l.trim() !== "");
      if (documents.length === 0) throw usageError("no documents", 'pass them as arguments (signalbox rerank --query q "doc one" "doc two") or on stdin, one per line');
      const { ranked, response } = await waiting("ranking", () => rerankDocuments(sb, o.model, o.query, documents, o.top !== undefined ? { topN: o.top } : {}));
      if (mode === "json") return json(toJson(RerankResponseSchema, response));
      const rows = ranked.map((r, i) => ({ ...r, rank: i + 1 }));
      await out(mode === "csv" ? csv(COLUMNS, rows) : table(COLUMNS, rows));
      const u = response.usage;
      note(
        responseSummary(
          [
            `— ${response.deployment}${response.routing?.route ? ` (route ${response.routing.route})` : ""}${response.cacheHit ? ", from the cache" : ""}`,
            u?.searchUnits ? `${count(u.searchUnits)} search${u.searchUnits === 1n ? "" : "es"}` : "",
            u?.inputTokens ? `${count(u.inputTokens)} tokens` : "",
          ],
          response,
        ),
      );
    });
}

