/**
 * Idle detection (link.ts tick, SIBLING_GRACE): two Links of one or two channels on fake data channels, the wire
 * run by the test so a channel can go silent (everything sent on it dropped) and come back. A dead peer silences
 * every channel and fails the link after idleTimeoutMs; one association silent while its sibling still carries
 * the peer's frames (SCTP retransmission backoff under load) is given SIBLING_GRACE idle timeouts, and a channel
 * silent for longer still fails the link instead of leaving receives waiting forever.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT, emptyStats, type EndpointId } from '@puma/transport';
import { generateIdentity } from './identity.ts';
import { Link } from './link.ts';
import { resolveOptions } from './options.ts';
import { waitUntil } from './util.ts';

const SIBLING_GRACE = 3;
const SESSION = 'idle01';
const KEEPALIVE_MS = 50;
const IDLE_MS = 400;
const TICK_MS = 25;
const FP = (byte: string) => `sha-256 ${Array(32).fill(byte).join(':')}`;
const sdp = (fp: string) => `v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=fingerprint:${fp}\r\n`;

interface Side {
  link: Link;
  opened: boolean;
  failed: string | null;
  failedAt: number;
  /** What lostBeforeProof said, if it was called. */
  lost: string | null;
}

/** Channels whose frames the wire drops, per sending side. */
interface Wire {
  silent: { a: Set<number>; b: Set<number> };
}

const timers: ReturnType<typeof setInterval>[] = [];
afterEach(() => timers.splice(0).forEach(clearInterval));

type Identity = Awaited<ReturnType<typeof generateIdentity>>['identity'];

function side(self: EndpointId, remote: EndpointId, identity: Identity, channels: number): Side {
  const s: Side = { link: null as unknown as Link, opened: false, failed: null, failedAt: 0, lost: null };
  const opts = resolveOptions({
    coordinator: 'http://127.0.0.1:1', sessionId: SESSION, self, peers: [remote], identity, slotSecret: 'secret',
    channelsPerPeer: channels, keepaliveMs: KEEPALIVE_MS, idleTimeoutMs: IDLE_MS,
  });
  s.link = new Link(remote, `${SESSION}-${remote}`, self < remote, emptyStats(), opts, {
    opened: () => (s.opened = true),
    failed: (l) => {
      s.failed = l.error!.message;
      s.failedAt = Date.now();
    },
    remoteBye: () => {},
    lostBeforeProof: (_l, why) => (s.lost = why),
  });
  return s;
}

/**
 * Gives a and b fake open channels to each other (DTLS fingerprints made of the hex digits `digits`, so a new
 * wiring is a new connection), opens them, and ticks both links.
 */
function wireUp(a: Side, b: Side, wire: Wire, channels: number, digits = 'AB'): void {
  const conn = (local: string, far: string, i: number) =>
    ({ open: true, close() {}, peerConnection: { localDescription: { sdp: sdp(FP(`${local}${i}`)) }, remoteDescription: { sdp: sdp(FP(`${far}${i}`)) } } }) as never;
  a.link.conns = Array.from({ length: channels }, (_, i) => conn(digits[0], digits[1], i));
  b.link.conns = Array.from({ length: channels }, (_, i) => conn(digits[1], digits[0], i));
  const channel = (from: 'a' | 'b', to: Side, index: number) =>
    ({
      readyState: 'open',
      bufferedAmount: 0,
      send(frame: Uint8Array) {
        if (wire.silent[from].has(index)) return;
        const copy = frame.slice();
        setTimeout(() => to.link.onData(index, copy), 1);
      },
    }) as unknown as RTCDataChannel;
  for (let i = 0; i < channels; i++) {
    (a.link.conns[i] as unknown as { dataChannel: RTCDataChannel }).dataChannel = channel('a', b, i);
    (b.link.conns[i] as unknown as { dataChannel: RTCDataChannel }).dataChannel = channel('b', a, i);
  }
  a.link.onChannelsOpen();
  b.link.onChannelsOpen();
  timers.push(setInterval(() => [a, b].forEach((s) => s.link.connected && s.link.tick(Date.now(), false)), TICK_MS));
}

async function pair(channels: number): Promise<{ a: Side; b: Side; wire: Wire }> {
  const [ida, idb] = await Promise.all([generateIdentity(), generateIdentity()]);
  const wire: Wire = { silent: { a: new Set(), b: new Set() } };
  const a = side(2, CLIENT, ida.identity, channels);
  const b = side(CLIENT, 2, idb.identity, channels);
  wireUp(a, b, wire, channels);
  expect(await until(() => a.opened && b.opened, 5_000), `opened: a ${a.opened}, b ${b.opened}, failed: ${a.failed ?? b.failed}`).toBe(true);
  return { a, b, wire };
}

