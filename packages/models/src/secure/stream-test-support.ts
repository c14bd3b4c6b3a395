/**
 * Test harness of the weight-streaming tests: runs where every random choice is fixed (pairwise PRG keys and
 * input sharings), so two runs that differ only in how weights reach the pass can be compared bit for bit;
 * and a WeightSource wrapper that counts what the pass reads.
 */
import { Party, runLocal, shareFromBundle, splitInput, type AShare, type ShareBundle } from '@puma/protocol';
import { testBackend } from '@puma/protocol/test-support';
import type { WeightSource } from './weight-source.ts';

/** Fixed pairwise keys k_0, k_1, k_2 (party i holds k_i and k_{i+1}, DESIGN.md). */
const KEYS = [1, 2, 3].map((s) => Uint32Array.from({ length: 8 }, (_, i) => (s * 0x9e3779b9 + i * 0x85ebca6b) >>> 0));

/** Runs `program` on three parties whose keys are KEYS instead of fresh ones (fresh op ids: a root context). */
export async function deterministicRun<T>(program: (p: Party) => Promise<T>): Promise<[T, T, T]> {
  const run = await runLocal(testBackend(), (p) => program(new Party({
    id: p.id, backend: p.backend, channel: p.channel, fracBits: p.fracBits, keys: { self: KEYS[p.id], next: KEYS[(p.id + 1) % 3] },
  })));
  return run.results;
}

/** One sharing of `values`, drawn once, so every run can hand each party the same share. */
export class FixedInput {
  private readonly bundles: [ShareBundle, ShareBundle, ShareBundle];
  constructor(values: BigUint64Array, readonly shape: readonly number[]) {
    this.bundles = splitInput(values);
  }
  share(p: Party): AShare {
    return shareFromBundle(p, this.bundles[p.id], this.shape);
  }
}

export interface SourceCounts {
  seedReads: number;
  denseReads: number;
  denseWords: number;
}

/** Wraps a source and counts its reads (its weight cache and seed expander, if any, are the inner source's). */
export function countingSource(inner: WeightSource): { source: WeightSource; counts: SourceCounts } {
  const counts: SourceCounts = { seedReads: 0, denseReads: 0, denseWords: 0 };
  const source: WeightSource = {
    manifest: inner.manifest,
    cache: inner.cache,
    expand: inner.expand,
    seeds: (tensor) => {
      counts.seedReads += 1;
      return inner.seeds(tensor);
    },
    dense: (tensor, start, count) => {
      counts.denseReads += 1;
      counts.denseWords += count;
      return inner.dense(tensor, start, count);
    },
  };
  return { source, counts };
}
