/**
 * The owner's domain check (domain-check.ts) on the real models of the tests, with the sequences the accuracy
 * tests run, and on models altered so that one bounded quantity leaves its domain: the check must name it and
 * where, and a model that only comes close must be reported as tight.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACTIVATION_LIMIT, assertDomain, calibrationIds, checkDomain, formatDomainReport, MARGIN, type DomainReport } from './domain-check.ts';
import { loadModel, modelDir } from './node.ts';
import { normNames, WINDOW_MARGIN_OCTAVES, windowsFromRanges, withNormWindows } from './norm-windows.ts';
import { STORIES_REFERENCE_TOKENS } from './test-fixtures.ts';
import type { WordPieceTokenizer } from './tokenizer-wordpiece.ts';
import type { Tokenizer } from './tokenizer.ts';
import type { Model } from './types.ts';

function expectWellInside(name: string, r: DomainReport, rope = false): void {
  console.log(`${name}:\n${formatDomainReport(r)}`);
  // RoPE here means stories260K, whose decoding steps take the attention into its output projection too.
  const quantities = ['activation input', 'attention row spread', 'attention value', 'norm output', 'norm matmul output', 'norm sum of squares', ...(rope ? ['rotated query/key', 'attention output sum'] : [])];
  expect(r.findings.map((f) => f.quantity).sort()).toEqual(quantities.sort());
  expect(r.outside).toEqual([]);
  expect(r.tight).toEqual([]);
  for (const f of r.findings) expect(f.value * MARGIN).toBeLessThan(f.limit);
}

function scale(data: Float32Array | Float64Array, factor: number): void {
  for (let i = 0; i < data.length; i++) data[i] *= factor;
}

const stories = async (): Promise<Model> => (await loadModel('stories260K')).model;

describe('the real models stay inside the secure pass\'s domain, with a factor 4 to spare', () => {
  it('gpt2-shakespeare on the first 4 windows of 64 val tokens', async () => {
    const { model, tokenizer } = await loadModel('gpt2-shakespeare');
    const ids = tokenizer!.encode(readFileSync(path.join(modelDir('gpt2-shakespeare'), 'val.txt'), 'utf8'));
    expectWellInside('gpt2-shakespeare', checkDomain(model, { sequences: Array.from({ length: 4 }, (_, w) => ids.slice(w * 64, w * 64 + 64)) }));
  }, 120_000);

  it('bert-shakespeare on the first 24 eval examples (pooler tanh included)', async () => {
    const { model, tokenizer } = await loadModel('bert-shakespeare');
    const tok = tokenizer as WordPieceTokenizer;
    const lines = readFileSync(path.join(modelDir('bert-shakespeare'), 'eval.jsonl'), 'utf8').trim().split('\n').slice(0, 24);
    const sequences = lines.map((l) => tok.encodeForModel((JSON.parse(l) as { text: string }).text, undefined, model.config.maxPositions).ids);
    expectWellInside('bert-shakespeare', checkDomain(model, { sequences }));
  }, 120_000);

  it('stories260K along its 81 reference tokens, and on the default calibration text', async () => {
    const { model, tokenizer } = await loadModel('stories260K');
    expectWellInside('stories260K', checkDomain(model, { sequences: [STORIES_REFERENCE_TOKENS] }), true);
    const ids = calibrationIds(model, tokenizer);
    expect(ids.length).toBeGreaterThanOrEqual(8);
    expect(tokenizer!.decode(ids)).toMatch(/Once upon a time/);
    expectWellInside('stories260K calibration', checkDomain(model, { tokenizer }), true);
  }, 120_000);
});

describe('a model outside the domain is refused, naming the quantity and where', () => {
  it('an MLP gate 500x too large: activation input outside at that layer (its product, below the fed norm\'s 4096, inside)', async () => {
    const model = await stories();
    const layer = model.weights.layers[2];
    if (layer.mlp.kind !== 'swiglu') throw new Error('stories260K has a SwiGLU MLP');
    scale(layer.mlp.w1.weight.data, 500);
    const r = checkDomain(model, { sequences: [STORIES_REFERENCE_TOKENS.slice(0, 16)] });
    // The first step out is the gate's activation; the residual it feeds then breaks the next norms too.
    expect([r.outside[0].quantity, r.outside[0].site]).toEqual(['activation input', 'layer 2 MLP activation']);
    expect(() => assertDomain(r, 'stories260K')).toThrow(/stories260K leaves the secure pass's domain.*activation input [0-9.]+ at layer 2 MLP activation \(limit 1000/);
  });

  it('queries 100x too large: attention row spread outside', async () => {
    const model = await stories();
    scale(model.weights.layers[0].attn.q.weight.data, 300);
    const r = checkDomain(model, { sequences: [STORIES_REFERENCE_TOKENS.slice(0, 16)] });
    expect(r.outside.map((f) => f.quantity)).toContain('attention row spread');
    expect(r.outside.find((f) => f.quantity === 'attention row spread')!.site).toBe('layer 0 attention');
    // RoPE rotates the untruncated queries with 16-bit tables: past 1,024 they would overflow (secure/rope-qkv.ts).
    const q = checkDomain(await stories().then((mm) => (scale(mm.weights.layers[0].attn.q.weight.data, 3000), mm)), { sequences: [STORIES_REFERENCE_TOKENS.slice(0, 16)] });
    expect(q.outside.find((f) => f.quantity === 'rotated query/key')).toMatchObject({ site: 'layer 0 attention', limit: 1024 });
  });

  it('an attention output projection 1e4x too large: the attention output sum is outside (nn attendInto\'s term would overflow)', async () => {
    const model = await stories();
    scale(model.weights.layers[1].attn.o.weight.data, 1e4);
    const r = checkDomain(model, { sequences: [STORIES_REFERENCE_TOKENS.slice(0, 16)] });
    expect(r.outside[0]).toMatchObject({ quantity: 'attention output sum', site: 'layer 1 MLP norm', limit: 2048 });
  });

  it('an MLP up projection (w3) 1e4x too large: the norm that feeds it is outside (secure/norms.ts applies its row scale after that product)', async () => {
    const model = await stories();
    scale(model.weights.layers[0].mlp.kind === 'swiglu' ? model.weights.layers[0].mlp.w3.weight.data : new Float32Array(), 1e4);
    const r = checkDomain(model, { sequences: [STORIES_REFERENCE_TOKENS.slice(0, 16)] });
    expect(r.outside.find((f) => f.quantity === 'norm matmul output')).toMatchObject({ site: 'layer 0 MLP norm', limit: 4096 });
    expect(r.outside.find((f) => f.quantity === 'norm matmul output' && f.site !== 'layer 0 MLP norm')).toBeUndefined();
  });

  it('values 1e4x too large: attention value outside (the product e V R of softmax.ts attendOfProduct would overflow)', async () => {
    const model = await stories();
    scale(model.weights.layers[1].attn.v.weight.data, 1e4);
    const r = checkDomain(model, { sequences: [STORIES_REFERENCE_TOKENS.slice(0, 16)] });
    const f = r.outside.find((x) => x.quantity === 'attention value');
    expect(f?.site).toBe('layer 1 attention');
    // stories260K's 512 positions: the row sum stays below 1.03 * 512, hi = ceil(log2 528) = 10, |V| < 2^(61 - 18 - 22 - 10).
    expect(f?.limit).toBe(2048);
  });

  it('an embedding 1e5x too large: the first norm\'s sum of squares is the first step out (past 2^26 at 18 fraction bits)', async () => {
    const model = await stories();
    scale(model.weights.embeddings.token.data, 1e5);
    const r = checkDomain(model, { sequences: [STORIES_REFERENCE_TOKENS.slice(0, 16)] });
    const f = r.outside.find((x) => x.quantity === 'norm sum of squares');
    expect(f?.site).toBe('layer 0 attention norm');
    expect(f?.limit).toBe(2 ** 26);
    expect(checkDomain(model, { sequences: [STORIES_REFERENCE_TOKENS.slice(0, 16)], fracBits: 12 }).findings.find((x) => x.quantity === 'norm sum of squares')?.limit).toBe(2 ** 38);
  });

  it('a BERT pooler 1e4x too large: its tanh input is the step out (the head is checked too)', async () => {
    const { model, tokenizer } = await loadModel('bert-shakespeare');
    const head = model.weights.head;
    if (head.kind !== 'classifier') throw new Error('bert-shakespeare has a classifier head');
    scale(head.pooler.weight.data, 1e4);
    const r = checkDomain(model, { tokenizer });
    expect(r.outside.map((f) => [f.quantity, f.site])).toEqual([['activation input', 'pooler tanh']]);
  });

  it('a model within the limit but inside the margin gets a warning, not an error', async () => {
    const base = checkDomain(await stories(), { sequences: [STORIES_REFERENCE_TOKENS.slice(0, 16)] });
    const act = base.findings.find((f) => f.quantity === 'activation input')!;
    const model = await stories();
    const layer = model.weights.layers.find((_, i) => act.site === `layer ${i} MLP activation`)!;
    if (layer.mlp.kind !== 'swiglu') throw new Error('stories260K has a SwiGLU MLP');
    // The gate's output is linear in its weights: scale the largest input to 0.6 of the limit.
    scale(layer.mlp.w1.weight.data, (0.6 * ACTIVATION_LIMIT) / act.value);
    const r = checkDomain(model, { sequences: [STORIES_REFERENCE_TOKENS.slice(0, 16)] });
    expect(r.outside).toEqual([]);
    expect(r.tight.map((f) => f.quantity)).toEqual(['activation input']);
    expect(assertDomain(r, 'tweaked')).toMatch(/tweaked comes within 4x .*activation input 600\.00 at layer \d MLP activation/);
  });
});

/** The windows the owner publishes (apps/cli domain-guard.ts): from the default calibration text, 18 fraction bits. */
function published(model: Model, tokenizer?: Tokenizer): Model {
  return withNormWindows(model, windowsFromRanges(model.config, checkDomain(model, { tokenizer }).normRanges, 18));
}

