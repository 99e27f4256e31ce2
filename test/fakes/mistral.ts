// A fake Mistral OCR API (POST /v1/ocr; `url` is the bare origin, as the official @mistralai/mistralai SDK takes
// `serverURL` and appends `/v1/ocr` itself, so a gateway provider's base_url is `${fake.url}/v1`): the key as
// `Authorization: Bearer <key>`, the request body of the SDK's `ocr.process()` on the wire (OCRRequest, snake_case:
// model, id, document — {type:"document_url", document_url, document_name?} | {type:"image_url", image_url: string |
// {url, detail?}} | {type:"file", file_id} —, pages (0-based), include_image_base64, image_limit, image_min_size,
// bbox_annotation_format, document_annotation_format, document_annotation_prompt, table_format ("markdown"|"html"),
// extract_header, extract_footer; `confidence_scores_granularity`, which newer API versions take, is accepted and
// ignored), and the response OCRResponse {pages: [{index, markdown, images, tables, hyperlinks, header, footer,
// dimensions: {dpi, height, width}}], model, document_annotation, usage_info: {pages_processed, doc_size_bytes}}.
//
// What the fake "reads" (deterministic, so tests can assert it):
// - a `data:application/<x>;base64,` document_url (or a `file` whose registered bytes start with `%PDF`): the PDF is
//   parsed with unpdf (pdf.js) and page i's markdown is `# Page <i+1>\n\n<that page's text, trimmed>`;
//   dimensions are the page's MediaBox at 200 dpi (US letter 612x792 pt → width 1700, height 2200); images: [].
//   Bytes that are not a PDF get the 400 `document_parser_invalid_file` below (the fake parses nothing else, so a
//   base64 docx/pptx is refused too, unlike the real API).
// - an `image_url` (data URL or https): one page, markdown `![img-0.jpeg](img-0.jpeg)`, one image object `img-0.jpeg`
//   covering the whole page (0,0)-(width,height); width/height are read from a PNG/JPEG/GIF header, else 1000x1000
//   (always 1000x1000 for https URLs, which the fake never fetches); dpi 200. With include_image_base64 the image's
//   `image_base64` is the data URL that was sent (null for https); otherwise null. image_limit 0 or an
//   image_min_size above the image's smaller side drops the image object (the markdown stays).
// - an https `document_url` (never fetched): one page, `# Page 1\n\nDocument at <url>`, 1700x2200.
// - a scenario `{kind:'ocr', pages: [...]}` replaces the page markdowns of whatever document was sent (verbatim, one
//   page per string, dimensions 1700x2200, or the image's for an image_url).
// `pages` keeps only those indices (deduplicated, in document order; `[]` or null = all); an index past the end is a
// 422 (body guessed, see below). extract_header/extract_footer give `header: "Header <i+1>"` / `footer: "Footer <i+1>"`
// (the real API moves the detected header/footer out of the markdown; the fake's PDFs have none, so the markdown is
// unchanged); otherwise both are null. `tables` is always [] (no table detection, whatever table_format) and
// `hyperlinks` []. `model` echoes the requested name (the real API answers with the dated model, e.g.
// mistral-ocr-latest → mistral-ocr-2512; a scenario's `model` plays that), null → `mistral-ocr-latest`.
// document_annotation is null unless the scenario sets `documentAnnotation` (the real API returns a JSON string when
// document_annotation_format is given). usage_info: pages_processed = pages returned, doc_size_bytes = the decoded
// bytes of a data URL / file, null for https URLs.
//
// Error bodies (what is observed and where; everything else is a guess in the observed style):
// - 401 (wrong/missing key): `{"message":"Unauthorized","request_id":"<32 hex>"}`, observed from api.mistral.ai in
//   cline/cline#1734 and coolcline/CoolCline#36 (2025). Other reports (agent0ai/agent-zero#539 2025-06,
//   nextcloud/integration_openai#332 2026-01) show `{"detail":"Unauthorized"}` instead; script `{kind:'http'}` for it.
// - 422 request validation: FastAPI/pydantic `detail` items. On /v1/ocr the body is observed as a top-level
//   `{"detail":[{"type":"value_error","loc":["body"],"msg":"Value error, Document content must be a URL (starting
//   with 'https') or base64 encoded document (starting with 'data:application/<format>;base64,<document-base64>')
//   Received: …","input":{…}}]}` (mistralai/client-ts#119, 2025-08; that value_error wording is reused for bad
//   document URLs) — this is also the SDK's HTTPValidationError shape, so it is the default. Chat completions is
//   observed wrapping the same items as `{"object":"error","message":{"detail":[…]},"type":"invalid_request_error",
//   "param":null,"code":null}` (mistralai_client_dart#44, mistral-go#3, crewAI#60; /work/shared/wire-formats.md §6):
//   option `validationErrors: 'wrapped'` sends that. Unknown top-level fields give one
//   `{"type":"extra_forbidden","loc":["body",<field>],"msg":"Extra inputs are not permitted","input":<value>}` each
//   (item shape quoted from those issues); the missing/type/enum items use pydantic's standard wording (guessed for
//   this endpoint). Malformed JSON gives pydantic's `json_invalid` item (guess).
// - 400 unreadable document: `{"object":"error","message":"Document is not a valid PDF.","type":
//   "document_parser_invalid_file","param":null,"code":"3740","raw_status_code":400}` (quoted from
//   mistralai/client-python#485, 2026-04, on /v1/ocr).
// - 429: `{"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300",
//   "raw_status_code":429}` (quoted from raycast/extensions#31107, 2026-09; cline/cline#9085 shows it without
//   raw_status_code; the older `{"message":"Requests rate limit exceeded"}` is in pydantic/pydantic-ai#1885).
// - 404 on an unknown path: `{"detail":"Not Found"}` (observed for a wrong OCR path, mistralai/cookbook#144).
// - Guessed (same flat `{object:"error", message, type, param:null, code, raw_status_code}` shape): 400 unknown model
//   (`invalid_model`, code "1500", recalled from the chat API, not verified), 403, 404 for an unknown `file_id`
//   ("File <id> not found": we chose 404 over 422 since the body is valid and only the file is missing), 422 for
//   pages out of range, 500 and 503 (types `internal_server_error` / `service_unavailable`), 405.
// test/fakes/mistral.sdk.test.ts checks it against the official SDK.

