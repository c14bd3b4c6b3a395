/**
 * Party programs of the model bench, run in worker threads by runInThreads: the secure generation and
 * classification programs of @puma/models/secure, wrapped to measure what the thread runner cannot.
 *
 * - Readiness: the programs load their weight shares synchronously (loadSecureModel expands PRG seeds and
 *   uploads dense parts) before their first await, so once the program has returned its promise this party is
 *   ready; it posts { readyAt }. The client sends its input only when all three are ready, so the inference
 *   time (last party done − last party ready) excludes loading, which a deployment does once per session, and
 *   no party's profile counts waiting for another party's loading.
 * - Peak memory of this party alone: V8 heap plus external memory of this thread's isolate (WebAssembly linear
 *   memory and ArrayBuffers, e.g. the received weight bundles). The runner's peakRssMiB is the whole process
 *   (all three parties, client and owner), since worker threads share one process.
 * - Progress: transformer layers completed so far, read from this party's profile ('layer i' spans).
 */
import type { Party, SpanStats } from '@puma/protocol';
import { classifyParty, generateParty, type ClassifyArgs, type GenerateArgs } from '@puma/models/secure';

export interface PartyMeasurement {
  /** Epoch milliseconds (comparable across threads): shares loaded, and program finished. */
  readyAt: number;
  doneAt: number;
  loadMs: number;
  peakPartyMiB: number;
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
  const isolateBytes = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
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

export function benchGenerate(p: Party, a: GenerateArgs, env: Env): Promise<PartyMeasurement> {
  return measured(p, env, () => generateParty(p, a, { progress: () => {} }));
}

export function benchClassify(p: Party, a: ClassifyArgs, env: Env): Promise<PartyMeasurement> {
  return measured(p, env, () => classifyParty(p, a));
}
