/**
 * The built pages the coordinator serves (dist/pages): rebuilt with `npm run build` when any of their sources is
 * newer than the last build, so `npm run demo` and `puma host` never serve stale pages.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const PAGES_DIR = path.join(REPO_ROOT, 'dist/pages');
const BUILT_MARKER = path.join(PAGES_DIR, 'client/index.html');
/**
 * What the built pages are made of; a newer file under any of these means the build is stale. The visitor page's
 * entry is apps/index.html, and the README's threat-model section ships with the pages as threat-model.txt.
 */
const SOURCES = ['apps/party', 'apps/client', 'apps/index.html', 'packages', 'public', 'vite.pages.config.ts', 'README.md']
  .map((p) => path.join(REPO_ROOT, p));

function newestMtime(p: string): number {
  if (!existsSync(p)) return 0;
  const info = statSync(p);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = 0;
  for (const name of readdirSync(p)) {
    if (name === 'node_modules' || name === 'dist' || name === 'build') continue;
    newest = Math.max(newest, newestMtime(path.join(p, name)));
  }
  return newest;
}

/** Runs `npm run build` (output on stderr) unless dist/pages is newer than every source. */
export function buildPagesIfStale(): void {
  const builtAt = existsSync(BUILT_MARKER) ? statSync(BUILT_MARKER).mtimeMs : 0;
  if (builtAt > Math.max(...SOURCES.map(newestMtime))) return;
  console.error('building the pages (npm run build)...');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', process.stderr, process.stderr], timeout: 600_000 });
}
