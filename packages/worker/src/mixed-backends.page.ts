/**
 * One protocol program, three runs in this page:
 *   mixed    party 0 on WebGPU, parties 1 and 2 on WebAssembly;
 *   wasm     all three parties on WebAssembly, with the same pairwise keys and input seeds;
 *   control  all on WebAssembly with other pairwise keys.
 * Keys and input seeds are fixed, so the mixed and wasm runs draw identical randomness, and every party's
 * output shares (not only the revealed values) must be bit-identical: a kernel that differs on the GPU shows
 * up as a differing share. The control run must change every output share, which shows the comparison
 * depends on the randomness rather than passing trivially. Every revealed result is also checked against
 * the plaintext computation in exact ring arithmetic. The raw ring products (mulRaw, matmulRaw) matter:
 * truncation drops the low bits, so only they expose a kernel error there.
 * Publishes the outcome as `window.__mixedBackends` for mixed-backends.browser.test.ts (beside this file).
 */
import type { Backend } from '@puma/backend';
import { createWasmBackend } from '@puma/backend-wasm';
import { createWebGpuBackend, probeWebGpu, type WebGpuProbe } from '@puma/backend-webgpu';
import {
  Party,
  add,
  addPublic,
  lessThan,
  lessThanPublic,
  matmul,
  matmulRaw,
  maxLast,
  mul,
  mulRaw,
  revealBool,
  revealRaw,
  select,
  shareFromBundle,
  sub,
  truncate,
  type AShare,
  type BShare,
  type ShareBundle,
} from '@puma/protocol';
import { chachaWords, encodeFixed, encodeFixedScalar, sizeOf } from '@puma/ring';
import { memoryNetwork, type PartyId } from '@puma/transport';

const FRAC_BITS = 18;
const TRUNC_BITS = 7;

export interface OpReport {
  name: string;
  /** Revealed words. */
  elements: number;
  /** SHA-256 of the revealed words per run. */
  revealed: { mixed: string; wasm: string };
  /** SHA-256 of each party's output share components, in the order p0.s0, p0.s1, p1.s0, ..., p2.s1. */
  shares: { mixed: string[]; wasm: string[]; control: string[] };
  /** First differing word between the mixed and the wasm run, if any. */
  mismatch?: string;
  /** Whether the three parties of every run revealed the same words. */
  partiesAgree: boolean;
  /** Largest deviation from the plaintext result: in ulps (2^-bits) for truncating ops, else a count of wrong elements. */
  error: number;
  /** The op's documented bound on `error`. */
  bound: number;
  unit: 'ulp' | 'wrong elements';
}

export interface MixedBackendsReport {
  probe: WebGpuProbe;
  /** Backend kinds and descriptions per party in the mixed run. */
  mixedBackends?: Array<{ kind: string; description: string }>;
  ops: OpReport[];
  /** Set when the runs could not complete (no WebGPU adapter, a kernel error). */
  error?: string;
  totalMs: number;
}

declare global {
  interface Window {
    __mixedBackends?: MixedBackendsReport;
  }
}

// ---- fixed randomness ------------------------------------------------------------------------------------

function fixedKey(seed: number): Uint32Array {
  return Uint32Array.from({ length: 8 }, (_, w) => (Math.imul(seed + 1, 0x9e3779b9) ^ Math.imul(w + 1, 0x85ebca6b)) >>> 0);
}

/** Pairwise keys k_0, k_1, k_2 (DESIGN.md: party i holds k_i and k_{i+1}). */
const KEYS = [fixedKey(1), fixedKey(2), fixedKey(3)];
const CONTROL_KEYS = [fixedKey(11), fixedKey(12), fixedKey(13)];

/** The nonce shareFromBundle expands seeds with (input.ts: seeds are single-use, so a zero nonce). */
const SEED_NONCE = new Uint32Array(3);

/**
 * The dealer's split of input.ts (x0 = PRG(seedA), x1 = PRG(seedB), x2 = x - x0 - x1, and who gets what), with
 * seeds derived from `index` instead of crypto.getRandomValues so every run deals the same shares.
 */
function dealFixed(x: BigUint64Array, index: number): [ShareBundle, ShareBundle, ShareBundle] {
  const seedA = fixedKey(100 + 2 * index);
  const seedB = fixedKey(101 + 2 * index);
  const x0 = chachaWords(seedA, SEED_NONCE, x.length);
  const x1 = chachaWords(seedB, SEED_NONCE, x.length);
  const x2 = new BigUint64Array(x.length);
  for (let i = 0; i < x.length; i++) x2[i] = BigInt.asUintN(64, x[i] - x0[i] - x1[i]);
  return [{ seed0: seedA, seed1: seedB }, { seed0: seedB, dense: x2 }, { dense: x2, seed1: seedA }];
}

