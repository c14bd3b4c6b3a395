/// <reference lib="webworker" />
/**
 * Dedicated Web Worker of the model owner page: loads the model from the picked files or URLs (so the page
 * never holds the weights, nor the files they came from), holds it, splits it into the three parties' shares for
 * the manifests (prepareSeededSharing: WebAssembly ChaCha20 and splitting, sha256 per part, parts dropped) off
 * the page's main thread, once the owner's domain check (session/owner-domain.ts) has passed it and settled the
 * description it publishes (its norm windows) or the person chose to skip it, then makes the parts the parties
 * ask for again from the seeds (resplitSource), one at a time, handed to the page by transfer. Exposed with
 * Comlink; started by owner-sharing-host.ts.
 */
import * as Comlink from 'comlink';
import { deliveredCalls } from './delivered-calls.ts';
import type { Model } from '@puma/models';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import {
  decideOwnerDomain, newResplitTiming, ownerModelInfo, prepareSeededSharing, resplitSource,
  type OwnerDomainOptions, type OwnerDomainVerdict, type OwnerModelInfo, type PartRef, type PrepareSharesOptions, type ResplitTiming, type SeededSharing,
} from '../session/index.ts';
import { loadOwnerModelSource, type OwnerModelSource } from './owner-model-blobs.ts';

export type OwnerSharingInput = Omit<PrepareSharesOptions, 'model' | 'onProgress'>;

let model: Model | undefined;
/** The loaded model's public info: its name and tokenizer for the domain check. */
let loadedInfo: OwnerModelInfo | undefined;
/** The model as it is shared (its description settled by the domain check), and the fraction bits it was checked at. */
let published: { model: Model; fracBits: number | undefined } | undefined;
let sharing: SeededSharing | undefined;
let reading: AsyncIterator<Uint8Array> | undefined;
/** Where making parts went, over every read of this worker. */
const timing = newResplitTiming();

const api = {
  /** Takes the model (its buffers transferred or copied by the caller), shared with the description it has. */
  setModel(m: Model): void {
    model = m;
    published = { model: m, fracBits: undefined };
  },
  /** Loads the model here from the page's files or URLs; the page gets what it shows, not the weights. */
  async loadModel(source: OwnerModelSource): Promise<OwnerModelInfo> {
    const loaded = await loadOwnerModelSource(source);
    model = loaded.model;
    loadedInfo = ownerModelInfo(loaded);
    published = undefined;
    return loadedInfo;
  },
  /**
   * The owner's domain check of the loaded model at the sharing's fraction bits, or its skip (the person's
   * choice): a model it passes is shared with its norm windows, one it refuses is not shared.
   */
  checkDomain(o: { skip: boolean; fracBits?: number; recorded?: OwnerDomainOptions['recorded'] }): OwnerDomainVerdict {
    if (!model || !loadedInfo) throw new Error('owner sharing worker: domain check before a model was loaded');
    const fracBits = o.fracBits ?? DEFAULT_FRAC_BITS;
    const decision = decideOwnerDomain(model, { name: loadedInfo.modelId, tokenizer: loadedInfo.tokenizer, fracBits, skip: o.skip, recorded: o.recorded });
    published = decision.published ? { model: decision.published, fracBits } : undefined;
    return decision.verdict;
  },
  /** A fresh sharing of the model: manifests and seeds, no parts. */
  async share(input: OwnerSharingInput, onProgress: (done: number, total: number) => void): Promise<SeededSharing> {
    if (!model) throw new Error('owner sharing worker: no model was given');
    if (!published) throw new Error("owner sharing worker: the loaded model has not passed the owner's domain check (nor was the check skipped)");
    const fracBits = input.fracBits ?? DEFAULT_FRAC_BITS;
    if (published.fracBits !== undefined && published.fracBits !== fracBits) {
      throw new Error(`owner sharing worker: the domain check ran at ${published.fracBits} fraction bits, the sharing asks for ${fracBits}`);
    }
    const progress = deliveredCalls(onProgress);
    sharing = await prepareSeededSharing({ ...input, model: published.model, onProgress: progress.call });
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
