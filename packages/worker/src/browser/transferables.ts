/**
 * The distinct ArrayBuffers under typed arrays, for postMessage's transfer list: a buffer may be listed once
 * only (tensors of one file and the shares of one tensor are views of one buffer), and views of a
 * SharedArrayBuffer cannot be transferred (they are shared anyway).
 */
export function transferablesOf(views: Iterable<ArrayBufferView>): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const v of views) if (v.buffer instanceof ArrayBuffer) out.add(v.buffer);
  return [...out];
}
