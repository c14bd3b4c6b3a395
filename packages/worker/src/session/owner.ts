/**
 * The model owner's side of a session: each party gets its own manifest and only the parts it asks for; the
 * client gets the public model info. No party is ever sent another party's parts, a bundle goes only to the
 * endpoint whose link proved the identity the owner approved for that slot, and the bundles of one sharing
 * only ever go to one set of identities (OwnerShares.holders).
 */
import { CLIENT, type Channel, type PartyId } from '@puma/transport';
import { SessionGuard } from './guard.ts';
import { decodeJson, encodeJson } from './json.ts';
import { encodePublicInfo } from './public-info.ts';
import { checkPeerIdentity, checkRoster, shortFingerprint, type Roster } from './roster.ts';
import type { OwnerPartSource, OwnerReport, OwnerServeOptions, OwnerShares, OwnerStatus, PartRef, PartyShares, WeightTransferReport } from './types.ts';

const SLOTS = [0, 1, 2] as const;
/**
 * Parts (8 MiB each) in flight per party by default: enough to keep a link busy while the party verifies and
 * stores the parts before them, few enough that the owner and the link hold tens of MB, not the sharing.
 */
export const OWNER_WINDOW_PARTS = 6;

/**
 * Why `shares` cannot be served to `approvedParties`, or null when it can. A sharing's bundles go to one set of
 * identities only: serving another set (or the same identities in other slots) needs a fresh sharing (new
 * epoch), since an identity holding two slots' bundles, or two colluding holders of different sessions, would
 * hold every component of the weights. Callers check before serving and re-share instead.
 */
export function sharingConflict(shares: OwnerShares, approvedParties: readonly [string, string, string]): string | null {
  const approved = checkRoster(approvedParties, 'approved parties');
  const holders = shares.holders as OwnerShares['holders'] | undefined;
  if (!holders) {
    return `sharing ${shares.epoch} of ${shares.modelId} has no record of which identities hold its bundles (made before holder records); serve a fresh sharing (new epoch)`;
  }
  for (const p of SLOTS) {
    const held = holders[p];
    if (held === null || held === approved[p]) continue;
    const other = approved.indexOf(held);
    if (other >= 0) {
      return `identity ${shortFingerprint(held)} already holds party ${p}'s bundle of sharing ${shares.epoch} and may not get party ${other}'s too ` +
        `(one identity never holds two parties' shares of one sharing); serving this set of parties needs a fresh sharing (new epoch)`;
    }
    return `party ${p}'s bundle of sharing ${shares.epoch} is held by ${shortFingerprint(held)}, not by the approved ${shortFingerprint(approved[p])}; ` +
      'serving a different set of parties needs a fresh sharing (new epoch)';
  }
  return null;
}

/**
 * Serves one session: each party gets its manifest (with the approved roster) and then only the parts it
 * lacks, the client gets the public model info. Resolves when every endpoint has acknowledged. Call it again
 * with the same `shares` and the same approved parties on a new channel for the next session (reloaded
 * pages): parties with valid caches then download nothing. On failure the served endpoints are told why.
 * Parts go out tensor by tensor to all parties that want them, at most `windowParts` unacknowledged per party,
 * so an owner whose part source makes them on demand holds only the parts in flight.
 */
