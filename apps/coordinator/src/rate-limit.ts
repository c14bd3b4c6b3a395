/**
 * Per-address limits on how often something may happen: at most `max` events in any `windowMs` (a sliding
 * window over the times of the recent events). Keeps at most `max` timestamps per address and forgets an
 * address once its window is empty.
 */
export interface RateLimit {
  /** Events allowed per window. */
  max: number;
  windowMs: number;
}

export class SlidingWindowLimiter {
  private readonly recent = new Map<string, number[]>();

  constructor(
    readonly limit: RateLimit,
    what: string,
  ) {
    if (!(Number.isInteger(limit.max) && limit.max > 0)) throw new Error(`${what}.max must be a positive integer, got ${limit.max}`);
    if (!(limit.windowMs > 0)) throw new Error(`${what}.windowMs must be positive, got ${limit.windowMs}`);
  }

  /**
   * Counts an event for `key` if the window has room: returns 0 then, else the milliseconds until it has room
   * (and counts nothing).
   */
  take(key: string, now = Date.now()): number {
    const times = this.recent.get(key) ?? [];
    while (times.length > 0 && times[0] <= now - this.limit.windowMs) times.shift();
    if (times.length >= this.limit.max) return times[0] + this.limit.windowMs - now;
    times.push(now);
    this.recent.set(key, times);
    return 0;
  }

  /** Forgets addresses with nothing left in their window. */
  sweep(now = Date.now()): void {
    for (const [key, times] of this.recent) if (times.length === 0 || times[times.length - 1] <= now - this.limit.windowMs) this.recent.delete(key);
  }
}
