/**
 * Does a model stay inside the domain of the secure pass's bounded steps? Checked in plaintext by whoever holds
 * the weights (the model owner), before sharing, on a calibration sequence: the secure functions give arbitrary
 * answers outside their domain, silently, because no party can see the values. The domains (nn package):
 * - elementwise nonlinearities (GeLU, SiLU, tanh) compare on an 18-bit window: |x| < 1000 (piecewise.ts,
 *   gelu.ts 1020, silu.ts 1010, tanh.ts 1020);
 * - softmax's max and its exp clip: the visible scores of one query row differ by less than 1000 (softmax.ts);
 * - attention's product e V R: |V| below attentionValueBound of the model's longest sequence (softmax.ts);
 * - RoPE: rotated queries and keys below 2^(62 - 2f - ROPE_TABLE_BITS) = 1024 (secure/rope-qkv.ts rotates them
 *   untruncated);
 * - attention into its output projection (secure/attention.ts attentionFeedsOutput, nn softmax.ts attendInto): the
 *   residual sum x + o that the MLP norm takes below attentionOutputBound of the model's longest sequence
 *   ('attention output sum', read at the MLP norm's input), where the model's decoding steps take that path;
 * - norms: the sum of squares of a row (centred for LayerNorm) plus n eps below 2^(62 - 2f) (norm.ts) and
 *   |(x - mean) / sqrt(var + eps) * gamma| <= 2^12 (its outBound);
 * - a norm that feeds its matmul (secure/norms.ts normInto, nn norm-matmul.ts): |y W| and |(y - beta) W| below
 *   NORM_MATMUL_BOUND = 2^12 for the matrices it feeds (bias excluded: it is added after);
 * - a norm with a published window (norm-windows.ts, config.normWindows [lo, hi]): its rows' variance plus eps
 *   (mean square plus eps for RMSNorm) v within [2^lo, 2^hi] (below: y = beta, above: arbitrary). Reported as
 *   'norm window', the value max(v / 2^hi, 2^lo / v) over the rows against the limit 1.
 * The check also returns each norm's smallest and largest v (normRanges), from which the owner publishes the
 * windows (norm-windows.ts windowsFromRanges; domain-publish.ts, for the CLI and the owner page).
 * A calibration pass cannot prove every prompt stays inside, so the check asks for a margin as well: a model
 * whose calibration comes within a factor MARGIN of a limit is reported as such ("tight"), one past a limit as
 * outside. The real models of the tests stay 4x or more inside (narrow-domain.test.ts).
 */
import { attentionOutputBound, attentionValueBound, NORM_MATMUL_BOUND } from '@puma/nn';
import { attentionFeedsOutput } from './secure/attention.ts';
import type { NormWindows } from './types.ts';
import { activate } from './activations.ts';
import { ROPE_TABLE_BITS } from './secure/rope-qkv.ts';
import { forwardHidden, type ForwardProbe } from './forward.ts';
import { linear, matmul } from './matmul.ts';
import type { Tokenizer } from './tokenizer.ts';
import type { FloatArray, Model, Norm, Tensor } from './types.ts';

/**
 * The check's version: bump it whenever the quantities it reads, their limits, the calibration text or the margin
 * change, so an owner page never reuses a verdict recorded under another check (worker owner-domain.ts keys its
 * recorded verdicts by it). 2: 'attention output sum'.
 */
export const DOMAIN_CHECK_VERSION = 2;

/** |x| of an elementwise nonlinearity's input. */
export const ACTIVATION_LIMIT = 1000;
/** Largest minus smallest visible score of one attention row. */
export const SPREAD_LIMIT = 1000;
/** |normalised value times gamma|, nn norm.ts's default outBound. */
export const NORM_OUTPUT_LIMIT = 2 ** 12;
/** Calibration must stay this factor inside every limit to count as safe. */
export const MARGIN = 4;
const CALIBRATION_TOKENS = 32;

/** Ordinary English prose with digits, punctuation and a line break, for tokenizers that have one. */
const CALIBRATION_TEXT =
  'Once upon a time, in a small town by the sea, a girl named Mia found an old map in her grandmother\'s attic. ' +
  'It showed 3 islands and a path marked with red ink.\nShe asked, "Where does it lead?" Nobody knew.';

