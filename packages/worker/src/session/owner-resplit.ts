/**
 * The model owner's sharing without its dense bytes. The split is a function of the weights and the seeds drawn
 * per tensor (x2 = encode(x) - PRG(A) - PRG(B) mod 2^64, models/secure share-stream.ts), so the owner keeps
 * the seeds (two 32-byte keys per tensor) and the manifests, and makes a tensor's parts again, bit for bit, when
 * it sends them. A first pass splits and hashes every tensor for the manifests and drops the parts; serving
 * makes only the parts a party still lacks. Both work one 8 MiB part at a time (the splitter starts the streams
 * at the part's first word), so the owner holds its model, one part's buffer and the parts in flight, not the
 * sharing (1.3 GB for GPT-2-base) nor a whole tensor's split (309 MB for its embedding), and keeps kilobytes.
 * Cost: a second split of what is sent (about as long as the first pass, overlapped with sending); parties still
 * check every part against its sha256 from the first pass, so a split that came out differently is refused.
 */
import { createDealerSplitter, type DealerSplitter } from '@puma/backend-wasm';
import type { FloatArray, Model } from '@puma/models';
import { secureTensorSources, type ShareStreamOptions } from '@puma/models/secure';
import { SEED_NONCE } from '@puma/protocol';
import { DEFAULT_FRAC_BITS, asBytes, checkFracBits, randomKey } from '@puma/ring';
import type { PartyId } from '@puma/transport';
import { DENSE_PART_BYTES, MANIFEST_FORMAT, checkManifest, cutTensor, newEpoch, sha256Hex } from './shares.ts';
import type { OwnerPartSource, OwnerShares, PartRef, PartyShareManifest, PrepareSharesOptions } from './types.ts';

/** Words of one dense part (8 MiB): a multiple of the ChaCha20 block's 8 words, so a part's streams start on a block. */
const PART_WORDS = DENSE_PART_BYTES / 8;

/** A sharing whose parts are not held (`parties[p].parts` empty) and the seeds that make them again. */
export interface SeededSharing {
  shares: OwnerShares;
  /** Per tensor, in manifest order: the seeds A and B its split drew. */
  seeds: Array<[Uint32Array, Uint32Array]>;
}

/**
 * One dense part of a tensor (words [k * PART_WORDS, ...)) split on its own: the streams start at its first word
 * (the splitter's firstWord), so its bytes are those of the same slice of the whole tensor's split, and only one
 * part's buffer is ever held. Returns a view of `buffer`, valid until the next call.
 */
function splitDensePart(splitter: DealerSplitter, values: FloatArray, k: number, fracBits: number, seeds: [Uint32Array, Uint32Array], what: string, buffer: BigUint64Array): Uint8Array {
  const first = k * PART_WORDS;
  const words = Math.min(PART_WORDS, values.length - first);
  const out = splitter.encodeAndSubtract(values.subarray(first, first + words), fracBits, seeds, SEED_NONCE, what, buffer.subarray(0, words), first);
  return asBytes(out);
}

/** The seeds parts of one tensor, as cutTensor cuts them from its full bundles. */
const seedsParts = (seedA: Uint32Array, seedB: Uint32Array) => cutTensor([{ seed0: seedA, seed1: seedB }, { seed0: seedB }, { seed1: seedA }]).map((list) => list[0].bytes);

/**
 * Splits and hashes the whole model under a fresh epoch, one 8 MiB part at a time, keeping the manifests and
 * seeds, not the parts: the manifests are those streamOwnerShares gives for the same seeds (same parts, same
 * order), and the owner holds one part's buffer besides its model.
 */
export async function prepareSeededSharing(o: PrepareSharesOptions & Pick<ShareStreamOptions, 'drawSeed' | 'splitter'>): Promise<SeededSharing> {
  const fracBits = o.fracBits ?? DEFAULT_FRAC_BITS;
  checkFracBits(fracBits);
  const drawSeed = o.drawSeed ?? randomKey;
  const sources = secureTensorSources(o.model);
  const tensors = sources.map((t) => ({ name: t.name, shape: t.shape }));
  const epoch = newEpoch();
  const { config } = o.model;
  const manifests = ([0, 1, 2] as const).map((party): PartyShareManifest => ({ format: MANIFEST_FORMAT, modelId: o.modelId, epoch, party, fracBits, config, tensors, parts: [] }));
  const totalParts = sources.reduce((s, t) => s + 3 + 2 * Math.ceil(words(t.shape) / PART_WORDS), 0);
  const splitter = o.splitter ?? (await createDealerSplitter());
  const buffer = new BigUint64Array(Math.min(PART_WORDS, Math.max(...sources.map((t) => words(t.shape)))));
  const seeds: SeededSharing['seeds'] = [];
  let done = 0;
  for (const t of sources) {
    const pair: [Uint32Array, Uint32Array] = [drawSeed(), drawSeed()];
    seeds.push(pair);
    const seedBytes = seedsParts(...pair);
    for (const party of [0, 1, 2] as const) {
      manifests[party].parts.push({ tensor: t.name, part: 'seeds', bytes: seedBytes[party].byteLength, sha256: await sha256Hex(seedBytes[party]) });
    }
    const values = t.values();
    for (let k = 0; k * PART_WORDS < values.length; k++) {
      const bytes = splitDensePart(splitter, values, k, fracBits, pair, t.name, buffer);
      // Parties 1 and 2 hold the same dense component: one hash for both.
      const info = { tensor: t.name, part: `dense.${k}`, bytes: bytes.byteLength, sha256: await sha256Hex(bytes) };
      manifests[1].parts.push(info);
      manifests[2].parts.push({ ...info });
    }
    done += manifests.reduce((s, m) => s + m.parts.filter((p) => p.tensor === t.name).length, 0);
    o.onProgress?.(done, totalParts);
  }
  manifests.forEach((m, party) => checkManifest(m, party as PartyId));
  const parties = manifests.map((manifest) => ({ manifest, parts: [] })) as unknown as OwnerShares['parties'];
  const shares: OwnerShares = {
    modelId: o.modelId, epoch, fracBits, parties, publicInfo: { modelId: o.modelId, config, fracBits, tokenizer: o.tokenizer }, holders: { 0: null, 1: null, 2: null },
  };
  return { shares, seeds };
}

