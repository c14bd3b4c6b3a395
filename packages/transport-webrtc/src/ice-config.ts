/**
 * ICE configuration: which STUN/TURN servers every RTCPeerConnection uses and whether it may use only relayed
 * candidates. The coordinator serves one to pages (GET /api/config) and the CLI takes one from its flags;
 * without one, links use host candidates only (loopback, LAN). The parser checks the shape RFC 7064/7065 give
 * stun:, stuns:, turn: and turns: URIs and names the bad field, so a mistyped config fails at start-up instead of
 * leaving links to time out.
 */
import { getCoordinatorConfig } from './session-api.ts';

export type IceTransportPolicy = 'all' | 'relay';

export interface IceServerConfig {
  urls: string[];
  /** Required for turn:/turns: URLs (TURN long-term credentials). */
  username?: string;
  credential?: string;
}

export interface IceConfig {
  iceServers: IceServerConfig[];
  /** 'relay' hides the endpoints' own addresses from each other: every link goes through a TURN server. */
  iceTransportPolicy: IceTransportPolicy;
}

/**
 * Where TURN credentials come from: 'given' in the config (username and credential on every TURN server), or
 * 'minted' from a shared secret per use (ice-turn-rest.ts), in which case the config must not carry them.
 */
export type TurnCredentials = 'given' | 'minted';

/** Host candidates only: what links use when nothing is configured. */
export const HOST_ONLY_ICE: IceConfig = { iceServers: [], iceTransportPolicy: 'all' };

