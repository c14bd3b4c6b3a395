/**
 * Top bit of the sum of three components on a window of `width` bits (up to 32) in 2 rounds, from a dealer's
 * tables (issue 12): what msb.ts's carry circuit computes in 2 + ceil(log2(width - 2)) rounds, for
 * narrowCompare.ts windows that ask for it (CompareWindow.tables). Exact.
 *
 * Roles per dealer chunk (dealers.ts): the dealer T holds components (x_T, x_{T+1}) and so knows
 * u = x_T + x_{T+1} mod 2^w; P = T + 1 and Q = T + 2 both hold v = x_{T+2}. With L = w - 1,
 *   msb(u + v) = u_L ^ v_L ^ [u_low > v'],   u_low, v_low the low L bits,   v' = 2^L - 1 - v_low,
 * a comparison of T's u_low with a v' that P and Q both know. Cut the low L bits into q blocks (U_i, V_i the
 * blocks of u_low and v', least significant first):
 *   [u_low > v'] = XOR_i gt_i AND eq_{i+1} AND ... AND eq_{q-1},   gt_i = [U_i > V_i],   eq_i = [U_i = V_i]
 * (at most one term is 1: the comparison at the highest differing block). As functions of V_i these are
 * tables T can write, gt_i(j) = [U_i > j] and eq_i(j) = [U_i = j] for j < 2^(s_i): the 2q - 1 leaves (eq_0 is
 * never used). T folds u_L into gt_{q-1}, which enters the sum linearly.
 * Round 1, all at once (the single-table lookup as in one-time truth tables; the masked-leaf expansion as
 * in Beaver's multiplication, generalised to the terms' degrees):
 *  - T flips every leaf's whole table by a random bit a_k and sends the tables to P under a pad drawn from
 *    the key T shares with Q, and to Q under a pad from the key it shares with P. To P it adds, under the
 *    same pad and as bit planes, P's share of a_S = AND_{k in S} a_k for every set S of two or more leaves
 *    inside one term (Q's share is the pad; a single a_k is shared from T's two keys, nothing sent).
 *  - P sends Q the pad bits of Q's tables at P's entries V_i; Q sends P those of P's tables at the same
 *    entries. Both now hold E_k = leaf_k ^ a_k.
 * Locally: a term is AND_{k in M} (E_k ^ a_k) = XOR_{S in M} (AND_{k in M \ S} E_k) a_S, linear in the shared
 * a_S (a_empty = 1 is P's), so P and Q hold XOR shares c_P, c_Q of c = [u_low > v'] ^ u_L.
 * Round 2, to replicated form: b_T = gamma (key of T and Q), b_P = delta (key of T and P), and
 * b_Q = v_L ^ c ^ gamma ^ delta, which P and Q assemble after P sends c_P ^ delta and Q sends c_Q ^ gamma.
 * What each party sees: P the tables under Q's pad, the pad bits at its own entries (so E_k, masked by a_k,
 * whose share from the key of T and Q it lacks) and c_Q ^ gamma; Q the same with P's key; T nothing.
 * Cost: 2 rounds. Per element T sends the tables twice and the a_S once, P and Q 2q - 1 bits, then 1 each.
 * The block size (tableLayout) minimises those bits: at width 18, blocks of 3 bits, 267 bits per element
 * in all, about 89 per party with rotating dealers, against msb.ts's 59 per party in 6 rounds. CPU: the
 * per-element table writes and lookups run in JavaScript (tableCompareLoops.ts), about 4.6 times the circuit's
 * WebAssembly time (`npm run bench -- core`, 300,000 comparisons with the parties in worker threads: 176.5 ms
 * against 38.3 ms, median of five runs), so callers take the tables where the rounds matter (nn piecewise.ts
 * counts that CPU, fixed.ts TABLE_COMPARE_LAN_BYTES).
 */
