import { describe, expect, it } from 'vitest';
import { newWeightTimes } from '@puma/models/secure';
import { childSpan, newSpan } from '@puma/protocol';
import { describeStep, passSnapshot } from './pass-timing.ts';

describe('a job step\'s time split', () => {
  it('takes differences between snapshots, sums ops over the layers and names the weight work', () => {
    const root = newSpan('root');
    const times = newWeightTimes();
    const before = passSnapshot(times, root);
    for (const [layer, gelu, matmul] of [['layer 0', 300, 500], ['layer 1', 200, 700]] as const) {
      const l = childSpan(root, layer);
      l.ms = gelu + matmul + 100;
      childSpan(l, 'gelu').ms = gelu;
      childSpan(l, 'matmul').ms = matmul;
    }
    childSpan(root, 'head').ms = 2_000;
    Object.assign(times, { waitMs: 1_500, storeMs: 4_000, bytesRead: 160e6, partsRead: 20, hashMs: 900, expandMs: 250, wordsExpanded: 13.7e6 });
    const line = describeStep(before, passSnapshot(times, root));
    expect(line).toContain('weights: waited 1.5 s for reads (store 4.0 s, 160 MB in 20 parts; copy 0.0 s; sha256 0.9 s), expand 0.3 s (13.7 M words)');
    expect(line).toContain('ops: head 2.0 s, matmul 1.2 s, gelu 0.5 s, layer rest 0.2 s');
    // A second step counts only what happened since the first.
    const mid = passSnapshot(times, root);
    childSpan(root, 'head').ms += 500;
    times.waitMs += 100;
    const next = describeStep(mid, passSnapshot(times, root));
    expect(next).toContain('waited 0.1 s');
    expect(next).not.toContain('download verified');
    // Parts taken as the download checked them are named beside the store reads.
    const reuse = passSnapshot(times, root);
    Object.assign(times, { partsReused: 3, bytesReused: 25.2e6 });
    expect(describeStep(reuse, passSnapshot(times, root))).toContain('0 MB in 0 parts, 25 MB in 3 parts as the download verified them;');
    expect(next).toMatch(/ops: head 0\.5 s$/);
  });

  it('without weight times (a bundle in memory) the line has only the ops', () => {
    const root = newSpan('root');
    const before = passSnapshot(undefined, root);
    childSpan(root, 'embedding').ms = 1_000;
    expect(describeStep(before, passSnapshot(undefined, root))).toBe('ops: embedding 1.0 s');
  });
});
