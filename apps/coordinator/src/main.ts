/**
 * CLI: `node --import tsx apps/coordinator/src/main.ts [--port N] [--host H] [--static DIR] [--ttl-minutes M]
 * [--lifetime-hours H] [--trust-proxy] [--ice-servers <json|@file>] [--ice-transport-policy all|relay]
 * [--turn-secret <secret|@file>]`. Each flag falls back to an environment variable (PUMA_COORDINATOR_PORT or PORT,
 * PUMA_COORDINATOR_HOST, PUMA_STATIC_DIR, PUMA_SESSION_TTL_MINUTES, PUMA_SESSION_LIFETIME_HOURS,
 * PUMA_TRUST_PROXY=1, PUMA_ICE_SERVERS, PUMA_ICE_TRANSPORT_POLICY, PUMA_TURN_SECRET), then to the defaults 9000,
 * 127.0.0.1, none, 30, 6, off, none, all, none. --trust-proxy takes client addresses (for the per-address limits)
 * from X-Forwarded-For: only behind a reverse proxy that sets it. The ICE servers (STUN/TURN) and policy are
 * served to pages at GET /api/config; with --turn-secret their TURN credentials are minted per request.
 */
import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { iceConfigFromFlags, readTurnSecret } from '@puma/transport-webrtc/node';
import { startCoordinator } from './index.ts';

function fail(message: string): never {
  console.error(`coordinator: ${message}`);
  process.exit(2);
}

function number(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
  return n;
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        static: { type: 'string' },
        'ttl-minutes': { type: 'string' },
        'lifetime-hours': { type: 'string' },
        'trust-proxy': { type: 'boolean' },
        'ice-servers': { type: 'string' },
        'ice-transport-policy': { type: 'string' },
        'turn-secret': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  if (values.help) {
    console.log('usage: coordinator [--port N] [--host H] [--static DIR] [--ttl-minutes M] [--lifetime-hours H] [--trust-proxy]\n' +
      '                   [--ice-servers <json|@file>] [--ice-transport-policy all|relay] [--turn-secret <secret|@file>]');
    return;
  }
  const env = process.env;
  const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);
  const port = number('port', str(values.port) ?? env.PUMA_COORDINATOR_PORT ?? env.PORT ?? '9000', 0, 65535);
  const host = str(values.host) ?? env.PUMA_COORDINATOR_HOST ?? '127.0.0.1';
  const staticDir = str(values.static) ?? env.PUMA_STATIC_DIR;
  if (staticDir !== undefined && !(existsSync(staticDir) && statSync(staticDir).isDirectory())) fail(`--static ${staticDir} is not a directory`);
  const ttlMinutes = number('ttl-minutes', str(values['ttl-minutes']) ?? env.PUMA_SESSION_TTL_MINUTES ?? '30', 1, 7 * 24 * 60);
  const lifetimeHours = number('lifetime-hours', str(values['lifetime-hours']) ?? env.PUMA_SESSION_LIFETIME_HOURS ?? '6', 1, 7 * 24);
  const trustProxy = values['trust-proxy'] === true || env.PUMA_TRUST_PROXY === '1';
  let iceConfig;
  let turnSecret;
  try {
    const secretFlag = str(values['turn-secret']) ?? env.PUMA_TURN_SECRET;
    turnSecret = secretFlag === undefined ? undefined : readTurnSecret(secretFlag);
    const servers = str(values['ice-servers']) ?? env.PUMA_ICE_SERVERS;
    if (turnSecret !== undefined && servers === undefined) fail('--turn-secret needs --ice-servers naming the TURN server(s) it is shared with');
    iceConfig = iceConfigFromFlags(servers, str(values['ice-transport-policy']) ?? env.PUMA_ICE_TRANSPORT_POLICY, turnSecret === undefined ? 'given' : 'minted') ?? undefined;
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }

  let coordinator;
  try {
    // A long-running coordinator keeps no copies of what it receives (tests start their own and read `record`).
    coordinator = await startCoordinator({
      port,
      host,
      staticDir,
      sessionTtlMs: ttlMinutes * 60_000,
      maxSessionLifetimeMs: lifetimeHours * 3600_000,
      trustProxy,
      recordLimitBytes: 0,
      iceConfig,
      turnSecret,
    });
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  console.log(`coordinator listening on ${coordinator.url} (signaling at ${coordinator.url}/peerjs)`);
  if (iceConfig) {
    const minted = turnSecret === undefined ? '' : ', TURN credentials minted per request';
    console.log(`coordinator: pages use ICE servers ${iceConfig.iceServers.flatMap((s) => s.urls).join(', ') || '(none)'}, policy ${iceConfig.iceTransportPolicy}${minted}`);
  }
  const stop = (signal: string) => {
    console.log(`coordinator: ${signal}, closing`);
    coordinator.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

void main();
