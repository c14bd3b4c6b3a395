export { runInThreads, type ThreadRun, type ThreadRunOptions } from './threads.ts';
export type { PartyProgram, ThreadResult } from './thread-entry.ts';
export { createBackend, parseBackendChoice, selectBackend, type BackendChoice, type BackendSelection, type SelectBackendOptions } from './select-backend.ts';
export { workloadForModel, CALIBRATION_RULE, type BackendFigures, type CalibrationWorkload } from './calibrate.ts';
export { chooseBackendForModel, modelWorkload, selectBackendForModel, MODEL_BUDGET_MS, type ModelBackendCandidates } from './select-backend-model.ts';
export { MemoryCalibrationCache, describeCalibration, type Calibration, type CalibrationCache } from './calibrate-cache.ts';
export { FileCalibrationCache, defaultCalibrationFile, nodeCpu } from './calibrate-cache-file.ts';
export { createSharingThreads, type SharingThreads } from './sharing-threads.ts';
