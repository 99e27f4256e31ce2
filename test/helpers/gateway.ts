// Starts a real gateway (in process, real socket, port 0) from a YAML config string, for tests.

import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { createGateway, type Gateway, type GatewayOptions } from "../../src/gateway.ts";
import { startServer, type RunningServer } from "../../src/server/http.ts";
import { createMemoryUsageSink } from "../../src/usage/record.ts";

export interface TestGateway {
  url: string;
  gw: Gateway;
  server: RunningServer;
  config: Config;
  usage: ReturnType<typeof createMemoryUsageSink>;
  close(): Promise<void>;
}

export async function startTestGateway(yaml: string, opts: GatewayOptions & { env?: Record<string, string>; port?: number } = {}): Promise<TestGateway> {
  const config = buildConfig(parse(yaml), { ...opts.env });
  const usage = createMemoryUsageSink();
  const gw = await createGateway(config, { usage, ...opts });
  const server = await startServer(gw, { port: opts.port ?? 0, host: "127.0.0.1", maxRequestBytes: config.server.maxRequestBytes });
  return { url: server.url, gw, server, config, usage, close: () => server.shutdown(0) };
}

/** A config with mock deployments only. */
export const MOCK_CONFIG = `
server: { max_request_bytes: 65536 }
providers:
  - name: mock
    type: mock
  - name: flaky
    type: mock
    mock: { failure_rate: 1, failure_kind: overloaded }
  - name: slow
    type: mock
    mock: { ttft_ms: 5000, inter_chunk_ms: 5, chunks: 4 }
  - name: trickle
    type: mock
    mock: { ttft_ms: 10, inter_chunk_ms: 100, chunks: 10 }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: mock/b, provider: mock, model: mock-b, pricing: { input: 3, output: 4 } }
  - { id: mock/flaky, provider: flaky, model: mock-flaky, pricing: { input: 1, output: 1 } }
  - { id: mock/slow, provider: slow, model: mock-slow, pricing: { input: 1, output: 1 } }
  - { id: mock/trickle, provider: trickle, model: mock-trickle, pricing: { input: 1, output: 1 } }
aliases:
  fast: mock/a
routes:
  - name: default
    targets: [mock/a]
  - name: fallback
    targets: [mock/flaky, mock/b]
    retry: { max_retries: 0 }
  - name: slow
    targets: [mock/slow]
  - name: trickle
    targets: [mock/trickle]
`;
