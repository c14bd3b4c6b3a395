/**
 * A Channel over WebRTC data channels, set up through PeerJS and the coordinator's PeerJS signaling server.
 *
 * Every pair of endpoints is one "link" made of `channelsPerPeer` reliable, ordered data channels, each on its
 * own RTCPeerConnection (PeerJS opens one connection per DataConnection, so each channel is its own SCTP
 * association). Striping over several pays where one association is the limit, not the CPU: on the 2-core
 * machines measured (scripts/bench/transport.ts) two Node endpoints go from ~35 MB/s with 1 channel to ~60 MB/s
 * with 4, while between Chromium tabs the per-packet work across renderer and network processes saturates
 * the CPU at 11-16 MB/s and more channels only add overhead, hence the default of 1.
 *
 * Messages are cut into frames of at most `maxFrameBytes` (Chromium's SCTP stack fails above 256 KiB), frames
 * are striped over the link's channels by least buffered amount, and the receiver reassembles them by offset
 * (frame.ts). Sending stops while every channel holds `highWaterMark` bytes and resumes on
 * `bufferedamountlow`, so a large send never overflows a channel's buffer.
 *
 * Failures are per link: when party 2 disconnects, receives from party 2 reject ("party 2 disconnected")
 * while messages from the other parties still arrive. A deliberate close sends BYE on every channel after the
 * queued data, so the other side delivers everything sent before it and names the reason. A peer that vanishes
 * without closing (crashed tab, lost network) is noticed by silence: idle channels carry a PING every
 * `keepaliveMs`, and a link that hears nothing for `idleTimeoutMs` fails (one channel of several, silent while
 * the others talk, after three times as long: link.ts SIBLING_GRACE). A link lost that way, or closed, before
 * its peer proved its identity does not fail: it is set up again, until the connect deadline, with whoever
 * takes the peer's slot next (a crashed party restarted, a reloaded tab; link-setup.ts restart).
 *
 * Links are authenticated end to end before any application data moves (link.ts, link-auth.ts): the
 * coordinator only admits endpoints holding their slot's secret, but it is trusted for nothing else, and a
 * link whose peer cannot prove its identity key over this very link's DTLS fingerprints fails with
 * "peer identity error: <peer> ...".
 *
 * Files: options.ts (options, defaults, validation), addressing.ts (names, peer ids, signaling URL),
 * link-setup.ts (signaling: offers, answers, retries), link.ts (one link's channels: authentication, sending,
 * receiving), this file (the Channel and its life cycle: ready, keepalive, close).
 */
import { type Channel, type EndpointId, countSent, emptyStats } from '@puma/transport';
import { endpointName, peerIdFor, signalingAddress } from './addressing.ts';
import { LANE_STREAMS, type LaneLimits } from './lane.ts';
import { Link, type LinkEvents } from './link.ts';
import { LinkSetup } from './link-setup.ts';
import { type PeerChannelOptions, type ResolvedOptions, resolveOptions } from './options.ts';

export { endpointName, peerIdFor, signalingAddress } from './addressing.ts';
export type { PeerChannelOptions } from './options.ts';

export interface PeerChannel extends Channel {
  /** This endpoint's PeerJS id on the signaling server. */
  readonly peerId: string;
  /** Resolves when every link is open (authenticated); rejects with the first link failure before that. */
  readonly ready: Promise<void>;
  /** Resolves when close() has flushed, said BYE and released every connection. */
  readonly closed: Promise<void>;
  /** Fingerprint of the key `peer` proved on its link; undefined until that link is open. */
  peerIdentity(peer: EndpointId): string | undefined;
  /**
   * Opens a lane to `peer`: one more reliable, ordered data channel (negotiated, SCTP stream `streamId`) on the
   * connection whose DTLS fingerprints the peer proved its identity over, so what arrives on it comes from that
   * peer. The peer must open the lane with the same `streamId` before anything is sent on it: bytes for a stream
   * that side has not opened yet are lost. The new channel is handed to `take` in the task that created it,
   * which is the only moment Chromium lets it be transferred to a Web Worker (postMessage(dc, [dc])); a channel
   * that has run an event loop turn on the page crashes the browser when transferred. The lane carries
   * data frames only (lane.ts, with the link's `limits`); keepalive and BYE stay on the link, whose failure
   * closes the lane.
   * Throws, naming the problem, when the link to `peer` is not open or `streamId` is not a lane stream.
   */
  openLane(peer: EndpointId, streamId: number, take: (dc: RTCDataChannel, limits: LaneLimits) => void): void;
}

