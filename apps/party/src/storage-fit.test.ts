import { describe, expect, it } from 'vitest';
import { available, shareNeeds, shortfall, storageNumbers } from './storage-fit.ts';

const MiB = 1024 ** 2;
const manifest = {
  parts: [
    { tensor: 'emb', part: 'seeds', bytes: 40, sha256: '' },
    { tensor: 'emb', part: 'dense.0', bytes: 8 * MiB, sha256: '' },
    { tensor: 'emb', part: 'dense.1', bytes: 3 * MiB, sha256: '' },
  ],
};

describe('shareNeeds', () => {
  it('counts the parts and bytes still missing', () => {
    expect(shareNeeds(manifest, () => false)).toEqual({ partsTotal: 3, partsCached: 0, bytesMissing: 11 * MiB + 40, bytesTotal: 11 * MiB + 40 });
    expect(shareNeeds(manifest, (k) => k === 1)).toEqual({ partsTotal: 3, partsCached: 1, bytesMissing: 3 * MiB + 40, bytesTotal: 11 * MiB + 40 });
    expect(shareNeeds(manifest, () => true).bytesMissing).toBe(0);
  });
});

describe('shortfall', () => {
  const needs = shareNeeds(manifest, () => false);

  it('is null when the missing bytes fit, exactly at the limit too', () => {
    expect(shortfall('m', 1, needs, { quota: 100 * MiB, usage: 10 * MiB })).toBeNull();
    expect(shortfall('m', 1, needs, { quota: needs.bytesMissing + 5, usage: 5 })).toBeNull();
  });

  it('names the bytes needed and available when they do not fit', () => {
    const msg = shortfall('gpt2-shakespeare', 2, needs, { quota: 10 * MiB, usage: 4 * MiB });
    expect(msg).toMatch(/^not enough storage for model gpt2-shakespeare: party 2's share needs 11\.00 MiB more, /);
    expect(msg).toContain('only 6.00 MiB more (quota 10.00 MiB, 4.00 MiB used)');
    expect(msg).toContain('Nothing was downloaded');
  });

  it('one byte over the limit does not fit', () => {
    expect(shortfall('m', 0, needs, { quota: needs.bytesMissing + 4, usage: 5 })).not.toBeNull();
  });

  it('counts only the missing parts, and says how many are cached', () => {
    const resumed = shareNeeds(manifest, (k) => k === 1);
    expect(shortfall('m', 0, resumed, { quota: 4 * MiB, usage: 0 })).toBeNull();
    expect(shortfall('m', 0, resumed, { quota: 2 * MiB, usage: 0 })).toContain('(1 of 3 parts are already cached)');
  });
});

describe('storageNumbers', () => {
  it('takes finite, non-negative estimates and treats others as unknown', () => {
    expect(storageNumbers({ quota: 10, usage: 3 })).toEqual({ quota: 10, usage: 3 });
    expect(storageNumbers({ quota: 10 })).toEqual({ quota: 10, usage: 0 });
    expect(storageNumbers({ usage: 3 })).toBeNull();
    expect(storageNumbers({ quota: Number.NaN, usage: 0 })).toBeNull();
    expect(storageNumbers({ quota: -1, usage: 0 })).toBeNull();
    expect(storageNumbers(undefined)).toBeNull();
  });

  it('available space is never negative', () => {
    expect(available({ quota: 10, usage: 30 })).toBe(0);
    expect(available({ quota: 30, usage: 10 })).toBe(20);
  });
});
