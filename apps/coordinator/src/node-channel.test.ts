/**
 * Three Node endpoints (node-datachannel) connected through a local coordinator: the WebRTC Channel end to end.
 * Lives with the coordinator because it needs both (apps may import packages, not the other way round).
 */
import { describe, expect, it } from 'vitest';
import {
  createPeerChannel,
  createSession,
  endpointSlot,
  joinSession,
  type PeerChannel,
  type PeerChannelOptions,
} from '@puma/transport-webrtc';
import { useChannelLab } from './channel-lab.ts';
import { withinMs } from './test-clients.ts';

const lab = useChannelLab(5);
const { channels } = lab;

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

interface TestSession {
  id: string;
  secrets: Record<number, string>;
}

async function session(slots: number[]): Promise<TestSession> {
  const s = await createSession(lab.coordinator.url, { model: 'test', params: {} });
  const secrets: Record<number, string> = {};
  for (const e of [0, 1, 2, 3, 4]) secrets[e] = s.slotSecrets[endpointSlot(e)];
  for (const e of slots) await joinSession(lab.coordinator.url, s.id, endpointSlot(e), { secret: secrets[e], identity: lab.identities[e].fingerprint });
  return { id: s.id, secrets };
}

function connect(s: TestSession, self: number, peers: number[], extra: Partial<PeerChannelOptions> = {}): PeerChannel {
  const ch = createPeerChannel({
    coordinator: lab.coordinator.url,
    sessionId: s.id,
    self,
    peers,
    identity: lab.identities[self],
    slotSecret: s.secrets[self],
    channelsPerPeer: 2,
    connectTimeoutMs: 20_000,
    closeFlushMs: 2_000,
    ...extra,
  });
  channels.push(ch);
  return ch;
}

const SIZES = [0, 1, 300 * 1024, 5 * 1024 * 1024];

