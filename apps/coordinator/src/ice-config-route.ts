/**
 * GET /api/config: the ICE servers (STUN/TURN) and transport policy this coordinator's operator chose, which
 * every page fetches before it connects (fetchIceConfig). TURN credentials given here are readable by anyone
 * who can reach the coordinator, as they must be for browsers to use them; restrict them on the TURN server
 * (realm, quotas, allowed peer ranges).
 */
import type http from 'node:http';
import { HOST_ONLY_ICE, parseIceConfig, type IceConfig } from '@puma/transport-webrtc';
import { HttpError, sendJson } from './http.ts';

export const CONFIG_PATH = '/api/config';

/** Validates the operator's ICE config once, at start-up; absent means host candidates only. */
export function resolveIceConfig(config: IceConfig | undefined): IceConfig {
  return config === undefined ? HOST_ONLY_ICE : parseIceConfig(config, 'coordinator option iceConfig');
}

export function serveConfig(ice: IceConfig, req: http.IncomingMessage, res: http.ServerResponse): void {
  const method = req.method ?? 'GET';
  if (method !== 'GET') throw new HttpError(405, `${CONFIG_PATH} accepts GET, not ${method}`, { allow: 'GET' });
  sendJson(res, 200, { ice }, { 'cache-control': 'no-store' });
}
