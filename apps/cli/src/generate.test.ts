/**
 * The mission's claim on a real pretrained model: secure greedy generation of stories260K (llama2.c) from BOS,
 * three parties in worker threads, equals the plaintext greedy tokens for 80 steps. The plaintext tokens are
 * checked against SOURCE.md's reference by packages/models (llama2c tests).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const BIN = new URL('../bin/puma.mjs', import.meta.url).pathname;

describe('puma generate (stories260K)', () => {
  it('80 secure greedy tokens from BOS equal the plaintext greedy tokens', () => {
    const out = execFileSync(process.execPath, [BIN, 'generate', '--model', 'stories260K', '--max-new-tokens', '80', '--json'], { encoding: 'utf8', timeout: 280_000 });
    const r = JSON.parse(out) as {
      tokens: number[]; plaintextTokens: number[]; text: string; stats: { rounds: number; bytesPerParty: number[] };
      logitError: { maxAbsError: number; step: number; minTop2Gap: number; gapStep: number };
    };
    expect(r.tokens).toHaveLength(80);
    expect(r.tokens).toEqual(r.plaintextTokens);
    expect(r.text.startsWith(' Once upon a time')).toBe(true);
    expect(r.stats.rounds).toBeGreaterThan(0);
    // Along this path the plaintext top-2 gap falls to 0.053 (step 71): the secure logits must stay within ~0.025.
    expect(r.logitError.minTop2Gap).toBeCloseTo(0.053, 3);
    expect(r.logitError.gapStep).toBe(71);
    console.log(`80 tokens: max |secure - plaintext| logit ${r.logitError.maxAbsError.toFixed(5)} at step ${r.logitError.step}; top-2 gap ${r.logitError.minTop2Gap.toFixed(5)} at step ${r.logitError.gapStep}`);
    expect(r.logitError.maxAbsError).toBeLessThan(0.025);
  }, 300_000);

  it('bad arguments give a clear usage error, not a stack trace', () => {
    let err = '';
    try {
      execFileSync(process.execPath, [BIN, 'generate', '--max-new-tokens', 'many'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      err = String((e as { stderr: string }).stderr);
    }
    expect(err).toMatch(/--max-new-tokens must be an integer/);
    expect(err).not.toMatch(/at .*\.ts:\d+/);
  });
});