describe('WebRTC channel between Node endpoints', () => {
  it('delivers tagged messages of 0 B, 1 B, 300 KiB and 5 MiB out of order, counting bytes, between proven identities', async () => {
    const sid = await session([0, 1, 2]);
    const ends = [0, 1, 2].map((i) => connect(sid, i, [0, 1, 2].filter((j) => j !== i)));
    // Before its link is authenticated, no peer identity is claimed.
    expect(ends[0].peerIdentity(1)).toBeUndefined();
    await withinMs(Promise.all(ends.map((e) => e.ready)), 20_000, 'connecting');
    for (const [i, e] of ends.entries()) {
      for (const j of [0, 1, 2]) if (j !== i) expect(e.peerIdentity(j)).toBe(lab.identities[j].fingerprint);
      expect(e.peerIdentity(4)).toBeUndefined();
    }
    const seed = (from: number, to: number, size: number) => from * 100 + to * 10 + SIZES.indexOf(size) + 1;
    for (const from of [0, 1, 2]) {
      for (const to of [0, 1, 2]) {
        if (to !== from) for (const size of [...SIZES].reverse()) ends[from].send(to, `op${size}`, pattern(size, seed(from, to, size)));
      }
    }
    const checks: Promise<void>[] = [];
    for (const to of [0, 1, 2]) {
      for (const from of [0, 1, 2]) {
        if (to === from) continue;
        for (const size of SIZES) {
          checks.push(
            ends[to].recv(from, `op${size}`).then((got) => {
              expect(got.byteLength).toBe(size);
              expect(got.byteOffset).toBe(0);
              expect(Buffer.from(got).equals(Buffer.from(pattern(size, seed(from, to, size))))).toBe(true);
            }),
          );
        }
      }
    }
    await withinMs(Promise.all(checks), 30_000, 'exchanging 6 x 5.3 MB');
    const perLink = SIZES.reduce((a, b) => a + b, 0);
    for (const [i, e] of ends.entries()) {
      expect(e.stats.bytesSent).toBe(2 * perLink);
      expect(e.stats.bytesReceived).toBe(2 * perLink);
      expect(e.stats.messagesSent).toBe(8);
      for (const j of [0, 1, 2]) if (j !== i) expect(e.stats.bytesSentTo[j]).toBe(perLink);
    }
    // The coordinator only relayed signaling: no payload bytes reached it.
    expect(lab.coordinator.record.truncated).toBe(false);
    expect(lab.coordinator.record.contains(pattern(300 * 1024, seed(0, 1, 300 * 1024)).subarray(1000, 1032))).toBe(false);
    expect(lab.coordinator.record.find('OFFER').length).toBeGreaterThan(0);
  }, 60_000);

  it("fails the others' pending receives from a peer that closes, within 10 s, and keeps the other links", async () => {
    const sid = await session([0, 1, 2]);
    const [p0, p1, p2] = [0, 1, 2].map((i) => connect(sid, i, [0, 1, 2].filter((j) => j !== i)));
    await withinMs(Promise.all([p0.ready, p1.ready, p2.ready]), 20_000, 'connecting');
    const from2at0 = p0.recv(2, 'never');
    const from2at1 = p1.recv(2, 'never');
    const later = p0.recv(1, 'later');
    // Waiting before the close: a failed mailbox drops messages nobody was waiting for.
    const lastWords = p0.recv(2, 'last words');
    p2.send(0, 'last words', new Uint8Array([42]));
    const t0 = Date.now();
    p2.close('party 2 is done');
    // Both expectations are attached before either is awaited, so neither rejection goes unobserved.
    const seen0 = expect(withinMs(from2at0, 10_000, 'noticing the close')).rejects.toThrow(/party 2 disconnected \(party 2 is done\)/);
    const seen1 = expect(withinMs(from2at1, 10_000, 'noticing the close')).rejects.toThrow(/party 2 disconnected/);
    await Promise.all([seen0, seen1]);
    expect(Date.now() - t0).toBeLessThan(10_000);
    // What party 2 sent before closing still arrives; new receives from it fail with the same reason.
    expect(Array.from(await lastWords)).toEqual([42]);
    await expect(p0.recv(2, 'other')).rejects.toThrow(/party 2 disconnected/);
    expect(() => p0.send(2, 'x', new Uint8Array(1))).toThrow(/party 2 disconnected/);
    p1.send(0, 'later', new Uint8Array([7]));
    expect(Array.from(await withinMs(later, 5_000, 'p1 -> p0 after p2 left'))).toEqual([7]);
    await withinMs(p2.closed, 5_000, 'p2 teardown');
  }, 60_000);

  it('rejects receives with a clear message when a peer never shows up', async () => {
    const sid = await session([0, 1]);
    const lonely = connect(sid, 0, [1], { connectTimeoutMs: 1_500 });
    await expect(withinMs(lonely.recv(1, 'x'), 10_000, 'timing out')).rejects.toThrow(/connection to party 1 timed out after 1.5 s/);
    await expect(lonely.ready).rejects.toThrow(/timed out/);
  }, 20_000);

  it('is refused by the signaling server for a slot that was not joined, or without the slot secret', async () => {
    const sid = await session([0, 1]);
    const intruder = connect(sid, 2, [0]);
    await expect(withinMs(intruder.ready, 10_000, 'being refused')).rejects.toThrow(/signaling server .* not joined/);
    await expect(intruder.recv(0, 'x')).rejects.toThrow(/signaling server/);
    const wrongSecret = connect(sid, 1, [0], { slotSecret: sid.secrets[2] });
    await expect(withinMs(wrongSecret.ready, 10_000, 'being refused')).rejects.toThrow(/signaling server .*slot's secret/);
  }, 20_000);

  it('sends at most the smaller of both sides\' message limits, refusing larger sends with the limit named', async () => {
    const sid = await session([0, 1]);
    const small = connect(sid, 0, [1], { maxMessageBytes: 1 << 20, channelsPerPeer: 1 });
    const large = connect(sid, 1, [0], { channelsPerPeer: 1 });
    await withinMs(Promise.all([small.ready, large.ready]), 20_000, 'connecting');
    expect(() => large.send(0, 'big', new Uint8Array((1 << 20) + 1))).toThrow(
      'message "big" of 1048577 bytes exceeds the limit of 1048576 bytes that party 0 accepts',
    );
    expect(() => small.send(1, 'big', new Uint8Array((1 << 20) + 1))).toThrow(/exceeds this endpoint's limit of 1048576 bytes/);
    large.send(0, 'fits', new Uint8Array(1 << 20).fill(9));
    const got = await withinMs(small.recv(1, 'fits'), 10_000, 'receiving 1 MiB');
    expect(got.byteLength).toBe(1 << 20);
    expect(got[12345]).toBe(9);
  }, 30_000);

  it('fails a link whose queued message turns out larger than the peer accepts', async () => {
    const sid = await session([0, 1]);
    const small = connect(sid, 0, [1], { maxMessageBytes: 1000, channelsPerPeer: 1 });
    const large = connect(sid, 1, [0], { channelsPerPeer: 1 });
    // Queued before the link opened, when party 0's limit was not known yet.
    large.send(0, 'early', new Uint8Array(2000));
    await expect(withinMs(large.ready, 20_000, 'failing')).rejects.toThrow(
      'a queued message of 2000 bytes exceeds the limit of 1000 bytes that party 0 accepts',
    );
    await expect(small.recv(1, 'early')).rejects.toThrow(/party 1 disconnected/);
  }, 30_000);
});