class PeerChannelImpl implements PeerChannel {
  readonly self: EndpointId;
  readonly stats = emptyStats();
  readonly peerId: string;
  readonly ready: Promise<void>;
  readonly closed: Promise<void>;

  private readonly opts: ResolvedOptions;
  private readonly links = new Map<EndpointId, Link>();
  private readonly setup: LinkSetup;
  private isClosed = false;
  private closeReason = '';
  private allOpen = false;
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private keepalive: ReturnType<typeof setInterval> | undefined;
  private lastTick = 0;
  private resolveReady!: () => void;
  private rejectReady!: (e: Error) => void;
  private resolveClosed!: () => void;

  constructor(opts: PeerChannelOptions) {
    this.opts = resolveOptions(opts);
    this.self = opts.self;
    this.peerId = peerIdFor(opts.sessionId, opts.self);
    const addr = signalingAddress(opts.coordinator);
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Callers that only use send/recv never await `ready`; its rejection reaches them through recv instead.
    this.ready.catch(() => {});
    this.closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

    const events: LinkEvents = {
      opened: () => this.onLinkOpened(),
      failed: (link) => {
        if (!this.allOpen) this.rejectReady(link.error as Error);
      },
      remoteBye: (link) => this.onRemoteBye(link),
      lostBeforeProof: (link, why) => this.setup.restart(link, why),
    };
    for (const remote of opts.peers) {
      this.links.set(remote, new Link(remote, peerIdFor(opts.sessionId, remote), this.self < remote, this.stats, this.opts, events));
    }
    this.setup = new LinkSetup(addr, this.peerId, this.links, this.opts, {
      isClosed: () => this.isClosed,
      connected: (link) => this.startKeepalive(link),
    });
    if (this.links.size === 0) {
      this.allOpen = true;
      this.resolveReady();
      return;
    }
    this.deadline = setTimeout(() => this.onDeadline(), this.opts.connectTimeoutMs);
    this.setup.start();
  }

  send(to: EndpointId, tag: string, data: Uint8Array): void {
    const link = this.links.get(to);
    if (!link) throw new Error(`${endpointName(this.self)}: no link to ${endpointName(to)} (peers: ${this.peerList()})`);
    if (this.isClosed) throw new Error(`${endpointName(this.self)}: channel closed (${this.closeReason})`);
    if (link.error) throw link.error;
    link.enqueue(tag, data);
    countSent(this.stats, to, data.byteLength);
  }

  recv(from: EndpointId, tag: string): Promise<Uint8Array> {
    const link = this.links.get(from);
    if (!link) {
      return Promise.reject(new Error(`${endpointName(this.self)}: no link to ${endpointName(from)} (peers: ${this.peerList()})`));
    }
    return link.box.take(from, tag);
  }

  peerIdentity(peer: EndpointId): string | undefined {
    const link = this.links.get(peer);
    return link?.open ? link.peerFingerprint : undefined;
  }