import type { PartyId } from '@puma/transport';
import { zeroWords } from '@puma/ring';
import type { Party } from '../party.ts';
import { bShare, planeWords, type AShare, type BShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';
import { dealerChunks } from '../dealers.ts';
import { evaluateTerms, tableLayout } from './tableLayout.ts';
import { dealTables, helperBit, helperEntries, openedLeaves, productPlanes } from './tableCompareLoops.ts';
import { concatWords, drawWords, Inbox, u32, windowLows, words64, xorInto, xorOf } from './tableWire.ts';

export { MAX_TABLE_WIDTH, tableLayout, type TableLayout } from './tableLayout.ts';

/** Cost of topBitTables on n elements at `width` bits. */
export function topBitTablesCost(n: number, width: number): Cost {
  const l = tableLayout(width);
  const bytes: [number, number, number] = [0, 0, 0];
  dealerChunks(n).forEach((m, dealer) => {
    if (m === 0) return;
    const W = planeWords(m);
    bytes[dealer] += (2 * words64(m * l.tableBits) + l.products.length * W) * WORD;
    bytes[(dealer + 1) % 3] += (l.leaves.length + 1) * W * WORD;
    bytes[(dealer + 2) % 3] += (l.leaves.length + 1) * W * WORD;
  });
  return cost(2, ...bytes);
}

/**
 * PRG streams by role. A key {T, T + 1} serves chunk T as T's key with P and chunk T + 1 as its key with Q, so
 * the two roles draw different streams and no pad is used twice.
 */
const PAD_P = 1; // round 1, key of T and Q: the pad of P's record
const PAD_Q = 2; // round 1, key of T and P: the pad of Q's record
const SINGLE_P = 3; // round 1, key of T and P: P's shares of the a_k
const SINGLE_Q = 4; // round 1, key of T and Q: Q's shares of the a_k
const GAMMA = 1; // round 2, key of T and Q
const DELTA = 2; // round 2, key of T and P

interface Chunk {
  dealer: PartyId;
  start: number;
  count: number;
  /** This party's role in the chunk: 0 the dealer T, 1 P = T + 1, 2 Q = T + 2. */
  role: number;
}

/** What a helper (P or Q) keeps of a chunk from round 1 to the end. */
interface Helped {
  isP: boolean;
  v: Uint32Array;
  /** Bit position of each leaf's entry V in a record, element-major ([count * leaves]): read in both rounds. */
  entries: Int32Array;
  /** Its shares of the single a_k (planes per leaf). */
  shares: Uint32Array;
  /** The pad T drew for the other helper's message. */
  pad: Uint32Array;
  /** Its XOR share c and its round-2 key draw (delta for P, gamma for Q), once known. */
  own?: Uint32Array;
  keyed?: Uint32Array;
}

/**
 * Bit `width - 1` of x0 + x1 + x2 mod 2^width for the n elements of `x` (only each component's low `width`
 * bits are read), as a boolean share of one plane.
 */
export async function topBitTables(p: Party, x: AShare, width: number): Promise<BShare> {
  const l = tableLayout(width);
  const be = p.backend;
  const n = x.s0.length;
  const sizes = dealerChunks(n);
  const chunks: Chunk[] = [];
  let start = 0;
  ([0, 1, 2] as const).forEach((dealer) => {
    if (sizes[dealer] > 0) chunks.push({ dealer, start, count: sizes[dealer], role: (p.id - dealer + 3) % 3 });
    start += sizes[dealer];
  });
  const s0 = u32(await be.read(x.s0));
  const s1 = u32(await be.read(x.s1));
  const t1 = p.nextTag();
  const t2 = p.nextTag();
  const leafCount = l.leaves.length;
  const read = async (peer: PartyId, tag: string, count: number, stream: number) => u32(await drawWords(p, peer, tag, count, stream));

  // Round 1 messages, by chunk.
  const toNext: BigUint64Array[] = [];
  const toPrev: BigUint64Array[] = [];
  const helped = new Map<PartyId, Helped>();
  for (const c of chunks) {
    const W = planeWords(c.count);
    if (c.role === 0) {
      const [P, Q] = [p.next, p.prev];
      const recWords = words64(c.count * l.tableBits);
      // P's message: the tables, then the products a_S as bit planes; Q's: the tables. Each under its pad.
      const padForP = await read(Q, t1, recWords + l.products.length * W, PAD_P);
      const padForQ = await read(P, t1, recWords, PAD_Q);
      const aP = await read(P, t1, l.leaves.length * W, SINGLE_P);
      const aQ = await read(Q, t1, l.leaves.length * W, SINGLE_Q);
      const a = xorOf(aP, aQ);
      const msgP = zeroWords(recWords + l.products.length * W);
      const recQ = zeroWords(recWords);
      const rp = u32(msgP);
      const rq = u32(recQ);
      dealTables(l, c, s0, s1, width, a, W, rp, rq);
      productPlanes(l, a, W, rp.subarray(2 * recWords));
      xorInto(rp, padForP);
      xorInto(rq, padForQ);
      toNext.push(msgP);
      toPrev.push(recQ);
    } else {
      // P = T + 1 (its s1 is x_{T+2}, the dealer is its prev) or Q = T + 2 (its s0, the dealer is its next).
      const isP = c.role === 1;
      const T = c.dealer;
      const v = windowLows(isP ? s1 : s0, c.start, c.count, width);
      // The pad T drew for the other one's message, from the key this party shares with T (Q's covers P's
      // product planes too: they are Q's shares of the a_S).
      const recWords = words64(c.count * l.tableBits);
      const pad = await read(T, t1, isP ? recWords : recWords + l.products.length * W, isP ? PAD_Q : PAD_P);
      const padBits = zeroWords(leafCount * W);
      const pb = u32(padBits);
      const entries = new Int32Array(c.count * leafCount);
      helperEntries(l, c, v, width, pad, W, entries, pb);
      const shares = await read(T, t1, l.leaves.length * W, isP ? SINGLE_P : SINGLE_Q);
      helped.set(T, { isP, v, entries, shares, pad });
      (isP ? toNext : toPrev).push(padBits);
    }
  }
  const sends: [PartyId, BigUint64Array][] = [];
  if (toNext.length) sends.push([p.next, concatWords(toNext)]);
  if (toPrev.length) sends.push([p.prev, concatWords(toPrev)]);
  // A helper (P or Q of some chunk) hears from T and from the other helper: both neighbours.
  const from: PartyId[] = chunks.some((c) => c.dealer !== p.id) ? [p.next, p.prev] : [];
  const got = await p.exchange(t1, sends, from);
  const inbox = new Inbox('table comparison', from, got);

  // Messages arrive in chunk order within each sender's message (each party builds them in chunk order).
  const round2Next: BigUint64Array[] = [];
  const round2Prev: BigUint64Array[] = [];
  for (const c of chunks) {
    const W = planeWords(c.count);
    if (c.role === 0) continue;
    const st = helped.get(c.dealer)!;
    const isP = st.isP;
    const recWords = words64(c.count * l.tableBits);
    // P: the tables and product planes from T (prev), Q's pad bits (next). Q: the tables from T (next), P's pad bits (prev).
    const msg = isP ? inbox.take(p.prev, recWords + l.products.length * W) : inbox.take(p.next, recWords);
    const otherPad = isP ? inbox.take(p.next, leafCount * W) : inbox.take(p.prev, leafCount * W);
    const E = openedLeaves(l, c, st.entries, msg, otherPad, W);
    // P's shares of the a_S are T's product planes; Q's are the pad T drew over them.
    const products = (isP ? msg : st.pad).subarray(2 * recWords, 2 * (recWords + l.products.length * W));
    const share = evaluateTerms(l, E, st.shares, products, W, c.count, isP);
    // Round 2: P sends c_P ^ delta to Q (next), Q sends c_Q ^ gamma to P (prev), drawn at t2.
    const keyed = await read(c.dealer, t2, W, isP ? DELTA : GAMMA);
    const out = xorOf(share, keyed);
    (isP ? round2Next : round2Prev).push(new BigUint64Array(out.buffer, out.byteOffset, W));
    st.own = share;
    st.keyed = keyed;
  }
  const sends2: [PartyId, BigUint64Array][] = [];
  if (round2Next.length) sends2.push([p.next, concatWords(round2Next)]);
  if (round2Prev.length) sends2.push([p.prev, concatWords(round2Prev)]);
  const from2: PartyId[] = [];
  if ([...helped.values()].some((h) => h.isP)) from2.push(p.next);
  if ([...helped.values()].some((h) => !h.isP)) from2.push(p.prev);
  const inbox2 = new Inbox('table comparison', from2, await p.exchange(t2, sends2, from2));

  const results: Array<{ s0: Uint32Array; s1: Uint32Array }> = [];
  for (const c of chunks) {
    const W = planeWords(c.count);
    if (c.role === 0) {
      // b_T = gamma (key with Q = prev), b_P = delta (key with P = next).
      results.push({ s0: await read(p.prev, t2, W, GAMMA), s1: await read(p.next, t2, W, DELTA) });
      continue;
    }
    const h = helped.get(c.dealer)!;
    const own = h.own!;
    const keyed = h.keyed!;
    const theirs = h.isP ? inbox2.take(p.next, W) : inbox2.take(p.prev, W);
    // b_Q = v_L ^ c_own ^ own key draw ^ (c_other ^ other key draw).
    const bQ = helperBit(c, h.v, width, own, keyed, theirs, W);
    // P holds (b_P, b_Q) = (delta, b_Q); Q holds (b_Q, b_T) = (b_Q, gamma).
    results.push(h.isP ? { s0: keyed, s1: bQ } : { s0: bQ, s1: keyed });
  }
  const join = (pick: 's0' | 's1') => joinPlanes(chunks.map((c, i) => ({ bits: results[i][pick], count: c.count })), n);
  return bShare(n, 1, be.upload(join('s0')), be.upload(join('s1')));
}

/** One plane of n elements from the chunks' planes (32 elements per 32-bit word), in element order; bits past n are 0. */
function joinPlanes(parts: ReadonlyArray<{ bits: Uint32Array; count: number }>, n: number): BigUint64Array {
  const out = new BigUint64Array(planeWords(n));
  const o = u32(out);
  let at = 0;
  for (const { bits, count } of parts) {
    if (at === 0) {
      o.set(bits.subarray(0, (count + 31) >>> 5));
      if (count & 31) o[count >>> 5] &= (1 << (count & 31)) - 1;
    } else {
      for (let e = 0; e < count; e++) if ((bits[e >>> 5] >>> (e & 31)) & 1) o[(at + e) >>> 5] |= 1 << ((at + e) & 31);
    }
    at += count;
  }
  return out;
}
