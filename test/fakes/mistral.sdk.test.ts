// Proves the fake Mistral OCR API against the official @mistralai/mistralai SDK, pointed at the fake with
// `new Mistral({ apiKey, serverURL: fake.url, retryConfig: { strategy: 'none' } })` (the SDK appends `/v1/ocr`
// itself): the snake_case body and `Authorization: Bearer` key `ocr.process()` sends are what the fake records and
// checks, every fake response passes the SDK's zod OCRResponse schema (a wrong shape would reject with
// ResponseValidationError), and the fake's errors come back as the SDK's own classes: HTTPValidationError for 422
// (with `.detail` parsed from the top-level `detail` list), SDKError for other 4xx/5xx, with `statusCode` and the
// raw `body`.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import { Mistral } from '@mistralai/mistralai';
import { ConnectionError, HTTPValidationError, MistralError, RequestTimeoutError, ResponseValidationError, SDKError } from '@mistralai/mistralai/models/errors/index.js';
import { makePdf } from '../helpers/pdf.ts';
import { MISTRAL_IMAGE_MARKDOWN, MISTRAL_TEST_KEY, mistralPageMarkdown, startFakeMistral, type FakeMistral } from './mistral.ts';

/** A valid RGB PNG of the given size (all black). */
function makePng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = Buffer.alloc((width * 3 + 1) * height);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const pdfUrl = (b: Buffer) => `data:application/pdf;base64,${b.toString('base64')}`;
const jsonBody = (e: unknown) => JSON.parse((e as MistralError).body) as Record<string, any>;