function floats(n: number, lo: number, hi: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: n }, () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return lo + (s / 2 ** 32) * (hi - lo);
  });
}

// ---- inputs and the program --------------------------------------------------------------------------------

const N = 2000;
const [M, K, NC, BATCH] = [40, 56, 33, 3];
const ROWS = 25;
const COLS = 13;

const INPUT_SHAPES = {
  x: [N],
  y: [N],
  a: [M, K],
  b: [K, NC],
  a3: [BATCH, M, K],
  bt3: [BATCH, NC, K],
  a3t: [BATCH, K, M],
  table: [ROWS, COLS],
} as const;
type InputName = keyof typeof INPUT_SHAPES;
const NAMES = Object.keys(INPUT_SHAPES) as InputName[];

const ENCODED = Object.fromEntries(
  NAMES.map((name, i) => [name, encodeFixed(floats(sizeOf(INPUT_SHAPES[name]), -6, 6, 17 + i), FRAC_BITS)]),
) as Record<InputName, BigUint64Array>;
const BUNDLES = Object.fromEntries(NAMES.map((name, i) => [name, dealFixed(ENCODED[name], i)])) as Record<InputName, [ShareBundle, ShareBundle, ShareBundle]>;

interface Output {
  s0: BigUint64Array;
  s1: BigUint64Array;
  revealed: BigUint64Array;
}
type Outputs = Map<string, Output>;

const MIX_THRESHOLD = 0.5;
const MIX_OFFSET = 1.25;

async function program(p: Party): Promise<Outputs> {
  const be = p.backend;
  const xs = Object.fromEntries(NAMES.map((name) => [name, shareFromBundle(p, BUNDLES[name][p.id], INPUT_SHAPES[name])])) as Record<InputName, AShare>;
  const out: Outputs = new Map();
  const keep = async (name: string, s: AShare | BShare) => {
    const revealed = s.kind === 'A' ? await revealRaw(p, s) : await revealBool(p, s);
    out.set(name, { s0: await be.read(s.s0), s1: await be.read(s.s1), revealed });
  };
  await keep('mulRaw', await mulRaw(p, xs.x, xs.y));
  await keep('mul', await mul(p, xs.x, xs.y));
  await keep(`matmulRaw ${M}x${K}x${NC}`, await matmulRaw(p, xs.a, xs.b));
  await keep(`matmul ${M}x${K}x${NC}`, await matmul(p, xs.a, xs.b));
  await keep(`matmul batched, transB ${BATCH}x(${M}x${K}x${NC})`, await matmul(p, xs.a3, xs.bt3, { transB: true }));
  await keep(`matmul transA, broadcast B ${BATCH}x(${M}x${K}x${NC})`, await matmul(p, xs.a3t, xs.b, { transA: true }));
  await keep(`truncate by ${TRUNC_BITS}`, await truncate(p, xs.x, TRUNC_BITS));
  await keep('lessThan', await lessThan(p, xs.x, xs.y));
  const { max, argmax } = await maxLast(p, xs.table, true);
  await keep(`max ${ROWS}x${COLS}`, max);
  await keep(`argmax ${ROWS}x${COLS}`, argmax!);
  // An op mix: d = x*y - x, c = [d < 0.5], select(c, d, y) + x + 1.25.
  const d = sub(p, await mul(p, xs.x, xs.y), xs.x);
  const c = await lessThanPublic(p, d, MIX_THRESHOLD);
  await keep('mix: d = x*y - x', d);
  await keep('mix: c = d < 0.5', c);
  await keep('mix: select(c, d, y) + x + 1.25', add(p, await select(p, c, d, xs.y), addPublic(p, xs.x, MIX_OFFSET)));
  return out;
}

async function runParties(makeBackend: (id: PartyId) => Promise<Backend>, keys: Uint32Array[]): Promise<Outputs[]> {
  const channels = memoryNetwork([0, 1, 2]);
  const parties = await Promise.all(
    ([0, 1, 2] as const).map(
      async (id) => new Party({ id, backend: await makeBackend(id), channel: channels.get(id)!, keys: { self: keys[id], next: keys[(id + 1) % 3] }, fracBits: FRAC_BITS }),
    ),
  );
  return Promise.all(parties.map((p) => program(p)));
}

// ---- plaintext checks in exact ring arithmetic -----------------------------------------------------------------

const signed = (v: bigint) => BigInt.asIntN(64, v);
const ints = (name: InputName) => Array.from(ENCODED[name], signed);

