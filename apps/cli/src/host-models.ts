/**
 * The models a host offers: each is shared once into <state>/shares/<model> (a `puma share` folder bound to the
 * hosted parties' identities), so the parties' caches stay valid across visits and host restarts and a warm
 * visit downloads nothing. A model whose files are missing is left out with a warning. Small models also keep
 * their plaintext weights in memory, for the fresh sharing a visitor's seat needs.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { HostedModel, HostedTask } from '@puma/coordinator';
import { findModel, loadModel } from '@puma/models/node';
import { prepareOwnerShares, type OwnerShares } from '@puma/worker/session';
import type { PartyFingerprints } from './endpoint-trust.ts';
import { PUMA_BIN } from './host-party-process.ts';
import { readShareDir, tokenizerSource } from './share.ts';
import { bindShareDir, readShareBinding } from './share-binding.ts';

/** What the host offers by default: the first is the page's default. */
export const DEFAULT_HOSTED_MODELS = ['stories260K', 'gpt2-shakespeare', 'bert-shakespeare'];

const LABELS: Record<string, string> = {
  stories260K: 'stories260K: tiny LLaMA that tells children\'s stories (260K parameters)',
  'gpt2-shakespeare': 'gpt2-shakespeare: small GPT-2 trained on Shakespeare',
  'bert-shakespeare': 'bert-shakespeare: BERT that tells which Shakespeare play a line is from',
};
const MAX_NEW_TOKENS: Record<string, number> = { stories260K: 48, 'gpt2-shakespeare': 24 };
const DEFAULT_MAX_NEW_TOKENS = 32;

/**
 * Models with weight files up to this size may be shared afresh for a visitor who takes a seat (their tab then
 * downloads a whole party share and computes in the browser).
 */
export const SEAT_MAX_WEIGHT_BYTES = 4 * 2 ** 20;

export interface HostModel {
  info: HostedModel;
  /** The persistent sharing served to the hosted parties. */
  shares: OwnerShares;
  /** Binds the share folder to the hosted parties before its first bundle goes out (serveOwner's recordHolders). */
  recordHolders: () => Promise<void>;
  /** Present when a seat is possible: makes a fresh sharing of the model (for {host 0, visitor, host 2}). */
  freshSharing?: () => Promise<OwnerShares>;
  weightBytes: number;
}

/**
 * Loads (or makes) the sharing of each listed model, one after another. Resolves with the first model that loads
 * (the default), so the host can start serving it at once; each later one is passed to `onLater` when ready
 * (sharing a larger model takes a while), and `rest` resolves when all are done; aborting `signal` ends a
 * sharing still running. `log` gets progress and a warning for each model left out; throws when none loads.
 */
export async function loadHostModels(
  ids: readonly string[], stateDir: string, parties: PartyFingerprints, log: (line: string) => void, onLater: (model: HostModel) => void,
  signal: AbortSignal,
): Promise<{ first: HostModel; rest: Promise<void> }> {
  const load = async (id: string, isDefault: boolean): Promise<HostModel | null> => {
    try {
      return await loadHostModel(id, stateDir, parties, isDefault, log, signal);
    } catch (e) {
      log(`host: warning: model ${id} is left out: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    }
  };
  for (let i = 0; i < ids.length; i++) {
    const first = await load(ids[i], true);
    if (!first) continue;
    const rest = (async () => {
      for (const id of ids.slice(i + 1)) {
        if (signal.aborted) return;
        const model = await load(id, false);
        if (model) onLater(model);
      }
    })();
    return { first, rest };
  }
  throw new Error(`none of the models ${ids.join(', ')} could be loaded (see the warnings above)`);
}

async function loadHostModel(
  id: string, stateDir: string, parties: PartyFingerprints, isDefault: boolean, log: (line: string) => void, signal: AbortSignal,
): Promise<HostModel> {
  const location = findModel(id);
  const weightBytes = statSync(location.weights).size;
  const dir = path.join(stateDir, 'shares', encodeURIComponent(id));
  const shares = await persistentSharing(id, dir, parties, log, signal);
  const task: HostedTask = shares.publicInfo.config.numLabels > 0 ? 'classify' : 'generate';
  const info: HostedModel = {
    id, label: LABELS[id] ?? id, task, default: isDefault, maxNewTokens: task === 'classify' ? 0 : Math.min(MAX_NEW_TOKENS[id] ?? DEFAULT_MAX_NEW_TOKENS, shares.publicInfo.config.maxPositions - 8),
  };
  let binding: Promise<void> | undefined;
  const recordHolders = () => (binding ??= bindShareDir(dir, shares.epoch, parties).then(() => undefined));
  let freshSharing: HostModel['freshSharing'];
  if (task === 'generate' && weightBytes <= SEAT_MAX_WEIGHT_BYTES) {
    const { model } = await loadModel(id);
    const tokenizer = await tokenizerSource(location);
    freshSharing = () => prepareOwnerShares({ model, modelId: id, fracBits: shares.fracBits, tokenizer });
  }
  return { info, shares, recordHolders, freshSharing, weightBytes };
}

/**
 * The model's share folder under the state dir: read (every part checked against its sha256) when it exists and
 * is bound to these parties or to none yet; otherwise (first start, or the host's party keys changed) the model
 * is shared afresh, and a folder bound to other identities is kept aside, never served to these.
 */
async function persistentSharing(id: string, dir: string, parties: PartyFingerprints, log: (line: string) => void, signal: AbortSignal): Promise<OwnerShares> {
  if (existsSync(path.join(dir, 'share.json'))) {
    const shares = await readShareDir(dir);
    const bound = await readShareBinding(dir, shares.epoch);
    if (bound === undefined || bound.every((fp, p) => fp === parties[p])) {
      if (bound) shares.holders = { 0: bound[0], 1: bound[1], 2: bound[2] };
      log(`host: ${id}: sharing ${shares.epoch} from ${dir}`);
      return shares;
    }
    const aside = `${dir}.other-parties-${shares.epoch}`;
    log(`host: ${id}: ${dir} was served to other party identities; keeping it as ${aside} and sharing afresh`);
    await rename(dir, aside);
  } else {
    // A folder without share.json is a sharing that never finished writing.
    await rm(dir, { recursive: true, force: true });
  }
  const started = performance.now();
  // `puma share` in a child process: sharing a larger model keeps a thread busy for many seconds, and this
  // process is the coordinator that visitors and parties are talking to meanwhile. It writes into a temporary
  // folder that is renamed once complete, so an interrupted start never leaves half a sharing.
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    await runShareProcess(id, tmp, signal);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await rename(tmp, dir);
  const shares = await readShareDir(dir);
  log(`host: ${id}: shared afresh (sharing ${shares.epoch}) into ${dir} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return shares;
}

/** `puma share` into `out`; aborting `signal` (the host shuts down) ends it. */
function runShareProcess(id: string, out: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PUMA_BIN, 'share', '--model', id, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'], signal, killSignal: 'SIGKILL' });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.once('error', (e) => reject(new Error(signal.aborted ? 'the host is shutting down' : `puma share could not start: ${e.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      // Its own error line names the problem (a missing file, a malformed config).
      else reject(new Error(stderr.split('\n').find((l) => l.startsWith('puma share: '))?.slice('puma share: '.length) ?? `puma share ended with ${signal ?? `exit code ${code}`}`));
    });
  });
}
