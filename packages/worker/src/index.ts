export { runInThreads, type ThreadRun, type ThreadRunOptions } from './threads.ts';
export type { PartyProgram, ThreadResult } from './thread-entry.ts';
export { createBackend, parseBackendChoice, type BackendChoice } from './select-backend.ts';
