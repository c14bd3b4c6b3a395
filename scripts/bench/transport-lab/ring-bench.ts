/**
 * Round latency of three Chromium tabs over WebRTC, as the party pages move a protocol round: each tab sends one
 * message to the next and waits for the one from the previous (ring-traffic.ts), either from the page itself or
 * from a Web Worker behind port-bridge.ts (as the party pages run the protocol), or from a Web Worker over lanes
 * (data channels on the same authenticated links, transferred into the worker: PeerChannel.openLane). Prints the mean and median ms per
 * round and the median of each hop. Not a suite of `npm run bench`; run it alone:
 *   node --import tsx scripts/bench/transport-lab/ring-bench.ts   (ROUNDS=400 BYTES=256 by default)
 */
import { createSession, endpointSlot } from '@puma/transport-webrtc';
import { startTransportLab, withTimeout } from './lab.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 400);
const BYTES = Number(process.env.BYTES ?? 256);
const STEP_TIMEOUT_MS = 120_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const lab = await startTransportLab();
try {
  const s = await createSession(lab.coordinator.url, { model: 'bench' });
  const tabs = await Promise.all([0, 1, 2].map(() => lab.openTab()));
  const base = new URL(tabs[0].page.url());
  for (const t of tabs) {
    await t.page.goto(new URL('ring-page.html', base).href);
    await t.page.waitForFunction(() => window.pumaRing !== undefined, null, { timeout: 60_000 });
  }
  const call = (i: number, method: string, ...args: unknown[]) =>
    withTimeout(
      tabs[i].page.evaluate(([m, a]) => (window.pumaRing as unknown as Record<string, (...x: unknown[]) => unknown>)[m as string](...(a as unknown[])), [method, args]),
      STEP_TIMEOUT_MS,
      `tab ${i} ${method}`,
    ) as Promise<unknown>;
  await Promise.all([0, 1, 2].map((i) => call(i, 'connect', {
    coordinator: lab.coordinator.url, sessionId: s.id, self: i, peers: [0, 1, 2].filter((p) => p !== i), channelsPerPeer: 1, slotSecret: s.slotSecrets[endpointSlot(i)], join: true,
  })));
  // The first run of each kind warms up; the second is the one to read.
  const kinds: [string, string][] = [['page', 'pageRing'], ['worker', 'workerRing'], ['worker lanes', 'laneRing']];
  const runs = [...kinds, ...kinds];
  for (const [k, [label, method]] of runs.entries()) {
    const res = (await Promise.all([0, 1, 2].map((i) => call(i, method, `run${k}`, ROUNDS, BYTES)))) as Record<string, number[]>[];
    const mean = res.map((r) => r.times.reduce((a, b) => a + b, 0) / r.times.length);
    const med = (key: string) => res.map((r) => (r[key].length ? median(r[key]).toFixed(2) : '-')).join(' / ');
    console.log(`${label}: ms per round mean ${mean.map((x) => x.toFixed(2)).join(' / ')}, median ${med('times')}; ` +
      `hop medians: worker -> page ${med('toPage')}, sender -> receiving page ${med('toPeerPage')}, sender -> receiver ${med('arrivals')}` +
      (res[0].viaPage.length ? `; sends through the page ${res.map((r) => r.viaPage[0]).join(' / ')}` : ''));
  }
} finally {
  await lab.close();
}
