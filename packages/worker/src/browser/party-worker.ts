/// <reference lib="webworker" />
/**
 * Dedicated Web Worker of a party page: picks the backend (WebGPU is available in dedicated workers), opens the
 * IndexedDB share cache and runs the session runtime over the channel the page bridges in (port-bridge.ts).
 * Exposed with Comlink; started by party-host.ts.
 */
import * as Comlink from 'comlink';
import { deliveredCalls } from './delivered-calls.ts';
import { IdbCalibrationCache } from '../calibrate-cache-idb.ts';
import type { Backend } from '@puma/backend';
import type { ModelConfig } from '@puma/models';
import { selectBackend, type BackendChoice } from '../select-backend.ts';
import { selectBackendForModel } from '../select-backend-model.ts';
import { runPartySession, type PartySessionReport, type PartyStatus } from '../session/index.ts';
import type { PartyId } from '@puma/transport';
import { IdbShareStore } from './idb-share-store.ts';
import { channelOverPort } from './port-bridge.ts';

export interface PartyWorkerInit {
  id: PartyId;
  /** This party's identity fingerprint. */
  identity: string;
  /** Whether the page's channel authenticates its links (then the bridged channel reports peer identities). */
  authenticatedLinks: boolean;
  backend: BackendChoice;
  fracBits?: number;
  stepTimeoutMs?: number;
  /** Cap of the weight cache in bytes (default: the runtime's; 0 streams every pass from IndexedDB). */
  weightCacheBytes?: number;
}

const aborter = new AbortController();

const api = {
  /** Runs one session to its end; `port` is the page's side of the bridged channel. */
  async run(init: PartyWorkerInit, port: MessagePort, onStatus: (s: PartyStatus) => void): Promise<PartySessionReport> {
    const channel = channelOverPort(init.id, port, { identities: init.authenticatedLinks });
    const gpu = self.navigator.gpu ?? undefined;
    const cache = new IdbCalibrationCache();
    const cannotStart = (e: unknown) => new Error(`party ${init.id}: cannot start the ${init.backend} backend: ${e instanceof Error ? e.message : String(e)}`);
    let summary = 'chosen once the manifest names the model';
    let backend: Backend | ((config: ModelConfig) => Promise<Backend>);
    if (init.backend === 'auto') {
      // Calibrated on the model's own shapes once the owner's manifest has named it.
      backend = async (config) => {
        const selection = await selectBackendForModel('auto', config, { gpu, cache }).catch((e: unknown) => {
          throw cannotStart(e);
        });
        summary = selection.summary;
        return selection.backend;
      };
    } else {
      try {
        const selection = await selectBackend(init.backend, { gpu, cache });
        summary = selection.summary;
        backend = selection.backend;
      } catch (e) {
        const err = cannotStart(e);
        channel.close(err.message);
        throw err;
      }
    }
    const status = deliveredCalls(onStatus);
    let report: PartySessionReport;
    try {
      report = await runPartySession({
        id: init.id, identity: init.identity, channel, backend, store: new IdbShareStore(), fracBits: init.fracBits, stepTimeoutMs: init.stepTimeoutMs,
        weightRead: { weightCacheBytes: init.weightCacheBytes },
        // The page's state shows how the backend was chosen (with the calibration's figures for 'auto').
        onStatus: (s) => status.call({ ...s, backend: `${s.backend}; ${summary}` }), signal: aborter.signal,
      });
    } finally {
      await status.delivered();
    }
    // The page closes its channel when this answer arrives; the session's last sends must be out before that.
    await channel.flush();
    return report;
  },

  /** Stops the running session; the runtime tells the peers `reason`. */
  stop(reason: string): void {
    aborter.abort(new Error(reason));
  },
};

export type PartyWorkerApi = typeof api;

Comlink.expose(api);
