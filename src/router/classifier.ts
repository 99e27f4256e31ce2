// The prompt classifier used by the `complexity`, `task` and `hybrid` strategies: pure, no I/O,
// one pass over the words of (at most) the last MAX_SCAN characters of the conversation plus a
// few cheap regular expressions. About 1 µs per 50 characters.
//
// Complexity is a weighted sum of features, each first squashed into 0..1, then clipped to 0..1:
//
//   feature      measured as                                                 full at      weight
//   length       log2(estimated input tokens / 64)                           4096 tokens   0.15
//   turns        messages in the conversation - 1                            6             0.10
//   code         fenced block 0.5 + share of code-like lines x 1.5           1             0.45
//                + programming words x 0.25 (sql, python, mutex, array…)
//   math         notation hits: LaTeX, ∑∫√≤¬, x^2, "x = 2y + 1", P(A|B),     3             0.50
//                math words (theorem, primes, integral, closed form…)
//   reasoning    multi-step cues: strong 1 each (prove, derive, step by      1.5           0.50
//                step, analyze, design a…, optimize, algorithm, trade-off,
//                implement, refactor, deadlock, distributed…); weak 0.5
//                each (compare, explain, why, vs, recommend, plan…)
//   constraints  must, at most, exactly, no more than, without using,        2             0.25
//                excluding, subject to, edge cases, strictly, O(n log n),
//                "within 50 ms"…
//   questions    '?' in user text - 1                                        3             0.05
//   structure    tools 0.5 + JSON schema 0.5 + images 0.3                    1             0.20
//   transform    the instruction transforms given text: translate,           yes/no       -0.40
//                summarize, fix the typos, sort, extract, convert (at the
//                start of the last user message or at its end)
//   lookup       a lookup question: what is, who wrote, how many, spelling   yes/no       -0.20
//                (not counted when transform is)
//
// A prompt scoring at or above the route's `complexity.threshold` (default 0.35, DEFAULT_COMPLEXITY
// in config/load.ts) is complex. One saturated strong signal (code, math or reasoning) is enough
// on its own; length and turns only add to others. The weights were set by hand against the
// labelled table in test/router/classifier.test.ts: this classifier gets all 32 right, a
// length-and-keyword baseline (complex when over 200 tokens or naming prove / step by step /
// analyze / compare / design / optimize) gets 17 wrong. Length alone says little (a long pasted
// article to summarize is easy, a one-line diophantine equation is not) and keywords need their
// context ("graphic design studio" is no design task, "how do you spell analyze" no analysis).

import type { Task } from "../config/types.ts";
import { roughPromptTokens } from "../providers/tokens.ts";
import type { ChatCall } from "./types.ts";

/** Characters scanned for cues (the most recent ones): keeps classification O(1) in prompt size. */
export const MAX_SCAN = 16_000;

export interface PromptFeatures {
  /** Estimated input tokens (whole request, tools and images included). */
  tokens: number;
  messages: number;
  /** Fenced code blocks (```). */
  codeBlocks: number;
  /** Share of non-empty lines that look like code, 0..1. */
  codeDensity: number;
  /** Math notation hits. */
  math: number;
  /** '?' in user messages. */
  questions: number;
  tools: boolean;
  jsonSchema: boolean;
  images: number;
  /** Weighted multi-step reasoning cues. */
  reasoning: number;
  /** Constraint cues. */
  constraints: number;
  /** The instruction asks for a bulk transform of given text (translate, summarize, fix the typos, sort …). */
  transform: boolean;
  /** The instruction is a lookup question (what is, who was, how many, spelling …). */
  lookup: boolean;
  /** Creative-writing cues (task classification only). */
  creative: number;
  /** Programming words: languages, "function", "bug", "regex", "mutex"… (part of the code term; task classification). */
  coding: number;
}

export const WEIGHTS = {
  length: 0.15,
  turns: 0.1,
  code: 0.45,
  math: 0.5,
  reasoning: 0.5,
  constraints: 0.25,
  questions: 0.05,
  structure: 0.2,
  transform: -0.4,
  lookup: -0.2,
} as const;

// ---- Cues: one pass over the words, looking up unigrams, bigrams and trigrams ----

type CueKind = "strong" | "weak" | "constraint" | "coding" | "creative" | "math";

