/**
 * `npm run bench -- models [--json] [--only a,b] [--llama7b-layers k] [--weight-cache-mib N]`: secure inference of whole models with the three parties in
 * worker threads on this machine, one child process per workload (models-run.ts), so each workload's peak
 * memory is its own and a crash costs one row. Workloads: models-workloads.ts.
 *
 * Per workload: the slowest party's inference time, bytes sent per party, rounds, peak memory per party, the
 * float64 reference's time in the same process and the ratio, a breakdown by operation class and by layer
 * (from the busiest party's profile), PUMA's published figures where it reports the shape, projections to two
 * networks, and the targets. Writes bench-results/models.{md,json} and one SVG chart per workload.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WeightTimes } from '@puma/models/secure';
import { machineInfo, type BenchRow, type BenchSuite } from './report.ts';
import {
  checkTargets, dominant, NETWORKS, OP_CLASS_LABELS, OP_CLASSES, PROJECTION_FORMULA, projectSeconds, tokenTimes, type OpClass, type TargetCheck,
} from './models-analysis.ts';
import { layerChartSvg, markdownTable } from './models-render.ts';
import { planVsMeasured } from './models-plan.ts';
import type { WorkloadResult } from './models-run.ts';
import { selectWorkloads, type Workload } from './models-workloads.ts';

const RUNNER = fileURLToPath(new URL('./models-run.ts', import.meta.url));
const OUT_DIR = fileURLToPath(new URL('../../bench-results/', import.meta.url));

/** `--name=value` (bench.ts turns `--name value` into this form); a bare `--name` is an error. */
function optionValue(args: string[], name: string): string | undefined {
  const a = args.find((x) => x === `--${name}` || x.startsWith(`--${name}=`));
  if (a === undefined) return undefined;
  if (a === `--${name}`) throw new Error(`--${name} needs a value`);
  return a.slice(name.length + 3);
}

/** Runs one workload in a child process; its progress bar and errors appear on our stderr. */
function runChild(w: Workload, layers: number | undefined, cacheMiB: string | undefined): Promise<WorkloadResult> {
  return new Promise((resolve, reject) => {
    const extra = [...(w.shapeOnly && layers !== undefined ? [String(layers)] : []), ...(cacheMiB === undefined ? [] : [`--weight-cache-mib=${cacheMiB}`])];
    const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, w.id, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) {
        try {
          resolve(JSON.parse(out.trim().split('\n').pop()!) as WorkloadResult);
        } catch (e) {
          reject(new Error(`${w.id}: unreadable result (${(e as Error).message})`));
        }
      } else {
        reject(new Error(signal ? `${w.id}: killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory?)' : ''}` : `${w.id}: exited with code ${code}`));
      }
    });
  });
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const sec = (ms: number) => (ms / 1000).toFixed(2);
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const orDash = (x: number, f: (v: number) => string) => (Number.isFinite(x) ? f(x) : '—');
const int = (n: number) => Math.round(n).toLocaleString('en-US');

interface Evaluated {
  w: Workload;
  r: WorkloadResult;
  projections: Array<{ network: string; seconds: number }>;
  targets: TargetCheck[];
  loadAvg: number[];
  /** Generation: the client's token times (tokenTimes), computed once for the table, the target and the row. */
  tokens?: ReturnType<typeof tokenTimes>;
}

function evaluate(w: Workload, r: WorkloadResult, loadAvg: number[]): Evaluated {
  const maxBytes = Math.max(...r.bytesPerParty);
  const tokens = r.tokenAtMs?.length ? tokenTimes(r.tokenAtMs) : undefined;
  return {
    w,
    r,
    loadAvg,
    projections: NETWORKS.map((n) => ({ network: n.name, seconds: projectSeconds(r.wallMs / 1000, r.rounds, maxBytes, n) })),
    targets: checkTargets(w.targets, {
      bytesPerParty: maxBytes, rounds: r.rounds, wallSeconds: r.wallMs / 1000, completionSeconds: r.completionMs / 1000,
      msPerToken: tokens?.medianMs ?? Number.NaN,
    }),
    tokens,
  };
}

