/**
 * Relay-only ICE from the command line: `puma owner`, three `puma party` and `puma client` processes, each
 * given the loopback coturn with --ice-servers and --ice-transport-policy relay, generate the plaintext greedy
 * stories260K tokens. Relays sit on 127.0.0.2 (e2e/turn-server.ts) where the endpoints' host sockets have no
 * TURN permission, so relayed paths are the only ones that work; coturn's log shows the allocations. A party
 * given a wrong TURN password exits 1 within seconds naming the TURN server, before it joins its slot; one given
 * --turn-secret mints credentials a coturn with that static-auth-secret accepts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateGreedy } from '@puma/models';
import { loadModel } from '@puma/models/node';
import { startCoordinator, type Coordinator } from '@puma/coordinator';
import { getSession } from '@puma/transport-webrtc';
import { exitOf, killStarted, lastJson, makeKey, newSession, puma, waitFor, type Key } from '../apps/cli/src/session-test-harness.ts';
import { startTurnServer, type TurnServer } from './turn-server.ts';

let turn: TurnServer;
let coordinator: Coordinator;
let work: string;
let keys: { parties: Key[]; owner: Key; client: Key };

beforeAll(async () => {
  turn = await startTurnServer();
  coordinator = await startCoordinator({ port: 0 });
  work = mkdtempSync(path.join(tmpdir(), 'puma-relay-cli-'));
  const dir = path.join(work, 'keys');
  keys = {
    parties: [await makeKey(dir, 'party0'), await makeKey(dir, 'party1'), await makeKey(dir, 'party2')],
    owner: await makeKey(dir, 'owner'),
    client: await makeKey(dir, 'client'),
  };
}, 60_000);
afterEach(() => killStarted());
afterAll(async () => {
  await coordinator?.close();
  await turn?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const ice = (credential?: string) => ['--ice-servers', JSON.stringify([turn.iceServer(credential)]), '--ice-transport-policy', 'relay'];

describe('puma owner | party | client with relay-only ICE through coturn', () => {
  it('generates the plaintext greedy tokens over relayed links', async () => {
    const s = await newSession(coordinator.url);
    const approved = keys.parties.map((k) => k.fingerprint).join(',');
    const allocationsBefore = turn.allocations();
    const common = (slot: keyof typeof s.secrets, key: Key) => ['--coordinator', coordinator.url, '--session', s.id, '--secret', s.secrets[slot], '--key', key.file, ...ice()];
    const owner = puma('owner', ['owner', '--model', 'stories260K', '--sessions', '1', '--parties', approved, ...common('owner', keys.owner)]);
    const parties = [0, 1, 2].map((i) => puma(`party ${i}`, ['party', '--party', String(i), '--backend', 'wasm', ...common(`party${i}` as 'party0', keys.parties[i])]));
    const maxNewTokens = 4;
    const client = puma('client', ['client', '--prompt', 'Once upon a time', '--max-new-tokens', String(maxNewTokens), '--json', '--parties', approved, ...common('client', keys.client)]);
    const c = await exitOf(client, 300_000);
    expect(c.code, c.stderr).toBe(0);
    const result = lastJson(c.stdout) as { promptIds: number[]; tokens: number[] };
    const { model } = await loadModel('stories260K');
    expect(result.tokens).toEqual(generateGreedy(model, result.promptIds, maxNewTokens).slice(result.promptIds.length));
    expect(c.stderr).toContain(`client: ICE servers ${turn.url}, relay only`);
    for (const p of [...parties, owner]) {
      const e = await exitOf(p, 60_000);
      expect(e.code, `${p.name}: ${e.stderr}`).toBe(0);
      expect(e.stderr).toMatch(new RegExp(`ICE servers ${turn.url}, relay only`));
    }
    // Every endpoint's links (10 links, both ends) and probes went through allocations on our coturn.
    expect(turn.allocations() - allocationsBefore).toBeGreaterThanOrEqual(20);
  }, 420_000);

  it('a wrong TURN password makes the party exit 1 at once, naming the TURN server, without joining', async () => {
    const s = await newSession(coordinator.url);
    const t0 = Date.now();
    const party = puma('party', [
      'party', '--party', '0', '--coordinator', coordinator.url, '--session', s.id, '--secret', s.secrets.party0, '--key', keys.parties[0].file, ...ice('wrong'),
    ]);
    const e = await exitOf(party, 60_000);
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(new RegExp(`puma party: relay-only ICE: no relay candidate from ${turn.url} .*username and credential`));
    expect(Date.now() - t0).toBeLessThan(45_000);
    expect((await getSession(coordinator.url, s.id)).slots.party0.joined).toBe(false);
  }, 90_000);

  it('--turn-secret: the party mints credentials that a coturn sharing the secret accepts, then joins', async () => {
    const secret = 'shared-with-coturn-0123';
    const restTurn = await startTurnServer({ authSecret: secret });
    try {
      const s = await newSession(coordinator.url);
      const party = puma('party', [
        'party', '--party', '0', '--coordinator', coordinator.url, '--session', s.id, '--secret', s.secrets.party0, '--key', keys.parties[0].file,
        '--ice-servers', JSON.stringify([{ urls: restTurn.url }]), '--ice-transport-policy', 'relay', '--turn-secret', secret,
      ]);
      // Joining comes after the relay probe: a joined slot means coturn handed out a relay for minted credentials.
      await waitFor(async () => (await getSession(coordinator.url, s.id)).slots.party0.joined, 60_000, 'party 0 to join', party);
      expect(restTurn.allocations()).toBeGreaterThan(0);
      await waitFor(() => party.stderr().includes(`ICE servers ${restTurn.url}, relay only`), 10_000, 'its ICE line', party);
    } finally {
      killStarted();
      await restTurn.stop();
    }
  }, 90_000);
});
