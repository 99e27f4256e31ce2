// `signalbox chat --file x.pdf --pdf-reader native|text|ocr` as users run it: the built bundle in a
// child process against a real gateway started in process on the embedded default config
// (config/default.yaml). Its chat models are mocks that echo the head of the last user message
// (a PDF sent as is shows as "[file]"), and every one has vision, so what the flag changes shows in
// the echo and in the usage records: with `ocr` the PDF first goes through the `ocr` route (mock/ocr,
// which reads the text layer page by page at $0.002 a page), recorded as an OCR request tagged
// file-parser in the chat's trace; with `text` the gateway reads the text layer itself, for free.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createSignalboxClient, Operation, type RequestRecord, type SignalboxClient } from "@signalbox/client";
import { DEFAULT_CONFIG_PATH } from "../../src/config/load.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, exited, recordsOfUser, runCli, type CliRun } from "../helpers/cli.ts";
import { makePdf } from "../helpers/pdf.ts";

let g: TestGateway;
let sb: SignalboxClient;
let tmp: string;

/** Run the built CLI against the gateway (no key: the default config has none). */
function cli(args: string[], opts: { env?: Record<string, string> } = {}): Promise<CliRun> {
  return runCli(g?.url ?? "http://127.0.0.1:9", args, { ...opts, cwd: tmp });
}

/** A PDF with these pages' text, written into the temp dir; its path. */
function pdfFile(name: string, pages: string[]): string {
  const path = join(tmp, name);
  writeFileSync(path, makePdf(pages));
  return path;
}

/** The records listed until `done` holds of them (a request is recorded after it answers): at most two seconds. */
async function recordsUntil(list: () => Promise<RequestRecord[]>, done: (rs: RequestRecord[]) => boolean): Promise<RequestRecord[]> {
  let rs = await list();
  for (let i = 0; i < 100 && !done(rs); i++) {
    await new Promise((res) => setTimeout(res, 20));
    rs = await list();
  }
  return rs;
}

/** The one chat record of an end user, and every record of its trace once `done` holds of them. */
async function chatAndTrace(user: string, done: (rs: RequestRecord[]) => boolean = () => true): Promise<{ chat: RequestRecord; trace: RequestRecord[] }> {
  const mine = await recordsOfUser(() => sb.usage.listRequests({ pageSize: 100 }), user);
  const chats = mine.filter((r) => r.operation === Operation.CHAT);
  assert.equal(chats.length, 1, JSON.stringify(mine.map((r) => ({ op: r.operation, tags: r.tags }))));
  const [chat] = chats;
  assert.ok(chat.traceId, "the chat's record has a trace id");
  const trace = await recordsUntil(async () => (await sb.usage.listRequests({ pageSize: 100, traceId: chat.traceId })).records, done);
  return { chat, trace };
}

const ocrRecords = (rs: RequestRecord[]) => rs.filter((r) => r.operation === Operation.OCR);

