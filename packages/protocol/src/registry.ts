/**
 * The one registry of protocol operations and their declared costs, used by the cost tests and the docs.
 * Adding an operation: its file, its test, and one line here.
 */
import type { Cost } from './cost.ts';
import { andCost } from './ops/and.ts';
import { b2aCost } from './ops/b2a.ts';
import { mulBitManyCost } from './ops/bitMul.ts';
import { equalCost } from './ops/equal.ts';
import { inputCost } from './ops/input.ts';
import { lessThanCost } from './ops/lessThan.ts';
import { linearCost } from './ops/linear.ts';
import { matmulCost, matmulRawCost } from './ops/matmul.ts';
import { maxLastCost } from './ops/max.ts';
import { msbCost } from './ops/msb.ts';
import { lessThanNarrowCost } from './ops/narrowCompare.ts';
import { topBitTablesCost } from './ops/tableCompare.ts';
import { tableMaxCost } from './ops/tableMax.ts';
import { maskedChainCost } from './ops/maskedChain.ts';
import { mulCost, mulRawCost } from './ops/mul.ts';
import { mulRaw32Cost } from './ops/mulRaw32.ts';
import { revealCost, revealToClientCost } from './ops/reveal.ts';
import { revealTermToClientCost } from './ops/revealTerm.ts';
import { selectCost, mulBitCost } from './ops/select.ts';
import { truncateProductCost } from './ops/truncate.ts';
import { truncateCost } from './ops/truncateWrap.ts';
import { truncateRingCost } from './ops/truncateRing.ts';
import { truncateSquaresCost } from './ops/truncateSquares.ts';

/** Declared cost as a function of the element count (outputs for matmul; rows x cols for max). */
export const declaredCosts = {
  input: inputCost,
  reveal: revealCost,
  revealToClient: revealToClientCost,
  revealTermToClient: revealTermToClientCost,
  linear: linearCost,
  mulRaw: mulRawCost,
  mulRaw32: mulRaw32Cost,
  mul: mulCost,
  matmulRaw: matmulRawCost,
  matmul: matmulCost,
  truncate: truncateCost,
  truncateProduct: truncateProductCost,
  truncateRing: truncateRingCost,
  truncateSquares: truncateSquaresCost,
  and: andCost,
  msb: msbCost,
  lessThan: lessThanCost,
  lessThanNarrow: lessThanNarrowCost,
  topBitTables: topBitTablesCost,
  tableMax: tableMaxCost,
  maskedChain: maskedChainCost,
  equal: equalCost,
  b2a: b2aCost,
  select: selectCost,
  mulBit: mulBitCost,
  mulBitMany: mulBitManyCost,
  maxLast: maxLastCost,
} satisfies Record<string, (...args: never[]) => Cost>;

export type OpName = keyof typeof declaredCosts;
