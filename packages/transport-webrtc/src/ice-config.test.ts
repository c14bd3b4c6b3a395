/** ICE config validation: accepted shapes come back normalised, each kind of mistake is named. */
import { describe, expect, it } from 'vitest';
import { parseIceConfig, parseIceUrl, rtcConfigOf } from './ice-config.ts';
import { generateIdentity } from './identity.ts';
import { resolveOptions } from './options.ts';

const turn = { urls: 'turn:turn.example.org:3478', username: 'u', credential: 'p' };

describe('parseIceConfig', () => {
  it('accepts STUN and TURN servers and normalises urls to arrays', () => {
    const c = parseIceConfig({
      iceServers: [{ urls: 'stun:stun.example.org' }, turn, { urls: ['turns:[2001:db8::1]:5349?transport=tcp', 'turn:10.0.0.1?transport=udp'], username: 'a', credential: 'b' }],
      iceTransportPolicy: 'relay',
    });
    expect(c.iceServers.map((s) => s.urls)).toEqual([['stun:stun.example.org'], ['turn:turn.example.org:3478'], ['turns:[2001:db8::1]:5349?transport=tcp', 'turn:10.0.0.1?transport=udp']]);
    expect(c.iceTransportPolicy).toBe('relay');
    expect(rtcConfigOf(c)).toEqual({ iceServers: c.iceServers, iceTransportPolicy: 'relay' });
  });

  it('defaults to no servers and policy "all"', () => {
    expect(parseIceConfig({})).toEqual({ iceServers: [], iceTransportPolicy: 'all' });
  });

  it.each([
    [null, /ICE config must be an object, got null/],
    [[], /ICE config must be an object, got an array/],
    [{ iceServer: [] }, /unknown field "iceServer"/],
    [{ iceServers: 'stun:x' }, /iceServers must be an array/],
    [{ iceServers: [{}] }, /iceServers\[0\]\.urls must be a URL or a non-empty array/],
    [{ iceServers: [{ urls: [] }] }, /iceServers\[0\]\.urls must be a URL or a non-empty array/],
    [{ iceServers: [{ urls: 'stun:x', user: 'u' }] }, /iceServers\[0\] has an unknown field "user"/],
    [{ iceServers: [{ urls: 'turn:x:3478' }] }, /iceServers\[0\] has a TURN URL, so it needs both "username" and "credential"/],
    [{ iceServers: [{ urls: 'turn:x', username: 'u', credential: 7 }] }, /iceServers\[0\]\.credential must be a non-empty string/],
    [{ iceServers: [{ urls: 'turn:x', username: '', credential: 'p' }] }, /iceServers\[0\]\.username must be a non-empty string/],
    [{ iceServers: [{ urls: 'turn:x', username: 'u\n', credential: 'p' }] }, /username must be a non-empty string of at most 512 printable/],
    [{ iceServers: [turn], iceTransportPolicy: 'relay-only' }, /iceTransportPolicy must be "all" or "relay", got "relay-only"/],
    [{ iceServers: [{ urls: 'stun:x' }], iceTransportPolicy: 'relay' }, /iceTransportPolicy "relay" needs at least one turn: or turns: server/],
    [{ iceServers: Array.from({ length: 17 }, () => turn) }, /lists 17 servers; at most 16/],
  ])('refuses %j', (config, message) => {
    expect(() => parseIceConfig(config)).toThrow(message);
  });
});

describe('parseIceUrl', () => {
  it('splits scheme, host, port and transport', () => {
    expect(parseIceUrl('turn:127.0.0.1:3478?transport=udp', 'u')).toEqual({ scheme: 'turn', host: '127.0.0.1', port: 3478, transport: 'udp' });
    expect(parseIceUrl('stun:stun.example.org', 'u')).toEqual({ scheme: 'stun', host: 'stun.example.org', port: null, transport: null });
  });

  it.each([
    [42, /url must be a string/],
    ['http://turn.example.org', /is not a stun:, stuns:, turn: or turns: URL/],
    ['turn://turn.example.org:3478', /must not have "\/\/" after the scheme/],
    ['turn:u:p@turn.example.org', /must not carry a user name/],
    ['turn:turn.example.org:70000', /port 70000, outside 1\.\.65535/],
    ['turn:turn.example.org:0', /port 0, outside 1\.\.65535/],
    ['stun:stun.example.org?transport=udp', /only turn: and turns: URLs take \?transport=/],
    ['turn:turn.example.org?transport=tls', /is not a stun:, stuns:, turn: or turns: URL/],
    ['turn:', /is not a stun:, stuns:, turn: or turns: URL/],
  ])('refuses %j', (url, message) => {
    expect(() => parseIceUrl(url, 'url')).toThrow(message);
  });
});

describe('PeerChannel options', () => {
  it('check rtcConfig like an ICE config', async () => {
    const { identity } = await generateIdentity();
    const base = { coordinator: 'http://127.0.0.1:9000', sessionId: 'abc', self: 0, peers: [1], identity, slotSecret: 'abc' };
    expect(resolveOptions({ ...base, rtcConfig: { iceServers: [turn], iceTransportPolicy: 'relay' } }).rtcConfig.iceTransportPolicy).toBe('relay');
    expect(() => resolveOptions({ ...base, rtcConfig: { iceServers: [{ urls: 'turn:x' }] } })).toThrow(/rtcConfig: iceServers\[0\] has a TURN URL, so it needs both/);
  });
});
