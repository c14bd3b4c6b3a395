/**
 * Streamed weights: the row-block matmul is bit-identical to the protocol's matmul and costs what matmul
 * declares; a whole secure pass over small blocks gives the same logits, bit for bit, as the pass with every
 * tensor in one block (the in-memory path), for stories260K (real, LLaMA: RoPE, GQA, SwiGLU) and a tiny GPT-2
 * (learned positions, LayerNorm, biases, tied head); and the pass's residency is bounded structurally: at most
 * two blocks (the one in use and the one fetched ahead) at any time, every block read once per pass, PRG
 * components never read from the source (regenerated from their seeds). With a weight cache the logits are the
 * same bit for bit, the cache never holds more than its budget, and cached blocks are not read again.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chachaWords, DEFAULT_FRAC_BITS, encodeFixed, sizeOf } from '@puma/ring';
import { aShare, matmul, matmulCost, matmulRaw, matmulRawCost, revealRaw, SEED_NONCE, splitInput, type AShare, type Party } from '@puma/protocol';
import { randomFloats } from '@puma/protocol/test-support';
import { loadModel } from '../node.ts';
import { encodeSafetensors } from '../safetensors-writer.ts';
import { asWritable, STORIES_REFERENCE_TOKENS, tinyGpt2Checkpoint, tinyGpt2Config } from '../test-fixtures.ts';
import type { Model, ModelConfig } from '../types.ts';
import { emptyCache, loadSecureModel } from './model.ts';
import { secureHidden } from './forward.ts';
import { secureLastLogits } from './head.ts';
import { oneHot } from './one-hot.ts';
import { shareWeights, type PartyWeightBundle, type WeightManifest } from './share-weights.ts';
import { countingSource, deterministicRun, FixedInput, type SourceCounts } from './stream-test-support.ts';
import { streamedMatmul, streamedMatmulRaw, streamedMatmulTransposed } from './streamed-matmul.ts';
import { cacheReservations, expandedShareBytes, WeightBlockCache, weightCacheBudget } from './weight-cache.ts';
import { bundleWeightSource, type SeedExpander } from './weight-source.ts';
import { WeightStream } from './weight-stream.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'puma-stream-'));
afterAll(() => rmSync(tmp, { recursive: true }));

async function read(p: Party, x: AShare): Promise<BigUint64Array[]> {
  return [await p.backend.read(x.s0), await p.backend.read(x.s1)];
}

describe('streamed matmul', () => {
  // W [37, 11] in blocks of 3 rows (40-word blocks): 13 blocks, most starting mid-way in a ChaCha20 block.
  const [T, K, N] = [5, 37, 11];
  const x = new FixedInput(encodeFixed(randomFloats(T * K, -3, 3, 7), DEFAULT_FRAC_BITS), [T, K]);
  const w = encodeFixed(randomFloats(K * N, -1, 1, 8), DEFAULT_FRAC_BITS);

  /** W shared once as the owner shares a tensor (two seed components, one dense). */
  function weightBundles(): PartyWeightBundle[] {
    const split = splitInput(w);
    const manifest: WeightManifest = { modelId: 'w', config: {} as ModelConfig, fracBits: DEFAULT_FRAC_BITS, tensors: [{ name: 'w', shape: [K, N] }] };
    return split.map((b) => ({ manifest, bundles: { w: b } }));
  }

  it.each([
    ['fixed point', streamedMatmul, matmul, matmulCost(T * N)],
    ['raw', streamedMatmulRaw, matmulRaw, matmulRawCost(T * N)],
  ] as const)('%s: shares equal matmul on the whole W bit for bit; rounds and bytes are matmul\'s declared cost', async (_, streamed, whole, declared) => {
    const wb = weightBundles();
    const runs = await deterministicRun(async (p) => {
      const ws = new WeightStream(p, bundleWeightSource(wb[p.id]), 40);
      expect(ws.blocks('w')).toHaveLength(13);
      const r0 = p.rounds;
      const b0 = p.channel.stats.bytesSent;
      const got = await streamed(p, ws, 'w', x.share(p));
      const spent = { rounds: p.rounds - r0, bytes: p.channel.stats.bytesSent - b0 };
      expect(ws.stats).toMatchObject({ liveBlocks: 0, openedWords: K * N });
      expect(ws.stats.peakLiveBlocks).toBe(2);
      return { got: await read(p, got), spent, value: await revealRaw(p, got) };
    });
    const reference = await deterministicRun(async (p) => {
      const ws = new WeightStream(p, bundleWeightSource(wb[p.id]), K * N);
      const y = await whole(p, x.share(p), await ws.whole('w'));
      return { got: await read(p, y), value: await revealRaw(p, y) };
    });
    for (const i of [0, 1, 2]) expect(runs[i].got).toEqual(reference[i].got);
    expect(runs[0].value).toEqual(reference[0].value);
    expect(runs.map((r) => r.spent.rounds)).toEqual([declared.rounds, declared.rounds, declared.rounds]);
    expect(runs.map((r) => r.spent.bytes)).toEqual(declared.bytes);
  });

  // A decoding step's one row (the turn per block skipped) and a prompt's rows.
  it.each([T, 1])('transposed (a tied head): x @ V^T from V [N, K] in row blocks equals matmul on the whole V^T bit for bit; rounds and bytes are matmul\'s declared cost (%i rows)', async (rows) => {
    const xr = rows === T ? x : new FixedInput(encodeFixed(randomFloats(rows * K, -3, 3, 9), DEFAULT_FRAC_BITS), [rows, K]);
    // V = W^T, shared as the owner shares a tensor; the reference turns each party's whole components locally.
    const v = new BigUint64Array(K * N);
    for (let r = 0; r < K; r++) for (let c = 0; c < N; c++) v[c * K + r] = w[r * N + c];
    const manifest: WeightManifest = { modelId: 'v', config: {} as ModelConfig, fracBits: DEFAULT_FRAC_BITS, tensors: [{ name: 'v', shape: [N, K] }] };
    const vb: PartyWeightBundle[] = splitInput(v).map((b) => ({ manifest, bundles: { v: b } }));
    const declared = matmulCost(rows * N);
    const runs = await deterministicRun(async (p) => {
      const ws = new WeightStream(p, bundleWeightSource(vb[p.id]), 3 * K);
      expect(ws.blocks('v')).toHaveLength(4);
      const [r0, b0] = [p.rounds, p.channel.stats.bytesSent];
      const got = await streamedMatmulTransposed(p, ws, 'v', xr.share(p));
      const spent = { rounds: p.rounds - r0, bytes: p.channel.stats.bytesSent - b0 };
      expect(got.shape).toEqual([rows, N]);
      expect(ws.stats).toMatchObject({ liveBlocks: 0, openedWords: K * N });
      return { got: await read(p, got), spent, value: await revealRaw(p, got) };
    });
    const reference = await deterministicRun(async (p) => {
      const whole = await new WeightStream(p, bundleWeightSource(vb[p.id]), K * N).whole('v');
      const turned = aShare([K, N], p.backend.transpose(whole.s0, [N, K], [1, 0]), p.backend.transpose(whole.s1, [N, K], [1, 0]));
      const y = await matmul(p, xr.share(p), turned);
      return { got: await read(p, y), value: await revealRaw(p, y) };
    });
    for (const i of [0, 1, 2]) expect(runs[i].got).toEqual(reference[i].got);
    expect(runs[0].value).toEqual(reference[0].value);
    expect(runs.map((r) => r.spent.rounds)).toEqual([declared.rounds, declared.rounds, declared.rounds]);
    expect(runs.map((r) => r.spent.bytes)).toEqual(declared.bytes);
  });
});