export async function serveOwner(o: OwnerServeOptions): Promise<OwnerReport> {
  const { channel, shares } = o;
  const parties = o.parties ?? SLOTS;
  const serveClient = o.client ?? true;
  const windowParts = o.windowParts ?? OWNER_WINDOW_PARTS;
  if (!Number.isInteger(windowParts) || windowParts < 1) throw new Error(`model owner: windowParts must be a positive integer, got ${windowParts}`);
  const emit = (phase: OwnerStatus['phase'], message: string, extra: Partial<OwnerStatus> = {}) =>
    o.onStatus?.({ phase, message, bytesSent: channel.stats.bytesSent, ...extra });
  const approved = checkRoster(o.approvedParties, 'model owner: approved parties');
  const conflict = sharingConflict(shares, approved);
  if (conflict) throw new Error(`model owner: ${conflict}`);
  for (const p of parties) {
    const share = shares.parties[p];
    if (share?.manifest.party !== p) throw new Error(`model owner: the shares hold no share for party ${p}`);
    if (!o.partSource && share.parts.length !== share.manifest.parts.length) {
      throw new Error(`model owner: party ${p}'s share holds ${share.parts.length} of its ${share.manifest.parts.length} parts and no part source was given`);
    }
  }
  const source = o.partSource ?? heldParts(shares);
  const guard = new SessionGuard(channel, serveClient ? [...parties, CLIENT] : parties);
  const recorder = holderRecorder(o);
  emit('serving', `serving ${shares.modelId} (epoch ${shares.epoch}) to ${parties.map((p) => `party ${p}`).join(', ')}${serveClient ? ' and the client' : ''}`);
  try {
    const client = serveClient ? servePublicInfo(channel, shares.publicInfo).then((bytes) => {
      emit('client-done', `client has the public model info (${bytes} bytes)`);
      return bytes;
    }) : Promise.resolve(0);
    const partiesServed = (async () => {
      const wants = await Promise.all(parties.map(async (p) => {
        await admitParty(channel, p, approved, shares, recorder);
        return { party: p, parts: await partsWanted(channel, p, shares.parties[p], approved) };
      }));
      const sent = await sendParts(channel, shares, wants, source, windowParts);
      return Promise.all(wants.map(async ({ party: p, parts }) => {
        const report = decodeJson(await channel.recv(p, 'w:done'), `weights report from party ${p}`) as WeightTransferReport;
        const r = { party: p, partsRequested: parts.length, shareBytesSent: sent.bytes[p], report, msWaitingForAcks: Math.round(sent.msWaitingForAcks[p]), msWaitingForParts: Math.round(sent.msWaitingForParts), msSending: Math.round(sent.msSending[p]) };
        emit('party-done', `party ${p}: sent ${r.partsRequested} of ${shares.parties[p].manifest.parts.length} parts (${r.shareBytesSent} bytes)`, { party: p });
        return r;
      }));
    })();
    const [served, publicInfoBytes] = await guard.run(Promise.all([partiesServed, client]));
    guard.finish();
    emit('done', `session served: ${served.reduce((s, r) => s + r.shareBytesSent, 0)} share bytes sent`);
    return { parties: served, publicInfoBytes };
  } catch (e) {
    const err = guard.fail(e);
    emit('error', err.message, { error: err.message });
    throw err;
  }
}

/**
 * Records holders through `recordHolders` one call at a time, each with a copy of the holders as they are
 * when it is called, so a slower earlier call can never overwrite a later, fuller record.
 */
function holderRecorder(o: OwnerServeOptions): (holders: OwnerShares['holders']) => Promise<void> {
  let last: Promise<void> = Promise.resolve();
  return (holders) => {
    const snapshot = { ...holders };
    const call = last.then(() => o.recordHolders?.(snapshot));
    last = call.catch(() => {});
    return call;
  };
}

/**
 * Waits for party p's hello (its link is then up and, on authenticated channels, proven), checks the identity
 * its link proved against the approved one and records it as the holder of slot p. Throws before p is sent
 * anything when the identity is not the approved one.
 */
async function admitParty(
  channel: Channel, p: PartyId, approved: Roster, shares: OwnerShares, record: (holders: OwnerShares['holders']) => Promise<void>,
): Promise<void> {
  await channel.recv(p, 'w:hello');
  checkPeerIdentity(channel, p, approved[p]);
  const holders = shares.holders;
  for (const q of SLOTS) {
    if (q !== p && holders[q] === approved[p]) {
      throw new Error(`identity ${shortFingerprint(approved[p])} already holds party ${q}'s bundle of sharing ${shares.epoch}; it may not get party ${p}'s too`);
    }
  }
  if (holders[p] === null) {
    holders[p] = approved[p];
    await record(holders);
  } else if (holders[p] !== approved[p]) {
    throw new Error(`party ${p}'s bundle of sharing ${shares.epoch} is held by ${shortFingerprint(holders[p]!)}, not by ${shortFingerprint(approved[p])}`);
  }
}

async function servePublicInfo(channel: Channel, info: OwnerServeOptions['shares']['publicInfo']): Promise<number> {
  const bytes = encodePublicInfo(info);
  channel.send(CLIENT, 'public', bytes);
  await channel.recv(CLIENT, 'public:ok');
  return bytes.byteLength;
}

/** Sends party p its manifest and returns the parts it asks for (checked against the manifest). */
async function partsWanted(channel: Channel, p: PartyId, share: PartyShares, approved: Roster): Promise<number[]> {
  channel.send(p, 'w:manifest', encodeJson({ ...share.manifest, parties: approved }));
  const want = decodeJson(await channel.recv(p, 'w:want'), `parts request from party ${p}`) as { parts?: unknown };
  const list = want.parts;
  const count = share.manifest.parts.length;
  if (!Array.isArray(list) || !list.every((k) => Number.isInteger(k) && k >= 0 && k < count) || new Set(list).size !== list.length) {
    throw new Error(`party ${p} asked for an invalid list of parts (the manifest has ${count})`);
  }
  return list as number[];
}

