/**
 * Test harness of the session tests: the stories260K model shared once, one wasm backend per party, identities
 * for every endpoint, and a helper that starts the owner and three parties on an in-memory network.
 */
import { readFile } from 'node:fs/promises';
import type { Backend } from '@puma/backend';
import { LLAMA_BOS, type Model } from '@puma/models';
import { loadModel } from '@puma/models/node';
import { CLIENT, OWNER, type Channel, type EndpointId, type PartyId } from '@puma/transport';
import { createBackend } from '../select-backend.ts';
import {
  MemoryShareStore, prepareOwnerShares, runPartySession, serveOwner,
  type OwnerReport, type OwnerServeOptions, type OwnerShares, type PartySessionOptions, type PartySessionReport, type PartyStatus, type Roster, type ShareStore,
} from './index.ts';
import { droppableNetwork, type DroppableNetwork } from './test-support.ts';

export const ENDPOINTS: EndpointId[] = [0, 1, 2, CLIENT, OWNER];
export const PARTIES = [0, 1, 2] as const;
export const PROMPT = 'Once upon a time';

/** A made-up fingerprint: 64 hex digits of `digit`. */
export const fingerprint = (digit: string): string => digit.repeat(64);
/** The identities of parties 0, 1, 2: the roster owner and client approve unless a test says otherwise. */
export const ROSTER: Roster = [fingerprint('a'), fingerprint('b'), fingerprint('c')];
export const IDENTITIES: Record<EndpointId, string> = { 0: ROSTER[0], 1: ROSTER[1], 2: ROSTER[2], [CLIENT]: fingerprint('d'), [OWNER]: fingerprint('e') };

export interface Fixture {
  model: Model;
  /** Shared once; serveOwner records its holders (always ROSTER in the tests that reuse it). */
  shares: OwnerShares;
  backends: Backend[];
  promptIds: number[];
}

export async function loadFixture(): Promise<Fixture> {
  const loaded = await loadModel('stories260K');
  const model = loaded.model;
  const tokenizerBin = await readFile(loaded.location.tokenizer!.kind === 'llama2c' ? loaded.location.tokenizer!.path : '');
  const shares = await prepareOwnerShares({ model, modelId: 'stories260K', tokenizer: { kind: 'llama2c', files: { 'tokenizer.bin': tokenizerBin } } });
  const backends = await Promise.all(PARTIES.map(() => createBackend('wasm')));
  return { model, shares, backends, promptIds: [LLAMA_BOS, ...loaded.tokenizer!.encode(PROMPT)] };
}

/** The same sharing with no holders recorded (as if freshly made; tests of the holder rules start from it). */
export function unservedCopy(shares: OwnerShares): OwnerShares {
  return { ...shares, holders: { 0: null, 1: null, 2: null } };
}

export interface SessionRun {
  net: DroppableNetwork;
  parties: Promise<PartySessionReport>[];
  owner: Promise<OwnerReport>;
  status: PartyStatus[][];
}

export interface SessionOptions {
  signals?: (AbortSignal | undefined)[];
  net?: DroppableNetwork;
  shares?: OwnerShares;
  /** The roster the owner approves (default ROSTER). */
  approved?: Roster;
  /** Each party's own identity (default ROSTER). */
  identities?: readonly string[];
  stepTimeoutMs?: number;
  /** The parties' weight cache cap (default: the session's default). */
  weightCacheBytes?: number;
  recordHolders?: OwnerServeOptions['recordHolders'];
  /** The owner's part source and window (default: the shares' parts, the default window). */
  partSource?: OwnerServeOptions['partSource'];
  windowParts?: number;
  /** Replaces party `id`'s channel, e.g. to show it other identities than the network's. */
  channelOf?: (id: PartyId, channel: Channel) => Channel;
  /** Party `id`'s backend or backend chooser (default: the fixture's backend). */
  backendOf?: (id: PartyId) => PartySessionOptions['backend'];
}

export function startSession(fx: Fixture, stores: MemoryShareStore[], o: SessionOptions = {}): SessionRun {
  const net = o.net ?? droppableNetwork(ENDPOINTS, undefined, IDENTITIES);
  const status: PartyStatus[][] = [[], [], []];
  const parties = PARTIES.map((id) => {
    const channel = net.channels.get(id)!;
    const options: PartySessionOptions = {
      id, identity: (o.identities ?? ROSTER)[id], channel: o.channelOf ? o.channelOf(id, channel) : channel, backend: o.backendOf?.(id) ?? fx.backends[id], store: stores[id],
      signal: o.signals?.[id], stepTimeoutMs: o.stepTimeoutMs, weightRead: { weightCacheBytes: o.weightCacheBytes }, onStatus: (s) => status[id].push(s),
    };
    return runPartySession(options);
  });
  // Rejections are asserted by the tests that expect them; this keeps the others from reporting them twice.
  for (const p of parties) p.catch(() => {});
  const owner = serveOwner({ channel: net.channels.get(OWNER)!, shares: o.shares ?? fx.shares, approvedParties: o.approved ?? ROSTER, recordHolders: o.recordHolders, partSource: o.partSource, windowParts: o.windowParts });
  owner.catch(() => {});
  return { net, parties, owner, status };
}

export function clientChannel(net: DroppableNetwork): Channel {
  return net.channels.get(CLIENT)!;
}

export function freshStores(): MemoryShareStore[] {
  return PARTIES.map(() => new MemoryShareStore());
}

/** The stores wrapped to count each party's reads (gets) of dense parts; size look-ups are not reads (the session needs only ShareStore's methods). */
export function countingDenseReads(stores: MemoryShareStore[]): { stores: MemoryShareStore[]; denseReads: number[] } {
  const denseReads = stores.map(() => 0);
  const counted = stores.map((s, id): ShareStore => ({
    get: (k) => {
      if (/\/dense\.\d+$/.test(k)) denseReads[id] += 1;
      return s.get(k);
    },
    set: (k, b) => s.set(k, b),
    delete: (k) => s.delete(k),
    size: (k) => s.size(k),
  }));
  // startSession's stores are typed as memory stores (tests inspect them).
  return { stores: counted as unknown as MemoryShareStore[], denseReads };
}

/** Rejects when `p` has not settled within `ms` (a hang is a failure, not a stuck test run). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}
