/**
 * `npm run bench -- nn [--json] [--reps=N] [--only=substring]`: every nn function at 4096 elements (softmax
 * and the norms as 32 rows of 128) through the in-process three-party runner on the WebAssembly backend.
 * Per function: rounds and bytes (the busiest party's, in total and per element) measured around the call,
 * median wall time of the call (slowest party, after one warm-up), the declared rounds, and the measured max
 * error against float64 on the bench input (absolute, or relative where the row says so).
 */
import { createWasmBackend } from '@puma/backend-wasm';
import { decodeFixed, encodeFixed } from '@puma/ring';
import { revealRaw, runLocal, shareFromBundle, splitInput, type AShare, type Cost, type Party } from '@puma/protocol';
import * as nn from '@puma/nn';
import { median, type BenchRow, type BenchSuite } from './report.ts';

const F = 18;
const N = 4096;
const ROWS = 32;
const COLS = 128;

interface Input {
  values: Float64Array;
  shape: number[];
}

interface Case {
  name: string;
  size: string;
  inputs: Record<string, Input>;
  run: (p: Party, xs: Record<string, AShare>) => Promise<AShare>;
  declared: Cost;
  /** Float64 result from the inputs as the parties hold them (rounded to the fixed-point grid). */
  reference: (xs: Record<string, Float64Array>) => ArrayLike<number>;
  /** Error relative to max(|want|, relativeFloor) instead of absolute (0: plain relative). */
  relativeFloor?: number;
  outScale?: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const linspace = (lo: number, hi: number, n: number): Float64Array => Float64Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
const logspace = (lo: number, hi: number, n: number): Float64Array => linspace(lo, hi, n).map((e) => 2 ** e);
const vec = (values: Float64Array): Input => ({ values, shape: [values.length] });
const mat = (values: Float64Array): Input => ({ values, shape: [ROWS, COLS] });
const q = (v: Float64Array): Float64Array => v.map((x) => Math.round(x * 2 ** F) / 2 ** F);

function perRow(x: Float64Array, f: (row: Float64Array, r: number) => number[]): number[] {
  const out: number[] = [];
  for (let r = 0; r < ROWS; r++) out.push(...f(x.subarray(r * COLS, (r + 1) * COLS), r));
  return out;
}

/** Rows with std spread log-uniformly over [0.05, 50] and means in [-5, 5]. */
function normRows(centred: boolean): Float64Array {
  const g = rng(11);
  const out = new Float64Array(ROWS * COLS);
  for (let r = 0; r < ROWS; r++) {
    const row = Float64Array.from({ length: COLS }, () => g() * 2 - 1);
    const m = row.reduce((a, b) => a + b, 0) / COLS;
    const sd = Math.sqrt(row.reduce((a, b) => a + (b - m) ** 2, 0) / COLS);
    const std = 0.05 * 1000 ** (r / (ROWS - 1));
    const mean = centred ? 0 : (r % 11) - 5;
    for (let j = 0; j < COLS; j++) out[r * COLS + j] = mean + ((row[j] - m) / sd) * std;
  }
  return out;
}

function cases(): Case[] {
  const g = rng(7);
  const act = vec(linspace(-16, 16, N));
  const up = vec(Float64Array.from({ length: N }, () => g() * 8 - 4));
  const logits = mat(Float64Array.from({ length: ROWS * COLS }, (_, i) => (Math.floor(i / COLS) % 5) * 3 - 30 * g()));
  const posRange = vec(logspace(0, 16, N));
  const signed = vec(logspace(-10, 16.9, N).map((v, i) => (i % 2 ? -v : v)));
  const rsqrtRange = vec(logspace(-10, 16, N));
  const dividend = vec(Float64Array.from({ length: N }, () => g() * 200 - 100));
  const divisor = vec(Float64Array.from({ length: N }, (_, i) => (i % 2 ? -1 : 1) * 2 ** (g() * 12 - 2)));
  const gamma = vec(Float64Array.from({ length: COLS }, () => g() * 4 - 2));
  const beta = vec(Float64Array.from({ length: COLS }, () => g() * 2 - 1));
  const ln = mat(normRows(false));
  const rms = mat(normRows(true));
  const ew = (f: (v: number) => number) => (xs: Record<string, Float64Array>) => Array.from(xs.x, f);
  const causal = (r: number, j: number): boolean => j <= r;
  return [
    { name: 'exp (x <= 0; 0 below -14)', size: `${N}`, inputs: { x: vec(linspace(-16, 0, N)) }, run: (p, s) => nn.exp(p, s.x), declared: nn.expCost(N), reference: ew(Math.exp) },
    { name: 'reciprocal (x > 0, [1, 2^16], 40-bit output)', size: `${N}`, inputs: { x: posRange }, run: (p, s) => nn.reciprocal(p, s.x, { positive: true, lo: 0, hi: 17, outScale: 40 }), declared: nn.reciprocalCost(N, { positive: true, lo: 0, hi: 17, outScale: 40 }), reference: ew((v) => 1 / v), relativeFloor: 0, outScale: 40 },
    { name: 'reciprocal (signed, abs(x) in [2^-10, 2^17), 36-bit output)', size: `${N}`, inputs: { x: signed }, run: (p, s) => nn.reciprocal(p, s.x, { outScale: 36 }), declared: nn.reciprocalCost(N, { outScale: 36 }), reference: ew((v) => 1 / v), relativeFloor: 0, outScale: 36 },
    { name: 'divide (a in [-100, 100], abs(b) in [2^-2, 2^10])', size: `${N}`, inputs: { a: dividend, b: divisor }, run: (p, s) => nn.divide(p, s.a, s.b), declared: nn.divideCost(N, N), reference: (xs) => Array.from(xs.a, (v, i) => v / xs.b[i]), relativeFloor: 1 },
    { name: 'rsqrt ([2^-10, 2^16], 36-bit output)', size: `${N}`, inputs: { x: rsqrtRange }, run: (p, s) => nn.rsqrt(p, s.x, { outScale: 36 }), declared: nn.rsqrtCost(N, { outScale: 36 }), reference: ew((v) => 1 / Math.sqrt(v)), relativeFloor: 0, outScale: 36 },
    { name: 'sqrt ([2^-10, 2^16])', size: `${N}`, inputs: { x: rsqrtRange }, run: (p, s) => nn.sqrt(p, s.x), declared: nn.sqrtCost(N), reference: ew(Math.sqrt), relativeFloor: 0 },
    { name: 'gelu (default, erf form) [-16, 16]', size: `${N}`, inputs: { x: act }, run: (p, s) => nn.gelu(p, s.x), declared: nn.geluCost(N), reference: ew(nn.reference.gelu) },
    { name: 'geluTanh (gelu_new) [-16, 16]', size: `${N}`, inputs: { x: act }, run: (p, s) => nn.geluTanh(p, s.x), declared: nn.geluTanhCost(N), reference: ew(nn.reference.geluTanh) },
    { name: "geluPuma (PUMA's 4 pieces) [-16, 16]", size: `${N}`, inputs: { x: act }, run: (p, s) => nn.geluPuma(p, s.x), declared: nn.geluPumaCost(N), reference: ew(nn.reference.gelu) },
    { name: 'silu [-16, 16]', size: `${N}`, inputs: { x: act }, run: (p, s) => nn.silu(p, s.x), declared: nn.siluCost(N), reference: ew(nn.reference.silu) },
    { name: "siluPuma (PUMA's 4 pieces) [-16, 16]", size: `${N}`, inputs: { x: act }, run: (p, s) => nn.siluPuma(p, s.x), declared: nn.siluPumaCost(N), reference: ew(nn.reference.silu) },
    { name: 'swiglu silu(g) u, g in [-16, 16], u in [-4, 4]', size: `${N}`, inputs: { x: act, u: up }, run: (p, s) => nn.swiglu(p, s.x, s.u), declared: nn.swigluCost(N), reference: (xs) => Array.from(xs.x, (v, i) => nn.reference.silu(v) * xs.u[i]) },
    { name: 'tanh [-16, 16]', size: `${N}`, inputs: { x: act }, run: (p, s) => nn.tanh(p, s.x), declared: nn.tanhCost(N), reference: ew(Math.tanh) },
    { name: 'softmaxLast (spread 30, max arity 4)', size: `${ROWS}x${COLS}`, inputs: { x: logits }, run: (p, s) => nn.softmaxLast(p, s.x), declared: nn.softmaxCost(ROWS, COLS), reference: (xs) => perRow(xs.x, (row) => nn.reference.softmaxRow(row)) },
    { name: 'softmaxLast (spread 30, binary max)', size: `${ROWS}x${COLS}`, inputs: { x: logits }, run: (p, s) => nn.softmaxLast(p, s.x, { maxArity: 2 }), declared: nn.softmaxCost(ROWS, COLS, { maxArity: 2 }), reference: (xs) => perRow(xs.x, (row) => nn.reference.softmaxRow(row)) },
    { name: 'softmaxLast (causal, offset 0)', size: `${ROWS}x${COLS}`, inputs: { x: logits }, run: (p, s) => nn.softmaxLast(p, s.x, { causal: { queryOffset: 0 } }), declared: nn.softmaxCost(ROWS, COLS, { causal: { queryOffset: 0, queries: ROWS } }), reference: (xs) => perRow(xs.x, (row, r) => nn.reference.softmaxRow(row, Array.from({ length: COLS }, (_, j) => causal(r, j)))) },
    { name: 'layerNorm (row std 0.05..50, eps 1e-5)', size: `${ROWS}x${COLS}`, inputs: { x: ln, g: gamma, b: beta }, run: (p, s) => nn.layerNorm(p, s.x, s.g, s.b, 1e-5), declared: nn.layerNormCost(ROWS, COLS, 1e-5), reference: (xs) => perRow(xs.x, (row) => nn.reference.layerNormRow(row, xs.g, xs.b, 1e-5)) },
    { name: 'rmsNorm (row RMS 0.05..50, eps 1e-6)', size: `${ROWS}x${COLS}`, inputs: { x: rms, g: gamma }, run: (p, s) => nn.rmsNorm(p, s.x, s.g, 1e-6), declared: nn.rmsNormCost(ROWS, COLS, 1e-6), reference: (xs) => perRow(xs.x, (row) => nn.reference.rmsNormRow(row, xs.g, 1e-6)) },
  ];
}

interface PartyResult {
  ms: number;
  rounds: number;
  bytes: number;
  out: BigUint64Array;
}

async function runOnce(c: Case): Promise<PartyResult[]> {
  const bundles = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, splitInput(encodeFixed(v.values, F))]));
  const run = await runLocal(() => createWasmBackend(), async (p): Promise<PartyResult> => {
    const xs = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, shareFromBundle(p, bundles[k][p.id], v.shape)]));
    const r0 = p.rounds;
    const b0 = p.channel.stats.bytesSent;
    const t0 = performance.now();
    const y = await c.run(p, xs);
    const ms = performance.now() - t0;
    const rounds = p.rounds - r0;
    const bytes = p.channel.stats.bytesSent - b0;
    return { ms, rounds, bytes, out: await revealRaw(p, y) };
  }, { fracBits: F });
  return run.results;
}

