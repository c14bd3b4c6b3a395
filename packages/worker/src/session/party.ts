/**
 * A computing party's session: the owner's manifest and roster, identity checks, keys, weights (from the
 * cache, the rest from the owner), then the client's jobs.
 */
import type { Backend } from '@puma/backend';
import { setupParty } from '@puma/protocol';
import { CLIENT, OWNER, type PartyId } from '@puma/transport';
import { SessionGuard } from './guard.ts';
import { decodeJson } from './json.ts';
import { confirmHeader, parseJob, runJob, type Emit } from './party-jobs.ts';
import { fetchWeights } from './party-weights.ts';
import { checkFingerprint, checkPeersIfAuthenticated, shortFingerprint, type Roster } from './roster.ts';
import { checkManifest } from './shares.ts';
import { StepWatch, checkStepTimeout, trackReceives, type TrackedChannel } from './step-watch.ts';
import { bindStore } from './store-binding.ts';
import type { PartyShareManifest, PartySessionOptions, PartySessionReport, WeightTransferReport } from './types.ts';

/**
 * A party's whole session. Order matters for trust: the manifest first (it carries the owner's roster), then
 * this party's own roster entry and the identities the other parties proved on their links, then the share
 * store's binding; only then the PRG key exchange and the request for parts. Jobs follow until the client
 * sends `end`; each job header is confirmed among the parties and each step has a deadline. Rejects with a
 * message naming who disconnected, stopped or mismatched; on failure it tells its peers and closes the
 * channel. On success the caller closes the channel.
 */
export async function runPartySession(o: PartySessionOptions): Promise<PartySessionReport> {
  const { id } = o;
  const channel = trackReceives(o.channel);
  const others = ([0, 1, 2] as const).filter((p) => p !== id);
  const guard = new SessionGuard(channel, [...others, CLIENT, OWNER], o.signal);
  const describe = (b: Backend) => `${b.kind} (${b.description})`;
  let backendName = typeof o.backend === 'function' ? 'chosen once the manifest names the model' : describe(o.backend);
  let weights: WeightTransferReport | undefined;
  const emit: Emit = (phase, message, extra = {}) =>
    o.onStatus?.({ phase, party: id, message, backend: backendName, bytesSent: channel.stats.bytesSent, bytesReceived: channel.stats.bytesReceived, weights, ...extra });
  try {
    const identity = checkFingerprint(o.identity, `party ${id}: its own identity`);
    const stepTimeoutMs = checkStepTimeout(o.stepTimeoutMs);
    emit('weights', 'waiting for the weight manifest from the model owner');
    const manifest = await guard.run(receiveManifest(channel, id, o.fracBits));
    const roster = manifest.parties!;
    if (roster[id] !== identity) {
      throw new Error(`peer identity error: the model owner approved ${shortFingerprint(roster[id])} as party ${id}, but this party is ${shortFingerprint(identity)}`);
    }
    emit('keys', 'checking the other parties\' identities');
    await guard.run(greetParties(channel, id, roster));
    const cacheable = await guard.run(bindStore(o.store, manifest.modelId, manifest.epoch, id, identity));
    let backend: Backend;
    if (typeof o.backend === 'function') {
      emit('keys', `choosing the backend on the shapes of ${manifest.modelId}`);
      backend = await guard.run(o.backend(manifest.config));
    } else {
      backend = o.backend;
    }
    backendName = describe(backend);
    emit('keys', 'exchanging PRG keys with the other parties');
    const party = await guard.run(setupParty({ id, backend, channel, fracBits: manifest.fracBits }));
    const fetched = await guard.run(fetchWeights(manifest, {
      channel, id, identity, store: o.store, cacheable, read: o.weightRead,
      progress: (w, message) => {
        weights = w;
        emit('weights', message);
      },
    }));
    weights = fetched.report;
    const shares = fetched.weights;
    channel.send(CLIENT, 'ready', new Uint8Array(0));
    emit('ready', `weights ready (${describeWeights(weights)}); waiting for the client`);
    const jobs: PartySessionReport['jobs'] = [];
    for (let n = 0; ; n++) {
      const header = await guard.run(channel.recv(CLIENT, `job:${n}`));
      const watch = new StepWatch(n, stepTimeoutMs, channel, (e) => guard.fail(e));
      try {
        await guard.run(confirmHeader(channel, id, n, header));
        const job = parseJob(header, n, shares, { id, roster, channel });
        if (job.kind === 'end') break;
        jobs.push(await guard.run(runJob(party, shares, job, n, emit, watch)));
      } finally {
        watch.stop();
      }
    }
    guard.finish();
    emit('done', `session over after ${jobs.length} job(s)`);
    return { weights, jobs, bytesSent: channel.stats.bytesSent, bytesReceived: channel.stats.bytesReceived, backend: backendName };
  } catch (e) {
    const err = guard.fail(e);
    emit('error', err.message, { error: err.message });
    throw err;
  }
}

function describeWeights(w: WeightTransferReport): string {
  const corrupt = w.corruptParts ? `, ${w.corruptParts} corrupt in the cache` : '';
  return `${w.cacheHits} of ${w.partsTotal} parts from the cache${corrupt}, ${w.partsFetched} fetched (${w.shareBytesDownloaded} bytes)`;
}

/**
 * Says hello to the owner (its link is then up, so the owner can check the identity it proved) and takes the
 * manifest. Its fraction bits must agree with an explicit choice; by default the session takes the sharing's.
 */
async function receiveManifest(channel: TrackedChannel, id: PartyId, fracBits: number | undefined): Promise<PartyShareManifest> {
  channel.send(OWNER, 'w:hello', new Uint8Array(0));
  const manifest: unknown = decodeJson(await channel.recv(OWNER, 'w:manifest'), 'share manifest from the model owner');
  checkManifest(manifest, id, { parties: 'required' });
  if (fracBits !== undefined && manifest.fracBits !== fracBits) {
    throw new Error(`the owner shared the weights with ${manifest.fracBits} fraction bits, this session uses ${fracBits}`);
  }
  return manifest;
}

/**
 * One empty message each way with the other two parties, so both links are up (authenticated channels deliver
 * nothing before a link proved its identity), then each peer's proven identity is checked against the roster.
 * Nothing secret is sent before.
 */
async function greetParties(channel: TrackedChannel, id: PartyId, roster: Roster): Promise<void> {
  const others = ([0, 1, 2] as const).filter((p) => p !== id);
  for (const q of others) channel.send(q, 'id:hello', new Uint8Array(0));
  await Promise.all(others.map((q) => channel.recv(q, 'id:hello')));
  checkPeersIfAuthenticated(channel, roster, others);
}
