/**
 * The model bench's workloads: which model, which input, what PUMA published for the same shape, and the
 * targets. Inputs are real text through each model's tokenizer (the synthetic shapes reuse the GPT-2 BPE and
 * the BERT uncased WordPiece vocabularies, whose sizes they share), cut to the exact token count.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LLAMA_BOS, WordPieceTokenizer, type Model, type ModelConfig, type Tokenizer } from '@puma/models';
import { planShape } from '@puma/models/secure';
import { loadModel, loadTokenizer, modelDir } from '@puma/models/node';
import type { Target } from './models-analysis.ts';
import { bertBaseShape, gpt2BaseShape } from './models-synthetic.ts';

export interface PreparedWorkload {
  model: Model;
  /** Prompt (generation) or the whole sequence, special tokens included (classification). */
  ids: number[];
  /** Where the weights come from. */
  weights: string;
}

export interface PumaFigure {
  seconds: number;
  gigabytes: number;
  hardware: string;
}

export interface Workload {
  id: string;
  size: string;
  kind: 'generate' | 'classify';
  /** Generated tokens (generation only). */
  newTokens: number;
  prepare(): Promise<PreparedWorkload>;
  puma?: PumaFigure;
  targets: Target[];
  /**
   * Shape-only workloads have no plaintext model: weights are drawn and shared straight to disk
   * (models-llama7b.ts), `layers` of the config's layers run (default; --llama7b-layers) and the rest is
   * extrapolated per layer.
   */
  shapeOnly?: { config: () => ModelConfig; ids: number[]; layers: number; perPartyGiBTarget: number };
}

const PUMA_HARDWARE = '3 × 32 vCPU, ~5 Gbps, ~1 ms RTT (PUMA, arXiv 2307.12533)';

/** The opening of Coriolanus (the start of the tiny-shakespeare corpus), long enough for 128 tokens. */
const SHAKESPEARE =
  'First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. First Citizen: You are all ' +
  'resolved rather to die than to famish? All: Resolved. resolved. First Citizen: First, you know Caius Marcius ' +
  'is chief enemy to the people. All: We know\'t, we know\'t. First Citizen: Let us kill him, and we\'ll have corn ' +
  'at our own price. Is\'t a verdict? All: No more talking on\'t; let it be done: away, away! Second Citizen: One ' +
  'word, good citizens. First Citizen: We are accounted poor citizens, the patricians good. What authority ' +
  'surfeits on would relieve us: if they would yield us but the superfluity, while it were wholesome, we might ' +
  'guess they relieved us humanely; but they think we are too dear: the leanness that afflicts us, the object of ' +
  'our misery, is as an inventory to particularise their abundance; our sufferance is a gain to them.';

const STORY = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.';

function exactly(ids: readonly number[], n: number, what: string): number[] {
  if (ids.length < n) throw new Error(`${what}: the bench text gives ${ids.length} tokens, ${n} needed`);
  return ids.slice(0, n);
}

async function gpt2Prompt(n: number): Promise<number[]> {
  const dir = modelDir('gpt2-tokenizer');
  const tok = await loadTokenizer({ kind: 'gpt2-bpe', encoder: path.join(dir, 'encoder.json'), merges: path.join(dir, 'vocab.bpe') });
  return exactly(tok.encode(SHAKESPEARE), n, 'GPT-2 prompt');
}

function bertSequence(tok: WordPieceTokenizer, n: number): number[] {
  const ids = tok.encodeForModel(SHAKESPEARE, undefined, n).ids;
  if (ids.length !== n) throw new Error(`BERT input: the bench text gives ${ids.length} tokens with [CLS] and [SEP], ${n} needed`);
  return ids;
}

async function onDisk(name: string): Promise<{ model: Model; weights: string; tokenizer: Tokenizer }> {
  const { model, tokenizer, location } = await loadModel(name);
  if (!tokenizer) throw new Error(`${name}: no tokenizer files beside ${location.weights}`);
  return { model, weights: location.weights, tokenizer };
}

