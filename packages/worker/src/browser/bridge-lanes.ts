/**
 * The worker's lanes (PeerChannel.openLane, lane.ts): data channels to other parties that the page opened on
 * its authenticated links and transferred here, so a protocol round goes from this worker to the peer's without
 * crossing either page. port-bridge.ts uses this for peers that have a lane and the page for everything else.
 *
 * Switching a peer from the page path to its lane, without losing or misrouting a message:
 * - Sending: bytes on a lane the peer has not opened yet are lost, so this side sends on it only after the peer
 *   said its worker holds its end (the pages pass that on as `ready`). The first message on the lane then lists
 *   the tags sent to that peer through the page before the switch (SWITCH_TAG); after it, every send takes the
 *   lane. A peer that never says so (a Node party, a page without lanes) is sent to through the page; after
 *   MAX_LISTED_TAGS messages to it this side stops listing their tags and never switches. A peer whose worker
 *   starts late (its person approved later) blocks the protocol meanwhile, so few messages wait for it.
 * - Receiving: until the peer's list arrives, a receive waits on both paths and takes whichever delivers (the
 *   page's receive left behind waits for a message that never comes, and fails with the channel's close); once
 *   the list is here, a listed tag comes through the page and every other one on the lane.
 * Failures: the page reports a link's failure (`failed`) with its reason, but lane messages sent before it may
 * still be on their way to this worker, so a lane fails once both the page's word and the lane's close are in,
 * or FAIL_GRACE_MS after the first of them, with the page's reason when it has one.
 */
import { type EndpointId, endpointLabel } from '@puma/transport';
import { LaneEnd } from '@puma/transport-webrtc/lane';
import type { LaneGrant } from './port-bridge.ts';

/** Tag of a lane's first message: the JSON list of tags sent to the peer through the page before the switch. */
export const SWITCH_TAG = 'puma:lane-switch';
const MAX_LISTED_TAGS = 4096;
const FAIL_GRACE_MS = 1_000;
const DRAIN_MS = 5_000;

interface Waiter {
  resolve: (d: Uint8Array) => void;
  reject: (e: Error) => void;
}

class PeerLane {
  readonly arrived = new Map<string, Uint8Array>();
  readonly waiting = new Map<string, Waiter>();
  /** Tags the peer sent through the page before its switch; null until its SWITCH_TAG message. */
  viaPage: Set<string> | null = null;
  /** This side sends on the lane (the peer holds its end). */
  sending = false;
  /** Tags sent to the peer through the page while it may still switch; null once it cannot. */
  sentViaPage: Set<string> | null = null;
  failure: Error | null = null;
  end: LaneEnd | null = null;
  private pageReason: string | null = null;
  private closed = false;
  private failTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly peer: EndpointId,
    readonly identity: string | undefined,
  ) {}

  deliver(tag: string, data: Uint8Array): void {
    if (this.failure) return;
    const w = this.waiting.get(tag);
    if (w) {
      this.waiting.delete(tag);
      w.resolve(data);
    } else {
      this.arrived.set(tag, data);
    }
  }

  /** The link failed (page) or the lane closed: fail once both are known, or after the grace period. */
  noteEnd(pageReason: string | null): void {
    if (pageReason !== null) this.pageReason ??= pageReason;
    else this.closed = true;
    if (this.pageReason !== null && this.closed) this.fail(this.pageReason);
    else this.failTimer ??= setTimeout(() => this.fail(this.pageReason ?? `${endpointLabel(this.peer)} disconnected`), FAIL_GRACE_MS);
  }

  fail(message: string): void {
    clearTimeout(this.failTimer);
    if (this.failure) return;
    this.failure = new Error(message);
    for (const w of this.waiting.values()) w.reject(this.failure);
    this.waiting.clear();
    this.arrived.clear();
  }
}

export class WorkerLanes {
  private readonly lanes = new Map<EndpointId, PeerLane>();
  /** Tags sent through the page per peer before the page said which peers have lanes; null after. */
  private early: Map<EndpointId, Set<string>> | null = new Map();
  private onGranted!: () => void;
  /**
   * Resolves once the page said which peers have lanes. Receives wait for it: one asked of the page before, for
   * a message the peer then sends on its lane, would wait forever.
   */
  readonly granted = new Promise<void>((resolve) => (this.onGranted = resolve));

  constructor(private readonly attached: (peer: EndpointId) => void) {}

