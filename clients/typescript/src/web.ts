// The browser entry of @signalbox/client (and of any fetch runtime): Connect and gRPC-web over
// fetch (connect-web), binary protobuf by default. The gateway must allow the page's origin (CORS).

import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { clientInterceptors, type CommonClientOptions, createSignalboxClientFromTransport, type SignalboxClient } from "./client.ts";

export * from "./common.ts";

export interface SignalboxClientOptions extends CommonClientOptions {
  /** Wire protocol. Default "connect". Browsers cannot speak plain gRPC. */
  protocol?: "connect" | "grpc-web";
  /** fetch() to use; default globalThis.fetch. */
  fetch?: typeof globalThis.fetch;
  /** Send cookies across origins (the gateway's CORS must allow credentials). Default "same-origin". */
  credentials?: RequestCredentials;
}

/** A typed client for every Signalbox service, for browsers. */
export function createSignalboxClient(opts: SignalboxClientOptions): SignalboxClient {
  const otel = opts.opentelemetry === false ? undefined : opts.opentelemetry;
  const credentials = opts.credentials;
  const baseFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const fetch: typeof globalThis.fetch = credentials ? (input, init) => baseFetch(input, { ...init, credentials }) : baseFetch;
  const common = { baseUrl: opts.baseUrl, interceptors: clientInterceptors(opts, otel), useBinaryFormat: !opts.json, fetch };
  let transport: Transport;
  switch (opts.protocol ?? "connect") {
    case "grpc-web":
      transport = createGrpcWebTransport(common);
      break;
    case "connect":
      transport = createConnectTransport(common);
      break;
    default:
      throw new TypeError(`protocol must be "connect" or "grpc-web" in a browser, got ${JSON.stringify(opts.protocol)}`);
  }
  return createSignalboxClientFromTransport(transport, opts);
}
