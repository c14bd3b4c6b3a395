export type { Backend, Buf, MatmulDims } from './backend.ts';
export { referenceBackend } from './reference.ts';