describe("signalbox chat --pdf-reader against a gateway on the default config", () => {
  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-chat-pdf-"));
    g = await startTestGateway(readFileSync(DEFAULT_CONFIG_PATH, "utf8"));
    sb = createSignalboxClient({ baseUrl: g.url });
  });

  after(async () => {
    await g?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("native (and no flag): the PDF goes to the model as a file part; no OCR request", async () => {
    const pdf = pdfFile("native.pdf", ["Revenue grew 12 percent"]);
    for (const [user, flags] of [["u-pdf-default", []], ["u-pdf-native", ["--pdf-reader", "native"]]] as const) {
      const r = exited(await cli(["chat", "--file", pdf, ...flags, "--user", user, "What changed?"]), 0, flags.join(" ") || "no flag");
      assert.match(r.stdout, /You said: "\[file\] What changed\?"/, r.stdout);
      const { trace } = await chatAndTrace(user);
      assert.deepEqual(ocrRecords(trace), [], "nothing read by OCR");
    }
  });

  test("text: the gateway sends the PDF's text layer as '<name>:\\n<text>' in its place; free, no OCR request", async () => {
    const pdf = pdfFile("q3.pdf", ["Revenue grew 12 percent"]);
    const r = exited(await cli(["chat", "--file", pdf, "--pdf-reader", "text", "--user", "u-pdf-text", "What changed?"]), 0);
    assert.ok(r.stdout.includes('You said: "q3.pdf:\\nRevenue grew 12 percent'), r.stdout);
    assert.ok(!r.stdout.includes("[file]"), "no file part reached the model");
    const { chat, trace } = await chatAndTrace("u-pdf-text");
    assert.equal(chat.deployment, "mock/fast");
    assert.deepEqual(ocrRecords(trace), [], "the text layer is read by the gateway, not by the ocr route");
  });

  test("ocr: the PDF goes through the ocr route first, recorded as an OCR request tagged file-parser in the chat's trace, billed per page", async () => {
    const pdf = pdfFile("scan.pdf", ["Invoice 4711", "Total due 99 EUR"]);
    const r = exited(await cli(["chat", "--file", pdf, "--pdf-reader", "ocr", "--user", "u-pdf-ocr", "What is due?"]), 0);
    assert.match(r.stdout, /You said: "scan\.pdf:\\n.*Invoice 4711/, r.stdout);
    assert.ok(!r.stdout.includes("[file]"), "no file part reached the model");
    const { chat, trace } = await chatAndTrace("u-pdf-ocr", (rs) => ocrRecords(rs).length > 0);
    const ocr = ocrRecords(trace);
    assert.equal(ocr.length, 1, JSON.stringify(trace.map((x) => ({ op: x.operation, tags: x.tags, deployment: x.deployment }))));
    assert.ok(ocr[0].tags.includes("file-parser"), `tags: ${ocr[0].tags.join(",")}`);
    assert.equal(ocr[0].traceId, chat.traceId);
    assert.equal(ocr[0].deployment, "mock/ocr");
    assert.equal(ocr[0].cost?.totalNanoUsd, 4_000_000n, "two pages at $0.002");
  });

  test("text on a PDF without a text layer: exit 1, the gateway's error naming the part", async () => {
    const pdf = pdfFile("blank.pdf", [""]);
    const r = exited(await cli(["chat", "--file", pdf, "--pdf-reader", "text", "What is this?"]), 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^error: .*\(invalid_argument\)\n/);
    assert.match(r.stderr, /^ {2}field: messages\[0\]\.content\[0\]$/m);
  });

  test("--pdf-reader without a PDF is harmless: the same answer as without it", async () => {
    const plain = exited(await cli(["chat", "--temperature", "0", "Hello there"]), 0);
    for (const reader of ["native", "text", "ocr"]) {
      const r = exited(await cli(["chat", "--temperature", "0", "--pdf-reader", reader, "Hello there"]), 0, reader);
      assert.equal(r.stdout, plain.stdout, reader);
    }
    const txt = join(tmp, "notes.txt");
    writeFileSync(txt, "plain notes");
    exited(await cli(["chat", "--file", txt, "--pdf-reader", "ocr", "Summarize"]), 0, "a .txt file with --pdf-reader ocr");
  });

  test("a bad --pdf-reader is bad usage before any call (exit 2, the choices named, nothing on stdout)", async () => {
    const pdf = pdfFile("bad.pdf", ["x"]);
    for (const bad of ["vision", "", "OCRR"]) {
      const r = await cli(["chat", "--file", pdf, "--pdf-reader", bad, "q"], { env: { SIGNALBOX_URL: "http://127.0.0.1:9" } });
      assert.equal(r.code, 2, `--pdf-reader ${JSON.stringify(bad)}: exit ${r.code}\n${r.stderr}`);
      assert.ok(r.stderr.includes("is not one of native, text, ocr"), r.stderr);
      assert.equal(r.stdout, "");
    }
    // Case and spaces do not matter.
    exited(await cli(["chat", "--file", pdf, "--pdf-reader", " TEXT ", "q"]), 0);
  });

  test("chat --help lists the flag and an example", async () => {
    const r = exited(await cli(["chat", "--help"]), 0);
    assert.match(r.stdout, /--pdf-reader <reader>/);
    assert.match(r.stdout, /signalbox chat --file \S+\.pdf --pdf-reader ocr /);
  });
});
