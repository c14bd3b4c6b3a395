import { describe, expect, it } from 'vitest';
import { splitInput } from '@puma/protocol';
import type { ModelConfig } from '@puma/models';
import type { PartyWeightBundle } from '@puma/models/secure';
import {
  DENSE_PART_BYTES, bundleFromParts, checkManifest, decodePublicInfo, encodePublicInfo, partySharesFromBundle, sha256Hex, tokenizerFromSource,
  verifyPartyShares, type PartyShareManifest,
} from './index.ts';

const CONFIG = { arch: 'gpt2', vocabSize: 4, maxPositions: 8, causal: true, numLabels: 0 } as unknown as ModelConfig;
const EPOCH = '0123456789abcdef0123456789abcdef';

/** Party `party`'s bundle of two tensors: a small one and one whose dense component spans two parts. */
function bundles(): [PartyWeightBundle, PartyWeightBundle, PartyWeightBundle] {
  const bigWords = DENSE_PART_BYTES / 8 + 5;
  const tensors = [
    { name: 'small', shape: [2, 3], data: BigUint64Array.from([1n, 2n, 3n, 4n, 5n, 6n]) },
    { name: 'big', shape: [bigWords], data: BigUint64Array.from({ length: bigWords }, (_, i) => BigInt(i) * 0x9e3779b97f4a7c15n & 0xffffffffffffffffn) },
  ];
  const manifest = { modelId: 'tiny', config: CONFIG, fracBits: 18, tensors: tensors.map(({ name, shape }) => ({ name, shape })) };
  const out = [0, 1, 2].map(() => ({ manifest, bundles: {} as PartyWeightBundle['bundles'] })) as [PartyWeightBundle, PartyWeightBundle, PartyWeightBundle];
  for (const t of tensors) splitInput(t.data).forEach((b, i) => (out[i].bundles[t.name] = b));
  return out;
}

