/**
 * The ICE flags of `puma party | owner | client`: a config Node endpoints cannot use is a usage error (exit 2)
 * naming the flag and the problem, before anything is contacted. Relay-only sessions through coturn are
 * e2e/relay-node.test.ts (channels) and e2e/relay.spec.ts (pages).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { exitOf, killStarted, puma } from './session-test-harness.ts';

afterEach(() => killStarted());

/** The common flags of each command; the coordinator is never reached (the flags are refused first). */
const COMMANDS: Record<string, string[]> = {
  party: ['party', '--party', '0'],
  owner: ['owner', '--bundles', '/nonexistent', '--parties', `${'a'.repeat(64)},${'b'.repeat(64)},${'c'.repeat(64)}`],
  client: ['client', '--prompt', 'x', '--parties', `${'a'.repeat(64)},${'b'.repeat(64)},${'c'.repeat(64)}`],
};
const common = ['--coordinator', 'http://127.0.0.1:9', '--session', 'abc', '--secret', '0'.repeat(32)];

describe('ICE flags', () => {
  it.each(Object.keys(COMMANDS))('puma %s refuses a relay policy without a TURN server and TURN over TLS', async (name) => {
    const noTurn = await exitOf(puma(name, [...COMMANDS[name], ...common, '--ice-transport-policy', 'relay']), 60_000);
    expect(noTurn.code).toBe(2);
    expect(noTurn.stderr).toMatch(new RegExp(`puma ${name}: the ICE flags: iceTransportPolicy "relay" needs at least one turn: or turns: server`));
    expect(noTurn.stderr).toMatch(/--ice-servers <json\|@file>/);
    const tls = await exitOf(puma(name, [...COMMANDS[name], ...common, '--ice-servers', '[{"urls":"turns:127.0.0.1:5349","username":"u","credential":"p"}]']), 60_000);
    expect(tls.code).toBe(2);
    expect(tls.stderr).toMatch(/--ice-servers: iceServers\[0\]\.urls\[0\] "turns:127\.0\.0\.1:5349" is not supported in Node/);
  });

  it('puma party refuses TURN credentials in --ice-servers when --turn-secret mints them', async () => {
    const run = await exitOf(puma('party', [...COMMANDS.party, ...common, '--turn-secret', 'sixteen-chars-or-more', '--ice-servers', '[{"urls":"turn:127.0.0.1","username":"u","credential":"p"}]']), 60_000);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/puma party: --ice-servers\[0\]: TURN credentials are minted from the TURN secret, so leave out "username" and "credential"/);
  });
});
