// A fake Azure AI Content Safety resource: text:analyze (a severity per harm category, named
// blocklists) and text:shieldPrompt (Prompt Shields), with the service's key header, API versions,
// limits and error shape. Words decide: a text containing one of a category's words gets severity
// 4 (6 for its `severe` words); a blocklist's words are matches; `attacks` words are prompt attacks.
// test/fakes/content-safety.sdk.test.ts checks it against @azure-rest/ai-content-safety.

import { sendJson, startFake, type FakeServer } from './common.ts';

export const CONTENT_SAFETY_TEST_KEY = ['test', 'content', 'safety', 'key'].join('-');

const CATEGORIES = ['Hate', 'SelfHarm', 'Sexual', 'Violence'] as const;
type Category = (typeof CATEGORIES)[number];
const VERSIONS = new Set(['2023-10-01', '2024-09-01']);
const MAX_TEXT = 10_000;

export interface FakeContentSafetyOptions {
  apiKey?: string;
  harms?: Partial<Record<Category, { words: string[]; severe?: string[] }>>;
  blocklists?: Record<string, string[]>;
  attacks?: string[];
}

export type FakeContentSafety = FakeServer<{ kind: 'ok' }>;

const has = (text: string, words: readonly string[] = []) => words.find((w) => text.toLowerCase().includes(w.toLowerCase()));

export async function startFakeContentSafety(opts: FakeContentSafetyOptions = {}): Promise<FakeContentSafety> {
  const key = opts.apiKey ?? CONTENT_SAFETY_TEST_KEY;
  return startFake<{ kind: 'ok' }>({
    basePath: '',
    defaultScenario: { kind: 'ok' },
    async handle(ex) {
      const error = (status: number, code: string, message: string) => sendJson(ex, status, { error: { code, message, details: [] } });
      if (ex.req.headers['ocp-apim-subscription-key'] !== key) {
        return sendJson(ex, 401, { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.' } });
      }
      const version = ex.url.searchParams.get('api-version') ?? '';
      if (!VERSIONS.has(version)) return error(404, 'UnsupportedApiVersion', `The HTTP resource that matches the request URI '${ex.url}' does not support the API version '${version}'.`);
      if (ex.req.method !== 'POST') return error(405, 'MethodNotAllowed', 'The requested resource does not support the method.');
      if (ex.badJson) return error(400, 'InvalidRequestBody', 'The request body is invalid JSON.');
      const body = (ex.record.body ?? {}) as Record<string, unknown>;
      if (ex.url.pathname === '/contentsafety/text:analyze') {
        if (typeof body.text !== 'string' || body.text.length === 0) return error(400, 'InvalidRequestBody', 'The text field is required.');
        if ([...body.text].length > MAX_TEXT) return error(400, 'InvalidRequestBody', `The text is too long: it exceeds the maximum length of ${MAX_TEXT} characters.`);
        const cats = (body.categories as string[] | undefined) ?? [...CATEGORIES];
        for (const c of cats) if (!(CATEGORIES as readonly string[]).includes(c)) return error(400, 'InvalidRequestBody', `The category '${c}' is not supported.`);
        const outputType = (body.outputType as string | undefined) ?? 'FourSeverityLevels';
        if (outputType !== 'FourSeverityLevels' && outputType !== 'EightSeverityLevels') return error(400, 'InvalidRequestBody', `The output type '${outputType}' is not supported.`);
        const names = (body.blocklistNames as string[] | undefined) ?? [];
        for (const n of names) if (!opts.blocklists?.[n]) return error(404, 'NotFound', `The blocklist '${n}' is not found.`);
        const text = body.text;
        const blocklistsMatch = names.flatMap((n) => {
          const w = has(text, opts.blocklists![n]);
          return w ? [{ blocklistName: n, blocklistItemId: `${n}-${w.length}`, blocklistItemText: w }] : [];
        });
        if (blocklistsMatch.length && body.haltOnBlocklistHit === true) return sendJson(ex, 200, { blocklistsMatch, categoriesAnalysis: [] });
        const categoriesAnalysis = cats.map((c) => {
          const h = opts.harms?.[c as Category];
          const severity = has(text, h?.severe) ? 6 : has(text, h?.words) ? 4 : 0;
          return { category: c, severity: outputType === 'EightSeverityLevels' && severity ? severity + 1 : severity };
        });
        return sendJson(ex, 200, { blocklistsMatch, categoriesAnalysis });
      }
      if (ex.url.pathname === '/contentsafety/text:shieldPrompt') {
        if (version === '2023-10-01') return error(404, 'NotFound', 'Resource not found.');
        if (typeof body.userPrompt !== 'string' && !Array.isArray(body.documents)) return error(400, 'InvalidRequestBody', 'Either userPrompt or documents is required.');
        const prompt = typeof body.userPrompt === 'string' ? body.userPrompt : '';
        if ([...prompt].length > MAX_TEXT) return error(400, 'InvalidRequestBody', `The userPrompt is too long: it exceeds the maximum length of ${MAX_TEXT} characters.`);
        const docs = (body.documents as string[] | undefined) ?? [];
        return sendJson(ex, 200, { userPromptAnalysis: { attackDetected: Boolean(has(prompt, opts.attacks)) }, documentsAnalysis: docs.map((d) => ({ attackDetected: Boolean(has(d, opts.attacks)) })) });
      }
      return error(404, 'NotFound', 'Resource not found.');
    },
  });
}
