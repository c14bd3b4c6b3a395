/**
 * The wasm backend's buffers: every Buf is resident in the module's linear memory (allocated by ./heap.ts), so
 * chained kernels run without copying through the JS heap. This file owns their lifecycle, apart from the
 * kernels that fill them: allocation, ownership checks, release, and the reclamation of dropped handles.
 * release() frees a buffer at once; a buffer that is simply dropped is freed when the JS garbage collector
 * reclaims its handle (FinalizationRegistry). wasm32 caps the live total at 4 GiB per backend instance.
 *
 * Registering a handle with the FinalizationRegistry costs about 1.3 us of CPU (3 us with an unregister
 * token), and a party makes about 70 buffers per round, most of them temporaries of one protocol step. So
 * handles are registered late: a new buffer waits in a nursery (PENDING_MAX buffers or PENDING_BYTES; one
 * 64-bit MSB circuit alone makes several hundred one-plane temporaries),
 * and when the nursery fills, only the buffers not yet released are registered; a buffer released while
 * still in the nursery never touches the registry. Registered buffers carry no unregister token: release()
 * marks their block freed, and the finalizer skips freed blocks.
 *
 * The garbage collector cannot see linear memory: a handle weighs a few dozen bytes of JS heap however large
 * its block, so dropped buffers pile up until unrelated allocation triggers a collection (measured: 1.6 GiB of
 * garbage for a 2.4 MiB working set). So after every GC_NUDGE_EVERY bytes of allocations the backend also
 * allocates a throwaway GC_NUDGE_BYTES ArrayBuffer, which engines count as external memory and answer with a
 * collection (the same run then peaks at 0.35-0.55 GiB). The nudge is never written, so large zeroed
 * allocations (mapped lazily by V8/Node and browsers) cost address space, not physical memory. Code that
 * releases its temporaries does not depend on any of this.
 */
import type { Buf } from '@puma/backend';
import type { Heap } from './heap.ts';

const GC_NUDGE_EVERY = 128 * 2 ** 20;
const GC_NUDGE_BYTES = 64 * 2 ** 20;
const PENDING_MAX = 4096;
const PENDING_BYTES = 32 * 2 ** 20;

class WasmBuffer implements Buf {
  released = false;
  constructor(
    readonly owner: ResidentBuffers,
    readonly ptr: number,
    readonly size: number,
    /** Held by the finalizer too (never the handle itself, which would keep the handle alive). */
    readonly block: Block,
  ) {}
  get length(): number {
    if (this.released) throw new Error('wasm backend: buffer used after release');
    return this.size;
  }
}

interface Block {
  ptr: number;
  bytes: number;
  /** Set by release(), so the handle's later finalization does not free the block a second time. */
  freed: boolean;
}

const EMPTY: Block = { ptr: 0, bytes: 0, freed: true };

/** The buffers of one backend instance, allocated from that instance's heap. */
export class ResidentBuffers {
  private readonly registry: FinalizationRegistry<Block>;
  /** New buffers not yet registered for finalization (see the header); held strongly until then. */
  private pending: WasmBuffer[] = [];
  private pendingBytes = 0;
  private sinceNudge = 0;
  /** The latest nudge; kept in a field only so no engine can optimise the allocation away. */
  private nudge: ArrayBuffer | null = null;
  private nudgeBytes = 0;
  private readonly nudges = new FinalizationRegistry<number>((bytes) => (this.nudgeBytes -= bytes));

  constructor(private readonly heap: Heap) {
    this.registry = new FinalizationRegistry((b) => {
      if (!b.freed) this.heap.free(b.ptr, b.bytes);
    });
  }

  /** Bytes of GC nudges allocated and not yet seen collected (WasmBackendStats.gcNudgeBytes). */
  get gcNudgeBytes(): number {
    return this.nudgeBytes;
  }

  /** Address of a live buffer of this backend; throws for foreign or released buffers. */
  addressOf(a: Buf, op: string): number {
    if (!(a instanceof WasmBuffer) || a.owner !== this) throw new Error(`wasm ${op}: argument is not a buffer of this wasm backend`);
    if (a.released) throw new Error(`wasm ${op}: buffer used after release`);
    return a.ptr;
  }

  /** A new buffer of `n` words (its contents are whatever the heap block held before). */
  alloc(n: number, op: string): WasmBuffer {
    if (n === 0) return new WasmBuffer(this, 0, 0, EMPTY);
    const bytes = n * 8;
    const ptr = this.heap.alloc(bytes, op);
    const buf = new WasmBuffer(this, ptr, n, { ptr, bytes, freed: false });
    this.sinceNudge += bytes;
    if (this.sinceNudge >= GC_NUDGE_EVERY) {
      this.sinceNudge = 0;
      this.nudge = new ArrayBuffer(GC_NUDGE_BYTES);
      this.nudgeBytes += GC_NUDGE_BYTES;
      this.nudges.register(this.nudge, GC_NUDGE_BYTES);
    }
    this.pending.push(buf);
    this.pendingBytes += bytes;
    if (this.pending.length >= PENDING_MAX || this.pendingBytes >= PENDING_BYTES) this.registerPending();
    return buf;
  }

  /** Hands the nursery's unreleased buffers to the finalization registry. */
  private registerPending(): void {
    for (const b of this.pending) if (!b.released) this.registry.register(b, b.block);
    this.pending = [];
    this.pendingBytes = 0;
  }

  release(a: Buf): void {
    if (!(a instanceof WasmBuffer) || a.owner !== this) throw new Error('wasm release: argument is not a buffer of this wasm backend');
    if (a.released) throw new Error('wasm release: buffer already released');
    a.released = true;
    if (a.size > 0) {
      a.block.freed = true;
      this.heap.free(a.ptr, a.size * 8);
    }
  }
}
