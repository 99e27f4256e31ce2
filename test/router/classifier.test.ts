// The prompt classifier: a labelled table it must get right, and a length-and-keyword baseline
// that gets several of the same prompts wrong (the reason the classifier exists).

import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_COMPLEXITY } from "../../src/config/load.ts";
import type { ChatMessage, ToolDef } from "../../src/providers/types.ts";
import { baselineIsComplex, classify, complexityScore, extractFeatures } from "../../src/router/classifier.ts";
import type { ChatCall } from "../../src/router/types.ts";

type Req = ChatCall["request"];
const user = (text: string): ChatMessage => ({ role: "user", content: [{ type: "text", text }] });
const say = (text: string): Req => ({ messages: [user(text)] });

const ARTICLE = `The city council met on Tuesday evening to discuss the proposed changes to the downtown parking rules.
Residents filled the chamber, many of them shop owners who worry that the new two-hour limit will push customers
to the mall on the edge of town. The council heard from twenty-three speakers over almost three hours. Several
asked for a trial period; others wanted free parking on Saturdays to stay. The transport department presented a
study showing that most spaces are taken by commuters before nine in the morning and stay taken all day, which
leaves little room for shoppers. The mayor said she would bring a revised proposal to the next meeting, with a
six-month trial and a review of the Saturday rule. The meeting closed with a short update on the riverside path,
which is due to reopen in the spring after the flood repairs, and a reminder that the library will extend its
opening hours during the exam period. Local businesses welcomed the delay but said they want to be consulted
before the revised plan is published, and a petition with more than four hundred signatures was handed in.`;

const EMAIL = `Hi Sarah,

Thanks for you're message last week. I wanted to folow up on the quarterly report, which I beleive is due on
friday. Could you send me the latest numbers from the the sales team when you get a chance? I also need the
updated headcount for the northern region, since the figures we recieved last month seemed to be missing the two
new hires in Leeds. If its easier, we can go through it on a quick call tomorow afternoon; I am free after 2pm.
Let me know what works for you, and thanks again for all your help with the launch event, it went really well
and the client was very happy with the turnout and the presentations. Best regards, and have a good weekend,
Tom`;

const NAMES = Array.from({ length: 90 }, (_, i) => ["Olsen", "Garcia", "Nakamura", "Smith", "Okafor", "Dubois", "Kowalski", "Rossi", "Singh"][i % 9] + " " + String.fromCharCode(65 + ((i * 7) % 26)) + ".").join(", ");

const SPEC = `We run a marketplace where sellers list products in several currencies and buyers pay in their own currency.
Orders can contain items from several sellers; each seller ships separately and may partially refund. Payouts to
sellers happen weekly, net of fees, and must be reproducible for audits: given a payout id, finance must be able to
list exactly which order lines, refunds, fees and exchange rates went into it. Exchange rates are captured at the
moment of payment and must never be recomputed. Refunds may happen after a payout and then have to be clawed back
from the next one. Some sellers are VAT-registered, others are not, and the invoice rules differ per country.
The system currently stores all of this in a single orders table with JSON columns and it is impossible to query.
Design the relational schema (tables, keys, constraints) for orders, order lines, refunds, fees, exchange rates
and payouts, and explain how a payout is computed.`;

const INVOICE_TOOLS: ToolDef[] = [
  { name: "get_invoice", description: "Fetch an invoice by id", parameters: { type: "object", properties: { id: { type: "string" } }, required: ["id"] } },
  { name: "list_payments", description: "List payments for a customer", parameters: { type: "object", properties: { customer: { type: "string" } } } },
];

