/**
 * Model owner page: `?session=<id>[&model=<url>&tokenizer=<url>][&coordinator=<url>]#secret=<slot secret>
 * [&parties=<fp0>,<fp1>,<fp2>]`. Shows this browser's safety code, loads the model from picked files or URLs,
 * joins the session and shows each party's safety code once its link is authenticated. Only after the person
 * approves the three parties (comparing each code with that party's page), or the link's pinned fingerprints
 * match, does it serve them: each party gets its own share bundle, the client the public model info. The
 * sharing is kept in this browser's IndexedDB for the same weights and the same approved parties, so those
 * parties download nothing next session; another set of parties gets a fresh sharing.
 */
import { CLIENT, OWNER, type Channel, type EndpointId, type PartyId } from '@puma/transport';
import { safetyCode, type Identity, type PeerChannel } from '@puma/transport-webrtc';
import { loadOrCreateBrowserIdentity, shareModelInWorker } from '@puma/worker/browser';
import { serveOwner, type OwnerShares, type OwnerStatus } from '@puma/worker/session';
import {
  errorText,
  expectedParties,
  formatBytes,
  joinAndConnect,
  pinnedParties,
  resolveCoordinator,
  sessionParam,
  showError,
  slotSecret,
} from '@puma/party/kit';
import { PeerLinks, approveParties, showOwnCode, type PeerLinkState } from '@puma/party/trust-ui';
import { fetchOwnerModel, loadOwnerModel, type OwnerModel } from './model-files.ts';
import { SharingKeeper, loadKeptSharing } from './owner-keep.ts';

const $ = (id: string) => document.getElementById(id) as HTMLElement;

/** What the page shows, readable by the end-to-end tests as window.pumaOwner.state. */
export interface OwnerPageState {
  phase: 'waiting' | 'connecting' | 'approving' | 'sharing' | 'serving' | 'done' | 'error';
  /** This browser's safety code and fingerprint. */
  safetyCode: string | null;
  fingerprint: string | null;
  /** Each peer's link: state and, once authenticated, its safety code. */
  links: PeerLinkState[];
  /** The parties' fingerprints once approved: the only identities that receive bundles. */
  approvedParties: string[] | null;
  modelId: string | null;
  epoch: string | null;
  /** Whether the sharing came from this browser's IndexedDB (an earlier session) rather than a fresh split. */
  sharesReused: boolean;
  /** Why the sharing is new or reused, as the page says it. */
  sharingNote: string | null;
  /** Milliseconds the fresh sharing took (in a Web Worker: split, hash, hand back); null when reused. */
  sharingMs: number | null;
  /** Share bytes sent to each party in this session. */
  shareBytesSent: number[];
  error: string | null;
}

const state: OwnerPageState = {
  phase: 'waiting',
  safetyCode: null,
  fingerprint: null,
  links: [],
  approvedParties: null,
  modelId: null,
  epoch: null,
  sharesReused: false,
  sharingNote: null,
  sharingMs: null,
  shareBytesSent: [0, 0, 0],
  error: null,
};

declare global {
  interface Window {
    pumaOwner?: { state: OwnerPageState };
  }
}
window.pumaOwner = { state };

/** Parties whose delivery is acknowledged; their line then shows the final report, not the running count. */
const partiesServed = new Set<number>();

function setPhase(phase: OwnerPageState['phase'], text: string): void {
  state.phase = phase;
  $('phase').textContent = text;
}

function fail(message: string): void {
  if (state.error !== null) return;
  state.error = message;
  setPhase('error', 'failed');
  showError($('error'), message);
}

/** Why the kept sharing cannot serve these approved parties, or null when it can (holders unset or the same). */
function holderConflict(kept: OwnerShares, approved: readonly string[]): string | null {
  const holders = kept.holders as OwnerShares['holders'] | undefined;
  if (!holders) return 'it has no record of which identities hold its bundles';
  const held = ([0, 1, 2] as const).map((p) => holders[p]);
  if (held.every((fp, p) => fp === null || fp === approved[p])) return null;
  return `it was given to other parties (${held.map((fp, p) => `party ${p} ${fp === null ? 'none yet' : safetyCode(fp)}`).join(', ')})`;
}