  /** The page's first word: the lanes it opened (maybe none). Holds their ends and tells the page. */
  grant(granted: readonly LaneGrant[]): void {
    if (!this.early) return;
    const early = this.early;
    this.early = null;
    for (const g of granted) this.add(g, early.get(g.peer) ?? new Set());
    this.onGranted();
  }

  get isGranted(): boolean {
    return this.early === null;
  }

  private add({ peer, dc, limits, identity }: LaneGrant, sentViaPage: Set<string>): void {
    if (this.lanes.has(peer)) return;
    const lane = new PeerLane(peer, identity);
    lane.sentViaPage = sentViaPage;
    lane.end = new LaneEnd(dc, limits, endpointLabel(peer), {
      deliver: (tag, data) => (tag === SWITCH_TAG ? this.onSwitch(lane, data) : lane.deliver(tag, data)),
      fail: (message) => lane.fail(message),
      closed: () => lane.noteEnd(null),
    });
    this.lanes.set(peer, lane);
    this.attached(peer);
  }

  /** The peer's worker holds its end: from now on, sends to it take the lane. */
  ready(peer: EndpointId): void {
    const lane = this.lanes.get(peer);
    if (!lane?.end || lane.sending || lane.failure || lane.sentViaPage === null) return;
    lane.end.send(SWITCH_TAG, new TextEncoder().encode(JSON.stringify([...lane.sentViaPage])));
    lane.sentViaPage = null;
    lane.sending = true;
  }

  /** The page's link to `peer` failed with `message`. */
  failed(peer: EndpointId, message: string): void {
    this.lanes.get(peer)?.noteEnd(message);
  }

  /** Sends on the lane to `to` when this side has switched; false when the message must go through the page. */
  trySend(to: EndpointId, tag: string, data: Uint8Array): boolean {
    const lane = this.lanes.get(to);
    if (lane?.failure) throw lane.failure;
    if (lane?.sending && lane.end) {
      lane.end.send(tag, data);
      return true;
    }
    if (this.early) {
      const tags = this.early.get(to) ?? new Set<string>();
      this.early.set(to, tags.add(tag));
    } else {
      lane?.sentViaPage?.add(tag);
      // A peer that has not switched after this many messages likely never will (no lanes there): stop listing.
      if (lane?.sentViaPage && lane.sentViaPage.size > MAX_LISTED_TAGS) lane.sentViaPage = null;
    }
    return false;
  }

  /**
   * Where a receive from `from` waits: 'page' (no lane, or the peer sent this tag through the page), 'lane' (a
   * promise on the lane), or 'both' (the peer may still switch: a promise on the lane, to race with the page).
   */
  route(from: EndpointId, tag: string): { via: 'page' } | { via: 'lane' | 'both'; message: Promise<Uint8Array>; cancel(): void; identity: string | undefined } {
    const lane = this.lanes.get(from);
    if (!lane || lane.viaPage?.has(tag)) return { via: 'page' };
    const via = lane.viaPage ? 'lane' : 'both';
    if (lane.failure) return { via, message: Promise.reject(lane.failure), cancel() {}, identity: lane.identity };
    const got = lane.arrived.get(tag);
    if (got) {
      lane.arrived.delete(tag);
      return { via, message: Promise.resolve(got), cancel() {}, identity: lane.identity };
    }
    let waiter: Waiter | undefined;
    const message = new Promise<Uint8Array>((resolve, reject) => {
      waiter = { resolve, reject };
      lane.waiting.set(tag, waiter);
    });
    const cancel = () => {
      if (lane.waiting.get(tag) === waiter) lane.waiting.delete(tag);
    };
    return { via, message, cancel, identity: lane.identity };
  }

  /** Resolves once every lane has handed its queued messages to the SCTP stack (bounded). */
  async drained(): Promise<void> {
    const deadline = Date.now() + DRAIN_MS;
    await Promise.all([...this.lanes.values()].map((l) => l.end?.drained(deadline)));
  }

  failAll(message: string): void {
    for (const lane of this.lanes.values()) lane.fail(message);
  }

  private onSwitch(lane: PeerLane, data: Uint8Array): void {
    let tags: unknown;
    try {
      tags = JSON.parse(new TextDecoder().decode(data));
    } catch {
      tags = null;
    }
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string') || lane.viaPage) {
      lane.fail(`protocol error from ${endpointLabel(lane.peer)} on its lane: a malformed or second switch message`);
      return;
    }
    lane.viaPage = new Set(tags as string[]);
  }
}
