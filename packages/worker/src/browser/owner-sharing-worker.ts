/// <reference lib="webworker" />
/**
 * Dedicated Web Worker of the model owner page: splits the model into the three parties' shares
 * (streamOwnerShares: WebAssembly ChaCha20 and splitting, sha256 per part) off the page's main thread, and
 * hands the parts back by transfer. Exposed with Comlink; started by owner-sharing-host.ts.
 */
import * as Comlink from 'comlink';
import { prepareOwnerShares, type OwnerShares, type PrepareSharesOptions } from '../session/index.ts';
import { transferablesOf } from './transferables.ts';

export type OwnerSharingInput = Omit<PrepareSharesOptions, 'onProgress'>;

const api = {
  async share(input: OwnerSharingInput, onProgress: (done: number, total: number) => void): Promise<OwnerShares> {
    const shares = await prepareOwnerShares({ ...input, onProgress: (done, total) => void onProgress(done, total) });
    return Comlink.transfer(shares, transferablesOf(shares.parties.flatMap((p) => p.parts)));
  },
};

export type OwnerSharingWorkerApi = typeof api;

Comlink.expose(api);
