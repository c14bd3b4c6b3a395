/**
 * CPU time of this Node process and every process it started (Chromium's browser, network service and
 * renderers), read from /proc, so a bench can say what moving a megabyte between tabs costs in CPU seconds and
 * in which process. Linux only: elsewhere `sample` returns an empty map and the bench reports no CPU figures.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';

/** CPU seconds (user + system) so far, per process, keyed "<kind> <pid>". */
export type CpuSample = Map<string, number>;

const TICKS_PER_SECOND = 100;

function readStat(pid: number): { ppid: number; seconds: number } | null {
  try {
    // Fields after the command name (which may hold spaces), from field 3 (state) on: ppid is 4, utime 14, stime 15.
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ');
    return { ppid: Number(rest[1]), seconds: (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND };
  } catch {
    return null;
  }
}

/** "renderer", "network" (Chromium's network service), "browser", "gpu", "utility" or "node". */
function kindOf(pid: number): string {
  if (pid === process.pid) return 'node';
  let cmd: string;
  try {
    // Chromium rewrites its children's command lines as one space-separated string; Node's keeps NUL separators.
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return 'gone';
  }
  const type = /--type=(\S+)/.exec(cmd)?.[1];
  if (type === undefined) return cmd.includes('chrom') ? 'browser' : 'other';
  if (type === 'utility' && /--utility-sub-type=\S*NetworkService/.test(cmd)) return 'network';
  return type === 'gpu-process' ? 'gpu' : type;
}

/** CPU seconds of this process and its descendants, now. */
export function sampleCpu(): CpuSample {
  const out: CpuSample = new Map();
  if (os.platform() !== 'linux' || !existsSync('/proc/self/stat')) return out;
  const stats = new Map<number, { ppid: number; seconds: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) stats.set(Number(name), s);
  }
  const descends = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 16; p = stats.get(p)?.ppid ?? 0, hops++) if (p === process.pid) return true;
    return false;
  };
  for (const [pid, s] of stats) if (descends(pid)) out.set(`${kindOf(pid)} ${pid}`, s.seconds);
  return out;
}

/** CPU seconds spent between two samples, summed per process kind (processes that started in between count whole). */
export function cpuSpent(before: CpuSample, after: CpuSample): Record<string, number> {
  const byKind: Record<string, number> = {};
  for (const [key, seconds] of after) {
    const kind = key.split(' ')[0];
    byKind[kind] = (byKind[kind] ?? 0) + seconds - (before.get(key) ?? 0);
  }
  return byKind;
}

/** CPU seconds the whole machine has spent busy (every process, user and kernel) since boot; 0 where unknown. */
export function machineBusySeconds(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    const busy = fields.slice(0, 8).reduce((s, v, i) => (i === 3 || i === 4 ? s : s + v), 0);
    return busy / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * Where the CPU went between two readings, as cores: this process tree's by kind, and the whole machine's, so a
 * log line can show how much of the busy machine a session got ("session 0.9 of 2.0 busy cores").
 */
export class CpuMeter {
  private last = { at: performance.now(), tree: sampleCpu(), machine: machineBusySeconds() };

  /** Cores used since the previous call (or construction), and resets. */
  read(): { seconds: number; treeCores: Record<string, number>; machineCores: number } {
    const now = { at: performance.now(), tree: sampleCpu(), machine: machineBusySeconds() };
    const seconds = Math.max((now.at - this.last.at) / 1000, 1e-3);
    const spent = cpuSpent(this.last.tree, now.tree);
    const treeCores = Object.fromEntries(Object.entries(spent).map(([k, s]) => [k, s / seconds]));
    const machineCores = (now.machine - this.last.machine) / seconds;
    this.last = now;
    return { seconds, treeCores, machineCores };
  }
}

/** "session 0.92 cores (renderer 0.51, network 0.30, ...) of 1.98 busy on the machine". */
export function formatCores(r: ReturnType<CpuMeter['read']>): string {
  const kinds = Object.entries(r.treeCores).filter(([, c]) => c >= 0.01).sort((a, b) => b[1] - a[1]);
  const total = kinds.reduce((s, [, c]) => s + c, 0);
  return `session ${total.toFixed(2)} cores (${kinds.map(([k, c]) => `${k} ${c.toFixed(2)}`).join(', ')}) of ${r.machineCores.toFixed(2)} busy on the machine`;
}
