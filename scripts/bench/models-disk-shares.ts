/**
 * The model bench's owner side with shares on disk: each party's parts are written, tensor by tensor, into that
 * party's own directory store (apps/cli DirectoryShareStore, the store `puma party --cache` uses), with the
 * manifest the party's runtime would receive; the parties then stream their weights from there
 * (StoredWeightSource), as a deployed party does. Nothing of the model's shares is held in memory at once.
 *
 * Two sources of tensors:
 * - a loaded Model, shared by the owner's streamed sharing (models/secure streamWeightShares);
 * - a shape alone (LLaMA-7B), whose weights are drawn and split part by part, so the owner never holds more
 *   than one part (8 MiB): synthetic fixed-point values uniform in [-2^-5, 2^-5) (norm scales 1), encoded
 *   directly as ring words; x2 = x - PRG(seedA) - PRG(seedB) from the part's word offset, on a wasm backend.
 *   Parties 1 and 2 hold the same dense component x2; on this one machine party 2's dense files are hard
 *   links to party 1's (a disk-space saving of the bench; each party reads its own path).
 */
import { createHash } from 'node:crypto';
import { link, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Backend } from '@puma/backend';
import { encodeBundle, SEED_NONCE, type ShareBundle } from '@puma/protocol';
import { asBytes, randomKey } from '@puma/ring';
import { streamWeightShares, type WeightManifest } from '@puma/models/secure';
import type { Model, ModelConfig } from '@puma/models';
import { DENSE_PART_BYTES, partKey, type PartInfo, type PartyShareManifest } from '@puma/worker/session';
import { DirectoryShareStore } from '../../apps/cli/src/party-store.ts';

/** The bench's parties' identity in store keys (no session: any fixed fingerprint). */
export const BENCH_IDENTITY = 'b'.repeat(64);
const EPOCH = '0123456789abcdef0123456789abcdef';
const PART_WORDS = DENSE_PART_BYTES / 8;

/** What a party thread needs to open its store: its manifest and its directory. */
export interface DiskShares {
  manifest: PartyShareManifest;
  dir: string;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

class PartWriter {
  readonly stores: DirectoryShareStore[];
  readonly manifests: PartyShareManifest[];
  bytesWritten = 0;

  constructor(readonly root: string, m: WeightManifest) {
    this.stores = [0, 1, 2].map((i) => new DirectoryShareStore(path.join(root, `party${i}`)));
    this.manifests = ([0, 1, 2] as const).map((party) => ({
      format: 'puma-party-shares/1', modelId: m.modelId, epoch: EPOCH, party, fracBits: m.fracBits, config: m.config, tensors: m.tensors, parts: [],
    }));
  }

  private key(party: 0 | 1 | 2, info: PartInfo): string {
    return partKey(BENCH_IDENTITY, this.manifests[party].modelId, EPOCH, party, info.tensor, info.part);
  }

  async put(party: 0 | 1 | 2, tensor: string, part: string, bytes: Uint8Array): Promise<void> {
    const info: PartInfo = { tensor, part, bytes: bytes.byteLength, sha256: sha256(bytes) };
    this.manifests[party].parts.push(info);
    await this.stores[party].set(this.key(party, info), bytes);
    this.bytesWritten += bytes.byteLength;
  }

  /** Party 2's copy of a dense part party 1 already has (the same component x2): a hard link. */
  async linkDense(tensor: string, part: string): Promise<void> {
    const info = this.manifests[1].parts.at(-1)!;
    if (info.tensor !== tensor || info.part !== part) throw new Error(`bench shares: ${tensor}/${part} is not party 1's last part`);
    this.manifests[2].parts.push({ ...info });
    const from = this.stores[1].file(this.key(1, info));
    const to = this.stores[2].file(this.key(2, info));
    await mkdir(path.dirname(to), { recursive: true });
    await link(from, to);
  }