/** [label, prompt, expected complexity]; the comment marks where the baseline goes wrong. */
const TABLE: [string, Req, "simple" | "complex"][] = [
  ["greeting", say("Hi! How are you today?"), "simple"],
  ["capital", say("What's the capital of Australia?"), "simple"],
  ["short translation", say("Translate to French: 'The meeting has moved to Thursday.'"), "simple"],
  ["long article to summarize", say(`${ARTICLE}\n\nSummarize the above in three bullet points.`), "simple"], // baseline: long
  ["long email, fix typos", say(`Fix the typos in this email:\n\n${EMAIL}`), "simple"], // baseline: long
  ["trivial compare", say("Compare these two words: which is longer, 'cat' or 'horse'?"), "simple"], // baseline: "compare"
  ["graphic design studio", say("Suggest a name for my graphic design studio."), "simple"], // baseline: "design"
  ["unit conversion", say("Convert 72 degrees Fahrenheit to Celsius."), "simple"],
  ["synonym", say("Give me a synonym for 'happy'."), "simple"],
  ["time zone", say("What time zone is Tokyo in?"), "simple"],
  ["long list to sort", say(`Sort these names alphabetically by surname:\n${NAMES}`), "simple"], // baseline: long
  ["haiku", say("Write a haiku about autumn leaves."), "simple"],
  ["spelling of optimize", say("Is 'optimize' spelled with a z in American English?"), "simple"], // baseline: "optimize"
  ["extract emails", say("Extract all email addresses from: john@example.com, mary at example dot org, bob@example.net"), "simple"],
  ["analyze spelled", say("How do you spell 'analyze' in British English?"), "simple"], // baseline: "analyze"
  ["long article, translate", say(`Translate the following into Spanish:\n\n${ARTICLE}`), "simple"], // baseline: long
  ["prove primes", say("Prove that there are infinitely many primes."), "complex"],
  ["pell equation", say("Find all integer solutions of x^2 - 2y^2 = 1."), "complex"], // baseline: short, no keyword
  [
    "deadlock",
    say("Why does this deadlock?\n```go\nfunc main() {\n  ch := make(chan int)\n  ch <- 1\n  fmt.Println(<-ch)\n}\n```"),
    "complex",
  ], // baseline: short, no keyword
  [
    "LRU cache with constraints",
    say("Implement an LRU cache in TypeScript with O(1) get and put. It must be generic and must not rely on Map iteration order."),
    "complex",
  ], // baseline: short, no keyword
  [
    "distributed rate limiter",
    say("Design a rate limiter for a distributed API gateway handling 1M requests per second across three regions; discuss the consistency trade-offs."),
    "complex",
  ],
  [
    "agent with tools",
    {
      messages: [
        { role: "system", content: [{ type: "text", text: "You are a billing assistant. Use the tools." }] },
        user("Customer ACME says they were double-charged in March."),
        { role: "assistant", content: [], toolCalls: [{ id: "c1", name: "get_invoice", arguments: '{"id":"INV-301"}' }] },
        { role: "tool", toolCallId: "c1", content: [{ type: "text", text: '{"id":"INV-301","total":1200,"lines":[{"sku":"A","qty":2}]}' }] },
        { role: "assistant", content: [], toolCalls: [{ id: "c2", name: "list_payments", arguments: '{"customer":"ACME"}' }] },
        { role: "tool", toolCallId: "c2", content: [{ type: "text", text: '[{"amount":1200,"date":"2025-03-02"},{"amount":1200,"date":"2025-03-03"}]' }] },
        user("Now reconcile the invoice with the payments and return the discrepancies."),
      ],
      tools: INVOICE_TOOLS,
      responseFormat: { type: "json_schema", name: "discrepancies", schema: { type: "object" } },
    },
    "complex",
  ], // baseline: short, no keyword
  ["integral", say("Compute \\int_0^\\infty x^2 e^{-x} dx and justify each step."), "complex"], // baseline: short, no keyword
  ["merge sort", say("Analyze the time complexity of merge sort step by step."), "complex"],
  [
    "tail recursion",
    say("Refactor this function to be tail-recursive and explain the change:\n```python\ndef f(n):\n    if n == 0:\n        return 1\n    return n * f(n - 1)\n```"),
    "complex",
  ], // baseline: short, no keyword
  [
    "graph problem",
    say("Given a weighted directed graph, find the shortest route that visits every node exactly once, subject to at most 3 edge reversals. Which algorithm would you use, and what is its complexity?"),
    "complex",
  ], // baseline: short, no keyword
  [
    "second most recent order",
    say("Write a SQL query returning, for each customer, their second most recent order, excluding cancelled orders, with ties broken by order id."),
    "complex",
  ], // baseline: short, no keyword
  ["bayes", say("Let P(A) = 0.3, P(B|A) = 0.6 and P(B|¬A) = 0.2. What is P(A|B)?"), "complex"], // baseline: short, no keyword
  ["raft vs paxos", say("Compare Raft and Paxos for a geo-replicated metadata store and recommend one, with the failure modes of each."), "complex"],
  [
    "optimize sql",
    say("Optimize this query for Postgres:\n```sql\nSELECT c.id, count(*) FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.created_at > now() - interval '30 days' GROUP BY c.id;\n```"),
    "complex",
  ],
  ["marketplace schema", say(SPEC), "complex"],
  [
    "race condition",
    say("Two goroutines append to the same slice without a lock. What can go wrong, and how would you fix it without using a mutex?"),
    "complex",
  ], // baseline: short, no keyword
];

