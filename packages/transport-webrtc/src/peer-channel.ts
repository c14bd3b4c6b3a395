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
 * the others talk, after three times as long: link.ts SIBLING_GRACE).
 *
 * Links are authenticated end to end before any application data moves (link.ts, link-auth.ts): the
 * coordinator only admits endpoints holding their slot's secret, but it is trusted for nothing else, and a
 * link whose peer cannot prove its identity key over this very link's DTLS fingerprints fails with
 * "peer identity error: <peer> ...".
 *
 * Files: options.ts (options, defaults, validation), addressing.ts (names, peer ids, signaling URL),
 * link.ts (one link's channels: authentication, sending, receiving), this file (signaling and life cycle).
 */
import type { DataConnection, Peer, PeerError } from 'peerjs';
import { type Channel, type EndpointId, countSent, emptyStats } from '@puma/transport';
import { endpointName, loadPeer, peerIdFor, signalingAddress } from './addressing.ts';
import { LANE_STREAMS, type LaneLimits } from './lane.ts';
import { Link, type LinkEvents, errorText } from './link.ts';
import { MAX_CHANNELS_PER_PEER, type PeerChannelOptions, type ResolvedOptions, resolveOptions } from './options.ts';

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

/** Delay before re-offering to a peer that had not yet registered with the signaling server. */
const REOFFER_DELAY_MS = 250;
/** First delay before setting up a failed channel again; it doubles per failure up to the maximum. */
const SETUP_RETRY_MS = 100;
const SETUP_RETRY_MAX_MS = 2_000;
/**
 * A channel still not open this long after its offer is set up again. Lost signaling (a candidate that expired
 * at the server while its peer was registering) leaves ICE checking forever with no failure event, so only a
 * deadline notices; it doubles per attempt, so a slow but live network is not cut off again and again.
 */
const SETUP_STALL_MS = 15_000;
const SETUP_STALL_MAX_MS = 60_000;

interface ChannelMeta {
  puma: 1;
  index: number;
  count: number;
}

function isChannelMeta(m: unknown): m is ChannelMeta {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  return (
    r.puma === 1 &&
    Number.isInteger(r.count) &&
    Number.isInteger(r.index) &&
    (r.count as number) >= 1 &&
    (r.count as number) <= MAX_CHANNELS_PER_PEER &&
    (r.index as number) >= 0 &&
    (r.index as number) < (r.count as number)
  );
}

class PeerChannelImpl implements PeerChannel {
  readonly self: EndpointId;
  readonly stats = emptyStats();
  readonly peerId: string;
  readonly ready: Promise<void>;
  readonly closed: Promise<void>;

  private readonly opts: ResolvedOptions;
  private readonly links = new Map<EndpointId, Link>();
  private readonly byPeerId = new Map<string, Link>();
  private readonly signalingUrl: string;
  private peer: Peer | null = null;
  private signalingOpen = false;
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
    this.signalingUrl = `${addr.secure ? 'wss' : 'ws'}://${addr.host}:${addr.port}${addr.path}`;
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
    };
    for (const remote of opts.peers) {
      const link = new Link(remote, peerIdFor(opts.sessionId, remote), this.self < remote, this.stats, this.opts, events);
      this.links.set(remote, link);
      this.byPeerId.set(link.remotePeerId, link);
    }
    if (this.links.size === 0) {
      this.allOpen = true;
      this.resolveReady();
      return;
    }
    this.deadline = setTimeout(() => this.onDeadline(), this.opts.connectTimeoutMs);
    this.start(addr).catch((e: unknown) => this.failAll(`cannot start WebRTC: ${errorText(e)}`));
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

  private async start(addr: ReturnType<typeof signalingAddress>): Promise<void> {
    const PeerCtor = await loadPeer();
    if (this.isClosed) return;
    const peer = new PeerCtor(this.peerId, {
      host: addr.host,
      port: addr.port,
      path: addr.path,
      secure: addr.secure,
      token: this.opts.slotSecret,
      config: this.opts.rtcConfig,
      debug: 0,
    });
    this.peer = peer;
    peer.on('open', () => {
      this.signalingOpen = true;
      for (const link of this.links.values()) if (link.opener) this.offer(link);
    });
    peer.on('connection', (conn) => this.onIncoming(conn));
    peer.on('error', (e) => this.onPeerError(e));
  }

  /** Opens the link's data channels towards a peer with a higher endpoint id. */
  private offer(link: Link): void {
    for (let index = 0; index < link.count; index++) this.offerChannel(link, index);
  }

  private offerChannel(link: Link, index: number): void {
    if (link.error || link.connected || this.isClosed || !this.peer) return;
    const meta: ChannelMeta = { puma: 1, index, count: link.count };
    const conn = this.peer.connect(link.remotePeerId, { reliable: true, serialization: 'raw', label: `puma-${index}`, metadata: meta });
    if (!conn) {
      link.fail(`cannot connect to ${link.name}: lost the signaling server at ${this.signalingUrl}`);
      return;
    }
    this.adopt(link, index, conn);
    const stallMs = Math.min(SETUP_STALL_MAX_MS, SETUP_STALL_MS * 2 ** Math.min(link.setupFailures, 4));
    const stall = setTimeout(() => {
      if (link.conns[index] !== conn || conn.open) return;
      this.onSetupFailed(link, index, `channel ${index} did not open within ${stallMs / 1000} s`);
      conn.close();
    }, stallMs);
    // In Node the deadline must not keep a finished endpoint's process alive.
    (stall as { unref?: () => void }).unref?.();
  }

  /**
   * A channel that fails before it ever opened is set up again, until the connect deadline: a DTLS handshake
   * can lose a race with signaling (node-datachannel, as offerer, verifies the peer's certificate before the
   * answer carrying its fingerprint has arrived, and aborts), and a fresh attempt then usually succeeds.
   */
  private onSetupFailed(link: Link, index: number, why: string): void {
    if (link.connected || link.error || this.isClosed) return;
    link.conns[index] = undefined;
    link.setupFailures += 1;
    link.lastError = `${why}; ${link.setupFailures} setup attempt(s) failed`;
    if (!link.opener) return;
    const delay = Math.min(SETUP_RETRY_MAX_MS, SETUP_RETRY_MS * 2 ** Math.min(link.setupFailures - 1, 8));
    setTimeout(() => {
      if (link.conns[index] === undefined) this.offerChannel(link, index);
    }, delay);
  }

  private onIncoming(conn: DataConnection): void {
    const link = this.byPeerId.get(conn.peer);
    const meta: unknown = conn.metadata;
    if (!link || link.opener || !isChannelMeta(meta) || link.error || this.isClosed) {
      conn.close();
      return;
    }
    if (link.connected) {
      // A late duplicate offer; the link already runs on the channels it has.
      conn.close();
      return;
    }
    if (meta.count !== link.count) {
      // The opening side decides the channel count; a new count means it restarted its offers.
      for (const old of link.conns) old?.close();
      link.conns = [];
      link.count = meta.count;
    }
    this.adopt(link, meta.index, conn);
  }

  private adopt(link: Link, index: number, conn: DataConnection): void {
    const old = link.conns[index];
    link.conns[index] = conn;
    old?.close();
    const current = () => link.conns[index] === conn;
    conn.on('open', () => {
      if (current()) this.onChannelOpen(link, conn);
    });
    conn.on('data', (data) => {
      if (current()) link.onData(index, data);
    });
    conn.on('close', () => {
      if (current()) link.fail(`${link.name} disconnected`);
    });
    // peerjs reacts to ICE states only, and node-datachannel may not report ICE "closed" after a failed DTLS
    // handshake; the connection state does say "failed".
    const pc = conn.peerConnection;
    pc.addEventListener('connectionstatechange', () => {
      const state = pc.connectionState;
      if (!current() || (state !== 'failed' && state !== 'closed')) return;
      if (conn.open) link.fail(`${link.name} disconnected (connection ${state})`);
      else this.onSetupFailed(link, index, `the connection ${state === 'failed' ? 'failed' : 'closed'} during setup`);
    });
    conn.on('error', (e) => {
      if (!current()) return;
      link.lastError = e.message || e.type;
      // Once open, a failure also closes the connection, and the 'close' handler fails the link.
      if (!conn.open && (e.type === 'negotiation-failed' || e.type === 'connection-closed')) {
        this.onSetupFailed(link, index, e.type === 'negotiation-failed' ? 'ICE negotiation failed' : 'the connection closed during setup');
      }
    });
  }

  private onChannelOpen(link: Link, conn: DataConnection): void {
    const dc = conn.dataChannel;
    dc.bufferedAmountLowThreshold = Math.floor(this.opts.highWaterMark / 4);
    dc.addEventListener('bufferedamountlow', () => link.pump());
    const all = link.conns.length === link.count && link.conns.every((c) => c?.open);
    if (!all || link.connected || link.error) return;
    link.lastError = `${link.name} did not prove its identity`;
    link.onChannelsOpen();
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

  private onPeerError(e: PeerError<string>): void {
    if (this.isClosed) return;
    const text = e.message || e.type;
    switch (e.type) {
      case 'peer-unavailable': {
        // The offer expired at the signaling server because that peer had not registered yet: offer again.
        const link = [...this.links.values()].find((l) => text.includes(l.remotePeerId));
        // Every queued message of an expired offer (the offer and each candidate) reports it: one re-offer does.
        if (!link || link.connected || link.error || link.reofferPending) return;
        link.lastError = `${link.name} had not connected to the signaling server`;
        link.reofferPending = true;
        for (const c of link.conns) c?.close();
        link.conns = [];
        setTimeout(() => {
          link.reofferPending = false;
          this.offer(link);
        }, REOFFER_DELAY_MS);
        return;
      }
      case 'unavailable-id':
        this.failAll(`peer id ${this.peerId} is taken: another ${endpointName(this.self)} is registered for this session`);
        return;
      case 'network':
      case 'socket-error':
      case 'socket-closed':
      case 'server-error':
      case 'disconnected':
        // Connected links no longer need the signaling server; only the ones still being set up fail.
        for (const link of this.links.values()) {
          if (link.connected) continue;
          link.fail(
            `lost the signaling server at ${this.signalingUrl} (${text}); it refuses sessions that do not exist, ` +
              `slots that were not joined and endpoints without their slot's secret`,
          );
        }
        return;
      case 'webrtc':
        for (const l of this.links.values()) if (!l.connected) l.lastError = text;
        return;
      default:
        this.failAll(`WebRTC setup failed (${e.type}): ${text}`);
    }
  }

  private onDeadline(): void {
    const s = this.opts.connectTimeoutMs / 1000;
    for (const link of this.links.values()) {
      if (link.open || link.error) continue;
      const why = !this.signalingOpen
        ? `the signaling server at ${this.signalingUrl} did not register this endpoint`
        : link.lastError || 'no answer';
      link.fail(`connection to ${link.name} timed out after ${s} s (${why})`);
    }
  }

  private failAll(message: string): void {
    for (const link of this.links.values()) link.fail(message);
  }

  /** Graceful close: flush queued messages, BYE on every channel, wait for the peers' BYE, release. */
  private async teardown(reason: string): Promise<void> {
    const until = Date.now() + this.opts.closeFlushMs;
    await Promise.all(
      [...this.links.values()].map(async (link) => {
        await link.closeGracefully(reason, until);
      }),
    );
    this.peer?.destroy();
    this.peer = null;
  }
}

/**
 * Connects `self` to `peers` through the coordinator's signaling server and returns the Channel at once:
 * sends queue until their link opens, and `ready` tells when every link is up and authenticated.
 */
export function createPeerChannel(opts: PeerChannelOptions): PeerChannel {
  return new PeerChannelImpl(opts);
}
