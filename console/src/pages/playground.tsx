// Playground: stream a chat through any route and watch it happen: the start event (which
// deployment committed), each delta as it arrives, and the finish (usage, cost, attempts). With
// token probabilities asked for, the answer's tokens shaded by how sure the model was of each,
// with the alternatives it weighed. With web search asked for, the gateway searches first and the
// finish carries the results the answer cites, listed as Sources. With file search asked for (one
// or two of the vector stores the key may see, listed by GET /v1/vector_stores once the box is
// first checked), the gateway searches them first and the start event carries the passages the
// model was given, listed as Passages. With a PDF attached to a user message, a choice of how the
// gateway reads PDFs before planning (ChatRequest.pdf_reader): as they are (a model with vision),
// their text layer (free) or OCR through the gateway's `ocr` route (billed per page, recorded as
// an OCR request of its own in the same trace).

import { type Citation, Code, type FilePassage, FinishReasonSchema, PdfReader, SignalboxError, type StreamStart, streamText, type StreamTextResult, type TokenLogprob } from "@signalbox/client";
import { useQuery } from "@tanstack/react-query";
import { type FormEvent, useRef, useState } from "react";
import { type DraftMessage, MessagesEditor, ModelSelect, toMessages } from "../compose.tsx";
import { useSession } from "../context.ts";
import { count, enumName, ms, usd } from "../format.ts";
import { traceLink } from "../session.ts";
import { AttemptTimeline } from "../timeline.tsx";
import { Adjustments, Badge, Card, Empty, ErrorBox, Field, PageHeader, Segmented, Snippet } from "../ui.tsx";
import { listStores, type VectorStore } from "../vector-stores.ts";

type PdfReading = "native" | "text" | "ocr";
const PDF_READINGS: { value: PdfReading; label: string }[] = [
  { value: "native", label: "as they are" },
  { value: "text", label: "text layer" },
  { value: "ocr", label: "OCR" },
];
const PDF_READER: Record<PdfReading, PdfReader | undefined> = { native: undefined, text: PdfReader.TEXT, ocr: PdfReader.OCR };
const PDF_HINT: Record<PdfReading, string> = {
  native: "Each PDF goes to the model as it is: the model needs vision.",
  text: "The gateway reads each PDF's text layer and sends that text (free; a scan has none).",
  ocr: "Each PDF goes through the gateway's ocr route first and its pages' Markdown is sent (billed per page).",
};

interface Delta {
  text: string;
  /** ms since the request was sent */
  at: number;
}