const threshold = DEFAULT_COMPLEXITY.threshold;
const isComplex = (r: Req) => complexityScore(extractFeatures(r)) >= threshold;

test("the table is big enough and balanced", () => {
  assert.ok(TABLE.length >= 30);
  const complex = TABLE.filter(([, , l]) => l === "complex").length;
  assert.ok(complex >= 12 && TABLE.length - complex >= 12);
});

test("the classifier labels every prompt of the table correctly", () => {
  const wrong = TABLE.filter(([, r, label]) => isComplex(r) !== (label === "complex")).map(([name, r, label]) => `${name}: ${label}, scored ${complexityScore(extractFeatures(r))}`);
  assert.deepEqual(wrong, []);
});

test("a length-and-keyword baseline gets several of the same prompts wrong", () => {
  const wrong = TABLE.filter(([, r, label]) => baselineIsComplex(r) !== (label === "complex")).map(([name]) => name);
  assert.ok(wrong.length >= 8, `baseline wrong on only ${wrong.length}: ${wrong.join(", ")}`);
  // Both kinds of mistake: long-but-easy and short-but-hard.
  assert.ok(wrong.includes("long article to summarize") && wrong.includes("pell equation"), wrong.join(", "));
});

test("scores are in 0..1, deterministic, and more cues never lower the score", () => {
  for (const [, r] of TABLE) {
    const s = complexityScore(extractFeatures(r));
    assert.ok(s >= 0 && s <= 1);
    assert.equal(complexityScore(extractFeatures(r)), s);
  }
  const base = complexityScore(extractFeatures(say("Write a function that sorts a list of integers.")));
  const more = complexityScore(extractFeatures(say("Write a function that sorts a list of integers in O(n log n) without using extra memory; the sort must be stable.")));
  assert.ok(more > base, `${more} <= ${base}`);
});

test("task classification: images, code, math, creative, simple", () => {
  const t = (r: Req) => classify(r, threshold).task;
  assert.equal(t({ messages: [{ role: "user", content: [{ type: "text", text: "What is in this picture?" }, { type: "image", url: "https://example.com/a.png" }] }] }), "multimodal");
  assert.equal(t(TABLE.find(([n]) => n === "deadlock")![1]), "coding");
  assert.equal(t(TABLE.find(([n]) => n === "LRU cache with constraints")![1]), "coding");
  assert.equal(t(TABLE.find(([n]) => n === "pell equation")![1]), "reasoning");
  assert.equal(t(TABLE.find(([n]) => n === "prove primes")![1]), "reasoning");
  assert.equal(t(TABLE.find(([n]) => n === "haiku")![1]), "creative");
  assert.equal(t(TABLE.find(([n]) => n === "capital")![1]), "simple");
  assert.equal(t(TABLE.find(([n]) => n === "long article to summarize")![1]), "simple");
});

test("a huge prompt is classified quickly (only the most recent text is scanned)", () => {
  const huge = say(`${"lorem ipsum dolor sit amet ".repeat(200_000)}\nWhat is 2+2?`);
  const t0 = performance.now();
  classify(huge, threshold);
  assert.ok(performance.now() - t0 < 200, "classification took too long");
});
