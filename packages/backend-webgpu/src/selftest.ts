/**
 * Checks the WebGPU backend runs beyond the shared conformance cases, written like them (framework-agnostic,
 * each case throws on mismatch) so the browser page and the Node/Dawn runner execute the same code:
 * RFC 8439 vectors through the GPU prg, zero-length buffers and argument errors, and the splitting paths
 * (run on a backend told to use tiny storage bindings).
 */
import { randomWords, type ConformanceCase } from '@puma/backend/conformance';
import { referenceBackend, type Backend, type Buf, type MatmulDims } from '@puma/backend';
import { createWebGpuBackend, type WebGpuBackend } from './index.ts';
import { checkCompiled, shaderSource } from './kernels.ts';

export interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
  ms: number;
}

/** Runs cases one after another (the GPU is one queue anyway) and records each outcome. */
export async function runCases(backend: Backend, cases: ConformanceCase[]): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of cases) {
    const t0 = performance.now();
    try {
      await c.run(backend);
      results.push({ name: c.name, ok: true, ms: performance.now() - t0 });
    } catch (e) {
      results.push({ name: c.name, ok: false, error: e instanceof Error ? e.message : String(e), ms: performance.now() - t0 });
    }
  }
  return results;
}

function hexWords(hex: string): Uint32Array {
  const bytes = Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  return new Uint32Array(bytes.buffer);
}

function bytesHex(w: BigUint64Array): string {
  return Array.from(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), (b) => b.toString(16).padStart(2, '0')).join('');
}

