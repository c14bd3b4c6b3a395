import os from 'node:os';

export interface BenchRow {
  name: string;
  size: string;
  rounds?: number;
  bytesPerParty?: number;
  medianMs?: number;
  [extra: string]: unknown;
}
export interface BenchReport {
  machine: Record<string, unknown>;
  rows: BenchRow[];
}
export type BenchSuite = (opts: { json: boolean; args: string[] }) => Promise<BenchRow[]>;

export function machineInfo(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs f `warmup` times unmeasured, then `reps` times, and returns the median wall time in ms. */
export async function timeMedian(f: () => Promise<unknown> | unknown, reps = 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await f();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
  }
  return median(times);
}

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function printReport(suite: string, report: BenchReport, json: boolean): void {
  if (json) {
    console.log(JSON.stringify({ suite, ...report }, null, 2));
    return;
  }
  const cols = [...new Set(report.rows.flatMap((r) => Object.keys(r)).filter((k) => typeof report.rows.find((r) => k in r)?.[k] !== 'object'))];
  const table = [cols, ...report.rows.map((r) => cols.map((c) => fmt(r[c])))];
  const widths = cols.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n## bench ${suite} — ${fmt(report.machine.cpu)}, ${fmt(report.machine.cores)} cores, node ${fmt(report.machine.node)}\n`);
  console.log(line(cols));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of table.slice(1)) console.log(line(row));
}
