/**
 * Party page: `?session=<id>&party=<0|1|2>&backend=auto|wasm|webgpu[&coordinator=<url>]#secret=<slot secret>`.
 * Shows this browser's safety code, joins the session's party slot with the slot secret and this browser's
 * identity, connects to the other parties, the client and the model owner over authenticated WebRTC links
 * (showing each peer's safety code once it proved its key), and runs the party's side of the session in a Web
 * Worker (weights cached in IndexedDB). Shows what it does and, on failure, why.
 *
 * Storage: the page asks for persistent storage and shows the quota at once; the owner's manifest is checked
 * against the quota before any part is requested (storage-gate.ts), and a share that does not fit fails the
 * session naming the bytes needed and available. Parts are stored as soon as they are verified, so a page
 * closed mid-download resumes next session with only the missing parts ("resumed: k of n parts cached"). The
 * page lists what it caches and deletes a sharing or everything (cache-panel.ts), outside sessions.
 */
import { CLIENT, OWNER, type PartyId } from '@puma/transport';
import type { Identity, PeerChannel } from '@puma/transport-webrtc';
import { IdbShareStore, loadOrCreateBrowserIdentity, parseBackendChoice, startBrowserParty, type BackendChoice, type CachedSharing } from '@puma/worker/browser';
import type { PartySessionReport, PartyStatus } from '@puma/worker/session';
import { AuditedChannel } from './audit.ts';
import { CachePanel } from './cache-panel.ts';
import { StorageGatedChannel, askPersistence, type ManifestCheck } from './storage-gate.ts';
import type { ShareNeeds, StorageNumbers } from './storage-fit.ts';
import { errorText, formatBytes, joinAndConnect, resolveCoordinator, sessionParam, showError, slotSecret } from './kit.ts';
import { PeerLinks, showOwnCode, type PeerLinkState } from './trust-ui.ts';
import { describeWeightCache, parseWeightCacheMiB } from './weight-cache-param.ts';

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
  /** "resumed: k of n parts cached" when a session found some but not all of its parts in IndexedDB. */
  resumed: string | null;
  storage: {
    persistAsked: boolean;
    /** What navigator.storage.persist() answered; null where the browser has none. */
    persisted: boolean | null;
    /** The latest estimate (quota, usage); null where the browser gives none. */
    estimate: StorageNumbers | null;
    /** The model of this session's manifest, once it arrived. */
    modelId: string | null;
    /** What this session's share needs, from the owner's manifest, once it arrived. */
    needs: ShareNeeds | null;
    /** Why the share was refused (it does not fit), or null. */
    refusal: string | null;
  };
  /** What this browser caches, as the list on the page shows it. */
  cache: CachedSharing[];
  bytesSent: number;
  bytesReceived: number;
  report: PartySessionReport | null;
  /** The weight cache cap in bytes (?weight-cache-mib=, else the page's default); null until the page read it. */
  weightCacheBytes: number | null;
  /** Each finished job step's status line: its time, rounds, bytes and where the time went (weights, ops). */
  steps: string[];
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
  resumed: null,
  storage: { persistAsked: false, persisted: null, estimate: null, modelId: null, needs: null, refusal: null },
  cache: [],
  bytesSent: 0,
  bytesReceived: 0,
  report: null,
  weightCacheBytes: null,
  steps: [],
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
    // Some parts of this sharing were verified and stored by an earlier, interrupted download.
    state.resumed = w.cacheHits > 0 && w.cacheHits < w.partsTotal ? `resumed: ${w.cacheHits} of ${w.partsTotal} parts cached` : null;
    $('resumed').textContent = state.resumed ?? '';
    $('resumed').hidden = state.resumed === null;
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
    if (j.step > 0 && s.phase === 'running') state.steps.push(s.message);
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

