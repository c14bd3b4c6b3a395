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
}

/** Channels whose frames the wire drops, per sending side. */
interface Wire {
  silent: { a: Set<number>; b: Set<number> };
}

const timers: ReturnType<typeof setInterval>[] = [];
afterEach(() => timers.splice(0).forEach(clearInterval));

async function pair(channels: number): Promise<{ a: Side; b: Side; wire: Wire }> {
  const [ida, idb] = await Promise.all([generateIdentity(), generateIdentity()]);
  const wire: Wire = { silent: { a: new Set(), b: new Set() } };
  const make = (self: EndpointId, remote: EndpointId, identity: typeof ida.identity, local: string, far: string): Side => {
    const side: Side = { link: null as unknown as Link, opened: false, failed: null, failedAt: 0 };
    const opts = resolveOptions({
      coordinator: 'http://127.0.0.1:1', sessionId: SESSION, self, peers: [remote], identity, slotSecret: 'secret',
      channelsPerPeer: channels, keepaliveMs: KEEPALIVE_MS, idleTimeoutMs: IDLE_MS,
    });
    side.link = new Link(remote, `${SESSION}-${remote}`, self < remote, emptyStats(), opts, {
      opened: () => (side.opened = true),
      failed: (l) => {
        side.failed = l.error!.message;
        side.failedAt = Date.now();
      },
      remoteBye: () => {},
    });
    side.link.conns = Array.from({ length: channels }, (_, i) =>
      ({ open: true, close() {}, peerConnection: { localDescription: { sdp: sdp(FP(`${local}${i}`)) }, remoteDescription: { sdp: sdp(FP(`${far}${i}`)) } } }) as never);
    return side;
  };
  const a = make(2, CLIENT, ida.identity, 'A', 'B');
  const b = make(CLIENT, 2, idb.identity, 'B', 'A');
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
  timers.push(setInterval(() => [a, b].forEach((s) => s.link.tick(Date.now(), false)), TICK_MS));
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
});