function windowFinding(r: DomainReport) {
  return r.findings.find((f) => f.quantity === 'norm window');
}

describe('published norm windows (norm-windows.ts): computed from the calibration, checked on the models\' own data', () => {
  it('every norm gets a window of the calibration range plus 8 octaves each side; the calibration itself is far clear of its edges', async () => {
    const { model, tokenizer } = await loadModel('stories260K');
    const r = checkDomain(model, { tokenizer });
    const windows = windowsFromRanges(model.config, r.normRanges, 18);
    expect(Object.keys(windows)).toEqual(normNames(model.config));
    for (const [name, [lo, hi]] of Object.entries(windows)) {
      const [a, b] = r.normRanges.get(name)!;
      expect(lo).toBeLessThanOrEqual(Math.log2(a) - WINDOW_MARGIN_OCTAVES);
      expect(lo).toBeGreaterThan(Math.log2(a) - WINDOW_MARGIN_OCTAVES - 0.25);
      expect(hi).toBeGreaterThanOrEqual(Math.log2(b) + WINDOW_MARGIN_OCTAVES);
      expect(hi).toBeLessThan(Math.log2(b) + WINDOW_MARGIN_OCTAVES + 0.25);
      expect([lo * 4, hi * 4].every(Number.isInteger)).toBe(true);
    }
    const again = checkDomain(withNormWindows(model, windows), { tokenizer });
    expect(windowFinding(again)!.value).toBeCloseTo(2 ** -WINDOW_MARGIN_OCTAVES, 1);
    expect(again.tight).toEqual([]);
  });

  it('the bottom stops at eps and the top at the ring; a norm the calibration never saw gets none', () => {
    const c = { normPlacement: 'pre', numLayers: 1, hiddenSize: 64, normEps: 1e-5 } as Model['config'];
    const w = windowsFromRanges(c, new Map([['l0.attnNorm', [1.2e-5, 2e-5]], ['l0.mlpNorm', [1, 2 ** 19]]]), 18);
    expect(w['l0.attnNorm'][0]).toBe(-16.75);
    expect(w['l0.mlpNorm'][1]).toBe(20);
    expect(w.final).toBeUndefined();
  });

  it.each([
    ['stories260K', 'reference tokens'], ['gpt2-shakespeare', 'first 4 val windows of 64'], ['bert-shakespeare', 'first 48 eval examples'],
  ])('%s on its %s stays inside the windows from the calibration text', async (name) => {
    const { model, tokenizer } = await loadModel(name);
    let sequences: number[][];
    if (name === 'stories260K') sequences = [STORIES_REFERENCE_TOKENS];
    else if (name === 'gpt2-shakespeare') {
      const ids = tokenizer!.encode(readFileSync(path.join(modelDir(name), 'val.txt'), 'utf8'));
      sequences = Array.from({ length: 4 }, (_, w) => ids.slice(w * 64, w * 64 + 64));
    } else {
      const tok = tokenizer as WordPieceTokenizer;
      const lines = readFileSync(path.join(modelDir(name), 'eval.jsonl'), 'utf8').trim().split('\n').slice(0, 48);
      sequences = lines.map((l) => tok.encodeForModel((JSON.parse(l) as { text: string }).text, undefined, model.config.maxPositions).ids);
    }
    const r = checkDomain(published(model, tokenizer), { sequences });
    const f = windowFinding(r)!;
    console.log(`${name}: norm window ${f.value.toFixed(3)} at ${f.site} (1 = an edge of the window)`);
    expect(r.outside).toEqual([]);
    expect(f.value).toBeLessThan(1);
  }, 120_000);

  it.each([['stories260K', 1], ['gpt2-shakespeare', 2000], ['bert-shakespeare', 240]] as const)(
    '%s: a sequence per vocabulary id (ids step %i), each between pseudo-random others, stays 4 octaves inside the windows from the calibration text',
    async (name, step) => {
      const { model, tokenizer } = await loadModel(name);
      const windowed = published(model, tokenizer);
      const V = model.config.vocabSize;
      // Each id at every third position of 24, between pseudo-random others: rare ids (stories260K's <unk>) move a
      // norm's variance furthest from the calibration text's (3.17 octaves above it for stories260K).
      const sequences: number[][] = [];
      for (let t = 0; t < V; t += step) sequences.push(Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? t : (t + i * 7919) % V)));
      const r = checkDomain(windowed, { sequences });
      const f = windowFinding(r)!;
      console.log(`${name}, ${sequences.length} sequences: norm window ${f.value.toFixed(4)} at ${f.site} (1 = an edge)`);
      expect(r.outside.filter((o) => o.quantity === 'norm window')).toEqual([]);
      expect(f.value).toBeLessThan(2 ** -4);
    },
    300_000,
  );

  it('a model whose activations grow after publishing leaves its windows: reported outside (y = beta below, arbitrary above)', async () => {
    const { model, tokenizer } = await loadModel('stories260K');
    const windowed = published(model, tokenizer);
    scale(windowed.weights.embeddings.token.data, 40);
    const r = checkDomain(windowed, { tokenizer });
    expect(r.outside.find((f) => f.quantity === 'norm window')).toMatchObject({ site: 'layer 0 attention norm', limit: 1 });
    expect(() => assertDomain(r, 'grown')).toThrow(/norm window [0-9.]+ at layer 0 attention norm \(limit 1\.00\)/);
    // A factor 10 (100 in the variance) is inside the 8-octave margin, but within MARGIN of its edge: tight.
    const near = published(model, tokenizer);
    scale(near.weights.embeddings.token.data, 10);
    expect(checkDomain(near, { tokenizer }).tight.map((f) => f.quantity)).toContain('norm window');
  });
});
