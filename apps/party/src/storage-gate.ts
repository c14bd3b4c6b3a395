/**
 * The party page's storage policy, applied before any share is downloaded. At start the page asks the browser
 * to keep its storage (navigator.storage.persist(): otherwise the browser may evict cached shares under
 * pressure) and reads the quota (navigator.storage.estimate()). The session runtime in the worker asks the
 * model owner for the missing parts right after it receives the manifest, so the page checks the manifest on
 * its way to the worker: this Channel passes everything through unchanged, except that the owner's
 * `w:manifest` is first held against the store (which parts are cached) and the quota. When the missing parts
 * do not fit, the receive fails with a message naming the bytes needed and available: the runtime then ends
 * the session with that reason on every endpoint, and no part is ever requested.
 */
import { OWNER, type Channel, type EndpointId, type PartyId } from '@puma/transport';
import { checkManifest, partKey, type PartyShareManifest } from '@puma/worker/session';
import { shareNeeds, shortfall, storageNumbers, type ShareNeeds, type StorageNumbers } from './storage-fit.ts';

/**
 * Asks the browser to keep this site's storage. Some browsers ask the person (Firefox), so the page does not
 * wait for the answer before it goes on; the request goes out before any session starts. Null where the
 * browser has no persist(); false where asking failed.
 */
export function askPersistence(storage: StorageManager | undefined): Promise<boolean> | null {
  if (typeof storage?.persist !== 'function') return null;
  return storage.persist().catch(() => false);
}

export async function readEstimate(storage: StorageManager | undefined): Promise<StorageNumbers | null> {
  if (typeof storage?.estimate !== 'function') return null;
  return storageNumbers(await storage.estimate().catch(() => null));
}

export interface ManifestCheck {
  manifest: PartyShareManifest;
  needs: ShareNeeds;
  estimate: StorageNumbers | null;
  /** The message the session fails with, or null when the share fits (or the quota is unknown). */
  refusal: string | null;
}

export interface StorageGateOptions {
  party: PartyId;
  identity: string;
  /** Which of the given keys the share store holds. */
  holds: (keys: string[]) => Promise<Set<string>>;
  storage: StorageManager | undefined;
  /** Told the outcome before the manifest reaches the worker (or the refusal does). */
  onChecked: (c: ManifestCheck) => void;
}

export class StorageGatedChannel implements Channel {
  constructor(
    private readonly inner: Channel,
    private readonly o: StorageGateOptions,
  ) {}

  get self(): EndpointId {
    return this.inner.self;
  }
  get stats() {
    return this.inner.stats;
  }
  send(to: EndpointId, tag: string, data: Uint8Array): void {
    this.inner.send(to, tag, data);
  }
  async recv(from: EndpointId, tag: string): Promise<Uint8Array> {
    const data = await this.inner.recv(from, tag);
    if (from === OWNER && tag === 'w:manifest') await this.check(data);
    return data;
  }
  close(reason?: string): void {
    this.inner.close(reason);
  }
  peerIdentity(peer: EndpointId): string | undefined {
    return this.inner.peerIdentity?.(peer);
  }

  private async check(bytes: Uint8Array): Promise<void> {
    let manifest: unknown;
    try {
      manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
      checkManifest(manifest, this.o.party);
    } catch {
      // A malformed manifest is the runtime's to name (it checks it the same way); the page lets it through.
      return;
    }
    const m = manifest;
    const keys = m.parts.map((p) => partKey(this.o.identity, m.modelId, m.epoch, this.o.party, p.tensor, p.part));
    const held = await this.o.holds(keys);
    const needs = shareNeeds(m, (k) => held.has(keys[k]));
    const estimate = await readEstimate(this.o.storage);
    const refusal = estimate === null ? null : shortfall(m.modelId, this.o.party, needs, estimate);
    this.o.onChecked({ manifest: m, needs, estimate, refusal });
    if (refusal !== null) throw new Error(refusal);
  }
}
