/**
 * A Node endpoint's long-term identity in a key file: the private key as a JWK, readable by its owner only
 * (mode 0600). The file must hold the private key in exportable form (that is what a key file is); once
 * loaded, the key lives in a non-extractable CryptoKey.
 *
 * File: {"format":"puma-identity/1","privateKey":{"kty":"EC","crv":"P-256","x":…,"y":…,"d":…}}
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { type Identity, KEY_ALGORITHM, identityFromKeyPair, verifySignature } from './identity.ts';

const FORMAT = 'puma-identity/1';
const MAX_FILE_BYTES = 16 * 1024;

/**
 * Loads the identity in `path`, or creates the file (and its directory) with a fresh key when there is none.
 * Two processes creating the same file at once end up with the same key: the file appears atomically and only
 * once (written under a temporary name, then hard-linked into place, which fails if the name exists).
 */
export async function loadOrCreateIdentityFile(path: string): Promise<Identity> {
  try {
    return await loadIdentityFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const pair = (await crypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const file = await fs.open(temp, 'wx', 0o600);
  try {
    await file.writeFile(`${JSON.stringify({ format: FORMAT, privateKey: jwk })}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await fs.link(temp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create identity key file ${path}: ${(e as Error).message}`);
  } finally {
    await fs.unlink(temp);
  }
  return loadIdentityFile(path);
}

async function loadIdentityFile(path: string): Promise<Identity> {
  const stat = await fs.stat(path);
  if (!stat.isFile()) throw new Error(`identity key file ${path} is not a regular file`);
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw new Error(`identity key file ${path} is readable by others (mode ${mode}); run chmod 600 ${path}`);
  }
  if (stat.size > MAX_FILE_BYTES) throw new Error(`identity key file ${path} is malformed: ${stat.size} bytes is too large for a key`);
  const text = await fs.readFile(path, 'utf8');
  const malformed = (why: string) => new Error(`identity key file ${path} is malformed: ${why}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed('not JSON');
  }
  const record = parsed as { format?: unknown; privateKey?: unknown };
  if (typeof parsed !== 'object' || parsed === null || record.format !== FORMAT) throw malformed(`expected "format": "${FORMAT}"`);
  const jwk = record.privateKey as JsonWebKey | undefined;
  if (typeof jwk !== 'object' || jwk === null || jwk.kty !== 'EC' || jwk.crv !== 'P-256') {
    throw malformed('"privateKey" is not an EC P-256 JWK');
  }
  for (const field of ['x', 'y', 'd'] as const) {
    if (typeof jwk[field] !== 'string') throw malformed(`"privateKey" lacks its "${field}" coordinate`);
  }
  let pair: CryptoKeyPair;
  try {
    const privateKey = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d }, KEY_ALGORITHM, false, ['sign']);
    const publicKey = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, KEY_ALGORITHM, true, ['verify']);
    pair = { privateKey, publicKey };
  } catch (e) {
    throw malformed(`its key does not import (${(e as Error).message})`);
  }
  const identity = await identityFromKeyPair(pair);
  // A JWK whose d does not belong to (x, y) imports fine but signs for no one; catch it here, not at a peer.
  const probe = new TextEncoder().encode(`${FORMAT} self-check`);
  if (!(await verifySignature(identity.publicKey, probe, await identity.sign(probe)))) {
    throw malformed('its private key does not match its public key');
  }
  return identity;
}
