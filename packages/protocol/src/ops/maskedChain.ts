/**
 * A chain of multiply-and-truncate levels at one round per level (plus one to return to replicated shares), where a
 * product followed by a dealer truncation (truncate.ts) costs two: the truncation's opening doubles as the next
 * product's masked input, as in ABY2.0's masked evaluation (Patra et al., USENIX Security 2021, section 3) with
 * the dealer truncation of Dalskov, Escudero and Keller (arXiv 1910.12435, section 3.2.2).
 *
 * Per dealer chunk, D deals and A = D + 1, B = D + 2 compute. Every gate opens c = y + 2^62 + r to A and B (y its
 * sum of products plus addend; r = r_A + r_B, r_A from D's key with A, r_B from D's key with B) and truncates it as
 * truncate.ts does, so its result, an atom, is
 *   x = P - (R - s T),   P = (c mod 2^63) >> d + 2^(63-d) msb(c) - 2^(62-d),   s = 1 - 2 msb(c)
 * with P and s public to A and B, and the mask components R = (r mod 2^63) >> d and T = 2^(63-d) msb(r) known to D
 * and additively shared by A and B (A's half from its key with D, B's sent by D). An exact gate (d = 0) opens
 * c = y + r and gives x = c - r (R = r, no T). A form F = sum_k f_k x_k + const is then F_P - F_M with F_P public
 * and F_M = sum_k f_k (R_k - s_k T_k) linear in the components, and a product of two forms is
 *   F G = F_P G_P - F_P G_M - G_P F_M + F_M G_M,   F_M G_M = sum_{a, b} f_a g_b (comp_a comp_b),
 * where D deals A and B additive shares of every component product comp_a comp_b the program names (it knows
 * the components, not the signs s, which enter as the public coefficients f, g). So A and B hold y of the next
 * gate additively without a round, and open it masked by the next r: one round per level. Level 0 takes
 * replicated inputs: its products are 3-of-3 terms (mul.ts localProduct plus a zero sharing), and D sends its
 * term plus r to both. The outputs (forms over atoms and inputs) return to replicated shares in one round
 * (halves.ts). What anyone sees: A and B each receive the other's share plus its r half (uniform to them: a
 * key they lack), B receives D's dealt shares masked by A's draws, A and B receive D's term plus r; D receives
 * nothing. Every opened c is y + r with r uniform.
 * Selection (maskedChainFinish with bits): each output F times a secret bit b = t ^ c per element, t = b_D ^ b_A
 * (D's two components) and c = b_B (A's and B's): b F = c F + (1 - 2c)(t F_P - t F_M), where D shares t and every
 * t comp_a (A's halves from its key, B's sent: one round), A and B then hold b F additively. B sees t and the
 * products masked by A's draws; A receives nothing; D nothing.
 * Cost: levels + 1 rounds (+ 1 with the selection, D sending 1 + the outputs' components words per element).
 * Per element: D sends 2 words per level-0 gate and, to B, 1 or 2 words per gate (R, T) plus one per component
 * pair; A and B send 1 word per gate and 1 per output (maskedChainCost). Against levels of mulTrunc (2 rounds and
 * 8 words in all per output each): levels + 1 rounds where they take 2 x levels, and about the words when
 * the forms name few atoms, more when they name many (nn fused.test.ts pins, in words in all per value: a degree-4
 * polynomial 3 rounds and 19 words where two products took 4 and 16, of a truncated argument 4 and 21 where 6 and
 * 24, degree 6 4 and 28 where 6 and 24).
 * Error: each truncating gate is floor(y / 2^d) + {0, 1}, as truncate.ts; exact gates are exact. |y| < 2^62.
 */
import type { Buf } from '@puma/backend';
import type { PartyId } from '@puma/transport';
import type { Party } from '../party.ts';
import { aShare, numel, type AShare, type BShare } from '../share.ts';
import { dealerRanges } from '../dealers.ts';
import { localProduct } from './mul.ts';
import { truncationMask, truncationOpening } from './truncate.ts';
import { replicateHalves } from './halves.ts';
import { formPublic, inputForm, inputHalf, maskHalf, maskTerms, sum, times, type Chunk, type Known } from './maskedChainForms.ts';
import { chainShape, formComps, opensFromTerms, selectionComps, pairKey, pairVanishes, type ChainForm, type ChainProgram, type ChainShape, type Comp } from './maskedChainPlan.ts';

export * from './maskedChainPlan.ts';

const OFFSET = 1n << 62n;


