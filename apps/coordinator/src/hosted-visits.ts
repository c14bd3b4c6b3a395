/**
 * The hosted demo's visit queue: visitors are served up to `maxConcurrent` at a time in arrival order, the rest
 * wait. Each visit has a 128-bit token that alone reads or stops it. A visit that is not polled for
 * `idleTimeoutMs` (the visitor left) or that runs past `maxVisitMs` is stopped and its parties freed; finished
 * visits stay readable for a while so the page can show how they ended. The endpoints themselves are started
 * and stopped by the host's VisitRunner.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { HttpError } from './http.ts';
import type {
  CreatedVisit, HostedInfo, HostedModel, RunningVisit, SeatRequest, VisitEvents, VisitSession, VisitState, VisitView, VisitRunner,
} from './hosted-types.ts';

export interface HostedVisitsOptions {
  info: HostedInfo;
  runner: VisitRunner;
  /** Visits waiting at most; more answer 503. Default 20. */
  maxQueue?: number;
  /** Visits (waiting or served) from one address at most; more answer 429. Default 3. */
  maxPerAddress?: number;
  /** A visit not polled for this long is stopped. Default 10 s. */
  idleTimeoutMs?: number;
  /** A served visit is stopped this long after it started. Default 10 min. */
  maxVisitMs?: number;
  /** Finished visits stay readable this long. Default 60 s. */
  keepFinishedMs?: number;
  /** Why a visitor cannot take a seat with this model, or null when they can. */
  seatRefusal: (model: string) => string | null;
}

/** The visit's session as the runner reports it; the API adds the coordinator URL the visitor reached. */
export type RunnerSession = Omit<VisitSession, 'coordinator'>;

/** A visit as the queue knows it: VisitView without the coordinator URL in its session. */
export type VisitStatus = Omit<VisitView, 'session'> & { session?: RunnerSession };

interface Visit {
  id: string;
  token: Buffer;
  from: string;
  model: string;
  seat?: SeatRequest;
  state: VisitState;
  error?: string;
  session?: RunnerSession;
  lastPollAt: number;
  startedAt?: number;
  finishedAt?: number;
  running?: RunningVisit;
  /** Set once the visit gave its slot back. */
  released: boolean;
}

const ACTIVE: ReadonlySet<VisitState> = new Set(['starting', 'ready', 'running']);
const FINGERPRINT = /^[0-9a-f]{64}$/;
const TOKEN = /^[0-9a-f]{32}$/;
const SWEEP_INTERVAL_MS = 250;

export class HostedVisits {
  private readonly visits = new Map<string, Visit>();
  private readonly queue: Visit[] = [];
  private active = 0;
  private closed = false;
  private lastSweepAt = Date.now();
  private readonly sweeper: ReturnType<typeof setInterval>;
  private readonly maxQueue: number;
  private readonly maxPerAddress: number;
  private readonly idleTimeoutMs: number;
  private readonly maxVisitMs: number;
  private readonly keepFinishedMs: number;

