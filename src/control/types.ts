// The control plane's vocabulary: managed keys and teams, audit events, and the one narrow store
// interface behind them (memory for the embedded default, PostgreSQL for real deployments).

import type { EntryKind } from "../config/load.ts";
import type { BudgetConfig, KeyRole, RateLimits } from "../config/types.ts";

/** Where a key or team is defined: the config file (read-only) or the store (AdminService). */
export type Source = "config" | "store";

/** A caller key as the control plane keeps it. Times are epoch ms. The secret is never kept. */
export interface ManagedKey {
  name: string;
  team: string;
  role: KeyRole;
  /** `sha256:<hex>` of the current secret. Never leaves the process except into the store. */
  hash: string;
  /** The first characters of the secret, safe to show. */
  prefix: string;
  allow: string[];
  limits: RateLimits;
  perUserLimits?: RateLimits;
  budget?: BudgetConfig;
  /** A budget each end user of the key has (the request's `user`). */
  perUserBudget?: BudgetConfig;
  maxOutputTokens?: number;
  expiresAt?: number;
  metadata: Record<string, string>;
  source: Source;
  createdAt: number;
  updatedAt: number;
  createdBy: string;
  revokedAt?: number;
  /** Set while the key is blocked: refused until unblocked (a revocation cannot be undone). */
  blockedAt?: number;
  /** After a rotation: the previous secret's hash, valid until prevHashExpiresAt. */
  prevHash?: string;
  prevHashExpiresAt?: number;
  lastUsedAt?: number;
}

export interface ManagedTeam {
  name: string;
  budget?: BudgetConfig;
  /** Limits of the team's keys that set none of their own. */
  defaultKeyLimits?: RateLimits;
  metadata: Record<string, string>;
  source: Source;
  createdAt: number;
  updatedAt: number;
}

/**
 * An end user of a team: the request's `user` under any of the team's keys, with a budget and
 * limits of their own across those keys, or blocked. Made at run time (AdminService); requests of
 * users without one are held to the keys' per-user budget and limits only.
 */
export interface ManagedEndUser {
  team: string;
  /** The request's `user`, exactly. */
  user: string;
  budget?: BudgetConfig;
  limits?: RateLimits;
  /** Set while blocked: the user's requests are refused until unblocked. */
  blockedAt?: number;
  metadata: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  createdBy: string;
}

/** The id of an end user in change notices and audit targets: `team:user` (a team name has no colon). */
export const endUserId = (team: string, user: string): string => `${team}:${user}`;

/** One immutable version of a managed prompt (PromptService). Times are epoch ms. */
export interface PromptVersionRecord {
  version: number;
  model?: string;
  instructions?: string;
  messages: { role: "user" | "assistant" | "system" | "developer"; content: string }[];
  /** Model parameters the version sets (a request's own win). */
  parameters?: PromptParameters;
  description: string;
  createdAt: number;
  createdBy: string;
}

/** Model parameters stored with a prompt version. */
export interface PromptParameters {
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  stop?: string[];
  reasoningEffort?: "minimal" | "low" | "medium" | "high";
}

/** A managed prompt: its versions (oldest first) and labels (label → version). */
export interface ManagedPrompt {
  id: string;
  /** The owning team; "" is shared (made by an admin). */
  team: string;
  versions: PromptVersionRecord[];
  labels: Record<string, number>;
  createdAt: number;
  updatedAt: number;
}

/** One recorded admin action or reload. `before`/`after` never hold secrets or hashes. */
export interface AuditEvent {
  id: string;
  time: number;
  actor: string;
  action: string;
  target: string;
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
  replica: string;
  traceId: string;
}

export type AuditInput = Omit<AuditEvent, "id" | "time"> & { time?: number };

