/**
 * `npm run -s bench -- <suite> --json` must print exactly one JSON document on stdout: the prebench steps
 * (install check, kernel builds) and the suites' progress go to stderr. Runs the whole npm path (prebench
 * included) with the cheapest suite variant: one nn function, one repetition.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm ...args` in the repository root; SIGKILLs it (by its handle) after `ms`. */
function npm(args: string[], ms: number): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`npm ${args.join(' ')} took over ${ms} ms; stderr:\n${stderr}`));
    }, ms);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`could not start npm: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('npm run -s bench -- <suite> --json', () => {
  it('prints one JSON document on stdout, and the build steps and progress on stderr', async () => {
    const exit = await npm(['run', '-s', 'bench', '--', 'nn', '--json', '--reps', '1', '--only', 'tanh'], 60_000);
    expect(exit.code, `bench failed; stderr:\n${exit.stderr}`).toBe(0);
    let doc: { suite: string; machine: Record<string, unknown>; rows: Array<{ name: string }> };
    try {
      doc = JSON.parse(exit.stdout) as typeof doc;
    } catch (e) {
      throw new Error(`stdout is not one JSON document (${(e as Error).message}):\n${exit.stdout.slice(0, 2000)}`);
    }
    expect(doc.suite).toBe('nn');
    expect(doc.machine.cores).toBeGreaterThan(0);
    expect(doc.rows.map((r) => r.name)).toEqual(['tanh [-16, 16]']);
    expect(exit.stderr).toMatch(/backend-wasm: kernels/);
    expect(exit.stderr).toMatch(/tanh \[-16, 16\]: .* ms/);
  }, 70_000);

  it('refuses several suites with --json, naming them, since that would be several documents', async () => {
    const exit = await npm(['run', '-s', 'bench', '--', 'nn', 'core', '--json'], 60_000);
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toMatch(/--json prints one JSON document, so it takes one suite per run; got 2: nn, core/);
  }, 70_000);
});
