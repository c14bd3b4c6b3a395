/** Browser glue of the party runtime: the party's Web Worker behind Comlink, its IndexedDB share cache. */
export { startBrowserParty, type BrowserParty, type BrowserPartyOptions } from './party-host.ts';
export { openBrowserClient, type BrowserClient, type BrowserClientOptions, type WorkerGenerateOptions } from './client-host.ts';
export { IdbShareStore } from './idb-share-store.ts';
export { loadOrCreateBrowserIdentity } from './idb-identity.ts';
export { parseBackendChoice, type BackendChoice } from '../select-backend.ts';
export type { CachedSharing, SharingRef } from './share-cache-listing.ts';
export { OwnerSharingWorker } from './owner-sharing-host.ts';
export type { OwnerModelSource } from './owner-model-blobs.ts';
