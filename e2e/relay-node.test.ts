/**
 * Relay-only ICE in Node through coturn on loopback: three node-datachannel endpoints with
 * iceTransportPolicy 'relay' connect and exchange data, every candidate they gather is a relay candidate, every
 * selected pair is relay on both ends, and coturn's log shows the allocations. A wrong TURN password fails fast
 * with a message that names the TURN server, and ICE servers node-datachannel cannot use are refused by name.
 * Lives beside the coturn harness (e2e/turn-server.ts), which the Playwright relay test shares.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCoordinator, type Coordinator } from '@puma/coordinator';
import {
  createPeerChannel,
  createSession,
  endpointSlot,
  fetchIceConfig,
  generateIdentity,
  joinSession,
  parseIceConfig,
  probeRelay,
  rtcConfigOf,
  type IceConfig,
  type Identity,
  type PeerChannel,
} from '@puma/transport-webrtc';
import { installNodeWebRtc, mintTurnCredentials } from '@puma/transport-webrtc/node';
import { startTurnServer, type TurnServer } from './turn-server.ts';

let turn: TurnServer;
let coordinator: Coordinator;
let identities: Identity[] = [];
/** Every RTCPeerConnection made in this file, with the candidates it gathered. */
const made: Array<{ pc: RTCPeerConnection; local: string[] }> = [];

beforeAll(async () => {
  installNodeWebRtc();
  const Node = globalThis.RTCPeerConnection;
  // Records each connection and its local candidates; behaves exactly like the installed class otherwise.
  globalThis.RTCPeerConnection = class Recorded extends Node {
    constructor(config?: RTCConfiguration) {
      super(config);
      const entry = { pc: this as RTCPeerConnection, local: [] as string[] };
      made.push(entry);
      this.addEventListener('icecandidate', (e) => {
        const c = (e as RTCPeerConnectionIceEvent).candidate;
        if (c?.candidate) entry.local.push(c.candidate);
      });
    }
  } as typeof RTCPeerConnection;
  // A password with ':', '@', '/' and '%': node-datachannel carries credentials inside a URL.
  turn = await startTurnServer({ credential: 'p:w@rd/%41' });
  coordinator = await startCoordinator();
  identities = await Promise.all([0, 1, 2].map(async () => (await generateIdentity()).identity));
});
afterAll(async () => {
  await coordinator?.close();
  await turn?.stop();
});

function relayOnly(credential?: string): IceConfig {
  return parseIceConfig({ iceServers: [turn.iceServer(credential)], iceTransportPolicy: 'relay' });
}

async function threeParties(ice: IceConfig, connectTimeoutMs: number): Promise<PeerChannel[]> {
  const s = await createSession(coordinator.url, { model: 'relay-test' });
  const channels: PeerChannel[] = [];
  for (const self of [0, 1, 2]) {
    const secret = s.slotSecrets[endpointSlot(self)];
    await joinSession(coordinator.url, s.id, endpointSlot(self), { secret, identity: identities[self].fingerprint });
    channels.push(createPeerChannel({
      coordinator: coordinator.url, sessionId: s.id, self, peers: [0, 1, 2].filter((p) => p !== self),
      identity: identities[self], slotSecret: secret, rtcConfig: rtcConfigOf(ice), connectTimeoutMs, closeFlushMs: 2_000,
    }));
  }
  return channels;
}

async function closeAll(channels: PeerChannel[]): Promise<void> {
  for (const ch of channels) ch.close('test finished');
  await Promise.all(channels.map((ch) => ch.closed));
}

/** The selected candidate pair of a connection, from getStats (node-datachannel reports only the selected one). */
async function selectedPair(pc: RTCPeerConnection): Promise<{ local: string; remote: string; remotePort: number } | null> {
  const stats: Array<Record<string, unknown>> = [];
  (await pc.getStats()).forEach((s: Record<string, unknown>) => stats.push(s));
  const pair = stats.find((s) => s.type === 'candidate-pair' && s.nominated);
  if (!pair) return null;
  const byId = (id: unknown) => stats.find((s) => s.id === id)!;
  const remote = byId(pair.remoteCandidateId);
  return { local: String(byId(pair.localCandidateId).candidateType), remote: String(remote.candidateType), remotePort: Number(remote.port) };
}