function perElement(r: WorkloadResult, cls: OpClass): string {
  const n = cls === 'gelu' || cls === 'softmax' || cls === 'norm' ? r.elements[cls] : 0;
  const b = r.breakdown[cls].bytes;
  if (n > 0) return `${(b / n).toFixed(0)} B/element × ${(n / 1e6).toFixed(3)} M elements = ${mb(b)} MB`;
  return `${mb(b)} MB`;
}

/** Which class dominates each missed target, with the arithmetic behind it. */
function diagnose(e: Evaluated): string[] {
  const { r } = e;
  const lines: string[] = [];
  for (const t of e.targets.filter((x) => !x.met)) {
    if (t.key === 'bytesPerParty') {
      const ranked = [...OP_CLASSES].sort((a, b) => r.breakdown[b].bytes - r.breakdown[a].bytes).slice(0, 3);
      lines.push(`- ${r.id}, ${t.what}: measured ${mb(t.measured)} MB (party ${r.busiestParty}). Largest: ${ranked.map((c) => `${OP_CLASS_LABELS[c]} ${perElement(r, c)} (${pct(r.breakdown[c].bytes / t.measured)})`).join('; ')}.`);
    } else if (t.key === 'rounds') {
      const ranked = [...OP_CLASSES].sort((a, b) => r.breakdown[b].rounds - r.breakdown[a].rounds).slice(0, 3);
      lines.push(`- ${r.id}, ${t.what}: measured ${int(t.measured)}. Largest: ${ranked.map((c) => {
        const k = r.breakdown[c];
        return k.calls > 0 ? `${OP_CLASS_LABELS[c]} ${(k.rounds / k.calls).toFixed(1)} rounds/call × ${k.calls} calls = ${int(k.rounds)} (${pct(k.rounds / t.measured)})` : `${OP_CLASS_LABELS[c]} ${int(k.rounds)}`;
      }).join('; ')}.`);
    } else if (t.key === 'msPerToken') {
      lines.push(`- ${r.id}, ${t.what}: measured ${int(t.measured)} ms (median); see "Generated tokens" for where each party's step went.`);
    } else if (t.key === 'wallSeconds') {
      const d = dominant(r.breakdown, 'ms');
      lines.push(`- ${r.id}, ${t.what}: measured ${sec(t.measured * 1000)} s; ${OP_CLASS_LABELS[d.cls]} takes ${sec(d.value)} s (${pct(d.share)}) of the busiest party's time.`);
    } else {
      lines.push(`- ${r.id}, ${t.what}: measured ${sec(t.measured * 1000)} s = model preparation ${sec(r.prepareMs)} s + float64 reference ${sec(r.plaintextMs)} s + owner's weight sharing ${sec(r.shareMs)} s + loading shares ${sec(Math.max(...r.loadMsPerParty))} s + inference ${sec(r.wallMs)} s (+ thread start-up).`);
    }
  }
  return lines;
}

