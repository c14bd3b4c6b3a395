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