describe('fake Mistral OCR vs @mistralai/mistralai', () => {
  let fake: FakeMistral;
  let client: Mistral;
  const twoPages = makePdf(['Invoice 42\nTotal: 17 EUR', 'Second page text']);
  before(async () => {
    fake = await startFakeMistral({ files: { 'file-abc': makePdf(['From a file']) } });
    client = new Mistral({ apiKey: MISTRAL_TEST_KEY, serverURL: fake.url, retryConfig: { strategy: 'none' } });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test('a two-page PDF data URL: two pages with each page\'s text, letter size at 200 dpi, usage, model echoed', async () => {
    const res = await client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'document_url', documentUrl: pdfUrl(twoPages), documentName: 'inv.pdf' } });
    assert.equal(res.pages.length, 2);
    assert.deepEqual(
      res.pages.map((p) => [p.index, p.markdown]),
      [
        [0, '# Page 1\n\nInvoice 42\nTotal: 17 EUR'],
        [1, '# Page 2\n\nSecond page text'],
      ],
    );
    assert.equal(res.pages[1].markdown, mistralPageMarkdown(1, 'Second page text'));
    for (const p of res.pages) {
      assert.deepEqual(p.dimensions, { dpi: 200, width: 1700, height: 2200 });
      assert.deepEqual([p.images, p.tables, p.hyperlinks, p.header, p.footer], [[], [], [], null, null]);
    }
    assert.equal(res.model, 'mistral-ocr-latest');
    assert.equal(res.documentAnnotation, null);
    assert.deepEqual(res.usageInfo, { pagesProcessed: 2, docSizeBytes: twoPages.length });
    const [req] = fake.requests;
    assert.deepEqual([req.method, req.path, req.status], ['POST', '/v1/ocr', 200]);
    assert.equal(req.headers.authorization, `Bearer ${MISTRAL_TEST_KEY}`);
    assert.deepEqual(req.body, { model: 'mistral-ocr-latest', document: { type: 'document_url', document_url: pdfUrl(twoPages), document_name: 'inv.pdf' } });
  });

  test('pages filter keeps only those indices; out of range is a 422', async () => {
    const res = await client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'document_url', documentUrl: pdfUrl(twoPages) }, pages: [1] });
    assert.deepEqual(res.pages.map((p) => [p.index, p.markdown]), [[1, '# Page 2\n\nSecond page text']]);
    assert.equal(res.usageInfo.pagesProcessed, 1);
    assert.deepEqual(fake.requests[0].body.pages, [1]);
    await assert.rejects(client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'document_url', documentUrl: pdfUrl(twoPages) }, pages: [0, 5] }), (e: unknown) => {
      assert.ok(e instanceof HTTPValidationError, String(e));
      assert.equal(e.statusCode, 422);
      assert.match(jsonBody(e).message, /Pages \[5\] are out of range/);
      return true;
    });
  });

  test('image_url with include_image_base64: one page, one image covering it, the data URL echoed back', async () => {
    const png = makePng(640, 480);
    const url = `data:image/png;base64,${png.toString('base64')}`;
    const res = await client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'image_url', imageUrl: url }, includeImageBase64: true });
    assert.equal(res.pages.length, 1);
    const [p] = res.pages;
    assert.equal(p.markdown, MISTRAL_IMAGE_MARKDOWN);
    assert.deepEqual(p.dimensions, { dpi: 200, width: 640, height: 480 });
    assert.deepEqual(p.images, [{ id: 'img-0.jpeg', topLeftX: 0, topLeftY: 0, bottomRightX: 640, bottomRightY: 480, imageBase64: url }]);
    assert.deepEqual(res.usageInfo, { pagesProcessed: 1, docSizeBytes: png.length });
    assert.equal(fake.requests[0].body.include_image_base64, true);
    // The {url} form, no base64 asked for, and image_limit 0 drops the image object.
    const plain = await client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'image_url', imageUrl: { url } } });
    assert.equal(plain.pages[0].images[0].imageBase64, null);
    const none = await client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'image_url', imageUrl: url }, imageLimit: 0 });
    assert.deepEqual(none.pages[0].images, []);
  });

  test('extract_header / extract_footer and table_format html', async () => {
    const res = await client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'document_url', documentUrl: pdfUrl(twoPages) }, extractHeader: true, extractFooter: true, tableFormat: 'html' });
    assert.deepEqual(res.pages.map((p) => [p.header, p.footer, p.tables]), [['Header 1', 'Footer 1', []], ['Header 2', 'Footer 2', []]]);
    assert.deepEqual(
      [fake.requests[0].body.extract_header, fake.requests[0].body.extract_footer, fake.requests[0].body.table_format],
      [true, true, 'html'],
    );
    const onlyHeader = await client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'document_url', documentUrl: pdfUrl(twoPages) }, extractHeader: true });
    assert.deepEqual([onlyHeader.pages[0].header, onlyHeader.pages[0].footer], ['Header 1', null]);
  });

  test('an https document_url with scripted pages and a dated model; files by id', async () => {
    fake.script({ kind: 'ocr', pages: ['# Scripted A', '# Scripted B', '# Scripted C'], model: 'mistral-ocr-2512', documentAnnotation: '{"title":"x"}' });
    const res = await client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'document_url', documentUrl: 'https://example.com/a.pdf' }, pages: [2, 0] });
    assert.deepEqual(res.pages.map((p) => [p.index, p.markdown]), [[0, '# Scripted A'], [2, '# Scripted C']]);
    assert.equal(res.model, 'mistral-ocr-2512');
    assert.equal(res.documentAnnotation, '{"title":"x"}');
    assert.deepEqual(res.usageInfo, { pagesProcessed: 2, docSizeBytes: null });
    const unscripted = await client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'document_url', documentUrl: 'https://example.com/b.pdf' } });
    assert.deepEqual(unscripted.pages.map((p) => p.markdown), ['# Page 1\n\nDocument at https://example.com/b.pdf']);
    const file = await client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'file', fileId: 'file-abc' } });
    assert.deepEqual(file.pages.map((p) => p.markdown), ['# Page 1\n\nFrom a file']);
    await assert.rejects(client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'file', fileId: 'file-nope' } }), (e: unknown) => {
      assert.ok(e instanceof SDKError, String(e));
      assert.equal(e.statusCode, 404);
      assert.equal(jsonBody(e).message, 'File file-nope not found');
      return true;
    });
  });

  test('a wrong key is a 401 with Mistral\'s {message, request_id} body', async () => {
    const wrong = new Mistral({ apiKey: 'not-the-key', serverURL: fake.url, retryConfig: { strategy: 'none' } });
    await assert.rejects(wrong.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'document_url', documentUrl: 'https://example.com/a.pdf' } }), (e: unknown) => {
      assert.ok(e instanceof SDKError, String(e));
      assert.equal(e.statusCode, 401);
      assert.equal(jsonBody(e).message, 'Unauthorized');
      assert.match(jsonBody(e).request_id, /^[0-9a-f]{32}$/);
      return true;
    });
    assert.equal(fake.requests[0].headers.authorization, 'Bearer not-the-key');
  });

  test('validation: unknown fields (raw fetch) are 422 extra_forbidden; bad URLs and enums reach the SDK as HTTPValidationError', async () => {
    fake.script({ kind: 'ocr', pages: ['unused'] });
    const raw = await fetch(`${fake.url}/v1/ocr`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MISTRAL_TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mistral-ocr-latest', document: { type: 'document_url', document_url: 'https://example.com/a.pdf' }, includeImageBase64: true, page: [0] }),
    });
    assert.equal(raw.status, 422);
    assert.deepEqual(await raw.json(), {
      detail: [
        { type: 'extra_forbidden', loc: ['body', 'includeImageBase64'], msg: 'Extra inputs are not permitted', input: true },
        { type: 'extra_forbidden', loc: ['body', 'page'], msg: 'Extra inputs are not permitted', input: [0] },
      ],
    });
    await assert.rejects(client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'document_url', documentUrl: 'http://insecure.example/a.pdf' } }), (e: unknown) => {
      assert.ok(e instanceof HTTPValidationError, String(e));
      assert.equal(e.statusCode, 422);
      assert.equal(e.detail?.[0].type, 'value_error');
      assert.deepEqual(e.detail?.[0].loc, ['body']);
      assert.match(e.detail?.[0].msg ?? '', /Document content must be a URL \(starting with 'https'\)/);
      return true;
    });
    const enumRes = await fetch(`${fake.url}/v1/ocr`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MISTRAL_TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mistral-ocr-latest', document: { type: 'document_url', document_url: 'https://example.com/a.pdf' }, table_format: 'csv' }),
    });
    assert.equal(((await enumRes.json()) as { detail: Array<{ type: string; msg: string }> }).detail[0].msg, "Input should be 'markdown' or 'html'");
    assert.equal(fake.pending(), 1); // validation failures consume no scenario
    // Unknown model: flat 400 (guessed shape); unreadable PDF bytes: the quoted document_parser_invalid_file 400.
    fake.reset();
    await assert.rejects(client.ocr.process({ model: 'gpt-4o', document: { type: 'document_url', documentUrl: 'https://example.com/a.pdf' } }), (e: unknown) => e instanceof SDKError && e.statusCode === 400 && jsonBody(e).type === 'invalid_model');
    await assert.rejects(client.ocr.process({ model: 'mistral-ocr-latest', document: { type: 'document_url', documentUrl: pdfUrl(Buffer.from('not a pdf')) } }), (e: unknown) => {
      assert.ok(e instanceof SDKError);
      assert.equal(e.statusCode, 400);
      assert.deepEqual(jsonBody(e), { object: 'error', message: 'Document is not a valid PDF.', type: 'document_parser_invalid_file', param: null, code: '3740', raw_status_code: 400 });
      return true;
    });
  });

  test('validationErrors: "wrapped" sends the chat-completions style body', async () => {
    const wrapped = await startFakeMistral({ validationErrors: 'wrapped' });
    try {
      const raw = await fetch(`${wrapped.url}/v1/ocr`, {
        method: 'POST',
        headers: { authorization: `Bearer ${MISTRAL_TEST_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'mistral-ocr-latest', document: { type: 'document_url', document_url: 'https://example.com/a.pdf' }, seed: 1 }),
      });
      assert.equal(raw.status, 422);
      assert.deepEqual(await raw.json(), {
        object: 'error',
        message: { detail: [{ type: 'extra_forbidden', loc: ['body', 'seed'], msg: 'Extra inputs are not permitted', input: 1 }] },
        type: 'invalid_request_error',
        param: null,
        code: null,
      });
    } finally {
      await wrapped.close();
    }
  });

  test('error scenarios: 429 with retry-after, 500, 503, 403 as SDKError with status and Mistral\'s body', async () => {
    const doc = { type: 'document_url' as const, documentUrl: 'https://example.com/a.pdf' };
    fake.script({ kind: 'error', status: 429, retryAfter: 2 });
    await assert.rejects(client.ocr.process({ model: 'mistral-ocr-latest', document: doc }), (e: unknown) => {
      assert.ok(e instanceof SDKError, String(e));
      assert.equal(e.statusCode, 429);
      assert.equal(e.headers.get('retry-after'), '2');
      assert.deepEqual(jsonBody(e), { object: 'error', message: 'Rate limit exceeded', type: 'rate_limited', param: null, code: '1300', raw_status_code: 429 });
      return true;
    });
    for (const status of [500, 503, 403] as const) {
      fake.script({ kind: 'error', status, message: `scripted ${status}` });
      await assert.rejects(client.ocr.process({ model: 'mistral-ocr-latest', document: doc }), (e: unknown) => {
        assert.ok(e instanceof SDKError, String(e));
        assert.equal(e.statusCode, status);
        assert.equal(jsonBody(e).message, `scripted ${status}`);
        return true;
      });
    }
    fake.script({ kind: 'error', status: 422, message: 'Value error, scripted' });
    await assert.rejects(client.ocr.process({ model: 'mistral-ocr-latest', document: doc }), (e: unknown) => e instanceof HTTPValidationError && e.detail?.[0].msg === 'Value error, scripted');
    assert.deepEqual(fake.requests.map((r) => r.status), [429, 500, 503, 403, 422]);
  });

  test('transport: a hang trips the SDK timeout, a disconnect is a ConnectionError, a wrong shape fails SDK validation', async () => {
    const doc = { type: 'document_url' as const, documentUrl: 'https://example.com/a.pdf' };
    fake.script({ kind: 'hang' });
    await assert.rejects(client.ocr.process({ model: 'mistral-ocr-latest', document: doc }, { timeoutMs: 200 }), (e: unknown) => e instanceof RequestTimeoutError);
    fake.script({ kind: 'disconnect' });
    await assert.rejects(client.ocr.process({ model: 'mistral-ocr-latest', document: doc }), (e: unknown) => e instanceof ConnectionError);
    fake.script({ kind: 'http', status: 200, body: { pages: [{ index: 0, markdown: 'x' }], model: 'm' } });
    await assert.rejects(client.ocr.process({ model: 'mistral-ocr-latest', document: doc }), (e: unknown) => e instanceof ResponseValidationError);
  });
});
