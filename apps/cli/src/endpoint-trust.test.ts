/**
 * Identities, slot secrets and the share folder's party binding, in-process: `puma identity`, the key file's
 * default place and mode, reading secrets, and an owner refusing a folder bound to other parties.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCoordinator } from '@puma/coordinator';
import { safetyCode } from '@puma/transport-webrtc';
import { defaultKeyFile, readSlotSecret } from './endpoint-trust.ts';
import { identityCommand } from './identity.ts';
import { ownerCommand } from './owner.ts';
import { sessionCommand } from './session.ts';
import { bindShareDir } from './share-binding.ts';
import { shareCommand } from './share.ts';

const SECRET = '0123456789abcdef0123456789abcdef';
const FP = ['a', 'b', 'c', 'd'].map((c) => c.repeat(64));

let work: string;
let shareDir: string;
let output: string[];
let errors: string[];

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'puma-trust-'));
  shareDir = path.join(work, 'shares');
  output = [];
  errors = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void output.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.join(' ')));
  expect(await shareCommand(['--model', 'stories260K', '--out', shareDir])).toBe(0);
}, 60_000);
afterEach(() => {
  output.length = 0;
  errors.length = 0;
});
afterAll(() => {
  vi.restoreAllMocks();
  rmSync(work, { recursive: true, force: true });
});

describe('puma identity', () => {
  it('creates the key file with mode 0600 once, and prints the same fingerprint and safety code every time', async () => {
    const key = path.join(work, 'id', 'party0.json');
    expect(await identityCommand(['--key', key, '--json'])).toBe(0);
    const first = JSON.parse(output.at(-1)!) as { keyFile: string; fingerprint: string; safetyCode: string };
    expect(first.keyFile).toBe(key);
    expect(first.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(first.safetyCode).toBe(safetyCode(first.fingerprint));
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(await identityCommand(['--key', key])).toBe(0);
    expect(output.at(-1)).toContain(`fingerprint  ${first.fingerprint}`);
    expect(output.at(-1)).toContain(`safety code  ${first.safetyCode}`);
  });

  it('refuses a key file others can read, naming the file and the fix', async () => {
    const key = path.join(work, 'id', 'shared.json');
    expect(await identityCommand(['--key', key])).toBe(0);
    chmodSync(key, 0o644);
    expect(await identityCommand(['--key', key])).toBe(1);
    expect(errors.join('\n')).toMatch(/puma identity: identity key file .*shared\.json.* readable by others .*chmod 600/);
  });

  it('keeps the default key under $PUMA_HOME, else ~/.config/puma-web', () => {
    expect(defaultKeyFile({ PUMA_HOME: '/srv/puma' })).toBe('/srv/puma/identity.json');
    expect(defaultKeyFile({ HOME: '/home/x' })).toMatch(/\.config\/puma-web\/identity\.json$/);
  });
});

describe('slot secrets', () => {
  it('puma session create prints the id and one secret per slot, or all of it as JSON', async () => {
    const coordinator = await startCoordinator({ port: 0 });
    try {
      output.length = 0;
      expect(await sessionCommand(['create', '--coordinator', coordinator.url])).toBe(0);
      const [id, ...slots] = output.join('\n').split('\n');
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(slots.map((l) => l.split(' ')[0])).toEqual(['party0', 'party1', 'party2', 'client', 'owner']);
      for (const line of slots) expect(line).toMatch(/^\w+ [0-9a-f]{32}$/);
      expect(new Set(slots.map((l) => l.split(' ')[1])).size).toBe(5);
      expect(await sessionCommand(['create', '--coordinator', coordinator.url, '--json'])).toBe(0);
      const created = JSON.parse(output.at(-1)!) as { id: string; slotSecrets: Record<string, string> };
      expect(Object.keys(created.slotSecrets).sort()).toEqual(['client', 'owner', 'party0', 'party1', 'party2']);
    } finally {
      await coordinator.close();
    }
  });

  it('reads --secret-file without its newline, lowercased, and refuses one that is not 32 hex digits', async () => {
    const file = path.join(work, 'secret');
    writeFileSync(file, `${SECRET.toUpperCase()}\n`, { mode: 0o600 });
    expect(await readSlotSecret(undefined, file)).toBe(SECRET);
    writeFileSync(file, 'party0 0123\n');
    await expect(readSlotSecret(undefined, file)).rejects.toThrow(/--secret-file .* must hold the slot's secret, 32 hex digits/);
  });
});

describe('a share folder is bound to the parties it was first served to', () => {
  it('binds on first use, accepts the same list, and refuses another list or order with the way out', async () => {
    const epoch = (JSON.parse(readFileSync(path.join(shareDir, 'share.json'), 'utf8')) as { epoch: string }).epoch;
    expect(await bindShareDir(shareDir, epoch, [FP[0], FP[1], FP[2]])).toBe('bound');
    expect(await bindShareDir(shareDir, epoch, [FP[0], FP[1], FP[2]])).toBe('same');
    await expect(bindShareDir(shareDir, epoch, [FP[1], FP[0], FP[2]])).rejects.toThrow(/party 0: bound to aaaa.*party 1: bound to bbbb.* needs a fresh sharing: run "puma share/);
    await expect(bindShareDir(shareDir, '0'.repeat(32), [FP[0], FP[1], FP[2]])).rejects.toThrow(/belongs to another sharing/);
  });

  it('binds once when owners (or one owner serving three parties) bind the same folder at the same time', async () => {
    const dir = mkdtempSync(path.join(work, 'race-'));
    const results = await Promise.all([0, 1, 2].map(() => bindShareDir(dir, 'e', [FP[0], FP[1], FP[2]])));
    expect(results.sort()).toEqual(['bound', 'same', 'same']);
    const racing = await Promise.allSettled([bindShareDir(dir, 'e', [FP[0], FP[1], FP[2]]), bindShareDir(dir, 'e', [FP[3], FP[1], FP[2]])]);
    expect(racing.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  });

  it('puma owner with another --parties exits 1 before connecting, saying to share again', async () => {
    const key = path.join(work, 'id', 'owner.json');
    const args = ['--coordinator', 'http://127.0.0.1:9', '--session', 'abc', '--bundles', shareDir, '--secret', SECRET, '--key', key];
    expect(await ownerCommand([...args, '--parties', [FP[0], FP[1], FP[3]].join(',')])).toBe(1);
    expect(errors.join('\n')).toMatch(/puma owner: share folder .* was served to other party identities \(party 2: bound to cccc.*, --parties gives dddd.*\).*puma share --model/);
  });

  it('a damaged binding file is an error, not a fresh start', async () => {
    const copy = path.join(work, 'damaged');
    expect(await shareCommand(['--model', 'stories260K', '--out', copy])).toBe(0);
    writeFileSync(path.join(copy, 'bound-parties.json'), '{"format":"puma-bound-parties/1"');
    await expect(bindShareDir(copy, 'e', [FP[0], FP[1], FP[2]])).rejects.toThrow(/bound-parties\.json is not valid JSON; .* cannot be ignored/);
  }, 60_000);
});
