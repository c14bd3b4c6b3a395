/**
 * The hosted demo's routes under /api/hosted (contract in hosted-types.ts): what the host offers, and visits
 * that queue for its parties. A visit's token travels in the x-visit-token header (or ?token= on stop, for
 * navigator.sendBeacon, which cannot set headers).
 */
import type http from 'node:http';
import { clientAddress, limitKey } from './address.ts';
import { HttpError, parseJsonObject, sendJson } from './http.ts';
import type { VisitView } from './hosted-types.ts';
import type { HostedVisits } from './hosted-visits.ts';

export const HOSTED_PATH = '/api/hosted';
export const VISIT_TOKEN_HEADER = 'x-visit-token';

export async function serveHosted(
  visits: HostedVisits, req: http.IncomingMessage, path: string, body: Buffer, res: http.ServerResponse, trustProxy: boolean,
): Promise<void> {
  const method = req.method ?? 'GET';
  const expect = (allowed: string) => {
    if (method !== allowed) throw new HttpError(405, `${path} accepts ${allowed}, not ${method}`, { allow: allowed });
  };
  const noStore = { 'cache-control': 'no-store' };
  if (path === HOSTED_PATH) {
    expect('GET');
    sendJson(res, 200, visits.info, noStore);
    return;
  }
  if (path === `${HOSTED_PATH}/visits`) {
    expect('POST');
    const from = limitKey(clientAddress(req, trustProxy));
    sendJson(res, 201, visits.create(parseJsonObject(body), from), noStore);
    return;
  }
  const m = /^\/api\/hosted\/visits\/([0-9a-f]{32})(\/stop)?$/.exec(path);
  if (!m) throw new HttpError(404, `no hosted API route ${method} ${path}`);
  const header = req.headers[VISIT_TOKEN_HEADER];
  const headerToken = Array.isArray(header) ? header[0] : header;
  if (!m[2]) {
    expect('GET');
    const { session, ...status } = visits.view(m[1], headerToken);
    const view: VisitView = session ? { ...status, session: { ...session, coordinator: requestOrigin(req, trustProxy) } } : status;
    sendJson(res, 200, view, noStore);
    return;
  }
  expect('POST');
  const queryToken = new URL(req.url ?? '/', 'http://host').searchParams.get('token') ?? undefined;
  sendJson(res, 200, await visits.stop(m[1], headerToken ?? queryToken), noStore);
}

/** The origin the visitor reached this server at (behind a trusted proxy, the one the proxy says it served). */
function requestOrigin(req: http.IncomingMessage, trustProxy: boolean): string {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(',')[0].trim();
  const proto = (trustProxy ? first(req.headers['x-forwarded-proto']) : undefined) ?? 'http';
  const host = (trustProxy ? first(req.headers['x-forwarded-host']) : undefined) ?? req.headers.host;
  if (!host) throw new HttpError(400, 'the request has no Host header');
  if (proto !== 'http' && proto !== 'https') throw new HttpError(400, `X-Forwarded-Proto must be http or https, got ${JSON.stringify(proto)}`);
  return `${proto}://${host}`;
}