/** Draws of one level: D's key with A at stream 0 (r_A) and 2 (A's dealt halves), with B at stream 0 (r_B). */
const R_STREAM = 0;
const ZERO_STREAM = 1;
const DEALT_STREAM = 2;
/** The selection's draws (its own op id): t_A and A's halves of t comp_a. */
const SELECT_STREAM = 0;

/** The words per element D deals at level l: R (and T) per gate, then the level's pairs. */
const levelDealt = (s: ChainShape, l: number): number => s.gates.reduce((t, g) => t + (g.level === l ? (g.gate.bits > 0 ? 2 : 1) : 0), 0) + s.levelPairs[l].length;

/** D's side: every r, component and pair from the keys; its level-0 terms plus r to A and B, the rest to B. */
async function dealerSide(c: Chunk, tags: string[], s: ChainShape, level0: Array<Buf | null>): Promise<Map<Comp, Buf>> {
  const { q, m, A, B } = c;
  const be = q.backend;
  const value = new Map<Comp, Buf>();
  const toBoth: Buf[] = [];
  const toB: Buf[] = [];
  for (let l = 0; l < tags.length; l++) {
    const gates = s.gates.filter((g) => g.level === l);
    const rA = q.prgWith(A, tags[l], gates.length * m, R_STREAM);
    const rB = q.prgWith(B, tags[l], gates.length * m, R_STREAM);
    const aHalves = q.prgWith(A, tags[l], levelDealt(s, l) * m, DEALT_STREAM);
    let at = 0;
    const deal = (v: Buf): void => {
      toB.push(be.sub(v, be.slice(aHalves, at * m, m)));
      at++;
    };
    // Pairs name components of earlier levels' atoms only, so they are known before this level's.
    const pairs = s.levelPairs[l].map(([a, b]) => be.mul(value.get(a) as Buf, value.get(b) as Buf));
    gates.forEach((g, j) => {
      const r = be.add(be.slice(rA, j * m, m), be.slice(rB, j * m, m));
      const term = l === 0 ? level0[j] : null;
      if (term) toBoth.push(be.add(term, r));
      const d = g.gate.bits;
      const mask = d > 0 ? truncationMask(q, r, d) : null;
      const comps: Array<[Comp, Buf]> = mask ? [[2 * g.atom, mask.low], [2 * g.atom + 1, be.mulScalar(mask.msb, 1n << BigInt(63 - d))]] : [[2 * g.atom, r]];
      for (const [k, v] of comps) {
        value.set(k, v);
        deal(v);
      }
    });
    pairs.forEach(deal);
  }
  const both = be.concat(toBoth);
  await q.exchange(tags[0], toBoth.length ? [[A, both], [B, be.concat([both, ...toB])]] : [[B, be.concat(toB)]], []);
  for (let l = 1; l < tags.length; l++) await q.exchange(tags[l], [], []);
  return value;
}

/** Sets a new atom's P and -s from its opened c (truncate.ts's public part), or P = c for an exact gate. */
function openAtom(c: Chunk, kn: Known, opened: Buf, bits: number): void {
  const be = c.q.backend;
  if (bits === 0) {
    kn.pub.push(opened);
    kn.negSign.push(null);
    return;
  }
  const { pub, msb } = truncationOpening(c.q, opened, bits);
  kn.pub.push(pub);
  kn.negSign.push(be.addScalar(be.mulScalar(msb, 2n), BigInt.asUintN(64, -1n)));
}

