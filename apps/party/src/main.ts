/**
 * Party page: `?session=<id>&party=<0|1|2>&backend=auto|wasm|webgpu&coordinator=<url>`. Joins the session's party
 * slot, connects to the other parties, the client and the model owner over WebRTC, and runs the party's side of
 * the session in a Web Worker (weights cached in IndexedDB). Shows what it does and, on failure, why.
 */
import { CLIENT, OWNER, type PartyId } from '@puma/transport';
import { endpointName, type PeerChannel } from '@puma/transport-webrtc';
import { parseBackendChoice, startBrowserParty } from '@puma/worker/browser';
import type { PartySessionReport, PartyStatus } from '@puma/worker/session';
import { AuditedChannel, coordinatorUrl, errorText, formatBytes, joinAndConnect, sessionParam, showError } from './kit.ts';

const $ = (id: string) => document.getElementById(id) as HTMLElement;

/** What the page shows, readable by the end-to-end tests as window.pumaParty.state. */
export interface PartyPageState {
  phase: string;
  party: number | null;
  backend: string;
  error: string | null;
  peers: string;
  cacheHits: number | null;
  partsTotal: number | null;
  shareBytesDownloaded: number | null;
  bytesSent: number;
  bytesReceived: number;
  report: PartySessionReport | null;
}

const state: PartyPageState = {
  phase: 'starting',
  party: null,
  backend: '-',
  error: null,
  peers: '-',
  cacheHits: null,
  partsTotal: null,
  shareBytesDownloaded: null,
  bytesSent: 0,
  bytesReceived: 0,
  report: null,
};

declare global {
  interface Window {
    pumaParty?: { state: PartyPageState; audit: AuditedChannel | null };
  }
}
window.pumaParty = { state, audit: null };

function setPhase(phase: string): void {
  state.phase = phase;
  $('phase').textContent = phase;
}

function fail(message: string): void {
  state.error = message;
  setPhase('error');
  showError($('error'), message);
}

function showStatus(s: PartyStatus): void {
  setPhase(s.phase === 'error' ? 'error' : `${s.phase}: ${s.message}`);
  state.backend = s.backend;
  $('backend').textContent = s.backend || '-';
  if (s.weights) {
    const w = s.weights;
    state.cacheHits = w.cacheHits;
    state.partsTotal = w.partsTotal;
    state.shareBytesDownloaded = w.shareBytesDownloaded;
    $('cache').textContent = `${w.cacheHits} of ${w.partsTotal} parts from IndexedDB` + (w.corruptParts ? `, ${w.corruptParts} corrupt (refetched)` : '');
    $('downloaded').textContent = `${formatBytes(w.shareBytesDownloaded)} (${w.partsFetched} parts)`;
    $('downloaded').dataset.bytes = String(w.shareBytesDownloaded);
  }
  const progress = $('progress') as HTMLProgressElement;
  if (s.job) {
    const j = s.job;
    // `step` counts the job's finished steps; the cost is the last step's.
    $('step').textContent = `${j.kind} job ${j.index}: ${j.step} of ${j.steps} steps done` + (j.step > 0 ? `, last one ${j.msPerStep.toFixed(0)} ms and ${j.rounds} rounds` : '');
    progress.max = j.steps;
    progress.value = j.step;
  }
  if (s.error) fail(s.error);
}

/** Shows each peer's link state until the returned function is called (before this page closes the channel itself). */
function watchPeers(channel: PeerChannel, peers: readonly number[]): () => void {
  const gone = new Map<number, string>();
  let watching = true;
  const render = () => {
    if (!watching) return;
    state.peers = peers.map((p) => `${endpointName(p)}: ${gone.get(p) ?? 'connected'}`).join(', ');
    $('peers').textContent = state.peers;
  };
  render();
  // A receive nobody answers fails when that peer's link fails, with a message naming the peer; a close of the
  // whole channel fails it too, with a reason that need not be about this peer, which is then left out.
  for (const p of peers) {
    channel.recv(p, 'page:link-watch').catch((e: unknown) => {
      const message = errorText(e);
      if (!message.includes(endpointName(p))) return;
      gone.set(p, message);
      render();
    });
  }
  return () => {
    watching = false;
  };
}

function startTrafficMeter(channel: PeerChannel): () => void {
  const tick = () => {
    state.bytesSent = channel.stats.bytesSent;
    state.bytesReceived = channel.stats.bytesReceived;
    $('traffic').textContent = `${formatBytes(state.bytesSent)} / ${formatBytes(state.bytesReceived)}`;
  };
  tick();
  const timer = setInterval(tick, 500);
  return () => {
    clearInterval(timer);
    tick();
  };
}

function setUpRejoin(params: URLSearchParams): void {
  $('rejoin').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams(params);
    next.set('session', ($('rejoin-session') as HTMLInputElement).value.trim());
    location.search = next.toString();
  });
  $('reload').addEventListener('click', () => location.reload());
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  setUpRejoin(params);
  const partyParam = params.get('party');
  if (partyParam === null || !/^[012]$/.test(partyParam)) throw new Error(`party must be 0, 1 or 2, got ${partyParam === null ? 'nothing' : `"${partyParam}"`}`);
  const id = Number(partyParam) as PartyId;
  state.party = id;
  $('title').textContent = `puma-web party ${id}`;
  document.title = `puma-web party ${id}`;
  const backend = parseBackendChoice(params.get('backend'));
  const coordinator = coordinatorUrl(params);
  const session = sessionParam(params);
  if (!session) {
    setPhase('no session: open a party link from the client page, or enter a session id below');
    return;
  }
  const peers = [...[0, 1, 2].filter((p) => p !== id), CLIENT, OWNER];
  setPhase('connecting');
  $('peers').textContent = `waiting for ${peers.map(endpointName).join(', ')}`;
  const { channel } = await joinAndConnect(coordinator, session, id, peers);
  const stopWatching = watchPeers(channel, peers);
  const stopMeter = startTrafficMeter(channel);
  const audit = params.get('audit') === '1' ? new AuditedChannel(channel) : null;
  window.pumaParty!.audit = audit;
  const party = startBrowserParty({ id, channel: audit ?? channel, backend, onStatus: showStatus });
  const leave = $('leave') as HTMLButtonElement;
  leave.disabled = false;
  leave.addEventListener('click', () => {
    leave.disabled = true;
    void party.stop('the party left the session');
  });
  try {
    state.report = await party.done;
    setPhase('done: session finished; open a new party link to run again');
  } finally {
    leave.disabled = true;
    stopMeter();
    stopWatching();
  }
  channel.close(`party ${id} finished`);
}

main().catch((e: unknown) => fail(errorText(e)));
