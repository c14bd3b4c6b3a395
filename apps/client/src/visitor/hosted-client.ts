/**
 * The visitor's client, in this page: joins the visit's session in the client slot with the secret only this
 * visit's token holder got, pins the three parties the visit names (links proving any other key are refused),
 * waits for the owner's public model description and the parties, then runs one job. The prompt is secret-shared
 * in this page's client worker (client-worker.ts, so a large vocabulary's one-hot rows never freeze the page) and
 * only this page reconstructs the output. Aborting `signal` (the Stop button) fails the session on
 * purpose: every party and the owner hear the reason at once and the channel closes.
 */
import { CLIENT, OWNER, type EndpointId } from '@puma/transport';
import type { Identity, PeerChannel } from '@puma/transport-webrtc';
import type { ClassifyResult, GenerateResult, TokenEvent } from '@puma/worker/session';
import { openBrowserClient, type BrowserClient } from '@puma/worker/browser';
import { errorText, expectedParties, joinAndConnect } from '@puma/party/kit';
import { PeerLinks, type PeerLinkState } from '@puma/party/trust-ui';
import { InputTap } from '../input-tap.ts';
import type { VisitSession } from './hosted-api.ts';

export interface HostedClientOptions {
  coordinator: string;
  session: VisitSession;
  identity: Identity;
  /** Stops the job (and the session) when aborted. */
  signal: AbortSignal;
  /** Where the peer link rows render (a tbody). */
  linkRows: HTMLElement;
  onLinks: (links: PeerLinkState[]) => void;
  onPhase: (phase: 'connecting' | 'running', message: string) => void;
  onInputShare: (party: EndpointId, step: number, bytes: Uint8Array) => void;
}

export type HostedJob =
  | { task: 'generate'; prompt: string; maxNewTokens: number; onToken: (t: TokenEvent) => void }
  | { task: 'classify'; text: string };

export type HostedJobResult = { task: 'generate'; result: GenerateResult } | { task: 'classify'; result: ClassifyResult };

const PEERS: readonly EndpointId[] = [0, 1, 2, OWNER];
/**
 * The hosted parties and owner are Node processes, which on a busy host can be silent for seconds in one long
 * step (a page's peers keep alive from an idle main thread, hence the pages' 6 s). A party that really goes
 * away is reported sooner by the visit's status, which the host sets to 'failed' when one of its processes ends.
 */
export const HOSTED_IDLE_TIMEOUT_MS = 20_000;

/** `work`, or a rejection as soon as `signal` aborts (with its reason). */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error(`stopped: ${errorText(signal.reason)}`));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Connects, runs `job`, ends the session normally; on any failure (Stop included) closes the channel with the reason. */
export async function runHostedJob(o: HostedClientOptions, job: HostedJob): Promise<HostedJobResult> {
  const channel: PeerChannel = await joinAndConnect({
    coordinator: o.coordinator,
    sessionId: o.session.sessionId,
    self: CLIENT,
    peers: PEERS,
    secret: o.session.clientSecret,
    identity: o.identity,
    expectedPeers: expectedParties(o.session.parties),
    idleTimeoutMs: HOSTED_IDLE_TIMEOUT_MS,
  });
  const links = new PeerLinks(channel, PEERS, o.linkRows, () => o.onLinks(structuredClone(links.states)));
  o.onLinks(structuredClone(links.states));
  let session: BrowserClient | null = null;
  try {
    o.onPhase('connecting', 'Connecting to the parties and the model owner.');
    await unlessAborted(channel.ready, o.signal);
    const tap = new InputTap(channel, o.onInputShare);
    o.onPhase('connecting', 'Waiting for the model description and for the parties to load their weight shares.');
    session = await unlessAborted(openBrowserClient({ channel: tap, approvedParties: o.session.parties, signal: o.signal }), o.signal);
    o.onPhase('running', `Model ${session.info.modelId}: computing on shares.`);
    const result: HostedJobResult =
      job.task === 'generate'
        ? { task: 'generate', result: await session.generate({ prompt: job.prompt, maxNewTokens: job.maxNewTokens, onToken: job.onToken }) }
        : { task: 'classify', result: await session.classify({ text: job.text }) };
    await session.end();
    links.stop();
    channel.close('the visitor finished');
    return result;
  } catch (e) {
    links.stop();
    // The session's guard has already told the peers when the session was open; before that, the close does.
    channel.close(errorText(e));
    throw e;
  }
}
