/**
 * What the networked commands (`puma owner | party | client`) share: argument checks (the ICE flags among
 * them), exit codes, and joining a coordinator session as one endpoint over WebRTC (node-datachannel).
 */
import { type EndpointId } from '@puma/transport';
import {
  createPeerChannel, endpointName, endpointSlot, joinSession, probeRelay, rtcConfigOf, safetyCode, type IceConfig, type Identity, type PeerChannel,
} from '@puma/transport-webrtc';
import { assertNodeIceSupport, iceConfigFromFlags, installNodeWebRtc, mintTurnCredentials, readTurnSecret } from '@puma/transport-webrtc/node';

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

/** --coordinator, required and a URL. */
export function coordinatorUrl(value: string | undefined): string {
  const text = required(value, 'coordinator');
  try {
    new URL(text);
  } catch {
    usageError(`--coordinator must be a URL such as http://127.0.0.1:9000, got "${text}"`);
  }
  return text;
}

/** parseArgs options of the ICE flags that owner, party and client share. */
export const ICE_FLAGS = { 'ice-servers': { type: 'string' }, 'ice-transport-policy': { type: 'string' }, 'turn-secret': { type: 'string' } } as const;

export const ICE_USAGE = `--ice-servers <json|@file>: STUN/TURN servers, e.g. '[{"urls":"turn:turn.example.org:3478","username":"u",
  "credential":"p"}]' (Node: one stun: and up to two turn: URLs, UDP only). --ice-transport-policy relay: connect
  only through TURN relays, so peers never learn this machine's addresses. --turn-secret <secret|@file>: the TURN
  server's static-auth-secret; TURN credentials are then minted (leave them out of --ice-servers). Default: host
  candidates only (LAN).`;

/** The ICE servers and policy of the flags, and the secret TURN credentials are minted from, if any. */
export interface EndpointIce {
  config: IceConfig;
  turnSecret?: string;
}

/** Minted TURN credentials last as long as the longest session a coordinator allows (7 days), plus an hour. */
const TURN_CREDENTIAL_TTL_MS = (7 * 24 + 1) * 3600_000;

/** The ICE flags (null without any), checked against what node-datachannel supports. */
export function iceFlags(values: { 'ice-servers'?: string; 'ice-transport-policy'?: string; 'turn-secret'?: string }): EndpointIce | null {
  try {
    const turnSecret = values['turn-secret'] === undefined ? undefined : readTurnSecret(values['turn-secret']);
    if (turnSecret !== undefined && values['ice-servers'] === undefined) usageError('--turn-secret needs --ice-servers naming the TURN server(s) it is shared with');
    const config = iceConfigFromFlags(values['ice-servers'], values['ice-transport-policy'], turnSecret === undefined ? 'given' : 'minted');
    if (!config) return null;
    assertNodeIceSupport(rtcConfigOf(config), '--ice-servers');
    return { config, turnSecret };
  } catch (e) {
    usageError(e instanceof Error ? e.message : String(e));
  }
}

/** Work a command leaves for after its outcome is printed (closing links, which may wait for peers to flush). */
export type AfterOutcome = (cleanup: () => Promise<void>) => void;

/**
 * Runs a command body and maps its outcome to an exit code: 0 done, 1 failed (the message names the problem),
 * 2 bad command line (the message and the usage). Cleanups the body registered run after the outcome is
 * printed, in reverse order, so a failure is reported at once even when closing takes a while.
 */
