/**
 * Shape-only workloads of the model bench (LLaMA-2-7B): the owner draws synthetic weights and shares them
 * straight to the parties' disk stores part by part (models-disk-shares.ts), so neither the owner nor a party
 * ever holds the model. The whole model (32 layers: 6.7 G weights, 54 GB of dense shares per dense-holding
 * party) does not fit this machine's disk and time, so k consecutive layers run (embedding, k layers, final norm,
 * head: exactly the full model's pass cut short) and the rest is extrapolated per layer:
 *   total = measured + (L - k) × (mean measured layer span)   for time, rounds and bytes (busiest party);
 *   peak memory = measured peak + (L - k) × one layer's KV cache (both components of K and V for every token),
 * the only memory that grows with depth when weights stream (one block at a time). The row is labelled as such.
 */
import type cliProgress from 'cli-progress';
import type { ModelConfig } from '@puma/models';
import { secureTensorShapes, type WeightManifest } from '@puma/models/secure';
import { createBackend } from '@puma/worker';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { shareShapeToDisk } from './models-disk-shares.ts';
import type { Prepared, WorkloadResult } from './models-run.ts';
import type { Workload } from './models-workloads.ts';

export interface Extrapolation {
  layersMeasured: number;
  layersTotal: number;
  wallMs: number;
  rounds: number;
  /** Busiest party. */
  bytesPerParty: number;
  peakPartyMiB: number;
  /** Per measured layer (mean over the measured layers, busiest party). */
  perLayer: { ms: number; rounds: number; bytes: number; kvCacheMiB: number };
}

/**
 * The secure pass's tensors of a LLaMA-family config with their shapes: the plan's list (secureTensorShapes, which
 * follows share-weights.ts, folded norms included), so the bench cannot drift from what an owner shares (a
 * hand-kept list here still named the layer norms' scales after the owner began folding them, and the row failed).
 */
export function llamaTensors(c: ModelConfig): WeightManifest['tensors'] {
  return secureTensorShapes(c).map(({ name, shape }) => ({ name, shape }));
}

export async function prepareShape(w: Workload, layers: number | undefined, bar: cliProgress.SingleBar, tStart: number, root: string): Promise<Prepared> {
  const shape = w.shapeOnly!;
  const full = shape.config();
  const k = layers ?? shape.layers;
  if (!Number.isInteger(k) || k < 1 || k > full.numLayers) throw new Error(`${w.id}: layers must be an integer in [1, ${full.numLayers}], got ${layers}`);
  if (full.arch !== 'llama') throw new Error(`${w.id}: shape-only workloads are LLaMA-family, not ${full.arch}`);
  const c: ModelConfig = { ...full, numLayers: k };
  const tensors = llamaTensors(c);
  bar.setTotal(k);
  const prepareMs = performance.now() - tStart;
  const be = await createBackend('wasm');
  const t0 = performance.now();
  let done = 0;
  const disk = await shareShapeToDisk(c, w.id, tensors, DEFAULT_FRAC_BITS, root, be, (name) => {
    bar.update(0, { phase: `owner: drawing and sharing ${name} to disk (${++done}/${tensors.length})` });
  });
  const shareMs = performance.now() - t0;
  const parameters = tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  return {
    c, ids: shape.ids, weights: 'synthetic uniform ±2^-5 (norm scales 1), drawn per part', parameters, ref: null, prepareMs, shareMs,
    shares: disk.parties, shareBytesOnDisk: disk.bytesWritten,
  };
}

export function extrapolateLayers(w: Workload, r: WorkloadResult): Extrapolation {
  const full = w.shapeOnly!.config();
  const k = r.model.layers;
  const layerSpans = r.byLayer.filter((l) => /^layer \d+$/.test(l.name));
  if (layerSpans.length !== k) throw new Error(`${w.id}: the profile has ${layerSpans.length} layer spans for ${k} layers`);
  const mean = (f: (l: (typeof layerSpans)[number]) => number) => layerSpans.reduce((s, l) => s + f(l), 0) / k;
  const per = { ms: mean((l) => l.ms), rounds: mean((l) => l.rounds), bytes: mean((l) => l.bytes) };
  const tokens = r.tokens + r.newTokens - 1;
  // K and V, [tokens, KV heads × head size] each, two components, 8-byte words.
  const kvCacheMiB = (2 * tokens * full.numKvHeads * full.headDim * 2 * 8) / 2 ** 20;
  const rest = full.numLayers - k;
  return {
    layersMeasured: k,
    layersTotal: full.numLayers,
    wallMs: r.wallMs + rest * per.ms,
    rounds: Math.round(r.rounds + rest * per.rounds),
    bytesPerParty: Math.round(Math.max(...r.bytesPerParty) + rest * per.bytes),
    peakPartyMiB: Math.ceil(Math.max(...r.peakPartyMiB) + rest * kvCacheMiB),
    perLayer: { ...per, kvCacheMiB },
  };
}
