/**
 * The identity-proof exchange on one link's channels: this side's AUTH (link-auth.ts) sent on every channel, the
 * peer's recorded per channel and verified once. Kept apart from link.ts, which moves data once this is done,
 * because a lost AUTH makes the exchange a small protocol of its own:
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
import type { EndpointId } from '@puma/transport';
import { endpointName } from './addressing.ts';
import type { AUTH, Frame } from './frame.ts';
import { type DtlsView, PeerIdentityError, dtlsView, makeAuthFrame, verifyAuthFrame } from './link-auth.ts';
import type { ResolvedOptions } from './options.ts';
import { POLL_MS, errorText } from './util.ts';

/** A side missing the peer's AUTH on a channel repeats its own after this long, and again each time as long. */
export const AUTH_REPEAT_MS = 2_000;
/** Repeats a side sends per channel, and repeats it answers per channel. */
export const MAX_AUTH_REPEATS = 5;
/** How long a missing local or remote description may lag behind its channel's 'open' event. */
const DESCRIPTION_WAIT_MS = 5_000;
/** How long a failed AUTH send waits for its channel's close event before it fails the link. */
const SEND_CLOSE_GRACE_MS = 1_000;

type AuthFrame = Extract<Frame, { kind: typeof AUTH }>;

/** The link the exchange runs on (link.ts). */
export interface AuthLink {
  readonly remote: EndpointId;
  readonly name: string;
  readonly error: Error | null;
  readonly conns: readonly (DataConnection | undefined)[];
  readonly channels: readonly RTCDataChannel[];
  /** Date.now() of the last frame sent per channel index. */
  readonly lastSent: number[];
  /** Sends on one channel if it is open; a channel that is closing fails the link by its close event. */
  sendOnChannel(index: number, frame: Uint8Array): void;
  fail(message: string, bye?: string): void;
}

export class AuthExchange {
  private readonly expected: string | undefined;
  /** Every channel's DTLS fingerprints as this side sees them, which both proofs sign. */
  private views: DtlsView[] = [];
  /** This side's AUTH frame as sent, for repeats and answers, and when it went out. */
  private ownFrame: Uint8Array | null = null;
  private ownSentAt = 0;
  private readonly repeats: number[] = [];
  private readonly answers: Array<{ count: number; at: number }> = [];
  private peerAuth: { bytes: Uint8Array; frame: AuthFrame } | null = null;
  private readonly provenChannels = new Set<number>();
  private verifying = false;
  private verified = false;
  /** The link was reset for a new setup (Link.resetBeforeProof): this exchange's work in flight is dropped. */
  private abandoned = false;

  constructor(
    private readonly link: AuthLink,
    private readonly opts: ResolvedOptions,
    /** The peer proved `fingerprint`; it accepts messages up to `peerMaxMessageBytes`. */
    private readonly onVerified: (fingerprint: string, peerMaxMessageBytes: number) => void,
  ) {
    this.expected = opts.expectedPeers.get(link.remote);
  }

  /** Drops this exchange: what it still has in flight neither sends, verifies nor fails the link. */
  abandon(): void {
    this.abandoned = true;
  }

  /** This side's proof is out and the peer's is verified. */
  get complete(): boolean {
    return this.ownFrame !== null && this.verified;
  }

  /** The peer's AUTH has arrived on channel `index` (data there may be read once the link opens). */
  provenOn(index: number): boolean {
    return this.provenChannels.has(index);
  }

  private context() {
    return { sessionId: this.opts.sessionId, self: this.opts.self, remote: this.link.remote, views: this.views };
  }

  /** All the link's channels are open: reads their DTLS fingerprints, then sends this side's AUTH over them. */
  start(): void {
    void this.readViews().then(
      (views) => {
        if (this.link.error || this.abandoned) return;
        this.views = views;
        void this.sendOwn();
      },
      (e: unknown) => {
        if (!this.abandoned) this.link.fail(`cannot authenticate the link to ${this.link.name}: ${errorText(e)}`);
      },
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
        return this.link.conns.map((c, i) => dtlsView((c as DataConnection).peerConnection, `channel ${i} of the link to ${this.link.name}`));
      } catch (e) {
        if (Date.now() >= until || this.link.error) throw e;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    }
  }

