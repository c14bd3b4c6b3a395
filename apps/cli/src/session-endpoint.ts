/**
 * What the networked commands (`puma owner | party | client`) share: argument checks, exit codes, and joining a
 * coordinator session as one endpoint over WebRTC (node-datachannel).
 */
import { type EndpointId } from '@puma/transport';
import { claimSlot, createPeerChannel, endpointSlot, type PeerChannel } from '@puma/transport-webrtc';
import { installNodeWebRtc } from '@puma/transport-webrtc/node';

/** A mistake in the command line: printed with the command's usage, exit code 2. */
export class CommandUsageError extends Error {}

export function usageError(message: string): never {
  throw new CommandUsageError(message);
}

export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') usageError(`--${flag} is required`);
  return value;
}

export function intOption(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) usageError(`--${flag} must be an integer in [${min}, ${max}], got "${value}"`);
  return n;
}

/**
 * Runs a command body and maps its outcome to an exit code: 0 done, 1 failed (the message names the problem),
 * 2 bad command line (the message and the usage).
 */
export async function runCommand(name: string, usage: string, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // node:util parseArgs reports unknown or malformed flags as TypeErrors with an ERR_PARSE_ARGS_* code.
    const isUsage = e instanceof CommandUsageError || String((e as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
    console.error(isUsage ? `puma ${name}: ${message}\n${usage}` : `puma ${name}: ${message}`);
    return isUsage ? 2 : 1;
  }
}

export interface EndpointOptions {
  coordinator: string;
  sessionId: string;
  self: EndpointId;
  peers: readonly EndpointId[];
  /** How long the peers may take to appear. */
  connectTimeoutMs: number;
}

/** Claims the endpoint's slot in the coordinator session (again, after a restart) and connects to its peers. */
export async function connectEndpoint(o: EndpointOptions): Promise<PeerChannel> {
  try {
    new URL(o.coordinator);
  } catch {
    usageError(`--coordinator must be a URL such as http://127.0.0.1:9000, got "${o.coordinator}"`);
  }
  installNodeWebRtc();
  await claimSlot(o.coordinator, o.sessionId, endpointSlot(o.self));
  return createPeerChannel({ coordinator: o.coordinator, sessionId: o.sessionId, self: o.self, peers: o.peers, connectTimeoutMs: o.connectTimeoutMs });
}

/** How long a finished endpoint lets Node wind down by itself before exiting anyway. */
const EXIT_GRACE_MS = 3_000;

/**
 * Exits after EXIT_GRACE_MS unless Node has exited by then. Closing a WebRTC connection to a peer that
 * vanished can keep node-datachannel's native side busy (and the process alive) long after the session is over;
 * the timer is unref'd, so it never delays an exit that happens anyway.
 */
export function exitAfterGrace(): void {
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
}

/**
 * An AbortSignal that fires on SIGINT or SIGTERM, so an interrupted endpoint tells its peers why it left. The
 * handler replaces Node's default exit, so the process is also made to exit after the grace period.
 */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      controller.abort(new Error(`interrupted (${sig})`));
      process.exitCode = 1;
      exitAfterGrace();
    });
  }
  return controller.signal;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 2 ** 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}
