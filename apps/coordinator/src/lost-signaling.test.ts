/**
 * A signaling message lost on the way (here the first ANSWER between two endpoints, dropped by a front in
 * "lose-first-answers" mode) leaves the offerer's channel waiting forever with no failure event. The channel
 * must notice the stall itself and set the channel up again, well before its connect deadline.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPeerChannel, createSession, endpointSlot, generateIdentity, joinSession, type Identity } from '@puma/transport-webrtc';
import { installNodeWebRtc } from '@puma/transport-webrtc/node';
import { startCoordinator, type Coordinator } from './index.ts';
import { startMitmRelay, type MitmRelay } from './mitm-relay.ts';

let coordinator: Coordinator;
let relay: MitmRelay;
let identities: Identity[] = [];

beforeAll(async () => {
  installNodeWebRtc();
  coordinator = await startCoordinator();
  relay = await startMitmRelay(coordinator.url, 'lose-first-answers');
  identities = await Promise.all([0, 1].map(async () => (await generateIdentity()).identity));
});
afterAll(async () => {
  await relay?.close();
  await coordinator?.close();
});

it('a lost ANSWER stalls the first setup; the channel sets itself up again and connects before its deadline', async () => {
  const s = await createSession(relay.url, { model: 'test', params: {} });
  const secret = (e: number) => s.slotSecrets[endpointSlot(e)];
  for (const e of [0, 1]) await joinSession(relay.url, s.id, endpointSlot(e), { secret: secret(e), identity: identities[e].fingerprint });
  const connect = (self: number) => createPeerChannel({
    coordinator: relay.url, sessionId: s.id, self, peers: [1 - self], identity: identities[self], slotSecret: secret(self),
    channelsPerPeer: 2, connectTimeoutMs: 50_000, closeFlushMs: 1_000,
  });
  const started = Date.now();
  const [a, b] = [connect(0), connect(1)];
  try {
    await Promise.all([a.ready, b.ready]);
    const tookMs = Date.now() - started;
    expect(relay.lostAnswers).toBe(1);
    // Not at once (the answer was lost) and not at the deadline: the stall deadline (15 s) set it up again.
    expect(tookMs).toBeGreaterThan(10_000);
    expect(tookMs).toBeLessThan(45_000);
    a.send(1, 'hello', new Uint8Array([1, 2, 3]));
    expect(Array.from(await b.recv(0, 'hello'))).toEqual([1, 2, 3]);
  } finally {
    a.close('test finished');
    b.close('test finished');
    await Promise.all([a.closed, b.closed]);
  }
}, 90_000);
