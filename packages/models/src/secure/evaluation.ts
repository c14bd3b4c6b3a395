/**
 * Secure evaluation: the same model on many inputs, the client scoring what it receives, and the numbers that
 * compare the secure run with the float64 reference (top-1 agreement, perplexity, accuracy, logit error).
 *
 * Language models: each window of W tokens is one secure forward pass from position 0 and the client learns
 * the logits of all W positions (an evaluation client needs every position; generation reveals only the last).
 * Classifiers: one secure pass per example, the client learns its label logits.
 */
import { receiveInput, receiveTermFromParties, revealTermToClient, sendInput, type Party } from '@puma/protocol';
import { CLIENT, type Channel } from '@puma/transport';
import { DecoderSession } from '../decoder.ts';
import { argmax, logSoftmaxAt } from '../softmax.ts';
import type { Model } from '../types.ts';
import { loadSecureModel } from './model.ts';
import { secureHidden, secureHiddenInput } from './forward.ts';
import { secureClassifierLogitsTerm, secureLogitsRowsTerm } from './head.ts';
import { jobTag } from './job-tag.ts';
import { oneHot } from './one-hot.ts';
import type { SecureWeights } from './weight-source.ts';

export interface ScoreArgs {
  /** Index of this job in the session (part of every message tag). */
  job: number;
  weights: SecureWeights;
  windows: number;
  windowSize: number;
}

/** Party side of LM scoring: per window, all positions' logits to the client (tags j<job>/tok:w / j<job>/logits:w). */
export async function scoreParty(p: Party, a: ScoreArgs, env: { progress: (v: unknown) => void }): Promise<{ rounds: number; bytesSent: number }> {
  const m = loadSecureModel(p, a.weights);
  for (let w = 0; w < a.windows; w++) {
    const x = await receiveInput(p, CLIENT, jobTag(a.job, `tok:${w}`), [a.windowSize, m.config.vocabSize]);
    const h = await secureHiddenInput(p, m, x, 0, null);
    await revealTermToClient(p, await secureLogitsRowsTerm(p, m, h), jobTag(a.job, `logits:${w}`));
    env.progress({ window: w });
  }
  return { rounds: p.rounds, bytesSent: p.channel.stats.bytesSent };
}

/** Per scored position: the predicted (argmax) id and the negative log-likelihood of the target. */
export interface PositionScores {
  top1: Int32Array;
  nll: Float64Array;
}

/** Top-1 ids and target NLLs of logits [rows, vocab] against targets[rows]. */
export function scoreLogits(logits: Float64Array, targets: readonly number[], vocab: number): PositionScores {
  if (logits.length !== targets.length * vocab) throw new Error(`logits hold ${logits.length / vocab} rows, expected ${targets.length}`);
  const top1 = new Int32Array(targets.length);
  const nll = new Float64Array(targets.length);
  targets.forEach((t, r) => {
    top1[r] = argmax(logits, r * vocab, vocab);
    nll[r] = -logSoftmaxAt(logits, t, r * vocab, vocab);
  });
  return { top1, nll };
}

/**
 * Client side of LM scoring: window w is ids[w*W .. w*W+W-1] with targets ids[w*W+1 .. w*W+W] (the
 * non-overlapping windows of the plaintext perplexity).
 */
export async function scoreClient(
  c: Channel,
  o: {
    job: number; ids: readonly number[]; windows: number; windowSize: number; vocab: number;
    onWindow?: (w: number, s: PositionScores) => void;
  },
): Promise<PositionScores[]> {
  const W = o.windowSize;
  if (o.ids.length < o.windows * W + 1) throw new Error(`${o.windows} windows of ${W} need ${o.windows * W + 1} tokens, got ${o.ids.length}`);
  const out: PositionScores[] = [];
  for (let w = 0; w < o.windows; w++) {
    sendInput(c, jobTag(o.job, `tok:${w}`), oneHot(o.ids.slice(w * W, w * W + W), o.vocab));
    const logits = await receiveTermFromParties(c, jobTag(o.job, `logits:${w}`));
    const s = scoreLogits(logits, o.ids.slice(w * W + 1, w * W + W + 1), o.vocab);
    out.push(s);
    o.onWindow?.(w, s);
  }
  return out;
}

export interface ClassifyManyArgs {
  /** Index of this job in the session (part of every message tag). */
  job: number;
  weights: SecureWeights;
  /** Token count of each example, in order (public: the sequence length is visible to the parties). */
  lengths: number[];
}

/** Party side of classifying many examples (tags j<job>/tok:i / j<job>/logits:i). */
export async function classifyManyParty(p: Party, a: ClassifyManyArgs, env: { progress: (v: unknown) => void }): Promise<{ rounds: number; bytesSent: number }> {
  const m = loadSecureModel(p, a.weights);
  for (const [i, length] of a.lengths.entries()) {
    const x = await receiveInput(p, CLIENT, jobTag(a.job, `tok:${i}`), [length, m.config.vocabSize]);
    await revealTermToClient(p, await secureClassifierLogitsTerm(p, m, await secureHidden(p, m, x, 0, null)), jobTag(a.job, `logits:${i}`));
    env.progress({ example: i });
  }
  return { rounds: p.rounds, bytesSent: p.channel.stats.bytesSent };
}

