/**
 * A browser endpoint's long-term identity: a non-extractable ECDSA P-256 CryptoKeyPair kept in IndexedDB
 * (CryptoKey objects are structured-clonable, so IndexedDB stores the key itself and page script can use it
 * but never read its private bytes). Created on first use, the same key on every later visit of this origin.
 */
import { createStore, get, update } from 'idb-keyval';
import { generateIdentity, identityFromKeyPair, type Identity } from '@puma/transport-webrtc';

function isKeyPair(value: unknown): value is CryptoKeyPair {
  const v = value as Partial<CryptoKeyPair> | undefined;
  return v?.privateKey instanceof CryptoKey && v.publicKey instanceof CryptoKey;
}

/**
 * `name` separates identities within one browser profile (e.g. one per role when a person runs several
 * endpoints of a session from the same origin); endpoints with the same name share one key.
 */
export async function loadOrCreateBrowserIdentity(name = 'default'): Promise<Identity> {
  if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available here; cannot keep an identity key');
  const db = createStore('puma-identity', 'keys');
  const stored: unknown = await get(name, db);
  if (isKeyPair(stored)) return identityFromKeyPair(stored);
  if (stored !== undefined) throw new Error(`IndexedDB entry "${name}" of database puma-identity does not hold a key pair`);
  // Two tabs may get here at once: the update keeps whichever key was stored first, and both read it back.
  const { keyPair } = await generateIdentity();
  await update<CryptoKeyPair>(name, (old) => old ?? keyPair, db);
  const kept: unknown = await get(name, db);
  if (!isKeyPair(kept)) throw new Error(`IndexedDB did not keep the identity key "${name}"`);
  return identityFromKeyPair(kept);
}
