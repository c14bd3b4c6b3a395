export * from './channel.ts';
export { memoryNetwork } from './memory.ts';
