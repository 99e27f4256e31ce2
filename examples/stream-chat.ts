// An internal service calling Signalbox with the typed client, streaming the answer.
// Run the gateway (`npm start`), then: `npm run example:stream -- "your prompt"`.

import { createSignalboxClient, systemText, userText } from "@signalbox/client";

const client = createSignalboxClient({
  baseUrl: process.env.SIGNALBOX_URL ?? "http://127.0.0.1:8080",
  apiKey: process.env.SIGNALBOX_API_KEY,
  protocol: (process.env.SIGNALBOX_PROTOCOL as "connect" | "grpc" | "grpc-web") ?? "connect",
});

const prompt = process.argv.slice(2).join(" ") || "Write a haiku about failover.";
const stream = client.chat.stream(
  {
    model: process.env.SIGNALBOX_MODEL ?? "default",
    messages: [systemText("You are terse."), userText(prompt)],
    maxOutputTokens: 200,
    tags: ["example"],
  },
  { timeoutMs: 30_000 },
);

for await (const ev of stream) {
  switch (ev.event.case) {
    case "start":
      process.stderr.write(`[answering: ${ev.event.value.deployment} via route "${ev.event.value.routing?.route}", trace ${ev.event.value.traceId}]\n`);
      break;
    case "delta":
      process.stdout.write(ev.event.value.text);
      break;
    case "finish": {
      const f = ev.event.value;
      process.stdout.write("\n");
      process.stderr.write(
        `[finish: ${f.rawFinishReason}; ${f.usage?.inputTokens} in / ${f.usage?.outputTokens} out tokens; ` +
          `$${(Number(f.cost?.totalNanoUsd ?? 0n) / 1e9).toFixed(8)}; ${f.attempts.length} attempt(s)]\n`,
      );
      break;
    }
  }
}
