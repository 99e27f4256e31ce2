// What both entries export: the generated API, the helpers, the error type, the interceptors.

export * from "./gen/signalbox/v1/admin_pb.ts";
export * from "./gen/signalbox/v1/audio_pb.ts";
export * from "./gen/signalbox/v1/moderation_pb.ts";
export * from "./gen/signalbox/v1/search_pb.ts";
export * from "./gen/signalbox/v1/ocr_pb.ts";
export * from "./gen/signalbox/v1/guardrail_pb.ts";
export * from "./gen/signalbox/v1/prompt_pb.ts";
export * from "./gen/signalbox/v1/chat_pb.ts";
export * from "./gen/signalbox/v1/common_pb.ts";
export * from "./gen/signalbox/v1/embedding_pb.ts";
export * from "./gen/signalbox/v1/image_pb.ts";
export * from "./gen/signalbox/v1/rerank_pb.ts";
export * from "./gen/signalbox/v1/route_pb.ts";
export * from "./gen/signalbox/v1/usage_pb.ts";
export { type CommonClientOptions, createSignalboxClientFromTransport, type SignalboxClient } from "./client.ts";
export { codeName, failureKindName, SignalboxError } from "./errors.ts";
export { authInterceptor, errorInterceptor, type OtelApi, retryInterceptor, type RetryOptions, traceparentInterceptor } from "./interceptors.ts";
export * from "./messages.ts";
export { promptParametersText } from "./prompts.ts";
export { speak, speakStream, type SpeakOptions, type SpeakResult, type SpeechEvent, transcribe, transcribeStream, type TranscribeOptions, type TranscribeResult, type TranscriptEvent } from "./audio.ts";
export { type EmbedOptions, embedTexts, type EmbedTextsResult, vectorOf, vectorsOf } from "./embeddings.ts";
export { editImages, generateImages, type GenerateImagesResult, type Image, type ImageInput, type ImageOptions } from "./images.ts";
export { type RankedDocument, type RerankOptions, rerankDocuments, type RerankDocumentsResult } from "./rerank.ts";
export { type OcrOptions, readDocument, type ReadDocumentResult } from "./ocr.ts";
export { type SearchOptions, searchWeb, type SearchWebResult, type WebPage } from "./search.ts";
export { type StreamedToolCall, streamText, type StreamTextHandle, type StreamTextOptions, type StreamTextResult } from "./stream.ts";
export { Code, ConnectError } from "@connectrpc/connect";
