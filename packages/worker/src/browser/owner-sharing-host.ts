/**
 * Page side of the model owner's sharing: a dedicated Web Worker (owner-sharing-worker.ts) holds the model,
 * makes the sharing (manifests and seeds, no parts) and later makes each part a party asks for, so the page's
 * main thread only hands over the model's files (loadModel: the worker reads and parses them, checkDomain runs
 * the owner's domain check on them) or a model
 * (with `transferModel` its weight buffers move to the worker and are unusable in the page afterwards), takes
 * the parts in flight by transfer, and shows progress. The page never holds the sharing: at most PARTS_AHEAD
 * parts wait here to be sent.
 */
import * as Comlink from 'comlink';
import type { Model } from '@puma/models';
import type { OwnerDomainOptions, OwnerDomainVerdict, OwnerModelInfo, OwnerPartSource, PartRef, PrepareSharesOptions, ResplitTiming, SeededSharing } from '../session/index.ts';
import type { OwnerModelSource } from './owner-model-blobs.ts';
import type { OwnerSharingWorkerApi } from './owner-sharing-worker.ts';
import { transferablesOf } from './transferables.ts';

/** Parts asked of the worker ahead of the send loop: they cover a large tensor's split (about 1 s per 100 MB). */
const PARTS_AHEAD = 4;

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

/** The owner's sharing worker: its model, and the parts of one sharing as an OwnerPartSource. */
export class OwnerSharingWorker implements OwnerPartSource {
  private readonly worker: Worker;
  private readonly remote: Comlink.Remote<OwnerSharingWorkerApi>;
  private readonly crashed: Promise<never>;

  /** Starts the worker and gives it `model` (moved there with `transferModel`); without one, call loadModel. */
  constructor(model?: Model, transferModel = false) {
    this.worker = new Worker(new URL('./owner-sharing-worker.ts', import.meta.url), { type: 'module', name: 'puma owner sharing' });
    this.remote = Comlink.wrap<OwnerSharingWorkerApi>(this.worker);
    this.crashed = new Promise<never>((_, reject) => {
      this.worker.addEventListener('error', (ev) => {
        ev.preventDefault();
        reject(new Error(`model owner: the sharing worker failed: ${ev.message || 'script error (see the console)'}`));
      });
    });
    this.crashed.catch(() => {});
    if (!model) return;
    const ready = this.remote.setModel(Comlink.transfer(model, transferModel ? transferablesOf(weightViews(model)) : []));
    ready.catch(() => {});
  }

  /** Loads the model in the worker from picked files or URLs; rejects with the loader's error (a bad file). */
  loadModel(source: OwnerModelSource): Promise<OwnerModelInfo> {
    return this.settle(this.remote.loadModel(source));
  }

  /**
   * Runs the owner's domain check on the loaded model in the worker (or skips it, the person's choice), which
   * settles the description share() publishes; share() refuses a loaded model before this passed it.
   */
  checkDomain(o: { skip: boolean; fracBits?: number; recorded?: OwnerDomainOptions['recorded'] }): Promise<OwnerDomainVerdict> {
    return this.settle<OwnerDomainVerdict>(this.remote.checkDomain(o));
  }

  /** Splits the model in the worker; rejects with the worker's error (a bad tensor, a failed script load). */
  share(o: Omit<PrepareSharesOptions, 'model'>): Promise<SeededSharing> {
    const { onProgress, modelId, fracBits, tokenizer } = o;
    return this.settle(this.remote.share({ modelId, fracBits, tokenizer }, Comlink.proxy((done: number, total: number) => onProgress?.(done, total))));
  }

  /** Serves the parts of a sharing made earlier (kept by the page) from this worker's model. */
  useSharing(sharing: SeededSharing): Promise<void> {
    return this.settle(this.remote.useSharing(sharing));
  }

  async *read(refs: readonly PartRef[]): AsyncGenerator<Uint8Array> {
    await this.settle(this.remote.read([...refs]));
    const ahead: Array<Promise<Uint8Array | null>> = [];
    for (let asked = 0; asked < Math.min(PARTS_AHEAD, refs.length); asked++) ahead.push(this.settle(this.remote.next()));
    for (let i = 0; i < refs.length; i++) {
      const part = await ahead.shift()!;
      if (part === null) throw new Error(`model owner: the sharing worker ended after ${i} of ${refs.length} parts`);
      if (i + PARTS_AHEAD < refs.length) ahead.push(this.settle(this.remote.next()));
      yield part;
    }
  }

  /** Where the worker's part making has gone so far. */
  partTiming(): Promise<ResplitTiming> {
    return this.settle(this.remote.partTiming());
  }

  close(): void {
    this.remote[Comlink.releaseProxy]();
    this.worker.terminate();
  }

  private settle<T>(call: Promise<T>): Promise<T> {
    const settled = Promise.race([call, this.crashed]);
    settled.catch(() => {});
    return settled;
  }
}
