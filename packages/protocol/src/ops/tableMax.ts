/**
 * Maximum of each group of k candidates in 3 rounds, from a dealer's comparison tables whose outputs are
 * arithmetic (issue 12): the all-pairs tournament of nn max.ts (comparisons 2 rounds, an AND tree of
 * ceil(log2(k - 1)) rounds, bit times value 2) without the AND tree and without the bit injection.
 *
 * Per group the dealer T (groups are cut into dealer chunks by work, as dealers.ts does by elements) knows
 * u_i = x_T + x_{T+1} of every candidate's downcast window value (narrowCompare.ts: each component shifted
 * right by `drop`, `bits` bits kept), and P = T + 1, Q = T + 2 both know v_i = x_{T+2}. For a pair i < j,
 * lt_ij = [a_i' < a_j'] is the top bit of U + V on the window, U = u_i - u_j, V = v_i - v_j:
 *   lt = U_top ^ V_top ^ carry,   carry = [U_low > V'] = sum over terms t of prod_{k in t} leaf_k
 * with the blocks, leaves (gt and eq tables over V's blocks) and terms of tableCompare.ts (at most one term is
 * 1, so the XOR of the terms is their integer sum). As integers mod M = 2^ceil(log2 k):
 *   lt = U_top + sigma V_top + (1 - 2 V_top) sigma carry,   sigma = 1 - 2 U_top,
 *   prod_{k in t} leaf_k = sum_{S in t} [prod_{k in t\S} E_k] [prod_{k in S} (1 - 2 E_k)] a_S
 * where E_k = leaf_k ^ a_k is opened to P and Q and a_S = AND of the flips a_k over S. So T sends, besides the
 * flipped tables (as in tableCompare.ts), P's arithmetic shares mod M of U_top and of sigma a_S for every leaf
 * set S inside a term (Q's shares come from its key with T): linear in what P and Q hold, so after round 1
 * they hold shares mod M of every lt, and of candidate i's losses
 *   c_i = sum_{j<i} (1 - lt_ji) + sum_{j>i} lt_ij.
 * On a consistent window (every pair difference inside it) the answers follow one total order, so the c_i are
 * the ranks 0..k-1 (ties to the first): exactly one c_i is 0, the first of the largest.
 * Round 2: P and Q open c_i + s_i mod M to each other (s_i = s_P + s_Q from their keys with T, unknown to either)
 * and T sends Q a one-hot lookup table per candidate rotated by s_i, in two forms: [k = s_i] and [k = s_i] y_i,
 * y_i = T's part of the candidate's value (x_T + x_{T+1} of `values`; P's shares of both tables come from its
 * key with T). At the opened entry both give [c_i = 0] and [c_i = 0] y_i, so with z_i = x_{T+2}, known to both,
 *   max = sum_i [c_i = 0] (y_i + z_i)
 * is a sum of products of held shares with public z_i: additive shares of the group's maximum, exactly one of
 * the candidates' ring values. Round 3 makes them replicated (halves.ts, as the dealer truncations end).
 * What each party sees: P the tables under Q's pad, the pad bits at its entries (so E_k, masked by a_k), its field
 * shares (each the value less Q's keyed share), c_i + s_i (masked by s_Q), Q's half less a component from T's key; Q the same with P's key,
 * and the lookup tables less P's keyed shares; T nothing.
 * Cost: 3 rounds (decide 1, pick 2: `values` may come from a parallel branch while the comparisons run). Per pair
 * T sends the tables twice and (1 + leaves + sets) fields of log2 M bits, P and Q one pad bit per leaf; per
 * candidate T sends 2M words, P and Q log2 M bits; per group P and Q one word. At k = 32 (18-bit window, blocks of
 * 5, 5, 5 and 2 bits: 7 leaves, 22 sets) 465 bits per pair and 4,096 per candidate in all, about 243 bits per pair
 * and party with rotating dealers (bench core's row), where the tournament's table comparisons take 89 plus its
 * AND tree and selection; 3 rounds instead of 9. CPU: the per-pair work is JavaScript (bench core's tableMax row).
 * Paper: PUMA (arXiv 2307.12533) section 4 needs the max for softmax; one-time truth tables, Beaver-style opened
 * masks, and a rotated one-hot lookup table are textbook; ranks by counting and their use here are this package's.
 */
