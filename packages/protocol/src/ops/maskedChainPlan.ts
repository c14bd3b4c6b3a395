/**
 * The program a masked chain (maskedChain.ts) runs, its checks, the dealer's product pairs and the declared cost.
 * All values of a chain have the same n elements and are combined elementwise; coefficients are public ring words,
 * one for all elements (bigint) or one per element (BigUint64Array of n).
 */
import { cost, seq, WORD, type Cost } from '../cost.ts';
import { dealerChunks } from '../dealers.ts';

export type ChainCoef = bigint | BigUint64Array;

/** A public-coefficient combination of atoms (earlier gates' results), replicated inputs and a public constant. */
export interface ChainForm {
  atoms?: ReadonlyArray<readonly [number, ChainCoef]>;
  /** Replicated inputs: linear in any addend or output; inside products only at level 0 (no atoms exist yet). */
  inputs?: ReadonlyArray<readonly [number, ChainCoef]>;
  constant?: ChainCoef;
}

/** One result of a level: (sum of products + addend) / 2^bits, which becomes the next atom. */
export interface ChainGate {
  /** Level 0: forms over inputs and constants; later levels: over atoms and constants. */
  products?: ReadonlyArray<readonly [ChainForm, ChainForm]>;
  addend?: ChainForm;
  /** Level 0 only: the caller's 3-of-3 additive terms (one Buf of n words per party), added to the sum. */
  terms?: readonly number[];
  /** 0: the sum itself (exact, mod 2^64); 1..61: divided by 2^bits (the sum must stay below 2^62 in magnitude). */
  bits: number;
}

export interface ChainProgram {
  /** levels[l]: the gates opened in round l + 1; their atoms are numbered in order across all levels. */
  levels: ReadonlyArray<readonly ChainGate[]>;
  /** The results, returned replicated. */
  outputs: readonly ChainForm[];
}

/** A level-0 gate with products or terms opens from 3-of-3 terms (D sends its own); a linear one from A's and B's halves. */
export const opensFromTerms = (g: ChainGate): boolean => (g.products?.length ?? 0) > 0 || (g.terms?.length ?? 0) > 0;

/** A mask component: R (2k) or T (2k + 1) of atom k. */
export type Comp = number;

export interface GateInfo {
  gate: ChainGate;
  level: number;
  atom: number;
}

export interface ChainShape {
  gates: GateInfo[];
  /** Truncation bits of every atom. */
  atomBits: number[];
  /**
   * Per level, the unordered products of mask components the dealer shares there: those its gates' products name
   * and no earlier level dealt (none at level 0).
   */
  levelPairs: Array<Array<readonly [Comp, Comp]>>;
  /** Words per element the dealer sends B after level 0's openings: per gate R (and T), per level its pairs. */
  dealtWords: number;
}

const atomOf = (c: Comp): number => c >> 1;
const isT = (c: Comp): boolean => (c & 1) === 1;

/** The words per element D sends B for a selection: t, then t times every output's mask components, in this order. */
export function selectionComps(outputs: readonly ChainForm[], atomBits: readonly number[]): Comp[] {
  return outputs.flatMap((f) => formComps(f, atomBits));
}

/** The mask components of a form: R_k for every atom k it names, and T_k where atom k was truncated. */
export function formComps(f: ChainForm | undefined, atomBits: readonly number[]): Comp[] {
  const out: Comp[] = [];
  for (const [k] of f?.atoms ?? []) {
    out.push(2 * k);
    if (atomBits[k] > 0) out.push(2 * k + 1);
  }
  return out;
}

/**
 * T_a T_b = 2^(126 - d_a - d_b) msb(r_a) msb(r_b) vanishes mod 2^64 when d_a + d_b <= 62: the dealer skips it.
 */
export function pairVanishes(a: Comp, b: Comp, atomBits: readonly number[]): boolean {
  return isT(a) && isT(b) && atomBits[atomOf(a)] + atomBits[atomOf(b)] <= 62;
}

const pairKey = (a: Comp, b: Comp): string => (a <= b ? `${a},${b}` : `${b},${a}`);

/** Adds the component pairs a level's products name, and no earlier level dealt, to `dealt`; returns them. */
function levelPairs(level: readonly ChainGate[], atomBits: readonly number[], dealt: Set<string>): Array<readonly [Comp, Comp]> {
  const fresh: Array<readonly [Comp, Comp]> = [];
  for (const g of level) {
    for (const [f, h] of g.products ?? []) {
      for (const a of formComps(f, atomBits)) {
        for (const b of formComps(h, atomBits)) {
          const key = pairKey(a, b);
          if (pairVanishes(a, b, atomBits) || dealt.has(key)) continue;
          dealt.add(key);
          fresh.push(a <= b ? [a, b] : [b, a]);
        }
      }
    }
  }
  return fresh;
}
export { pairKey };

function checkCoef(c: ChainCoef, n: number, where: string): void {
  if (typeof c === 'bigint') return;
  if (!(c instanceof BigUint64Array) || c.length !== n) throw new Error(`maskedChain: ${where} has a coefficient vector of ${c?.length} words for ${n} elements`);
}

