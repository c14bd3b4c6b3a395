/**
 * The plan's model of what a party holds: the secure weight tensors from the shapes alone must be exactly
 * share-weights.ts's tensors for real models; the named shapes must be the published models' sizes; the
 * disk, memory and time figures must follow from their stated constants.
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '../node.ts';
import { planShape, PLAN_SHAPES } from './plan-shapes.ts';
import { JS_BYTES_PER_ROUND, NONLINEAR_BYTES_PER_ELEMENT, SWIGLU_BYTES_PER_GATE, PARTY_BASELINE_BYTES, WASM_FLOOR_BYTES, WASM_GROWTH, MATMUL_MACS_PER_S, NONLINEAR_WORDS_PER_S, PLAN_NETWORKS, planInference, secureTensorShapes } from './plan.ts';
import { DEFAULT_WEIGHT_CACHE_BYTES, expandedShareBytes } from './weight-cache.ts';
import { secureTensors } from './share-weights.ts';

describe('plan: weight tensors from the shapes', () => {
  for (const name of ['stories260K', 'gpt2-shakespeare', 'bert-shakespeare']) {
    it(`${name}: the same tensors, shape for shape and element for element, as the owner's sharing`, async () => {
      const { model } = await loadModel(name);
      const real = secureTensors(model).map((t) => ({ name: t.name, shape: t.shape, elements: t.data.length }));
      expect(secureTensorShapes(model.config)).toEqual(real);
    });
  }

  it('named shapes are the published models', () => {
    expect(Object.keys(PLAN_SHAPES)).toEqual(['gpt2-base', 'bert-base', 'llama2-7b']);
    const count = (n: string) => secureTensorShapes(planShape(n)!).reduce((s, t) => s + t.elements, 0);
    // GPT-2 small: 124.4 M parameters; its tied head is the token embedding's share, not a tensor of its own, and
    // the 24 layer norms' gamma and beta (768 each) are folded into the matmuls they feed (norm-folding.ts).
    expect(count('gpt2-base')).toBe(124_439_808 - 24 * 2 * 768);
    // LLaMA-2-7B: 6.738 G parameters (untied head), less the 64 layer norms' gamma (4096 each), folded likewise.
    expect(count('llama2-7b')).toBe(6_738_415_616 - 64 * 4096);
    const llama = planShape('llama2-7b')!;
    expect([llama.numLayers, llama.hiddenSize, llama.numHeads, llama.intermediateSize, llama.vocabSize]).toEqual([32, 4096, 32, 11008, 32000]);
    expect(planShape('gpt3')).toBeUndefined();
  });
});

describe('plan: disk, memory and time from their stated models', () => {
  const c = planShape('gpt2-base')!;
  const p = planInference(c, { kind: 'generate', promptTokens: 32, newTokens: 1 }, PLAN_NETWORKS.wan);

  it('disk: parties 1 and 2 store the dense component, party 0 only seeds', () => {
    expect(p.diskPerParty[1]).toBe(8 * p.weightElements);
    expect(p.diskPerParty[2]).toBe(8 * p.weightElements);
    expect(p.diskPerParty[0]).toBe(64 * secureTensorShapes(c).length);
  });

  it('memory: a baseline, the weight cache, two streamed blocks, one store part, the KV cache, the one-hot input and the largest nonlinear op', () => {
    const m = p.memory;
    // GPT-2-base's expanded share (2.1 GB) exceeds the cache's default cap: the cache is full at the cap.
    expect(m.weightCache).toBe(DEFAULT_WEIGHT_CACHE_BYTES);
    // GPT-2-base's tensors all exceed one block (2^20 words), so two whole blocks of two components are resident.
    expect(m.weightBlocks).toBe(2 * 2 * 8 * 2 ** 20);
    expect(m.storePart).toBe(8 * 2 ** 20);
    // Depth does not enter: twice the layers add only the KV cache (in WebAssembly memory, with its growth slack)
    // and the JavaScript heap of their rounds.
    const deepPlan = planInference({ ...c, numLayers: 24 }, { kind: 'generate', promptTokens: 32, newTokens: 1 });
    const deep = deepPlan.memory;
    expect(deep.kvCache).toBe(2 * m.kvCache);
    expect(deep.maxPerParty - m.maxPerParty).toBeCloseTo(WASM_GROWTH * m.kvCache + JS_BYTES_PER_ROUND * (deepPlan.rounds - p.rounds), -1);
    // Smaller blocks, smaller residency; a model smaller than a block holds its largest tensor.
    expect(planInference(c, { kind: 'generate', promptTokens: 32, newTokens: 1 }, PLAN_NETWORKS.lan, 18, 1024).memory.weightBlocks).toBe(2 * 2 * 8 * 1024);
    expect(m.kvCache).toBe(2 * 2 * 8 * 12 * 32 * 768);
    // The client's one-hot rows (two components), and GeLU's 32 × 3072 inputs (larger than softmax's 12 × 32 × 32).
    expect(m.oneHotInput).toBe(2 * 8 * 32 * 50257);
    expect(m.activations).toBe(NONLINEAR_BYTES_PER_ELEMENT * 32 * 3072);
    expect(m.webAssembly).toBe(Math.round(WASM_GROWTH * (m.weightBlocks + m.kvCache + m.oneHotInput + m.activations)));
    expect(m.baseline).toBe(PARTY_BASELINE_BYTES + JS_BYTES_PER_ROUND * p.rounds);
    expect(m.maxPerParty).toBe(m.baseline + m.weightCache + m.storePart + m.webAssembly);
    // A cap of 0 streams every pass (no cache); a long prompt makes softmax the largest nonlinear op.
    expect(planInference(c, { kind: 'generate', promptTokens: 32, newTokens: 1 }, PLAN_NETWORKS.lan, 18, 2 ** 20, 0).memory.weightCache).toBe(0);
    expect(planInference(c, { kind: 'generate', promptTokens: 512, newTokens: 1 }).memory.activations).toBe(NONLINEAR_BYTES_PER_ELEMENT * 12 * 512 * 512);
    // A SwiGLU MLP (LLaMA) counts its gates at their own, larger, measured figure.
    const llama = planShape('llama2-7b')!;
    expect(planInference(llama, { kind: 'generate', promptTokens: 8, newTokens: 1 }).memory.activations).toBe(SWIGLU_BYTES_PER_GATE * 8 * 11008);
  });

  it('memory: a model whose expanded share fits the cap is cached whole, as the parties cache it', async () => {
    const { model } = await loadModel('gpt2-shakespeare');
    const plan = planInference(model.config, { kind: 'generate', promptTokens: 32, newTokens: 1 });
    const manifest = { tensors: secureTensors(model).map((t) => ({ name: t.name, shape: [t.data.length] })) };
    expect(plan.memory.weightCache).toBe(expandedShareBytes(manifest as Parameters<typeof expandedShareBytes>[0]));
    expect(plan.memory.weightCache).toBeLessThan(DEFAULT_WEIGHT_CACHE_BYTES);
    // stories260K's working set (blocks of its largest tensor, 512 × 64; 16 rows) is below what the backend grows to anyway.
    const tiny = planInference((await loadModel('stories260K')).model.config, { kind: 'generate', promptTokens: 16, newTokens: 16 }).memory;
    expect(tiny.weightBlocks + tiny.kvCache + tiny.oneHotInput + tiny.activations).toBeLessThan(WASM_FLOOR_BYTES);
    expect(tiny.webAssembly).toBe(WASM_FLOOR_BYTES);
  });

  it('time: compute from the stated rates, plus rounds × RTT and the busiest party\'s bytes over the bandwidth', () => {
    expect(p.computeSeconds).toBeCloseTo((2 * p.macs) / MATMUL_MACS_PER_S + p.maxBytesPerParty / 8 / NONLINEAR_WORDS_PER_S, 9);
    expect(p.projectedSeconds).toBeCloseTo(p.computeSeconds + p.rounds * 0.03 + (p.maxBytesPerParty * 8) / 100e6, 9);
    // Plaintext multiply-adds of one GPT-2-base token at 32 positions: embedding, 12 layers, head.
    const layer = 32 * 768 * 2304 + 12 * 32 * 64 * 32 * 2 + 32 * 768 * 768 + 2 * 32 * 768 * 3072;
    expect(p.macs).toBe(32 * 50257 * 768 + 12 * layer + 768 * 50257);
  });

  it('a classifier plans classification; a model too short for the workload is refused by name', () => {
    const bert = planInference(planShape('bert-base')!, { kind: 'classify', tokens: 128 });
    expect(bert.memory.kvCache).toBe(0);
    expect(bert.rounds).toBeGreaterThan(0);
    expect(() => planInference(c, { kind: 'generate', promptTokens: 1024, newTokens: 2 })).toThrow(/positions exceed the model's 1024/);
  });
});
