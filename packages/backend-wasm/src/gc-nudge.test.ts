/**
 * The backend's GC nudges (resident-buffers.ts): after every 128 MiB of allocations it allocates a 64 MiB
 * ArrayBuffer that engines count as external memory and answer with a collection. stats().gcNudgeBytes counts the
 * nudges not yet collected, so memory figures (bench models' peak per party) can leave out these never-written
 * buffers.
 */
import { describe, expect, it } from 'vitest';
import { createWasmBackend } from './index.ts';

const MIB = 2 ** 20;

describe('wasm backend GC nudges', () => {
  it('counts the nudges it allocated and has not seen collected: none before 128 MiB of allocations, the latest always', async () => {
    const be = await createWasmBackend();
    const words = MIB; // 8 MiB per buffer
    for (let i = 0; i < 15; i++) be.release(be.zeros(words));
    // 120 MiB allocated: no nudge yet.
    expect(be.stats().gcNudgeBytes).toBe(0);
    be.release(be.zeros(words));
    // 128 MiB: one nudge, held by the backend until the next one, so not collectable.
    expect(be.stats().gcNudgeBytes).toBe(64 * MIB);
    for (let i = 0; i < 16 * 4; i++) be.release(be.zeros(words));
    // Four more nudges; the earlier ones may have been collected, the latest cannot have been.
    const outstanding = be.stats().gcNudgeBytes;
    expect(outstanding).toBeGreaterThanOrEqual(64 * MIB);
    expect(outstanding).toBeLessThanOrEqual(5 * 64 * MIB);
    expect(outstanding % (64 * MIB)).toBe(0);
  });
});
