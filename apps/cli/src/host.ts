/**
 * `puma host` (and `npm run demo -- --hosted`): the hosted privacy demo on one machine. The coordinator serves
 * the pages and the visit API (/api/hosted); a model owner in this process shares each hosted model once and
 * serves every visit's session; for each visit three `puma party` processes, each with its own identity key
 * and share cache under the state folder, compute with the visitor's browser, which alone holds the prompt.
 * Visitors are served `--max-concurrent` at a time, the rest queue. Ctrl-C / SIGTERM stops every visit (and
 * so every party process it started) and the coordinator.
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { HostedVisits, startCoordinator, type Coordinator, type HostedParty, type VisitRunner } from '@puma/coordinator';
import { safetyCode } from '@puma/transport-webrtc';
import { loadOrCreateIdentityFile } from '@puma/transport-webrtc/node';
import { DEFAULT_HOSTED_MODELS, SEAT_MAX_WEIGHT_BYTES, loadHostModels, type HostModel } from './host-models.ts';
import { PAGES_DIR, buildPagesIfStale } from './host-pages.ts';
import { HostVisitRunner } from './host-visit.ts';
import { ICE_FLAGS, ICE_USAGE, exitAfterGrace, iceFlags, intOption, runCommand, usageError, type EndpointIce } from './session-endpoint.ts';

export const HOST_USAGE = `usage: puma host [--port P] [--host H] [--state DIR] [--models a,b,c] [--max-concurrent N] [--max-queue N]
                 [--idle-timeout S] [--connect-timeout S] [--trust-proxy] [--ice-servers <json|@file>] [--ice-transport-policy all|relay] [--turn-secret <secret|@file>]
                 [--static DIR] [--verbose] [--help]
  Serves the hosted demo: visitors open http://H:P/ and run the models privately with the host's three parties.
  --state: identity keys, share caches and the owner's sharings (default ~/.cache/puma-web/host), so a restarted
  host keeps its safety codes and its parties download nothing. --models: default ${DEFAULT_HOSTED_MODELS.join(',')}
  (by name under $PUMA_MODELS or by path; a model whose files are missing is left out with a warning).
  --max-concurrent: visitors served at once (default 1; the rest wait in a queue of --max-queue, default 20).
  --idle-timeout: a visit whose page stops polling for this long is ended (default 10 s). --trust-proxy: behind a
  reverse proxy that sets X-Forwarded-For/-Proto/-Host. The ICE flags go to the visitor pages, the owner and every
  party: ${ICE_USAGE}`;

export interface HostOptions {
  port?: number;
  host?: string;
  stateDir: string;
  models?: readonly string[];
  maxConcurrent?: number;
  maxQueue?: number;
  idleTimeoutMs?: number;
  connectTimeoutS?: number;
  trustProxy?: boolean;
  /** STUN/TURN servers and policy for the pages (GET /api/config) and the owner; null: host candidates only. */
  ice?: EndpointIce | null;
  /** The same ICE configuration as `puma party` flags (--ice-servers, --ice-transport-policy, --turn-secret). */
  partyArgs?: readonly string[];
  /**
   * Keep one session of the default model ready ahead of the next visitor while a slot is free (default true):
   * a visitor is then ready at once instead of after three processes started.
   */
  standby?: boolean;
  /** Pages to serve; default dist/pages (built when stale). Null: no pages (API only). */
  staticDir?: string | null;
  log?: (line: string) => void;
  partyLog?: (line: string) => void;
}

export interface Host {
  coordinator: Coordinator;
  /** The visitor's URL (the site root). */
  url: string;
  parties: HostedParty[];
  /** The models served so far (the default first; others are added as they are shared). */
  models: HostModel[];
  /** Resolves once every listed model is served or left out. */
  modelsLoaded: Promise<void>;
  close(): Promise<void>;
}

export function defaultStateDir(): string {
  return path.join(homedir(), '.cache', 'puma-web', 'host');
}

