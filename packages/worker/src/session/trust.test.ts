/**
 * Who gets what (issue 11), on whole sessions over in-memory channels that report identities: the owner sends a
 * bundle only to the approved identity of its slot and one sharing only ever to one set of holders; a share
 * store holds one slot per sharing; parties check the owner's and the client's rosters against their links
 * before any key or input moves; the client checks the parties before any job.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LLAMA_BOS } from '@puma/models';
import { CLIENT, OWNER, memoryNetwork, type Channel, type EndpointId } from '@puma/transport';
import { openClientSession, runClientSession, serveOwner, sharingConflict, type OwnerShares } from './index.ts';
import {
  ENDPOINTS, IDENTITIES, ROSTER, clientChannel, fingerprint, freshStores, loadFixture, startSession, unservedCopy, within, type Fixture,
} from './session-fixture.ts';
import { droppableNetwork } from './test-support.ts';

let fx: Fixture;

beforeAll(async () => {
  fx = await loadFixture();
}, 60_000);

interface Sent {
  from: EndpointId;
  to: EndpointId;
  tag: string;
}

/** A network that reports IDENTITIES (with `changes`) and records every delivered message's sender, receiver and tag. */
function observedNetwork(changes: Partial<Record<EndpointId, string>> = {}) {
  const sent: Sent[] = [];
  const net = droppableNetwork(ENDPOINTS, (from, to, tag) => sent.push({ from, to, tag }), { ...IDENTITIES, ...changes });
  return { net, sent };
}

/** Serves one whole session (one generated token) on `shares` with the approved ROSTER. */
async function serveOnce(shares: OwnerShares, stores = freshStores()): Promise<void> {
  const run = startSession(fx, stores, { shares });
  await runClientSession({ channel: clientChannel(run.net), approvedParties: ROSTER, prompt: [LLAMA_BOS], maxNewTokens: 1 });
  await Promise.all([...run.parties, run.owner]);
}

const F = fingerprint('f');

