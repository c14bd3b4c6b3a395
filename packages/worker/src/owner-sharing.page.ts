/**
 * The owner's sharing in a Web Worker (browser/owner-sharing-host.ts), watched by a long-task observer: a
 * GPT-2-like model of 11 M weights (random, deterministic) is shared in the worker, then, as a control that
 * shows the observer sees blocking work, on the main thread. Reports the longest main-thread task of each run,
 * the progress calls, and the worker's shares checked here: every part against its manifest's sha256, and
 * the three components of two tensors summed back to the encoded weights. Then a model given as Files (a
 * random LLaMA written as a Hugging Face F16 folder) is loaded in the worker (FileReaderSync, tensor by tensor)
 * and its sharing checked against the same files loaded on this page.
 * Publishes `window.__ownerSharing` for owner-sharing.browser.test.ts (beside this file).
 */
import { gpt2Config, hfLlamaFiles, loadHuggingFace, loadLlama2c, parseSafetensors, transpose2d, validateModel, type LayerWeights, type Linear, type Model, type Norm, type Tensor } from '@puma/models';
import { secureTensors } from '@puma/models/secure';
import { SEED_NONCE } from '@puma/protocol';
import { chachaWords, encodeFixed } from '@puma/ring';
import { OwnerSharingWorker } from './browser/index.ts';
import { bundleFromParts, prepareOwnerShares, sendOrder, sha256Hex, verifyPartyShares, type OwnerShares, type PartRef, type PrepareSharesOptions } from './session/index.ts';

export interface SharingRun {
  ms: number;
  longestTaskMs: number;
  longTasks: number;
  progressCalls: number;
  lastProgress: [number, number] | null;
}

export interface OwnerSharingReport {
  worker?: SharingRun;
  mainThread?: SharingRun;
  parts?: number;
  /** Tensors whose three components were summed and compared with the encoded weights. */
  reconstructed?: Array<{ name: string; elements: number; equal: boolean }>;
  /** Whether the page's model buffers were detached by transferModel. */
  modelDetached?: boolean;
  /** The worker's error for a model with a NaN weight. */
  nanError?: string;
  /** A model loaded in the worker from Files: what it tells the page, and its sharing checked here. */
  fromFiles?: {
    modelId: string; description: string; tokenizer: boolean; configHashMatches: boolean; hashShape: boolean; parts: number; reconstructed: Array<{ name: string; equal: boolean }>;
    /** The worker's error for a share() asked before the domain check. */
    uncheckedShareError: string;
    /** The domain check's outcome in the worker, and the norms whose windows every party's manifest carries as the check gave them. */
    domainOutcome: string;
    windowedNorms: number;
    manifestsCarryWindows: boolean;
  };
  /** The worker's error for Files holding no weights. */
  noWeightsError?: string;
  error?: string;
}

/** xorshift32 uniform values in [-0.05, 0.05). */
function randomValues(n: number, seed: number): Float32Array {
  const data = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 0.1;
  }
  return data;
}

function randomTensor(shape: number[], seed: number): Tensor {
  return { data: randomValues(shape.reduce((a, b) => a * b, 1), seed), shape };
}

/** A random legacy llama2.c checkpoint (7 int32 header fields, then every tensor's floats, shared classifier). */
function llama2cCheckpoint(): Uint8Array {
  const [dim, hidden, layers, heads, kvHeads, vocab, seqLen] = [64, 172, 2, 4, 4, 512, 64];
  const headSize = dim / heads;
  const floats = vocab * dim + layers * (2 * dim + 2 * dim * dim + 2 * kvHeads * headSize * dim + 3 * hidden * dim) + dim + seqLen * headSize;
  const out = new Uint8Array(28 + 4 * floats);
  new Int32Array(out.buffer, 0, 7).set([dim, hidden, layers, heads, kvHeads, vocab, seqLen]);
  new Float32Array(out.buffer, 28).set(randomValues(floats, 7));
  return out;
}

