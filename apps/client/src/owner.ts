/**
 * Model owner page: `?session=<id>[&model=<url>&tokenizer=<url>][&coordinator=<url>][&skip-domain-check=1]#secret=
 * <slot secret>[&parties=<fp0>,<fp1>,<fp2>]`. Shows this browser's safety code, loads the model from picked files
 * or URLs, runs the owner's domain check on it (owner-domain.ts: a refused model is not offered unless the person
 * opts out; a passed one is shared with its norm windows), joins the session and shows each party's safety code
 * once its link is authenticated. Only after the person approves the three parties (comparing each code with that
 * party's page), or the link's pinned fingerprints match, does it serve them: each party gets its own share bundle,
 * the client the public model info. The sharing is kept in this browser's IndexedDB for the same weights, the same
 * norm windows and the same approved parties, so those parties download nothing next session; another set of
 * parties gets a fresh sharing.
 */
import type { NormWindows } from '@puma/models';
import { CLIENT, OWNER, type Channel, type EndpointId, type PartyId } from '@puma/transport';
import type { Identity, PeerChannel } from '@puma/transport-webrtc';
import { OwnerSharingWorker, loadOrCreateBrowserIdentity, type OwnerModelSource } from '@puma/worker/browser';
import { domainCheckKey, serveOwner, type OwnerDomainVerdict, type OwnerModelInfo, type OwnerStatus, type PartRef, type ResplitTiming, type SeededSharing, type WeightTransferReport } from '@puma/worker/session';
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
import { SharingKeeper, keptConflict, loadKept, type RecordedDomain } from './owner-keep.ts';
import { settleDomain, skipDomainCheckParam } from './owner-domain.ts';

const $ = (id: string) => document.getElementById(id) as HTMLElement;

/** What the page shows, readable by the end-to-end tests as window.pumaOwner.state. */
export interface OwnerPageState {
  phase: 'waiting' | 'checking' | 'refused' | 'connecting' | 'approving' | 'sharing' | 'serving' | 'done' | 'error';
  /** This browser's safety code and fingerprint. */
  safetyCode: string | null;
  fingerprint: string | null;
  /** Each peer's link: state and, once authenticated, its safety code. */
  links: PeerLinkState[];
  /** The parties' fingerprints once approved: the only identities that receive bundles. */
  approvedParties: string[] | null;
  modelId: string | null;
  /**
   * The owner's domain check: inside (with the norm windows published), refused (the model is not offered until
   * the person opts out), or skipped (?skip-domain-check=1 or that opt-out: no windows).
   */
  domainCheck: OwnerDomainVerdict | null;
  /** Why the check refused the model, kept when the person then chose to share it anyway. */
  domainRefusal: string | null;
  epoch: string | null;
  /** Whether the sharing came from this browser's IndexedDB (an earlier session) rather than a fresh split. */
  sharesReused: boolean;
  /** Why the sharing is new or reused, as the page says it. */
  sharingNote: string | null;
  /** Milliseconds the fresh sharing took (in a Web Worker: split and hash; no parts kept); null when reused. */
  sharingMs: number | null;
  /** Whether the fresh split started as soon as the model was loaded (no kept sharing of these weights). */
  sharingStartedEarly: boolean;
  /** Milliseconds from the approved parties' first hello to every party's and the client's acknowledgement. */
  serveMs: number | null;
  /**
   * Per party, once served: how long the owner waited for its acknowledgements (party-limited), for parts to be
   * made (owner-limited) and in channel.send, and the party's own report (its time waiting, hashing, storing).
   */
  transfer: Array<{ msWaitingForAcks: number; msWaitingForParts: number; msSending: number; party: WeightTransferReport } | null>;
  /** Once served: where the sharing worker's making of the sent parts went (values, split, copies). */
  partMaking: ResplitTiming | null;
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
  domainCheck: null,
  domainRefusal: null,
  epoch: null,
  sharesReused: false,
  sharingNote: null,
  sharingMs: null,
  sharingStartedEarly: false,
  serveMs: null,
  transfer: [null, null, null],
  partMaking: null,
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

/**
 * The model's sharing worker (it loaded the model from the files and holds the weights, and makes the parts
 * parties ask for) and, once started, its fresh sharing. Without a kept sharing of these weights the split starts as soon as the model is loaded,
 * while the peers connect and the person approves; with one, it waits until the approved parties show whether
 * the kept one can serve them.
 */
class OwnerSharing {
  private fresh: Promise<SeededSharing> | null = null;
  /** What this page keeps for these weights (the sharing, the domain verdict), read once. */
  readonly kept: ReturnType<typeof loadKept>;
  /** The domain check's key for this model. */
  private readonly domainKey: Promise<string>;

  constructor(readonly model: OwnerModelInfo, private readonly sharingWorker: OwnerSharingWorker) {
    this.kept = loadKept(model.weightsHash);
    this.domainKey = domainCheckKey(model);
  }