  constructor(private readonly o: HostedVisitsOptions) {
    this.maxQueue = o.maxQueue ?? 20;
    this.maxPerAddress = o.maxPerAddress ?? 3;
    this.idleTimeoutMs = o.idleTimeoutMs ?? 10_000;
    this.maxVisitMs = o.maxVisitMs ?? 10 * 60_000;
    this.keepFinishedMs = o.keepFinishedMs ?? 60_000;
    if (!(o.info.maxConcurrent >= 1)) throw new Error(`maxConcurrent must be at least 1, got ${o.info.maxConcurrent}`);
    this.sweeper = setInterval(() => this.sweep(Date.now()), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  get info(): HostedInfo {
    return this.o.info;
  }

  /** Offers one more model (the host shares larger models after it started serving the default one). */
  addModel(model: HostedModel, seats: boolean): void {
    if (this.o.info.models.some((m) => m.id === model.id)) throw new Error(`model ${model.id} is listed already`);
    this.o.info.models.push(model);
    if (seats) this.o.info.seats = true;
  }

  /** Validates a POST /api/hosted/visits body and queues the visit (serving it at once when a slot is free). */
  create(body: Record<string, unknown>, from: string): CreatedVisit {
    if (this.closed) throw new HttpError(503, 'the host is shutting down');
    for (const key of Object.keys(body)) {
      if (key !== 'model' && key !== 'seat') throw new HttpError(400, `unknown field ${JSON.stringify(key)}; expected model, seat`);
    }
    const model = this.checkModel(body.model);
    const seat = body.seat === undefined ? undefined : this.checkSeat(body.seat, model);
    const waiting = this.queue.length;
    if (waiting >= this.maxQueue) throw new HttpError(503, `the queue is full (${waiting} visitors waiting); try again in a minute`, { 'retry-after': '60' });
    const mine = [...this.visits.values()].filter((v) => v.from === from && (v.state === 'queued' || ACTIVE.has(v.state))).length;
    if (mine >= this.maxPerAddress) {
      throw new HttpError(429, `${mine} visits from ${from} are already waiting or being served (at most ${this.maxPerAddress}); stop one first`, { 'retry-after': '10' });
    }
    const token = randomBytes(16);
    const visit: Visit = {
      id: randomBytes(16).toString('hex'), token, from, model, seat, state: 'queued', lastPollAt: Date.now(), released: false,
    };
    this.visits.set(visit.id, visit);
    this.queue.push(visit);
    this.pump();
    return { visitId: visit.id, token: token.toString('hex'), position: this.position(visit) };
  }

  /** The visit's state for its token holder; polling keeps it alive. */
  view(id: string, token: string | undefined): VisitStatus {
    const visit = this.authorized(id, token);
    visit.lastPollAt = Date.now();
    const view: VisitStatus = { state: visit.state, position: this.position(visit) };
    if (visit.error !== undefined) view.error = visit.error;
    if (visit.session && (visit.state === 'ready' || visit.state === 'running')) view.session = visit.session;
    return view;
  }

  /** Ends the visit on every endpoint the host started for it; resolves once they are gone and its slot is free. */
  async stop(id: string, token: string | undefined): Promise<VisitStatus> {
    const visit = this.authorized(id, token);
    await this.end(visit, 'stopped', 'stopped by the visitor');
    return { state: visit.state, position: 0, ...(visit.error === undefined ? {} : { error: visit.error }) };
  }

  /** Stops every visit (host shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await Promise.all([...this.visits.values()].map((v) => this.end(v, 'stopped', 'the host is shutting down')));
    await this.o.runner.close?.();
  }

  private checkModel(raw: unknown): string {
    const ids = this.o.info.models.map((m) => m.id);
    if (typeof raw !== 'string' || raw === '') throw new HttpError(400, `"model" must be one of ${ids.join(', ')}`);
    if (!ids.includes(raw)) throw new HttpError(400, `unknown model ${JSON.stringify(raw.slice(0, 100))}; this host offers ${ids.join(', ')}`);
    return raw;
  }

  private checkSeat(raw: unknown, model: string): SeatRequest {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new HttpError(400, '"seat" must be an object { party: 1, fingerprint }');
    const seat = raw as Record<string, unknown>;
    for (const key of Object.keys(seat)) {
      if (key !== 'party' && key !== 'fingerprint') throw new HttpError(400, `unknown field seat.${key}; expected party, fingerprint`);
    }
    if (seat.party !== 1) throw new HttpError(400, `seat.party must be 1 (a visitor can run party 1), got ${JSON.stringify(seat.party)}`);
    const fp = seat.fingerprint;
    if (typeof fp !== 'string' || !FINGERPRINT.test(fp)) {
      throw new HttpError(400, `seat.fingerprint must be the visitor's public-key fingerprint, 64 lowercase hex digits; got ${JSON.stringify(fp)?.slice(0, 80)}`);
    }
    if (this.o.info.parties.some((p) => p.fingerprint === fp)) {
      throw new HttpError(400, 'seat.fingerprint is the identity of one of the hosted parties; a seat needs the visitor\'s own identity');
    }
    const refusal = this.o.seatRefusal(model);
    if (refusal !== null) throw new HttpError(400, refusal);
    return { party: 1, fingerprint: fp };
  }

  private authorized(id: string, token: string | undefined): Visit {
    const visit = this.visits.get(id);
    if (!visit) throw new HttpError(404, `no visit ${JSON.stringify(id.slice(0, 64))} (it never existed or ended more than ${this.keepFinishedMs / 1000} s ago)`);
    if (token === undefined || token === '') throw new HttpError(401, 'the visit token is missing: send it in the x-visit-token header (or ?token= for stop)');
    const given = TOKEN.test(token) ? Buffer.from(token, 'hex') : Buffer.alloc(0);
    if (given.length !== visit.token.length || !timingSafeEqual(given, visit.token)) throw new HttpError(403, `wrong token for visit ${id}`);
    return visit;
  }

  private position(visit: Visit): number {
    return visit.state === 'queued' ? this.queue.indexOf(visit) + 1 : 0;
  }

  private pump(): void {
    while (!this.closed && this.active < this.o.info.maxConcurrent && this.queue.length > 0) {
      const next = this.queue.shift()!;
      // A visitor who left while waiting is not served (the sweep may not have reached them yet).
      if (Date.now() - next.lastPollAt > this.idleTimeoutMs) this.abandon(next);
      else this.serve(next);
    }
    if (!this.closed && this.active < this.o.info.maxConcurrent) this.o.runner.idle?.();
  }

  private serve(visit: Visit): void {
    this.active += 1;
    visit.state = 'starting';
    visit.startedAt = Date.now();
    const events: VisitEvents = {
      ready: (session) => {
        if (visit.state !== 'starting') return;
        visit.state = 'ready';
        visit.session = session;
      },
      running: () => {
        if (visit.state === 'ready' || visit.state === 'starting') visit.state = 'running';
      },
      finished: (outcome) => {
        if (ACTIVE.has(visit.state)) {
          visit.state = outcome.ok ? 'done' : 'failed';
          if (!outcome.ok) visit.error = outcome.error;
        }
        this.release(visit);
      },
    };
    try {
      visit.running = this.o.runner.start({ visitId: visit.id, model: visit.model, seat: visit.seat }, events);
    } catch (e) {
      visit.state = 'failed';
      visit.error = `the host could not start this visit: ${e instanceof Error ? e.message : String(e)}`;
      this.release(visit);
    }
  }

  /** Gives the visit's slot back (once) and serves the next waiting visitor. */
  private release(visit: Visit): void {
    if (visit.released) return;
    visit.released = true;
    visit.finishedAt = Date.now();
    visit.session = undefined;
    this.active -= 1;
    this.pump();
  }

  private async end(visit: Visit, state: 'stopped' | 'failed', reason: string): Promise<void> {
    if (visit.state === 'queued') {
      this.queue.splice(this.queue.indexOf(visit), 1);
      visit.state = state;
      visit.error = reason;
      visit.finishedAt = Date.now();
      visit.released = true;
      return;
    }
    if (!ACTIVE.has(visit.state)) return;
    visit.state = state;
    visit.error = reason;
    try {
      await visit.running?.stop(reason);
    } finally {
      this.release(visit);
    }
  }

  private abandon(visit: Visit): void {
    visit.state = 'stopped';
    visit.error = this.abandonedReason();
    visit.finishedAt = Date.now();
    visit.released = true;
  }

  private abandonedReason(): string {
    return `abandoned: the visit was not polled for ${this.idleTimeoutMs / 1000} s`;
  }

  private sweep(now: number): void {
    // While this process was too busy to run the sweep (a fresh sharing, a loaded machine), it could not answer
    // polls either: that time does not count against the visitors.
    const stalled = now - this.lastSweepAt - SWEEP_INTERVAL_MS;
    this.lastSweepAt = now;
    if (stalled > SWEEP_INTERVAL_MS) for (const visit of this.visits.values()) visit.lastPollAt += stalled;
    for (const visit of this.visits.values()) {
      if (visit.state === 'queued' || ACTIVE.has(visit.state)) {
        if (now - visit.lastPollAt > this.idleTimeoutMs) {
          void this.end(visit, 'stopped', this.abandonedReason());
        } else if (visit.startedAt !== undefined && now - visit.startedAt > this.maxVisitMs) {
          void this.end(visit, 'stopped', `the visit reached the host's limit of ${this.maxVisitMs / 1000} s`);
        }
      } else if (visit.finishedAt !== undefined && now - visit.finishedAt > this.keepFinishedMs) {
        this.visits.delete(visit.id);
      }
    }
  }
}