function testModel(): Model {
  const config = gpt2Config({ model_type: 'gpt2', vocab_size: 16384, n_embd: 256, n_layer: 4, n_head: 4, n_positions: 256, activation_function: 'gelu_new' }, 'owner sharing page');
  const d = config.hiddenSize;
  let seed = 1;
  const linear = (i: number, o: number): Linear => ({ weight: randomTensor([i, o], seed++), bias: randomTensor([o], seed++) });
  const norm = (): Norm => ({ kind: 'layernorm', scale: randomTensor([d], seed++), bias: randomTensor([d], seed++), eps: config.normEps });
  const layers: LayerWeights[] = Array.from({ length: config.numLayers }, () => ({
    attnNorm: norm(),
    attn: { q: linear(d, d), k: linear(d, d), v: linear(d, d), o: linear(d, d) },
    mlpNorm: norm(),
    mlp: { kind: 'dense', up: linear(d, config.intermediateSize), down: linear(config.intermediateSize, d) },
  }));
  const token = randomTensor([config.vocabSize, d], seed++);
  const model: Model = {
    config,
    weights: { embeddings: { token, position: randomTensor([config.maxPositions, d], seed++) }, layers, finalNorm: norm(), head: { kind: 'lm', weight: transpose2d(token, 'wte'), tied: true } },
  };
  validateModel(model);
  return model;
}

/**
 * The owner page's way: the worker splits for the manifests and seeds, then makes every part again, one at a
 * time, handed to this page (here all kept, to check them).
 */
async function shareModelInWorker(o: PrepareSharesOptions & { transferModel?: boolean }, worker = new OwnerSharingWorker(o.model, o.transferModel ?? false)): Promise<OwnerShares> {
  try {
    const { shares } = await worker.share(o);
    // In the owner's send order: parties 1 and 2 take each dense part one after the other, made once for both.
    const refs: PartRef[] = sendOrder(shares, shares.parties.map((p) => ({ party: p.manifest.party, parts: p.manifest.parts.map((_, k) => k) })));
    let i = 0;
    for await (const bytes of worker.read(refs)) {
      const r = refs[i++];
      shares.parties[r.party].parts[r.index] = bytes;
    }
    return shares;
  } finally {
    worker.close();
  }
}

/** Runs `share` under a long-task observer (tasks over 50 ms, as the Long Tasks API reports them). */
async function observed(share: (onProgress: (done: number, total: number) => void) => Promise<OwnerShares>): Promise<{ run: SharingRun; shares: OwnerShares }> {
  const tasks: number[] = [];
  let t0 = Infinity;
  // Only tasks that start once the sharing has: the page's own setup (building the test model) is not the sharing's.
  const watch = (entries: PerformanceEntryList) => entries.forEach((e) => e.startTime >= t0 && tasks.push(e.duration));
  const observer = new PerformanceObserver((list) => watch(list.getEntries()));
  observer.observe({ type: 'longtask' });
  // The setup's task ends before the sharing starts in a task of its own.
  await new Promise((r) => setTimeout(r, 0));
  let progressCalls = 0;
  let lastProgress: [number, number] | null = null;
  t0 = performance.now();
  const shares = await share((done, total) => {
    progressCalls += 1;
    lastProgress = [done, total];
  });
  const ms = performance.now() - t0;
  // Long-task entries are delivered after the task; one more turn of the event loop collects the last.
  await new Promise((r) => setTimeout(r, 200));
  watch(observer.takeRecords());
  observer.disconnect();
  return { run: { ms, longestTaskMs: Math.max(0, ...tasks), longTasks: tasks.length, progressCalls, lastProgress }, shares };
}

/** x0 + x1 + x2 mod 2^64 against encodeFixed of the tensor's values. */
function reconstructs(shares: OwnerShares, name: string, values: Float64Array): boolean {
  const [b0, b1] = [0, 1].map((p) => bundleFromParts(shares.parties[p].manifest, shares.parties[p].parts).bundles[name]);
  const x0 = chachaWords(b0.seed0!, SEED_NONCE, values.length);
  const x1 = chachaWords(b0.seed1!, SEED_NONCE, values.length);
  const x = encodeFixed(values, 18);
  return x.every((v, i) => BigInt.asUintN(64, x0[i] + x1[i] + b1.dense![i]) === v);
}

