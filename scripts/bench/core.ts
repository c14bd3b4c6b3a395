/**
 * `npm run bench -- core`: secure ops with the three parties in worker threads on this machine, plus the raw
 * WebAssembly u64 matmul rate on one thread. Time per op is the slowest party's, median over repetitions.
 */
import { runInThreads } from '@puma/worker';
import { matmulRate, prgRate, rowProductRates } from '@puma/backend-wasm/rate';
import { median, type BenchRow, type BenchSuite } from './report.ts';
import type { CoreBenchArg, CoreBenchResult } from './core-programs.ts';

const CASES: Array<{ name: string; arg: CoreBenchArg; size: string }> = [
  { name: 'mul (fixed point, with truncation)', arg: { op: 'mul', size: 1024, reps: 9 }, size: '1024' },
  { name: 'mul (fixed point, with truncation)', arg: { op: 'mul', size: 1 << 20, reps: 5 }, size: '2^20' },
  { name: 'matmul (fixed point, with truncation)', arg: { op: 'matmul', size: 128, reps: 7 }, size: '128^3' },
  { name: 'matmul (fixed point, with truncation)', arg: { op: 'matmul', size: 512, reps: 5 }, size: '512^3' },
  { name: 'truncate', arg: { op: 'truncate', size: 1024, reps: 9 }, size: '1024' },
  { name: 'truncate', arg: { op: 'truncate', size: 1 << 20, reps: 5 }, size: '2^20' },
  { name: 'lessThan', arg: { op: 'lessThan', size: 1024, reps: 9 }, size: '1024' },
  { name: 'lessThanNarrow (18-bit window, carry circuit)', arg: { op: 'narrow', size: 300_000, reps: 5 }, size: '300,000' },
  { name: 'lessThanNarrow (18-bit window, dealer tables)', arg: { op: 'narrowTables', size: 300_000, reps: 5 }, size: '300,000' },
  { name: 'tableMax (groups of 32, 18-bit window)', arg: { op: 'tableMax', size: 384, reps: 5 }, size: '384x32' },
  { name: 'max', arg: { op: 'max', size: 1024, reps: 5 }, size: '1x1024' },
  { name: 'x^2, x^3, x^5 by three mul levels', arg: { op: 'mulLevels', size: 1 << 16, reps: 5 }, size: '2^16' },
  { name: 'x^2, x^3, x^5 as one maskedChain', arg: { op: 'chain', size: 1 << 16, reps: 5 }, size: '2^16' },
];

const suite: BenchSuite = async () => {
  const rows: BenchRow[] = [];
  for (const c of CASES) {
    const run = await runInThreads<CoreBenchArg, CoreBenchResult>({
      module: new URL('./core-programs.ts', import.meta.url).href,
      exportName: 'coreBench',
      args: () => c.arg,
    });
    const perRep = run.results[0].times.map((_, i) => Math.max(...run.results.map((r) => r.times[i])));
    rows.push({
      name: c.name,
      size: c.size,
      rounds: run.results[0].rounds,
      bytesPerParty: Math.max(...run.results.map((r) => r.bytes)),
      medianMs: median(perRep),
    });
    process.stderr.write(`  ${c.name} ${c.size}: ${median(perRep).toFixed(1)} ms\n`);
  }
  const rate = await matmulRate(512);
  rows.push({ name: 'raw WebAssembly u64 matmul (1 thread)', size: '512^3', medianMs: rate.ms, gmacsPerS: rate.gmacs });
  // GPT-2-base's blocks: 1,365 rows of 768 (one 1 Mi-word block of the tied head), [768, 1365] in a layer.
  const rp = await rowProductRates(768, 1365);
  rows.push({ name: 'raw WebAssembly u64 row product x W (1 thread)', size: '1x768x1365', medianMs: rp.rowMs });
  rows.push({ name: 'raw WebAssembly u64 row product x W^T, W stored [n, k] (1 thread)', size: '1x768x1365', medianMs: rp.dotMs });
  rows.push({ name: 'raw WebAssembly u64 column product W x^T, W stored [n, k] (1 thread)', size: '1365x768x1', medianMs: rp.columnMs });
  rows.push({ name: 'raw WebAssembly u64 sum of two weight blocks (1 thread)', size: '768x1365', medianMs: rp.blockSumMs });
  const prg = await prgRate(1 << 22);
  rows.push({ name: 'raw WebAssembly ChaCha20 expansion (1 thread)', size: '2^22 words', medianMs: prg.ms, nsPerWord: prg.nsPerWord });
  return rows;
};

export default suite;
