// Search: run a web search through any route, alias or deployment that serves search
// (SearchService.Search), as the Playground does a chat: which deployment answered (and the
// attempts when there were several), the searches billed and their cost, the latency, the trace,
// the changes the gateway made to the request, then each query's pages.

import { Operation, type SearchHit, type SearchResponse } from "@signalbox/client";
import { type FormEvent, useState } from "react";
import { ModelSelect, servingModels } from "../compose.tsx";
import { useSession } from "../context.ts";
import { count, ms, splitList, usd } from "../format.ts";
import { AnswerRefs } from "../answer.tsx";
import { AttemptTimeline } from "../timeline.tsx";
import { Card, Empty, ErrorBox, Field, PageHeader, Snippet } from "../ui.tsx";

const MAX_QUERIES = 5;
const SNIPPET = 300;

/** What a search may name as `model`. */
const searchModels = servingModels(Operation.SEARCH);

/** The queries, one a line, blank lines dropped. */
const queriesOf = (text: string) =>
  text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);

export function SearchPage() {
  const { client } = useSession();
  const [model, setModel] = useState("search");
  const [queriesText, setQueriesText] = useState("");
  const [maxResults, setMaxResults] = useState("");
  const [allowed, setAllowed] = useState("");
  const [blocked, setBlocked] = useState("");
  const [country, setCountry] = useState("");
  const [answer, setAnswer] = useState<{ res: SearchResponse; queries: string[]; at: number }>();
  const [error, setError] = useState<unknown>();
  const [running, setRunning] = useState(false);

  const queries = queriesOf(queriesText);
  const tooMany = queries.length > MAX_QUERIES;

  const search = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setAnswer(undefined);
    setRunning(true);
    const t0 = performance.now();
    const max = Number(maxResults);
    try {
      // Sent as written: the gateway validates (and names the field at fault).
      const res = await client.search.search({
        model,
        queries,
        maxResults: maxResults !== "" && Number.isInteger(max) && max > 0 ? max : 0,
        allowedDomains: splitList(allowed),
        blockedDomains: splitList(blocked),
        country: country.trim().toUpperCase(),
      });
      setAnswer({ res, queries, at: performance.now() - t0 });
    } catch (err) {
      setError(err);
    } finally {
      setRunning(false);
    }
  };

  const res = answer?.res;

  return (
    <>
      <PageHeader title="Search" subtitle="Search the web through any route, alias or deployment that serves search, and see who answered, what it cost and each query's pages." />
      <Card>
        <form className="compose" onSubmit={search} aria-label="Search">
          <div className="compose-side">
            <Field label="Model">
              <ModelSelect value={model} onChange={setModel} pick={searchModels} testId="search-model" />
            </Field>
            <Field label="Max results" hint="Per query, 1–20; empty: 10">
              <input type="number" min={1} max={20} step={1} value={maxResults} onChange={(e) => setMaxResults(e.target.value)} name="max_results" placeholder="10" />
            </Field>
            <Field label="Only these domains" hint="Comma- or line-separated, e.g. example.com">
              <input type="text" value={allowed} onChange={(e) => setAllowed(e.target.value)} name="allowed_domains" placeholder="any" />
            </Field>
            <Field label="Leave out these domains" hint="Not with the domains above: the gateway takes one or the other">
              <input type="text" value={blocked} onChange={(e) => setBlocked(e.target.value)} name="blocked_domains" placeholder="none" />
            </Field>
            <Field label="Country" hint="Two letters (ISO 3166-1), e.g. US; empty: anywhere">
              <input type="text" value={country} onChange={(e) => setCountry(e.target.value)} name="country" maxLength={2} placeholder="any" />
            </Field>
          </div>
          <div className="compose-main">
            <Field label="Queries" hint={tooMany ? `${queries.length} queries: at most ${MAX_QUERIES}` : `One a line, up to ${MAX_QUERIES}; each is one search, billed as one`}>
              <textarea value={queriesText} rows={5} onChange={(e) => setQueriesText(e.target.value)} name="queries" placeholder={"signalbox gateway\nllm routing fallbacks"} />
            </Field>
            <div className="actions">
              <button type="submit" className="primary" disabled={running || queries.length === 0 || tooMany}>
                {running ? "Searching…" : "Search"}
              </button>
            </div>
          </div>
        </form>
      </Card>
      <ErrorBox error={error} />
      {res && answer ? (
        <>
          <Card title="Answer">
            <dl className="facts" data-testid="search-answer" data-deployment={res.deployment} data-results={res.results.length}>
              <dt>Deployment</dt>
              <dd data-testid="search-deployment">
                <strong>{res.deployment}</strong>
                {res.attempts.length > 1 && <span className="muted"> after {res.attempts.length} attempts</span>}
              </dd>
              <dt>Route</dt>
              <dd>{res.routing?.route || "–"}</dd>
              {res.routing?.alias && (
                <>
                  <dt>Alias</dt>
                  <dd>{res.routing.alias}</dd>
                </>
              )}
              <dt>Engine</dt>
              <dd>
                {res.provider}
                {res.providerModel ? ` · ${res.providerModel}` : ""}
              </dd>
              <dt>Searches billed</dt>
              <dd data-testid="search-units">{count(res.usage?.searchUnits)}</dd>
              <dt>Cost</dt>
              <dd data-testid="search-cost">{usd(res.cost?.totalNanoUsd)}</dd>
              <dt>Latency</dt>
              <dd data-testid="search-latency">{ms(res.timing?.latencyMs ?? answer.at)}</dd>
              <dt>Results</dt>
              <dd>{count(res.results.length)}</dd>
              <AnswerRefs res={res} testId="search" />
            </dl>
          </Card>
          {res.attempts.length > 1 && (
            <Card title={`Attempts (${res.attempts.length})`}>
              <AttemptTimeline attempts={res.attempts} />
            </Card>
          )}
          <Results queries={answer.queries} hits={res.results} />
        </>
      ) : (
        !error && (
          <Card title="Results">
            <Empty>{running ? "Searching…" : "Enter one or more queries and search to see each query's pages."}</Empty>
          </Card>
        )
      )}
    </>
  );
}


/** Each query's pages, in query order: title (a link to the page), URL, published date, snippet. */
function Results({ queries, hits }: { queries: string[]; hits: SearchHit[] }) {
  return (
    <>
      {queries.map((q, qi) => {
        const mine = hits.filter((h) => h.queryIndex === qi);
        return (
          <Card
            key={qi}
            title={
              <>
                <span className="muted">Query {qi + 1}:</span> {q}
              </>
            }
            className="search-query"
          >
            <div data-testid="search-query" data-query={q} data-index={qi} data-count={mine.length}>
              {mine.length === 0 ? (
                <Empty>No pages found for this query.</Empty>
              ) : (
                <ol className="sources">
                  {mine.map((h, i) => (
                    <li key={`${h.url}-${i}`} data-testid="search-hit" data-url={h.url}>
                      <a href={h.url} target="_blank" rel="noreferrer noopener">
                        <strong>{h.title || h.url}</strong>
                      </a>
                      <div className="muted small">
                        <span data-testid="search-hit-url">{h.url}</span>
                        {h.published && <span data-testid="search-hit-published"> · published {h.published}</span>}
                        {h.updated && h.updated !== h.published && <span> · updated {h.updated}</span>}
                      </div>
                      {h.snippet && <Snippet text={h.snippet} limit={SNIPPET} testId="search-hit-snippet" />}
                    </li>
                  ))}
                </ol>
              )}
            </div>
          </Card>
        );
      })}
    </>
  );
}
