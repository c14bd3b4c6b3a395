/**
 * One share store never holds two parties' bundles of one sharing: two of the three bundles together
 * reconstruct the weights. The store keeps a binding record per sharing (model id, epoch) naming the party slot
 * (and identity) it holds; a party that would put another slot's parts into it refuses before asking the owner
 * for any part.
 */
import type { PartyId } from '@puma/transport';
import { decodeJson, encodeJson } from './json.ts';
import type { ShareStore } from './types.ts';

interface Binding {
  party: PartyId;
  identity: string;
}

/** Store key of a sharing's binding record (part keys start with a 64-hex identity, so they never collide). */
export function bindingKey(modelId: string, epoch: string): string {
  return `binding/${modelId}/${epoch}`;
}

/**
 * Binds `store` to party `party`'s bundle of sharing (modelId, epoch), or checks an existing binding. Throws
 * when the store holds another party's bundle of that sharing. Resolves false when the record could not be
 * written (store full or unavailable): the caller then caches no part of this sharing, so the store never
 * holds parts it is not bound to.
 */
export async function bindStore(store: ShareStore, modelId: string, epoch: string, party: PartyId, identity: string): Promise<boolean> {
  const key = bindingKey(modelId, epoch);
  const held = await store.get(key);
  if (held !== undefined) {
    let b: Partial<Binding>;
    try {
      b = decodeJson(held, 'binding record') as Partial<Binding>;
    } catch {
      b = {};
    }
    if (b.party !== 0 && b.party !== 1 && b.party !== 2) {
      throw new Error(`this share store's record of which party's bundle of sharing ${epoch} it holds is damaged; clear the store before using it again`);
    }
    if (b.party !== party) {
      throw new Error(`this share store already holds party ${b.party}'s bundle of sharing ${epoch}; one store never holds two parties' shares of one sharing`);
    }
    return true;
  }
  try {
    await store.set(key, encodeJson({ party, identity } satisfies Binding));
    return true;
  } catch {
    return false;
  }
}
