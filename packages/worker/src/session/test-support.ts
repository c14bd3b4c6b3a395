/**
 * An in-memory network whose endpoints can vanish the way WebRTC peers do: per link, receives from the
 * vanished endpoint reject with "<name> disconnected" while the other links keep working. Endpoints can also
 * go silent (their messages are lost, their links stay up), and with `identities` every channel reports them
 * as its peers' proven identities, as authenticated links do.
 */
import { endpointLabel, memoryNetwork, type Channel, type DeliveryObserver, type EndpointId } from '@puma/transport';

export interface DroppableNetwork {
  channels: Map<EndpointId, Channel>;
  /** Endpoint `id` vanishes: its own channel closes, and every other endpoint's link to it fails. */
  drop(id: EndpointId): void;
  /** Endpoint `id` goes silent: everything it sends from now on is lost, while its links stay up. */
  silence(id: EndpointId): void;
}

export function droppableNetwork(
  ids: readonly EndpointId[],
  observe?: DeliveryObserver,
  identities?: Partial<Record<EndpointId, string>>,
): DroppableNetwork {
  const inner = memoryNetwork(ids, observe, identities);
  const dead = new Set<EndpointId>();
  const silent = new Set<EndpointId>();
  const pending = new Map<EndpointId, Set<{ from: EndpointId; reject: (e: Error) => void }>>();
  const lost = (id: EndpointId) => new Error(`${endpointLabel(id)} disconnected`);
  const channels = new Map<EndpointId, Channel>();
  for (const [self, ch] of inner) {
    const waiting = new Set<{ from: EndpointId; reject: (e: Error) => void }>();
    pending.set(self, waiting);
    const channel: Channel = {
      self,
      stats: ch.stats,
      send: (to, tag, data) => {
        if (!dead.has(to) && !dead.has(self) && !silent.has(self)) ch.send(to, tag, data);
      },
      recv(from, tag) {
        if (dead.has(from)) return Promise.reject(lost(from));
        return new Promise((resolve, reject) => {
          const entry = { from, reject };
          waiting.add(entry);
          ch.recv(from, tag).then(resolve, reject).finally(() => waiting.delete(entry));
        });
      },
      close: (reason) => ch.close(reason),
    };
    if (ch.peerIdentity) channel.peerIdentity = (peer) => ch.peerIdentity!(peer);
    channels.set(self, channel);
  }
  return {
    channels,
    drop(id) {
      dead.add(id);
      inner.get(id)?.close(`${endpointLabel(id)} was dropped`);
      for (const [self, waiting] of pending) {
        if (self === id) continue;
        for (const w of [...waiting]) if (w.from === id) w.reject(lost(id));
      }
    },
    silence(id) {
      silent.add(id);
    },
  };
}
