/**
 * The WebRTC channel in headless Chromium: two tabs talk through a local coordinator, and a tab talks to a
 * Node endpoint (node-datachannel) in this process. Payloads are generated and checked on each side from
 * (size, seed), so only verdicts cross the page boundary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPeerChannel, createSession, endpointSlot, generateIdentity, joinSession, type CreatedSession, type PeerChannel } from '@puma/transport-webrtc';
import { installNodeWebRtc } from '@puma/transport-webrtc/node';
import { matchesPattern, pattern } from '../../../scripts/bench/transport-lab/pattern.ts';
import { startTransportLab, withTimeout, type TransportLab, type TransportTab } from '../../../scripts/bench/transport-lab/lab.ts';

const SIZES = [0, 1, 300 * 1024, 5 * 1024 * 1024];
const seed = (from: number, to: number, size: number) => 1000 * from + 100 * to + SIZES.indexOf(size) + 1;

let lab: TransportLab;
const nodeChannels: PeerChannel[] = [];

beforeAll(async () => {
  installNodeWebRtc();
  lab = await startTransportLab();
}, 90_000);

afterAll(async () => {
  for (const ch of nodeChannels) ch.close('test finished');
  await Promise.all(nodeChannels.map((ch) => ch.closed));
  await lab?.close();
}, 60_000);

function connectRequest(s: CreatedSession, self: number, peers: number[]) {
  const slotSecret = s.slotSecrets[endpointSlot(self)];
  return { coordinator: lab.coordinator.url, sessionId: s.id, self, peers, slotSecret, join: true, channelsPerPeer: 2, connectTimeoutMs: 30_000 };
}

/** Joins `self`'s slot with a fresh identity, as a Node endpoint does before it opens its channel. */
async function joinNode(s: CreatedSession, self: number) {
  const { identity } = await generateIdentity();
  const slotSecret = s.slotSecrets[endpointSlot(self)];
  await joinSession(lab.coordinator.url, s.id, endpointSlot(self), { secret: slotSecret, identity: identity.fingerprint });
  return { coordinator: lab.coordinator.url, sessionId: s.id, self, identity, slotSecret };
}

async function sendAll(tab: TransportTab, to: number, self: number): Promise<void> {
  for (const size of [...SIZES].reverse()) await tab.call('send', to, `op${size}`, size, seed(self, to, size));
}

describe('WebRTC channel in headless Chromium', () => {
  it('connects two tabs and exchanges 0 B to 5 MiB messages both ways, out of order', async () => {
    const s = await createSession(lab.coordinator.url, { model: 'test' });
    const [a, b] = await Promise.all([lab.openTab(), lab.openTab()]);
    try {
      await withTimeout(Promise.all([a.call('connect', connectRequest(s, 0, [1])), b.call('connect', connectRequest(s, 1, [0]))]), 40_000, 'connecting two tabs');
      await sendAll(a, 1, 0);
      await sendAll(b, 0, 1);
      const checks = SIZES.flatMap((size) => [b.call('recv', 0, `op${size}`, size, seed(0, 1, size)), a.call('recv', 1, `op${size}`, size, seed(1, 0, size))]);
      expect(await withTimeout(Promise.all(checks), 60_000, 'exchanging')).toEqual(checks.map(() => true));
      const total = SIZES.reduce((x, y) => x + y, 0);
      for (const tab of [a, b]) {
        const stats = await tab.call('stats');
        expect(stats.bytesSent).toBe(total);
        expect(stats.bytesReceived).toBe(total);
        expect(stats.messagesSent).toBe(SIZES.length);
      }
      expect(lab.coordinator.record.contains(pattern(5 * 1024 * 1024, seed(0, 1, 5 * 1024 * 1024)).subarray(4096, 4128))).toBe(false);
      expect([...a.errors, ...b.errors]).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 120_000);

  it('connects a tab and a Node endpoint; each side sees the other close', async () => {
    const s = await createSession(lab.coordinator.url, { model: 'test' });
    const joined = await joinNode(s, 1);
    const tab = await lab.openTab();
    const node = createPeerChannel({ ...joined, peers: [0], channelsPerPeer: 2, connectTimeoutMs: 30_000, closeFlushMs: 3_000 });
    nodeChannels.push(node);
    try {
      await withTimeout(Promise.all([tab.call('connect', connectRequest(s, 0, [1])), node.ready]), 40_000, 'connecting tab and Node');
      await sendAll(tab, 1, 0);
      for (const size of [...SIZES].reverse()) node.send(0, `op${size}`, pattern(size, seed(1, 0, size)));
      const fromTab = SIZES.map(async (size) => matchesPattern(await node.recv(0, `op${size}`), size, seed(0, 1, size)));
      const fromNode = SIZES.map((size) => tab.call('recv', 1, `op${size}`, size, seed(1, 0, size)));
      expect(await withTimeout(Promise.all([...fromTab, ...fromNode]), 60_000, 'exchanging')).toEqual([...fromTab, ...fromNode].map(() => true));

      // The Node endpoint closes: the tab's pending receive from it fails with the reason.
      await tab.call('watch', 1, 'never', 1, 1);
      node.close('node is done');
      await withTimeout(node.closed, 10_000, 'Node endpoint close');
      const outcome = await tab.page.waitForFunction(() => {
        const o = window.pumaTransport?.outcome(1, 'never');
        return o && o.state !== 'pending' ? o : null;
      }, null, { timeout: 10_000, polling: 50 });
      expect(await outcome.jsonValue()).toMatchObject({ state: 'rejected', message: 'party 1 disconnected (node is done)' });
      expect(tab.errors).toEqual([]);
    } finally {
      await tab.close();
    }
  }, 120_000);

  it('fails a Node receive within 10 s when the tab on the other end is closed abruptly', async () => {
    // Chromium closing a tab does not always reach node-datachannel as a close; the keepalive notices the silence.
    const s = await createSession(lab.coordinator.url, { model: 'test' });
    const joined = await joinNode(s, 2);
    const tab = await lab.openTab();
    const node = createPeerChannel({ ...joined, peers: [0], channelsPerPeer: 1, connectTimeoutMs: 30_000, closeFlushMs: 1_000, idleTimeoutMs: 4_000 });
    nodeChannels.push(node);
    await withTimeout(Promise.all([tab.call('connect', connectRequest(s, 0, [2])), node.ready]), 40_000, 'connecting tab and Node');
    const pending = node.recv(0, 'never');
    pending.catch(() => {});
    const t0 = Date.now();
    await tab.close();
    await expect(withTimeout(pending, 10_000, 'noticing the closed tab')).rejects.toThrow(/party 0 disconnected|connection to party 0 lost: nothing received for 4 s/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 120_000);
});
