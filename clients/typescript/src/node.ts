// The Node entry of @signalbox/client: Connect, gRPC and gRPC-web over HTTP/1.1 or HTTP/2
// (connect-node), binary protobuf by default.

import { createRequire } from "node:module";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { clientInterceptors, type CommonClientOptions, createSignalboxClientFromTransport, type SignalboxClient } from "./client.ts";
import type { OtelApi } from "./interceptors.ts";

export * from "./common.ts";

export interface SignalboxClientOptions extends CommonClientOptions {
  /** Wire protocol. Default "connect". */
  protocol?: "connect" | "grpc" | "grpc-web";
  /** HTTP version; gRPC always uses HTTP/2 (cleartext h2c for http:// URLs). Default "1.1" for the others. */
  httpVersion?: "1.1" | "2";
}

let otelChecked = false;
let otelFound: OtelApi | undefined;

/** `@opentelemetry/api` if the application has it installed; the client does not depend on it. */
function findOtel(): OtelApi | undefined {
  if (!otelChecked) {
    otelChecked = true;
    try {
      otelFound = createRequire(import.meta.url)("@opentelemetry/api") as OtelApi;
    } catch {
      otelFound = undefined;
    }
  }
  return otelFound;
}

/** A typed client for every Signalbox service. */
export function createSignalboxClient(opts: SignalboxClientOptions): SignalboxClient {
  const otel = opts.opentelemetry === false ? undefined : (opts.opentelemetry ?? findOtel());
  const common = { baseUrl: opts.baseUrl, interceptors: clientInterceptors(opts, otel), useBinaryFormat: !opts.json };
  let transport: Transport;
  switch (opts.protocol ?? "connect") {
    case "grpc":
      transport = createGrpcTransport({ ...common, useBinaryFormat: true });
      break;
    case "grpc-web":
      transport = createGrpcWebTransport({ ...common, httpVersion: opts.httpVersion ?? "1.1" });
      break;
    case "connect":
      transport = createConnectTransport({ ...common, httpVersion: opts.httpVersion ?? "1.1" });
      break;
    default:
      throw new TypeError(`protocol must be "connect", "grpc" or "grpc-web", got ${JSON.stringify(opts.protocol)}`);
  }
  return createSignalboxClientFromTransport(transport, opts);
}
