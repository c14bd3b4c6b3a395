/// <reference lib="webworker" />
/**
 * Dedicated Web Worker of the model owner page: holds the model, splits it into the three parties' shares for
 * the manifests (prepareSeededSharing: WebAssembly ChaCha20 and splitting, sha256 per part, parts dropped) off
 * the page's main thread, then makes the parts the parties ask for again from the seeds (resplitSource), one at
 * a time, handed to the page by transfer. Exposed with Comlink; started by owner-sharing-host.ts.
 */
import * as Comlink from 'comlink';
import { deliveredCalls } from './delivered-calls.ts';
import type { Model } from '@puma/models';
import { prepareSeededSharing, resplitSource, type PartRef, type PrepareSharesOptions, type SeededSharing } from '../session/index.ts';

export type OwnerSharingInput = Omit<PrepareSharesOptions, 'model' | 'onProgress'>;

let model: Model | undefined;
let sharing: SeededSharing | undefined;
let reading: AsyncIterator<Uint8Array> | undefined;

const api = {
  /** Takes the model (its buffers transferred or copied by the caller). */
  setModel(m: Model): void {
    model = m;
  },
  /** A fresh sharing of the model: manifests and seeds, no parts. */
  async share(input: OwnerSharingInput, onProgress: (done: number, total: number) => void): Promise<SeededSharing> {
    if (!model) throw new Error('owner sharing worker: no model was given');
    const progress = deliveredCalls(onProgress);
    sharing = await prepareSeededSharing({ ...input, model, onProgress: progress.call });
    await progress.delivered();
    return sharing;
  },
  /** Serves parts of a sharing made before (kept by the page) instead of one made here. */
  useSharing(kept: SeededSharing): void {
    sharing = kept;
  },
  /** Starts making `refs`' parts; take them with next(). */
  read(refs: PartRef[]): void {
    if (!model || !sharing) throw new Error('owner sharing worker: parts asked for before the model and its sharing were given');
    reading = resplitSource({ model, sharing }).read(refs)[Symbol.asyncIterator]();
  },
  /** The next part of the current read, moved to the caller; null at its end. */
  async next(): Promise<Uint8Array | null> {
    if (!reading) throw new Error('owner sharing worker: next() before read()');
    const r = await reading.next();
    if (r.done) return null;
    return Comlink.transfer(r.value, [r.value.buffer as ArrayBuffer]);
  },
};

export type OwnerSharingWorkerApi = typeof api;

Comlink.expose(api);