describe('share parts', () => {
  it('cuts each party bundle into hashed parts and rebuilds it exactly', async () => {
    const all = bundles();
    for (const party of [0, 1, 2] as const) {
      const shares = await partySharesFromBundle(all[party], party, EPOCH);
      const names = shares.manifest.parts.map((p) => `${p.tensor}/${p.part}`);
      // Party 0 holds two seeds per tensor; parties 1 and 2 one seed and the dense component.
      expect(names).toEqual(party === 0 ? ['small/seeds', 'big/seeds'] : ['small/seeds', 'small/dense.0', 'big/seeds', 'big/dense.0', 'big/dense.1']);
      if (party > 0) expect(shares.manifest.parts.at(-1)!.bytes).toBe(40);
      expect(shares.manifest.parts[0].sha256).toBe(await sha256Hex(shares.parts[0]));
      await verifyPartyShares(shares);
      const rebuilt = bundleFromParts(shares.manifest, shares.parts);
      expect(rebuilt.manifest).toEqual(all[party].manifest);
      for (const t of ['small', 'big']) {
        const [a, b] = [rebuilt.bundles[t], all[party].bundles[t]];
        expect(a.seed0).toEqual(b.seed0);
        expect(a.seed1).toEqual(b.seed1);
        expect(a.dense === undefined).toBe(b.dense === undefined);
        if (a.dense) expect(Buffer.compare(Buffer.from(a.dense.buffer), Buffer.from(b.dense!.buffer))).toBe(0);
      }
    }
  });

  it('verifyPartyShares names a part whose bytes changed', async () => {
    const shares = await partySharesFromBundle(bundles()[1], 1, EPOCH);
    shares.parts[1] = shares.parts[1].slice();
    shares.parts[1][7] ^= 4;
    await expect(verifyPartyShares(shares)).rejects.toThrow('party 1 part small/dense.0 does not match its sha256 in the manifest');
  });

  it('checkManifest rejects what would break the cache keys or the rebuild, naming the problem', async () => {
    const good = (await partySharesFromBundle(bundles()[2], 2, EPOCH)).manifest;
    const variant = (change: (m: PartyShareManifest) => void): unknown => {
      const m = structuredClone(good);
      change(m);
      return m;
    };
    expect(() => checkManifest(good, 2)).not.toThrow();
    expect(() => checkManifest(good, 1)).toThrow('share manifest for party 1: it is addressed to party 2');
    expect(() => checkManifest(variant((m) => (m.modelId = '../x')), 2)).toThrow(/modelId must be 1-200 characters without "\/"/);
    expect(() => checkManifest(variant((m) => (m.epoch = 'now')), 2)).toThrow(/epoch must be 32 hex digits/);
    expect(() => checkManifest(variant((m) => (m.parts[1].bytes += 8)), 2)).toThrow(/part small\/dense\.0 must hold 48 bytes/);
    expect(() => checkManifest(variant((m) => m.parts.splice(4, 1)), 2)).toThrow(/dense parts of big do not cover/);
    expect(() => checkManifest(variant((m) => (m.parts[0].sha256 = 'x')), 2)).toThrow(/part small\/seeds has no valid sha256/);
    expect(() => checkManifest(variant((m) => (m.parts[0].part = 'secret')), 2)).toThrow(/neither "seeds" nor "dense.<k>"/);
    expect(() => checkManifest('[]', 2)).toThrow(/not a JSON object/);
    // The owner's published norm windows (models norm-windows.ts), checked before any weight is fetched.
    const normed = { ...CONFIG, normPlacement: 'pre', numLayers: 1, hiddenSize: 8, normEps: 1e-5 } as ModelConfig;
    expect(() => checkManifest(variant((m) => (m.config = { ...normed, normWindows: { 'l0.attnNorm': [-3, 4] } })), 2)).not.toThrow();
    expect(() => checkManifest(variant((m) => (m.config = { ...normed, normWindows: { 'l0.attnNorm': [2, 1] } })), 2)).toThrow(
      'share manifest for party 2: model description field normWindows["l0.attnNorm"]: lo 2 must be below hi 1');
  });

  it('checkManifest demands the approved roster in manifests from the owner and checks it when present', async () => {
    const good = (await partySharesFromBundle(bundles()[0], 0, EPOCH)).manifest;
    const roster = ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64)] as const;
    expect(() => checkManifest({ ...good, parties: roster }, 0, { parties: 'required' })).not.toThrow();
    expect(() => checkManifest(good, 0, { parties: 'required' })).toThrow('share manifest for party 0: it names no approved parties (the roster)');
    expect(() => checkManifest({ ...good, parties: [roster[0], roster[0], roster[2]] }, 0)).toThrow(
      "share manifest for party 0: approved parties: parties 0 and 1 have the same identity aaaaaaaaaaaaaaaa…; one identity never holds two parties' shares");
    expect(() => checkManifest({ ...good, parties: [roster[0], 'B'.repeat(64), roster[2]] }, 0)).toThrow('approved parties must be lowercase fingerprints');
    expect(() => checkManifest({ ...good, parties: roster.slice(0, 2) }, 0)).toThrow(/approved parties must list three identity fingerprints/);
  });
});

describe('public model info', () => {
  it('round-trips config and tokenizer files, and refuses damaged messages', () => {
    const vocab = new TextEncoder().encode('[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n');
    const info = { modelId: 'tiny', config: CONFIG, fracBits: 18, tokenizer: { kind: 'wordpiece' as const, files: { 'vocab.txt': vocab } } };
    const bytes = encodePublicInfo(info);
    expect(decodePublicInfo(bytes)).toEqual(info);
    expect(decodePublicInfo(encodePublicInfo({ modelId: 'm', config: CONFIG, fracBits: 12 }))).toEqual({ modelId: 'm', config: CONFIG, fracBits: 12 });
    expect(() => decodePublicInfo(bytes.subarray(0, bytes.length - 1))).toThrow(/tokenizer file vocab\.txt is cut off/);
    expect(() => decodePublicInfo(new Uint8Array([1, 2]))).toThrow(/shorter than its header/);
    const tok = tokenizerFromSource(info.tokenizer, 5);
    expect(tok.encode('hello')).toEqual([4]);
    expect(() => tokenizerFromSource({ kind: 'gpt2-bpe', files: { 'vocab.json': vocab } }, 5)).toThrow('gpt2-bpe tokenizer needs the file merges.txt; got vocab.json');
  });
});