/** A's or B's side: the openings level by level; what it then knows of the atoms. */
async function computeSide(c: Chunk, tags: string[], s: ChainShape, program: ChainProgram, level0: Array<Buf | null>, inputs: AShare[]): Promise<Known> {
  const { q, m, dealer, A, B } = c;
  const be = q.backend;
  const isA = q.id === A;
  const other = isA ? B : A;
  const kn: Known = { pub: [], negSign: [], comp: new Map(), pairs: new Map() };
  let fromDealer: Buf | null = null;
  const fromTerms = level0.filter((t) => t !== null).length;
  let dealtAt = fromTerms * m;
  for (let l = 0; l < tags.length; l++) {
    const gates = s.gates.filter((g) => g.level === l);
    const words = levelDealt(s, l);
    const myHalves = isA ? q.prgWith(dealer, tags[l], words * m, DEALT_STREAM) : null;
    // This level's dealt halves: components of its atoms (used from the next level on), then its new pairs.
    const readDealt = (): void => {
      let at = 0;
      const take = (): Buf => be.slice(isA ? (myHalves as Buf) : (fromDealer as Buf), (isA ? 0 : dealtAt) + m * at++, m);
      for (const g of gates) {
        kn.comp.set(2 * g.atom, take());
        if (g.gate.bits > 0) kn.comp.set(2 * g.atom + 1, take());
      }
      for (const [a, b] of s.levelPairs[l]) kn.pairs.set(pairKey(a, b), take());
      dealtAt += words * m;
    };
    const publics: Buf[] = [];
    let mine: Buf;
    if (l === 0) {
      // Gates from terms send the 3-of-3 term (D adds its own plus r); linear gates send A's or B's half plus r.
      publics.push(...gates.map((g) => formPublic(c, g.gate.addend?.constant === undefined ? undefined : { constant: g.gate.addend.constant }, kn)));
      const rMine = q.prgWith(dealer, tags[0], gates.length * m, R_STREAM);
      const sends = gates.map((g, j) => level0[j] ?? be.add(inputHalf(c, g.gate.addend, inputs), be.slice(rMine, j * m, m)));
      mine = be.concat(sends);
      const got = await q.exchange(tags[0], [[other, mine]], fromTerms || !isA ? [dealer, other] : [other]);
      fromDealer = fromTerms || !isA ? be.upload(got[0]) : null;
      const theirs = be.upload(got[got.length - 1]);
      let t = 0;
      gates.forEach((g, j) => {
        let opened = be.add(sends[j], be.slice(theirs, j * m, m));
        if (level0[j]) opened = be.add(opened, be.slice(fromDealer as Buf, m * t++, m));
        openAtom(c, kn, be.addScalar(be.add(opened, publics[j]), g.gate.bits > 0 ? OFFSET : 0n), g.gate.bits);
      });
      readDealt();
    } else {
      readDealt();
      const rMine = q.prgWith(dealer, tags[l], gates.length * m, R_STREAM);
      const halves = gates.map((g, j) => {
        const pub: Buf[] = [formPublic(c, g.gate.addend, kn)];
        const half: Buf[] = [inputHalf(c, g.gate.addend, inputs), be.neg(maskHalf(c, maskTerms(c, g.gate.addend, kn, s.atomBits), kn)), be.slice(rMine, j * m, m)];
        for (const [f, h] of g.gate.products ?? []) {
          const [fp, hp] = [formPublic(c, f, kn), formPublic(c, h, kn)];
          const [fm, hm] = [maskTerms(c, f, kn, s.atomBits), maskTerms(c, h, kn, s.atomBits)];
          pub.push(be.mul(fp, hp));
          half.push(be.neg(be.add(be.mul(fp, maskHalf(c, hm, kn)), be.mul(hp, maskHalf(c, fm, kn)))));
          for (const [a, ka] of fm) {
            for (const [b, kb] of hm) {
              if (pairVanishes(a, b, s.atomBits)) continue;
              const share = kn.pairs.get(pairKey(a, b)) as Buf;
              half.push(times(c, times(c, share, ka), kb));
            }
          }
        }
        publics.push(sum(c, pub));
        return sum(c, half);
      });
      mine = be.concat(halves);
      const [theirs] = await q.exchange(tags[l], [[other, mine]], [other]);
      const opened = be.add(mine, be.upload(theirs));
      gates.forEach((g, j) => openAtom(c, kn, be.addScalar(be.add(be.slice(opened, j * m, m), publics[j]), g.gate.bits > 0 ? OFFSET : 0n), g.gate.bits));
    }
  }
  return kn;
}

/** D's side of the selection: t = b_D ^ b_A shared with A (its half from the key) and B, and t times every output's components. */
async function dealerSelect(c: Chunk, tag: string, s: ChainShape, outputs: readonly ChainForm[], value: Map<Comp, Buf>, bits: [Buf, Buf]): Promise<void> {
  const { q, m, A, B } = c;
  const be = q.backend;
  const comps = selectionComps(outputs, s.atomBits);
  const aHalves = q.prgWith(A, tag, (1 + comps.length) * m, SELECT_STREAM);
  const t = be.xor(bits[0], bits[1]);
  const toB = [t, ...comps.map((a) => be.mul(t, value.get(a) as Buf))].map((v, i) => be.sub(v, be.slice(aHalves, i * m, m)));
  await q.exchange(tag, [[B, be.concat(toB)]], []);
}

/**
 * A's or B's half of each output, times the bit b = t ^ c when bits are given (c = b_B, which A and B hold; t = b_D ^ b_A,
 * D's): b F = c F + (1 - 2c) (t F_P - t F_M), with t and t comp_a shared by D (one round).
 */
