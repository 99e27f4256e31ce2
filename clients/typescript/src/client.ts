// The platform-neutral half of the factory: the services behind one object, default deadlines,
// and the interceptor stack. node.ts and web.ts add the transports.

import type { DescService } from "@bufbuild/protobuf";
import { type CallOptions, type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { AdminService } from "./gen/signalbox/v1/admin_pb.ts";
import { PromptService } from "./gen/signalbox/v1/prompt_pb.ts";
import { AudioService } from "./gen/signalbox/v1/audio_pb.ts";
import { ChatService } from "./gen/signalbox/v1/chat_pb.ts";
import { EmbeddingService } from "./gen/signalbox/v1/embedding_pb.ts";
import { RerankService } from "./gen/signalbox/v1/rerank_pb.ts";
import { ImageService } from "./gen/signalbox/v1/image_pb.ts";
import { ModerationService } from "./gen/signalbox/v1/moderation_pb.ts";
import { SearchService } from "./gen/signalbox/v1/search_pb.ts";
import { OcrService } from "./gen/signalbox/v1/ocr_pb.ts";
import { GuardrailService } from "./gen/signalbox/v1/guardrail_pb.ts";
import { RouteService } from "./gen/signalbox/v1/route_pb.ts";
import { UsageService } from "./gen/signalbox/v1/usage_pb.ts";
import { SignalboxError } from "./errors.ts";
import { authInterceptor, errorInterceptor, type OtelApi, retryInterceptor, type RetryOptions, traceparentInterceptor } from "./interceptors.ts";

/** Options shared by the Node and browser factories. */
export interface CommonClientOptions {
  /** The gateway, e.g. "http://signalbox.internal:8080". */
  baseUrl: string;
  /** A caller key, sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** JSON instead of binary protobuf on the wire (Connect and gRPC-web). Default false. */
  json?: boolean;
  /**
   * Default deadline of every call, ms (a call's own `timeoutMs` wins). Default 60 000 for unary
   * calls; streams take `streamTimeoutMs` when set, else this when set, else 600 000. 0 = none.
   */
  timeoutMs?: number;
  /** Default deadline of streams, ms. Default 600 000; 0 = none. */
  streamTimeoutMs?: number;
  /** Retry unary calls on `unavailable` and on rate limits that say when (see retryInterceptor). Off by default. */
  retry?: boolean | RetryOptions;
  /**
   * Forward the caller's active OpenTelemetry span as `traceparent`. On Node `@opentelemetry/api`
   * is found by itself when installed; pass the API object to use another copy, or false to turn
   * forwarding off.
   */
  opentelemetry?: OtelApi | false;
  /** Interceptors of your own (logging, extra headers); they run inside the client's. */
  interceptors?: Interceptor[];
}

/** Every Signalbox service, typed, over one transport. */
export interface SignalboxClient {
  chat: Client<typeof ChatService>;
  /** Embeddings (see embedTexts for the one-line form). */
  embedding: Client<typeof EmbeddingService>;
  /** Rerank (see rerankDocuments for the one-line form). */
  rerank: Client<typeof RerankService>;
  /** Image generation (see generateImages for the one-line form). */
  images: Client<typeof ImageService>;
  /** Speech to text and text to speech (see transcribe and speak for the one-line forms). */
  audio: Client<typeof AudioService>;
  /** Moderation: one verdict per text (categories and scores). */
  moderation: Client<typeof ModerationService>;
  /** Web search: each query's pages (Exa, Tavily, Perplexity, Brave, SearXNG behind one API; see searchWeb for the one-line form). */
  search: Client<typeof SearchService>;
  /** OCR: a document's pages as Markdown (Mistral OCR behind one API; see readDocument for the one-line form). */
  ocr: Client<typeof OcrService>;
  /** The gateway's guardrails: listed, and tried on a text without a model call. */
  guardrails: Client<typeof GuardrailService>;
  route: Client<typeof RouteService>;
  usage: Client<typeof UsageService>;
  /** Keys, teams, config reload and the audit log (admin and team keys). */
  admin: Client<typeof AdminService>;
  prompts: Client<typeof PromptService>;
  transport: Transport;
}

/** The interceptors a client runs, outermost first: typed errors, retry, key, trace context, yours. */
export function clientInterceptors(opts: CommonClientOptions, otel: OtelApi | undefined): Interceptor[] {
  const list: Interceptor[] = [errorInterceptor];
  if (opts.retry) list.push(retryInterceptor(opts.retry === true ? {} : opts.retry));
  if (opts.apiKey) list.push(authInterceptor(opts.apiKey));
  if (otel) list.push(traceparentInterceptor(otel));
  list.push(...(opts.interceptors ?? []));
  return list;
}

/**
 * A client whose calls get a default deadline by kind (unary vs streaming) unless the call sets
 * its own `timeoutMs`, and whose every failure is a SignalboxError. The error interceptor alone
 * cannot promise that: when a call's signal fired (its deadline, or the caller's abort), connect's
 * transport replaces whatever the interceptors threw by the signal's plain ConnectError, outside
 * the interceptors; and a transport passed in here may have no interceptors at all.
 */
function withDeadlines<S extends DescService>(client: Client<S>, service: S, unaryMs: number, streamMs: number): Client<S> {
  const out: Record<string, unknown> = {};
  for (const m of service.methods) {
    const call = (client as Record<string, (req: unknown, o?: CallOptions) => unknown>)[m.localName];
    const ms = m.methodKind === "unary" ? unaryMs : streamMs;
    const withDefault = (o?: CallOptions) => (ms > 0 && o?.timeoutMs === undefined ? { ...o, timeoutMs: ms } : o);
    const streamsOut = m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming";
    out[m.localName] = streamsOut
      ? (req: unknown, o?: CallOptions) => typedErrors(call(req, withDefault(o)) as AsyncIterable<unknown>)
      : (req: unknown, o?: CallOptions) =>
          (call(req, withDefault(o)) as Promise<unknown>).catch((err: unknown) => {
            throw SignalboxError.from(err);
          });
  }
  return out as Client<S>;
}

async function* typedErrors<T>(stream: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (err) {
    throw SignalboxError.from(err);
  }
}

/** Build the client object over any transport (tests may pass an in-memory one). */
export function createSignalboxClientFromTransport(transport: Transport, opts: Pick<CommonClientOptions, "timeoutMs" | "streamTimeoutMs"> = {}): SignalboxClient {
  const unary = opts.timeoutMs ?? 60_000;
  const stream = opts.streamTimeoutMs ?? opts.timeoutMs ?? 600_000;
  const make = <S extends DescService>(s: S) => withDeadlines(createClient(s, transport), s, unary, stream);
  return { chat: make(ChatService), embedding: make(EmbeddingService), rerank: make(RerankService), images: make(ImageService), audio: make(AudioService), moderation: make(ModerationService), search: make(SearchService), ocr: make(OcrService), guardrails: make(GuardrailService), route: make(RouteService), usage: make(UsageService), admin: make(AdminService), prompts: make(PromptService), transport };
}
