/**
 * One model-bench workload in this process (started by models.ts, one process per workload so that peak
 * memory and failures belong to one workload): the float64 reference, the owner's weight sharing onto disk
 * (one directory store per party in a temporary folder, removed at the end), then the three parties in worker
 * threads, each streaming its weights from its store, with the client in this thread. Prints the result as one
 * JSON line on stdout; progress goes to stderr.
 *
 * usage: node --import tsx scripts/bench/models-run.ts <workload id> [layers of a shape-only workload] [--weight-cache-mib=N]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { argmax, classifierLogits, DecoderSession, forwardHidden, namedTensors, publishCheckedModel, type Model, type ModelConfig } from '@puma/models';
import { generateClient, greedy, classifyClient, type ClientStep } from '@puma/models/secure';
import { runInThreads } from '@puma/worker';
import { breakdownByClass, breakdownByLayer, elementCounts, type Cost, type OpClass, type Pass, type ProfileNode } from './models-analysis.ts';
import { shareModelToDisk, type DiskShares } from './models-disk-shares.ts';
import { extrapolateLayers, prepareShape, type Extrapolation } from './models-llama7b.ts';
import type { BenchProgress, PartyMeasurement } from './models-programs.ts';
import { planFor, type PlanFigures } from './models-plan.ts';
import { WORKLOADS, type Workload } from './models-workloads.ts';

export interface WorkloadResult {
  id: string;
  size: string;
  weights: string;
  model: { layers: number; hidden: number; heads: number; vocab: number; intermediate: number; parameters: number };
  tokens: number;
  newTokens: number;
  /** From the moment the last party has its weights loaded (the client sends its input then) to the last party done. */
  wallMs: number;
  plaintextMs: number;
  bytesPerParty: [number, number, number];
  busiestParty: 0 | 1 | 2;
  rounds: number;
  inferenceMsPerParty: number[];
  loadMsPerParty: number[];
  peakPartyMiB: number[];
  /** Peak resident memory of the whole process (three parties, client, owner), from the kernel. */
  processPeakRssMiB: number;
  prepareMs: number;
  shareMs: number;
  completionMs: number;
  breakdown: Record<OpClass, Cost>;
  byLayer: Array<{ name: string } & Cost>;
  elements: { gelu: number; softmax: number; norm: number };
  check: { tokensMatching?: string; maxLogitError: number };
  /** What `puma plan` estimates for this workload from the shapes alone. */
  plan: PlanFigures;
  /** Bytes of share parts the owner wrote to the three parties' stores (each party streams its own). */
  shareBytesOnDisk: number;
  /** Shape-only workloads run k of the model's layers: the whole model extrapolated per layer. */
  extrapolation?: Extrapolation;
  /**
   * Generation: when the client had each token, in ms from the moment all parties were ready (the first is the
   * prompt's pass), and each party's steps with their weight handling (models-programs.ts).
   */
  tokenAtMs?: number[];
  stepsPerParty?: Array<NonNullable<PartyMeasurement['steps']>>;
}

const PROGRAMS = new URL('./models-programs.ts', import.meta.url).href;

interface Reference {
  ms: number;
  /** Logits per generated token (generation) or the class logits. */
  logits: Float64Array[];
  tokens: number[];
}

function plaintextReference(w: Workload, model: Model, ids: number[]): Reference {
  const t0 = performance.now();
  if (w.kind === 'classify') {
    const logits = classifierLogits(model, forwardHidden(model, ids));
    return { ms: performance.now() - t0, logits: [logits], tokens: [] };
  }
  const session = new DecoderSession(model, ids.length + w.newTokens);
  const logits = [session.prefill(ids)];
  const tokens = [argmax(logits[0])];
  while (tokens.length < w.newTokens) {
    logits.push(session.step(tokens[tokens.length - 1]));
    tokens.push(argmax(logits[logits.length - 1]));
  }
  return { ms: performance.now() - t0, logits, tokens };
}

