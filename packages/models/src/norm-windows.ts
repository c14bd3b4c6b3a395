/**
 * Norm windows (issue 12): the range of each norm's row scale, published by the model owner in the model
 * description (ModelConfig.normWindows) so the parties' norms compare a row's sum of squares S only over the
 * octaves the model uses. Without one, nn norm.ts takes every octave the ring allows (34 to 60: the 64-bit
 * msb, 8 rounds); a window of up to 24 octaves of S compares by dealer tables in 2 rounds, hidden beside the
 * lanes' 6, and wider ones of up to 26 by the carry circuit in 7 (nn inverse.ts comparisonWindow), with a lane per
 * octave (fewer bytes).
 * A window is [lo, hi] for a norm: its rows' variance plus eps (mean square plus eps for RMSNorm), v, lies in
 * [2^lo, 2^hi]. The owner derives it from the plaintext calibration pass of its domain check (domain-check.ts
 * normRanges: the smallest and largest v of each norm), widened by WINDOW_MARGIN_OCTAVES on both sides and
 * rounded outward to a quarter octave; the bottom never below eps (v >= eps always), the top never past the
 * ring's n v < 2^(62 - 2f). nn norm.ts takes it as minVar = 2^lo - eps and maxVar = 2^hi - eps.
 * Why 8 octaves (v within a factor 256 of the calibration, the row's scale within 16): the calibration is one
 * short text, and prompts move v further than it suggests. Sequences mixing every vocabulary id took stories260K's
 * layer-1 attention norm 3.17 octaves above its calibration range (<unk> and a few rare ids), BERT's 2.4 below,
 * GPT-2's 1.35 (domain-check.test.ts keeps that sweep), so the 3 octaves first used here left that stories260K
 * row outside its window: a silently wrong norm. 8 octaves keep every such sweep at least 4 octaves inside; the
 * windows then span up to about 26 octaves of S; up to 24 compare in the tables' 2 rounds, so the row scale takes
 * the lanes' 6 rounds plus its selection (2 fewer than the whole ring's 64-bit msb).
 * Outside the window the secure norm is wrong, silently: a row with v below 2^lo gets y = beta (R = 0), one above
 * 2^hi an arbitrary y. The owner's check reports a sequence whose v comes within MARGIN of a window ('norm
 * window'), and one past it as outside.
 * What it reveals: per norm, the octave (to a quarter) of the calibration's smallest and largest row variance,
 * widened: a coarse scale of the model's activations on public text, not weights, inputs or prompts.
 */
import type { NormOptions } from '@puma/nn';
import type { ModelConfig, NormWindows } from './types.ts';

/** Octaves of v added below and above the calibration's range. */
export const WINDOW_MARGIN_OCTAVES = 8;
/** Window ends are multiples of this (octaves). */
const GRID = 0.25;

/** The norms of the secure pass by name, in pass order (secure/forward.ts). */
export function normNames(c: ModelConfig): string[] {
  const names = c.normPlacement === 'post' ? ['emb.norm'] : [];
  for (let l = 0; l < c.numLayers; l++) names.push(`l${l}.attnNorm`, `l${l}.mlpNorm`);
  if (c.normPlacement === 'pre') names.push('final');
  return names;
}

/** Largest log2 v the ring holds at fracBits: n v < 2^(62 - 2f). */
const ringTop = (c: ModelConfig, fracBits: number): number => 62 - 2 * fracBits - Math.log2(c.hiddenSize);

/**
 * Checks a description's normWindows (a party checks what the owner sent before running): absent is fine,
 * anything else must name known norms with finite ends lo < hi, 2^hi above eps and within the ring.
 */
export function checkNormWindows(c: ModelConfig, fracBits: number): void {
  const w: unknown = c.normWindows;
  if (w === undefined) return;
  const field = 'model description field normWindows';
  if (typeof w !== 'object' || w === null || Array.isArray(w)) throw new Error(`${field} must be an object of norm name -> [lo, hi], got ${JSON.stringify(w)}`);
  const known = new Set(normNames(c));
  for (const [name, range] of Object.entries(w)) {
    const at = `${field}[${JSON.stringify(name)}]`;
    if (!known.has(name)) throw new Error(`${at}: this model has no such norm (its norms: ${[...known].join(', ')})`);
    if (!Array.isArray(range) || range.length !== 2 || !range.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new Error(`${at} must be [lo, hi], two finite numbers, got ${JSON.stringify(range)}`);
    }
    const [lo, hi] = range as [number, number];
    if (!(lo < hi)) throw new Error(`${at}: lo ${lo} must be below hi ${hi}`);
    if (!(2 ** hi > c.normEps)) throw new Error(`${at}: 2^${hi} must exceed the norm's eps ${c.normEps}`);
    if (hi > ringTop(c, fracBits)) throw new Error(`${at}: 2^${hi} exceeds the largest variance the ring holds at ${fracBits} fraction bits, 2^${ringTop(c, fracBits).toFixed(2)}`);
  }
}

/** Relative amount the window's ends move inward, so float rounding never adds an octave to S's range. */
const INWARD = 2 ** -40;

/**
 * nn's options for norm `name`: its published window, or {} (the whole ring's range). nn norm.ts rounds
 * log2(n (var + eps)) outward to octaves: an end that is an exact octave of S must not round one further.
 */
export function normOptions(c: ModelConfig, name: string): NormOptions {
  const w = c.normWindows?.[name];
  if (!w) return {};
  return { minVar: Math.max(0, 2 ** w[0] * (1 + INWARD) - c.normEps), maxVar: 2 ** w[1] * (1 - INWARD) - c.normEps };
}

/**
 * Windows from the calibration's smallest and largest v per norm (domain-check.ts normRanges), widened by
 * `margin` octaves and rounded outward to the grid, clamped to [eps, the ring's top].
 */
export function windowsFromRanges(c: ModelConfig, ranges: ReadonlyMap<string, readonly [number, number]>, fracBits: number, margin = WINDOW_MARGIN_OCTAVES): NormWindows {
  const out: Record<string, readonly [number, number]> = {};
  const top = Math.floor(ringTop(c, fracBits) / GRID) * GRID;
  const bottom = Math.floor(Math.log2(c.normEps) / GRID) * GRID;
  for (const name of normNames(c)) {
    const r = ranges.get(name);
    if (!r || !(r[0] > 0) || !(r[1] >= r[0]) || !Number.isFinite(r[1])) continue;
    const lo = Math.max(bottom, Math.floor((Math.log2(r[0]) - margin) / GRID) * GRID);
    const hi = Math.min(top, Math.ceil((Math.log2(r[1]) + margin) / GRID) * GRID);
    if (lo < hi) out[name] = [lo, hi];
  }
  return out;
}

/** The description with windows published (replacing any it had). */
export function withNormWindows<M extends { config: ModelConfig }>(model: M, windows: NormWindows): M {
  return { ...model, config: { ...model.config, normWindows: windows } };
}