export function PlaygroundPage() {
  const { client, settings } = useSession();
  const [model, setModel] = useState("default");
  const [messages, setMessages] = useState<DraftMessage[]>([{ role: "user", text: "Write a haiku about failover." }]);
  const [maxTokens, setMaxTokens] = useState("");
  const [temperature, setTemperature] = useState("");
  const [logprobs, setLogprobs] = useState(false);
  const [alternatives, setAlternatives] = useState("3");
  const [webSearch, setWebSearch] = useState(false);
  const [searchResults, setSearchResults] = useState("");
  /** Whether the request shown asked for web search (the checkbox may change since). */
  const [searched, setSearched] = useState(false);
  const [fileSearch, setFileSearch] = useState(false);
  /**
   * The stores picked for file search (1 or 2), in the order picked; null until the user picks:
   * then the first store listed (the newest).
   */
  const [storeIds, setStoreIds] = useState<string[] | null>(null);
  const [passageResults, setPassageResults] = useState("");
  const [pdfReading, setPdfReading] = useState<PdfReading>("native");
  // The choice shows (and is sent) only while a user message carries a PDF.
  const hasPdf = messages.some((m) => m.role === "user" && (m.files ?? []).some((f) => f.mediaType === "application/pdf"));
  const pdfReader = hasPdf ? PDF_READER[pdfReading] : undefined;
  /** Whether the request shown asked for file search. */
  const [fileSearched, setFileSearched] = useState(false);
  // Listed only once File search is first checked: a page that never searches files never asks
  // (and a gateway without vector stores answers that 404, which the browser logs).
  const [storesWanted, setStoresWanted] = useState(false);
  const stores = useSearchableStores(storesWanted);
  const storeList = stores.data ?? [];
  // A picked store since deleted (or no longer listed) is not sent.
  const pickedIds = (storeIds ?? storeList.slice(0, 1).map((s) => s.id)).filter((id) => storeList.some((s) => s.id === id));
  const fileSearchOn = fileSearch && pickedIds.length > 0;
  const [start, setStart] = useState<{ ev: StreamStart; at: number }>();
  const [deltas, setDeltas] = useState<Delta[]>([]);
  const [finish, setFinish] = useState<{ res: StreamTextResult; at: number }>();
  const [error, setError] = useState<unknown>();
  const [running, setRunning] = useState(false);
  const abort = useRef<AbortController | null>(null);

  const send = async (e: FormEvent) => {
    e.preventDefault();
    const ac = new AbortController();
    abort.current = ac;
    setStart(undefined);
    setDeltas([]);
    setFinish(undefined);
    setError(undefined);
    setRunning(true);
    setSearched(webSearch);
    setFileSearched(fileSearchOn);
    const t0 = performance.now();
    const max = Number(maxTokens);
    const temp = Number(temperature);
    const results = Number(searchResults);
    const passages = Number(passageResults);
    try {
      const s = streamText(
        client.chat,
        {
          model,
          messages: toMessages(messages),
          maxOutputTokens: maxTokens && max > 0 ? max : undefined,
          temperature: temperature !== "" && Number.isFinite(temp) ? temp : undefined,
          ...(logprobs ? { logprobs: true, topLogprobs: Number(alternatives) } : {}),
          // Results left empty: the gateway's web_search.max_results.
          ...(webSearch ? { webSearch: { maxResults: searchResults !== "" && Number.isInteger(results) && results > 0 ? results : undefined } } : {}),
          // Passages left empty: the gateway's default (10).
          ...(fileSearchOn ? { fileSearch: { vectorStoreIds: pickedIds, maxResults: passageResults !== "" && Number.isInteger(passages) && passages > 0 ? passages : undefined } } : {}),
          // As they are: left out (the gateway's default, NATIVE).
          ...(pdfReader !== undefined ? { pdfReader } : {}),
        },
        {
          signal: ac.signal,
          onStart: (ev) => setStart({ ev, at: performance.now() - t0 }),
          onText: (text) => setDeltas((d) => [...d, { text, at: performance.now() - t0 }]),
        },
      );
      const res = await s.result;
      setFinish({ res, at: performance.now() - t0 });
    } catch (err) {
      setError(err);
    } finally {
      setRunning(false);
      abort.current = null;
    }
  };

  const text = deltas.map((d) => d.text).join("");
  const trace = start ? traceLink(settings, start.ev.traceId) : undefined;

  return (
    <>
      <PageHeader title="Playground" subtitle="Stream a chat through any route, alias or deployment, and watch the start event, the deltas and the finish." />
      <Card>
        <form className="compose" onSubmit={send} aria-label="Chat">
          <div className="compose-side">
            <Field label="Model">
              <ModelSelect value={model} onChange={setModel} />
            </Field>
            <Field label="Max output tokens">
              <input type="number" min={1} value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} name="max_output_tokens" placeholder="default" />
            </Field>
            <Field label="Temperature">
              <input type="number" min={0} max={2} step={0.1} value={temperature} onChange={(e) => setTemperature(e.target.value)} name="temperature" placeholder="default" />
            </Field>
            <label className="check">
              <input type="checkbox" name="logprobs" checked={logprobs} onChange={(e) => setLogprobs(e.target.checked)} /> Token probabilities
            </label>
            {logprobs && (
              <Field label="Alternatives per token">
                <select name="top_logprobs" value={alternatives} onChange={(e) => setAlternatives(e.target.value)}>
                  {["0", "1", "3", "5", "10"].map((n) => (
                    <option key={n} value={n}>
                      {n}
                    </option>
                  ))}
                </select>
              </Field>
            )}
            <label className="check">
              <input type="checkbox" name="web_search" checked={webSearch} onChange={(e) => setWebSearch(e.target.checked)} /> Web search
            </label>
            {webSearch && (
              <Field label="Search results" hint="1–20; empty: the gateway's default">
                <input type="number" min={1} max={20} step={1} value={searchResults} onChange={(e) => setSearchResults(e.target.value)} name="web_search_results" placeholder="default" />
              </Field>
            )}
            <FileSearchControl
              stores={stores}
              wanted={storesWanted}
              on={fileSearch}
              onToggle={(on) => {
                setFileSearch(on);
                if (!on) return;
                if (!storesWanted) setStoresWanted(true);
                else if (stores.isError) void stores.refetch();
                // Checked again with nothing picked: the first store, so the box alone does something.
                if (pickedIds.length === 0) setStoreIds(null);
              }}
              picked={pickedIds}
              onPick={setStoreIds}
              results={passageResults}
              onResults={setPassageResults}
            />
          </div>
          <div className="compose-main">
            <span className="field-label">Messages</span>
            <MessagesEditor messages={messages} onChange={setMessages} />
            {hasPdf && (
              <div className="field" data-testid="pdf-reader" data-value={pdfReading}>
                <span className="field-label">PDFs</span>
                {/* Not stretched across the column: as wide as its three choices. */}
                <div style={{ alignSelf: "flex-start" }}>
                  <Segmented name="PDFs" value={pdfReading} options={PDF_READINGS} onChange={setPdfReading} />
                </div>
                <span className="field-hint">{PDF_HINT[pdfReading]}</span>
              </div>
            )}
            <div className="actions">
              <button type="submit" className="primary" disabled={running}>
                {running ? "Streaming…" : "Send"}
              </button>
              <button type="button" onClick={() => abort.current?.abort()} disabled={!running}>
                Stop
              </button>
            </div>
          </div>
        </form>
      </Card>
      <ErrorBox error={error} />
      <div className="grid-2 wide-left">
        <Card title="Answer">
          {deltas.length === 0 && !running ? (
            <Empty>Send a message to see the answer arrive.</Empty>
          ) : (
            <>
              <div className="answer" data-testid="answer">
                {text}
                {running && <span className="cursor" />}
              </div>
              <div className="deltas" data-testid="deltas" data-count={deltas.length}>
                {deltas.map((d, i) => (
                  <span key={i} className="delta" data-testid="delta" title={`delta ${i + 1} at ${ms(d.at)}`}>
                    <span className="muted">{Math.round(d.at)}ms</span> {d.text}
                  </span>
                ))}
              </div>
            </>
          )}
        </Card>
        <div className="stack">
          <Card title="Start">
            {start ? (
              <dl className="facts" data-testid="stream-start" data-deployment={start.ev.deployment} data-at={Math.round(start.at)}>
                <dt>Deployment</dt>
                <dd>
                  <strong>{start.ev.deployment}</strong>
                  {start.ev.cacheHit && (
                    <>
                      {" "}
                      <Badge tone="info">cache hit</Badge>
                    </>
                  )}
                </dd>
                <dt>Route</dt>
                <dd>{start.ev.routing?.route || "–"}</dd>
                <dt>Model</dt>
                <dd>{start.ev.providerModel || start.ev.model}</dd>
                <dt>Committed after</dt>
                <dd>{ms(start.at)}</dd>
                {start.ev.adjustments.length > 0 && (
                  <>
                    <dt>Adjustments</dt>
                    <dd>
                      <Adjustments list={start.ev.adjustments} />
                    </dd>
                  </>
                )}
                {start.ev.priorAttempts.length > 0 && (
                  <>
                    <dt>Before it</dt>
                    <dd>{start.ev.priorAttempts.length} failed attempt(s)</dd>
                  </>
                )}
                <dt>Trace</dt>
                <dd>
                  {trace ? (
                    <a href={trace} target="_blank" rel="noopener noreferrer">
                      {start.ev.traceId.slice(0, 12)}… ↗
                    </a>
                  ) : (
                    <code className="small">{start.ev.traceId || "–"}</code>
                  )}
                </dd>
              </dl>
            ) : (
              <Empty>{running ? "Waiting for the gateway to commit to a deployment…" : "Not started."}</Empty>
            )}
          </Card>
          <Card title="Finish">
            {finish ? (
              <dl className="facts" data-testid="stream-finish" data-deltas={deltas.length}>
                <dt>Finish reason</dt>
                <dd>{enumName(FinishReasonSchema, finish.res.finishReason, "FINISH_REASON_")}</dd>
                <dt>Tokens</dt>
                <dd>
                  {count(finish.res.usage?.inputTokens)} in · {count(finish.res.usage?.outputTokens)} out
                </dd>
                <dt>Cost</dt>
                <dd>{usd(finish.res.cost?.totalNanoUsd)}</dd>
                <dt>Deltas</dt>
                <dd>{deltas.length}</dd>
                <dt>Total time</dt>
                <dd>{ms(finish.at)}</dd>
                {finish.res.finish.adjustments.length > 0 && (
                  <>
                    <dt>Adjustments</dt>
                    <dd>
                      <Adjustments list={finish.res.finish.adjustments} />
                    </dd>
                  </>
                )}
              </dl>
            ) : (
              <Empty>{running ? "Streaming…" : "Not finished."}</Empty>
            )}
          </Card>
        </div>
      </div>
      {finish && (searched || finish.res.finish.citations.length > 0) && (
        <Card title="Sources">
          {finish.res.finish.citations.length ? (
            <Sources citations={finish.res.finish.citations} />
          ) : (
            <Empty>The answer cites none of the search results (see the adjustments for what was searched).</Empty>
          )}
        </Card>
      )}
      {start && (fileSearched || start.ev.filePassages.length > 0) && (
        <Card title="Passages">
          {start.ev.filePassages.length ? (
            <Passages passages={start.ev.filePassages} />
          ) : (
            <Empty>The file search found no passages (see the adjustments for what was searched).</Empty>
          )}
        </Card>
      )}
      {finish && logprobs && (
        <Card title="Token probabilities">
          {finish.res.logprobs.length ? (
            <TokenProbabilities tokens={finish.res.logprobs} />
          ) : (
            <Empty>No token probabilities: the answering model has none (see the adjustments of the request).</Empty>
          )}
        </Card>
      )}
      {finish && (
        <Card title={`Attempts (${finish.res.attempts.length})`}>
          <AttemptTimeline attempts={finish.res.attempts} />
        </Card>
      )}
    </>
  );
}