const maxAbsDiff = (a: Float64Array, b: Float64Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

function passesOf(w: Workload, tokens: number): Pass[] {
  if (w.kind === 'classify') return [{ rows: tokens, keys: tokens }];
  return Array.from({ length: w.newTokens }, (_, s) => (s === 0 ? { rows: tokens, keys: tokens } : { rows: 1, keys: tokens + s }));
}

/** A workload ready to run: its shares on disk, and the float64 reference where there is a model. */
export interface Prepared {
  c: ModelConfig;
  ids: number[];
  weights: string;
  parameters: number;
  ref: Reference | null;
  prepareMs: number;
  shareMs: number;
  shares: DiskShares[];
  shareBytesOnDisk: number;
}

/**
 * Builds the model, runs the float64 reference and shares the weights onto disk. The plaintext model is not
 * returned, so it can be collected before the parties run.
 */
async function prepareAndShare(w: Workload, bar: cliProgress.SingleBar, tStart: number, root: string): Promise<Prepared> {
  const { model: built, ids, weights } = await w.prepare();
  // The owner's domain check and its norm windows, as puma share runs them (models domain-publish.ts), here on the
  // check's default ids (no tokenizer at hand); a model the check refuses is not benched.
  const checked = publishCheckedModel(built, w.id, { fracBits: DEFAULT_FRAC_BITS });
  if (checked.refused !== undefined) throw new Error(checked.refused);
  const model = checked.model;
  const c = model.config;
  bar.setTotal(c.numLayers * passesOf(w, ids.length).length);
  const prepareMs = performance.now() - tStart;
  bar.update(0, { phase: 'float64 reference' });
  const ref = plaintextReference(w, model, ids);
  bar.update(0, { phase: 'owner: sharing the weights onto disk' });
  const t0 = performance.now();
  const disk = await shareModelToDisk(model, w.id, DEFAULT_FRAC_BITS, root);
  const shareMs = performance.now() - t0;
  return { c, ids, weights, parameters: countParameters(model), ref, prepareMs, shareMs, shares: disk.parties, shareBytesOnDisk: disk.bytesWritten };
}

async function run(w: Workload, layers: number | undefined, weightCacheBytes: number | undefined): Promise<WorkloadResult> {
  const tStart = performance.now();
  const root = await mkdtemp(path.join(os.tmpdir(), `puma-bench-${w.id}-`));
  const bar = new cliProgress.SingleBar(
    // Without a terminal (CI logs, redirected stderr) the bar prints a line every 10 s instead of redrawing.
    { format: `${w.id.padEnd(16)} |{bar}| {value}/{total} layers | {phase}`, hideCursor: true, stream: process.stderr, noTTYOutput: true, notTTYSchedule: 10_000 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(1, 0, { phase: 'preparing the model' });
  try {
    const prepared = w.shapeOnly ? await prepareShape(w, layers, bar, tStart, root) : await prepareAndShare(w, bar, tStart, root);
    const { c, ids, weights, parameters, ref, prepareMs, shareMs, shares } = prepared;
    const passes = passesOf(w, ids.length);
    const vocab = c.vocabSize;

    bar.update(0, { phase: 'secure inference (three parties in worker threads)' });
    const ready: number[] = [];
    let allReady: () => void;
    const partiesReady = new Promise<void>((resolve) => (allReady = resolve));
    const onProgress = (party: number, msg: unknown) => {
      const m = msg as BenchProgress;
      if ('readyAt' in m && ready.push(m.readyAt) === 3) allReady();
      if ('layersDone' in m && party === 0) bar.update(m.layersDone);
    };
    const common = { module: PROGRAMS, fracBits: DEFAULT_FRAC_BITS, onProgress };
    const tokenAt: number[] = [];
    const onToken = () => tokenAt.push(performance.timeOrigin + performance.now());
    const running = w.kind === 'generate'
      ? runInThreads<unknown, PartyMeasurement>({
        ...common,
        exportName: 'benchGenerate',
        args: (i) => ({ job: 0, shares: shares[i], weightCacheBytes, promptLength: ids.length, maxNewTokens: w.newTokens, reveal: 'logits' }),
        client: async (ch) => {
          await partiesReady;
          return generateClient(ch, { job: 0, prompt: ids, vocab, maxNewTokens: w.newTokens, reveal: 'logits', pick: greedy, onToken });
        },
      })
      : runInThreads<unknown, PartyMeasurement>({
        ...common,
        exportName: 'benchClassify',
        args: (i) => ({ job: 0, shares: shares[i], weightCacheBytes, length: ids.length }),
        client: async (ch) => {
          await partiesReady;
          return classifyClient(ch, { job: 0, ids, vocab });
        },
      });
    const threads = await running;
    bar.update(c.numLayers * passes.length, { phase: 'done' });

    const bytesPerParty = threads.stats.map((s) => s.bytesSent) as [number, number, number];
    const busiestParty = bytesPerParty.indexOf(Math.max(...bytesPerParty)) as 0 | 1 | 2;
    const rounds = threads.stats[0].rounds;
    if (threads.stats.some((s) => s.rounds !== rounds)) throw new Error(`parties counted different rounds: ${threads.stats.map((s) => s.rounds).join(', ')}`);
    const lastReady = Math.max(...threads.results.map((r) => r.readyAt));
    const inferenceMsPerParty = threads.results.map((r) => r.doneAt - lastReady);
    const profile = threads.stats[busiestParty].profile as ProfileNode;
    const secureLogits = w.kind === 'generate' ? (threads.client as ClientStep[]).map((s) => s.logits!) : [threads.client as Float64Array];
    const secureTokens = w.kind === 'generate' ? (threads.client as ClientStep[]).map((s) => s.token) : [];
    const agreeing = ref ? secureTokens.findIndex((t, i) => t !== ref.tokens[i]) : -1;
    const comparable = w.kind === 'classify' ? 1 : agreeing === -1 ? secureTokens.length : agreeing + 1;
    const result: WorkloadResult = {
      id: w.id,
      size: w.shapeOnly ? `${w.size}; ${c.numLayers} of ${w.shapeOnly.config().numLayers} layers measured` : w.size,
      weights,
      model: { layers: c.numLayers, hidden: c.hiddenSize, heads: c.numHeads, vocab, intermediate: c.intermediateSize, parameters },
      tokens: ids.length,
      newTokens: w.newTokens,
      wallMs: Math.max(...inferenceMsPerParty),
      plaintextMs: ref ? ref.ms : Number.NaN,
      bytesPerParty,
      busiestParty,
      rounds,
      inferenceMsPerParty,
      loadMsPerParty: threads.results.map((r) => r.loadMs),
      peakPartyMiB: threads.results.map((r) => r.peakPartyMiB),
      processPeakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      prepareMs,
      shareMs,
      completionMs: performance.now() - tStart,
      breakdown: breakdownByClass(profile, busiestParty, { bytes: bytesPerParty[busiestParty], rounds, ms: inferenceMsPerParty[busiestParty] }),
      // The busiest party's 'input' span also waited for the other parties to load (the client sends when all
      // are ready); that wait is not inference.
      byLayer: breakdownByLayer(profile).map((l) => (l.name === 'input' ? { ...l, ms: Math.max(0, l.ms - (lastReady - threads.results[busiestParty].readyAt)) } : l)),
      elements: elementCounts(c, passes),
      plan: planFor(c, w.kind, ids.length, w.newTokens, weightCacheBytes),
      check: ref ? {
        tokensMatching: w.kind === 'generate' ? `${agreeing === -1 ? secureTokens.length : agreeing}/${secureTokens.length}` : undefined,
        maxLogitError: Math.max(...secureLogits.slice(0, comparable).map((l, i) => maxAbsDiff(l, ref.logits[i]))),
      } : { maxLogitError: Number.NaN },
      shareBytesOnDisk: prepared.shareBytesOnDisk,
      ...(w.kind === 'generate' ? { tokenAtMs: tokenAt.map((t) => t - lastReady), stepsPerParty: threads.results.map((r) => r.steps ?? []) } : {}),
    };
    if (w.shapeOnly) result.extrapolation = extrapolateLayers(w, result);
    return result;
  } finally {
    bar.stop();
    await rm(root, { recursive: true, force: true });
  }
}

/** Parameters as the model defines them: a tied head is the embedding, not a second matrix. */
function countParameters(m: Model): number {
  const tied = m.weights.head.kind === 'lm' && m.weights.head.tied;
  return namedTensors(m.weights).reduce((n, [name, t]) => (tied && name === 'head.weight' ? n : n + t.data.length), 0);
}

const id = process.argv[2];
const workload = WORKLOADS.find((w) => w.id === id);
if (!workload) {
  console.error(`models-run: unknown workload "${id}"; choose from: ${WORKLOADS.map((w) => w.id).join(', ')}`);
  process.exit(2);
}
const positional = process.argv.slice(3).filter((a) => !a.startsWith('--'));
const layersArg = positional[0] === undefined ? undefined : Number(positional[0]);
const cacheArg = process.argv.slice(3).find((a) => a.startsWith('--weight-cache-mib='))?.slice('--weight-cache-mib='.length);
const cacheMiB = cacheArg === undefined ? undefined : Number(cacheArg);
if (cacheMiB !== undefined && !(Number.isInteger(cacheMiB) && cacheMiB >= 0)) {
  console.error(`models-run: --weight-cache-mib must be a whole number of MiB >= 0, got "${cacheArg}"`);
  process.exit(2);
}
run(workload, layersArg, cacheMiB === undefined ? undefined : cacheMiB * 2 ** 20).then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (e: unknown) => {
    console.error(`${workload.id}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
