export { MAX_BODY_BYTES, startCoordinator, type Coordinator, type CoordinatorOptions } from './server.ts';
export type { CoordinatorRecord, RecordEntry, RecordKind } from './record.ts';
export { SIGNALING_PATH } from './signaling.ts';
export type { RateLimit } from './rate-limit.ts';
