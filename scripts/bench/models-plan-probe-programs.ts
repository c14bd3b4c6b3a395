/**
 * Party programs of the memory probe (models-plan-probe.ts): the bench's secure generation and classification,
 * streamed from the party's store exactly as models-programs.ts runs them (its weight read, default cache cap), with this isolate's memory taken
 * apart every few milliseconds: V8 heap in use, external memory, ArrayBuffers outside the WebAssembly memory,
 * the backend's GC nudges awaiting collection, the WebAssembly linear memory reserved and the part of it held by
 * live buffers, and the profile span the party was in. It returns the sample where the bench's figure (heap used
 * + external - GC nudges) peaked, the highest value
 * of each part on its own, and the first sample (the party before its program ran).
 */
import type { Party } from '@puma/protocol';
import { classifyParty, generateParty, type ClassifyArgs, type GenerateArgs, type WeightSource } from '@puma/models/secure';
import { nodeWeightRead } from '../../apps/cli/src/node-weight-read.ts';
import { DirectoryShareStore } from '../../apps/cli/src/party-store.ts';
import { StoredWeightSource } from '../../packages/worker/src/session/stored-weights.ts';
import { BENCH_IDENTITY } from './models-disk-shares.ts';
import type { OnDisk } from './models-programs.ts';

/** One sample, in MiB except `span`. */
export interface MemorySample {
  total: number;
  heapUsed: number;
  external: number;
  /** ArrayBuffers of the JS side (external less the WebAssembly memory and the GC nudges). */
  arrayBuffers: number;
  /** The WebAssembly backend's GC nudges not yet collected (never written; left out of `total`). */
  gcNudges: number;
  wasmReserved: number;
  wasmLive: number;
  span: string;
  atMs: number;
}

export interface ProbeResult {
  first: MemorySample;
  atPeak: MemorySample;
  highest: Omit<MemorySample, 'span' | 'atMs'>;
  /** Per profile span (innermost name): the most WebAssembly memory held by buffers not yet freed while in it. */
  wasmLiveBySpan: Record<string, number>;
}

const SAMPLE_MS = 10;
const MIB = 2 ** 20;

type WasmStats = { stats?: () => { liveBytes: number; memoryBytes: number; gcNudgeBytes: number } };

async function probed(p: Party, program: () => Promise<unknown>): Promise<ProbeResult> {
  const t0 = performance.now();
  const sample = (): MemorySample => {
    const m = process.memoryUsage();
    const w = (p.backend as unknown as WasmStats).stats?.() ?? { liveBytes: 0, memoryBytes: 0, gcNudgeBytes: 0 };
    return {
      total: (m.heapUsed + m.external - w.gcNudgeBytes) / MIB,
      heapUsed: m.heapUsed / MIB,
      external: m.external / MIB,
      arrayBuffers: (m.external - w.memoryBytes - w.gcNudgeBytes) / MIB,
      gcNudges: w.gcNudgeBytes / MIB,
      wasmReserved: w.memoryBytes / MIB,
      wasmLive: w.liveBytes / MIB,
      span: p.span.name,
      atMs: performance.now() - t0,
    };
  };
  const first = sample();
  let atPeak = first;
  const highest = { ...first };
  const wasmLiveBySpan: Record<string, number> = {};
  const take = () => {
    const s = sample();
    wasmLiveBySpan[s.span] = Math.max(wasmLiveBySpan[s.span] ?? 0, s.wasmLive);
    if (s.total > atPeak.total) atPeak = s;
    for (const k of ['total', 'heapUsed', 'external', 'arrayBuffers', 'gcNudges', 'wasmReserved', 'wasmLive'] as const) highest[k] = Math.max(highest[k], s[k]);
  };
  const sampler = setInterval(take, SAMPLE_MS);
  try {
    await program();
    take();
  } finally {
    clearInterval(sampler);
  }
  const { span: _span, atMs: _atMs, ...parts } = highest;
  return { first, atPeak, highest: parts, wasmLiveBySpan };
}

function storedWeights(a: OnDisk<unknown>): WeightSource {
  return new StoredWeightSource(a.shares.manifest, new DirectoryShareStore(a.shares.dir), BENCH_IDENTITY, nodeWeightRead(a.weightCacheBytes));
}

export function probeGenerate(p: Party, a: OnDisk<GenerateArgs>): Promise<ProbeResult> {
  const { shares: _shares, ...rest } = a;
  return probed(p, () => generateParty(p, { ...rest, weights: storedWeights(a) }, { progress: () => {} }));
}

export function probeClassify(p: Party, a: OnDisk<ClassifyArgs>): Promise<ProbeResult> {
  const { shares: _shares, ...rest } = a;
  return probed(p, () => classifyParty(p, { ...rest, weights: storedWeights(a) }));
}
