/**
 * A computing party's session: keys, weights (from the cache, the rest from the owner), then the client's jobs.
 */
import { Party, setupParty } from '@puma/protocol';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { classifyParty, generateParty, type PartyWeightBundle, type StepReport } from '@puma/models/secure';
import { CLIENT, OWNER, type Channel, type PartyId } from '@puma/transport';
import { SessionGuard } from './guard.ts';
import { decodeJson, encodeJson } from './json.ts';
import { bundleFromParts, checkManifest, partKey, sha256Hex } from './shares.ts';
import type {
  JobRequest, PartySessionOptions, PartySessionReport, PartyStatus, SessionPhase, ShareStore, StepCost, WeightTransferReport,
} from './types.ts';

type Emit = (phase: SessionPhase, message: string, extra?: Partial<PartyStatus>) => void;

/**
 * A party's whole session: key setup with the other parties, its weight share from the owner (cached in
 * `store`, verified by sha256), then jobs from the client until it sends `end`. Rejects with a message naming
 * who disconnected or stopped; on failure it tells its peers and closes `channel`. On success the caller
 * closes the channel.
 */
export async function runPartySession(o: PartySessionOptions): Promise<PartySessionReport> {
  const { id, channel, backend } = o;
  const others = ([0, 1, 2] as const).filter((p) => p !== id);
  const guard = new SessionGuard(channel, [...others, CLIENT], o.signal);
  const backendName = `${backend.kind} (${backend.description})`;
  let weights: WeightTransferReport | undefined;
  const emit: Emit = (phase, message, extra = {}) =>
    o.onStatus?.({ phase, party: id, message, backend: backendName, bytesSent: channel.stats.bytesSent, bytesReceived: channel.stats.bytesReceived, weights, ...extra });
  try {
    emit('keys', 'exchanging PRG keys with the other parties');
    const keyed = await guard.run(setupParty({ id, backend, channel, fracBits: o.fracBits ?? DEFAULT_FRAC_BITS }));
    emit('weights', 'waiting for the weight manifest from the model owner');
    const fetched = await guard.run(fetchWeights(channel, id, o.store, (w, message) => {
      weights = w;
      emit('weights', message);
    }));
    weights = fetched.report;
    const bundle = fetched.bundle;
    const shared = bundle.manifest.fracBits;
    if (o.fracBits !== undefined && shared !== o.fracBits) {
      throw new Error(`the owner shared the weights with ${shared} fraction bits, this session uses ${o.fracBits}`);
    }
    // Without an explicit choice the sharing decides; the keys do not depend on it, so only the context changes.
    const party = shared === keyed.fracBits ? keyed : new Party({ id, backend, channel, keys: keyed.keys, fracBits: shared });
    emit('ready', `weights ready (${describeWeights(weights)}); waiting for the client`);
    const jobs: PartySessionReport['jobs'] = [];
    for (let n = 0; ; n++) {
      const job = parseJob(await guard.run(channel.recv(CLIENT, `job:${n}`)), bundle);
      if (job.kind === 'end') break;
      jobs.push(await guard.run(runJob(party, bundle, job, n, emit)));
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

async function runJob(p: Party, weights: PartyWeightBundle, job: Exclude<JobRequest, { kind: 'end' }>, n: number, emit: Emit): Promise<PartySessionReport['jobs'][number]> {
  if (job.kind === 'classify') {
    emit('running', `job ${n}: classifying ${job.length} tokens`, { job: { index: n, kind: 'classify', step: 0, steps: 1, msPerStep: 0, rounds: 0 } });
    const t0 = performance.now();
    const r0 = p.rounds;
    const b0 = p.channel.stats.bytesSent;
    await classifyParty(p, { job: n, weights, length: job.length });
    const cost: StepCost = { step: 0, rounds: p.rounds - r0, bytesSent: p.channel.stats.bytesSent - b0, ms: performance.now() - t0 };
    p.channel.send(CLIENT, `cost:${n}:0`, encodeJson(cost));
    emit('running', `job ${n}: classified in ${cost.ms.toFixed(0)} ms`, { job: { index: n, kind: 'classify', step: 1, steps: 1, msPerStep: cost.ms, rounds: cost.rounds } });
    return { kind: 'classify', steps: [cost] };
  }
  emit('running', `job ${n}: generating ${job.maxNewTokens} tokens after a ${job.promptLength}-token prompt`, {
    job: { index: n, kind: 'generate', step: 0, steps: job.maxNewTokens, msPerStep: 0, rounds: 0 },
  });
  const steps = await generateParty(p, { job: n, weights, promptLength: job.promptLength, maxNewTokens: job.maxNewTokens, reveal: job.reveal }, {
    progress: (v) => {
      const r = v as StepReport;
      p.channel.send(CLIENT, `cost:${n}:${r.step}`, encodeJson(r satisfies StepCost));
      emit('running', `job ${n}: token ${r.step + 1} of ${job.maxNewTokens} in ${r.ms.toFixed(0)} ms, ${r.rounds} rounds, ${r.bytesSent} bytes sent`, {
        job: { index: n, kind: 'generate', step: r.step + 1, steps: job.maxNewTokens, msPerStep: r.ms, rounds: r.rounds },
      });
    },
  });
  return { kind: 'generate', steps };
}

/** Validates a job header against the model; throws naming the problem. */
function parseJob(bytes: Uint8Array, weights: PartyWeightBundle): JobRequest {
  const j = decodeJson(bytes, 'job header from the client') as Record<string, unknown>;
  const c = weights.manifest.config;
  const int = (v: unknown, what: string, min: number, max: number): number => {
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) throw new Error(`job header from the client: ${what} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return v as number;
  };
  if (j.kind === 'end') return { kind: 'end' };
  if (j.kind === 'generate') {
    if (!c.causal) throw new Error(`job header from the client asks to generate, but ${weights.manifest.modelId} is not a causal language model`);
    const promptLength = int(j.promptLength, 'promptLength', 1, c.maxPositions);
    const maxNewTokens = int(j.maxNewTokens, 'maxNewTokens', 1, c.maxPositions - promptLength);
    if (j.reveal !== 'logits' && j.reveal !== 'argmax') throw new Error(`job header from the client: reveal must be "logits" or "argmax", got ${JSON.stringify(j.reveal)}`);
    return { kind: 'generate', promptLength, maxNewTokens, reveal: j.reveal };
  }
  if (j.kind === 'classify') {
    if (c.numLabels === 0) throw new Error(`job header from the client asks to classify, but ${weights.manifest.modelId} has no classifier head`);
    return { kind: 'classify', length: int(j.length, 'length', 1, c.maxPositions) };
  }
  throw new Error(`job header from the client has unknown kind ${JSON.stringify(j.kind)}`);
}

/**
 * Receives the manifest, takes every part the store holds with the right sha256, asks the owner for the
 * rest, verifies and stores those. A cached part that fails its hash is deleted and fetched again, never used.
 */
async function fetchWeights(
  channel: Channel,
  id: PartyId,
  store: ShareStore,
  progress: (w: WeightTransferReport, message: string) => void,
): Promise<{ bundle: PartyWeightBundle; report: WeightTransferReport }> {
  const manifest: unknown = decodeJson(await channel.recv(OWNER, 'w:manifest'), 'share manifest from the model owner');
  checkManifest(manifest, id);
  const key = (k: number) => partKey(manifest.modelId, manifest.epoch, id, manifest.parts[k].tensor, manifest.parts[k].part);
  const report: WeightTransferReport = {
    partsTotal: manifest.parts.length, cacheHits: 0, corruptParts: 0, partsFetched: 0, shareBytesDownloaded: 0, cacheWriteFailures: 0,
  };
  const parts: Uint8Array[] = new Array(manifest.parts.length);
  const missing: number[] = [];
  for (const [k, info] of manifest.parts.entries()) {
    const cached = await store.get(key(k));
    if (cached === undefined) {
      missing.push(k);
    } else if (cached.byteLength === info.bytes && (await sha256Hex(cached)) === info.sha256) {
      parts[k] = cached;
      report.cacheHits += 1;
    } else {
      report.corruptParts += 1;
      await store.delete?.(key(k));
      missing.push(k);
    }
  }
  progress(report, `model ${manifest.modelId}: ${report.cacheHits} of ${report.partsTotal} parts cached` +
    (report.corruptParts ? ` (${report.corruptParts} corrupt, refetching)` : '') + `, fetching ${missing.length}`);
  channel.send(OWNER, 'w:want', encodeJson({ parts: missing }));
  for (const k of missing) {
    const info = manifest.parts[k];
    const bytes = await channel.recv(OWNER, `w:part:${k}`);
    if (bytes.byteLength !== info.bytes || (await sha256Hex(bytes)) !== info.sha256) {
      throw new Error(`share part ${info.tensor}/${info.part} from the model owner does not match its sha256 in the manifest`);
    }
    parts[k] = bytes;
    report.partsFetched += 1;
    report.shareBytesDownloaded += bytes.byteLength;
    try {
      await store.set(key(k), bytes);
    } catch {
      // A full or unavailable cache costs a download next time, not this session.
      report.cacheWriteFailures += 1;
    }
    progress(report, `fetched ${report.partsFetched} of ${missing.length} parts (${report.shareBytesDownloaded} bytes)`);
  }
  channel.send(OWNER, 'w:done', encodeJson(report));
  return { bundle: bundleFromParts(manifest, parts), report };
}
