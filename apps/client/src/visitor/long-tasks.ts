/**
 * How responsive the page stays: a PerformanceObserver on 'longtask' entries (main-thread tasks of 50 ms or
 * more, as Chromium reports them) keeps the longest one, their count, and the first few with the page phase they
 * fell in, since the last reset (a generation). The protocol runs in workers and over the network, so a long
 * task here means the page itself blocked.
 */
export interface LongTaskRecord {
  /** Whether this browser reports long tasks at all (without it the numbers below say nothing). */
  supported: boolean;
  /** Longest main-thread task since the last reset, ms (0 when none reached 50 ms). */
  longestMs: number;
  count: number;
  /** The first MAX_KEPT long tasks: when (ms since page load), how long, and in which phase of the page. */
  tasks: Array<{ atMs: number; ms: number; phase: string }>;
}

const MAX_KEPT = 20;

export class LongTaskMeter {
  readonly record: LongTaskRecord;

  constructor(phase: () => string) {
    const supported = typeof PerformanceObserver !== 'undefined' && PerformanceObserver.supportedEntryTypes.includes('longtask');
    this.record = { supported, longestMs: 0, count: 0, tasks: [] };
    if (!supported) return;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.record.count++;
        this.record.longestMs = Math.max(this.record.longestMs, entry.duration);
        if (this.record.tasks.length < MAX_KEPT) this.record.tasks.push({ atMs: Math.round(entry.startTime), ms: Math.round(entry.duration), phase: phase() });
      }
    }).observe({ type: 'longtask' });
  }

  reset(): void {
    this.record.longestMs = 0;
    this.record.count = 0;
    this.record.tasks.length = 0;
  }
}
