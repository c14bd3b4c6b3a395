import { describe, it } from 'vitest';
import { conformanceCases } from './conformance.ts';
import { referenceBackend } from './reference.ts';

// Self-conformance: proves the harness runs and the cases are consistent with the oracle.
describe('conformance: reference', () => {
  for (const c of conformanceCases()) it(c.name, () => c.run(referenceBackend()));
});
