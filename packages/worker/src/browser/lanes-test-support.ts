/**
 * Test harness for port-bridge-lanes.test.ts (not imported by the bridge): two party "pages" whose workers get lanes, in one Node process.
 * Lanes are stand-ins for data channels (an RTCDataChannel's send, events and buffering; bytes sent to an end
 * nobody opened are lost, as on a real SCTP stream), and the page-worker ports deliver a task later without
 * cloning, so a lane object can cross them. The real data channel under a lane is tested in
 * apps/coordinator/src/lane.test.ts; this harness tests the bridge's switch-over, routing and failures.
 */
import type { Channel, EndpointId, PortLike } from '@puma/transport';
import type { LaneLimits } from '@puma/transport-webrtc/lane';
import type { LaneOpener } from './port-bridge.ts';

export const LIMITS: LaneLimits = { frameBytes: 64 * 1024, sendLimit: 1 << 24, maxMessageBytes: 1 << 24, maxPendingBytes: 1 << 25, highWaterMark: 1 << 20 };

export class FakeLane extends EventTarget {
  binaryType = 'arraybuffer';
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  readyState: RTCDataChannelState = 'open';
  other: FakeLane | null = null;
  /** Data-channel messages sent on this end. */
  sent = 0;

  send(data: Uint8Array): void {
    if (this.readyState !== 'open') throw new Error('lane closed');
    this.sent += 1;
    const copy = data.slice().buffer;
    setTimeout(() => this.other?.dispatchEvent(Object.assign(new Event('message'), { data: copy })), 0);
  }

  close(): void {
    for (const end of [this, this.other]) {
      if (end && end.readyState === 'open') {
        end.readyState = 'closed';
        setTimeout(() => end.dispatchEvent(new Event('close')), 0);
      }
    }
  }
}

/** Two ports that deliver each other's messages one task later, by reference (no structured clone). */
export function portPair(): [PortLike, PortLike] {
  const listeners: ((ev: { data: unknown }) => void)[][] = [[], []];
  const end = (me: number): PortLike => ({
    postMessage: (message) => {
      setTimeout(() => {
        for (const l of listeners[1 - me]) l({ data: message });
      }, 0);
    },
    addEventListener: (_type, l) => listeners[me].push(l),
    close: () => (listeners[me].length = 0),
  });
  return [end(0), end(1)];
}

/**
 * Lane openers for endpoints that share this registry: the two ends of a lane are joined when both opened it;
 * an end whose peer never opens one sends into the void.
 */
export function laneRegistry(): { opener(self: EndpointId, peers: EndpointId[]): LaneOpener; ends: Map<string, FakeLane> } {
  const ends = new Map<string, FakeLane>();
  return {
    ends,
    opener: (self, peers) => ({
      peers,
      open(peer, _stream, take) {
        const end = new FakeLane();
        ends.set(`${self}->${peer}`, end);
        const other = ends.get(`${peer}->${self}`);
        if (other) {
          end.other = other;
          other.other = end;
        }
        take(end as unknown as RTCDataChannel, LIMITS);
      },
    }),
  };
}

/** `channel` whose receives from `peer` fail with `reason` once `cut()` is called, as a failed link's do. */
export function cuttable(channel: Channel, peer: EndpointId): { channel: Channel; cut(reason: string): void; sends: { to: EndpointId; tag: string }[] } {
  let failure: Error | null = null;
  const waiting: ((e: Error) => void)[] = [];
  const sends: { to: EndpointId; tag: string }[] = [];
  return {
    sends,
    channel: {
      self: channel.self,
      stats: channel.stats,
      send: (to, tag, data) => {
        sends.push({ to, tag });
        channel.send(to, tag, data);
      },
      recv: (from, tag) => {
        if (from !== peer) return channel.recv(from, tag);
        if (failure) return Promise.reject(failure);
        return new Promise((resolve, reject) => {
          waiting.push(reject);
          channel.recv(from, tag).then(resolve, reject);
        });
      },
      close: (r) => channel.close(r),
      peerIdentity: channel.peerIdentity?.bind(channel),
    },
    cut(reason) {
      failure = new Error(reason);
      for (const reject of waiting.splice(0)) reject(failure);
    },
  };
}