describe('relay-only ICE through coturn (Node endpoints)', () => {
  it('three parties connect only through TURN relays, and data crosses every link', async () => {
    const before = made.length;
    const allocationsBefore = turn.allocations();
    const channels = await threeParties(relayOnly(), 60_000);
    try {
      await Promise.all(channels.map((ch) => ch.ready));
      const payload = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) & 0xff);
      for (const [from, to] of [[0, 1], [1, 2], [2, 0], [1, 0]]) {
        channels[from].send(to, 'relay:test', payload);
        expect(await channels[to].recv(from, 'relay:test')).toEqual(payload);
      }
      const mine = made.slice(before);
      // Both ends of each of the three links; a setup attempt that lost a DTLS race and was retried stays
      // in the list but never connected.
      const connected = mine.filter((m) => m.pc.connectionState === 'connected');
      expect(connected.length).toBeGreaterThanOrEqual(6);
      const candidates = mine.flatMap((m) => m.local);
      expect(candidates.length).toBeGreaterThan(0);
      for (const c of candidates) expect(c, 'every gathered candidate is a relay candidate').toMatch(/ typ relay( |$)/);
      const relayPorts = new Set(turn.relayPorts());
      for (const { pc } of connected) {
        const pair = await selectedPair(pc);
        expect(pair, 'a connected pair').not.toBeNull();
        expect(pair!.local).toBe('relay');
        expect(pair!.remote).toBe('relay');
        expect(relayPorts.has(pair!.remotePort), `peer's relay port ${pair!.remotePort} was allocated by our coturn`).toBe(true);
      }
      expect(turn.allocations() - allocationsBefore).toBeGreaterThanOrEqual(connected.length);
    } finally {
      await closeAll(channels);
    }
  });

  it('the relay probe passes with the right password and fails fast, naming the server, with a wrong one', async () => {
    await expect(probeRelay(relayOnly(), 15_000)).resolves.toBeUndefined();
    const t0 = Date.now();
    const err = await probeRelay(relayOnly('wrong-password'), 15_000).then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(new RegExp(`relay-only ICE: no relay candidate from ${turn.url}.*username and credential`));
    expect(Date.now() - t0).toBeLessThan(16_000);
  });

  it('with a wrong TURN password the links fail within the connect timeout instead of hanging', async () => {
    const t0 = Date.now();
    const channels = await threeParties(relayOnly('wrong-password'), 8_000);
    try {
      const errors = await Promise.all(channels.map((ch) => ch.ready.then(() => null, (e: Error) => e.message)));
      for (const e of errors) expect(e).toMatch(/connection to party \d timed out after 8 s/);
      expect(Date.now() - t0).toBeLessThan(30_000);
      expect(turn.log()).toMatch(/401/);
    } finally {
      await closeAll(channels);
    }
  });

  it('refuses ICE servers node-datachannel cannot use, naming them', () => {
    const make = (config: unknown) => () => new RTCPeerConnection(rtcConfigOf(parseIceConfig(config)));
    const creds = { username: 'u', credential: 'p' };
    expect(make({ iceServers: [{ urls: 'turns:127.0.0.1:5349', ...creds }] })).toThrow(/turns:127\.0\.0\.1:5349" is not supported in Node.*UDP only/);
    expect(make({ iceServers: [{ urls: 'turn:127.0.0.1:3478?transport=tcp', ...creds }] })).toThrow(/transport=tcp" is not supported in Node/);
    expect(make({ iceServers: [{ urls: ['stun:a.example:3478', 'stun:b.example:3478'] }] })).toThrow(/2 STUN URLs; node-datachannel uses 1/);
    expect(make({ iceServers: [{ urls: ['turn:a.example', 'turn:b.example', 'turn:c.example'], ...creds }] })).toThrow(/3 TURN URLs; node-datachannel uses at most 2/);
  });
});

describe('TURN credentials minted from a shared secret (TURN REST API, coturn use-auth-secret)', () => {
  const SECRET = 'a-secret-shared-with-coturn';
  let restTurn: TurnServer;
  let minting: Coordinator;
  beforeAll(async () => {
    restTurn = await startTurnServer({ authSecret: SECRET });
    minting = await startCoordinator({
      iceConfig: { iceServers: [{ urls: [restTurn.url] }], iceTransportPolicy: 'relay' },
      turnSecret: SECRET,
      maxSessionLifetimeMs: 3600_000,
    });
  });
  afterAll(async () => {
    await minting?.close();
    await restTurn?.stop();
  });

  it('the coordinator hands pages fresh credentials that coturn accepts, valid for the session lifetime plus an hour', async () => {
    const before = Date.now();
    const served = await fetchIceConfig(minting.url);
    const { username } = served.iceServers[0];
    const expiry = Number(/^(\d+):puma$/.exec(username ?? '')?.[1]) * 1000;
    expect(expiry).toBeGreaterThanOrEqual(Math.floor((before + 2 * 3600_000) / 1000) * 1000);
    expect(expiry).toBeLessThanOrEqual(Date.now() + 2 * 3600_000);
    await expect(probeRelay(served, 15_000)).resolves.toBeUndefined();
  });

  it('coturn refuses credentials minted from another secret, and expired ones', async () => {
    const config: IceConfig = { iceServers: [{ urls: [restTurn.url] }], iceTransportPolicy: 'relay' };
    await expect(probeRelay(mintTurnCredentials(config, SECRET, 600_000), 15_000)).resolves.toBeUndefined();
    await expect(probeRelay(mintTurnCredentials(config, 'another-secret-entirely', 600_000), 15_000)).rejects.toThrow(/no relay candidate/);
    await expect(probeRelay(mintTurnCredentials(config, SECRET, 600_000, Date.now() - 3600_000), 15_000)).rejects.toThrow(/no relay candidate/);
  });
});
