// What an OpenAI-shaped upstream was sent, as one line per chat message: `role: text`, an
// assistant turn's calls as `[calls <id> <name>, …]`, a tool result as `tool(<call id>): text`.
// Tests of the stateful doors (stored responses, conversations) compare whole conversations with it.

type Message = { role: string; content: unknown; tool_calls?: { id: string; function: { name: string } }[]; tool_call_id?: string };

export function chatTurns(body: { messages: Message[] }): string[] {
  return body.messages.map((m) => {
    const text = typeof m.content === "string" ? m.content : Array.isArray(m.content) ? m.content.map((p: { text?: string }) => p.text ?? "").join("") : "";
    if (m.tool_calls) return `${m.role}: ${text}[calls ${m.tool_calls.map((c) => `${c.id} ${c.function.name}`).join(", ")}]`;
    if (m.role === "tool") return `tool(${m.tool_call_id}): ${text}`;
    return `${m.role}: ${text}`;
  });
}
