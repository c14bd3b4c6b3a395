/**
 * Round latency of three parties as the party pages run them (ring-bench.ts drives it): the PeerChannel in the
 * page, the protocol's sends and receives either in the page itself or in a Web Worker behind port-bridge.ts (as
 * party pages do), or in the worker over lanes: data channels opened on the page's authenticated links and
 * transferred to the worker (port-bridge.ts with lanes), so no message of a round crosses the page. Hop stamps
 * (epoch ms, so comparable across tabs): worker -> its page (the page sees the worker's send), sender -> the
 * receiver's page (the page takes the message), sender -> the receiving worker.
 */
import { createPeerChannel, endpointSlot, generateIdentity, joinSession, type PeerChannel } from '@puma/transport-webrtc';
import type { Channel } from '@puma/transport';
import { serveChannelOverPort } from '../../../packages/worker/src/browser/port-bridge.ts';
import type { ConnectRequest } from './page.ts';
import { epochNow, ring, sentAt } from './ring-traffic.ts';

let channel: PeerChannel | null = null;
let worker: Worker | null = null;
const hops = { toPage: [] as number[], toPeerPage: [] as number[] };
/** Messages the worker sent through the page on its bridge with lanes (only those before each peer's switch). */
let laneBridgeSends = 0;

/** `ch` with the page's hop stamp on every receive. */
function stamped(ch: Channel): Channel {
  return {
    self: ch.self, stats: ch.stats, send: (to, tag, d) => ch.send(to, tag, d), close: (r) => ch.close(r),
    peerIdentity: ch.peerIdentity?.bind(ch),
    recv: (from, tag) => ch.recv(from, tag).then((d) => {
      if (d.byteLength >= 8) hops.toPeerPage.push(epochNow() - sentAt(d));
      return d;
    }),
  };
}

function startWorker(): void {
  worker = new Worker(new URL('./ring-worker.ts', import.meta.url), { type: 'module' });
  const mc = new MessageChannel();
  mc.port1.addEventListener('message', (ev) => {
    for (const m of ev.data as { t: string; data?: Uint8Array }[]) {
      if (m.t === 'send' && m.data && m.data.byteLength >= 8) hops.toPage.push(epochNow() - sentAt(m.data));
    }
  });
  serveChannelOverPort(stamped(channel!), mc.port1);
  const laned = new MessageChannel();
  const peers = [0, 1, 2].filter((p) => p !== channel!.self);
  const counted: Channel = {
    ...stamped(channel!),
    send: (to, tag, d) => {
      laneBridgeSends += 1;
      channel!.send(to, tag, d);
    },
  };
  serveChannelOverPort(counted, laned.port1, { lanes: { peers, open: (...a) => channel!.openLane(...a) } });
  worker.postMessage({ self: channel!.self, port: mc.port2, lanePort: laned.port2 }, [mc.port2, laned.port2]);
}

const api = {
  async connect(req: ConnectRequest): Promise<string> {
    const id = (await generateIdentity()).identity;
    if (req.join) await joinSession(req.coordinator, req.sessionId, endpointSlot(req.self), { secret: req.slotSecret, identity: id.fingerprint });
    const { join: _join, ...options } = req;
    channel = createPeerChannel({ ...options, identity: id });
    await channel.ready;
    startWorker();
    return channel.peerId;
  },
  async pageRing(run: string, rounds: number, bytes: number) {
    const arrivals: number[] = [];
    const times = await ring(channel!, run, rounds, bytes, arrivals);
    return { times, arrivals, toPage: [], toPeerPage: [], viaPage: [] };
  },
  laneRing(run: string, rounds: number, bytes: number) {
    return api.workerRing(run, rounds, bytes, true);
  },
  workerRing(run: string, rounds: number, bytes: number, overLanes = false) {
    hops.toPage = [];
    hops.toPeerPage = [];
    laneBridgeSends = 0;
    return new Promise((resolve, reject) => {
      worker!.onmessage = (ev: MessageEvent) => {
        const m = ev.data as { times?: number[]; arrivals?: number[]; error?: string };
        if (m.error) reject(new Error(m.error));
        else resolve({ times: m.times!, arrivals: m.arrivals!, ...hops, viaPage: overLanes ? [laneBridgeSends] : [] });
      };
      worker!.postMessage({ run, rounds, bytes, overLanes });
    });
  },
};

declare global {
  interface Window {
    pumaRing?: typeof api;
  }
}
window.pumaRing = api;
document.getElementById('status')!.textContent = 'ready';
