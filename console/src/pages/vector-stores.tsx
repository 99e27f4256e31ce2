// Vector stores: the gateway's own stores in OpenAI's Vector Stores API shape (/v1/vector_stores),
// newest first, a page at a time with Load more, refreshed every 2 s while one is indexing. New
// store makes one (and uploads documents into it). A store opens on its own page
// (vector-stores/{id}, so a link to it works): its facts, a search box (POST …/search: each hit's
// file, score, attributes and text), its files (names from the Files API; status, last error,
// attributes, size), refreshed while any is being indexed; Upload adds documents (POST /v1/files
// with purpose assistants, then POST …/files), Remove takes a file out, Delete store deletes it.

import { useInfiniteQuery, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, type KeyboardEvent, type ReactNode, useRef, useState } from "react";
import { getFile } from "../batches.ts";
import { count, dateTime, relative, shortTime, usd } from "../format.ts";
import { Link, navigate } from "../router.tsx";
import { Badge, Card, Dialog, DialogActions, Empty, ErrorBox, Field, LoadMore, Loading, PageHeader, Snippet, type Tone } from "../ui.tsx";
import {
  addStoreFile,
  type Attributes,
  attributeValue,
  bytes,
  type ComparisonFilter,
  createStore,
  deleteStore,
  type FileStatus,
  getStore,
  listStoreFiles,
  listStores,
  parseAttributes,
  removeStoreFile,
  searchStore,
  type SearchResults,
  type StoreStatus,
  uploadDocument,
  type VectorStore,
  type VectorStoreFile,
} from "../vector-stores.ts";

const PAGE_SIZE = 20;
const REFRESH_MS = 2000;
const ROOT_KEY = ["vector-stores"] as const;
const LIST_KEY = ["vector-stores", "list"] as const;
const storeKey = (id: string) => ["vector-stores", "store", id] as const;
const filesKey = (id: string) => ["vector-stores", "files", id] as const;
// Not under ROOT_KEY: a file's name never changes, so refreshing the stores leaves it be.
const fileNameKey = (fileId: string) => ["files", "name", fileId] as const;
const BASE = "vector-stores";

const STORE_TONES: Record<StoreStatus, Tone> = { completed: "ok", in_progress: "info", expired: "bad" };
const FILE_TONES: Record<FileStatus, Tone> = { completed: "ok", in_progress: "info", failed: "bad", cancelled: "warn" };

function StoreStatusBadge({ status }: { status: StoreStatus }) {
  return <Badge tone={STORE_TONES[status] ?? "muted"}>{status.replace("_", " ")}</Badge>;
}

function FileStatusBadge({ status }: { status: FileStatus }) {
  return <Badge tone={FILE_TONES[status] ?? "muted"}>{status.replace("_", " ")}</Badge>;
}

const ms = (secs: number | null | undefined) => (secs ? secs * 1000 : undefined);
const storeBusy = (s: VectorStore) => s.status === "in_progress" || s.file_counts.in_progress > 0;

/** One row per id: a store made between two pages' fetches must not show twice. */
function uniq<T extends { id: string }>(pages: { data: T[] }[] | undefined): T[] {
  const byId = new Map<string, T>();
  for (const p of pages ?? []) for (const x of p.data) if (!byId.has(x.id)) byId.set(x.id, x);
  return [...byId.values()];
}

function AttributeChips({ attributes, testId = "attribute" }: { attributes: Attributes | Record<string, string> | null | undefined; testId?: string }) {
  const entries = Object.entries(attributes ?? {});
  if (!entries.length) return <span className="muted">–</span>;
  return (
    <div className="chips small">
      {entries.map(([k, v]) => (
        <span key={k} className="chip" data-testid={testId} data-key={k} title={typeof v}>
          {k}={String(v)}
        </span>
      ))}
    </div>
  );
}

