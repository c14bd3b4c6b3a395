/**
 * A Channel carried over one MessagePort, between a page that owns the real channel and a Web Worker that runs
 * the protocol. Chromium offers no RTCPeerConnection inside workers, so the page keeps the WebRTC PeerChannel
 * and the worker talks to it through this bridge: the worker asks for each (sender, tag) it wants and the page
 * answers from the real channel's receive, so matching by tag, per-link failures ("party 2 disconnected") and
 * their messages reach the worker unchanged.
 *
 * Payloads cross by structured clone (a copy): a protocol may send one buffer to two peers, so the sender's
 * buffer must stay intact. Each delivered message carries the identity its sender proved on the page's link,
 * so the worker's channel can answer peerIdentity for every peer it has heard from.
 *
 * Each side posts its messages in batches: everything queued before the current task yields its microtasks
 * goes as one postMessage (an array). A protocol round's sends and receive requests (one exchange: a send and a
 * request per peer, more when parallel branches resume together) then cost the page one task instead of one
 * per message. Every postMessage wakes the other thread, and between three tabs on two cores those wakeups and
 * their scheduling, not the bytes, are most of a round. Batching by microtask adds no wait: the batch leaves
 * before the thread returns to its event loop.
 *
 * With `lanes`, the page also opens a lane (PeerChannel.openLane) to each of the given peers and transfers it to
 * the worker, which then talks to those peers' workers directly (bridge-lanes.ts says how a peer switches
 * over); the page keeps the links (authentication, keepalive, BYE, failure reasons) and tells each peer, on the
 * link, once this worker holds its lane end (LANE_ATTACHED_TAG).
 */
import { type Channel, type EndpointId, countSent, emptyStats } from '@puma/transport';
import type { PortLike } from '@puma/transport';
import { LANE_STREAMS, type LaneLimits } from '@puma/transport-webrtc/lane';
import { WorkerLanes } from './bridge-lanes.ts';

type ToPage =
  | { t: 'send'; to: EndpointId; tag: string; data: Uint8Array }
  | { t: 'recv'; id: number; from: EndpointId; tag: string }
  | { t: 'flush'; id: number }
  | { t: 'close'; reason: string }
  | { t: 'lane-attached'; peer: EndpointId }
  | { t: 'lane-traffic'; sentTo: Record<number, number>; messages: number; received: number };

type ToWorker =
  | { t: 'data'; id: number; data: Uint8Array; identity?: string }
  | { t: 'fail'; id: number; message: string }
  | { t: 'flushed'; id: number }
  | { t: 'lanes'; lanes: LaneGrant[] }
  | { t: 'lane-ready'; peer: EndpointId }
  | { t: 'lane-failed'; peer: EndpointId; message: string };

/** A lane the page transferred to its worker, with the link's limits and the identity its peer proved. */
export interface LaneGrant {
  peer: EndpointId;
  dc: RTCDataChannel;
  limits: LaneLimits;
  identity: string | undefined;
}

/** What the page needs to give its worker lanes: the peers (other parties' pages) and PeerChannel.openLane. */
export interface LaneOpener {
  peers: readonly EndpointId[];
  open(peer: EndpointId, streamId: number, take: (dc: RTCDataChannel, limits: LaneLimits) => void): void;
}

/** Sent on the link when this worker holds its end of the lane: the peer may now send on it. */
export const LANE_ATTACHED_TAG = 'puma:lane-attached';
/** Never sent: a receive under it fails when the link does, with the link's reason. */
const LANE_WATCH_TAG = 'puma:lane-watch';
/** How often a worker tells its page what its lanes carried (the page's traffic figures include it). */
const LANE_TRAFFIC_MS = 500;
/** Every page opens its lanes on this SCTP stream, so both ends of a link agree. */
const LANE_STREAM = LANE_STREAMS.min;

/** The worker's side of the bridge: a Channel, plus a way to know the page has taken every send so far. */
export interface BridgedChannel extends Channel {
  /**
   * Resolves once the page has handed every message sent before this call to its real channel. The worker's
   * other messages to the page (Comlink's answer that the session is over) travel on another port, in no fixed
   * order with this one: without the flush, the page could close its channel before the last sends (a peer's
   * `session:end`) reached it, and the peers would see a disconnect instead of a normal end.
   */
  flush(): Promise<void>;
}

