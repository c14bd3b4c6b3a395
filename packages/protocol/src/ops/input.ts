/**
 * Input sharing with PRG compression (DESIGN.md): the dealer (client or model owner) draws two fresh seeds,
 * x0 = PRG(seedA), x1 = PRG(seedB), x2 = x - x0 - x1. Party 0 gets (seedA, seedB); party 1 gets seedB and
 * the dense x2; party 2 gets the dense x2 and seedA. Only one dense component exists, sent to the two parties
 * that hold it. Cost for the parties: 1 round (receive), 0 bytes sent; the dealer sends 2n words + 4 seeds.
 */
import type { Buf } from '@puma/backend';
import { chachaWords, randomKey, sizeOf, asBytes, fromBytes } from '@puma/ring';
import type { Channel, EndpointId, PartyId } from '@puma/transport';
import type { Party } from '../party.ts';
import { aShare, type AShare } from '../share.ts';
import { cost, type Cost } from '../cost.ts';

export const inputCost = (): Cost => cost(1, 0, 0, 0);

/** Nonce of the seed-derived components (each seed is fresh, so one fixed nonce suffices). */
export const SEED_NONCE = new Uint32Array(3);

/** What one party receives for one input tensor. */
export interface ShareBundle {
  /** Seed of component `party` (s0) when that component is PRG-derived. */
  seed0?: Uint32Array;
  /** Seed of component `party+1` (s1) when PRG-derived. */
  seed1?: Uint32Array;
  /** The dense component x2, for the party that holds it as s0 or s1. */
  dense?: BigUint64Array;
}

/** Dealer side: splits x into the three parties' bundles. Seeds come from crypto.getRandomValues. */
export function splitInput(x: BigUint64Array): [ShareBundle, ShareBundle, ShareBundle] {
  return splitInputWithSeeds(x, randomKey(), randomKey());
}

/** splitInput with given seeds (x0 = PRG(seedA), x1 = PRG(seedB)): for references that must match a split bit for bit. */
export function splitInputWithSeeds(x: BigUint64Array, seedA: Uint32Array, seedB: Uint32Array): [ShareBundle, ShareBundle, ShareBundle] {
  const x0 = chachaWords(seedA, SEED_NONCE, x.length);
  const x1 = chachaWords(seedB, SEED_NONCE, x.length);
  const x2 = new BigUint64Array(x.length);
  // x2 = x - x0 - x1 mod 2^64 on 32-bit halves: 9 ns per element against 36 with BigInt (median of 5 runs over
  // 4 M elements, this 2-core machine); the two ChaCha20 streams (73 ns per word in JS) remain the main cost.
  const [a, b, c, out] = [x, x0, x1, x2].map((w) => new Uint32Array(w.buffer, w.byteOffset, 2 * w.length));
  for (let i = 0; i < 2 * x.length; i += 2) {
    const lo = a[i] - b[i] - c[i];
    const borrow = lo < -0x100000000 ? 2 : lo < 0 ? 1 : 0;
    out[i] = lo >>> 0;
    out[i + 1] = (a[i + 1] - b[i + 1] - c[i + 1] - borrow) >>> 0;
  }
  return [{ seed0: seedA, seed1: seedB }, { seed0: seedB, dense: x2 }, { dense: x2, seed1: seedA }];
}

/** Party side: expands a bundle into this party's share. */
export function shareFromBundle(p: Party, b: ShareBundle, shape: readonly number[]): AShare {
  const n = sizeOf(shape);
  const be = p.backend;
  const comp = (seed: Uint32Array | undefined, which: string): Buf => {
    if (seed) return be.prg(seed, SEED_NONCE, n);
    if (!b.dense) throw new Error(`share bundle for party ${p.id} lacks component ${which}`);
    if (b.dense.length !== n) throw new Error(`share bundle has ${b.dense.length} elements, shape [${shape.join(', ')}] needs ${n}`);
    return be.upload(b.dense);
  };
  return aShare(shape, comp(b.seed0, 's0'), comp(b.seed1, 's1'));
}

/** Wire format: flags byte (1 = seed0, 2 = seed1, 4 = dense), padding to 8, seeds, dense words. */
export function encodeBundle(b: ShareBundle): Uint8Array {
  const seeds = [b.seed0, b.seed1].filter((s): s is Uint32Array => !!s);
  const denseBytes = b.dense ? b.dense.byteLength : 0;
  const out = new Uint8Array(8 + seeds.length * 32 + denseBytes);
  out[0] = (b.seed0 ? 1 : 0) | (b.seed1 ? 2 : 0) | (b.dense ? 4 : 0);
  let o = 8;
  for (const s of seeds) {
    out.set(new Uint8Array(s.buffer, s.byteOffset, 32), o);
    o += 32;
  }
  if (b.dense) out.set(asBytes(b.dense), o);
  return out;
}

export function decodeBundle(bytes: Uint8Array): ShareBundle {
  if (bytes.length < 8) throw new Error('share bundle too short');
  const flags = bytes[0];
  let o = 8;
  const seed = (): Uint32Array => {
    if (o + 32 > bytes.length) throw new Error('share bundle truncated in a seed');
    const s = new Uint32Array(bytes.slice(o, o + 32).buffer);
    o += 32;
    return s;
  };
  const b: ShareBundle = {};
  if (flags & 1) b.seed0 = seed();
  if (flags & 2) b.seed1 = seed();
  if (flags & 4) b.dense = fromBytes(bytes.slice(o));
  return b;
}

/** Dealer side over a channel: sends each party its bundle under `in:<tag>`. */
export function sendInput(channel: Channel, tag: string, x: BigUint64Array): void {
  splitInput(x).forEach((b, i) => channel.send(i as PartyId, `in:${tag}`, encodeBundle(b)));
}

/** Party side over a channel: receives this party's bundle for `tag` from `from`. */
export async function receiveInput(p: Party, from: EndpointId, tag: string, shape: readonly number[]): Promise<AShare> {
  return p.profile('input', async () => {
    p.rounds += 1;
    const bytes = await p.channel.recv(from, `in:${tag}`);
    return shareFromBundle(p, decodeBundle(bytes), shape);
  });
}
