#!/usr/bin/env node
/**
 * Makes a fresh clone runnable: installs the npm packages when node_modules is missing or older than the
 * lockfile, and with --browser installs Debian's chromium (for the browser tests) when it is absent.
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
  const chromium = process.env.PUMA_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    if (process.getuid?.() !== 0) {
      console.error(`browser tests need Chromium at ${chromium}: install Debian's chromium (sudo apt-get install chromium) or set PUMA_CHROMIUM`);
      process.exit(1);
    }
    console.error('installing Debian chromium for the browser tests...');
    run('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium');
  }
}