/**
 * Queues messages for `port` and posts everything queued within one task (up to its microtask checkpoint) as one
 * array, in order.
 */
function batchedPoster<M>(port: PortLike): (m: M) => void {
  let batch: M[] = [];
  const flush = () => {
    const out = batch;
    batch = [];
    port.postMessage(out);
  };
  return (m) => {
    if (batch.push(m) === 1) queueMicrotask(flush);
  };
}

/**
 * Page side: answers the worker's requests from `channel` until the worker closes the bridge or `stop()` is
 * called. Closing from the worker closes `channel` with the worker's reason.
 */
export function serveChannelOverPort(channel: Channel, port: PortLike, opts: { lanes?: LaneOpener } = {}): { stop(): void } {
  let stopped = false;
  const post = batchedPoster<ToWorker>(port);
  const reply = (m: ToWorker) => {
    if (!stopped) post(m);
  };
  // The worker learns first which peers have lanes (none without `lanes`): until then it notes every tag it
  // sends through the page, since any peer might switch.
  const lanes: LaneGrant[] = [];
  for (const peer of opts.lanes?.peers ?? []) {
    try {
      opts.lanes!.open(peer, LANE_STREAM, (dc, limits) => lanes.push({ peer, dc, limits, identity: channel.peerIdentity?.(peer) }));
    } catch {
      // No lane to this peer (its link is not open): the worker reaches it through the page.
      continue;
    }
    const failed = (e: unknown) => reply({ t: 'lane-failed', peer, message: e instanceof Error ? e.message : String(e) });
    channel.recv(peer, LANE_ATTACHED_TAG).then(() => reply({ t: 'lane-ready', peer }), failed);
    channel.recv(peer, LANE_WATCH_TAG).catch(failed);
  }
  // Posted at once: Chromium transfers a data channel only in the task that created it.
  port.postMessage([{ t: 'lanes', lanes } satisfies ToWorker], lanes.map((l) => l.dc));
  const handle = (m: ToPage) => {
    if (stopped || typeof m !== 'object' || m === null) return;
    if (m.t === 'send') {
      try {
        channel.send(m.to, m.tag, m.data);
      } catch {
        // The channel is closed or failed; the worker learns that from its next receive, which names the reason.
      }
    } else if (m.t === 'recv') {
      channel.recv(m.from, m.tag).then(
        (data) => reply({ t: 'data', id: m.id, data, identity: channel.peerIdentity?.(m.from) }),
        (e: unknown) => reply({ t: 'fail', id: m.id, message: e instanceof Error ? e.message : String(e) }),
      );
    } else if (m.t === 'flush') {
      reply({ t: 'flushed', id: m.id });
    } else if (m.t === 'close') {
      channel.close(m.reason);
    } else if (m.t === 'lane-traffic') {
      // The page's channel counts what its worker's lanes carried too, so its traffic figures stay whole.
      const st = channel.stats;
      for (const [to, bytes] of Object.entries(m.sentTo)) {
        st.bytesSentTo[Number(to)] = (st.bytesSentTo[Number(to)] ?? 0) + bytes;
        st.bytesSent += bytes;
      }
      st.messagesSent += m.messages;
      st.bytesReceived += m.received;
    } else if (m.t === 'lane-attached') {
      try {
        channel.send(m.peer, LANE_ATTACHED_TAG, new Uint8Array(0));
      } catch {
        // The link failed; the lane's watch tells the worker.
      }
    }
  };
  port.addEventListener('message', (ev) => {
    if (Array.isArray(ev.data)) for (const m of ev.data as ToPage[]) handle(m);
  });
  port.start?.();
  return {
    stop() {
      stopped = true;
      port.close();
    },
  };
}

/**
 * Worker side: a Channel for endpoint `self` whose traffic goes through the page at the other end of `port`.
 * With `identities` (the page's channel authenticates its links) it implements peerIdentity: a peer's identity
 * is the one it had proved when its last message was delivered, undefined before any message from it.
 */
