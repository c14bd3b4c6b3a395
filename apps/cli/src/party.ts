/**
 * `puma party`: one computing party as a Node endpoint over WebRTC. Prints a status line per event on stderr
 * and a JSON report on stdout; exits 1 with a message naming who disconnected when the session fails.
 */
import { parseArgs } from 'node:util';
import { CLIENT, OWNER, type PartyId } from '@puma/transport';
import type { Backend } from '@puma/backend';
import type { ModelConfig } from '@puma/models';
import { FileCalibrationCache, defaultCalibrationFile, nodeCpu, parseBackendChoice, selectBackend, selectBackendForModel, type BackendChoice } from '@puma/worker';
import { MemoryShareStore, runPartySession, type PartyStatus, type ShareStore } from '@puma/worker/session';
import { KEY_USAGE, loadEndpointIdentity, parsePeerPins, readSlotSecret } from './endpoint-trust.ts';
import { nodeWeightRead } from './node-weight-read.ts';
import { DirectoryShareStore } from './party-store.ts';
import { ICE_FLAGS, ICE_USAGE, connectEndpoint, coordinatorUrl, iceFlags, exitAfterGrace, intOption, interruptSignal, formatBytes, required, runCommand, usageError } from './session-endpoint.ts';

export const PARTY_USAGE = `usage: puma party --coordinator <url> --session <id> --party 0|1|2 (--secret <hex> | --secret-file <file>)
                  [--key <file>] [--peers party1=<fp>,client=<fp>,owner=<fp>] [--backend wasm|webgpu|auto]
                  [--cache <dir>] [--weight-cache-mib N] [--step-timeout S] [--connect-timeout S]
  Runs one computing party. With --cache, weight shares are kept in <dir> and verified by sha256, so a
  later session with the same sharing downloads nothing. Each pass streams the weights from the store;
  --weight-cache-mib caps the weight blocks kept in memory for later passes (default 384; the whole share
  when smaller; 0 streams every pass). --peers pins the keys of some peers (fingerprints
  from "puma identity"); a peer proving another key is refused. --step-timeout: how long one step of the
  protocol may wait for a peer before the session fails.
  ${KEY_USAGE}
  ${ICE_USAGE}`;

/** Weight-download progress is printed at most this often; every other event is printed as it comes. */
const WEIGHT_LINE_INTERVAL_MS = 1_000;

function statusLine(s: PartyStatus): string {
  const traffic = `sent ${formatBytes(s.bytesSent)}, received ${formatBytes(s.bytesReceived)}`;
  return `party ${s.party} ${s.phase}: ${s.message} [${traffic}]`;
}

export function partyCommand(argv: string[]): Promise<number> {
  return runCommand('party', PARTY_USAGE, async (afterOutcome) => {
    const { values } = parseArgs({
      args: argv,
      options: {
        coordinator: { type: 'string' }, session: { type: 'string' }, party: { type: 'string' },
        backend: { type: 'string', default: 'wasm' }, cache: { type: 'string' }, 'connect-timeout': { type: 'string' },
        ...ICE_FLAGS, key: { type: 'string' }, secret: { type: 'string' }, 'secret-file': { type: 'string' }, peers: { type: 'string' },
        'step-timeout': { type: 'string' }, 'weight-cache-mib': { type: 'string' },
      },
    });
    const coordinator = coordinatorUrl(values.coordinator);
    const sessionId = required(values.session, 'session');
    const id = intOption(required(values.party, 'party'), 'party', 0, 0, 2) as PartyId;
    let choice: BackendChoice;
    try {
      choice = parseBackendChoice(values.backend);
    } catch (e) {
      usageError(e instanceof Error ? e.message : String(e));
    }
    const connectTimeoutMs = intOption(values['connect-timeout'], 'connect-timeout', 60, 1, 24 * 3600) * 1000;
    const weightCacheMiB = values['weight-cache-mib'] === undefined ? undefined : intOption(values['weight-cache-mib'], 'weight-cache-mib', 0, 0, 1 << 20);
    const stepTimeoutMs = values['step-timeout'] === undefined ? undefined : intOption(values['step-timeout'], 'step-timeout', 0, 1, 24 * 3600) * 1000;
    const peers = [...([0, 1, 2] as const).filter((p) => p !== id), CLIENT, OWNER];
    const expectedPeers = parsePeerPins(values.peers, id, peers);
    const ice = iceFlags(values);
    const slotSecret = await readSlotSecret(values.secret, values['secret-file']);
    const { identity } = await loadEndpointIdentity(values.key);
    const store: ShareStore = values.cache !== undefined ? new DirectoryShareStore(values.cache) : new MemoryShareStore();
    // Dawn (native) is loaded only when a GPU backend may be chosen.
    const gpu = choice === 'wasm' ? undefined : (await import('@puma/backend-webgpu/node')).nodeGpu();
    const cache = new FileCalibrationCache(defaultCalibrationFile());
    // 'auto' waits for the owner's manifest and calibrates on the model's own shapes; an explicit choice starts now.
    let backend: Backend | ((config: ModelConfig) => Promise<Backend>);
    if (choice === 'auto') {
      backend = async (config) => {
        const chosen = await selectBackendForModel('auto', config, { gpu, cpu: nodeCpu(), cache });
        console.error(`party ${id} backend: ${chosen.summary}`);
        return chosen.backend;
      };
    } else {
      const chosen = await selectBackend(choice, { gpu, cpu: nodeCpu(), cache });
      console.error(`party ${id} backend: ${chosen.summary}`);
      backend = chosen.backend;
    }
    const signal = interruptSignal();
    const channel = await connectEndpoint({
      coordinator, sessionId, self: id, peers, connectTimeoutMs, identity, slotSecret, expectedPeers, ice, log: (l) => console.error(l),
    });
    // After a failure the session runtime has closed the channel with the reason already; this is then a no-op.
    afterOutcome(async () => {
      channel.close(`party ${id}: session over`);
      await channel.closed;
      exitAfterGrace();
    });
    let lastWeightLine = 0;
    const report = await runPartySession({
      id, channel, backend, store, signal, identity: identity.fingerprint, stepTimeoutMs,
      weightRead: nodeWeightRead(weightCacheMiB === undefined ? undefined : weightCacheMiB * 2 ** 20),
      onStatus: (s) => {
        if (s.phase === 'weights') {
          const now = Date.now();
          if (now - lastWeightLine < WEIGHT_LINE_INTERVAL_MS) return;
          lastWeightLine = now;
        }
        console.error(statusLine(s));
      },
    });
    console.log(JSON.stringify({ party: id, ...report }));
  });
}
