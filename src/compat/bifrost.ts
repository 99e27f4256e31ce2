// Bifrost's integration paths, so an app pointed at Bifrost works with only its host changed: an
// OpenAI SDK with base URL `…/openai` calls `/openai/chat/completions` (or `/openai/v1/…`),
// Anthropic's SDK with `…/anthropic` calls `/anthropic/v1/messages`, Google's Gen AI SDK with
// `…/genai` calls `/genai/v1beta/…`. The server rewrites them to the gateway's own paths before
// anything else reads the URL (body limits, CORS, the doors, WebSocket upgrades). Bifrost's
// virtual key header (x-bf-vk) is the caller's key (./handler.ts), and its body's `fallbacks`
// are request fallbacks (./request.ts).

/** The gateway's path for one of Bifrost's integration paths, or undefined. */
export function bifrostPath(url: string): string | undefined {
  if (url.startsWith("/openai/")) return url.startsWith("/openai/v1/") ? url.slice(7) : `/v1${url.slice(7)}`;
  if (url.startsWith("/anthropic/v1/")) return url.slice(10);
  if (url.startsWith("/genai/v1beta/")) return url.slice(6);
  return undefined;
}
