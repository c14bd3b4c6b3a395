/**
 * Page side of the model owner's sharing: runs streamOwnerShares in a dedicated Web Worker
 * (owner-sharing-worker.ts) and returns the shares, so the page's main thread only sends the model and
 * receives the parts, both by transfer, and shows progress. With `transferModel` the model's weight buffers
 * move to the worker and are unusable in the page afterwards (no copy of a large model on the main thread).
 */
import * as Comlink from 'comlink';
import type { Model } from '@puma/models';
import type { OwnerShares, PrepareSharesOptions } from '../session/index.ts';
import type { OwnerSharingWorkerApi } from './owner-sharing-worker.ts';
import { transferablesOf } from './transferables.ts';

export interface WorkerSharingOptions extends PrepareSharesOptions {
  /** Moves the weights' buffers to the worker instead of copying them; the page's model is then detached. */
  transferModel?: boolean;
}

/** Every typed array among the model's tensors (embeddings, layers, norms, head). */
function weightViews(model: Model): ArrayBufferView[] {
  const out: ArrayBufferView[] = [];
  const visit = (v: unknown): void => {
    if (ArrayBuffer.isView(v)) out.push(v);
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(model.weights);
  return out;
}

/** Splits the model in a Web Worker; rejects with the worker's error (a bad tensor, a failed script load). */
export async function shareModelInWorker(o: WorkerSharingOptions): Promise<OwnerShares> {
  const worker = new Worker(new URL('./owner-sharing-worker.ts', import.meta.url), { type: 'module', name: 'puma owner sharing' });
  const remote = Comlink.wrap<OwnerSharingWorkerApi>(worker);
  const crashed = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (ev) => {
      ev.preventDefault();
      reject(new Error(`model owner: the sharing worker failed: ${ev.message || 'script error (see the console)'}`));
    });
  });
  const { onProgress, transferModel, ...input } = o;
  const transfers = transferModel ? transferablesOf(weightViews(o.model)) : [];
  try {
    return await Promise.race([
      remote.share(Comlink.transfer(input, transfers), Comlink.proxy((done: number, total: number) => onProgress?.(done, total))),
      crashed,
    ]);
  } finally {
    remote[Comlink.releaseProxy]();
    worker.terminate();
  }
}