import type { PartyId } from '@puma/transport';
import { zeroWords } from '@puma/ring';
import type { Party } from '../party.ts';
import { aShare, numel, type AShare } from '../share.ts';
import { replicateHalves } from './halves.ts';
import { checkArgs, checkParts, chunksOf, type Chunk, type Held, type TableMaxDecision, type TableMaxWindow } from './tableMaxPlan.ts';
import { dealChunk, helperCounts, helperEntries } from './tableMaxPairs.ts';
import { concatWords, drawWords, getBits, Inbox, putBits, u32, windowLows, words64, xorInto, xorTo } from './tableWire.ts';

export { tableMaxCost, tableMaxDecideCost, tableMaxPickCost, type MaxGroups, type TableMaxDecision, type TableMaxWindow } from './tableMaxPlan.ts';

// PRG streams by key role (a key {T, T + 1} serves one chunk as T's key with P and the next as its key with Q,
// so the two roles use different stream numbers within a tag).
const PAD_P = 1; // decide, key of T and Q: the pad of P's tables
const PAD_Q = 2; // decide, key of T and P: the pad of Q's tables
const FLIP_P = 3; // decide, key of T and P: half of the flips a_k
const FLIP_Q = 4; // decide, key of T and Q: the other half
const FIELD_Q = 5; // decide, key of T and Q: Q's shares of the fields
const OPEN_P = 1; // pick, key of T and P: s_P
const OPEN_Q = 2; // pick, key of T and Q: s_Q
const LUT_P = 3; // pick, key of T and P: P's lookup tables

/** Each party's two components of the batch's candidates, flat, after the window's downcast (low 32 bits). */
async function windowComponents(p: Party, parts: readonly AShare[], drop: number): Promise<[Uint32Array, Uint32Array]> {
  const be = p.backend;
  const s0 = be.concat(parts.map((x) => x.s0));
  const s1 = be.concat(parts.map((x) => x.s1));
  const c0 = be.shrLogical(s0, drop);
  const c1 = be.shrLogical(s1, drop);
  const out: [Uint32Array, Uint32Array] = [u32(await be.read(c0)), u32(await be.read(c1))];
  p.drop(s0, s1, c0, c1);
  return out;
}

/**
 * Round 1: the comparisons of every pair in every group of `compare` (group b: an AShare [units_b, arity_b]) on
 * the window, to shares of each candidate's losses held by the two helpers of its chunk.
 */
