/**
 * What a backend calibration produced, and where it is kept so a second party start on the same device does
 * not measure again. The key names the device and the code measured on it: the CPU, the WebGPU adapter
 * (vendor, architecture, device, description, fallback or not), a hash of the WebAssembly kernels and of the
 * WGSL sources (a kernel change is a new backend version), the workload and the rule's version. Any of them
 * changing is a new key, hence a new calibration.
 * Stores: in memory (here), a JSON file in Node (calibrate-cache-file.ts), IndexedDB in browsers
 * (calibrate-cache-idb.ts).
 */
import { KERNELS_WASM_BASE64 } from '@puma/backend-wasm';
import { shaders } from '@puma/backend-webgpu';
import { CALIBRATION_RULE, type BackendFigures, type CalibratedKind } from './calibrate.ts';

export interface Calibration {
  key: string;
  /** Which shapes were timed (CalibrationWorkload.name). */
  workload: string;
  chosen: CalibratedKind;
  rule: string;
  /** The figures behind the choice, in words. */
  reason: string;
  figures: BackendFigures[];
  /** ISO time of the measurement. */
  measuredAt: string;
  /** How long the calibration took, backend creation included. */
  calibrationMs: number;
}

export interface CalibrationCache {
  get(key: string): Promise<Calibration | undefined>;
  set(key: string, c: Calibration): Promise<void>;
}

export class MemoryCalibrationCache implements CalibrationCache {
  private readonly entries = new Map<string, Calibration>();
  async get(key: string): Promise<Calibration | undefined> {
    return this.entries.get(key);
  }
  async set(key: string, c: Calibration): Promise<void> {
    this.entries.set(key, c);
  }
}

/** FNV-1a, 32 bits, as 8 hex digits: enough to tell kernel builds apart (not a security property). */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

let kernelVersions: string | undefined;

/** wasm:<hash of the module> webgpu:<hash of every WGSL source>. */
export function backendVersions(): string {
  kernelVersions ??= `wasm:${fnv1a(KERNELS_WASM_BASE64)} webgpu:${fnv1a(Object.entries(shaders).map(([k, v]) => `${k}\n${v}`).join('\n'))}`;
  return kernelVersions;
}

export interface DeviceKeyParts {
  /** The CPU (Node: model and core count; browsers: cores and user agent). */
  cpu: string;
  /** The WebGPU adapter as probed (or why there is none). */
  adapter: string;
  workload: string;
}

export function calibrationKey(d: DeviceKeyParts): string {
  return JSON.stringify({ cpu: d.cpu, adapter: d.adapter, versions: backendVersions(), workload: d.workload, rule: CALIBRATION_RULE });
}

/** The CPU as the platform describes it without Node APIs (Node callers pass os.cpus()'s model instead). */
export function platformCpu(): string {
  const nav = globalThis.navigator as { hardwareConcurrency?: number; userAgent?: string } | undefined;
  return `${nav?.hardwareConcurrency ?? '?'} cores, ${nav?.userAgent ?? 'unknown platform'}`;
}

/** Whether a stored value is a calibration of this shape (a store may hold anything after a format change). */
export function isCalibration(v: unknown): v is Calibration {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Partial<Calibration>;
  return typeof c.key === 'string' && (c.chosen === 'wasm' || c.chosen === 'webgpu') && typeof c.reason === 'string' &&
    typeof c.workload === 'string' && typeof c.measuredAt === 'string' && Array.isArray(c.figures);
}

/** One line for people: the choice, its figures and whether they were measured now or cached. */
export function describeCalibration(c: Calibration, cached: boolean): string {
  const name = c.chosen === 'webgpu' ? 'WebGPU' : 'WebAssembly';
  const when = cached ? `cached from ${c.measuredAt}` : `measured in ${Math.round(c.calibrationMs)} ms`;
  return `auto → ${name}: ${c.reason} for ${c.workload} (${when})`;
}
