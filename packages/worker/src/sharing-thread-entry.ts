/**
 * Body of the owner sharing's helper thread (sharing-threads.ts): splits the ranges it is sent with its own
 * WebAssembly dealer splitter, writing into the shared buffer it is given, and hashes parts with node:crypto,
 * reading shared buffers in place (WebCrypto refuses views of SharedArrayBuffers). Requests are answered in
 * the order they come, each with its id. It imports the splitter only (the nonce comes with each request), so
 * that it starts quickly.
 */
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { createDealerSplitter } from '@puma/backend-wasm';

export type SharingRequest =
  | {
    kind: 'split'; id: number; values: Float32Array | Float64Array; fracBits: number; seeds: [Uint32Array, Uint32Array]; nonce: Uint32Array;
    what: string; out: BigUint64Array; firstWord: number;
  }
  | { kind: 'hash'; id: number; parts: Uint8Array[] };

/** The first message says the thread is ready; then one reply per request. */
export type SharingReply = { ready: true } | { id: number; error?: string; sums?: string[] };

const port = parentPort!;
const splitter = await createDealerSplitter();
port.postMessage({ ready: true } satisfies SharingReply);
port.on('message', (m: SharingRequest) => {
  try {
    if (m.kind === 'split') {
      splitter.encodeAndSubtract(m.values, m.fracBits, m.seeds, m.nonce, m.what, m.out, m.firstWord);
      port.postMessage({ id: m.id } satisfies SharingReply);
    } else {
      port.postMessage({ id: m.id, sums: m.parts.map((p) => createHash('sha256').update(p).digest('hex')) } satisfies SharingReply);
    }
  } catch (e) {
    port.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) } satisfies SharingReply);
  }
});
