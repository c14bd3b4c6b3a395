/**
 * Party programs of the model bench, run in worker threads by runInThreads: the secure generation and
 * classification programs of @puma/models/secure, wrapped to measure what the thread runner cannot.
 *
 * - Inference time excludes loading the weight shares into the backend (PRG expansion and upload), which a
 *   deployment does once per session: generation sums generateParty's per-step times; classification times
 *   receiveInput .. revealToClient itself, after loadSecureModel.
 * - Peak memory of this party alone: V8 heap plus external memory of this thread's isolate (WebAssembly linear
 *   memory and ArrayBuffers, e.g. the received weight bundles). The runner's peakRssMiB is the whole process
 *   (all three parties, client and owner), since worker threads share one process.
 * - Progress: transformer layers completed so far, read from this party's profile ('layer i' spans).
 */
import { receiveInput, revealToClient, type Party, type SpanStats } from '@puma/protocol';
import { CLIENT } from '@puma/transport';
import {
  generateParty, loadSecureModel, secureClassifierLogits, secureHidden, type ClassifyArgs, type GenerateArgs,
} from '@puma/models/secure';

export interface PartyMeasurement {
  inferenceMs: number;
  loadMs: number;
  peakPartyMiB: number;
}

export interface LayerProgress {
  layersDone: number;
}

type Env = { progress: (v: unknown) => void };

const SAMPLE_MS = 50;
const PROGRESS_MS = 250;

function layersDone(root: SpanStats): number {
  let n = 0;
  for (const [name, s] of root.children) if (name.startsWith('layer ')) n += s.calls;
  return n;
}

/** Runs `body` while sampling this isolate's memory and reporting layer progress. */
async function measured(p: Party, env: Env, body: () => Promise<{ inferenceMs: number }>): Promise<PartyMeasurement> {
  const root = p.span;
  const isolateBytes = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  let peak = isolateBytes();
  const sampler = setInterval(() => (peak = Math.max(peak, isolateBytes())), SAMPLE_MS);
  const reporter = setInterval(() => env.progress({ layersDone: layersDone(root) } satisfies LayerProgress), PROGRESS_MS);
  const t0 = performance.now();
  try {
    const { inferenceMs } = await body();
    peak = Math.max(peak, isolateBytes());
    env.progress({ layersDone: layersDone(root) } satisfies LayerProgress);
    return { inferenceMs, loadMs: performance.now() - t0 - inferenceMs, peakPartyMiB: Math.round(peak / 2 ** 20) };
  } finally {
    clearInterval(sampler);
    clearInterval(reporter);
  }
}

export function benchGenerate(p: Party, a: GenerateArgs, env: Env): Promise<PartyMeasurement> {
  return measured(p, env, async () => {
    const steps = await generateParty(p, a, { progress: () => {} });
    return { inferenceMs: steps.reduce((s, r) => s + r.ms, 0) };
  });
}

export function benchClassify(p: Party, a: ClassifyArgs, env: Env): Promise<PartyMeasurement> {
  return measured(p, env, async () => {
    const m = loadSecureModel(p, a.weights);
    const t0 = performance.now();
    const x = await receiveInput(p, CLIENT, 'tok:0', [a.length, m.config.vocabSize]);
    const h = await secureHidden(p, m, x, 0, null);
    await revealToClient(p, await secureClassifierLogits(p, m, h), 'logits:0');
    return { inferenceMs: performance.now() - t0 };
  });
}
