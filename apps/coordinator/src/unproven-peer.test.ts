/**
 * A peer that crashes after its data channels opened but before it proved its identity (a killed process, a
 * reloaded tab) must not end the other side's session: the slot may be taken again, and whoever takes it
 * next proves itself from the start. Here the crashed peer is a bare PeerJS client in the slot, with the
 * slot's secret, that opens the link's channels and never sends its proof; it then leaves, and a real
 * endpoint with the slot's identity takes the slot. Both roles: the crashed peer as the answering side (the
 * survivor re-offers) and as the offering side (the survivor waits for the next offer).
 */
import { describe, expect, it } from 'vitest';
import type { DataConnection, Peer } from 'peerjs';
import { createPeerChannel, createSession, endpointSlot, getSession, joinSession, peerIdFor, signalingAddress, type PeerChannel } from '@puma/transport-webrtc';
import { useChannelLab } from './channel-lab.ts';
import { waitUntil, withinMs } from './test-clients.ts';

const lab = useChannelLab(2);
const CHANNELS = 2;

async function loadPeerjs(): Promise<new (id: string, o: object) => Peer> {
  const mod = (await import('peerjs')) as unknown as { Peer?: new (id: string, o: object) => Peer; default?: { Peer?: new (id: string, o: object) => Peer } };
  return (mod.Peer ?? mod.default?.Peer)!;
}

/** A channel offered by the bare peer that has not opened after this long is offered again, as endpoints do. */
const REOFFER_MS = 4_000;

/**
 * Resolves once the latest connection of each of the CHANNELS labels in `conns` (filled as they come) is open. Under
 * load the survivor may give up on a channel that stalled in setup and offer it again, so a label can arrive twice;
 * as the offering side (`reoffer` given) the bare peer offers a stalled channel again itself (a DTLS handshake can
 * lose a race with signaling: link-setup.ts).
 */
function allOpen(conns: DataConnection[], reoffer?: (label: string) => void): Promise<void> {
  const offeredAt = new Map<string, number>();
  return new Promise((resolve) => {
    const check = setInterval(() => {
      const latest = new Map(conns.map((c) => [c.label, c]));
      if (latest.size === CHANNELS && [...latest.values()].every((c) => c.open)) {
        clearInterval(check);
        resolve();
        return;
      }
      for (const [label, c] of reoffer ? latest : []) {
        const since = offeredAt.get(label) ?? (offeredAt.set(label, Date.now()), Date.now());
        if (c.open || Date.now() - since < REOFFER_MS) continue;
        c.close();
        offeredAt.set(label, Date.now());
        reoffer!(label);
      }
    }, 20);
  });
}

describe('a peer lost before it proved its identity', () => {
  for (const crashed of [1, 0] as const) {
    const survivor = 1 - crashed;
    it(`endpoint ${crashed} opens the link's channels and leaves unproven; the survivor (endpoint ${survivor}) connects to the next endpoint in the slot`, async () => {
      const s = await createSession(lab.coordinator.url, { model: 'test', params: {} });
      const secret = (e: number) => s.slotSecrets[endpointSlot(e)];
      for (const e of [0, 1]) await joinSession(lab.coordinator.url, s.id, endpointSlot(e), { secret: secret(e), identity: lab.identities[e].fingerprint });
      const connect = (self: number): PeerChannel => {
        const ch = createPeerChannel({
          coordinator: lab.coordinator.url, sessionId: s.id, self, peers: [1 - self], identity: lab.identities[self], slotSecret: secret(self),
          channelsPerPeer: CHANNELS, connectTimeoutMs: 40_000, closeFlushMs: 1_000,
        });
        lab.channels.push(ch);
        return ch;
      };
      const survivorChannel = connect(survivor);
      let survivorFailed: unknown = null;
      survivorChannel.ready.catch((e: unknown) => (survivorFailed = e));

      const PeerCtor = await loadPeerjs();
      const addr = signalingAddress(lab.coordinator.url);
      const bare = new PeerCtor(peerIdFor(s.id, crashed), { host: addr.host, port: addr.port, path: addr.path, secure: addr.secure, token: secret(crashed), debug: 0 });
      const conns: DataConnection[] = [];
      try {
        await withinMs(new Promise<void>((resolve, reject) => {
          bare.on('open', () => resolve());
          bare.on('error', reject);
        }), 15_000, 'the bare peer registering');
        const offer = (index: number) => {
          conns.push(bare.connect(peerIdFor(s.id, survivor), { reliable: true, serialization: 'raw', label: `puma-${index}`, metadata: { puma: 1, index, count: CHANNELS } }));
        };
        if (crashed < survivor) for (let index = 0; index < CHANNELS; index++) offer(index);
        else bare.on('connection', (c) => conns.push(c));
        const reoffer = crashed < survivor ? (label: string) => offer(Number(label.slice('puma-'.length))) : undefined;
        await withinMs(allOpen(conns, reoffer), 20_000, "the bare peer's channels opening");
      } finally {
        bare.destroy();
      }
      expect(survivorFailed).toBeNull();
      // The next endpoint may take the slot once the crashed one has left the signaling server.
      await waitUntil(async () => !(await getSession(lab.coordinator.url, s.id)).slots[endpointSlot(crashed)].connected, 10_000, 'the bare peer leaving the signaling server');

      const next = connect(crashed);
      await withinMs(Promise.all([survivorChannel.ready, next.ready]), 35_000, 'the survivor and the next endpoint in the slot connecting');
      expect(survivorChannel.peerIdentity(crashed)).toBe(lab.identities[crashed].fingerprint);
      next.send(survivor, 'hello', new Uint8Array([1, 2, 3]));
      expect(Array.from(await survivorChannel.recv(crashed, 'hello'))).toEqual([1, 2, 3]);
    }, 90_000);
  }
});
