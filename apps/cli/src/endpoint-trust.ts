/**
 * What the networked commands need to know whom they trust: this endpoint's long-term key file, the slot's
 * secret, the approved party identities and pinned peers, parsed from the command line with clear errors.
 * Expected identities come from the person running the command, never from the coordinator.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { type EndpointId } from '@puma/transport';
import { SLOT_NAMES, SLOT_SECRET_PATTERN, endpointSlot, parseFingerprint, safetyCode, slotEndpoint, type Identity, type SlotName } from '@puma/transport-webrtc';
import { loadOrCreateIdentityFile } from '@puma/transport-webrtc/node';
import { usageError } from './session-endpoint.ts';

/** The three party fingerprints, in party order. */
export type PartyFingerprints = readonly [string, string, string];
/** Pinned fingerprints by endpoint: a peer proving another key on its link is refused. */
export type PeerPins = Partial<Record<EndpointId, string>>;

/** Help text shared by the owner, party and client usages. */
export const KEY_USAGE = `--key <file>: this endpoint's long-term identity (created when missing; default $PUMA_HOME/identity.json,
  PUMA_HOME default ~/.config/puma-web). --secret <hex> | --secret-file <file>: the slot's secret from
  "puma session create" (a restarted endpoint re-joins with the same secret and key).`;

/** $PUMA_HOME/identity.json, PUMA_HOME defaulting to ~/.config/puma-web. */
export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.PUMA_HOME && env.PUMA_HOME !== '' ? env.PUMA_HOME : path.join(homedir(), '.config', 'puma-web');
  return path.join(home, 'identity.json');
}

/** Loads this endpoint's key file (--key, or the default), creating it with mode 0600 when missing. */
export async function loadEndpointIdentity(keyFlag: string | undefined): Promise<{ identity: Identity; file: string }> {
  if (keyFlag === '') usageError('--key needs a file name');
  const file = path.resolve(keyFlag ?? defaultKeyFile());
  try {
    return { identity: await loadOrCreateIdentityFile(file), file };
  } catch (e) {
    throw new Error(`identity key file ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function checkSecret(text: string, from: string): string {
  const secret = text.trim().toLowerCase();
  if (!SLOT_SECRET_PATTERN.test(secret)) {
    usageError(`${from} must hold the slot's secret, 32 hex digits as "puma session create" prints it; got ${secret.length} characters`);
  }
  return secret;
}

/** The slot's secret from --secret or --secret-file (exactly one); never echoed back in an error. */
export async function readSlotSecret(secret: string | undefined, secretFile: string | undefined): Promise<string> {
  if ((secret === undefined) === (secretFile === undefined)) usageError("give exactly one of --secret and --secret-file (the slot's secret from \"puma session create\")");
  if (secret !== undefined) return checkSecret(secret, '--secret');
  let text: string;
  try {
    text = await readFile(secretFile!, 'utf8');
  } catch (e) {
    usageError(`--secret-file ${secretFile} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return checkSecret(text, `--secret-file ${secretFile}`);
}

/** `--parties <fp0>,<fp1>,<fp2>`: the approved identities of parties 0, 1 and 2, all different. */
export function parseApprovedParties(text: string | undefined, why: string): PartyFingerprints {
  if (text === undefined || text === '') usageError(`--parties <fp0>,<fp1>,<fp2> is required: ${why}`);
  const items = text.split(',').map((s) => s.trim());
  if (items.length !== 3) usageError(`--parties must list three fingerprints (parties 0, 1, 2) separated by commas, got ${items.length}`);
  const fps = items.map((s, i) => {
    try {
      return parseFingerprint(s, `--parties entry for party ${i}`);
    } catch (e) {
      usageError(e instanceof Error ? e.message : String(e));
    }
  });
  for (let i = 0; i < 3; i++) {
    for (let j = i + 1; j < 3; j++) {
      if (fps[i] === fps[j]) usageError(`--parties gives party ${i} and party ${j} the same identity; each party needs its own key (one identity never holds two parties' shares)`);
    }
  }
  return [fps[0], fps[1], fps[2]];
}

/** `--peers party1=<fp>,client=<fp>,owner=<fp>`: pins for some of this endpoint's peers. */
export function parsePeerPins(text: string | undefined, self: EndpointId, peers: readonly EndpointId[]): PeerPins {
  const pins: PeerPins = {};
  if (text === undefined) return pins;
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (eq < 0 || !(SLOT_NAMES as readonly string[]).includes(name)) {
      usageError(`--peers entries look like party1=<fingerprint>, with a name among ${SLOT_NAMES.join(', ')}; got "${item.slice(0, 40)}"`);
    }
    const endpoint = slotEndpoint(name as SlotName);
    if (endpoint === self) usageError(`--peers pins ${name}, which is this endpoint itself`);
    if (!peers.includes(endpoint)) usageError(`--peers pins ${name}, which this endpoint never talks to`);
    if (pins[endpoint] !== undefined) usageError(`--peers pins ${name} twice`);
    try {
      pins[endpoint] = parseFingerprint(item.slice(eq + 1), `--peers entry for ${name}`);
    } catch (e) {
      usageError(e instanceof Error ? e.message : String(e));
    }
  }
  return pins;
}

/** The approved parties as pins, merged with --peers; a --peers entry contradicting --parties is an error. */
export function pinsWithParties(parties: PartyFingerprints, pins: PeerPins): PeerPins {
  const merged: PeerPins = { ...pins };
  for (const p of [0, 1, 2] as const) {
    if (merged[p] !== undefined && merged[p] !== parties[p]) usageError(`--peers pins ${endpointSlot(p)} to another key than --parties does`);
    merged[p] = parties[p];
  }
  return merged;
}

/** One line for people comparing keys out of band: the fingerprint's start and its safety code. */
export function describeKey(fingerprint: string): string {
  return `key ${fingerprint.slice(0, 16)}…, safety code ${safetyCode(fingerprint)}`;
}
