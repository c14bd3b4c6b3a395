/**
 * The CLI refuses a model that leaves the secure pass's domain before sharing anything, naming what and where,
 * and goes on when asked (--skip-domain-check). The model: stories260K with its token embedding scaled 1e5x
 * (a llama2.c checkpoint: 7 int32 header words, then the embedding as float32 [vocab, dim]), so the first norm's
 * sum of squares passes 2^26.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { modelDir } from '@puma/models/node';

const BIN = new URL('../bin/puma.mjs', import.meta.url).pathname;
const dir = mkdtempSync(path.join(tmpdir(), 'puma-domain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function scaledStories(): string {
  const src = modelDir('stories260K');
  const bytes = readFileSync(path.join(src, 'stories260K.bin'));
  const header = new Int32Array(bytes.buffer, bytes.byteOffset, 7);
  const [dim, , , , , vocab] = header;
  const emb = new Float32Array(bytes.buffer, bytes.byteOffset + 28, Math.abs(vocab) * dim);
  for (let i = 0; i < emb.length; i++) emb[i] *= 1e5;
  const out = path.join(dir, 'scaled');
  execFileSync('mkdir', ['-p', out]);
  writeFileSync(path.join(out, 'stories260K.bin'), bytes);
  copyFileSync(path.join(src, 'tok512.bin'), path.join(out, 'tok512.bin'));
  return out;
}

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('puma generate checks the model\'s domain before sharing', () => {
  const model = scaledStories();

  it('refuses a model outside it, naming the quantity and the step, without a stack trace', () => {
    const r = run(['generate', '--model', model, '--max-new-tokens', '2', '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/leaves the secure pass's domain on a \d+-token calibration pass.*norm sum of squares [0-9.e+]+ at layer 0 attention norm \(limit 6\.711e\+7\)/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
    expect(r.stdout).toBe('');
  }, 130_000);

  it('goes on with --skip-domain-check, saying so', () => {
    const r = run(['generate', '--model', model, '--max-new-tokens', '1', '--skip-domain-check', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/domain check skipped for scaled \(--skip-domain-check\)/);
    expect((JSON.parse(r.stdout) as { tokens: number[] }).tokens).toHaveLength(1);
  }, 130_000);
});

describe('puma share checks it too (and with it the hosted demo, which shares through puma share)', () => {
  it('refuses the same model before writing anything, and shares it with --skip-domain-check', () => {
    const model = path.join(dir, 'scaled');
    const out = path.join(dir, 'shares');
    const refused = run(['share', '--model', model, '--out', out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/puma share: scaled leaves the secure pass's domain.*at layer 0 attention norm/);
    expect(refused.stderr).not.toMatch(/at .*\.ts:\d+/);
    expect(existsSync(out)).toBe(false);
    const forced = run(['share', '--model', model, '--out', out, '--skip-domain-check']);
    expect(forced.code).toBe(0);
    expect(existsSync(path.join(out, 'party1'))).toBe(true);
  }, 130_000);
});