/** Largest |got - exact / 2^bits| in ulps of the result; the truncating ops promise less than 1. */
function truncError(got: BigUint64Array, exact: bigint[], bits: number): number {
  let worst = 0;
  got.forEach((g, i) => {
    worst = Math.max(worst, Math.abs(Number((signed(g) << BigInt(bits)) - exact[i])) / 2 ** bits);
  });
  return worst;
}

function wrong(got: ArrayLike<bigint>, want: ArrayLike<bigint>): number {
  let count = Math.abs(got.length - want.length);
  for (let i = 0; i < Math.min(got.length, want.length); i++) if (got[i] !== want[i]) count++;
  return count;
}

/** Packed comparison bits (one plane) as 0n/1n per element. */
function bits(words: BigUint64Array, n: number): bigint[] {
  return Array.from({ length: n }, (_, e) => (words[e >> 6] >> BigInt(e & 63)) & 1n);
}

/** Exact batched product of signed ring ints; a is [batch, m, k] (or [batch, k, m] if transA), b likewise. */
function matmulExact(a: bigint[], b: bigint[], o: { batch: number; transA?: boolean; transB?: boolean; broadcastB?: boolean }): bigint[] {
  const c: bigint[] = [];
  for (let t = 0; t < o.batch; t++) {
    const ab = t * M * K;
    const bb = o.broadcastB ? 0 : t * K * NC;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < NC; j++) {
        let s = 0n;
        for (let q = 0; q < K; q++) s += a[ab + (o.transA ? q * M + i : i * K + q)] * b[bb + (o.transB ? j * K + q : q * NC + j)];
        c.push(s);
      }
  }
  return c;
}

/** Deviation from plaintext per op, from the wasm run's revealed values (identical in the mixed run when it passes). */
type PlaintextCheck = Pick<OpReport, 'error' | 'bound' | 'unit'>;

function plaintextErrors(revealed: (name: string) => BigUint64Array): Map<string, PlaintextCheck> {
  const x = ints('x');
  const y = ints('y');
  const xy = x.map((v, i) => v * y[i]);
  const ulp = (error: number): PlaintextCheck => ({ error, bound: 1, unit: 'ulp' });
  const exact = (error: number): PlaintextCheck => ({ error, bound: 0, unit: 'wrong elements' });
  const r = new Map<string, PlaintextCheck>();
  const ring = (v: bigint) => BigInt.asUintN(64, v);
  r.set('mulRaw', exact(wrong(revealed('mulRaw'), xy.map(ring))));
  r.set('mul', ulp(truncError(revealed('mul'), xy, FRAC_BITS)));
  const product = matmulExact(ints('a'), ints('b'), { batch: 1 });
  r.set(`matmulRaw ${M}x${K}x${NC}`, exact(wrong(revealed(`matmulRaw ${M}x${K}x${NC}`), product.map(ring))));
  r.set(`matmul ${M}x${K}x${NC}`, ulp(truncError(revealed(`matmul ${M}x${K}x${NC}`), product, FRAC_BITS)));
  const batched = matmulExact(ints('a3'), ints('bt3'), { batch: BATCH, transB: true });
  r.set(`matmul batched, transB ${BATCH}x(${M}x${K}x${NC})`, ulp(truncError(revealed(`matmul batched, transB ${BATCH}x(${M}x${K}x${NC})`), batched, FRAC_BITS)));
  const broadcast = matmulExact(ints('a3t'), ints('b'), { batch: BATCH, transA: true, broadcastB: true });
  r.set(`matmul transA, broadcast B ${BATCH}x(${M}x${K}x${NC})`, ulp(truncError(revealed(`matmul transA, broadcast B ${BATCH}x(${M}x${K}x${NC})`), broadcast, FRAC_BITS)));
  r.set(`truncate by ${TRUNC_BITS}`, ulp(truncError(revealed(`truncate by ${TRUNC_BITS}`), x, TRUNC_BITS)));
  r.set('lessThan', exact(wrong(bits(revealed('lessThan'), N), x.map((v, i) => (v < y[i] ? 1n : 0n)))));
  const table = ints('table');
  const rowMax = Array.from({ length: ROWS }, (_, i) => table.slice(i * COLS, (i + 1) * COLS).reduce((m, v) => (v > m ? v : m)));
  r.set(`max ${ROWS}x${COLS}`, exact(wrong(Array.from(revealed(`max ${ROWS}x${COLS}`), signed), rowMax)));
  // Any column holding the row maximum is a correct argmax.
  const argmax = Array.from(revealed(`argmax ${ROWS}x${COLS}`), (v, i) => (v < BigInt(COLS) ? table[i * COLS + Number(v)] : null));
  r.set(`argmax ${ROWS}x${COLS}`, exact(argmax.filter((v, i) => v !== rowMax[i]).length));
  // The mix: d carries mul's error; c and the selection are exact given the revealed d.
  const one = 1n << BigInt(FRAC_BITS);
  r.set('mix: d = x*y - x', ulp(truncError(revealed('mix: d = x*y - x'), xy.map((v, i) => v - x[i] * one), FRAC_BITS)));
  const d = Array.from(revealed('mix: d = x*y - x'), signed);
  const threshold = signed(encodeFixedScalar(MIX_THRESHOLD, FRAC_BITS));
  const c = d.map((v) => v < threshold);
  r.set('mix: c = d < 0.5', exact(wrong(bits(revealed('mix: c = d < 0.5'), N), c.map((b) => (b ? 1n : 0n)))));
  const offset = signed(encodeFixedScalar(MIX_OFFSET, FRAC_BITS));
  const mixed = d.map((v, i) => ring((c[i] ? v : y[i]) + x[i] + offset));
  r.set('mix: select(c, d, y) + x + 1.25', exact(wrong(revealed('mix: select(c, d, y) + x + 1.25'), mixed)));
  return r;
}