/**
 * The kept sharing of these weights when it was made for these parties (each in the same slot), or a fresh one
 * (new epoch), kept for next time in place of the old one.
 */
async function sharesFor(m: OwnerModel, approved: readonly string[]): Promise<OwnerShares> {
  const kept = await loadKeptSharing(m.weightsHash);
  const conflict = kept ? (kept.modelId === m.modelId ? holderConflict(kept, approved) : `it was made under the name ${kept.modelId}`) : null;
  if (kept && conflict === null) {
    state.sharesReused = true;
    state.sharingNote = `kept sharing (epoch ${kept.epoch}) reused: same weights, same approved parties`;
    // The tokenizer is public and may have been picked differently this time; the shares stay the same.
    return { ...kept, publicInfo: { ...kept.publicInfo, tokenizer: m.tokenizer } };
  }
  state.sharingNote = kept
    ? `new sharing: the kept sharing of these weights (epoch ${kept.epoch}) is not reused because ${conflict}`
    : 'new sharing: none kept for these weights';
  $('shares').textContent = state.sharingNote;
  const progress = $('progress') as HTMLProgressElement;
  const started = performance.now();
  // The split runs in a Web Worker (WebAssembly ChaCha20, sha256 per part): this page stays responsive and keeps
  // the peer links' keepalives going. The weights move to the worker; this page needs them no more.
  const shares = await shareModelInWorker({
    model: m.model,
    modelId: m.modelId,
    tokenizer: m.tokenizer,
    transferModel: true,
    onProgress: (done, total) => {
      progress.max = total;
      progress.value = done;
      $('shares').textContent = `${state.sharingNote}; splitting: ${done} of ${total} parts`;
    },
  });
  state.sharingMs = Math.round(performance.now() - started);
  return shares;
}

/** Keeps the sharing with its holders (serveOwner calls this before a new holder gets anything). */
async function keepSharing(keeper: SharingKeeper, shares: OwnerShares): Promise<void> {
  try {
    await keeper.keep(shares);
  } catch (e) {
    // Without the kept sharing the next session re-splits and the parties download again; this one still works.
    $('shares').textContent = `${state.sharingNote} (could not keep it in IndexedDB: ${errorText(e)})`;
  }
}

function showOwnerStatus(s: OwnerStatus): void {
  $('sent').textContent = formatBytes(s.bytesSent);
  if (s.phase === 'party-done' && s.party !== undefined) {
    partiesServed.add(s.party);
    $(`party-${s.party}`).textContent = s.message;
  }
  if (s.phase === 'client-done') $('client').textContent = s.message;
  if (s.phase === 'serving') setPhase('serving', s.message);
}

/**
 * Shows what has gone out to each party so far, against its whole bundle (an upper bound: parts a party has
 * cached are not sent).
 */
function startSendMeter(channel: Channel, bundleBytes: number[]): () => void {
  const progress = $('progress') as HTMLProgressElement;
  const total = bundleBytes.reduce((s, b) => s + b, 0);
  const tick = () => {
    $('sent').textContent = formatBytes(channel.stats.bytesSent);
    let sentToParties = 0;
    for (let p = 0; p < 3; p++) {
      const sent = channel.stats.bytesSentTo[p] ?? 0;
      sentToParties += sent;
      if (!partiesServed.has(p)) $(`party-${p}`).textContent = `sending: ${formatBytes(sent)} of at most ${formatBytes(bundleBytes[p])}`;
    }
    progress.max = total;
    progress.value = Math.min(total, sentToParties);
  };
  const timer = setInterval(tick, 250);
  return () => {
    clearInterval(timer);
    tick();
  };
}

interface Joining {
  identity: Identity;
  coordinator: string;
  sessionId: string;
  secret: string;
  pins: [string, string, string] | null;
}

