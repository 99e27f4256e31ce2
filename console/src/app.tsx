// The console's shell: sign-in, then a sidebar of pages and a header saying who is signed in.
// Each signed-in session gets its own query cache, dropped at sign-out.

import { TransportProvider } from "@connectrpc/connect-query";
import { Code, SignalboxError } from "@signalbox/client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { type FormEvent, type ReactNode, useEffect, useState } from "react";
import { SessionContext } from "./context.ts";
import { AlertsPage } from "./pages/alerts.tsx";
import { AuditPage } from "./pages/audit.tsx";
import { BatchesPage } from "./pages/batches.tsx";
import { BudgetsPage } from "./pages/budgets.tsx";
import { EntriesPage } from "./pages/entries.tsx";
import { ExplainPage } from "./pages/explain.tsx";
import { GuardrailsPage } from "./pages/guardrails.tsx";
import { ImportPage } from "./pages/import.tsx";
import { KeysPage } from "./pages/keys.tsx";
import { MirrorsPage } from "./pages/mirrors.tsx";
import { ModelsPage } from "./pages/models.tsx";
import { OcrPage } from "./pages/ocr.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { PlaygroundPage } from "./pages/playground.tsx";
import { PromptsPage } from "./pages/prompts.tsx";
import { RealtimePage } from "./pages/realtime.tsx";
import { RequestPage, RequestsPage } from "./pages/requests.tsx";
import { SearchPage } from "./pages/search.tsx";
import { UsagePage } from "./pages/usage.tsx";
import { VectorStoresPage } from "./pages/vector-stores.tsx";
import { Link, usePath } from "./router.tsx";
import { clientFor, forgetKey, identify, isAdmin, loadSettings, type Session, type Settings, SSO_LOGIN_PATH, ssoHost, ssoSignOut, storedKey, storeKey, takeSsoResult } from "./session.ts";
import { Badge, Empty, Loading } from "./ui.tsx";

interface NavItem {
  path: string;
  label: string;
  /** Who sees it; default everyone. */
  show?: (s: Session) => boolean;
}

const NAV: NavItem[] = [
  { path: "", label: "Overview" },
  { path: "usage", label: "Usage" },
  { path: "requests", label: "Requests" },
  { path: "mirrors", label: "Mirrors" },
  { path: "batches", label: "Batches" },
  { path: "vector-stores", label: "Vector stores" },
  { path: "explain", label: "Route explainer" },
  { path: "models", label: "Models & health" },
  { path: "entries", label: "Providers & routes", show: (s) => isAdmin(s.identity) },
  { path: "import", label: "Import config", show: (s) => isAdmin(s.identity) },
  { path: "guardrails", label: "Guardrails" },
  { path: "budgets", label: "Budgets & limits" },
  { path: "keys", label: "Keys & teams", show: (s) => s.identity.role !== "service" },
  { path: "alerts", label: "Alerts", show: (s) => isAdmin(s.identity) },
  { path: "audit", label: "Audit log", show: (s) => isAdmin(s.identity) },
  { path: "prompts", label: "Prompts" },
  { path: "playground", label: "Playground" },
  { path: "realtime", label: "Realtime" },
  { path: "search", label: "Search" },
  { path: "ocr", label: "OCR" },
];

/** Retry only what may pass on a second try; a refusal or bad input will not. */
const retryable = (failures: number, err: unknown) => {
  const code = SignalboxError.from(err).code;
  return failures < 2 && (code === Code.Unavailable || code === Code.Unknown || code === Code.Internal);
};

export function App() {
  const [settings, setSettings] = useState<Settings>();
  const [session, setSession] = useState<Session>();
  const [problem, setProblem] = useState<string>();

  useEffect(() => {
    // Back from an SSO sign-in: keep its token (or its error) and clear the fragment first.
    const sso = takeSsoResult();
    (async () => {
      try {
        const s = await loadSettings();
        setSettings(s);
        if (sso.error) setProblem(`SSO sign-in failed: ${sso.error}`);
        const key = storedKey();
        if (key || !s.authEnabled) {
          try {
            setSession({ identity: await identify(key), client: clientFor(key), settings: s });
          } catch (err) {
            forgetKey();
            setProblem(`${sso.signedIn ? "SSO sign-in failed" : "Signed out"}: ${(err as Error).message}`);
          }
        }
      } catch (err) {
        setProblem(`The gateway did not answer: ${(err as Error).message}`);
      }
    })();
  }, []);

  if (!settings) return problem ? <div className="center error">{problem}</div> : <Loading what="Connecting to the gateway" />;
  if (!session) return <SignIn settings={settings} notice={problem} onSession={setSession} />;
  return (
    <SignedIn
      key={session.identity.key}
      session={session}
      onSignOut={async () => {
        // An SSO session is signed out at the gateway, then at the identity provider when it
        // offers that (it sends the browser back to the console's sign-in screen).
        const endSession = await ssoSignOut(storedKey());
        forgetKey();
        if (endSession) return location.assign(endSession);
        setProblem(undefined);
        setSession(undefined);
      }}
    />
  );
}