const host = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
};

/** The web search results the answer cites, numbered in order of appearance; each opens in a new tab. */
function Sources({ citations }: { citations: Citation[] }) {
  // One entry per page: an answer may cite the same result twice.
  const seen = new Set<string>();
  const unique = citations.filter((c) => !seen.has(c.url) && seen.add(c.url));
  return (
    <ol className="sources" data-testid="sources">
      {unique.map((c) => (
        <li key={c.url} data-testid="source">
          <a href={c.url} target="_blank" rel="noopener noreferrer" title={c.content || undefined}>
            {c.title || c.url}
          </a>{" "}
          <span className="muted small">{host(c.url)}</span>
        </li>
      ))}
    </ol>
  );
}

type StoresQuery = ReturnType<typeof useSearchableStores>;

/**
 * The vector stores the key may see, for file search: the first 100, newest first, once `enabled`.
 * `null` when the gateway has none configured (GET /v1/vector_stores answers 404): the control
 * says so.
 */
function useSearchableStores(enabled: boolean) {
  return useQuery({
    enabled,
    // Under the Vector stores page's root key, so what it changes refreshes this too.
    queryKey: ["vector-stores", "playground"],
    // Asked again whenever the box is first checked on a visit: a store made elsewhere since shows.
    staleTime: 0,
    queryFn: async (): Promise<VectorStore[] | null> => {
      try {
        return (await listStores("", 100)).data;
      } catch (err) {
        if (SignalboxError.from(err).code === Code.NotFound) return null;
        throw err;
      }
    },
  });
}

