/**
 * The WebGPU backend in Node through Dawn (the `webgpu` package). Dawn's Vulkan loader must see
 * LD_LIBRARY_PATH from process start, so the cases run in a child process (dawn-runner.ts) started with
 * the SwiftShader environment, and this file checks its JSON report: one test per case.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { conformanceCases } from '@puma/backend/conformance';
import { SWIFTSHADER_ENV } from './node.ts';
import { deviceLossCase, edgeCases, gpuErrorCase, rfcCases, splitCases, type CaseResult } from './selftest.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const RUNNER = fileURLToPath(new URL('./dawn-runner.ts', import.meta.url));

interface Report {
  description: string;
  isFallbackAdapter: boolean;
  results: CaseResult[];
}

/** Runs the runner with a hard time limit; resolves with its report or rejects with its stderr. */
function runDawn(timeoutMs: number): Promise<Report> {
  return new Promise((resolve, reject) => {
    // Keep a Vulkan setup the caller already has; otherwise point Dawn at Chromium's SwiftShader.
    const env = { ...process.env };
    if (!env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ENV.VK_ICD_FILENAMES)) {
      env.VK_ICD_FILENAMES = SWIFTSHADER_ENV.VK_ICD_FILENAMES;
      env.LD_LIBRARY_PATH = [SWIFTSHADER_ENV.LD_LIBRARY_PATH, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
    }
    const child = spawn(process.execPath, ['--import', 'tsx', RUNNER], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`dawn-runner exited with ${signal ?? code}: ${err.slice(-2000)}`));
        return;
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as Report);
      } catch (e) {
        reject(new Error(`dawn-runner printed no report (${(e as Error).message}): ${out.slice(-500)} ${err.slice(-1000)}`));
      }
    });
  });
}

const names = [...conformanceCases(), ...rfcCases(), ...edgeCases(), ...splitCases(), gpuErrorCase(), deviceLossCase()].map((c) => c.name);
let report: Report | undefined;

describe('WebGPU backend in Node (Dawn)', () => {
  beforeAll(async () => {
    report = await runDawn(110_000);
  }, 120_000);

  it('reports every case', () => {
    expect(report!.description).toMatch(/^WebGPU: /);
    expect(report!.results.map((r) => r.name)).toEqual(names);
  });

  for (const name of names) {
    it(name, () => {
      const r = report?.results.find((x) => x.name === name);
      expect(r, 'case did not run').toBeDefined();
      expect(r!.error ?? '').toBe('');
      expect(r!.ok).toBe(true);
    });
  }
});