  /**
   * The owner's domain check in the worker, or its skip: settles the description split() publishes. A verdict
   * this page kept with the same weights' sharing under the same key is taken instead of running the check.
   */
  async checkDomain(o: { skip: boolean }): Promise<OwnerDomainVerdict> {
    const [{ domain }, key] = await Promise.all([this.kept, this.domainKey]);
    const recorded = !o.skip && domain?.key === key ? domain.verdict : undefined;
    return this.sharingWorker.checkDomain({ ...o, recorded });
  }

  /** The verdict to keep with the sharing (an inside or refused one, with its key), or undefined after a skip. */
  async recordedDomain(verdict: OwnerDomainVerdict | null): Promise<RecordedDomain | undefined> {
    if (!verdict || verdict.outcome === 'skipped') return undefined;
    const { recorded: _reused, ...given } = verdict;
    return { key: await this.domainKey, verdict: given };
  }

  /** Splits the model once (in the worker: WebAssembly ChaCha20, sha256 per part), keeping no part. */
  split(): Promise<SeededSharing> {
    if (this.fresh) return this.fresh;
    const progress = $('progress') as HTMLProgressElement;
    const started = performance.now();
    this.fresh = this.sharingWorker.share({
      modelId: this.model.modelId,
      tokenizer: this.model.tokenizer,
      onProgress: (done, total) => {
        progress.max = total;
        progress.value = done;
        $('shares').textContent = `splitting: ${done} of ${total} parts`;
      },
    }).then((sharing) => {
      state.sharingMs = Math.round(performance.now() - started);
      return sharing;
    });
    // Awaited by sharesFor; a failure before that is shown there.
    this.fresh.catch(() => {});
    return this.fresh;
  }

  /** Makes `refs`' parts of `seeded` (this page's fresh sharing or a kept one) in the worker; none asks nothing of it. */
  async *read(seeded: SeededSharing, refs: readonly PartRef[]): AsyncGenerator<Uint8Array> {
    if (refs.length === 0) return;
    await this.sharingWorker.useSharing(seeded);
    yield* this.sharingWorker.read(refs);
  }

  /** Where the worker's making of parts has gone so far. */
  partTiming(): Promise<ResplitTiming> {
    return this.sharingWorker.partTiming();
  }