function markdown(results: Evaluated[], failures: string[]): string {
  const m = machineInfo();
  const out: string[] = [
    `# bench models — ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, node ${m.node}`,
    '',
    'Three parties in worker threads of one process per workload (the cores are shared by all three parties and by anything else running on the machine, so times are noisy; the 1-minute load average before each workload is listed). Weights are streamed: the owner writes each party\'s share parts to that party\'s own directory store in a temporary folder (removed afterwards), and each party reads them back block by block during the pass (sha256 checked), holding one weight block and a prefetch of the next. Time = from the moment all three parties are ready (the client sends its input then) until the last party is done; it includes reading the shares from disk and regenerating their PRG components. Bytes = sent by each party (max over parties shown). Peak memory per party = high-water mark of V8 heap + external memory (WebAssembly linear memory, ArrayBuffers) of that party\'s thread, sampled every 50 ms.',
    '',
    markdownTable(
      ['workload', 'size', 'wall s', 'float64 s', 'ratio', 'MB sent/party (max)', 'MB sent, 3 parties', 'rounds', 'peak MiB per party', 'process peak RSS MiB', ...NETWORKS.map((n) => `projected s, ${n.name}`), "PUMA's published", 'load avg'],
      results.map(({ r, w, projections, loadAvg }) => [
        r.id, r.size, sec(r.wallMs), orDash(r.plaintextMs, sec), orDash(r.wallMs / r.plaintextMs, (x) => `${x.toFixed(0)}×`), mb(Math.max(...r.bytesPerParty)), mb(r.bytesPerParty.reduce((a, b) => a + b, 0)), int(r.rounds),
        r.peakPartyMiB.join(' / '), int(r.processPeakRssMiB), ...projections.map((p) => p.seconds.toFixed(2)),
        w.puma ? `${w.puma.seconds} s, ${w.puma.gigabytes} GB` : '', loadAvg[0].toFixed(1),
      ]),
    ),
    '',
    `Projections (not measurements): ${PROJECTION_FORMULA}, with compute s = the measured wall time here (which already includes in-process message passing, so the projections are upper bounds for this code on those networks). PUMA's figures: ${results.find((e) => e.w.puma)?.w.puma?.hardware ?? '3 × 32 vCPU, ~5 Gbps, ~1 ms RTT'}, as published.`,
    '',
  ];
  out.push(...extrapolated(results), ...generatedTokens(results), ...planVsMeasured(results.map((e) => e.r).map((r) => (
    // A shape-only row is planned as it ran (its k layers), beside what those k layers measured.
    r.extrapolation ? { ...r, id: `${r.id} (${r.extrapolation.layersMeasured} of ${r.extrapolation.layersTotal} layers, as run)` } : r))));
  const withTargets = results.filter((e) => e.targets.length > 0);
  if (withTargets.length) {
    out.push('## Targets', '', markdownTable(['workload', 'target', 'measured', 'met'], withTargets.flatMap((e) => e.targets.map((t) => [
      e.r.id, t.what, t.key === 'bytesPerParty' ? `${(t.measured / 1e9).toFixed(3)} GB` : t.key === 'rounds' ? int(t.measured) : t.key === 'msPerToken' ? `${int(t.measured)} ms` : `${t.measured.toFixed(1)} s`, t.met ? 'yes' : '**no**',
    ]))), '');
    const missed = withTargets.flatMap(diagnose);
    if (missed.length) out.push('Where a target is missed:', '', ...missed, '');
  }
  out.push(
    '## By operation class (busiest party)',
    '',
    'matmul and truncation are one fused protocol; its bytes and rounds are split by the declared costs (the raw product: 1 round, 1 word per output per party; the rest is truncation), its time is measured (the truncation step vs. the local products). "other": input sharing, the pooler\'s tanh, local work outside the profiled spans.',
    '',
  );
  for (const { r } of results) {
    const total = Math.max(...r.bytesPerParty);
    out.push(`### ${r.id} (party ${r.busiestParty})`, '', markdownTable(['class', 'MB sent', 'share', 'rounds', 'calls', 's'], OP_CLASSES.map((c) => {
      const k = r.breakdown[c];
      return [OP_CLASS_LABELS[c], mb(k.bytes), pct(k.bytes / total), int(k.rounds), int(k.calls), sec(k.ms)];
    })), '');
  }
  out.push('## By layer (busiest party)', '');
  for (const { r } of results) {
    out.push(`### ${r.id}`, '', `![${r.id}](models-${r.id}.svg)`, '', markdownTable(['span', 'MB sent', 'rounds', 's'], r.byLayer.map((l) => [l.name, mb(l.bytes), int(l.rounds), sec(l.ms)])), '');
  }
  out.push('## Checks and phases', '', markdownTable(
    ['workload', 'weights', 'parameters', 'secure vs float64', 'prepare s', "owner's sharing to disk s", 'share parts on disk, 3 parties GB', 'whole workload s'],
    results.map(({ r }) => [
      r.id, r.weights, int(r.model.parameters),
      r.check.maxLogitError === null || !Number.isFinite(r.check.maxLogitError) ? 'no float64 reference (shape only)' : `${r.check.tokensMatching ? `tokens ${r.check.tokensMatching}, ` : ''}max logit error ${r.check.maxLogitError.toFixed(4)}`,
      sec(r.prepareMs), sec(r.shareMs), (r.shareBytesOnDisk / 1e9).toFixed(2), sec(r.completionMs),
    ]),
  ), '');
  if (failures.length) out.push('## Failed', '', ...failures.map((f) => `- ${f}`), '');
  return out.join('\n');
}

