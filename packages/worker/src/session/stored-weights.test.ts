/**
 * Weight shares streamed from a party's store: the stored source reads exactly what the in-memory bundle
 * holds (also across the boundary of two dense parts), parts fetched in a session are not held in memory by
 * the party but read back from its store, and a part that goes missing or changes in the store while a
 * generation runs fails the session at a later step with a message naming the part, on every endpoint.
 */
import { randomFillSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleWeightSource, type PartyWeightBundle, type WeightManifest } from '@puma/models/secure';
import { splitInput } from '@puma/protocol';
import type { ModelConfig } from '@puma/models';
import { DENSE_PART_BYTES, MemoryShareStore, partKey, partySharesFromBundle, runClientSession, type PartyShareManifest, type ShareStore } from './index.ts';
import { PARTIES, PROMPT, ROSTER, clientChannel, freshStores, loadFixture, startSession, within, type Fixture } from './session-fixture.ts';
import { StoredWeightSource } from './stored-weights.ts';

let fx: Fixture;

beforeAll(async () => {
  fx = await loadFixture();
}, 60_000);

const IDENTITY = 'f'.repeat(64);

/** A fresh store holding `parts` under IDENTITY's keys. */
function storeOf(manifest: PartyShareManifest, parts: readonly Uint8Array[]): MemoryShareStore {
  const store = new MemoryShareStore();
  manifest.parts.forEach((p, i) => store.entries.set(partKey(IDENTITY, manifest.modelId, manifest.epoch, manifest.party, p.tensor, p.part), parts[i].slice()));
  return store;
}

/** One party's bundle cut into parts (as the owner does) and written into a fresh store. */
async function storedParty(bundle: PartyWeightBundle, party: 0 | 1 | 2): Promise<{ store: MemoryShareStore; manifest: PartyShareManifest }> {
  const { manifest, parts } = await partySharesFromBundle(bundle, party, '0'.repeat(32));
  return { store: storeOf(manifest, parts), manifest };
}

describe('weights streamed from the share store', () => {
  it('reads the words the bundle holds, across two dense parts, and the seeds', async () => {
    // 1.25 M words: two dense parts of DENSE_PART_BYTES and a tail.
    const words = DENSE_PART_BYTES / 8 + 300_007;
    const x = new BigUint64Array(words);
    randomFillSync(new Uint8Array(x.buffer));
    const manifest: WeightManifest = { modelId: 'big', config: { vocabSize: 1 } as ModelConfig, fracBits: 18, tensors: [{ name: 'w', shape: [words] }] };
    const split = splitInput(x);
    for (const party of PARTIES) {
      const bundle: PartyWeightBundle = { manifest, bundles: { w: split[party] } };
      const { store, manifest: m } = await storedParty(bundle, party);
      const stored = new StoredWeightSource(m, store, IDENTITY);
      const memory = bundleWeightSource(bundle);
      expect(await stored.seeds('w')).toEqual(await memory.seeds('w'));
      if (party === 0) continue;
      for (const [start, count] of [[0, 5], [DENSE_PART_BYTES / 8 - 3, 10], [words - 7, 7], [1000, DENSE_PART_BYTES / 8 + 5]]) {
        const [got, want] = [await stored.dense('w', start, count), await memory.dense('w', start, count)];
        expect(got.length).toBe(count);
        // Byte comparison: deep equality of a million bigints is too slow for a unit test.
        expect(Buffer.compare(new Uint8Array(got.buffer, got.byteOffset, got.byteLength), new Uint8Array(want.buffer, want.byteOffset, want.byteLength))).toBe(0);
      }
    }
  }, 60_000);

  it('names a part that is missing or damaged when it is read', async () => {
    const { manifest, parts } = fx.shares.parties[2];
    const store = storeOf(manifest, parts);
    const info = manifest.parts.find((p) => p.part === 'dense.0')!;
    const key = partKey(IDENTITY, manifest.modelId, manifest.epoch, 2, info.tensor, info.part);
    const source = new StoredWeightSource(manifest, store, IDENTITY);
    store.entries.get(key)![3] ^= 0x10;
    await expect(source.dense(info.tensor, 0, 4)).rejects.toThrow(`share part ${info.tensor}/dense.0 of party 2 (model stories260K, sharing ${manifest.epoch}) in this party's share store does not match its sha256`);
    store.entries.delete(key);
    await expect(source.dense(info.tensor, 0, 4)).rejects.toThrow(`share part ${info.tensor}/dense.0 of party 2 (model stories260K, sharing ${manifest.epoch}) is missing from this party's share store`);
  });

  it('a session keeps no fetched part in memory: every step reads each dense part back from the store', async () => {
    const denseReads = [0, 0, 0];
    const stores = freshStores();
    const counted = stores.map((s, id): ShareStore => ({
      get: (k) => {
        if (/\/dense\.\d+$/.test(k)) denseReads[id] += 1;
        return s.get(k);
      },
      set: (k, b) => s.set(k, b),
      delete: (k) => s.delete(k),
    }));
    // startSession's stores are typed as memory stores (tests inspect them); the session needs only ShareStore.
    const run = startSession(fx, counted as unknown as MemoryShareStore[]);
    const steps = 3;
    const result = await runClientSession({ channel: clientChannel(run.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: steps });
    await Promise.all(run.parties);
    expect(result.tokens).toHaveLength(steps);
    // One look-up when the session checks its cache, then one read per step: nothing of it stays in memory.
    for (const id of [1, 2] as const) {
      const dense = fx.shares.parties[id].manifest.parts.filter((p) => p.part.startsWith('dense.')).length;
      expect(denseReads[id]).toBe((1 + steps) * dense);
    }
    expect(denseReads[0]).toBe(0);
  }, 120_000);

  it.each([
    ['changed', 1, (s: MemoryShareStore, k: string): void => {
      const e = s.entries.get(k)!;
      e[e.length - 1] ^= 1;
    }],
    ['missing', 2, (s: MemoryShareStore, k: string): void => void s.entries.delete(k)],
  ] as const)('a part %s in the store mid-generation fails a later step on every endpoint, naming the part', async (what, victim, spoil) => {
    const stores = freshStores();
    const run = startSession(fx, stores);
    const info = fx.shares.parties[victim].manifest.parts.find((p) => p.tensor === 'l0.qkv.w' && p.part === 'dense.0')!;
    const key = partKey(ROSTER[victim], 'stories260K', fx.shares.epoch, victim, info.tensor, info.part);
    let tokens = 0;
    const generation = runClientSession({
      channel: clientChannel(run.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: 4,
      onToken: () => {
        if (tokens++ === 0) spoil(stores[victim], key);
      },
    });
    generation.catch(() => {});
    const named = `share part l0.qkv.w/dense.0 of party ${victim}`;
    await expect(within(run.parties[victim], 30_000, `party ${victim}`)).rejects.toThrow(named);
    await expect(within(run.parties[victim], 1, `party ${victim}`)).rejects.toThrow(what === 'missing' ? 'is missing from this party\'s share store' : 'does not match its sha256');
    for (const other of PARTIES.filter((p) => p !== victim)) {
      await expect(within(run.parties[other], 10_000, `party ${other}`)).rejects.toThrow(named);
    }
    await expect(within(generation, 10_000, 'the client')).rejects.toThrow(named);
    // The client's token events trail the parties by a step, so the spoiled part is read in step 2 or 3.
    expect(tokens).toBeGreaterThanOrEqual(1);
    expect(tokens).toBeLessThan(4);
  }, 120_000);
});
