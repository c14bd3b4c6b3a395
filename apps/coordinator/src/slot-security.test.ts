/**
 * Slots cannot be hijacked: joining takes the slot's secret, a joined slot is bound to the identity that first
 * joined it, signaling admits a peer id only with its slot's secret as token and only once at a time, and a
 * restarted endpoint re-joins (joinSession) only with its secret and identity once its old socket is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, getSession, joinSession, peerIdFor, type CreatedSession } from '@puma/transport-webrtc';
import { startCoordinator, type Coordinator } from './index.ts';
import { registerPeer, waitUntil, type SignalingOutcome } from './test-clients.ts';

const ALICE = 'a1'.repeat(32);
const MALLORY = 'ee'.repeat(32);

let coordinator: Coordinator;
beforeAll(async () => {
  coordinator = await startCoordinator();
});
afterAll(async () => {
  await coordinator?.close();
});

const newSession = () => createSession(coordinator.url, { model: 'm' });

function opened(outcome: SignalingOutcome) {
  if (!outcome.open) throw new Error(`signaling refused (${outcome.status}): ${outcome.reason}`);
  return outcome.socket;
}

async function slotConnected(s: CreatedSession, connected: boolean): Promise<void> {
  await waitUntil(async () => (await getSession(coordinator.url, s.id)).slots.party1.connected === connected, 5_000, `party1 connected=${connected}`);
}

describe('slot secrets', () => {
  it('refuses a join without the secret, with a wrong one, or with another slot\'s', async () => {
    const s = await newSession();
    const path = `/api/sessions/${s.id}/join`;
    const noSecret = await fetch(coordinator.url + path, { method: 'POST', body: JSON.stringify({ slot: 'party1', identity: MALLORY }) });
    expect(noSecret.status).toBe(403);
    expect((await noSecret.json()).error).toBe(`wrong secret for slot party1 of session ${s.id} (the request has no "secret")`);
    const wrong = joinSession(coordinator.url, s.id, 'party1', { secret: '0'.repeat(32), identity: MALLORY });
    await expect(wrong).rejects.toThrow(`failed with 403: wrong secret for slot party1 of session ${s.id}`);
    const otherSlots = joinSession(coordinator.url, s.id, 'party1', { secret: s.slotSecrets.party2, identity: MALLORY });
    await expect(otherSlots).rejects.toThrow(/403: wrong secret for slot party1/);
    expect((await getSession(coordinator.url, s.id)).slots.party1).toEqual({ joined: false, connected: false, identity: null });
  });

  it('binds a slot to the first identity: the right secret with another identity is refused', async () => {
    const s = await newSession();
    await joinSession(coordinator.url, s.id, 'party1', { secret: s.slotSecrets.party1, identity: ALICE });
    const hijack = joinSession(coordinator.url, s.id, 'party1', { secret: s.slotSecrets.party1, identity: MALLORY });
    await expect(hijack).rejects.toThrow(`409: slot party1 of session ${s.id} is bound to another identity`);
    expect((await getSession(coordinator.url, s.id)).slots.party1.identity).toBe(ALICE);
  });

  it('admits signaling only with the slot secret as token, and one socket per peer id', async () => {
    const s = await newSession();
    const peerId = peerIdFor(s.id, 1);
    expect(await registerPeer(coordinator, peerId, s.slotSecrets.party1)).toMatchObject({ open: false, status: 403, reason: `slot party1 of session ${s.id} is not joined` });
    await joinSession(coordinator.url, s.id, 'party1', { secret: s.slotSecrets.party1, identity: ALICE });
    const wrongToken = `wrong token for slot party1 of session ${s.id}: the token must be the slot's secret`;
    expect(await registerPeer(coordinator, peerId, undefined)).toMatchObject({ open: false, status: 403, reason: wrongToken });
    expect(await registerPeer(coordinator, peerId, 'f'.repeat(32))).toMatchObject({ open: false, status: 403, reason: wrongToken });
    expect(await registerPeer(coordinator, peerId, s.slotSecrets.party0)).toMatchObject({ open: false, status: 403, reason: wrongToken });
    const socket = opened(await registerPeer(coordinator, peerId, s.slotSecrets.party1));
    try {
      // Even the right token cannot take over a registered id (the peer server itself would hand it over).
      expect(await registerPeer(coordinator, peerId, s.slotSecrets.party1)).toMatchObject({ open: false, status: 409, reason: `${peerId} is already connected to signaling` });
      expect(socket.readyState).toBe(socket.OPEN);
      expect((await getSession(coordinator.url, s.id)).slots.party1.connected).toBe(true);
    } finally {
      socket.close();
    }
  });

  it('lets a restarted endpoint re-join only with its secret and identity, and only after its socket left', async () => {
    const s = await newSession();
    const credentials = { secret: s.slotSecrets.party1, identity: ALICE };
    const first = await joinSession(coordinator.url, s.id, 'party1', credentials);
    expect(first).toEqual({ sessionId: s.id, slot: 'party1', endpoint: 1, peerId: peerIdFor(s.id, 1) });
    const socket = opened(await registerPeer(coordinator, first.peerId, credentials.secret));
    await slotConnected(s, true);
    await expect(joinSession(coordinator.url, s.id, 'party1', credentials)).rejects.toThrow(
      `409: slot party1 of session ${s.id} is in use: its endpoint is connected to signaling; re-join after it disconnected`,
    );
    socket.close();
    await slotConnected(s, false);
    await expect(joinSession(coordinator.url, s.id, 'party1', { ...credentials, secret: s.slotSecrets.client })).rejects.toThrow(/403: wrong secret/);
    await expect(joinSession(coordinator.url, s.id, 'party1', { ...credentials, identity: MALLORY })).rejects.toThrow(/409: .* bound to another identity/);
    expect(await joinSession(coordinator.url, s.id, 'party1', credentials)).toEqual(first);
    opened(await registerPeer(coordinator, first.peerId, credentials.secret)).close();
  });
});