const MAX_STORES = 2;

/**
 * File search: a checkbox, as Web search, then the stores to search (one or two) and how many
 * passages at most. The stores are listed when it is first checked; disabled, saying why, while
 * they load, when there are none or when the gateway has no vector stores. When they cannot be
 * listed it says why, and checking it again asks again.
 */
function FileSearchControl(p: {
  stores: StoresQuery;
  /** Whether the stores are asked for (the box was checked). */
  wanted: boolean;
  on: boolean;
  onToggle: (on: boolean) => void;
  picked: string[];
  onPick: (ids: string[]) => void;
  results: string;
  onResults: (v: string) => void;
}) {
  // Not yet checked: nothing said (what an earlier visit listed may be out of date).
  const idle = !p.wanted;
  const { data, error } = p.stores;
  const isPending = !idle && data === undefined && !error;
  const why = idle
    ? undefined
    : isPending
    ? "Loading vector stores…"
    : error
      ? `Cannot list vector stores: ${SignalboxError.from(error).rawMessage}`
      : data === null
        ? "Vector stores are not configured on this gateway."
        : data && data.length === 0
          ? "No vector stores yet: make one on the Vector stores page."
          : undefined;
  const state = idle ? "idle" : isPending ? "loading" : error ? "error" : data === null ? "unconfigured" : data?.length ? "ready" : "empty";
  // A failed listing leaves the box usable: checking it again asks again.
  const disabled = !!why && !error;
  const toggle = (id: string, checked: boolean) => p.onPick(checked ? [...p.picked.filter((x) => x !== id), id] : p.picked.filter((x) => x !== id));
  return (
    <div className="field file-search" data-testid="file-search" data-state={state}>
      <label className="check">
        <input type="checkbox" name="file_search" checked={p.on && !why} disabled={disabled} onChange={(e) => p.onToggle(e.target.checked)} /> File search
      </label>
      {why && (
        <span className="field-hint" data-testid="file-search-unavailable">
          {why}
        </span>
      )}
      {p.on && !why && data && (
        <>
          <div className="field" role="group" aria-label="Vector stores to search">
            <span className="field-label">Vector stores</span>
            {data.map((s) => {
              const checked = p.picked.includes(s.id);
              return (
                <label key={s.id} className="check" title={s.id}>
                  <input
                    type="checkbox"
                    name="file_search_store"
                    value={s.id}
                    checked={checked}
                    disabled={!checked && p.picked.length >= MAX_STORES}
                    onChange={(e) => toggle(s.id, e.target.checked)}
                  />{" "}
                  {s.name || s.id}
                  <span className="muted small">
                    {" "}
                    {s.file_counts.completed} file{s.file_counts.completed === 1 ? "" : "s"}
                  </span>
                </label>
              );
            })}
            <span className="field-hint">{p.picked.length === 0 ? "Pick one or two stores: none picked, no file search." : `One or two; ${p.picked.length} picked`}</span>
          </div>
          <Field label="Passages" hint="1–50; empty: the gateway's default">
            <input type="number" min={1} max={50} step={1} value={p.results} onChange={(e) => p.onResults(e.target.value)} name="file_search_results" placeholder="default" />
          </Field>
        </>
      )}
    </div>
  );
}

