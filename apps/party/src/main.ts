/**
 * Party page: `?session=<id>&party=<0|1|2>&backend=auto|wasm|webgpu[&coordinator=<url>]#secret=<slot secret>`.
 * Shows this browser's safety code, joins the session's party slot with the slot secret and this browser's
 * identity, connects to the other parties, the client and the model owner over authenticated WebRTC links
 * (showing each peer's safety code once it proved its key), and runs the party's side of the session in a Web
 * Worker (weights cached in IndexedDB). Shows what it does and, on failure, why.
 */
import { CLIENT, OWNER, type PartyId } from '@puma/transport';
import type { PeerChannel } from '@puma/transport-webrtc';
import { loadOrCreateBrowserIdentity, parseBackendChoice, startBrowserParty } from '@puma/worker/browser';
import type { PartySessionReport, PartyStatus } from '@puma/worker/session';
import { AuditedChannel } from './audit.ts';
import { errorText, formatBytes, joinAndConnect, resolveCoordinator, sessionParam, showError, slotSecret } from './kit.ts';
import { PeerLinks, showOwnCode, type PeerLinkState } from './trust-ui.ts';

const $ = (id: string) => document.getElementById(id) as HTMLElement;

/** What the page shows, readable by the end-to-end tests as window.pumaParty.state. */
export interface PartyPageState {
  phase: string;
  party: number | null;
  /** This browser's safety code and fingerprint (one identity per browser profile). */
  safetyCode: string | null;
  fingerprint: string | null;
  /** Each peer's link: state and, once authenticated, its safety code. */
  links: PeerLinkState[];
  backend: string;
  error: string | null;
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
  safetyCode: null,
  fingerprint: null,
  links: [],
  backend: '-',
  error: null,
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

function setUpRejoin(): void {
  $('rejoin').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = ($('rejoin-link') as HTMLInputElement).value.trim();
    let link: URL;
    try {
      link = new URL(text, location.href);
    } catch {
      fail(`"${text}" is not a link; paste the whole party link the client page shows`);
      return;
    }
    if (!link.hash.includes('secret=')) {
      fail('that link has no slot secret (#secret=...); paste the whole party link the client page shows');
      return;
    }
    const sameDocument = link.origin === location.origin && link.pathname === location.pathname && link.search === location.search;
    location.assign(link.href);
    // Only the fragment changed: assigning it does not load the page again.
    if (sameDocument) location.reload();
  });
  $('reload').addEventListener('click', () => location.reload());
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  setUpRejoin();
  const identity = await loadOrCreateBrowserIdentity();
  state.fingerprint = identity.fingerprint;
  state.safetyCode = showOwnCode($('own-code'), identity);
  const partyParam = params.get('party');
  if (partyParam === null || !/^[012]$/.test(partyParam)) throw new Error(`party must be 0, 1 or 2, got ${partyParam === null ? 'nothing' : `"${partyParam}"`}`);
  const id = Number(partyParam) as PartyId;
  state.party = id;
  $('title').textContent = `puma-web party ${id}`;
  document.title = `puma-web party ${id}`;
  const backend = parseBackendChoice(params.get('backend'));
  const session = sessionParam(params);
  if (!session) {
    setPhase('no session: open a party link from the client page, or paste one below');
    return;
  }
  const secret = slotSecret(session, id);
  const coordinator = await resolveCoordinator(params, $('coordinator-confirm'));
  const peers = [...[0, 1, 2].filter((p) => p !== id), CLIENT, OWNER];
  setPhase('connecting');
  const channel = await joinAndConnect({ coordinator, sessionId: session, self: id, peers, secret, identity });
  const links = new PeerLinks(channel, peers, $('peer-links'), () => (state.links = structuredClone(links.states)));
  state.links = structuredClone(links.states);
  await channel.ready;
  const stopMeter = startTrafficMeter(channel);
  const audit = params.get('audit') === '1' ? new AuditedChannel(channel) : null;
  window.pumaParty!.audit = audit;
  const party = startBrowserParty({ id, channel: audit ?? channel, backend, identity: identity.fingerprint, onStatus: showStatus });
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
    links.stop();
  }
  channel.close(`party ${id} finished`);
}

main().catch((e: unknown) => fail(errorText(e)));
