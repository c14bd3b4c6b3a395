/**
 * `puma share` output, the party's directory cache, and the session commands' argument errors (in-process:
 * each command returns its exit code and prints its message).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModel } from '@puma/models/node';
import { clientCommand } from './client.ts';
import { ownerCommand } from './owner.ts';
import { partyCommand } from './party.ts';
import { DirectoryShareStore } from './party-store.ts';
import { sessionCommand } from './session.ts';
import { readShareDir, shareCommand } from './share.ts';

/** Nothing listens on port 9: commands that get past their argument checks fail to reach it. */
const NOWHERE = 'http://127.0.0.1:9';
const SECRET = '0123456789abcdef0123456789abcdef';
const FP = ['a', 'b', 'c'].map((c) => c.repeat(64));

let work: string;
let shareDir: string;
let errors: string[];

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'puma-share-'));
  shareDir = path.join(work, 'shares');
  vi.spyOn(console, 'log').mockImplementation(() => {});
  errors = [];
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.join(' ')));
  expect(await shareCommand(['--model', 'stories260K', '--out', shareDir])).toBe(0);
}, 60_000);
afterEach(() => {
  errors.length = 0;
});
afterAll(() => {
  vi.restoreAllMocks();
  rmSync(work, { recursive: true, force: true });
});

describe('puma share', () => {
  it('writes three party folders with manifests, a public folder and an index, and reads them back verified', async () => {
    expect(readdirSync(shareDir).sort()).toEqual(['party0', 'party1', 'party2', 'public', 'share.json']);
    expect(readdirSync(path.join(shareDir, 'public')).sort()).toEqual(['config.json', 'tokenizer.bin', 'tokenizer.json']);
    const shares = await readShareDir(shareDir);
    expect(shares.modelId).toBe('stories260K');
    expect(shares.parties.map((p) => p.manifest.party)).toEqual([0, 1, 2]);
    expect(new Set(shares.parties.map((p) => p.manifest.epoch))).toEqual(new Set([shares.epoch]));
    expect(shares.publicInfo.tokenizer?.kind).toBe('llama2c');
    expect(shares.publicInfo.config.vocabSize).toBe(512);
  });

  it('reads the dense parts parties 1 and 2 share into one buffer each, not two', async () => {
    const shares = await readShareDir(shareDir);
    const dense = (p: 1 | 2) => shares.parties[p].parts.filter((_, k) => shares.parties[p].manifest.parts[k].part.startsWith('dense.'));
    expect(dense(1).length).toBeGreaterThan(0);
    expect(dense(1).every((bytes, k) => bytes === dense(2)[k])).toBe(true);
    expect(shares.parties[1].parts[0]).not.toBe(shares.parties[2].parts[0]);
  });

  it('refuses a folder whose part was altered, naming the part, and never overwrites an existing folder', async () => {
    const copy = path.join(work, 'altered');
    expect(await shareCommand(['--model', 'stories260K', '--out', copy])).toBe(0);
    const dir = path.join(copy, 'party2');
    const file = readdirSync(dir).find((f) => f.includes('.dense.'))!;
    const bytes = readFileSync(path.join(dir, file));
    bytes[0] ^= 1;
    writeFileSync(path.join(dir, file), bytes);
    await expect(readShareDir(copy)).rejects.toThrow(/party 2 part .* does not match its sha256 in the manifest/);
    expect(await shareCommand(['--model', 'stories260K', '--out', copy])).toBe(2);
    expect(errors.join('\n')).toMatch(/--out .* exists and is not empty/);
  }, 60_000);
});

describe('what parties and clients see of the model: its name, never a digest of its weights', () => {
  it("manifests, public files and share.json name the model by its folder's name and hold no hash of the weight file", async () => {
    const { location } = await loadModel('stories260K');
    const weightsDigest = createHash('sha256').update(readFileSync(location.weights)).digest('hex');
    const published = [
      path.join(shareDir, 'share.json'),
      ...[0, 1, 2].map((p) => path.join(shareDir, `party${p}`, 'manifest.json')),
      path.join(shareDir, 'public', 'config.json'),
      path.join(shareDir, 'public', 'tokenizer.json'),
    ].map((f) => readFileSync(f, 'utf8'));
    for (const text of published) expect(text.toLowerCase()).not.toContain(weightsDigest);
    const manifest = JSON.parse(published[1]) as Record<string, unknown>;
    // A new manifest field must be checked for what it reveals before it is added here.
    expect(Object.keys(manifest).sort()).toEqual(['config', 'epoch', 'format', 'fracBits', 'modelId', 'parts', 'party', 'tensors']);
    expect(manifest.modelId).toBe('stories260K');
    const shares = await readShareDir(shareDir);
    expect(Object.keys(shares.publicInfo).sort()).toEqual(['config', 'fracBits', 'modelId', 'tokenizer']);
    expect(shares.publicInfo.modelId).toBe('stories260K');
  });
});

