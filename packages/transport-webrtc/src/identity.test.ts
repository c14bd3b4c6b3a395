import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fingerprintOf, generateIdentity, identityFromKeyPair, parseFingerprint, safetyCode, verifySignature } from './identity.ts';

describe('identity', () => {
  it('fingerprints the SPKI with SHA-256 and keeps the private key unexportable', async () => {
    const { identity, keyPair } = await generateIdentity();
    expect(identity.publicKey.byteLength).toBe(91); // SPKI DER of an uncompressed P-256 point
    expect(identity.fingerprint).toBe(createHash('sha256').update(identity.publicKey).digest('hex'));
    expect(await fingerprintOf(identity.publicKey)).toBe(identity.fingerprint);
    expect(keyPair.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('pkcs8', keyPair.privateKey)).rejects.toThrow();
    const again = await identityFromKeyPair(keyPair);
    expect(again.fingerprint).toBe(identity.fingerprint);
  });

  it('signs so that only the same key and data verify', async () => {
    const a = (await generateIdentity()).identity;
    const b = (await generateIdentity()).identity;
    const data = new TextEncoder().encode('puma-link-auth/1 transcript');
    const sig = await a.sign(data);
    expect(sig.byteLength).toBe(64);
    expect(await verifySignature(a.publicKey, data, sig)).toBe(true);
    expect(await verifySignature(b.publicKey, data, sig)).toBe(false);
    const tampered = data.slice();
    tampered[0] ^= 1;
    expect(await verifySignature(a.publicKey, tampered, sig)).toBe(false);
    expect(await verifySignature(a.publicKey, data, sig.subarray(0, 63))).toBe(false);
    await expect(verifySignature(new Uint8Array(91), data, sig)).rejects.toThrow(/not an ECDSA P-256 public key/);
  });

  it('refuses key pairs of another algorithm', async () => {
    const rsa = (await crypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    )) as CryptoKeyPair;
    await expect(identityFromKeyPair(rsa)).rejects.toThrow(/identity keys must be ECDSA P-256, got RSASSA-PKCS1-v1_5/);
  });

  it('derives a 4 x 5 digit safety code from the first 16 bytes of the fingerprint', () => {
    const fp = '00000000' + 'ffffffff' + '000186a0' + '0001869f' + 'ab'.repeat(16);
    // 0xffffffff = 4294967295 -> 67295; 0x186a0 = 100000 -> 0; 0x1869f = 99999.
    expect(safetyCode(fp)).toBe('00000 67295 00000 99999');
    expect(safetyCode(fp.toUpperCase())).toBe(safetyCode(fp));
    expect(safetyCode('12345678' + fp.slice(8))).not.toBe(safetyCode(fp));
    expect(() => safetyCode('abc')).toThrow(/fingerprint must be a key fingerprint of 64 hex digits/);
  });

  it('parses fingerprints in any case and names what is wrong with bad ones', () => {
    const fp = 'AbCd'.repeat(16);
    expect(parseFingerprint(`  ${fp}\n`, 'party 1 key')).toBe(fp.toLowerCase());
    expect(() => parseFingerprint('ab'.repeat(31), 'party 1 key')).toThrow(/party 1 key must be a key fingerprint of 64 hex digits .*\(62 hex digits\)/);
    expect(() => parseFingerprint('zz'.repeat(32), '--expect-party0')).toThrow(/--expect-party0 .*characters other than hex digits/);
    expect(() => parseFingerprint(42 as unknown as string, 'pin')).toThrow(/pin must be a key fingerprint \(64 hex digits\), got number/);
  });
});