  async seeds(tensor: string, bundles: readonly ShareBundle[]): Promise<void> {
    for (const party of [0, 1, 2] as const) {
      const b = bundles[party];
      if (b.seed0 || b.seed1) await this.put(party, tensor, 'seeds', encodeBundle({ seed0: b.seed0, seed1: b.seed1 }));
    }
  }

  result(): DiskShares[] {
    return this.manifests.map((manifest, i) => ({ manifest, dir: this.stores[i].dir }));
  }
}

/** Shares a loaded model onto disk, one tensor at a time. */
export async function shareModelToDisk(model: Model, modelId: string, fracBits: number, root: string): Promise<{ parties: DiskShares[]; bytesWritten: number }> {
  const stream = streamWeightShares(model, modelId, fracBits);
  const w = new PartWriter(root, stream.manifest);
  for await (const t of stream.tensors()) {
    await w.seeds(t.name, t.bundles);
    const dense = asBytes(t.bundles[1].dense!);
    for (let o = 0, k = 0; o < dense.byteLength; o += DENSE_PART_BYTES, k++) {
      const slice = dense.subarray(o, Math.min(dense.byteLength, o + DENSE_PART_BYTES));
      await w.put(1, t.name, `dense.${k}`, slice);
      await w.put(2, t.name, `dense.${k}`, slice);
    }
  }
  return { parties: w.result(), bytesWritten: w.bytesWritten };
}

/** Seeded xorshift32 words: the synthetic weights' randomness (not a secret: the owner's plaintext). */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** Fixed-point words of `n` synthetic values: uniform in [-2^-5, 2^-5) at 18 fraction bits, or exactly 1 (norm scales). */
function syntheticWords(n: number, fracBits: number, kind: 'uniform' | 'one', next: () => number): BigUint64Array {
  const out = new BigUint64Array(n);
  const halves = new Uint32Array(out.buffer);
  const span = 2 ** (fracBits - 4);
  for (let i = 0; i < n; i++) {
    const v = kind === 'one' ? 2 ** fracBits : (next() % span) - span / 2;
    halves[2 * i] = v >>> 0;
    halves[2 * i + 1] = v < 0 ? 0xffffffff : 0;
  }
  return out;
}

/**
 * Draws and shares a model of `tensors` (names and shapes of the secure pass) straight to disk, part by part:
 * x2 of each part = x - PRG(seedA) - PRG(seedB) at the part's word offset (counter = offset / 8).
 */
export async function shareShapeToDisk(
  config: ModelConfig, modelId: string, tensors: WeightManifest['tensors'], fracBits: number, root: string, be: Backend,
  onTensor?: (name: string) => void,
): Promise<{ parties: DiskShares[]; bytesWritten: number }> {
  const w = new PartWriter(root, { modelId, config, fracBits, tensors });
  const next = xorshift(0x5eed);
  for (const t of tensors) {
    const seedA = randomKey();
    const seedB = randomKey();
    await w.seeds(t.name, [{ seed0: seedA, seed1: seedB }, { seed0: seedB }, { seed1: seedA }]);
    const words = t.shape.reduce((a, b) => a * b, 1);
    const kind = /\.scale$/.test(t.name) ? 'one' : 'uniform';
    for (let o = 0, k = 0; o < words; o += PART_WORDS, k++) {
      const n = Math.min(PART_WORDS, words - o);
      const x = be.upload(syntheticWords(n, fracBits, kind, next));
      const a = be.prg(seedA, SEED_NONCE, n, o / 8);
      const b = be.prg(seedB, SEED_NONCE, n, o / 8);
      const xa = be.sub(x, a);
      const x2 = be.sub(xa, b);
      const bytes = asBytes(await be.read(x2));
      for (const buf of [x, a, b, xa, x2]) be.release(buf);
      await w.put(1, t.name, `dense.${k}`, bytes);
      await w.linkDense(t.name, `dense.${k}`);
    }
    onTensor?.(t.name);
  }
  return { parties: w.result(), bytesWritten: w.bytesWritten };
}