function showStorageLine(): void {
  const st = state.storage;
  const persist = !st.persistAsked ? 'persistent storage: not offered by this browser'
    : st.persisted ? 'persistent storage: granted' : 'persistent storage: not granted (the browser may evict cached shares)';
  const quota = st.estimate === null ? 'quota unknown'
    : `${formatBytes(st.estimate.usage)} used of ${formatBytes(st.estimate.quota)} quota (${formatBytes(Math.max(0, st.estimate.quota - st.estimate.usage))} free)`;
  $('storage').textContent = `${persist}; ${quota}`;
}

function showManifestCheck(c: ManifestCheck): void {
  state.storage.modelId = c.manifest.modelId;
  state.storage.needs = c.needs;
  state.storage.estimate = c.estimate ?? state.storage.estimate;
  state.storage.refusal = c.refusal;
  showStorageLine();
  const n = c.needs;
  const free = c.estimate === null ? 'free space unknown' : `${formatBytes(Math.max(0, c.estimate.quota - c.estimate.usage))} free`;
  $('needs').textContent = `model ${c.manifest.modelId}: ${formatBytes(n.bytesMissing)} to download of ${formatBytes(n.bytesTotal)} ` +
    `(${n.partsCached} of ${n.partsTotal} parts in IndexedDB), ${free}` + (c.refusal ? ': does not fit' : '');
  if (c.refusal) fail(c.refusal);
}

/** The storage panel: persistence asked for, the quota, and the list of cached sharings (the page's only store). */
async function setUpStorage(store: IdbShareStore, storage: StorageManager | undefined): Promise<CachePanel> {
  const persisted = askPersistence(storage);
  state.storage.persistAsked = persisted !== null;
  void persisted?.then((granted) => {
    state.storage.persisted = granted;
    showStorageLine();
  });
  showStorageLine();
  const panel = new CachePanel(store, storage, {
    table: $('cache-list') as HTMLTableSectionElement, estimate: $('cache-estimate'), deleteAll: $('delete-all') as HTMLButtonElement, note: $('cache-note'),
  }, (rows, estimate) => {
    state.cache = rows;
    if (estimate) state.storage.estimate = estimate;
    showStorageLine();
  });
  await panel.refresh();
  return panel;
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  setUpRejoin();
  // Shares are fetched only after this: persistence is asked for and the quota read before any session.
  const storage = navigator.storage as StorageManager | undefined;
  const store = new IdbShareStore();
  const panel = await setUpStorage(store, storage);
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
  const weightCacheBytes = parseWeightCacheMiB(params.get('weight-cache-mib'));
  state.weightCacheBytes = weightCacheBytes;
  $('weight-cache').textContent = describeWeightCache(weightCacheBytes);
  const session = sessionParam(params);
  if (!session) {
    setPhase('no session: open a party link from the client page, or paste one below');
    return;
  }
  panel.setSessionRunning(true);
  try {
    await runSession({ id, session, params, identity, store, storage, backend, weightCacheBytes });
  } finally {
    panel.setSessionRunning(false);
    await panel.refresh().catch(() => {});
  }
}

interface SessionContext {
  id: PartyId;
  session: string;
  params: URLSearchParams;
  identity: Identity;
  store: IdbShareStore;
  storage: StorageManager | undefined;
  backend: BackendChoice;
  weightCacheBytes: number;
}

async function runSession({ id, session, params, identity, store, storage, backend, weightCacheBytes }: SessionContext): Promise<void> {
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
  const gated = new StorageGatedChannel(audit ?? channel, {
    party: id, identity: identity.fingerprint, holds: (keys) => store.holds(keys), storage, onChecked: showManifestCheck,
  });
  // An audited session shows every message on this page, so its rounds do not bypass the page on lanes.
  const lanes = audit ? undefined : { peers: [0, 1, 2].filter((p) => p !== id), open: channel.openLane.bind(channel) };
  const party = startBrowserParty({ id, channel: gated, lanes, backend, identity: identity.fingerprint, weightCacheBytes, onStatus: showStatus });
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
