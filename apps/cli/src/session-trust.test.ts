/**
 * Who may take a slot and who may collect weight bundles, with `puma` processes over real WebRTC on loopback
 * (one coordinator and one `puma share` folder of stories260K for all cases):
 * - slot hijack: a party with a wrong secret, or with the right secret and another key, is refused naming the
 *   slot; the killed party restarted with its secret and key takes its slot back and the session completes;
 * - after that session ends, three new identities re-joining it with the secrets get nothing;
 * - one identity in two party slots: the owner refuses the second, and sends it no bundle;
 * - three new identities in a fresh session: the owner (its folder bound to the approved parties) refuses them,
 *   and an owner asked to serve the folder to another set exits, saying to share again;
 * - a cache folder that holds party 0's share, asked for party 1's of the same sharing, is refused.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCoordinator, type Coordinator } from '@puma/coordinator';
import {
  type Child, type CreatedSession, type Key, exitOf, filesUnder, killStarted, lastJson, makeKey, newSession, puma, slotConnected, waitFor,
} from './session-test-harness.ts';

let coordinator: Coordinator;
let work: string;
let shareDir: string;
let keyDir: string;
let keys: [Key, Key, Key];
let ownerKey: Key;
let clientKey: Key;
let approved: string;
/** Party 0's cache after the hijack case's session: holds party 0's share of the folder's sharing. */
let party0Cache: string;

function owner(s: CreatedSession, extra: string[] = []): Child {
  return puma('owner', [
    'owner', '--coordinator', coordinator.url, '--session', s.id, '--bundles', shareDir, '--parties', approved,
    '--secret', s.secrets.owner, '--key', ownerKey.file, ...extra,
  ]);
}

function party(s: CreatedSession, i: 0 | 1 | 2, o: { key?: string; secret?: string; cache?: string; name?: string } = {}): Child {
  return puma(o.name ?? `party ${i}`, [
    'party', '--coordinator', coordinator.url, '--session', s.id, '--party', String(i), '--backend', 'wasm', '--connect-timeout', '30',
    '--secret', o.secret ?? s.secrets[`party${i}`], '--key', o.key ?? keys[i].file, ...(o.cache ? ['--cache', o.cache] : []),
  ]);
}

function client(s: CreatedSession): Child {
  return puma('client', [
    'client', '--coordinator', coordinator.url, '--session', s.id, '--prompt', 'Once', '--max-new-tokens', '2', '--json',
    '--parties', approved, '--secret', s.secrets.client, '--key', clientKey.file,
  ]);
}

/** Owner status lines saying that party `p` was sent its share. */
function servedTo(o: Child, p: number): boolean {
  return new RegExp(`^owner party-done: party ${p}: sent`, 'm').test(o.stderr());
}

beforeAll(async () => {
  coordinator = await startCoordinator({ port: 0, joinRateLimit: { max: 1000, windowMs: 60_000 } });
  work = mkdtempSync(path.join(tmpdir(), 'puma-trust-'));
  shareDir = path.join(work, 'shares');
  keyDir = path.join(work, 'keys');
  keys = [await makeKey(keyDir, 'party0'), await makeKey(keyDir, 'party1'), await makeKey(keyDir, 'party2')];
  ownerKey = await makeKey(keyDir, 'owner');
  clientKey = await makeKey(keyDir, 'client');
  approved = keys.map((k) => k.fingerprint).join(',');
  party0Cache = path.join(work, 'cache0');
  const share = await exitOf(puma('share', ['share', '--model', 'stories260K', '--out', shareDir]), 120_000);
  expect(share.code, share.stderr).toBe(0);
}, 150_000);

afterEach(() => {
  killStarted();
});

