export { MAX_BODY_BYTES, startCoordinator, type Coordinator, type CoordinatorOptions } from './server.ts';
export type { CoordinatorRecord, RecordEntry, RecordKind } from './record.ts';
export { SIGNALING_PATH } from './signaling.ts';
export type { RateLimit } from './rate-limit.ts';
export { HostedVisits, type HostedVisitsOptions, type RunnerSession } from './hosted-visits.ts';
export type * from './hosted-types.ts';