function checkForm(f: ChainForm | undefined, o: { n: number; atoms: number; inputs: number; inputsOk: boolean; atomsOk: boolean; where: string }): void {
  if (!f) return;
  for (const [k, c] of f.atoms ?? []) {
    if (!o.atomsOk) throw new Error(`maskedChain: ${o.where} names atom ${k}, but level-0 products take replicated inputs only`);
    if (!Number.isInteger(k) || k < 0 || k >= o.atoms) throw new Error(`maskedChain: ${o.where} names atom ${k}, and only atoms 0..${o.atoms - 1} exist before it`);
    checkCoef(c, o.n, o.where);
  }
  for (const [i, c] of f.inputs ?? []) {
    if (!o.inputsOk) throw new Error(`maskedChain: ${o.where} multiplies input ${i}, but inputs enter products only at level 0`);
    if (!Number.isInteger(i) || i < 0 || i >= o.inputs) throw new Error(`maskedChain: ${o.where} names input ${i} of ${o.inputs}`);
    checkCoef(c, o.n, o.where);
  }
  if (f.constant !== undefined) checkCoef(f.constant, o.n, o.where);
}

/** Checks the program against n elements, the inputs and terms it is given; returns its gates and pairs. */
export function chainShape(program: ChainProgram, n: number, inputs: number, terms: number): ChainShape {
  if (program.levels.length === 0 || program.levels.some((l) => l.length === 0)) throw new Error('maskedChain: every level needs at least one gate, and a chain at least one level');
  if (program.outputs.length === 0) throw new Error('maskedChain: no outputs');
  const gates: GateInfo[] = [];
  const atomBits: number[] = [];
  const pairsByLevel: Array<Array<readonly [Comp, Comp]>> = [];
  const dealt = new Set<string>();
  let dealtWords = 0;
  program.levels.forEach((level, l) => {
    const before = atomBits.length;
    level.forEach((g, j) => {
      const where = `gate ${before + j} (level ${l})`;
      if (!Number.isInteger(g.bits) || g.bits < 0 || g.bits > 61) throw new Error(`maskedChain: ${where} truncates by ${g.bits} bits, outside [0, 61]`);
      for (const [f, h] of g.products ?? []) {
        for (const form of [f, h]) checkForm(form, { n, atoms: before, inputs, inputsOk: l === 0, atomsOk: l > 0, where });
      }
      checkForm(g.addend, { n, atoms: before, inputs, inputsOk: true, atomsOk: true, where });
      if (g.terms?.length && l > 0) throw new Error(`maskedChain: ${where} adds 3-of-3 terms, which only level 0 takes`);
      for (const t of g.terms ?? []) if (!Number.isInteger(t) || t < 0 || t >= terms) throw new Error(`maskedChain: ${where} names term ${t} of ${terms}`);
      gates.push({ gate: g, level: l, atom: before + j });
      dealtWords += g.bits > 0 ? 2 : 1;
    });
    const pairs = l === 0 ? [] : levelPairs(level, atomBits, dealt);
    pairsByLevel.push(pairs);
    dealtWords += pairs.length;
    atomBits.push(...level.map((g) => g.bits));
  });
  program.outputs.forEach((f, i) => checkForm(f, { n, atoms: atomBits.length, inputs, inputsOk: true, atomsOk: true, where: `output ${i}` }));
  return { gates, atomBits, levelPairs: pairsByLevel, dealtWords };
}

/**
 * Declared cost for n elements: levels + 1 rounds. Per dealer chunk of m elements: the dealer sends m words per
 * level-0 gate with products or terms to each of the other two and m * dealtWords more to B (per gate 1 or 2, per distinct pair 1),
 * and with a selection (select) one round more in which D sends B 1 + (the outputs' mask components) words; A and B send m words per gate (their
 * opening shares) and m per output (the resharing).
 */
export function maskedChainCost(n: number, program: ChainProgram, select = false): Cost {
  return seq(maskedChainLevelsCost(n, program), maskedChainFinishCost(n, program, select));
}

/** maskedChainLevels' part: one round per level; the dealer's level-0 terms and dealt words, A's and B's openings. */
export function maskedChainLevelsCost(n: number, program: ChainProgram): Cost {
  const s = namedShape(program, n);
  const g0 = program.levels[0].filter(opensFromTerms).length;
  return perChunk(n, program.levels.length, 2 * g0 + s.dealtWords, s.gates.length);
}

/** maskedChainFinish's part: the resharing of the outputs, after the selection's round when there are bits. */
export function maskedChainFinishCost(n: number, program: ChainProgram, select = false): Cost {
  const s = namedShape(program, n);
  // The selection: t and t times every output's components, D to B.
  const selectWords = select ? 1 + selectionComps(program.outputs, s.atomBits).length : 0;
  return perChunk(n, 1 + (select ? 1 : 0), selectWords, program.outputs.length);
}

/** Rounds, and per dealer chunk of m elements dealerWords m words from the dealer and abWords m from A and B each. */
function perChunk(n: number, rounds: number, dealerWords: number, abWords: number): Cost {
  const words = [0, 0, 0];
  dealerChunks(n).forEach((m, dealer) => {
    words[dealer] += m * dealerWords;
    words[(dealer + 1) % 3] += m * abWords;
    words[(dealer + 2) % 3] += m * abWords;
  });
  return cost(rounds, words[0] * WORD, words[1] * WORD, words[2] * WORD);
}

/** The program's shape with as many inputs and terms as it names (the declared cost depends on nothing else). */
function namedShape(program: ChainProgram, n: number): ChainShape {
  let inputs = 0;
  let terms = 0;
  const visit = (f?: ChainForm) => { for (const [i] of f?.inputs ?? []) inputs = Math.max(inputs, i + 1); };
  for (const level of program.levels) {
    for (const g of level) {
      for (const [f, h] of g.products ?? []) { visit(f); visit(h); }
      visit(g.addend);
      for (const t of g.terms ?? []) terms = Math.max(terms, t + 1);
    }
  }
  program.outputs.forEach(visit);
  return chainShape(program, n, inputs, terms);
}
