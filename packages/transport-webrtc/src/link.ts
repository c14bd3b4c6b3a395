/**
 * One link: the data channels between this endpoint and one peer, and everything that happens on them once
 * they exist: authentication (link-auth.ts), sending with back-pressure, receiving and reassembly, BYE.
 *
 * A link is `connected` when all its data channels are open, and `open` when, in addition, this side has sent
 * its AUTH and verified the peer's. Application data moves only on open links: sends queue until then, and a
 * CHUNK on a channel before the peer's AUTH on that channel waits, unread, for that AUTH. Frames after the AUTH
 * but before it is verified (the peer may already trust us) are held, in order, and processed once the link opens.
 *
 * Files: link-auth-exchange.ts (the AUTH exchange, with its repeats of lost proofs), link-pending.ts (frames
 * that wait for a proof or for the link to open), this file (life cycle, receiving, sending, keepalive, BYE).
 */
import type { DataConnection } from 'peerjs';
import { type EndpointId, Mailbox, type TrafficStats } from '@puma/transport';
import { endpointName } from './addressing.ts';
import { AUTH, BATCH, BYE, CHUNK, type Frame, PING, PING_FRAME, Reassembler, SendQueue, decodeFrame, encodeBye, takePacket } from './frame.ts';
import { AuthExchange } from './link-auth-exchange.ts';
import { type ChunkOrBye, PendingFrames } from './link-pending.ts';
import type { LaneLimits } from './lane.ts';
import type { ResolvedOptions } from './options.ts';
import { errorText, waitUntil } from './util.ts';

export { AUTH_REPEAT_MS, MAX_AUTH_REPEATS } from './link-auth-exchange.ts';
export { errorText } from './util.ts';

export interface LinkEvents {
  /** The link just opened (authenticated both ways). */
  opened(link: Link): void;
  /** The link just failed; link.error says why. */
  failed(link: Link): void;
  /** The peer said BYE on every channel: everything it sent before has arrived. */
  remoteBye(link: Link): void;
  /**
   * The link's channels went silent before the peer proved its identity; `why` says how. The owner of the
   * setup decides whether to set the link up again (resetBeforeProof) or to fail it.
   */
  lostBeforeProof(link: Link, why: string): void;
}

const BYE_LINGER_MS = 1_000;
/** Idle timeouts one channel may stay silent while the link's other channels still hear the peer (tick). */
export const SIBLING_GRACE = 3;

export class Link {
  readonly box: Mailbox;
  private readonly reassembler: Reassembler;
  private auth: AuthExchange;
  private readonly pending: PendingFrames;
  /** DataConnection per channel index; replaced wholesale when an offer is retried. */
  conns: (DataConnection | undefined)[] = [];
  /** Number of channels; known up front on the opening side, from the first offer on the other. */
  count: number;
  channels: RTCDataChannel[] = [];
  connected = false;
  open = false;
  error: Error | null = null;
  readonly queue = new SendQueue(() => this.pump());
  byeSent = false;
  byesReceived = new Set<number>();
  remoteReason = '';
  lastError = '';
  setupFailures = 0;
  /** A re-offer after the signaling server expired an offer is scheduled (so further expiries add none). */
  reofferPending = false;
  /** Date.now() of the last frame sent / received per channel index, for keepalive and idle detection. */
  lastSent: number[] = [];
  lastHeard: number[] = [];
  /** The key fingerprint the peer proved; set when the link opens. */
  peerFingerprint: string | undefined;
  private frameBytes: number;
  /** Largest message this side sends: its own limit, then the smaller of both sides' once the peer's AUTH arrives. */
  private sendLimit: number;
  private pumping = false;

  constructor(
    readonly remote: EndpointId,
    readonly remotePeerId: string,
    readonly opener: boolean,
    stats: TrafficStats,
    private readonly opts: ResolvedOptions,
    private readonly events: LinkEvents,
  ) {
    this.count = opts.channelsPerPeer;
    this.frameBytes = opts.maxFrameBytes;
    this.sendLimit = opts.maxMessageBytes;
    this.auth = this.newAuthExchange();
    this.pending = new PendingFrames(opts.maxPendingBytes);
    this.box = new Mailbox(stats);
    this.reassembler = new Reassembler(opts.maxMessageBytes, opts.maxPendingBytes, (tag, data) => this.box.deliver(remote, tag, data));
  }

  get name(): string {
    return endpointName(this.remote);
  }

  private newAuthExchange(): AuthExchange {
    return new AuthExchange(this, this.opts, (fingerprint, peerMaxMessageBytes) => this.onPeerVerified(fingerprint, peerMaxMessageBytes));
  }

