// The small set of building blocks every page uses: page header, cards, figures, badges, tables
// with a pager, dialogs, form fields, loading and error states.

import { type Adjustment, Code, SignalboxError } from "@signalbox/client";
import { type ReactNode, useEffect, useRef, useState } from "react";
import { count } from "./format.ts";

export function PageHeader({ title, subtitle, actions }: { title: string; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle && <p className="muted">{subtitle}</p>}
      </div>
      {actions && <div className="actions">{actions}</div>}
    </header>
  );
}

export function Card({ title, actions, children, className }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section className={`card ${className ?? ""}`}>
      {(title || actions) && (
        <div className="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div className="actions">{actions}</div>}
        </div>
      )}
      {children}
    </section>
  );
}

export function Stat({ label, value, hint, testId }: { label: string; value: ReactNode; hint?: ReactNode; testId?: string }) {
  return (
    <div className="stat" data-testid={testId}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {hint && <div className="stat-hint">{hint}</div>}
    </div>
  );
}

export type Tone = "ok" | "bad" | "warn" | "info" | "muted";

export function Badge({ tone = "muted", children, title }: { tone?: Tone; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  );
}

/** A request status ("ok", "unavailable", ...) as a badge. */
export function StatusBadge({ status }: { status: string }) {
  return <Badge tone={status === "ok" ? "ok" : status === "canceled" ? "warn" : "bad"}>{status || "unknown"}</Badge>;
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return <div className="loading">{what}…</div>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

const CODE_TITLES: Partial<Record<Code, string>> = {
  [Code.Unauthenticated]: "Your key was refused. Sign out and sign in with a valid key.",
  [Code.PermissionDenied]: "Your key is not allowed to do this.",
  [Code.InvalidArgument]: "The request is not valid.",
  [Code.NotFound]: "Not found.",
  [Code.AlreadyExists]: "It already exists.",
  [Code.FailedPrecondition]: "Not possible in the current state.",
  [Code.ResourceExhausted]: "A rate limit or budget was reached.",
  [Code.Unavailable]: "Unavailable: the gateway or every candidate deployment could not serve it.",
  [Code.DeadlineExceeded]: "It took too long and timed out.",
  [Code.Unimplemented]: "This gateway does not offer this yet.",
  [Code.Canceled]: "Cancelled.",
};

/** An error in words: what it means, the gateway's message, and the field at fault when there is one. */
export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = SignalboxError.from(error);
  // The gateway's messages start with the field they name: shown once, as the field.
  const message = e.field && e.rawMessage.startsWith(`${e.field}: `) ? e.rawMessage.slice(e.field.length + 2) : e.rawMessage;
  return (
    <div className="error" role="alert" data-code={e.codeName}>
      <strong>{title ?? CODE_TITLES[e.code] ?? `The gateway answered ${e.codeName}.`}</strong>
      <div>
        {e.field && (
          <>
            Field <code>{e.field}</code>:{" "}
          </>
        )}
        {message}
        {e.retryAfterMs !== undefined && ` (try again in ${Math.ceil(e.retryAfterMs / 1000)} s)`}
      </div>
    </div>
  );
}

/** Page through a list RPC with opaque page tokens: a stack of the tokens of the pages seen. */
export function usePager(resetKey: string) {
  const [state, setState] = useState({ key: resetKey, tokens: [""] });
  const tokens = state.key === resetKey ? state.tokens : [""];
  if (state.key !== resetKey) setState({ key: resetKey, tokens: [""] });
  return {
    token: tokens[tokens.length - 1],
    page: tokens.length,
    next: (t: string) => setState({ key: resetKey, tokens: [...tokens, t] }),
    prev: () => setState({ key: resetKey, tokens: tokens.slice(0, -1) }),
  };
}

/** Newer / Older buttons over a usePager stack; `nextToken` is the last response's next_page_token. */
export function Pager({ pager, nextToken, label }: { pager: ReturnType<typeof usePager>; nextToken: string | undefined; label?: string }) {
  return (
    <div className="pager">
      <button type="button" onClick={pager.prev} disabled={pager.page <= 1}>
        ← Newer
      </button>
      <span className="muted">
        Page {pager.page}
        {label ? ` · ${label}` : ""}
      </span>
      <button type="button" onClick={() => nextToken && pager.next(nextToken)} disabled={!nextToken}>
        Older →
      </button>
    </div>
  );
}

