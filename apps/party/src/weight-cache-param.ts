/**
 * The party link's `?weight-cache-mib=N`: the cap of the party's weight cache (the blocks a pass keeps in the
 * tab's memory for the next token; packages/models/src/secure/weight-cache.ts). 0 streams every pass from
 * IndexedDB; absent, PAGE_WEIGHT_CACHE_MIB. Bad values fail the page naming the parameter.
 *
 * Why 896 MiB (the Node default is 384): a tab's budget is 1.5 GiB, and a tab's cache is worth more than Node's
 * (an IndexedDB read of a part costs several times its ChaCha20 expansion, and on two shared cores the reads'
 * CPU slows the rounds too). Measured with GPT-2-base in three tabs (`bench browsers --model gpt2-base
 * --cached-weight-cache-mib=...`, 2026-12-05, load 7-12 from other work, so the times are loose), party tab
 * peaks in MiB:
 * - before the first pass took the start-up check's parts (stored-weights.ts): 768 MiB 1,069 / 1,143 / 1,144;
 *   1024 MiB 1,322 / 1,410 / 1,441; 1280 MiB 1,573 / 1,576 / 1,571, over the budget although parties 1 and 2
 *   then keep their whole dense component (1,304 MB, 8 bytes a weight);
 * - since (the checked parts the cache will keep are held from the check into the first pass, which adds about
 *   150 MiB to parties 1 and 2's peak): 768 MiB 1,059 / 1,311 / 1,294; 896 MiB 1,191 / 1,430 / 1,453 (first
 *   run 1,187 / 1,443 / 1,453); 960 MiB 1,251 / 1,511 / 1,524 (no faster); 1024 MiB 1,332 / 1,569 / 1,604, over
 *   the budget.
 * So 896 MiB is the largest measured step within the budget (83 MiB to spare at the worst tab). Since a cached
 * run's start-up check looks parts up by size instead of reading them, only a run that downloads the share
 * holds checked parts into the first pass, so that run sets the limit (896 MiB, load 9-15, 2026-12-05: first run
 * 1,192 / 1,454 / 1,453, cached run 1,195 / 1,284 / 1,283). The budget goes
 * first to the tensors read as the most blocks in a row (weight-cache.ts): for GPT-2-base's parties 1 and 2 the
 * token embedding (309 MB of dense words; the tied head reads it too), the rest to the first layers (63 MB still
 * read a token, 2026-12-05); party 0, with no dense component, keeps expanded words of the first blocks. (These
 * peaks were measured when the head was a second 309 MB table in the share, 1,304 MB per dense party; it is
 * 995 MB now.)
 */

export const PAGE_WEIGHT_CACHE_MIB = 896;

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
