/**
 * The WebGPU backend in Node through Dawn (the `webgpu` package). Dawn's Vulkan loader must see
 * LD_LIBRARY_PATH from process start, so the cases run in a child process (dawn-runner.ts) started with
 * the SwiftShader environment, and this file checks its JSON report: one test per case.
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { conformanceCases } from '@puma/backend/conformance';
import { runDawnProcess } from './dawn-process.ts';
import { deviceLossCase, edgeCases, errorCases, rfcCases, splitCases, type CaseResult } from './selftest.ts';

const RUNNER = fileURLToPath(new URL('./dawn-runner.ts', import.meta.url));

interface Report {
  description: string;
  isFallbackAdapter: boolean;
  results: CaseResult[];
}

const names = [...conformanceCases(), ...rfcCases(), ...edgeCases(), ...splitCases(), ...errorCases(), deviceLossCase()].map((c) => c.name);
let report: Report | undefined;

describe('WebGPU backend in Node (Dawn)', () => {
  beforeAll(async () => {
    report = await runDawnProcess<Report>(RUNNER, [], 110_000);
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
