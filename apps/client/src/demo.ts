/**
 * `npm run demo [-- --port N --host H]`: builds the pages when the sources are newer than dist/pages, starts the
 * coordinator serving them (one Node process: pages, session API, signaling), creates a session and prints the
 * links to open: the client page, the model owner page and the three party pages, each with its own slot's
 * secret in the fragment (#secret=, never sent to a server). Ctrl-C stops it.
 *
 * `npm run demo -- --hosted [--port N ...]`: the hosted demo instead, exactly `puma host` with the same flags
 * (coordinator, model owner and three party processes on this machine; visitors open the site root).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PAGES_DIR, buildPagesIfStale, hostCommand } from '@puma/cli';
import { startCoordinator } from '@puma/coordinator';
import { createSession } from '@puma/transport-webrtc';

const ROOT = path.resolve(PAGES_DIR, '../..');

function fail(message: string): never {
  console.error(`demo: ${message}`);
  process.exit(2);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--hosted')) {
    process.exitCode = await hostCommand(argv.filter((a) => a !== '--hosted'));
    return;
  }
  let values: { port?: string; host?: string; model?: string };
  try {
    ({ values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' }, model: { type: 'string' } }, strict: true }));
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  const port = Number(values.port ?? process.env.PUMA_DEMO_PORT ?? 9000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be an integer in 0..65535, got "${values.port}"`);
  const host = values.host ?? '127.0.0.1';
  const modelName = values.model ?? 'stories260K';

  buildPagesIfStale();
  const coordinator = await startCoordinator({ port, host, staticDir: PAGES_DIR, recordLimitBytes: 0 });
  const session = await createSession(coordinator.url, { model: modelName });
  const base = coordinator.url;
  const q = `session=${session.id}`;
  const secret = (slot: keyof typeof session.slotSecrets) => `#secret=${session.slotSecrets[slot]}`;
  const modelDir = path.join(process.env.PUMA_MODELS ?? path.join(ROOT, '../shared/models'), modelName);
  console.log(`
coordinator (pages, session API, signaling) on ${base}

session ${session.id} (model ${modelName}); open each link in its own browser window or machine:
  client       ${base}/client/?${q}${secret('client')}
  model owner  ${base}/client/owner.html?${q}${secret('owner')}
                 pick the model files there, e.g. ${path.join(modelDir, '*.bin')}
  party 0      ${base}/party/?${q}&party=0${secret('party0')}
  party 1      ${base}/party/?${q}&party=1${secret('party1')}
  party 2      ${base}/party/?${q}&party=2${secret('party2')}
                 add &backend=wasm or &backend=webgpu before the # to force a backend (default: auto)

Each link carries only its own slot's secret: give each one only to whoever runs that role. Every page shows
its own safety code; the model owner and the client page approve the parties after comparing their codes with
the codes the party pages show. For another run, press "New session" on the client page: it shows fresh links.
Ctrl-C stops the coordinator.
`);
  const stop = () => {
    coordinator.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)));
