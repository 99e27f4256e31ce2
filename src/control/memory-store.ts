// The embedded default control store: keys, teams and the audit log in this process's memory,
// lost on restart (start-up says so). Same contract as the PostgreSQL store, one replica only.

import {
  type AuditEvent,
  type AuditInput,
  type AuditQuery,
  type ControlChange,
  type ControlStore,
  endUserId,
  type FeedbackRecord,
  type ManagedEndUser,
  type ManagedKey,
  type ManagedPrompt,
  type ManagedTeam,
  type StoredEntry,
  StoreError,
} from "./types.ts";
import { summarizeFeedback } from "./feedback.ts";

const clone = <T>(v: T): T => structuredClone(v);

/** Audit events kept in memory at most (oldest dropped first). */
const MAX_AUDIT = 100_000;
/** Scores kept in memory (the oldest go first). */
const MAX_FEEDBACK = 100_000;

export function createMemoryControlStore(): ControlStore {
  const keys = new Map<string, ManagedKey>();
  const teams = new Map<string, ManagedTeam>();
  const prompts = new Map<string, ManagedPrompt>();
  const entries = new Map<string, StoredEntry>();
  const endUsers = new Map<string, ManagedEndUser>();
  const audit: AuditEvent[] = [];
  const feedback = new Map<string, FeedbackRecord>();
  /** Console sessions signed out: id → expiry. */
  const revoked = new Map<string, number>();
  let seq = 0;
  const listeners: ((c: ControlChange) => void)[] = [];

  const notify = (c: ControlChange) => {
    for (const l of listeners) queueMicrotask(() => l(c));
  };
  const record = (a: AuditInput) => {
    audit.push({ ...clone(a), id: String(++seq), time: a.time ?? Date.now() });
    if (audit.length > MAX_AUDIT) audit.splice(0, audit.length - MAX_AUDIT);
  };
  const hashTaken = (hash: string, except?: string) => {
    for (const k of keys.values()) if (k.name !== except && (k.hash === hash || k.prevHash === hash)) return true;
    return false;
  };

  return {
    kind: "memory",
    async loadAll() {
      return { keys: [...keys.values()].map(clone), teams: [...teams.values()].map(clone), prompts: [...prompts.values()].map(clone), entries: [...entries.values()].map(clone), endUsers: [...endUsers.values()].map(clone) };
    },
    async getEndUser(team, user) {
      const u = endUsers.get(endUserId(team, user));
      return u && clone(u);
    },
    async putEndUser(team, user, mutate, a) {
      const id = endUserId(team, user);
      const stored = endUsers.get(id);
      const before = stored && clone(stored);
      const after = clone(mutate(stored && clone(stored)));
      endUsers.set(id, after);
      record(a(before, clone(after)));
      notify({ kind: "end_user", name: id });
      return { ...(before ? { before } : {}), after: clone(after) };
    },
    async deleteEndUser(team, user, a) {
      const id = endUserId(team, user);
      const before = endUsers.get(id);
      if (!before) throw new StoreError("not_found", `end user "${user}" of team "${team}" does not exist`);
      endUsers.delete(id);
      record(a(clone(before)));
      notify({ kind: "end_user", name: id });
      return clone(before);
    },
    async getEntry(kind, name) {
      const e = entries.get(`${kind}/${name}`);
      return e && clone(e);
    },
    async putEntry(kind, name, build, a) {
      const id = `${kind}/${name}`;
      const before = entries.get(id);
      const after = clone(build(before && clone(before)));
      entries.set(id, after);
      record(a(before && clone(before), clone(after)));
      notify({ kind: "entry", name: id });
      return clone(after);
    },
    async deleteEntry(kind, name, check, a) {
      const id = `${kind}/${name}`;
      const before = entries.get(id);
      if (!before) throw new StoreError("not_found", `${kind} "${name}" was not made at run time (no such entry)`);
      check(clone(before));
      entries.delete(id);
      record(a(clone(before)));
      notify({ kind: "entry", name: id });
      return clone(before);
    },
    async getPrompt(id) {
      const p = prompts.get(id);
      return p && clone(p);
    },
    async addPromptVersion(id, team, v, labels, check, a) {
      const before = prompts.get(id);
      check(before && clone(before));
      const t = v.createdAt;
      const after: ManagedPrompt = before ? clone(before) : { id, team, versions: [], labels: {}, createdAt: t, updatedAt: t };
      const version = (after.versions.at(-1)?.version ?? 0) + 1;
      after.versions.push({ ...clone(v), version });
      for (const l of labels) after.labels[l] = version;
      after.updatedAt = t;
      prompts.set(id, after);
      record(a(clone(after)));
      notify({ kind: "prompt", name: id });
      return clone(after);
    },
    async setPromptLabel(id, label, version, check, a) {
      const before = prompts.get(id);
      if (!before) throw new StoreError("not_found", `prompt "${id}" does not exist`);
      check(clone(before));
      const after = clone(before);
      if (version === undefined) delete after.labels[label];
      else after.labels[label] = version;
      after.updatedAt = Date.now();
      prompts.set(id, after);
      record(a);
      notify({ kind: "prompt", name: id });
      return clone(after);
    },
    async deletePrompt(id, check, a) {
      const before = prompts.get(id);
      if (!before) throw new StoreError("not_found", `prompt "${id}" does not exist`);
      check(clone(before));
      prompts.delete(id);
      record(a);
      notify({ kind: "prompt", name: id });
      return clone(before);
    },
    async getKey(name) {
      const k = keys.get(name);
      return k && clone(k);
    },
    async getTeam(name) {
      const t = teams.get(name);
      return t && clone(t);
    },
    async createKey(key, a) {
      if (keys.has(key.name)) throw new StoreError("exists", `key "${key.name}" already exists`);
      if (hashTaken(key.hash)) throw new StoreError("exists", "a key with this secret already exists");
      keys.set(key.name, clone(key));
      record(a);
      notify({ kind: "key", name: key.name });
    },
    async updateKey(name, mutate, a) {
      const before = keys.get(name);
      if (!before) throw new StoreError("not_found", `key "${name}" does not exist`);
      const after = mutate(clone(before));
      if (after.hash !== before.hash && hashTaken(after.hash, name)) throw new StoreError("exists", "a key with this secret already exists");
      keys.set(name, clone(after));
      record(a);
      notify({ kind: "key", name });
      return { before: clone(before), after: clone(after) };
    },
    async createTeam(team, a) {
      if (teams.has(team.name)) throw new StoreError("exists", `team "${team.name}" already exists`);
      teams.set(team.name, clone(team));
      record(a);
      notify({ kind: "team", name: team.name });
    },
    async updateTeam(name, mutate, a) {
      const before = teams.get(name);
      if (!before) throw new StoreError("not_found", `team "${name}" does not exist`);
      const after = mutate(clone(before));
      teams.set(name, clone(after));
      record(a);
      notify({ kind: "team", name });
      return { before: clone(before), after: clone(after) };
    },
    async deleteTeam(name, a) {
      const t = teams.get(name);
      if (!t) throw new StoreError("not_found", `team "${name}" does not exist`);
      let n = 0;
      for (const k of keys.values()) if (k.team === name) n++;
      if (n > 0) throw new StoreError("conflict", `team "${name}" has ${n} key${n === 1 ? "" : "s"}`);
      teams.delete(name);
      record(a);
      notify({ kind: "team", name });
      return clone(t);
    },
    async keyCounts() {
      const m = new Map<string, number>();
      for (const k of keys.values()) m.set(k.team, (m.get(k.team) ?? 0) + 1);
      return m;
    },
    async appendAudit(a) {
      record(a);
    },
    async revokeSession(id, expiresAt, a) {
      const t = Date.now();
      for (const [k, exp] of revoked) if (exp <= t) revoked.delete(k);
      revoked.set(id, expiresAt);
      record(a);
      notify({ kind: "session", name: id });
    },
    async revokedSessions() {
      const t = Date.now();
      return new Map([...revoked].filter(([, exp]) => exp > t));
    },
    async putFeedback(f) {
      feedback.delete(f.id);
      feedback.set(f.id, structuredClone(f));
      // The oldest go first past the bound (a Map keeps insertion order).
      for (const id of feedback.keys()) {
        if (feedback.size <= MAX_FEEDBACK) break;
        feedback.delete(id);
      }
    },
    async feedbackById(id) {
      const f = feedback.get(id);
      return f && clone(f);
    },
    async feedbackFor(requestId) {
      return [...feedback.values()].filter((f) => f.requestId === requestId).sort((a, b) => b.time - a.time).map(clone);
    },
    async feedbackSummary(q) {
      return summarizeFeedback([...feedback.values()], q);
    },
    async listAudit(q: AuditQuery) {
      const before = q.cursor ? Number(q.cursor) : Infinity;
      const out: AuditEvent[] = [];
      for (let i = audit.length - 1; i >= 0 && out.length <= q.limit; i--) {
        const e = audit[i];
        if (Number(e.id) >= before) continue;
        if (q.start !== undefined && e.time < q.start) continue;
        if (q.end !== undefined && e.time >= q.end) continue;
        if (q.actor && e.actor !== q.actor) continue;
        if (q.target && e.target !== q.target) continue;
        out.push(clone(e));
      }
      const more = out.length > q.limit;
      if (more) out.length = q.limit;
      return { events: out, next: more ? out[out.length - 1].id : undefined };
    },
    async touchKeys(lastUsed) {
      for (const [name, t] of lastUsed) {
        const k = keys.get(name);
        if (k && (k.lastUsedAt ?? 0) < t) k.lastUsedAt = t;
      }
    },
    subscribe(onChange) {
      listeners.push(onChange);
    },
    async close() {
      listeners.length = 0;
    },
  };
}
