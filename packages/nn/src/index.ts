/**
 * PUMA's nonlinear functions under 3-party replicated secret sharing, written against the protocol API:
 * each takes a Party and AShares and returns an AShare; every call is batched over whole tensors, so rounds do
 * not grow with rows or heads. Each file states its formula, domain, asserted error, cost and paper.
 */
export { exp, expCost } from './exp.ts';
export { expLanes, expLanesCost } from './exp-lanes.ts';
export { reciprocal, reciprocalCost, RECIPROCAL_RANGE, type ReciprocalOptions } from './reciprocal.ts';
export { divide, divideCost, type DivideOptions } from './divide.ts';
export { rsqrt, rsqrtCost, RSQRT_RANGE, type RsqrtOptions } from './rsqrt.ts';
export { sqrt, sqrtCost, type SqrtOptions } from './sqrt.ts';
export { gelu, geluCost, geluTanh, geluTanhCost, geluPuma, geluPumaCost } from './gelu.ts';
export { silu, siluCost, siluPuma, siluPumaCost } from './silu.ts';
export { swiglu, swigluCost } from './swiglu.ts';
export { tanh, tanhCost } from './tanh.ts';
export { maxLastWide, maxLastWideCost } from './max.ts';
export {
  attendInto, attendIntoBits, attendIntoCost, attendOfProduct, attendOfProductCost, attentionOutputBound, attentionValueBound, LANE_EXP_ELEMENTS, softmaxLast, softmaxCost,
  SOFTMAX_MAX_ARITY, type ExpKind, type HeadProjection, type SoftmaxOptions,
} from './softmax.ts';
export { layerNorm, layerNormCost, layerNormMatmul, layerNormMatmulCost, layerNormMatmulTerm, layerNormMatmulTermCost, layerNormMatmulFuses } from './layernorm.ts';
export {
  layerNormOfResidual, layerNormOfResidualCost, layerNormOfResidualMatmul, layerNormOfResidualMatmulCost, layerNormOfResidualMatmulFuses, layerNormOfResidualMatmulTerm,
  layerNormOfResidualMatmulTermCost, layerNormOfResidualMaxWidth,
} from './layernorm-residual.ts';
export { rmsNorm, rmsNormCost, rmsNormMatmul, rmsNormMatmulCost, rmsNormMatmulTerm, rmsNormMatmulTermAt, rmsNormMatmulTermAtCost, rmsNormMatmulTermCost } from './rmsnorm.ts';
export { NORM_MATMUL_BOUND, type BetaProductStore, type NormMatmul, type NormMatmulTerm } from './norm-matmul.ts';
export { resolvedNormInput, type NormInput, type NormOptions, type SumTerm } from './norm.ts';
export { inverse, inverseCost, type InverseOptions, type InverseKind, type Multiplicand } from './inverse.ts';
export { mulTrunc, productSumTrunc, dotLastTrunc, mulTruncCost } from './fused.ts';
export { polyEval, polyCost, POLY_SCALE, type PolyOptions } from './poly.ts';
export { selectPieces, selectPiecesCost } from './piecewise.ts';
export { LAN_BYTES_PER_ROUND } from './fixed.ts';
export { nnDeclaredCosts, type NnFunctionName } from './registry.ts';
export * as reference from './reference.ts';