/** Starts the coordinator with the visit API; models are shared (or read from the state folder) first. */
export async function startHost(o: HostOptions): Promise<Host> {
  const log = o.log ?? ((l: string) => console.error(l));
  const stateDir = path.resolve(o.stateDir);
  const runDir = path.join(stateDir, 'run');
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const keyFile = (name: string) => path.join(stateDir, 'keys', `${name}.json`);
  const partyKey = async (p: 0 | 1 | 2) => ({ keyFile: keyFile(`party${p}`), fingerprint: (await loadOrCreateIdentityFile(keyFile(`party${p}`))).fingerprint });
  const partyKeys = [await partyKey(0), await partyKey(1), await partyKey(2)] as const;
  const owner = await loadOrCreateIdentityFile(keyFile('owner'));
  const fingerprints = [partyKeys[0].fingerprint, partyKeys[1].fingerprint, partyKeys[2].fingerprint] as const;
  const models: HostModel[] = [];
  const byId = new Map<string, HostModel>();
  let visits: HostedVisits | null = null;
  const add = (m: HostModel) => {
    models.push(m);
    byId.set(m.info.id, m);
    visits?.addModel(m.info, m.freshSharing !== undefined);
  };
  // The default model is served as soon as it is ready; larger ones join the listing once shared.
  const sharing = new AbortController();
  const { first, rest } = await loadHostModels(o.models ?? DEFAULT_HOSTED_MODELS, stateDir, fingerprints, log, add, sharing.signal);
  add(first);
  const parties: HostedParty[] = partyKeys.map((k, i) => ({ index: i as 0 | 1 | 2, fingerprint: k.fingerprint, safetyCode: safetyCode(k.fingerprint) }));

  let runner: HostVisitRunner | null = null;
  const lateRunner: VisitRunner = {
    start: (visit, events) => runner!.start(visit, events),
    idle: () => runner?.idle(),
    close: async () => runner?.close(),
  };
  visits = new HostedVisits({
    info: { models: models.map((m) => m.info), parties, maxConcurrent: o.maxConcurrent ?? 1, seats: models.some((m) => m.freshSharing) },
    runner: lateRunner,
    maxQueue: o.maxQueue,
    idleTimeoutMs: o.idleTimeoutMs,
    seatRefusal: (id) => (byId.get(id)?.freshSharing ? null : seatRefusal(byId.get(id)!, models)),
  });
  let staticDir: string | undefined;
  if (o.staticDir !== null) {
    if (o.staticDir === undefined) buildPagesIfStale();
    staticDir = o.staticDir ?? PAGES_DIR;
  }
  const coordinator = await startCoordinator({
    port: o.port ?? 0, host: o.host, staticDir, hosted: visits, trustProxy: o.trustProxy, recordLimitBytes: 0, iceConfig: o.ice?.config, turnSecret: o.ice?.turnSecret,
    // The host creates every visit's session and its endpoints join from this machine: one visit costs one
    // session and up to three joins from loopback. Sessions of finished visits go after 5 idle minutes.
    sessionTtlMs: 5 * 60_000, maxSessionsPerAddress: 1000, createRateLimit: { max: 600, windowMs: 60_000 }, joinRateLimit: { max: 2000, windowMs: 60_000 },
  });
  const loopback = `http://127.0.0.1:${coordinator.port}`;
  runner = new HostVisitRunner({
    coordinator: o.host === undefined || o.host === '127.0.0.1' || o.host === '0.0.0.0' ? loopback : coordinator.url,
    models: byId, owner, parties: partyKeys, cacheDir: (p) => path.join(stateDir, 'cache', `party${p}`), runDir,
    connectTimeoutS: o.connectTimeoutS ?? 120, ice: o.ice ?? null, partyArgs: o.partyArgs ?? [], log, partyLog: o.partyLog,
  }, o.standby === false ? undefined : first.info.id);
  // The first visitor of the default model finds its session ready (owner and parties joined, weights loaded).
  runner.idle();
  let closing: Promise<void> | null = null;
  return {
    coordinator, url: `${coordinator.url}/`, parties, models,
    modelsLoaded: rest,
    close: () => {
      // A `puma share` still running for a later model ends with the host (its unfinished folder is removed).
      sharing.abort();
      return (closing ??= Promise.all([visits!.close(), rest]).then(() => coordinator.close()));
    },
  };
}

function seatRefusal(model: HostModel, models: readonly HostModel[]): string {
  const seatable = models.filter((m) => m.freshSharing).map((m) => m.info.id);
  const why = model.info.task === 'classify'
    ? `${model.info.id} is a classifier; seats are offered for generation models`
    : `${model.info.id} (${(model.weightBytes / 2 ** 20).toFixed(1)} MiB of weights) is too large for a seat: a seat takes a fresh sharing per visit and a whole party share in the tab, so seats are offered for models up to ${SEAT_MAX_WEIGHT_BYTES / 2 ** 20} MiB`;
  return `${why}${seatable.length ? ` (here: ${seatable.join(', ')})` : ''}`;
}

/** `puma host ...`: runs until SIGINT/SIGTERM. */
export function hostCommand(argv: string[]): Promise<number> {
  return runCommand('host', HOST_USAGE, async () => {
    const { values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' }, host: { type: 'string' }, state: { type: 'string' }, models: { type: 'string' },
        'max-concurrent': { type: 'string' }, 'max-queue': { type: 'string' }, 'idle-timeout': { type: 'string' },
        'connect-timeout': { type: 'string' }, 'trust-proxy': { type: 'boolean', default: false },
        ...ICE_FLAGS, static: { type: 'string' },
        verbose: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
      },
    });
    if (values.help) {
      console.log(HOST_USAGE);
      return;
    }
    const models = values.models?.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (models !== undefined && models.length === 0) usageError('--models needs at least one model name');
    if (values.state === '') usageError('--state needs a folder');
    const ice = iceFlags(values);
    const partyArgs = [
      ...(values['ice-servers'] === undefined ? [] : ['--ice-servers', values['ice-servers']]),
      ...(values['ice-transport-policy'] === undefined ? [] : ['--ice-transport-policy', values['ice-transport-policy']]),
      ...(values['turn-secret'] === undefined ? [] : ['--turn-secret', values['turn-secret']]),
    ];
    const host = await startHost({
      port: intOption(values.port, 'port', 9000, 0, 65535),
      host: values.host ?? '127.0.0.1',
      stateDir: values.state ?? defaultStateDir(),
      models,
      maxConcurrent: intOption(values['max-concurrent'], 'max-concurrent', 1, 1, 64),
      maxQueue: intOption(values['max-queue'], 'max-queue', 20, 0, 10_000),
      idleTimeoutMs: intOption(values['idle-timeout'], 'idle-timeout', 10, 1, 3600) * 1000,
      connectTimeoutS: intOption(values['connect-timeout'], 'connect-timeout', 120, 5, 3600),
      trustProxy: values['trust-proxy'],
      ice,
      partyArgs,
      staticDir: values.static,
      partyLog: values.verbose ? (l) => console.error(l) : undefined,
    });
    const codes = host.parties.map((p) => `party ${p.index} ${p.safetyCode}`).join(', ');
    console.log(`puma host: visitors open ${host.url} (models ${host.models.map((m) => m.info.id).join(', ')}; safety codes: ${codes})`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        console.error(`puma host: ${signal}, ending every visit and its parties`);
        void host.close().then(resolve);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    // The owner's WebRTC connections can keep node-datachannel busy for a while after they closed.
    exitAfterGrace();
  });
}