export async function classifyManyClient(
  c: Channel,
  o: {
    job: number; examples: ReadonlyArray<readonly number[]>; vocab: number;
    onExample?: (i: number, logits: Float64Array) => void;
  },
): Promise<Float64Array[]> {
  const out: Float64Array[] = [];
  for (const [i, ids] of o.examples.entries()) {
    sendInput(c, jobTag(o.job, `tok:${i}`), oneHot(ids, o.vocab));
    const logits = await receiveTermFromParties(c, jobTag(o.job, `logits:${i}`));
    out.push(logits);
    o.onExample?.(i, logits);
  }
  return out;
}

export interface LmComparison {
  positions: number;
  securePerplexity: number;
  plaintextPerplexity: number;
  /** |secure / plaintext - 1|. */
  perplexityRelError: number;
  /** Fraction of positions where both pick the same top-1 id. */
  top1Agreement: number;
}

export function compareLm(secure: readonly PositionScores[], plaintext: readonly PositionScores[]): LmComparison {
  if (secure.length !== plaintext.length) throw new Error(`${secure.length} secure windows vs ${plaintext.length} plaintext windows`);
  let n = 0;
  let agree = 0;
  let sNll = 0;
  let pNll = 0;
  secure.forEach((s, w) => {
    const q = plaintext[w];
    if (s.nll.length !== q.nll.length) throw new Error(`window ${w}: ${s.nll.length} secure positions vs ${q.nll.length} plaintext`);
    for (let i = 0; i < s.nll.length; i++) {
      n++;
      if (s.top1[i] === q.top1[i]) agree++;
      sNll += s.nll[i];
      pNll += q.nll[i];
    }
  });
  const securePerplexity = Math.exp(sNll / n);
  const plaintextPerplexity = Math.exp(pNll / n);
  return { positions: n, securePerplexity, plaintextPerplexity, perplexityRelError: Math.abs(securePerplexity / plaintextPerplexity - 1), top1Agreement: agree / n };
}

export interface ClassifierComparison {
  examples: number;
  secureAccuracy: number;
  plaintextAccuracy: number;
  /** Fraction of examples where both give the same label. */
  labelAgreement: number;
  maxLogitError: number;
}

export function compareClassifier(secure: readonly Float64Array[], plaintext: readonly Float64Array[], labels: readonly number[]): ClassifierComparison {
  if (secure.length !== plaintext.length || secure.length !== labels.length) throw new Error('secure, plaintext and labels differ in length');
  let sOk = 0;
  let pOk = 0;
  let agree = 0;
  let maxLogitError = 0;
  secure.forEach((s, i) => {
    const a = argmax(s);
    const b = argmax(plaintext[i]);
    if (a === labels[i]) sOk++;
    if (b === labels[i]) pOk++;
    if (a === b) agree++;
    s.forEach((v, j) => (maxLogitError = Math.max(maxLogitError, Math.abs(v - plaintext[i][j]))));
  });
  const n = secure.length;
  return { examples: n, secureAccuracy: sOk / n, plaintextAccuracy: pOk / n, labelAgreement: agree / n, maxLogitError };
}

export interface LogitPathError {
  /** Largest |secure - plaintext| over every step and vocabulary entry. */
  maxAbsError: number;
  /** Step where it occurred. */
  step: number;
  /** Smallest gap between the plaintext's top two logits along the path, and its step. */
  minTop2Gap: number;
  gapStep: number;
}

/**
 * Follows the secure generation's own token path in the float64 reference (teacher forcing with the tokens the
 * client picked) and measures how far the revealed logits are from plaintext at every step.
 */
export function logitPathError(model: Model, prompt: readonly number[], steps: ReadonlyArray<{ token: number; logits: Float64Array }>): LogitPathError {
  const session = new DecoderSession(model);
  let plain = session.prefill(prompt);
  const r: LogitPathError = { maxAbsError: 0, step: -1, minTop2Gap: Infinity, gapStep: -1 };
  steps.forEach((s, i) => {
    if (s.logits.length !== plain.length) throw new Error(`step ${i}: ${s.logits.length} secure logits vs ${plain.length} plaintext`);
    let first = -Infinity;
    let second = -Infinity;
    for (let j = 0; j < plain.length; j++) {
      const e = Math.abs(s.logits[j] - plain[j]);
      if (e > r.maxAbsError) [r.maxAbsError, r.step] = [e, i];
      if (plain[j] > first) [first, second] = [plain[j], first];
      else if (plain[j] > second) second = plain[j];
    }
    if (first - second < r.minTop2Gap) [r.minTop2Gap, r.gapStep] = [first - second, i];
    if (i + 1 < steps.length) plain = session.step(s.token);
  });
  return r;
}
