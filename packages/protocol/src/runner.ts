/**
 * Session setup and an in-process three-party runner. Setup follows DESIGN.md: party j samples k_j and sends
 * it to party j-1, so party i ends up with k_i and k_{i+1}. The runner wires three parties, the client and
 * the owner through in-memory channels; each party gets its own backend instance.
 */
import type { Backend } from '@puma/backend';
import { DEFAULT_FRAC_BITS, checkFracBits, randomKey } from '@puma/ring';
import { CLIENT, OWNER, memoryNetwork, type Channel, type DeliveryObserver, type PartyId } from '@puma/transport';
import { Party } from './party.ts';

export interface SetupOptions {
  id: PartyId;
  backend: Backend;
  channel: Channel;
  fracBits?: number;
}

export async function setupParty(o: SetupOptions): Promise<Party> {
  const fracBits = o.fracBits ?? DEFAULT_FRAC_BITS;
  checkFracBits(fracBits);
  const own = randomKey();
  const prev = ((o.id + 2) % 3) as PartyId;
  const next = ((o.id + 1) % 3) as PartyId;
  o.channel.send(prev, 'setup:key', new Uint8Array(own.buffer.slice(0)));
  const nextKey = new Uint32Array((await o.channel.recv(next, 'setup:key')).slice().buffer);
  if (nextKey.length !== 8) throw new Error(`party ${o.id}: key from party ${next} has ${nextKey.length} words, expected 8`);
  return new Party({ id: o.id, backend: o.backend, channel: o.channel, keys: { self: own, next: nextKey }, fracBits });
}

export interface LocalRun<T, C> {
  results: [T, T, T];
  client: C;
  parties: [Party, Party, Party];
  channels: Map<number, Channel>;
}

export interface LocalRunOptions<C> {
  fracBits?: number;
  /** Runs on the client endpoint concurrently with the parties. */
  client?: (channel: Channel) => Promise<C>;
  owner?: (channel: Channel) => Promise<void>;
  /** Sees every delivered message (for tests of what parties receive). */
  observe?: DeliveryObserver;
}

export async function runLocal<T, C = undefined>(
  makeBackend: (id: PartyId) => Backend | Promise<Backend>,
  program: (p: Party) => Promise<T>,
  opts: LocalRunOptions<C> = {},
): Promise<LocalRun<T, C>> {
  const channels = memoryNetwork([0, 1, 2, CLIENT, OWNER], opts.observe);
  const parties = (await Promise.all(
    ([0, 1, 2] as const).map(async (id) => setupParty({ id, backend: await makeBackend(id), channel: channels.get(id)!, fracBits: opts.fracBits })),
  )) as [Party, Party, Party];
  const clientRun = opts.client ? opts.client(channels.get(CLIENT)!) : Promise.resolve(undefined as C);
  const ownerRun = opts.owner ? opts.owner(channels.get(OWNER)!) : Promise.resolve();
  const [results, client] = await Promise.all([Promise.all(parties.map((p) => program(p))), clientRun, ownerRun]);
  return { results: results as [T, T, T], client: client as C, parties, channels };
}