/** When the store expires: never, or a date and its rule. */
function Expiry({ s }: { s: VectorStore }) {
  if (!s.expires_after && !s.expires_at) return <span className="muted">never</span>;
  return (
    <span title={s.expires_after ? `${s.expires_after.days} days after it was last active` : undefined}>
      {s.expires_at ? (
        <>
          {shortTime(ms(s.expires_at))} <span className="muted small">({relative(ms(s.expires_at))})</span>
        </>
      ) : (
        "–"
      )}
    </span>
  );
}

/** "3 / 4", and what is not completed. */
function FileCountsText({ c }: { c: VectorStore["file_counts"] }) {
  const rest = [c.in_progress && `${count(c.in_progress)} indexing`, c.failed && `${count(c.failed)} failed`, c.cancelled && `${count(c.cancelled)} cancelled`].filter(Boolean);
  return (
    <>
      {count(c.completed)} / {count(c.total)}
      {rest.length > 0 && <span className="muted small"> ({rest.join(", ")})</span>}
    </>
  );
}

export function VectorStoresPage({ selected }: { selected?: string }) {
  return selected ? <StorePage key={selected} id={selected} /> : <StoreList />;
}

// ── the list ──────────────────────────────────────────────────────────────────────────────────

function StoreList() {
  const [creating, setCreating] = useState(false);
  const q = useInfiniteQuery({
    queryKey: LIST_KEY,
    queryFn: ({ pageParam }) => listStores(pageParam, PAGE_SIZE),
    initialPageParam: "",
    getNextPageParam: (last) => (last.has_more && last.last_id ? last.last_id : undefined),
    // Refresh while any store shown is indexing; once none is, stop.
    refetchInterval: (query) => (query.state.data?.pages.some((p) => p.data.some(storeBusy)) ? REFRESH_MS : false),
  });
  const stores = uniq(q.data?.pages);
  const refreshing = stores.some(storeBusy);
  const open = (s: VectorStore) => navigate(`${BASE}/${encodeURIComponent(s.id)}`);

  return (
    <>
      <PageHeader
        title="Vector stores"
        subtitle={
          <>
            The gateway's vector stores (<code>/v1/vector_stores</code>), newest first: documents cut into chunks and embedded, for the Responses API's <code>file_search</code> tool and <code>POST …/search</code>.
            {refreshing ? ` Refreshing every ${REFRESH_MS / 1000} s while one is indexing.` : ""}
          </>
        }
        actions={
          <>
            <button type="button" onClick={() => void q.refetch()} disabled={q.isPending} data-testid="vector-stores-refresh">
              Refresh
            </button>
            <button type="button" className="primary" onClick={() => setCreating(true)} data-testid="vector-store-new">
              New store
            </button>
          </>
        }
      />
      <ErrorBox error={q.error} />
      <Card>
        {q.isPending ? (
          <Loading what="Loading vector stores" />
        ) : stores.length === 0 ? (
          !q.error && (
            <Empty>
              No vector stores yet. Make one with <strong>New store</strong>, or with <code>POST /v1/vector_stores</code> and documents uploaded to <code>/v1/files</code> with purpose <code>assistants</code>.
            </Empty>
          )
        ) : (
          <div className="table-wrap">
            <table className="table dense clickable" data-testid="vector-stores-table" data-refreshing={refreshing ? "true" : "false"}>
              <thead>
                <tr>
                  <th>Store</th>
                  <th>Status</th>
                  <th>Files</th>
                  <th className="num">Size</th>
                  <th>Embedding</th>
                  <th>Created</th>
                  <th>Last active</th>
                  <th>Expires</th>
                </tr>
              </thead>
              <tbody>
                {stores.map((s) => (
                  <tr
                    key={s.id}
                    onClick={() => open(s)}
                    tabIndex={0}
                    onKeyDown={(e: KeyboardEvent) => e.key === "Enter" && open(s)}
                    data-testid="vector-store-row"
                    data-id={s.id}
                    data-name={s.name}
                    data-status={s.status}
                    data-completed={s.file_counts.completed}
                    data-in-progress={s.file_counts.in_progress}
                    data-failed={s.file_counts.failed}
                    data-total={s.file_counts.total}
                    data-usage-bytes={s.usage_bytes}
                  >
                    <td>
                      <strong>{s.name || <span className="muted">(no name)</span>}</strong>
                      <div className="muted small">
                        <code>{s.id}</code>
                      </div>
                    </td>
                    <td>
                      <StoreStatusBadge status={s.status} />
                    </td>
                    <td className="nowrap">
                      <FileCountsText c={s.file_counts} />
                    </td>
                    <td className="num" title={`${count(s.usage_bytes)} bytes`}>
                      {bytes(s.usage_bytes)}
                    </td>
                    <td className="nowrap">{s.signalbox?.embedding_deployment ? <code>{s.signalbox.embedding_deployment}</code> : <span className="muted">–</span>}</td>
                    <td className="nowrap" title={dateTime(ms(s.created_at))}>
                      {shortTime(ms(s.created_at))}
                    </td>
                    <td className="nowrap" title={dateTime(ms(s.last_active_at))}>
                      {s.last_active_at ? relative(ms(s.last_active_at)) : <span className="muted">–</span>}
                    </td>
                    <td className="nowrap">
                      <Expiry s={s} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <LoadMore shown={stores.length} perPage={PAGE_SIZE} hasNext={q.hasNextPage} fetching={q.isFetchingNextPage} onMore={() => void q.fetchNextPage()} testId="vector-stores-load-more" />
      </Card>
      {creating && <NewStoreDialog onClose={() => setCreating(false)} />}
    </>
  );
}

/** Upload each document (purpose assistants) and add it to the store, with the same attributes; `progress` says which. */
async function uploadInto(storeId: string, files: File[], attributes: Attributes | undefined, progress: (what: string) => void): Promise<void> {
  for (const [i, f] of files.entries()) {
    progress(`Uploading ${f.name}${files.length > 1 ? ` (${i + 1} of ${files.length})` : ""}…`);
    const uploaded = await uploadDocument(f);
    await addStoreFile(storeId, uploaded.id, attributes);
  }
}

/** The documents and attributes fields of the New store and Upload dialogs. */
function useDocumentFields() {
  const input = useRef<HTMLInputElement>(null);
  const [files, setFiles] = useState<File[]>([]);
  const [attrs, setAttrs] = useState("");
  const parsed = parseAttributes(attrs);
  const fields = (
    <>
      <Field label="Documents" hint="Text, Markdown, HTML, JSON, PDF…: each is uploaded to /v1/files with purpose assistants, then cut into chunks and embedded.">
        <input ref={input} type="file" multiple name="documents" data-testid="vector-store-documents" onChange={(e) => setFiles([...(e.target.files ?? [])])} />
      </Field>
      <Field label="Attributes" hint="key=value pairs, comma-separated, given to each document (true/false and numbers are typed); search filters test them.">
        <input type="text" name="attributes" value={attrs} onChange={(e) => setAttrs(e.target.value)} placeholder="topic=pets, year=2024" aria-invalid={parsed.problem ? "true" : undefined} data-testid="vector-store-attributes" />
      </Field>
      {parsed.problem && (
        <div className="error" role="alert">
          Attributes: {parsed.problem}
        </div>
      )}
    </>
  );
  return { files, attributes: parsed.attributes, problem: parsed.problem, fields };
}

function NewStoreDialog({ onClose }: { onClose: () => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const docs = useDocumentFields();
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [made, setMade] = useState<VectorStore>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    let store = made;
    try {
      if (!store) {
        setBusy("Creating…");
        store = await createStore(name.trim());
        setMade(store);
      }
      await uploadInto(store.id, docs.files, docs.attributes, setBusy);
      await queryClient.invalidateQueries({ queryKey: ROOT_KEY });
      navigate(`${BASE}/${encodeURIComponent(store.id)}`);
    } catch (err) {
      setError(err);
      await queryClient.invalidateQueries({ queryKey: ROOT_KEY });
    } finally {
      setBusy(undefined);
    }
  };
  return (
    <Dialog title="New vector store" onClose={onClose}>
      <form className="form" onSubmit={submit} aria-label="New vector store">
        <Field label="Name">
          <input type="text" name="name" value={name} onChange={(e) => setName(e.target.value)} placeholder="support-docs" autoFocus required disabled={!!made} data-testid="vector-store-name" />
        </Field>
        {docs.fields}
        {made && (
          <div className="warning" role="status">
            Store <code>{made.id}</code> was created; a document was not added. Try again, or <Link to={`${BASE}/${encodeURIComponent(made.id)}`}>open the store</Link>.
          </div>
        )}
        <ErrorBox error={error} />
        <DialogActions onCancel={onClose} label={made ? "Upload again" : docs.files.length ? `Create and upload ${docs.files.length}` : "Create"} busy={!!busy} busyLabel={busy} disabled={!name.trim() || !!docs.problem} />
      </form>
    </Dialog>
  );
}

// ── one store ─────────────────────────────────────────────────────────────────────────────────

function StorePage({ id }: { id: string }) {
  const queryClient = useQueryClient();
  const [dialog, setDialog] = useState<{ kind: "upload" } | { kind: "delete" } | { kind: "remove"; file: VectorStoreFile; name?: string }>();
  const close = () => setDialog(undefined);
  const files = useInfiniteQuery({
    queryKey: filesKey(id),
    queryFn: ({ pageParam }) => listStoreFiles(id, pageParam, PAGE_SIZE),
    initialPageParam: "",
    getNextPageParam: (last) => (last.has_more && last.last_id ? last.last_id : undefined),
    refetchInterval: (query) => (query.state.data?.pages.some((p) => p.data.some((f) => f.status === "in_progress")) ? REFRESH_MS : false),
  });
  const list = uniq(files.data?.pages);
  const indexing = list.some((f) => f.status === "in_progress");
  const store = useQuery({
    queryKey: storeKey(id),
    queryFn: () => getStore(id),
    // Its counts and size move while files are indexed.
    refetchInterval: (query) => (indexing || (query.state.data && storeBusy(query.state.data)) ? REFRESH_MS : false),
  });
  // Names from the Files API (a store's file carries only its id); a file deleted there has none.
  const names = useQueries({
    queries: list.map((f) => ({ queryKey: fileNameKey(f.id), queryFn: () => getFile(f.id), staleTime: Infinity, retry: false })),
  });
  const nameOf = new Map(list.map((f, i) => [f.id, names[i]?.data?.filename]));
  const s = store.data;
  const refresh = () => queryClient.invalidateQueries({ queryKey: ROOT_KEY });

  return (
    <section className="stack" data-testid="vector-store" data-id={id} data-status={s?.status ?? ""} aria-label={`Vector store ${id}`}>
      <PageHeader
        title={s ? s.name || "(no name)" : "Vector store"}
        subtitle={
          <>
            <Link to={BASE} data-testid="vector-store-back">
              ← Vector stores
            </Link>{" "}
            · <code>{id}</code>
            {indexing ? ` · Refreshing every ${REFRESH_MS / 1000} s while a file is indexed.` : ""}
          </>
        }
        actions={
          <>
            <button type="button" onClick={() => void refresh()} data-testid="vector-store-refresh">
              Refresh
            </button>
            <button type="button" className="primary" onClick={() => setDialog({ kind: "upload" })} disabled={!s} data-testid="vector-store-upload">
              Upload
            </button>
            <button type="button" className="danger" onClick={() => setDialog({ kind: "delete" })} disabled={!s} data-testid="vector-store-delete">
              Delete store
            </button>
          </>
        }
      />
      <ErrorBox error={store.error} />
      {s ? <StoreFacts s={s} /> : store.isPending && <Loading what="Loading the store" />}
      {s && <SearchCard id={id} />}
      {s && (
        <Card title={`Files (${count(s.file_counts.total)})`}>
          <ErrorBox error={files.error} />
          {files.isPending ? (
            <Loading what="Loading the files" />
          ) : list.length === 0 ? (
            !files.error && (
              <Empty>
                No files in this store. <strong>Upload</strong> documents, or add files uploaded with purpose <code>assistants</code> with <code>POST /v1/vector_stores/{"{id}"}/files</code>.
              </Empty>
            )
          ) : (
            <div className="table-wrap">
              <table className="table dense" data-testid="vector-store-files" data-refreshing={indexing ? "true" : "false"}>
                <thead>
                  <tr>
                    <th>File</th>
                    <th>Status</th>
                    <th>Attributes</th>
                    <th className="num">Size</th>
                    <th>Added</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {list.map((f) => {
                    const name = nameOf.get(f.id);
                    return (
                      <tr key={f.id} data-testid="vector-store-file" data-id={f.id} data-name={name ?? ""} data-status={f.status} data-usage-bytes={f.usage_bytes}>
                        <td>
                          <strong>{name ?? <span className="muted">–</span>}</strong>
                          <div className="muted small nowrap">
                            <code>{f.id}</code>
                          </div>
                        </td>
                        <td>
                          <FileStatusBadge status={f.status} />
                          {f.last_error && (
                            <div className="warning small" role="status" data-testid="vector-store-file-error" data-code={f.last_error.code}>
                              <code>{f.last_error.code}</code>: {f.last_error.message}
                            </div>
                          )}
                        </td>
                        <td>
                          <AttributeChips attributes={f.attributes} testId="file-attribute" />
                        </td>
                        <td className="num" title={`${count(f.usage_bytes)} bytes of chunk text`}>
                          {f.status === "completed" ? bytes(f.usage_bytes) : <span className="muted">–</span>}
                        </td>
                        <td className="nowrap" title={dateTime(ms(f.created_at))}>
                          {shortTime(ms(f.created_at))}
                        </td>
                        <td className="row-actions">
                          <button type="button" className="danger" onClick={() => setDialog({ kind: "remove", file: f, name })} aria-label={`Remove ${name ?? f.id}`} data-testid="vector-store-file-remove">
                            Remove
                          </button>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          <LoadMore shown={list.length} perPage={PAGE_SIZE} hasNext={files.hasNextPage} fetching={files.isFetchingNextPage} onMore={() => void files.fetchNextPage()} testId="vector-store-files-load-more" />
        </Card>
      )}
      {dialog?.kind === "upload" && <UploadDialog id={id} onClose={close} />}
      {dialog?.kind === "delete" && s && <DeleteStoreDialog s={s} onClose={close} />}
      {dialog?.kind === "remove" && <RemoveFileDialog id={id} file={dialog.file} name={dialog.name} onClose={close} />}
    </section>
  );
}

function StoreFacts({ s }: { s: VectorStore }) {
  const c = s.file_counts;
  return (
    <Card
      title={
        <>
          Store <StoreStatusBadge status={s.status} />
        </>
      }
    >
      <div className="grid-3">
        <dl className="facts" data-testid="vector-store-facts">
          <dt>ID</dt>
          <dd>
            <code>{s.id}</code>
          </dd>
          <dt>Embedding</dt>
          <dd data-testid="vector-store-embedding">{s.signalbox?.embedding_deployment ? <code>{s.signalbox.embedding_deployment}</code> : <span className="muted">none yet (set when a file is indexed)</span>}</dd>
          <dt>Size</dt>
          <dd data-testid="vector-store-usage" data-bytes={s.usage_bytes}>
            {bytes(s.usage_bytes)} <span className="muted small">of chunk text</span>
          </dd>
          <dt>Metadata</dt>
          <dd>
            <AttributeChips attributes={s.metadata} testId="vector-store-metadata" />
          </dd>
        </dl>
        <dl className="facts" data-testid="vector-store-counts" data-total={c.total} data-completed={c.completed} data-in-progress={c.in_progress} data-failed={c.failed} data-cancelled={c.cancelled}>
          <dt>Files</dt>
          <dd>{count(c.total)}</dd>
          <dt>Completed</dt>
          <dd>{count(c.completed)}</dd>
          <dt>Indexing</dt>
          <dd>{count(c.in_progress)}</dd>
          <dt>Failed</dt>
          <dd>{count(c.failed)}</dd>
          <dt>Cancelled</dt>
          <dd>{count(c.cancelled)}</dd>
        </dl>
        <dl className="facts" data-testid="vector-store-times">
          <dt>Created</dt>
          <dd>{dateTime(ms(s.created_at))}</dd>
          <dt>Last active</dt>
          <dd>{s.last_active_at ? `${dateTime(ms(s.last_active_at))} (${relative(ms(s.last_active_at))})` : "–"}</dd>
          <dt>Expires</dt>
          <dd>
            {s.expires_at ? `${dateTime(ms(s.expires_at))} (${relative(ms(s.expires_at))})` : "never"}
            {s.expires_after && <div className="muted small">{s.expires_after.days} days after it was last active</div>}
          </dd>
        </dl>
      </div>
    </Card>
  );
}

/** "key=value" as an eq filter (the value typed as attributes are); "" is no filter. */
function filterOf(text: string): { filter?: ComparisonFilter; problem?: string } {
  const t = text.trim();
  if (!t) return {};
  const i = t.indexOf("=");
  if (i <= 0) return { problem: `"${t}" is not key=value` };
  return { filter: { type: "eq", key: t.slice(0, i).trim(), value: attributeValue(t.slice(i + 1).trim()) } };
}

function SearchCard({ id }: { id: string }) {
  const [query, setQuery] = useState("");
  const [max, setMax] = useState(10);
  const [filterText, setFilterText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [results, setResults] = useState<SearchResults>();
  const f = filterOf(filterText);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (f.problem) return;
    setBusy(true);
    setError(undefined);
    try {
      setResults(await searchStore(id, query.trim(), max, f.filter));
    } catch (err) {
      setError(err);
      setResults(undefined);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Search">
      <form className="toolbar" onSubmit={submit} aria-label="Search the store">
        <label className="toolbar-group" style={{ flex: 1, minWidth: 240 }}>
          <span className="field-label">Query</span>
          <input type="search" name="query" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="What to look for" data-testid="vector-store-query" />
        </label>
        <label className="toolbar-group">
          <span className="field-label">Results</span>
          <input type="number" name="max" min={1} max={50} value={max} onChange={(e) => setMax(Math.min(50, Math.max(1, Number(e.target.value) || 1)))} style={{ width: 80 }} />
        </label>
        <label className="toolbar-group">
          <span className="field-label">Filter (attribute)</span>
          <input type="text" name="filter" value={filterText} onChange={(e) => setFilterText(e.target.value)} placeholder="topic=pets" aria-invalid={f.problem ? "true" : undefined} data-testid="vector-store-filter" />
        </label>
        <button type="submit" className="primary" disabled={busy || !query.trim() || !!f.problem} data-testid="vector-store-search">
          {busy ? "Searching…" : "Search"}
        </button>
      </form>
      {f.problem && (
        <div className="error" role="alert">
          Filter: {f.problem}
        </div>
      )}
      <ErrorBox error={error} />
      {results && <SearchHits results={results} />}
    </Card>
  );
}

function SearchHits({ results }: { results: SearchResults }) {
  const hits = results.data;
  return (
    <div data-testid="vector-store-results" data-count={hits.length}>
      <p className="muted small">
        {hits.length === 0 ? "Nothing matched" : `${count(hits.length)} hit${hits.length === 1 ? "" : "s"}`} for {results.search_query.map((q) => `“${q}”`).join(", ")}
        {results.signalbox && usd(results.signalbox.cost_nano_usd) !== usd(0) && !/^\$0\.0+$/.test(usd(results.signalbox.cost_nano_usd)) ? ` · ${usd(results.signalbox.cost_nano_usd)} to embed the query` : ""}
      </p>
      {hits.length > 0 && (
        <div className="table-wrap">
          <table className="table dense">
            <thead>
              <tr>
                <th className="num">#</th>
                <th>File</th>
                <th className="num">Score</th>
                <th>Attributes</th>
                <th>Text</th>
              </tr>
            </thead>
            <tbody>
              {hits.map((h, i) => (
                <tr key={`${h.file_id}-${i}`} data-testid="vector-store-hit" data-file-id={h.file_id} data-filename={h.filename} data-score={h.score}>
                  <td className="num">{i + 1}</td>
                  <td>
                    <strong>{h.filename}</strong>
                    <div className="muted small nowrap">
                      <code>{h.file_id}</code>
                    </div>
                  </td>
                  <td className="num" title={String(h.score)}>
                    {h.score.toFixed(3)}
                  </td>
                  <td>
                    <AttributeChips attributes={h.attributes} testId="hit-attribute" />
                  </td>
                  <td>
                    <Snippet text={h.content.map((c) => c.text).join("\n")} limit={400} testId="vector-store-hit-text" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** A chunk's text: the first 400 characters, the rest behind More. */
// ── dialogs ───────────────────────────────────────────────────────────────────────────────────

function UploadDialog({ id, onClose }: { id: string; onClose: () => void }) {
  const queryClient = useQueryClient();
  const docs = useDocumentFields();
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<unknown>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      await uploadInto(id, docs.files, docs.attributes, setBusy);
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
      await queryClient.invalidateQueries({ queryKey: ROOT_KEY });
    }
  };
  return (
    <Dialog title="Upload documents" onClose={onClose}>
      <form className="form" onSubmit={submit} aria-label="Upload documents">
        {docs.fields}
        <ErrorBox error={error} />
        <DialogActions onCancel={onClose} label={docs.files.length > 1 ? `Upload ${docs.files.length}` : "Upload"} busy={!!busy} busyLabel={busy} disabled={!docs.files.length || !!docs.problem} />
      </form>
    </Dialog>
  );
}

function ConfirmDialog({ title, children, label, busyLabel, onClose, onConfirm }: { title: string; children: ReactNode; label: string; busyLabel: string; onClose: () => void; onConfirm: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await onConfirm();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog title={title} onClose={onClose}>
      <p>{children}</p>
      <ErrorBox error={error} />
      <DialogActions onCancel={onClose} label={label} busyLabel={busyLabel} busy={busy} onConfirm={confirm} danger />
    </Dialog>
  );
}

function DeleteStoreDialog({ s, onClose }: { s: VectorStore; onClose: () => void }) {
  const queryClient = useQueryClient();
  return (
    <ConfirmDialog
      title={`Delete ${s.name || s.id}`}
      label="Delete store"
      busyLabel="Deleting…"
      onClose={onClose}
      onConfirm={async () => {
        await deleteStore(s.id);
        queryClient.removeQueries({ queryKey: storeKey(s.id) });
        queryClient.removeQueries({ queryKey: filesKey(s.id) });
        await queryClient.invalidateQueries({ queryKey: LIST_KEY });
        navigate(BASE);
      }}
    >
      The store <code>{s.id}</code>, its {count(s.file_counts.total)} file{s.file_counts.total === 1 ? "" : "s"}' chunks and their vectors are deleted; the uploaded files stay in <code>/v1/files</code>.
    </ConfirmDialog>
  );
}

function RemoveFileDialog({ id, file, name, onClose }: { id: string; file: VectorStoreFile; name?: string; onClose: () => void }) {
  const queryClient = useQueryClient();
  return (
    <ConfirmDialog
      title={`Remove ${name ?? file.id}`}
      label="Remove file"
      busyLabel="Removing…"
      onClose={onClose}
      onConfirm={async () => {
        await removeStoreFile(id, file.id);
        await queryClient.invalidateQueries({ queryKey: ROOT_KEY });
        onClose();
      }}
    >
      Its chunks leave the store: searches no longer find them. The uploaded file <code>{file.id}</code> stays in <code>/v1/files</code>.
    </ConfirmDialog>
  );
}
