// Prompt helpers for callers of PromptService.

import type { PromptParameters } from "./gen/signalbox/v1/prompt_pb.ts";

/**
 * The model parameters a prompt version sets, for people: "temperature 0.2, max output tokens 300,
 * stop \"END\"" ("" when it sets none).
 */
export function promptParametersText(p: PromptParameters | undefined, separator = ", "): string {
  if (!p) return "";
  return [
    p.temperature !== undefined ? `temperature ${p.temperature}` : "",
    p.topP !== undefined ? `top_p ${p.topP}` : "",
    p.maxOutputTokens !== undefined ? `max output tokens ${p.maxOutputTokens}` : "",
    p.stop.length ? `stop ${p.stop.map((x) => JSON.stringify(x)).join(" ")}` : "",
    p.reasoningEffort ? `reasoning effort ${p.reasoningEffort}` : "",
  ]
    .filter(Boolean)
    .join(separator);
}
