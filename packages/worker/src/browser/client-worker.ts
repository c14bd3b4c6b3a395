/// <reference lib="webworker" />
/**
 * Dedicated Web Worker of a client page: the client's side of a session (tokenizer, one-hot input sharing,
 * output reconstruction) runs here, over the channel the page bridges in (port-bridge.ts). Sharing a prompt's
 * one-hot rows over a 50k vocabulary takes hundreds of milliseconds; in the page that would freeze it.
 * Exposed with Comlink; started by client-host.ts.
 */
import * as Comlink from 'comlink';
import { deliveredCalls } from './delivered-calls.ts';
import { sampler } from '@puma/models/secure';
import { CLIENT } from '@puma/transport';
import { openClientSession, type ClassifyResult, type ClientSession, type ClientStatus, type GenerateResult, type PublicModelInfo, type TokenEvent } from '../session/index.ts';
import { channelOverPort, type BridgedChannel } from './port-bridge.ts';
import type { WorkerGenerateOptions } from './client-host.ts';

export interface ClientWorkerInit {
  approvedParties: [string, string, string];
  /** Whether the page's channel authenticates its links (then the bridged channel reports peer identities). */
  authenticatedLinks: boolean;
  stepTimeoutMs?: number;
}

const aborter = new AbortController();
let channel: BridgedChannel | null = null;
let session: ClientSession | null = null;

function opened(): ClientSession {
  if (!session) throw new Error('the client session is not open');
  return session;
}

const api = {
  /** Waits for the model info and the parties' readiness; `port` is the page's side of the bridged channel. */
  async open(init: ClientWorkerInit, port: MessagePort, onStatus: (s: ClientStatus) => void): Promise<PublicModelInfo> {
    channel = channelOverPort(CLIENT, port, { identities: init.authenticatedLinks });
    session = await openClientSession({
      channel, approvedParties: init.approvedParties, stepTimeoutMs: init.stepTimeoutMs, onStatus, signal: aborter.signal,
    });
    return session.info;
  },

  async generate({ sampling, ...o }: WorkerGenerateOptions, onToken?: (t: TokenEvent) => void): Promise<GenerateResult> {
    const pick = sampling ? sampler(sampling.temperature, sampling.topK) : undefined;
    const tokens = deliveredCalls(onToken);
    try {
      return await opened().generate({ ...o, pick, onToken: onToken && tokens.call });
    } finally {
      await tokens.delivered();
    }
  },

  classify(o: { text: string } | { ids: readonly number[] }): Promise<ClassifyResult> {
    return opened().classify(o);
  },

  /** Tells the parties the session is over; resolves once the page holds those last sends. */
  async end(): Promise<void> {
    opened().end();
    await channel?.flush();
  },

  /** Stops the session; the runtime tells the peers `reason`. */
  stop(reason: string): void {
    aborter.abort(new Error(reason));
  },
};

export type ClientWorkerApi = typeof api;

Comlink.expose(api);
