/** The CLI's ICE flags (inline JSON or @file, policy override) and what Node endpoints refuse. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertNodeIceSupport, encodeCredentialsForNode, iceConfigFromFlags } from './ice-config-node.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'puma-ice-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const turn = { urls: 'turn:127.0.0.1:3478', username: 'u', credential: 'p' };

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