/**
 * Generations of more than one token: when the client had each token, and per step each party's weight
 * handling (what a generated token costs apart from the prompt's pass).
 */
function generatedTokens(results: Evaluated[]): string[] {
  const rows = results.filter((e) => (e.tokens?.intervalsMs.length ?? 0) > 0);
  if (rows.length === 0) return [];
  const out = [
    '## Generated tokens',
    '',
    'Per step: the client\'s time for that token (the first is the prompt\'s pass, from the moment all parties were ready), its rounds, and for each party (0 / 1 / 2) the weight handling during the step: MB read from its store, then seconds spent hashing (sha256), waiting for reads (not hidden by read-ahead), expanding PRG components and uploading to the backend. Reads and hashing can overlap compute; expansion and upload run on the party\'s thread.',
    '',
  ];
  for (const { r, tokens } of rows) {
    const times = tokens!;
    const steps = r.stepsPerParty ?? [];
    const perParty = (k: number, f: (w: WeightTimes) => string) => steps.map((s) => (s[k] ? f(s[k].weights) : '—')).join(' / ');
    out.push(`### ${r.id}: first token ${sec(times.firstMs)} s, then ${int(times.medianMs)} ms per token (median of ${times.intervalsMs.length})`, '', markdownTable(
      ['step', 'client s', 'rounds', 'MB read', 'sha256 s', 'waited s', 'expand s', 'upload s'],
      r.tokenAtMs!.map((_, k) => [
        String(k), sec(k === 0 ? times.firstMs : times.intervalsMs[k - 1]), steps[0]?.[k] ? int(steps[0][k].rounds) : '—',
        perParty(k, (w) => mb(w.bytesRead)), perParty(k, (w) => sec(w.hashMs)), perParty(k, (w) => sec(w.waitMs)), perParty(k, (w) => sec(w.expandMs)), perParty(k, (w) => sec(w.uploadMs)),
      ]),
    ), '');
  }
  return out;
}

/** Shape-only rows: what ran (k layers) and the whole model extrapolated per layer, beside PUMA's figures. */
function extrapolated(results: Evaluated[]): string[] {
  const rows = results.filter((e) => e.r.extrapolation);
  if (rows.length === 0) return [];
  return [
    '## Measured k layers + extrapolated',
    '',
    'Shape-only workloads run the embedding, k consecutive layers, the final norm and the head with weights drawn and shared straight to disk; the whole model is extrapolated: time, rounds and bytes = measured + (L − k) × the mean measured layer span (busiest party); peak memory = measured peak + (L − k) × one layer\'s KV cache (the only memory that grows with depth when weights stream). Time is this machine (2 cores shared by three parties and everything else running), not PUMA\'s.',
    '',
    markdownTable(
      ['workload', 'layers measured', 'measured s', 'measured rounds', 'measured MB/party', 'measured peak MiB/party', 'per layer s / rounds / MB', 'extrapolated s', 'extrapolated rounds', 'extrapolated GB/party', 'extrapolated peak MiB/party', "PUMA's published"],
      rows.map(({ r, w }) => {
        const x = r.extrapolation!;
        const target = w.shapeOnly ? ` (target ≤ ${w.shapeOnly.perPartyGiBTarget} GiB: ${x.peakPartyMiB <= w.shapeOnly.perPartyGiBTarget * 1024 ? 'met' : '**missed**'})` : '';
        return [
          r.id, `${x.layersMeasured} of ${x.layersTotal}`, sec(r.wallMs), int(r.rounds), mb(Math.max(...r.bytesPerParty)), r.peakPartyMiB.join(' / '),
          `${sec(x.perLayer.ms)} / ${int(x.perLayer.rounds)} / ${mb(x.perLayer.bytes)}`, sec(x.wallMs), int(x.rounds), (x.bytesPerParty / 1e9).toFixed(3), `${int(x.peakPartyMiB)}${target}`,
          w.puma ? `${w.puma.seconds} s, ${w.puma.gigabytes} GB (${w.puma.hardware})` : '',
        ];
      }),
    ),
    '',
  ];
}

