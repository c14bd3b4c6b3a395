/**
 * The owner page's domain check (owner-domain.ts), on models read the way its sharing worker reads them
 * (loadOwnerModel over byte-range readers): a real model passes with windows equal to the ones `puma share`
 * publishes for the same folder, which every party's manifest check accepts, and the same on every run (a
 * reopened page's kept sharing stays valid); a model that leaves a domain is refused with the reason and
 * nothing to share; a skip publishes no windows and says results may be wrong.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { normNames, publishCheckedModel } from '@puma/models';
import { loadModel, modelDir } from '@puma/models/node';
import type { PartyId } from '@puma/transport';
import { checkManifest, decideOwnerDomain, DOMAIN_CHECK_FORMAT, domainCheckKey, loadOwnerModel, prepareSeededSharing, sameNormWindows, type ModelFileReader } from './index.ts';

const reader = (name: string, bytes: Uint8Array): ModelFileReader => ({ name, size: bytes.byteLength, read: (b, e) => bytes.slice(b, e) });
const fileOf = (dir: string, name: string) => reader(name, new Uint8Array(readFileSync(path.join(dir, name))));

/** stories260K as the owner page reads it: the llama2.c checkpoint and its tokenizer. */
function storiesFiles(checkpoint?: Uint8Array): ModelFileReader[] {
  const dir = modelDir('stories260K');
  return [checkpoint ? reader('stories260K.bin', checkpoint) : fileOf(dir, 'stories260K.bin'), fileOf(dir, 'tok512.bin')];
}

/** The checkpoint with its token embedding (the first table after the 7-word header) scaled by `factor`. */
function scaledEmbedding(factor: number): Uint8Array {
  const bytes = new Uint8Array(readFileSync(path.join(modelDir('stories260K'), 'stories260K.bin')));
  const [dim, , , , , vocab] = new Int32Array(bytes.buffer, 0, 7);
  const table = new Float32Array(bytes.buffer, 28, Math.abs(vocab) * dim);
  for (let i = 0; i < table.length; i++) table[i] *= factor;
  return bytes;
}

