/**
 * Whole sessions in one process over in-memory channels: the model owner, three parties and the client with
 * the real stories260K model. Secure greedy tokens equal the plaintext ones; a second session with the same
 * caches downloads no share bytes; a cache entry damaged in place fails the job naming it and is fetched by the
 * next session, one of the wrong size is refetched at start-up; a vanished or stopped party makes every
 * other endpoint fail promptly with a message naming it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { generateGreedy, LLAMA_BOS } from '@puma/models';
import { CLIENT, OWNER, type EndpointId, type PartyId } from '@puma/transport';
import { MemoryShareStore, openClientSession, partKey, prepareOwnerShares, runClientSession, runPartySession, serveOwner, type GenerateResult, type OwnerShares } from './index.ts';
import {
  ENDPOINTS, IDENTITIES, PARTIES, PROMPT, ROSTER, clientChannel, freshStores, loadFixture, startSession, within, type Fixture,
} from './session-fixture.ts';
import { droppableNetwork } from './test-support.ts';

let fx: Fixture;

beforeAll(async () => {
  fx = await loadFixture();
}, 60_000);

/** Stores that one finished session has filled with every party's share (the cache a next session starts from). */
async function warmedStores(): Promise<ReturnType<typeof freshStores>> {
  const stores = freshStores();
  const warm = startSession(fx, stores);
  await runClientSession({ channel: clientChannel(warm.net), approvedParties: ROSTER, prompt: [LLAMA_BOS], maxNewTokens: 1 });
  await Promise.all(warm.parties);
  return stores;
}

