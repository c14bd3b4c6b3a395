/**
 * A lost identity proof (link.ts, AUTH_REPEAT_MS): two Links on one fake data channel each, the wire in between
 * run by the test, so a given AUTH frame can be dropped or delivered twice. Without the repeat, the side whose
 * proof of the peer was lost never opens (the last CI failure: a Node party waited for the browser client's proof
 * until the connect deadline); with it, both open about AUTH_REPEAT_MS later.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT, emptyStats, type EndpointId } from '@puma/transport';
import { AUTH, decodeFrame } from './frame.ts';
import { generateIdentity, type Identity } from './identity.ts';
import { AUTH_REPEAT_MS, Link, MAX_AUTH_REPEATS } from './link.ts';
import { resolveOptions } from './options.ts';
import { waitUntil } from './util.ts';

const SESSION = 'abc123';
const FP = (byte: string) => `sha-256 ${Array(32).fill(byte).join(':')}`;
const sdp = (fp: string) => `v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=fingerprint:${fp}\r\n`;
/** Keepalive ticks as PeerChannel drives them. */
const TICK_MS = 100;
const OPEN_WITHIN_MS = AUTH_REPEAT_MS * 3;

interface Side {
  link: Link;
  identity: Identity;
  /** AUTH frames this side put on the wire (delivered or not). */
  auths: Uint8Array[];
  opened: boolean;
  failed: string | null;
}

/** What the wire does with the n-th AUTH frame (1-based) a side sends: deliver it once, twice, or drop it. */
type AuthFate = (from: 'a' | 'b', n: number) => 'deliver' | 'twice' | 'drop';

const timers: ReturnType<typeof setInterval>[] = [];
afterEach(() => timers.splice(0).forEach(clearInterval));

async function pair(fate: AuthFate): Promise<{ a: Side; b: Side }> {
  const [ida, idb] = await Promise.all([generateIdentity(), generateIdentity()]);
  const make = (self: EndpointId, remote: EndpointId, identity: Identity, local: string, far: string): Side => {
    const side: Side = { link: null as unknown as Link, identity, auths: [], opened: false, failed: null };
    const opts = resolveOptions({ coordinator: 'http://127.0.0.1:1', sessionId: SESSION, self, peers: [remote], identity, slotSecret: 'secret' });
    side.link = new Link(remote, `${SESSION}-${remote}`, self < remote, emptyStats(), opts, {
      opened: () => (side.opened = true),
      failed: (l) => (side.failed = l.error!.message),
      remoteBye: () => {},
      // These tests run no setup that could start over: a link lost before proof counts as failed.
      lostBeforeProof: (_l, why) => (side.failed = why),
    });
    side.link.conns = [{ open: true, close() {}, peerConnection: { localDescription: { sdp: sdp(local) }, remoteDescription: { sdp: sdp(far) } } } as never];
    return side;
  };
  const a = make(2, CLIENT, ida.identity, FP('A0'), FP('B0'));
  const b = make(CLIENT, 2, idb.identity, FP('B0'), FP('A0'));
  const channel = (from: Side, to: Side, name: 'a' | 'b') =>
    ({
      readyState: 'open',
      bufferedAmount: 0,
      send(frame: Uint8Array) {
        const copy = frame.slice();
        let times = 1;
        if (decodeFrame(copy).kind === AUTH) {
          from.auths.push(copy);
          const f = fate(name, from.auths.length);
          times = f === 'drop' ? 0 : f === 'twice' ? 2 : 1;
        }
        for (let t = 0; t < times; t++) setTimeout(() => to.link.onData(0, copy), 1);
      },
    }) as unknown as RTCDataChannel;
  (a.link.conns[0] as unknown as { dataChannel: RTCDataChannel }).dataChannel = channel(a, b, 'a');
  (b.link.conns[0] as unknown as { dataChannel: RTCDataChannel }).dataChannel = channel(b, a, 'b');
  a.link.onChannelsOpen();
  b.link.onChannelsOpen();
  timers.push(setInterval(() => [a, b].forEach((s) => s.link.tick(Date.now(), false)), TICK_MS));
  return { a, b };
}