async function outputHalves(c: Chunk, tag: string | null, s: ChainShape, outputs: readonly ChainForm[], kn: Known, inputs: AShare[], bits: [Buf, Buf] | null): Promise<Buf> {
  const { q, m, dealer, A } = c;
  const be = q.backend;
  const isA = q.id === A;
  if (!bits || tag === null) {
    return be.concat(outputs.map((f) => {
      const half = be.sub(inputHalf(c, f, inputs), maskHalf(c, maskTerms(c, f, kn, s.atomBits), kn));
      return isA ? be.add(half, formPublic(c, f, kn)) : half;
    }));
  }
  const words = 1 + selectionComps(outputs, s.atomBits).length;
  const got = await q.exchange(tag, [], isA ? [] : [dealer]);
  const dealt = isA ? q.prgWith(dealer, tag, words * m, SELECT_STREAM) : be.upload(got[0]);
  let at = 0;
  const take = (): Buf => be.slice(dealt, m * at++, m);
  const t = take();
  const bit = isA ? bits[1] : bits[0];
  const keep = be.addScalar(be.mulScalar(bit, BigInt.asUintN(64, -2n)), 1n);
  return be.concat(outputs.map((f) => {
    const fp = formPublic(c, f, kn);
    const fm = maskTerms(c, f, kn, s.atomBits);
    const tm = sum(c, fm.map(([, k]) => times(c, take(), k)));
    const plain = be.sub(isA ? be.mul(bit, fp) : be.zeros(m), be.mul(bit, maskHalf(c, fm, kn)));
    return be.add(plain, be.mul(keep, be.sub(be.mul(t, fp), tm)));
  }));
}

/**
 * Level 0's 3-of-3 terms of one chunk for the gates with products or terms (null for linear gates): products of
 * input forms, the addends' inputs, the caller's terms, a zero sharing.
 */
function level0Terms(c: Chunk, tag: string, gates: ChainProgram['levels'][number], inputs: AShare[], terms: Buf[]): Array<Buf | null> {
  const be = c.q.backend;
  const zero = c.q.zeroShare(tag, gates.length * c.m, ZERO_STREAM);
  return gates.map((g, j) => {
    if (!opensFromTerms(g)) return null;
    const parts: Buf[] = [be.slice(zero, j * c.m, c.m)];
    for (const [f, h] of g.products ?? []) parts.push(localProduct(c.q, inputForm(c, f, inputs), inputForm(c, h, inputs)));
    if (g.addend?.inputs?.length) parts.push(inputForm(c, { inputs: g.addend.inputs }, inputs).s0);
    for (const t of g.terms ?? []) parts.push(be.slice(terms[t], c.start, c.m));
    return sum(c, parts);
  });
}

/** A chain whose levels have run, before its outputs: each party's state per dealer chunk (maskedChainLevels). */
export interface ChainRun {
  program: ChainProgram;
  shape: ChainShape;
  n: number;
  outShape: readonly number[];
  inputs: AShare[];
  chunks: Array<{ start: number; m: number; dealer: PartyId; known: Known | null; value: Map<Comp, Buf> | null }>;
}

function checkedShape(program: ChainProgram, inputs: readonly AShare[], terms: readonly Buf[], shape?: readonly number[]): { n: number; s: ChainShape; outShape: readonly number[] } {
  const n = inputs.length ? numel(inputs[0]) : terms.length ? terms[0].length : -1;
  if (n < 0) throw new Error('maskedChain: needs at least one input or term (they set the element count)');
  if (inputs.some((x) => numel(x) !== n) || terms.some((t) => t.length !== n)) throw new Error(`maskedChain: every input and term must have ${n} elements`);
  const outShape = shape ?? [n];
  if (outShape.reduce((a, b) => a * b, 1) !== n) throw new Error(`maskedChain: output shape [${outShape.join(', ')}] does not hold ${n} elements`);
  return { n, s: chainShape(program, n, inputs.length, terms.length), outShape };
}

/** The dealer keeps, for its selection, only the components the outputs name; the levels' others are released. */
function outputComps(q: Party, value: Map<Comp, Buf>, outputs: readonly ChainForm[], s: ChainShape): Map<Comp, Buf> {
  const kept = new Set(selectionComps(outputs, s.atomBits));
  for (const [comp, buf] of value) {
    if (!kept.has(comp)) {
      q.drop(buf);
      value.delete(comp);
    }
  }
  return value;
}

