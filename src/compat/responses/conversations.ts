// OpenAI's Conversations API: a conversation is a list of items (the Responses API's input and
// output items) kept by the gateway, that a response given `conversation` reads as its context and
// appends its input and output to. Two stores behind one interface, as the stored responses
// (store.ts): memory (per replica, bounded, lost with the process) and PostgreSQL (migration 8:
// shared by replicas, kept across restarts). Conversations do not expire; they are kept until
// deleted.

import { randomBytes } from "node:crypto";
import { SizedMap, type Json } from "./store.ts";

export interface StoredConversation {
  /** `conv_…` */
  id: string;
  owner: { team: string; key: string };
  /** Seconds since the epoch, as the API shows it. */
  createdAt: number;
  metadata: Record<string, string>;
  /** What the responses given this conversation used and cost, summed (absent: none yet). */
  usage?: ConversationUsage;
}

/** A conversation's running totals: its responses, their tokens and their cost. */
export interface ConversationUsage {
  responses: number;
  inputTokens: number;
  outputTokens: number;
  costNanos: number;
}

export interface ConversationStore {
  readonly kind: "memory" | "postgres";
  create(c: StoredConversation, items: Json[]): Promise<void>;
  get(id: string): Promise<StoredConversation | undefined>;
  setMetadata(id: string, metadata: Record<string, string>): Promise<StoredConversation | undefined>;
  /** The conversation and its items; false when there was none. */
  delete(id: string): Promise<boolean>;
  /**
   * Append items after the last (an item whose id the conversation already has is not added
   * again), and add a response's usage to the conversation's totals when one is given.
   */
  append(id: string, items: Json[], usage?: ConversationUsage): Promise<void>;
  /** Every item, oldest first. */
  items(id: string): Promise<Json[]>;
  /** Remove one item; false when the conversation has none by that id. */
  deleteItem(id: string, itemId: string): Promise<boolean>;
  /**
   * Take the conversation for one response until `until` (ms), unless another holds it; whether it
   * was taken. A response reads the conversation and adds its turn while it holds it, so two at
   * once cannot interleave; a holder that never lets go (a replica that died) loses it at `until`.
   */
  lock(id: string, holder: string, until: number, now?: number): Promise<boolean>;
  unlock(id: string, holder: string): Promise<void>;
  close(): Promise<void>;
}

/** Totals with one more response's. */
export const addUsage = (a: ConversationUsage | undefined, b: ConversationUsage): ConversationUsage => ({
  responses: (a?.responses ?? 0) + b.responses,
  inputTokens: (a?.inputTokens ?? 0) + b.inputTokens,
  outputTokens: (a?.outputTokens ?? 0) + b.outputTokens,
  costNanos: (a?.costNanos ?? 0) + b.costNanos,
});

/** A new conversation id (random: the id is the only thing needed to name it, so it must not be guessable). */
export const conversationId = () => `conv_${randomBytes(24).toString("hex")}`;
/** An id for an item given to a conversation without one (prefix by its type, as withIds gives it). */
export const conversationItemId = (prefix: string) => `${prefix}_${randomBytes(16).toString("hex")}`;

/** The most items a conversation holds (a response reads them all as its context). */
export const MAX_CONVERSATION_ITEMS = 10_000;

/** Per replica, bounded by the size of what it holds (the items' JSON): the conversations made longest ago go first. */
export function createMemoryConversationStore(opts: { maxBytes: number }): ConversationStore {
  const byId = new SizedMap<{ c: StoredConversation; items: Json[] }>(opts.maxBytes);
  const locks = new Map<string, { holder: string; until: number }>();
  const weight = (items: Json[]) => items.reduce((n, i) => n + JSON.stringify(i).length, 0);
  return {
    kind: "memory",
    async create(c, items) {
      byId.set(c.id, { c, items: [...items] }, 200 + weight(items));
    },
    async get(id) {
      return byId.get(id)?.c;
    },
    async setMetadata(id, metadata) {
      const e = byId.get(id);
      if (!e) return undefined;
      e.c = { ...e.c, metadata };
      return e.c;
    },
    async delete(id) {
      return byId.delete(id);
    },
    async append(id, items, usage) {
      const e = byId.get(id);
      if (!e) throw new Error(`no conversation ${id}`);
      if (usage) e.c = { ...e.c, usage: addUsage(e.c.usage, usage) };
      const have = new Set(e.items.map((i) => i.id));
      const fresh = items.filter((i) => !have.has(i.id));
      e.items.push(...fresh);
      byId.update(id, e, weight(fresh));
    },
    async items(id) {
      return [...(byId.get(id)?.items ?? [])];
    },
    async deleteItem(id, itemId) {
      const e = byId.get(id);
      const at = e ? e.items.findIndex((i) => i.id === itemId) : -1;
      if (at < 0) return false;
      const [gone] = e!.items.splice(at, 1);
      byId.update(id, e!, -weight([gone]));
      return true;
    },
    async lock(id, holder, until, now = Date.now()) {
      const l = locks.get(id);
      if (l && l.holder !== holder && l.until > now) return false;
      locks.set(id, { holder, until });
      return true;
    },
    async unlock(id, holder) {
      if (locks.get(id)?.holder === holder) locks.delete(id);
    },
    async close() {
      byId.clear();
      locks.clear();
    },
  };
}
