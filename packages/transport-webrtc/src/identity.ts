/**
 * Long-term endpoint identities: an ECDSA P-256 key pair per endpoint (party, client, model owner), through
 * WebCrypto (globalThis.crypto.subtle, the same API in browsers and Node 20). Peers prove their key on every
 * link (link-auth.ts); people compare keys by fingerprint or by its short safety code.
 *
 * - publicKey: SPKI DER of the public key.
 * - fingerprint: lowercase hex SHA-256 of that SPKI (64 digits): what gets pinned.
 * - safetyCode: 4 groups of 5 decimal digits from the fingerprint's first 16 bytes, for reading aloud.
 *   Each group is a 32-bit word mod 100 000, so the code carries 4 x log2(100 000) = 66.4 bits: finding a
 *   second key with the same code takes about 2^66 key generations. Code comparison is for people; programs
 *   compare the full 256-bit fingerprint.
 */
export interface Identity {
  /** SPKI DER of the ECDSA P-256 public key. */
  readonly publicKey: Uint8Array;
  /** Lowercase hex SHA-256 of publicKey. */
  readonly fingerprint: string;
  /** ECDSA P-256 / SHA-256 signature of `data`, IEEE P1363 encoding (r || s, 64 bytes). */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

export const KEY_ALGORITHM: EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNATURE_ALGORITHM: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const SIGNATURE_BYTES = 64;
const SAFETY_GROUPS = 4;

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('WebCrypto (crypto.subtle) is unavailable: identities need a secure context (https or localhost)');
  return s;
}

/** A fresh identity whose private key cannot be exported. */
export async function generateIdentity(): Promise<{ identity: Identity; keyPair: CryptoKeyPair }> {
  const keyPair = (await subtle().generateKey(KEY_ALGORITHM, false, ['sign', 'verify'])) as CryptoKeyPair;
  return { identity: await identityFromKeyPair(keyPair), keyPair };
}

/** The Identity of an ECDSA P-256 key pair (its public key must be exportable, as WebCrypto makes them). */
export async function identityFromKeyPair(pair: CryptoKeyPair): Promise<Identity> {
  const algorithm = pair.privateKey.algorithm as EcKeyAlgorithm;
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
    throw new Error(`identity keys must be ECDSA P-256, got ${algorithm.name} ${algorithm.namedCurve ?? ''}`.trim());
  }
  if (!pair.privateKey.usages.includes('sign')) throw new Error('identity private key is not usable for signing');
  const publicKey = new Uint8Array(await subtle().exportKey('spki', pair.publicKey));
  const fingerprint = await fingerprintOf(publicKey);
  const privateKey = pair.privateKey;
  return {
    publicKey,
    fingerprint,
    async sign(data) {
      return new Uint8Array(await subtle().sign(SIGNATURE_ALGORITHM, privateKey, data as Uint8Array<ArrayBuffer>));
    },
  };
}

export async function fingerprintOf(spki: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await subtle().digest('SHA-256', spki as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Checks an IEEE P1363 ECDSA P-256 / SHA-256 signature; false for a wrong signature, throws for an unusable key. */
export async function verifySignature(spki: Uint8Array, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  let key: CryptoKey;
  try {
    key = await subtle().importKey('spki', spki as Uint8Array<ArrayBuffer>, KEY_ALGORITHM, false, ['verify']);
  } catch (e) {
    throw new Error(`not an ECDSA P-256 public key (${e instanceof Error ? e.message : String(e)})`);
  }
  if (signature.byteLength !== SIGNATURE_BYTES) return false;
  return subtle().verify(SIGNATURE_ALGORITHM, key, signature as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>);
}

/** "48213 09371 16645 88210": the first 16 bytes of the fingerprint as 4 big-endian words, each mod 100 000. */
export function safetyCode(fingerprint: string): string {
  const hex = parseFingerprint(fingerprint, 'fingerprint');
  const groups: string[] = [];
  for (let g = 0; g < SAFETY_GROUPS; g++) {
    const word = Number.parseInt(hex.slice(g * 8, g * 8 + 8), 16);
    groups.push(String(word % 100_000).padStart(5, '0'));
  }
  return groups.join(' ');
}

/** Accepts 64 hex digits in any case (surrounding whitespace ignored) and returns them in lowercase. */
export function parseFingerprint(text: string, what: string): string {
  if (typeof text !== 'string') throw new Error(`${what} must be a key fingerprint (64 hex digits), got ${typeof text}`);
  const t = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(t)) {
    const shown = t.length > 80 ? `${t.slice(0, 80)}…` : t;
    const why = /^[0-9a-fA-F]*$/.test(t) ? `${t.length} hex digits` : 'characters other than hex digits';
    throw new Error(`${what} must be a key fingerprint of 64 hex digits (SHA-256 of the public key), got "${shown}" (${why})`);
  }
  return t.toLowerCase();
}
