/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend's arithmetic kernels: elementwise ops, bit planes, matmul, row sums and the ChaCha20
 * PRG. Each checks its arguments (with the reference backend's messages), then records its dispatches through
 * the device runtime, split into pieces that fit the device's bindings and grids.
 */
import type { Buf, MatmulDims } from '@puma/backend';
import { checkKeyNonce } from '@puma/ring';
import type { KernelName } from './kernels.ts';
import { checkCount, type DeviceRuntime } from './device-runtime.ts';
import { alignedChunk, grid2d, MATMUL_TILE, matmulStrides, pieces, planMatmul, planRows } from './split.ts';

function u64Words(s: bigint): [number, number] {
  const v = BigInt.asUintN(64, s);
  return [Number(v & 0xffffffffn), Number(v >> 32n)];
}

function checkShift(k: number): void {
  if (!Number.isInteger(k) || k < 0 || k > 63) throw new Error(`shift ${k} out of range [0, 63]`);
}

function sameLength(op: string, a: Buf, b: Buf): void {
  if (a.length !== b.length) throw new Error(`${op}: length mismatch ${a.length} vs ${b.length}`);
}

/** One invocation per element over aligned pieces, binding the same range of every operand. */
export function elementwise(rt: DeviceRuntime, op: KernelName, inputs: Buf[], k = 0, s: [number, number] = [0, 0]): Buf {
  const srcs = inputs.map((x) => rt.gpuOf(op, x));
  const n = inputs[0].length;
  return rt.kernel(op, (enc) => {
    const out = rt.alloc(op, n);
    if (n === 0) return out;
    const pass = enc.beginComputePass({ label: op });
    for (const [start, count] of pieces(n, alignedChunk(rt.limits))) {
      rt.dispatch(
        pass,
        op,
        [count, k, s[0], s[1]],
        {
          a: rt.bind(srcs[0], start, count),
          b: srcs.length > 1 ? rt.bind(srcs[1], start, count) : undefined,
          out: rt.bind(out.gpu!, start, count),
        },
        rt.grid(op, count),
      );
    }
    pass.end();
    return out;
  });
}

export function binary(rt: DeviceRuntime, op: KernelName, a: Buf, b: Buf): Buf {
  sameLength(op, a, b);
  return elementwise(rt, op, [a, b]);
}

/** addScalar / mulScalar: the scalar (mod 2^64) travels as two u32 words. */
export function scalarOp(rt: DeviceRuntime, op: 'addScalar' | 'mulScalar', a: Buf, s: bigint): Buf {
  return elementwise(rt, op, [a], 0, u64Words(s));
}

export function shift(rt: DeviceRuntime, op: 'shl' | 'shrLogical' | 'shrArith', a: Buf, k: number): Buf {
  checkShift(k);
  return elementwise(rt, op, [a], k);
}

export function toBitPlanes(rt: DeviceRuntime, a: Buf): Buf {
  const src = rt.gpuOf('toBitPlanes', a);
  const n = a.length;
  const w = Math.ceil(n / 64);
  rt.wholeInputFits('toBitPlanes', 64 * w);
  return rt.kernel('toBitPlanes', (enc) => {
    const out = rt.alloc('toBitPlanes', 64 * w);
    if (n === 0) return out;
    const pass = enc.beginComputePass({ label: 'toBitPlanes' });
    const [x, y] = grid2d(w, rt.maxGroups);
    rt.dispatch(pass, 'toBitPlanes', [n, w, 64, 0], { a: rt.bind(src, 0, n), out: rt.bind(out.gpu!, 0, 64 * w) }, [x, y, 1]);
    pass.end();
    return out;
  });
}

export function fromBitPlanes(rt: DeviceRuntime, planes: Buf, n: number, planeCount: number): Buf {
  const src = rt.gpuOf('fromBitPlanes', planes);
  checkCount('fromBitPlanes', 'n', n);
  if (!Number.isInteger(planeCount) || planeCount < 0 || planeCount > 64) throw new Error(`fromBitPlanes: plane count ${planeCount} out of range [0, 64]`);
  const w = Math.ceil(n / 64);
  if (planes.length < planeCount * w) throw new Error(`fromBitPlanes: ${planeCount} planes of ${w} words need ${planeCount * w}, got ${planes.length}`);
  rt.wholeInputFits('fromBitPlanes', Math.max(n, planeCount * w));
  return rt.kernel('fromBitPlanes', (enc) => {
    const out = rt.alloc('fromBitPlanes', n);
    if (n === 0) return out;
    const pass = enc.beginComputePass({ label: 'fromBitPlanes' });
    const [x, y] = grid2d(w, rt.maxGroups);
    rt.dispatch(pass, 'fromBitPlanes', [n, w, planeCount, 0], { a: rt.bind(src, 0, planeCount * w), out: rt.bind(out.gpu!, 0, n) }, [x, y, 1]);
    pass.end();
    return out;
  });
}

export function matmul(rt: DeviceRuntime, a: Buf, b: Buf, dims: MatmulDims): Buf {
  const srcA = rt.gpuOf('matmul', a);
  const srcB = rt.gpuOf('matmul', b);
  const { m, k, n } = dims;
  const batch = dims.batch ?? 1;
  for (const [what, v] of [['m', m], ['k', k], ['n', n], ['batch', batch]] as const) checkCount('matmul', what, v);
  const bBatch = dims.broadcastB ? 1 : batch;
  if (a.length !== batch * m * k) throw new Error(`matmul: a has ${a.length} elements, expected ${batch}x${m}x${k}`);
  if (b.length !== bBatch * k * n) throw new Error(`matmul: b has ${b.length} elements, expected ${bBatch}x${k}x${n}`);
  const total = batch * m * n;
  if (total === 0) return rt.zeros(0);
  if (k === 0) return rt.zeros(total);
  const s = matmulStrides(m, k, n, Boolean(dims.transA), Boolean(dims.transB), Boolean(dims.broadcastB));
  const plan = planMatmul(batch, m, k, n, s, rt.limits, rt.maxGroups);
  return rt.kernel('matmul', (enc) => {
    const out = rt.alloc('matmul', total);
    const pass = enc.beginComputePass({ label: 'matmul' });
    for (const { t0, bz, i0, mc } of plan) {
      const aStart = t0 * s.aBs + i0 * s.aRs;
      const bStart = t0 * s.bBs;
      const cStart = t0 * s.cBs + i0 * n;
      const A = rt.bind(srcA, aStart, (bz - 1) * s.aBs + (mc - 1) * s.aRs + (k - 1) * s.aPs + 1);
      const B = rt.bind(srcB, bStart, (bz - 1) * s.bBs + (k - 1) * s.bPs + (n - 1) * s.bCs + 1);
      const C = rt.bind(out.gpu!, cStart, (bz - 1) * s.cBs + mc * n);
      const params = [
        mc, k, n, 0,
        aStart - A.base, s.aBs, s.aRs, s.aPs,
        bStart - B.base, s.bBs, s.bPs, s.bCs,
        cStart - C.base, s.cBs, 0, 0,
      ];
      rt.dispatch(pass, 'matmul', params, { a: A, b: B, out: C }, [Math.ceil(n / MATMUL_TILE), Math.ceil(mc / MATMUL_TILE), bz]);
    }
    pass.end();
    return out;
  });
}

export function sumRows(rt: DeviceRuntime, a: Buf, rows: number, cols: number): Buf {
  const src = rt.gpuOf('sumRows', a);
  checkCount('sumRows', 'rows', rows);
  checkCount('sumRows', 'cols', cols);
  if (a.length !== rows * cols) throw new Error(`sumRows: ${a.length} elements is not ${rows}x${cols}`);
  if (rows === 0) return rt.zeros(0);
  if (cols === 0) return rt.zeros(rows);
  const plan = planRows('webgpu sumRows', rows, (rc) => [rc * cols, rc], rt.limits, rt.maxGroups * rt.maxGroups);
  return rt.kernel('sumRows', (enc) => {
    const out = rt.alloc('sumRows', rows);
    const pass = enc.beginComputePass({ label: 'sumRows' });
    for (const [r0, rc] of plan) {
      const A = rt.bind(src, r0 * cols, rc * cols);
      const O = rt.bind(out.gpu!, r0, rc);
      const [x, y] = grid2d(rc, rt.maxGroups);
      rt.dispatch(pass, 'sumRows', [rc, cols, r0 * cols - A.base, r0 - O.base], { a: A, out: O }, [x, y, 1]);
    }
    pass.end();
    return out;
  });
}

export function prg(rt: DeviceRuntime, key: Uint32Array, nonce: Uint32Array, n: number, counter = 0): Buf {
  checkKeyNonce(key, nonce);
  checkCount('prg', 'n', n);
  if (!Number.isInteger(counter) || counter < 0 || counter >= 2 ** 32) throw new Error(`prg: block counter ${counter} out of range [0, 2^32)`);
  const blocks = Math.ceil(n / 8);
  if (counter + blocks > 2 ** 32) throw new Error(`ChaCha20 block counter would overflow (${blocks} blocks from ${counter})`);
  return rt.kernel('prg', (enc) => {
    const out = rt.alloc('prg', n);
    if (n === 0) return out;
    const pass = enc.beginComputePass({ label: 'prg' });
    // Pieces start on block boundaries (8 words), so each piece's first block is counter + start / 8.
    for (const [start, count] of pieces(n, alignedChunk(rt.limits, 8))) {
      const params = [...key, ...nonce, 0, counter + start / 8, count, 0, 0];
      rt.dispatch(pass, 'prg', params, { out: rt.bind(out.gpu!, start, count) }, rt.grid('prg', Math.ceil(count / 8)));
    }
    pass.end();
    return out;
  });
}
