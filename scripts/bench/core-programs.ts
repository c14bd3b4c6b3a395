/**
 * Party programs for the core bench, run in worker threads by runInThreads. Inputs are random replicated
 * shares drawn from the pairwise PRGs (component j = F(k_j)), so no input round is timed; values are
 * reduced to |x| < 2^40 raw so truncation preconditions hold.
 */
import { aShare, fixedPointWindow, lessThan, lessThanNarrow, maskedChain, matmul, maxLast, mul, opNonce, tableMax, truncate, type AShare, type ChainProgram, type Party } from '@puma/protocol';

function randomShare(p: Party, shape: number[]): AShare {
  const n = shape.reduce((a, b) => a * b, 1);
  const tag = p.nextTag();
  const be = p.backend;
  // Arithmetic right shift of each component by 24 keeps the sum small only up to carries: |x| < 3 * 2^40.
  const comp = (key: Uint32Array) => be.shrArith(be.prg(key, opNonce(tag, 0), n), 24);
  return aShare(shape, comp(p.keys.self), comp(p.keys.next));
}

/** x^2, x^3 = x x^2 and x^5 = x^2 x^3, each truncated by f bits as mul does: three product levels as one masked chain. */
const powers = (f: number): ChainProgram => ({
  levels: [
    [{ addend: { inputs: [[0, 1n]] }, bits: 0 }, { products: [[{ inputs: [[0, 1n]] }, { inputs: [[0, 1n]] }]], bits: f }],
    [{ products: [[{ atoms: [[0, 1n]] }, { atoms: [[1, 1n]] }]], bits: f }],
    [{ products: [[{ atoms: [[1, 1n]] }, { atoms: [[2, 1n]] }]], bits: f }],
  ],
  outputs: [{ atoms: [[3, 1n]] }],
});

export interface CoreBenchArg {
  op: 'mul' | 'matmul' | 'truncate' | 'lessThan' | 'narrow' | 'narrowTables' | 'tableMax' | 'max' | 'chain' | 'mulLevels';
  size: number;
  reps: number;
}

export interface CoreBenchResult {
  times: number[];
  rounds: number;
  bytes: number;
}

export async function coreBench(p: Party, a: CoreBenchArg): Promise<CoreBenchResult> {
  const n = a.size;
  const shape = a.op === 'matmul' ? [n, n] : a.op === 'max' ? [1, n] : a.op === 'tableMax' ? [n, 32] : [n];
  const x = randomShare(p, shape);
  const y = randomShare(p, shape);
  const run = (): Promise<unknown> => {
    switch (a.op) {
      case 'mul': return mul(p, x, y);
      case 'matmul': return matmul(p, x, y);
      case 'truncate': return truncate(p, x);
      case 'lessThan': return lessThan(p, x, y);
      // The 18-bit window nn uses; the time does not depend on the values (out-of-window answers are arbitrary).
      case 'narrow': return lessThanNarrow(p, x, y, fixedPointWindow(p.fracBits));
      case 'narrowTables': return lessThanNarrow(p, x, y, { ...fixedPointWindow(p.fracBits), tables: true });
      // GPT-2-base's 12 heads x 32 rows at 32 columns, one level (values outside the window: time does not depend on them).
      case 'tableMax': return tableMax(p, [x], fixedPointWindow(p.fracBits));
      case 'max': return maxLast(p, x);
      // The same three levels as separate products with dealer truncations (2 rounds each), then as a masked chain.
      case 'mulLevels': return (async () => {
        const x2 = await mul(p, x, x);
        return mul(p, x2, await mul(p, x, x2));
      })();
      case 'chain': return maskedChain(p, powers(p.fracBits), [x]);
    }
  };
  await run();
  const times: number[] = [];
  let rounds = 0;
  let bytes = 0;
  for (let i = 0; i < a.reps; i++) {
    const r0 = p.rounds;
    const b0 = p.channel.stats.bytesSent;
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
    rounds = p.rounds - r0;
    bytes = p.channel.stats.bytesSent - b0;
  }
  return { times, rounds, bytes };
}
