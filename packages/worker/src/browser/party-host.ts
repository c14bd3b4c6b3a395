/**
 * Page side of a browser party: starts the party's dedicated Web Worker, bridges the page's channel (the WebRTC
 * PeerChannel lives in the page: Chromium has no RTCPeerConnection in workers) to it over a MessagePort, and
 * relays its status. The protocol work runs in the worker, so the page stays responsive and keeps the
 * channel's keepalives going.
 */
import * as Comlink from 'comlink';
import type { Channel, PartyId } from '@puma/transport';
import type { BackendChoice } from '../select-backend.ts';
import type { PartySessionReport, PartyStatus } from '../session/index.ts';
import type { PartyWorkerApi } from './party-worker.ts';
import { serveChannelOverPort, type LaneOpener } from './port-bridge.ts';
import { WorkerEnd, workerFailure } from './worker-failure.ts';

export interface BrowserPartyOptions {
  id: PartyId;
  /** This party's identity fingerprint (the one its links prove). */
  identity: string;
  /** The connected channel to the other parties, the client and the owner. */
  channel: Channel;
  backend: BackendChoice;
  fracBits?: number;
  /** Per-step deadline of jobs (default 300 000 ms). */
  stepTimeoutMs?: number;
  /** Cap of the party's weight cache in bytes (default: the runtime's, models/secure weight-cache.ts). */
  weightCacheBytes?: number;
  onStatus?: (s: PartyStatus) => void;
  /**
   * Lanes to the other parties (PeerChannel.openLane of the page's channel): the worker then sends and
   * receives their rounds itself, without the page in between (port-bridge.ts).
   */
  lanes?: LaneOpener;
}

export interface BrowserParty {
  /** Resolves with the session's report; rejects with the reason it failed ("party 2 disconnected"). */
  readonly done: Promise<PartySessionReport>;
  /** Stops the session (peers are told `reason`) and ends the worker. */
  stop(reason: string): Promise<void>;
}

/** How long stop() gives the runtime to tell its peers before the worker is ended regardless. */
const STOP_GRACE_MS = 2_000;

export function startBrowserParty(o: BrowserPartyOptions): BrowserParty {
  const worker = new Worker(new URL('./party-worker.ts', import.meta.url), { type: 'module', name: `puma party ${o.id}` });
  const remote = Comlink.wrap<PartyWorkerApi>(worker);
  const bridge = new MessageChannel();
  const served = serveChannelOverPort(o.channel, bridge.port1, { lanes: o.lanes });
  const crashed = workerFailure(worker, `party ${o.id}`);
  const onStatus = o.onStatus ?? (() => {});
  const init = {
    id: o.id, identity: o.identity, authenticatedLinks: typeof o.channel.peerIdentity === 'function', backend: o.backend, fracBits: o.fracBits,
    stepTimeoutMs: o.stepTimeoutMs, weightCacheBytes: o.weightCacheBytes,
  };
  const run = remote.run(init, Comlink.transfer(bridge.port2, [bridge.port2]), Comlink.proxy(onStatus));
  const lifetime = new WorkerEnd(worker, remote, served);
  const end = () => lifetime.end();
  const done = Promise.race([run, crashed]).then(
    (report) => {
      end();
      return report;
    },
    (e: unknown) => {
      end();
      o.channel.close(e instanceof Error ? e.message : String(e));
      throw e instanceof Error ? e : new Error(String(e));
    },
  );
  return {
    done,
    async stop(reason) {
      if (lifetime.ended) return;
      const settled = done.then(() => undefined, () => undefined);
      await remote.stop(reason).catch(() => {});
      await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS))]);
      end();
    },
  };
}
