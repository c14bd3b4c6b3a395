#!/usr/bin/env node
/**
 * Layering check (DESIGN.md): imports point down only.
 *   ring < backend* < transport* < protocol < nn < models < worker < apps
 * protocol and nn (library code, not tests) never import a concrete backend, PeerJS, Comlink or the DOM;
 * only packages/worker touches Comlink or constructs Workers; no file reaches into another package by a
 * relative path. Exits 1 listing every violation.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const LAYER = {
  ring: 0, backend: 1, 'backend-wasm': 1, 'backend-webgpu': 1, transport: 2, 'transport-webrtc': 2,
  protocol: 3, nn: 4, models: 5, worker: 6,
};
const APP_LAYER = 7;
const PURE = new Set(['protocol', 'nn']);
const FORBIDDEN_IN_PURE = [/^@puma\/backend-(wasm|webgpu)/, /^peerjs/, /^comlink/, /^node:/];
const isTest = (f) => /\.test\.ts$|test-support\.ts$/.test(f);

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.endsWith('.generated.ts')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mjs|js)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const problems = [];
const units = [
  ...readdirSync(join(root, 'packages')).map((n) => ({ name: n, dir: join(root, 'packages', n), layer: LAYER[n] })),
  // apps/ also holds the visitor page's index.html (the site root of the Vite build): only folders are apps.
  ...readdirSync(join(root, 'apps')).filter((n) => statSync(join(root, 'apps', n)).isDirectory()).map((n) => ({ name: `apps/${n}`, dir: join(root, 'apps', n), layer: APP_LAYER })),
];
for (const u of units) {
  if (u.layer === undefined) {
    problems.push(`packages/${u.name}: not assigned to a layer in scripts/check-layers.mjs`);
    continue;
  }
  for (const file of walk(u.dir)) {
    const rel = relative(root, file);
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map((m) => m[1]);
    for (const s of specs) {
      const m = s.match(/^@puma\/([a-z-]+)/);
      if (m) {
        const target = LAYER[m[1]] ?? (['cli', 'coordinator', 'party', 'client'].includes(m[1]) ? APP_LAYER : undefined);
        if (target === undefined) problems.push(`${rel}: imports unknown package ${s}`);
        else if (target > u.layer) problems.push(`${rel}: ${u.name} (layer ${u.layer}) imports ${s} (layer ${target}) — imports must point down`);
      }
      if (s.startsWith('.')) {
        const abs = resolve(join(file, '..'), s);
        const intoOtherUnit = [join(root, 'packages'), join(root, 'apps')].some((d) => abs.startsWith(d + sep)) && !abs.startsWith(u.dir + sep);
        if (intoOtherUnit) problems.push(`${rel}: relative import ${s} reaches into another package`);
      }
      if (PURE.has(u.name) && !isTest(file) && FORBIDDEN_IN_PURE.some((re) => re.test(s))) problems.push(`${rel}: ${u.name} must not import ${s}`);
      if (/^comlink/.test(s) && u.name !== 'worker') problems.push(`${rel}: only packages/worker may import Comlink`);
    }
    if (PURE.has(u.name) && !isTest(file) && /\b(document|window|navigator)\./.test(text)) problems.push(`${rel}: ${u.name} must not touch the DOM`);
  }
}
if (problems.length) {
  console.error(`layering check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`layering check: ${units.length} packages, imports point down`);