describe("the owner page's domain check", () => {
  it('stories260K: inside, with a window for every norm, the same as puma share publishes, accepted by every party, the same on every run', async () => {
    const loaded = await loadOwnerModel(storiesFiles());
    const o = { name: loaded.modelId, tokenizer: loaded.tokenizer, fracBits: 18, skip: false };
    const { verdict, published } = decideOwnerDomain(loaded.model, o);
    if (verdict.outcome !== 'inside') throw new Error(`expected inside, got ${JSON.stringify(verdict)}`);
    expect(verdict.calibration).toMatch(/^\d+ tokens of the calibration text through the model's llama2c tokenizer$/);
    expect(verdict.warning).toBeNull();
    expect(Object.keys(verdict.windows)).toEqual(normNames(loaded.model.config));
    expect(published!.config.normWindows).toEqual(verdict.windows);
    // The CLI's path: the folder loaded by @puma/models/node with its tokenizer, checked by guardDomain's glue.
    const cli = await loadModel('stories260K');
    const fromCli = publishCheckedModel(cli.model, 'stories260K', { tokenizer: cli.tokenizer, fracBits: 18 });
    expect(fromCli.refused).toBeUndefined();
    expect(verdict.windows).toEqual(fromCli.refused === undefined ? fromCli.model.config.normWindows : null);
    // Deterministic: a reopened page checks again and gets the same windows, so its kept sharing's stay valid.
    const again = decideOwnerDomain((await loadOwnerModel(storiesFiles())).model, o).verdict;
    expect(again.outcome === 'inside' && sameNormWindows(again.windows, verdict.windows)).toBe(true);
    expect(again).toMatchObject({ windows: verdict.windows });
    // What the parties receive: every manifest carries the windows and passes the party's manifest check.
    const { shares } = await prepareSeededSharing({ model: published!, modelId: loaded.modelId });
    for (const p of shares.parties) {
      expect(p.manifest.config.normWindows).toEqual(verdict.windows);
      expect(() => checkManifest(JSON.parse(JSON.stringify(p.manifest)), p.manifest.party as PartyId)).not.toThrow();
    }
    expect(shares.publicInfo.config.normWindows).toEqual(verdict.windows);
  });

  it('gpt2-shakespeare from its folder files (vocab.json and merges.txt, as the CLI reads them): the same windows as puma share', async () => {
    const dir = modelDir('gpt2-shakespeare');
    const names = readdirSync(dir).filter((n) => ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt'].includes(n));
    const loaded = await loadOwnerModel(names.map((n) => fileOf(dir, n)), 'gpt2-shakespeare');
    const { verdict } = decideOwnerDomain(loaded.model, { name: loaded.modelId, tokenizer: loaded.tokenizer, fracBits: 18, skip: false });
    const cli = await loadModel('gpt2-shakespeare');
    const fromCli = publishCheckedModel(cli.model, 'gpt2-shakespeare', { tokenizer: cli.tokenizer, fracBits: 18 });
    expect(verdict.outcome).toBe('inside');
    expect(verdict).toMatchObject({ windows: fromCli.refused === undefined ? fromCli.model.config.normWindows : 'refused by the CLI' });
  });

  it('a model whose embedding is 1e5x too large: refused, naming the quantity and where; nothing to share', async () => {
    const loaded = await loadOwnerModel(storiesFiles(scaledEmbedding(1e5)));
    const { verdict, published } = decideOwnerDomain(loaded.model, { name: loaded.modelId, tokenizer: loaded.tokenizer, fracBits: 18, skip: false });
    expect(verdict.outcome).toBe('refused');
    expect(verdict.outcome === 'refused' && verdict.reason).toMatch(
      /^stories260K leaves the secure pass's domain on a \d+-token calibration pass, so secure results would be wrong: norm sum of squares [0-9.e+]+ at layer 0 attention norm \(limit /,
    );
    expect(published).toBeNull();
  });

  it('skipped (the person chose to): no windows, the model shared as loaded, and a warning that results may be wrong', async () => {
    const loaded = await loadOwnerModel(storiesFiles(scaledEmbedding(1e5)));
    const { verdict, published } = decideOwnerDomain(loaded.model, { name: loaded.modelId, tokenizer: loaded.tokenizer, fracBits: 18, skip: true });
    expect(verdict).toEqual({ outcome: 'skipped', warning: expect.stringMatching(/domain check skipped for stories260K: no norm windows .* results may be wrong/) });
    expect(published).toBe(loaded.model);
    expect(published!.config.normWindows).toBeUndefined();
  });

  it('without a tokenizer the check runs on a fixed spread of ids, and says so', async () => {
    const loaded = await loadOwnerModel(storiesFiles().slice(0, 1));
    const { verdict } = decideOwnerDomain(loaded.model, { name: loaded.modelId, fracBits: 18, skip: false });
    expect(verdict).toMatchObject({ outcome: 'inside', calibration: '32 ids spread over the vocabulary (no tokenizer was given)' });
  });

  it('sameNormWindows: none and an empty set alike, order ignored, any end differing is different', () => {
    expect(sameNormWindows(undefined, {})).toBe(true);
    expect(sameNormWindows({ a: [1, 2], b: [3, 4] }, { b: [3, 4], a: [1, 2] })).toBe(true);
    expect(sameNormWindows({ a: [1, 2] }, { a: [1, 2.25] })).toBe(false);
    expect(sameNormWindows({ a: [1, 2] }, {})).toBe(false);
    expect(sameNormWindows({ a: [1, 2] }, { c: [1, 2] })).toBe(false);
  });

  it('a recorded verdict is taken instead of running the check: its windows are published as recorded; a skip ignores it', async () => {
    const loaded = await loadOwnerModel(storiesFiles(scaledEmbedding(1e5)));
    const o = { name: loaded.modelId, tokenizer: loaded.tokenizer, fracBits: 18, skip: false };
    // The check refuses this model; a recorded inside verdict (with windows of its own) is what decides.
    const windows = Object.fromEntries(normNames(loaded.model.config).map((n, i): [string, [number, number]] => [n, [-3 - i, 5]]));
    const recorded = { outcome: 'inside' as const, windows, warning: null, calibration: '7 tokens', ms: 1234 };
    const reused = decideOwnerDomain(loaded.model, { ...o, recorded });
    expect(reused.verdict).toEqual({ ...recorded, recorded: true });
    expect(reused.published!.config.normWindows).toEqual(windows);
    const refusedBefore = { outcome: 'refused' as const, reason: 'it left a domain', calibration: '7 tokens', ms: 99 };
    expect(decideOwnerDomain(loaded.model, { ...o, recorded: refusedBefore })).toEqual({ verdict: { ...refusedBefore, recorded: true }, published: null });
    const skipped = decideOwnerDomain(loaded.model, { ...o, skip: true, recorded });
    expect(skipped.verdict.outcome).toBe('skipped');
    expect(skipped.published!.config.normWindows).toBeUndefined();
  });

  it('domainCheckKey: equal for the same weights, tokenizer and fraction bits; different when any of them, or a tokenizer file name, differs', async () => {
    const tok = { kind: 'llama2c' as const, files: { 'tok512.bin': new Uint8Array([1, 2, 3]) } };
    const base = await domainCheckKey({ weightsHash: 'w1', tokenizer: tok }, 18);
    expect(base.startsWith(`${DOMAIN_CHECK_FORMAT}|w1|`)).toBe(true);
    expect(await domainCheckKey({ weightsHash: 'w1', tokenizer: { kind: 'llama2c', files: { 'tok512.bin': new Uint8Array([1, 2, 3]) } } }, 18)).toBe(base);
    expect(await domainCheckKey({ weightsHash: 'w1', tokenizer: tok })).toBe(base);
    const others = [
      await domainCheckKey({ weightsHash: 'w2', tokenizer: tok }, 18),
      await domainCheckKey({ weightsHash: 'w1', tokenizer: tok }, 16),
      await domainCheckKey({ weightsHash: 'w1', tokenizer: { kind: 'llama2c', files: { 'tok512.bin': new Uint8Array([1, 2, 4]) } } }, 18),
      await domainCheckKey({ weightsHash: 'w1', tokenizer: { kind: 'llama2c', files: { 'other.bin': new Uint8Array([1, 2, 3]) } } }, 18),
      await domainCheckKey({ weightsHash: 'w1', tokenizer: { kind: 'hf-json', files: { 'tok512.bin': new Uint8Array([1, 2, 3]) } } }, 18),
      await domainCheckKey({ weightsHash: 'w1' }, 18),
    ];
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
  });
});

