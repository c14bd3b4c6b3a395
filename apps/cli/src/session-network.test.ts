/**
 * The session roles as separate Node processes over real WebRTC on loopback: a coordinator (in this process),
 * `puma owner` serving a `puma share` folder, three `puma party` processes with cache folders and `puma client`,
 * each with its own identity key file and its slot's secret; owner and client approve the three party keys.
 * Checks: the secure tokens equal the plaintext greedy ones and every endpoint shows its peers' safety codes; a
 * second session with the same caches downloads no share bytes; a party killed mid-run makes the other parties
 * and the client exit 1 within seconds, naming it. Slot hijacks and bundle collection are session-trust.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateGreedy } from '@puma/models';
import { loadModel } from '@puma/models/node';
import { startCoordinator, type Coordinator } from '@puma/coordinator';
import { safetyCode } from '@puma/transport-webrtc';
import { type CreatedSession, type Key, exitOf, killStarted, lastJson, makeKey, newSession, puma, waitFor } from './session-test-harness.ts';

let coordinator: Coordinator;
let work: string;
let shareDir: string;
let keys: { parties: [Key, Key, Key]; owner: Key; client: Key };
let approved: string;

function owner(s: CreatedSession, sessions: number): ReturnType<typeof puma> {
  return puma('owner', [
    'owner', '--coordinator', coordinator.url, '--session', s.id, '--bundles', shareDir, '--sessions', String(sessions),
    '--parties', approved, '--secret', s.secrets.owner, '--key', keys.owner.file,
  ]);
}

/** The parties pin every peer's key (--peers): the other parties, the client and the owner. */
function pins(i: 0 | 1 | 2): string {
  const others = ([0, 1, 2] as const).filter((p) => p !== i).map((p) => `party${p}=${keys.parties[p].fingerprint}`);
  return [...others, `client=${keys.client.fingerprint}`, `owner=${keys.owner.fingerprint}`].join(',');
}

function parties(s: CreatedSession, cache: (i: number) => string[]): ReturnType<typeof puma>[] {
  return ([0, 1, 2] as const).map((i) => puma(`party ${i}`, [
    'party', '--coordinator', coordinator.url, '--session', s.id, '--party', String(i), '--backend', 'wasm',
    '--secret', s.secrets[`party${i}`], '--key', keys.parties[i].file, '--peers', pins(i), ...cache(i),
  ]));
}

function client(s: CreatedSession, maxNewTokens: number): ReturnType<typeof puma> {
  return puma('client', [
    'client', '--coordinator', coordinator.url, '--session', s.id, '--prompt', 'Once upon a time', '--max-new-tokens', String(maxNewTokens), '--json',
    '--parties', approved, '--secret', s.secrets.client, '--key', keys.client.file,
  ]);
}

beforeAll(async () => {
  // Each endpoint joins once per session; the owner re-joins per session and after failed attempts.
  coordinator = await startCoordinator({ port: 0, joinRateLimit: { max: 1000, windowMs: 60_000 } });
  work = mkdtempSync(path.join(tmpdir(), 'puma-session-'));
  shareDir = path.join(work, 'shares');
  const keyDir = path.join(work, 'keys');
  keys = {
    parties: [await makeKey(keyDir, 'party0'), await makeKey(keyDir, 'party1'), await makeKey(keyDir, 'party2')],
    owner: await makeKey(keyDir, 'owner'),
    client: await makeKey(keyDir, 'client'),
  };
  approved = keys.parties.map((k) => k.fingerprint).join(',');
  const share = await exitOf(puma('share', ['share', '--model', 'stories260K', '--out', shareDir]), 120_000);
  expect(share.code, share.stderr).toBe(0);
}, 150_000);

afterEach(() => {
  // Only processes this test started, by their own handle; a passing test leaves none running.
  killStarted();
});

