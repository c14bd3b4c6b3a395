/**
 * The model owner's sharing without its dense bytes. The split is a function of the weights and the seeds drawn
 * per tensor (x2 = encode(x) - PRG(A) - PRG(B) mod 2^64, models/secure share-stream.ts), so the owner keeps
 * the seeds (two 32-byte keys per tensor) and the manifests, and makes a tensor's parts again, bit for bit, when
 * it sends them. A first pass splits and hashes every tensor for the manifests and drops the parts; serving
 * splits only the tensors whose dense parts a party still lacks, one at a time. The owner then holds its model
 * and the parts in flight, not the sharing (1.3 GB for GPT-2-base), and keeps kilobytes instead of it.
 * Cost: a second split of what is sent (about as long as the first pass, overlapped with sending); parties still
 * check every part against its sha256 from the first pass, so a split that came out differently is refused.
 */
import type { DealerSplitter } from '@puma/backend-wasm';
import { createDealerSplitter } from '@puma/backend-wasm';
import type { Model } from '@puma/models';
import { secureTensorSources, splitTensor, type ShareStreamOptions } from '@puma/models/secure';
import { randomKey } from '@puma/ring';
import { cutTensor, streamOwnerShares } from './shares.ts';
import type { OwnerPartSource, OwnerShares, PartRef, PrepareSharesOptions } from './types.ts';

/** A sharing whose parts are not held (`parties[p].parts` empty) and the seeds that make them again. */
export interface SeededSharing {
  shares: OwnerShares;
  /** Per tensor, in manifest order: the seeds A and B its split drew. */
  seeds: Array<[Uint32Array, Uint32Array]>;
}

/** Splits and hashes the whole model under a fresh epoch, keeping the manifests and seeds, not the parts. */
export async function prepareSeededSharing(o: PrepareSharesOptions & Pick<ShareStreamOptions, 'drawSeed' | 'splitter'>): Promise<SeededSharing> {
  const drawn: Uint32Array[] = [];
  const drawSeed = o.drawSeed ?? randomKey;
  const stream = streamOwnerShares({
    ...o,
    reuseBuffers: true,
    drawSeed: () => {
      const seed = drawSeed();
      drawn.push(seed);
      return seed;
    },
  });
  // Each tensor's parts are dropped once hashed: reused buffers, nothing kept.
  for await (const t of stream.tensors()) void t;
  const tensors = stream.manifests[0].tensors;
  if (drawn.length !== 2 * tensors.length) throw new Error(`sharing ${stream.epoch}: ${tensors.length} tensors drew ${drawn.length} seeds`);
  const seeds = tensors.map((_, i): [Uint32Array, Uint32Array] => [drawn[2 * i], drawn[2 * i + 1]]);
  const parties = stream.manifests.map((manifest) => ({ manifest, parts: [] })) as unknown as OwnerShares['parties'];
  const shares: OwnerShares = {
    modelId: o.modelId, epoch: stream.epoch, fracBits: stream.fracBits, parties, publicInfo: stream.publicInfo, holders: { 0: null, 1: null, 2: null },
  };
  return { shares, seeds };
}

export interface ResplitOptions {
  model: Model;
  sharing: SeededSharing;
  /** A splitter to reuse; by default one is made on first use. */
  splitter?: DealerSplitter;
}

/**
 * Makes the parts serveOwner asks for from the model and the seeds: a tensor is split (into one reused buffer
 * as large as the largest tensor) only when a dense part of it is asked for, seeds parts come from the seeds
 * alone. Yields copies, so a part in flight stays valid while the next tensor is split.
 */
export function resplitSource(o: ResplitOptions): OwnerPartSource {
  const { model, sharing } = o;
  const { shares, seeds } = sharing;
  const manifests = shares.parties.map((p) => p.manifest);
  const sources = new Map(secureTensorSources(model).map((t) => [t.name, t]));
  const tensorIndex = new Map(manifests[0].tensors.map((t, i) => [t.name, i]));
  let splitter = o.splitter;
  let buffer: BigUint64Array | undefined;
  const bufferFor = (words: number) => {
    buffer ??= new BigUint64Array(Math.max(...manifests[0].tensors.map((t) => t.shape.reduce((a, c) => a * c, 1))));
    return buffer.subarray(0, words);
  };
  return {
    async *read(refs: readonly PartRef[]) {
      let current: { tensor: string; cut: Array<Array<{ part: string; bytes: Uint8Array }>> } | undefined;
      for (const [at, r] of refs.entries()) {
        const info = manifests[r.party].parts[r.index];
        if (!info) throw new Error(`model owner: party ${r.party} has no part ${r.index}`);
        if (current?.tensor !== info.tensor) {
          const i = tensorIndex.get(info.tensor);
          const source = sources.get(info.tensor);
          if (i === undefined || !source) throw new Error(`model owner: the model has no tensor ${info.tensor} of sharing ${shares.epoch}`);
          const [seedA, seedB] = seeds[i];
          // Dense parts of this tensor asked for by any party up to the next tensor: split once for all of them.
          let dense = false;
          for (let j = at; j < refs.length; j++) {
            const next = manifests[refs[j].party].parts[refs[j].index];
            if (next?.tensor !== info.tensor) break;
            dense ||= next.part !== 'seeds';
          }
          if (dense) {
            const values = source.values();
            splitter ??= await createDealerSplitter();
            current = { tensor: info.tensor, cut: cutTensor(splitTensor(splitter, values, shares.fracBits, seedA, seedB, info.tensor, bufferFor(values.length))) };
          } else {
            current = { tensor: info.tensor, cut: cutTensor([{ seed0: seedA, seed1: seedB }, { seed0: seedB }, { seed1: seedA }]) };
          }
        }
        const part = current.cut[r.party].find((p) => p.part === info.part);
        if (!part) throw new Error(`model owner: tensor ${info.tensor} has no part ${info.part} for party ${r.party}`);
        yield part.bytes.slice();
      }
    },
  };
}
