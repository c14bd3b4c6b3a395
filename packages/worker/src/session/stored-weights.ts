/**
 * A party's weight shares read from its share store during the secure pass (the WeightSource of
 * models/secure/weight-source.ts): seeds parts (40 or 72 bytes, kept once read) and dense slices ("dense.<k>",
 * DENSE_PART_BYTES each) read by word range. Every part is checked against its size and sha256 in the manifest
 * whenever it is read, so a part that went missing or changed since it was fetched fails the step with a
 * message naming it, never a silently wrong result. The last dense part read is kept, so consecutive row
 * blocks that share a part read it once.
 */
import { decodeBundle } from '@puma/protocol';
import type { TensorSeeds, WeightManifest, WeightSource } from '@puma/models/secure';
import { DENSE_PART_BYTES, partKey, sha256Hex } from './shares.ts';
import type { PartInfo, PartyShareManifest, ShareStore } from './types.ts';

const PART_WORDS = DENSE_PART_BYTES / 8;

export class StoredWeightSource implements WeightSource {
  readonly manifest: WeightManifest;
  private readonly seedParts = new Map<string, PartInfo>();
  private readonly denseParts = new Map<string, PartInfo[]>();
  private lastPart: { info: PartInfo; words: BigUint64Array } | null = null;

  constructor(
    private readonly shares: PartyShareManifest,
    private readonly store: ShareStore,
    private readonly identity: string,
  ) {
    const { modelId, config, fracBits, tensors } = shares;
    this.manifest = { modelId, config, fracBits, tensors };
    for (const p of shares.parts) {
      if (p.part === 'seeds') {
        this.seedParts.set(p.tensor, p);
      } else {
        const list = this.denseParts.get(p.tensor) ?? [];
        list[Number(p.part.slice('dense.'.length))] = p;
        this.denseParts.set(p.tensor, list);
      }
    }
  }

  async seeds(tensor: string): Promise<TensorSeeds> {
    const info = this.seedParts.get(tensor);
    if (!info) return {};
    const b = decodeBundle(await this.read(info));
    return { seed0: b.seed0, seed1: b.seed1 };
  }

  async dense(tensor: string, start: number, count: number): Promise<BigUint64Array> {
    const parts = this.denseParts.get(tensor);
    if (!parts) throw new Error(`party ${this.shares.party} holds no dense component of tensor ${tensor}`);
    const out = new BigUint64Array(count);
    for (let w = start; w < start + count;) {
      const k = Math.floor(w / PART_WORDS);
      const info = parts[k];
      if (!info) throw new Error(`tensor ${tensor}: word ${w} lies in no dense part of the manifest`);
      const words = await this.denseWords(info);
      const from = w - k * PART_WORDS;
      const n = Math.min(words.length - from, start + count - w);
      out.set(words.subarray(from, from + n), w - start);
      w += n;
    }
    return out;
  }

  private async denseWords(info: PartInfo): Promise<BigUint64Array> {
    if (this.lastPart?.info === info) return this.lastPart.words;
    const bytes = await this.read(info);
    // A copy into a fresh buffer: a store may hand out views at any byte offset.
    const words = new BigUint64Array(bytes.byteLength / 8);
    new Uint8Array(words.buffer).set(bytes);
    this.lastPart = { info, words };
    return words;
  }

  private async read(info: PartInfo): Promise<Uint8Array> {
    const m = this.shares;
    const what = `share part ${info.tensor}/${info.part} of party ${m.party} (model ${m.modelId}, sharing ${m.epoch})`;
    const bytes = await this.store.get(partKey(this.identity, m.modelId, m.epoch, m.party, info.tensor, info.part));
    if (bytes === undefined) throw new Error(`${what} is missing from this party's share store; it was there when the session began`);
    if (bytes.byteLength !== info.bytes || (await sha256Hex(bytes)) !== info.sha256) {
      throw new Error(`${what} in this party's share store does not match its sha256 in the manifest (changed or damaged since it was verified)`);
    }
    return bytes;
  }
}