export type DomainQuantity =
  'activation input' | 'attention row spread' | 'attention value' | 'rotated query/key' | 'attention output sum' | 'norm sum of squares' | 'norm output' | 'norm matmul output'
  | 'norm window';

export interface DomainFinding {
  quantity: DomainQuantity;
  /** Where the largest value was seen ("layer 3 MLP activation"). */
  site: string;
  value: number;
  limit: number;
}

export interface DomainReport {
  /** The largest value of each quantity and its limit. */
  findings: DomainFinding[];
  /**
   * For each quantity that went past its limit, the first step in pass order where it did (the cause; later
   * steps often follow from it): the secure pass would be wrong there. Ordered by pass order.
   */
  outside: DomainFinding[];
  /** Findings inside their limit but within MARGIN of it. */
  tight: DomainFinding[];
  /** Tokens of the longest sequence checked. */
  tokens: number;
  /** Per norm of the secure pass (norm-windows.ts normNames), the smallest and largest row variance plus eps seen. */
  normRanges: Map<string, [number, number]>;
}

/** The secure pass's name of the norm a probe site names ('layer 3 MLP norm' -> 'l3.mlpNorm'); none for the MLM head's. */
function secureNormName(site: string): string | undefined {
  if (site === 'embedding norm') return 'emb.norm';
  if (site === 'final norm') return 'final';
  const m = /^layer (\d+) (attention|MLP) norm$/.exec(site);
  return m ? `l${m[1]}.${m[2] === 'MLP' ? 'mlpNorm' : 'attnNorm'}` : undefined;
}

/** The ids the check runs on: the calibration text through the model's tokenizer, or a fixed spread of ids. */
export function calibrationIds(model: Model, tokenizer?: Tokenizer): number[] {
  const max = Math.min(CALIBRATION_TOKENS, model.config.maxPositions);
  const vocab = model.config.vocabSize;
  const fromText = tokenizer ? tokenizer.encode(CALIBRATION_TEXT).filter((id) => id < vocab) : [];
  if (fromText.length >= Math.min(8, max)) return fromText.slice(0, max);
  // Without a tokenizer: ids spread over the vocabulary by a fixed multiplicative step (no randomness, so
  // the check is repeatable).
  return Array.from({ length: max }, (_, i) => (i * 7919 + 13) % vocab);
}

class Extremes implements ForwardProbe {
  readonly best = new Map<DomainQuantity, { site: string; value: number }>();
  /** First step past the limit, per quantity, in pass order. */
  readonly firstOutside: DomainFinding[] = [];
  readonly normRanges = new Map<string, [number, number]>();

  constructor(
    private readonly fracBits: number, private readonly maxPositions: number, private readonly feeds: ReadonlyMap<string, readonly Tensor[]> = new Map(),
    private readonly windows: NormWindows = {},
    /** Whether the attention goes into its output projection's term (the 'attention output sum' bound applies). */
    private readonly attendsInto = false,
  ) {}

  private see(quantity: DomainQuantity, site: string, value: number): void {
    const old = this.best.get(quantity);
    // NaN counts as past every limit.
    if (!old || !(value <= old.value)) this.best.set(quantity, { site, value });
    const limit = this.limit(quantity);
    if (!(value < limit) && !this.firstOutside.some((f) => f.quantity === quantity)) this.firstOutside.push({ quantity, site, value, limit });
  }

  activation(site: string, x: FloatArray): void {
    let m = 0;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
    this.see('activation input', site, m);
  }

