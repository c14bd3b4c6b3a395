/**
 * GET /api/config: pages get the operator's ICE servers and policy; the default is host candidates only; the
 * coordinator's --ice-servers / --ice-transport-policy flags feed it, and bad ones stop it at start with the
 * field named.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchIceConfig, type IceConfig } from '@puma/transport-webrtc';
import { startCoordinator, type Coordinator } from './index.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const relay: IceConfig = {
  iceServers: [{ urls: ['stun:127.0.0.1:3478'] }, { urls: ['turn:127.0.0.1:3478'], username: 'u', credential: 'p' }],
  iceTransportPolicy: 'relay',
};
const started: Coordinator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.close()));
});

async function start(iceConfig?: IceConfig): Promise<Coordinator> {
  const c = await startCoordinator({ iceConfig });
  started.push(c);
  return c;
}

/** Runs the coordinator's main.ts with `args` until it prints its URL (then stops it) or exits. */
function runMain(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; config?: unknown }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let config: unknown;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /listening on (\S+)/.exec(stdout);
      if (m && config === undefined) {
        config = null;
        fetch(`${m[1]}/api/config`).then((r) => r.json()).then(
          (body) => void ((config = body), child.kill('SIGTERM')),
          (e) => void ((config = String(e)), child.kill('SIGTERM')),
        );
      }
    });
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, config });
    });
  });
}

describe('GET /api/config', () => {
  it('serves the ICE config the coordinator was started with', async () => {
    const c = await start(relay);
    expect(await fetchIceConfig(c.url)).toEqual(relay);
    const res = await fetch(`${c.url}/api/config`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ ice: relay });
  });

  it('serves host candidates only by default', async () => {
    const c = await start();
    expect(await fetchIceConfig(c.url)).toEqual({ iceServers: [], iceTransportPolicy: 'all' });
  });

  it('a server without the route is named in the error', async () => {
    const c = await start();
    await expect(fetchIceConfig(`${c.url}/nowhere`)).rejects.toThrow(new RegExp(`cannot read the ICE config of the coordinator at ${c.url}/nowhere: .*404`));
  });

  it('answers other methods with 405', async () => {
    const c = await start();
    const res = await fetch(`${c.url}/api/config`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(405);
    expect((await res.json()).error).toMatch(/\/api\/config accepts GET, not POST/);
  });

  it('refuses an invalid ICE config at start, naming the field', async () => {
    const bad = { iceServers: [{ urls: ['turn:127.0.0.1'] }], iceTransportPolicy: 'all' } as IceConfig;
    await expect(startCoordinator({ iceConfig: bad })).rejects.toThrow(/coordinator option iceConfig: iceServers\[0\] has a TURN URL, so it needs both "username" and "credential"/);
  });
});

describe('minted TURN credentials', () => {
  it('are served per request, and a config that also gives credentials is refused at start', async () => {
    const c = await startCoordinator({ iceConfig: { iceServers: [{ urls: ['turn:127.0.0.1:3478'] }], iceTransportPolicy: 'all' }, turnSecret: 'sixteen-chars-or-more' });
    started.push(c);
    expect((await fetchIceConfig(c.url)).iceServers[0].username).toMatch(/^\d+:puma$/);
    await expect(startCoordinator({ iceConfig: relay, turnSecret: 'sixteen-chars-or-more' })).rejects.toThrow(/iceServers\[1\]: TURN credentials are minted from the TURN secret, so leave out/);
  });
});

describe('coordinator flags', () => {
  it('--ice-servers and --ice-transport-policy reach /api/config', async () => {
    const run = await runMain(['--ice-servers', JSON.stringify(relay.iceServers), '--ice-transport-policy', 'relay']);
    expect(run.stdout).toMatch(/pages use ICE servers stun:127\.0\.0\.1:3478, turn:127\.0\.0\.1:3478, policy relay/);
    expect(run.config).toEqual({ ice: relay });
  });

  it('--turn-secret without --ice-servers stops the coordinator with exit code 2', async () => {
    const run = await runMain(['--turn-secret', 'sixteen-chars-or-more']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/coordinator: --turn-secret needs --ice-servers naming the TURN server\(s\) it is shared with/);
  });

  it('a relay policy without a TURN server stops the coordinator with exit code 2', async () => {
    const run = await runMain(['--ice-servers', '[{"urls":"stun:127.0.0.1"}]', '--ice-transport-policy', 'relay']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/coordinator: the ICE flags: iceTransportPolicy "relay" needs at least one turn: or turns: server/);
  });
});
