/**
 * The party link's `?weight-cache-mib=N`: the cap of the party's weight cache (the blocks a pass keeps in the
 * tab's memory for the next token; packages/models/src/secure/weight-cache.ts). 0 streams every pass from
 * IndexedDB; absent, PAGE_WEIGHT_CACHE_MIB. Bad values fail the page naming the parameter.
 *
 * Why 768 MiB on pages (the Node default is 384): a tab's budget is 1.5 GiB, and GPT-2-base party tabs peaked at
 * 701-920 MiB with a 384 MiB cache, so about 540 MiB without it; 768 MiB leaves about 230 MiB of that budget
 * for garbage-collection swings. In a tab the cache is worth more than in Node: an IndexedDB read of a part
 * took 10-20 times the part's ChaCha20 expansion (the browsers bench prints the split per step). Its budget
 * goes first to the tensors read as the most blocks in a row (weight-cache.ts): for GPT-2-base's parties 1 and 2
 * that is both vocabulary tables, 618 MB of dense words, the rest to the first layers. Faster reads (Blob
 * values, parts read ahead) did not change the tabs' peaks (GPT-2-base: 1.04-1.14 GiB in the run after them,
 * 1.05-1.23 GiB before), so a larger default would leave too little of the 1.5 GiB for those swings.
 */

export const PAGE_WEIGHT_CACHE_MIB = 768;

/** The cap in bytes (the page's default when the link has none). */
export function parseWeightCacheMiB(value: string | null): number {
  if (value === null) return PAGE_WEIGHT_CACHE_MIB * 2 ** 20;
  const t = value.trim();
  if (!/^\d+$/.test(t) || Number(t) > 65_536) {
    throw new Error(`weight-cache-mib must be a whole number of MiB from 0 to 65536, got "${value}"`);
  }
  return Number(t) * 2 ** 20;
}

/** What the page shows for the cap. */
export function describeWeightCache(bytes: number): string {
  if (bytes === 0) return 'off (?weight-cache-mib=0): every pass reads IndexedDB';
  const cap = `${bytes / 2 ** 20} MiB`;
  return `${bytes === PAGE_WEIGHT_CACHE_MIB * 2 ** 20 ? `${cap} (the default; ?weight-cache-mib= sets it)` : `${cap} (?weight-cache-mib=)`}, or the whole share when it is smaller`;
}
