// The mock's moderation: OpenAI's thirteen categories, each scored by whether the text has one of a
// few words (0.93 when it does, and its parent category too; a small score otherwise), flagged at
// 0.5. Deterministic, so a demo (or a test) can flag on purpose: "I will attack you" is violence.

import type { ModerationVerdict } from "../types.ts";

/** The categories, in OpenAI's order, and the words that put a text in each. */
export const MOCK_MODERATION_WORDS: Readonly<Record<string, readonly string[]>> = {
  harassment: ["idiot", "stupid", "loser"],
  "harassment/threatening": ["i will find you", "watch your back"],
  hate: ["hateword"],
  "hate/threatening": ["hateword threat"],
  illicit: ["steal", "lockpick", "counterfeit"],
  "illicit/violent": ["build a bomb", "make a weapon"],
  "self-harm": ["hurt myself"],
  "self-harm/intent": ["i want to hurt myself"],
  "self-harm/instructions": ["how to hurt myself"],
  sexual: ["explicit"],
  "sexual/minors": ["explicit minor"],
  violence: ["kill", "murder", "attack"],
  "violence/graphic": ["gore", "blood everywhere"],
};

const FLAG = 0.5;

export function mockModerate(texts: readonly string[], images: number): ModerationVerdict {
  const lower = texts.join("\n").toLowerCase();
  const scores: Record<string, number> = {};
  for (const [cat, words] of Object.entries(MOCK_MODERATION_WORDS)) {
    if (words.some((w) => new RegExp(`\\b${w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`).test(lower))) {
      scores[cat] = 0.93;
      const parent = cat.split("/")[0];
      if (parent !== cat) scores[parent] = Math.max(scores[parent] ?? 0, 0.93);
    } else scores[cat] ??= 0.0001;
  }
  const categories = Object.fromEntries(Object.entries(scores).map(([k, v]) => [k, v >= FLAG]));
  const types = images > 0 ? ["text", "image"] : ["text"];
  return { flagged: Object.values(categories).some(Boolean), categories, scores, appliedInputTypes: Object.fromEntries(Object.keys(scores).map((k) => [k, types])) };
}
