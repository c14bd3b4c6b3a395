/**
 * Multi-page build of the browser apps into dist/pages, which the coordinator serves (`npm run demo`,
 * `puma host`, `coordinator --static dist/pages`): the hosted demo's visitor page at the site root, and the party,
 * client and owner pages at party/, client/ and client/owner.html. Kept apart from vite.config.ts, which is
 * vitest's. Asset URLs are relative (base './'), so the pages also work behind a reverse proxy under a path prefix.
 * The WebAssembly kernels and WGSL shaders are embedded in generated .ts modules, so no extra assets ship; the
 * shared static assets (icon) come from public/ at the repository root, and the README's "Threat model" section
 * ships as threat-model.txt, so the visitor page can link to it on any host.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const apps = fileURLToPath(new URL('./apps', import.meta.url));
const README = fileURLToPath(new URL('./README.md', import.meta.url));
export const PAGES_OUT_DIR = fileURLToPath(new URL('./dist/pages', import.meta.url));

/** The README's "## Threat model" section, up to the next second-level heading. */
export function threatModelSection(readme: string): string {
  const start = readme.search(/^## Threat model\s*$/m);
  if (start < 0) throw new Error(`${README} has no "## Threat model" section for the visitor page to link to`);
  const rest = readme.slice(start);
  const next = rest.slice(3).search(/^## /m);
  return `${(next < 0 ? rest : rest.slice(0, next + 3)).trim()}\n`;
}

function threatModelAsset(): Plugin {
  return {
    name: 'puma-threat-model',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: 'threat-model.txt', source: threatModelSection(readFileSync(README, 'utf8')) });
    },
  };
}

export default defineConfig({
  root: apps,
  base: './',
  publicDir: fileURLToPath(new URL('./public', import.meta.url)),
  logLevel: 'warn',
  clearScreen: false,
  plugins: [threatModelAsset()],
  build: {
    outDir: PAGES_OUT_DIR,
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2048,
    rollupOptions: {
      input: {
        visitor: `${apps}/index.html`,
        party: `${apps}/party/index.html`,
        client: `${apps}/client/index.html`,
        owner: `${apps}/client/owner.html`,
      },
    },
  },
  worker: { format: 'es' },
});