  private async sendOwn(): Promise<void> {
    try {
      const frame = await makeAuthFrame(this.opts.identity, this.context(), this.opts.maxMessageBytes);
      if (this.link.error || this.abandoned) return;
      for (const [i, dc] of this.link.channels.entries()) {
        dc.send(frame);
        this.link.lastSent[i] = Date.now();
      }
      this.ownFrame = frame;
      this.ownSentAt = Date.now();
      // Verifying only after our own proof is out means the peer always gets it, and can tell a relay is in
      // the way even when this side refuses first.
      if (this.peerAuth) void this.verifyPeer();
    } catch (e) {
      // A send that fails because the peer just left (its channel closing under us) is followed by that
      // channel's close, which sets the link up again before the peer proved itself and abandons this
      // exchange; only a failure that no close follows fails the link.
      await new Promise((resolve) => setTimeout(resolve, SEND_CLOSE_GRACE_MS));
      if (!this.abandoned) this.link.fail(`cannot prove this endpoint's identity to ${this.link.name}: ${errorText(e)}`);
    }
  }

  /**
   * The peer's AUTH on channel `index`. True when it is the first there, so what came on that channel before it
   * may follow; a repeat is answered, a different proof fails the link.
   */
  receive(index: number, data: ArrayBuffer | Uint8Array, frame: AuthFrame): boolean {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (this.peerAuth && !sameBytes(bytes, this.peerAuth.bytes)) {
      this.link.fail(`protocol error from ${this.link.name}: its channels carry different identity proofs`);
      return false;
    }
    if (this.provenChannels.has(index)) {
      this.answerRepeat(index);
      return false;
    }
    this.provenChannels.add(index);
    if (!this.peerAuth) {
      this.peerAuth = { bytes: bytes.slice(), frame };
      if (this.ownFrame) void this.verifyPeer();
    }
    return true;
  }

  private async verifyPeer(): Promise<void> {
    const auth = this.peerAuth;
    if (this.verifying || !auth) return;
    this.verifying = true;
    try {
      const fingerprint = await verifyAuthFrame(auth.frame, this.context(), this.link.name, this.expected);
      if (this.abandoned) return;
      this.verified = true;
      this.onVerified(fingerprint, auth.frame.maxMessageBytes);
    } catch (e) {
      if (this.abandoned) return;
      if (e instanceof PeerIdentityError) this.link.fail(e.message, `${endpointName(this.opts.self)} refused: ${e.message}`);
      else this.link.fail(`cannot verify the identity of ${this.link.name}: ${errorText(e)}`);
    }
  }

  /** The peer sent its AUTH on `index` again: it has not received ours there, so ours goes again (bounded). */
  private answerRepeat(index: number): void {
    // Not sent yet: it goes out on every channel once this side's channels are open.
    if (!this.ownFrame) return;
    const now = Date.now();
    const answered = this.answers[index] ?? { count: 0, at: -Infinity };
    if (answered.count >= MAX_AUTH_REPEATS || now - answered.at < AUTH_REPEAT_MS / 2) return;
    this.answers[index] = { count: answered.count + 1, at: now };
    this.link.sendOnChannel(index, this.ownFrame);
  }

  /** Repeats this side's AUTH on channels where the peer's has not arrived AUTH_REPEAT_MS after sending it. */
  repeatMissing(now: number): void {
    if (!this.ownFrame) return;
    for (let i = 0; i < this.link.channels.length; i++) {
      const repeats = this.repeats[i] ?? 0;
      if (this.provenChannels.has(i) || repeats >= MAX_AUTH_REPEATS || now - this.ownSentAt < AUTH_REPEAT_MS * (repeats + 1)) continue;
      this.repeats[i] = repeats + 1;
      this.link.sendOnChannel(i, this.ownFrame);
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}