import { randomBytes } from 'node:crypto';
import { handleTransport, isRecord, retryHeaders, sendJson, startFake } from './common.ts';
import type { Delivery, FakeServer, RetryHints, TransportScenario } from './common.ts';

export const MISTRAL_TEST_KEY = ['mistral', 'test', 'key'].join('-');

export type MistralErrorStatus = 400 | 401 | 403 | 404 | 422 | 429 | 500 | 503;

export type MistralScenario = (
  /** OCR the document (default). `pages`: page markdowns that replace the extraction, verbatim; `model`: the
   *  model name to answer with (e.g. `mistral-ocr-2512`); `documentAnnotation`: the document_annotation string;
   *  `annotatedPages`: usage_info.pages_processed_annotation (absent by default, as the official SDK's OCRUsageInfo
   *  has no such field; LiteLLM reads it when Mistral sends it and bills those pages at the annotation price). */
  | { kind: 'ocr'; pages?: string[]; model?: string; documentAnnotation?: string; annotatedPages?: number }
  /** A Mistral error body for that status (see the header comment); `message`, `type`, `code` override the
   *  defaults. A 401 uses the `{message, request_id}` shape, a 422 the validation shape with `message` as `msg`. */
  | ({ kind: 'error'; status: MistralErrorStatus; message?: string; type?: string; code?: string | null } & RetryHints)
  | TransportScenario
) &
  Delivery;

export interface FakeMistralOptions {
  /** The accepted key (default MISTRAL_TEST_KEY); `null` accepts any non-empty key. */
  apiKey?: string | null;
  /** Accepted model ids; default any `mistral-ocr-*` id. Others get the 400 `invalid_model` error. */
  models?: string[];
  /** Files known to the `{type:"file", file_id}` document: id → bytes (a PDF, or a PNG/JPEG/GIF image). */
  files?: Record<string, Buffer>;
  /** Body of 422 validation errors: `detail` (default, observed on /v1/ocr) = `{"detail":[…]}`; `wrapped`
   *  (observed on chat completions) = `{"object":"error","message":{"detail":[…]},"type":"invalid_request_error",…}`. */
  validationErrors?: 'detail' | 'wrapped';
}

