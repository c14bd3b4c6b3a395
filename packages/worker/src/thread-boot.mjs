// Worker threads start from plain JS: register the TypeScript loader, then load the real entry.
import { register } from 'tsx/esm/api';

register();
await import('./thread-entry.ts');
