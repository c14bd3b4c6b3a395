/**
 * `puma eval`: the model run securely (three parties in worker threads) and in float64 on the same evaluation
 * file, and the numbers that say whether the secure run is plaintext-level:
 * - classifiers (BERT) on a JSON-lines file of {"text", "label"}: accuracy of both, label agreement, max
 *   logit error;
 * - language models (GPT-2, LLaMA) on a text file: perplexity of both over non-overlapping windows (the
 *   plaintext evaluation's windowing), top-1 agreement per position.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { DEFAULT_FRAC_BITS } from '@puma/ring';
import { runInThreads } from '@puma/worker';
import { argmax, buildsModelInput, classifySequence, forwardHidden, lmLogits, type Model, type ModelInputTokenizer } from '@puma/models';
import { loadModel } from '@puma/models/node';
import {
  classifyManyClient, compareClassifier, compareLm, scoreClient, scoreLogits, shareWeights, type ClassifyManyArgs, type PositionScores, type ScoreArgs,
} from '@puma/models/secure';
import { intOption, required, runCommand, usageError } from './session-endpoint.ts';

const PROGRAMS = new URL('../../../packages/models/src/secure/evaluation.ts', import.meta.url).href;

export const EVAL_USAGE = `usage: puma eval --model <dir|name> --data <file> [--limit N] [--window-size W] [--json]
  classifier: --data is JSON lines {"text", "label"}; --limit examples (default all)
  language model: --data is text; --limit windows of W tokens (default 16 windows of min(256, positions))`;

interface Example {
  text: string;
  label: number;
}

function parseExamples(text: string, file: string, labels: number): Example[] {
  return text.split('\n').flatMap((line, i) => {
    if (line.trim() === '') return [];
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${i + 1}: not valid JSON`);
    }
    const { text: t, label } = (e ?? {}) as Partial<Example>;
    if (typeof t !== 'string' || !Number.isInteger(label) || label! < 0 || label! >= labels) {
      throw new Error(`${file}:${i + 1}: expected {"text": string, "label": integer in [0, ${labels})}`);
    }
    return [{ text: t, label: label! }];
  });
}

function progressBar(json: boolean, what: string, total: number): cliProgress.SingleBar | null {
  if (json) return null;
  const bar = new cliProgress.SingleBar({ format: `secure eval |{bar}| {value}/{total} ${what} | {note}`, hideCursor: true }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { note: '' });
  return bar;
}

async function evalClassifier(model: Model, tok: ModelInputTokenizer, modelId: string, examples: Example[], json: boolean) {
  const encoded = examples.map((e) => tok.encodeForModel(e.text, undefined, model.config.maxPositions));
  const bundles = shareWeights(model, modelId, DEFAULT_FRAC_BITS);
  const plain = encoded.map((e) => classifySequence(model, e));
  const bar = progressBar(json, 'examples', examples.length);
  let agree = 0;
  const t0 = performance.now();
  const run = await runInThreads<ClassifyManyArgs, { rounds: number; bytesSent: number }>({
    module: PROGRAMS,
    exportName: 'classifyManyParty',
    args: (i) => ({ job: 0, weights: bundles[i], lengths: encoded.map((e) => e.ids.length) }),
    fracBits: DEFAULT_FRAC_BITS,
    client: (ch) => classifyManyClient(ch, {
      job: 0, examples: encoded.map((e) => e.ids), vocab: model.config.vocabSize,
      onExample: (i, logits) => {
        if (argmax(logits) === argmax(plain[i])) agree++;
        bar?.update(i + 1, { note: `label agreement ${((100 * agree) / (i + 1)).toFixed(1)}%` });
      },
    }),
  });
  bar?.stop();
  const cmp = compareClassifier(run.client as Float64Array[], plain, examples.map((e) => e.label));
  return { kind: 'classifier' as const, ...cmp, stats: stats(run.stats, t0) };
}

async function evalLm(model: Model, ids: number[], modelId: string, windows: number, W: number, json: boolean) {
  const vocab = model.config.vocabSize;
  const plain: PositionScores[] = Array.from({ length: windows }, (_, w) =>
    scoreLogits(lmLogits(model, forwardHidden(model, ids.slice(w * W, w * W + W)), W), ids.slice(w * W + 1, w * W + W + 1), vocab));
  const bundles = shareWeights(model, modelId, DEFAULT_FRAC_BITS);
  const bar = progressBar(json, `windows of ${W}`, windows);
  const t0 = performance.now();
  const run = await runInThreads<ScoreArgs, { rounds: number; bytesSent: number }>({
    module: PROGRAMS,
    exportName: 'scoreParty',
    args: (i) => ({ job: 0, weights: bundles[i], windows, windowSize: W }),
    fracBits: DEFAULT_FRAC_BITS,
    client: (ch) => scoreClient(ch, {
      job: 0, ids, windows, windowSize: W, vocab,
      onWindow: (w, s) => {
        const c = compareLm([s], [plain[w]]);
        bar?.update(w + 1, { note: `window ${w}: top-1 agreement ${(100 * c.top1Agreement).toFixed(1)}%, ppl ${c.securePerplexity.toFixed(2)} vs ${c.plaintextPerplexity.toFixed(2)}` });
      },
    }),
  });
  bar?.stop();
  const cmp = compareLm(run.client as PositionScores[], plain);
  return { kind: 'lm' as const, windows, windowSize: W, ...cmp, stats: stats(run.stats, t0) };
}

function stats(s: Array<{ bytesSent: number; rounds: number }>, t0: number) {
  return { bytesPerParty: s.map((x) => x.bytesSent), rounds: s[0].rounds, seconds: (performance.now() - t0) / 1000 };
}

export function evalCommand(argv: string[]): Promise<number> {
  return runCommand('eval', EVAL_USAGE, async () => {
    const { values } = parseArgs({
      args: argv,
      options: { model: { type: 'string' }, data: { type: 'string' }, limit: { type: 'string' }, 'window-size': { type: 'string' }, json: { type: 'boolean', default: false } },
    });
    const dataFile = required(values.data, 'data');
    const { model, tokenizer, location } = await loadModel(required(values.model, 'model'));
    if (!tokenizer) usageError(`no tokenizer files next to ${location.weights}`);
    const data = await readFile(dataFile, 'utf8').catch((e: NodeJS.ErrnoException) => usageError(`--data ${dataFile}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`));
    const head = model.weights.head.kind;
    let result;
    if (head === 'classifier') {
      if (!buildsModelInput(tokenizer)) usageError(`${location.name} needs a BERT tokenizer (tokenizer.json or a WordPiece vocab.txt)`);
      const all = parseExamples(data, dataFile, model.config.numLabels ?? 2);
      if (all.length === 0) usageError(`--data ${dataFile} holds no examples`);
      const limit = intOption(values.limit, 'limit', all.length, 1, all.length);
      result = await evalClassifier(model, tokenizer, location.name, all.slice(0, limit), values.json);
    } else if (head === 'lm') {
      const W = intOption(values['window-size'], 'window-size', Math.min(256, model.config.maxPositions), 2, model.config.maxPositions);
      const ids = tokenizer.encode(data);
      const available = Math.floor((ids.length - 1) / W);
      if (available < 1) usageError(`--data ${dataFile} has ${ids.length} tokens, fewer than one window of ${W} plus its target`);
      const windows = intOption(values.limit, 'limit', Math.min(16, available), 1, available);
      result = await evalLm(model, ids, location.name, windows, W, values.json);
    } else {
      usageError(`${location.name} has a '${head}' head; eval needs a classifier or a language model`);
    }
    if (values.json) {
      console.log(JSON.stringify(result));
      return;
    }
    const r = result!;
    const gb = (Math.max(...r.stats.bytesPerParty) / 1e9).toFixed(3);
    if (r.kind === 'classifier') {
      console.log(`${r.examples} examples: accuracy secure ${(100 * r.secureAccuracy).toFixed(2)}% vs plaintext ${(100 * r.plaintextAccuracy).toFixed(2)}%, label agreement ${(100 * r.labelAgreement).toFixed(2)}%, max logit error ${r.maxLogitError.toExponential(2)}`);
    } else {
      console.log(`${r.windows} windows of ${r.windowSize} (${r.positions} positions): perplexity secure ${r.securePerplexity.toFixed(3)} vs plaintext ${r.plaintextPerplexity.toFixed(3)} (${(100 * r.perplexityRelError).toFixed(3)}% apart), top-1 agreement ${(100 * r.top1Agreement).toFixed(2)}%`);
    }
    console.log(`cost: ${r.stats.seconds.toFixed(1)} s, ${gb} GB sent by the busiest party, ${r.stats.rounds} rounds`);
  });
}
