import { describe, expect, it } from 'vitest';
import { PAGE_WEIGHT_CACHE_MIB, describeWeightCache, parseWeightCacheMiB } from './weight-cache-param.ts';

describe('?weight-cache-mib=', () => {
  it('is a whole number of MiB; absent, the page default; 0 turns the cache off', () => {
    expect(parseWeightCacheMiB(null)).toBe(PAGE_WEIGHT_CACHE_MIB * 2 ** 20);
    expect(parseWeightCacheMiB('0')).toBe(0);
    expect(parseWeightCacheMiB(' 1024 ')).toBe(2 ** 30);
    expect(describeWeightCache(0)).toMatch(/^off/);
    expect(describeWeightCache(parseWeightCacheMiB(null))).toMatch(/^896 MiB \(the default/);
    expect(describeWeightCache(parseWeightCacheMiB('768'))).toMatch(/^768 MiB \(\?weight-cache-mib=\)/);
  });
  it('names the parameter and the value when it is not a whole number of MiB in range', () => {
    for (const bad of ['', '-1', '1.5', '2e3', 'lots', '65537']) {
      expect(() => parseWeightCacheMiB(bad)).toThrow(`weight-cache-mib must be a whole number of MiB from 0 to 65536, got "${bad}"`);
    }
  });
});
