/**
 * The owner page's kept sharing in IndexedDB, so the same approved parties download nothing next session: one
 * record under the weights' hash with the manifests, the public info, the holders and the seeds each tensor's
 * split drew. The parts themselves are not kept: the owner makes any part a party lacks again from the weights
 * (the same file, by its hash) and those seeds (owner-resplit.ts), bit for bit, and the party checks it against
 * the manifest's sha256. Keeping GPT-2-base's 1.2 GB of parts took about 75 s of a first run and reading them
 * back 1.2 GB of a cached run's memory; the record is kilobytes.
 * The record's holders (which identity holds which party's bundle) are what keeps the bundles of one sharing from
 * ever reaching another set of identities, where one identity could collect two parties' bundles across sessions.
 * The record also keeps the domain check's verdict under its key (worker session/owner-domain.ts domainCheckKey:
 * the check's format, weights, tokenizer, fraction bits), so a later visit with the same model skips the check's
 * plaintext pass (4.3 s of a GPT-2-base cached run's 8-9 s before the parties are ready).
 */
import { createStore, del, get, keys, set } from 'idb-keyval';
import type { NormWindows } from '@puma/models';
import { safetyCode } from '@puma/transport-webrtc';
import { sameNormWindows, type OwnerDomainVerdict, type OwnerShares, type PartyShareManifest, type SeededSharing } from '@puma/worker/session';

const db = createStore('puma-owner', 'sharings');
// /4: a tied head is no longer a tensor of its own, so a /3 record names a part (head.w) no split makes now.
// /5: pre-norm models' layer norms are folded into the matmuls they feed (models secure/norm-folding.ts), so a /4
// record's seeds would remake qkv and up parts that no longer match its manifests.
const RECORD_FORMAT = 'puma-owner-kept/5';

/** A domain check's verdict and the key it was given under (records from before it have none). */
export interface RecordedDomain {
  key: string;
  /** A verdict the check gave (a skip records none). */
  verdict: Exclude<OwnerDomainVerdict, { outcome: 'skipped' }>;
}

interface KeptRecord {
  format: typeof RECORD_FORMAT;
  sharing: Omit<OwnerShares, 'parties'> & { parties: [PartyShareManifest, PartyShareManifest, PartyShareManifest] };
  seeds: SeededSharing['seeds'];
  domain?: RecordedDomain;
}

/**
 * What this page keeps for these weights, read once: the sharing (manifests and seeds; no parts) and the domain
 * verdict it was made under; each undefined when none is kept.
 */
export async function loadKept(weightsHash: string): Promise<{ sharing?: SeededSharing; domain?: RecordedDomain }> {
  const record = (await get(weightsHash, db)) as KeptRecord | undefined;
  if (record?.format !== RECORD_FORMAT) return {};
  const { sharing, seeds, domain } = record;
  const parties = sharing.parties.map((manifest) => ({ manifest, parts: [] }));
  return { sharing: { shares: { ...sharing, parties: parties as unknown as OwnerShares['parties'] }, seeds }, domain };
}

/** Keeps one sharing of one model's weights: its record (with the holders, and the domain verdict it was made under) on every call. */
export class SharingKeeper {
  private oldPartsDropped: Promise<void> | null = null;

  constructor(private readonly weightsHash: string, private readonly domain?: RecordedDomain) {}

  async keep(sharing: SeededSharing): Promise<void> {
    // Parts kept by earlier versions of this page, under this weights hash: no record refers to them any more.
    this.oldPartsDropped ??= this.dropOldParts();
    const { shares } = sharing;
    const record: KeptRecord = {
      format: RECORD_FORMAT,
      sharing: { ...shares, parties: shares.parties.map((p) => p.manifest) as KeptRecord['sharing']['parties'] },
      seeds: sharing.seeds,
      ...(this.domain ? { domain: this.domain } : {}),
    };
    await set(this.weightsHash, record, db);
    await this.oldPartsDropped;
  }

  private async dropOldParts(): Promise<void> {
    const prefix = `${this.weightsHash}/`;
    for (const key of await keys(db)) if (typeof key === 'string' && key.startsWith(prefix)) await del(key, db);
  }
}

/** Why the kept sharing cannot serve these approved parties, or null when it can (holders unset or the same). */
function holderConflict(kept: OwnerShares, approved: readonly string[]): string | null {
  const holders = kept.holders as OwnerShares['holders'] | undefined;
  if (!holders) return 'it has no record of which identities hold its bundles';
  const held = ([0, 1, 2] as const).map((p) => holders[p]);
  if (held.every((fp, p) => fp === null || fp === approved[p])) return null;
  return `it was given to other parties (${held.map((fp, p) => `party ${p} ${fp === null ? 'none yet' : safetyCode(fp)}`).join(', ')})`;
}

/** Why the kept sharing's description differs from what this page publishes now, or null when it is the same. */
function windowsConflict(kept: OwnerShares, windows: NormWindows | undefined): string | null {
  const keptWindows = kept.publicInfo.config.normWindows;
  if (sameNormWindows(keptWindows, windows)) return null;
  const count = (w: NormWindows | undefined) => `${Object.keys(w ?? {}).length} norm windows`;
  return `it publishes other norm windows (${count(keptWindows)}) than this page's domain check gives now (${count(windows)})`;
}

/**
 * Why the kept sharing cannot serve this session, or null when it can: it must be of this model id, publish the
 * norm windows this page's domain check gives now, and be held by these approved parties (or none yet).
 */
export function keptConflict(kept: OwnerShares, modelId: string, approved: readonly string[], windows: NormWindows | undefined): string | null {
  if (kept.modelId !== modelId) return `it was made under the name ${kept.modelId}`;
  return windowsConflict(kept, windows) ?? holderConflict(kept, approved);
}
