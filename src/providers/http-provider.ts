// Composes a pure adapter with the transport into a Provider: build the request, send it, hand
// the body to the adapter (whole, or as SSE events for a stream). No retries, no state.

import type { ProviderConfig } from "../config/types.ts";
import { createSseParser } from "./sse.ts";
import { classifyTransportError, type Transport } from "./transport.ts";
import type { ChatResult, EmbedRequest, EmbedResult, HttpRequestSpec, ImageRequest, ImageResult, RerankRequest, RerankResult, OcrRequest, OcrResult, SearchRequest, SearchResult, Provider, ProviderAdapter, SpeechRequest, SpeechStream, ModerationRequest, TranscriptionStream, ModerationResult, SseEvent, StreamEvent, TranscriptionRequest, TranscriptionResult, UpstreamRequest } from "./types.ts";
import { ProviderError } from "./types.ts";

export function createHttpProvider(conn: ProviderConfig, adapter: ProviderAdapter, transport: Transport): Provider {
  const authorize = adapter.authorize?.bind(adapter);
  function send(req: UpstreamRequest, stream: boolean, signal: AbortSignal) {
    return sendSpec(adapter.buildRequest(req, stream), signal);
  }

  const embedder = adapter.buildEmbedRequest && adapter.parseEmbedResponse ? { build: adapter.buildEmbedRequest.bind(adapter), parse: adapter.parseEmbedResponse.bind(adapter) } : undefined;
  async function embedOnce(req: EmbedRequest, signal: AbortSignal): Promise<EmbedResult> {
    const res = await sendSpec(embedder!.build(req), signal);
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw classifyTransportError(err, signal, conn);
    }
    return embedder!.parse(text, req, res.headers);
  }
  const reranker = adapter.buildRerankRequest && adapter.parseRerankResponse ? { build: adapter.buildRerankRequest.bind(adapter), parse: adapter.parseRerankResponse.bind(adapter) } : undefined;
  async function rerank(req: RerankRequest, signal: AbortSignal): Promise<RerankResult> {
    const res = await sendSpec(reranker!.build(req), signal);
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw classifyTransportError(err, signal, conn);
    }
    return reranker!.parse(text, req, res.headers);
  }
  const imager = adapter.buildImageRequest && adapter.parseImageResponse ? { build: adapter.buildImageRequest.bind(adapter), parse: adapter.parseImageResponse.bind(adapter) } : undefined;
  async function generateImages(req: ImageRequest, signal: AbortSignal): Promise<ImageResult> {
    const per = adapter.imagesPerCall?.(req.model) ?? Infinity;
    if (req.n <= per) return imagesOnce(req, signal);
    // More images than one call makes: several calls, concurrently; the first failure fails them
    // all (the router then retries or falls back as for any attempt). Usage is summed.
    const calls: number[] = [];
    for (let left = req.n; left > 0; left -= per) calls.push(Math.min(per, left));
    const parts = await Promise.all(calls.map((n) => imagesOnce({ ...req, n }, signal)));
    const reported = parts.every((p) => p.usage !== undefined);
    return {
      ...parts[0],
      images: parts.flatMap((p) => p.images),
      ...(reported ? { usage: { inputTokens: parts.reduce((t, p) => t + p.usage!.inputTokens, 0), outputTokens: parts.reduce((t, p) => t + p.usage!.outputTokens, 0) } } : { usage: undefined }),
    };
  }
  async function imagesOnce(req: ImageRequest, signal: AbortSignal): Promise<ImageResult> {
    const res = await sendSpec(imager!.build(req), signal);
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw classifyTransportError(err, signal, conn);
    }
    return imager!.parse(text, req);
  }
  const transcriber = adapter.buildTranscriptionRequest && adapter.parseTranscriptionResponse ? { build: adapter.buildTranscriptionRequest.bind(adapter), parse: adapter.parseTranscriptionResponse.bind(adapter) } : undefined;
  async function transcribe(req: TranscriptionRequest, signal: AbortSignal): Promise<TranscriptionResult> {
    const res = await sendSpec(transcriber!.build(req), signal);
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw classifyTransportError(err, signal, conn);
    }
    return transcriber!.parse(text, req);
  }
  const streamer = adapter.buildTranscriptionStreamRequest && adapter.transcriptionDecoder ? { build: adapter.buildTranscriptionStreamRequest.bind(adapter), decoder: adapter.transcriptionDecoder.bind(adapter) } : undefined;
  async function transcribeStream(req: TranscriptionRequest, signal: AbortSignal): Promise<TranscriptionStream | undefined> {
    const spec = streamer!.build(req);
    if (!spec) return undefined;
    const res = await sendSpec(spec, signal);
    const dec = streamer!.decoder();
    return { model: "", result: () => dec.result(), deltas: decoded(res.body, dec, signal) };
  }
  /** A streamed body's pieces as they arrive, decoded (audio passed through or SSE deltas, transcript text deltas). */
  async function* decoded<T>(body: AsyncIterable<Uint8Array>, dec: { push(c: Uint8Array): T[]; end(): T[] }, signal: AbortSignal): AsyncGenerator<T> {
    try {
      for await (const c of body) for (const out of dec.push(c)) yield out;
      for (const out of dec.end()) yield out;
    } catch (err) {
      throw err instanceof ProviderError ? err : classifyTransportError(err, signal, conn);
    }
  }
  const speaker = adapter.buildSpeechRequest && adapter.speechDecoder ? { build: adapter.buildSpeechRequest.bind(adapter), decoder: adapter.speechDecoder.bind(adapter) } : undefined;
  async function speak(req: SpeechRequest, signal: AbortSignal): Promise<SpeechStream> {
    const res = await sendSpec(speaker!.build(req), signal);
    const dec = speaker!.decoder(req, res.headers);
    return { model: "", mediaType: dec.mediaType, usage: () => dec.usage(), chunks: decoded(res.body, dec, signal) };
  }
  const moderator = adapter.buildModerationRequest && adapter.parseModerationResponse ? { build: adapter.buildModerationRequest.bind(adapter), parse: adapter.parseModerationResponse.bind(adapter) } : undefined;
  async function moderate(req: ModerationRequest, signal: AbortSignal): Promise<ModerationResult> {
    const res = await sendSpec(moderator!.build(req), signal);
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw classifyTransportError(err, signal, conn);
    }
    return moderator!.parse(text, req);
  }
  const searcher = adapter.buildSearchRequest && adapter.parseSearchResponse ? { build: adapter.buildSearchRequest.bind(adapter), parse: adapter.parseSearchResponse.bind(adapter) } : undefined;
  async function searchOnce(req: SearchRequest, query: string, signal: AbortSignal): Promise<SearchResult> {
    const res = await sendSpec(searcher!.build(req, query), signal);
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw classifyTransportError(err, signal, conn);
    }
    return searcher!.parse(text, req);
  }
  /** Each query is one upstream search, concurrently; the first failure fails them all. Results in query order, usage summed. */
  async function search(req: SearchRequest, signal: AbortSignal): Promise<SearchResult> {
    if (req.queries.length === 1) return searchOnce(req, req.queries[0], signal);
    const parts = await Promise.all(req.queries.map((q) => searchOnce(req, q, signal)));
    const sum = (f: (u: NonNullable<SearchResult["usage"]>) => number | undefined) => (parts.some((p) => p.usage && f(p.usage) !== undefined) ? parts.reduce((n, p) => n + ((p.usage && f(p.usage)) ?? 0), 0) : undefined);
    const units = sum((u) => u.searchUnits);
    const cost = sum((u) => u.providerCostUsd);
    return {
      model: parts[0].model,
      results: parts.flatMap((p, i) => (i ? p.results.map((r) => ({ ...r, query: i })) : p.results)),
      ...(units !== undefined || cost !== undefined ? { usage: { ...(units !== undefined ? { searchUnits: units } : {}), ...(cost !== undefined ? { providerCostUsd: cost } : {}) } } : {}),
    };
  }
  const ocrWire = adapter.buildOcrRequest && adapter.parseOcrResponse ? { build: adapter.buildOcrRequest.bind(adapter), parse: adapter.parseOcrResponse.bind(adapter) } : undefined;
  async function ocr(req: OcrRequest, signal: AbortSignal): Promise<OcrResult> {
    const res = await sendSpec(ocrWire!.build(req), signal);
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw classifyTransportError(err, signal, conn);
    }
    return ocrWire!.parse(text, req);
  }
  async function sendSpec(spec: HttpRequestSpec, signal: AbortSignal) {
    if (authorize) spec = await authorize(spec, { baseUrl: conn.baseUrl, signal });
    const res = await transport.request(conn, spec, signal);
    if (res.status < 200 || res.status >= 300) {
      let body = "";
      try {
        body = await res.body.text();
      } catch {
        // The status alone still classifies the failure.
      }
      throw adapter.classifyError(res.status, body, res.headers);
    }
    return res;
  }

  return {
    name: conn.name,
    type: conn.type,
    ...(embedder
      ? {
          async embed(req: EmbedRequest, signal: AbortSignal): Promise<EmbedResult> {
            const limit = adapter.embedBatchLimit?.(req.model) ?? Infinity;
            if (req.inputs.length <= limit) return embedOnce(req, signal);
            // More inputs than one call takes: one call per slice, concurrently; the first failure
            // fails the whole batch (the router then retries or falls back as for any attempt).
            const slices: string[][] = [];
            for (let i = 0; i < req.inputs.length; i += limit) slices.push(req.inputs.slice(i, i + limit));
            const parts = await Promise.all(slices.map((inputs) => embedOnce({ ...req, inputs }, signal)));
            const reported = parts.every((p) => p.usage !== undefined);
            const cost = parts.some((p) => p.usage?.providerCostUsd !== undefined) ? parts.reduce((n, p) => n + (p.usage?.providerCostUsd ?? 0), 0) : undefined;
            return {
              model: parts[0].model,
              embeddings: parts.flatMap((p) => p.embeddings),
              ...(reported ? { usage: { inputTokens: parts.reduce((n, p) => n + p.usage!.inputTokens, 0), ...(cost !== undefined ? { providerCostUsd: cost } : {}) } } : {}),
            };
          },
        }
      : {}),
    ...(reranker ? { rerank } : {}),
    ...(imager ? { generateImages } : {}),
    ...(transcriber ? { transcribe } : {}),
    ...(streamer ? { transcribeStream } : {}),
    ...(speaker ? { speak } : {}),
    ...(moderator ? { moderate } : {}),
    ...(searcher ? { search } : {}),
    ...(ocrWire ? { ocr } : {}),
    async complete(req, signal): Promise<ChatResult> {
      const res = await send(req, false, signal);
      let text: string;
      try {
        text = await res.body.text();
      } catch (err) {
        throw classifyTransportError(err, signal, conn);
      }
      return adapter.parseResponse(text, res.headers);
    },
    async *stream(req, signal): AsyncGenerator<StreamEvent[]> {
      const res = await send(req, true, signal);
      const sse = adapter.streamDecoder ? adapter.streamDecoder() : createSseParser();
      const tr = adapter.streamTranslator();
      let finished = false;
      // Translate every SSE event of one network read into one batch. Content translated before
      // an in-band error in the same read is still delivered (and billed) before the error.
      let pendingError: unknown;
      const translate = (events: SseEvent[]): StreamEvent[] => {
        const out: StreamEvent[] = [];
        try {
          for (const e of events) for (const x of tr.event(e)) out.push(x);
        } catch (err) {
          pendingError = err;
        }
        return out;
      };
      try {
        for await (const chunk of res.body) {
          const batch = translate(sse.push(chunk));
          if (batch.length) yield batch;
          if (pendingError) throw pendingError;
        }
        const tail = translate(sse.end());
        if (tail.length) yield tail;
        if (pendingError) throw pendingError;
        finished = true;
        const last = tr.end();
        if (last.length) yield last;
      } catch (err) {
        if (err instanceof ProviderError) throw err;
        throw classifyTransportError(err, signal, conn);
      } finally {
        // A consumer that stops early (cancel, timeout, hedge lost) must not leave the socket busy.
        if (!finished) res.body.dump().catch(() => {});
      }
    },
  };
}