function expectEqual(what: string, got: BigUint64Array, want: BigUint64Array): void {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length} != ${want.length}`);
  for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) throw new Error(`${what}: element ${i}: got ${got[i]}, expected ${want[i]}`);
}

async function expectThrows(what: string, f: () => unknown, pattern: RegExp): Promise<void> {
  try {
    await f();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (!pattern.test(msg)) throw new Error(`${what}: threw "${msg}", expected ${pattern}`);
    return;
  }
  throw new Error(`${what}: did not throw`);
}

const RFC_KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';

/** RFC 8439 test vectors, read back from the GPU prg as keystream bytes. */
export function rfcCases(): ConformanceCase[] {
  const stream = (name: string, key: string, nonce: string, counter: number, expectedHex: string): ConformanceCase => ({
    name: `RFC 8439 ${name}`,
    run: async (be) => {
      const got = bytesHex(await be.read(be.prg(hexWords(key), hexWords(nonce), expectedHex.length / 16, counter)));
      if (got !== expectedHex) throw new Error(`keystream ${got} != ${expectedHex}`);
    },
  });
  // Section 2.3.2: the block function's serialized output for counter 1.
  const block232 = [
    0xe4e7f110, 0x15593bd1, 0x1fdd0f50, 0xc47120a3, 0xc7f4d1c7, 0x0368c033, 0x9aaa2204, 0x4e6cd4c3,
    0x466482d2, 0x09aa9f07, 0x05d7c214, 0xa2028bd9, 0xd19c12b5, 0xb94e16de, 0xe883d0cb, 0x4e3c50a2,
  ];
  const block232Hex = bytesHex(new BigUint64Array(new Uint32Array(block232).buffer));
  // Section 2.4.2: keystream = ciphertext XOR plaintext of the first 64-byte block.
  const plain = new TextEncoder().encode("Ladies and Gentlemen of the class of '99: If I could offer you o");
  const cipher = '6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8';
  const ks242 = Array.from(plain, (p, i) => (p ^ parseInt(cipher.slice(2 * i, 2 * i + 2), 16)).toString(16).padStart(2, '0')).join('');
  const zeros32 = '00'.repeat(32);
  const zeros12 = '00'.repeat(12);
  return [
    stream('2.3.2 block function', RFC_KEY, '000000090000004a00000000', 1, block232Hex),
    stream('2.4.2 keystream block 1', RFC_KEY, '000000000000004a00000000', 1, ks242),
    stream(
      'A.1 #1 (zero key, counter 0)',
      zeros32,
      zeros12,
      0,
      '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586',
    ),
    stream(
      'A.1 #2 (zero key, counter 1)',
      zeros32,
      zeros12,
      1,
      '9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f',
    ),
  ];
}

async function compareWithReference(name: string, be: Backend, f: (be: Backend, up: (x: BigUint64Array) => Buf) => Buf): Promise<void> {
  const ref = referenceBackend();
  const got = await be.read(f(be, (x) => be.upload(x)));
  const want = await ref.read(f(ref, (x) => ref.upload(x)));
  expectEqual(name, got, want);
}

/** Zero-length buffers, buffer release and argument errors. */
export function edgeCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const add = (name: string, f: (be: Backend, up: (x: BigUint64Array) => Buf) => Buf) =>
    cases.push({ name, run: (be) => compareWithReference(name, be, f) });
  const empty = new BigUint64Array(0);
  add('empty add', (be, up) => be.add(up(empty), up(empty)));
  add('empty shrArith', (be, up) => be.shrArith(up(empty), 5));
  add('empty prg', (be) => be.prg(new Uint32Array(8), new Uint32Array(3), 0));
  add('empty zeros', (be) => be.zeros(0));
  add('zeros n=100', (be) => be.zeros(100));
  add('empty toBitPlanes', (be, up) => be.toBitPlanes(up(empty)));
  add('empty fromBitPlanes', (be, up) => be.fromBitPlanes(up(empty), 0, 64));
  add('fromBitPlanes 0 planes', (be, up) => be.fromBitPlanes(up(empty), 100, 0));
  add('matmul m=0', (be, up) => be.matmul(up(empty), up(randomWords(6, 1)), { m: 0, k: 2, n: 3 }));
  add('matmul k=0', (be, up) => be.matmul(up(empty), up(empty), { m: 4, k: 0, n: 3 }));
  add('empty sumRows', (be, up) => be.sumRows(up(empty), 0, 5));
  add('sumRows cols=0', (be, up) => be.sumRows(up(empty), 4, 0));
  add('empty slice', (be, up) => be.slice(up(randomWords(10, 2)), 10, 0));
  add('concat with empty parts', (be, up) => be.concat([up(empty), up(randomWords(5, 3)), up(empty)]));
  add('empty concat', (be) => be.concat([]));
  add('repeatEach times=0', (be, up) => be.repeatEach(up(randomWords(5, 4)), 0));
  add('tile of empty', (be, up) => be.tile(up(empty), 4));
  add('transpose with a zero axis', (be, up) => be.transpose(up(empty), [3, 0, 2], [2, 0, 1]));
  add('sliceCols count=0', (be, up) => be.sliceCols(up(randomWords(12, 5)), 3, 4, 2, 0));
  add('transpose with unit axes', (be, up) => be.transpose(up(randomWords(60, 6)), [1, 3, 1, 4, 5], [4, 2, 0, 1, 3]));
  add('transpose rank 6', (be, up) => be.transpose(up(randomWords(720, 7)), [2, 3, 4, 5, 1, 6], [5, 3, 1, 0, 4, 2]));
  add('addScalar with a negative scalar', (be, up) => be.addScalar(up(randomWords(9, 8)), -5n));
  cases.push({
    name: 'released buffers are reused only after their last use',
    run: async (be) => {
      const ref = referenceBackend();
      const A = randomWords(500, 9);
      const B = randomWords(500, 10);
      // Released while the kernel reading it is still unsubmitted: a same-sized upload must not take over
      // its memory before that kernel has run.
      const x = be.upload(A);
      const y = be.neg(x);
      be.release(x);
      const z = be.upload(B);
      expectEqual('neg of a released input', await be.read(y), await ref.read(ref.neg(ref.upload(A))));
      // A release followed by a submit (the read) returns the memory to the pool, so this upload may reuse y's.
      be.release(y);
      await be.read(be.slice(z, 0, 1));
      const w = be.upload(A);
      expectEqual('add after reuse', await be.read(be.add(w, z)), await ref.read(ref.add(ref.upload(A), ref.upload(B))));
    },
  });
  cases.push({
    name: 'use after release throws',
    run: async (be) => {
      const x = be.upload(randomWords(4, 11));
      be.release(x);
      await expectThrows('neg after release', () => be.neg(x), /after release/);
    },
  });
  cases.push({
    name: 'argument errors throw like the reference',
    run: async (be) => {
      const x = be.upload(randomWords(4, 12));
      await expectThrows('length mismatch', () => be.add(x, be.upload(randomWords(3, 13))), /length mismatch 4 vs 3/);
      await expectThrows('shift 64', () => be.shl(x, 64), /out of range/);
      await expectThrows('matmul shape', () => be.matmul(x, x, { m: 3, k: 2, n: 2 }), /a has 4 elements/);
      await expectThrows('prg key', () => be.prg(new Uint32Array(7), new Uint32Array(3), 4), /key must be 8/);
      await expectThrows('prg counter overflow', () => be.prg(new Uint32Array(8), new Uint32Array(3), 17, 2 ** 32 - 2), /overflow/);
      await expectThrows('slice range', () => be.slice(x, 3, 2), /out of 4/);
    },
  });
  return cases;
}

/**
 * Limits a backend must be created with for `splitCases`: bindings of 1024 elements and at most 2 workgroups
 * per grid dimension, so small tensors take the paths that large ones take on a real device.
 */
export const SPLIT_OPTIONS = { maxBindingBytes: 8192, maxWorkgroupsPerDimension: 2 } as const;

/**
 * Kernels on tensors larger than one binding of SPLIT_OPTIONS, so they run as several dispatches over
 * sub-ranges (including unaligned ones) on 2-D grids, compared with the reference.
 */
export function splitCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const add = (name: string, f: (be: Backend, up: (x: BigUint64Array) => Buf) => Buf) =>
    cases.push({ name: `split ${name}`, run: (be) => compareWithReference(name, be, f) });
  const x = randomWords(3000, 21);
  const y = randomWords(3000, 22);
  add('add n=3000', (be, up) => be.add(up(x), up(y)));
  add('mul n=3000', (be, up) => be.mul(up(x), up(y)));
  add('shrArith 18 n=3000', (be, up) => be.shrArith(up(x), 18));
  add('mulScalar n=3000', (be, up) => be.mulScalar(up(x), 0x123456789abcdefn));
  add('prg n=3000 counter 5', (be) => be.prg(new Uint32Array([1, 2, 3, 4, 5, 6, 7, 8]), new Uint32Array([9, 10, 11]), 3000, 5));
  const mats: Array<[string, MatmulDims]> = [
    ['1000x3x2', { m: 1000, k: 3, n: 2 }],
    ['transA 400x3x2', { m: 400, k: 3, n: 2, transA: true }],
    ['transB 300x4x5', { m: 300, k: 4, n: 5, transB: true }],
    ['transA transB 300x4x5', { m: 300, k: 4, n: 5, transA: true, transB: true }],
    ['batched 20x(5x7x3)', { batch: 20, m: 5, k: 7, n: 3 }],
    ['broadcastB 30x(9x4x5)', { batch: 30, m: 9, k: 4, n: 5, broadcastB: true }],
    ['130x5x100', { m: 130, k: 5, n: 100 }],
  ];
  for (const [label, dims] of mats) {
    const batch = dims.batch ?? 1;
    const a = randomWords(batch * dims.m * dims.k, 31);
    const b = randomWords((dims.broadcastB ? 1 : batch) * dims.k * dims.n, 32);
    add(`matmul ${label}`, (be, up) => be.matmul(up(a), up(b), dims));
  }
  add('sumRows 255x3', (be, up) => be.sumRows(up(x.subarray(0, 765)), 255, 3));
  add('sumRows 5x400', (be, up) => be.sumRows(up(x.subarray(0, 2000)), 5, 400));
  add('sliceCols 300x7 [3, 7)', (be, up) => be.sliceCols(up(x.subarray(0, 2100)), 300, 7, 3, 4));
  add('concatCols 300x7 + 300x3', (be, up) => be.concatCols(up(x.subarray(0, 2100)), 7, up(y.subarray(0, 900)), 3, 300));
  add('repeatEach 300 x 7', (be, up) => be.repeatEach(up(x.subarray(0, 300)), 7));
  add('repeatEach 1500 x 1', (be, up) => be.repeatEach(up(x.subarray(0, 1500)), 1));
  add('tile 300 x 7', (be, up) => be.tile(up(x.subarray(0, 300)), 7));
  add('transpose [30,30] perm [1,0]', (be, up) => be.transpose(up(x.subarray(0, 900)), [30, 30], [1, 0]));
  add('bitPlanes roundtrip n=200', (be, up) => be.fromBitPlanes(be.toBitPlanes(up(x.subarray(0, 200))), 200, 64));
  cases.push({
    name: 'split matmul with an operand too large for a binding fails clearly',
    run: async (be) => {
      const a = be.upload(randomWords(3000, 41));
      const b = be.upload(randomWords(2000, 42));
      await expectThrows('matmul 3x1000x2', () => be.matmul(a, b, { m: 3, k: 1000, n: 2 }), /operand b .* does not fit/);
    },
  });
  return cases;
}

/**
 * Errors from the GPU side name the kernel (or shader file) they belong to, and a failure that does not
 * compromise results leaves the backend usable:
 * - a shader that fails to compile names its file, the kernels built from it and the compiler's message;
 * - a buffer beyond the device's maxBufferSize is refused, naming the kernel, before any GPU call;
 * - a GPU validation error (a buffer broken behind the backend's back, on a second backend sharing the
 *   device) surfaces at the next read naming the kernel, and that backend then refuses work.
 */
export function errorCases(): ConformanceCase[] {
  return [
    {
      name: 'shader compile errors name the file and its kernels',
      run: async (be) => {
        const device = (be as WebGpuBackend).device;
        const good = shaderSource('elementwise');
        const broken = good.replace('u64_mul(a[i], b[i])', 'u64_mul(a[i], b[i], 7u)');
        if (broken === good) throw new Error('the source to break was not found in shaders/elementwise.wgsl');
        // An invalid module also raises a validation error on the device; this scope keeps it from the
        // backend's uncaptured-error handler, which would otherwise mark the backend failed.
        device.pushErrorScope('validation');
        try {
          const module = device.createShaderModule({ label: 'elementwise.wgsl (broken on purpose)', code: broken });
          await expectThrows('checkCompiled', () => checkCompiled(module, 'elementwise'), /^webgpu: shaders\/elementwise\.wgsl \(kernels add, sub, mul, .*\) failed to compile: line \d+:\d+ /);
        } finally {
          await device.popErrorScope();
        }
        await compareWithReference('mul after a failed compile', be, (b, up) => b.mul(up(randomWords(300, 71)), up(randomWords(300, 72))));
      },
    },
    {
      name: 'buffers beyond maxBufferSize are refused, naming the kernel',
      run: async (be) => {
        const limit = (be as WebGpuBackend).device.limits.maxBufferSize;
        const n = Math.floor(limit / 8) + 1;
        await expectThrows('zeros over the limit', () => be.zeros(n), new RegExp(`^webgpu zeros: ${n} elements \\(${n * 8} bytes\\) exceed the device's maxBufferSize of ${limit} bytes`));
        await compareWithReference('neg after a refused allocation', be, (b, up) => b.neg(up(randomWords(50, 73))));
      },
    },
    {
      name: 'GPU errors surface at the next read, naming the kernel',
      run: async (be) => {
        const sibling = await createWebGpuBackend({ device: (be as WebGpuBackend).device });
        const x = sibling.upload(randomWords(8, 61));
        const y = sibling.upload(randomWords(8, 62));
        (x as unknown as { gpu: GPUBuffer }).gpu.destroy();
        const z = sibling.add(x, y);
        await expectThrows('read after a failed kernel', () => sibling.read(z), /^webgpu (submit of )?add\b.*validation error/);
        await expectThrows('kernel after a failure', () => sibling.neg(y), /unusable after an earlier GPU error/);
        sibling.destroy();
      },
    },
  ];
}

/**
 * Destroys the backend's device (run it last) and checks that pending results and later kernels fail with
 * a clear error instead of returning data.
 */
export function deviceLossCase(): ConformanceCase {
  return {
    name: 'device loss fails clearly',
    run: async (be) => {
      const x = be.upload(randomWords(16, 51));
      const y = be.neg(x);
      (be as WebGpuBackend).device.destroy();
      await expectThrows('read after device loss', () => be.read(y), /lost|destroyed/i);
      await expectThrows('kernel after device loss', () => be.neg(x), /device lost/);
    },
  };
}
