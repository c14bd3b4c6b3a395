/**
 * Deterministic test payloads for the WebRTC transport page, its tests and its bench: both ends regenerate
 * the bytes from (size, seed), so only a verdict crosses the page boundary, never megabytes.
 */
export function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export function matchesPattern(data: Uint8Array, size: number, seed: number): boolean {
  if (data.byteLength !== size) return false;
  const want = pattern(size, seed);
  for (let i = 0; i < size; i++) if (data[i] !== want[i]) return false;
  return true;
}
