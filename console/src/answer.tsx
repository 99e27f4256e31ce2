// The end of an answer's summary list on the pages that run one request (Search, OCR): a link to
// its request record, its trace (to the trace viewer when one is set), and the gateway's
// adjustments when it made any. `testId` prefixes the test ids ("search" → search-request).

import type { Adjustment } from "@signalbox/client";
import { useSession } from "./context.ts";
import { Link } from "./router.tsx";
import { traceLink } from "./session.ts";
import { Adjustments } from "./ui.tsx";

export function AnswerRefs({ res, testId }: { res: { id: string; traceId: string; adjustments: Adjustment[] }; testId: string }) {
  const { settings } = useSession();
  const trace = traceLink(settings, res.traceId);
  return (
    <>
      {res.id && (
        <>
          <dt>Request</dt>
          <dd>
            <Link to={`requests/${encodeURIComponent(res.id)}`} data-testid={`${testId}-request`}>
              <code className="small">{res.id}</code>
            </Link>
          </dd>
        </>
      )}
      <dt>Trace</dt>
      <dd data-testid={`${testId}-trace`}>
        {trace ? (
          <a href={trace} target="_blank" rel="noopener noreferrer">
            {res.traceId.slice(0, 12)}… ↗
          </a>
        ) : (
          <code className="small">{res.traceId || "–"}</code>
        )}
      </dd>
      {res.adjustments.length > 0 && (
        <>
          <dt>Adjustments</dt>
          <dd>
            <Adjustments list={res.adjustments} />
          </dd>
        </>
      )}
    </>
  );
}