  close(): void {
    this.sharingWorker.close();
  }
}

/**
 * The kept sharing of these weights when it was made for these parties (each in the same slot) and publishes the
 * norm windows the domain check gives now (it is deterministic, so the same weights and tokenizer give the same
 * ones), or a fresh one (new epoch), kept for next time in place of the old one.
 */
async function sharesFor(sharing: OwnerSharing, kept: SeededSharing | undefined, approved: readonly string[], windows: NormWindows | undefined): Promise<SeededSharing> {
  const m = sharing.model;
  const k = kept?.shares;
  const conflict = k ? keptConflict(k, m.modelId, approved, windows) : null;
  if (kept && conflict === null) {
    state.sharesReused = true;
    state.sharingNote = `kept sharing (epoch ${kept.shares.epoch}) reused: same weights, same norm windows, same approved parties`;
    // The tokenizer is public and may have been picked differently this time; the shares stay the same.
    return { ...kept, shares: { ...kept.shares, publicInfo: { ...kept.shares.publicInfo, tokenizer: m.tokenizer } } };
  }
  state.sharingNote = k
    ? `new sharing: the kept sharing of these weights (epoch ${k.epoch}) is not reused because ${conflict}`
    : 'new sharing: none kept for these weights';
  $('shares').textContent = state.sharingNote;
  return sharing.split();
}

/** Keeps the sharing with its holders (serveOwner calls this before a new holder gets anything). */
async function keepSharing(keeper: SharingKeeper, sharing: SeededSharing): Promise<void> {
  try {
    await keeper.keep(sharing);
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

/** Loads the model in a new sharing worker (files read and parsed there), or fails with the loader's error. */
async function loadModel(source: OwnerModelSource): Promise<OwnerSharing> {
  const worker = new OwnerSharingWorker();
  try {
    return new OwnerSharing(await worker.loadModel(source), worker);
  } catch (e) {
    worker.close();
    throw e;
  }
}

/** The owner's domain check of the loaded model, shown on the page; waits on the person when it refuses the model. */
async function checkDomain(sharing: OwnerSharing, skip: boolean): Promise<void> {
  const m = sharing.model;
  state.modelId = m.modelId;
  $('model').textContent = `${m.description}, id ${m.modelId}${m.tokenizer ? `, ${m.tokenizer.kind} tokenizer` : ', no tokenizer'}`;
  setPhase('checking', skip ? 'domain check skipped (?skip-domain-check=1)' : "checking the model against the secure functions' domains");
  await settleDomain((o) => sharing.checkDomain(o), skip, {
    summary: $('domain'),
    refusal: $('domain-refusal'),
    optOut: $('domain-opt-out'),
    optOutBox: $('domain-skip') as HTMLInputElement,
    optOutButton: $('domain-skip-confirm') as HTMLButtonElement,
  }, {
    verdict: (v) => (state.domainCheck = v),
    refused: (reason) => {
      state.domainRefusal = reason;
      setPhase('refused', 'the domain check refused the model: it is not offered');
    },
  });
}

async function serve(j: Joining, sharing: OwnerSharing): Promise<void> {
  const peers = [0, 1, 2, CLIENT];
  try {
    const kept = (await sharing.kept).sharing;
    if (!kept) {
      state.sharingStartedEarly = true;
      void sharing.split();
    }
    setPhase('connecting', 'waiting for the parties and the client to connect');
    const channel = await joinAndConnect({ ...j, self: OWNER, peers, expectedPeers: expectedParties(j.pins) });
    // Whatever fails from here (an identity error, a refused approval) is told to the peers, which would wait otherwise.
    try {
      await approveAndServe(channel, peers, j, sharing, kept);
    } catch (e) {
      channel.close(errorText(e));
      throw e;
    }
  } finally {
    sharing.close();
  }
}

async function approveAndServe(channel: PeerChannel, peers: readonly EndpointId[], j: Joining, sharing: OwnerSharing, kept: SeededSharing | undefined): Promise<void> {
  const links = new PeerLinks(channel, peers, $('peer-links'), () => (state.links = structuredClone(links.states)));
  state.links = structuredClone(links.states);
  await channel.ready;
  setPhase('approving', 'everyone is connected: approve the parties');
  const approvedParties = await approveParties(links, { text: $('approval-text'), button: $('approve') as HTMLButtonElement }, j.pins);
  state.approvedParties = approvedParties;
  setPhase('sharing', 'preparing the sharing for the approved parties');
  const verdict = state.domainCheck;
  const seeded = await sharesFor(sharing, kept, approvedParties, verdict?.outcome === 'inside' ? verdict.windows : undefined);
  const { shares } = seeded;
  const keeper = new SharingKeeper(sharing.model.weightsHash, await sharing.recordedDomain(verdict));
  state.epoch = shares.epoch;
  const partBytes = shares.parties.map((p) => p.manifest.parts.reduce((s, b) => s + b.bytes, 0));
  $('shares').textContent = `${state.sharingNote}; epoch ${shares.epoch}; bundle sizes ${partBytes.map(formatBytes).join(' / ')}` +
    (state.sharingMs === null ? '' : `; split and hashed in ${(state.sharingMs / 1000).toFixed(1)} s`);
  const stopMeter = startSendMeter(channel, partBytes);
  const started = performance.now();
  const report = await serveOwner({
    channel,
    shares,
    approvedParties,
    // Parts are made in the worker only when some party lacks them (a cached run asks for none).
    partSource: { read: (refs) => sharing.read(seeded, refs) },
    recordHolders: (holders) => keepSharing(keeper, { ...seeded, shares: { ...shares, holders } }),
    onStatus: showOwnerStatus,
  }).finally(stopMeter);
  state.serveMs = Math.round(performance.now() - started);
  state.partMaking = await sharing.partTiming();
  for (const p of report.parties) {
    state.shareBytesSent[p.party as PartyId] = p.shareBytesSent;
    state.transfer[p.party as PartyId] = { msWaitingForAcks: p.msWaitingForAcks, msWaitingForParts: p.msWaitingForParts, msSending: p.msSending, party: p.report };
    $(`party-${p.party}`).textContent = `asked for ${p.partsRequested} of ${shares.parties[p.party].manifest.parts.length} parts, sent ${formatBytes(p.shareBytesSent)}` +
      (p.partsRequested === 0 ? '' : `; waited ${(p.msWaitingForAcks / 1000).toFixed(1)} s for its acknowledgements, ${(p.msWaitingForParts / 1000).toFixed(1)} s for parts to be made`);
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
  const skipDomainCheck = skipDomainCheckParam(params);
  let started = false;
  // One model per page: the files (or URLs) go to the sharing worker, which reads and parses them there; it is
  // offered (the session joined) only once the domain check has passed it or the person chose to skip it.
  const start = (source: OwnerModelSource) => {
    if (started) return;
    started = true;
    ($('files') as HTMLInputElement).disabled = true;
    loadModel(source)
      .then(async (sharing) => {
        try {
          await checkDomain(sharing, skipDomainCheck);
        } catch (e) {
          sharing.close();
          throw e;
        }
        await serve(joining, sharing);
      })
      .catch((e: unknown) => fail(errorText(e)));
  };
  const modelUrl = params.get('model');
  if (modelUrl) {
    setPhase('waiting', `fetching ${modelUrl}`);
    const tokenizerUrl = params.get('tokenizer');
    start({ url: new URL(modelUrl, location.href).href, tokenizerUrl: tokenizerUrl && new URL(tokenizerUrl, location.href).href });
    return;
  }
  const input = $('files') as HTMLInputElement;
  const pick = () => {
    const picked = Array.from(input.files ?? []);
    if (picked.length > 0) start({ files: picked });
  };
  input.addEventListener('change', pick);
  // Files picked while the page was still starting (identity, coordinator) fired their change event before this
  // listener existed; on a loaded machine that left the owner waiting forever with its files shown as picked.
  pick();
}

main().catch((e: unknown) => fail(errorText(e)));
