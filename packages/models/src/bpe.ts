/**
 * The merge loop shared by both BPE tokenizers: repeatedly merge the adjacent pair with the best (lowest)
 * priority, the leftmost one on ties, until no adjacent pair can merge.
 *
 * Rescanning all pairs after each merge (as llama2.c's run.c does) is quadratic and hangs on long inputs
 * without spaces; here the candidate pairs sit in a heap over a linked list of symbols, and entries made stale by
 * an earlier merge are skipped when popped, so a text of n symbols takes O(n log n). The order of merges is the
 * same as the rescanning loop's: each step takes the current best pair, leftmost on ties (a merged symbol keeps
 * its left part's start index, so start indices order the current symbols).
 */

export interface Merge<T> {
  /** Lower merges first. */
  readonly priority: number;
  readonly merged: T;
}

interface Candidate<T> {
  readonly priority: number;
  readonly left: number;
  readonly right: number;
  readonly a: T;
  readonly b: T;
  readonly merged: T;
}

function before<T>(x: Candidate<T>, y: Candidate<T>): boolean {
  return x.priority < y.priority || (x.priority === y.priority && x.left < y.left);
}

class CandidateHeap<T> {
  readonly #items: Candidate<T>[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(c: Candidate<T>): void {
    const h = this.#items;
    h.push(c);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  pop(): Candidate<T> {
    const h = this.#items;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

/** Merges `symbols` with `pairMerge(a, b)` (undefined: the pair cannot merge); returns the final symbols. */
export function mergePairs<T>(symbols: readonly T[], pairMerge: (a: T, b: T) => Merge<T> | undefined): T[] {
  const n = symbols.length;
  const sym = [...symbols];
  const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
  const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
  const alive = new Uint8Array(n).fill(1);
  const heap = new CandidateHeap<T>();
  const consider = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const m = pairMerge(sym[left], sym[right]);
    if (m) heap.push({ priority: m.priority, left, right, a: sym[left], b: sym[right], merged: m.merged });
  };
  for (let i = 0; i + 1 < n; i++) consider(i, i + 1);
  while (heap.size > 0) {
    const c = heap.pop();
    if (!alive[c.left] || !alive[c.right] || next[c.left] !== c.right || sym[c.left] !== c.a || sym[c.right] !== c.b) continue;
    sym[c.left] = c.merged;
    alive[c.right] = 0;
    const after = next[c.right];
    next[c.left] = after;
    if (after >= 0) prev[after] = c.left;
    consider(prev[c.left], c.left);
    consider(c.left, after);
  }
  const out: T[] = [];
  for (let i = 0; i >= 0 && i < n; i = next[i]) out.push(sym[i]);
  return out;
}
