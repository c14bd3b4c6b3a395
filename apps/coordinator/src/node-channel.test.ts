/**
 * Three Node endpoints (node-datachannel) connected through a local coordinator: the WebRTC Channel end to end.
 * Lives with the coordinator because it needs both (apps may import packages, not the other way round).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPeerChannel, createSession, joinSession, endpointSlot, type PeerChannel } from '@puma/transport-webrtc';
import { installNodeWebRtc } from '@puma/transport-webrtc/node';
import { startCoordinator, type Coordinator } from './index.ts';

let coordinator: Coordinator;
const channels: PeerChannel[] = [];

beforeAll(async () => {
  installNodeWebRtc();
  coordinator = await startCoordinator();
});
afterEach(async () => {
  const open = channels.splice(0);
  for (const ch of open) ch.close('test finished');
  await Promise.all(open.map((ch) => ch.closed));
});
afterAll(async () => {
  await coordinator?.close();
});

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

async function session(slots: number[]): Promise<string> {
  const s = await createSession(coordinator.url, { model: 'test', params: {} });
  for (const e of slots) await joinSession(coordinator.url, s.id, endpointSlot(e));
  return s.id;
}

function connect(sessionId: string, self: number, peers: number[], extra: Partial<Parameters<typeof createPeerChannel>[0]> = {}): PeerChannel {
  const ch = createPeerChannel({ coordinator: coordinator.url, sessionId, self, peers, channelsPerPeer: 2, connectTimeoutMs: 20_000, closeFlushMs: 2_000, ...extra });
  channels.push(ch);
  return ch;
}

function withinMs<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

const SIZES = [0, 1, 300 * 1024, 5 * 1024 * 1024];

describe('WebRTC channel between Node endpoints', () => {
  it('delivers tagged messages of 0 B, 1 B, 300 KiB and 5 MiB out of order, counting bytes', async () => {
    const sid = await session([0, 1, 2]);
    const ends = [0, 1, 2].map((i) => connect(sid, i, [0, 1, 2].filter((j) => j !== i)));
    await withinMs(Promise.all(ends.map((e) => e.ready)), 20_000, 'connecting');
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
    expect(coordinator.record.truncated).toBe(false);
    expect(coordinator.record.contains(pattern(300 * 1024, seed(0, 1, 300 * 1024)).subarray(1000, 1032))).toBe(false);
    expect(coordinator.record.find('OFFER').length).toBeGreaterThan(0);
  }, 60_000);

  it("fails the others' pending receives from a peer that closes, within 10 s, and keeps the other links", async () => {
    const sid = await session([0, 1, 2]);
    const [p0, p1, p2] = [0, 1, 2].map((i) => connect(sid, i, [0, 1, 2].filter((j) => j !== i)));
    await withinMs(Promise.all([p0.ready, p1.ready, p2.ready]), 20_000, 'connecting');
    const from2at0 = p0.recv(2, 'never');
    const from2at1 = p1.recv(2, 'never');
    const later = p0.recv(1, 'later');
    p2.send(0, 'last words', new Uint8Array([42]));
    const t0 = Date.now();
    p2.close('party 2 is done');
    // Both expectations are attached before either is awaited, so neither rejection goes unobserved.
    const seen0 = expect(withinMs(from2at0, 10_000, 'noticing the close')).rejects.toThrow(/party 2 disconnected \(party 2 is done\)/);
    const seen1 = expect(withinMs(from2at1, 10_000, 'noticing the close')).rejects.toThrow(/party 2 disconnected/);
    await Promise.all([seen0, seen1]);
    expect(Date.now() - t0).toBeLessThan(10_000);
    // What party 2 sent before closing still arrives; new receives from it fail with the same reason.
    expect(Array.from(await p0.recv(2, 'last words'))).toEqual([42]);
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

  it('is refused by the signaling server for a slot that was not joined', async () => {
    const sid = await session([0]);
    const intruder = connect(sid, 2, [0]);
    await expect(withinMs(intruder.ready, 10_000, 'being refused')).rejects.toThrow(/signaling server .* not joined/);
    await expect(intruder.recv(0, 'x')).rejects.toThrow(/signaling server/);
  }, 20_000);
});