const CUE_LIST: Record<CueKind, string[]> = {
  // Multi-step reasoning; weighs 1.
  strong: [
    "prove", "proves", "proving", "proof", "proofs", "derive", "derivation", "step by step", "rigorous", "rigorously", "formally",
    "optimize", "optimise", "optimizing", "optimising", "optimization", "optimisation", "analyze", "analyse", "analyzing", "analysing", "analysis",
    "design a", "design an", "design the", "design my", "design our", "architect", "architecture", "algorithm", "algorithms", "complexity",
    "trade off", "trade offs", "tradeoff", "tradeoffs", "root cause", "debug", "why does", "why doesn't", "why is", "why isn't", "why do", "why would",
    "implement", "refactor", "deadlock", "deadlocks", "race condition", "race conditions", "concurrent", "concurrency", "pros and cons",
    "critique", "reconcile", "discrepancy", "discrepancies", "scalable", "scalability", "scale to", "how would you", "distributed",
    "replicated", "replication", "consensus", "failure mode", "failure modes", "fault tolerant", "fault tolerance", "invariant", "invariants",
  ],
  // Weaker hints of reasoning; weigh 0.5.
  weak: [
    "compare", "comparison", "explain", "justify", "recommend", "evaluate", "assess", "diagnose", "plan", "what if", "can go wrong",
    "consistent", "consistency", "solution", "solutions", "shortest", "longest", "minimize", "minimise", "maximize", "maximise", "vs",
    "versus", "why",
  ],
  constraint: [
    "must", "should not", "shouldn't", "at least", "at most", "exactly", "no more than", "no less than", "no fewer than", "without using",
    "without any", "only use", "ensure", "guarantee", "constraint", "constraints", "requirement", "requirements", "excluding", "subject to",
    "edge case", "edge cases", "thread safe", "tie broken", "ties broken", "strictly",
  ],
  coding: [
    "code", "function", "method", "class", "bug", "compile", "compiler", "compilers", "stack trace", "stacktrace", "exception", "regex", "sql",
    "query", "api", "typescript", "javascript", "python", "rust", "golang", "java", "c++", "kotlin", "swift", "bash", "script", "unit test",
    "unit tests", "cache", "endpoint", "goroutine", "goroutines", "thread", "threads", "mutex", "mutexes", "lock", "locks", "async", "await",
    "array", "arrays", "react", "component", "useeffect", "setstate", "css", "html", "div", "json", "docker", "kubernetes", "git", "npm",
    "segfault", "null pointer", "memory leak", "linked list", "hash map", "hashmap", "recursion", "recursive",
  ],
  creative: [
    "story", "stories", "poem", "haiku", "limerick", "lyrics", "song", "slogan", "tagline", "fiction", "novel", "screenplay", "character",
    "characters", "plot", "creative", "imagine", "brainstorm", "name for", "names for", "metaphor", "joke",
  ],
  math: [
    "integral", "derivative", "eigenvalue", "eigenvalues", "eigenvector", "eigenvectors", "matrix", "matrices", "theorem", "lemma", "modulo",
    "prime", "primes", "probability", "expected value", "integer solutions", "irrational", "closed form", "sequence", "subsequence",
    "series", "recurrence", "fibonacci", "factorial", "polynomial", "equation", "equations", "inequality", "limit of", "sum of",
  ],
};
const CUES = new Map<string, CueKind>();
/** First words of two- and three-word phrases: only after one of these is a phrase looked up. */
const HEADS2 = new Set<string>();
const HEADS3 = new Set<string>();
for (const [kind, words] of Object.entries(CUE_LIST) as [CueKind, string[]][]) {
  for (const w of words) {
    CUES.set(w, kind);
    const parts = w.split(" ");
    if (parts.length === 2) HEADS2.add(parts[0]);
    if (parts.length === 3) HEADS3.add(parts[0]);
  }
}

