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
 * `keepaliveMs`, and a channel that hears nothing for `idleTimeoutMs` fails its link.
 */
import type { DataConnection, Peer, PeerError } from 'peerjs';
import { type Channel, type EndpointId, CLIENT, Mailbox, OWNER, countSent, emptyStats } from '@puma/transport';
import { BYE, CHUNK, OutgoingMessage, PING_FRAME, Reassembler, decodeFrame, encodeBye, encodeTag } from './frame.ts';

export interface PeerChannelOptions {
  /** Base URL of the coordinator, e.g. "http://127.0.0.1:9000"; its signaling server lives under /peerjs. */
  coordinator: string;
  /** Session id from the coordinator (letters and digits). */
  sessionId: string;
  /** This endpoint: 0, 1, 2 (parties), CLIENT (3) or OWNER (4). */
  self: EndpointId;
  /** The endpoints this one exchanges messages with. The lower id of each pair opens the connection. */
  peers: readonly EndpointId[];
  /** Data channels per peer pair; frames are striped across them. Decided by the opening side. Default 1. */
  channelsPerPeer?: number;
  /** Links not open after this long fail with "connection to party N timed out after S s". Default 30 000. */
  connectTimeoutMs?: number;
  /** Passed to every RTCPeerConnection. Default `{ iceServers: [] }` (host candidates only: loopback, LAN). */
  rtcConfig?: RTCConfiguration;
  /** Largest data-channel message, header included; also capped by the SCTP transport's maxMessageSize. */
  maxFrameBytes?: number;
  /** Bytes a data channel may hold buffered before sending waits for it to drain. Default 4 MiB. */
  highWaterMark?: number;
  /** Larger incoming messages are a protocol error. Default 1 GiB. */
  maxMessageBytes?: number;
  /** A channel that sent nothing for this long sends a 4-byte PING. Default 1 000. */
  keepaliveMs?: number;
  /**
   * A link fails ("connection to party N lost") when one of its channels received nothing, not even a PING,
   * for this long: the peer vanished without closing (crashed tab, lost network). Default 10 000.
   */
  idleTimeoutMs?: number;
  /** How long close() keeps flushing queued data and waiting for the peers' BYE. Default 10 000. */
  closeFlushMs?: number;
}

