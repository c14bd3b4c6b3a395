/**
 * The owner's streamed sharing (streamOwnerShares): every yielded part's sha256 is the one its manifest lists,
 * the parts rebuild the models-layer stream's bundles bit for bit for the same seeds, the stream is lazy (a
 * tensor is split only when asked for), and prepareOwnerShares on top of it gives a sharing parties can verify.
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '@puma/models/node';
import { streamWeightShares } from '@puma/models/secure';
import { DENSE_PART_BYTES, bundleFromParts, checkManifest, prepareOwnerShares, sha256Hex, streamOwnerShares, verifyPartyShares, type StreamedPart } from './index.ts';

function seedCounter(): { draw: () => Uint32Array; drawn: () => number } {
  let n = 0;
  return {
    draw: () => {
      n += 1;
      return Uint32Array.from({ length: 8 }, (_, i) => Math.imul(n, 0x9e3779b1) ^ i);
    },
    drawn: () => n,
  };
}

const view = (v: Uint32Array | BigUint64Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

describe('streamOwnerShares', () => {
  it('streams stories260K: parts hashed as the manifests say, rebuilding the wasm split of the same seeds bit for bit', async () => {
    const { model } = await loadModel('stories260K');
    const progress: Array<[number, number]> = [];
    const stream = streamOwnerShares({ model, modelId: 'stories260K', drawSeed: seedCounter().draw, onProgress: (d, t) => progress.push([d, t]) });
    expect(stream.epoch).toMatch(/^[0-9a-f]{32}$/);
    const parts: StreamedPart[][] = [[], [], []];
    for await (const t of stream.tensors()) {
      t.parties.forEach((list, p) => list.forEach((part) => parts[p].push(part)));
      expect(t.parties[0].map((x) => x.info.part)).toEqual(['seeds']);
      expect(t.parties[1].slice(1).every((x, k) => x.bytes === t.parties[2][k + 1].bytes)).toBe(true);
    }
    expect(progress.at(-1)).toEqual([stream.totalParts, stream.totalParts]);
    expect(parts.flat()).toHaveLength(stream.totalParts);
    const reference = streamWeightShares(model, 'stories260K', 18, { drawSeed: seedCounter().draw });
    const expected = new Map<string, ReturnType<typeof bundleFromParts>['bundles'][string][]>();
    for await (const t of reference.tensors()) expected.set(t.name, t.bundles);
    for (const p of [0, 1, 2] as const) {
      const manifest = stream.manifests[p];
      checkManifest(manifest, p);
      expect(parts[p].map((x) => x.index)).toEqual(manifest.parts.map((_, k) => k));
      for (const [k, part] of parts[p].entries()) expect(manifest.parts[k]).toEqual({ ...part.info, sha256: await sha256Hex(part.bytes) });
      await verifyPartyShares({ manifest, parts: parts[p].map((x) => x.bytes) });
      const rebuilt = bundleFromParts(manifest, parts[p].map((x) => x.bytes));
      for (const [name, bundles] of expected) {
        for (const field of ['seed0', 'seed1', 'dense'] as const) {
          const [a, b] = [rebuilt.bundles[name][field], bundles[p][field]];
          expect(a && b ? view(a).equals(view(b)) : a === b, `party ${p} ${name} ${field}`).toBe(true);
        }
      }
    }
  });

  it('splits at most one tensor ahead of the consumer (the next is split while this one is hashed)', async () => {
    const { model } = await loadModel('stories260K');
    const seeds = seedCounter();
    const stream = streamOwnerShares({ model, modelId: 'stories260K', drawSeed: seeds.draw });
    const tensors = stream.tensors();
    expect(seeds.drawn()).toBe(0);
    await tensors.next();
    expect(seeds.drawn()).toBe(4);
    await tensors.next();
    expect(seeds.drawn()).toBe(6);
    expect(stream.manifests[1].parts.map((p) => p.tensor)).toEqual(['emb.token', 'emb.token', 'l0.qkv.w', 'l0.qkv.w']);
    await tensors.return(undefined);
  });

  it('with reuseBuffers gives the same parts and manifests, from two buffers used in turn', async () => {
    const { model } = await loadModel('stories260K');
    const fresh = streamOwnerShares({ model, modelId: 'stories260K', drawSeed: seedCounter().draw });
    const reused = streamOwnerShares({ model, modelId: 'stories260K', drawSeed: seedCounter().draw, reuseBuffers: true });
    const freshTensors = fresh.tensors();
    const buffers: ArrayBufferLike[] = [];
    for await (const t of reused.tensors()) {
      // Compared as yielded: the contract keeps a tensor's bytes only until the next is asked for.
      const expected = (await freshTensors.next()).value!;
      expect(t.tensor).toBe(expected.tensor);
      t.parties.forEach((list, p) => list.forEach((part, k) => {
        expect(part.info).toEqual(expected.parties[p][k].info);
        expect(Buffer.from(part.bytes).equals(Buffer.from(expected.parties[p][k].bytes)), `${t.tensor} party ${p} ${part.info.part}`).toBe(true);
      }));
      buffers.push(t.parties[1][1].bytes.buffer);
    }
    expect((await freshTensors.next()).done).toBe(true);
    expect(buffers.length).toBeGreaterThan(4);
    expect(new Set(buffers).size).toBe(2);
    expect(buffers.every((b, i) => i < 2 || b === buffers[i - 2])).toBe(true);
    expect(reused.manifests.map((m) => ({ ...m, epoch: '' }))).toEqual(fresh.manifests.map((m) => ({ ...m, epoch: '' })));
  });

  it('cuts gpt2-shakespeare\'s large tensors into several dense parts, each with its sha256', async () => {
    const { model } = await loadModel('gpt2-shakespeare');
    const shares = await prepareOwnerShares({ model, modelId: 'gpt2-shakespeare' });
    const multi = shares.parties[1].manifest.parts.filter((p) => p.part === 'dense.1');
    expect(multi.length).toBeGreaterThan(0);
    expect(shares.parties[1].manifest.parts.filter((p) => p.part.startsWith('dense.')).every((p) => p.bytes <= DENSE_PART_BYTES)).toBe(true);
    for (const party of shares.parties) await verifyPartyShares(party);
    // Parties 1 and 2 hold the same dense component: the same bytes in memory, not two copies.
    const dense = (p: 1 | 2) => shares.parties[p].parts.filter((_, k) => shares.parties[p].manifest.parts[k].part !== 'seeds');
    expect(dense(1).length).toBeGreaterThan(0);
    expect(dense(1).every((bytes, k) => bytes === dense(2)[k])).toBe(true);
  });
});