/**
 * Logits (raw ring words) of a prompt pass and one cached decoding step, plus what the stream and source saw;
 * with `cacheBytes` the source carries a weight cache of that budget (fresh per run).
 */
/**
 * One sharing per model object, and one per input, for this file. Passes compared bit for bit must run on the
 * same shares: the narrow comparisons' local downcast rounds each share, so near-ties (the softmax max) may be
 * decided differently on another sharing of the same weights (and were, in one CI run of the tiny GPT-2 case);
 * and a truncation of a replicated share (protocol truncateWrap.ts) rounds by its components' low bits, so its
 * last bit depends on the sharing (the one-hot embedding's product is reshared, not truncated).
 */
const inputSharings = new Map<string, FixedInput>();
function inputSharing(ids: number[], vocab: number): FixedInput {
  const key = `${vocab}:${ids.join(',')}`;
  let input = inputSharings.get(key);
  if (!input) {
    input = new FixedInput(oneHot(ids, vocab), [ids.length, vocab]);
    inputSharings.set(key, input);
  }
  return input;
}

const sharings = new WeakMap<Model, ReturnType<typeof shareWeights>>();
function sharingOf(model: Model): ReturnType<typeof shareWeights> {
  let bundles = sharings.get(model);
  if (!bundles) {
    bundles = shareWeights(model, 'm', DEFAULT_FRAC_BITS);
    sharings.set(model, bundles);
  }
  return bundles;
}

