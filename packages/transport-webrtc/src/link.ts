/**
 * One link: the data channels between this endpoint and one peer, and everything that happens on them once
 * they exist: authentication (link-auth.ts), sending with back-pressure, receiving and reassembly, BYE.
 *
 * A link is `connected` when all its data channels are open, and `open` when, in addition, this side has sent
 * its AUTH and verified the peer's. Application data moves only on open links: sends queue until then, and a
 * CHUNK on a channel before the peer's AUTH on that channel is a protocol error. Frames after the AUTH but
 * before it is verified (the peer may already trust us) are held, in order, and processed once the link opens.
 *
 * An AUTH can be lost: node-datachannel, as the opening side, has dropped a message that the answering browser
 * sent the moment its channel opened, before the opener's own channel had opened (seen once in CI: the browser
 * trusted the link, the Node party waited for its proof until the connect deadline). So a side still missing
 * the peer's AUTH on a channel AUTH_REPEAT_MS after sending its own sends its own again, and a side that
 * receives the very same AUTH again on a channel answers with its own: the peer evidently lacks it. Both are
 * bounded per channel (MAX_AUTH_REPEATS, answers at most one per half AUTH_REPEAT_MS), so two sides that each
 * take the other's answer for a repeat stop after a few frames; a different second AUTH is a protocol error.
 */
import type { DataConnection } from 'peerjs';
import { type EndpointId, Mailbox, type TrafficStats } from '@puma/transport';
import { endpointName } from './addressing.ts';
import { AUTH, BATCH, BYE, CHUNK, type Frame, PING, PING_FRAME, Reassembler, SendQueue, decodeFrame, encodeBye, takePacket } from './frame.ts';
import { type DtlsView, PeerIdentityError, dtlsView, makeAuthFrame, verifyAuthFrame } from './link-auth.ts';
import type { LaneLimits } from './lane.ts';
import type { ResolvedOptions } from './options.ts';

export interface LinkEvents {
  /** The link just opened (authenticated both ways). */
  opened(link: Link): void;
  /** The link just failed; link.error says why. */
  failed(link: Link): void;
  /** The peer said BYE on every channel: everything it sent before has arrived. */
  remoteBye(link: Link): void;
}

const POLL_MS = 10;
const BYE_LINGER_MS = 1_000;
/** How long a missing local or remote description may lag behind its channel's 'open' event. */
const DESCRIPTION_WAIT_MS = 5_000;
/** A side missing the peer's AUTH on a channel repeats its own after this long, and again each time as long. */
export const AUTH_REPEAT_MS = 2_000;
/** Repeats a side sends per channel, and repeats it answers per channel. */
export const MAX_AUTH_REPEATS = 5;
/** Idle timeouts one channel may stay silent while the link's other channels still hear the peer (tick). */
export const SIBLING_GRACE = 3;