// ---- comparison --------------------------------------------------------------------------------------------

async function sha256(words: BigUint64Array): Promise<string> {
  // slice() copies into a plain ArrayBuffer, which is what digest() accepts.
  const digest = await crypto.subtle.digest('SHA-256', words.slice().buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function firstDiff(what: string, got: BigUint64Array, want: BigUint64Array): string | undefined {
  if (got.length !== want.length) return `${what}: ${got.length} words, expected ${want.length}`;
  const i = got.findIndex((v, j) => v !== want[j]);
  return i < 0 ? undefined : `${what}: word ${i} is ${got[i]} with party 0 on WebGPU, ${want[i]} on WebAssembly`;
}

async function shareDigests(run: Outputs[], name: string): Promise<string[]> {
  return Promise.all(run.flatMap((o) => [o.get(name)!.s0, o.get(name)!.s1]).map(sha256));
}

async function compare(mixed: Outputs[], wasm: Outputs[], control: Outputs[]): Promise<OpReport[]> {
  const plain = plaintextErrors((name) => wasm[0].get(name)!.revealed);
  const reports: OpReport[] = [];
  for (const [name, check] of plain) {
    let mismatch: string | undefined;
    for (let id = 0; id < 3 && !mismatch; id++) {
      const [g, w] = [mixed[id].get(name)!, wasm[id].get(name)!];
      mismatch = firstDiff(`party ${id} s0`, g.s0, w.s0) ?? firstDiff(`party ${id} s1`, g.s1, w.s1) ?? firstDiff(`party ${id} revealed`, g.revealed, w.revealed);
    }
    const agree = (run: Outputs[]) => run.every((o) => !firstDiff('', o.get(name)!.revealed, run[0].get(name)!.revealed));
    reports.push({
      name,
      elements: wasm[0].get(name)!.revealed.length,
      revealed: {
        mixed: await sha256(mixed[0].get(name)!.revealed),
        wasm: await sha256(wasm[0].get(name)!.revealed),
      },
      shares: { mixed: await shareDigests(mixed, name), wasm: await shareDigests(wasm, name), control: await shareDigests(control, name) },
      mismatch,
      partiesAgree: agree(mixed) && agree(wasm) && agree(control),
      ...check,
    });
  }
  return reports;
}

async function run(): Promise<MixedBackendsReport> {
  const t0 = performance.now();
  const probe = await probeWebGpu();
  try {
    const gpu = await createWebGpuBackend();
    const mixedBackends: Backend[] = [];
    const mixed = await runParties(async (id) => {
      mixedBackends[id] = id === 0 ? gpu : await createWasmBackend();
      return mixedBackends[id];
    }, KEYS);
    gpu.destroy();
    const wasm = await runParties(() => createWasmBackend(), KEYS);
    const control = await runParties(() => createWasmBackend(), CONTROL_KEYS);
    const ops = await compare(mixed, wasm, control);
    return { probe, mixedBackends: mixedBackends.map((b) => ({ kind: b.kind, description: b.description })), ops, totalMs: performance.now() - t0 };
  } catch (e) {
    return { probe, ops: [], error: e instanceof Error ? e.message : String(e), totalMs: performance.now() - t0 };
  }
}

void run().then((report) => {
  const identical = report.ops.filter((o) => !o.mismatch).length;
  document.getElementById('status')!.textContent = report.error
    ? `could not run: ${report.error}`
    : `${identical} of ${report.ops.length} results bit-identical between mixed and WebAssembly parties`;
  window.__mixedBackends = report;
});
