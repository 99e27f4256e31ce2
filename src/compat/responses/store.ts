// Stored responses of the Responses API: what `previous_response_id`, `item_reference` inputs,
// `GET /v1/responses/{id}`, its input items and `DELETE` read. Two stores behind one interface:
// memory (the embedded default: per replica, bounded by size, lost with the process) and PostgreSQL
// (postgres-store.ts, with `store.postgres_url`: shared by replicas, survives restarts).
//
// A stored response keeps three things: the response object as it was returned, this request's
// input items (each with an id, as `input_items` lists them; instructions and tools are not
// items and are not carried to the next turn, as OpenAI does), and who made it. The conversation a
// `previous_response_id` continues is the chain of responses before it, oldest first: each one's
// input items and then its output items, parsed again as input (request.ts), so a stored turn
// reads back exactly as the same items sent by the caller would. A response is stored before it
// is answered, so the next turn may name it at once.

export type Json = Record<string, unknown>;

export interface StoredResponse {
  /** `resp_…` */
  id: string;
  owner: { team: string; key: string };
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** Milliseconds since the epoch: gone after it. */
  expiresAt: number;
  previousId?: string;
  /** The response object as returned. */
  response: Json;
  /** This request's input items, each with an id. */
  inputItems: Json[];
  /** A background response's heartbeat (ms): the replica running it renews it; PostgreSQL only. */
  aliveUntil?: number;
}

export interface ResponseStore {
  readonly kind: "memory" | "postgres";
  /** Resolves once the response can be read by any replica; rejects when it could not be stored. */
  put(r: StoredResponse): Promise<void>;
  get(id: string, now?: number): Promise<StoredResponse | undefined>;
  /**
   * Replace a stored response object, only while its status is one of `onlyIf` (a background
   * response moving on: queued → in_progress → its end, or cancelled); whether it was replaced.
   */
  update(id: string, response: Json, onlyIf: readonly string[]): Promise<boolean>;
  /** Renew the heartbeat of background responses this replica runs (a memory store dies with its runs: nothing to do). */
  keepAlive(ids: readonly string[], until: number): Promise<void>;
  /** The response and those before it (previous_response_id), oldest first; empty if it is gone. */
  chain(id: string, now?: number): Promise<StoredResponse[]>;
  delete(id: string): Promise<boolean>;
  /** Drop what has expired (PostgreSQL: in one statement by the expiry index); returns how many. */
  sweep(now?: number): Promise<number>;
  /**
   * A streamed background response's events, shared so that any replica can follow it (PostgreSQL
   * only: a memory store serves one replica, whose own log is enough). `append` adds frames by
   * sequence_number (again is harmless) and, with `ended`, the end's marker; `events` reads those
   * after `after`, and whether the end was written.
   */
  events?: {
    append(id: string, frames: readonly { seq: number; frame: string }[], ended: boolean): Promise<void>;
    read(id: string, after: number): Promise<{ frames: { seq: number; frame: string }[]; ended: boolean }>;
  };
  close(): Promise<void>;
}

/** The longest conversation a previous_response_id may continue (a cycle cannot be made: ids are new). */
export const MAX_CHAIN = 1000;

/** The size a response counts for against the memory store's bound (its JSON, as PostgreSQL would hold it). */
const sizeOf = (r: StoredResponse) => JSON.stringify(r.response).length + JSON.stringify(r.inputItems).length + 200;

/**
 * The memory stores' map: entries with a size, bounded by their sum. Map order is insertion
 * order, so when the sum passes `maxBytes` the oldest entries go first (never `keep`, the one
 * being written).
 */
