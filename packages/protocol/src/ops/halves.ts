/**
 * Back to replicated form from a two-party additive sharing, the last round of the dealer truncations
 * (truncate.ts, truncateRing.ts) and of the wrap truncation (truncateWrap.ts). For a chunk with helper or dealer D,
 * A = D + 1 and B = D + 2 hold y_A + y_B = y. Components: c_D from the key of D and B, c_A from the key of D and A
 * (no message), c_B = y - c_D - c_A, which A and B assemble from each other's halves y_A - c_A and y_B - c_D:
 * each half is masked by a component its receiver lacks. One round; A and B send n values of Z_2^bits each
 * (bits 32: 4-byte lanes, lanes.ts), D sends nothing.
 */
import type { Buf } from '@puma/backend';
import type { PartyId } from '@puma/transport';
import type { Party } from '../party.ts';
import { aShare, type AShare } from '../share.ts';
import { packLanes, unpackLanes, type RingBits } from './lanes.ts';

/** `half` is this party's y (null for D); every party of the chunk calls it at the same point. */
export async function replicateHalves(p: Party, half: Buf | null, n: number, dealer: PartyId, shape: readonly number[], bits: RingBits = 64): Promise<AShare> {
  const be = p.backend;
  const A = ((dealer + 1) % 3) as PartyId;
  const B = ((dealer + 2) % 3) as PartyId;
  const tag = p.nextTag();
  if (p.id === dealer) {
    await p.exchange(tag, [], []);
    return aShare(shape, p.prgWith(B, tag, n), p.prgWith(A, tag, n));
  }
  const isA = p.id === A;
  const other = isA ? B : A;
  const myComp = p.prgWith(dealer, tag, n);
  const masked = be.sub(half as Buf, myComp);
  const message = bits === 64 ? masked : packLanes([{ words: await be.read(masked), bits }]);
  const [theirs] = await p.exchange(tag, [[other, message]], [other]);
  const theirHalf = be.upload(bits === 64 ? theirs : unpackLanes(theirs, [{ count: n, bits }])[0]);
  const cB = be.add(masked, theirHalf);
  p.drop(half as Buf, masked, theirHalf);
  return isA ? aShare(shape, myComp, cB) : aShare(shape, cB, myComp);
}
