/**
 * How responsive the page stays: a PerformanceObserver on 'longtask' entries (main-thread tasks of 50 ms or
 * more, as Chromium reports them) keeps the longest one, their count, and the first few with the page phase they
 * fell in, since the last reset (a generation). Where the browser also reports long animation frames, the
 * frames behind tasks of 100 ms or more are kept with the scripts that ran in them (none listed: the time went to
 * style, layout, paint or the browser itself), so a slow page says what blocked it. The protocol runs in workers
 * and over the network, so a long task here means the page itself blocked.
 */
export interface LongTaskRecord {
  /** Whether this browser reports long tasks at all (without it the numbers below say nothing). */
  supported: boolean;
  /** Longest main-thread task since the last reset, ms (0 when none reached 50 ms). */
  longestMs: number;
  count: number;
  /** The first MAX_KEPT long tasks: when (ms since page load), how long, and in which phase of the page. */
  tasks: Array<{ atMs: number; ms: number; phase: string }>;
  /** The first MAX_KEPT animation frames of 100 ms or more: when, how long, blocking time, scripts run in them. */
  frames: Array<{ atMs: number; ms: number; blockingMs: number; scripts: string[] }>;
}

const MAX_KEPT = 20;
const SLOW_FRAME_MS = 100;

/** The fields of a 'long-animation-frame' entry read here (not in TypeScript's DOM library yet). */
interface AnimationFrameEntry extends PerformanceEntry {
  blockingDuration: number;
  scripts: Array<{ duration: number; invoker: string; sourceURL: string; sourceFunctionName: string }>;
}

export class LongTaskMeter {
  readonly record: LongTaskRecord;

  constructor(phase: () => string) {
    const types = typeof PerformanceObserver === 'undefined' ? [] : PerformanceObserver.supportedEntryTypes;
    this.record = { supported: types.includes('longtask'), longestMs: 0, count: 0, tasks: [], frames: [] };
    if (this.record.supported) {
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          this.record.count++;
          this.record.longestMs = Math.max(this.record.longestMs, entry.duration);
          if (this.record.tasks.length < MAX_KEPT) this.record.tasks.push({ atMs: Math.round(entry.startTime), ms: Math.round(entry.duration), phase: phase() });
        }
      }).observe({ type: 'longtask' });
    }
    if (types.includes('long-animation-frame')) {
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries() as AnimationFrameEntry[]) {
          if (entry.duration < SLOW_FRAME_MS || this.record.frames.length >= MAX_KEPT) continue;
          const scripts = entry.scripts.map((s) => `${Math.round(s.duration)} ms ${s.invoker} ${s.sourceFunctionName || ''} ${s.sourceURL.split('/').pop()}`.trim());
          this.record.frames.push({ atMs: Math.round(entry.startTime), ms: Math.round(entry.duration), blockingMs: Math.round(entry.blockingDuration), scripts });
        }
      }).observe({ type: 'long-animation-frame' });
    }
  }

  reset(): void {
    this.record.longestMs = 0;
    this.record.count = 0;
    this.record.tasks.length = 0;
    this.record.frames.length = 0;
  }
}
