// Providers, deployments, routes and guardrails made at run time (AdminService.PutConfigEntry): kept in the
// control store with their credentials sealed, opened into every replica's memory, and handed to
// the gateway, which builds them into the configuration in force (config/load.ts extendConfig)
// exactly as it would the config file's. Off the hot path: a request reads the built config.

import { ConfigError } from "../config/schema.ts";
import { type EntryKind, entryKey, type RuntimeEntry } from "../config/load.ts";
import { GatewayError } from "../router/errors.ts";
import { log } from "../telemetry/log.ts";
import { carrySecrets, getPath, MASTER_KEY_ENV, SEALED_PREFIX, mapSecrets, redactSpec, type Sealer, secretPaths } from "./sealed.ts";
import { type AuditInput, type ControlStore, type StoredEntry, StoreError } from "./types.ts";

export const ENTRY_KINDS: readonly EntryKind[] = ["provider", "deployment", "route", "guardrail", "mcp_server", "alias", "alert", "preset"];

/** What the gateway answers when handed a set of entries: what it would change, or did. */
export interface EntryApplication {
  version: string;
  changes: string[];
  /** Entries left out of the configuration, by entryKey, and why. */
  problems: ReadonlyMap<string, ConfigError>;
}

/** Builds the entries into the configuration (dryRun: only says what would change). */
export type ApplyEntries = (entries: RuntimeEntry[], dryRun: boolean) => EntryApplication;

/** An entry as responses show it: credentials redacted, and whether it is in force. */
export interface EntryView extends Omit<StoredEntry, "spec"> {
  spec: Record<string, unknown>;
  secretFields: string[];
  /** Why it is not in force ("" when it is). */
  problem: string;
  /** The ids of the master keys its credentials are sealed with. */
  sealedWith: string[];
}

/** What ResealConfigEntries did (or, validate_only, would do). */
export interface ResealReport {
  keyId: string;
  resealed: string[];
  current: number;
  failed: { entry: string; reason: string }[];
}

export interface EntryInput {
  kind: EntryKind;
  name: string;
  spec: Record<string, unknown>;
  /** 0: must not exist yet. */
  expectedRevision?: number;
  validateOnly: boolean;
}

const bad = (field: string, message: string) => new GatewayError("invalid_argument", `${field}: ${message}`, { field });
const MAX_SPEC_BYTES = 64 * 1024;

export interface EntryBook {
  /** The opened entries (credentials in the clear), for building the configuration. */
  opened(): RuntimeEntry[];
  /** Set once the gateway can build configurations; entries known by then are applied at once. */
  attach(apply: ApplyEntries): void;
  /** What a configuration built elsewhere (a reload) left out. */
  noteProblems(problems: ReadonlyMap<string, ConfigError>): void;
  list(kind?: EntryKind): EntryView[];
  get(kind: EntryKind, name: string): EntryView;
  /** Seals every stored credential again with the current master key. */
  reseal(validateOnly: boolean, actor: string, audit: (action: string, target: string, before: Record<string, unknown>, after: Record<string, unknown>) => AuditInput): Promise<ResealReport>;
  put(input: EntryInput, actor: string, audit: (action: string, target: string, before?: Record<string, unknown>, after?: Record<string, unknown>) => AuditInput): Promise<{ entry: EntryView; version: string; changes: string[] }>;
  delete(kind: EntryKind, name: string, expectedRevision: number | undefined, audit: (action: string, target: string, before?: Record<string, unknown>) => AuditInput, inUse: (kind: EntryKind, name: string) => string | undefined): Promise<{ version: string; changes: string[] }>;
  /** Another replica's change (or ours, told back): re-read that entry. */
  changed(id: string): Promise<void>;
  /** Everything re-read: applied when it differs from what is in force. */
  replaceAll(entries: StoredEntry[]): void;
}

