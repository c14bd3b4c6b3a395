/**
 * A worker's calls to a page callback it got through Comlink.proxy, kept until they have run.
 *
 * Comlink carries a proxied callback's calls over the callback's own MessagePort and a method's result over the
 * worker's port. Nothing orders two ports, so the page can see a method resolve and then still receive its last
 * progress or token calls, which then overwrite what the page showed for the result. A worker method that makes
 * such calls awaits `delivered()` before it returns: each proxied call answers once it ran on the page.
 */
export interface DeliveredCalls<A extends unknown[]> {
  /** Calls the callback without waiting for it (nothing when there is none). */
  call(...args: A): void;
  /** Resolves once every call made so far has run on the other side (a failed call counts as run). */
  delivered(): Promise<void>;
}

export function deliveredCalls<A extends unknown[]>(callback: ((...args: A) => unknown) | undefined): DeliveredCalls<A> {
  const pending = new Set<Promise<unknown>>();
  return {
    call(...args) {
      if (!callback) return;
      // The page's callback failing is the page's concern; the worker's job goes on.
      const done: Promise<unknown> = Promise.resolve()
        .then(() => callback(...args))
        .catch(() => {})
        .finally(() => pending.delete(done));
      pending.add(done);
    },
    async delivered() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}
