/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend's data-movement kernels: column slices and concatenation, slices, concatenation,
 * repetition, tiling and transposes. Contiguous copies are buffer-to-buffer copies; the rest are dispatches
 * split into pieces that fit the device's bindings.
 */
import type { Buf } from '@puma/backend';
import { checkCount, type DeviceRuntime } from './device-runtime.ts';
import { alignedChunk, pieces, planRows } from './split.ts';

/** Transposes with more axes (after merging axes that stay adjacent) are rejected. */
const MAX_TRANSPOSE_RANK = 8;

/**
 * Copies a rows x cols block from `src` (rows inStride long, starting at column inCol) to `dst` (rows
 * outStride long, starting at column outCol), split over rows so every piece fits its bindings.
 */
function copyBlock(rt: DeviceRuntime, pass: GPUComputePassEncoder, op: string, src: GPUBuffer, dst: GPUBuffer, rows: number, cols: number, inStride: number, inCol: number, outStride: number, outCol: number): void {
  if (rows === 0 || cols === 0) return;
  const span = (stride: number) => (rc: number) => (rc - 1) * stride + cols;
  const plan = planRows(`webgpu ${op}`, rows, (rc) => [span(inStride)(rc), span(outStride)(rc)], rt.limits);
  for (const [r0, rc] of plan) {
    const inStart = r0 * inStride + inCol;
    const outStart = r0 * outStride + outCol;
    const A = rt.bind(src, inStart, span(inStride)(rc));
    const O = rt.bind(dst, outStart, span(outStride)(rc));
    const params = [rc * cols, 0, 0, cols, inStride, outStride, inStart - A.base, outStart - O.base];
    rt.dispatch(pass, 'copy2d', params, { a: A, out: O }, rt.grid('copy2d', rc * cols));
  }
}

export function sliceCols(rt: DeviceRuntime, a: Buf, rows: number, cols: number, start: number, count: number): Buf {
  const src = rt.gpuOf('sliceCols', a);
  for (const [what, v] of [['rows', rows], ['cols', cols], ['start', start], ['count', count]] as const) checkCount('sliceCols', what, v);
  if (a.length !== rows * cols || start + count > cols) throw new Error(`sliceCols: bad range [${start}, ${start + count}) of ${rows}x${cols}`);
  return rt.kernel('sliceCols', (enc) => {
    const out = rt.alloc('sliceCols', rows * count);
    const pass = enc.beginComputePass({ label: 'sliceCols' });
    copyBlock(rt, pass, 'sliceCols', src, out.gpu!, rows, count, cols, start, count, 0);
    pass.end();
    return out;
  });
}

export function concatCols(rt: DeviceRuntime, a: Buf, ca: number, b: Buf, cb: number, rows: number): Buf {
  const srcA = rt.gpuOf('concatCols', a);
  const srcB = rt.gpuOf('concatCols', b);
  for (const [what, v] of [['ca', ca], ['cb', cb], ['rows', rows]] as const) checkCount('concatCols', what, v);
  if (a.length !== rows * ca || b.length !== rows * cb) throw new Error('concatCols: shapes do not match');
  return rt.kernel('concatCols', (enc) => {
    const out = rt.alloc('concatCols', rows * (ca + cb));
    const pass = enc.beginComputePass({ label: 'concatCols' });
    copyBlock(rt, pass, 'concatCols', srcA, out.gpu!, rows, ca, ca, 0, ca + cb, 0);
    copyBlock(rt, pass, 'concatCols', srcB, out.gpu!, rows, cb, cb, 0, ca + cb, ca);
    pass.end();
    return out;
  });
}

export function slice(rt: DeviceRuntime, a: Buf, start: number, count: number): Buf {
  const src = rt.gpuOf('slice', a);
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > a.length) {
    throw new Error(`slice: [${start}, ${start + count}) out of ${a.length}`);
  }
  return rt.kernel('slice', (enc) => {
    const out = rt.alloc('slice', count);
    if (count > 0) enc.copyBufferToBuffer(src, start * 8, out.gpu!, 0, count * 8);
    return out;
  });
}

export function concat(rt: DeviceRuntime, parts: Buf[]): Buf {
  const srcs = parts.map((p) => rt.gpuOf('concat', p));
  const total = parts.reduce((s, p) => s + p.length, 0);
  return rt.kernel('concat', (enc) => {
    const out = rt.alloc('concat', total);
    let o = 0;
    parts.forEach((p, i) => {
      if (p.length > 0) enc.copyBufferToBuffer(srcs[i], 0, out.gpu!, o * 8, p.length * 8);
      o += p.length;
    });
    return out;
  });
}