/** Resolves true once `cond()` holds within `ms` (util.ts waitUntil, with a relative deadline). */
const until = (cond: () => boolean, ms: number): Promise<boolean> => waitUntil(cond, Date.now() + ms);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a link notices a silent peer', () => {
  it('every channel silent: the link fails after idleTimeoutMs, naming the silence', async () => {
    const { a, wire } = await pair(2);
    const t0 = Date.now();
    wire.silent.b.add(0).add(1);
    expect(await until(() => a.failed !== null, IDLE_MS * 3)).toBe(true);
    expect(a.failed).toBe(`connection to client lost: nothing received for ${IDLE_MS / 1000} s`);
    expect(a.failedAt - t0).toBeGreaterThanOrEqual(IDLE_MS - TICK_MS);
  });

  it('a single channel silent: the link fails after idleTimeoutMs, as before the grace', async () => {
    const { a, wire } = await pair(1);
    const t0 = Date.now();
    wire.silent.b.add(0);
    expect(await until(() => a.failed !== null, IDLE_MS * 3)).toBe(true);
    expect(a.failed).toBe(`connection to client lost: nothing received for ${IDLE_MS / 1000} s`);
    expect(a.failedAt - t0).toBeLessThan(IDLE_MS * 2);
  });

  it('one of two channels silent for twice idleTimeoutMs while the other talks, then back: the link stays up and carries data', async () => {
    const { a, b, wire } = await pair(2);
    wire.silent.b.add(1);
    await sleep(IDLE_MS * 2);
    expect([a.failed, b.failed]).toEqual([null, null]);
    wire.silent.b.delete(1);
    const got = a.link.box.take(CLIENT, 'after');
    b.link.enqueue('after', new Uint8Array(3000).fill(7));
    b.link.pump();
    expect((await got).byteLength).toBe(3000);
    await sleep(IDLE_MS * 2);
    expect([a.failed, b.failed]).toEqual([null, null]);
  });

  it('one of two channels silent for good while the other talks: the link fails after SIBLING_GRACE idle timeouts, naming the channel', async () => {
    const { a, wire } = await pair(2);
    const t0 = Date.now();
    wire.silent.b.add(1);
    const pending = a.link.box.take(CLIENT, 'never');
    pending.catch(() => {});
    expect(await until(() => a.failed !== null, IDLE_MS * (SIBLING_GRACE + 3))).toBe(true);
    expect(a.failed).toBe(`connection to client lost: channel 2 of 2 received nothing for ${(SIBLING_GRACE * IDLE_MS) / 1000} s while the others did`);
    expect(a.failedAt - t0).toBeGreaterThanOrEqual(SIBLING_GRACE * IDLE_MS - TICK_MS);
    await expect(pending).rejects.toThrow(/channel 2 of 2 received nothing/);
  });

  it('a peer silent before it proves its identity is reported as lost before proof, not failed; after a reset a new peer proves itself over new channels', async () => {
    const [ida, idb] = await Promise.all([generateIdentity(), generateIdentity()]);
    const wire: Wire = { silent: { a: new Set(), b: new Set([0, 1]) } };
    const a = side(2, CLIENT, ida.identity, 2);
    const crashed = side(CLIENT, 2, idb.identity, 2);
    wireUp(a, crashed, wire, 2);
    expect(await until(() => a.lost !== null, IDLE_MS * 3)).toBe(true);
    expect(a.lost).toBe(`connection to client lost before it proved its identity: nothing received for ${IDLE_MS / 1000} s`);
    expect([a.failed, a.opened]).toEqual([null, false]);
    const pending = a.link.box.take(CLIENT, 'after');
    a.link.enqueue('queued', new Uint8Array(500).fill(3));
    a.link.resetBeforeProof(a.lost!);
    expect([a.link.connected, a.link.conns.length, a.link.channels.length, a.link.lastError]).toEqual([false, 0, 0, a.lost]);

    const restarted = side(CLIENT, 2, idb.identity, 2);
    wire.silent.b.clear();
    wireUp(a, restarted, wire, 2, 'CD');
    expect(await until(() => a.opened && restarted.opened, 5_000), `failed: ${a.failed ?? restarted.failed}`).toBe(true);
    expect(a.link.peerFingerprint).toBe(idb.identity.fingerprint);
    expect((await restarted.link.box.take(2, 'queued')).byteLength).toBe(500);
    restarted.link.enqueue('after', new Uint8Array(7).fill(1));
    restarted.link.pump();
    expect((await pending).byteLength).toBe(7);
    expect([a.failed, restarted.failed]).toEqual([null, null]);
  });

  it('an open link cannot be reset for a new setup', async () => {
    const { a } = await pair(1);
    expect(() => a.link.resetBeforeProof('test')).toThrow('the link to client is open: it cannot be set up again');
  });
});
