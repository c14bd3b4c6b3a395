/**
 * The weight cache's reservations: budget held for the tensors a pass reads as the most blocks in a row keeps
 * blocks of other tensors out when they would eat into it, lets the reserved tensor in when the pass reaches it
 * last, and never lets the cache hold more than its budget; cacheReservations picks those tensors (at least
 * RESERVED_MIN_BLOCKS blocks, most blocks first, each whole while it fits).
 */
import { describe, expect, it } from 'vitest';
import { cacheReservations, RESERVED_MIN_BLOCKS, WeightBlockCache } from './weight-cache.ts';

const both = (words: number) => ({ s0: new BigUint64Array(words), s1: new BigUint64Array(words) });

describe('weight cache reservations', () => {
  it('blocks of other tensors leave the reserved room free; the reserved tensor takes it when it comes last', () => {
    // 10 words of two components; 4 of them held for "head".
    const cache = new WeightBlockCache(16 * 10, { reserved: new Map([['head', 16 * 4]]) });
    expect(cache.offer('l0@0:4', both(4))).toBe(true);
    // 4 + 3 words would leave 3 for the head's 4.
    expect(cache.fits('l1@0:3', 3)).toBe(false);
    expect(cache.offer('l1@0:3', both(3))).toBe(false);
    expect(cache.offer('l1@0:2', both(2))).toBe(true);
    expect(cache.offer('head@0:2', both(2))).toBe(true);
    expect(cache.offer('head@2:4', both(2))).toBe(true);
    expect(cache.stats).toMatchObject({ blocks: 4, bytes: 16 * 10 });
    expect(cache.offer('head@4:5', both(1))).toBe(false);
  });

  it('without reservations it fills in offer order, as before', () => {
    const cache = new WeightBlockCache(16 * 10);
    expect(cache.offer('l0@0:4', both(4))).toBe(true);
    expect(cache.offer('l1@0:6', both(6))).toBe(true);
    expect(cache.offer('head@0:1', both(1))).toBe(false);
  });

  it('a reservation that is not a whole number of bytes, or reservations past the budget, are refused naming them', () => {
    expect(() => new WeightBlockCache(100, { reserved: new Map([['head', -8]]) })).toThrow('weight cache: reservation for head must be a whole number of bytes >= 0, got -8');
    expect(() => new WeightBlockCache(100, { reserved: new Map([['a', 60], ['b', 48]]) })).toThrow('weight cache: reservations of 108 bytes exceed the budget of 100');
  });

  it('cacheReservations: tensors of the most blocks first, each whole while it fits; small tensors left to pass order', () => {
    const block = 1000;
    const t = (name: string, blocks: number, bytesPerWord = 8) => ({ name, words: blocks * block, bytesPerWord });
    const tensors = [t('emb', 38), t('l0.qkv', 2), t('l0.fc', 3), t('mid', 6), t('head', 39), t('l11.fc', 3)];
    // Room for both vocabulary tables and not for "mid" as well.
    expect(cacheReservations(tensors, 8 * block * 80, block)).toEqual(new Map([['head', 8 * block * 39], ['emb', 8 * block * 38]]));
    // Room for one table only: the other is skipped, a smaller one that still fits is taken.
    expect(cacheReservations(tensors, 8 * block * 45, block)).toEqual(new Map([['head', 8 * block * 39], ['mid', 8 * block * 6]]));
    // Tensors under RESERVED_MIN_BLOCKS blocks are never reserved, however much room there is.
    expect(RESERVED_MIN_BLOCKS).toBeGreaterThan(3);
    expect([...cacheReservations(tensors, 8 * block * 1000, block).keys()].sort()).toEqual(['emb', 'head', 'mid']);
    // Two components (party 0, or a share that fits) take twice the room.
    expect(cacheReservations([t('emb', 38, 16)], 8 * block * 45, block)).toEqual(new Map());
  });
});
