/**
 * TURN credentials minted from a secret shared with the TURN server (the "TURN REST API",
 * draft-uberti-behave-turn-rest-00 section 2.2; coturn's use-auth-secret and static-auth-secret): the user
 * name is "<expiry in Unix seconds>:puma" and the credential base64(HMAC-SHA1(secret, user name)). The TURN
 * server recomputes the HMAC and refuses expired names, so credentials handed to every page stop working at
 * their expiry, and the secret itself stays with the coordinator and the operators.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IceConfig } from './ice-config.ts';

export const TURN_REST_USER = 'puma';
const MIN_SECRET_CHARS = 16;

/** The config with credentials minted for every TURN server, valid for `ttlMs` from `nowMs`. */
export function mintTurnCredentials(config: IceConfig, secret: string, ttlMs: number, nowMs = Date.now()): IceConfig {
  const username = `${Math.floor((nowMs + ttlMs) / 1000)}:${TURN_REST_USER}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return {
    ...config,
    iceServers: config.iceServers.map((s) => (s.urls.some((u) => u.startsWith('turn')) ? { urls: [...s.urls], username, credential } : s)),
  };
}

/** --turn-secret: the secret itself or `@file` holding it (surrounding whitespace ignored). */
export function readTurnSecret(flag: string): string {
  let secret = flag;
  if (flag.startsWith('@')) {
    try {
      secret = readFileSync(flag.slice(1), 'utf8');
    } catch (e) {
      throw new Error(`--turn-secret file ${flag.slice(1)} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  secret = secret.trim();
  if (secret.length < MIN_SECRET_CHARS) throw new Error(`--turn-secret must be at least ${MIN_SECRET_CHARS} characters (coturn's static-auth-secret)`);
  return secret;
}
