// The fake Gemini API and the fake Vertex AI side by side, with a service account whose key file
// the gateway reads, and the two `providers:` entries (named gemini and vertex) that reach them.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GEMINI_TEST_KEY, startFakeGemini, type FakeGemini } from "../fakes/gemini.ts";
import { makeTestServiceAccount, startFakeVertex, type FakeVertex } from "../fakes/vertex.ts";

export interface GoogleFakes {
  gemini: FakeGemini;
  vertex: FakeVertex;
  /** YAML list entries for `providers:` (gemini, vertex). */
  providersYaml: string;
  close(): Promise<void>;
}

export async function startGoogleFakes(project: string): Promise<GoogleFakes> {
  const sa = makeTestServiceAccount(project);
  const [gemini, vertex] = await Promise.all([startFakeGemini(), startFakeVertex({ accounts: [sa], project })]);
  const dir = mkdtempSync(join(tmpdir(), "sb-google-"));
  const keyPath = sa.writeKeyFile(dir);
  const providersYaml = `
  - { name: gemini, type: gemini, base_url: "${gemini.origin}", api_key: ${GEMINI_TEST_KEY} }
  - name: vertex
    type: vertex
    base_url: ${vertex.origin}
    vertex: { project: ${project}, location: us-central1, credentials_file: ${keyPath}, token_url: ${vertex.tokenUrl} }`;
  return {
    gemini,
    vertex,
    providersYaml,
    async close() {
      await Promise.all([gemini.close(), vertex.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
