export * from './tensor.ts';
export * from './fixed.ts';
export * from './chacha20.ts';
