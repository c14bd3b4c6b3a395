/**
 * Multi-page build of the browser apps (party, client, owner) into dist/pages, which the coordinator serves
 * (`npm run demo`, `coordinator --static dist/pages`). Kept apart from vite.config.ts, which is vitest's.
 * Asset URLs are relative (base './'), so the pages also work behind a reverse proxy under a path prefix.
 * The WebAssembly kernels and WGSL shaders are embedded in generated .ts modules, so no extra assets ship.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const apps = fileURLToPath(new URL('./apps', import.meta.url));
export const PAGES_OUT_DIR = fileURLToPath(new URL('./dist/pages', import.meta.url));

export default defineConfig({
  root: apps,
  base: './',
  logLevel: 'warn',
  clearScreen: false,
  build: {
    outDir: PAGES_OUT_DIR,
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2048,
    rollupOptions: {
      input: {
        party: `${apps}/party/index.html`,
        client: `${apps}/client/index.html`,
        owner: `${apps}/client/owner.html`,
      },
    },
  },
  worker: { format: 'es' },
});
