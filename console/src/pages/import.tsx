// Import config: a LiteLLM config.yaml or a Bifrost config.json, pasted or loaded from a file, as
// the Signalbox config file it stands for (AdminService.ImportConfig, what `signalbox config
// import` does from a terminal). Whether the gateway's validator takes the result (the field and
// why when it does not), the format it was told to be, the notes (what needs a hand first, then
// what changed meaning, then what was left out) with a count per kind, the secrets the file held
// literally (masked in the YAML), the environment variables it references, and the YAML itself as
// text, to copy or download. Nothing is applied or kept. Admin only.

import { Code, type ImportConfigNote, type ImportConfigResponse, SignalboxError } from "@signalbox/client";
import { type ChangeEvent, type FormEvent, useState } from "react";
import { useSession } from "../context.ts";
import { Badge, Card, CopyButton, Empty, ErrorBox, Field, PageHeader, type Tone } from "../ui.tsx";

/** The note kinds, in the order the YAML's header and the table list them. */
const KINDS = ["manual", "changed", "dropped"] as const;
type Kind = (typeof KINDS)[number];
const KIND_LABEL: Record<Kind, string> = { manual: "TO DO", changed: "changed", dropped: "dropped" };
const KIND_TONE: Record<Kind, Tone> = { manual: "warn", changed: "info", dropped: "muted" };
const KIND_HINT: Record<Kind, string> = {
  manual: "Needs a hand before the config does what the file did",
  changed: "Carried over with another meaning",
  dropped: "Not carried over",
};
const rank = (kind: string) => {
  const i = (KINDS as readonly string[]).indexOf(kind);
  return i < 0 ? KINDS.length : i;
};
const kindLabel = (kind: string) => KIND_LABEL[kind as Kind] ?? kind;

const FORMAT_LABEL: Record<string, string> = { litellm: "LiteLLM", bifrost: "Bifrost" };
const FORMATS = [
  { value: "", label: "Told by its shape" },
  { value: "litellm", label: "LiteLLM" },
  { value: "bifrost", label: "Bifrost" },
];

/** The notes, TO DO first, then changed, then dropped (each kind in the server's order). */
export const sortNotes = (notes: ImportConfigNote[]): ImportConfigNote[] =>
  notes
    .map((n, i) => ({ n, i }))
    .sort((a, b) => rank(a.n.kind) - rank(b.n.kind) || a.i - b.i)
    .map(({ n }) => n);

/** The validator's message without the field it starts with (shown apart). */
const withoutField = (error: string, field: string) => (field && error.startsWith(`${field}: `) ? error.slice(field.length + 2) : error);

/** A refusal's headline in the words of this page (the gateway's message follows it). */
function refusalTitle(error: unknown): string | undefined {
  if (!error) return undefined;
  const e = SignalboxError.from(error);
  if (e.code === Code.InvalidArgument && e.field === "format") return "Its format was not told by its shape: pick LiteLLM or Bifrost under Format.";
  return undefined;
}

/** The downloaded file's name. */
const DOWNLOAD_NAME = "signalbox.yaml";

/** Save text as a file through a Blob URL (revoked once the click has started the download). */
function download(text: string, name: string) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/yaml" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.style.display = "none";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** Text as it came, in a box: never rendered as HTML. */
const TEXT_BOX = { margin: 0, whiteSpace: "pre", overflowX: "auto", fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", fontSize: "12.5px", maxHeight: 640 } as const;

export function ImportPage() {
  const { client } = useSession();
  const [text, setText] = useState("");
  const [fileName, setFileName] = useState("");
  // Bumped to clear the file input when the text no longer is the loaded file's.
  const [fileInput, setFileInput] = useState(0);
  const forgetFile = () => {
    if (!fileName) return;
    setFileName("");
    setFileInput((n) => n + 1);
  };
  const [format, setFormat] = useState("");
  const [result, setResult] = useState<ImportConfigResponse>();
  const [fileProblem, setFileProblem] = useState<unknown>();
  const [error, setError] = useState<unknown>();
  const [running, setRunning] = useState(false);

  const load = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (!file) return;
    setFileProblem(undefined);
    try {
      setText(await file.text());
      setFileName(file.name);
    } catch (err) {
      setFileProblem(err);
    }
  };

  const convert = async (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim() || running) return;
    setError(undefined);
    setResult(undefined);
    setRunning(true);
    try {
      // Sent as it is: the gateway parses it, tells its format and names what it cannot take.
      setResult(await client.admin.importConfig({ text, format, fileName }));
    } catch (err) {
      setError(err);
    } finally {
      setRunning(false);
    }
  };

  return (
    <>
      <PageHeader title="Import config" subtitle="Turn a LiteLLM config.yaml or a Bifrost config.json into the Signalbox config file it stands for." />
      <Card>
        <p className="muted small" style={{ marginTop: 0 }} data-testid="import-intro">
          Paste the file or load it: the gateway converts it and says what changed, what was left out and what needs a hand, and whether its validator takes the result. Nothing is applied or kept, and secrets written in the file come back masked. The gateway can also run on the file as it is (
          <code>npm start -- --config litellm_config.yaml</code>, or <code>config.json</code>), and <code>signalbox config import</code> does the same as this page from a terminal.
        </p>
        <form className="form" onSubmit={convert} aria-label="Import config">
          <div className="row">
            <Field label="File" hint={fileName ? `Loaded from ${fileName}` : "A config.yaml or config.json: its text goes in the box below"}>
              <input key={fileInput} type="file" accept=".yaml,.yml,.json,application/json,application/yaml,text/yaml,text/plain" name="file" data-testid="import-file" onChange={(e) => void load(e)} />
            </Field>
            <Field label="Format">
              <select value={format} onChange={(e) => setFormat(e.target.value)} name="format" data-testid="import-format-select">
                {FORMATS.map((f) => (
                  <option key={f.value} value={f.value}>
                    {f.label}
                  </option>
                ))}
              </select>
            </Field>
          </div>
          <ErrorBox error={fileProblem} title="The file could not be read." />
          <Field label="LiteLLM config.yaml or Bifrost config.json">
            <textarea
              className="code-input"
              value={text}
              onChange={(e) => {
                setText(e.target.value);
                if (!e.target.value) forgetFile();
              }}
              onPaste={(e) => {
                // Pasted over the whole text: another file, no longer the one loaded.
                const t = e.currentTarget;
                if (t.selectionStart === 0 && t.selectionEnd === t.value.length) forgetFile();
              }}
              name="text"
              rows={16}
              spellCheck={false}
              data-testid="import-text"
              placeholder={"model_list:\n  - model_name: gpt-4o\n    litellm_params: { model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY }"}
            />
          </Field>
          <div className="actions">
            <button type="submit" className="primary" disabled={running || !text.trim()}>
              {running ? "Converting…" : "Convert"}
            </button>
          </div>
        </form>
      </Card>
      <ErrorBox error={error} title={refusalTitle(error)} />
      {result ? (
        <ImportResult result={result} />
      ) : (
        !error && (
          <Card title="Signalbox config">
            <Empty>{running ? "Converting…" : "Paste or load a file and convert it to see the Signalbox config it stands for."}</Empty>
          </Card>
        )
      )}
    </>
  );
}