export async function tableMaxDecide(p: Party, compare: readonly AShare[], w: TableMaxWindow): Promise<TableMaxDecision> {
  const groups = compare.map((x) => ({ units: x.shape.length > 1 ? numel(x) / x.shape[x.shape.length - 1] : 1, arity: x.shape[x.shape.length - 1] }));
  checkArgs(groups, w);
  const chunks = chunksOf(groups, w.bits);
  const [s0, s1] = await windowComponents(p, compare, w.drop);
  const tag = p.nextTag();
  const width = w.bits;
  const read = async (peer: PartyId, count: number, stream: number): Promise<Uint32Array> => u32(await drawWords(p, peer, tag, count, stream));
  const toNext: BigUint64Array[] = [];
  const toPrev: BigUint64Array[] = [];
  const pending: Array<{ c: Chunk; isP: boolean; v: Uint32Array; entries: Int32Array; fields?: Uint32Array }> = [];
  for (const c of chunks) {
    const role = (p.id - c.dealer + 3) % 3;
    if (!c.units.length) continue;
    const recWords = words64(c.recBits);
    const padWords = words64(c.padBits);
    const fieldWords = words64(c.fieldBits);
    if (role === 0) {
      const [P, Q] = [p.next, p.prev];
      const padForP = await read(Q, recWords, PAD_P);
      const padForQ = await read(P, recWords, PAD_Q);
      const flipP = await read(P, padWords, FLIP_P);
      const flipQ = await read(Q, padWords, FLIP_Q);
      const fieldQ = await read(Q, fieldWords, FIELD_Q);
      const msgP = zeroWords(recWords + fieldWords);
      const recQ = zeroWords(recWords);
      const rp = u32(msgP);
      const rq = u32(recQ);
      dealChunk(c, s0, s1, width, flipP, flipQ, fieldQ, rp, rp.subarray(2 * recWords));
      // Both helpers get the same tables, each under its own pad.
      xorTo(rq, rp, padForQ);
      xorInto(rp.subarray(0, 2 * recWords), padForP);
      toNext.push(msgP);
      toPrev.push(recQ);
    } else {
      const isP = role === 1;
      const T = c.dealer;
      // The pad T drew for the other helper's tables (from this helper's key with T).
      const pad = await read(T, recWords, isP ? PAD_Q : PAD_P);
      const padBits = zeroWords(padWords);
      const pb = u32(padBits);
      const entries = new Int32Array(c.padBits);
      const v = windowLows(isP ? s1 : s0, c.candStart, c.cands, width);
      helperEntries(c, v, width, pad, entries, pb);
      pending.push({ c, isP, v, entries, fields: isP ? undefined : await read(T, fieldWords, FIELD_Q) });
      (isP ? toNext : toPrev).push(padBits);
    }
  }
  const sends: [PartyId, BigUint64Array][] = [];
  if (toNext.length) sends.push([p.next, concatWords(toNext)]);
  if (toPrev.length) sends.push([p.prev, concatWords(toPrev)]);
  const from: PartyId[] = pending.length ? [p.next, p.prev] : [];
  const got = await p.exchange(tag, sends, from);
  const inbox = new Inbox('tableMax', from, got);

  const held = new Map<PartyId, Held>();
  for (const { c, isP, v, entries, fields } of pending) {
    const recWords = words64(c.recBits);
    const padWords = words64(c.padBits);
    // P: the tables and its fields from T (prev), Q's pad bits (next). Q: the tables from T (next), P's pad bits (prev).
    const msg = isP ? inbox.take(p.prev, recWords + words64(c.fieldBits)) : inbox.take(p.next, recWords);
    const otherPad = isP ? inbox.take(p.next, padWords) : inbox.take(p.prev, padWords);
    const own = isP ? msg.subarray(2 * recWords) : fields!;
    const counts = helperCounts(c, isP, v, width, entries, msg, otherPad, own);
    held.set(c.dealer, { isP, counts });
  }
  return { groups, window: w, chunks, held };
}

/**
 * Rounds 2 and 3: the maximum of each group as a replicated share ([units_b] per group), picked from `values`
 * (the same shapes as the compared shares: the compared quantities themselves or another form of them).
 */
