// Writing a chat request, shared by the route explainer and the playground: the model picker
// (routes, aliases and deployments from ListModels) and the messages editor.

import { useQuery } from "@connectrpc/connect-query";
import { assistant, developer, fileBytes, type ListModelsResponse, type Message, type Operation, RouteService, system, textPart, user } from "@signalbox/client";

export type DraftRole = "system" | "developer" | "user" | "assistant";
/** A document attached to a user message, read when it was picked. */
export interface DraftFile {
  name: string;
  mediaType: string;
  data: Uint8Array;
}
export interface DraftMessage {
  role: DraftRole;
  text: string;
  /** User messages only. */
  files?: DraftFile[];
}

const BUILD: Record<DraftRole, (t: string) => Message> = { system, developer, user, assistant: (t) => assistant(t) };

/** The documents the gateway takes, by extension (a browser's File.type is often empty for .md). */
const DOCUMENT_TYPES: Record<string, string> = { pdf: "application/pdf", txt: "text/plain", md: "text/markdown", csv: "text/csv", html: "text/html", htm: "text/html" };
const ACCEPT = Object.keys(DOCUMENT_TYPES).map((e) => `.${e}`).join(",");

/** The draft as request messages (empty ones left out); a user message's files go before its text. */
export const toMessages = (draft: readonly DraftMessage[]): Message[] =>
  draft
    .filter((m) => m.text.trim() || (m.role === "user" && m.files?.length))
    .map((m) =>
      m.role === "user" && m.files?.length ? user([...m.files.map((f) => fileBytes(f.data, f.mediaType, f.name)), ...(m.text.trim() ? [textPart(m.text)] : [])]) : BUILD[m.role](m.text),
    );

async function readFiles(list: FileList | null): Promise<DraftFile[]> {
  const out: DraftFile[] = [];
  for (const f of Array.from(list ?? [])) {
    const mediaType = DOCUMENT_TYPES[f.name.split(".").pop()?.toLowerCase() ?? ""];
    if (mediaType) out.push({ name: f.name, mediaType, data: new Uint8Array(await f.arrayBuffer()) });
  }
  return out;
}

/** What a picker lists: ListModels' routes, aliases and deployments, or a part of them. */
export type ModelLists = Pick<ListModelsResponse, "routes" | "aliases" | "deployments">;

/** What a request of one operation may name as `model` (ModelSelect's `pick`): the deployments that serve it, the routes to them, and the aliases of either. */
export const servingModels =
  (op: Operation) =>
  (m: ListModelsResponse): ModelLists => {
    const deployments = m.deployments.filter((d) => d.operations.includes(op));
    const serving = new Set(deployments.map((d) => d.id));
    const routes = m.routes.filter((r) => [...r.targets, ...r.variants.flatMap((v) => v.targets)].some((t) => serving.has(t.deployment)));
    for (const r of routes) serving.add(r.name);
    // An alias may name another alias: resolved until nothing more is added.
    const aliases: typeof m.aliases = [];
    for (let added = true; added; ) {
      added = false;
      for (const a of m.aliases) {
        if (!aliases.includes(a) && serving.has(a.target)) {
          aliases.push(a);
          serving.add(a.name);
          added = true;
        }
      }
    }
    return { routes, aliases, deployments };
  };

/**
 * Everything a request may name as `model`, grouped; `pick` narrows the lists (the models that
 * serve one operation). A value the lists do not hold is still offered, as it is.
 */
export function ModelSelect({ value, onChange, id, pick, testId }: { value: string; onChange: (v: string) => void; id?: string; pick?: (m: ListModelsResponse) => ModelLists; testId?: string }) {
  const q = useQuery(RouteService.method.listModels, {}, { staleTime: 30_000 });
  const m = q.data && (pick ? pick(q.data) : q.data);
  const listed = m && (m.routes.some((r) => r.name === value) || m.aliases.some((a) => a.name === value) || m.deployments.some((d) => d.id === value));
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)} name="model" aria-label="Model" data-testid={testId}>
      {(!m || !listed) && <option value={value}>{value || "Loading…"}</option>}
      {m && (
        <>
          {m.routes.length > 0 && (
            <optgroup label="Routes">
              {m.routes.map((r) => (
                <option key={r.name} value={r.name}>
                  {r.name}
                  {r.description ? ` — ${r.description}` : ""}
                </option>
              ))}
            </optgroup>
          )}
          {m.aliases.length > 0 && (
            <optgroup label="Aliases">
              {m.aliases.map((a) => (
                <option key={a.name} value={a.name}>
                  {a.name} → {a.target}
                </option>
              ))}
            </optgroup>
          )}
          {m.deployments.length > 0 && (
            <optgroup label="Deployments">
              {m.deployments.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.id}
                </option>
              ))}
            </optgroup>
          )}
        </>
      )}
    </select>
  );
}

export function MessagesEditor({ messages, onChange }: { messages: DraftMessage[]; onChange: (m: DraftMessage[]) => void }) {
  const set = (i: number, m: Partial<DraftMessage>) => onChange(messages.map((x, j) => (j === i ? { ...x, ...m } : x)));
  return (
    <div className="messages">
      {messages.map((m, i) => (
        <div className="message" key={i}>
          <select value={m.role} onChange={(e) => set(i, { role: e.target.value as DraftRole })} aria-label={`Message ${i + 1} role`}>
            <option value="system">system</option>
            <option value="developer">developer</option>
            <option value="user">user</option>
            <option value="assistant">assistant</option>
          </select>
          <div className="message-body">
            <textarea value={m.text} rows={m.role === "user" ? 3 : 2} onChange={(e) => set(i, { text: e.target.value })} aria-label={`Message ${i + 1} text`} />
            {m.role === "user" && (
              <div className="attachments" data-testid="attachments">
                {(m.files ?? []).map((f, k) => (
                  <span key={k} className="badge" data-testid="attachment">
                    {f.name}{" "}
                    <button type="button" className="icon" aria-label={`Remove ${f.name}`} onClick={() => set(i, { files: (m.files ?? []).filter((_, j) => j !== k) })}>
                      ×
                    </button>
                  </span>
                ))}
                <label className="link">
                  Attach a document
                  <input
                    type="file"
                    accept={ACCEPT}
                    multiple
                    hidden
                    aria-label={`Attach documents to message ${i + 1}`}
                    onChange={(e) => {
                      const input = e.target;
                      void readFiles(input.files).then((files) => {
                        set(i, { files: [...(m.files ?? []), ...files] });
                        input.value = "";
                      });
                    }}
                  />
                </label>
              </div>
            )}
          </div>
          <button type="button" className="icon" aria-label={`Remove message ${i + 1}`} onClick={() => onChange(messages.filter((_, j) => j !== i))} disabled={messages.length <= 1}>
            ×
          </button>
        </div>
      ))}
      <button type="button" className="link" onClick={() => onChange([...messages, { role: messages.at(-1)?.role === "user" ? "assistant" : "user", text: "" }])}>
        + Add message
      </button>
    </div>
  );
}