function ImportResult({ result: r }: { result: ImportConfigResponse }) {
  const notes = sortNotes(r.notes);
  const counts = KINDS.map((k) => [k, notes.filter((n) => n.kind === k).length] as const);
  return (
    <>
      <Card title="Result">
        <dl className="facts" data-testid="import-result" data-valid={String(r.valid)} data-format={r.format}>
          <dt>Format</dt>
          <dd data-testid="import-format">{FORMAT_LABEL[r.format] ?? r.format}</dd>
          <dt>Validator</dt>
          <dd data-testid="import-status" data-valid={String(r.valid)}>
            {r.valid ? (
              <>
                <Badge tone="ok">valid</Badge> The gateway's validator takes it.
              </>
            ) : (
              <div className="error" role="alert" data-testid="import-invalid" data-field={r.field}>
                <strong>The gateway's validator refuses it.</strong>
                <div>
                  {r.field && (
                    <>
                      <code>{r.field}</code>:{" "}
                    </>
                  )}
                  {withoutField(r.error, r.field)}
                </div>
              </div>
            )}
          </dd>
          {r.env.length > 0 && (
            <>
              <dt>Environment</dt>
              <dd data-testid="import-env">
                Set in the gateway's environment:{" "}
                {r.env.map((name, i) => (
                  <span key={name}>
                    {i > 0 && ", "}
                    <code>{name}</code>
                  </span>
                ))}
              </dd>
            </>
          )}
        </dl>
        {r.literalSecrets.length > 0 && (
          <div className="warning" role="status" data-testid="import-literal-secrets" style={{ marginTop: 12 }}>
            <strong>Secrets written in the file itself (masked below): move them into the environment.</strong>
            <ul className="entry-changes">
              {r.literalSecrets.map((p) => (
                <li key={p} data-testid="import-literal-secret">
                  <code>{p}</code>
                </li>
              ))}
            </ul>
          </div>
        )}
      </Card>
      <Card title={`Notes (${notes.length})`}>
        {notes.length === 0 ? (
          <Empty>Nothing changed, left out or needing a hand: the file carried over as it is.</Empty>
        ) : (
          <>
            <p className="small" data-testid="import-counts">
              {counts.map(([k, n], i) => (
                <span key={k} data-testid="import-count" data-kind={k} data-count={n} title={KIND_HINT[k]}>
                  {i > 0 && " · "}
                  <Badge tone={n > 0 ? KIND_TONE[k] : "muted"}>{KIND_LABEL[k]}</Badge> {n}
                </span>
              ))}
            </p>
            <div className="table-wrap">
              <table className="table dense" data-testid="import-notes">
                <thead>
                  <tr>
                    <th>Kind</th>
                    <th>Where in the file</th>
                    <th>What became of it</th>
                  </tr>
                </thead>
                <tbody>
                  {notes.map((n, i) => (
                    <tr key={i} data-testid="import-note" data-kind={n.kind} data-path={n.path}>
                      <td>
                        <span title={KIND_HINT[n.kind as Kind]}>
                          <Badge tone={KIND_TONE[n.kind as Kind] ?? "muted"}>{kindLabel(n.kind)}</Badge>
                        </span>
                      </td>
                      <td>
                        <code>{n.path}</code>
                      </td>
                      <td>{n.detail}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </Card>
      <Card
        title={DOWNLOAD_NAME}
        actions={
          <>
            <CopyButton text={r.yaml} />
            <button type="button" onClick={() => download(r.yaml, DOWNLOAD_NAME)} data-testid="import-download">
              Download {DOWNLOAD_NAME}
            </button>
          </>
        }
      >
        <pre className="answer" style={TEXT_BOX} data-testid="import-yaml">
          {r.yaml}
        </pre>
      </Card>
    </>
  );
}
