/// <reference lib="webworker" />
/**
 * Dedicated Web Worker of the model owner page: loads the model from the picked files or URLs (so the page
 * never holds the weights, nor the files they came from), holds it, splits it into the three parties' shares for
 * the manifests (prepareSeededSharing: WebAssembly ChaCha20 and splitting, sha256 per part, parts dropped) off
 * the page's main thread, then makes the parts the parties ask for again from the seeds (resplitSource), one at
 * a time, handed to the page by transfer. Exposed with Comlink; started by owner-sharing-host.ts.
 */
import * as Comlink from 'comlink';
import { deliveredCalls } from './delivered-calls.ts';
import type { Model } from '@puma/models';
import { newResplitTiming, ownerModelInfo, prepareSeededSharing, resplitSource, type OwnerModelInfo, type PartRef, type PrepareSharesOptions, type ResplitTiming, type SeededSharing } from '../session/index.ts';
import { loadOwnerModelSource, type OwnerModelSource } from './owner-model-blobs.ts';

export type OwnerSharingInput = Omit<PrepareSharesOptions, 'model' | 'onProgress'>;

let model: Model | undefined;
let sharing: SeededSharing | undefined;
let reading: AsyncIterator<Uint8Array> | undefined;
/** Where making parts went, over every read of this worker. */
const timing = newResplitTiming();

const api = {
  /** Takes the model (its buffers transferred or copied by the caller). */
  setModel(m: Model): void {
    model = m;
  },
  /** Loads the model here from the page's files or URLs; the page gets what it shows, not the weights. */
  async loadModel(source: OwnerModelSource): Promise<OwnerModelInfo> {
    const loaded = await loadOwnerModelSource(source);
    model = loaded.model;
    return ownerModelInfo(loaded);
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
    reading = resplitSource({ model, sharing, timing }).read(refs)[Symbol.asyncIterator]();
  },
  /** The next part of the current read, moved to the caller; null at its end. */
  async next(): Promise<Uint8Array | null> {
    if (!reading) throw new Error('owner sharing worker: next() before read()');
    const r = await reading.next();
    if (r.done) return null;
    return Comlink.transfer(r.value, [r.value.buffer as ArrayBuffer]);
  },
  /** Where making parts has gone so far (milliseconds in this worker). */
  partTiming(): ResplitTiming {
    return { ...timing };
  },
};

export type OwnerSharingWorkerApi = typeof api;

Comlink.expose(api);