const MAX_SERVERS = 16;
const MAX_URLS_PER_SERVER = 8;
const MAX_CREDENTIAL_CHARS = 512;
/** scheme ":" host [":" port] ["?transport=" udp|tcp] (RFC 7064 section 3.1, RFC 7065 section 3.1). */
const ICE_URL = /^(stuns?|turns?):(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/;

export interface IceUrl {
  scheme: 'stun' | 'stuns' | 'turn' | 'turns';
  host: string;
  port: number | null;
  transport: 'udp' | 'tcp' | null;
}

/** Parses one ICE server URL; throws naming `where` and what is wrong. */
export function parseIceUrl(url: unknown, where: string): IceUrl {
  if (typeof url !== 'string') throw new Error(`${where} must be a string such as "turn:turn.example.org:3478", got ${describe(url)}`);
  if (/^(stuns?|turns?):\/\//.test(url)) throw new Error(`${where} "${url}" must not have "//" after the scheme (write turn:host:port)`);
  if (/^(stuns?|turns?):[^@?]*@/.test(url)) throw new Error(`${where} "${url}" must not carry a user name: put it in "username" and "credential"`);
  const m = ICE_URL.exec(url);
  if (!m) throw new Error(`${where} "${url}" is not a stun:, stuns:, turn: or turns: URL of the form scheme:host[:port][?transport=udp|tcp]`);
  const scheme = m[1] as IceUrl['scheme'];
  const port = m[3] === undefined ? null : Number(m[3]);
  if (port !== null && (port < 1 || port > 65535)) throw new Error(`${where} "${url}" has port ${m[3]}, outside 1..65535`);
  const transport = (m[4] ?? null) as IceUrl['transport'];
  if (transport !== null && !scheme.startsWith('turn')) throw new Error(`${where} "${url}": only turn: and turns: URLs take ?transport=`);
  return { scheme, host: m[2], port, transport };
}

/** Validates an ICE config (an object as JSON gives it); throws an error naming the bad field. */
export function parseIceConfig(value: unknown, where = 'ICE config', credentials: TurnCredentials = 'given'): IceConfig {
  const o = asObject(value, where, ['iceServers', 'iceTransportPolicy']);
  const iceServers = parseIceServers(o.iceServers ?? [], `${where}: iceServers`, credentials);
  const iceTransportPolicy = parseIcePolicy(o.iceTransportPolicy ?? 'all', `${where}: iceTransportPolicy`);
  return checkRelayPossible({ iceServers, iceTransportPolicy }, where);
}

/** Validates a list of ICE servers ({ urls, username?, credential? } each). */
export function parseIceServers(value: unknown, where = 'iceServers', credentials: TurnCredentials = 'given'): IceServerConfig[] {
  if (!Array.isArray(value)) throw new Error(`${where} must be an array of { urls, username?, credential? }, got ${describe(value)}`);
  if (value.length > MAX_SERVERS) throw new Error(`${where} lists ${value.length} servers; at most ${MAX_SERVERS}`);
  return value.map((entry, i) => parseIceServer(entry, `${where}[${i}]`, credentials));
}

export function parseIcePolicy(value: unknown, where = 'iceTransportPolicy'): IceTransportPolicy {
  if (value !== 'all' && value !== 'relay') throw new Error(`${where} must be "all" or "relay", got ${describe(value)}`);
  return value;
}

/** A relay-only policy without a TURN server can never connect: refused here instead of timing out later. */
export function checkRelayPossible(config: IceConfig, where = 'ICE config'): IceConfig {
  const hasTurn = config.iceServers.some((s) => s.urls.some((u) => u.startsWith('turn')));
  if (config.iceTransportPolicy === 'relay' && !hasTurn) {
    throw new Error(`${where}: iceTransportPolicy "relay" needs at least one turn: or turns: server in iceServers`);
  }
  return config;
}

function parseIceServer(value: unknown, where: string, credentials: TurnCredentials): IceServerConfig {
  const o = asObject(value, where, ['urls', 'username', 'credential']);
  const urls = typeof o.urls === 'string' ? [o.urls] : o.urls;
  if (!Array.isArray(urls) || urls.length === 0) throw new Error(`${where}.urls must be a URL or a non-empty array of URLs, got ${describe(o.urls)}`);
  if (urls.length > MAX_URLS_PER_SERVER) throw new Error(`${where}.urls lists ${urls.length} URLs; at most ${MAX_URLS_PER_SERVER}`);
  const parsed = urls.map((u, i) => parseIceUrl(u, `${where}.urls[${i}]`));
  const server: IceServerConfig = { urls: urls as string[] };
  for (const field of ['username', 'credential'] as const) {
    const v = o[field];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_CREDENTIAL_CHARS || /[\0-\x1f\x7f]/.test(v)) {
      throw new Error(`${where}.${field} must be a non-empty string of at most ${MAX_CREDENTIAL_CHARS} printable characters`);
    }
    server[field] = v;
  }
  const isTurn = parsed.some((u) => u.scheme.startsWith('turn'));
  if (isTurn && credentials === 'minted' && (server.username !== undefined || server.credential !== undefined)) {
    throw new Error(`${where}: TURN credentials are minted from the TURN secret, so leave out "username" and "credential"`);
  }
  if (isTurn && credentials === 'given' && (server.username === undefined || server.credential === undefined)) {
    throw new Error(`${where} has a TURN URL, so it needs both "username" and "credential" (the TURN server's long-term credentials)`);
  }
  return server;
}

function asObject(value: unknown, where: string, fields: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} must be an object, got ${describe(value)}`);
  for (const key of Object.keys(value)) {
    if (!fields.includes(key)) throw new Error(`${where} has an unknown field "${key}" (known: ${fields.join(', ')})`);
  }
  return value as Record<string, unknown>;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** The RTCConfiguration for createPeerChannel's rtcConfig. */
export function rtcConfigOf(config: IceConfig): RTCConfiguration {
  return { iceServers: config.iceServers.map((s) => ({ ...s, urls: [...s.urls] })), iceTransportPolicy: config.iceTransportPolicy };
}

/** The ICE config the coordinator serves to every endpoint (GET /api/config), validated. */
export async function fetchIceConfig(coordinator: string): Promise<IceConfig> {
  let answer: unknown;
  try {
    answer = await getCoordinatorConfig(coordinator);
  } catch (e) {
    throw new Error(`cannot read the ICE config of the coordinator at ${coordinator}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const ice = typeof answer === 'object' && answer !== null ? (answer as { ice?: unknown }).ice : undefined;
  return parseIceConfig(ice, `the ICE config of the coordinator at ${coordinator}`);
}
