// The owner sharing's helper thread starts from plain JS: register the TypeScript loader, then load its body.
import { register } from 'tsx/esm/api';

register();
await import('./sharing-thread-entry.ts');
