/**
 * The IndexedDB read bench's page: starts the dedicated worker that does the reads (idb-worker.ts), as a party
 * page reads its shares from its protocol worker, and relays the bench's calls to it.
 */
import type { IdbLabRequest, IdbLabResult } from './idb-worker.ts';

declare global {
  interface Window {
    pumaIdbLab?: { run(r: IdbLabRequest): Promise<IdbLabResult> };
  }
}

const worker = new Worker(new URL('./idb-worker.ts', import.meta.url), { type: 'module' });
let next = 0;
const pending = new Map<number, { resolve: (r: IdbLabResult) => void; reject: (e: Error) => void }>();
worker.onmessage = (e: MessageEvent<{ id: number; result?: IdbLabResult; error?: string }>) => {
  const p = pending.get(e.data.id);
  pending.delete(e.data.id);
  if (e.data.error !== undefined) p?.reject(new Error(e.data.error));
  else p?.resolve(e.data.result!);
};
worker.onerror = (e) => {
  for (const p of pending.values()) p.reject(new Error(`IndexedDB bench worker failed: ${e.message}`));
  pending.clear();
};

window.pumaIdbLab = {
  run: (request) => new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, request });
  }),
};
document.getElementById('status')!.textContent = 'ready';