function SignIn({ settings, notice, onSession }: { settings: Settings; notice?: string; onSession: (s: Session) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | undefined>(notice);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const secret = key.trim();
      const identity = await identify(secret);
      storeKey(secret);
      setKey("");
      onSession({ identity, client: clientFor(secret), settings });
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="signin">
      <form className="card signin-card" onSubmit={submit} aria-label="Sign in">
        <div className="brand big">
          <Logo /> Signalbox
        </div>
        <h1>Sign in to the console</h1>
        {settings.sso ? (
          <>
            <p className="muted">Sign in with your company account, or use a caller key. What you see follows your role: an admin sees everything, a team member their team, a service key itself.</p>
            <button type="button" className="primary wide" data-testid="sso-signin" onClick={() => location.assign(SSO_LOGIN_PATH)}>
              Sign in with SSO <span className="sso-host">({ssoHost(settings.sso)})</span>
            </button>
            <div className="signin-or" aria-hidden="true">
              <span>or use a caller key</span>
            </div>
          </>
        ) : (
          <p className="muted">Use a caller key. What you see follows its role: an admin key sees everything, a team key its team, a service key itself.</p>
        )}
        <label className="field">
          <span className="field-label">Caller key</span>
          <input type="password" name="key" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} placeholder="sbk_…" autoFocus={!settings.sso} required />
        </label>
        {error && (
          <div className="error" role="alert">
            {error}
          </div>
        )}
        <button type="submit" className={settings.sso ? "wide" : "primary wide"} disabled={busy || !key.trim()}>
          {busy ? "Checking…" : "Sign in"}
        </button>
        <p className="muted small">
          {settings.sso ? "The key or SSO session" : "The key"} is kept in this browser tab only (session storage) and sent as a bearer token; signing out or closing the tab forgets it.
        </p>
      </form>
    </div>
  );
}

function SignedIn({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const [queryClient] = useState(() => new QueryClient({ defaultOptions: { queries: { refetchOnWindowFocus: false, retry: retryable, staleTime: 10_000 } } }));
  const signOut = () => {
    queryClient.clear();
    onSignOut();
  };
  return (
    <SessionContext.Provider value={session}>
      <TransportProvider transport={session.client.transport}>
        <QueryClientProvider client={queryClient}>
          <Layout session={session} onSignOut={signOut}>
            <Pages session={session} />
          </Layout>
        </QueryClientProvider>
      </TransportProvider>
    </SessionContext.Provider>
  );
}

function Pages({ session }: { session: Session }) {
  const path = usePath();
  const [page, ...rest] = path.split("/");
  const item = NAV.find((n) => n.path === page);
  useEffect(() => {
    document.title = `${item?.label ?? "Not found"} · Signalbox console`;
  }, [item]);
  if (item?.show && !item.show(session)) return <Empty>Your key's role ({session.identity.role}) has no access to this page.</Empty>;
  switch (page) {
    case "":
      return <OverviewPage />;
    case "usage":
      return <UsagePage />;
    case "requests":
      return rest.length ? <RequestPage id={decodeURIComponent(rest.join("/"))} settings={session.settings} /> : <RequestsPage />;
    case "mirrors":
      return <MirrorsPage />;
    case "batches":
      return <BatchesPage selected={rest.length ? decodeURIComponent(rest.join("/")) : undefined} />;
    case "vector-stores":
      return <VectorStoresPage selected={rest.length ? decodeURIComponent(rest.join("/")) : undefined} />;
    case "explain":
      return <ExplainPage />;
    case "models":
      return <ModelsPage />;
    case "entries":
      return <EntriesPage />;
    case "import":
      return <ImportPage />;
    case "guardrails":
      return <GuardrailsPage />;
    case "budgets":
      return <BudgetsPage identity={session.identity} />;
    case "keys":
      return <KeysPage />;
    case "alerts":
      return <AlertsPage />;
    case "audit":
      return <AuditPage />;
    case "prompts":
      return <PromptsPage selected={rest.length ? decodeURIComponent(rest.join("/")) : undefined} />;
    case "playground":
      return <PlaygroundPage />;
    case "search":
      return <SearchPage />;
    case "ocr":
      return <OcrPage />;
    case "realtime":
      return <RealtimePage />;
    default:
      return (
        <Empty>
          No page at <code>{path}</code>. <Link to="">Go to the overview</Link>.
        </Empty>
      );
  }
}

function Layout({ session, onSignOut, children }: { session: Session; onSignOut: () => void; children: ReactNode }) {
  const page = usePath().split("/")[0];
  const { identity } = session;
  return (
    <div className="layout">
      <nav className="sidebar" aria-label="Pages">
        <div className="brand">
          <Logo /> Signalbox
        </div>
        {NAV.filter((n) => !n.show || n.show(session)).map((n) => (
          <Link key={n.path} to={n.path} className={page === n.path ? "active" : ""} aria-current={page === n.path ? "page" : undefined}>
            {n.label}
          </Link>
        ))}
      </nav>
      <div className="main">
        <header className="topbar" data-testid="identity" data-role={identity.role} data-team={identity.team} data-key={identity.key}>
          {identity.role === "anonymous" ? (
            <span>
              <Badge tone="warn">auth off</Badge> Anonymous: the gateway has no caller keys, so everyone has full access.
            </span>
          ) : (
            <>
              <span>
                Signed in as <strong>{identity.key}</strong> · team <strong>{identity.team}</strong> · <Badge tone={isAdmin(identity) ? "info" : "muted"}>{identity.role}</Badge>
              </span>
              <button type="button" onClick={onSignOut}>
                Sign out
              </button>
            </>
          )}
        </header>
        <main className="content">{children}</main>
      </div>
    </div>
  );
}

function Logo() {
  return (
    <svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true">
      <rect x="2" y="2" width="20" height="20" rx="5" fill="#1d4ed8" />
      <circle cx="8" cy="8" r="2.2" fill="#f87171" />
      <circle cx="8" cy="16" r="2.2" fill="#4ade80" />
      <path d="M12 8h6M12 16h6" stroke="#fff" strokeWidth="2" strokeLinecap="round" />
    </svg>
  );
}
