/**
 * The secure pass's outputs (forward.ts builds the hidden states): the LM head (the final norm where the model
 * has one, then the head) and BERT's classifier (pooler, tanh, classifier).
 * As shares (secureLastLogits, secureLogitsRows) where the parties go on computing on the logits (the argmax
 * reveal); as each party's masked term for the client where the logits are revealed (the *Term functions,
 * protocol revealTerm.ts, issue 12): the head's product is never truncated, because the client adds the three
 * terms and divides in the clear. That takes the head's 2 truncation rounds and its truncation bytes (about
 * 8/3 words per logit and party once the dealers rotate: 1.07 MB per GPT-2 token) off every pass; the reveal
 * itself sends one word per logit as before, plus one header word. The client's logits are exact products of
 * the shared values (no truncation error on them). A final norm fused with the head (normFeeds, the same rule:
 * the fused path truncates m W, the unfused one the norm's own product) leaves R (m W) untruncated the same way
 * (nn normMatmulTerm).
 */
import type { AShare, OutputTerm, Party } from '@puma/protocol';
import { layerNormMatmulTerm, layerNormOfResidualMatmulTerm, rmsNormMatmulTerm, tanh, type NormInput } from '@puma/nn';
import { normOptions } from '../norm-windows.ts';
import { addBiasToTerm, inputRows, linear, normAffine, resolvedInput, rows, type SecureModel } from './model.ts';
import { betaRow, feeds, layerNormTerm, normFeeds, normInto, normOfInput } from './norms.ts';
import { linearMatmulTerm, linearWeight } from './linear-weight.ts';

/** Logits [1, vocab] of the last position, as shares (h as forward.ts secureHiddenInput gives it). */
export async function secureLastLogits(p: Party, m: SecureModel, h: NormInput): Promise<AShare> {
  return secureLogitsRows(p, m, lastRow(p, h));
}

/** The last row of h (a sum's term: its last row, the whole term released). */
function lastRow(p: Party, h: NormInput): NormInput {
  const last = inputRows(p, h, h.shape[0] - 1, 1);
  if ('term' in h) p.drop(h.term);
  return last;
}

/** Logits [T, vocab] of every row of hidden states [T, hidden], as shares. */
export async function secureLogitsRows(p: Party, m: SecureModel, h: NormInput): Promise<AShare> {
  return p.profile('head', async () => {
    if (!m.weights.has('final.scale')) return linear(p, m, 'head', await resolvedInput(p, h));
    return (await normInto(p, m, 'final', h, 'head', false)).out;
  });
}

/** Logits [1, vocab] of the last position, as this party's term for the client (h as secureHiddenInput gives it). */
export async function secureLastLogitsTerm(p: Party, m: SecureModel, h: NormInput): Promise<OutputTerm> {
  return secureLogitsRowsTerm(p, m, lastRow(p, h));
}

/** Logits [T, vocab] of every row of hidden states [T, hidden] (evaluation scores all positions), as this party's term. */
export async function secureLogitsRowsTerm(p: Party, m: SecureModel, h: NormInput): Promise<OutputTerm> {
  return p.profile('head', async () => {
    if (!m.weights.has('final.scale')) return linearTerm(p, m, 'head', await resolvedInput(p, h));
    return normIntoTerm(p, m, 'final', h, 'head');
  });
}

/** BERT sequence classification: classifier(tanh(pooler(h[0]))) -> [1, labels], as this party's term. */
export async function secureClassifierLogitsTerm(p: Party, m: SecureModel, h: AShare): Promise<OutputTerm> {
  return p.profile('head', async () => {
    const pooled = await p.profile('tanh', async () => tanh(p, await linear(p, m, 'pooler', rows(p, h, 0, 1))));
    return linearTerm(p, m, 'cls', pooled);
  });
}

/** x W + b of linear `name` as this party's term (the bias added at the term's fraction bits). */
async function linearTerm(p: Party, m: SecureModel, name: string, x: AShare): Promise<OutputTerm> {
  return addBiasToTerm(p, m, name, await linearMatmulTerm(p, m.weights, name, x));
}

/** norm(x) W_into as this party's term: fused where normFeeds (in a 'norm' span), else the norm, then the term. */
async function normIntoTerm(p: Party, m: SecureModel, name: string, h: NormInput, into: string): Promise<OutputTerm> {
  const c = m.config;
  if (!normFeeds(h.shape[0], c.hiddenSize, linearWeight(m.weights, into).out, false, betaRow(m, name))) {
    return linearTerm(p, m, into, await normOfInput(p, m, name, h));
  }
  const mm = { ...feeds(m, name, into, false), matmulTerm: (q: Party, y: AShare) => linearMatmulTerm(q, m.weights, into, y) };
  const { scale, bias } = await normAffine(p, m, name);
  const t = await p.profile('norm', async () => {
    const sum = layerNormTerm(m, h);
    if (sum) {
      const term = await layerNormOfResidualMatmulTerm(p, sum, scale, bias, c.normEps, mm, normOptions(c, name));
      p.drop(sum.term);
      return term;
    }
    if (c.norm !== 'rmsnorm') return layerNormMatmulTerm(p, await resolvedInput(p, h), scale, bias, c.normEps, mm, normOptions(c, name));
    const term = await rmsNormMatmulTerm(p, h, scale, c.normEps, mm, normOptions(c, name));
    if ('term' in h) p.drop(h.term);
    return term;
  });
  return addBiasToTerm(p, m, into, t);
}
