/**
 * A coturn TURN server on loopback for the relay tests (Playwright and vitest): Debian's /usr/bin/turnserver on
 * 127.0.0.1 with a free port, long-term credentials (user u, realm puma; or minted from a shared secret, the TURN
 * REST API), loopback peers allowed, no TLS, no
 * CLI, relay ports in a small range, and its own config, log, pid and database files in a temp dir. It is
 * stopped by its PID; no system-wide coturn service is used. The log is kept so tests can count allocations.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const TURNSERVER = process.env.PUMA_TURNSERVER ?? '/usr/bin/turnserver';
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const RELAY_PORTS = 100;
/**
 * Relayed addresses live on another loopback address than the endpoints' host candidates (127.0.0.1). TURN
 * permissions are per IP address, so with both on 127.0.0.1 a peer could reach the relay from its host socket
 * (libjuice pairs it with remote relay candidates even under a relay-only policy) and the test would not prove
 * relaying; on 127.0.0.2 only relay-to-relay paths work, as between real machines.
 */
export const RELAY_IP = '127.0.0.2';

export interface TurnServer {
  /** turn:127.0.0.1:<port> (UDP). */
  readonly url: string;
  readonly port: number;
  readonly username: string;
  readonly credential: string;
  /** An RTCIceServer entry for this server; `credential` may be overridden (a wrong password). */
  iceServer(credential?: string): { urls: string[]; username: string; credential: string };
  /** The log so far. */
  log(): string;
  /** Successful TURN allocations so far, by the log: each is one relay candidate handed out. */
  allocations(): number;
  /** Relayed UDP ports of successful allocations (RELAY_IP:<port>), by the log. */
  relayPorts(): number[];
  stop(): Promise<void>;
}

export interface TurnServerOptions {
  username?: string;
  credential?: string;
  /** Accept credentials minted from this secret (TURN REST API: use-auth-secret) instead of the static user. */
  authSecret?: string;
}

/** Starts coturn; throws with its log when it is missing or does not come up within START_TIMEOUT_MS. */
export async function startTurnServer(options: TurnServerOptions = {}): Promise<TurnServer> {
  if (!existsSync(TURNSERVER)) {
    throw new Error(`coturn not found at ${TURNSERVER}: install Debian's coturn (apt-get install coturn; node scripts/ensure-installed.mjs --browser does) or set PUMA_TURNSERVER`);
  }
  const username = options.username ?? 'u';
  const credential = options.credential ?? 'p';
  const dir = mkdtempSync(path.join(tmpdir(), 'puma-turn-'));
  const logFile = path.join(dir, 'turn.log');
  const port = await freePort();
  const minPort = 49152 + Math.floor(Math.random() * ((65535 - 49152 - RELAY_PORTS) / RELAY_PORTS)) * RELAY_PORTS;
  const args = [
    '-n', // no config file: every setting is here
    '--listening-ip=127.0.0.1', `--relay-ip=${RELAY_IP}`, `--listening-port=${port}`,
    `--min-port=${minPort}`, `--max-port=${minPort + RELAY_PORTS - 1}`,
    ...(options.authSecret === undefined ? ['--lt-cred-mech', `--user=${username}:${credential}`] : ['--use-auth-secret', `--static-auth-secret=${options.authSecret}`]),
    '--realm=puma',
    '--allow-loopback-peers', '--no-cli', '--no-tls', '--no-dtls', '--no-tcp-relay', '--no-multicast-peers',
    `--log-file=${logFile}`, '--simple-log', '--no-stdout-log', `--pidfile=${path.join(dir, 'turn.pid')}`,
    `--userdb=${path.join(dir, 'turndb')}`, '--verbose',
  ];
  const child = spawn(TURNSERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
  let exited: string | null = null;
  child.once('exit', (code, signal) => void (exited = `exited with ${signal ?? code}`));
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const until = Date.now() + START_TIMEOUT_MS;
  while (!/Total General servers/.test(log())) {
    if (exited !== null || Date.now() > until) {
      await stopChild(child);
      const why = exited ?? `not ready within ${START_TIMEOUT_MS / 1000} s`;
      const text = `${log()}\n${stderr}`.trim().split('\n').slice(-20).join('\n');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`coturn ${why}:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = `turn:127.0.0.1:${port}`;
  const allocationLines = () => log().split('\n').filter((l) => /ALLOCATE processed, success/.test(l));
  let stopped: Promise<void> | null = null;
  return {
    url,
    port,
    username,
    credential,
    iceServer: (cred = credential) => ({ urls: [url], username, credential: cred }),
    log,
    allocations: () => allocationLines().length,
    relayPorts: () => [...log().matchAll(/Local relay addr: 127\.0\.0\.2:(\d+)/g)].map((m) => Number(m[1])),
    stop() {
      stopped ??= stopChild(child).then(() => rmSync(dir, { recursive: true, force: true }));
      return stopped;
    },
  };
}

/** SIGTERM to the process this harness started (by its handle, so by PID), SIGKILL if it lingers. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await gone;
  clearTimeout(timer);
}

/** A port free for both TCP and UDP on 127.0.0.1 right now (coturn listens on both). */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port for coturn on 127.0.0.1 after 20 tries');
}