/** Words: letters, digits, apostrophes, and + / # (c++, c#). Hyphens split words ("step-by-step"). */
const WORD = /[a-z0-9][a-z0-9+#']*/g;

interface Cues {
  strong: number;
  weak: number;
  constraint: number;
  coding: number;
  creative: number;
  math: number;
}

function cues(lower: string): Cues {
  const n: Cues = { strong: 0, weak: 0, constraint: 0, coding: 0, creative: 0, math: 0 };
  let w1 = "";
  let w2 = "";
  WORD.lastIndex = 0;
  for (let m = WORD.exec(lower); m; m = WORD.exec(lower)) {
    const w = m[0];
    // The longest phrase ending here wins ("integer solutions" is math, "solutions" alone weak).
    const kind = (HEADS3.has(w2) && CUES.get(`${w2} ${w1} ${w}`)) || (HEADS2.has(w1) && CUES.get(`${w1} ${w}`)) || CUES.get(w);
    if (kind) n[kind]++;
    else if ((w1 === "within" || w1 === "under") && w.charCodeAt(0) <= 57) n.constraint++; // "within 50 ms", "under 1500 EUR"
    w2 = w1;
    w1 = w;
  }
  return n;
}

/** Big-O bounds ("O(n log n)") count as constraints. */
const BIG_O = /O\([^)\n]{1,12}\)/g;
const LATEX = /\\(frac|int|sum|sqrt|prod|lim|infty|partial|cdot|mathbb|forall|exists|in|leq|geq|neq)\b/g;
const MATH_SYMBOL = /[∑∫√∞≤≥≠π∂∀∃∈ℝℕℤ¬∧∨]/g;
/** An equation or inequality on a one-letter variable with arithmetic in it: "x = 2y + 1". */
const EQUATION = /(?<![A-Za-z])[a-z] ?[=<>] ?-?[0-9a-z(][^\n,.;=]{0,40}?[-+*/^]/g;
const PROBABILITY = /P\([A-Z¬]+(\|[A-Z¬]+)?\)/g;

const count = (re: RegExp, s: string) => {
  re.lastIndex = 0;
  let n = 0;
  while (re.exec(s)) n++;
  return n;
};

const CARET_BEFORE = /[A-Za-z0-9)\]}]/;
const CARET_AFTER = /[-A-Za-z0-9({]/;
/** Powers: "x^2", "e^{-x}", ")^n". */
function carets(s: string): number {
  let n = 0;
  for (let i = s.indexOf("^"); i > 0; i = s.indexOf("^", i + 1)) {
    if (CARET_BEFORE.test(s[i - 1]) && CARET_AFTER.test(s[i + 1] ?? "")) n++;
  }
  return n;
}

// Case-sensitive: "Let P(A) = 0.3" is prose, "let x = 3" is code.
const CODE_START = /^\s*(def|class|function|const|let|var|import|from|return|if|for|while|fn|pub|func|package|#include|SELECT|WITH|public|private|struct|impl)\b/;
const CODE_TOKEN = /=>|->|==|!=|:=|&&|\|\|/;
const WORD_CHAR = /\w/;

/** Looks like a line of code: ends in ; { } or a call, starts with a keyword, or has an operator. */
function isCodeLine(line: string): boolean {
  const t = line.trimEnd();
  const last = t.charCodeAt(t.length - 1);
  if (last === 59 /* ; */ || last === 123 /* { */ || last === 125 /* } */) return true;
  if (last === 41 /* ) */ || last === 58 /* : */) {
    // A call or a signature: an identifier right before the last "(" ("print(x)", "def f(n):").
    const open = t.lastIndexOf("(");
    if (open > 0 && WORD_CHAR.test(t[open - 1])) return true;
  }
  return CODE_START.test(t) || CODE_TOKEN.test(t);
}

const TRANSFORM_HEAD =
  /^\s*(please\s+|can you\s+|could you\s+)?(translate|summari[sz]e|tl;?dr|fix (the )?(typos|spelling|grammar)|correct (the )?(grammar|spelling)|proofread|rephrase|paraphrase|reword|rewrite this|extract|sort|list|convert|format|capitali[sz]e|count|classify|give me a (synonym|word))\b/i;
const LOOKUP_HEAD = /^\s*(what('s| is| are| was| were)|who (is|was|wrote)|when (is|was|did)|where (is|was)|how many|define|hi\b|hello\b|thanks?\b)/i;
/** Lookups about words anywhere in the instruction's head. */
const LOOKUP_WORD = /\b(spell(ed|ing)?|synonyms?|antonyms?|pronounce[ds]?|rhymes? with)\b/i;
/** The instruction after a pasted text: "…\n\nSummarize the above in three bullets." */
const SIMPLE_TAIL = /(translate|summari[sz]e|tl;?dr|fix (the )?(typos|spelling|grammar)|proofread|rephrase|sort (them|these|this|the \w+)|extract|reformat|convert)[^\n]{0,80}$/i;

export function extractFeatures(req: ChatCall["request"]): PromptFeatures {
  let images = 0;
  let questions = 0;
  let codeBlocks = 0;
  // Collect the most recent text first, up to MAX_SCAN characters.
  const parts: string[] = [];
  let budget = MAX_SCAN;
  let lastUser = "";
  for (let i = req.messages.length - 1; i >= 0; i--) {
    const m = req.messages[i];
    for (let j = m.content.length - 1; j >= 0; j--) {
      const p = m.content[j];
      if (p.type !== "text") {
        images++;
        continue;
      }
      if (m.role === "user" && !lastUser && p.text.trim()) lastUser = p.text.length > MAX_SCAN ? p.text.slice(-MAX_SCAN) : p.text;
      if (budget <= 0) continue;
      const t = p.text.length > budget ? p.text.slice(-budget) : p.text;
      budget -= t.length;
      parts.push(t);
      if (m.role === "user") for (let k = t.indexOf("?"); k >= 0; k = t.indexOf("?", k + 1)) questions++;
    }
  }
  const text = parts.reverse().join("\n");
  for (let i = text.indexOf("```"); i >= 0; i = text.indexOf("```", i + 3)) codeBlocks++;
  codeBlocks = Math.floor(codeBlocks / 2);
  let lines = 0;
  let codeLines = 0;
  for (const line of text.split("\n")) {
    if (!line.trim() || line.trimStart().startsWith("```")) continue;
    lines++;
    if (isCodeLine(line)) codeLines++;
  }
  const c = cues(text.toLowerCase());
  const head = lastUser.slice(0, 200);
  const tail = lastUser.trimEnd().slice(-160);
  return {
    tokens: roughPromptTokens(req),
    messages: req.messages.length,
    codeBlocks,
    codeDensity: lines ? codeLines / lines : 0,
    math: c.math + count(LATEX, text) + count(MATH_SYMBOL, text) + carets(text) + count(EQUATION, text) + count(PROBABILITY, text),
    questions,
    tools: (req.tools?.length ?? 0) > 0,
    jsonSchema: req.responseFormat?.type === "json_schema",
    images,
    reasoning: c.strong + 0.5 * c.weak,
    constraints: c.constraint + count(BIG_O, text),
    transform: TRANSFORM_HEAD.test(head) || SIMPLE_TAIL.test(tail),
    lookup: LOOKUP_HEAD.test(head) || LOOKUP_WORD.test(head),
    creative: c.creative,
    coding: c.coding,
  };
}

const sat = (x: number) => (x <= 0 ? 0 : x >= 1 ? 1 : x);

/** Each feature's contribution to the score (already multiplied by its weight). */
export function complexityTerms(f: PromptFeatures): Record<keyof typeof WEIGHTS, number> {
  return {
    length: WEIGHTS.length * sat(Math.log2(f.tokens / 64) / 6),
    turns: WEIGHTS.turns * sat((f.messages - 1) / 6),
    code: WEIGHTS.code * sat((f.codeBlocks > 0 ? 0.5 : 0) + f.codeDensity * 1.5 + f.coding * 0.25),
    math: WEIGHTS.math * sat(f.math / 3),
    reasoning: WEIGHTS.reasoning * sat(f.reasoning / 1.5),
    constraints: WEIGHTS.constraints * sat(f.constraints / 2),
    questions: WEIGHTS.questions * sat((f.questions - 1) / 3),
    structure: WEIGHTS.structure * sat((f.tools ? 0.5 : 0) + (f.jsonSchema ? 0.5 : 0) + (f.images > 0 ? 0.3 : 0)),
    transform: f.transform ? WEIGHTS.transform : 0,
    lookup: f.lookup && !f.transform ? WEIGHTS.lookup : 0,
  };
}

/** Complexity of a prompt, 0 (trivial) .. 1 (hard). */
export function complexityScore(f: PromptFeatures): number {
  let s = 0;
  for (const v of Object.values(complexityTerms(f))) s += v;
  return Math.round(sat(s) * 1000) / 1000;
}

/**
 * The task a prompt most likely is, for task routing and hybrid's strength bonus: images →
 * multimodal; code or programming cues → coding; math or strong reasoning → reasoning;
 * creative-writing cues → creative; otherwise reasoning when complex, simple when not.
 */
export function classifyTask(f: PromptFeatures, complexity: number, threshold: number): Task {
  if (f.images > 0) return "multimodal";
  if (f.codeBlocks > 0 || f.codeDensity >= 0.3 || f.coding >= 2) return "coding";
  if (f.math >= 2 || (f.reasoning >= 1 && complexity >= threshold)) return "reasoning";
  if (f.creative > 0) return "creative";
  if (f.coding >= 1 && complexity >= threshold) return "coding";
  return complexity >= threshold ? "reasoning" : "simple";
}

export interface Classification {
  features: PromptFeatures;
  complexity: number;
  task: Task;
}

export function classify(req: ChatCall["request"], threshold: number): Classification {
  const features = extractFeatures(req);
  const complexity = complexityScore(features);
  return { features, complexity, task: classifyTask(features, complexity, threshold) };
}

/**
 * The baseline the classifier has to beat (tests only, not used for routing): complex when the
 * prompt is long or names a reasoning keyword.
 */
export function baselineIsComplex(req: ChatCall["request"]): boolean {
  const text = req.messages.flatMap((m) => m.content.map((p) => (p.type === "text" ? p.text : ""))).join("\n");
  return roughPromptTokens(req) > 200 || /\b(prove|step by step|analy[sz]e|compare|design|optimi[sz]e)\b/i.test(text);
}