export function repeatEach(rt: DeviceRuntime, a: Buf, times: number): Buf {
  const src = rt.gpuOf('repeatEach', a);
  checkCount('repeatEach', 'times', times);
  const total = a.length * times;
  if (total === 0) return rt.zeros(0);
  const chunk = rt.outputChunk('repeatEach', (c) => Math.floor(c / times) + 2);
  return rt.kernel('repeatEach', (enc) => {
    const out = rt.alloc('repeatEach', total);
    const pass = enc.beginComputePass({ label: 'repeatEach' });
    for (const [o0, count] of pieces(total, chunk)) {
      const first = Math.floor(o0 / times);
      const A = rt.bind(src, first, Math.floor((o0 + count - 1) / times) - first + 1);
      const params = [count, o0, A.base, times, 0, 0, 0, 0];
      rt.dispatch(pass, 'repeatEach', params, { a: A, out: rt.bind(out.gpu!, o0, count) }, rt.grid('repeatEach', count));
    }
    pass.end();
    return out;
  });
}

export function tile(rt: DeviceRuntime, a: Buf, times: number): Buf {
  const src = rt.gpuOf('tile', a);
  checkCount('tile', 'times', times);
  const n = a.length;
  const total = n * times;
  if (total === 0) return rt.zeros(0);
  rt.wholeInputFits('tile', n);
  return rt.kernel('tile', (enc) => {
    const out = rt.alloc('tile', total);
    const pass = enc.beginComputePass({ label: 'tile' });
    const A = rt.bind(src, 0, n);
    for (const [o0, count] of pieces(total, alignedChunk(rt.limits))) {
      const params = [count, o0, 0, n, 0, 0, 0, 0];
      rt.dispatch(pass, 'tile', params, { a: A, out: rt.bind(out.gpu!, o0, count) }, rt.grid('tile', count));
    }
    pass.end();
    return out;
  });
}

export function transpose(rt: DeviceRuntime, a: Buf, shape: readonly number[], perm: readonly number[]): Buf {
  const src = rt.gpuOf('transpose', a);
  const rank = shape.length;
  if (perm.length !== rank || [...perm].sort().some((p, i) => p !== i)) throw new Error(`transpose: bad permutation [${perm.join(', ')}]`);
  const n = shape.reduce((s, v) => s * v, 1);
  if (n !== a.length) throw new Error(`transpose: shape [${shape.join(', ')}] does not hold ${a.length} elements`);
  if (n === 0) return rt.zeros(0);
  const inStride = new Array<number>(rank);
  let st = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStride[i] = st;
    st *= shape[i];
  }
  // Output axes in order, each with its extent and the input stride it walks. Unit axes are dropped and
  // runs of output axes that are consecutive input axes merge into one, which keeps the rank small.
  const ext: number[] = [];
  const str: number[] = [];
  let prevIn = -2;
  for (const p of perm) {
    if (shape[p] === 1) continue;
    if (p === prevIn + 1 && ext.length > 0) {
      ext[ext.length - 1] *= shape[p];
      str[str.length - 1] = inStride[p];
    } else {
      ext.push(shape[p]);
      str.push(inStride[p]);
    }
    prevIn = p;
  }
  if (ext.length > MAX_TRANSPOSE_RANK) throw new Error(`webgpu transpose: ${ext.length} axes after merging, at most ${MAX_TRANSPOSE_RANK} supported`);
  rt.wholeInputFits('transpose', n);
  return rt.kernel('transpose', (enc) => {
    const out = rt.alloc('transpose', n);
    const pass = enc.beginComputePass({ label: 'transpose' });
    const A = rt.bind(src, 0, n);
    const pad = (xs: number[]) => [...xs, ...new Array<number>(MAX_TRANSPOSE_RANK - xs.length).fill(0)];
    const axes = [ext.length, ...pad(ext), ...pad(str)];
    for (const [o0, count] of pieces(n, alignedChunk(rt.limits))) {
      const params = [count, o0, 0, ...axes];
      rt.dispatch(pass, 'transpose', params, { a: A, out: rt.bind(out.gpu!, o0, count) }, rt.grid('transpose', count));
    }
    pass.end();
    return out;
  });
}
