/**
 * Whole sessions in one process over in-memory channels: the model owner, three parties and the client with
 * the real stories260K model. Secure greedy tokens equal the plaintext ones; a second session with the same
 * caches downloads no share bytes; a corrupt cache entry is refetched; a vanished or stopped party makes every
 * other endpoint fail promptly with a message naming it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import type { Backend } from '@puma/backend';
import { generateGreedy, LLAMA_BOS, type Model } from '@puma/models';
import { loadModel } from '@puma/models/node';
import { CLIENT, OWNER, type Channel, type EndpointId, type PartyId } from '@puma/transport';
import { createBackend } from '../select-backend.ts';
import {
  MemoryShareStore, openClientSession, prepareOwnerShares, runClientSession, runPartySession, serveOwner,
  type GenerateResult, type OwnerShares, type PartySessionReport, type PartyStatus,
} from './index.ts';
import { droppableNetwork, type DroppableNetwork } from './test-support.ts';

const ENDPOINTS: EndpointId[] = [0, 1, 2, CLIENT, OWNER];
const PARTIES = [0, 1, 2] as const;
const PROMPT = 'Once upon a time';

let model: Model;
let shares: OwnerShares;
let backends: Backend[];
let promptIds: number[];

beforeAll(async () => {
  const loaded = await loadModel('stories260K');
  model = loaded.model;
  const tokenizerBin = await readFile(loaded.location.tokenizer!.kind === 'llama2c' ? loaded.location.tokenizer!.path : '');
  shares = await prepareOwnerShares({ model, modelId: 'stories260K', tokenizer: { kind: 'llama2c', files: { 'tokenizer.bin': tokenizerBin } } });
  backends = await Promise.all(PARTIES.map(() => createBackend('wasm')));
  promptIds = [LLAMA_BOS, ...loaded.tokenizer!.encode(PROMPT)];
}, 60_000);

interface SessionRun {
  net: DroppableNetwork;
  parties: Promise<PartySessionReport>[];
  owner: Promise<unknown>;
  status: PartyStatus[][];
}

function startSession(stores: MemoryShareStore[], opts: { signals?: (AbortSignal | undefined)[]; net?: DroppableNetwork } = {}): SessionRun {
  const net = opts.net ?? droppableNetwork(ENDPOINTS);
  const status: PartyStatus[][] = [[], [], []];
  const parties = PARTIES.map((id) =>
    runPartySession({
      id, channel: net.channels.get(id)!, backend: backends[id], store: stores[id], signal: opts.signals?.[id], onStatus: (s) => status[id].push(s),
    }),
  );
  // Rejections are asserted by the tests that expect them; this keeps the others from reporting them twice.
  for (const p of parties) p.catch(() => {});
  const owner = serveOwner({ channel: net.channels.get(OWNER)!, shares });
  owner.catch(() => {});
  return { net, parties, owner, status };
}

function client(net: DroppableNetwork): Channel {
  return net.channels.get(CLIENT)!;
}

function freshStores(): MemoryShareStore[] {
  return PARTIES.map(() => new MemoryShareStore());
}

/** Rejects when `p` has not settled within `ms` (a hang is a failure, not a stuck test run). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

describe('session runtime (stories260K, in-memory channels)', () => {
  it('generates the plaintext greedy tokens; a second session on the same caches downloads 0 share bytes', async () => {
    const stores = freshStores();
    const maxNewTokens = 6;
    const expected = generateGreedy(model, promptIds, maxNewTokens).slice(promptIds.length);

    const first = startSession(stores);
    const events: number[] = [];
    const result = await runClientSession({ channel: client(first.net), prompt: PROMPT, maxNewTokens, onToken: (t) => events.push(t.token) });
    const reports = await Promise.all(first.parties);
    await first.owner;
    expect(result.promptIds).toEqual(promptIds);
    expect(result.tokens).toEqual(expected);
    expect(events).toEqual(expected);
    expect(result.costs).toHaveLength(maxNewTokens);
    expect(result.costs[1].map((c) => c.rounds)).toEqual([result.costs[1][0].rounds, result.costs[1][0].rounds, result.costs[1][0].rounds]);
    expect(result.text.length).toBeGreaterThan(0);
    for (const [id, r] of reports.entries()) {
      expect(r.weights.cacheHits).toBe(0);
      expect(r.weights.partsFetched).toBe(r.weights.partsTotal);
      expect(r.weights.shareBytesDownloaded).toBe(shares.parties[id].parts.reduce((s, p) => s + p.byteLength, 0));
      expect(r.jobs).toEqual([{ kind: 'generate', steps: expect.any(Array) }]);
      expect(first.status[id].map((s) => s.phase)).toEqual(expect.arrayContaining(['keys', 'weights', 'ready', 'running', 'done']));
    }
    // Party 0 holds only seeds; parties 1 and 2 download the dense component.
    expect(reports[0].weights.shareBytesDownloaded).toBeLessThan(reports[1].weights.shareBytesDownloaded / 100);

    const second = startSession(stores);
    const again = await runClientSession({ channel: client(second.net), prompt: PROMPT, maxNewTokens: 2 });
    const reports2 = await Promise.all(second.parties);
    expect(again.tokens).toEqual(expected.slice(0, 2));
    for (const r of reports2) {
      expect(r.weights).toMatchObject({ cacheHits: r.weights.partsTotal, partsFetched: 0, shareBytesDownloaded: 0, corruptParts: 0 });
    }
  }, 120_000);

  it('detects a corrupt cached part, deletes it and fetches only that part again', async () => {
    const stores = freshStores();
    const warm = startSession(stores);
    await runClientSession({ channel: client(warm.net), prompt: [LLAMA_BOS], maxNewTokens: 1 });
    await Promise.all(warm.parties);

    const info = shares.parties[1].manifest.parts.find((p) => p.part.startsWith('dense.'))!;
    const key = `stories260K/${shares.epoch}/1/${info.tensor}/${info.part}`;
    const entry = stores[1].entries.get(key)!;
    expect(entry).toBeDefined();
    entry[entry.length - 1] ^= 1;

    const run = startSession(stores);
    const result = await runClientSession({ channel: client(run.net), prompt: PROMPT, maxNewTokens: 2 });
    const reports = await Promise.all(run.parties);
    expect(result.tokens).toEqual(generateGreedy(model, promptIds, 2).slice(promptIds.length));
    expect(reports[1].weights).toMatchObject({ corruptParts: 1, partsFetched: 1, shareBytesDownloaded: info.bytes, cacheHits: reports[1].weights.partsTotal - 1 });
    expect(reports[0].weights.shareBytesDownloaded).toBe(0);
    expect(reports[2].weights.shareBytesDownloaded).toBe(0);
    expect(stores[1].entries.get(key)![entry.length - 1]).toBe(entry[entry.length - 1] ^ 1);
  }, 120_000);

  it('the owner sends each party only its own manifest and parts, and the client no weights', async () => {
    const seen: Array<{ from: EndpointId; to: EndpointId; tag: string; data: Uint8Array }> = [];
    const net = droppableNetwork(ENDPOINTS, (from, to, tag, data) => {
      if (from === OWNER) seen.push({ from, to, tag, data });
    });
    const run = startSession(freshStores(), { net });
    await runClientSession({ channel: client(net), prompt: [LLAMA_BOS], maxNewTokens: 1 });
    await Promise.all(run.parties);
    const toClient = seen.filter((m) => m.to === CLIENT);
    expect(toClient.map((m) => m.tag)).toEqual(['public']);
    const sizeOfWeights = shares.parties[1].parts.reduce((s, p) => s + p.byteLength, 0);
    expect(toClient[0].data.byteLength).toBeLessThan(sizeOfWeights / 4);
    for (const id of PARTIES) {
      const mine = seen.filter((m) => m.to === id);
      expect(mine[0].tag).toBe('w:manifest');
      expect(JSON.parse(new TextDecoder().decode(mine[0].data)).party).toBe(id);
      for (const m of mine.slice(1)) {
        const k = Number(/^w:part:(\d+)$/.exec(m.tag)![1]);
        // Byte comparison by Buffer: the deep equality of expect is far too slow for megabytes.
        expect(Buffer.compare(m.data, shares.parties[id].parts[k])).toBe(0);
      }
      expect(mine).toHaveLength(1 + shares.parties[id].parts.length);
    }
  }, 120_000);

  it('a party that vanishes mid-run makes the other parties and the client fail within seconds, naming it', async () => {
    const run = startSession(freshStores());
    const session = await openClientSession({ channel: client(run.net) });
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
    const run = startSession(freshStores(), { signals: [undefined, stop.signal, undefined] });
    const session = await openClientSession({ channel: client(run.net) });
    const generation = session.generate({ prompt: PROMPT, maxNewTokens: 20, onToken: (t) => t.index === 0 && stop.abort(new Error('page closed')) });
    generation.catch(() => {});
    await expect(within(run.parties[1], 5_000, 'party 1')).rejects.toThrow(/party 1 stopped: page closed/);
    await expect(within(generation, 5_000, 'the client')).rejects.toThrow(/party 1 stopped .*page closed/);
    await expect(within(run.parties[0], 5_000, 'party 0')).rejects.toThrow(/party 1 stopped .*page closed/);
    await expect(within(run.parties[2], 5_000, 'party 2')).rejects.toThrow(/party 1 stopped .*page closed/);
  }, 60_000);

  it('an invalid job header ends the session with an error naming the problem', async () => {
    const run = startSession(freshStores());
    const ch = client(run.net);
    await openClientSession({ channel: ch });
    const header = new TextEncoder().encode(JSON.stringify({ kind: 'generate', promptLength: 2, maxNewTokens: 100_000, reveal: 'logits' }));
    for (const p of PARTIES) ch.send(p, 'job:0', header.slice());
    await expect(within(run.parties[0], 5_000, 'party 0')).rejects.toThrow(/job header from the client: maxNewTokens must be an integer in \[1, \d+\], got 100000/);
  }, 60_000);

  it("parties take the sharing's fraction bits unless told otherwise, and refuse a sharing that contradicts them", async () => {
    const tokenizer = shares.publicInfo.tokenizer;
    const at16 = await prepareOwnerShares({ model, modelId: 'stories260K', fracBits: 16, tokenizer });
    const net = droppableNetwork(ENDPOINTS);
    const fixed = runPartySession({ id: 0, channel: net.channels.get(0)!, backend: backends[0], store: new MemoryShareStore(), fracBits: 18 });
    const free = ([1, 2] as PartyId[]).map((id) => runPartySession({ id, channel: net.channels.get(id)!, backend: backends[id], store: new MemoryShareStore() }));
    for (const p of [fixed, ...free]) p.catch(() => {});
    void serveOwner({ channel: net.channels.get(OWNER)!, shares: at16 }).catch(() => {});
    await expect(within(fixed, 10_000, 'party 0')).rejects.toThrow('party 0: the owner shared the weights with 16 fraction bits, this session uses 18');

    const ok = droppableNetwork(ENDPOINTS);
    const parties16 = PARTIES.map((id) => runPartySession({ id, channel: ok.channels.get(id)!, backend: backends[id], store: new MemoryShareStore() }));
    void serveOwner({ channel: ok.channels.get(OWNER)!, shares: at16 });
    const result = await runClientSession({ channel: client(ok), prompt: [LLAMA_BOS], maxNewTokens: 2 });
    expect(result.tokens).toHaveLength(2);
    await Promise.all(parties16);
  }, 60_000);

  it('a part that does not match its sha256 in transit is refused', async () => {
    const tampered: OwnerShares = { ...shares, parties: [...shares.parties] as OwnerShares['parties'] };
    const parts = shares.parties[2].parts.map((p) => p);
    const k = shares.parties[2].manifest.parts.findIndex((p) => p.part.startsWith('dense.'));
    parts[k] = parts[k].slice();
    parts[k][0] ^= 0x80;
    tampered.parties[2] = { manifest: shares.parties[2].manifest, parts };
    const net = droppableNetwork(ENDPOINTS);
    const party = runPartySession({ id: 2, channel: net.channels.get(2)!, backend: backends[2], store: new MemoryShareStore() });
    party.catch(() => {});
    const others = ([0, 1] as PartyId[]).map((id) => runPartySession({ id, channel: net.channels.get(id)!, backend: backends[id], store: new MemoryShareStore() }));
    for (const o of others) o.catch(() => {});
    void serveOwner({ channel: net.channels.get(OWNER)!, shares: tampered }).catch(() => {});
    const info = shares.parties[2].manifest.parts[k];
    await expect(within(party, 10_000, 'party 2')).rejects.toThrow(`share part ${info.tensor}/${info.part} from the model owner does not match its sha256`);
    await expect(within(others[0], 5_000, 'party 0')).rejects.toThrow(/party 2 stopped/);
  }, 60_000);
});
