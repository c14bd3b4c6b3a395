/** The CLI's ICE flags (inline JSON or @file, policy override) and what Node endpoints refuse. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertNodeIceSupport, encodeCredentialsForNode, iceConfigFromFlags } from './ice-config-node.ts';
import { mintTurnCredentials, readTurnSecret } from './ice-turn-rest.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'puma-ice-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const turn = { urls: 'turn:127.0.0.1:3478', username: 'u', credential: 'p' };
const OPENSSL_HMAC = 'vh4f6NbIW1sV0HJD68DTtlpfUaE=';

describe('iceConfigFromFlags', () => {
  it('is null without flags (host candidates only)', () => {
    expect(iceConfigFromFlags(undefined, undefined)).toBeNull();
  });

  it('takes a server list inline, a whole config from a file, and lets the policy flag override', () => {
    expect(iceConfigFromFlags(JSON.stringify([turn]), 'relay')).toEqual({ iceServers: [{ ...turn, urls: [turn.urls] }], iceTransportPolicy: 'relay' });
    const file = path.join(dir, 'ice.json');
    writeFileSync(file, JSON.stringify({ iceServers: [turn], iceTransportPolicy: 'relay' }));
    expect(iceConfigFromFlags(`@${file}`, undefined)?.iceTransportPolicy).toBe('relay');
    expect(iceConfigFromFlags(`@${file}`, 'all')?.iceTransportPolicy).toBe('all');
  });

  it('names the flag, the file and the field in its errors', () => {
    expect(() => iceConfigFromFlags('[{"urls":', undefined)).toThrow(/--ice-servers is not JSON .*expected e\.g\./);
    expect(() => iceConfigFromFlags(`@${path.join(dir, 'missing.json')}`, undefined)).toThrow(/--ice-servers file .*missing\.json cannot be read/);
    expect(() => iceConfigFromFlags('[{"urls":"turn:x"}]', undefined)).toThrow(/--ice-servers\[0\] has a TURN URL, so it needs both/);
    expect(() => iceConfigFromFlags(undefined, 'relays')).toThrow(/--ice-transport-policy must be "all" or "relay", got "relays"/);
    expect(() => iceConfigFromFlags(undefined, 'relay')).toThrow(/the ICE flags: iceTransportPolicy "relay" needs at least one turn: or turns: server/);
  });
});

describe('Node ICE support', () => {
  it('accepts one STUN and two UDP TURN URLs', () => {
    expect(() => assertNodeIceSupport({ iceServers: [{ urls: 'stun:s.example' }, { urls: ['turn:a.example', 'turn:b.example?transport=udp'], username: 'u', credential: 'p' }] })).not.toThrow();
  });

  it('percent-encodes credentials, which node-datachannel decodes from the URL it builds', () => {
    const c = encodeCredentialsForNode({ iceServers: [{ urls: 'turn:a.example', username: 'u@x', credential: 'p:w/%' }] });
    expect(c.iceServers![0]).toEqual({ urls: 'turn:a.example', username: 'u%40x', credential: 'p%3Aw%2F%25' });
  });
});

describe('minted TURN credentials', () => {
  it('a config for minting names TURN servers without credentials, and refuses given ones', () => {
    expect(iceConfigFromFlags('[{"urls":"turn:127.0.0.1:3478"}]', 'relay', 'minted')?.iceServers).toEqual([{ urls: ['turn:127.0.0.1:3478'] }]);
    expect(() => iceConfigFromFlags(JSON.stringify([turn]), undefined, 'minted')).toThrow(/--ice-servers\[0\]: TURN credentials are minted from the TURN secret, so leave out "username" and "credential"/);
  });

  it('mints "<expiry>:puma" and base64 HMAC-SHA1 of it (TURN REST API), for TURN servers only', () => {
    const config = iceConfigFromFlags('[{"urls":"stun:127.0.0.1"},{"urls":"turn:127.0.0.1"}]', undefined, 'minted')!;
    const minted = mintTurnCredentials(config, 'secret-of-sixteen+', 3600_000, 1_700_000_000_500);
    expect(minted.iceServers[0]).toEqual({ urls: ['stun:127.0.0.1'] });
    // RFC 2104 HMAC-SHA1 of "1700003600:puma" under that key, computed independently with openssl:
    // printf '1700003600:puma' | openssl dgst -sha1 -hmac 'secret-of-sixteen+' -binary | base64
    expect(minted.iceServers[1]).toEqual({ urls: ['turn:127.0.0.1'], username: '1700003600:puma', credential: OPENSSL_HMAC });
  });

  it('reads the secret inline or from a file, and refuses a short one', () => {
    const file = path.join(dir, 'turn-secret');
    writeFileSync(file, 'from-a-file-0123456789\n');
    expect(readTurnSecret(`@${file}`)).toBe('from-a-file-0123456789');
    expect(readTurnSecret('inline-secret-0123')).toBe('inline-secret-0123');
    expect(() => readTurnSecret('short')).toThrow(/--turn-secret must be at least 16 characters/);
    expect(() => readTurnSecret(`@${path.join(dir, 'nope')}`)).toThrow(/--turn-secret file .*nope cannot be read/);
  });
});
