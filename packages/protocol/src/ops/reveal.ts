/**
 * Reveal (ABY3 section 2): party i is missing component i+2 = i-1, which party i-1 holds as its s0, so every
 * party sends its s0 to the next party. Cost: 1 round, n words sent per party.
 * Reveal to the client: every party sends its s0 (components 0, 1, 2) to the client only; the parties learn
 * nothing. Cost: 1 round, n words per party.
 */
import { CLIENT, type Channel } from '@puma/transport';
import { decodeFixed, fromBytes, zeroWords } from '@puma/ring';
import type { Party } from '../party.ts';
import type { AShare, BShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';

export const revealCost = (n: number): Cost => cost(1, n * WORD, n * WORD, n * WORD);
export const revealToClientCost = (n: number): Cost => cost(1, n * WORD, n * WORD, n * WORD);

export async function revealRaw(p: Party, x: AShare): Promise<BigUint64Array> {
  return p.profile('reveal', async () => {
    const [missing] = await p.exchange(p.nextTag(), [[p.next, x.s0]], [p.prev]);
    const be = p.backend;
    return be.read(be.add(be.add(x.s0, x.s1), be.upload(missing)));
  });
}

export async function reveal(p: Party, x: AShare): Promise<Float64Array> {
  return decodeFixed(await revealRaw(p, x), p.fracBits);
}

/** Reveals boolean shares to the parties; returns the packed words (planes x W). */
export async function revealBool(p: Party, x: BShare): Promise<BigUint64Array> {
  return p.profile('reveal', async () => {
    const [missing] = await p.exchange(p.nextTag(), [[p.next, x.s0]], [p.prev]);
    const be = p.backend;
    return be.read(be.xor(be.xor(x.s0, x.s1), be.upload(missing)));
  });
}

/** Sends this party's component to the client under an explicit tag the client also knows. */
export async function revealToClient(p: Party, x: AShare, tag: string): Promise<void> {
  await p.profile('revealToClient', () => p.exchange(`out:${tag}`, [[CLIENT, x.s0]], []));
}

/** Client side: the three components sum to the value. */
export async function receiveFromParties(channel: Channel, tag: string): Promise<BigUint64Array> {
  const parts = await Promise.all([0, 1, 2].map(async (i) => fromBytes(await channel.recv(i, `out:${tag}`))));
  if (parts[0].length !== parts[1].length || parts[1].length !== parts[2].length) throw new Error(`output ${tag}: parties sent different lengths`);
  const out = zeroWords(parts[0].length);
  for (let i = 0; i < out.length; i++) out[i] = BigInt.asUintN(64, parts[0][i] + parts[1][i] + parts[2][i]);
  return out;
}
