/**
 * Compact byte trie over UTF-8 keys, used for the vocabulary (Viterbi lattice, piece lookup) and
 * for the user-defined-symbol prefix matcher. Children of a node are stored contiguously in
 * ascending byte order, so a step is a binary search; all arrays are typed (11 bytes per node).
 * @module
 */

/** Trie arrays; node 0 is the root. */
export interface ByteTrie {
  /** Index of the first child of each node. */
  firstChild: Int32Array;
  /** Number of children of each node. */
  childCount: Uint16Array;
  /** Byte on the edge into each node. */
  label: Uint8Array;
  /** Value of the key ending at each node, or -1. */
  value: Int32Array;
}

/** A key: its text (for sorting) and its UTF-8 bytes. */
export interface TrieKey {
  /** The key as a string. */
  piece: string;
  /** UTF-8 encoding of `piece`. */
  bytes: Uint8Array;
}

/**
 * Builds a trie from keys and their values. Keys are sorted once (native string comparison,
 * the cheapest sort available), which makes the keys below each node one contiguous run and its
 * children the runs of equal next byte; nodes are then allocated breadth-first, so each node's
 * children are consecutive. UTF-16 order equals UTF-8 byte order except that U+E000..U+FFFF sort
 * after supplementary characters, so a node's runs are re-sorted by byte where needed.
 * @param keys Distinct, non-empty keys.
 * @param values One value (>= 0) per key.
 * @throws {RangeError} When a key is empty or repeated.
 */
export function buildByteTrie(keys: readonly TrieKey[], values: readonly number[]): ByteTrie {
  const order = Array.from(keys, (_, i) => i);
  order.sort((
    a,
    b,
  ) => (keys[a].piece < keys[b].piece ? -1 : keys[a].piece > keys[b].piece ? 1 : 0));
  const sorted = order.map((i) => keys[i].bytes);
  let maxNodes = 1;
  for (const k of sorted) {
    if (k.length === 0) throw new RangeError("Cannot build the piece trie: empty key");
    maxNodes += k.length;
  }
  const firstChild = new Int32Array(maxNodes);
  const childCount = new Uint16Array(maxNodes);
  const label = new Uint8Array(maxNodes);
  const value = new Int32Array(maxNodes).fill(-1);
  let nodes = 1;
  const stack: number[] = [0, sorted.length, 0, 0]; // (lo, hi, depth, node) quadruples
  const runs: number[] = []; // (byte, lo, hi) triples of the current node
  while (stack.length > 0) {
    const node = stack.pop()!;
    const depth = stack.pop()!;
    const hi = stack.pop()!;
    let lo = stack.pop()!;
    if (lo < hi && sorted[lo].length === depth) {
      if (lo + 1 < hi && sorted[lo + 1].length === depth) {
        throw new RangeError(`Cannot build the piece trie: "${keys[order[lo]].piece}" is repeated`);
      }
      value[node] = values[order[lo]];
      lo++;
    }
    runs.length = 0;
    let ascending = true;
    while (lo < hi) {
      const b = sorted[lo][depth];
      let end = lo + 1;
      while (end < hi && sorted[end][depth] === b) end++;
      if (runs.length > 0 && runs[runs.length - 3] >= b) ascending = false;
      runs.push(b, lo, end);
      lo = end;
    }
    const count = runs.length / 3;
    const at = ascending ? [] : Array.from({ length: count }, (_, r) => r)
      .sort((x, y) => runs[3 * x] - runs[3 * y]);
    firstChild[node] = nodes;
    childCount[node] = count;
    for (let r = 0; r < count; r++) {
      const k = 3 * (ascending ? r : at[r]);
      if (r > 0 && label[nodes - 1] === runs[k]) {
        throw new RangeError("Cannot build the piece trie: keys with one prefix are not adjacent");
      }
      label[nodes] = runs[k];
      stack.push(runs[k + 1], runs[k + 2], depth + 1, nodes);
      nodes++;
    }
  }
  return {
    firstChild: firstChild.slice(0, nodes),
    childCount: childCount.slice(0, nodes),
    label: label.slice(0, nodes),
    value: value.slice(0, nodes),
  };
}

/** Returns the child of `node` along byte `b`, or -1. */
export function trieStep(trie: ByteTrie, node: number, b: number): number {
  let lo = trie.firstChild[node];
  let hi = lo + trie.childCount[node] - 1;
  const label = trie.label;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const l = label[mid];
    if (l === b) return mid;
    if (l < b) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Length in bytes of the longest key that is a prefix of `text[start:end]`, or 0. */
export function longestPrefix(
  trie: ByteTrie,
  text: Uint8Array,
  start: number,
  end: number,
): number {
  let node = 0;
  let best = 0;
  for (let i = start; i < end; i++) {
    node = trieStep(trie, node, text[i]);
    if (node < 0) break;
    if (trie.value[node] >= 0) best = i + 1 - start;
  }
  return best;
}

/** Value of the key equal to `bytes`, or -1. */
export function trieFind(trie: ByteTrie, bytes: Uint8Array): number {
  let node = 0;
  for (let i = 0; i < bytes.length && node >= 0; i++) node = trieStep(trie, node, bytes[i]);
  return node >= 0 ? trie.value[node] : -1;
}