async function serve(j: Joining, m: OwnerModel): Promise<void> {
  state.modelId = m.modelId;
  $('model').textContent = `${m.description}, id ${m.modelId}${m.tokenizer ? `, ${m.tokenizer.kind} tokenizer` : ', no tokenizer'}`;
  setPhase('connecting', 'waiting for the parties and the client to connect');
  const peers = [0, 1, 2, CLIENT];
  const channel = await joinAndConnect({ ...j, self: OWNER, peers, expectedPeers: expectedParties(j.pins) });
  // Whatever fails from here (an identity error, a refused approval) is told to the peers, which would wait otherwise.
  try {
    await approveAndServe(channel, peers, j, m);
  } catch (e) {
    channel.close(errorText(e));
    throw e;
  }
}

async function approveAndServe(channel: PeerChannel, peers: readonly EndpointId[], j: Joining, m: OwnerModel): Promise<void> {
  const links = new PeerLinks(channel, peers, $('peer-links'), () => (state.links = structuredClone(links.states)));
  state.links = structuredClone(links.states);
  await channel.ready;
  setPhase('approving', 'everyone is connected: approve the parties');
  const approvedParties = await approveParties(links, { text: $('approval-text'), button: $('approve') as HTMLButtonElement }, j.pins);
  state.approvedParties = approvedParties;
  setPhase('sharing', 'preparing the sharing for the approved parties');
  const shares = await sharesFor(m, approvedParties);
  const keeper = new SharingKeeper(m.weightsHash);
  state.epoch = shares.epoch;
  const partBytes = shares.parties.map((p) => p.parts.reduce((s, b) => s + b.byteLength, 0));
  $('shares').textContent = `${state.sharingNote}; epoch ${shares.epoch}; bundle sizes ${partBytes.map(formatBytes).join(' / ')}`;
  const stopMeter = startSendMeter(channel, partBytes);
  const report = await serveOwner({
    channel,
    shares,
    approvedParties,
    recordHolders: (holders) => keepSharing(keeper, { ...shares, holders }),
    onStatus: showOwnerStatus,
  }).finally(stopMeter);
  for (const p of report.parties) {
    state.shareBytesSent[p.party as PartyId] = p.shareBytesSent;
    $(`party-${p.party}`).textContent = `asked for ${p.partsRequested} of ${shares.parties[p.party].parts.length} parts, sent ${formatBytes(p.shareBytesSent)}`;
  }
  $('sent').textContent = formatBytes(channel.stats.bytesSent);
  setPhase('done', 'every party has its share and the client has the public model info; this page may be closed');
  links.stop();
  channel.close('the model owner has served the session');
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const identity = await loadOrCreateBrowserIdentity();
  state.fingerprint = identity.fingerprint;
  state.safetyCode = showOwnCode($('own-code'), identity);
  const sessionId = sessionParam(params);
  if (!sessionId) throw new Error('this page needs the owner link from the client page (?session=...#secret=...)');
  $('session-id').textContent = sessionId;
  const secret = slotSecret(sessionId, OWNER);
  const pins = pinnedParties();
  // Nothing is contacted before the coordinator is settled (a foreign one only after the person confirms it).
  const coordinator = await resolveCoordinator(params, $('coordinator-confirm'));
  const joining: Joining = { identity, coordinator, sessionId, secret, pins };
  let started = false;
  const start = (m: OwnerModel) => {
    if (started) return;
    started = true;
    ($('files') as HTMLInputElement).disabled = true;
    serve(joining, m).catch((e: unknown) => fail(errorText(e)));
  };
  const modelUrl = params.get('model');
  if (modelUrl) {
    setPhase('waiting', `fetching ${modelUrl}`);
    start(await fetchOwnerModel(modelUrl, params.get('tokenizer')));
    return;
  }
  const input = $('files') as HTMLInputElement;
  const pick = () => {
    const picked = Array.from(input.files ?? []);
    if (picked.length === 0) return;
    Promise.all(picked.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })))
      .then(loadOwnerModel)
      .then(start)
      .catch((e: unknown) => fail(errorText(e)));
  };
  input.addEventListener('change', pick);
  // Files picked while the page was still starting (identity, coordinator) fired their change event before this
  // listener existed; on a loaded machine that left the owner waiting forever with its files shown as picked.
  pick();
}

main().catch((e: unknown) => fail(errorText(e)));