export async function runCommand(name: string, usage: string, body: (afterOutcome: AfterOutcome) => Promise<void>): Promise<number> {
  const cleanups: Array<() => Promise<void>> = [];
  let code = 0;
  try {
    await body((cleanup) => void cleanups.push(cleanup));
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // node:util parseArgs reports unknown or malformed flags as TypeErrors with an ERR_PARSE_ARGS_* code.
    const isUsage = e instanceof CommandUsageError || String((e as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
    console.error(isUsage ? `puma ${name}: ${message}\n${usage}` : `puma ${name}: ${message}`);
    code = isUsage ? 2 : 1;
  }
  for (const cleanup of cleanups.reverse()) await cleanup();
  return code;
}

export interface EndpointOptions {
  coordinator: string;
  sessionId: string;
  self: EndpointId;
  peers: readonly EndpointId[];
  /** How long the peers may take to appear. */
  connectTimeoutMs: number;
  /** This endpoint's long-term identity, proven on every link. */
  identity: Identity;
  /** The slot's secret from the session's creator. */
  slotSecret: string;
  /** Pinned peer fingerprints; a peer proving another key fails its link. */
  expectedPeers: Partial<Record<EndpointId, string>>;
  /** Where each peer's proven key and safety code are reported, for people to compare. */
  log: (line: string) => void;
  /** STUN/TURN servers and policy (iceFlags); null: host candidates only. */
  ice?: EndpointIce | null;
}

/**
 * How long a restarted endpoint waits for its old registration to leave the signaling server, and how often it
 * asks (15 joins at most, well inside the coordinator's per-address join limit).
 */
const REJOIN_WAIT_MS = 15_000;
const REJOIN_RETRY_MS = 1_000;

/**
 * Joins the endpoint's slot with its secret and identity (again, after a restart: the coordinator lets only the
 * identity that joined first back in). A slot still registered by a previous run of this endpoint is retried
 * for a while, since a killed process's signaling socket can take a moment to be noticed.
 */
async function joinSlot(o: EndpointOptions): Promise<void> {
  const slot = endpointSlot(o.self);
  const until = Date.now() + REJOIN_WAIT_MS;
  for (;;) {
    try {
      await joinSession(o.coordinator, o.sessionId, slot, { secret: o.slotSecret, identity: o.identity.fingerprint });
      return;
    } catch (e) {
      const inUse = e instanceof Error && / failed with 409: .*is in use/.test(e.message);
      if (!inUse || Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, REJOIN_RETRY_MS));
    }
  }
}

/** Joins the endpoint's slot and connects to its peers; each peer's proven key is logged once its link is up. */
export async function connectEndpoint(o: EndpointOptions): Promise<PeerChannel> {
  installNodeWebRtc();
  // Relay-only links with a TURN server that refuses us could only time out; the probe says why at once. Its
  // peer connection, closed or not, keeps node-datachannel's threads and so the process alive: a failed probe
  // ends the command, so the process is made to exit once the outcome is printed.
  const ice = o.ice?.turnSecret === undefined ? o.ice?.config : mintTurnCredentials(o.ice.config, o.ice.turnSecret, TURN_CREDENTIAL_TTL_MS);
  if (ice?.iceTransportPolicy === 'relay') {
    await probeRelay(ice).catch((e: unknown) => {
      exitAfterGrace();
      throw e;
    });
  }
  await joinSlot(o);
  const channel = createPeerChannel({
    coordinator: o.coordinator, sessionId: o.sessionId, self: o.self, peers: o.peers, connectTimeoutMs: o.connectTimeoutMs,
    identity: o.identity, slotSecret: o.slotSecret, expectedPeers: o.expectedPeers, rtcConfig: ice ? rtcConfigOf(ice) : undefined,
  });
  reportPeerKeys(channel, o);
  return channel;
}

/**
 * Logs "<peer> authenticated (key …, safety code …)" for every peer once the channel's links are up. People compare the codes
 * with what the peer's own `puma identity` (or page) shows; a pinned peer was already checked by the link.
 */
function reportPeerKeys(channel: PeerChannel, o: EndpointOptions): void {
  const me = endpointName(o.self);
  o.log(`${me}: this endpoint is key ${o.identity.fingerprint.slice(0, 16)}…, safety code ${safetyCode(o.identity.fingerprint)}`);
  const ice = o.ice?.config;
  if (ice) o.log(`${me}: ICE servers ${ice.iceServers.flatMap((s) => s.urls).join(', ') || '(none)'}, ${ice.iceTransportPolicy === 'relay' ? 'relay only' : 'all candidates'}`);
  channel.ready.then(() => {
    for (const p of o.peers) {
      const fp = channel.peerIdentity?.(p);
      if (fp === undefined) continue;
      const pinned = o.expectedPeers[p] !== undefined ? 'pinned, ' : '';
      o.log(`${me}: ${endpointName(p)} authenticated (${pinned}key ${fp.slice(0, 16)}…, safety code ${safetyCode(fp)})`);
    }
  }, (e: unknown) => {
    // The session runtime names a failed link only when it next waits on that peer, which may be never (a party
    // whose link to the client failed still serves the other parties), so the failure is logged here too.
    o.log(`${me}: not every link came up: ${e instanceof Error ? e.message : String(e)}`);
  });
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
