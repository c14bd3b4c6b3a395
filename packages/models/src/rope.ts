/**
 * Rotary position embedding as llama2.c's run.c applies it: within each head, dimensions (2i, 2i+1) form a
 * pair rotated by angle pos * theta^(-2i / headDim). (Hugging Face LLaMA instead pairs i with i + headDim/2;
 * checkpoints converted between the two permute wq/wk accordingly.)
 */

/** Rotates x [rows, numHeads * headDim] in place; row r is at absolute position startPos + r. */
export function applyRope(x: Float64Array, rows: number, numHeads: number, headDim: number, startPos: number, theta: number): void {
  const width = numHeads * headDim;
  if (x.length !== rows * width) throw new Error(`rope: input has ${x.length} elements, expected ${rows}x${width}`);
  if (headDim % 2 !== 0) throw new Error(`rope: head size ${headDim} must be even`);
  for (let r = 0; r < rows; r++) {
    const pos = startPos + r;
    for (let i = 0; i < headDim; i += 2) {
      const angle = pos * theta ** (-i / headDim);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
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
