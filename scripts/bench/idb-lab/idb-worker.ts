/**
 * The IndexedDB read bench's worker (a dedicated worker, where a party page's shares are read): writes parts of
 * a given size as Uint8Array or as Blob values into an idb-keyval store, then reads them all back by one of the
 * ways the store could: one get (one transaction) at a time, several gets in flight, or getMany (one
 * transaction per batch). A Blob value's bytes are read with arrayBuffer(), and every read touches each page of
 * its bytes so that no way of reading is timed before its bytes are in this thread's hands.
 */
import { clear, createStore, get, getMany, set, type UseStore } from 'idb-keyval';

export type PartFormat = 'u8' | 'blob';
export type ReadMode = 'get' | 'getMany';

export type IdbLabRequest =
  | { kind: 'write'; format: PartFormat; partBytes: number; parts: number }
  | { kind: 'read'; format: PartFormat; parts: number; mode: ReadMode; depth: number }
  | { kind: 'clear' };

export interface IdbLabResult {
  ms: number;
  bytes: number;
}

const store: UseStore = createStore('puma-idb-lab', 'parts');
const keyOf = (k: number) => `part/${k}`;

async function write(format: PartFormat, partBytes: number, parts: number): Promise<IdbLabResult> {
  await clear(store);
  const t0 = performance.now();
  for (let k = 0; k < parts; k++) {
    const bytes = new Uint8Array(partBytes);
    // Distinct contents per part (a compressing store would otherwise flatter the reads).
    const words = new Uint32Array(bytes.buffer);
    for (let i = 0; i < words.length; i++) words[i] = Math.imul(i + 1, 2654435761) ^ k;
    await set(keyOf(k), format === 'blob' ? new Blob([bytes]) : bytes, store);
  }
  return { ms: performance.now() - t0, bytes: partBytes * parts };
}

/** The part's bytes in this thread, each 4 KiB page touched once. */
async function bytesOf(value: unknown, k: number): Promise<Uint8Array> {
  let bytes: Uint8Array;
  if (value instanceof Blob) bytes = new Uint8Array(await value.arrayBuffer());
  else if (value instanceof Uint8Array) bytes = value;
  else throw new Error(`part ${k}: stored value is ${Object.prototype.toString.call(value)}, not a Uint8Array or Blob`);
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i];
  if (Number.isNaN(sum)) throw new Error('unreachable');
  return bytes;
}

async function read(parts: number, mode: ReadMode, depth: number): Promise<IdbLabResult> {
  if (!Number.isInteger(depth) || depth < 1) throw new Error(`depth must be a whole number >= 1, got ${depth}`);
  const t0 = performance.now();
  let bytes = 0;
  if (mode === 'getMany') {
    for (let k = 0; k < parts; k += depth) {
      const ks = Array.from({ length: Math.min(depth, parts - k) }, (_, i) => k + i);
      const values = await getMany(ks.map(keyOf), store);
      for (const [i, v] of values.entries()) bytes += (await bytesOf(v, ks[i])).byteLength;
    }
  } else {
    // `depth` reads in flight, each its own transaction (idb-keyval's get), taken in key order.
    const inFlight: Array<Promise<Uint8Array>> = [];
    for (let k = 0; k < parts; k++) {
      inFlight.push(get(keyOf(k), store).then((v) => bytesOf(v, k)));
      if (inFlight.length >= depth) bytes += (await inFlight.shift()!).byteLength;
    }
    for (const p of inFlight) bytes += (await p).byteLength;
  }
  return { ms: performance.now() - t0, bytes };
}

self.onmessage = async (e: MessageEvent<{ id: number; request: IdbLabRequest }>) => {
  const { id, request: r } = e.data;
  try {
    const result = r.kind === 'write' ? await write(r.format, r.partBytes, r.parts)
      : r.kind === 'read' ? await read(r.parts, r.mode, r.depth)
      : (await clear(store), { ms: 0, bytes: 0 });
    self.postMessage({ id, result });
  } catch (err) {
    self.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
};
