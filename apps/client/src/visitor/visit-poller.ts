/**
 * Keeps one visit alive on the host: polls its status about every 500 ms for as long as the page wants it (the
 * host ends a visit that is not polled for 10 s, which frees the parties when a tab vanishes without a word),
 * reports each status, stops the visit on request, and sends a stop beacon when the page goes away.
 */
import type { HostedApi, VisitStatus, VisitTicket } from './hosted-api.ts';

const POLL_MS = 500;
/** Polls may fail now and then on a loaded host; only this long without one answer counts as losing the host. */
const UNREACHABLE_MS = 8_000;
const TERMINAL: ReadonlySet<VisitStatus['state']> = new Set(['done', 'stopped', 'failed']);

export class VisitPoller {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private over = false;
  private lastAnswer = Date.now();
  private readonly onPageHide = () => {
    if (!this.over) this.api.stopBeacon(this.ticket);
  };

  constructor(
    private readonly api: HostedApi,
    readonly ticket: VisitTicket,
    private readonly onStatus: (s: VisitStatus) => void,
    private readonly onLost: (message: string) => void,
  ) {
    addEventListener('pagehide', this.onPageHide);
    this.schedule(0);
  }

  /** Stops polling; the host then takes the visit as finished (or ends it once it is no longer polled). */
  finish(): void {
    if (this.over) return;
    this.over = true;
    if (this.timer !== null) clearTimeout(this.timer);
    removeEventListener('pagehide', this.onPageHide);
  }

  /** Asks the host to end the visit at once (freeing its parties), then stops polling. */
  async stop(): Promise<void> {
    if (this.over) return;
    this.finish();
    await this.api.stop(this.ticket);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => void this.poll(), ms);
  }

  private async poll(): Promise<void> {
    if (this.over) return;
    let status: VisitStatus | null = null;
    let problem = '';
    try {
      status = await this.api.status(this.ticket);
    } catch (e) {
      problem = e instanceof Error ? e.message : String(e);
    }
    if (this.over) return;
    if (status) {
      this.lastAnswer = Date.now();
      this.onStatus(status);
      if (TERMINAL.has(status.state)) {
        this.finish();
        return;
      }
    } else if (/\((4\d\d)\)/.test(problem) || Date.now() - this.lastAnswer > UNREACHABLE_MS) {
      // A 4xx will not get better by asking again (the host forgot the visit or refuses the token).
      this.finish();
      this.onLost(problem);
      return;
    }
    this.schedule(POLL_MS);
  }
}
