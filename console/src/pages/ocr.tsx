// OCR: read a document (a PDF, an image, a Word or PowerPoint file, or a URL the provider fetches)
// through any route, alias or deployment that serves ocr (OcrService.Ocr), as the Search page runs a
// search: which deployment answered (and the attempts when there were several), the pages billed and
// their cost, the latency, whether it came from the cache, the trace, then each page's Markdown
// (shown as text, never rendered), header, footer, tables and images. With a JSON Schema under
// "Extract JSON", the answer also carries a document annotation matching it (the gateway checks it:
// an answer that does not match fails its attempt), shown pretty-printed as text.

import type { JsonObject } from "@bufbuild/protobuf";
import { type OcrPage as OcrPageResult, type OcrResponse, Operation } from "@signalbox/client";
import { type FormEvent, type ReactNode, useState } from "react";
import { ModelSelect, servingModels } from "../compose.tsx";
import { useSession } from "../context.ts";
import { count, ms, usd } from "../format.ts";
import { AnswerRefs } from "../answer.tsx";
import { AttemptTimeline } from "../timeline.tsx";
import { Adjustments, Badge, Card, CopyButton, Empty, ErrorBox, Field, PageHeader, Segmented } from "../ui.tsx";

/** What OCR reads, by extension (a browser's File.type may be empty, e.g. for DOCX on some systems). */
const MEDIA_TYPES: Record<string, string> = {
  pdf: "application/pdf",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  avif: "image/avif",
  gif: "image/gif",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
};
const ACCEPT = [...Object.keys(MEDIA_TYPES).map((e) => `.${e}`), ...new Set(Object.values(MEDIA_TYPES))].join(",");
/** The most pages a request may name (the gateway's limit). */
const MAX_PAGES = 1000;

/** A file's media type: its own type when the browser gives one, else from its extension; "" when neither says. */
export const mediaTypeOf = (f: { name: string; type: string }): string => f.type || MEDIA_TYPES[f.name.split(".").pop()?.toLowerCase() ?? ""] || "";

/**
 * Page indices from "0,2-3" (from 0, in the order written, each once); an error message when the
 * text is not such a list. Empty text: every page.
 */
export function parsePages(text: string): { pages: number[] } | { error: string } {
  const out: number[] = [];
  for (const part of text.split(/[,\s]+/).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return { error: `"${part}" is not a page or a range like 2-3` };
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) return { error: `${part}: the range ends before it starts` };
    if (to - from + 1 > MAX_PAGES) return { error: `${part}: at most ${MAX_PAGES} pages` };
    for (let p = from; p <= to; p++) if (!out.includes(p)) out.push(p);
    if (out.length > MAX_PAGES) return { error: `at most ${MAX_PAGES} pages` };
  }
  return { pages: out };
}

/**
 * A JSON Schema from the text: a JSON object (the gateway compiles it, and names
 * document_annotation_schema when it does not); an error message when the text is not one.
 * Empty text: no schema (no extraction).
 */
export function parseSchema(text: string): { schema: JsonObject | undefined } | { error: string } {
  if (text.trim() === "") return { schema: undefined };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: `Not valid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return { error: `A schema is a JSON object, not ${v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`}` };
  return { schema: v as JsonObject };
}

/** The annotation pretty-printed; as it came when it is not JSON. */
const prettyJson = (text: string): string => {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
};

/** What an OCR request may name as `model`. */
const ocrModels = servingModels(Operation.OCR);

