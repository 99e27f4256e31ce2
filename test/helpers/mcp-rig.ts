// The rig of the tests where a model runs MCP tools through the gateway: a fake OpenAI upstream
// behind a route `route`, a real MCP server (`math`, with the screenshot tool), and a gateway with
// the given keys and mcp_servers (YAML list items; `${MATH_URL}` stands for the server's URL).
// Its before/after/beforeEach hooks are registered by the call.

import { after, before, beforeEach } from "node:test";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startFakeMcp, type FakeMcp } from "./fake-mcp.ts";
import { startTestGateway, type TestGateway } from "./gateway.ts";

export interface McpRig {
  openai: FakeOpenAI;
  math: FakeMcp;
  gw: TestGateway;
  /** The bodies the upstream got, request by request. */
  upstream(): Record<string, any>[];
}

/** `ready`: called once the rig is up (node:test runs root-level before hooks at once, not one after another). */
export function mcpRig(o: { route: string; keys: string; servers: string; env?: Record<string, string>; ready?: (rig: McpRig) => void }): McpRig {
  const rig = { upstream: () => rig.openai.requests.map((r) => JSON.parse(r.rawBody) as Record<string, any>) } as McpRig;
  before(async () => {
    rig.openai = await startFakeOpenAI();
    rig.math = await startFakeMcp("math", { screenshot: true });
    rig.gw = await startTestGateway(
      `
providers:
  - { name: openai, type: openai, base_url: ${rig.openai.url}, api_key: ${OPENAI_TEST_KEY} }
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
routes:
  - { name: ${o.route}, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
keys:
${o.keys}
mcp_servers:
${o.servers.split("${MATH_URL}").join(rig.math.url)}
`,
      { env: o.env },
    );
    o.ready?.(rig);
  });
  after(async () => {
    await rig.gw?.close();
    await rig.math?.close();
    await rig.openai?.close();
  });
  beforeEach(() => {
    rig.openai.reset();
    rig.math.calls.length = 0;
  });
  return rig;
}
