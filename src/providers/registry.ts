// The provider registry: one line per provider type. Adding a provider touches its own folder
// and this map, nothing else.

import type { ProviderConfig, ProviderType } from "../config/types.ts";
import { createAnthropicAdapter } from "./anthropic/index.ts";
import { createBedrockAdapter } from "./bedrock/index.ts";
import { createCohereAdapter } from "./cohere/index.ts";
import { createGeminiAdapter } from "./gemini/index.ts";
import { createHttpProvider } from "./http-provider.ts";
import { createOpenAIAdapter } from "./openai/index.ts";
import { createMockProvider } from "./mock/mock-provider.ts";
import { createVertexAdapter } from "./vertex/index.ts";
import { createSearchAdapter } from "./search/engines.ts";
import type { Transport } from "./transport.ts";
import type { Provider, ProviderAdapter } from "./types.ts";

type AdapterFactory = (conn: ProviderConfig) => ProviderAdapter;

/** Adapter factories by provider type. */
const ADAPTERS: Partial<Record<ProviderType, AdapterFactory>> = {
  // OpenAI-compatible vendors are configuration of the OpenAI adapter (dialect and quirks).
  openai: createOpenAIAdapter,
  azure: createOpenAIAdapter,
  openrouter: createOpenAIAdapter,
  "openai-compatible": createOpenAIAdapter,
  anthropic: createAnthropicAdapter,
  gemini: createGeminiAdapter,
  bedrock: createBedrockAdapter,
  vertex: createVertexAdapter,
  cohere: createCohereAdapter,
  // Search engines: the search operation only.
  exa: createSearchAdapter,
  tavily: createSearchAdapter,
  perplexity: createSearchAdapter,
  brave: createSearchAdapter,
  searxng: createSearchAdapter,
  serper: createSearchAdapter,
};

/** Build the Provider for a connection. */
export function createProvider(conn: ProviderConfig, transport: Transport): Provider {
  if (conn.type === "mock") return createMockProvider(conn);
  const factory = ADAPTERS[conn.type];
  if (!factory) throw new Error(`provider type "${conn.type}" is not available in this build`);
  return createHttpProvider(conn, factory(conn), transport);
}

/**
 * A connection's adapter, made once per connection config (Vertex's keeps its OAuth token cache,
 * Bedrock's its credentials): for what signs or authorizes a request outside the Provider (the
 * pass-through). Undefined for the mock.
 */
const adapters = new WeakMap<ProviderConfig, ProviderAdapter>();
export function adapterFor(conn: ProviderConfig): ProviderAdapter | undefined {
  const factory = ADAPTERS[conn.type];
  if (!factory) return undefined;
  let a = adapters.get(conn);
  if (!a) adapters.set(conn, (a = factory(conn)));
  return a;
}

export function supportedProviderTypes(): ProviderType[] {
  return ["mock", ...(Object.keys(ADAPTERS) as ProviderType[])];
}
