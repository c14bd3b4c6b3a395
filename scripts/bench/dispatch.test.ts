/**
 * The bench dispatcher (scripts/bench.ts) answers --help with each suite's options and refuses a mistyped
 * option or suite before anything runs (an ignored option would start a long default run instead).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const bench = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/bench.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

it('--help lists the suite options and runs nothing', () => {
  const r = bench('models', '--help');
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('--weight-cache-mib');
  expect(r.stdout).not.toContain('browsers:');
  expect(r.stderr).toBe('');
}, 60_000);

it('a mistyped option, an option of another suite or an unknown suite is refused by name', () => {
  const typo = bench('models', '--tokns', '3');
  expect(typo.status).toBe(2);
  expect(typo.stderr).toContain('unknown option --tokns');
  const other = bench('sharing', '--model', 'gpt2-base');
  expect(other.status).toBe(2);
  expect(other.stderr).toContain('unknown option --model for sharing');
  const suite = bench('modls');
  expect(suite.status).toBe(2);
  expect(suite.stderr).toContain('unknown bench suite "modls"');
}, 60_000);