/** Resolves true once `cond()` holds within `ms` (util.ts waitUntil, with a relative deadline). */
const until = (cond: () => boolean, ms: number): Promise<boolean> => waitUntil(cond, Date.now() + ms);

describe('a lost identity proof is sent again', () => {
  it("the opener loses the answerer's first proof: both sides still open, each proving the other's key", async () => {
    const { a, b } = await pair((from, n) => (from === 'b' && n === 1 ? 'drop' : 'deliver'));
    expect(await until(() => a.opened && b.opened, OPEN_WITHIN_MS), `opened: a ${a.opened}, b ${b.opened}, failed: ${a.failed ?? b.failed}`).toBe(true);
    expect(a.link.peerFingerprint).toBe(b.identity.fingerprint);
    expect(b.link.peerFingerprint).toBe(a.identity.fingerprint);
    // a asked once (its repeat), b answered once.
    expect(a.auths.length).toBe(2);
    expect(b.auths.length).toBe(2);
  });

  it('both first proofs lost: the repeats cross and both open', async () => {
    const { a, b } = await pair((_, n) => (n === 1 ? 'drop' : 'deliver'));
    expect(await until(() => a.opened && b.opened, OPEN_WITHIN_MS)).toBe(true);
    expect([a.failed, b.failed]).toEqual([null, null]);
  });

  it('every proof delivered twice: no failure, and the answers stop after a bounded number of frames', async () => {
    const { a, b } = await pair(() => 'twice');
    expect(await until(() => a.opened && b.opened, OPEN_WITHIN_MS)).toBe(true);
    await new Promise((r) => setTimeout(r, AUTH_REPEAT_MS * 2));
    expect([a.failed, b.failed]).toEqual([null, null]);
    for (const s of [a, b]) expect(s.auths.length).toBeLessThanOrEqual(1 + 2 * MAX_AUTH_REPEATS);
  });

  it("the opener loses the answerer's first proof and the answerer, having the opener's, sends data at once: the data waits for the repeated proof and arrives, in order", async () => {
    const { a, b } = await pair((from, n) => (from === 'b' && n === 1 ? 'drop' : 'deliver'));
    expect(await until(() => b.opened, OPEN_WITHIN_MS)).toBe(true);
    // b (the client) has a's proof and is open; a has no proof from b yet.
    expect(a.opened).toBe(false);
    b.link.enqueue('first', new Uint8Array([1, 2, 3]));
    b.link.enqueue('second', new Uint8Array(5000).fill(9));
    b.link.pump();
    const first = a.link.box.take(CLIENT, 'first');
    const second = a.link.box.take(CLIENT, 'second');
    expect(await until(() => a.opened, OPEN_WITHIN_MS), `a failed: ${a.failed}`).toBe(true);
    expect(Array.from(await first)).toEqual([1, 2, 3]);
    expect((await second).byteLength).toBe(5000);
    expect([a.failed, b.failed]).toEqual([null, null]);
  });

  it('data that comes before a proof that never comes is never delivered, and too much of it fails the link', async () => {
    const { a, b } = await pair((from) => (from === 'b' ? 'drop' : 'deliver'));
    expect(await until(() => b.opened, OPEN_WITHIN_MS)).toBe(true);
    const { maxPendingBytes, sendLimit } = b.link.laneLimits();
    const part = Math.min(sendLimit, 1 << 20);
    const count = Math.floor(maxPendingBytes / part) + 1;
    const got = Array.from({ length: count }, (_, i) => a.link.box.take(CLIENT, `part ${i}`));
    for (let i = 0; i < count; i++) b.link.enqueue(`part ${i}`, new Uint8Array(part));
    b.link.pump();
    for (const g of got) await expect(g).rejects.toThrow(/^protocol error from client: over \d+ bytes sent on channel 0 before its identity proof$/);
    expect(a.opened).toBe(false);
  });

  it('a different second proof on a channel is still a protocol error', async () => {
    const { a } = await pair(() => 'deliver');
    const other = await pair(() => 'deliver');
    expect(await until(() => a.opened && other.b.auths.length > 0, OPEN_WITHIN_MS)).toBe(true);
    // A proof by another identity over another link, on a's open channel.
    a.link.onData(0, other.b.auths[0]);
    expect(a.failed).toBe('protocol error from client: its channels carry different identity proofs');
  });
});