async function twoPasses(model: Model, prompt: number[], next: number, blockWords: number | 'whole', cacheBytes?: number, expand?: SeedExpander, denseFirst = false, reserve = false) {
  const vocab = model.config.vocabSize;
  const bundles = sharingOf(model);
  const inputs = [inputSharing(prompt, vocab), inputSharing([next], vocab)];
  const largest = Math.max(...bundles[0].manifest.tensors.map((t) => sizeOf(t.shape)));
  return deterministicRun(async (p) => {
    // As the stored source reserves (stored-weights.ts): dense words only for parties 1 and 2 when dense-first.
    const sizes = bundles[p.id].manifest.tensors.map((t) => ({ name: t.name, words: sizeOf(t.shape), bytesPerWord: denseFirst && p.id !== 0 ? 8 : 16 }));
    const reserved = reserve && cacheBytes !== undefined ? cacheReservations(sizes, cacheBytes, blockWords === 'whole' ? largest : blockWords) : undefined;
    const blockCache = cacheBytes === undefined ? undefined : new WeightBlockCache(cacheBytes, { denseFirst, reserved });
    const { source, counts } = countingSource({ ...bundleWeightSource(bundles[p.id]), cache: blockCache, expand });
    const m = loadSecureModel(p, source, { blockWords: blockWords === 'whole' ? largest : blockWords });
    const passCounts: SourceCounts[] = [];
    const cache = emptyCache();
    const logits: BigUint64Array[] = [];
    for (const x of inputs) {
      const h = await secureHidden(p, m, x.share(p), cache.length, cache);
      logits.push(await revealRaw(p, await secureLastLogits(p, m, h)));
      passCounts.push({ ...counts });
    }
    return { logits, stats: { ...m.weights.stats }, counts: { ...counts }, passCounts, cache: blockCache && { ...blockCache.stats }, blockCache, stream: m.weights };
  });
}

/** Largest block the stream cuts: a whole row when a row exceeds blockWords, else whole rows up to blockWords. */
function largestBlock(model: Model, blockWords: number): number {
  const bundles = sharingOf(model);
  return Math.max(...bundles[0].manifest.tensors.map((t) => {
    const row = sizeOf(t.shape.slice(1));
    return Math.max(1, Math.floor(blockWords / row)) * row;
  }));
}

/** Words the tied head reads again from the token embedding each pass (0 for an untied head). */
function tiedHeadWords(model: Model): number {
  return model.config.tiedHead ? sizeOf(model.weights.embeddings.token.shape) : 0;
}

/** The model with its head as a tensor of its own (the head weight copied out of the embedding). */
function untied(model: Model): Model {
  const head = model.weights.head;
  if (head.kind !== 'lm') throw new Error('untied: an LM head is needed');
  const weight = { shape: [...head.weight.shape], data: Float32Array.from(head.weight.data) };
  return { ...model, config: { ...model.config, tiedHead: false }, weights: { ...model.weights, head: { ...head, weight, tied: false } } } as Model;
}