function row(e: Evaluated): BenchRow {
  const { r, w } = e;
  return {
    name: r.id,
    size: r.size,
    rounds: r.rounds,
    bytesPerParty: Math.max(...r.bytesPerParty),
    wallMs: Math.round(r.wallMs),
    // A shape-only row has no plaintext run (its NaN arrives as null from the workload's process): no ratio.
    plaintextMs: r.plaintextMs > 0 ? Math.round(r.plaintextMs) : null,
    slowdown: r.plaintextMs > 0 ? r.wallMs / r.plaintextMs : null,
    peakPartyMiB: Math.max(...r.peakPartyMiB),
    lanProjectedS: e.projections[0].seconds,
    wanProjectedS: e.projections[1].seconds,
    loadAvg1m: e.loadAvg[0],
    bytesPerPartyAll: r.bytesPerParty,
    peakPartyMiBPerParty: r.peakPartyMiB,
    processPeakRssMiB: r.processPeakRssMiB,
    breakdown: r.breakdown,
    byLayer: r.byLayer,
    projections: { formula: PROJECTION_FORMULA, networks: e.projections },
    puma: w.puma,
    targets: e.targets,
    phasesMs: { prepare: r.prepareMs, plaintext: r.plaintextMs, ownerSharing: r.shareMs, loadShares: Math.max(...r.loadMsPerParty), inference: r.wallMs, whole: r.completionMs },
    model: r.model,
    weights: r.weights,
    check: r.check,
    plan: r.plan,
    shareBytesOnDisk: r.shareBytesOnDisk,
    extrapolation: r.extrapolation,
    // One generated token has no interval between tokens: no ms per token (not NaN in the table, null in JSON).
    ...(e.tokens ? { firstTokenMs: e.tokens.firstMs, ...(e.tokens.intervalsMs.length > 0 ? { msPerToken: e.tokens.medianMs } : {}), tokenAtMs: r.tokenAtMs, stepsPerParty: r.stepsPerParty } : {}),
  };
}

const suite: BenchSuite = async ({ json, args }) => {
  const workloads = selectWorkloads(optionValue(args, 'only'));
  const layersOption = optionValue(args, 'llama7b-layers');
  // The parties' weight cache cap (default: a party's default); checked by the runner.
  const cacheMiB = optionValue(args, 'weight-cache-mib');
  const layers = layersOption === undefined ? undefined : Number(layersOption);
  if (layers !== undefined && !(Number.isInteger(layers) && layers >= 1)) throw new Error(`--llama7b-layers must be a positive integer, got ${layersOption}`);
  const results: Evaluated[] = [];
  const failures: string[] = [];
  for (const w of workloads) {
    const loadAvg = os.loadavg();
    try {
      results.push(evaluate(w, await runChild(w, layers, cacheMiB), loadAvg));
    } catch (e) {
      failures.push((e as Error).message);
    }
  }
  const md = markdown(results, failures);
  const rows = [...results.map(row), ...failures.map((f) => ({ name: f.split(':')[0], size: '', error: f }))];
  await mkdir(OUT_DIR, { recursive: true });
  await writeFile(path.join(OUT_DIR, 'models.md'), md);
  await writeFile(path.join(OUT_DIR, 'models.json'), `${JSON.stringify({ suite: 'models', machine: machineInfo(), rows }, null, 2)}\n`);
  for (const { r } of results) {
    await writeFile(path.join(OUT_DIR, `models-${r.id}.svg`), layerChartSvg(`${r.id}: ${r.size} — per layer, party ${r.busiestParty}`, r.byLayer.map((l) => ({ label: l.name, bytes: l.bytes, ms: l.ms }))));
  }
  if (!json) console.log(`\n${md}`);
  console.error(`wrote ${path.relative(process.cwd(), OUT_DIR)}/models.md, models.json and ${results.length} SVG chart(s)`);
  if (failures.length) process.exitCode = 1;
  return rows;
};

export default suite;
