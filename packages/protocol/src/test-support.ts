/**
 * Shared by the protocol and nn tests only (never imported by library code): a three-party run on a chosen
 * backend, float helpers, measured-vs-declared cost capture, and byte histograms of what the parties receive.
 */
import type { Backend, Buf } from '@puma/backend';
import { referenceBackend } from '@puma/backend';
import { encodeFixed } from '@puma/ring';
import type { Channel, DeliveryObserver } from '@puma/transport';
import { runLocal, type LocalRun } from './runner.ts';
import type { Party } from './party.ts';
import type { AShare } from './share.ts';
import type { Cost } from './cost.ts';
import { shareFromBundle, splitInput } from './ops/input.ts';

export type TestBackendKind = 'wasm' | 'reference';

/** The backend tests run on: WebAssembly unless PUMA_TEST_BACKEND=reference asks for the BigInt oracle. */
export function testBackend(kind: TestBackendKind = (process.env.PUMA_TEST_BACKEND as TestBackendKind) || 'wasm'): () => Promise<Backend> {
  return async () => (kind === 'reference' ? referenceBackend() : (await import('@puma/backend-wasm')).createWasmBackend());
}

/** Deterministic pseudo-random floats in [lo, hi). */
export function randomFloats(n: number, lo: number, hi: number, seed = 1): Float64Array {
  let s = seed >>> 0 || 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = lo + ((s >>> 0) / 2 ** 32) * (hi - lo);
  }
  return out;
}

/**
 * Runs `program` on three parties where each named input is secret-shared by a dealer outside the parties
 * (bundles built once and handed to each party, as the owner does with weight bundles).
 */
export async function runWithInputs<T>(
  inputs: Record<string, { values: BigUint64Array; shape: readonly number[] }>,
  program: (p: Party, xs: Record<string, AShare>) => Promise<T>,
  opts: { backend?: TestBackendKind; fracBits?: number; client?: (c: Channel) => Promise<unknown>; observe?: DeliveryObserver } = {},
): Promise<LocalRun<T, unknown>> {
  const bundles = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, splitInput(v.values)]));
  return runLocal(testBackend(opts.backend), async (p) => {
    const xs = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, shareFromBundle(p, bundles[k][p.id], v.shape)]));
    return program(p, xs);
  }, { fracBits: opts.fracBits, client: opts.client, observe: opts.observe });
}

/** A 3-of-3 additive term of x (party i's component x_i, masked by a zero sharing), as a product hands over. */
export function termOf(p: Party, x: AShare): Buf {
  return p.backend.add(x.s0, p.zeroShare(p.nextTag(), x.s0.length));
}

export function fixedInput(values: ArrayLike<number>, shape: readonly number[] = [values.length], fracBits = 18) {
  return { values: encodeFixed(values, fracBits), shape };
}

export interface Measured {
  rounds: number;
  bytes: [number, number, number];
}

/** Runs `prepare` unmeasured, then `op` once, on freshly shared inputs, and returns the rounds and bytes each party spent in it. */
export async function measureOp<P = undefined>(
  inputs: Record<string, { values: BigUint64Array; shape: readonly number[] }>,
  op: (p: Party, xs: Record<string, AShare>, prepared: P) => Promise<unknown>,
  prepare?: (p: Party, xs: Record<string, AShare>) => Promise<P>,
): Promise<Measured> {
  const rounds = [0, 0, 0];
  const bytes: [number, number, number] = [0, 0, 0];
  await runWithInputs(inputs, async (p, xs) => {
    const prepared = (prepare ? await prepare(p, xs) : undefined) as P;
    const r0 = p.rounds;
    const b0 = p.channel.stats.bytesSent;
    await op(p, xs, prepared);
    rounds[p.id] = p.rounds - r0;
    bytes[p.id] = p.channel.stats.bytesSent - b0;
  });
  if (rounds[0] !== rounds[1] || rounds[1] !== rounds[2]) throw new Error(`parties disagree on rounds: ${rounds.join(', ')}`);
  return { rounds: rounds[0], bytes };
}

export function expectCost(measured: Measured, declared: Cost): void {
  if (measured.rounds !== declared.rounds || measured.bytes.some((b, i) => b !== declared.bytes[i])) {
    throw new Error(`measured ${measured.rounds} rounds, bytes [${measured.bytes.join(', ')}]; declared ${declared.rounds} rounds, bytes [${declared.bytes.join(', ')}]`);
  }
}

/**
 * Byte histograms (256 bins) of what each party receives from the other parties (setup excluded): pass
 * `observe` to a run, then read `hist[party]`.
 */
export function receivedBytes(): { hist: number[][]; observe: DeliveryObserver } {
  const hist = [0, 1, 2].map(() => new Array<number>(256).fill(0));
  return {
    hist,
    observe: (from, to, tag, data) => {
      if (to < 3 && from < 3 && !tag.startsWith('setup')) for (const b of data) hist[to][b]++;
    },
  };
}

/** Chi-square of a 256-bin histogram against uniform (255 degrees of freedom: above 400 with probability < 1e-8). */
export function chi2Uniform(h: number[]): number {
  const e = h.reduce((a, b) => a + b, 0) / 256;
  return h.reduce((s, o) => s + (o - e) ** 2 / e, 0);
}
