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
 */
import { type Channel, type EndpointId, countSent, emptyStats } from '@puma/transport';
import type { PortLike } from '@puma/transport';

type ToPage =
  | { t: 'send'; to: EndpointId; tag: string; data: Uint8Array }
  | { t: 'recv'; id: number; from: EndpointId; tag: string }
  | { t: 'flush'; id: number }
  | { t: 'close'; reason: string };

type ToWorker =
  | { t: 'data'; id: number; data: Uint8Array; identity?: string }
  | { t: 'fail'; id: number; message: string }
  | { t: 'flushed'; id: number };

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
export function serveChannelOverPort(channel: Channel, port: PortLike): { stop(): void } {
  let stopped = false;
  const post = batchedPoster<ToWorker>(port);
  const reply = (m: ToWorker) => {
    if (!stopped) post(m);
  };
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
  const handle = (m: ToWorker) => {
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
  const post = batchedPoster<ToPage>(port);
  const channel: BridgedChannel = {
    self,
    stats,
    send(to, tag, data) {
      if (failure) throw failure;
      countSent(stats, to, data.byteLength);
      post({ t: 'send', to, tag, data });
    },
    recv(from, tag) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { from, resolve, reject });
        post({ t: 'recv', id, from, tag });
      });
    },
    flush() {
      if (failure) return Promise.resolve();
      const id = nextId++;
      return new Promise<void>((resolve, reject) => {
        pending.set(id, { from: self, resolve: () => resolve(), reject });
        post({ t: 'flush', id });
      });
    },
    close(reason = 'channel closed') {
      if (failure) return;
      failure = new Error(reason);
      for (const w of pending.values()) w.reject(failure);
      pending.clear();
      post({ t: 'close', reason });
    },
  };
  if (opts.identities) channel.peerIdentity = (peer) => proven.get(peer);
  return channel;
}
