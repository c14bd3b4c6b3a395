/**
 * norms.ts normFeeds: a norm feeds its matmul (row scale after the product) only where the bytes that adds are
 * worth the 2 rounds it saves on PUMA's LAN (1.25 MB). Checked against the declared costs of both schedules
 * (nn layerNormMatmulCost / rmsNormMatmulCost against the norm and then matmulCost), on shapes far from the
 * threshold either way, so the product count it uses (about 21.3 bytes each) cannot drift from what runs.
 */
import { describe, expect, it } from 'vitest';
import { matmulCost, seq } from '@puma/protocol';
import { attentionOutputBound, layerNormCost, layerNormMatmulCost, rmsNormCost, rmsNormMatmulCost } from '@puma/nn';
import type { ModelConfig } from '../types.ts';
import { NORM_FEED_LIMIT, normFeeds } from './norms.ts';
import { ATTENTION_OUTPUT_FLOOR, attentionFeedsOutput } from './attention.ts';

/** stories260K's config (llama2.c header: 64 wide, 8 heads, 4 KV heads, 512 positions). */
const STORIES_CONFIG: ModelConfig = {
  arch: 'llama', vocabSize: 512, hiddenSize: 64, numLayers: 5, numHeads: 8, numKvHeads: 4, headDim: 8, intermediateSize: 172, maxPositions: 512, typeVocabSize: 0,
  norm: 'rmsnorm', normEps: 1e-5, normPlacement: 'pre', mlp: 'swiglu', activation: 'silu', positions: 'rope', ropeTheta: 10000, causal: true, tiedHead: true, numLabels: 0,
};

const LAN_BYTES_PER_TWO_ROUNDS = 1.25e6;

/** Bytes the fused schedule sends beyond the unfused one (busiest party), and the rounds it saves. */
function fusing(norm: 'layernorm' | 'rmsnorm', rows: number, n: number, out: number, keepY: boolean): { extraBytes: number; roundsSaved: number } {
  const fused = norm === 'layernorm' ? layerNormMatmulCost(rows, n, 1e-5, out, keepY) : rmsNormMatmulCost(rows, n, 1e-5, out, keepY);
  const unfused = seq(norm === 'layernorm' ? layerNormCost(rows, n, 1e-5) : rmsNormCost(rows, n, 1e-5), matmulCost(rows * out));
  return { extraBytes: Math.max(...fused.bytes) - Math.max(...unfused.bytes), roundsSaved: unfused.rounds - fused.rounds };
}

describe('normFeeds', () => {
  it.each([
    // [what, norm, rows, n, out, keepY]
    ['GPT-2-base head, one row (the beta row doubles its truncation)', 'layernorm', 1, 768, 50257, false],
    ['GPT-2-base up projection, 32 rows', 'layernorm', 32, 768, 3072, false],
    ['GPT-2-base qkv, one generated token', 'layernorm', 1, 768, 2304, false],
    ['GPT-2-base up projection, one generated token', 'layernorm', 1, 768, 3072, false],
    ['LLaMA-7B-shaped head, one row (RMSNorm: no beta row)', 'rmsnorm', 1, 4096, 32000, false],
    ['LLaMA-7B-shaped gate and up projections, one generated token', 'rmsnorm', 1, 4096, 22016, false],
  ] as const)('%s: fuses exactly when the declared extra bytes are worth 2 LAN rounds', (_what, norm, rows, n, out, keepY) => {
    const { extraBytes, roundsSaved } = fusing(norm, rows, n, out, keepY);
    expect(roundsSaved).toBe(2);
    expect(normFeeds(rows, n, out, keepY, norm === 'layernorm')).toBe(extraBytes <= LAN_BYTES_PER_TWO_ROUNDS);
  });

  it('counts the beta row: the same head fuses without one and not with one', () => {
    expect(normFeeds(1, 768, 50257, false, false)).toBe(true);
    expect(normFeeds(1, 768, 50257, false, true)).toBe(false);
    expect(NORM_FEED_LIMIT).toBe(58593);
  });
});

describe('attentionFeedsOutput', () => {
  const llama = (o: Partial<ModelConfig>): ModelConfig => ({ ...STORIES_CONFIG, ...o });
  it('takes the attention into its output projection for few heads, short contexts and RoPE RMSNorm models only', () => {
    // stories260K: 8 heads x 64 on a decoding step and its 16-token prompt; 512 positions leave sums below 2,048.
    expect(attentionFeedsOutput(STORIES_CONFIG, 1)).toBe(true);
    expect(attentionFeedsOutput(STORIES_CONFIG, 16)).toBe(true);
    expect(attentionOutputBound(STORIES_CONFIG.maxPositions)).toBe(ATTENTION_OUTPUT_FLOOR);
    // A long context narrows the term's domain (32 at 32,768 positions): the context's product instead.
    expect(attentionFeedsOutput(llama({ maxPositions: 32768 }), 1)).toBe(false);
    // LLaMA-7B's 32 heads x 4096: the heads' products cost more than two LAN rounds.
    expect(attentionFeedsOutput(llama({ hiddenSize: 4096, numHeads: 32, numKvHeads: 32, headDim: 128 }), 1)).toBe(false);
    // Without RoPE or with LayerNorm the attention norm does not form the qkv term.
    expect(attentionFeedsOutput(llama({ positions: 'learned' }), 1)).toBe(false);
    expect(attentionFeedsOutput(llama({ norm: 'layernorm' }), 1)).toBe(false);
  });
});
