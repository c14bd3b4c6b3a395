/** Body of one party's worker thread: builds backend, channel and session, then runs the named program. */
import { parentPort, workerData } from 'node:worker_threads';
import { portChannel, type EndpointId, type PartyId, type PortLike } from '@puma/transport';
import { setupParty, spanToJSON, type Party } from '@puma/protocol';
import { createBackend } from './select-backend.ts';

export interface ThreadInit<A> {
  id: PartyId;
  module: string;
  exportName: string;
  arg: A;
  backend: 'wasm' | 'webgpu' | 'auto';
  fracBits?: number;
  ports: Record<string, PortLike>;
}

export interface ThreadResult<R> {
  value: R;
  stats: { party: number; bytesSent: number; rounds: number; peakRssMiB: number; profile: unknown; backend: string };
}

export type PartyProgram<A, R> = (p: Party, arg: A, env: { progress: (v: unknown) => void }) => Promise<R>;

async function main(): Promise<void> {
  const init = workerData as ThreadInit<unknown>;
  const ports = new Map<EndpointId, PortLike>(Object.entries(init.ports).map(([k, v]) => [Number(k), v]));
  const channel = portChannel(init.id, ports);
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
  try {
    const backend = await createBackend(init.backend);
    const p = await setupParty({ id: init.id, backend, channel, fracBits: init.fracBits });
    const mod = (await import(init.module)) as Record<string, PartyProgram<unknown, unknown>>;
    const program = mod[init.exportName];
    if (typeof program !== 'function') throw new Error(`${init.module} has no export ${init.exportName}`);
    const value = await program(p, init.arg, { progress: (v) => parentPort!.postMessage({ type: 'progress', value: v }) });
    peak = Math.max(peak, process.memoryUsage().rss);
    const result: ThreadResult<unknown> = {
      value,
      stats: { party: init.id, bytesSent: channel.stats.bytesSent, rounds: p.rounds, peakRssMiB: Math.round(peak / 2 ** 20), profile: spanToJSON(p.span), backend: backend.description },
    };
    parentPort!.postMessage({ type: 'done', result });
  } catch (e) {
    parentPort!.postMessage({ type: 'error', error: e instanceof Error ? e.message : String(e) });
  } finally {
    clearInterval(sampler);
  }
}

void main();
