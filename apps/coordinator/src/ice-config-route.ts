/**
 * GET /api/config: the ICE servers (STUN/TURN) and transport policy this coordinator's operator chose, which
 * every page fetches before it connects (fetchIceConfig). TURN credentials given here are readable by anyone
 * who can reach the coordinator, as they must be for browsers to use them. With a TURN secret they are minted
 * per request instead (ice-turn-rest.ts) and expire after the longest a session may live, plus a margin.
 */
import type http from 'node:http';
import { HOST_ONLY_ICE, parseIceConfig, type IceConfig } from '@puma/transport-webrtc';
import { mintTurnCredentials } from '@puma/transport-webrtc/node';
import { HttpError, sendJson } from './http.ts';

export const CONFIG_PATH = '/api/config';
/** Minted TURN credentials outlive the longest session by this much (a TURN allocation refreshes with them). */
export const TURN_CREDENTIAL_MARGIN_MS = 3600_000;

export interface IceRoute {
  config: IceConfig;
  /** Shared with the TURN server (coturn static-auth-secret); absent: the config carries its credentials. */
  turnSecret?: string;
  turnCredentialTtlMs: number;
}

/** Validates the operator's ICE config once, at start-up; absent means host candidates only. */
export function resolveIceRoute(config: IceConfig | undefined, turnSecret: string | undefined, maxSessionLifetimeMs: number): IceRoute {
  if (turnSecret !== undefined && turnSecret.length === 0) throw new Error('coordinator option turnSecret must not be empty');
  const where = 'coordinator option iceConfig';
  return {
    config: config === undefined ? HOST_ONLY_ICE : parseIceConfig(config, where, turnSecret === undefined ? 'given' : 'minted'),
    turnSecret,
    turnCredentialTtlMs: maxSessionLifetimeMs + TURN_CREDENTIAL_MARGIN_MS,
  };
}

export function serveConfig(route: IceRoute, req: http.IncomingMessage, res: http.ServerResponse): void {
  const method = req.method ?? 'GET';
  if (method !== 'GET') throw new HttpError(405, `${CONFIG_PATH} accepts GET, not ${method}`, { allow: 'GET' });
  const ice = route.turnSecret === undefined ? route.config : mintTurnCredentials(route.config, route.turnSecret, route.turnCredentialTtlMs);
  sendJson(res, 200, { ice }, { 'cache-control': 'no-store' });
}