describe('the model owner gives bundles only to approved identities', () => {
  it('refuses a party whose link proved another identity: that party is sent nothing, everyone stops naming it', async () => {
    const { net, sent } = observedNetwork({ 1: F });
    const run = startSession(fx, freshStores(), { net, shares: unservedCopy(fx.shares) });
    const why = 'peer identity error: party 1 is ffffffffffffffff…, not the approved bbbbbbbbbbbbbbbb…';
    await expect(within(run.owner, 10_000, 'the owner')).rejects.toThrow(`model owner: ${why}`);
    for (const id of [0, 2]) await expect(within(run.parties[id], 5_000, `party ${id}`)).rejects.toThrow(`party ${id}: model owner stopped (model owner: ${why})`);
    expect(sent.filter((m) => m.from === OWNER && m.to === 1).map((m) => m.tag)).toEqual(['session:abort']);
  }, 30_000);

  it('refuses a party whose link is not authenticated', async () => {
    const plain = memoryNetwork([1, OWNER]);
    const owner = serveOwner({ channel: plain.get(OWNER)!, shares: unservedCopy(fx.shares), approvedParties: ROSTER, parties: [1], client: false });
    plain.get(1)!.send(OWNER, 'w:hello', new Uint8Array(0));
    await expect(within(owner, 5_000, 'the owner')).rejects.toThrow("model owner: peer identity error: party 1's link is not authenticated");
  });

  it('records the holders, then refuses another approved set: that needs a fresh sharing', async () => {
    const shares = unservedCopy(fx.shares);
    await serveOnce(shares);
    expect(shares.holders).toEqual({ 0: ROSTER[0], 1: ROSTER[1], 2: ROSTER[2] });
    expect(sharingConflict(shares, ROSTER)).toBeNull();
    const replaced = [ROSTER[0], ROSTER[1], F] as const;
    const expected = `party 2's bundle of sharing ${shares.epoch} is held by cccccccccccccccc…, not by the approved ffffffffffffffff…; ` +
      'serving a different set of parties needs a fresh sharing (new epoch)';
    expect(sharingConflict(shares, replaced)).toBe(expected);
    const { net, sent } = observedNetwork({ 2: F });
    await expect(serveOwner({ channel: net.channels.get(OWNER)!, shares, approvedParties: replaced })).rejects.toThrow(`model owner: ${expected}`);
    await new Promise((r) => setTimeout(r, 10));
    expect(sent).toEqual([]);
  }, 60_000);

  it('awaits recordHolders, one call at a time, before the newly recorded party is sent anything', async () => {
    const shares = unservedCopy(fx.shares);
    const { net, sent } = observedNetwork();
    const records: Array<{ recorded: number[]; delivered: EndpointId[] }> = [];
    let calls = 0;
    const run = startSession(fx, freshStores(), {
      net, shares,
      recordHolders: async (holders) => {
        expect(calls++).toBe(records.length);
        // A slow store: an owner that did not wait would deliver the manifest meanwhile.
        await new Promise((r) => setTimeout(r, 30));
        const recorded = Object.entries(holders).filter(([, h]) => h !== null).map(([p]) => Number(p));
        records.push({ recorded, delivered: sent.filter((m) => m.tag === 'w:manifest').map((m) => m.to) });
      },
    });
    const session = await openClientSession({ channel: clientChannel(net), approvedParties: ROSTER });
    session.end();
    await Promise.all([...run.parties, run.owner]);
    expect(records.map((r) => r.recorded.length)).toEqual([1, 2, 3]);
    records.forEach((r, k) => {
      const added = r.recorded.filter((p) => !(records[k - 1]?.recorded ?? []).includes(p));
      expect(added).toHaveLength(1);
      expect(r.delivered).not.toContain(added[0]);
    });
  }, 60_000);

  it('never gives an identity a second slot of a sharing, even with some slots still unserved', async () => {
    const shares: OwnerShares = { ...unservedCopy(fx.shares), holders: { 0: ROSTER[0], 1: null, 2: null } };
    const swapped = [F, ROSTER[0], ROSTER[2]] as const;
    const expected = `identity aaaaaaaaaaaaaaaa… already holds party 0's bundle of sharing ${shares.epoch} and may not get party 1's too ` +
      "(one identity never holds two parties' shares of one sharing); serving this set of parties needs a fresh sharing (new epoch)";
    expect(sharingConflict(shares, swapped)).toBe(expected);
    const { net, sent } = observedNetwork({ 0: F, 1: ROSTER[0] });
    await expect(serveOwner({ channel: net.channels.get(OWNER)!, shares, approvedParties: swapped })).rejects.toThrow(`model owner: ${expected}`);
    expect(sent).toEqual([]);
    expect(shares.holders).toEqual({ 0: ROSTER[0], 1: null, 2: null });
  });

  it('a session started before another one recorded the holders still refuses a second slot to one identity', async () => {
    const shares = unservedCopy(fx.shares);
    const late = observedNetwork({ 1: ROSTER[0] });
    const lateOwner = serveOwner({ channel: late.net.channels.get(OWNER)!, shares, approvedParties: [F, ROSTER[0], ROSTER[2]], parties: [1], client: false });
    lateOwner.catch(() => {});
    await serveOnce(shares);
    late.net.channels.get(1)!.send(OWNER, 'w:hello', new Uint8Array(0));
    await expect(within(lateOwner, 5_000, 'the second owner')).rejects.toThrow(
      `model owner: identity aaaaaaaaaaaaaaaa… already holds party 0's bundle of sharing ${shares.epoch}; it may not get party 1's too`);
    expect(late.sent.filter((m) => m.from === OWNER).map((m) => m.tag)).toEqual(['session:abort']);
  }, 60_000);

  it('names what is wrong with an approved set', () => {
    expect(() => sharingConflict(fx.shares, [ROSTER[0], ROSTER[0], ROSTER[2]])).toThrow(
      "approved parties: parties 0 and 1 have the same identity aaaaaaaaaaaaaaaa…; one identity never holds two parties' shares");
    expect(() => sharingConflict(fx.shares, [ROSTER[0], 'b'.repeat(63), ROSTER[2]] as unknown as typeof ROSTER)).toThrow(
      /approved parties: party 1's fingerprint must be an identity fingerprint of 64 hex digits/);
    expect(() => sharingConflict(fx.shares, [ROSTER[0], ROSTER[1]] as unknown as typeof ROSTER)).toThrow(/must list three identity fingerprints/);
  });
});

describe('a share store holds one party slot of a sharing', () => {
  it('a store that served party 0 refuses party 1 of the same sharing before asking the owner for any part', async () => {
    const shares = unservedCopy(fx.shares);
    const shared = freshStores();
    await serveOnce(shares, shared);
    const { net, sent } = observedNetwork();
    const stores = freshStores();
    stores[1] = shared[0];
    const keysBefore = [...shared[0].entries.keys()];
    const run = startSession(fx, stores, { net, shares });
    const why = `this share store already holds party 0's bundle of sharing ${shares.epoch}; one store never holds two parties' shares of one sharing`;
    await expect(within(run.parties[1], 10_000, 'party 1')).rejects.toThrow(`party 1: ${why}`);
    await expect(within(run.parties[0], 5_000, 'party 0')).rejects.toThrow(`party 1 stopped (party 1: ${why})`);
    expect(sent.filter((m) => m.from === 1 && m.to === OWNER).map((m) => m.tag)).toEqual(['w:hello', 'session:abort']);
    expect([...shared[0].entries.keys()]).toEqual(keysBefore);
    // Parts are kept per identity, and the binding names the slot.
    expect(keysBefore.filter((k) => !k.startsWith('binding/')).every((k) => k.startsWith(`${ROSTER[0]}/stories260K/${shares.epoch}/0/`))).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(shared[0].entries.get(`binding/stories260K/${shares.epoch}`)!))).toEqual({ party: 0, identity: ROSTER[0] });
  }, 60_000);

  it('a store that cannot record its binding is given no parts of the sharing', async () => {
    const stores = freshStores();
    const unbindable = stores[2];
    const set = unbindable.set.bind(unbindable);
    unbindable.set = (key, bytes) => (key.startsWith('binding/') ? Promise.reject(new Error('quota exceeded')) : set(key, bytes));
    const run = startSession(fx, stores, { shares: unservedCopy(fx.shares) });
    await runClientSession({ channel: clientChannel(run.net), approvedParties: ROSTER, prompt: [LLAMA_BOS], maxNewTokens: 1 });
    const reports = await Promise.all(run.parties);
    expect(unbindable.entries.size).toBe(0);
    expect(reports[2].weights.cacheWriteFailures).toBe(reports[2].weights.partsFetched);
    expect(stores[1].entries.size).toBe(reports[1].weights.partsTotal + 1);
  }, 60_000);
});