describe('DirectoryShareStore', () => {
  it('stores, reads and deletes parts, keeping every key inside its folder', async () => {
    const store = new DirectoryShareStore(path.join(work, 'cache'));
    expect(await store.get('m/e/1/t/seeds')).toBeUndefined();
    await store.set('m/e/1/t/seeds', new Uint8Array([1, 2, 3]));
    expect(Array.from((await store.get('m/e/1/t/seeds'))!)).toEqual([1, 2, 3]);
    await store.set('../../escape/e/1/t/p', new Uint8Array([9]));
    expect(existsSync(path.join(work, 'escape'))).toBe(false);
    expect(Array.from((await store.get('../../escape/e/1/t/p'))!)).toEqual([9]);
    await store.delete('m/e/1/t/seeds');
    expect(await store.get('m/e/1/t/seeds')).toBeUndefined();
    await expect(store.set('m//x', new Uint8Array(1))).rejects.toThrow(/has an empty segment/);
  });

  it('hands out every read as bytes of their own, so a reader may check and use them in place (freshReads)', async () => {
    const store = new DirectoryShareStore(path.join(work, 'fresh'));
    expect(store.freshReads).toBe(true);
    // A small part comes from Node's shared pool when read: the store must copy it out, never hand a view of the pool.
    await store.set('m/e/1/t/seeds', new Uint8Array([4, 5, 6]));
    await store.set('m/e/1/t/dense.0', new Uint8Array(64 * 1024).fill(7));
    const [a, b, big] = [await store.get('m/e/1/t/seeds'), await store.get('m/e/1/t/seeds'), await store.get('m/e/1/t/dense.0')];
    for (const bytes of [a!, b!, big!]) expect([bytes.byteOffset, bytes.buffer.byteLength]).toEqual([0, bytes.byteLength]);
    a![0] = 99;
    expect(Array.from(b!)).toEqual([4, 5, 6]);
  });

  it('gives a part\'s size from its file without reading it, and none for a missing part or a folder', async () => {
    const store = new DirectoryShareStore(path.join(work, 'sizes'));
    expect(await store.size('m/e/1/t/dense.0')).toBeUndefined();
    await store.set('m/e/1/t/dense.0', new Uint8Array(1000));
    expect(await store.size('m/e/1/t/dense.0')).toBe(1000);
    // A key that names a folder of parts (a tensor's) is no part.
    expect(await store.size('m/e/1/t')).toBeUndefined();
  });
});

