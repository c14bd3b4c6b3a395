/**
 * Every nn function's declared cost, one line each, as a function of the sizes (elements n; rows x cols for
 * row-wise functions; counts of a and b for division). Options, where a function has them, come last with the
 * defaults the function itself uses; fracBits defaults to 18. Tests compare these with measured costs.
 */
import type { Cost } from '@puma/protocol';
import { divideCost } from './divide.ts';
import { expCost } from './exp.ts';
import { expLanesCost } from './exp-lanes.ts';
import { geluCost, geluPumaCost, geluTanhCost } from './gelu.ts';
import { layerNormCost } from './layernorm.ts';
import { layerNormOfResidualCost } from './layernorm-residual.ts';
import { maxLastWideCost } from './max.ts';
import { reciprocalCost } from './reciprocal.ts';
import { rmsNormCost } from './rmsnorm.ts';
import { rsqrtCost } from './rsqrt.ts';
import { siluCost, siluPumaCost } from './silu.ts';
import { attendOfProductCost, softmaxCost } from './softmax.ts';
import { sqrtCost } from './sqrt.ts';
import { swigluCost } from './swiglu.ts';
import { tanhCost } from './tanh.ts';

export const nnDeclaredCosts = {
  exp: expCost,
  expLanes: expLanesCost,
  reciprocal: reciprocalCost,
  divide: divideCost,
  rsqrt: rsqrtCost,
  sqrt: sqrtCost,
  gelu: geluCost,
  geluTanh: geluTanhCost,
  geluPuma: geluPumaCost,
  silu: siluCost,
  siluPuma: siluPumaCost,
  swiglu: swigluCost,
  tanh: tanhCost,
  maxLastWide: maxLastWideCost,
  softmaxLast: softmaxCost,
  attendOfProduct: attendOfProductCost,
  layerNorm: layerNormCost,
  layerNormOfResidual: layerNormOfResidualCost,
  rmsNorm: rmsNormCost,
} satisfies Record<string, (...args: never[]) => Cost>;

export type NnFunctionName = keyof typeof nnDeclaredCosts;
