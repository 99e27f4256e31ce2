// The mock-only gateway config the mirroring tests of the console and the command line share: a
// route mirrored to mock/b, one whose own deployment always fails, one judged by a mock whose
// reply is the judge's verdict (its answers' meanings compared by the mock's bag-of-words
// embeddings), and one not mirrored; then the test's keys.

export function mirrorConfig(judgeReply: string, keys: string): string {
  return `
providers:
  - { name: mock, type: mock }
  - { name: flaky, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
  - { name: judge, type: mock, mock: { reply: '${judgeReply}' } }
  - { name: words, type: mock, mock: { embedding: words, dimensions: 256 } }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: mock/b, provider: mock, model: mock-b, pricing: { input: 3, output: 4 } }
  - { id: mock/flaky, provider: flaky, model: mock-flaky, pricing: { input: 1, output: 1 } }
  - { id: mock/judge, provider: judge, model: mock-judge, pricing: { input: 1, output: 1 } }
  - { id: mock/words, provider: words, model: words-1, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
routes:
  - { name: chat, targets: [mock/a], mirror: { target: mock/b } }
  - { name: down, targets: [mock/flaky], retry: { max_retries: 0 }, mirror: { target: mock/b } }
  - { name: plain, targets: [mock/a] }
  - { name: judged, targets: [mock/a], mirror: { target: mock/b, judge: mock/judge, embedding: mock/words } }
keys:
${keys}
`;
}
