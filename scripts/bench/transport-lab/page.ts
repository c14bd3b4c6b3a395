/**
 * One endpoint of the WebRTC transport, driven from Node through `window.pumaTransport` (Playwright's
 * page.evaluate): the browser tests and the transport bench connect tabs to each other and to Node endpoints
 * through a coordinator, move deterministic payloads and time them. Payloads are generated and checked in the
 * page so that only verdicts and timings cross into the driver.
 */
import { createPeerChannel, endpointSlot, generateIdentity, joinSession, type Identity, type PeerChannel, type PeerChannelOptions } from '@puma/transport-webrtc';
import type { TrafficStats } from '@puma/transport';
import { blast, drain, echo, ping, serveParts, takeParts } from './traffic.ts';
import { matchesPattern, pattern } from './pattern.ts';

/** The channel's options less what cannot cross page.evaluate: the identity is this tab's own (fingerprint()). */
export interface ConnectRequest extends Omit<PeerChannelOptions, 'rtcConfig' | 'identity'> {
  /** Join this endpoint's slot (with slotSecret and this tab's identity) first: the coordinator admits only joined slots. */
  join: boolean;
}

export interface Outcome {
  state: 'pending' | 'resolved' | 'rejected';
  /** The rejection message, or whether the payload matched its pattern. */
  message?: string;
  matched?: boolean;
  /** Milliseconds from watch() to settling. */
  ms?: number;
}

let channel: PeerChannel | null = null;
/** This tab's identity, made on first use (an ephemeral key: the transport tests need no persistence). */
let identity: Promise<Identity> | null = null;
const ownIdentity = () => (identity ??= generateIdentity().then((g) => g.identity));
const watched = new Map<string, Outcome>();

function ch(): PeerChannel {
  if (!channel) throw new Error('not connected: call connect() first');
  return channel;
}

const api = {
  /** This tab's identity fingerprint, for a driver that pins it on the other end. */
  async fingerprint(): Promise<string> {
    return (await ownIdentity()).fingerprint;
  },

  async connect(req: ConnectRequest): Promise<string> {
    const id = await ownIdentity();
    if (req.join) await joinSession(req.coordinator, req.sessionId, endpointSlot(req.self), { secret: req.slotSecret, identity: id.fingerprint });
    const { join: _join, ...options } = req;
    channel = createPeerChannel({ ...options, identity: id });
    await channel.ready;
    return channel.peerId;
  },

  send(to: number, tag: string, size: number, seed: number): void {
    ch().send(to, tag, pattern(size, seed));
  },

  /** Receives one message and reports whether it is pattern(size, seed). */
  async recv(from: number, tag: string, size: number, seed: number): Promise<boolean> {
    return matchesPattern(await ch().recv(from, tag), size, seed);
  },

  /** Starts a receive whose outcome outcome() reports later, so a driver can watch it fail. */
  watch(from: number, tag: string, size: number, seed: number): void {
    const t0 = performance.now();
    const o: Outcome = { state: 'pending' };
    watched.set(`${from}|${tag}`, o);
    ch()
      .recv(from, tag)
      .then(
        (d) => Object.assign(o, { state: 'resolved', matched: matchesPattern(d, size, seed), ms: performance.now() - t0 }),
        (e: unknown) => Object.assign(o, { state: 'rejected', message: e instanceof Error ? e.message : String(e), ms: performance.now() - t0 }),
      );
  },

  outcome(from: number, tag: string): Outcome | null {
    return watched.get(`${from}|${tag}`) ?? null;
  },

  stats(): TrafficStats {
    return ch().stats;
  },

  blast: (to: number, run: string, count: number, bytes: number) => blast(ch(), to, run, count, bytes),
  drain: (from: number, run: string, count: number) => drain(ch(), from, run, count),
  ping: (to: number, run: string, rounds: number, bytes: number) => ping(ch(), to, run, rounds, bytes),
  echo: (from: number, run: string, rounds: number) => echo(ch(), from, run, rounds),
  serveParts: (peers: number[], run: string, count: number, bytes: number, window: number) => serveParts(ch(), peers, run, count, bytes, window),
  takeParts: (from: number, run: string, count: number, hash: boolean) => takeParts(ch(), from, run, count, hash),

  close(reason: string): void {
    ch().close(reason);
  },

  async closed(): Promise<void> {
    await ch().closed;
  },
};

export type TransportPageApi = typeof api;

declare global {
  interface Window {
    pumaTransport?: TransportPageApi;
  }
}

window.pumaTransport = api;
const status = document.getElementById('status');
if (status) status.textContent = 'ready';