export class Link {
  readonly box: Mailbox;
  private readonly reassembler: Reassembler;
  private readonly expected: string | undefined;
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
  private views: DtlsView[] = [];
  private authSent = false;
  /** This side's AUTH frame as sent, for repeats and answers, and when it went out. */
  private authFrame: Uint8Array | null = null;
  private authSentAt = 0;
  private readonly authRepeats: number[] = [];
  private readonly authAnswers: Array<{ count: number; at: number }> = [];
  private verified = false;
  private verifying = false;
  private peerAuth: { bytes: Uint8Array; frame: Extract<Frame, { kind: typeof AUTH }> } | null = null;
  private readonly authedChannels = new Set<number>();
  private held: { index: number; frame: Frame }[] = [];
  private heldBytes = 0;
  /**
   * Data that came on a channel before that channel's identity proof, by channel, unread. A proof can be lost
   * (AUTH_REPEAT_MS), and the peer opens as soon as it has ours: its data then overtakes the repeat of its proof.
   * Seen in CI as "data on channel 0 before its identity proof" ending a session. The data waits for the proof
   * (counted against maxPendingBytes); if the proof never comes or fails, none of it is ever delivered.
   */
  private early = new Map<number, Array<Extract<Frame, { kind: typeof CHUNK }>>>();

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
    this.expected = opts.expectedPeers.get(remote);
    this.box = new Mailbox(stats);
    this.reassembler = new Reassembler(opts.maxMessageBytes, opts.maxPendingBytes, (tag, data) => this.box.deliver(remote, tag, data));
  }

  get name(): string {
    return endpointName(this.remote);
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

  /** All data channels are open: read their DTLS fingerprints and start authenticating. */
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
    void this.readViews().then(
      (views) => {
        if (this.error) return;
        this.views = views;
        void this.sendAuth();
      },
      (e: unknown) => this.fail(`cannot authenticate the link to ${this.name}: ${errorText(e)}`),
    );
  }

  /**
   * Every channel's DTLS fingerprints as this side sees them. A browser may fire a channel's 'open' before the
   * task that publishes the answer as remoteDescription has run (the offerer's transport already has it), so a
   * missing description is waited for, briefly, before it counts as a failure.
   */
  private async readViews(): Promise<DtlsView[]> {
    const until = Date.now() + DESCRIPTION_WAIT_MS;
    for (;;) {
      try {
        return this.conns.map((c, i) => dtlsView((c as DataConnection).peerConnection, `channel ${i} of the link to ${this.name}`));
      } catch (e) {
        if (Date.now() >= until || this.error) throw e;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    }
  }

  private context() {
    return { sessionId: this.opts.sessionId, self: this.opts.self, remote: this.remote, views: this.views };
  }

  private async sendAuth(): Promise<void> {
    try {
      const frame = await makeAuthFrame(this.opts.identity, this.context(), this.opts.maxMessageBytes);
      if (this.error) return;
      for (const [i, dc] of this.channels.entries()) {
        dc.send(frame);
        this.lastSent[i] = Date.now();
      }
      this.authFrame = frame;
      this.authSentAt = Date.now();
      this.authSent = true;
      // Verifying only after our own proof is out means the peer always gets it, and can tell a relay is in
      // the way even when this side refuses first.
      if (this.peerAuth) void this.verifyPeer();
    } catch (e) {
      this.fail(`cannot prove this endpoint's identity to ${this.name}: ${errorText(e)}`);
    }
  }

  private async verifyPeer(): Promise<void> {
    const auth = this.peerAuth;
    if (this.verifying || !auth) return;
    this.verifying = true;
    try {
      this.peerFingerprint = await verifyAuthFrame(auth.frame, this.context(), this.name, this.expected);
      this.sendLimit = Math.min(this.opts.maxMessageBytes, auth.frame.maxMessageBytes);
      this.verified = true;
      this.maybeOpen();
    } catch (e) {
      if (e instanceof PeerIdentityError) this.fail(e.message, `${endpointName(this.opts.self)} refused: ${e.message}`);
      else this.fail(`cannot verify the identity of ${this.name}: ${errorText(e)}`);
    }
  }

  private maybeOpen(): void {
    if (!this.authSent || !this.verified || this.open || this.error) return;
    const tooLarge = this.queue.messages.find((m) => m.byteLength > this.sendLimit);
    if (tooLarge) {
      const why = `a queued message of ${tooLarge.byteLength} bytes exceeds the limit of ${this.sendLimit} bytes that ${this.name} accepts`;
      this.fail(why, why);
      return;
    }
    this.open = true;
    this.events.opened(this);
    for (const { index, frame } of this.held.splice(0)) {
      if (this.error) break;
      this.process(index, frame);
    }
    // What stays held is data on channels whose proof has not come yet.
    this.heldBytes = [...this.early.values()].flat().reduce((sum, f) => sum + f.payload.byteLength, 0);
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
  private onFrame(index: number, frame: Exclude<Frame, { kind: typeof AUTH | typeof PING | typeof BATCH }>): void {
    if (!this.authedChannels.has(index)) {
      if (frame.kind !== CHUNK) {
        this.process(index, frame);
        return;
      }
      this.heldBytes += frame.payload.byteLength;
      if (this.heldBytes > this.opts.maxPendingBytes) {
        this.fail(`protocol error from ${this.name}: over ${this.opts.maxPendingBytes} bytes sent on channel ${index} before its identity proof`);
        return;
      }
      const early = this.early.get(index) ?? [];
      early.push({ ...frame, payload: frame.payload.slice() });
      this.early.set(index, early);
    } else if (!this.open) {
      this.heldBytes += frame.kind === CHUNK ? frame.payload.byteLength : 0;
      if (this.heldBytes > this.opts.maxPendingBytes) {
        this.fail(`protocol error from ${this.name}: over ${this.opts.maxPendingBytes} bytes sent before its identity was verified`);
      } else {
        this.held.push({ index, frame: frame.kind === CHUNK ? { ...frame, payload: frame.payload.slice() } : frame });
      }
    } else {
      this.process(index, frame);
    }
  }

  private onAuth(index: number, data: ArrayBuffer | Uint8Array, frame: Extract<Frame, { kind: typeof AUTH }>): void {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (this.peerAuth && !sameBytes(bytes, this.peerAuth.bytes)) {
      this.fail(`protocol error from ${this.name}: its channels carry different identity proofs`);
      return;
    }
    if (this.authedChannels.has(index)) {
      this.answerRepeatedAuth(index);
      return;
    }
    this.authedChannels.add(index);
    if (!this.peerAuth) {
      this.peerAuth = { bytes: bytes.slice(), frame };
      if (this.authSent) void this.verifyPeer();
    }
    // What came before this proof follows it now, in order, as if it had come after.
    const early = this.early.get(index);
    this.early.delete(index);
    for (const f of early ?? []) {
      if (this.error) return;
      this.heldBytes -= f.payload.byteLength;
      this.onFrame(index, f);
    }
  }

  /** The peer sent its AUTH on `index` again: it has not received ours there, so ours goes again (bounded). */
  private answerRepeatedAuth(index: number): void {
    // Not sent yet: it goes out on every channel once this side's channels are open.
    if (!this.authFrame) return;
    const now = Date.now();
    const answered = this.authAnswers[index] ?? { count: 0, at: -Infinity };
    if (answered.count >= MAX_AUTH_REPEATS || now - answered.at < AUTH_REPEAT_MS / 2) return;
    this.authAnswers[index] = { count: answered.count + 1, at: now };
    this.sendOnChannel(index, this.authFrame);
  }

  /** Repeats this side's AUTH on channels where the peer's has not arrived AUTH_REPEAT_MS after sending it. */
  private repeatMissingAuth(now: number): void {
    if (!this.authFrame) return;
    for (let i = 0; i < this.channels.length; i++) {
      const repeats = this.authRepeats[i] ?? 0;
      if (this.authedChannels.has(i) || repeats >= MAX_AUTH_REPEATS || now - this.authSentAt < AUTH_REPEAT_MS * (repeats + 1)) continue;
      this.authRepeats[i] = repeats + 1;
      this.sendOnChannel(i, this.authFrame);
    }
  }

  private sendOnChannel(index: number, frame: Uint8Array): void {
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
    this.repeatMissingAuth(now);
    if (stalled) this.lastHeard.fill(now);
    const linkSilentMs = now - Math.max(...this.channels.map((_, i) => this.lastHeard[i]));
    const when = this.open ? '' : ' before it proved its identity';
    if (linkSilentMs > this.opts.idleTimeoutMs) {
      this.fail(`connection to ${this.name} lost${when}: nothing received for ${this.opts.idleTimeoutMs / 1000} s`);
      return;
    }
    for (const i of this.channels.keys()) {
      const silentMs = now - this.lastHeard[i];
      if (silentMs > SIBLING_GRACE * this.opts.idleTimeoutMs) {
        this.fail(`connection to ${this.name} lost${when}: channel ${i + 1} of ${this.channels.length} received nothing for ${(SIBLING_GRACE * this.opts.idleTimeoutMs) / 1000} s while the others did`);
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
    this.held = [];
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

async function waitUntil(cond: () => boolean, deadline: number): Promise<boolean> {
  while (!cond()) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
