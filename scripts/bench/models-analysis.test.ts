import { describe, expect, it } from 'vitest';
import {
  breakdownByClass, breakdownByLayer, checkTargets, dominant, elementCounts, NETWORKS, OP_CLASSES, projectSeconds, splitFusedMatmul, tokenTimes,
  type ProfileNode,
} from './models-analysis.ts';
import { NormalSource } from './models-synthetic.ts';

const span = (name: string, bytesSent: number, rounds: number, ms: number, children: ProfileNode[] = [], calls = 1): ProfileNode => ({ name, calls, rounds, bytesSent, ms, children });

describe('splitFusedMatmul', () => {
  it('charges the raw product 1 word per output and 1 round per call, the rest to truncation', () => {
    // 3 calls, 100 outputs in all: party 0 sends 4 words per output, parties 1 and 2 send 2.
    const node = (bytes: number) => span('matmul', bytes, 6, 10, [span('truncate', bytes, 6, 4, [], 3)], 3);
    expect(splitFusedMatmul(node(3200), 0)).toEqual({ matmul: { bytes: 800, rounds: 3, ms: 6, calls: 3 }, truncation: { bytes: 2400, rounds: 3, ms: 4, calls: 3 } });
    expect(splitFusedMatmul(node(1600), 1).matmul.bytes).toBe(800);
    expect(splitFusedMatmul(node(1600), 2).truncation.bytes).toBe(800);
  });
});

describe('breakdownByClass', () => {
  const root = span('root', 0, 0, 0, [
    span('input', 0, 1, 1),
    span('embedding', 80, 1, 2, [span('matmulRaw', 80, 1, 2)]),
    span('layer 0', 3700, 40, 50, [
      span('norm', 500, 20, 10, [span('layerNorm', 500, 20, 10, [span('truncate', 100, 2, 1)])]),
      span('matmul', 3200, 2, 8, [span('truncate', 3200, 2, 3)]),
      span('softmax', 0, 10, 12, [span('softmax', 0, 10, 12)]),
      span('gelu', 0, 8, 20, [span('geluTanh', 0, 8, 20)]),
    ]),
    span('head', 300, 5, 6, [span('tanh', 300, 5, 6, [span('truncate', 300, 2, 1)])]),
    span('revealToClient', 40, 1, 1),
  ]);
  const total = { bytes: 4200, rounds: 50, ms: 100 };
  const b = breakdownByClass(root, 0, total);

  it('charges class spans whole, descending only into structural spans', () => {
    expect(b.norm).toMatchObject({ bytes: 500, rounds: 20, ms: 10 }); // its inner truncation stays LayerNorm
    expect(b.matmul).toMatchObject({ bytes: 800, rounds: 1, ms: 5 });
    expect(b.truncation).toMatchObject({ bytes: 2400, rounds: 1, ms: 3 });
    expect(b.embedding).toMatchObject({ bytes: 80, rounds: 1 });
    expect(b.reveal).toMatchObject({ bytes: 40, rounds: 1 });
    expect(b.softmax.ms).toBe(12);
    expect(b.gelu.ms).toBe(20);
  });

  it('puts unclassified spans and unprofiled work in other, so the classes sum to the total', () => {
    // input 1 round, the pooler's tanh 5, 2 rounds outside any span; 80 bytes outside any span.
    expect(b.other).toMatchObject({ bytes: 300 + 80, rounds: 1 + 5 + 2, ms: 100 - 10 - 5 - 3 - 2 - 1 - 12 - 20 });
    for (const k of ['bytes', 'rounds', 'ms'] as const) expect(OP_CLASSES.reduce((s, c) => s + b[c][k], 0)).toBeCloseTo(total[k]);
  });

  it('lists the top-level spans by layer and finds the dominant class', () => {
    expect(breakdownByLayer(root).map((l) => l.name)).toEqual(['input', 'embedding', 'layer 0', 'head', 'revealToClient']);
    expect(dominant(b, 'bytes')).toMatchObject({ cls: 'truncation', value: 2400 });
  });
});

describe('elementCounts', () => {
  const c = { numLayers: 2, hiddenSize: 8, numHeads: 2, intermediateSize: 32 };
  it('counts a prompt pass and a cached step for a pre-LN model', () => {
    expect(elementCounts({ ...c, normPlacement: 'pre' }, [{ rows: 4, keys: 4 }, { rows: 1, keys: 5 }])).toEqual({
      gelu: (4 + 1) * 32 * 2,
      softmax: 2 * (4 * 4 + 1 * 5) * 2,
      norm: (2 * 2 * 4 + 1 + 2 * 2 * 1 + 1) * 8,
    });
  });
  it('adds the embedding norm on every row for post-LN', () => {
    expect(elementCounts({ ...c, normPlacement: 'post' }, [{ rows: 4, keys: 4 }]).norm).toBe((2 * 2 * 4 + 4) * 8);
  });
});

describe('projectSeconds', () => {
  it('adds rounds × RTT and the busiest party\'s bytes over the bandwidth to the compute time', () => {
    expect(projectSeconds(1, 100, 1e9, NETWORKS[0])).toBeCloseTo(1 + 0.1 + 1.6);
    expect(projectSeconds(1, 100, 1e9, NETWORKS[1])).toBeCloseTo(1 + 3 + 80);
  });
  it('rejects negative or missing inputs', () => {
    expect(() => projectSeconds(-1, 1, 1, NETWORKS[0])).toThrow(/non-negative/);
    expect(() => projectSeconds(1, Number.NaN, 1, NETWORKS[0])).toThrow(/non-negative/);
  });
});

describe('checkTargets', () => {
  it('marks each target met when the measurement is within the limit', () => {
    const checks = checkTargets([{ what: 'bytes', key: 'bytesPerParty', limit: 10 }, { what: 'rounds', key: 'rounds', limit: 5 }], { bytesPerParty: 10, rounds: 6, wallSeconds: 0, completionSeconds: 0, msPerToken: 0 });
    expect(checks.map((t) => [t.measured, t.met])).toEqual([[10, true], [6, false]]);
  });
});

describe('tokenTimes', () => {
  it('gives the first token, the intervals after it and their median', () => {
    expect(tokenTimes([100, 130, 190, 210])).toEqual({ firstMs: 100, intervalsMs: [30, 60, 20], medianMs: 30 });
    expect(tokenTimes([100, 130, 190]).medianMs).toBe(45);
  });

  it('has no median with one token, and refuses none', () => {
    expect(tokenTimes([5]).medianMs).toBeNaN();
    expect(() => tokenTimes([])).toThrow('no token arrived');
  });
});

describe('NormalSource', () => {
  it('is deterministic per seed, with mean 0 and standard deviation 1', () => {
    const draw = (seed: number, n: number) => Array.from(new NormalSource(seed).tensor([n], 1).data);
    const a = draw(7, 100_000);
    expect(draw(7, 100_000)).toEqual(a);
    expect(draw(8, 4)).not.toEqual(a.slice(0, 4));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(sd - 1)).toBeLessThan(0.01);
  });
  it('rejects a seed that is not a positive integer', () => {
    expect(() => new NormalSource(0)).toThrow(/positive integer/);
  });
});
