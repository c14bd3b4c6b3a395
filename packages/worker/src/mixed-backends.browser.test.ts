/**
 * Protocol operations with party 0 on WebGPU and parties 1 and 2 on WebAssembly, in one headless Chromium
 * page (mixed-backends.page.ts, beside this file), compared with the same program on three WebAssembly parties with the
 * same keys and input seeds: every party's output shares must be bit-identical, and the revealed results
 * must be within each op's documented error of the plaintext computation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MixedBackendsReport, OpReport } from './mixed-backends.page.ts';
import { startBrowserHarness, type BrowserHarness } from '@puma/backend-webgpu/browser-harness';

const OPS = [
  'mulRaw',
  'mul',
  'matmulRaw 40x56x33',
  'matmul 40x56x33',
  'matmul batched, transB 3x(40x56x33)',
  'matmul transA, broadcast B 3x(40x56x33)',
  'truncate by 7',
  'lessThan',
  'max 25x13',
  'argmax 25x13',
  'mix: d = x*y - x',
  'mix: c = d < 0.5',
  'mix: select(c, d, y) + x + 1.25',
];

let harness: BrowserHarness | undefined;
let report: MixedBackendsReport | undefined;
let pageErrors: string[] = [];

function op(name: string): OpReport {
  const o = report?.ops.find((x) => x.name === name);
  if (!o) throw new Error(`the page reported no result for ${name}${report?.error ? ` (run failed: ${report.error})` : ''}`);
  return o;
}

describe('protocol ops with party 0 on WebGPU and parties 1, 2 on WebAssembly (headless Chromium)', () => {
  beforeAll(async () => {
    harness = await startBrowserHarness();
    ({ report, pageErrors } = await harness.run<MixedBackendsReport>('packages/worker/src/mixed-backends.page.html', '__mixedBackends', 150_000));
  }, 180_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('runs party 0 on a WebGPU adapter and parties 1, 2 on WebAssembly', () => {
    expect(report, 'no report').toBeDefined();
    expect(report!.error, `the runs failed (WebGPU adapter: ${report!.probe.description}); page errors: ${pageErrors.join('; ') || 'none'}`).toBeUndefined();
    expect(report!.probe.available, `WebGPU unavailable: ${report!.probe.description}`).toBe(true);
    expect(report!.mixedBackends!.map((b) => b.kind)).toEqual(['webgpu', 'wasm', 'wasm']);
    expect(report!.mixedBackends![0].description).toMatch(/^WebGPU: /);
    expect(report!.ops.map((o) => o.name)).toEqual(OPS);
  });

  for (const name of OPS) {
    it(`${name}: every party's output shares equal the all-WebAssembly run's, bit for bit`, () => {
      const o = op(name);
      expect(o.elements).toBeGreaterThan(0);
      expect(o.mismatch).toBeUndefined();
      expect(o.shares.mixed).toEqual(o.shares.wasm);
      expect(o.revealed.mixed).toBe(o.revealed.wasm);
      expect(o.partiesAgree).toBe(true);
    });

    it(`${name}: the revealed result is within the documented error of plaintext`, () => {
      const o = op(name);
      expect(o.error, `${o.error} ${o.unit}, documented bound ${o.bound}`).toBeLessThanOrEqual(o.bound);
    });

    it(`${name}: other pairwise keys change every output share`, () => {
      const o = op(name);
      o.shares.control.forEach((digest, i) => expect(digest, `share component ${i}`).not.toBe(o.shares.wasm[i]));
    });
  }
});