export interface AuditQuery {
  start?: number;
  end?: number;
  actor?: string;
  target?: string;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

/**
 * A provider, deployment or route made at run time (AdminService.PutConfigEntry). `spec` is the
 * entry as the config file would hold it; its credentials are sealed (src/control/sealed.ts) when
 * the gateway has a master key. Times are epoch ms.
 */
export interface StoredEntry {
  kind: EntryKind;
  name: string;
  spec: Record<string, unknown>;
  /** 1 for a new entry, one more at each change. */
  revision: number;
  createdAt: number;
  updatedAt: number;
  createdBy: string;
  updatedBy: string;
}

/** A score given to an answered request (UsageService.SubmitFeedback, POST /v1/feedback), kept with the request's dimensions. */
export interface FeedbackRecord {
  /** One per (request, key that scored it): scoring again replaces. */
  id: string;
  time: number;
  requestId: string;
  traceId: string;
  key: string;
  team: string;
  user: string;
  route: string;
  deployment: string;
  provider: string;
  variant: string;
  model: string;
  /** -10 to 10. */
  value: number;
  /** 0 to 1. */
  weight: number;
  metadata: Record<string, string>;
  /** The key that gave it. */
  by: string;
}

export const FEEDBACK_DIMENSIONS = ["key", "team", "user", "route", "deployment", "provider", "variant"] as const;
export type FeedbackDimension = (typeof FEEDBACK_DIMENSIONS)[number];

export interface FeedbackQuery {
  start: number;
  end: number;
  groupBy: FeedbackDimension[];
  /** Values OR-ed within a filter, filters AND-ed. */
  filters: { dimension: FeedbackDimension; values: string[] }[];
}

export interface FeedbackRow {
  group: Partial<Record<FeedbackDimension, string>>;
  count: number;
  positive: number;
  negative: number;
  meanValue: number;
  weightedMeanValue: number;
}

/**
 * What changed, as told to every replica: the name of the key, team, prompt or entry
 * ("deployment/groq-llama") to re-read, or a console session signed out (its id).
 */
export interface ControlChange {
  kind: "key" | "team" | "prompt" | "entry" | "session" | "end_user";
  name: string;
}

/** Thrown by a store when a write conflicts (name taken) or finds nothing. */
export class StoreError extends Error {
  readonly kind: "exists" | "not_found" | "conflict" | "unavailable";
  constructor(kind: StoreError["kind"], message: string) {
    super(message);
    this.name = "StoreError";
    this.kind = kind;
  }
}

/**
 * The durable side of the control plane. Every write is atomic with its audit event and with the
 * change notice to other replicas. A mutate callback may throw (validation): nothing is written.
 * Reads and writes reject with StoreError("unavailable") when the store cannot be reached.
 */
export interface ControlStore {
  readonly kind: "memory" | "postgres";
  /** Every key, team, prompt and runtime config entry, for a full sync of a replica's memory. */
  loadAll(): Promise<{ keys: ManagedKey[]; teams: ManagedTeam[]; prompts: ManagedPrompt[]; entries: StoredEntry[]; endUsers: ManagedEndUser[] }>;
  getEntry(kind: EntryKind, name: string): Promise<StoredEntry | undefined>;
  /**
   * Adds or replaces an entry under a lock: `build` sees it as stored (undefined: new) and returns
   * what to store (its revision one past the stored one's), or throws (nothing is written).
   */
  putEntry(kind: EntryKind, name: string, build: (before: StoredEntry | undefined) => StoredEntry, audit: (before: StoredEntry | undefined, after: StoredEntry) => AuditInput): Promise<StoredEntry>;
  /** Deletes an entry. `check` sees it as stored and may throw; not_found when there is none. */
  deleteEntry(kind: EntryKind, name: string, check: (before: StoredEntry) => void, audit: (before: StoredEntry) => AuditInput): Promise<StoredEntry>;
  getPrompt(id: string): Promise<ManagedPrompt | undefined>;
  /**
   * Adds a version (numbered one past the newest; a new prompt starts at 1, owned by `team`) and
   * points `labels` at it. `check` sees the prompt as stored (undefined: new) and may throw.
   */
  addPromptVersion(id: string, team: string, version: Omit<PromptVersionRecord, "version">, labels: string[], check: (before: ManagedPrompt | undefined) => void, audit: (after: ManagedPrompt) => AuditInput): Promise<ManagedPrompt>;
  /** Points a label at a version (undefined: removes it). `check` sees the prompt as stored and may throw. */
  setPromptLabel(id: string, label: string, version: number | undefined, check: (before: ManagedPrompt) => void, audit: AuditInput): Promise<ManagedPrompt>;
  /** Deletes a prompt and its versions. `check` sees the prompt as stored and may throw. */
  deletePrompt(id: string, check: (before: ManagedPrompt) => void, audit: AuditInput): Promise<ManagedPrompt>;
  getKey(name: string): Promise<ManagedKey | undefined>;
  getTeam(name: string): Promise<ManagedTeam | undefined>;
  /** Fails with "exists" when the name (or hash) is taken. */
  createKey(key: ManagedKey, audit: AuditInput): Promise<void>;
  /** Reads the key under a lock, applies `mutate`, writes it; returns both sides. */
  updateKey(name: string, mutate: (before: ManagedKey) => ManagedKey, audit: AuditInput): Promise<{ before: ManagedKey; after: ManagedKey }>;
  createTeam(team: ManagedTeam, audit: AuditInput): Promise<void>;
  updateTeam(name: string, mutate: (before: ManagedTeam) => ManagedTeam, audit: AuditInput): Promise<{ before: ManagedTeam; after: ManagedTeam }>;
  /** Fails with "conflict" while the team has keys (revoked ones included). */
  deleteTeam(name: string, audit: AuditInput): Promise<ManagedTeam>;
  getEndUser(team: string, user: string): Promise<ManagedEndUser | undefined>;
  /**
   * Adds or changes an end user under a lock: `mutate` sees it as stored (undefined: new) and
   * returns what to store, or throws (nothing is written).
   */
  putEndUser(
    team: string,
    user: string,
    mutate: (before: ManagedEndUser | undefined) => ManagedEndUser,
    audit: (before: ManagedEndUser | undefined, after: ManagedEndUser) => AuditInput,
  ): Promise<{ before?: ManagedEndUser; after: ManagedEndUser }>;
  /** Fails with not_found when there is none. */
  deleteEndUser(team: string, user: string, audit: (before: ManagedEndUser) => AuditInput): Promise<ManagedEndUser>;
  /** Number of keys (revoked included) per team. */
  keyCounts(): Promise<Map<string, number>>;
  appendAudit(event: AuditInput): Promise<void>;
  /**
   * Claim a condition (an alert's, a spend report's period) for `ttlMs` across every replica and
   * restart: true for the one claim made while no other holds it. Absent: the store is this
   * process's own (memory), so there is nothing to share.
   */
  claim?(condition: string, ttlMs: number): Promise<boolean>;
  /**
   * Ends a console session (console.sso) before its expiry: its id (a hash of the token, never the
   * token) is kept until `expiresAt`, audited, and told to every replica.
   */
  revokeSession(id: string, expiresAt: number, audit: AuditInput): Promise<void>;
  /** The console sessions signed out and not yet expired: id → expiry (epoch ms). */
  revokedSessions(): Promise<Map<string, number>>;
  /** Adds a score, or replaces the one with the same id. */
  putFeedback(f: FeedbackRecord): Promise<void>;
  /** The scores of one request, newest first. */
  feedbackFor(requestId: string): Promise<FeedbackRecord[]>;
  /** One score by its id. */
  feedbackById(id: string): Promise<FeedbackRecord | undefined>;
  /** Scores given in [start, end), counted and averaged by group, most scored first. */
  feedbackSummary(q: FeedbackQuery): Promise<FeedbackRow[]>;
  /** Newest first. */
  listAudit(q: AuditQuery): Promise<{ events: AuditEvent[]; next?: string }>;
  /** Last-used times, written in batches (never on the request path). */
  touchKeys(lastUsed: Map<string, number>): Promise<void>;
  /**
   * Tell this replica about changes made by any replica (itself included). `onResync` is called
   * when notices may have been missed (a reconnect): the caller then reloads everything.
   */
  subscribe(onChange: (c: ControlChange) => void, onResync: () => void): void;
  close(): Promise<void>;
}
