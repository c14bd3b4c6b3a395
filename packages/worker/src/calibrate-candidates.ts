/**
 * One calibration: time a workload (calibrate.ts) on WebAssembly, then on WebGPU when there is a candidate
 * for it, each within `budgetMs` of its own (WebGPU's device and pipeline start-up counts against its
 * budget), decide by calibrate.ts's rule and keep the chosen backend; the other is freed. Used by
 * selectBackend (generic shapes, before the model is known) and chooseBackendForModel (the model's shapes).
 * `measure` is calibrate.ts's measureBackend unless a test injects figures.
 */
import type { Backend } from '@puma/backend';
import { CALIBRATION_RULE, WEBGPU_MARGIN, decideBackend, measureBackend, settlesWithin, type BackendFigures, type CalibratedKind, type CalibrationWorkload } from './calibrate.ts';
import type { Calibration } from './calibrate-cache.ts';

/** A backend that calibration may create and time. */
export interface BackendCandidate {
  kind: CalibratedKind;
  create(): Promise<Backend>;
}

export type MeasureBackend = typeof measureBackend;

export interface CalibrateOptions {
  /** Milliseconds each backend may take (its start-up included for WebGPU). */
  budgetMs: number;
  measure?: MeasureBackend;
}

const destroy = (b: Backend | null | undefined) => (b as { destroy?: () => void } | null | undefined)?.destroy?.();

export async function calibrateCandidates(
  workload: CalibrationWorkload,
  wasmCandidate: BackendCandidate,
  gpuCandidate: BackendCandidate | null,
  key: string,
  o: CalibrateOptions,
): Promise<{ backend: Backend; calibration: Calibration }> {
  if (wasmCandidate.kind !== 'wasm' || (gpuCandidate && gpuCandidate.kind !== 'webgpu')) {
    throw new Error('calibration compares a WebAssembly candidate with an optional WebGPU one');
  }
  if (!(o.budgetMs > 0)) throw new Error(`calibration: the budget must be a positive number of milliseconds, got ${o.budgetMs}`);
  const measure = o.measure ?? measureBackend;
  const t0 = performance.now();
  const wasm = await wasmCandidate.create();
  let wasmFig = await measure(wasm, workload, { deadline: performance.now() + o.budgetMs });
  // On a slow machine or a huge model WebAssembly may not finish every shape: compare on those it did.
  const done = wasmFig.shapeMs.map((s) => s.ms !== null);
  if (!done.some(Boolean)) throw new Error(`calibration: WebAssembly timed none of ${workload.name}'s shapes within ${o.budgetMs} ms`);
  const compared = wasmFig.complete ? workload : { ...workload, shapes: workload.shapes.filter((_, i) => done[i]) };
  if (!wasmFig.complete) wasmFig = { ...wasmFig, shapeMs: wasmFig.shapeMs.filter((s) => s.ms !== null), complete: true, stopped: `compared on ${compared.shapes.length} of ${workload.shapes.length} shapes (budget)` };
  let gpuBackend: Backend | null = null;
  let gpuFig: BackendFigures | null = null;
  let gpuError = '';
  if (gpuCandidate) {
    const startT0 = performance.now();
    const deadline = startT0 + o.budgetMs;
    const creating = gpuCandidate.create();
    try {
      if (await settlesWithin(creating, deadline - startT0)) {
        gpuBackend = await creating;
        const startupMs = performance.now() - startT0;
        const measured = await measure(gpuBackend, compared, { deadline, beatMs: WEBGPU_MARGIN * wasmFig.totalMs });
        if (measured.abandoned) {
          // Work of an abandoned step may still be queued: this device is not used for anything else.
          destroy(gpuBackend);
          gpuBackend = null;
        }
        gpuFig = { ...measured, startupMs };
      } else {
        // Still compiling its pipelines when the budget ran out; freed once it is ready.
        creating.then(destroy, () => {});
        const startupMs = performance.now() - startT0;
        gpuFig = {
          kind: 'webgpu', description: 'WebGPU', shapeMs: compared.shapes.map((s) => ({ name: s.name, ms: null })), totalMs: 0, complete: false, startupMs,
          stopped: `its device and pipelines were not ready after ${startupMs.toFixed(0)} ms`,
        };
      }
    } catch (e) {
      gpuError = e instanceof Error ? e.message : String(e);
    }
  }
  const decision = decideBackend(wasmFig, gpuFig);
  const reason = gpuError ? `${decision.reason} (${gpuError})` : decision.reason;
  if (decision.chosen !== 'webgpu') destroy(gpuBackend);
  const calibration: Calibration = {
    key, workload: workload.name, chosen: decision.chosen, rule: CALIBRATION_RULE, reason,
    figures: gpuFig ? [wasmFig, gpuFig] : [wasmFig], measuredAt: new Date().toISOString(), calibrationMs: performance.now() - t0,
  };
  return { backend: decision.chosen === 'webgpu' ? gpuBackend! : wasm, calibration };
}