export class SizedMap<V> {
  private readonly entries = new Map<string, { v: V; size: number }>();
  private bytes = 0;
  protected readonly maxBytes: number;
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get(id: string): V | undefined {
    return this.entries.get(id)?.v;
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  /** Add or replace an entry, then make room. */
  set(id: string, v: V, size: number): void {
    this.delete(id);
    this.entries.set(id, { v, size });
    this.bytes += size;
    this.bound(id);
  }

  /** Replace an entry's value, its size grown (or shrunk) by `delta`, then make room. */
  update(id: string, v: V, delta = 0): void {
    const e = this.entries.get(id);
    if (!e) return;
    e.v = v;
    e.size += delta;
    this.bytes += delta;
    if (delta > 0) this.bound(id);
  }

  delete(id: string): boolean {
    const e = this.entries.get(id);
    if (!e) return false;
    this.entries.delete(id);
    this.bytes -= e.size;
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private bound(keep: string): void {
    for (const id of this.entries.keys()) {
      if (this.bytes <= this.maxBytes) break;
      if (id !== keep) this.delete(id);
    }
  }
}

/** A SizedMap of entries that expire (stored responses, chat completions). */
export class ExpiringMap<V extends { expiresAt: number }> extends SizedMap<V> {
  /** The entry, unless it has expired (then it is dropped). */
  live(id: string, now: number): V | undefined {
    const v = this.get(id);
    if (v && v.expiresAt <= now) {
      this.delete(id);
      return undefined;
    }
    return v;
  }

  /** Adds an entry; one larger than the whole bound is kept nowhere (an error naming `what`). */
  add(id: string, v: V, size: number, what: string): void {
    if (size > this.maxBytes) throw new Error(`the ${what} is larger than the store's bound (${this.maxBytes} bytes)`);
    this.set(id, v, size);
  }
}

/**
 * Per replica, newest kept: when the responses held pass `maxBytes`, the oldest go first.
 * Continuing a conversation on another replica needs PostgreSQL.
 */
export function createMemoryResponseStore(opts: { maxBytes: number }): ResponseStore {
  const byId = new ExpiringMap<StoredResponse>(opts.maxBytes);
  const live = (id: string, now: number) => byId.live(id, now);
  return {
    kind: "memory",
    async put(r) {
      // Larger than the whole store: kept nowhere (the caller answers it with store: false).
      byId.add(r.id, r, sizeOf(r), "response");
    },
    async get(id, now = Date.now()) {
      return live(id, now);
    },
    async keepAlive() {},
    async update(id, response, onlyIf) {
      const r = byId.get(id);
      if (!r || !onlyIf.includes(r.response.status as string)) return false;
      byId.update(id, { ...r, response });
      return true;
    },
    async chain(id, now = Date.now()) {
      const out: StoredResponse[] = [];
      let at: string | undefined = id;
      while (at !== undefined && out.length < MAX_CHAIN) {
        const r = live(at, now);
        if (!r) break;
        out.push(r);
        at = r.previousId;
      }
      return out.reverse();
    },
    async delete(id) {
      return byId.delete(id);
    },
    async sweep(now = Date.now()) {
      let n = 0;
      for (const id of [...byId.keys()]) if (byId.get(id)!.expiresAt <= now && byId.delete(id)) n++;
      return n;
    },
    async close() {
      byId.clear();
    },
  };
}

/**
 * Input (a string, or items) as input items, each with an id: the caller's, else `idOf(prefix, i)`
 * (prefix `msg`, `fc`, `fco` or `item` by type); a message's string content becomes its part. This
 * is how `input_items` and conversations list them, and how a later turn reads them back.
 */
export function withIds(input: unknown, idOf: (prefix: string, index: number) => string): Json[] {
  if (typeof input === "string") return [{ id: idOf("msg", 0), type: "message", status: "completed", role: "user", content: [{ type: "input_text", text: input }] }];
  if (!Array.isArray(input)) return [];
  return input.map((it, i): Json => {
    const item = it as Json;
    const type = (item.type as string | undefined) ?? "message";
    const id = typeof item.id === "string" && item.id ? item.id : idOf(type === "message" ? "msg" : type === "function_call" ? "fc" : type === "function_call_output" ? "fco" : "item", i);
    if (type !== "message") return { ...item, id };
    const role = item.role;
    const content = typeof item.content === "string" ? [{ type: role === "assistant" ? "output_text" : "input_text", text: item.content, ...(role === "assistant" ? { annotations: [] } : {}) }] : item.content;
    return { id, type: "message", status: "completed", ...item, content };
  });
}