  scores(site: string, row: Float64Array, len: number): void {
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = 0; j < len; j++) {
      lo = Math.min(lo, row[j]);
      hi = Math.max(hi, row[j]);
    }
    if (len > 0) this.see('attention row spread', site, hi - lo);
  }

  values(site: string, v: FloatArray): void {
    let m = 0;
    for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
    this.see('attention value', site, m);
  }

  rotated(site: string, x: FloatArray): void {
    let m = 0;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
    this.see('rotated query/key', site, m);
  }

  norm(site: string, x: FloatArray, rows: number, norm: Norm): void {
    const n = norm.scale.data.length;
    if (this.attendsInto && /^layer \d+ MLP norm$/.test(site)) {
      let m = 0;
      for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
      this.see('attention output sum', site, m);
    }
    const g = norm.scale.data;
    // The normalised rows, all kept: the matrices the norm feeds multiply them in one product each.
    const y = new Float64Array(rows * n);
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let mean = 0;
      if (norm.kind === 'layernorm') {
        for (let j = 0; j < n; j++) mean += x[o + j];
        mean /= n;
      }
      let s = 0;
      for (let j = 0; j < n; j++) s += (x[o + j] - mean) ** 2;
      this.see('norm sum of squares', site, s + n * norm.eps);
      this.range(site, s / n + norm.eps);
      const inv = 1 / Math.sqrt(s / n + norm.eps);
      let out = 0;
      for (let j = 0; j < n; j++) {
        y[o + j] = (x[o + j] - mean) * inv * g[j];
        out = Math.max(out, Math.abs(y[o + j]));
      }
      this.see('norm output', site, out);
    }
    for (const w of this.feeds.get(site) ?? []) this.see('norm matmul output', site, productExtreme(y, rows, norm.bias?.data, w));
  }

  /** One row's variance plus eps v: the norm's range, and its place in a published window. */
  private range(site: string, v: number): void {
    const name = secureNormName(site);
    if (name === undefined) return;
    const old = this.normRanges.get(name);
    this.normRanges.set(name, old ? [Math.min(old[0], v), Math.max(old[1], v)] : [v, v]);
    const w = this.windows[name];
    if (w) this.see('norm window', site, Math.max(v / 2 ** w[1], 2 ** w[0] / v));
  }

  limit(q: DomainQuantity): number {
    switch (q) {
      case 'norm matmul output': return NORM_MATMUL_BOUND;
      case 'norm window': return 1;
      case 'activation input': return ACTIVATION_LIMIT;
      case 'attention row spread': return SPREAD_LIMIT;
      case 'attention value': return attentionValueBound(this.maxPositions, this.fracBits);
      case 'rotated query/key': return 2 ** (62 - 2 * this.fracBits - ROPE_TABLE_BITS);
      case 'attention output sum': return attentionOutputBound(this.maxPositions, this.fracBits);
      case 'norm sum of squares': return 2 ** (62 - 2 * this.fracBits);
      case 'norm output': return NORM_OUTPUT_LIMIT;
    }
  }
}

/**
 * max over rows and columns of |y W| and |(y - beta) W| for the normalised rows y [rows, n] (beta absent for
 * RMSNorm), W [n, out]. Both products sum over n in the same order as a row-by-row loop would (matmul.ts), so
 * the value is the same; beta W is one row, made once. Made row by row, with beta W again for every row, these
 * products held GPT-2-base's check at 35-43 s (Node, load 8-13); so, 7-14 s (load 12-14).
 */
function productExtreme(y: Float64Array, rows: number, beta: FloatArray | undefined, w: Tensor): number {
  const [n, out] = w.shape;
  const yw = matmul(y, w.data, rows, n, out);
  const bw = beta ? matmul(beta, w.data, 1, n, out) : new Float64Array(out);
  let m = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * out;
    for (let j = 0; j < out; j++) m = Math.max(m, Math.abs(yw[o + j]), Math.abs(yw[o + j] + bw[j]));
  }
  return m;
}

/** The matrices each norm (by its probe site) may feed in the secure pass (secure/norms.ts normInto). */
function normFeeds(model: Model): Map<string, Tensor[]> {
  const { config: c, weights: w } = model;
  const feeds = new Map<string, Tensor[]>();
  const qkv = (l: number) => (c.positions === 'rope' ? [] : [w.layers[l].attn.q.weight, w.layers[l].attn.k.weight, w.layers[l].attn.v.weight]);
  const mlpIn = (l: number) => {
    const m = w.layers[l].mlp;
    return m.kind === 'dense' ? [m.up.weight] : [m.w1.weight, m.w3.weight];
  };
  w.layers.forEach((_, l) => {
    if (c.normPlacement === 'pre') {
      feeds.set(`layer ${l} attention norm`, qkv(l));
      feeds.set(`layer ${l} MLP norm`, mlpIn(l));
    } else {
      feeds.set(`layer ${l} attention norm`, mlpIn(l));
      if (l + 1 < w.layers.length) feeds.set(`layer ${l} MLP norm`, qkv(l + 1));
    }
  });
  if (c.normPlacement === 'post' && w.layers.length > 0) feeds.set('embedding norm', qkv(0));
  if (w.head.kind === 'lm') feeds.set('final norm', [w.head.weight]);
  return feeds;
}