  /**
   * Forgets the channels of a link whose peer never proved its identity (it crashed or reloaded during setup),
   * and everything they carried, so that the setup can start over with whoever takes the peer's slot next:
   * the new peer must prove its identity from the beginning, over its own channels. Messages this side queued
   * stay queued (nothing moves before a link opens). Only for a link that is not open and has not failed.
   */
  resetBeforeProof(why: string): void {
    if (this.open || this.error) throw new Error(`the link to ${this.name} is ${this.open ? 'open' : 'failed'}: it cannot be set up again`);
    const conns = this.conns;
    this.conns = [];
    this.channels = [];
    this.connected = false;
    this.lastSent = [];
    this.lastHeard = [];
    this.byesReceived.clear();
    this.remoteReason = '';
    this.frameBytes = this.opts.maxFrameBytes;
    this.sendLimit = this.opts.maxMessageBytes;
    this.auth.abandon();
    this.auth = this.newAuthExchange();
    this.pending.clear();
    this.lastError = why;
    for (const c of conns) c?.close();
  }

  /** The limits a lane on this link keeps (lane.ts): this link's frame size, both sides' message limits. */
  laneLimits(): LaneLimits {
    const { maxMessageBytes, maxPendingBytes, highWaterMark } = this.opts;
    return { frameBytes: this.frameBytes, sendLimit: this.sendLimit, maxMessageBytes, maxPendingBytes, highWaterMark };
  }

  /** Queues a message; throws if it is over the limit (this side's, or both sides' once known). */
  enqueue(tag: string, data: Uint8Array): void {
    if (data.byteLength > this.opts.maxMessageBytes) {
      throw new Error(`message "${tag}" of ${data.byteLength} bytes exceeds this endpoint's limit of ${this.opts.maxMessageBytes} bytes`);
    }
    if (data.byteLength > this.sendLimit) {
      throw new Error(`message "${tag}" of ${data.byteLength} bytes exceeds the limit of ${this.sendLimit} bytes that ${this.name} accepts`);
    }
    this.queue.push(tag, data);
  }

  /** All data channels are open: start authenticating. */
  onChannelsOpen(): void {
    this.channels = this.conns.map((c) => (c as DataConnection).dataChannel);
    for (const c of this.conns) {
      const limit = c?.peerConnection?.sctp?.maxMessageSize;
      if (limit && Number.isFinite(limit) && limit > 0) this.frameBytes = Math.min(this.frameBytes, limit);
    }
    const now = Date.now();
    this.lastSent = this.channels.map(() => now);
    this.lastHeard = this.channels.map((_, i) => this.lastHeard[i] ?? now);
    this.connected = true;
    this.auth.start();
  }

  /** The peer proved its key: the link sends at most the smaller of both sides' message limits, and opens. */
  private onPeerVerified(fingerprint: string, peerMaxMessageBytes: number): void {
    this.peerFingerprint = fingerprint;
    this.sendLimit = Math.min(this.opts.maxMessageBytes, peerMaxMessageBytes);
    this.maybeOpen();
  }

  private maybeOpen(): void {
    if (!this.auth.complete || this.open || this.error) return;
    const tooLarge = this.queue.messages.find((m) => m.byteLength > this.sendLimit);
    if (tooLarge) {
      const why = `a queued message of ${tooLarge.byteLength} bytes exceeds the limit of ${this.sendLimit} bytes that ${this.name} accepts`;
      this.fail(why, why);
      return;
    }
    this.open = true;
    this.events.opened(this);
    for (const { index, frame } of this.pending.takeHeld()) {
      if (this.error) break;
      this.process(index, frame);
    }
    this.pump();
  }

  onData(index: number, data: unknown): void {
    if (this.error) return;
    this.lastHeard[index] = Date.now();
    if (!(data instanceof ArrayBuffer) && !(data instanceof Uint8Array)) {
      this.fail(`protocol error from ${this.name}: received a non-binary message`);
      return;
    }
    let frame: Frame;
    try {
      frame = decodeFrame(data);
    } catch (e) {
      this.fail(`protocol error from ${this.name}: ${errorText(e)}`);
      return;
    }
    if (frame.kind === PING) return;
    if (frame.kind === AUTH) {
      this.onAuth(index, data, frame);
      return;
    }
    for (const f of frame.kind === BATCH ? frame.chunks : [frame]) {
      if (this.error) return;
      this.onFrame(index, f);
    }
  }

  /** A CHUNK or BYE frame: data only once the channel carried its AUTH (until then kept unread), held until the link opens. */
  private onFrame(index: number, frame: ChunkOrBye): void {
    if (!this.auth.provenOn(index)) {
      if (frame.kind !== CHUNK) {
        this.process(index, frame);
      } else if (!this.pending.keepEarly(index, frame)) {
        this.fail(`protocol error from ${this.name}: over ${this.opts.maxPendingBytes} bytes sent on channel ${index} before its identity proof`);
      }
    } else if (!this.open) {
      if (!this.pending.hold(index, frame)) {
        this.fail(`protocol error from ${this.name}: over ${this.opts.maxPendingBytes} bytes sent before its identity was verified`);
      }
    } else {
      this.process(index, frame);
    }
  }

  private onAuth(index: number, data: ArrayBuffer | Uint8Array, frame: Extract<Frame, { kind: typeof AUTH }>): void {
    if (!this.auth.receive(index, data, frame)) return;
    // What came before this proof follows it now, in order, as if it had come after.
    for (const f of this.pending.takeEarly(index)) {
      if (this.error) return;
      this.onFrame(index, f);
    }
  }

