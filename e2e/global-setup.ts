/** Builds the pages the suite serves (`npm run build`: generated kernels, then dist/pages), so no test runs stale bundles. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CHROMIUM } from '@puma/backend-webgpu/chromium';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export default function globalSetup(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium or set PUMA_CHROMIUM`);
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit', timeout: 300_000 });
}
