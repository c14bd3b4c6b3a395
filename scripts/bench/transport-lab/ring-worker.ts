/// <reference lib="webworker" />
/** The worker side of the round-latency page: runs ring rounds over the page's bridged channel. */
import { channelOverPort } from '../../../packages/worker/src/browser/port-bridge.ts';
import { ring } from './ring-traffic.ts';

self.onmessage = (ev: MessageEvent) => {
  const { self: id, port } = ev.data as { self: number; port: MessagePort };
  const ch = channelOverPort(id, port);
  self.onmessage = async (e: MessageEvent) => {
    const { run, rounds, bytes } = e.data as { run: string; rounds: number; bytes: number };
    try {
      const arrivals: number[] = [];
      self.postMessage({ times: await ring(ch, run, rounds, bytes, arrivals), arrivals });
    } catch (err) {
      self.postMessage({ error: String(err) });
    }
  };
};
