/**
 * Allocator for the wasm module's linear memory. Buffers stay resident there, so chained kernels never copy
 * through the JS heap. Blocks are 64-byte aligned (cache lines; also satisfies v128 and u64 alignment).
 * Free blocks are kept sorted by address and coalesced with their neighbours; a block that ends at the top of
 * the used region is returned to it, so a long session does not fragment into ever-growing memory.
 * Allocation is best fit over the free list, which stays short because of the coalescing.
 */
export const ALIGN = 64;
const PAGE = 65536;

export class Heap {
  /** End of the used region: everything from here to the end of memory is free. */
  private top: number;
  private readonly freeAddr: number[] = [];
  private readonly freeSize: number[] = [];
  private live = 0;

  constructor(
    private readonly memory: WebAssembly.Memory,
    base: number,
  ) {
    this.top = roundUp(base);
  }

  /** Bytes in live blocks. */
  get liveBytes(): number {
    return this.live;
  }

  /** Bytes of linear memory currently reserved by the module. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Address of a new block of at least `bytes` bytes (its contents are whatever was there before). */
  alloc(bytes: number, op: string): number {
    const size = roundUp(Math.max(bytes, 1));
    let best = -1;
    for (let i = 0; i < this.freeSize.length; i++) {
      const s = this.freeSize[i];
      if (s >= size && (best < 0 || s < this.freeSize[best])) {
        best = i;
        if (s === size) break;
      }
    }
    if (best >= 0) {
      const addr = this.freeAddr[best];
      if (this.freeSize[best] === size) {
        this.freeAddr.splice(best, 1);
        this.freeSize.splice(best, 1);
      } else {
        this.freeAddr[best] += size;
        this.freeSize[best] -= size;
      }
      this.live += size;
      return addr;
    }
    const addr = this.top;
    this.ensure(addr + size, op);
    this.top = addr + size;
    this.live += size;
    return addr;
  }

  /** Returns a block from alloc(bytes). */
  free(addr: number, bytes: number): void {
    const size = roundUp(Math.max(bytes, 1));
    this.live -= size;
    let lo = 0;
    let hi = this.freeAddr.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.freeAddr[mid] < addr) lo = mid + 1;
      else hi = mid;
    }
    let start = addr;
    let end = addr + size;
    let at = lo;
    let remove = 0;
    if (at > 0 && this.freeAddr[at - 1] + this.freeSize[at - 1] === start) {
      at--;
      start = this.freeAddr[at];
      remove++;
    }
    if (lo < this.freeAddr.length && this.freeAddr[lo] === end) {
      end += this.freeSize[lo];
      remove++;
    }
    if (end === this.top) {
      this.freeAddr.splice(at, remove);
      this.freeSize.splice(at, remove);
      this.top = start;
    } else {
      this.freeAddr.splice(at, remove, start);
      this.freeSize.splice(at, remove, end - start);
    }
  }

  /** Grows memory so that [0, end) is addressable; over-allocates a little so growth is rare. */
  private ensure(end: number, op: string): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const need = Math.ceil((end - have) / PAGE);
    const generous = Math.max(need, Math.ceil(have / 4 / PAGE));
    try {
      this.memory.grow(generous);
    } catch {
      try {
        this.memory.grow(need);
      } catch {
        const mib = (x: number) => (x / 2 ** 20).toFixed(0);
        throw new Error(
          `wasm ${op}: out of WebAssembly memory: cannot grow from ${mib(have)} MiB to ${mib(end)} MiB ` +
            `(${mib(this.live)} MiB held by live buffers; release buffers no longer needed)`,
        );
      }
    }
  }
}

function roundUp(bytes: number): number {
  return Math.ceil(bytes / ALIGN) * ALIGN;
}
