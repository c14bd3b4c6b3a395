export { secureTensors, shareWeights, type NamedTensor, type PartyWeightBundle, type WeightManifest } from './share-weights.ts';
export { emptyCache, loadSecureModel, secureClassifierLogits, secureHidden, secureLastLogits, type KvCache, type SecureModel } from './forward.ts';
export {
  classifyClient, classifyParty, generateClient, generateParty, greedy, sampler,
  type ClassifyArgs, type ClientStep, type GenerateArgs, type Sampler, type StepReport,
} from './programs.ts';
