/**
 * Model owner page: `?session=<id>[&model=<url>&tokenizer=<url>][&coordinator=<url>]`. Loads the model from
 * picked files or URLs, splits it into the three parties' share bundles in the browser (once per model: the
 * sharing is kept in this browser's IndexedDB, so parties that cached it download nothing next session), then
 * joins the session and serves each party its own bundle and the client the public model info.
 */
import { createStore, get, set } from 'idb-keyval';
import { CLIENT, OWNER, type Channel, type PartyId } from '@puma/transport';
import { prepareOwnerShares, serveOwner, type OwnerShares, type OwnerStatus } from '@puma/worker/session';
import { coordinatorUrl, errorText, formatBytes, joinAndConnect, sessionParam, showError } from '@puma/party/kit';
import { fetchOwnerModel, loadOwnerModel, type OwnerModel } from './model-files.ts';

const $ = (id: string) => document.getElementById(id) as HTMLElement;

/** What the page shows, readable by the end-to-end tests as window.pumaOwner.state. */
export interface OwnerPageState {
  phase: 'waiting' | 'sharing' | 'connecting' | 'serving' | 'done' | 'error';
  modelId: string | null;
  epoch: string | null;
  /** Whether the sharing came from this browser's IndexedDB (an earlier session) rather than a fresh split. */
  sharesReused: boolean;
  /** Share bytes sent to each party in this session. */
  shareBytesSent: number[];
  error: string | null;
}

const state: OwnerPageState = { phase: 'waiting', modelId: null, epoch: null, sharesReused: false, shareBytesSent: [0, 0, 0], error: null };

declare global {
  interface Window {
    pumaOwner?: { state: OwnerPageState };
  }
}
window.pumaOwner = { state };

const sharesDb = createStore('puma-owner', 'shares');
/** Parties whose delivery is acknowledged; their line then shows the final report, not the running count. */
const partiesServed = new Set<number>();

function setPhase(phase: OwnerPageState['phase'], text: string): void {
  state.phase = phase;
  $('phase').textContent = text;
}

function fail(message: string): void {
  state.error = message;
  setPhase('error', 'failed');
  showError($('error'), message);
}

/** The sharing of this model from an earlier session, or a fresh one (kept for the next session). */
async function sharesFor(m: OwnerModel): Promise<OwnerShares> {
  const kept = (await get(m.modelId, sharesDb)) as OwnerShares | undefined;
  if (kept && kept.modelId === m.modelId) {
    state.sharesReused = true;
    // The tokenizer is public and may have been picked differently this time; the shares stay the same.
    return { ...kept, publicInfo: { ...kept.publicInfo, tokenizer: m.tokenizer } };
  }
  const progress = $('progress') as HTMLProgressElement;
  const shares = await prepareOwnerShares({
    model: m.model,
    modelId: m.modelId,
    tokenizer: m.tokenizer,
    onProgress: (done, total) => {
      progress.max = total;
      progress.value = done;
      $('shares').textContent = `splitting: ${done} of ${total} parts`;
    },
  });
  try {
    await set(m.modelId, shares, sharesDb);
  } catch (e) {
    // Without the kept sharing the next session re-splits and the parties download again; this one still works.
    $('shares').textContent = `could not keep the sharing in IndexedDB (${errorText(e)})`;
  }
  return shares;
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

async function serve(coordinator: string, sessionId: string, m: OwnerModel): Promise<void> {
  state.modelId = m.modelId;
  $('model').textContent = `${m.description}, id ${m.modelId}${m.tokenizer ? `, ${m.tokenizer.kind} tokenizer` : ', no tokenizer'}`;
  setPhase('sharing', 'splitting the weights into shares');
  const shares = await sharesFor(m);
  state.epoch = shares.epoch;
  const partBytes = shares.parties.map((p) => p.parts.reduce((s, b) => s + b.byteLength, 0));
  $('shares').textContent = `${state.sharesReused ? 'kept from an earlier session' : 'new'} sharing, epoch ${shares.epoch}; bundle sizes ${partBytes.map(formatBytes).join(' / ')}`;
  setPhase('connecting', 'waiting for the parties and the client to connect');
  const { channel } = await joinAndConnect(coordinator, sessionId, OWNER, [0, 1, 2, CLIENT]);
  const stopMeter = startSendMeter(channel, partBytes);
  const report = await serveOwner({ channel, shares, onStatus: showOwnerStatus }).finally(stopMeter);
  for (const p of report.parties) {
    state.shareBytesSent[p.party as PartyId] = p.shareBytesSent;
    $(`party-${p.party}`).textContent = `asked for ${p.partsRequested} of ${shares.parties[p.party].parts.length} parts, sent ${formatBytes(p.shareBytesSent)}`;
  }
  $('sent').textContent = formatBytes(channel.stats.bytesSent);
  setPhase('done', 'every party has its share and the client has the public model info; this page may be closed');
  channel.close('the model owner has served the session');
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const coordinator = coordinatorUrl(params);
  const sessionInput = $('session-id') as HTMLInputElement;
  const initial = sessionParam(params);
  if (initial) sessionInput.value = initial;
  let started = false;
  const start = (m: OwnerModel) => {
    if (started) return;
    const id = sessionInput.value.trim();
    if (!/^[0-9a-f]{32}$/.test(id)) throw new Error(`session "${id}" is not a session id (32 hex digits)`);
    started = true;
    sessionInput.disabled = true;
    ($('files') as HTMLInputElement).disabled = true;
    serve(coordinator, id, m).catch((e: unknown) => fail(errorText(e)));
  };
  const modelUrl = params.get('model');
  if (modelUrl) {
    setPhase('waiting', `fetching ${modelUrl}`);
    start(await fetchOwnerModel(modelUrl, params.get('tokenizer')));
    return;
  }
  $('files').addEventListener('change', () => {
    const picked = Array.from(($('files') as HTMLInputElement).files ?? []);
    Promise.all(picked.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })))
      .then(loadOwnerModel)
      .then(start)
      .catch((e: unknown) => fail(errorText(e)));
  });
}

main().catch((e: unknown) => fail(errorText(e)));