const chunkOf = (q: Party, start: number, m: number, d: PartyId): Chunk => ({ q, start, m, dealer: d, A: ((d + 1) % 3) as PartyId, B: ((d + 2) % 3) as PartyId });

/**
 * The levels of `program` over replicated `inputs` and 3-of-3 `terms` (this party's term of each, n words), all of
 * n elements, one round each; maskedChainFinish then returns the outputs. Dealers rotate by chunks (dealers.ts).
 */
export async function maskedChainLevels(p: Party, program: ChainProgram, inputs: readonly AShare[], terms: readonly Buf[] = [], shape?: readonly number[]): Promise<ChainRun> {
  const { n, s, outShape } = checkedShape(program, inputs, terms, shape);
  return p.profile('maskedChain', async () => {
    const chunks = await p.parallel(...dealerRanges(n).map(({ dealer: d, start, count }) => async (q: Party) => {
      const c = chunkOf(q, start, count, d);
      const tags = program.levels.map(() => q.nextTag());
      const level0 = level0Terms(c, tags[0], program.levels[0], [...inputs], [...terms]);
      if (q.id === d) return { start: c.start, m: c.m, dealer: d, known: null, value: outputComps(q, await dealerSide(c, tags, s, level0), program.outputs, s) };
      return { start: c.start, m: c.m, dealer: d, known: await computeSide(c, tags, s, program, level0, [...inputs]), value: null };
    }));
    return { program, shape: s, n, outShape, inputs: [...inputs], chunks };
  });
}

/** Secret bits, one per element, as this party's two XOR components in 0/1 words (a BShare's plane, unpacked). */
export interface BitWords {
  n: number;
  s0: Buf;
  s1: Buf;
}

/** A one-plane boolean share as BitWords. */
export function bitWords(p: Party, b: BShare): BitWords {
  if (b.planes !== 1) throw new Error(`bitWords: one bit plane, got ${b.planes}`);
  return { n: b.n, s0: p.backend.fromBitPlanes(b.s0, b.n, 1), s1: p.backend.fromBitPlanes(b.s1, b.n, 1) };
}

/**
 * The outputs of a chain whose levels have run, replicated (one round); with `bits` (one per element), each output
 * times its element's bit, which takes one round more: D shares t = b_D ^ b_A and t times the outputs' mask
 * components (outputs then name atoms and constants only).
 */
export function maskedChainFinish(p: Party, run: ChainRun, bits?: BitWords): Promise<AShare[]> {
  const { program, n } = run;
  if (bits && bits.n !== n) return Promise.reject(new Error(`maskedChain: the selection takes one bit per element (${n}), got ${bits.n}`));
  if (bits && program.outputs.some((f) => f.inputs?.length)) return Promise.reject(new Error('maskedChain: outputs times bits name atoms and constants only'));
  return p.profile('maskedChainFinish', async () => {
    const be = p.backend;
    const words = bits ? [bits.s0, bits.s1] : null;
    const outs = program.outputs.length;
    const parts = await p.parallel(...run.chunks.map((ch) => async (q: Party) => {
      const c = chunkOf(q, ch.start, ch.m, ch.dealer);
      const tag = words ? q.nextTag() : null;
      const mine: [Buf, Buf] | null = words ? [be.slice(words[0], ch.start, ch.m), be.slice(words[1], ch.start, ch.m)] : null;
      let half: Buf | null = null;
      if (q.id === ch.dealer) {
        if (mine && tag !== null) await dealerSelect(c, tag, run.shape, program.outputs, ch.value as Map<Comp, Buf>, mine);
      } else {
        half = await outputHalves(c, tag, run.shape, program.outputs, ch.known as Known, run.inputs, mine);
      }
      return replicateHalves(q, half, outs * ch.m, ch.dealer, [outs * ch.m]);
    }));
    return program.outputs.map((_, o) => {
      const pick = (which: 's0' | 's1') => be.concat(parts.map((sh, i) => be.slice(sh[which], o * run.chunks[i].m, run.chunks[i].m)));
      return aShare(run.outShape, pick('s0'), pick('s1'));
    });
  });
}

/** Runs `program` (maskedChainLevels) and returns its outputs, replicated (maskedChainFinish): levels + 1 rounds. */
export async function maskedChain(p: Party, program: ChainProgram, inputs: readonly AShare[], terms: readonly Buf[] = [], shape?: readonly number[]): Promise<AShare[]> {
  return maskedChainFinish(p, await maskedChainLevels(p, program, inputs, terms, shape));
}
