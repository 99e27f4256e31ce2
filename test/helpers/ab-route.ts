// A gateway config with an A/B split (route `ab`: variants control on mock/a and candidate on
// mock/b, half each) and a way to ask it over the OpenAI-compatible door, for the feedback tests
// (the API's, the CLI's and the console's).

import assert from "node:assert/strict";

/** The config: the split, plus `keys` (YAML list items) and anything else at the top level. */
export const abConfig = (keys: string, extra = "") => `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: mock/b, provider: mock, model: mock-b, pricing: { input: 1, output: 2 } }
routes:
  - name: ab
    variants:
      - { name: control, weight: 50, targets: [mock/a] }
      - { name: candidate, weight: 50, targets: [mock/b] }
keys:
${keys}
${extra}`;

export interface Answered {
  requestId: string;
  traceId: string;
  variant: "control" | "candidate";
}

/** Ask `ab` as `user` (the split is sticky by user); the ids from the response's headers, the variant from its deployment. */
export async function askAb(url: string, apiKey: string, user: string): Promise<Answered> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "ab", user, messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  await res.arrayBuffer();
  return { requestId: res.headers.get("x-request-id")!, traceId: res.headers.get("x-signalbox-trace-id")!, variant: res.headers.get("x-signalbox-deployment") === "mock/b" ? "candidate" : "control" };
}

/** Ask until at least `n` answers have come back and both variants are among them. */
export async function askBoth(url: string, apiKey: string, n: number, userPrefix = "user"): Promise<Answered[]> {
  const out: Answered[] = [];
  for (let i = 0; out.length < n || new Set(out.map((x) => x.variant)).size < 2; i++) out.push(await askAb(url, apiKey, `${userPrefix}-${i}`));
  return out;
}
