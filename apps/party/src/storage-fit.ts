/**
 * Will a party's share of a model fit this browser's storage? From the owner's manifest (each part's bytes)
 * and the parts already in the store, the bytes still to download; against the quota the browser grants this
 * site (navigator.storage.estimate(): quota minus usage). Pure, so the arithmetic and the message are tested in
 * Node (storage-fit.test.ts); the page does the asking (storage-gate.ts).
 */
import type { PartyShareManifest } from '@puma/worker/session';
import { formatBytes } from './kit.ts';

export interface StorageNumbers {
  quota: number;
  usage: number;
}

export interface ShareNeeds {
  partsTotal: number;
  /** Parts the store already holds (present; the runtime still checks their sha256). */
  partsCached: number;
  /** Bytes of the parts still to download, which the store must take. */
  bytesMissing: number;
  /** Bytes of the whole share. */
  bytesTotal: number;
}

/** What a share needs, given which of its parts (by manifest index) the store holds. */
export function shareNeeds(manifest: Pick<PartyShareManifest, 'parts'>, cached: (index: number) => boolean): ShareNeeds {
  const needs: ShareNeeds = { partsTotal: manifest.parts.length, partsCached: 0, bytesMissing: 0, bytesTotal: 0 };
  manifest.parts.forEach((p, k) => {
    needs.bytesTotal += p.bytes;
    if (cached(k)) needs.partsCached += 1;
    else needs.bytesMissing += p.bytes;
  });
  return needs;
}

/** Bytes the site may still store; never negative (usage can exceed a quota that was lowered). */
export function available(s: StorageNumbers): number {
  return Math.max(0, s.quota - s.usage);
}

/** Checks the numbers a browser gave; a missing or nonsensical estimate is treated as unknown (null). */
export function storageNumbers(estimate: { quota?: number; usage?: number } | null | undefined): StorageNumbers | null {
  if (!estimate) return null;
  const { quota, usage } = estimate;
  if (typeof quota !== 'number' || !Number.isFinite(quota) || quota < 0) return null;
  const used = typeof usage === 'number' && Number.isFinite(usage) && usage >= 0 ? usage : 0;
  return { quota, usage: used };
}

/**
 * Null when the missing parts fit; otherwise the message the page shows and fails the session with, naming the
 * bytes needed and the bytes available.
 */
export function shortfall(modelId: string, party: number, needs: ShareNeeds, storage: StorageNumbers): string | null {
  const free = available(storage);
  if (needs.bytesMissing <= free) return null;
  const cached = needs.partsCached > 0 ? ` (${needs.partsCached} of ${needs.partsTotal} parts are already cached)` : '';
  return `not enough storage for model ${modelId}: party ${party}'s share needs ${formatBytes(needs.bytesMissing)} more${cached}, ` +
    `but this browser lets this site store only ${formatBytes(free)} more (quota ${formatBytes(storage.quota)}, ${formatBytes(storage.usage)} used). ` +
    'Nothing was downloaded. Delete cached models below, free disk space, or use a browser profile with more room.';
}
