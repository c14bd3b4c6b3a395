/**
 * The visit queue on its own, with a runner whose visits are driven by the test (the real runner, with
 * processes over WebRTC, is tested in apps/cli/src/host.test.ts): arrival order and positions, several served
 * at once, the queue and per-address caps, stopping waiting and served visits, unpolled visits ended, tokens.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HttpError } from './http.ts';
import type { HostedInfo, VisitEvents, VisitRunner } from './hosted-types.ts';
import { HostedVisits } from './hosted-visits.ts';

const FP = (c: string) => c.repeat(64);

/** A runner that records each started visit and lets the test make it ready or finish it. */
class DrivenRunner implements VisitRunner {
  readonly started: Array<{ visitId: string; model: string; events: VisitEvents; stopped: string | null }> = [];
  idleCalls = 0;

  start(visit: { visitId: string; model: string }, events: VisitEvents) {
    const entry = { visitId: visit.visitId, model: visit.model, events, stopped: null as string | null };
    this.started.push(entry);
    return {
      stop: async (reason: string) => {
        entry.stopped = reason;
        events.finished({ ok: false, error: reason });
      },
    };
  }

  idle(): void {
    this.idleCalls += 1;
  }

  ready(i: number): void {
    this.started[i].events.ready({ sessionId: `s${i}`, clientSecret: 'c'.repeat(32), parties: [FP('a'), FP('b'), FP('c')], model: { id: 'm', task: 'generate' } });
  }
}

function info(maxConcurrent: number): HostedInfo {
  return {
    models: [{ id: 'm', label: 'm', task: 'generate', default: true, maxNewTokens: 8 }],
    parties: [0, 1, 2].map((i) => ({ index: i as 0 | 1 | 2, fingerprint: FP('abc'[i]), safetyCode: '0' })),
    maxConcurrent,
    seats: true,
  };
}

let queue: HostedVisits | null = null;
afterEach(async () => {
  await queue?.close();
  queue = null;
});

function make(o: Partial<ConstructorParameters<typeof HostedVisits>[0]> & { maxConcurrent?: number } = {}): { visits: HostedVisits; runner: DrivenRunner } {
  const runner = new DrivenRunner();
  queue = new HostedVisits({ info: info(o.maxConcurrent ?? 1), runner, seatRefusal: () => null, ...o });
  return { visits: queue, runner };
}

function status(e: unknown): number {
  return e instanceof HttpError ? e.status : -1;
}

describe('hosted visit queue', () => {
  it('serves in arrival order up to maxConcurrent, with positions, and gives the session only once ready', () => {
    const { visits, runner } = make({ maxConcurrent: 2, maxPerAddress: 10 });
    const made = ['1', '2', '3', '4'].map(() => visits.create({ model: 'm' }, 'addr'));
    expect(made.map((v) => v.position)).toEqual([0, 0, 1, 2]);
    expect(runner.started.map((s) => s.visitId)).toEqual([made[0].visitId, made[1].visitId]);
    expect(visits.view(made[0].visitId, made[0].token)).toEqual({ state: 'starting', position: 0 });
    runner.ready(0);
    const ready = visits.view(made[0].visitId, made[0].token);
    expect(ready.state).toBe('ready');
    expect(ready.session?.sessionId).toBe('s0');
    runner.started[0].events.running();
    runner.started[0].events.finished({ ok: true });
    expect(visits.view(made[0].visitId, made[0].token)).toEqual({ state: 'done', position: 0 });
    // The slot went to the first waiting visit; the last moved up.
    expect(runner.started[2].visitId).toBe(made[2].visitId);
    expect(visits.view(made[3].visitId, made[3].token).position).toBe(1);
  });

  it('stops a waiting visit (the others move up) and a served one (its slot goes to the next)', async () => {
    const { visits, runner } = make({ maxPerAddress: 10 });
    const [a, b, c] = ['a', 'b', 'c'].map(() => visits.create({ model: 'm' }, 'addr'));
    await visits.stop(b.visitId, b.token);
    expect(visits.view(b.visitId, b.token)).toMatchObject({ state: 'stopped', error: 'stopped by the visitor' });
    expect(visits.view(c.visitId, c.token).position).toBe(1);
    expect(await visits.stop(a.visitId, a.token)).toMatchObject({ state: 'stopped' });
    expect(runner.started[0].stopped).toBe('stopped by the visitor');
    expect(runner.started.map((s) => s.visitId)).toEqual([a.visitId, c.visitId]);
    expect(visits.view(c.visitId, c.token).state).toBe('starting');
  });

  it('ends visits that are not polled within the idle timeout', async () => {
    const { visits, runner } = make({ idleTimeoutMs: 300, maxPerAddress: 10 });
    const served = visits.create({ model: 'm' }, 'addr');
    const waiting = visits.create({ model: 'm' }, 'addr');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(runner.started[0].stopped).toBe('abandoned: the visit was not polled for 0.3 s');
    for (const v of [served, waiting]) expect(visits.view(v.visitId, v.token)).toMatchObject({ state: 'stopped', error: /abandoned/ });
    expect(runner.started).toHaveLength(1);
  });

  it('caps the queue (503) and the visits per address (429); asks the runner to prepare when a slot is free', () => {
    const { visits, runner } = make({ maxQueue: 2, maxPerAddress: 2 });
    expect(runner.idleCalls).toBe(0);
    visits.create({ model: 'm' }, 'x');
    visits.create({ model: 'm' }, 'x');
    expect(status(catchOf(() => visits.create({ model: 'm' }, 'x')))).toBe(429);
    visits.create({ model: 'm' }, 'y');
    expect(catchOf(() => visits.create({ model: 'm' }, 'z'))).toMatchObject({ status: 503, message: /the queue is full \(2 visitors waiting\)/ });
    runner.started[0].events.finished({ ok: true });
    expect(runner.idleCalls).toBe(0);
    runner.started[1].events.finished({ ok: true });
    runner.started[2].events.finished({ ok: true });
    expect(runner.idleCalls).toBe(1);
  });

  it('refuses unknown models, bad seats and wrong or missing tokens by name', () => {
    const { visits } = make({ seatRefusal: () => 'm is too large for a seat' });
    expect(catchOf(() => visits.create({ model: 'x' }, 'a'))).toMatchObject({ status: 400, message: 'unknown model "x"; this host offers m' });
    expect(catchOf(() => visits.create({ model: 'm', seat: { party: 1, fingerprint: FP('d') } }, 'a'))).toMatchObject({ status: 400, message: 'm is too large for a seat' });
    const v = visits.create({ model: 'm' }, 'a');
    expect(status(catchOf(() => visits.view(v.visitId, undefined)))).toBe(401);
    expect(status(catchOf(() => visits.view(v.visitId, 'f'.repeat(32))))).toBe(403);
    expect(status(catchOf(() => visits.view(v.visitId, 'not hex')))).toBe(403);
    expect(status(catchOf(() => visits.view('0'.repeat(32), v.token)))).toBe(404);
  });
});

function catchOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}