describe('parties check the rosters against their links', () => {
  /** Party `viewer` sees `peer` prove `identity` (a relay that substitutes a key), the rest as the network says. */
  const substitute = (viewer: number, peer: number, identity: string) => (id: number, ch: Channel): Channel =>
    id === viewer ? { ...ch, peerIdentity: (q) => (q === peer ? identity : ch.peerIdentity!(q)) } : ch;

  it("a party refuses a peer whose link proved another identity than the owner's roster, before any key moves", async () => {
    const { net, sent } = observedNetwork();
    const run = startSession(fx, freshStores(), { net, shares: unservedCopy(fx.shares), channelOf: substitute(0, 2, F) });
    const why = 'peer identity error: party 2 is ffffffffffffffff…, not the approved cccccccccccccccc…';
    await expect(within(run.parties[0], 10_000, 'party 0')).rejects.toThrow(`party 0: ${why}`);
    await expect(within(run.parties[2], 5_000, 'party 2')).rejects.toThrow(`party 0 stopped (party 0: ${why})`);
    expect(sent.filter((m) => m.from === 0 && m.tag === 'setup:key')).toEqual([]);
  }, 30_000);

  it("a party whose own identity is not the owner's entry for its slot refuses", async () => {
    const run = startSession(fx, freshStores(), { shares: unservedCopy(fx.shares), identities: [ROSTER[0], F, ROSTER[2]] });
    await expect(within(run.parties[1], 10_000, 'party 1')).rejects.toThrow(
      'party 1: peer identity error: the model owner approved bbbbbbbbbbbbbbbb… as party 1, but this party is ffffffffffffffff…');
  }, 30_000);

  it('the client refuses parties it did not approve before sending any job; the parties hear why', async () => {
    const { net, sent } = observedNetwork();
    const run = startSession(fx, freshStores(), { net, shares: unservedCopy(fx.shares) });
    const opening = openClientSession({ channel: clientChannel(net), approvedParties: [ROSTER[0], ROSTER[1], F] });
    const why = 'peer identity error: party 2 is cccccccccccccccc…, not the approved ffffffffffffffff…';
    await expect(within(opening, 10_000, 'the client')).rejects.toThrow(`client: ${why}`);
    for (const id of [0, 1, 2]) await expect(within(run.parties[id], 5_000, `party ${id}`)).rejects.toThrow(`client stopped (client: ${why})`);
    expect(sent.filter((m) => m.from === CLIENT && m.to !== OWNER).map((m) => m.tag)).toEqual(['session:abort', 'session:abort', 'session:abort']);
  }, 30_000);

  it("a job header whose roster differs from the parties' links is refused by every party, naming the slot", async () => {
    const run = startSession(fx, freshStores(), { shares: unservedCopy(fx.shares) });
    const ch = clientChannel(run.net);
    await openClientSession({ channel: ch, approvedParties: ROSTER });
    const header = new TextEncoder().encode(JSON.stringify({ kind: 'classify', length: 2, parties: [ROSTER[0], ROSTER[1], F] }));
    for (const id of [0, 1, 2]) ch.send(id, 'job:0', header.slice());
    for (const id of [0, 1]) {
      await expect(within(run.parties[id], 10_000, `party ${id}`)).rejects.toThrow(
        /peer identity error: job 0: the client approved ffffffffffffffff… as party 2, but (party 2's link proved|this party is) cccccccccccccccc…/);
    }
  }, 30_000);
});