/** One float64 pass of `ids` with the probe watching, BERT heads included. */
function probePass(model: Model, ids: readonly number[], probe: Extremes): void {
  const hidden = forwardHidden(model, ids, { probe });
  const head = model.weights.head;
  const pooler = head.kind === 'classifier' || head.kind === 'none' ? head.pooler : undefined;
  if (pooler) probe.activation('pooler tanh', linear(hidden.subarray(0, model.config.hiddenSize), 1, pooler));
  if (head.kind === 'mlm') {
    const pre = linear(hidden, ids.length, head.transform);
    probe.activation('MLM head activation', pre);
    probe.norm('MLM head norm', activate(pre, model.config.activation), ids.length, head.norm);
  }
}

/**
 * Runs the float64 forward pass on each of `sequences` (default: calibrationIds alone) with a probe and reports
 * each bounded quantity's largest value over all of them against its limit. BERT heads are checked too: the
 * pooler's tanh input, the MLM transform's activation input and its norm.
 */
export function checkDomain(model: Model, o: { sequences?: ReadonlyArray<readonly number[]>; tokenizer?: Tokenizer; fracBits?: number } = {}): DomainReport {
  const sequences = o.sequences ?? [calibrationIds(model, o.tokenizer)];
  if (sequences.length === 0) throw new Error('domain check: no sequence to run');
  const c = model.config;
  const probe = new Extremes(o.fracBits ?? 18, c.maxPositions, normFeeds(model), c.normWindows, attentionFeedsOutput(c, 1));
  for (const ids of sequences) probePass(model, ids, probe);
  const findings = [...probe.best].map(([quantity, { site, value }]) => ({ quantity, site, value, limit: probe.limit(quantity) }));
  return {
    findings,
    outside: probe.firstOutside,
    tight: findings.filter((f) => f.value < f.limit && f.value * MARGIN >= f.limit),
    tokens: Math.max(...sequences.map((ids) => ids.length)),
    normRanges: probe.normRanges,
  };
}

const fmt = (v: number): string => (Number.isFinite(v) && Math.abs(v) < 1e6 ? v.toFixed(2) : v.toExponential(3));
const describe = (f: DomainFinding): string => `${f.quantity} ${fmt(f.value)} at ${f.site} (limit ${fmt(f.limit)})`;

/** One line per finding, for a CLI or a page. */
export function formatDomainReport(r: DomainReport): string {
  const outside = new Set(r.outside.map((f) => f.quantity));
  return r.findings.map((f) => `${describe(f)}${outside.has(f.quantity) ? ' OUTSIDE' : r.tight.includes(f) ? ' tight' : ''}`).join('\n');
}

/**
 * The owner's verdict on a report: `refused` says which quantities left the secure pass's domain, where and by
 * how much (set when any did); `warning`, which came within the margin.
 */
export function domainVerdict(r: DomainReport, modelName: string): { refused?: string; warning?: string } {
  if (r.outside.length > 0) {
    return {
      refused: `${modelName} leaves the secure pass's domain on a ${r.tokens}-token calibration pass, so secure results would be wrong: ` +
        `${r.outside.map(describe).join('; ')}`,
    };
  }
  if (r.tight.length > 0) return { warning: `${modelName} comes within ${MARGIN}x of the secure pass's domain limits on calibration: ${r.tight.map(describe).join('; ')}` };
  return {};
}

/** Throws domainVerdict's refusal; returns its warning line, else undefined. */
export function assertDomain(r: DomainReport, modelName: string): string | undefined {
  const { refused, warning } = domainVerdict(r, modelName);
  if (refused !== undefined) throw new Error(refused);
  return warning;
}