afterAll(async () => {
  await coordinator?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('networked session: owner, three parties and client as Node processes over WebRTC', () => {
  it('generates the plaintext greedy tokens, and a second session with the same caches downloads no share bytes', async () => {
    const s = await newSession(coordinator.url);
    const o = owner(s, 2);
    const cache = (i: number) => ['--cache', path.join(work, `cache${i}`)];
    const maxNewTokens = 8;

    const first = parties(s, cache);
    const c = client(s, maxNewTokens);
    const c1 = await exitOf(c, 240_000);
    expect(c1.code, c1.stderr).toBe(0);
    const result = lastJson(c1.stdout) as { promptIds: number[]; tokens: number[]; text: string };
    const { model } = await loadModel('stories260K');
    expect(result.promptIds[0]).toBe(1);
    expect(result.tokens).toEqual(generateGreedy(model, result.promptIds, maxNewTokens).slice(result.promptIds.length));
    expect(result.text.startsWith(',')).toBe(true);
    // People compare these codes with the ones each endpoint's `puma identity` shows.
    for (const [i, k] of keys.parties.entries()) {
      expect(c1.stderr).toContain(`client: party ${i} authenticated (pinned, key ${k.fingerprint.slice(0, 16)}…, safety code ${safetyCode(k.fingerprint)})`);
    }
    expect(c1.stderr).toContain(`safety code ${safetyCode(keys.owner.fingerprint)}`);
    for (const p of first) {
      const e = await exitOf(p, 30_000);
      expect(e.code, e.stderr).toBe(0);
      expect(e.stderr).toContain(`client authenticated (pinned, key ${keys.client.fingerprint.slice(0, 16)}…, safety code ${safetyCode(keys.client.fingerprint)})`);
      const w = (lastJson(e.stdout) as { weights: { partsTotal: number; partsFetched: number; shareBytesDownloaded: number } }).weights;
      expect(w.partsFetched).toBe(w.partsTotal);
      expect(w.shareBytesDownloaded).toBeGreaterThan(0);
    }

    const second = parties(s, cache);
    const again = client(s, 2);
    const c2 = await exitOf(again, 240_000);
    expect(c2.code, c2.stderr).toBe(0);
    expect((lastJson(c2.stdout) as { tokens: number[] }).tokens).toEqual(result.tokens.slice(0, 2));
    for (const p of second) {
      const e = await exitOf(p, 30_000);
      expect(e.code, e.stderr).toBe(0);
      const w = (lastJson(e.stdout) as { weights: { partsTotal: number; cacheHits: number; shareBytesDownloaded: number } }).weights;
      expect(w.shareBytesDownloaded).toBe(0);
      expect(w.cacheHits).toBe(w.partsTotal);
    }
    const oe = await exitOf(o, 30_000);
    expect(oe.code, oe.stderr).toBe(0);
    const served = oe.stdout.trim().split('\n').map((l) => JSON.parse(l) as { session: number; shareBytesSent: number[] });
    expect(served.map((x) => x.session)).toEqual([1, 2]);
    expect(served[0].shareBytesSent.every((b) => b > 0)).toBe(true);
    expect(served[1].shareBytesSent).toEqual([0, 0, 0]);
  }, 600_000);

  it('a party killed mid-run makes the other parties and the client exit 1 within seconds, naming it', async () => {
    const s = await newSession(coordinator.url);
    owner(s, 1);
    const [p0, p1, p2] = parties(s, () => []);
    const c = client(s, 60);
    await waitFor(() => /party 2 running: job 0: token 2 of 60/.test(p2.stderr()), 240_000, 'party 2 to finish its second token');
    p2.proc.kill('SIGKILL');
    const killedAt = Date.now();
    // A killed process says no goodbye: its peers notice by silence (the WebRTC channel's idle timeout, 10 s),
    // then tell each other and the client.
    const failure = /^puma (party|client): .*(party 2 (disconnected|stopped)|connection to party 2 lost)/m;
    const reportedMs = await Promise.all([p0, p1, c].map(async (x) => {
      await waitFor(() => failure.test(x.stderr()), 15_000, `${x.name} to report party 2`, x);
      return Date.now() - killedAt;
    }));
    console.log(`party 2 killed: reported after ${[p0, p1, c].map((x, i) => `${x.name} ${reportedMs[i]} ms`).join(', ')}`);
    expect(Math.max(...reportedMs)).toBeLessThan(15_000);
    for (const x of [p0, p1, c]) {
      const e = await exitOf(x, 30_000);
      expect(e.code, `${x.name}: ${e.stderr}`).toBe(1);
    }
  }, 400_000);
});
