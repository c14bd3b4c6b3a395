import { describe, expect, it } from 'vitest';
import { deliveredCalls } from './delivered-calls.ts';

/** A callback whose calls finish only when released, in any order, like calls still crossing a MessagePort. */
function slowCallback() {
  const seen: number[] = [];
  const releases: (() => void)[] = [];
  const callback = (n: number) =>
    new Promise<void>((resolve) => {
      releases.push(() => {
        seen.push(n);
        resolve();
      });
    });
  return { seen, releases, callback };
}

describe('deliveredCalls', () => {
  it('delivered() waits for every call made so far, including ones made while waiting', async () => {
    const cb = slowCallback();
    const calls = deliveredCalls(cb.callback);
    calls.call(1);
    calls.call(2);
    let done = false;
    const waiting = calls.delivered().then(() => (done = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(cb.releases.length).toBe(2);
    cb.releases[1]();
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    calls.call(3);
    cb.releases[0]();
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    cb.releases[2]();
    await waiting;
    expect(cb.seen.sort()).toEqual([1, 2, 3]);
  });

  it('a failing callback counts as delivered and does not fail the caller; no callback is a no-op', async () => {
    const calls = deliveredCalls((n: number) => {
      if (n === 1) throw new Error('page gone');
      return Promise.reject(new Error('port closed'));
    });
    calls.call(1);
    calls.call(2);
    await expect(calls.delivered()).resolves.toBeUndefined();
    const none = deliveredCalls<[number]>(undefined);
    none.call(1);
    await expect(none.delivered()).resolves.toBeUndefined();
  });
});
