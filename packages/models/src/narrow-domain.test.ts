/**
 * The secure nonlinearities compare on an 18-bit window (protocol narrowCompare.ts): nn's piecewise functions
 * (GeLU, SiLU/SwiGLU, tanh, exp) need |x| below about 1000 and softmax needs the visible logits of a row to
 * differ by less than 1000 (nn softmax.ts, max.ts). Outside that domain their results are arbitrary, so this
 * test checks, on the float64 forward pass of every real model the accuracy tests run, that the inputs stay
 * far inside it: the largest activation input and the largest spread of an attention row over the keys its
 * query sees.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { embed, mlp, selfAttention } from './forward.ts';
import { add, linear } from './matmul.ts';
import { applyNorm } from './norms.ts';
import { loadModel, modelDir } from './node.ts';
import { STORIES_REFERENCE_TOKENS } from './test-fixtures.ts';
import type { WordPieceTokenizer } from './tokenizer-wordpiece.ts';
import type { Model } from './types.ts';

/** The domain the secure functions assume (nn piecewise.ts SELECT_RANGE less the largest breakpoint, 12). */
const ACTIVATION_LIMIT = 1000;
/** Row spread softmax assumes (nn softmax.ts). */
const SPREAD_LIMIT = 1000;

interface Extremes {
  activation: number;
  spread: number;
}

/** RoPE as llama2.c applies it (adjacent pairs, angle pos * theta^(-2i/d)); the models here use no scaling. */
function rotate(x: Float64Array, rows: number, heads: number, dim: number, theta: number): Float64Array {
  const out = x.slice();
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < dim; i += 2) {
        const a = r * theta ** (-i / dim);
        const o = (r * heads + h) * dim + i;
        out[o] = x[o] * Math.cos(a) - x[o + 1] * Math.sin(a);
        out[o + 1] = x[o] * Math.sin(a) + x[o + 1] * Math.cos(a);
      }
    }
  }
  return out;
}

/** Largest max - min over the keys each query sees, over all heads and queries. */
function largestSpread(model: Model, q: Float64Array, k: Float64Array, rows: number): number {
  const c = model.config;
  const group = c.numHeads / c.numKvHeads;
  let spread = 0;
  for (let h = 0; h < c.numHeads; h++) {
    const kh = Math.floor(h / group);
    for (let i = 0; i < rows; i++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let j = 0; j < (c.causal ? i + 1 : rows); j++) {
        let s = 0;
        for (let e = 0; e < c.headDim; e++) s += q[(i * c.numHeads + h) * c.headDim + e] * k[(j * c.numKvHeads + kh) * c.headDim + e];
        s /= Math.sqrt(c.headDim);
        lo = Math.min(lo, s);
        hi = Math.max(hi, s);
      }
      spread = Math.max(spread, hi - lo);
    }
  }
  return spread;
}

/** Largest |MLP pre-activation| and the largest attention-row spread bound over one sequence. */
function extremes(model: Model, ids: readonly number[], typeIds?: readonly number[]): Extremes {
  const c = model.config;
  const rows = ids.length;
  let x = embed(model, ids, 0, typeIds);
  const out: Extremes = { activation: 0, spread: 0 };
  for (const layer of model.weights.layers) {
    const attnIn = c.normPlacement === 'pre' ? applyNorm(x, rows, layer.attnNorm) : x;
    let q = linear(attnIn, rows, layer.attn.q);
    let k = linear(attnIn, rows, layer.attn.k);
    if (c.positions === 'rope') {
      q = rotate(q, rows, c.numHeads, c.headDim, c.ropeTheta);
      k = rotate(k, rows, c.numKvHeads, c.headDim, c.ropeTheta);
    }
    out.spread = Math.max(out.spread, largestSpread(model, q, k, rows));
    const attn = selfAttention(attnIn, rows, layer.attn, c, 0);
    const h = c.normPlacement === 'pre' ? add(x, attn) : applyNorm(add(x, attn), rows, layer.attnNorm);
    const mlpIn = c.normPlacement === 'pre' ? applyNorm(h, rows, layer.mlpNorm) : h;
    const pre = linear(mlpIn, rows, layer.mlp.kind === 'dense' ? layer.mlp.up : layer.mlp.w1);
    for (const v of pre) out.activation = Math.max(out.activation, Math.abs(v));
    const m = mlp(mlpIn, rows, layer.mlp, c);
    x = c.normPlacement === 'pre' ? add(h, m) : applyNorm(add(h, m), rows, layer.mlpNorm);
  }
  return out;
}

function report(name: string, e: Extremes): void {
  console.log(`${name}: max |activation input| ${e.activation.toFixed(2)}, attention row spread ${e.spread.toFixed(2)} (limits ${ACTIVATION_LIMIT}, ${SPREAD_LIMIT})`);
  expect(e.activation).toBeLessThan(ACTIVATION_LIMIT / 4);
  expect(e.spread).toBeLessThan(SPREAD_LIMIT / 4);
}

describe('inputs of the secure nonlinearities stay inside the narrow comparisons\' domain, with a factor 4 to spare', () => {
  it('gpt2-shakespeare on the first 4 windows of 64 val tokens', async () => {
    const { model, tokenizer } = await loadModel('gpt2-shakespeare');
    const ids = tokenizer!.encode(readFileSync(path.join(modelDir('gpt2-shakespeare'), 'val.txt'), 'utf8'));
    const all = Array.from({ length: 4 }, (_, w) => extremes(model, ids.slice(w * 64, w * 64 + 64)));
    report('gpt2-shakespeare', { activation: Math.max(...all.map((e) => e.activation)), spread: Math.max(...all.map((e) => e.spread)) });
  }, 120_000);

  it('bert-shakespeare on the first 24 eval examples', async () => {
    const { model, tokenizer } = await loadModel('bert-shakespeare');
    const tok = tokenizer as WordPieceTokenizer;
    const lines = readFileSync(path.join(modelDir('bert-shakespeare'), 'eval.jsonl'), 'utf8').trim().split('\n').slice(0, 24);
    const all = lines.map((l) => {
      const e = tok.encodeForModel((JSON.parse(l) as { text: string }).text, undefined, model.config.maxPositions);
      return extremes(model, e.ids, e.typeIds);
    });
    report('bert-shakespeare', { activation: Math.max(...all.map((e) => e.activation)), spread: Math.max(...all.map((e) => e.spread)) });
  }, 120_000);

  it('stories260K along its 81 reference tokens', async () => {
    const { model } = await loadModel('stories260K');
    report('stories260K', extremes(model, STORIES_REFERENCE_TOKENS));
  }, 120_000);
});