const SNIPPET = 240;

/** The passages the file search gave the model, best first: file, score and text (the rest behind more). */
function Passages({ passages }: { passages: FilePassage[] }) {
  return (
    <ol className="sources" data-testid="passages">
      {passages.map((f, i) => (
        <li key={`${f.fileId}-${i}`} data-testid="passage" data-file-id={f.fileId} data-filename={f.filename} data-score={f.score}>
          <strong data-testid="passage-file">{f.filename || f.fileId}</strong>{" "}
          <span className="muted small" data-testid="passage-score" title={String(f.score)}>
            {f.score.toFixed(3)}
          </span>
          <Snippet text={f.text} limit={SNIPPET} testId="passage-text" />
        </li>
      ))}
    </ol>
  );
}

/** A passage's text: the first characters, the rest behind more (as the Vector stores page's hits). */
const pct = (lp: number) => `${(Math.exp(lp) * 100).toFixed(1)}%`;

/**
 * The answer as its tokens, each shaded by how unlikely it was (none at certainty, darkest near
 * zero); hovering one gives its probability and the alternatives the model weighed. Below, the
 * answer's mean probability and perplexity.
 */
function TokenProbabilities({ tokens }: { tokens: TokenLogprob[] }) {
  const mean = tokens.reduce((s, t) => s + t.logprob, 0) / tokens.length;
  return (
    <>
      <div className="tokens" data-testid="tokens" data-count={tokens.length}>
        {tokens.map((t, i) => {
          const p = Math.exp(t.logprob);
          const alts = t.topLogprobs.filter((a) => a.token !== t.token || a.logprob !== t.logprob);
          const title = `${JSON.stringify(t.token)} ${pct(t.logprob)}${alts.length ? `\nalternatives: ${alts.map((a) => `${JSON.stringify(a.token)} ${pct(a.logprob)}`).join(", ")}` : ""}`;
          return (
            <span key={i} className="token" data-testid="token" data-p={p.toFixed(4)} title={title} style={{ background: `rgba(245, 158, 11, ${(0.6 * (1 - p)).toFixed(3)})` }}>
              {t.token}
            </span>
          );
        })}
      </div>
      <p className="muted small" data-testid="token-summary">
        {tokens.length} tokens · mean probability {pct(mean)} · perplexity {Math.exp(-mean).toFixed(2)} · darker is less sure; hover a token for its alternatives
      </p>
    </>
  );
}
