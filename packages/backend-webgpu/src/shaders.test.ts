import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KERNELS } from './kernels.ts';
import { shaders } from './shaders.generated.ts';

const SHADER_DIR = fileURLToPath(new URL('../../../shaders', import.meta.url));

describe('generated shader module', () => {
  // A stale build would test old WGSL against new host code; rebuild with scripts/build.mjs.
  it('matches shaders/*.wgsl', () => {
    const files = readdirSync(SHADER_DIR).filter((f) => f.endsWith('.wgsl'));
    const onDisk = Object.fromEntries(files.map((f) => [f.slice(0, -5), readFileSync(`${SHADER_DIR}/${f}`, 'utf8')]));
    expect(shaders, 'src/shaders.generated.ts is stale: run node packages/backend-webgpu/scripts/build.mjs').toEqual(onDisk);
  });

  it('every kernel names an entry point that exists in its file', () => {
    for (const [name, spec] of Object.entries(KERNELS)) {
      expect(shaders[spec.module], name).toMatch(new RegExp(`@compute[^]*?fn ${spec.entry}\\(`));
    }
  });
});
