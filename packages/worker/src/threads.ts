/**
 * Runs the three parties in Node worker threads (one per party), with the client and the owner in the
 * calling thread, all connected pairwise by MessagePorts. A party program is named by module URL and export
 * name, because functions cannot cross threads; its argument must be structured-cloneable.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { CLIENT, OWNER, portChannel, type Channel, type EndpointId, type PortLike } from '@puma/transport';
import type { ThreadInit, ThreadResult } from './thread-entry.ts';

export interface ThreadRunOptions<A> {
  /** URL (file: or path) of a module whose export `exportName` is `(p: Party, arg: A, env) => Promise<R>`. */
  module: string;
  exportName: string;
  /** Per-party argument (e.g. that party's weight bundles). */
  args: (party: 0 | 1 | 2) => A;
  backend?: 'wasm' | 'webgpu' | 'auto';
  fracBits?: number;
  client?: (channel: Channel) => Promise<unknown>;
  owner?: (channel: Channel) => Promise<unknown>;
  /** Called with progress messages the parties post (e.g. tokens done). */
  onProgress?: (party: number, msg: unknown) => void;
}

export interface ThreadRun<R> {
  results: [R, R, R];
  client: unknown;
  /** Per party: bytes sent, rounds, profile tree, peak memory. */
  stats: ThreadResult<R>['stats'][];
}

const ENTRY = new URL('./thread-boot.mjs', import.meta.url);

export async function runInThreads<A, R>(o: ThreadRunOptions<A>): Promise<ThreadRun<R>> {
  const ids: EndpointId[] = [0, 1, 2, CLIENT, OWNER];
  const portsOf = new Map<EndpointId, Map<EndpointId, PortLike>>(ids.map((i) => [i, new Map()]));
  for (let a = 0; a < ids.length; a++) {
    for (let b = a + 1; b < ids.length; b++) {
      const mc = new MessageChannel();
      portsOf.get(ids[a])!.set(ids[b], mc.port1 as unknown as PortLike);
      portsOf.get(ids[b])!.set(ids[a], mc.port2 as unknown as PortLike);
    }
  }
  const workers: Worker[] = [];
  const done = ([0, 1, 2] as const).map((id) => {
    const ports = portsOf.get(id)!;
    const init: ThreadInit<A> = {
      id,
      module: o.module,
      exportName: o.exportName,
      arg: o.args(id),
      backend: o.backend ?? 'wasm',
      fracBits: o.fracBits,
      ports: Object.fromEntries(ports),
    };
    const w = new Worker(ENTRY, { workerData: init, transferList: [...ports.values()] as never[] });
    workers.push(w);
    return new Promise<ThreadResult<R>>((resolve, reject) => {
      w.on('message', (m: { type: string; value?: unknown; result?: ThreadResult<R>; error?: string }) => {
        if (m.type === 'progress') o.onProgress?.(id, m.value);
        else if (m.type === 'done') resolve(m.result as ThreadResult<R>);
        else if (m.type === 'error') reject(new Error(`party ${id}: ${m.error}`));
      });
      w.on('error', (e) => reject(new Error(`party ${id} crashed: ${e.message}`)));
      w.on('exit', (code) => reject(new Error(`party ${id} exited with code ${code} before finishing`)));
    });
  });
  const clientChannel = portChannel(CLIENT, portsOf.get(CLIENT)!);
  const ownerChannel = portChannel(OWNER, portsOf.get(OWNER)!);
  try {
    const [results, client] = await Promise.all([
      Promise.all(done),
      o.client ? o.client(clientChannel) : Promise.resolve(undefined),
      o.owner ? o.owner(ownerChannel) : Promise.resolve(undefined),
    ]);
    return { results: results.map((r) => r.value) as [R, R, R], client, stats: results.map((r) => r.stats) };
  } finally {
    clientChannel.close('run finished');
    ownerChannel.close('run finished');
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
