/**
 * The owner page's kept sharing in IndexedDB, so the same approved parties download nothing next session: one
 * record under the weights' hash with the manifests, the public info, the holders and the seeds each tensor's
 * split drew. The parts themselves are not kept: the owner makes any part a party lacks again from the weights
 * (the same file, by its hash) and those seeds (owner-resplit.ts), bit for bit, and the party checks it against
 * the manifest's sha256. Keeping GPT-2-base's 1.2 GB of parts took about 75 s of a first run and reading them
 * back 1.2 GB of a cached run's memory; the record is kilobytes.
 * The record's holders (which identity holds which party's bundle) are what keeps the bundles of one sharing from
 * ever reaching another set of identities, where one identity could collect two parties' bundles across sessions.
 */
import { createStore, del, get, keys, set } from 'idb-keyval';
import type { OwnerShares, PartyShareManifest, SeededSharing } from '@puma/worker/session';

const db = createStore('puma-owner', 'sharings');
const RECORD_FORMAT = 'puma-owner-kept/3';

interface KeptRecord {
  format: typeof RECORD_FORMAT;
  sharing: Omit<OwnerShares, 'parties'> & { parties: [PartyShareManifest, PartyShareManifest, PartyShareManifest] };
  seeds: SeededSharing['seeds'];
}

/** The kept sharing of these weights (manifests and seeds; no parts), or undefined when none is kept. */
export async function loadKeptSharing(weightsHash: string): Promise<SeededSharing | undefined> {
  const record = (await get(weightsHash, db)) as KeptRecord | undefined;
  if (record?.format !== RECORD_FORMAT) return undefined;
  const { sharing, seeds } = record;
  const parties = sharing.parties.map((manifest) => ({ manifest, parts: [] }));
  return { shares: { ...sharing, parties: parties as unknown as OwnerShares['parties'] }, seeds };
}

/** Keeps one sharing of one model's weights: its record (with the holders) on every call. */
export class SharingKeeper {
  private oldPartsDropped: Promise<void> | null = null;

  constructor(private readonly weightsHash: string) {}

  async keep(sharing: SeededSharing): Promise<void> {
    // Parts kept by earlier versions of this page, under this weights hash: no record refers to them any more.
    this.oldPartsDropped ??= this.dropOldParts();
    const { shares } = sharing;
    const record: KeptRecord = {
      format: RECORD_FORMAT,
      sharing: { ...shares, parties: shares.parties.map((p) => p.manifest) as KeptRecord['sharing']['parties'] },
      seeds: sharing.seeds,
    };
    await set(this.weightsHash, record, db);
    await this.oldPartsDropped;
  }

  private async dropOldParts(): Promise<void> {
    const prefix = `${this.weightsHash}/`;
    for (const key of await keys(db)) if (typeof key === 'string' && key.startsWith(prefix)) await del(key, db);
  }
}