/** A modal dialog (the native <dialog>); its content is unmounted when it closes. */
export function Dialog({ title, onClose, children, wide }: { title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog ref={ref} className={wide ? "wide" : ""} onCancel={(e) => (e.preventDefault(), onClose())} aria-label={title}>
      <div className="dialog-head">
        <h2>{title}</h2>
        <button type="button" className="icon" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </div>
      {children}
    </dialog>
  );
}

/**
 * A dialog's footer: Cancel, and the main button. The main button submits the dialog's form,
 * or calls `onConfirm` when there is no form; it shows `busyLabel` and is disabled while busy.
 */
export function DialogActions({ onCancel, label, busyLabel, busy = false, disabled = false, onConfirm, danger = false }: { onCancel: () => void; label: string; busyLabel?: string; busy?: boolean; disabled?: boolean; onConfirm?: () => void; danger?: boolean }) {
  return (
    <div className="dialog-actions">
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      <button type={onConfirm ? "button" : "submit"} className={danger ? "danger" : "primary"} onClick={onConfirm} disabled={busy || disabled}>
        {busy && busyLabel ? busyLabel : label}
      </button>
    </div>
  );
}

export function Field({ label, hint, children }: { label: string; hint?: ReactNode; children: ReactNode }) {
  return (
    <label className="field">
      <span className="field-label">{label}</span>
      {children}
      {hint && <span className="field-hint">{hint}</span>}
    </label>
  );
}

/** A segmented choice of a few options. */
export function Segmented<T extends string>({ value, options, onChange, name }: { value: T; options: { value: T; label: string }[]; onChange: (v: T) => void; name: string }) {
  return (
    <div className="segmented" role="radiogroup" aria-label={name}>
      {options.map((o) => (
        <button key={o.value} type="button" role="radio" aria-checked={o.value === value} className={o.value === value ? "on" : ""} onClick={() => onChange(o.value)}>
          {o.label}
        </button>
      ))}
    </div>
  );
}

/** Copy text to the clipboard, with a "Copied" confirmation on the button. */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone(true);
      setTimeout(() => setDone(false), 1500);
    } catch {
      setDone(false);
    }
  };
  return (
    <button type="button" onClick={copy}>
      {done ? "Copied" : label}
    </button>
  );
}

/** A text shown up to `limit` characters, with a more/less toggle when it is longer (search hits, passages). */
export function Snippet({ text, limit, testId }: { text: string; limit: number; testId?: string }) {
  const [all, setAll] = useState(false);
  const long = text.length > limit;
  return (
    <div className="convo-text small" data-testid={testId}>
      {all || !long ? text : `${text.slice(0, limit)}…`}
      {long && (
        <>
          {" "}
          <button type="button" className="icon small" onClick={() => setAll(!all)}>
            {all ? "less" : "more"}
          </button>
        </>
      )}
    </div>
  );
}

/** "Load more" under an infinite list: how many are shown, and the button while there is a next page. */
export function LoadMore({ shown, perPage, hasNext, fetching, onMore, testId }: { shown: number; perPage: number; hasNext: boolean; fetching: boolean; onMore: () => void; testId: string }) {
  if (!hasNext) return null;
  return (
    <div className="pager">
      <span className="muted">
        {count(shown)} shown · {perPage} per page
      </span>
      <button type="button" onClick={onMore} disabled={fetching} data-testid={testId}>
        {fetching ? "Loading…" : "Load more"}
      </button>
    </div>
  );
}

/** The changes the gateway made to a request (its adjustments), as the Playground and the Search page list them. */
export function Adjustments({ list }: { list: Adjustment[] }) {
  return (
    <ul className="small adjustments" data-testid="adjustments">
      {list.map((a, i) => (
        <li key={i} data-testid="adjustment" data-field={a.field}>
          <code>{a.field}</code>: {a.detail}
        </li>
      ))}
    </ul>
  );
}