export const WORKLOADS: Workload[] = [
  {
    id: 'stories260K',
    size: '16 prompt tokens → 16 generated',
    kind: 'generate',
    newTokens: 16,
    prepare: async () => {
      const { model, weights, tokenizer } = await onDisk('stories260K');
      return { model, weights, ids: exactly([LLAMA_BOS, ...tokenizer.encode(STORY)], 16, 'stories260K prompt') };
    },
    targets: [],
  },
  {
    id: 'gpt2-shakespeare',
    size: '32 prompt tokens → 1 generated',
    kind: 'generate',
    newTokens: 1,
    prepare: async () => {
      const { model, weights, tokenizer } = await onDisk('gpt2-shakespeare');
      return { model, weights, ids: exactly(tokenizer.encode(SHAKESPEARE), 32, 'gpt2-shakespeare prompt') };
    },
    targets: [],
  },
  {
    id: 'bert-shakespeare',
    size: 'one 32-token sequence',
    kind: 'classify',
    newTokens: 0,
    prepare: async () => {
      const { model, weights, tokenizer } = await onDisk('bert-shakespeare');
      if (!(tokenizer instanceof WordPieceTokenizer)) throw new Error('bert-shakespeare: expected a WordPiece vocab.txt');
      return { model, weights, ids: bertSequence(tokenizer, 32) };
    },
    targets: [],
  },
  {
    id: 'gpt2-base',
    size: 'GPT-2-base shape, 32 prompt tokens → 1 generated',
    kind: 'generate',
    newTokens: 1,
    prepare: async () => ({ model: gpt2BaseShape(), weights: 'synthetic N(0, 0.02), seed 1', ids: await gpt2Prompt(32) }),
    puma: { seconds: 15.5, gigabytes: 3.774, hardware: PUMA_HARDWARE },
    targets: [
      { what: 'bytes sent per party ≤ 0.4 GB', key: 'bytesPerParty', limit: 0.4e9 },
      { what: 'rounds ≤ 1,500', key: 'rounds', limit: 1500 },
      { what: 'wall time ≤ 15 s, three parties on this machine', key: 'wallSeconds', limit: 15 },
      { what: 'whole workload completes in < 10 min', key: 'completionSeconds', limit: 600 },
    ],
  },
  {
    // What a generated token costs once the prompt is in: the same model and prompt, three more tokens. Each
    // later step is one position, so its time is the weight stream (reads, sha256, PRG expansion) and its
    // rounds, not the local products; "Generated tokens" in the report splits it per party.
    id: 'gpt2-base-tokens',
    size: 'GPT-2-base shape, 32 prompt tokens → 4 generated',
    kind: 'generate',
    newTokens: 4,
    prepare: async () => ({ model: gpt2BaseShape(), weights: 'synthetic N(0, 0.02), seed 1', ids: await gpt2Prompt(32) }),
    targets: [{ what: 'ms per generated token ≤ 4,000 (issue 13 sets it for three tabs; here three Node threads)', key: 'msPerToken', limit: 4000 }],
  },
  {
    id: 'bert-base',
    size: 'BERT-base shape, one 128-token sequence',
    kind: 'classify',
    newTokens: 0,
    prepare: async () => {
      const vocab = path.join(modelDir('bert-uncased-vocab'), 'vocab.txt');
      const tok = WordPieceTokenizer.fromVocab(await readFile(vocab, 'utf8'), {}, vocab);
      return { model: bertBaseShape(), weights: 'synthetic N(0, 0.02), seed 2', ids: bertSequence(tok, 128) };
    },
    puma: { seconds: 33.9, gigabytes: 10.773, hardware: PUMA_HARDWARE },
    targets: [{ what: 'bytes sent per party ≤ 1.5 GB', key: 'bytesPerParty', limit: 1.5e9 }],
  },
  {
    id: 'llama7b',
    size: 'LLaMA-2-7B shape, 8 prompt tokens → 1 generated',
    kind: 'generate',
    newTokens: 1,
    prepare: () => Promise.reject(new Error('llama7b is a shape-only workload: it has no plaintext model')),
    // PUMA's LLaMA-7B run: 3 × 128 threads, 1 TB RAM per machine (PUMA, arXiv 2307.12533, section 5).
    puma: { seconds: 200, gigabytes: 1.794, hardware: '3 × 128 threads, 1 TB RAM (PUMA, arXiv 2307.12533)' },
    targets: [],
    shapeOnly: {
      config: () => planShape('llama2-7b')!,
      // Eight fixed ids of LLaMA's 32000 (BOS first); the cost does not depend on which.
      ids: [LLAMA_BOS, 450, 4996, 17354, 1701, 29916, 432, 17204],
      layers: 2,
      perPartyGiBTarget: 4,
    },
  },
];

export function selectWorkloads(only: string | undefined): Workload[] {
  if (only === undefined) return WORKLOADS;
  const ids = only.split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new Error('--only needs a comma-separated list of workloads');
  const unknown = ids.filter((id) => !WORKLOADS.some((w) => w.id === id));
  if (unknown.length) throw new Error(`unknown workload${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; choose from: ${WORKLOADS.map((w) => w.id).join(', ')}`);
  return WORKLOADS.filter((w) => ids.includes(w.id));
}
