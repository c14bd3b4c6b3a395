/// <reference lib="webworker" />
/**
 * The worker side of the round-latency page: runs ring rounds over one of two bridged channels to the page
 * (port-bridge.ts): one that reaches the peers through the page only, one with lanes (data channels the page
 * opened on its authenticated links and transferred here), as the party pages run.
 */
import { channelOverPort } from '../../../packages/worker/src/browser/port-bridge.ts';
import { ring } from './ring-traffic.ts';

self.onmessage = (ev: MessageEvent) => {
  const { self: id, port, lanePort } = ev.data as { self: number; port: MessagePort; lanePort: MessagePort };
  const bridged = channelOverPort(id, port);
  const laned = channelOverPort(id, lanePort);
  self.onmessage = async (e: MessageEvent) => {
    const { run, rounds, bytes, overLanes } = e.data as { run: string; rounds: number; bytes: number; overLanes: boolean };
    try {
      const arrivals: number[] = [];
      self.postMessage({ times: await ring(overLanes ? laned : bridged, run, rounds, bytes, arrivals), arrivals });
    } catch (err) {
      self.postMessage({ error: String(err) });
    }
  };
};
