/**
 * In-memory channels between endpoints of one JS realm (tests, the single-thread runner). Delivery is
 * asynchronous (a microtask later) so protocol code cannot depend on synchronous delivery. With `identities`,
 * each channel reports them as its peers' proven identities (peerIdentity), standing in for authenticated links.
 */
import { type Channel, type EndpointId, Mailbox, countSent, emptyStats } from './channel.ts';

/** Sees every message as it is delivered (tests use it to inspect what each endpoint receives). */
export type DeliveryObserver = (from: EndpointId, to: EndpointId, tag: string, data: Uint8Array) => void;

export function memoryNetwork(
  ids: readonly EndpointId[],
  observe?: DeliveryObserver,
  identities?: Partial<Record<EndpointId, string>>,
): Map<EndpointId, Channel> {
  const boxes = new Map<EndpointId, Mailbox>();
  const channels = new Map<EndpointId, Channel>();
  for (const id of ids) {
    const stats = emptyStats();
    const box = new Mailbox(stats);
    boxes.set(id, box);
    const channel: Channel = {
      self: id,
      stats,
      send(to, tag, data) {
        const dest = boxes.get(to);
        if (!dest) throw new Error(`endpoint ${id}: no endpoint ${to} in this network`);
        countSent(stats, to, data.byteLength);
        queueMicrotask(() => {
          observe?.(id, to, tag, data);
          dest.deliver(id, tag, data);
        });
      },
      recv: (from, tag) => box.take(from, tag),
      close(reason = 'channel closed') {
        box.fail(new Error(reason));
      },
    };
    if (identities) channel.peerIdentity = (peer) => (peer === id ? undefined : identities[peer]);
    channels.set(id, channel);
  }
  return channels;
}
