/**
 * Parts a session has downloaded and checked go to the first pass as checked (stored-weights.ts): the source's
 * first read of such a part takes those bytes instead of the store's, and later reads go back to the store,
 * still checked; the session keeps the dense parts whose words its weight cache will keep. A cached session's
 * start-up check reads no part (it looks them up by size): its first pass reads each dense part once, its
 * later steps none, and it gives the tokens of plaintext.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { generateGreedy } from '@puma/models';
import { expandedShareBytes } from '@puma/models/secure';
import type { ModelConfig } from '@puma/models';
import { CLIENT, type PartyId } from '@puma/transport';
import { DENSE_PART_BYTES, MemoryShareStore, partKey, runClientSession, type PartInfo, type PartyShareManifest, type ShareStore } from './index.ts';
import { ENDPOINTS, IDENTITIES, PROMPT, ROSTER, clientChannel, countingDenseReads, freshStores, loadFixture, startSession, type Fixture } from './session-fixture.ts';
import { droppableNetwork } from './test-support.ts';
import { StoredWeightSource, verifiedPartKept } from './stored-weights.ts';

let fx: Fixture;

beforeAll(async () => {
  fx = await loadFixture();
}, 60_000);

const IDENTITY = 'e'.repeat(64);

/** Party `party`'s parts in a fresh store under IDENTITY's keys, and a log of the keys read from it. */
function storedParty(party: 0 | 1 | 2): { store: MemoryShareStore; counted: ShareStore; gets: string[]; keyOf: (p: PartInfo) => string } {
  const { manifest, parts } = fx.shares.parties[party];
  const keyOf = (p: PartInfo) => partKey(IDENTITY, manifest.modelId, manifest.epoch, party, p.tensor, p.part);
  const store = new MemoryShareStore();
  manifest.parts.forEach((p, i) => store.entries.set(keyOf(p), parts[i].slice()));
  const gets: string[] = [];
  const counted: ShareStore = { get: (k) => (gets.push(k), store.get(k)), set: (k, b) => store.set(k, b) };
  return { store, counted, gets, keyOf };
}

