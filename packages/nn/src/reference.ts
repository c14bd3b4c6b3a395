/**
 * Float64 references for the functions approximated under MPC: what the tests, the bench and the coefficient
 * fitting script (packages/nn/scripts/fit.ts) compare against. JavaScript has no erf, so erf/erfc are written
 * here: Maclaurin series for |x| < 3 (cancellation costs about 3 digits at x = 3, leaving ~1e-13) and the
 * Laplace continued fraction for erfc at |x| >= 3 (60 terms, converged to double precision there).
 */

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= -x2 / n;
    const t = term / (2 * n + 1);
    sum += t;
    if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * sum;
}

/** erfc(x) for x >= 3 by the continued fraction exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))). */
function erfcTail(x: number): number {
  let f = x;
  for (let k = 60; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

export function erfc(x: number): number {
  if (x >= 3) return erfcTail(x);
  if (x <= -3) return 2 - erfcTail(-x);
  return 1 - erfSeries(x);
}

export function erf(x: number): number {
  if (Math.abs(x) >= 3) return x > 0 ? 1 - erfcTail(x) : erfcTail(-x) - 1;
  return erfSeries(x);
}

/** Exact GeLU, x * Phi(x), written with erfc so that the negative tail keeps its relative precision. */
export function gelu(x: number): number {
  return 0.5 * x * erfc(-x / Math.SQRT2);
}

/** GPT-2's `gelu_new`: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

export function silu(x: number): number {
  return x * sigmoid(x);
}

/** Softmax of one row; `allowed` (optional) marks the entries that take part, the others are 0. */
export function softmaxRow(row: ArrayLike<number>, allowed?: ArrayLike<boolean>): number[] {
  const ok = (j: number) => !allowed || allowed[j];
  let m = -Infinity;
  for (let j = 0; j < row.length; j++) if (ok(j)) m = Math.max(m, row[j]);
  const e = Array.from(row, (v, j) => (ok(j) ? Math.exp(v - m) : 0));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** LayerNorm of one row with per-column scale and shift. */
export function layerNormRow(row: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number): number[] {
  const n = row.length;
  let mean = 0;
  for (let j = 0; j < n; j++) mean += row[j];
  mean /= n;
  let v = 0;
  for (let j = 0; j < n; j++) v += (row[j] - mean) ** 2;
  const r = 1 / Math.sqrt(v / n + eps);
  return Array.from(row, (x, j) => (x - mean) * r * gamma[j] + beta[j]);
}

/** RMSNorm of one row (LLaMA): x / sqrt(mean(x^2) + eps) * gamma. */
export function rmsNormRow(row: ArrayLike<number>, gamma: ArrayLike<number>, eps: number): number[] {
  const n = row.length;
  let s = 0;
  for (let j = 0; j < n; j++) s += row[j] * row[j];
  const r = 1 / Math.sqrt(s / n + eps);
  return Array.from(row, (x, j) => x * r * gamma[j]);
}
