import { beforeAll, describe, it } from 'vitest';
import type { Backend } from '@puma/backend';
import { conformanceCases } from '@puma/backend/conformance';
import { createWasmBackend } from './index.ts';

describe('conformance: wasm', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createWasmBackend();
  });
  for (const c of conformanceCases()) it(c.name, () => c.run(backend));
});
