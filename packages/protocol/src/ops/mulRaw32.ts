/**
 * Ring product in Z_2^32 without truncation: mul.ts's mulRaw (ABY3 / Araki et al. CCS 2016 section 2:
 * each party's 3-of-3 term x_i y_i + x_i y_{i+1} + x_{i+1} y_i, masked by a zero sharing, sent to the previous
 * party) with every value read modulo 2^32 and sent as one 32-bit lane (lanes.ts). For shares of Z_2^32 kept
 * in 64-bit words (upper halves ignored, as truncateRing.ts leaves them) and for the local downcast of a share
 * of Z_2^64 (its low halves). The zero sharing reduced modulo 2^32 is a zero sharing of Z_2^32, so what the
 * receiver sees stays uniformly masked.
 * Use: integer operands whose product only matters modulo 2^32, such as a 0/1 indicator times a value of
 * Z_2^32 (exp.ts masks its last square this way). The result's upper halves are arbitrary.
 * Cost: 1 round; each party sends n 32-bit lanes, 8 ceil(n / 2) bytes (mulRaw: 8n).
 */
import type { Buf } from '@puma/backend';
import type { Party } from '../party.ts';
import { aShare, numel, sameShape, type AShare } from '../share.ts';
import { cost, type Cost } from '../cost.ts';
import { localProduct } from './mul.ts';
import { laneCount, packedBytes, packLanes, unpackLanes } from './lanes.ts';

export function mulRaw32Cost(n: number): Cost {
  const bytes = packedBytes(laneCount([{ count: n, bits: 32 }]));
  return cost(1, bytes, bytes, bytes);
}

/** mul.ts's reshare of a masked 3-of-3 term z, read modulo 2^32 and sent as 32-bit lanes. */
export async function reshare32(p: Party, z: Buf, shape: readonly number[], tag: string): Promise<AShare> {
  const n = shape.reduce((s, d) => s * d, 1);
  const [fromNext] = await p.exchange(tag, [[p.prev, packLanes([{ words: await p.backend.read(z), bits: 32 }])]], [p.next]);
  return aShare(shape, z, p.backend.upload(unpackLanes(fromNext, [{ count: n, bits: 32 }])[0]));
}

/** x * y modulo 2^32, elementwise (operands of one shape, read modulo 2^32). */
export function mulRaw32(p: Party, x: AShare, y: AShare): Promise<AShare> {
  sameShape(x, y, 'mulRaw32');
  return p.profile('mulRaw32', async () => {
    const tag = p.nextTag();
    return reshare32(p, p.backend.add(localProduct(p, x, y), p.zeroShare(tag, numel(x))), x.shape, tag);
  });
}
