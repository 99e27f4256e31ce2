// The console's usage exports in a real browser: Debian's Chromium (driven by playwright-core) signs
// in to a gateway started in process whose config archives usage records to an S3 bucket (the fake
// S3 of test/fakes/object-stores.ts, SigV4 checked). The Alerts page's "Usage exports" card lists
// the export (its destination, never its credentials; a Langfuse export beside it says it sends
// prompts and answers), and "Send now" (FlushUsageExports) sends
// the records that wait: the row then shows them exported, in one object, which is in the bucket.
// With the store failing, Send now leaves the records waiting and the row shows the store's error
// and since when; once the store is back, the next Send now clears it. A gateway without exports
// shows the hint. Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createSignalboxClient, type SignalboxClient, user } from "@signalbox/client";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { hashKey } from "../../src/server/auth.ts";
import { FAKE_S3_CREDS, startFakeS3, type FakeObjectStore, objectLines } from "../fakes/object-stores.ts";
import { endSuite, launchChromium, OUTPUT_DIR, prepareConsole, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { poll } from "../helpers/wait.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "exports", "secret"].join("-");
const LANGFUSE_SECRET = ["sk", "lf", "console", "secret"].join("-");
const BUCKET = "usage-archive";
const PREFIX = "archive/console";

const config = (exportsYaml: string) => `
providers:
  - { name: mock, type: mock, mock: { ttft_ms: 0, chunks: 2 } }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
routes:
  - { name: chat, targets: [mock/a] }
keys:
  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
${exportsYaml}
`;

describe("console: usage exports in Chromium", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let s3: FakeObjectStore & { region: string };
  let gw: TestGateway;
  let bare: TestGateway;
  let client: SignalboxClient;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  const shot = (p: Page, name: string) => p.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const row = (): Locator => page.locator("[data-testid=usage-export][data-name=archive]");
  /** The ids of the records in the bucket's objects. */
  const archivedIds = () => objectLines(s3.objects(BUCKET)).map((l) => l.id as string);
  /** One chat request through the gateway; resolves once its record is kept (and so queued for export). */
  async function ask(text: string): Promise<string> {
    const before = gw.usage.recent().length;
    const res = await client.chat.complete({ model: "chat", messages: [user(text)] });
    await poll(async () => (gw.usage.recent().length > before ? true : undefined), 5000, "the request's record");
    return res.id;
  }
  async function openAlerts(p: Page): Promise<void> {
    await p.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Alerts", exact: true }).click();
    await p.locator("[data-testid=usage-exports]:is([data-state=rows], [data-state=empty])").waitFor();
  }

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-exports-"));
    s3 = await startFakeS3({ buckets: [BUCKET] });
    gw = await startTestGateway(
      config(`usage_export:
  - { name: archive, type: s3, bucket: ${BUCKET}, prefix: ${PREFIX}, region: ${s3.region}, endpoint: ${s3.url}, access_key_id: ${FAKE_S3_CREDS.accessKeyId}, secret_access_key: "${FAKE_S3_CREDS.secretAccessKey}", flush_seconds: 3600 }
  - { name: traces, type: langfuse, url: "http://127.0.0.1:9", public_key: pk-lf-console, secret_key: "${LANGFUSE_SECRET}", capture_content: true, when: { team: nobody }, flush_seconds: 3600 }`),
    );
    client = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN, protocol: "connect", opentelemetry: false });
    context = await launchChromium(join(work, "profile"), { width: 1400, height: 1000 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(async () => {
    s3?.failNext(0);
    await endSuite("usage exports", started, work, context, gw, bare, s3);
  });

  test("the Alerts page lists the export: its type and destination, nothing sent yet, never its credentials", async () => {
    await openAlerts(page);
    assert.equal(await page.getByTestId("usage-export").count(), 2);
    assert.match(await row().locator("td").first().innerText(), /archive\s+S3/);
    assert.match(await row().getByTestId("usage-export-destination").innerText(), new RegExp(`^s3://${BUCKET}/${PREFIX}\\b`));
    assert.equal(await row().getAttribute("data-exported"), "0");
    assert.equal(await row().getByTestId("usage-export-exported").innerText(), "0");
    assert.equal(await row().getByTestId("usage-export-waiting").innerText(), "0");
    assert.equal(await row().getByTestId("usage-export-last").innerText(), "never");
    assert.equal(await row().getByTestId("usage-export-error").count(), 0);
    assert.match(await row().innerText(), /1 h/);
    assert.equal(await row().getByTestId("usage-export-content").count(), 0);
    // A Langfuse export that sends prompts and answers says so.
    const traces = page.locator("[data-testid=usage-export][data-name=traces]");
    assert.match(await traces.locator("td").first().innerText(), /traces\s+Langfuse/);
    assert.equal(await traces.getByTestId("usage-export-destination").innerText(), "Langfuse (127.0.0.1:9)");
    assert.equal(await traces.getByTestId("usage-export-content").innerText(), "with prompts and answers");
    const text = await page.getByTestId("usage-exports").innerText();
    assert.ok(!text.includes(FAKE_S3_CREDS.secretAccessKey) && !text.includes(FAKE_S3_CREDS.accessKeyId) && !text.includes(LANGFUSE_SECRET), "no credential on the page");
  });

  test("Send now sends the request's record: exported 1 in one object, which is in the bucket", async () => {
    const id = await ask("archive me from the console");
    assert.equal(s3.objects(BUCKET).length, 0, "nothing is sent before a flush");
    await row().getByRole("button", { name: "Send now" }).click();
    await row().getByTestId("usage-export-result").getByText(/sent: \d+ exported/).waitFor();
    await page.locator("[data-testid=usage-export][data-name=archive][data-exported='1']").waitFor();
    assert.equal(await row().getByTestId("usage-export-exported").innerText(), "1");
    assert.equal(await row().getByTestId("usage-export-objects").innerText(), "1");
    assert.equal(await row().getByTestId("usage-export-waiting").innerText(), "0");
    assert.match(await row().getByTestId("usage-export-last").innerText(), /^\d{2}:\d{2}:\d{2}$/);
    assert.equal(s3.objects(BUCKET).length, 1);
    assert.ok(s3.objects(BUCKET)[0].key.startsWith(`${PREFIX}/dt=`), s3.objects(BUCKET)[0].key);
    assert.deepEqual(archivedIds(), [id]);
    await shot(page, "usage-exports");
  });

  test("with the store failing, Send now shows its error and since when; once it is back, the next Send now sends", async () => {
    s3.failNext(1000, 503);
    const id = await ask("archive me while the store is down");
    await row().getByRole("button", { name: "Send now" }).click();
    // Three tries, 0.5 s and 2 s apart, then the answer.
    await row().getByTestId("usage-export-result").getByText(/not sent: 1 waiting/).waitFor({ timeout: 20_000 });
    const error = row().getByTestId("usage-export-error");
    await error.waitFor();
    assert.match(await error.innerText(), /Failing since \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
    assert.match(await error.innerText(), /S3 answered HTTP 503/);
    assert.equal(await row().getAttribute("data-failing"), "true");
    assert.equal(await row().getByTestId("usage-export-waiting").innerText(), "1");
    assert.equal(await row().getByTestId("usage-export-exported").innerText(), "1");
    assert.equal(s3.objects(BUCKET).length, 1);
    await shot(page, "usage-exports-failing");

    s3.failNext(0);
    await row().getByRole("button", { name: "Send now" }).click();
    await page.locator("[data-testid=usage-export][data-name=archive][data-exported='2'][data-failing=false]").waitFor({ timeout: 20_000 });
    assert.equal(await row().getByTestId("usage-export-error").count(), 0);
    assert.equal(await row().getByTestId("usage-export-waiting").innerText(), "0");
    assert.ok(archivedIds().includes(id));
  });

  test("a gateway without usage_export shows the hint", async () => {
    bare = await startTestGateway(config(""));
    const p = await signedInPage(context, bare.url, ADMIN, errors);
    await openAlerts(p);
    assert.equal(
      await p.getByTestId("usage-exports-empty").innerText(),
      "No usage exports: add usage_export to the config to archive every request to S3, Cloud Storage or Azure Blob, or send it to Datadog, Splunk or any HTTP endpoint.",
    );
    assert.equal(await p.getByTestId("usage-export").count(), 0);
    await p.close();
  });

  test("no errors in the browser console", () => {
    assert.deepEqual(errors, []);
  });
});
