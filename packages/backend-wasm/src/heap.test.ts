import { describe, expect, it } from 'vitest';
import { ALIGN, Heap } from './heap.ts';

describe('wasm heap allocator', () => {
  it('never hands out overlapping blocks and coalesces back to empty', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const heap = new Heap(memory, 100);
    const live: Array<{ addr: number; bytes: number }> = [];
    let x = 12345;
    const rand = (n: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x % n;
    };
    for (let step = 0; step < 5000; step++) {
      if (live.length > 0 && rand(3) === 0) {
        const [b] = live.splice(rand(live.length), 1);
        heap.free(b.addr, b.bytes);
      } else {
        const bytes = 1 + rand(rand(2) ? 200 : 20000);
        const addr = heap.alloc(bytes, 'test');
        expect(addr % ALIGN).toBe(0);
        expect(addr).toBeGreaterThanOrEqual(100);
        expect(addr + bytes).toBeLessThanOrEqual(memory.buffer.byteLength);
        live.push({ addr, bytes });
      }
      if (step % 500 === 0) {
        const sorted = [...live].sort((p, q) => p.addr - q.addr);
        for (let i = 1; i < sorted.length; i++) expect(sorted[i].addr).toBeGreaterThanOrEqual(sorted[i - 1].addr + sorted[i - 1].bytes);
      }
    }
    for (const b of live) heap.free(b.addr, b.bytes);
    expect(heap.liveBytes).toBe(0);
    // Everything merged back into the top region: the next block starts at the base again.
    expect(heap.alloc(8, 'test')).toBe(128);
  });

  it('reports which kernel ran out of memory', () => {
    const heap = new Heap(new WebAssembly.Memory({ initial: 1, maximum: 2 }), 0);
    heap.alloc(65536, 'first');
    expect(() => heap.alloc(2 * 65536, 'matmul')).toThrow(/wasm matmul: out of WebAssembly memory/);
    expect(heap.liveBytes).toBe(65536);
  });
});
