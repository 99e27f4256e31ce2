// Vector store search in process: building a store's index (unit vectors, keyword postings) and ranking
// 10,000 chunks of 300 words against a query, at 256 and 1,536 dimensions, hybrid (keywords 0.3)
// and semantic only. Usage: node bench/vector-search.ts

import { buildIndex, rank, unitVector } from "../src/vectors/search.ts";
const words = "the quick brown fox jumps over lazy dog gateway model route vector search leave policy travel expense budget token stream fallback provider".split(" ");
const vocab = Array.from({ length: 5000 }, (_, i) => `w${i}`).concat(words);
const rnd = () => Math.random() * 2 - 1;
for (const dims of [256, 1536]) {
  const chunks = Array.from({ length: 10_000 }, (_, i) => ({ fileId: `f${i % 50}`, n: i, tokens: 400, text: Array.from({ length: 300 }, () => vocab[Math.floor(Math.random() * vocab.length)]).join(" "), vector: unitVector(Float32Array.from({ length: dims }, rnd)) }));
  let t = performance.now();
  const index = await buildIndex(chunks);
  console.log(dims, "build", (performance.now() - t).toFixed(0), "ms");
  const q = [{ text: "what is the leave policy", unit: unitVector(Float32Array.from({ length: dims }, rnd)) }];
  for (const kw of [0.3, 0]) {
    rank(index, q, kw, 10);
    t = performance.now();
    for (let i = 0; i < 20; i++) rank(index, q, kw, 10);
    console.log(dims, kw, ((performance.now() - t) / 20).toFixed(2), "ms");
  }
}
