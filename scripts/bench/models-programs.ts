/**
 * Party programs of the model bench, run in worker threads by runInThreads: the secure generation and
 * classification programs of @puma/models/secure, wrapped to measure what the thread runner cannot.
 *
 * - Weights: streamed from this party's share store on disk (its directory of parts and its manifest, written
 *   by the owner side, models-disk-shares.ts), as a deployed party streams them: each row block is read,
 *   checked against its sha256 (OpenSSL's, as `puma party`), expanded (OpenSSL's ChaCha20) and released during
 *   the pass, the first blocks kept in the weight cache (default cap, or --weight-cache-mib). There is no
 *   loading phase: a party is ready once its store is open; it posts { readyAt }, and the client sends its
 *   input when all three are.
 * - Peak memory of this party alone: V8 heap plus external memory of this thread's isolate (WebAssembly linear
 *   memory and ArrayBuffers: the weight blocks, the activations, the KV cache), less the WebAssembly backend's
 *   GC nudges awaiting collection (never written, so never in physical memory), sampled every 50 ms and at the
 *   ends. The runner's peakRssMiB is the whole process (all three parties, client and owner), since worker
 *   threads share one process.
 * - Progress: transformer layers completed so far, read from this party's profile ('layer i' spans).
 * - Generation steps: each step's rounds, bytes and time, and where its weight handling went (store reads,
 *   sha256, waits, PRG expansion, uploads), so a generated token's cost is seen apart from the prompt's.
 */
import type { Party, SpanStats } from '@puma/protocol';
import { classifyParty, generateParty, type ClassifyArgs, type GenerateArgs, type StepReport, type WeightTimes } from '@puma/models/secure';
import { DirectoryShareStore } from '../../apps/cli/src/party-store.ts';
import { nodeWeightRead } from '../../apps/cli/src/node-weight-read.ts';
import { StoredWeightSource } from '../../packages/worker/src/session/stored-weights.ts';
import { BENCH_IDENTITY, type DiskShares } from './models-disk-shares.ts';

export interface PartyMeasurement {
  /** Epoch milliseconds (comparable across threads): shares loaded, and program finished. */
  readyAt: number;
  doneAt: number;
  loadMs: number;
  peakPartyMiB: number;
  /** Generation: each step's report with this party's weight handling during it (the source's times, differenced). */
  steps?: Array<StepReport & { weights: WeightTimes }>;
}

export type BenchProgress = { readyAt: number } | { layersDone: number };

type Env = { progress: (v: unknown) => void };

const SAMPLE_MS = 50;
const PROGRESS_MS = 250;

const epochMs = () => performance.timeOrigin + performance.now();

function layersDone(root: SpanStats): number {
  let n = 0;
  for (const [name, s] of root.children) if (name.startsWith('layer ')) n += s.calls;
  return n;
}

/** Starts `program`, reports readiness, and samples this isolate's memory and the layer progress until it ends. */
async function measured(p: Party, env: Env, program: () => Promise<unknown>): Promise<PartyMeasurement> {
  const root = p.span;
  // The WebAssembly backend's GC nudges count as external memory but are never written (no physical pages);
  // under load several await collection at once, so they are left out (backend-wasm's gcNudgeBytes).
  const nudges = () => (p.backend as { stats?: () => { gcNudgeBytes?: number } }).stats?.().gcNudgeBytes ?? 0;
  const isolateBytes = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external - nudges();
  };
  let peak = isolateBytes();
  const sampler = setInterval(() => (peak = Math.max(peak, isolateBytes())), SAMPLE_MS);
  const reporter = setInterval(() => env.progress({ layersDone: layersDone(root) } satisfies BenchProgress), PROGRESS_MS);
  const startAt = epochMs();
  try {
    const running = program();
    const readyAt = epochMs();
    peak = Math.max(peak, isolateBytes());
    env.progress({ readyAt } satisfies BenchProgress);
    await running;
    peak = Math.max(peak, isolateBytes());
    env.progress({ layersDone: layersDone(root) } satisfies BenchProgress);
    return { readyAt, doneAt: epochMs(), loadMs: readyAt - startAt, peakPartyMiB: Math.round(peak / 2 ** 20) };
  } finally {
    clearInterval(sampler);
    clearInterval(reporter);
  }
}

/** A program's arguments with the weights replaced by where this party's store is (and its weight cache's cap). */
export type OnDisk<A> = Omit<A, 'weights'> & { shares: DiskShares; weightCacheBytes?: number };

function storedWeights(d: DiskShares, weightCacheBytes: number | undefined): StoredWeightSource {
  return new StoredWeightSource(d.manifest, new DirectoryShareStore(d.dir), BENCH_IDENTITY, nodeWeightRead(weightCacheBytes));
}

/** The fields of `now` minus those of `before`: one step's share of cumulative weight times. */
function timesSince(now: WeightTimes, before: WeightTimes): WeightTimes {
  const out = { ...now };
  for (const k of Object.keys(out) as Array<keyof WeightTimes>) out[k] -= before[k];
  return out;
}

export async function benchGenerate(p: Party, a: OnDisk<GenerateArgs>, env: Env): Promise<PartyMeasurement> {
  const { shares, weightCacheBytes, ...rest } = a;
  const weights = storedWeights(shares, weightCacheBytes);
  const { times } = weights;
  const steps: Array<StepReport & { weights: WeightTimes }> = [];
  let before = { ...times };
  const onStep = (v: unknown) => {
    steps.push({ ...(v as StepReport), weights: timesSince(times, before) });
    before = { ...times };
  };
  return { ...(await measured(p, env, () => generateParty(p, { ...rest, weights }, { progress: onStep }))), steps };
}

export function benchClassify(p: Party, a: OnDisk<ClassifyArgs>, env: Env): Promise<PartyMeasurement> {
  const { shares, weightCacheBytes, ...rest } = a;
  return measured(p, env, () => classifyParty(p, { ...rest, weights: storedWeights(shares, weightCacheBytes) }));
}
