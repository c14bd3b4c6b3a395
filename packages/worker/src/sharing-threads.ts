/**
 * The model owner's sharing on two threads (Node: `puma share`, bench sharing): a helper thread
 * (sharing-thread-entry.ts) splits the last part of each tensor, from a block boundary on, with its own
 * WebAssembly dealer splitter (firstWord continues the same two streams, so the words are the one-thread
 * split's bit for bit), and computes every part's sha256, while the calling thread splits the first part.
 * Dense buffers are SharedArrayBuffers, so neither the helper's words nor the hashing are copied; only the
 * helper's input values are (one copy into a shared buffer reused across tensors).
 *
 * The thread takes about a second to start (TypeScript loader, module, WebAssembly compile): until it says it
 * is ready the caller splits and hashes alone (node:crypto), so the start costs no wall time.
 *
 * Balance, from CPU times on this project's 2-core machine: the split costs about 17 ns per weight, hashing a
 * dense word about 5 ns on the helper (SHA-NI), copying the helper's values about 1 ns on the caller. With
 * the caller taking CALLER_SHARE of each tensor both threads have about 11 ns per weight to do.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { createDealerSplitter } from '@puma/backend-wasm';
import { SEED_NONCE } from '@puma/protocol';
import type { FloatArray } from '@puma/models';
import type { SharingHelper } from './session/shares.ts';
import type { SharingReply, SharingRequest } from './sharing-thread-entry.ts';

/** The caller's part of each tensor's split; the helper, which also hashes, takes the rest. */
const CALLER_SHARE = 0.63;
/** Below this many weights a tensor is split in the calling thread alone (a message costs more). */
const MIN_SHARED_WORDS = 1 << 16;
const WORDS_PER_BLOCK = 8;
const BOOT = new URL('./sharing-thread-boot.mjs', import.meta.url);

export interface SharingThreads extends SharingHelper {
  /** Resolves once the helper thread has started (until then the caller works alone); rejects if it failed. */
  ready(): Promise<void>;
  /** Weights split so far by the calling thread and by the helper. */
  readonly words: { caller: number; helper: number };
  /** Ends the helper thread; pending requests fail. */
  close(): Promise<void>;
}

type Answer = Exclude<SharingReply, { ready: true }>;
type RequestBody = SharingRequest extends infer R ? (R extends SharingRequest ? Omit<R, 'id'> : never) : never;

/** Starts the helper thread (and the caller's splitter); pass the result as streamOwnerShares' helper. */
export async function createSharingThreads(): Promise<SharingThreads> {
  const splitter = await createDealerSplitter();
  const worker = new Worker(BOOT);
  const pending = new Map<number, { resolve: (r: Answer) => void; reject: (e: Error) => void }>();
  let failure: Error | undefined;
  let ready = false;
  let started!: { resolve: () => void; reject: (e: Error) => void };
  const whenReady = new Promise<void>((resolve, reject) => (started = { resolve, reject }));
  whenReady.catch(() => {});
  const words = { caller: 0, helper: 0 };
  let nextId = 0;
  const fail = (e: Error) => {
    failure ??= e;
    started.reject(failure);
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  worker.on('message', (r: SharingReply) => {
    if ('ready' in r) {
      ready = true;
      started.resolve();
      return;
    }
    const p = pending.get(r.id);
    pending.delete(r.id);
    if (!p) return;
    if (r.error !== undefined) p.reject(new Error(r.error));
    else p.resolve(r);
  });
  worker.on('error', (e) => fail(new Error(`the sharing helper thread failed: ${e.message}`)));
  worker.on('exit', (code) => fail(new Error(`the sharing helper thread ended (exit code ${code})`)));

  const request = (body: RequestBody): Promise<Answer> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...body, id });
    });
  };

  // The helper's input values, copied into a shared buffer that grows to the largest part it has been sent.
  let input = new SharedArrayBuffer(0);
  const sharedCopy = (values: FloatArray): FloatArray => {
    if (input.byteLength < values.byteLength) input = new SharedArrayBuffer(values.byteLength);
    const copy = values instanceof Float32Array ? new Float32Array(input, 0, values.length) : new Float64Array(input, 0, values.length);
    copy.set(values);
    return copy;
  };

  return {
    allocate: (words) => new BigUint64Array(new SharedArrayBuffer(words * 8)),
    async split(values, fracBits, seedA, seedB, what, out) {
      const n = values.length;
      if (failure) throw failure;
      // The ready message is a task: without a turn of the event loop (the stream's awaits are microtasks) it
      // would never be heard and the caller would work alone to the end.
      if (!ready) await new Promise((resolve) => setImmediate(resolve));
      const shared = ready && out.buffer instanceof SharedArrayBuffer && n >= MIN_SHARED_WORDS;
      const h = shared ? Math.floor((n * CALLER_SHARE) / WORDS_PER_BLOCK) * WORDS_PER_BLOCK : n;
      const helped = h < n
        ? request({ kind: 'split', values: sharedCopy(values.subarray(h)), fracBits, seeds: [seedA, seedB], nonce: SEED_NONCE, what, out: out.subarray(h), firstWord: h })
        : undefined;
      try {
        splitter.encodeAndSubtract(values.subarray(0, h), fracBits, [seedA, seedB], SEED_NONCE, what, out.subarray(0, h));
        words.caller += h;
      } catch (e) {
        // The helper still writes its range and uses the input buffer: let it finish before the next request.
        await helped?.catch(() => {});
        throw e;
      }
      await helped;
      words.helper += n - h;
      return out;
    },
    async hash(parts) {
      if (failure) throw failure;
      if (!ready) return parts.map((p) => createHash('sha256').update(p).digest('hex'));
      const { sums } = await request({ kind: 'hash', parts: [...parts] });
      return sums!;
    },
    ready: () => whenReady,
    words,
    async close() {
      fail(new Error('the sharing helper thread was closed'));
      await worker.terminate();
    },
  };
}