async function tinyGpt2(): Promise<Model> {
  const dir = path.join(tmp, 'tiny-gpt2');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tinyGpt2Config()));
  writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(asWritable(tinyGpt2Checkpoint())));
  return (await loadModel(dir)).model;
}

/** Blocks of the token embedding the run's weight cache holds. */
function embCached(r: { stream: WeightStream; blockCache?: WeightBlockCache }): number {
  return r.stream.blocks('emb.token').filter(([s, e]) => r.blockCache!.has(`emb.token@${s}:${e}`)).length;
}

describe('a secure pass over streamed weights', () => {
  it('stories260K: blocks of 256 words give the logits of the whole-tensor pass bit for bit; at most 2 blocks resident, each read once per pass, seeds never read as dense', async () => {
    const { model } = await loadModel('stories260K');
    const prompt = STORIES_REFERENCE_TOKENS.slice(0, 5);
    const next = STORIES_REFERENCE_TOKENS[5];
    const blockWords = 256;
    const [streamed, whole] = [await twoPasses(model, prompt, next, blockWords), await twoPasses(model, prompt, next, 'whole')];
    expect(streamed[0].logits).toEqual(whole[0].logits);
    const modelWords = sharingOf(model)[0].manifest.tensors.reduce((s, t) => s + sizeOf(t.shape), 0);
    const bound = 2 * largestBlock(model, blockWords);
    // stories260K's head is tied: its logits multiply by the token embedding's share, opened a second time.
    const perPass = modelWords + tiedHeadWords(model);
    expect(tiedHeadWords(model)).toBeGreaterThan(0);
    for (const [id, r] of streamed.entries()) {
      expect(r.stats.peakLiveBlocks).toBeLessThanOrEqual(2);
      expect(r.stats.liveBlocks).toBe(0);
      expect(r.stats.peakLiveWords).toBeLessThanOrEqual(bound);
      // Every weight word opened once per pass, the token embedding twice (stories260K has no position table: whole tensors every pass).
      expect(r.stats.openedWords).toBe(2 * perPass);
      // Party 0's components are both PRG-derived: nothing dense is read. Parties 1 and 2 read their one dense component as often.
      expect(r.counts.denseWords).toBe(id === 0 ? 0 : 2 * perPass);
      // Seeds are read once per tensor and kept (40-72 bytes each); their expansions are not.
      expect(r.counts.seedReads).toBe(r.stream.manifest.tensors.length);
    }
    expect(bound).toBeLessThan(modelWords / 10);
  }, 120_000);

  it('tiny GPT-2 (learned positions, biases, LayerNorm, tied head): blocks of 8 words give the whole-tensor logits bit for bit, at most 2 blocks resident', async () => {
    const model = await tinyGpt2();
    const [streamed, whole] = [await twoPasses(model, [1, 5, 7, 2], 9, 8), await twoPasses(model, [1, 5, 7, 2], 9, 'whole')];
    expect(streamed[0].logits).toEqual(whole[0].logits);
    for (const r of streamed) {
      expect(r.stats.peakLiveBlocks).toBeLessThanOrEqual(2);
      expect(r.stats.liveBlocks).toBe(0);
      expect(r.stats.peakLiveWords).toBeLessThanOrEqual(2 * largestBlock(model, 8));
    }
  }, 60_000);

  it('stories260K with a weight cache holding the whole share: the second pass reads nothing from the source, logits equal the uncached pass bit for bit', async () => {
    const { model } = await loadModel('stories260K');
    const prompt = STORIES_REFERENCE_TOKENS.slice(0, 5);
    const next = STORIES_REFERENCE_TOKENS[5];
    const manifest = sharingOf(model)[0].manifest;
    const budget = expandedShareBytes(manifest);
    const [cached, uncached] = [await twoPasses(model, prompt, next, 256, budget), await twoPasses(model, prompt, next, 256)];
    expect(cached[0].logits).toEqual(uncached[0].logits);
    const modelWords = manifest.tensors.reduce((s, t) => s + sizeOf(t.shape), 0);
    for (const [id, r] of cached.entries()) {
      // Pass 1 reads every dense word once; pass 2 reads nothing (parties 1, 2) and expands nothing.
      expect(r.passCounts[0].denseWords).toBe(id === 0 ? 0 : modelWords);
      expect(r.passCounts[1]).toEqual(r.passCounts[0]);
      expect(r.cache!.bytes).toBe(budget);
      expect(r.cache!.misses).toBe(r.cache!.blocks);
      // Pass 2 hits every block; the tied head hits the embedding's blocks in both passes.
      expect(r.cache!.hits).toBe(r.cache!.blocks + 2 * r.stream.blocks('emb.token').length);
      expect(r.stats.liveBlocks).toBe(0);
    }
  }, 120_000);

  it('stories260K with a weight cache of a third of the share: it holds at most its budget, the first blocks in pass order; the rest streams every pass, logits unchanged', async () => {
    const { model } = await loadModel('stories260K');
    const prompt = STORIES_REFERENCE_TOKENS.slice(0, 5);
    const next = STORIES_REFERENCE_TOKENS[5];
    const manifest = sharingOf(model)[0].manifest;
    const budget = Math.floor(expandedShareBytes(manifest) / 3);
    const [cached, uncached] = [await twoPasses(model, prompt, next, 256, budget), await twoPasses(model, prompt, next, 256)];
    expect(cached[0].logits).toEqual(uncached[0].logits);
    for (const [id, r] of cached.entries()) {
      expect(r.cache!.bytes).toBeLessThanOrEqual(budget);
      // Filled in pass order until the next block no longer fits: within one block (256 words, two components) of the budget.
      expect(r.cache!.bytes).toBeGreaterThan(budget - 16 * largestBlock(model, 256));
      // The token embedding comes first in pass order, so it is cached; the tied head hits it in both passes.
      expect(embCached(r)).toBe(r.stream.blocks('emb.token').length);
      expect(r.cache!.hits).toBe(r.cache!.blocks + 2 * embCached(r));
      const secondPassDense = r.passCounts[1].denseWords - r.passCounts[0].denseWords;
      if (id === 0) {
        expect(secondPassDense).toBe(0);
      } else {
        // The cached blocks are not read again: pass 2 reads what pass 1 read, less the cache's words.
        expect(secondPassDense).toBe(r.passCounts[0].denseWords - r.cache!.bytes / 16);
      }
    }
  }, 120_000);

  it('stories260K with a dense-first weight cache of a third of the share: parties 1 and 2 keep only dense words, so pass 2 reads twice as much less from the source; logits unchanged', async () => {
    const { model } = await loadModel('stories260K');
    const prompt = STORIES_REFERENCE_TOKENS.slice(0, 5);
    const next = STORIES_REFERENCE_TOKENS[5];
    const manifest = sharingOf(model)[0].manifest;
    const budget = Math.floor(expandedShareBytes(manifest) / 3);
    const [cached, uncached] = [await twoPasses(model, prompt, next, 256, budget, undefined, true), await twoPasses(model, prompt, next, 256)];
    expect(cached[0].logits).toEqual(uncached[0].logits);
    expect(cached[1].logits).toEqual(uncached[1].logits);
    for (const [id, r] of cached.entries()) {
      expect(r.cache!.bytes).toBeLessThanOrEqual(budget);
      // Party 0 has no dense component and keeps both expanded (16 bytes a word), the others 8 bytes a word.
      const perWord = id === 0 ? 16 : 8;
      expect(r.cache!.bytes).toBeGreaterThan(budget - perWord * largestBlock(model, 256));
      // The token embedding comes first in pass order, so it is cached; the tied head hits it in both passes.
      expect(embCached(r)).toBe(r.stream.blocks('emb.token').length);
      expect(r.cache!.hits).toBe(r.cache!.blocks + 2 * embCached(r));
      const secondPassDense = r.passCounts[1].denseWords - r.passCounts[0].denseWords;
      expect(secondPassDense).toBe(id === 0 ? 0 : r.passCounts[0].denseWords - r.cache!.bytes / 8);
      expect(r.stats.liveBlocks).toBe(0);
      expect(r.stats.peakLiveBlocks).toBeLessThanOrEqual(2);
    }
  }, 120_000);

  it('stories260K with an untied head, a dense-first cache of a third of the share and reservations: the head, last in the pass, is cached whole (it is not without them); pass 2 reads the rest; logits unchanged', async () => {
    const model = untied((await loadModel('stories260K')).model);
    const prompt = STORIES_REFERENCE_TOKENS.slice(0, 5);
    const next = STORIES_REFERENCE_TOKENS[5];
    const budget = Math.floor(expandedShareBytes(sharingOf(model)[0].manifest) / 3);
    const [reserved, inOrder, uncached] = [
      await twoPasses(model, prompt, next, 256, budget, undefined, true, true),
      await twoPasses(model, prompt, next, 256, budget, undefined, true),
      await twoPasses(model, prompt, next, 256),
    ];
    expect(reserved[0].logits).toEqual(uncached[0].logits);
    expect(reserved[1].logits).toEqual(uncached[1].logits);
    const headCached = (r: (typeof reserved)[number]) => r.stream.blocks('head.w').filter(([s, e]) => r.blockCache!.has(`head.w@${s}:${e}`)).length;
    for (const [id, r] of reserved.entries()) {
      expect(r.cache!.bytes).toBeLessThanOrEqual(budget);
      expect(headCached(r)).toBe(r.stream.blocks('head.w').length);
      expect(headCached(inOrder[id])).toBe(0);
      const secondPassDense = r.passCounts[1].denseWords - r.passCounts[0].denseWords;
      expect(secondPassDense).toBe(id === 0 ? 0 : r.passCounts[0].denseWords - r.cache!.bytes / 8);
      expect(r.stats.peakLiveBlocks).toBeLessThanOrEqual(2);
    }
  }, 180_000);

  it('tiny GPT-2 with a source that expands seeds on the host: every PRG component comes from it, logits equal the backend-prg pass bit for bit', async () => {
    const model = await tinyGpt2();
    let expandedWords = 0;
    // The reference ChaCha20 of the ring package, from the block that holds word `offset`.
    const expand: SeedExpander = (seed, offset, n, into) => {
      expandedWords += n;
      expect(into.length).toBe(n);
      const skip = offset % 8;
      into.set(chachaWords(seed, SEED_NONCE, skip + n, (offset - skip) / 8).subarray(skip));
    };
    const [host, backend] = [await twoPasses(model, [1, 5, 7, 2], 9, 8, undefined, expand), await twoPasses(model, [1, 5, 7, 2], 9, 8)];
    expect(host[0].logits).toEqual(backend[0].logits);
    // Party 0 expands both components of every opened word, parties 1 and 2 one.
    expect(expandedWords).toBe(host.reduce((s, r, id) => s + (id === 0 ? 2 : 1) * r.stats.openedWords, 0));
  }, 60_000);

  it('a weight cache budget or cap that is not a whole number of bytes >= 0 is refused, naming it; the budget is the share when it is smaller than the cap', () => {
    const manifest: WeightManifest = { modelId: 'w', config: {} as ModelConfig, fracBits: DEFAULT_FRAC_BITS, tensors: [{ name: 'w', shape: [3, 5] }] };
    expect(() => new WeightBlockCache(-1)).toThrow('weight cache budget must be a whole number of bytes >= 0, got -1');
    expect(() => weightCacheBudget(manifest, 1.5)).toThrow('weight cache cap must be a whole number of bytes >= 0, got 1.5');
    expect(weightCacheBudget(manifest, 1000)).toBe(16 * 15);
    expect(weightCacheBudget(manifest, 100)).toBe(100);
    const cache = new WeightBlockCache(16 * 4);
    expect(cache.offer('a', { s0: new BigUint64Array(3), s1: new BigUint64Array(3) })).toBe(true);
    expect(cache.offer('b', { s0: new BigUint64Array(2), s1: new BigUint64Array(2) })).toBe(false);
    // One component (dense-first) takes half the room.
    expect(cache.offer('d', { s1: new BigUint64Array(1) })).toBe(true);
    expect(() => cache.offer('c', { s0: new BigUint64Array(1), s1: new BigUint64Array(2) })).toThrow('weight cache: block c has components of 1 and 2 words');
    expect(() => cache.offer('e', {})).toThrow('weight cache: block e offered without a component');
    expect(cache.stats).toEqual({ blocks: 2, bytes: 56, hits: 0, misses: 0 });
  });

  it('a source that fails names the tensor, and the stream keeps nothing open', async () => {
    const { model } = await loadModel('stories260K');
    const bundles = sharingOf(model);
    const input = new FixedInput(oneHot([1, 2], model.config.vocabSize), [2, model.config.vocabSize]);
    const results = await deterministicRun(async (p) => {
      const inner = bundleWeightSource(bundles[p.id]);
      const failing = { ...inner, seeds: async (t: string) => (t === 'l1.w2.w' ? Promise.reject(new Error(`test store lost ${t}`)) : inner.seeds(t)) };
      const m = loadSecureModel(p, failing);
      const err = await secureHidden(p, m, input.share(p), 0, null).then(() => null, (e: Error) => e.message);
      return { err, live: m.weights.stats.liveBlocks };
    });
    for (const r of results) expect(r).toEqual({ err: 'test store lost l1.w2.w', live: 0 });
  }, 60_000);
});