export async function tableMaxPick(p: Party, d: TableMaxDecision, values: readonly AShare[]): Promise<AShare[]> {
  checkParts(values, d.groups, 'values');
  const be = p.backend;
  const flat0 = be.concat(values.map((x) => x.s0));
  const flat1 = be.concat(values.map((x) => x.s1));
  const [vs0, vs1] = [await be.read(flat0), await be.read(flat1)];
  p.drop(flat0, flat1);
  const tag = p.nextTag();
  const read = (peer: PartyId, count: number, stream: number): Promise<BigUint64Array> => drawWords(p, peer, tag, count, stream);
  const toNext: BigUint64Array[] = [];
  const toPrev: BigUint64Array[] = [];
  const mine = new Map<PartyId, { opened: Uint32Array; lut?: BigUint64Array }>();
  for (const c of d.chunks) {
    if (!c.units.length) continue;
    const role = (p.id - c.dealer + 3) % 3;
    const openWords = words64(c.openBits);
    if (role === 0) {
      const sP = u32(await read(p.next, openWords, OPEN_P));
      const sQ = u32(await read(p.prev, openWords, OPEN_Q));
      // Q's tables: minus P's keyed shares, then the one entry per candidate.
      const keyed = p.prgWith(p.next, tag, 2 * c.lutWords, LUT_P);
      const negated = be.neg(keyed);
      const lut = await be.read(negated);
      p.drop(keyed, negated);
      for (const unit of c.units) {
        for (let i = 0; i < unit.k; i++) {
          const at = unit.open + i * unit.mb;
          const s = (getBits(sP, at, unit.mb) + getBits(sQ, at, unit.mb)) & ((1 << unit.mb) - 1);
          const e = c.candStart + unit.cand + i;
          const entry = unit.lut + (i << unit.mb) + s;
          lut[entry] += 1n;
          lut[c.lutWords + entry] += vs0[e] + vs1[e];
        }
      }
      toPrev.push(lut);
    } else {
      const isP = role === 1;
      const h = d.held.get(c.dealer)!;
      const s = u32(await read(c.dealer, openWords, isP ? OPEN_P : OPEN_Q));
      const opened = new BigUint64Array(openWords);
      const o = u32(opened);
      for (const unit of c.units) {
        for (let i = 0; i < unit.k; i++) {
          const at = unit.open + i * unit.mb;
          putBits(o, at, (h.counts[unit.cand + i] + getBits(s, at, unit.mb)) & ((1 << unit.mb) - 1), unit.mb);
        }
      }
      mine.set(c.dealer, { opened: o, lut: isP ? await read(c.dealer, 2 * c.lutWords, LUT_P) : undefined });
      (isP ? toNext : toPrev).push(opened);
    }
  }
  const sends: [PartyId, BigUint64Array][] = [];
  if (toNext.length) sends.push([p.next, concatWords(toNext)]);
  if (toPrev.length) sends.push([p.prev, concatWords(toPrev)]);
  // P hears Q's opened counts (next); Q hears P's (prev) and T's lookup tables (next).
  const helpers = [...d.held.values()];
  const from: PartyId[] = helpers.length ? [p.next] : [];
  if (helpers.some((h) => !h.isP)) from.push(p.prev);
  const inbox = new Inbox('tableMax', from, await p.exchange(tag, sends, from));

  // Round 3: each chunk's two-party sums back to replicated form (halves.ts), the chunks side by side.
  const live = d.chunks.filter((c) => c.units.length);
  const halves = live.map((c) => {
    if (c.dealer === p.id) return null;
    const { isP } = d.held.get(c.dealer)!;
    const own = mine.get(c.dealer)!;
    const openWords = words64(c.openBits);
    // P: Q's opened counts (next). Q: P's opened counts (prev), then T's lookup tables (next).
    const other = isP ? inbox.take(p.next, openWords) : inbox.take(p.prev, openWords);
    const lut = isP ? own.lut! : inbox.words(p.next, 2 * c.lutWords);
    const m = new BigUint64Array(c.units.length);
    c.units.forEach((unit, g) => {
      let acc = 0n;
      for (let i = 0; i < unit.k; i++) {
        const at = unit.open + i * unit.mb;
        const idx = (getBits(own.opened, at, unit.mb) + getBits(other, at, unit.mb)) & ((1 << unit.mb) - 1);
        const entry = unit.lut + (i << unit.mb) + idx;
        const e = c.candStart + unit.cand + i;
        acc += lut[c.lutWords + entry] + lut[entry] * (isP ? vs1[e] : vs0[e]);
      }
      m[g] = BigInt.asUintN(64, acc);
    });
    return be.upload(m);
  });
  const parts = await p.parallel(...live.map((c, i) => (q: Party) => replicateHalves(q, halves[i], c.units.length, c.dealer, [c.units.length])));
  const all = parts.length === 1 ? parts[0] : aShare([d.groups.reduce((sum, g) => sum + g.units, 0)], be.concat(parts.map((x) => x.s0)), be.concat(parts.map((x) => x.s1)));
  if (parts.length > 1) p.drop(...parts.flatMap((x) => [x.s0, x.s1]));
  let at = 0;
  return d.groups.map((g) => {
    const out = aShare([g.units], be.slice(all.s0, at, g.units), be.slice(all.s1, at, g.units));
    at += g.units;
    return out;
  });
}

/** Each group's maximum of `compare` (or of `values`, picked by the comparisons of `compare`): decide, then pick. */
export async function tableMax(p: Party, compare: readonly AShare[], w: TableMaxWindow, values: readonly AShare[] = compare): Promise<AShare[]> {
  return p.profile('tableMax', async () => tableMaxPick(p, await tableMaxDecide(p, compare, w), values));
}
