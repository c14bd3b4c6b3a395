/**
 * Liveness of a job: a step (one generated token, one classification) that makes no progress for
 * `stepTimeoutMs` fails the session, naming the job, the step and the messages still awaited. Without it a
 * peer that stops sending without dropping its link (a stuck tab, a silently lost message, a protocol
 * mismatch) would leave every endpoint waiting forever. Waiting for the next job between prompts is not a
 * step and is not bounded.
 */
import { endpointLabel, type Channel, type EndpointId } from '@puma/transport';

/** Default per-step deadline: a GPT-2-base token or a BERT-base classification on a slow machine fits well within. */
export const DEFAULT_STEP_TIMEOUT_MS = 300_000;

/** A Channel that remembers which receives are still pending, so a deadline can say what it was waiting for. */
export interface TrackedChannel extends Channel {
  /** Pending receives other than the session guard's watchers, e.g. "party 2: r:4.17, client: j0/tok:3". */
  waitingFor(): string;
}

export function trackReceives(inner: Channel): TrackedChannel {
  const pending = new Map<number, { from: EndpointId; tag: string }>();
  let next = 0;
  const tracked: TrackedChannel = {
    self: inner.self,
    stats: inner.stats,
    send: (to, tag, data) => inner.send(to, tag, data),
    recv(from, tag) {
      const id = next++;
      pending.set(id, { from, tag });
      const got = inner.recv(from, tag);
      got.then(() => pending.delete(id), () => pending.delete(id));
      return got;
    },
    close: (reason) => inner.close(reason),
    waitingFor() {
      const list = [...pending.values()].filter((w) => !w.tag.startsWith('session:')).map((w) => `${endpointLabel(w.from)}: ${w.tag}`);
      return list.length > 0 ? list.join(', ') : 'nothing: this endpoint was computing';
    },
  };
  if (inner.peerIdentity) tracked.peerIdentity = (peer) => inner.peerIdentity!(peer);
  return tracked;
}

export function checkStepTimeout(ms: number | undefined): number {
  const value = ms ?? DEFAULT_STEP_TIMEOUT_MS;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`stepTimeoutMs must be a positive number of milliseconds, got ${ms}`);
  return value;
}

/** The deadline of one job's current step; `progress` restarts it for the next step, `stop` ends it. */
export class StepWatch {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private step = 0;

  constructor(
    private readonly job: number,
    private readonly timeoutMs: number,
    private readonly channel: TrackedChannel,
    private readonly expire: (e: Error) => void,
  ) {
    this.arm();
  }

  /** Step `step` begins now (the previous one finished). */
  progress(step: number): void {
    this.step = step;
    this.arm();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    this.stop();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.expire(new Error(`job ${this.job} step ${this.step}: no progress for ${this.timeoutMs / 1000} s (waiting for ${this.channel.waitingFor()})`));
    }, this.timeoutMs);
  }
}