const words = (shape: readonly number[]) => shape.reduce((a, c) => a * c, 1);

export interface ResplitOptions {
  model: Model;
  sharing: SeededSharing;
  /** A splitter to reuse; by default one is made on first use. */
  splitter?: DealerSplitter;
  /** Added to as parts are made: where the owner's making time goes (the bench prints it). */
  timing?: ResplitTiming;
}

/** Time the re-split spent, in milliseconds, and the dense parts it split. */
export interface ResplitTiming {
  /** Tensor values computed for splitting (fused or scaled tensors), once per tensor. */
  msValues: number;
  /** ChaCha20 and subtraction of dense parts. */
  msSplitting: number;
  /** Copies handed out (one per part asked for). */
  msCopying: number;
  denseSplits: number;
}

export const newResplitTiming = (): ResplitTiming => ({ msValues: 0, msSplitting: 0, msCopying: 0, denseSplits: 0 });

/**
 * Makes the parts serveOwner asks for from the model and the seeds, each on its own: a dense part is split
 * from its slice of the tensor (one part's buffer, however large the tensor), a seeds part comes from the
 * seeds alone. Yields a fresh copy each time, so a part in flight stays valid while the next is made and a
 * consumer may move it; the same dense part asked for twice in a row (parties 1 and 2) is split once.
 */
export function resplitSource(o: ResplitOptions): OwnerPartSource {
  const { model, sharing } = o;
  const timing = o.timing ?? newResplitTiming();
  const { shares, seeds } = sharing;
  const manifests = shares.parties.map((p) => p.manifest);
  const sources = new Map(secureTensorSources(model).map((t) => [t.name, t]));
  const tensorIndex = new Map(manifests[0].tensors.map((t, i) => [t.name, i]));
  let splitter = o.splitter;
  const buffer = new BigUint64Array(PART_WORDS);
  return {
    async *read(refs: readonly PartRef[]) {
      let current: { tensor: string; values?: FloatArray } | undefined;
      // Parties 1 and 2 ask for each dense part one after the other (sendOrder): it is made once for both.
      let last: { tensor: string; k: number; view: Uint8Array } | undefined;
      for (const r of refs) {
        const info = manifests[r.party].parts[r.index];
        if (!info) throw new Error(`model owner: party ${r.party} has no part ${r.index}`);
        const i = tensorIndex.get(info.tensor);
        const source = sources.get(info.tensor);
        if (i === undefined || !source) throw new Error(`model owner: the model has no tensor ${info.tensor} of sharing ${shares.epoch}`);
        if (current?.tensor !== info.tensor) current = { tensor: info.tensor };
        if (info.part === 'seeds') {
          yield seedsParts(...seeds[i])[r.party].slice();
          continue;
        }
        const k = Number(/^dense\.(\d+)$/.exec(info.part)?.[1] ?? NaN);
        if (!Number.isInteger(k)) throw new Error(`model owner: part ${info.tensor}/${info.part} is neither seeds nor dense.<k>`);
        if (last?.tensor !== info.tensor || last.k !== k) {
          splitter ??= await createDealerSplitter();
          let t = performance.now();
          // A fused or scaled tensor's values are computed once per tensor, not per part.
          current.values ??= source.values();
          timing.msValues += performance.now() - t;
          t = performance.now();
          last = { tensor: info.tensor, k, view: splitDensePart(splitter, current.values, k, shares.fracBits, seeds[i], info.tensor, buffer) };
          timing.msSplitting += performance.now() - t;
          timing.denseSplits += 1;
        }
        // A copy each time: a consumer may move what it is given (the owner page's worker transfers each part).
        const t = performance.now();
        const copy = last.view.slice();
        timing.msCopying += performance.now() - t;
        yield copy;
      }
    },
  };
}
