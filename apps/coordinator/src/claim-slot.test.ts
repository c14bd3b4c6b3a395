/**
 * claimSlot (transport-webrtc's session API): an endpoint that restarts takes its joined slot back once its
 * previous incarnation has left the signaling server, and never while it is still there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { claimSlot, createSession, getSession, peerIdFor } from '@puma/transport-webrtc';
import { startCoordinator, type Coordinator } from './index.ts';

let coordinator: Coordinator;
beforeAll(async () => {
  coordinator = await startCoordinator();
});
afterAll(async () => {
  await coordinator?.close();
});

/** Registers `peerId` with the signaling server the way peerjs does, and resolves once the server lists it. */
async function register(sessionId: string, peerId: string): Promise<WebSocket> {
  const url = `${coordinator.url.replace('http', 'ws')}/peerjs/peerjs?key=peerjs&id=${peerId}&token=t1`;
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  for (let i = 0; i < 100 && !(await getSession(coordinator.url, sessionId)).slots.party1.connected; i++) await new Promise((r) => setTimeout(r, 20));
  return ws;
}

describe('claimSlot', () => {
  it('refuses a slot whose endpoint is on the signaling server and hands it back after that endpoint left', async () => {
    const s = await createSession(coordinator.url, { model: 'm' });
    const first = await claimSlot(coordinator.url, s.id, 'party1');
    expect(first).toEqual({ sessionId: s.id, slot: 'party1', endpoint: 1, peerId: peerIdFor(s.id, 1) });
    const ws = await register(s.id, first.peerId);
    expect((await getSession(coordinator.url, s.id)).slots.party1.connected).toBe(true);
    await expect(claimSlot(coordinator.url, s.id, 'party1')).rejects.toThrow(/409: slot party1 of session [0-9a-f]{32} is already taken/);
    ws.close();
    for (let i = 0; i < 100 && (await getSession(coordinator.url, s.id)).slots.party1.connected; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await claimSlot(coordinator.url, s.id, 'party1')).toEqual(first);
  });

  it('passes other errors through', async () => {
    await expect(claimSlot(coordinator.url, '0'.repeat(32), 'party0')).rejects.toThrow(/404: no session 0{32}/);
  });
});
