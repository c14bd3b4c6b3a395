/**
 * Peak memory of each role's browser, read from /proc (Linux only). Every role runs in its own Chromium, told
 * apart by its --user-data-dir (a fresh folder per role): the processes descending from that browser are the
 * role's. Two figures per role and run:
 *  - tab: the high-water RSS (VmHWM, kept by the kernel per process) of the role's page renderers, the process
 *    that runs the page and its dedicated workers (WebAssembly heaps included); Chromium's own UI renderers
 *    (--top-chrome-webui) are not counted. RSS counts the shared Chromium code the process maps (~100 MiB);
 *  - browser: the largest sum of PSS (smaps_rollup: shared pages split among their users, so the five browsers'
 *    figures add up) over all the browser's processes (GPU, network and storage services, renderers) seen at one
 *    sample; sampled, so a spike shorter than the interval can be missed.
 * The kernel keeps VmHWM itself, so the tab figure needs only a read before a renderer exits (every second).
 * PSS is read every few seconds only: smaps_rollup walks a process's page tables, and for five browsers with
 * multi-GiB WebAssembly reservations one pass took 1-2.4 s of kernel time here, so sampling it twice a second
 * kept one of the machine's two cores busy during the very runs it measured.
 * A run's figures start at `beginRun`, which resets the renderers' high-water marks; pages are reopened between
 * runs. With a limit, a sample whose browsers together hold more PSS calls `onOverLimit` once.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

export interface RoleMemory {
  tabPeakBytes: number;
  browserPeakBytes: number;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string;
}

const KIB = 1024;

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields after it start past the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return { pid, ppid, cmdline };
  } catch {
    return null; // the process ended between listing and reading
  }
}

/** A "Name:   123 kB" field of /proc/<pid>/status or smaps_rollup, in bytes; null when absent. */
export function kbField(text: string, name: string): number | null {
  const m = text.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * KIB : null;
}

/** A process's VmHWM or PSS in bytes, or null once it has ended. */
function memoryOf(pid: number, figure: 'hwm' | 'pss'): number | null {
  try {
    return figure === 'hwm'
      ? kbField(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmHWM')
      : kbField(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
  } catch {
    return null;
  }
}

function resetHighWater(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch (e) {
    if (existsSync(`/proc/${pid}`)) throw new Error(`cannot reset the peak RSS of process ${pid} (/proc/${pid}/clear_refs): ${(e as Error).message}`);
  }
}

/** Processes in `procs` descending from `root` (root included). */
export function descendants(procs: readonly ProcInfo[], root: number): ProcInfo[] {
  const children = new Map<number, ProcInfo[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out: ProcInfo[] = [];
  const todo = procs.filter((p) => p.pid === root);
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

/** The browser process launched with --user-data-dir=`dir` (its children carry the flag too, and a --type). */
const findBrowser = (procs: readonly ProcInfo[], dir: string) => procs.find((p) => !p.cmdline.includes('--type=') && p.cmdline.includes(`--user-data-dir=${dir} `));

const isPageRenderer = (cmdline: string) => cmdline.includes('--type=renderer') && !cmdline.includes('--top-chrome-webui');

export class MemorySampler {
  private timer: NodeJS.Timeout | null = null;
  /** Per role: tab peak per renderer pid, and the browser-wide peak, since the run began. */
  private runs = new Map<string, { tabs: Map<number, number>; browser: number }>();

  private overLimitCalled = false;
  private lastPssAt = -Infinity;

  /**
   * `profiles`: role name -> the --user-data-dir its browser was launched with. `limitBytes`: the PSS of all the
   * browsers together above which `onOverLimit` is called (with the figure seen). Renderers' VmHWM is read every
   * `intervalMs`, every process's PSS every `pssEveryMs`.
   */
  constructor(
    private readonly profiles: ReadonlyMap<string, string>,
    private readonly limit: { limitBytes: number; onOverLimit: (totalBytes: number) => void } | null = null,
    private readonly intervalMs = 1_000,
    private readonly pssEveryMs = 5_000,
  ) {
    if (process.platform !== 'linux') throw new Error(`the browsers bench reads memory from /proc, which ${process.platform} does not have`);
    this.clearRuns();
  }

  start(): void {
    this.timer = setInterval(() => {
      const now = performance.now();
      const withPss = now - this.lastPssAt >= this.pssEveryMs;
      if (withPss) this.lastPssAt = now;
      this.sample(withPss);
    }, this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Forgets what was seen so far, and resets the high-water mark of every page renderer alive (writing 5 to
   * /proc/<pid>/clear_refs): Chromium hands a new page its idle spare renderer, or reuses a closed page's, so
   * a run's pages may live in processes that existed before it.
   */
  beginRun(): void {
    for (const pid of this.liveRenderers()) resetHighWater(pid);
    this.clearRuns();
  }

  private clearRuns(): void {
    for (const role of this.profiles.keys()) this.runs.set(role, { tabs: new Map(), browser: 0 });
  }

  /** Page renderers alive now, of every role. */
  liveRenderers(): number[] {
    const procs = this.processes();
    return [...this.profiles.values()].flatMap((dir) => {
      const browser = findBrowser(procs, dir);
      return browser ? descendants(procs, browser.pid).filter((p) => isPageRenderer(p.cmdline)).map((p) => p.pid) : [];
    });
  }

  /** Samples once more (PSS included), then the peaks per role since `beginRun`. */
  read(): Map<string, RoleMemory> {
    this.sample(true);
    return this.peaks();
  }

  /** The peaks per role seen so far since `beginRun`, without a new sample. */
  peaks(): Map<string, RoleMemory> {
    const out = new Map<string, RoleMemory>();
    for (const [role, run] of this.runs) out.set(role, { tabPeakBytes: Math.max(0, ...run.tabs.values()), browserPeakBytes: run.browser });
    return out;
  }

  private processes(): ProcInfo[] {
    return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map((n) => readProc(Number(n))).filter((p): p is ProcInfo => p !== null);
  }

  private sample(withPss: boolean): void {
    const procs = this.processes();
    let all = 0;
    for (const [role, dir] of this.profiles) {
      const run = this.runs.get(role)!;
      const browser = findBrowser(procs, dir);
      if (!browser) continue;
      let total = 0;
      for (const p of descendants(procs, browser.pid)) {
        if (isPageRenderer(p.cmdline)) {
          const hwm = memoryOf(p.pid, 'hwm');
          if (hwm !== null) run.tabs.set(p.pid, Math.max(run.tabs.get(p.pid) ?? 0, hwm));
        }
        if (withPss) total += memoryOf(p.pid, 'pss') ?? 0;
      }
      run.browser = Math.max(run.browser, total);
      all += total;
    }
    if (withPss && this.limit && all > this.limit.limitBytes && !this.overLimitCalled) {
      this.overLimitCalled = true;
      this.limit.onOverLimit(all);
    }
  }
}
