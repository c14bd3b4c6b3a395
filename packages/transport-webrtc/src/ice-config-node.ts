/**
 * ICE configuration in Node: what node-datachannel (libdatachannel over libjuice) can honour, and reading the
 * CLI's --ice-servers / --ice-transport-policy flags. libjuice gathers through one STUN server and at most two
 * TURN servers, over UDP only (libdatachannel's IceTransport drops TURN over TCP/TLS with a log line and picks
 * servers at random beyond those counts), so such configs are refused here instead of being half ignored.
 */
import { readFileSync } from 'node:fs';
import { type IceConfig, type TurnCredentials, checkRelayPossible, parseIceConfig, parseIcePolicy, parseIceServers, parseIceUrl } from './ice-config.ts';

const MAX_NODE_STUN_URLS = 1;
const MAX_NODE_TURN_URLS = 2;

/** Throws if node-datachannel cannot use `config` as given; the message names the URL and what to use instead. */
export function assertNodeIceSupport(config: RTCConfiguration, where = 'ICE config'): void {
  const urls = (config.iceServers ?? []).flatMap((s, i) => (Array.isArray(s.urls) ? s.urls : [s.urls]).map((u, j) => ({ url: u, at: `${where}: iceServers[${i}].urls[${j}]` })));
  let stun = 0;
  let turn = 0;
  for (const { url, at } of urls) {
    const u = parseIceUrl(url, at);
    if (u.scheme === 'stuns' || u.scheme === 'turns' || u.transport === 'tcp') {
      throw new Error(`${at} "${url}" is not supported in Node: node-datachannel (libjuice) speaks STUN and TURN over UDP only; use a stun:/turn: URL without ?transport=tcp`);
    }
    if (u.scheme === 'stun') stun++;
    else turn++;
  }
  if (stun > MAX_NODE_STUN_URLS) throw new Error(`${where} lists ${stun} STUN URLs; node-datachannel uses ${MAX_NODE_STUN_URLS}, so list only one for Node endpoints`);
  if (turn > MAX_NODE_TURN_URLS) throw new Error(`${where} lists ${turn} TURN URLs; node-datachannel uses at most ${MAX_NODE_TURN_URLS}, so list at most that many for Node endpoints`);
}

/**
 * node-datachannel passes TURN credentials inside the URL (turn:user:pass@host) and percent-decodes them there,
 * so they are percent-encoded first: a ':' or '@' in a password would otherwise cut the URL apart.
 */
export function encodeCredentialsForNode(config: RTCConfiguration): RTCConfiguration {
  return {
    ...config,
    iceServers: (config.iceServers ?? []).map((s) => ({
      ...s,
      ...(typeof s.username === 'string' ? { username: encodeURIComponent(s.username) } : {}),
      ...(typeof s.credential === 'string' ? { credential: encodeURIComponent(s.credential) } : {}),
    })),
  };
}

/**
 * The ICE config of the CLI flags: `servers` is JSON (a list of servers, or a whole { iceServers,
 * iceTransportPolicy } object) or `@file` holding it; `policy` ("all" | "relay") overrides the file's policy.
 * With `credentials` 'minted' (a --turn-secret is given) TURN servers must come without username and credential.
 * Returns null when neither flag is given (host candidates only).
 */
export function iceConfigFromFlags(servers: string | undefined, policy: string | undefined, credentials: TurnCredentials = 'given'): IceConfig | null {
  if (servers === undefined && policy === undefined) return null;
  let config: IceConfig = { iceServers: [], iceTransportPolicy: 'all' };
  if (servers !== undefined) {
    const from = servers.startsWith('@') ? `--ice-servers file ${servers.slice(1)}` : '--ice-servers';
    let text = servers;
    if (servers.startsWith('@')) {
      try {
        text = readFileSync(servers.slice(1), 'utf8');
      } catch (e) {
        throw new Error(`${from} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new Error(`${from} is not JSON (${e instanceof Error ? e.message : String(e)}); expected e.g. [{"urls":"turn:turn.example.org:3478","username":"u","credential":"p"}]`);
    }
    config = Array.isArray(value) ? { iceServers: parseIceServers(value, from, credentials), iceTransportPolicy: 'all' } : parseIceConfig(value, from, credentials);
  }
  if (policy !== undefined) config = { ...config, iceTransportPolicy: parseIcePolicy(policy, '--ice-transport-policy') };
  return checkRelayPossible(config, 'the ICE flags');
}
