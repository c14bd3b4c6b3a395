import * as Comlink from 'comlink';

/**
 * Rejects when `worker` reports an error: a worker whose script fails to load or throws at top level never
 * answers Comlink, so without this its caller would wait forever. `who` names it in the message.
 */
export function workerFailure(worker: Worker, who: string): Promise<never> {
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (ev) => {
      ev.preventDefault();
      reject(new Error(`${who}: the worker failed: ${ev.message || 'script error (see the console)'}`));
    });
  });
  failed.catch(() => {});
  return failed;
}

/** Stops bridging, releases the Comlink proxy and ends the worker, once however often `end` is called. */
export class WorkerEnd {
  ended = false;

  constructor(
    private readonly worker: Worker,
    private readonly remote: Comlink.Remote<unknown>,
    private readonly served: { stop(): void },
  ) {}

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.served.stop();
    this.remote[Comlink.releaseProxy]();
    this.worker.terminate();
  }
}
