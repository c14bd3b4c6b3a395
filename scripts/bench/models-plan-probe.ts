/**
 * Memory probe behind `puma plan`'s memory model: runs one model-bench workload as the bench does (the owner
 * shares onto disk stores, three parties stream from them in worker threads) and prints, per party, what its
 * memory was made of at the bench's peak (heap used + external) and at the start (models-plan-probe-programs.ts).
 * This is how plan.ts's memory constants were measured; it is a diagnostic, not a bench row.
 *
 * usage: node --import tsx scripts/bench/models-plan-probe.ts <workload id> [layers: the first k layers only]
 * Run it under `flock /tmp/puma-bench.lock` for the large shapes (several GB).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type cliProgress from 'cli-progress';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { classifyClient, generateClient, greedy } from '@puma/models/secure';
import { runInThreads } from '@puma/worker';
import { shareModelToDisk, type DiskShares } from './models-disk-shares.ts';
import { prepareShape } from './models-llama7b.ts';
import type { ProbeResult } from './models-plan-probe-programs.ts';
import { WORKLOADS } from './models-workloads.ts';

const PROGRAMS = new URL('./models-plan-probe-programs.ts', import.meta.url).href;

/** prepareShape reports progress on a bar; the probe has none. */
const silentBar = { setTotal: () => {}, update: () => {} } as unknown as cliProgress.SingleBar;

async function probe(id: string, layers: number | undefined): Promise<ProbeResult[]> {
  const w = WORKLOADS.find((x) => x.id === id);
  if (!w) throw new Error(`unknown workload "${id}"; choose from: ${WORKLOADS.map((x) => x.id).join(', ')}`);
  const root = await mkdtemp(path.join(os.tmpdir(), `puma-probe-${id}-`));
  try {
    let shares: DiskShares[];
    let ids: number[];
    let vocab: number;
    if (w.shapeOnly) {
      const p = await prepareShape(w, layers, silentBar, performance.now(), root);
      ({ shares, ids } = p);
      vocab = p.c.vocabSize;
    } else {
      const { model: whole, ids: prompt } = await w.prepare();
      // The first k layers only (the working set of a pass does not depend on depth beyond the KV cache).
      const model = layers === undefined ? whole : { ...whole, config: { ...whole.config, numLayers: layers }, weights: { ...whole.weights, layers: whole.weights.layers.slice(0, layers) } };
      ids = prompt;
      vocab = model.config.vocabSize;
      shares = (await shareModelToDisk(model, w.id, DEFAULT_FRAC_BITS, root)).parties;
    }
    const run = w.kind === 'generate'
      ? runInThreads<unknown, ProbeResult>({
        module: PROGRAMS, exportName: 'probeGenerate', fracBits: DEFAULT_FRAC_BITS,
        args: (i) => ({ job: 0, shares: shares[i], promptLength: ids.length, maxNewTokens: w.newTokens, reveal: 'logits' }),
        client: (ch) => generateClient(ch, { job: 0, prompt: ids, vocab, maxNewTokens: w.newTokens, reveal: 'logits', pick: greedy }),
      })
      : runInThreads<unknown, ProbeResult>({
        module: PROGRAMS, exportName: 'probeClassify', fracBits: DEFAULT_FRAC_BITS,
        args: (i) => ({ job: 0, shares: shares[i], length: ids.length }),
        client: (ch) => classifyClient(ch, { job: 0, ids, vocab }),
      });
    return (await run).results;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const [id, layersArg] = process.argv.slice(2);
probe(id, layersArg === undefined ? undefined : Number(layersArg)).then(
  (r) => {
    process.stdout.write(`${JSON.stringify({ id, parties: r })}\n`);
    process.exit(0);
  },
  (e: unknown) => {
    console.error(`probe ${id}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
