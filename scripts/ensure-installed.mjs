#!/usr/bin/env node
/**
 * Makes a fresh clone runnable: installs the npm packages when node_modules is missing or older than the
 * lockfile, and with --browser installs Debian's chromium (for the browser tests) and coturn (the TURN server the
 * relay tests start on loopback; its system service is never used) when they are absent.
 * Uses only Node built-ins because it runs before anything is installed.
 */
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
// Installers' output goes to stderr: this runs before commands whose stdout is a JSON document (bench --json).
const run = (cmd) => execSync(cmd, { cwd: root, stdio: ['inherit', process.stderr, 'inherit'] });

const marker = resolve(root, 'node_modules/.package-lock.json');
const lock = resolve(root, 'package-lock.json');
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  console.error('installing npm packages (npm ci)...');
  run('npm ci --no-audit --no-fund');
}

if (process.argv.includes('--browser')) {
  const missing = [
    { path: process.env.PUMA_CHROMIUM ?? '/usr/bin/chromium', pkg: 'chromium', env: 'PUMA_CHROMIUM', why: 'browser tests need Chromium' },
    { path: process.env.PUMA_TURNSERVER ?? '/usr/bin/turnserver', pkg: 'coturn', env: 'PUMA_TURNSERVER', why: 'relay tests need coturn' },
  ].filter((d) => !existsSync(d.path));
  if (missing.length > 0) {
    if (process.getuid?.() !== 0) {
      for (const d of missing) console.error(`${d.why} at ${d.path}: install Debian's ${d.pkg} (sudo apt-get install ${d.pkg}) or set ${d.env}`);
      process.exit(1);
    }
    const pkgs = missing.map((d) => d.pkg).join(' ');
    console.error(`installing Debian ${pkgs} for the browser and relay tests...`);
    // The coturn package may start its system service; the tests start their own turnserver and never use it.
    run(`apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkgs}`);
  }
}
