/**
 * Reveal of an untruncated product to the client (issue 12: the last truncation folded into the reveal).
 * A product of replicated shares leaves each party a 3-of-3 additive term z_i (mul.ts localProduct); with a
 * fresh zero sharing alpha added (alpha_0 + alpha_1 + alpha_2 = 0, alpha_i drawn from the two keys party i
 * holds) the terms are uniform subject to z_0 + z_1 + z_2 = x y. Resharing them (1 round) and truncating
 * (truncate.ts, 2 rounds) only to send the client the three components (reveal.ts, 1 round) is replaced by
 * sending the masked terms straight to the client, who adds them and divides by 2^fracBits in the clear, exactly:
 * 1 round where the fused product, its truncation and the reveal took 3, and n + 1 words per party where they
 * took about 8n/3 + n (the truncation's dealers rotate).
 * Message: word 0 is the term's fraction bits (public: the same on every party, checked by the client), then
 * the n masked words. What the client learns: the product at its full fraction bits (e.g. 2f for a matmul of
 * two values at f), that is the output it is owed without the truncation's rounding; any one or two terms are
 * uniform, because each carries the zero share of a key the client does not hold. Parties receive nothing.
 * Error: none added (the client's division is exact in float64 where |x y| < 2^53 ulps of the term's scale,
 * and within one float64 rounding beyond).
 */
import { CLIENT, type Channel } from '@puma/transport';
import type { Buf } from '@puma/backend';
import { decodeFixed, fromBytes } from '@puma/ring';
import type { Party } from '../party.ts';
import type { AShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';

/** This party's masked 3-of-3 additive term of a value of `shape` at `fracBits` fraction bits. */
export interface OutputTerm {
  z: Buf;
  shape: readonly number[];
  fracBits: number;
}

export const revealTermToClientCost = (n: number): Cost => cost(1, (n + 1) * WORD, (n + 1) * WORD, (n + 1) * WORD);

/** The largest fraction bits a term may carry (a 64-bit word holds the value and its sign). */
const MAX_TERM_BITS = 62;

function checkTermBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 0 || bits > MAX_TERM_BITS) throw new Error(`an output term's fraction bits must be an integer in [0, ${MAX_TERM_BITS}], got ${bits}`);
}

/**
 * t + x for a replicated x at the party's fraction bits (a bias after the product): each party adds its own
 * component (s0) shifted to the term's bits, so x is added once in total. Local.
 */
export function addToTerm(p: Party, t: OutputTerm, x: AShare): OutputTerm {
  if (t.shape.length !== x.shape.length || t.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`addToTerm: shapes [${t.shape.join(', ')}] and [${x.shape.join(', ')}] differ`);
  }
  const shift = t.fracBits - p.fracBits;
  if (shift < 0) throw new Error(`addToTerm: a term at ${t.fracBits} fraction bits cannot take an addend at ${p.fracBits}`);
  const be = p.backend;
  return { ...t, z: be.add(t.z, shift === 0 ? x.s0 : be.shl(x.s0, shift)) };
}

/** Sends this party's masked term, headed by its fraction bits, to the client under an explicit tag. */
export async function revealTermToClient(p: Party, t: OutputTerm, tag: string): Promise<void> {
  checkTermBits(t.fracBits);
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.z.length !== n) throw new Error(`revealTermToClient: a term of ${t.z.length} words for shape [${t.shape.join(', ')}]`);
  await p.profile('revealToClient', async () => {
    const message = new BigUint64Array(n + 1);
    message[0] = BigInt(t.fracBits);
    message.set(await p.backend.read(t.z), 1);
    return p.exchange(`term:${tag}`, [[CLIENT, message]], []);
  });
}

/** Client side: the three terms sum to the value, decoded at the fraction bits all three parties announce. */
export async function receiveTermFromParties(channel: Channel, tag: string): Promise<Float64Array> {
  const parts = await Promise.all(([0, 1, 2] as const).map(async (i) => fromBytes(await channel.recv(i, `term:${tag}`))));
  if (parts.some((w) => w.length < 1)) throw new Error(`output ${tag}: a party sent an empty term`);
  if (parts[0].length !== parts[1].length || parts[1].length !== parts[2].length) throw new Error(`output ${tag}: parties sent terms of different lengths`);
  const bits = parts.map((w) => w[0]);
  if (bits[0] !== bits[1] || bits[1] !== bits[2]) throw new Error(`output ${tag}: parties announce different fraction bits (${bits.join(', ')})`);
  if (bits[0] > BigInt(MAX_TERM_BITS)) throw new Error(`output ${tag}: parties announce ${bits[0]} fraction bits, more than ${MAX_TERM_BITS}`);
  const sum = new BigUint64Array(parts[0].length - 1);
  for (let i = 0; i < sum.length; i++) sum[i] = BigInt.asUintN(64, parts[0][i + 1] + parts[1][i + 1] + parts[2][i + 1]);
  return decodeFixed(sum, Number(bits[0]));
}
