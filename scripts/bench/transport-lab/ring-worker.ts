/// <reference lib="webworker" />
/**
 * The worker side of the round-latency page: runs ring rounds over the page's bridged channel (port-bridge.ts)
 * or over lanes, data channels the page opened on its authenticated links and transferred here (ring-lane.ts).
 */
import { channelOverPort } from '../../../packages/worker/src/browser/port-bridge.ts';
import { laneRingChannel } from './ring-lane.ts';
import { ring } from './ring-traffic.ts';

self.onmessage = (ev: MessageEvent) => {
  const { self: id, port } = ev.data as { self: number; port: MessagePort };
  const bridged = channelOverPort(id, port);
  const laned = laneRingChannel(id);
  self.onmessage = async (e: MessageEvent) => {
    const m = e.data as { lane?: number; dc?: RTCDataChannel; run: string; rounds: number; bytes: number; overLanes?: boolean };
    if (m.dc && m.lane !== undefined) {
      laned.attach(m.lane, m.dc);
      return;
    }
    try {
      const ch = m.overLanes ? laned : bridged;
      const arrivals: number[] = [];
      self.postMessage({ times: await ring(ch, m.run, m.rounds, m.bytes, arrivals), arrivals });
    } catch (err) {
      self.postMessage({ error: String(err) });
    }
  };
};
