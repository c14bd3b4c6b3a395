/**
 * Rotary position embedding as llama2.c's run.c applies it: within each head, dimensions (2i, 2i+1) form a
 * pair rotated by angle pos * f_i, f_i = theta^(-2i / headDim) unscaled. (Hugging Face LLaMA instead pairs i with
 * i + headDim/2; checkpoints converted between the two permute wq/wk accordingly.)
 *
 * RoPE scaling (config.json's rope_scaling, as transformers defines the types) changes the inverse frequencies
 * f_i, and for YaRN also multiplies cos and sin by an attention factor. The tables are public, so the float64
 * reference and the secure forward pass both take them from ropeFrequencies:
 * - linear (position interpolation, Chen et al. 2023, arXiv 2306.15595): f_i / factor;
 * - dynamic (dynamic NTK): for a sequence of L > original positions, theta' = theta (factor L / L0 - (factor - 1))^(d / (d - 2));
 *   unchanged up to L0. L is the length after this call's rows, so cached keys keep the frequencies they were
 *   rotated with, as transformers' cached generation does;
 * - llama3 (Meta's Llama 3.1): wavelength w_i = 2 pi / f_i; w_i < L0 / high_freq_factor: unchanged;
 *   w_i > L0 / low_freq_factor: f_i / factor; between: (1 - s) f_i / factor + s f_i with s = (L0 / w_i - low) / (high - low);
 * - yarn (Peng et al. 2023, arXiv 2309.00071, section 3.2 NTK-by-parts + 3.4 attention scaling, in transformers'
 *   discretized form): a ramp r_i over the dimension index between floor(c(beta_fast)) and ceil(c(beta_slow)),
 *   c(b) = d ln(L0 / (2 pi b)) / (2 ln theta); f_i' = r_i f_i / factor + (1 - r_i) f_i; cos and sin times
 *   attention_factor (default 0.1 ln(factor) + 1).
 */

export type RopeScaling =
  | { readonly type: 'linear'; readonly factor: number }
  | { readonly type: 'dynamic'; readonly factor: number; readonly originalMaxPositions: number }
  | { readonly type: 'llama3'; readonly factor: number; readonly lowFreqFactor: number; readonly highFreqFactor: number; readonly originalMaxPositions: number }
  | { readonly type: 'yarn'; readonly factor: number; readonly originalMaxPositions: number; readonly betaFast: number; readonly betaSlow: number; readonly attentionFactor: number };

export interface RopeFrequencies {
  /** f_i for the pair (2i, 2i+1), headDim / 2 of them. */
  readonly inverse: Float64Array;
  /** Multiplies cos and sin (YaRN); 1 otherwise. */
  readonly attentionFactor: number;
}

/** The inverse frequencies for a sequence that is `seqLen` long after the rows being rotated. */
export function ropeFrequencies(headDim: number, theta: number, scaling: RopeScaling | undefined, seqLen: number): RopeFrequencies {
  if (headDim % 2 !== 0) throw new Error(`rope: head size ${headDim} must be even`);
  const half = headDim / 2;
  let base = theta;
  if (scaling?.type === 'dynamic' && seqLen > scaling.originalMaxPositions) {
    base = theta * (scaling.factor * seqLen / scaling.originalMaxPositions - (scaling.factor - 1)) ** (headDim / (headDim - 2));
  }
  const inverse = Float64Array.from({ length: half }, (_, i) => base ** (-(2 * i) / headDim));
  if (scaling?.type === 'linear') {
    for (let i = 0; i < half; i++) inverse[i] /= scaling.factor;
  } else if (scaling?.type === 'llama3') {
    const { factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositions: l0 } = scaling;
    for (let i = 0; i < half; i++) {
      const wavelength = (2 * Math.PI) / inverse[i];
      if (wavelength > l0 / low) inverse[i] /= factor;
      else if (wavelength >= l0 / high) {
        const s = (l0 / wavelength - low) / (high - low);
        inverse[i] = (1 - s) * (inverse[i] / factor) + s * inverse[i];
      }
    }
  } else if (scaling?.type === 'yarn') {
    const correction = (rotations: number) => (headDim * Math.log(scaling.originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
    const lowDim = Math.max(Math.floor(correction(scaling.betaFast)), 0);
    const highDim = Math.min(Math.ceil(correction(scaling.betaSlow)), headDim - 1);
    // transformers nudges an empty range open by 0.001 so the ramp stays defined.
    const span = highDim === lowDim ? 0.001 : highDim - lowDim;
    for (let i = 0; i < half; i++) {
      const ramp = Math.min(Math.max((i - lowDim) / span, 0), 1);
      inverse[i] = ramp * (inverse[i] / scaling.factor) + (1 - ramp) * inverse[i];
    }
  }
  return { inverse, attentionFactor: scaling?.type === 'yarn' ? scaling.attentionFactor : 1 };
}

/**
 * Rotates x [rows, numHeads * headDim] in place; row r is at absolute position startPos + r. `scaling`: the
 * model's RoPE scaling (ModelConfig.ropeScaling), if any.
 */
export function applyRope(x: Float64Array, rows: number, numHeads: number, headDim: number, startPos: number, theta: number, scaling?: RopeScaling): void {
  const width = numHeads * headDim;
  if (x.length !== rows * width) throw new Error(`rope: input has ${x.length} elements, expected ${rows}x${width}`);
  const { inverse, attentionFactor } = ropeFrequencies(headDim, theta, scaling, startPos + rows);
  for (let r = 0; r < rows; r++) {
    const pos = startPos + r;
    for (let i = 0; i < headDim; i += 2) {
      const angle = pos * inverse[i / 2];
      const cos = Math.cos(angle) * attentionFactor;
      const sin = Math.sin(angle) * attentionFactor;
      for (let h = 0; h < numHeads; h++) {
        const o = r * width + h * headDim + i;
        const a = x[o];
        const b = x[o + 1];
        x[o] = a * cos - b * sin;
        x[o + 1] = a * sin + b * cos;
      }
    }
  }
}
