// Aho–Corasick over UTF-16 code units: every needle found in one left-to-right pass, in time
// linear in the text (plus the matches), however many needles a deny list holds.

export interface WordAutomaton {
  /** Length of the longest needle. */
  readonly maxLength: number;
  /**
   * Calls `onMatch(start, end)` for every occurrence of every needle. Returns the depth of the
   * final state: the length of the longest suffix of `text` that begins some needle. When
   * `probe` is given, `depthAt.value` is set to the depth after reading text[0, probe).
   */
  run(text: string, onMatch: (start: number, end: number) => void, probe?: { at: number; value: number }): number;
}

export function createWordAutomaton(needles: readonly string[]): WordAutomaton {
  const edges = new Map<number, number>(); // node * 65536 + code unit → node
  const depth: number[] = [0];
  const fail: number[] = [0];
  const out: number[] = [0]; // length of the needle ending at the node (0: none)
  const dict: number[] = [-1]; // nearest node down the fail chain that ends a needle
  let maxLength = 0;
  for (const needle of new Set(needles)) {
    if (needle.length === 0) continue;
    maxLength = Math.max(maxLength, needle.length);
    let node = 0;
    for (let i = 0; i < needle.length; i++) {
      const key = node * 65536 + needle.charCodeAt(i);
      let next = edges.get(key);
      if (next === undefined) {
        next = depth.length;
        depth.push(depth[node] + 1);
        fail.push(0);
        out.push(0);
        dict.push(-1);
        edges.set(key, next);
      }
      node = next;
    }
    out[node] = needle.length;
  }
  // Breadth-first: fail links point to the longest proper suffix that is also a prefix.
  const children = new Map<number, [number, number][]>();
  for (const [key, child] of edges) {
    const parent = Math.floor(key / 65536);
    const list = children.get(parent) ?? [];
    list.push([key % 65536, child]);
    children.set(parent, list);
  }
  const queue: number[] = [0];
  for (let q = 0; q < queue.length; q++) {
    const node = queue[q];
    for (const [code, child] of children.get(node) ?? []) {
      if (node !== 0) {
        let f = fail[node];
        while (f !== 0 && !edges.has(f * 65536 + code)) f = fail[f];
        fail[child] = edges.get(f * 65536 + code) ?? 0;
        if (fail[child] === child) fail[child] = 0;
      }
      dict[child] = out[fail[child]] > 0 ? fail[child] : dict[fail[child]];
      queue.push(child);
    }
  }
  // ASCII transitions in a flat table (-1: none); others through the map.
  const ascii = new Int32Array(depth.length * 128).fill(-1);
  for (const [key, child] of edges) if (key % 65536 < 128) ascii[Math.floor(key / 65536) * 128 + (key % 65536)] = child;
  const step = (node: number, code: number): number => {
    if (code < 128) {
      let next = ascii[node * 128 + code];
      while (next === -1 && node !== 0) {
        node = fail[node];
        next = ascii[node * 128 + code];
      }
      return next === -1 ? 0 : next;
    }
    let next = edges.get(node * 65536 + code);
    while (next === undefined && node !== 0) {
      node = fail[node];
      next = edges.get(node * 65536 + code);
    }
    return next ?? 0;
  };
  return {
    maxLength,
    run(text, onMatch, probe) {
      let node = 0;
      for (let i = 0; i < text.length; i++) {
        if (probe !== undefined && probe.at === i) probe.value = depth[node];
        node = step(node, text.charCodeAt(i));
        for (let m = out[node] > 0 ? node : dict[node]; m > 0; m = dict[m]) onMatch(i + 1 - out[m], i + 1);
      }
      if (probe !== undefined && probe.at === text.length) probe.value = depth[node];
      return depth[node];
    },
  };
}