  /** Sends on one channel if it is open (keepalive, AUTH repeats). */
  sendOnChannel(index: number, frame: Uint8Array): void {
    const dc = this.channels[index];
    if (dc?.readyState !== 'open') return;
    try {
      dc.send(frame as Uint8Array<ArrayBuffer>);
      this.lastSent[index] = Date.now();
    } catch {
      // The channel is closing; its close event fails the link.
    }
  }

  private process(index: number, frame: Frame): void {
    try {
      if (frame.kind === CHUNK) {
        this.reassembler.add(frame);
      } else if (frame.kind === BYE) {
        this.byesReceived.add(index);
        this.remoteReason = frame.reason;
        if (this.byesReceived.size >= this.count) this.events.remoteBye(this);
      }
    } catch (e) {
      this.fail(`protocol error from ${this.name}: ${errorText(e)}`);
    }
  }

  pump(): void {
    if (!this.open || this.pumping || this.error) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const i = leastBuffered(this.channels, this.opts.highWaterMark);
        if (i < 0) return;
        this.channels[i].send(takePacket(this.queue.messages, this.frameBytes));
        this.lastSent[i] = Date.now();
      }
    } catch (e) {
      this.fail(`sending to ${this.name} failed: ${errorText(e)}`);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Keepalive: PING quiet channels; fail when the peer has been silent for idleTimeoutMs on every channel, or on
   * one channel for SIBLING_GRACE idle timeouts while its siblings still hear the peer. Each channel is its own
   * SCTP association, and one that lost packets under load backs off its retransmissions for seconds while the
   * others keep delivering: the peer is alive and that association recovers (or closes, which fails the link at
   * once), so only a silence far longer than a dead peer's counts against it. The bound keeps a channel that died
   * without closing, and so holds frames that never come, from leaving receives waiting forever.
   */
  tick(now: number, stalled: boolean): void {
    if (!this.connected || this.error) return;
    this.auth.repeatMissing(now);
    if (stalled) this.lastHeard.fill(now);
    const linkSilentMs = now - Math.max(...this.channels.map((_, i) => this.lastHeard[i]));
    const lost = (why: string) => {
      if (this.open) this.fail(`connection to ${this.name} lost: ${why}`);
      else this.events.lostBeforeProof(this, `connection to ${this.name} lost before it proved its identity: ${why}`);
    };
    if (linkSilentMs > this.opts.idleTimeoutMs) {
      lost(`nothing received for ${this.opts.idleTimeoutMs / 1000} s`);
      return;
    }
    for (const i of this.channels.keys()) {
      const silentMs = now - this.lastHeard[i];
      if (silentMs > SIBLING_GRACE * this.opts.idleTimeoutMs) {
        lost(`channel ${i + 1} of ${this.channels.length} received nothing for ${(SIBLING_GRACE * this.opts.idleTimeoutMs) / 1000} s while the others did`);
        return;
      }
      if (now - this.lastSent[i] >= this.opts.keepaliveMs) this.sendOnChannel(i, PING_FRAME);
    }
  }

  /** Flushes queued messages, says BYE on every channel, waits (until `deadline`) for the peer's BYE, releases. */
  async closeGracefully(reason: string, deadline: number): Promise<void> {
    if (this.connected && !this.error) {
      await waitUntil(() => this.queue.length === 0 || this.error !== null, deadline);
      this.sendBye(reason);
      await waitUntil(() => this.byesReceived.size >= this.count || this.error !== null || this.conns.some((c) => !c?.open), deadline);
    }
    this.release();
  }

  sendBye(reason: string): void {
    if (this.byeSent || !this.connected) return;
    this.byeSent = true;
    const frame = encodeBye(reason);
    for (const dc of this.channels) {
      try {
        if (dc.readyState === 'open') dc.send(frame);
      } catch {
        // A channel that cannot take the BYE is closing anyway; the peer then sees the close instead.
      }
    }
  }

  /**
   * Fails the link: receives reject with `message` (unless close() failed them first), connections close. With
   * `bye`, the peer is told why first (the BYE is flushed before the connections close).
   */
  fail(message: string, bye?: string): void {
    if (this.error) return;
    this.error = new Error(message);
    this.box.fail(this.error);
    this.queue.clear();
    this.pending.clear();
    this.events.failed(this);
    if (bye === undefined || !this.connected) {
      this.release();
      return;
    }
    this.sendBye(bye);
    void this.lingerThenRelease(BYE_LINGER_MS);
  }

  /**
   * Releases once the peer closed, or after `ms`: closing at once can drop the BYE still in the SCTP stack
   * (node-datachannel reports nothing buffered once usrsctp holds it), and the peer should hear why.
   */
  private async lingerThenRelease(ms: number): Promise<void> {
    await waitUntil(() => this.conns.some((c) => !c?.open), Date.now() + ms);
    this.release();
  }

  async drainThenRelease(ms: number): Promise<void> {
    await waitUntil(() => this.channels.every((dc) => dc.readyState !== 'open' || dc.bufferedAmount === 0), Date.now() + ms);
    this.release();
  }

  release(): void {
    const conns = this.conns;
    this.conns = [];
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
