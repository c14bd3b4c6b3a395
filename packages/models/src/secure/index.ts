export { secureTensors, shareWeights, type NamedTensor, type PartyWeightBundle, type WeightManifest } from './share-weights.ts';
export { emptyCache, loadSecureModel, secureClassifierLogits, secureHidden, secureLastLogits, secureLogitsRows, type KvCache, type SecureModel } from './forward.ts';
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