/**
 * The owner page's way of loading: Files handed to the worker, read and parsed there. The sharing it makes is
 * checked against the same files loaded on this page.
 */
async function loadFilesInWorker(report: OwnerSharingReport): Promise<void> {
  const folder = hfLlamaFiles(loadLlama2c(llama2cCheckpoint()), { dtype: 'F16' });
  const files = Object.entries(folder).map(([name, bytes]) => new File([bytes as Uint8Array<ArrayBuffer>], name));
  const onPage = loadHuggingFace(JSON.parse(new TextDecoder().decode(folder['config.json'])), parseSafetensors(folder['model.safetensors']));
  const worker = new OwnerSharingWorker();
  const info = await worker.loadModel({ files });
  const uncheckedShareError = await worker.share({ modelId: info.modelId }).then(() => 'no error', (e: unknown) => (e instanceof Error ? e.message : String(e)));
  const verdict = await worker.checkDomain({ skip: false });
  const windows = verdict.outcome === 'inside' ? verdict.windows : {};
  const shares = await shareModelInWorker({ model: onPage, modelId: info.modelId }, worker);
  for (const p of shares.parties) await verifyPartyShares(p);
  const reference = secureTensors(onPage);
  report.fromFiles = {
    modelId: info.modelId,
    description: info.description,
    tokenizer: info.tokenizer !== undefined,
    configHashMatches: info.weightsHash.endsWith(`+${await sha256Hex(folder['config.json'])}`),
    hashShape: /^[0-9a-f]{64}\+[0-9a-f]{64}$/.test(info.weightsHash),
    parts: shares.parties.reduce((s, p) => s + p.parts.length, 0),
    reconstructed: [reference[0], reference[reference.length - 1], reference[5]].map((t) => ({ name: t.name, equal: reconstructs(shares, t.name, t.data) })),
    uncheckedShareError,
    domainOutcome: verdict.outcome,
    windowedNorms: Object.keys(windows).length,
    manifestsCarryWindows: shares.parties.every((p) => JSON.stringify(p.manifest.config.normWindows) === JSON.stringify(windows)),
  };
  const empty = new OwnerSharingWorker();
  report.noWeightsError = await empty.loadModel({ files: [new File([new Uint8Array(10)], 'tok512.bin')] }).then(() => 'no error', (e: unknown) => (e instanceof Error ? e.message : String(e)));
  empty.close();
}

async function main(): Promise<OwnerSharingReport> {
  const report: OwnerSharingReport = {};
  const reference = new Map(secureTensors(testModel()).map((t) => [t.name, t.data]));
  const model = testModel();
  const inWorker = await observed((onProgress) => shareModelInWorker({ model, modelId: 'owner-page-test', onProgress, transferModel: true }));
  report.worker = inWorker.run;
  report.modelDetached = model.weights.embeddings.token.data.length === 0;
  report.parts = inWorker.shares.parties.reduce((s, p) => s + p.parts.length, 0);
  for (const p of inWorker.shares.parties) await verifyPartyShares(p);
  report.reconstructed = ['l1.qkv.b', 'final.scale'].map((name) => ({ name, elements: reference.get(name)!.length, equal: reconstructs(inWorker.shares, name, reference.get(name)!) }));
  const onMain = await observed((onProgress) => prepareOwnerShares({ model: testModel(), modelId: 'owner-page-test', onProgress }));
  report.mainThread = onMain.run;
  const bad = testModel();
  (bad.weights.layers[2].mlp as { up: Linear }).up.weight.data[5] = NaN;
  report.nanError = await shareModelInWorker({ model: bad, modelId: 'nan' }).then(() => 'no error', (e: unknown) => (e instanceof Error ? e.message : String(e)));
  await loadFilesInWorker(report);
  return report;
}

main().then(
  (r) => ((window as unknown as { __ownerSharing: OwnerSharingReport }).__ownerSharing = r),
  (e: unknown) => ((window as unknown as { __ownerSharing: OwnerSharingReport }).__ownerSharing = { error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) }),
);