const kib = (n: number) => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`);

type Source = "file" | "url";
const SOURCES: { value: Source; label: string }[] = [
  { value: "file", label: "File" },
  { value: "url", label: "URL" },
];

export function OcrPage() {
  const { client } = useSession();
  const [model, setModel] = useState("ocr");
  const [source, setSource] = useState<Source>("file");
  const [file, setFile] = useState<File>();
  const [url, setUrl] = useState("");
  const [pagesText, setPagesText] = useState("");
  const [tableFormat, setTableFormat] = useState("");
  const [images, setImages] = useState(false);
  const [header, setHeader] = useState(false);
  const [footer, setFooter] = useState(false);
  const [schemaText, setSchemaText] = useState("");
  const [annotationName, setAnnotationName] = useState("");
  const [annotationPrompt, setAnnotationPrompt] = useState("");
  const [answer, setAnswer] = useState<{ res: OcrResponse; name: string; at: number }>();
  const [error, setError] = useState<unknown>();
  const [running, setRunning] = useState(false);

  const parsed = parsePages(pagesText);
  const pagesError = "error" in parsed ? parsed.error : undefined;
  const schemaParsed = parseSchema(schemaText);
  const schemaError = "error" in schemaParsed ? schemaParsed.error : undefined;
  const schema = "schema" in schemaParsed ? schemaParsed.schema : undefined;
  const mediaType = file ? mediaTypeOf(file) : "";
  const ready = source === "file" ? file !== undefined : url.trim() !== "";

  const read = async (e: FormEvent) => {
    e.preventDefault();
    if (!ready || "error" in parsed || schemaError !== undefined) return;
    setError(undefined);
    setAnswer(undefined);
    setRunning(true);
    const t0 = performance.now();
    try {
      const document = source === "file" && file ? { document: new Uint8Array(await file.arrayBuffer()), mediaType, documentName: file.name } : { documentUrl: url.trim() };
      // Sent as chosen: the gateway validates the document (and names the field at fault).
      const res = await client.ocr.ocr({
        model,
        ...document,
        pages: parsed.pages,
        includeImageBase64: images,
        tableFormat,
        extractHeader: header,
        extractFooter: footer,
        // The name and prompt go only with a schema (they say nothing without one).
        ...(schema ? { documentAnnotationSchema: schema, documentAnnotationName: annotationName.trim(), documentAnnotationPrompt: annotationPrompt.trim() } : {}),
      });
      setAnswer({ res, name: source === "file" && file ? file.name : url.trim(), at: performance.now() - t0 });
    } catch (err) {
      setError(err);
    } finally {
      setRunning(false);
    }
  };

  const res = answer?.res;

  return (
    <>
      <PageHeader title="OCR" subtitle="Read a document through any route, alias or deployment that serves OCR, and see who read it, the pages billed, what it cost and each page's text." />
      <Card>
        <form className="compose" onSubmit={read} aria-label="OCR">
          <div className="compose-side">
            <Field label="Model">
              <ModelSelect value={model} onChange={setModel} pick={ocrModels} testId="ocr-model" />
            </Field>
            <Field label="Pages" hint={pagesError ?? "From 0, e.g. 0,2-3; empty: every page"}>
              <input type="text" value={pagesText} onChange={(e) => setPagesText(e.target.value)} name="pages" placeholder="all" aria-invalid={pagesError !== undefined} />
            </Field>
            <Field label="Tables" hint="Inline in the Markdown, or apart as HTML (shown as text)">
              <select value={tableFormat} onChange={(e) => setTableFormat(e.target.value)} name="table_format">
                <option value="">Default (inline)</option>
                <option value="markdown">Markdown, inline</option>
                <option value="html">HTML, apart</option>
              </select>
            </Field>
            <label className="check">
              <input type="checkbox" checked={images} onChange={(e) => setImages(e.target.checked)} name="include_image_base64" /> Return the images (base64)
            </label>
            <label className="check">
              <input type="checkbox" checked={header} onChange={(e) => setHeader(e.target.checked)} name="extract_header" /> Page headers apart
            </label>
            <label className="check">
              <input type="checkbox" checked={footer} onChange={(e) => setFooter(e.target.checked)} name="extract_footer" /> Page footers apart
            </label>
          </div>
          <div className="compose-main">
            <Labelled label="Document">
              <Segmented name="Document source" value={source} options={SOURCES} onChange={setSource} />
            </Labelled>
            {/* Both kept mounted: switching back to File keeps the file picked. */}
            <div hidden={source !== "file"}>
              <Field label="File" hint={file ? `${file.name} · ${mediaType || "unknown type"} · ${kib(file.size)}` : "A PDF, an image (PNG, JPEG, WebP, AVIF, GIF), a DOCX or a PPTX file"}>
                <input type="file" accept={ACCEPT} name="document" data-testid="ocr-file" onChange={(e) => setFile(e.target.files?.[0] ?? undefined)} />
              </Field>
            </div>
            <div hidden={source !== "url"}>
              <Field label="URL" hint="A public https URL the provider fetches (the gateway never does)">
                <input type="url" value={url} onChange={(e) => setUrl(e.target.value)} name="document_url" placeholder="https://example.com/report.pdf" />
              </Field>
            </div>
            <fieldset className="providers" aria-label="Extract JSON">
              <legend>Extract JSON</legend>
              <Field label="Schema" hint={schemaError ?? "A JSON Schema (an object) the document's annotation must match; empty: no extraction"}>
                <textarea
                  className="code-input"
                  value={schemaText}
                  onChange={(e) => setSchemaText(e.target.value)}
                  name="document_annotation_schema"
                  rows={5}
                  spellCheck={false}
                  placeholder='{"type": "object", "properties": {"title": {"type": "string"}}}'
                  aria-invalid={schemaError !== undefined}
                />
              </Field>
              <Field label="Name" hint={schema ? "Optional: the schema's name" : "With a schema"}>
                <input type="text" value={annotationName} onChange={(e) => setAnnotationName(e.target.value)} name="document_annotation_name" placeholder="invoice" disabled={!schema} />
              </Field>
              <Field label="Prompt" hint={schema ? "Optional: instructions for the extraction" : "With a schema"}>
                <textarea value={annotationPrompt} onChange={(e) => setAnnotationPrompt(e.target.value)} name="document_annotation_prompt" rows={2} placeholder="Take the totals from the last page" disabled={!schema} />
              </Field>
            </fieldset>
            <div className="actions">
              <button type="submit" className="primary" disabled={running || !ready || pagesError !== undefined || schemaError !== undefined}>
                {running ? "Reading…" : "Read"}
              </button>
            </div>
          </div>
        </form>
      </Card>
      <ErrorBox error={error} />
      {res && answer ? (
        <>
          <Card title="Answer" actions={res.pages.length > 0 ? <CopyButton text={res.pages.map((p) => p.markdown).join("\n\n")} label="Copy Markdown" /> : undefined}>
            <dl className="facts" data-testid="ocr-answer" data-deployment={res.deployment} data-pages={res.pages.length} data-cache-hit={String(res.cacheHit)}>
              <dt>Document</dt>
              <dd data-testid="ocr-document">
                {answer.name}
                {res.documentSizeBytes > 0n && <span className="muted"> · {kib(Number(res.documentSizeBytes))}</span>}
              </dd>
              <dt>Deployment</dt>
              <dd data-testid="ocr-deployment">
                <strong>{res.deployment || "–"}</strong>
                {res.attempts.length > 1 && <span className="muted"> after {res.attempts.length} attempts</span>}
              </dd>
              <dt>Route</dt>
              <dd data-testid="ocr-route">{res.routing?.route || "–"}</dd>
              {res.routing?.alias && (
                <>
                  <dt>Alias</dt>
                  <dd>{res.routing.alias}</dd>
                </>
              )}
              <dt>Model</dt>
              <dd>
                {res.provider || "–"}
                {res.providerModel ? ` · ${res.providerModel}` : ""}
              </dd>
              <dt>Pages billed</dt>
              <dd data-testid="ocr-pages-billed">{count(res.usage?.pages)}</dd>
              <dt>Cost</dt>
              <dd data-testid="ocr-cost">{usd(res.cost?.totalNanoUsd)}</dd>
              <dt>Latency</dt>
              <dd data-testid="ocr-latency">{ms(res.timing?.latencyMs ?? answer.at)}</dd>
              <dt>Cache</dt>
              <dd data-testid="ocr-cache">{res.cacheHit ? <Badge tone="info">cache hit</Badge> : <span className="muted">miss</span>}</dd>
              <AnswerRefs res={res} testId="ocr" />
            </dl>
          </Card>
          {res.attempts.length > 1 && (
            <Card title={`Attempts (${res.attempts.length})`}>
              <AttemptTimeline attempts={res.attempts} />
            </Card>
          )}
          {res.documentAnnotation && <AnnotationCard text={res.documentAnnotation} />}
          {res.pages.length === 0 ? (
            <Card title="Pages">
              <Empty>No pages came back.</Empty>
            </Card>
          ) : (
            res.pages.map((p) => <PageCard key={p.index} page={p} />)
          )}
        </>
      ) : (
        !error && (
          <Card title="Pages">
            <Empty>{running ? "Reading…" : "Choose a document and read it to see each page's text."}</Empty>
          </Card>
        )
      )}
    </>
  );
}

/** A caption over something that is not a form control (a Field is a <label>). */
function Labelled({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="field">
      <span className="field-label">{label}</span>
      {children}
    </div>
  );
}

/** Text as it came, in a box: never rendered as HTML or Markdown. */
const TEXT_BOX = { margin: 0, whiteSpace: "pre-wrap", overflowWrap: "anywhere", fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", fontSize: "12.5px" } as const;

/** The document annotation (JSON the gateway checked against the schema), pretty-printed as text. */
function AnnotationCard({ text }: { text: string }) {
  const pretty = prettyJson(text);
  return (
    <Card title="Annotation" actions={<CopyButton text={pretty} />}>
      <pre className="answer" style={TEXT_BOX} data-testid="ocr-annotation">
        {pretty}
      </pre>
    </Card>
  );
}

/** One processed page: its index and size, its Markdown as text, header and footer, tables (as text) and images. */
function PageCard({ page: p }: { page: OcrPageResult }) {
  return (
    <Card
      title={
        <>
          Page {p.index}
          {p.width > 0 && p.height > 0 && (
            <span className="muted small">
              {" · "}
              <span data-testid="ocr-page-size" data-index={p.index}>
                {p.width}×{p.height} px{p.dpi ? ` at ${p.dpi} dpi` : ""}
              </span>
            </span>
          )}
        </>
      }
      actions={<CopyButton text={p.markdown} />}
    >
      <div data-testid="ocr-page" data-index={p.index} data-images={p.images.length} data-tables={p.tables.length}>
        {p.header && (
          <Labelled label="Header">
            <pre className="answer" style={TEXT_BOX} data-testid="ocr-page-header">
              {p.header}
            </pre>
          </Labelled>
        )}
        <pre className="answer" style={TEXT_BOX} data-testid="ocr-page-markdown">
          {p.markdown}
        </pre>
        {p.footer && (
          <Labelled label="Footer">
            <pre className="answer" style={TEXT_BOX} data-testid="ocr-page-footer">
              {p.footer}
            </pre>
          </Labelled>
        )}
        {p.tables.map((t) => (
          <Labelled key={t.id} label={`Table ${t.id} (${t.format || "markdown"})`}>
            <pre className="answer" style={TEXT_BOX} data-testid="ocr-page-table" data-id={t.id}>
              {t.content}
            </pre>
          </Labelled>
        ))}
        {p.images.length > 0 && (
          <ul className="small" data-testid="ocr-page-images" style={{ listStyle: "none", padding: 0, display: "flex", flexWrap: "wrap", gap: 12 }}>
            {p.images.map((img) => (
              <li key={img.id} data-testid="ocr-image" data-id={img.id}>
                {/^data:image\//.test(img.imageBase64) && (
                  <img src={img.imageBase64} alt={img.id} data-testid="ocr-image-thumb" style={{ display: "block", maxWidth: 160, maxHeight: 160, border: "1px solid var(--border)", borderRadius: 4 }} />
                )}
                <code>{img.id}</code>{" "}
                <span className="muted">
                  ({img.topLeftX}, {img.topLeftY})–({img.bottomRightX}, {img.bottomRightY})
                </span>
              </li>
            ))}
          </ul>
        )}
        {p.hyperlinks.length > 0 && (
          <ul className="small" data-testid="ocr-page-links">
            {p.hyperlinks.map((h, i) => (
              <li key={i}>
                <code>{h}</code>
              </li>
            ))}
          </ul>
        )}
      </div>
    </Card>
  );
}
