/**
 * Weight shares streamed from a party's store: the stored source reads exactly what the in-memory bundle
 * holds (also across the boundary of two dense parts); without a weight cache parts fetched in a session are
 * not held in memory by the party but read back from its store every step, with the default cache (the model
 * fits) not at all (the first pass takes them as the download checked them); a part that goes missing or
 * changes in the store while a generation runs, and that the cache does not hold, fails the session at a later
 * step with a message naming the part, on every endpoint, and is deleted from the store; a part the cache holds
 * is never read again, so spoiling it changes nothing.
 */
import { randomFillSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleWeightSource, type PartyWeightBundle, type WeightManifest } from '@puma/models/secure';
import { splitInput } from '@puma/protocol';
import type { ModelConfig } from '@puma/models';
import { DENSE_PART_BYTES, MemoryShareStore, partKey, partySharesFromBundle, runClientSession, type PartyShareManifest } from './index.ts';
import { PARTIES, PROMPT, ROSTER, clientChannel, countingDenseReads, freshStores, loadFixture, startSession, within, type Fixture } from './session-fixture.ts';
import { StoredWeightSource } from './stored-weights.ts';

let fx: Fixture;
const STEPS = 3;

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

  it('a store whose reads are the reader\'s own bytes is checked in place: the same words, and a damaged part is still named', async () => {
    const { manifest, parts } = fx.shares.parties[1];
    const inner = storeOf(manifest, parts);
    // As IndexedDB's structured clone: every get is a fresh copy of the stored bytes.
    let handedOut: Uint8Array | undefined;
    const fresh = { freshReads: true, get: async (k: string) => (handedOut = (await inner.get(k))?.slice()), set: (k: string, b: Uint8Array) => inner.set(k, b) };
    const info = manifest.parts.find((p) => p.part === 'dense.0')!;
    const words = info.bytes / 8;
    const [inPlace, copied] = [new StoredWeightSource(manifest, fresh, IDENTITY), new StoredWeightSource(manifest, inner, IDENTITY)];
    const got = await inPlace.dense(info.tensor, 0, words);
    expect(Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.byteLength), Buffer.from((await copied.dense(info.tensor, 0, words)).buffer))).toBe(0);
    // In place: the words are the read's own buffer, not a copy of it.
    expect(got.buffer).toBe(handedOut!.buffer);
    inner.entries.get(partKey(IDENTITY, manifest.modelId, manifest.epoch, 1, info.tensor, info.part))![5] ^= 0x01;
    const later = new StoredWeightSource(manifest, fresh, IDENTITY);
    await expect(later.dense(info.tensor, 0, 4)).rejects.toThrow(`share part ${info.tensor}/dense.0 of party 1 (model stories260K, sharing ${manifest.epoch}) in this party's share store does not match its sha256`);
  });

  it('blocks that share a dense part read it once, also when the next block is fetched while this one is', async () => {
    const words = 3 * (DENSE_PART_BYTES / 8);
    const x = new BigUint64Array(words);
    randomFillSync(new Uint8Array(x.buffer));
    const manifest: WeightManifest = { modelId: 'big', config: { vocabSize: 1 } as ModelConfig, fracBits: 18, tensors: [{ name: 'w', shape: [words] }] };
    const { store, manifest: m } = await storedParty({ manifest, bundles: { w: splitInput(x)[1] } }, 1);
    const gets = new Map<string, number>();
    const counting = { get: (k: string) => (gets.set(k, (gets.get(k) ?? 0) + 1), store.get(k)), set: (k: string, b: Uint8Array) => store.set(k, b) };
    const source = new StoredWeightSource(m, counting, IDENTITY);
    // Blocks of 1,000,000 words: each but the first spans two parts; two are read at once, as with read-ahead.
    const block = 1_000_000;
    for (let b = 0; b + block <= words; b += 2 * block) {
      await Promise.all([source.dense('w', b, block), source.dense('w', b + block, Math.min(block, words - b - block))]);
    }
    const denseGets = [...gets].filter(([k]) => k.includes('/dense.'));
    expect(denseGets.map(([, n]) => n)).toEqual([1, 1, 1]);
  }, 60_000);

  it('a tensor\'s next two dense parts are read ahead of the one asked for, once each; a damaged part read ahead still fails the block that asks for it, naming it', async () => {
    const words = 4 * (DENSE_PART_BYTES / 8);
    const x = new BigUint64Array(words);
    randomFillSync(new Uint8Array(x.buffer));
    const manifest: WeightManifest = { modelId: 'big', config: { vocabSize: 1 } as ModelConfig, fracBits: 18, tensors: [{ name: 'w', shape: [words] }] };
    const bundle: PartyWeightBundle = { manifest, bundles: { w: splitInput(x)[1] } };
    const { store, manifest: m } = await storedParty(bundle, 1);
    const gets: string[] = [];
    const counting = { get: (k: string) => (gets.push(k.slice(k.lastIndexOf('/') + 1)), store.get(k)), set: (k: string, b: Uint8Array) => store.set(k, b) };
    const source = new StoredWeightSource(m, counting, IDENTITY);
    const part = DENSE_PART_BYTES / 8;
    await source.dense('w', 5, 10);
    expect(gets.filter((g) => g.startsWith('dense.'))).toEqual(['dense.0', 'dense.1', 'dense.2']);
    // Part 3 is damaged after parts 1 and 2 were read ahead: they are used as read; asking for part 1 reads part 3 ahead.
    const key3 = partKey(IDENTITY, m.modelId, m.epoch, 1, 'w', 'dense.3');
    store.entries.get(key3)![7] ^= 0x40;
    expect(await source.dense('w', part + 3, 4)).toEqual(await bundleWeightSource(bundle).dense('w', part + 3, 4));
    await source.dense('w', 2 * part, 4);
    expect(gets.filter((g) => g.startsWith('dense.'))).toEqual(['dense.0', 'dense.1', 'dense.2', 'dense.3']);
    await expect(source.dense('w', 3 * part, 4)).rejects.toThrow(`share part w/dense.3 of party 1 (model big, sharing ${m.epoch}) in this party's share store does not match its sha256`);
  }, 60_000);

  it('names a part that is damaged or missing when it is read, and deletes it from the store so the next session fetches it again', async () => {
    const { manifest, parts } = fx.shares.parties[2];
    const store = storeOf(manifest, parts);
    const info = manifest.parts.find((p) => p.part === 'dense.0')!;
    const key = partKey(IDENTITY, manifest.modelId, manifest.epoch, 2, info.tensor, info.part);
    const source = new StoredWeightSource(manifest, store, IDENTITY);
    store.entries.get(key)![3] ^= 0x10;
    const damaged = `share part ${info.tensor}/dense.0 of party 2 (model stories260K, sharing ${manifest.epoch}) in this party's share store does not match its sha256`;
    await expect(source.dense(info.tensor, 0, 4)).rejects.toThrow(damaged);
    await expect(source.dense(info.tensor, 0, 4)).rejects.toThrow('it was deleted from the store, so the next session fetches it again from the model owner');
    expect(store.entries.has(key)).toBe(false);
    // The same source refuses the part again as damaged; a new one finds it missing.
    await expect(source.dense(info.tensor, 0, 4)).rejects.toThrow(damaged);
    await expect(new StoredWeightSource(manifest, store, IDENTITY).dense(info.tensor, 0, 4))
      .rejects.toThrow(`share part ${info.tensor}/dense.0 of party 2 (model stories260K, sharing ${manifest.epoch}) is missing from this party's share store`);
  });

  it('without a weight cache every step reads each dense part back from the store; with the default cache (the model fits) none does, same tokens', async () => {
    const session = async (weightCacheBytes: number | undefined) => {
      const { stores: counted, denseReads } = countingDenseReads(freshStores());
      const run = startSession(fx, counted, { weightCacheBytes });
      const result = await runClientSession({ channel: clientChannel(run.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: STEPS });
      await Promise.all(run.parties);
      return { tokens: result.tokens, denseReads };
    };
    const [streamed, cached] = [await session(0), await session(undefined)];
    expect(streamed.tokens).toHaveLength(STEPS);
    expect(cached.tokens).toEqual(streamed.tokens);
    for (const id of [1, 2] as const) {
      const manifest = fx.shares.parties[id].manifest;
      const dense = manifest.parts.filter((p) => p.part.startsWith('dense.')).length;
      // The tied head multiplies by the token embedding's share again at the end of each step; its part is read
      // again unless it is still among the source's last parts read.
      const embedding = manifest.config.tiedHead ? manifest.parts.filter((p) => p.tensor === 'emb.token' && p.part.startsWith('dense.')).length : 0;
      expect(embedding).toBeGreaterThan(0);
      // Every part read in every step (the start-up check looks parts up by size): nothing of it stays in memory.
      expect(streamed.denseReads[id]).toBeGreaterThanOrEqual(STEPS * dense);
      expect(streamed.denseReads[id]).toBeLessThanOrEqual(STEPS * (dense + embedding));
      // None: the first step takes the parts as the download checked them, later steps the cache.
      expect(cached.denseReads[id]).toBe(0);
    }
    expect(streamed.denseReads[0]).toBe(0);
    expect(cached.denseReads[0]).toBe(0);
  }, 180_000);

  it.each([
    ['changed', 1, (s: MemoryShareStore, k: string): void => {
      const e = s.entries.get(k)!;
      e[e.length - 1] ^= 1;
    }],
    ['missing', 2, (s: MemoryShareStore, k: string): void => void s.entries.delete(k)],
  ] as const)('without a weight cache, a part %s in the store mid-generation fails a later step on every endpoint, naming the part', async (what, victim, spoil) => {
    const stores = freshStores();
    // No weight cache: every step reads the part again.
    const run = startSession(fx, stores, { weightCacheBytes: 0 });
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

  it('a weight cache smaller than the model keeps the first blocks; a part outside it spoiled mid-generation still fails every endpoint, naming it', async () => {
    const stores = freshStores();
    // Room for the token embedding's dense words (the pass's first blocks; a share that does not fit is cached
    // dense-first) and not for l0.qkv.w.
    const emb = fx.shares.parties[1].manifest.tensors.find((t) => t.name === 'emb.token')!;
    const run = startSession(fx, stores, { weightCacheBytes: 8 * emb.shape[0] * emb.shape[1] });
    const info = fx.shares.parties[1].manifest.parts.find((p) => p.tensor === 'l0.qkv.w' && p.part === 'dense.0')!;
    const key = partKey(ROSTER[1], 'stories260K', fx.shares.epoch, 1, info.tensor, info.part);
    let tokens = 0;
    const generation = runClientSession({
      channel: clientChannel(run.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: 4,
      onToken: () => {
        if (tokens++ === 0) stores[1].entries.get(key)![0] ^= 1;
      },
    });
    generation.catch(() => {});
    const named = 'share part l0.qkv.w/dense.0 of party 1';
    for (const id of PARTIES) await expect(within(run.parties[id], 30_000, `party ${id}`)).rejects.toThrow(named);
    await expect(within(generation, 10_000, 'the client')).rejects.toThrow(named);
  }, 120_000);

  it('with the model in the weight cache, a part spoiled after the first step is not read again: the tokens are those of an unspoiled run', async () => {
    const run = async (spoil: boolean) => {
      const stores = freshStores();
      const session = startSession(fx, stores);
      const info = fx.shares.parties[2].manifest.parts.find((p) => p.tensor === 'l0.qkv.w' && p.part === 'dense.0')!;
      const key = partKey(ROSTER[2], 'stories260K', fx.shares.epoch, 2, info.tensor, info.part);
      let steps = 0;
      const result = await runClientSession({
        channel: clientChannel(session.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: STEPS,
        onToken: () => {
          if (spoil && steps++ === 0) stores[2].entries.get(key)![0] ^= 1;
        },
      });
      await Promise.all(session.parties);
      return { tokens: result.tokens, spoiled: spoil && stores[2].entries.get(key)![0] !== fx.shares.parties[2].parts[fx.shares.parties[2].manifest.parts.indexOf(info)][0] };
    };
    const [clean, spoiled] = [await run(false), await run(true)];
    expect(spoiled.spoiled).toBe(true);
    expect(spoiled.tokens).toEqual(clean.tokens);
  }, 180_000);
});
