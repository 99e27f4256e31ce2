// A fake Lakera Guard (/v2/guard): bearer key, the request's messages screened by word lists per
// detector type (prompt_attack, moderated_content/hate, pii/email, …), `flagged` when any trips,
// and the per-detector breakdown when asked for. Lakera publishes no Node SDK; the shape follows
// its API reference (request: messages, project_id, breakdown, payload, metadata, dev_info).

import { sendJson, startFake, type FakeServer } from './common.ts';

export const LAKERA_TEST_KEY = ['test', 'lakera', 'key'].join('-');

export interface FakeLakeraOptions {
  apiKey?: string;
  /** detector_type → words. */
  detectors?: Record<string, string[]>;
}

const FIELDS = new Set(['messages', 'project_id', 'breakdown', 'payload', 'metadata', 'dev_info']);
const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'developer']);

export async function startFakeLakera(opts: FakeLakeraOptions = {}): Promise<FakeServer<{ kind: 'ok' }>> {
  const key = opts.apiKey ?? LAKERA_TEST_KEY;
  let n = 0;
  return startFake<{ kind: 'ok' }>({
    basePath: '',
    defaultScenario: { kind: 'ok' },
    async handle(ex) {
      const error = (status: number, message: string) => sendJson(ex, status, { error: message });
      if (ex.req.headers.authorization !== `Bearer ${key}`) return error(401, 'Unauthorized: invalid API key');
      if (ex.req.method !== 'POST' || ex.url.pathname !== '/v2/guard') return error(404, 'Not Found');
      if (ex.badJson) return error(400, 'Invalid JSON body');
      const body = (ex.record.body ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(body)) if (!FIELDS.has(k)) return error(422, `Unexpected field: ${k}`);
      if (!Array.isArray(body.messages) || body.messages.length === 0) return error(422, 'messages: field required');
      for (const m of body.messages as { role?: unknown; content?: unknown }[]) {
        if (!ROLES.has(String(m?.role)) || typeof m?.content !== 'string') return error(422, 'messages: each message needs a role and string content');
      }
      const projectId = typeof body.project_id === 'string' ? body.project_id : 'project-default';
      const breakdown = Object.entries(opts.detectors ?? {}).flatMap(([type, words]) =>
        (body.messages as { content: string }[]).map((m, i) => ({
          project_id: projectId,
          policy_id: 'policy-default',
          detector_id: `detector-${type}`,
          detector_type: type,
          detected: words.some((w) => m.content.toLowerCase().includes(w.toLowerCase())),
          message_id: i,
        })),
      );
      const flagged = breakdown.some((d) => d.detected);
      return sendJson(ex, 200, { flagged, ...(body.breakdown === true ? { breakdown } : {}), metadata: { request_uuid: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}` } });
    },
  });
}