function maxError(got: Float64Array, want: ArrayLike<number>, relativeFloor?: number): number {
  let e = 0;
  for (let i = 0; i < got.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]) / (relativeFloor === undefined ? 1 : Math.max(Math.abs(want[i]), relativeFloor)));
  return e;
}

function errorKind(relativeFloor?: number): string {
  if (relativeFloor === undefined) return 'absolute';
  return relativeFloor === 0 ? 'relative' : `relative (absolute below ${relativeFloor})`;
}

function option(args: string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const suite: BenchSuite = async ({ args }) => {
  const reps = Number(option(args, 'reps') ?? 5);
  const only = option(args, 'only');
  const rows: BenchRow[] = [];
  for (const c of cases().filter((k) => !only || k.name.includes(only))) {
    const elements = Math.max(...Object.values(c.inputs).map((v) => v.values.length));
    await runOnce(c);
    const times: number[] = [];
    let last: PartyResult[] = [];
    for (let r = 0; r < reps; r++) {
      last = await runOnce(c);
      times.push(Math.max(...last.map((x) => x.ms)));
    }
    const bytes = Math.max(...last.map((x) => x.bytes));
    const quantized = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, q(v.values)]));
    const err = maxError(decodeFixed(last[0].out, c.outScale ?? F), c.reference(quantized), c.relativeFloor);
    rows.push({
      name: c.name,
      size: c.size,
      rounds: last[0].rounds,
      declaredRounds: c.declared.rounds,
      bytesPerParty: bytes,
      bytesPerElement: Math.round((bytes / elements) * 100) / 100,
      medianMs: Math.round(median(times) * 10) / 10,
      maxError: Number(err.toPrecision(3)),
      error: errorKind(c.relativeFloor),
    });
    process.stderr.write(`  ${c.name}: ${median(times).toFixed(1)} ms, ${last[0].rounds} rounds, max error ${err.toExponential(2)}\n`);
  }
  return rows;
};

export default suite;
