/** `puma eval` end to end on small slices of the shared evaluation files; the accuracy claims themselves are
 * asserted in packages/models/src/secure/evaluation.test.ts. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelDir } from '@puma/models/node';

const BIN = new URL('../bin/puma.mjs', import.meta.url).pathname;

function puma(args: string[]): { out: string; err: string; code: number } {
  try {
    return { out: execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8', stdio: 'pipe', timeout: 240_000 }), err: '', code: 0 };
  } catch (e) {
    const x = e as { stdout: string; stderr: string; status: number };
    return { out: x.stdout, err: x.stderr, code: x.status };
  }
}

describe('puma eval', () => {
  it('scores a language model securely and in float64 on the same windows', () => {
    const r = puma(['eval', '--model', 'gpt2-shakespeare', '--data', path.join(modelDir('gpt2-shakespeare'), 'val.txt'), '--limit', '1', '--window-size', '16', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ kind: 'lm', windows: 1, windowSize: 16, positions: 16 });
    expect(j.top1Agreement).toBeGreaterThanOrEqual(15 / 16);
    expect(j.perplexityRelError).toBeLessThan(0.01);
    expect(j.stats.bytesPerParty).toHaveLength(3);
  }, 300_000);

  it('classifies examples and reports accuracy and agreement', () => {
    const r = puma(['eval', '--model', 'bert-shakespeare', '--data', path.join(modelDir('bert-shakespeare'), 'eval.jsonl'), '--limit', '2', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ kind: 'classifier', examples: 2, labelAgreement: 1 });
    expect(j.maxLogitError).toBeLessThan(0.05);
  }, 300_000);

  it('names the problem in a bad data file, without a stack trace', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'puma-eval-'));
    const bad = path.join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"text": "fine", "label": 1}\n{"text": "no label"}\n');
    const r = puma(['eval', '--model', 'bert-shakespeare', '--data', bad]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/bad\.jsonl:2: expected \{"text": string, "label": integer in \[0, 2\)\}/);
    expect(r.err).not.toMatch(/at .*\.ts:\d+/);
    const missing = puma(['eval', '--model', 'bert-shakespeare', '--data', path.join(dir, 'absent.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/absent\.jsonl: no such file/);
  });
});
