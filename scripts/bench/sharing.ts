/**
 * `npm run bench -- sharing [--json] [--reps N] [--only stories260K,gpt2-shakespeare,gpt2-base] [--one-thread] [--before]`: the
 * model owner's sharing (issue 13): time to split and hash every part of all three parties' shares, and the
 * process's peak memory, for stories260K, gpt2-shakespeare (13.7 M secure-pass weights) and a GPT-2-base-shaped
 * model (random weights, models-synthetic.ts; 163 M with the tied head's own copy). Each run is a
 * fresh process (sharing-run.ts); the row gives the median of N runs (default 3) and the largest peak.
 * --one-thread adds N runs of the streamed sharing without its helper thread; --before adds one run of the
 * JavaScript path the streamed one replaced (slow: minutes for GPT-2-base).
 * Target: GPT-2-base in <= 10 s in Node. Run it under the bench lock (the GPT-2-base shape takes about 2 GB).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median, type BenchRow, type BenchSuite } from './report.ts';

const RUNNER = fileURLToPath(new URL('./sharing-run.ts', import.meta.url));
const MODELS = ['stories260K', 'gpt2-shakespeare', 'gpt2-base'] as const;
const TARGET_MS = { 'gpt2-base': 10_000 } as Record<string, number>;

interface RunResult {
  model: string;
  mode: string;
  ms: number;
  cpuMs: number;
  words: number;
  helperWords?: number;
  parts: number;
  bytes: number;
  baselineMiB: number;
  peakMiB: number;
}

function option(args: string[], name: string): string | undefined {
  const a = args.find((x) => x === `--${name}` || x.startsWith(`--${name}=`));
  if (a === undefined) return undefined;
  if (a === `--${name}`) throw new Error(`--${name} needs a value`);
  return a.slice(name.length + 3);
}

function runChild(model: string, mode: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, model, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(signal ? `${model} ${mode}: killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory?)' : ''}` : `${model} ${mode}: exited with code ${code}`));
        return;
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as RunResult);
      } catch (e) {
        reject(new Error(`${model} ${mode}: unreadable result (${(e as Error).message})`));
      }
    });
  });
}

const sharing: BenchSuite = async ({ args }) => {
  const reps = Number(option(args, 'reps') ?? 3);
  if (!Number.isInteger(reps) || reps < 1 || reps > 20) throw new Error(`--reps must be an integer in [1, 20], got ${option(args, 'reps')}`);
  const only = option(args, 'only')?.split(',') ?? [...MODELS];
  for (const m of only) if (!(MODELS as readonly string[]).includes(m)) throw new Error(`unknown model "${m}" for --only; choose from ${MODELS.join(', ')}`);
  const modes: Array<[string, number]> = [
    ['streamed', reps],
    ...(args.includes('--one-thread') ? [['one-thread', reps] as [string, number]] : []),
    ...(args.includes('--before') ? [['js', 1] as [string, number]] : []),
  ];
  const rows: BenchRow[] = [];
  for (const model of only) {
    for (const [mode, n] of modes) {
      const runs: RunResult[] = [];
      for (let i = 0; i < n; i++) {
        console.error(`sharing: ${model} ${mode} run ${i + 1} of ${n}`);
        runs.push(await runChild(model, mode));
      }
      const ms = median(runs.map((r) => r.ms));
      const target = TARGET_MS[model];
      rows.push({
        name: `owner sharing (${{ streamed: 'streamed, wasm, two threads', 'one-thread': 'streamed, wasm, one thread', js: 'JavaScript, before' }[mode]})`,
        size: model,
        runs: n,
        medianMs: Math.round(ms),
        // CPU time of all the process's threads per weight: what other processes' load inflates least.
        cpuNsPerWeight: Number(((median(runs.map((r) => r.cpuMs)) * 1e6) / runs[0].words).toFixed(1)),
        ...(mode === 'streamed' ? { helperShare: Number((median(runs.map((r) => r.helperWords ?? 0)) / runs[0].words).toFixed(2)) } : {}),
        parts: runs[0].parts,
        shareBytes: runs[0].bytes,
        modelMiB: Math.round(Math.max(...runs.map((r) => r.baselineMiB))),
        peakMiB: Math.round(Math.max(...runs.map((r) => r.peakMiB))),
        ...(target !== undefined && mode === 'streamed' ? { target: `<= ${target / 1000} s: ${ms <= target ? 'met' : 'missed'}` } : {}),
      });
    }
  }
  return rows;
};

export default sharing;