export type FakeMistral = FakeServer<MistralScenario>;

/** One pydantic validation error item. */
export interface MistralDetail {
  type: string;
  loc: Array<string | number>;
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

const DPI = 200;
/** US letter at 200 dpi: the size of pages the fake does not parse. */
const LETTER = { width: 1700, height: 2200 };
const IMAGE_FALLBACK = { width: 1000, height: 1000 };
export const MISTRAL_DEFAULT_MODEL = 'mistral-ocr-latest';

const FIELDS = new Set([
  'model',
  'id',
  'document',
  'pages',
  'include_image_base64',
  'image_limit',
  'image_min_size',
  'bbox_annotation_format',
  'document_annotation_format',
  'document_annotation_prompt',
  'table_format',
  'extract_header',
  'extract_footer',
  'confidence_scores_granularity',
]);
const DOC_FIELDS: Record<string, string[]> = {
  document_url: ['type', 'document_url', 'document_name'],
  image_url: ['type', 'image_url'],
  file: ['type', 'file_id'],
};

const FLAT: Record<Exclude<MistralErrorStatus, 401 | 422>, { message: string; type: string; code: string | null }> = {
  400: { message: 'Document is not a valid PDF.', type: 'document_parser_invalid_file', code: '3740' },
  403: { message: 'You do not have access to this resource.', type: 'forbidden', code: null },
  404: { message: 'Not found.', type: 'not_found', code: null },
  429: { message: 'Rate limit exceeded', type: 'rate_limited', code: '1300' },
  500: { message: 'Internal server error', type: 'internal_server_error', code: null },
  503: { message: 'Service unavailable', type: 'service_unavailable', code: null },
};

/** `# Page <index+1>\n\n<text>`: the markdown the fake gives a parsed PDF page. */
export function mistralPageMarkdown(index: number, text: string): string {
  return `# Page ${index + 1}\n\n${text.trim()}`;
}

/** The markdown of an image document's single page. */
export const MISTRAL_IMAGE_MARKDOWN = '![img-0.jpeg](img-0.jpeg)';

/** Pixel size of a PNG, JPEG or GIF from its header; undefined for anything else. */
export function imageSize(b: Buffer): { width: number; height: number } | undefined {
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47) return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  if (b.length >= 10 && b.toString('latin1', 0, 3) === 'GIF') return { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return undefined;
      const m = b[i + 1];
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
      i += 2 + b.readUInt16BE(i + 2);
    }
  }
  return undefined;
}

const imageMime = (b: Buffer) => (b[0] === 0x89 ? 'image/png' : b[0] === 0x47 ? 'image/gif' : 'image/jpeg');
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const DATA_DOC = /^data:application\/[\w.+-]+;base64,/i;
const DATA_IMG = /^data:image\/[\w.+-]+;base64,/i;
const decode = (dataUrl: string) => Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64');
const isPdf = (b: Buffer) => b.subarray(0, 5).toString('latin1') === '%PDF-';

interface Page {
  markdown: string;
  width: number;
  height: number;
}

interface Source {
  kind: 'pdf' | 'image' | 'url';
  bytes?: Buffer;
  /** What came in: the URL or data URL. */
  url: string;
}

/** Per-page text and size of a PDF (pdf.js through unpdf); throws on anything pdf.js cannot open. */
async function readPdf(bytes: Buffer): Promise<Page[]> {
  const { getDocumentProxy, extractText } = await import('unpdf');
  const pdf = await getDocumentProxy(new Uint8Array(bytes)); // a copy: pdf.js detaches the buffer it is given
  try {
    const { text } = await extractText(pdf, { mergePages: false });
    const pages: Page[] = [];
    for (let i = 0; i < pdf.numPages; i++) {
      const vp = (await pdf.getPage(i + 1)).getViewport({ scale: 1 });
      pages.push({ markdown: mistralPageMarkdown(i, text[i] ?? ''), width: Math.round((vp.width * DPI) / 72), height: Math.round((vp.height * DPI) / 72) });
    }
    return pages;
  } finally {
    // Free pdf.js's worker-side state (unpdf's proxy exposes it on the loading task).
    await pdf.loadingTask.destroy();
  }
}