describe('reading ahead across tensors', () => {
  /** Three dense tensors (no seeds: both components are the dense words), 16-word blocks: A two blocks, B one, C two. */
  const manifest: WeightManifest = {
    modelId: 'read-ahead', config: {} as ModelConfig, fracBits: DEFAULT_FRAC_BITS,
    tensors: [{ name: 'A', shape: [4, 8] }, { name: 'B', shape: [2, 8] }, { name: 'C', shape: [3, 8] }],
  };
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

  it('the first pass reads ahead in the manifest\'s order, later passes in the order the first pass used; a wrong guess is dropped, at most two blocks live', async () => {
    const logs = await deterministicRun(async (p) => {
      const log: string[] = [];
      const source = {
        manifest,
        seeds: async () => ({}),
        dense: async (tensor: string, start: number, count: number) => {
          log.push(`read ${tensor}@${start}+${count}`);
          return new BigUint64Array(count);
        },
      };
      const stream = new WeightStream(p, source, 16);
      const use = async (name: string, start: number, end: number) => {
        await tick();
        log.push(`open ${name}${start}`);
        stream.close(await stream.rows(name, start, end));
      };
      // The first pass takes C before B, unlike the manifest.
      for (let pass = 0; pass < 2; pass++) {
        stream.beginPass();
        log.push(`pass ${pass}`);
        await use('A', 0, 2);
        await use('A', 2, 4);
        await use('C', 0, 2);
        await use('C', 2, 3);
        await use('B', 0, 2);
        await tick();
      }
      return { log, peak: stream.stats.peakLiveBlocks, live: stream.stats.liveBlocks };
    });
    for (const { log, peak, live } of logs) {
      expect(log).toEqual([
        'pass 0',
        // A's first block is read when opened; A's second ahead of it (the next row block), then B (the manifest's
        // next tensor), which the pass does not take next: dropped when C opens, read again when B opens.
        'open A0', 'read A@0+16', 'read A@16+16', 'open A2', 'read B@0+16',
        'open C0', 'read C@0+16', 'read C@16+8', 'open C2',
        // C is the manifest's last tensor: nothing is guessed after it. After B, C's first block is (the manifest's
        // next), and dropped when the next pass opens A instead.
        'open B0', 'read B@0+16', 'read C@0+16',
        'pass 1',
        // Every block now follows the first pass's order: C after A, B after C, nothing after B (A is not read
        // ahead across passes: the pass's first block is read when opened).
        'open A0', 'read A@0+16', 'read A@16+16', 'open A2', 'read C@0+16',
        'open C0', 'read C@16+8', 'open C2', 'read B@0+16',
        'open B0',
      ]);
      expect(peak).toBeLessThanOrEqual(2);
      expect(live).toBe(0);
    }
  });
});
