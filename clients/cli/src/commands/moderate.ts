// `signalbox moderate`: texts (and images) classified against content policy categories
// (ModerationService.Moderate). The texts are the arguments, or stdin one per line; one row per
// text goes to stdout (a table, CSV or JSON), who classified them and the cost to stderr. The exit
// code says whether anything was flagged (0 no, 1 yes), so a script can gate on it.

import { toJson } from "@bufbuild/protobuf";
import { type Command, InvalidArgumentError } from "commander";
import { ModerateResponseSchema, type ModerationResult } from "@signalbox/client";
import { CliError, EXIT, readStdin, responseSummary, setup, usageError } from "../context.ts";
import { type Column, csv, json, note, out, table, waiting } from "../output.ts";
import { type RequestFlags, requestFields, requestFlags, servedBy } from "../request.ts";

/** What the gateway takes in one request. */
const MAX_INPUTS = 32;

/** "https://…" or "data:image/png;base64,…", repeatable. */
function parseImage(v: string, acc: string[] = []): string[] {
  const url = v.trim();
  if (!/^https?:\/\/[^\s/]+\S*$/i.test(url) && !/^data:image\/[\w.+-]+[;,]/i.test(url)) {
    throw new InvalidArgumentError(`"${v}" is not an http(s) or data:image/… URL`);
  }
  return [...acc, url];
}

/** A score as people read it: two decimals, or one significant digit when smaller ("0.0001"). */
export function score(s: number): string {
  return s >= 0.01 || s === 0 ? s.toFixed(2) : s.toPrecision(1);
}

/**
 * What a result says in a few words: the flagged categories with their scores, highest first
 * ("violence 0.93, harassment 0.93"); when none is flagged, the highest-scoring category.
 */
export function verdict(r: Pick<ModerationResult, "flagged" | "categories" | "categoryScores">): string {
  const scores = r.categoryScores;
  const byScore = (a: string, b: string) => (scores[b] ?? 0) - (scores[a] ?? 0) || a.localeCompare(b);
  const label = (c: string) => (scores[c] === undefined ? c : `${c} ${score(scores[c])}`);
  const flagged = Object.keys(r.categories).filter((c) => r.categories[c]);
  if (flagged.length) return flagged.sort(byScore).map(label).join(", ");
  const top = Object.keys(scores).sort(byScore)[0];
  return top ? label(top) : "";
}

interface Row {
  /** "1", "2", …; "all" for the one result of a request with images. */
  index: string;
  input: string;
  result: ModerationResult;
}

const shorten = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

const COLUMNS: Column<Row>[] = [
  { header: "#", csv: "index", show: (r) => r.index, right: true },
  { header: "INPUT", show: (r) => shorten(r.input.replace(/\s+/g, " "), 48), raw: (r) => r.input },
  { header: "FLAGGED", show: (r) => (r.result.flagged ? "yes" : "no"), raw: (r) => r.result.flagged },
  { header: "CATEGORIES", show: (r) => verdict(r.result) },
];

interface ModerateFlags extends RequestFlags {
  model: string;
  image?: string[];
}

export function moderateCommand(program: Command): void {
  requestFlags(
    program
      .command("moderate")
      .description("classify texts (and images) against content policy categories; one row per text on stdout, deployment and cost on stderr; exit 1 when anything is flagged")
      .argument("[text...]", "the texts, one input each (read from stdin, one per line, when absent or -)")
      .option("--model <model>", "a route, alias or deployment id that serves moderation", "moderation")
      .option("--image <url>", "an image to classify with the texts (http(s) or data URL), repeatable: one result for everything then", parseImage),
  )
    .addHelpText(
      "after",
      [
        "",
        "Each row: the input, whether it was flagged, and the flagged categories with their scores",
        "(or, when none is, the highest-scoring category). With --image there is one result for the",
        "texts and images together; the texts are then only the arguments (or stdin with -).",
        "",
        "Exit codes: 0 nothing was flagged; 1 something was flagged (or the call failed: then stdout is",
        "empty); 2 bad usage (no input, an empty input, more than 32), and nothing is sent.",
        "",
        "Examples:",
        '  signalbox moderate "I will attack you" "Have a nice day"',
        "  grep -h . comments.txt | signalbox moderate --csv > verdicts.csv",
        '  signalbox moderate "$REPLY" >/dev/null 2>&1 && post "$REPLY"   # only what passed',
        '  signalbox moderate --json "caption" --image https://example.com/photo.png',
      ].join("\n"),
    )
    .action(async (words: string[], o: ModerateFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const images = o.image ?? [];
      const inputs = await textsOf(words, images.length > 0);
      if (inputs.length === 0 && images.length === 0) throw usageError("no input", 'pass the texts as arguments (signalbox moderate "some text") or on stdin, one per line');
      const empty = inputs.findIndex((t) => t.trim() === "");
      if (empty >= 0) throw usageError(`input ${empty + 1} is empty`, "every text to classify must have some content");
      if (inputs.length > MAX_INPUTS) throw usageError(`${inputs.length} inputs: at most ${MAX_INPUTS} in one request`, `split them (e.g. … | split -l ${MAX_INPUTS})`);

      const request = { model: o.model, inputs, ...(images.length ? { imageUrls: images } : {}), ...requestFields(o) };
      const response = await waiting("moderating", () => sb.moderation.moderate(request));
      const rows: Row[] = images.length
        ? response.results.slice(0, 1).map((result) => ({ index: "all", input: together(inputs, images.length), result }))
        : response.results.map((result, i) => ({ index: String(i + 1), input: inputs[i] ?? "", result }));
      const flagged = rows.filter((r) => r.result.flagged).length;

      if (mode === "json") await json(toJson(ModerateResponseSchema, response));
      else {
        await out(mode === "csv" ? csv(COLUMNS, rows) : table(COLUMNS, rows));
        note(
          responseSummary(
            [`— ${servedBy(response)}`, images.length ? (flagged ? "flagged" : "not flagged") : `${flagged} of ${rows.length} flagged`],
            response,
          ),
        );
      }
      // Said already (the rows): only the exit code is left to set.
      if (flagged) throw new CliError("", undefined, EXIT.failed);
    });
}

/**
 * The texts: the arguments, each one input; stdin, one per line (blank lines skipped), when there
 * are none or just "-". With images and no arguments, stdin is read only when asked for with "-"
 * (the images alone are a request).
 */
async function textsOf(words: string[], withImages: boolean): Promise<string[]> {
  const stdin = words.length === 1 && words[0] === "-";
  if (!stdin && words.includes("-")) throw usageError("- (stdin) cannot be combined with texts as arguments", "pass the texts as arguments, or all of them on stdin with -");
  if (words.length && !stdin) return words;
  if (withImages && !stdin) return [];
  return (await readStdin())
    .split("\n")
    .map((l) => l.replace(/\r$/, ""))
    .filter((l) => l.trim() !== "");
}

/** The INPUT of a request with images: its texts and how many images. */
function together(inputs: string[], images: number): string {
  const pics = `${images} image${images === 1 ? "" : "s"}`;
  return inputs.length ? `${inputs.join(" / ")} + ${pics}` : pics;
}
