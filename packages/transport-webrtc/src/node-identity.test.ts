import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifySignature } from './identity.ts';
import { loadOrCreateIdentityFile } from './node-identity.ts';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'puma-identity-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('identity key file', () => {
  it('creates a 0600 file (and its directory) on first use and loads the same key afterwards', async () => {
    const path = join(dir, 'nested', 'deeper', 'party0.key');
    const first = await loadOrCreateIdentityFile(path);
    expect((await fs.stat(path)).mode & 0o777).toBe(0o600);
    const second = await loadOrCreateIdentityFile(path);
    expect(second.fingerprint).toBe(first.fingerprint);
    const data = new Uint8Array([1, 2, 3]);
    expect(await verifySignature(first.publicKey, data, await second.sign(data))).toBe(true);
    expect((await fs.readdir(join(dir, 'nested', 'deeper'))).sort()).toEqual(['party0.key']);
  });

  it('gives concurrent creators one key', async () => {
    const path = join(dir, 'shared.key');
    const all = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateIdentityFile(path)));
    expect(new Set(all.map((i) => i.fingerprint)).size).toBe(1);
    expect(await fs.readdir(dir)).toEqual(['shared.key']);
  });

  it('refuses a file that group or others can read, naming the fix', async () => {
    const path = join(dir, 'open.key');
    await loadOrCreateIdentityFile(path);
    await fs.chmod(path, 0o644);
    await expect(loadOrCreateIdentityFile(path)).rejects.toThrow(`identity key file ${path} is readable by others (mode 0644); run chmod 600 ${path}`);
    await fs.chmod(path, 0o640);
    await expect(loadOrCreateIdentityFile(path)).rejects.toThrow(/mode 0640/);
  });

  it('refuses malformed files with the reason', async () => {
    const path = join(dir, 'bad.key');
    const write = async (text: string) => {
      await fs.writeFile(path, text, { mode: 0o600 });
      await fs.chmod(path, 0o600);
    };
    await write('not json');
    await expect(loadOrCreateIdentityFile(path)).rejects.toThrow(`identity key file ${path} is malformed: not JSON`);
    await write('{"format":"other"}');
    await expect(loadOrCreateIdentityFile(path)).rejects.toThrow(/malformed: expected "format": "puma-identity\/1"/);
    await write('{"format":"puma-identity/1","privateKey":{"kty":"RSA"}}');
    await expect(loadOrCreateIdentityFile(path)).rejects.toThrow(/malformed: "privateKey" is not an EC P-256 JWK/);
    await write('{"format":"puma-identity/1","privateKey":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}');
    await expect(loadOrCreateIdentityFile(path)).rejects.toThrow(/lacks its "d" coordinate/);
    await write('{"format":"puma-identity/1","privateKey":{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}}');
    await expect(loadOrCreateIdentityFile(path)).rejects.toThrow(/malformed: its key does not import/);
    // A valid key whose d was swapped with another key's: imports, but cannot sign for its public key.
    const a = JSON.parse(await fs.readFile(await keyFile('a'), 'utf8'));
    const b = JSON.parse(await fs.readFile(await keyFile('b'), 'utf8'));
    await write(JSON.stringify({ format: 'puma-identity/1', privateKey: { ...a.privateKey, d: b.privateKey.d } }));
    await expect(loadOrCreateIdentityFile(path)).rejects.toThrow(/malformed: (its private key does not match its public key|its key does not import)/);
    await fs.rm(path);
    await fs.mkdir(path);
    await expect(loadOrCreateIdentityFile(path)).rejects.toThrow(/is not a regular file/);
  });
});

async function keyFile(name: string): Promise<string> {
  const path = join(dir, `${name}.key`);
  await loadOrCreateIdentityFile(path);
  return path;
}