/** A two-token session on `stores` whose tokens must equal plaintext greedy; the parties' reports. */
async function sessionGivingPlaintext(stores: ReturnType<typeof freshStores>) {
  const run = startSession(fx, stores);
  const result = await runClientSession({ channel: clientChannel(run.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: 2 });
  const reports = await Promise.all(run.parties);
  expect(result.tokens).toEqual(generateGreedy(fx.model, fx.promptIds, 2).slice(fx.promptIds.length));
  return reports;
}

describe('session runtime (stories260K, in-memory channels)', () => {
  it('generates the plaintext greedy tokens; a second session on the same caches downloads 0 share bytes', async () => {
    const stores = freshStores();
    const maxNewTokens = 6;
    const expected = generateGreedy(fx.model, fx.promptIds, maxNewTokens).slice(fx.promptIds.length);

    const first = startSession(fx, stores);
    const events: number[] = [];
    const result = await runClientSession({ channel: clientChannel(first.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens, onToken: (t) => events.push(t.token) });
    const reports = await Promise.all(first.parties);
    await first.owner;
    expect(result.promptIds).toEqual(fx.promptIds);
    expect(result.tokens).toEqual(expected);
    expect(events).toEqual(expected);
    expect(result.costs).toHaveLength(maxNewTokens);
    expect(result.costs[1].map((c) => c.rounds)).toEqual([result.costs[1][0].rounds, result.costs[1][0].rounds, result.costs[1][0].rounds]);
    expect(result.text.length).toBeGreaterThan(0);
    for (const [id, r] of reports.entries()) {
      expect(r.weights.cacheHits).toBe(0);
      expect(r.weights.partsFetched).toBe(r.weights.partsTotal);
      expect(r.weights.shareBytesDownloaded).toBe(fx.shares.parties[id].parts.reduce((s, p) => s + p.byteLength, 0));
      expect(r.jobs).toEqual([{ kind: 'generate', steps: expect.any(Array) }]);
      expect(first.status[id].map((s) => s.phase)).toEqual(expect.arrayContaining(['keys', 'weights', 'ready', 'running', 'done']));
    }
    // Party 0 holds only seeds; parties 1 and 2 download the dense component.
    expect(reports[0].weights.shareBytesDownloaded).toBeLessThan(reports[1].weights.shareBytesDownloaded / 100);

    const second = startSession(fx, stores);
    const again = await runClientSession({ channel: clientChannel(second.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: 2 });
    const reports2 = await Promise.all(second.parties);
    expect(again.tokens).toEqual(expected.slice(0, 2));
    for (const r of reports2) {
      expect(r.weights).toMatchObject({ cacheHits: r.weights.partsTotal, partsFetched: 0, shareBytesDownloaded: 0, corruptParts: 0 });
    }
  }, 120_000);

  it("a party given a backend chooser calls it with the manifest's model config before any key exchange, and computes with what it returns", async () => {
    const asked: Array<{ vocabSize: number; numLayers: number }> = [];
    const run = startSession(fx, freshStores(), {
      backendOf: (id) => (id !== 1 ? fx.backends[id] : async (config) => {
        asked.push({ vocabSize: config.vocabSize, numLayers: config.numLayers });
        return fx.backends[1];
      }),
    });
    const result = await runClientSession({ channel: clientChannel(run.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: 2 });
    const reports = await Promise.all(run.parties);
    expect(asked).toEqual([{ vocabSize: fx.model.config.vocabSize, numLayers: fx.model.config.numLayers }]);
    expect(result.tokens).toEqual(generateGreedy(fx.model, fx.promptIds, 2).slice(fx.promptIds.length));
    expect(reports[1].backend).toBe(reports[0].backend);
    const messages = run.status[1].map((s) => s.message);
    expect(messages.findIndex((m) => m.startsWith('choosing the backend on the shapes of'))).toBeLessThan(messages.indexOf('exchanging PRG keys with the other parties'));

    // A chooser that fails ends the session on every endpoint with its reason.
    const failing = startSession(fx, freshStores(), {
      backendOf: (id) => (id !== 2 ? fx.backends[id] : async () => {
        throw new Error('party 2: cannot start the auto backend: no adapter');
      }),
    });
    await expect(runClientSession({ channel: clientChannel(failing.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: 1 })).rejects.toThrow(/no adapter/);
    await expect(failing.parties[2]).rejects.toThrow(/no adapter/);
    await expect(failing.parties[0]).rejects.toThrow(/party 2/);
  }, 120_000);

  it('with stopIds the reply ends at the first stop token and the parties compute no step after it', async () => {
    const expected = generateGreedy(fx.model, fx.promptIds, 6).slice(fx.promptIds.length);
    // Stop at the second generated token: the parties must compute exactly two steps of the six allowed.
    const run = startSession(fx, freshStores());
    const result = await runClientSession({ channel: clientChannel(run.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: 6, stopIds: [expected[1]] });
    const reports = await Promise.all(run.parties);
    expect(result.tokens).toEqual(expected.slice(0, expected.indexOf(expected[1]) + 1));
    for (const r of reports) expect(r.jobs[0].steps).toHaveLength(result.tokens.length);
    // A stop id that never comes: all six steps.
    const all = startSession(fx, freshStores());
    const full = await runClientSession({ channel: clientChannel(all.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: 6, stopIds: [] });
    expect(full.tokens).toEqual(expected);
    for (const r of await Promise.all(all.parties)) expect(r.jobs[0].steps).toHaveLength(6);
  }, 120_000);

  it('a cached part damaged in place fails the job, naming it, on every endpoint; it is deleted, and the next session fetches only that part and gives the plaintext tokens', async () => {
    const stores = await warmedStores();

    const info = fx.shares.parties[1].manifest.parts.find((p) => p.tensor === 'l0.qkv.w' && p.part === 'dense.0')!;
    const key = partKey(ROSTER[1], 'stories260K', fx.shares.epoch, 1, info.tensor, info.part);
    const entry = stores[1].entries.get(key)!;
    expect(entry).toBeDefined();
    entry[entry.length - 1] ^= 1;

    // The start-up check looks at sizes only, so the session starts; the first pass reads the part and refuses it.
    const spoiled = startSession(fx, stores);
    const generation = runClientSession({ channel: clientChannel(spoiled.net), approvedParties: ROSTER, prompt: PROMPT, maxNewTokens: 2 });
    generation.catch(() => {});
    const named = `share part l0.qkv.w/dense.0 of party 1 (model stories260K, sharing ${fx.shares.epoch}) in this party's share store does not match its sha256`;
    for (const id of PARTIES) await expect(within(spoiled.parties[id], 30_000, `party ${id}`)).rejects.toThrow(named);
    await expect(within(generation, 10_000, 'the client')).rejects.toThrow(named);
    await expect(generation).rejects.toThrow('it was deleted from the store, so the next session fetches it again from the model owner');
    expect(stores[1].entries.has(key)).toBe(false);

    const reports = await sessionGivingPlaintext(stores);
    expect(reports[1].weights).toMatchObject({ corruptParts: 0, partsFetched: 1, shareBytesDownloaded: info.bytes, cacheHits: reports[1].weights.partsTotal - 1 });
    expect(reports[0].weights.shareBytesDownloaded).toBe(0);
    expect(reports[2].weights.shareBytesDownloaded).toBe(0);
    expect(stores[1].entries.get(key)![entry.length - 1]).toBe(entry[entry.length - 1] ^ 1);
  }, 180_000);

  it('a cached part of the wrong size is deleted at start-up and only that part fetched again', async () => {
    const stores = await warmedStores();

    const info = fx.shares.parties[2].manifest.parts.find((p) => p.part.startsWith('dense.'))!;
    const key = partKey(ROSTER[2], 'stories260K', fx.shares.epoch, 2, info.tensor, info.part);
    const whole = stores[2].entries.get(key)!;
    stores[2].entries.set(key, whole.slice(0, whole.length - 8));

    const reports = await sessionGivingPlaintext(stores);
    expect(reports[2].weights).toMatchObject({ corruptParts: 1, partsFetched: 1, shareBytesDownloaded: info.bytes, cacheHits: reports[2].weights.partsTotal - 1 });
    expect(reports[1].weights.shareBytesDownloaded).toBe(0);
    expect(stores[2].entries.get(key)).toEqual(whole);
  }, 120_000);

  it('the owner sends each party only its own manifest and parts, and the client no weights', async () => {
    const seen: Array<{ from: EndpointId; to: EndpointId; tag: string; data: Uint8Array }> = [];
    const net = droppableNetwork(ENDPOINTS, (from, to, tag, data) => {
      // The end-of-session notice carries nothing; everything else the owner sends is checked here.
      if (from === OWNER && tag !== 'session:end') seen.push({ from, to, tag, data });
    }, IDENTITIES);
    const run = startSession(fx, freshStores(), { net });
    await runClientSession({ channel: clientChannel(net), approvedParties: ROSTER, prompt: [LLAMA_BOS], maxNewTokens: 1 });
    await Promise.all(run.parties);
    const toClient = seen.filter((m) => m.to === CLIENT);
    expect(toClient.map((m) => m.tag)).toEqual(['public']);
    const sizeOfWeights = fx.shares.parties[1].parts.reduce((s, p) => s + p.byteLength, 0);
    expect(toClient[0].data.byteLength).toBeLessThan(sizeOfWeights / 4);
    for (const id of PARTIES) {
      const mine = seen.filter((m) => m.to === id);
      expect(mine[0].tag).toBe('w:manifest');
      const manifest = JSON.parse(new TextDecoder().decode(mine[0].data));
      expect(manifest.party).toBe(id);
      expect(manifest.parties).toEqual(ROSTER);
      for (const m of mine.slice(1)) {
        const k = Number(/^w:part:(\d+)$/.exec(m.tag)![1]);
        // Byte comparison by Buffer: the deep equality of expect is far too slow for megabytes.
        expect(Buffer.compare(m.data, fx.shares.parties[id].parts[k])).toBe(0);
      }
      expect(mine).toHaveLength(1 + fx.shares.parties[id].parts.length);
    }
  }, 120_000);

  it('a party that vanishes mid-run makes the other parties and the client fail within seconds, naming it', async () => {
    const run = startSession(fx, freshStores());
    const session = await openClientSession({ channel: clientChannel(run.net), approvedParties: ROSTER });
    let dropped = false;
    const generation: Promise<GenerateResult> = session.generate({
      prompt: PROMPT,
      maxNewTokens: 20,
      onToken: (t) => {
        if (t.index === 1 && !dropped) {
          dropped = true;
          run.net.drop(2);
        }
      },
    });
    generation.catch(() => {});
    await expect(within(generation, 20_000, 'the client')).rejects.toThrow(/client: .*party 2 (disconnected|was dropped)/);
    await expect(within(run.parties[0], 5_000, 'party 0')).rejects.toThrow(/party 0: .*party 2 (disconnected|was dropped)/);
    await expect(within(run.parties[1], 5_000, 'party 1')).rejects.toThrow(/party 1: .*party 2 (disconnected|was dropped)/);
    expect(run.status[0].at(-1)).toMatchObject({ phase: 'error' });
    expect(dropped).toBe(true);
  }, 60_000);

  it('a party stopped by its user tells the others why, and they stop too', async () => {
    const stop = new AbortController();
    const run = startSession(fx, freshStores(), { signals: [undefined, stop.signal, undefined] });
    const session = await openClientSession({ channel: clientChannel(run.net), approvedParties: ROSTER });
    const generation = session.generate({ prompt: PROMPT, maxNewTokens: 20, onToken: (t) => t.index === 0 && stop.abort(new Error('page closed')) });
    generation.catch(() => {});
    await expect(within(run.parties[1], 5_000, 'party 1')).rejects.toThrow(/party 1 stopped: page closed/);
    await expect(within(generation, 5_000, 'the client')).rejects.toThrow(/party 1 stopped .*page closed/);
    await expect(within(run.parties[0], 5_000, 'party 0')).rejects.toThrow(/party 1 stopped .*page closed/);
    await expect(within(run.parties[2], 5_000, 'party 2')).rejects.toThrow(/party 1 stopped .*page closed/);
  }, 60_000);

  it('an invalid job header ends the session with an error naming the problem', async () => {
    const run = startSession(fx, freshStores());
    const ch = clientChannel(run.net);
    await openClientSession({ channel: ch, approvedParties: ROSTER });
    const header = new TextEncoder().encode(JSON.stringify({ kind: 'generate', promptLength: 2, maxNewTokens: 100_000, reveal: 'logits', parties: ROSTER }));
    for (const p of PARTIES) ch.send(p, 'job:0', header.slice());
    await expect(within(run.parties[0], 5_000, 'party 0')).rejects.toThrow(/job header from the client: maxNewTokens must be an integer in \[1, \d+\], got 100000/);
  }, 60_000);

  it("parties take the sharing's fraction bits unless told otherwise, and refuse a sharing that contradicts them", async () => {
    const tokenizer = fx.shares.publicInfo.tokenizer;
    const at16 = await prepareOwnerShares({ model: fx.model, modelId: 'stories260K', fracBits: 16, tokenizer });
    const net = droppableNetwork(ENDPOINTS, undefined, IDENTITIES);
    const party = (id: PartyId, fracBits?: number) =>
      runPartySession({ id, identity: ROSTER[id], channel: net.channels.get(id)!, backend: fx.backends[id], store: new MemoryShareStore(), fracBits });
    const fixed = party(0, 18);
    const free = [party(1), party(2)];
    for (const p of [fixed, ...free]) p.catch(() => {});
    void serveOwner({ channel: net.channels.get(OWNER)!, shares: at16, approvedParties: ROSTER }).catch(() => {});
    await expect(within(fixed, 10_000, 'party 0')).rejects.toThrow('party 0: the owner shared the weights with 16 fraction bits, this session uses 18');

    const ok = startSession(fx, freshStores(), { shares: at16 });
    const result = await runClientSession({ channel: clientChannel(ok.net), approvedParties: ROSTER, prompt: [LLAMA_BOS], maxNewTokens: 2 });
    expect(result.tokens).toHaveLength(2);
    await Promise.all(ok.parties);
  }, 60_000);

  it('a part that does not match its sha256 in transit is refused', async () => {
    const tampered: OwnerShares = { ...fx.shares, parties: [...fx.shares.parties] as OwnerShares['parties'] };
    const parts = fx.shares.parties[2].parts.map((p) => p);
    const k = fx.shares.parties[2].manifest.parts.findIndex((p) => p.part.startsWith('dense.'));
    parts[k] = parts[k].slice();
    parts[k][0] ^= 0x80;
    tampered.parties[2] = { manifest: fx.shares.parties[2].manifest, parts };
    const run = startSession(fx, freshStores(), { shares: tampered });
    const info = fx.shares.parties[2].manifest.parts[k];
    await expect(within(run.parties[2], 10_000, 'party 2')).rejects.toThrow(`share part ${info.tensor}/${info.part} from the model owner does not match its sha256`);
    await expect(within(run.parties[0], 5_000, 'party 0')).rejects.toThrow(/party 2 stopped/);
  }, 60_000);
});
