/**
 * The owner page's kept sharing in IndexedDB, so the same approved parties download nothing next session: a
 * record under the weights' hash (manifests, public info, holders) and each part under its epoch and sha256, once
 * (parties 1 and 2 hold the same dense bytes). Parts are written one at a time, so no single structured clone
 * holds the model: one put of a whole GPT-2-base sharing (2.6 GB) ran out of memory and froze the page past the
 * parties' idle limit. Each part is stored as its own bytes: a part is a view into its tensor's dense share, and
 * a put clones a view's whole buffer. A holders update rewrites the record only; keeping a new epoch drops the
 * old one's parts.
 * The record's holders (which identity holds which party's bundle) are what keeps the bundles of one sharing from
 * ever reaching another set of identities, where one identity could collect two parties' bundles across sessions.
 */
import { createStore, del, get, keys, set } from 'idb-keyval';
import { ownedBytes } from '@puma/worker/browser';
import type { OwnerShares, PartyShareManifest } from '@puma/worker/session';

const db = createStore('puma-owner', 'sharings');
const RECORD_FORMAT = 'puma-owner-kept/2';

interface KeptRecord {
  format: typeof RECORD_FORMAT;
  sharing: Omit<OwnerShares, 'parties'> & { parties: [PartyShareManifest, PartyShareManifest, PartyShareManifest] };
}

const partKey = (weightsHash: string, epoch: string, sha256: string) => `${weightsHash}/${epoch}/${sha256}`;

/**
 * The kept sharing of these weights, or undefined when none is kept whole (a missing part counts as none).
 * Each part is read once, by itself: parties 1 and 2 get the same bytes for their common dense parts, as when
 * split.
 */
export async function loadKeptSharing(weightsHash: string): Promise<OwnerShares | undefined> {
  const record = (await get(weightsHash, db)) as KeptRecord | undefined;
  if (record?.format !== RECORD_FORMAT) return undefined;
  const { sharing } = record;
  const keyOf = (sha256: string) => partKey(weightsHash, sharing.epoch, sha256);
  const distinct = [...new Set(sharing.parties.flatMap((m) => m.parts.map((p) => keyOf(p.sha256))))];
  const byKey = new Map<string, Uint8Array>();
  for (const k of distinct) {
    // One get per part: one getMany of a whole sharing is read back in one task on the page's thread, which for
    // GPT-2-base (1.2 GB) outlasted the peers' 6 s idle limit and ended the session (bench browsers, cached run).
    const v: unknown = await get(k, db);
    if (!(v instanceof Uint8Array)) return undefined;
    byKey.set(k, v);
  }
  const parties = sharing.parties.map((manifest) => ({ manifest, parts: manifest.parts.map((p) => byKey.get(keyOf(p.sha256))!) }));
  return { ...sharing, parties: parties as OwnerShares['parties'] };
}

/** Keeps one sharing of one model's weights: its parts once, its record (with the holders) on every call. */
export class SharingKeeper {
  private partsKept: Promise<void> | null = null;

  constructor(private readonly weightsHash: string) {}

  async keep(shares: OwnerShares): Promise<void> {
    this.partsKept ??= this.keepParts(shares);
    await this.partsKept;
    const record: KeptRecord = {
      format: RECORD_FORMAT,
      sharing: { ...shares, parties: shares.parties.map((p) => p.manifest) as KeptRecord['sharing']['parties'] },
    };
    await set(this.weightsHash, record, db);
  }

  private async keepParts(shares: OwnerShares): Promise<void> {
    const prefix = `${this.weightsHash}/`;
    const ours = `${prefix}${shares.epoch}/`;
    for (const key of await keys(db)) {
      if (typeof key === 'string' && key.startsWith(prefix) && !key.startsWith(ours)) await del(key, db);
    }
    const written = new Set<string>();
    for (const party of shares.parties) {
      for (const [k, info] of party.manifest.parts.entries()) {
        const key = partKey(this.weightsHash, shares.epoch, info.sha256);
        if (written.has(key)) continue;
        await set(key, ownedBytes(party.parts[k]), db);
        written.add(key);
      }
    }
  }
}