  openLane(peer: EndpointId, streamId: number, take: (dc: RTCDataChannel, limits: LaneLimits) => void): void {
    if (!Number.isInteger(streamId) || streamId < LANE_STREAMS.min || streamId > LANE_STREAMS.max) {
      throw new Error(`lane stream ${streamId} is not an integer from ${LANE_STREAMS.min} to ${LANE_STREAMS.max}`);
    }
    const link = this.links.get(peer);
    if (!link) throw new Error(`${endpointName(this.self)}: no link to ${endpointName(peer)} (peers: ${this.peerList()})`);
    if (this.isClosed) throw new Error(`${endpointName(this.self)}: channel closed (${this.closeReason})`);
    if (link.error) throw link.error;
    const pc = link.conns[0]?.peerConnection;
    if (!link.open || !pc) throw new Error(`cannot open a lane to ${link.name}: its link is not open (authenticated) yet`);
    take(pc.createDataChannel(`puma-lane-${streamId}`, { negotiated: true, id: streamId, ordered: true }), link.laneLimits());
  }

  close(reason = 'channel closed'): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeReason = reason;
    clearTimeout(this.deadline);
    clearInterval(this.keepalive);
    const err = new Error(reason);
    for (const link of this.links.values()) link.box.fail(err);
    if (!this.allOpen) this.rejectReady(err);
    this.teardown(reason).finally(() => this.resolveClosed());
  }

  private peerList(): string {
    return [...this.links.keys()].map(endpointName).join(', ') || 'none';
  }

  /** `link` just connected: the keepalive starts with the first link that does. */
  private startKeepalive(link: Link): void {
    if (this.keepalive === undefined && !link.error) {
      this.lastTick = Date.now();
      this.keepalive = setInterval(() => this.tick(), this.opts.keepaliveMs);
    }
  }

  private onLinkOpened(): void {
    if (!this.allOpen && [...this.links.values()].every((l) => l.open)) {
      this.allOpen = true;
      clearTimeout(this.deadline);
      this.resolveReady();
    }
  }

  /** Keepalive: PING quiet channels, fail links whose peer has been silent for idleTimeoutMs. */
  private tick(): void {
    const now = Date.now();
    // A late tick means this endpoint itself was stalled (busy thread, suspended machine): silence from the
    // peer over that time proves nothing, so the clocks restart.
    const stalled = now - this.lastTick > 3 * this.opts.keepaliveMs;
    this.lastTick = now;
    let live = false;
    for (const link of this.links.values()) {
      if (link.error) continue;
      live = true;
      link.tick(now, stalled);
    }
    if (!live) clearInterval(this.keepalive);
  }

  /** The peer closed deliberately and everything it sent before has arrived. */
  private onRemoteBye(link: Link): void {
    if (!link.error) {
      // A BYE before the link was authenticated may come from anyone on the path; say so.
      const unproven = link.open ? '' : ' before proving its identity';
      link.error = new Error(`${link.name} disconnected${unproven} (${link.remoteReason})`);
      link.box.fail(link.error);
      link.queue.clear();
      if (!this.allOpen) this.rejectReady(link.error);
    }
    if (this.isClosed) return;
    // Answering BYE tells the closing side it may release its connections without losing data.
    link.sendBye('acknowledged');
    void link.drainThenRelease(1_000);
  }

  private onDeadline(): void {
    const s = this.opts.connectTimeoutMs / 1000;
    for (const link of this.links.values()) {
      if (link.open || link.error) continue;
      const why = !this.setup.registered
        ? `the signaling server at ${this.setup.url} did not register this endpoint`
        : link.lastError || 'no answer';
      link.fail(`connection to ${link.name} timed out after ${s} s (${why})`);
    }
  }

  /** Graceful close: flush queued messages, BYE on every channel, wait for the peers' BYE, release. */
  private async teardown(reason: string): Promise<void> {
    const until = Date.now() + this.opts.closeFlushMs;
    await Promise.all(
      [...this.links.values()].map(async (link) => {
        await link.closeGracefully(reason, until);
      }),
    );
    this.setup.destroy();
  }
}

/**
 * Connects `self` to `peers` through the coordinator's signaling server and returns the Channel at once:
 * sends queue until their link opens, and `ready` tells when every link is up and authenticated.
 */
export function createPeerChannel(opts: PeerChannelOptions): PeerChannel {
  return new PeerChannelImpl(opts);
}
