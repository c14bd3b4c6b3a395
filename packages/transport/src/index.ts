export * from './channel.ts';
export { memoryNetwork, type DeliveryObserver } from './memory.ts';
export { portChannel, type PortLike } from './ports.ts';
