/**
 * Page side of a browser client: starts the client's dedicated Web Worker (client-worker.ts), bridges the page's
 * channel to it over a MessagePort and forwards token events and status. The page keeps only what it shows.
 */
import * as Comlink from 'comlink';
import type { Channel } from '@puma/transport';
import type { ClassifyResult, ClientStatus, GenerateOptions, GenerateResult, PublicModelInfo, TokenEvent } from '../session/index.ts';
import type { ClientWorkerApi } from './client-worker.ts';
import { serveChannelOverPort } from './port-bridge.ts';
import { WorkerEnd, workerFailure } from './worker-failure.ts';

export interface BrowserClientOptions {
  /** The connected channel to the parties and the owner (possibly wrapped, e.g. to show what is sent). */
  channel: Channel;
  approvedParties: readonly [string, string, string];
  stepTimeoutMs?: number;
  onStatus?: (s: ClientStatus) => void;
  /** Aborting stops the session in the worker (the peers are told why) and ends the worker. */
  signal?: AbortSignal;
}

/**
 * What generate takes across the worker boundary: GenerateOptions without the functions, a sampler named by
 * its settings instead of passed as code.
 */
export type WorkerGenerateOptions = Omit<GenerateOptions, 'pick' | 'onToken'> & {
  /** Default greedy. */
  sampling?: { temperature: number; topK: number };
};

export interface BrowserClient {
  readonly info: PublicModelInfo;
  generate(o: WorkerGenerateOptions & { onToken?: (t: TokenEvent) => void }): Promise<GenerateResult>;
  classify(o: { text: string } | { ids: readonly number[] }): Promise<ClassifyResult>;
  /** Tells the parties the session is over and ends the worker; the caller then closes the channel. */
  end(): Promise<void>;
}

/** How long an abort gives the worker to tell the peers before it is ended regardless. */
const STOP_GRACE_MS = 2_000;

export async function openBrowserClient(o: BrowserClientOptions): Promise<BrowserClient> {
  const worker = new Worker(new URL('./client-worker.ts', import.meta.url), { type: 'module', name: 'puma client' });
  const remote = Comlink.wrap<ClientWorkerApi>(worker);
  const bridge = new MessageChannel();
  const served = serveChannelOverPort(o.channel, bridge.port1);
  const lifetime = new WorkerEnd(worker, remote, served);
  const end = () => lifetime.end();
  const crashed = workerFailure(worker, 'client');
  const guarded = <T>(p: Promise<T>): Promise<T> => Promise.race([p, crashed]).catch((e: unknown) => {
    end();
    throw e instanceof Error ? e : new Error(String(e));
  });
  const onAbort = () => {
    void Promise.race([remote.stop(String(o.signal?.reason ?? 'stopped')).catch(() => {}), new Promise((r) => setTimeout(r, STOP_GRACE_MS))]).then(end);
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const init = {
    approvedParties: [...o.approvedParties] as [string, string, string],
    authenticatedLinks: typeof o.channel.peerIdentity === 'function',
    stepTimeoutMs: o.stepTimeoutMs,
  };
  const onStatus = o.onStatus ?? (() => {});
  const info = await guarded(remote.open(init, Comlink.transfer(bridge.port2, [bridge.port2]), Comlink.proxy(onStatus)));
  return {
    info,
    generate: ({ onToken, ...rest }) => guarded(remote.generate(rest, onToken ? Comlink.proxy(onToken) : undefined)),
    classify: (c) => guarded(remote.classify(c)),
    async end() {
      try {
        await guarded(remote.end());
      } finally {
        o.signal?.removeEventListener('abort', onAbort);
        end();
      }
    },
  };
}