export function channelOverPort(self: EndpointId, port: PortLike, opts: { identities?: boolean } = {}): BridgedChannel {
  const stats = emptyStats();
  const proven = new Map<EndpointId, string>();
  const pending = new Map<number, { from: EndpointId; resolve: (d: Uint8Array) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let failure: Error | null = null;
  const post = batchedPoster<ToPage>(port);
  const lanes = new WorkerLanes((peer) => post({ t: 'lane-attached', peer }));
  const handle = (m: ToWorker) => {
    if (m?.t === 'lanes') return lanes.grant(m.lanes);
    if (m?.t === 'lane-ready') return lanes.ready(m.peer);
    if (m?.t === 'lane-failed') return lanes.failed(m.peer, m.message);
    const waiter = pending.get(m?.id);
    if (!waiter) return;
    pending.delete(m.id);
    if (m.t === 'flushed') {
      waiter.resolve(new Uint8Array(0));
    } else if (m.t === 'data') {
      stats.bytesReceived += m.data.byteLength;
      if (typeof m.identity === 'string') proven.set(waiter.from, m.identity);
      waiter.resolve(m.data);
    } else {
      waiter.reject(new Error(m.message));
    }
  };
  port.addEventListener('message', (ev) => {
    if (Array.isArray(ev.data)) for (const m of ev.data as ToWorker[]) handle(m);
  });
  port.start?.();
  // What the lanes carried since the page last heard, told every LANE_TRAFFIC_MS and before a flush.
  let tally = { sentTo: {} as Record<number, number>, messages: 0, received: 0 };
  const tell = () => {
    if (tally.messages === 0 && tally.received === 0) return;
    post({ t: 'lane-traffic', ...tally });
    tally = { sentTo: {}, messages: 0, received: 0 };
  };
  const teller = setInterval(tell, LANE_TRAFFIC_MS);
  const viaPage = (from: EndpointId, tag: string) => {
    const id = nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      pending.set(id, { from, resolve, reject });
      post({ t: 'recv', id, from, tag });
    });
  };
  const channel: BridgedChannel = {
    self,
    stats,
    send(to, tag, data) {
      if (failure) throw failure;
      if (lanes.trySend(to, tag, data)) {
        tally.sentTo[to] = (tally.sentTo[to] ?? 0) + data.byteLength;
        tally.messages += 1;
      } else {
        post({ t: 'send', to, tag, data });
      }
      countSent(stats, to, data.byteLength);
    },
    recv(from, tag) {
      if (failure) return Promise.reject(failure);
      if (!lanes.isGranted) return lanes.granted.then(() => channel.recv(from, tag));
      const route = lanes.route(from, tag);
      if (route.via === 'page') return viaPage(from, tag);
      const onLane = route.message.then((data) => {
        stats.bytesReceived += data.byteLength;
        tally.received += data.byteLength;
        if (route.identity !== undefined) proven.set(from, route.identity);
        return data;
      });
      if (route.via === 'lane') return onLane;
      // The peer may still switch to its lane: whichever path delivers first wins; the other is dropped.
      const onPage = viaPage(from, tag);
      onLane.catch(() => {});
      onPage.catch(() => {});
      return Promise.race([onLane, onPage]).finally(route.cancel);
    },
    async flush() {
      if (failure) return;
      tell();
      const id = nextId++;
      await Promise.all([
        lanes.drained(),
        new Promise<void>((resolve, reject) => {
          pending.set(id, { from: self, resolve: () => resolve(), reject });
          post({ t: 'flush', id });
        }),
      ]);
    },
    close(reason = 'channel closed') {
      if (failure) return;
      failure = new Error(reason);
      clearInterval(teller);
      tell();
      for (const w of pending.values()) w.reject(failure);
      pending.clear();
      lanes.grant([]);
      lanes.failAll(reason);
      post({ t: 'close', reason });
    },
  };
  if (opts.identities) channel.peerIdentity = (peer) => proven.get(peer);
  return channel;
}
