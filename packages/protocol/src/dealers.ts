/**
 * Rotating dealers for the operations where one party sends more than the others (truncation: 4 words per
 * element against 1 or 2; b2a: 2 against 1). The n elements are cut into three contiguous chunks and party c
 * deals chunk c, all three in parallel (the rounds do not change), so every party sends about the same.
 * Below ROTATE_FROM elements party 0 deals them all: there three exchanges instead of one cost more time than
 * the balance saves. `npm run bench -- core` (parties in worker threads): mul over 1024 elements took 8.1 ms
 * with three dealers and 2.9 ms with one; over 2^20 elements the rotated dealers send 22.4 MB per party where
 * party 0 alone sent 33.6 MB.
 */
import type { PartyId } from '@puma/transport';
import type { Party } from './party.ts';
import { aShare, type AShare } from './share.ts';

export const ROTATE_FROM = 3072;

/** Elements dealt by parties 0, 1, 2: all by party 0 below ROTATE_FROM, else sizes within one of each other. */
export function dealerChunks(n: number): [number, number, number] {
  if (n < ROTATE_FROM) return [n, 0, 0];
  const base = Math.floor(n / 3);
  return [0, 1, 2].map((c) => base + (c < n % 3 ? 1 : 0)) as [number, number, number];
}

/**
 * The dealers' chunks that run for n elements: elements [start, start + count) dealt by `dealer`, in element
 * order; an empty input still gives dealer 0's empty chunk, so an operation's round count never depends on n.
 */
export function dealerRanges(n: number): Array<{ dealer: PartyId; start: number; count: number }> {
  const sizes = dealerChunks(n);
  const starts = [0, sizes[0], sizes[0] + sizes[1]];
  return ([0, 1, 2] as const).filter((c) => sizes[c] > 0 || (n === 0 && c === 0)).map((c) => ({ dealer: c, start: starts[c], count: sizes[c] }));
}

/**
 * Runs `chunk` for every dealer's chunk (elements [start, start + count)) in parallel branches of `p` and
 * joins the results, in element order, into one share of `shape`. An empty input still runs dealer 0's chunk,
 * so an operation's round count never depends on n.
 */
export async function dealtByChunks(
  p: Party,
  n: number,
  shape: readonly number[],
  chunk: (q: Party, start: number, count: number, dealer: PartyId) => Promise<AShare>,
): Promise<AShare> {
  const parts = await p.parallel(...dealerRanges(n).map((r) => (q: Party) => chunk(q, r.start, r.count, r.dealer)));
  if (parts.length === 1) return aShare(shape, parts[0].s0, parts[0].s1);
  const be = p.backend;
  return aShare(shape, be.concat(parts.map((s) => s.s0)), be.concat(parts.map((s) => s.s1)));
}