describe('session commands reject bad arguments with exit code 2 and a message naming the problem', () => {
  const cases: Array<[string, () => Promise<number>, RegExp]> = [
    ['party without --party', () => partyCommand(['--coordinator', 'http://127.0.0.1:1', '--session', 'abc']), /puma party: --party is required/],
    ['party 3', () => partyCommand(['--coordinator', NOWHERE, '--session', 'abc', '--party', '3']), /--party must be an integer in \[0, 2\], got "3"/],
    ['party with an unknown backend', () => partyCommand(['--coordinator', NOWHERE, '--session', 'a', '--party', '1', '--backend', 'cuda']), /unknown backend "cuda"/],
    ['party without a secret', () => partyCommand(['--coordinator', NOWHERE, '--session', 'a', '--party', '1']), /give exactly one of --secret and --secret-file/],
    ['party with a short secret', () => partyCommand(['--coordinator', NOWHERE, '--session', 'a', '--party', '1', '--secret', 'abc123']), /--secret must hold the slot's secret, 32 hex digits .* got 6 characters/],
    ['party with both secret flags', () => partyCommand(['--coordinator', NOWHERE, '--session', 'a', '--party', '1', '--secret', SECRET, '--secret-file', 'f']), /give exactly one of --secret and --secret-file/],
    ['party with a missing secret file', () => partyCommand(['--coordinator', NOWHERE, '--session', 'a', '--party', '1', '--secret-file', '/nonexistent/secret']), /--secret-file \/nonexistent\/secret cannot be read \(ENOENT\)/],
    ['party pinning itself', () => partyCommand(['--coordinator', NOWHERE, '--session', 'a', '--party', '1', '--secret', SECRET, '--peers', `party1=${FP[0]}`]), /--peers pins party1, which is this endpoint itself/],
    ['party pinning an unknown name', () => partyCommand(['--coordinator', NOWHERE, '--session', 'a', '--party', '1', '--secret', SECRET, '--peers', `party7=${FP[0]}`]), /--peers entries look like party1=<fingerprint>/],
    ['party pinning a bad fingerprint', () => partyCommand(['--coordinator', NOWHERE, '--session', 'a', '--party', '1', '--secret', SECRET, '--peers', 'owner=12ab']), /--peers entry for owner must be a key fingerprint of 64 hex digits/],
    ['party with a zero step timeout', () => partyCommand(['--coordinator', NOWHERE, '--session', 'a', '--party', '1', '--secret', SECRET, '--step-timeout', '0']), /--step-timeout must be an integer in \[1, 86400\], got "0"/],
    ['owner with --model and --bundles', () => ownerCommand(['--coordinator', NOWHERE, '--session', 'a', '--model', 'm', '--bundles', 'b']), /give exactly one of --model and --bundles/],
    ['owner without --parties', () => ownerCommand(['--coordinator', NOWHERE, '--session', 'a', '--model', 'm', '--secret', SECRET]), /--parties <fp0>,<fp1>,<fp2> is required: the model owner decides/],
    ['owner with two parties', () => ownerCommand(['--coordinator', NOWHERE, '--session', 'a', '--model', 'm', '--secret', SECRET, '--parties', `${FP[0]},${FP[1]}`]), /--parties must list three fingerprints .* got 2/],
    ['owner approving one key for two parties', () => ownerCommand(['--coordinator', NOWHERE, '--session', 'a', '--model', 'm', '--secret', SECRET, '--parties', `${FP[0]},${FP[2]},${FP[0].toUpperCase()}`]), /--parties gives party 0 and party 2 the same identity/],
    ['owner pinning a party against --parties', () => ownerCommand(['--coordinator', NOWHERE, '--session', 'a', '--model', 'm', '--secret', SECRET, '--parties', FP.join(','), '--peers', `party1=${FP[0]}`]), /--peers pins party1 to another key than --parties does/],
    ['client without --prompt', () => clientCommand(['--coordinator', NOWHERE, '--session', 'a']), /--prompt is required/],
    ['client without --parties', () => clientCommand(['--coordinator', NOWHERE, '--session', 'a', '--prompt', 'x', '--secret', SECRET]), /--parties <fp0>,<fp1>,<fp2> is required: the client decides/],
    ['client with a bad party fingerprint', () => clientCommand(['--coordinator', NOWHERE, '--session', 'a', '--prompt', 'x', '--secret', SECRET, '--parties', `${FP[0]},zz,${FP[2]}`]), /--parties entry for party 1 must be a key fingerprint of 64 hex digits .*got "zz"/],
    ['client with an unknown flag', () => clientCommand(['--coordinator', NOWHERE, '--session', 'a', '--prompt', '', '--tokens', '3']), /puma client: Unknown option '--tokens'/],
    ['session without an action', () => sessionCommand([]), /puma session: no action given/],
  ];
  for (const [name, run, message] of cases) {
    it(name, async () => {
      expect(await run()).toBe(2);
      expect(errors.join('\n')).toMatch(message);
      expect(errors.join('\n')).toMatch(/usage: puma/);
    });
  }

  it('a coordinator that is not a URL is a usage error, one that is down a plain failure', async () => {
    expect(await clientCommand(['--coordinator', 'nowhere', '--session', 'a', '--prompt', 'x'])).toBe(2);
    expect(errors.join('\n')).toMatch(/--coordinator must be a URL/);
    errors.length = 0;
    expect(await sessionCommand(['create', '--coordinator', 'http://127.0.0.1:9'])).toBe(1);
    expect(errors.join('\n')).toMatch(/coordinator at http:\/\/127\.0\.0\.1:9 unreachable/);
  });
});
