// The shapes of a file search request, with no imports: the router's types name them, and what
// reads the router's types (the command line's configuration check among them) need not load the
// vector stores to do so.

/** OpenAI's comparison filter on a file's attributes. */
export type Comparison = { type: "eq" | "ne" | "gt" | "gte" | "lt" | "lte"; key: string; value: string | number | boolean } | { type: "in" | "nin"; key: string; value: (string | number)[] };
/** A comparison, or a compound of filters. */
export type Filter = Comparison | { type: "and" | "or"; filters: Filter[] };

/** What a request asks of file search before the model (its door's tool or field, validated: src/engine/file-search.ts). */
export interface FileSearchRequest {
  storeIds: string[];
  maxResults: number;
  filters?: Filter;
  ranker: "auto" | "none" | "default-2024-11-15";
  scoreThreshold: number;
  keywordWeight?: number;
  /** The request field that asked for it (errors name it: "tools[0]"). */
  field: string;
}
