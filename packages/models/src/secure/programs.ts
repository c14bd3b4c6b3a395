/**
 * Party programs and the matching client logic for secure generation and classification. The parties run
 * `generateParty` / `classifyParty` (in worker threads, tabs or processes); the client runs
 * `generateClient` / `classifyClient`. Messages between them use explicit tags (j<job>/tok:i, j<job>/logits:i)
 * so the client needs no knowledge of the parties' internal op ids, and steps of different jobs never meet.
 */
import {
  maxLast, receiveFromParties, receiveInput, receiveTermFromParties, revealTermToClient, revealToClient, sendInput, type Party,
} from '@puma/protocol';
import { CLIENT, type Channel } from '@puma/transport';
import { emptyCache, loadSecureModel } from './model.ts';
import { secureHiddenInput } from './forward.ts';
import { secureLastLogits, secureLastLogitsTerm } from './head.ts';
import { argmax } from '../softmax.ts';
import { classifyManyClient, classifyManyParty } from './evaluation.ts';
import { jobTag } from './job-tag.ts';
import { oneHot } from './one-hot.ts';
import type { SecureWeights } from './weight-source.ts';

export interface GenerateArgs {
  /** Index of this job in the session (part of every message tag). */
  job: number;
  weights: SecureWeights;
  promptLength: number;
  maxNewTokens: number;
  /** 'logits': the client learns the last position's logits; 'argmax': only the securely chosen token. */
  reveal: 'logits' | 'argmax';
  /**
   * Before every step after the first the client tells the parties in the clear whether to go on (tag
   * j<job>/more:<step>, one byte), so a reply that ends (a stop token, e.g. EOS) costs no further steps. The
   * parties learn only the reply's length, which they see anyway from the number of steps they compute.
   * The client must be run with `stopIds` then (any list, possibly empty), and without it otherwise.
   */
  earlyStop?: boolean;
}

const GO_ON = 1;
const STOP = 0;

export interface StepReport {
  step: number;
  rounds: number;
  bytesSent: number;
  ms: number;
}

export async function generateParty(p: Party, a: GenerateArgs, env: { progress: (v: unknown) => void }): Promise<StepReport[]> {
  const m = loadSecureModel(p, a.weights);
  const vocab = m.config.vocabSize;
  const cache = emptyCache();
  const reports: StepReport[] = [];
  for (let step = 0; step < a.maxNewTokens; step++) {
    if (a.earlyStop && step > 0) {
      const more = await p.channel.recv(CLIENT, jobTag(a.job, `more:${step}`));
      if (more.length !== 1 || (more[0] !== GO_ON && more[0] !== STOP)) throw new Error(`generation: the client's continue flag for step ${step} is malformed`);
      if (more[0] === STOP) break;
    }
    const t0 = performance.now();
    const r0 = p.rounds;
    const b0 = p.channel.stats.bytesSent;
    const T = step === 0 ? a.promptLength : 1;
    const x = await receiveInput(p, CLIENT, jobTag(a.job, `tok:${step}`), [T, vocab]);
    const h = await secureHiddenInput(p, m, x, cache.length, cache);
    if (a.reveal === 'argmax') {
      const { argmax } = await maxLast(p, await secureLastLogits(p, m, h), true);
      await revealToClient(p, argmax!, jobTag(a.job, `logits:${step}`));
    } else {
      await revealTermToClient(p, await secureLastLogitsTerm(p, m, h), jobTag(a.job, `logits:${step}`));
    }
    const rep = { step, rounds: p.rounds - r0, bytesSent: p.channel.stats.bytesSent - b0, ms: performance.now() - t0 };
    reports.push(rep);
    env.progress(rep);
  }
  return reports;
}

export interface Sampler {
  /** Picks the next token from logits (greedy, temperature, top-k: the client's choice, in the clear). */
  (logits: Float64Array): number;
}

/** The largest logit (the first on ties, as the plaintext generateGreedy picks). */
export const greedy: Sampler = (logits) => argmax(logits);

/** Temperature + top-k sampling with an explicit random source (crypto-random by default). */
export function sampler(temperature: number, topK: number, random: () => number = () => crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32): Sampler {
  if (!(temperature > 0)) return greedy;
  return (logits) => {
    const idx = Array.from(logits.keys()).sort((x, y) => logits[y] - logits[x]).slice(0, topK > 0 ? topK : logits.length);
    const mx = logits[idx[0]];
    const w = idx.map((i) => Math.exp((logits[i] - mx) / temperature));
    let u = random() * w.reduce((s, v) => s + v, 0);
    for (let j = 0; j < idx.length; j++) if ((u -= w[j]) <= 0) return idx[j];
    return idx[idx.length - 1];
  };
}

export interface ClientStep {
  token: number;
  logits?: Float64Array;
}

export async function generateClient(
  c: Channel,
  o: {
    job: number; prompt: readonly number[]; vocab: number; maxNewTokens: number; reveal: 'logits' | 'argmax'; pick: Sampler;
    onToken?: (s: ClientStep, i: number) => void;
    /** With parties run with `earlyStop`: the reply ends after any of these (the stop token is included in the steps). */
    stopIds?: readonly number[];
  },
): Promise<ClientStep[]> {
  const steps: ClientStep[] = [];
  let feed: readonly number[] = o.prompt;
  for (let step = 0; step < o.maxNewTokens; step++) {
    if (o.stopIds && step > 0) {
      const flag = o.stopIds.includes(steps[step - 1].token) ? STOP : GO_ON;
      for (const party of [0, 1, 2] as const) c.send(party, jobTag(o.job, `more:${step}`), Uint8Array.of(flag));
      if (flag === STOP) break;
    }
    sendInput(c, jobTag(o.job, `tok:${step}`), oneHot(feed, o.vocab));
    const tag = jobTag(o.job, `logits:${step}`);
    const logits = o.reveal === 'logits' ? await receiveTermFromParties(c, tag) : undefined;
    const s: ClientStep = logits ? { token: o.pick(logits), logits } : { token: Number((await receiveFromParties(c, tag))[0]) };
    steps.push(s);
    o.onToken?.(s, step);
    feed = [s.token];
  }
  return steps;
}

export interface ClassifyArgs {
  /** Index of this job in the session (part of every message tag). */
  job: number;
  weights: SecureWeights;
  length: number;
}

/** One example: classifyManyParty with a single length (tags j<job>/tok:0 / j<job>/logits:0). */
export function classifyParty(p: Party, a: ClassifyArgs): Promise<{ rounds: number; bytesSent: number }> {
  return classifyManyParty(p, { job: a.job, weights: a.weights, lengths: [a.length] }, { progress: () => {} });
}

export async function classifyClient(c: Channel, o: { job: number; ids: readonly number[]; vocab: number }): Promise<Float64Array> {
  const [logits] = await classifyManyClient(c, { job: o.job, examples: [o.ids], vocab: o.vocab });
  return logits;
}
