/**
 * Channels over MessagePorts: one port per peer, as between Node worker threads (worker_threads) or between a
 * page and its Web Workers. Payloads are copied by structured clone, so the sender may reuse its buffers.
 */
import { type Channel, type EndpointId, Mailbox, countSent, emptyStats } from './channel.ts';

/** The subset of MessagePort used here, satisfied by both Node's and the browser's MessagePort. */
export interface PortLike {
  /** `transfer`: objects moved rather than copied (a browser page hands its worker data channels this way). */
  postMessage(message: unknown, transfer?: unknown[]): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
  start?(): void;
  close(): void;
}

interface Wire {
  tag: string;
  data: Uint8Array;
}

export function portChannel(self: EndpointId, ports: ReadonlyMap<EndpointId, PortLike>): Channel {
  const stats = emptyStats();
  const box = new Mailbox(stats);
  for (const [peer, port] of ports) {
    port.addEventListener('message', (ev) => {
      const m = ev.data as Wire;
      if (!m || typeof m.tag !== 'string' || !(m.data instanceof Uint8Array)) {
        box.fail(new Error(`endpoint ${self}: malformed message from ${peer}`));
        return;
      }
      box.deliver(peer, m.tag, m.data);
    });
    port.start?.();
  }
  return {
    self,
    stats,
    send(to, tag, data) {
      const port = ports.get(to);
      if (!port) throw new Error(`endpoint ${self}: no port to endpoint ${to}`);
      countSent(stats, to, data.byteLength);
      port.postMessage({ tag, data } satisfies Wire);
    },
    recv: (from, tag) => box.take(from, tag),
    close(reason = 'channel closed') {
      box.fail(new Error(reason));
      for (const p of ports.values()) p.close();
    },
  };
}