export interface PeerChannel extends Channel {
  /** This endpoint's PeerJS id on the signaling server. */
  readonly peerId: string;
  /** Resolves when every link is open; rejects with the first link failure before that. */
  readonly ready: Promise<void>;
  /** Resolves when close() has flushed, said BYE and released every connection. */
  readonly closed: Promise<void>;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const DEFAULTS = {
  channelsPerPeer: 1,
  connectTimeoutMs: 30_000,
  maxFrameBytes: 256 * KiB,
  highWaterMark: 4 * MiB,
  maxMessageBytes: 1024 * MiB,
  keepaliveMs: 1_000,
  idleTimeoutMs: 10_000,
  closeFlushMs: 10_000,
};
const MAX_CHANNELS_PER_PEER = 16;
/** Delay before re-offering to a peer that had not yet registered with the signaling server. */
const REOFFER_DELAY_MS = 250;
const POLL_MS = 10;
/** First delay before setting up a failed channel again; it doubles per failure up to the maximum. */
const SETUP_RETRY_MS = 100;
const SETUP_RETRY_MAX_MS = 2_000;

/** Human name of an endpoint for error messages. */
export function endpointName(id: EndpointId): string {
  if (id === CLIENT) return 'client';
  if (id === OWNER) return 'model owner';
  return `party ${id}`;
}

/** The PeerJS id of an endpoint in a session; the coordinator accepts only ids of joined slots. */
export function peerIdFor(sessionId: string, endpoint: EndpointId): string {
  return `puma-${sessionId}-${endpoint}`;
}

/** URL pieces PeerJS wants for the signaling server under `coordinator`. */
export function signalingAddress(coordinator: string): { host: string; port: number; path: string; secure: boolean } {
  let url: URL;
  try {
    url = new URL(coordinator);
  } catch {
    throw new Error(`coordinator must be an absolute http(s) URL, got "${coordinator}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`coordinator must be an http(s) URL, got "${coordinator}"`);
  }
  const secure = url.protocol === 'https:';
  const base = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
  return { host: url.hostname, port: url.port ? Number(url.port) : secure ? 443 : 80, path: `${base}peerjs`, secure };
}

type PeerConstructor = new (id: string, options: object) => Peer;

/** peerjs is imported on first use so that Node can install its WebRTC globals first (peerjs probes them on load). */
async function loadPeer(): Promise<PeerConstructor> {
  const mod = (await import('peerjs')) as unknown as { Peer?: PeerConstructor; default?: { Peer?: PeerConstructor } };
  // Bundlers load the ES build (named export); Node loads the CommonJS build, whose exports sit on `default`.
  const Ctor = mod.Peer ?? mod.default?.Peer;
  if (!Ctor) throw new Error('the peerjs module does not export Peer');
  return Ctor;
}

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

class Link {
  readonly box: Mailbox;
  readonly reassembler: Reassembler;
  /** DataConnection per channel index; replaced wholesale when an offer is retried. */
  conns: (DataConnection | undefined)[] = [];
  /** Number of channels; known up front on the opening side, from the first offer on the other. */
  count: number;
  channels: RTCDataChannel[] = [];
  open = false;
  error: Error | null = null;
  queue: OutgoingMessage[] = [];
  nextSeq = 0;
  frameBytes: number;
  pumping = false;
  byeSent = false;
  byesReceived = new Set<number>();
  remoteReason = '';
  lastError = '';
  setupFailures = 0;
  /** Date.now() of the last frame sent / received per channel index, for keepalive and idle detection. */
  lastSent: number[] = [];
  lastHeard: number[] = [];

  constructor(
    readonly remote: EndpointId,
    readonly remotePeerId: string,
    readonly opener: boolean,
    count: number,
    frameBytes: number,
    box: Mailbox,
    reassembler: (link: Link) => Reassembler,
  ) {
    this.count = count;
    this.frameBytes = frameBytes;
    this.box = box;
    this.reassembler = reassembler(this);
  }

  get name(): string {
    return endpointName(this.remote);
  }
}

class PeerChannelImpl implements PeerChannel {
  readonly self: EndpointId;
  readonly stats = emptyStats();
  readonly peerId: string;
  readonly ready: Promise<void>;
  readonly closed: Promise<void>;

  private readonly opts: Required<Omit<PeerChannelOptions, 'rtcConfig'>> & { rtcConfig: RTCConfiguration };
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
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as PeerChannelOptions;
    this.opts = { ...DEFAULTS, rtcConfig: { iceServers: [] }, ...given };
    validate(this.opts);
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

    for (const remote of opts.peers) {
      const link: Link = new Link(
        remote,
        peerIdFor(opts.sessionId, remote),
        this.self < remote,
        this.opts.channelsPerPeer,
        this.opts.maxFrameBytes,
        new Mailbox(this.stats),
        (l) => new Reassembler(this.opts.maxMessageBytes, (tag, data) => l.box.deliver(remote, tag, data)),
      );
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
    if (data.byteLength > this.opts.maxMessageBytes) {
      throw new Error(`message of ${data.byteLength} bytes exceeds the limit of ${this.opts.maxMessageBytes}`);
    }
    const msg = new OutgoingMessage(link.nextSeq, encodeTag(tag), data);
    link.nextSeq = (link.nextSeq + 1) >>> 0;
    countSent(this.stats, to, data.byteLength);
    link.queue.push(msg);
    this.pump(link);
  }

  recv(from: EndpointId, tag: string): Promise<Uint8Array> {
    const link = this.links.get(from);
    if (!link) {
      return Promise.reject(new Error(`${endpointName(this.self)}: no link to ${endpointName(from)} (peers: ${this.peerList()})`));
    }
    return link.box.take(from, tag);
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
    if (link.error || link.open || this.isClosed || !this.peer) return;
    const meta: ChannelMeta = { puma: 1, index, count: link.count };
    const conn = this.peer.connect(link.remotePeerId, { reliable: true, serialization: 'raw', label: `puma-${index}`, metadata: meta });
    if (!conn) {
      this.fail(link, `cannot connect to ${link.name}: lost the signaling server at ${this.signalingUrl}`);
      return;
    }
    this.adopt(link, index, conn);
  }

  /**
   * A channel that fails before it ever opened is set up again, until the connect deadline: a DTLS handshake
   * can lose a race with signaling (node-datachannel, as offerer, verifies the peer's certificate before the
   * answer carrying its fingerprint has arrived, and aborts), and a fresh attempt then usually succeeds.
   */
  private onSetupFailed(link: Link, index: number, why: string): void {
    if (link.open || link.error || this.isClosed) return;
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
    if (link.open) {
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
      if (current()) this.onData(link, index, data);
    });
    conn.on('close', () => {
      if (current()) this.fail(link, `${link.name} disconnected`);
    });
    // peerjs reacts to ICE states only, and node-datachannel may not report ICE "closed" after a failed DTLS
    // handshake; the connection state does say "failed".
    const pc = conn.peerConnection;
    pc.addEventListener('connectionstatechange', () => {
      const state = pc.connectionState;
      if (!current() || (state !== 'failed' && state !== 'closed')) return;
      if (conn.open) this.fail(link, `${link.name} disconnected (connection ${state})`);
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
    dc.addEventListener('bufferedamountlow', () => this.pump(link));
    const all = link.conns.length === link.count && link.conns.every((c) => c?.open);
    if (!all || link.open || link.error) return;
    link.channels = link.conns.map((c) => (c as DataConnection).dataChannel);
    for (const c of link.conns) {
      const limit = c?.peerConnection?.sctp?.maxMessageSize;
      if (limit && Number.isFinite(limit) && limit > 0) link.frameBytes = Math.min(link.frameBytes, limit);
    }
    const now = Date.now();
    link.lastSent = link.channels.map(() => now);
    link.lastHeard = link.channels.map(() => now);
    link.open = true;
    if (this.keepalive === undefined) {
      this.lastTick = now;
      this.keepalive = setInterval(() => this.tick(), this.opts.keepaliveMs);
    }
    this.pump(link);
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
      if (!link.open) continue;
      for (const [i, dc] of link.channels.entries()) {
        if (stalled) link.lastHeard[i] = now;
        if (now - link.lastHeard[i] > this.opts.idleTimeoutMs) {
          this.fail(link, `connection to ${link.name} lost: nothing received for ${this.opts.idleTimeoutMs / 1000} s`);
          break;
        }
        if (now - link.lastSent[i] >= this.opts.keepaliveMs && dc.readyState === 'open') {
          try {
            dc.send(PING_FRAME);
            link.lastSent[i] = now;
          } catch {
            // The channel is closing; its close event fails the link.
          }
        }
      }
    }
    if (!live) clearInterval(this.keepalive);
  }

  private onData(link: Link, index: number, data: unknown): void {
    if (link.error) return;
    link.lastHeard[index] = Date.now();
    if (!(data instanceof ArrayBuffer) && !(data instanceof Uint8Array)) {
      this.fail(link, `protocol error from ${link.name}: received a non-binary message`);
      return;
    }
    try {
      const frame = decodeFrame(data);
      if (frame.kind === CHUNK) {
        link.reassembler.add(frame);
      } else if (frame.kind === BYE) {
        link.byesReceived.add(index);
        link.remoteReason = frame.reason;
        if (link.byesReceived.size >= link.count) this.onRemoteBye(link);
      }
    } catch (e) {
      this.fail(link, `protocol error from ${link.name}: ${errorText(e)}`);
    }
  }

  /** The peer closed deliberately and everything it sent before has arrived. */
  private onRemoteBye(link: Link): void {
    if (!link.error) {
      link.error = new Error(`${link.name} disconnected (${link.remoteReason})`);
      link.box.fail(link.error);
      link.queue = [];
    }
    if (this.isClosed) return;
    // Answering BYE tells the closing side it may release its connections without losing data.
    this.sendBye(link, 'acknowledged');
    void this.drainThenRelease(link, 1_000);
  }

  private onPeerError(e: PeerError<string>): void {
    if (this.isClosed) return;
    const text = e.message || e.type;
    switch (e.type) {
      case 'peer-unavailable': {
        // The offer expired at the signaling server because that peer had not registered yet: offer again.
        const link = [...this.links.values()].find((l) => text.includes(l.remotePeerId));
        if (!link || link.open || link.error) return;
        link.lastError = `${link.name} had not connected to the signaling server`;
        for (const c of link.conns) c?.close();
        link.conns = [];
        setTimeout(() => this.offer(link), REOFFER_DELAY_MS);
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
        // Open links no longer need the signaling server; only the ones still being set up fail.
        for (const link of this.links.values()) {
          if (link.open) continue;
          this.fail(
            link,
            `lost the signaling server at ${this.signalingUrl} (${text}); it refuses sessions that do not exist ` +
              `and slots that were not joined`,
          );
        }
        return;
      case 'webrtc':
        for (const l of this.links.values()) if (!l.open) l.lastError = text;
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
      this.fail(link, `connection to ${link.name} timed out after ${s} s (${why})`);
    }
  }

  private failAll(message: string): void {
    for (const link of this.links.values()) this.fail(link, message);
  }

  /** Fails one link: its receives reject with `message` (unless close() failed them first), its connections close. */
  private fail(link: Link, message: string): void {
    if (link.error) return;
    link.error = new Error(message);
    link.box.fail(link.error);
    link.queue = [];
    if (!this.allOpen) this.rejectReady(link.error);
    this.release(link);
  }

  private pump(link: Link): void {
    if (!link.open || link.pumping || link.error) return;
    link.pumping = true;
    try {
      while (link.queue.length > 0) {
        const i = leastBuffered(link.channels, this.opts.highWaterMark);
        if (i < 0) return;
        const msg = link.queue[0];
        link.channels[i].send(msg.nextFrame(link.frameBytes));
        link.lastSent[i] = Date.now();
        if (msg.done) link.queue.shift();
      }
    } catch (e) {
      this.fail(link, `sending to ${link.name} failed: ${errorText(e)}`);
    } finally {
      link.pumping = false;
    }
  }

  private sendBye(link: Link, reason: string): void {
    if (link.byeSent || !link.open) return;
    link.byeSent = true;
    const frame = encodeBye(reason);
    for (const dc of link.channels) {
      try {
        if (dc.readyState === 'open') dc.send(frame);
      } catch {
        // A channel that cannot take the BYE is closing anyway; the peer then sees the close instead.
      }
    }
  }

  /** Graceful close: flush queued messages, BYE on every channel, wait for the peers' BYE, release. */
  private async teardown(reason: string): Promise<void> {
    const until = Date.now() + this.opts.closeFlushMs;
    await Promise.all(
      [...this.links.values()].map(async (link) => {
        if (link.open && !link.error) {
          await waitUntil(() => link.queue.length === 0 || link.error !== null, until);
          this.sendBye(link, reason);
          await waitUntil(() => link.byesReceived.size >= link.count || link.error !== null || link.conns.some((c) => !c?.open), until);
        }
        this.release(link);
      }),
    );
    this.peer?.destroy();
    this.peer = null;
  }

  private async drainThenRelease(link: Link, ms: number): Promise<void> {
    await waitUntil(() => link.channels.every((dc) => dc.readyState !== 'open' || dc.bufferedAmount === 0), Date.now() + ms);
    this.release(link);
  }

  private release(link: Link): void {
    const conns = link.conns;
    link.conns = [];
    for (const c of conns) c?.close();
  }
}

/** Index of the open channel with the least buffered data below the high-water mark, or -1 if all are full. */
function leastBuffered(channels: RTCDataChannel[], highWaterMark: number): number {
  let best = -1;
  let bestBuffered = highWaterMark;
  for (const [i, dc] of channels.entries()) {
    if (dc.readyState !== 'open') continue;
    const buffered = dc.bufferedAmount;
    if (buffered < bestBuffered) {
      best = i;
      bestBuffered = buffered;
    }
  }
  return best;
}

async function waitUntil(cond: () => boolean, deadline: number): Promise<boolean> {
  while (!cond()) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return true;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function validate(o: Required<Omit<PeerChannelOptions, 'rtcConfig'>>): void {
  const isEndpoint = (x: unknown) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= OWNER;
  if (!isEndpoint(o.self)) throw new Error(`self must be an endpoint id 0..${OWNER}, got ${String(o.self)}`);
  if (!/^[A-Za-z0-9]+$/.test(o.sessionId)) throw new Error(`session id must be letters and digits, got "${o.sessionId}"`);
  const seen = new Set<EndpointId>();
  for (const p of o.peers) {
    if (!isEndpoint(p)) throw new Error(`peers must be endpoint ids 0..${OWNER}, got ${String(p)}`);
    if (p === o.self) throw new Error(`peers must not include this endpoint (${o.self})`);
    if (seen.has(p)) throw new Error(`peers lists ${p} twice`);
    seen.add(p);
  }
  if (!Number.isInteger(o.channelsPerPeer) || o.channelsPerPeer < 1 || o.channelsPerPeer > MAX_CHANNELS_PER_PEER) {
    throw new Error(`channelsPerPeer must be an integer in 1..${MAX_CHANNELS_PER_PEER}, got ${o.channelsPerPeer}`);
  }
  if (!(o.maxFrameBytes >= 1024)) throw new Error(`maxFrameBytes must be at least 1024, got ${o.maxFrameBytes}`);
  if (!(o.highWaterMark >= o.maxFrameBytes)) throw new Error('highWaterMark must be at least maxFrameBytes');
  for (const k of ['connectTimeoutMs', 'keepaliveMs', 'idleTimeoutMs', 'closeFlushMs', 'maxMessageBytes'] as const) {
    if (!(o[k] > 0)) throw new Error(`${k} must be positive, got ${o[k]}`);
  }
  if (o.idleTimeoutMs < 3 * o.keepaliveMs) throw new Error('idleTimeoutMs must be at least 3 keepalive intervals');
  if (o.maxMessageBytes > 0xffffffff) throw new Error('maxMessageBytes cannot exceed 2^32 - 1 (the frame length field)');
}

/**
 * Connects `self` to `peers` through the coordinator's signaling server and returns the Channel at once:
 * sends queue until their link opens, and `ready` tells when every link is up.
 */
export function createPeerChannel(opts: PeerChannelOptions): PeerChannel {
  return new PeerChannelImpl(opts);
}
