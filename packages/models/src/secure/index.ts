export { secureTensorSources, secureTensors, shareWeights, type NamedTensor, type PartyWeightBundle, type TensorSource, type WeightManifest } from './share-weights.ts';
export { splitTensor, streamWeightShares, type ShareStreamOptions, type TensorShare, type WeightShareStream } from './share-stream.ts';
export { emptyCache, loadSecureModel, type KvCache, type LoadOptions, type SecureModel } from './model.ts';
export { secureHidden } from './forward.ts';
export { secureClassifierLogitsTerm, secureLastLogits, secureLastLogitsTerm, secureLogitsRows, secureLogitsRowsTerm } from './head.ts';
export { asWeightSource, bundleWeightSource, newWeightTimes, type SecureWeights, type SeedExpander, type TensorSeeds, type WeightSource, type WeightTimes } from './weight-source.ts';
export { DEFAULT_BLOCK_WORDS, WeightStream, type ResidencyStats } from './weight-stream.ts';
export { DEFAULT_WEIGHT_CACHE_BYTES, WeightBlockCache, cacheReservations, expandedShareBytes, weightCacheBudget, type WeightCacheStats } from './weight-cache.ts';
export { streamedMatmul, streamedMatmulRaw } from './streamed-matmul.ts';
export {
  classifyClient, classifyParty, generateClient, generateParty, greedy, sampler,
  type ClassifyArgs, type ClientStep, type GenerateArgs, type Sampler, type StepReport,
} from './programs.ts';
export {
  classifyManyClient, classifyManyParty, compareClassifier, compareLm, logitPathError, scoreClient, scoreLogits, scoreParty,
  type ClassifierComparison, type ClassifyManyArgs, type LmComparison, type LogitPathError, type PositionScores, type ScoreArgs,
} from './evaluation.ts';
export { jobTag } from './job-tag.ts';
export { oneHot } from './one-hot.ts';
export { generationCost, classificationCost, PLAN_CLASSES, type PassShape, type PlanClass, type PlannedCost } from './plan-cost.ts';
export {
  planInference, secureTensorShapes, PLAN_NETWORKS, MATMUL_MACS_PER_S, NONLINEAR_WORDS_PER_S, NONLINEAR_BYTES_PER_ELEMENT, SWIGLU_BYTES_PER_GATE, PARTY_BASELINE_BYTES, JS_BYTES_PER_ROUND, WASM_FLOOR_BYTES, WASM_GROWTH,
  type InferencePlan, type PlanNetwork, type PlanTensor, type PlanWorkload,
} from './plan.ts';
export { PLAN_SHAPES, planShape } from './plan-shapes.ts';
