/** What other apps use of the CLI: the hosted demo (`npm run demo -- --hosted` runs the same host as `puma host`). */
export { HOST_USAGE, defaultStateDir, hostCommand, startHost, type Host, type HostOptions } from './host.ts';
export { PAGES_DIR, buildPagesIfStale } from './host-pages.ts';