/** The parts a sharing holds in memory, as a part source. */
function heldParts(shares: OwnerShares): OwnerPartSource {
  return {
    async *read(refs) {
      for (const r of refs) yield shares.parties[r.party].parts[r.index];
    },
  };
}

/**
 * Every wanted part in send order. Each party's parts go in its manifest order, the order it receives them in
 * (party-weights.ts): with a window, any other order would leave the party waiting for a part held back behind
 * parts it cannot take yet. Party 0 (seeds only: bytes each, made without a split) goes first, so it is not
 * paced by the others' dense parts; then parties 1 and 2 tensor by tensor, each dense part to one right after
 * the other, so they take it at about the same time and a source that makes parts makes it once.
 */
export function sendOrder(shares: OwnerShares, wants: ReadonlyArray<{ party: PartyId; parts: readonly number[] }>): PartRef[] {
  const tensorIndex = new Map(shares.parties[0].manifest.tensors.map((t, i) => [t.name, i]));
  const refs = wants.flatMap(({ party, parts }) => [...parts].sort((a, b) => a - b).map((index) => ({ party, index })));
  // Within a tensor: the seeds parts, then dense.0 of each party, dense.1 of each, ... (a manifest's order per party).
  const key = (r: PartRef) => {
    if (r.party === 0) return -1;
    const info = shares.parties[r.party].manifest.parts[r.index];
    return tensorIndex.get(info.tensor)! * 2 ** 24 + (info.part === 'seeds' ? 0 : 1 + Number(info.part.slice('dense.'.length)));
  };
  // Stable: within one key, parties stay in the order given and each party's parts in manifest order.
  return refs.map((r, i) => ({ r, i, k: key(r) })).sort((a, b) => a.k - b.k || a.i - b.i).map((x) => x.r);
}

interface SendFigures {
  bytes: Record<PartyId, number>;
  /** Per party: time the send loop waited for that party's acknowledgements (its window was full). */
  msWaitingForAcks: Record<PartyId, number>;
  /** Time the send loop waited for the source to make the next part. */
  msWaitingForParts: number;
  /** Per party: time spent in channel.send for its parts. */
  msSending: Record<PartyId, number>;
}

/**
 * Sends every wanted part from the source, holding at most `windowParts` unacknowledged parts per party: before
 * the next part for a full party, it waits for that party's oldest `w:got:<k>`. Ends when every sent part is
 * acknowledged.
 */
async function sendParts(
  channel: Channel, shares: OwnerShares, wants: ReadonlyArray<{ party: PartyId; parts: readonly number[] }>, source: OwnerPartSource, windowParts: number,
): Promise<SendFigures> {
  const refs = sendOrder(shares, wants);
  const figures: SendFigures = { bytes: { 0: 0, 1: 0, 2: 0 }, msWaitingForAcks: { 0: 0, 1: 0, 2: 0 }, msWaitingForParts: 0, msSending: { 0: 0, 1: 0, 2: 0 } };
  const unacknowledged: Record<PartyId, number[]> = { 0: [], 1: [], 2: [] };
  const acknowledged = async (p: PartyId) => {
    const k = unacknowledged[p].shift()!;
    await channel.recv(p, `w:got:${k}`);
  };
  let i = 0;
  let asked = performance.now();
  for await (const bytes of source.read(refs)) {
    figures.msWaitingForParts += performance.now() - asked;
    const { party: p, index: k } = refs[i++] ?? {};
    if (p === undefined) throw new Error(`model owner: the part source gave more than the ${refs.length} parts asked for`);
    const info = shares.parties[p].manifest.parts[k];
    if (bytes.byteLength !== info.bytes) throw new Error(`model owner: the part source gave ${bytes.byteLength} bytes for party ${p}'s part ${info.tensor}/${info.part}, the manifest says ${info.bytes}`);
    const waitFrom = performance.now();
    while (unacknowledged[p].length >= windowParts) await acknowledged(p);
    figures.msWaitingForAcks[p] += performance.now() - waitFrom;
    const sendFrom = performance.now();
    channel.send(p, `w:part:${k}`, bytes);
    figures.msSending[p] += performance.now() - sendFrom;
    unacknowledged[p].push(k);
    figures.bytes[p] += bytes.byteLength;
    asked = performance.now();
  }
  if (i !== refs.length) throw new Error(`model owner: the part source ended after ${i} of the ${refs.length} parts asked for`);
  for (const p of SLOTS) {
    const waitFrom = performance.now();
    while (unacknowledged[p].length > 0) await acknowledged(p);
    figures.msWaitingForAcks[p] += performance.now() - waitFrom;
  }
  return figures;
}
