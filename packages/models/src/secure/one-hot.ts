/** One-hot rows [ids.length, vocab] as ring integers 0/1 (the client's input to the secure embedding). */
export function oneHot(ids: readonly number[], vocab: number): BigUint64Array {
  const out = new BigUint64Array(ids.length * vocab);
  ids.forEach((id, t) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`token id ${id} is outside the vocabulary of ${vocab}`);
    out[t * vocab + id] = 1n;
  });
  return out;
}