export async function startFakeMistral(opts: FakeMistralOptions = {}): Promise<FakeMistral> {
  const key = opts.apiKey === undefined ? MISTRAL_TEST_KEY : opts.apiKey;
  const files = opts.files ?? {};
  // Mistral's OCR models, and the names Azure AI Foundry deploys Mistral Document AI under.
  const knownModel = (m: string) => (opts.models ? opts.models.includes(m) : /^(mistral-ocr|mistral-document-ai)-[\w.-]+$/.test(m));
  return startFake<MistralScenario>({
    basePath: '',
    defaultScenario: { kind: 'ocr' },
    async handle(ex, next) {
      const flat = (status: number, message: string, type: string, code: string | null = null, headers: Record<string, string> = {}, d?: Delivery) =>
        sendJson(ex, status, { object: 'error', message, type, param: null, code, raw_status_code: status }, headers, d);
      const invalid = (detail: MistralDetail[], headers: Record<string, string> = {}, d?: Delivery) =>
        sendJson(
          ex,
          422,
          opts.validationErrors === 'wrapped' ? { object: 'error', message: { detail }, type: 'invalid_request_error', param: null, code: null } : { detail },
          headers,
          d,
        );
      const unauthorized = () => sendJson(ex, 401, { message: 'Unauthorized', request_id: randomBytes(16).toString('hex') });

      const auth = ex.req.headers.authorization;
      const given = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
      if (!given || (key !== null && given !== key)) return unauthorized();
      // Mistral's own path, and Azure AI Foundry's for Mistral Document AI on an AI Services resource
      // (`https://<resource>.services.ai.azure.com/providers/mistral/azure/ocr`, the same body and bearer key).
      if (ex.url.pathname !== '/v1/ocr' && ex.url.pathname !== '/providers/mistral/azure/ocr') return sendJson(ex, 404, { detail: 'Not Found' });
      if (ex.req.method !== 'POST') return sendJson(ex, 405, { detail: 'Method Not Allowed' });
      if (ex.badJson) return invalid([{ type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error', input: {}, ctx: { error: 'Expecting value' } }]);
      const body = ex.record.body;
      if (!isRecord(body)) return invalid([{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: body ?? null }]);

      const problems = validate(body);
      if (problems.length) return invalid(problems);
      const model = (body.model as string | null) ?? MISTRAL_DEFAULT_MODEL;
      if (!knownModel(model)) return flat(400, `Invalid model: ${model}`, 'invalid_model', '1500');

      const s = next();
      if (await handleTransport(ex, s)) return;
      if (s.kind === 'error') {
        const headers = retryHeaders(s);
        if (s.status === 401) return sendJson(ex, 401, { message: s.message ?? 'Unauthorized', request_id: randomBytes(16).toString('hex') }, headers, s);
        if (s.status === 422) return invalid([{ type: s.type ?? 'value_error', loc: ['body'], msg: s.message ?? 'Value error, invalid request', input: body }], headers, s);
        const def = FLAT[s.status];
        return flat(s.status, s.message ?? def.message, s.type ?? def.type, s.code === undefined ? def.code : s.code, headers, s);
      }
      if (s.kind !== 'ocr') throw new Error(`unknown Mistral scenario ${JSON.stringify(s)}`);

      // Resolve the document (validate() made sure its shape is right).
      const doc = body.document as Record<string, unknown>;
      let src: Source;
      if (doc.type === 'file') {
        const bytes = files[doc.file_id as string];
        if (!bytes) return flat(404, `File ${String(doc.file_id)} not found`, 'not_found');
        src = { kind: isPdf(bytes) ? 'pdf' : 'image', bytes, url: '' };
      } else if (doc.type === 'image_url') {
        const url = typeof doc.image_url === 'string' ? doc.image_url : ((doc.image_url as Record<string, unknown>).url as string);
        src = { kind: 'image', url, bytes: url.startsWith('data:') ? decode(url) : undefined };
      } else {
        const url = doc.document_url as string;
        src = url.startsWith('data:') ? { kind: 'pdf', url, bytes: decode(url) } : { kind: 'url', url };
      }

      let pages: Page[];
      const imgSize = src.kind === 'image' ? ((src.bytes && imageSize(src.bytes)) ?? IMAGE_FALLBACK) : undefined;
      if (s.pages) {
        pages = s.pages.map((markdown) => ({ markdown, ...(imgSize ?? LETTER) }));
      } else if (src.kind === 'pdf') {
        let parsed: Page[] | undefined;
        if (src.bytes && isPdf(src.bytes)) {
          try {
            parsed = await readPdf(src.bytes);
          } catch {
            parsed = undefined;
          }
        }
        if (!parsed) return flat(400, FLAT[400].message, FLAT[400].type, FLAT[400].code, {}, s);
        pages = parsed;
      } else if (src.kind === 'image') {
        pages = [{ markdown: MISTRAL_IMAGE_MARKDOWN, ...imgSize! }];
      } else {
        pages = [{ markdown: `# Page 1\n\nDocument at ${src.url}`, ...LETTER }];
      }

      const wanted = body.pages as number[] | null | undefined;
      let indices = pages.map((_, i) => i);
      if (wanted && wanted.length) {
        const bad = wanted.filter((p) => p >= pages.length);
        if (bad.length) {
          return flat(422, `Pages ${JSON.stringify(bad)} are out of range: the document has ${pages.length} page(s), numbered from 0.`, 'invalid_request_error', null, {}, s);
        }
        indices = [...new Set(wanted)].sort((a, b) => a - b);
      }

      const limit = body.image_limit as number | null | undefined;
      const minSize = body.image_min_size as number | null | undefined;
      const withB64 = body.include_image_base64 === true;
      const out = indices.map((i) => {
        const p = pages[i];
        const keepImage = src.kind === 'image' && (limit == null || limit > 0) && (minSize == null || Math.min(p.width, p.height) >= minSize);
        return {
          index: i,
          markdown: p.markdown,
          images: keepImage
            ? [
                {
                  id: 'img-0.jpeg',
                  top_left_x: 0,
                  top_left_y: 0,
                  bottom_right_x: p.width,
                  bottom_right_y: p.height,
                  image_base64: withB64 && src.url.startsWith('data:') ? src.url : withB64 && src.bytes ? `data:${imageMime(src.bytes)};base64,${src.bytes.toString('base64')}` : null,
                },
              ]
            : [],
          tables: [],
          hyperlinks: [],
          header: body.extract_header === true ? `Header ${i + 1}` : null,
          footer: body.extract_footer === true ? `Footer ${i + 1}` : null,
          dimensions: { dpi: DPI, height: p.height, width: p.width },
        };
      });
      return sendJson(
        ex,
        200,
        {
          pages: out,
          model: s.model ?? model,
          document_annotation: s.documentAnnotation ?? null,
          usage_info: { pages_processed: out.length, ...(s.annotatedPages !== undefined ? { pages_processed_annotation: s.annotatedPages } : {}), doc_size_bytes: src.bytes ? src.bytes.length : null },
        },
        {},
        s,
      );
    },
  });
}

/** Pydantic-style checks of an OCR request body: every problem at once, in field order. */
export function validate(body: Record<string, unknown>): MistralDetail[] {
  const out: MistralDetail[] = [];
  const at = (loc: Array<string | number>, type: string, msg: string, input: unknown, ctx?: Record<string, unknown>) =>
    out.push({ type, loc: ['body', ...loc], msg, input, ...(ctx ? { ctx } : {}) });
  const missing = (loc: Array<string | number>, input: unknown) => at(loc, 'missing', 'Field required', input);

  if (!('model' in body)) missing(['model'], body);
  else if (body.model !== null && typeof body.model !== 'string') at(['model'], 'string_type', 'Input should be a valid string', body.model);
  if (body.id !== undefined && typeof body.id !== 'string') at(['id'], 'string_type', 'Input should be a valid string', body.id);

  const doc = body.document;
  if (doc === undefined) missing(['document'], body);
  else if (!isRecord(doc)) at(['document'], 'model_attributes_type', 'Input should be a valid dictionary or object to extract fields from', doc);
  else {
    const t = doc.type ?? (doc.document_url !== undefined ? 'document_url' : doc.image_url !== undefined ? 'image_url' : doc.file_id !== undefined ? 'file' : undefined);
    const allowed = typeof t === 'string' ? DOC_FIELDS[t] : undefined;
    if (!allowed) {
      at(['document'], 'union_tag_invalid', `Input tag '${String(t)}' found using 'type' does not match any of the expected tags: 'file', 'document_url', 'image_url'`, doc, {
        discriminator: "'type'",
        tag: String(t),
        expected_tags: "'file', 'document_url', 'image_url'",
      });
    } else {
      for (const k of Object.keys(doc)) if (!allowed.includes(k)) at(['document', t as string, k], 'extra_forbidden', 'Extra inputs are not permitted', doc[k]);
      if (t === 'document_url') {
        const u = doc.document_url;
        if (u === undefined) missing(['document', t, 'document_url'], doc);
        else if (typeof u !== 'string') at(['document', t, 'document_url'], 'string_type', 'Input should be a valid string', u);
        else if (!u.startsWith('https://') && !DATA_DOC.test(u)) {
          at(
            [],
            'value_error',
            `Value error, Document content must be a URL (starting with 'https') or base64 encoded document (starting with 'data:application/<format>;base64,<document-base64>')Received: ${u.length > 80 ? `${u.slice(0, 40)}...${u.slice(-40)}` : u}`,
            body,
          );
        }
        if (doc.document_name != null && typeof doc.document_name !== 'string') at(['document', t, 'document_name'], 'string_type', 'Input should be a valid string', doc.document_name);
      } else if (t === 'image_url') {
        const v = doc.image_url;
        const u = typeof v === 'string' ? v : isRecord(v) ? v.url : undefined;
        if (v === undefined) missing(['document', t, 'image_url'], doc);
        else if (typeof u !== 'string') at(['document', t, 'image_url'], 'string_type', 'Input should be a valid string', v);
        else if (!u.startsWith('https://') && !DATA_IMG.test(u)) {
          at([], 'value_error', `Value error, Image content must be a URL (starting with 'https') or base64 encoded image (starting with 'data:image/<format>;base64,<image-base64>')Received: ${u.slice(0, 80)}`, body);
        }
      } else if (t === 'file') {
        if (doc.file_id === undefined) missing(['document', t, 'file_id'], doc);
        else if (typeof doc.file_id !== 'string') at(['document', t, 'file_id'], 'string_type', 'Input should be a valid string', doc.file_id);
      }
    }
  }

  if (body.pages != null) {
    if (!Array.isArray(body.pages)) at(['pages'], 'list_type', 'Input should be a valid list', body.pages);
    else
      body.pages.forEach((p, i) => {
        if (!isInt(p)) at(['pages', i], 'int_type', 'Input should be a valid integer', p);
        else if (p < 0) at(['pages', i], 'greater_than_equal', 'Input should be greater than or equal to 0', p, { ge: 0 });
      });
  }
  for (const f of ['include_image_base64'] as const) {
    if (body[f] != null && typeof body[f] !== 'boolean') at([f], 'bool_type', 'Input should be a valid boolean', body[f]);
  }
  for (const f of ['extract_header', 'extract_footer'] as const) {
    if (body[f] !== undefined && typeof body[f] !== 'boolean') at([f], 'bool_type', 'Input should be a valid boolean', body[f]);
  }
  for (const f of ['image_limit', 'image_min_size'] as const) {
    if (body[f] != null && !isInt(body[f])) at([f], 'int_type', 'Input should be a valid integer', body[f]);
  }
  for (const f of ['bbox_annotation_format', 'document_annotation_format'] as const) {
    if (body[f] != null && !isRecord(body[f])) at([f], 'model_attributes_type', 'Input should be a valid dictionary or object to extract fields from', body[f]);
  }
  if (body.document_annotation_prompt != null) {
    if (typeof body.document_annotation_prompt !== 'string') at(['document_annotation_prompt'], 'string_type', 'Input should be a valid string', body.document_annotation_prompt);
    else if (body.document_annotation_format == null) at([], 'value_error', 'Value error, A document_annotation_format must be provided when document_annotation_prompt is set', body);
  }
  if (body.table_format != null && body.table_format !== 'markdown' && body.table_format !== 'html') {
    at(['table_format'], 'enum', "Input should be 'markdown' or 'html'", body.table_format, { expected: "'markdown' or 'html'" });
  }
  for (const k of Object.keys(body)) if (!FIELDS.has(k)) at([k], 'extra_forbidden', 'Extra inputs are not permitted', body[k]);
  return out;
}