export function createEntryBook(store: ControlStore, sealer: Sealer, now: () => number): EntryBook {
  /** As stored (credentials sealed), by entryKey. */
  const stored = new Map<string, StoredEntry>();
  /** Opened, or why they could not be. */
  const opened = new Map<string, RuntimeEntry>();
  const unopened = new Map<string, string>();
  let apply: ApplyEntries | undefined;
  let problems: ReadonlyMap<string, ConfigError> = new Map();

  const bound = (kind: EntryKind, name: string, path: string) => `${kind}/${name}#${path}`;
  function open(e: StoredEntry): void {
    const id = entryKey(e.kind, e.name);
    try {
      opened.set(id, { kind: e.kind, name: e.name, spec: mapSecrets(e.kind, e.spec, (v, path) => sealer.open(v, bound(e.kind, e.name, path))) });
      unopened.delete(id);
    } catch (err) {
      opened.delete(id);
      unopened.set(id, (err as Error).message);
      log("error", "config entry left out: its credentials cannot be opened", { entry: id, reason: (err as Error).message });
    }
  }
  function seal(kind: EntryKind, name: string, spec: Record<string, unknown>): Record<string, unknown> {
    if (!sealer.keyed) return spec;
    return mapSecrets(kind, spec, (v, path) => sealer.seal(v, bound(kind, name, path)));
  }
  const list = () => [...opened.values()];
  function applyNow(): EntryApplication | undefined {
    if (!apply) return undefined;
    const r = apply(list(), false);
    problems = r.problems;
    for (const [id, err] of r.problems) log("warn", "config entry not in force", { entry: id, reason: err.message });
    return r;
  }
  function view(e: StoredEntry): EntryView {
    const id = entryKey(e.kind, e.name);
    const spec = redactSpec(e.kind, e.spec);
    return { ...e, spec, secretFields: secretPaths(e.kind, e.spec), problem: unopened.get(id) ?? problems.get(id)?.message ?? "", sealedWith: sealedWith(e) };
  }
  function sealedWith(e: StoredEntry): string[] {
    const ids = new Set<string>();
    for (const path of secretPaths(e.kind, e.spec)) {
      const id = sealer.keyOf(String(getPath(e.spec, path)), bound(e.kind, e.name, path));
      if (id) ids.add(id);
    }
    return [...ids].sort();
  }
  const badKind = () => bad("kind", `must be ${ENTRY_KINDS.slice(0, -1).join(", ")} or ${ENTRY_KINDS.at(-1)}`);
  const need = () => {
    if (!apply) throw new GatewayError("failed_precondition", "config entries cannot be changed before the gateway has started");
    return apply;
  };
  /** Entries the candidate set would newly leave out (besides `except`). */
  function broken(result: EntryApplication, except?: string): [string, ConfigError][] {
    return [...result.problems].filter(([id]) => id !== except && !problems.has(id) && !unopened.has(id));
  }
  const changesOf = (r: EntryApplication) => r.changes.filter((c) => !c.includes("requires restart"));

  return {
    opened: list,
    attach(fn) {
      apply = fn;
      if (opened.size || unopened.size) applyNow();
    },
    noteProblems(p) {
      problems = p;
    },
    list(kind) {
      return [...stored.values()].filter((e) => kind === undefined || e.kind === kind).sort((a, b) => (a.kind === b.kind ? (a.name < b.name ? -1 : 1) : ENTRY_KINDS.indexOf(a.kind) - ENTRY_KINDS.indexOf(b.kind))).map(view);
    },

    get(kind, name) {
      if (!ENTRY_KINDS.includes(kind)) throw badKind();
      if (!name) throw bad("name", "is required");
      const e = stored.get(entryKey(kind, name));
      if (!e) throw new GatewayError("not_found", `name: no ${kind} "${name}" was made at run time`, { field: "name" });
      return view(e);
    },

    async reseal(validateOnly, actor, audit) {
      if (!sealer.keyed) throw new GatewayError("failed_precondition", `this gateway has no ${MASTER_KEY_ENV}: there is no key to seal with`);
      const keyId = sealer.keyId!;
      const report: ResealReport = { keyId, resealed: [], current: 0, failed: [] };
      for (const e of [...stored.values()]) {
        const id = entryKey(e.kind, e.name);
        const paths = secretPaths(e.kind, e.spec);
        if (!paths.length) continue;
        // Current when every credential is a v2 value under this key.
        const mine = `${SEALED_PREFIX}${keyId}:`;
        if (paths.every((path) => String(getPath(e.spec, path)).startsWith(mine))) {
          report.current++;
          continue;
        }
        const plain = opened.get(id);
        if (!plain) {
          report.failed.push({ entry: id, reason: unopened.get(id) ?? "its credentials cannot be opened" });
          continue;
        }
        report.resealed.push(id);
        if (validateOnly) continue;
        const t = now();
        try {
          const saved = await store.putEntry(
            e.kind,
            e.name,
            (was) => {
              // Changed meanwhile: the change was sealed with the current key already.
              if (was?.revision !== e.revision) throw new StoreError("conflict", `${id} changed meanwhile`);
              return { ...was, spec: seal(e.kind, e.name, plain.spec), revision: was.revision + 1, updatedAt: t, updatedBy: actor };
            },
            (was, after) => audit("config_entry.reseal", id, { revision: was!.revision, sealed_with: sealedWith(was!) }, { revision: after.revision, sealed_with: [keyId] }),
          );
          stored.set(id, saved);
        } catch (err) {
          if (!(err instanceof StoreError && err.kind === "conflict")) throw err;
          report.resealed.pop();
          report.current++;
        }
      }
      if (report.resealed.length && !validateOnly) log("info", "config entries sealed again", { key: keyId, entries: report.resealed, by: actor });
      return report;
    },

    async put(input, actor, audit) {
      const applyFn = need();
      const { kind, name } = input;
      if (!ENTRY_KINDS.includes(kind)) throw badKind();
      if (!name) throw bad("name", "is required");
      if (Buffer.byteLength(JSON.stringify(input.spec)) > MAX_SPEC_BYTES) throw bad("spec", `at most ${MAX_SPEC_BYTES / 1024} KiB`);
      const id = entryKey(kind, name);
      const before = stored.get(id);
      if (input.expectedRevision !== undefined && input.expectedRevision !== (before?.revision ?? 0)) {
        throw new GatewayError("aborted", `expected_revision: ${kind} "${name}" is at revision ${before?.revision ?? 0}, not ${input.expectedRevision}`, { field: "expected_revision" });
      }
      let spec: Record<string, unknown>;
      try {
        spec = carrySecrets(kind, input.spec, opened.get(id)?.spec);
      } catch (err) {
        const field = (err as { field?: string }).field ?? "spec";
        throw bad(field, (err as Error).message.replace(/^[^:]*: /, ""));
      }
      if (secretPaths(kind, spec).length && !sealer.keyed && store.kind === "postgres") {
        throw new GatewayError("failed_precondition", `spec: a provider's credentials are stored encrypted, and this gateway has no ${MASTER_KEY_ENV}: set it (32 characters or more, the same on every replica) and restart`, { field: "spec" });
      }
      const candidate = [...list().filter((e) => entryKey(e.kind, e.name) !== id), { kind, name, spec }];
      const result = applyFn(candidate, true);
      const own = result.problems.get(id);
      if (own) {
        // The spec's name field is filled from the entry's name unless the spec gave its own.
        const fromName = own.path === "name" || ((own.path === "spec.name" || own.path === "spec.id") && input.spec[own.path.slice(5)] === undefined);
        const field = fromName ? "name" : own.path || "spec";
        throw bad(field, own.message.replace(/^[^:]*: /, ""));
      }
      const hurt = broken(result, id);
      if (hurt.length) throw new GatewayError("failed_precondition", `this change would take ${hurt.map(([k, e]) => `${k} out of force (${e.message})`).join("; ")}`);
      const t = now();
      const next: StoredEntry = { kind, name, spec, revision: (before?.revision ?? 0) + 1, createdAt: before?.createdAt ?? t, updatedAt: t, createdBy: before?.createdBy ?? actor, updatedBy: actor };
      if (input.validateOnly) return { entry: view(next), version: result.version, changes: changesOf(result) };
      let saved: StoredEntry;
      try {
        saved = await store.putEntry(
          kind,
          name,
          (was) => {
            if (input.expectedRevision !== undefined && input.expectedRevision !== (was?.revision ?? 0)) throw new StoreError("conflict", `expected_revision: ${kind} "${name}" is at revision ${was?.revision ?? 0}, not ${input.expectedRevision}`);
            return { ...next, spec: seal(kind, name, spec), revision: (was?.revision ?? 0) + 1, createdAt: was?.createdAt ?? t, createdBy: was?.createdBy ?? actor };
          },
          (was, after) => audit(was ? "config_entry.update" : "config_entry.create", id, was && { revision: was.revision, spec: redactSpec(kind, was.spec) }, { revision: after.revision, spec: redactSpec(kind, after.spec) }),
        );
      } catch (err) {
        if (err instanceof StoreError && err.kind === "conflict") throw new GatewayError("aborted", err.message, { field: "expected_revision" });
        throw err;
      }
      stored.set(id, saved);
      open(saved);
      const r = applyNow()!;
      log("info", "config entry saved", { entry: id, revision: saved.revision, by: actor, changes: r.changes });
      return { entry: view(saved), version: r.version, changes: changesOf(result) };
    },

    async delete(kind, name, expectedRevision, audit, inUse) {
      const applyFn = need();
      if (!ENTRY_KINDS.includes(kind)) throw badKind();
      const id = entryKey(kind, name);
      const before = stored.get(id);
      if (!before) throw new GatewayError("not_found", `name: no ${kind} "${name}" was made at run time (entries in the config file are changed there)`, { field: "name" });
      if (expectedRevision !== undefined && expectedRevision !== before.revision) {
        throw new GatewayError("aborted", `expected_revision: ${kind} "${name}" is at revision ${before.revision}, not ${expectedRevision}`, { field: "expected_revision" });
      }
      const user = inUse(kind, name);
      if (user) throw new GatewayError("failed_precondition", `${kind} "${name}" is still named by ${user}`);
      const result = applyFn(list().filter((e) => entryKey(e.kind, e.name) !== id), true);
      const hurt = broken(result);
      if (hurt.length) throw new GatewayError("failed_precondition", `${kind} "${name}" is still used: deleting it would take ${hurt.map(([k, e]) => `${k} out of force (${e.message})`).join("; ")}`);
      try {
        await store.deleteEntry(
          kind,
          name,
          (was) => {
            if (expectedRevision !== undefined && expectedRevision !== was.revision) throw new StoreError("conflict", `expected_revision: ${kind} "${name}" is at revision ${was.revision}, not ${expectedRevision}`);
          },
          (was) => audit("config_entry.delete", id, { revision: was.revision, spec: redactSpec(kind, was.spec) }),
        );
      } catch (err) {
        if (err instanceof StoreError && err.kind === "conflict") throw new GatewayError("aborted", err.message, { field: "expected_revision" });
        throw err;
      }
      stored.delete(id);
      opened.delete(id);
      unopened.delete(id);
      const r = applyNow()!;
      return { version: r.version, changes: changesOf(result) };
    },

    async changed(id) {
      const slash = id.indexOf("/");
      const kind = id.slice(0, slash) as EntryKind;
      const name = id.slice(slash + 1);
      if (!ENTRY_KINDS.includes(kind)) return;
      const e = await store.getEntry(kind, name);
      const was = stored.get(id);
      if (e && was && e.revision === was.revision) return;
      if (!e && !was) return;
      if (e) {
        stored.set(id, e);
        open(e);
      } else {
        stored.delete(id);
        opened.delete(id);
        unopened.delete(id);
      }
      applyNow();
    },

    replaceAll(entries) {
      const same = entries.length === stored.size && entries.every((e) => stored.get(entryKey(e.kind, e.name))?.revision === e.revision);
      if (same) return;
      stored.clear();
      opened.clear();
      unopened.clear();
      for (const e of entries) {
        stored.set(entryKey(e.kind, e.name), e);
        open(e);
      }
      applyNow();
    },
  };
}