afterAll(async () => {
  await coordinator?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('slots are taken only with their secret, and bundles go only to the approved identities', () => {
  it('refuses a wrong secret and a foreign key for a slot; the restarted party takes it back; new identities get nothing after the end', async () => {
    const s = await newSession(coordinator.url);
    // The owner starts after the kill: a link that proved its peer and then lost it fails the session by design
    // (peer-channel.ts), so the first party 1 must never reach a peer, whatever the machine's pace.
    const first = party(s, 1);
    await waitFor(() => slotConnected(coordinator.url, s.id, 'party1'), 60_000, 'party 1 on the signaling server');
    first.proc.kill('SIGKILL');
    await waitFor(async () => !(await slotConnected(coordinator.url, s.id, 'party1')), 10_000, 'party 1 to leave the signaling server');

    const stranger = await makeKey(keyDir, 'stranger');
    const wrongSecret = party(s, 1, { key: stranger.file, secret: s.secrets.party0, name: 'party 1 with the wrong secret' });
    const foreignKey = party(s, 1, { key: stranger.file, name: 'party 1 with another key' });
    const [w, f] = await Promise.all([exitOf(wrongSecret, 30_000), exitOf(foreignKey, 30_000)]);
    expect(w.code, w.stderr).toBe(1);
    expect(w.stderr).toMatch(/^puma party: .*failed with 403: wrong secret for slot party1 of session/m);
    expect(f.code, f.stderr).toBe(1);
    expect(f.stderr).toMatch(/^puma party: .*failed with 409: slot party1 of session .* is bound to another identity/m);

    const o = owner(s, ['--sessions', '2']);
    const ps = [party(s, 0, { cache: party0Cache }), party(s, 1), party(s, 2)];
    const c = await exitOf(client(s), 120_000);
    expect(c.code, c.stderr).toBe(0);
    expect((lastJson(c.stdout) as { tokens: number[] }).tokens).toHaveLength(2);
    for (const p of ps) expect((await exitOf(p, 30_000)).code).toBe(0);
    await waitFor(() => o.stdout().trim() !== '', 10_000, 'the owner to report the session');
    const binding = JSON.parse(readFileSync(path.join(shareDir, 'bound-parties.json'), 'utf8')) as { parties: string[] };
    expect(binding.parties).toEqual(keys.map((k) => k.fingerprint));

    // The session is over and its slots are bound: three new keys with the right secrets are refused.
    const newcomers = await Promise.all([0, 1, 2].map((i) => makeKey(keyDir, `newcomer${i}`)));
    const late = ([0, 1, 2] as const).map((i) => party(s, i, { key: newcomers[i].file, name: `new party ${i}` }));
    for (const [i, p] of late.entries()) {
      const e = await exitOf(p, 30_000);
      expect(e.code, e.stderr).toBe(1);
      expect(e.stderr).toMatch(new RegExp(`failed with 409: slot party${i} of session .* is bound to another identity`));
    }
    const reports = o.stdout().trim().split('\n');
    expect(reports).toHaveLength(1);
    expect((JSON.parse(reports[0]) as { session: number }).session).toBe(1);
    expect(o.proc.exitCode).toBeNull();
  }, 240_000);

  it('one identity in two party slots: the owner refuses it as party 1 and sends it no bundle', async () => {
    const s = await newSession(coordinator.url);
    const o = owner(s);
    const duplicateCache = path.join(work, 'cache-duplicate');
    // Party 0 with its key, and the same key again as party 1; nothing else in the session could refuse party 1 first.
    party(s, 0);
    const second = party(s, 1, { key: keys[0].file, cache: duplicateCache, name: "party 1 with party 0's key" });
    await waitFor(() => /peer identity error: party 1\b/.test(o.stderr()), 60_000, 'the owner to refuse party 1', o);
    const e = await exitOf(second, 60_000);
    expect(e.code, e.stderr).toBe(1);
    expect(servedTo(o, 1)).toBe(false);
    expect(filesUnder(duplicateCache)).toEqual([]);
    expect(o.stdout()).toBe('');
  }, 180_000);

  it('new identities in a fresh session are refused by the owner; serving the folder to another set takes a fresh sharing', async () => {
    expect(existsSync(path.join(shareDir, 'bound-parties.json')), 'the first case binds the share folder').toBe(true);
    const newcomers = await Promise.all([0, 1, 2].map((i) => makeKey(keyDir, `fresh${i}`)));
    const other = puma('owner elsewhere', [
      'owner', '--coordinator', coordinator.url, '--session', 'abc', '--bundles', shareDir, '--secret', '0'.repeat(32), '--key', ownerKey.file,
      '--parties', newcomers.map((k) => k.fingerprint).join(','),
    ]);
    const refused = await exitOf(other, 60_000);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/^puma owner: share folder .* was served to other party identities .* needs a fresh sharing: run "puma share/m);

    const s = await newSession(coordinator.url);
    const o = owner(s);
    const caches = [0, 1, 2].map((i) => path.join(work, `cache-fresh${i}`));
    const ps = ([0, 1, 2] as const).map((i) => party(s, i, { key: newcomers[i].file, cache: caches[i], name: `new party ${i}` }));
    for (const p of ps) expect((await exitOf(p, 90_000)).code).toBe(1);
    await waitFor(() => /peer identity error: party [012]\b/.test(o.stderr()), 30_000, 'the owner to refuse the new parties', o);
    for (const p of [0, 1, 2]) expect(servedTo(o, p)).toBe(false);
    for (const dir of caches) expect(filesUnder(dir)).toEqual([]);
    expect(o.stdout()).toBe('');
  }, 180_000);

  it("a cache folder holding party 0's share is refused when asked for party 1's share of the same sharing", async () => {
    expect(filesUnder(party0Cache).length).toBeGreaterThan(0);
    const s = await newSession(coordinator.url);
    owner(s);
    const ps = [party(s, 0), party(s, 1, { cache: party0Cache }), party(s, 2)];
    client(s);
    const e = await exitOf(ps[1], 90_000);
    expect(e.code, e.stderr).toBe(1);
    expect(e.stderr).toMatch(/^puma party: .*this share store already holds party 0's bundle of sharing/m);
  }, 180_000);
});
