// The typed client for internal services: the generated services behind one factory, over
// Connect (binary protobuf by default), gRPC or gRPC-web, with the API key attached.

import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ChatService } from "../../gen/signalbox/v1/chat_pb.ts";
import { RouteService } from "../../gen/signalbox/v1/route_pb.ts";
import { UsageService } from "../../gen/signalbox/v1/usage_pb.ts";

export * from "../../gen/signalbox/v1/chat_pb.ts";
export * from "../../gen/signalbox/v1/common_pb.ts";
export * from "../../gen/signalbox/v1/route_pb.ts";
export * from "../../gen/signalbox/v1/usage_pb.ts";

export interface SignalboxClientOptions {
  /** e.g. "http://signalbox.internal:8080" */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Wire protocol; default "connect". */
  protocol?: "connect" | "grpc" | "grpc-web";
  /** HTTP version; default "2" for gRPC (required), "1.1" otherwise. */
  httpVersion?: "1.1" | "2";
  /** Use JSON instead of binary protobuf (Connect and gRPC-web only). Default false. */
  json?: boolean;
  /** Default timeout per call, ms. */
  timeoutMs?: number;
  /** Extra interceptors (tracing, logging). */
  interceptors?: Interceptor[];
}

export interface SignalboxClient {
  chat: Client<typeof ChatService>;
  route: Client<typeof RouteService>;
  usage: Client<typeof UsageService>;
  transport: Transport;
}

export function createSignalboxClient(opts: SignalboxClientOptions): SignalboxClient {
  const protocol = opts.protocol ?? "connect";
  const auth: Interceptor = (next) => (req) => {
    if (opts.apiKey) req.header.set("authorization", `Bearer ${opts.apiKey}`);
    return next(req);
  };
  const interceptors = [auth, ...(opts.interceptors ?? [])];
  const common = { baseUrl: opts.baseUrl, interceptors, defaultTimeoutMs: opts.timeoutMs };
  let transport: Transport;
  switch (protocol) {
    case "grpc":
      transport = createGrpcTransport(common);
      break;
    case "grpc-web":
      transport = createGrpcWebTransport({ ...common, httpVersion: opts.httpVersion ?? "1.1", useBinaryFormat: !opts.json });
      break;
    default:
      transport = createConnectTransport({ ...common, httpVersion: opts.httpVersion ?? "1.1", useBinaryFormat: !opts.json });
  }
  return {
    chat: createClient(ChatService, transport),
    route: createClient(RouteService, transport),
    usage: createClient(UsageService, transport),
    transport,
  };
}

/** Helper: a user message with plain text. */
export function userText(text: string) {
  return { role: 2 as const, content: [{ part: { case: "text" as const, value: text } }] };
}

/** Helper: a system message with plain text. */
export function systemText(text: string) {
  return { role: 1 as const, content: [{ part: { case: "text" as const, value: text } }] };
}
