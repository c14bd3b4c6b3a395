/**
 * Parts a session's start-up check (or download) has checked go to the first pass as checked (stored-weights.ts):
 * the source's first read of such a part takes those bytes instead of the store's, and later reads go back to
 * the store, still checked; the session keeps dense parts only when its weight cache will hold the whole share;
 * a cached session reads each dense part once (its start-up check) and gives the tokens of plaintext.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { generateGreedy } from '@puma/models';
import { expandedShareBytes } from '@puma/models/secure';
import { MemoryShareStore, partKey, runClientSession, type PartInfo, type ShareStore } from './index.ts';
import { PROMPT, ROSTER, clientChannel, freshStores, loadFixture, startSession, type Fixture } from './session-fixture.ts';
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

  it('keeps dense parts only when the weight cache holds the whole share (dense words only, when it does not fit expanded); seeds parts always', () => {
    const { manifest } = fx.shares.parties[1];
    const seeds = manifest.parts.find((p) => p.part === 'seeds')!;
    const dense = manifest.parts.find((p) => p.part.startsWith('dense.'))!;
    const denseBytes = manifest.tensors.reduce((s, t) => s + 8 * t.shape.reduce((a, b) => a * b, 1), 0);
    const kept = (weightCacheBytes?: number) => [seeds, dense].map(verifiedPartKept(manifest, { weightCacheBytes }));
    expect(expandedShareBytes(manifest)).toBe(2 * denseBytes);
    expect(kept(undefined)).toEqual([true, true]);
    expect(kept(denseBytes)).toEqual([true, true]);
    expect(kept(denseBytes - 8)).toEqual([true, false]);
    expect(kept(0)).toEqual([true, false]);
  });

  it('a cached session reads each dense part once, in its start-up check, and none in its steps: the tokens of plaintext', async () => {
    const stores = freshStores();
    const warm = startSession(fx, stores);
    await runClientSession({ channel: clientChannel(warm.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: 1 });
    await Promise.all(warm.parties);
    const denseReads = [0, 0, 0];
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
    const reports = await Promise.all(run.parties);
    expect(result.tokens).toEqual(generateGreedy(fx.model, fx.promptIds, steps).slice(fx.promptIds.length));
    for (const id of [1, 2] as const) {
      const parts = fx.shares.parties[id].manifest.parts.filter((p) => p.part.startsWith('dense.')).length;
      expect(reports[id].weights).toMatchObject({ cacheHits: reports[id].weights.partsTotal, partsFetched: 0 });
      expect(denseReads[id]).toBe(parts);
    }
    expect(denseReads[0]).toBe(0);
  }, 180_000);
});