describe('parts checked before the first pass', () => {
  it('the first read of a part handed over takes its checked bytes, not the store\'s; the next read goes to the store and is checked', async () => {
    const { manifest, parts } = fx.shares.parties[1];
    const { store, counted, gets, keyOf } = storedParty(1);
    const seedsInfo = manifest.parts.find((p) => p.part === 'seeds')!;
    const checked = parts[manifest.parts.indexOf(seedsInfo)].slice();
    const source = new StoredWeightSource(manifest, counted, IDENTITY, {}, new Map([[seedsInfo, checked]]));
    // The store's copy changes after the check: the first pass still uses what the check saw.
    store.entries.get(keyOf(seedsInfo))![0] ^= 0x01;
    const reference = new StoredWeightSource(manifest, new MemoryShareStore(), IDENTITY, {}, new Map([[seedsInfo, checked.slice()]]));
    expect(await source.seeds(seedsInfo.tensor)).toEqual(await reference.seeds(seedsInfo.tensor));
    expect(gets).toEqual([]);
    expect(source.times).toMatchObject({ partsReused: 1, bytesReused: seedsInfo.bytes, partsRead: 0 });
    await expect(source.seeds(seedsInfo.tensor)).rejects.toThrow(`share part ${seedsInfo.tensor}/seeds of party 1 (model stories260K, sharing ${manifest.epoch}) in this party's share store does not match its sha256`);
    expect(gets).toEqual([keyOf(seedsInfo)]);
  });

  it('refuses a handed-over part that is not one of the manifest\'s, naming it', () => {
    const { manifest } = fx.shares.parties[2];
    const stranger: PartInfo = { ...manifest.parts[0] };
    expect(() => new StoredWeightSource(manifest, new MemoryShareStore(), IDENTITY, {}, new Map([[stranger, new Uint8Array(stranger.bytes)]])))
      .toThrow(`a verified part ${stranger.tensor}/${stranger.part} handed to the weight source is not one of party 2's manifest parts`);
  });

  it('keeps the dense parts whose words the weight cache will keep: all when the share fits, else as many as its budget takes in manifest order; seeds parts always', () => {
    const { manifest } = fx.shares.parties[1];
    const seeds = manifest.parts.filter((p) => p.part === 'seeds');
    const dense = manifest.parts.filter((p) => p.part.startsWith('dense.'));
    const denseBytes = dense.reduce((s, p) => s + p.bytes, 0);
    const kept = (weightCacheBytes?: number) => dense.filter(verifiedPartKept(manifest, { weightCacheBytes }));
    expect(expandedShareBytes(manifest)).toBe(2 * denseBytes);
    expect(seeds.every(verifiedPartKept(manifest, { weightCacheBytes: 0 }))).toBe(true);
    expect(kept(undefined)).toEqual(dense);
    expect(kept(denseBytes)).toEqual(dense);
    expect(kept(denseBytes - 8)).toEqual(dense.slice(0, -1));
    expect(kept(dense[0].bytes + dense[1].bytes - 1)).toEqual([dense[0]]);
    expect(kept(0)).toEqual([]);
  });

  it('a share that does not fit keeps the parts of the tensors the cache reserves room for (the most blocks) first', () => {
    const part = DENSE_PART_BYTES;
    const info = (tensor: string, k: number, bytes: number): PartInfo => ({ tensor, part: `dense.${k}`, bytes, sha256: '0'.repeat(64) });
    const manifest: PartyShareManifest = {
      format: 'puma-party-shares/1', modelId: 'shape', epoch: '0'.repeat(32), party: 1, fracBits: 18, config: { vocabSize: 1 } as ModelConfig,
      tensors: [{ name: 'small', shape: [1000] }, { name: 'table', shape: [4 * (part / 8)] }],
      parts: [info('small', 0, 8000), ...[0, 1, 2, 3].map((k) => info('table', k, part))],
    };
    // Room for the table and 100 bytes more: the table is reserved, so the small tensor (first in the manifest) is not kept.
    const keep = verifiedPartKept(manifest, { weightCacheBytes: 4 * part + 100 });
    expect(manifest.parts.map(keep)).toEqual([false, true, true, true, true]);
    // Too little room for the whole table: nothing is reserved, and the budget fills in manifest order.
    expect(manifest.parts.map(verifiedPartKept(manifest, { weightCacheBytes: 8000 + part }))).toEqual([true, true, false, false, false]);
  });

  it('a cached session reads no part before it is ready (sizes only), then each dense part once in its first pass and none in later steps: the tokens of plaintext', async () => {
    const stores = freshStores();
    const warm = startSession(fx, stores);
    await runClientSession({ channel: clientChannel(warm.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: 1 });
    await Promise.all(warm.parties);
    const { stores: counted, denseReads } = countingDenseReads(stores);
    // Each party's dense reads when it tells the client it is ready (its start-up check done).
    const readsAtReady: number[] = [];
    const net = droppableNetwork(ENDPOINTS, (from, to, tag) => {
      if (to === CLIENT && tag === 'ready') readsAtReady[from as PartyId] = denseReads[from as PartyId];
    }, IDENTITIES);
    const run = startSession(fx, counted, { net });
    const steps = 3;
    const result = await runClientSession({ channel: clientChannel(run.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: steps });
    const reports = await Promise.all(run.parties);
    expect(result.tokens).toEqual(generateGreedy(fx.model, fx.promptIds, steps).slice(fx.promptIds.length));
    expect(readsAtReady).toEqual([0, 0, 0]);
    for (const id of [1, 2] as const) {
      const parts = fx.shares.parties[id].manifest.parts.filter((p) => p.part.startsWith('dense.')).length;
      expect(reports[id].weights).toMatchObject({ cacheHits: reports[id].weights.partsTotal, partsFetched: 0 });
      expect(denseReads[id]).toBe(parts);
    }
    expect(denseReads[0]).toBe(0);
  }, 180_000);
});
