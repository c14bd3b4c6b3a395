/**
 * Nobody can lock everyone else out: creates and joins are rate-limited per address, one address holds only a
 * few live sessions, every session ends at its hard lifetime (signaling sockets included), and only
 * authenticated activity, never a GET, keeps a session alive.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { limitKey } from './address.ts';
import { startCoordinator, type Coordinator, type CoordinatorOptions } from './index.ts';
import { api, registerPeer, sleep, waitUntil } from './test-clients.ts';

const open: Coordinator[] = [];
async function coordinator(opts: CoordinatorOptions = {}): Promise<Coordinator> {
  const c = await startCoordinator(opts);
  open.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const IDENTITY = '5e'.repeat(32);
const FROM_A = { localAddress: '127.0.0.1' };
const FROM_B = { localAddress: '127.0.0.2' };
const create = (c: Coordinator, options = FROM_A) => api(c, 'POST', '/api/sessions', { model: 'm' }, options);

describe('per-address limits', () => {
  it('answers 1000 creates from one address with 429 past the limit while another address is still served', async () => {
    const c = await coordinator();
    const statuses = new Map<number, number>();
    let refusal: Awaited<ReturnType<typeof create>> | undefined;
    for (let i = 0; i < 1000; i++) {
      const res = await create(c);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 429) refusal ??= res;
    }
    expect(Object.fromEntries(statuses)).toEqual({ 201: 20, 429: 980 });
    expect(refusal?.json.error).toMatch(/^too many sessions created from 127\.0\.0\.1: at most 20 per 60 s; retry in (59|60) s$/);
    expect(Number(refusal?.headers['retry-after'])).toBeGreaterThanOrEqual(59);
    const other = await create(c, FROM_B);
    expect(other.status).toBe(201);
    expect(c.sessionCount()).toBe(21);
  }, 60_000);

  it('caps the live sessions of one address until one of them ends', async () => {
    const c = await coordinator({ maxSessionsPerAddress: 3, createRateLimit: { max: 100, windowMs: 60_000 }, sessionTtlMs: 400 });
    for (let i = 0; i < 3; i++) expect((await create(c)).status).toBe(201);
    const refused = await create(c);
    expect(refused.status).toBe(429);
    expect(refused.json.error).toBe('too many live sessions created from 127.0.0.1: at most 3 at once; retry in 1 s');
    expect(refused.headers['retry-after']).toBe('1');
    expect((await create(c, FROM_B)).status).toBe(201);
    await sleep(500);
    expect((await create(c)).status).toBe(201);
  });

  it('keeps the global cap, answering 503', async () => {
    const c = await coordinator({ maxSessions: 2 });
    expect((await create(c)).status).toBe(201);
    expect((await create(c, FROM_B)).status).toBe(201);
    const full = await create(c, { localAddress: '127.0.0.3' });
    expect(full.status).toBe(503);
    expect(full.json.error).toMatch(/too many live sessions; try again later/);
  });

  it('rate-limits join attempts per address, wrong ones included', async () => {
    const c = await coordinator({ joinRateLimit: { max: 5, windowMs: 60_000 } });
    const { json: s } = await create(c);
    const join = (secret: string, options = FROM_A) => api(c, 'POST', `/api/sessions/${s.id}/join`, { slot: 'client', secret, identity: IDENTITY }, options);
    for (let i = 0; i < 5; i++) expect((await join('0'.repeat(32))).status).toBe(403);
    const limited = await join(s.slotSecrets.client);
    expect(limited.status).toBe(429);
    expect(limited.json.error).toMatch(/^too many joins from 127\.0\.0\.1: at most 5 per 60 s; retry in (59|60) s$/);
    expect(limited.headers['retry-after']).toMatch(/^(59|60)$/);
    expect((await join(s.slotSecrets.client, FROM_B)).status).toBe(200);
  });

  it('takes the address from X-Forwarded-For only with trustProxy, counting IPv6 per /64', async () => {
    const behind = (forwardedFor: string) => ({ ...FROM_A, headers: { 'x-forwarded-for': forwardedFor } });
    const direct = await coordinator({ maxSessionsPerAddress: 1 });
    expect((await create(direct, behind('10.0.0.1'))).status).toBe(201);
    expect((await create(direct, behind('10.0.0.2'))).json.error).toMatch(/from 127\.0\.0\.1:/);

    const proxied = await coordinator({ maxSessionsPerAddress: 1, trustProxy: true });
    expect((await create(proxied, behind('10.0.0.1'))).status).toBe(201);
    expect((await create(proxied, behind('10.0.0.2'))).status).toBe(201);
    // Only the entry the proxy appended counts; the client wrote the ones left of it.
    expect((await create(proxied, behind('10.0.0.9, 10.0.0.1'))).json.error).toMatch(/from 10\.0\.0\.1:/);
    expect((await create(proxied, behind('2001:db8:1:2::a'))).status).toBe(201);
    expect((await create(proxied, behind('2001:db8:1:2:ffff::b'))).json.error).toMatch(/from 2001:db8:1:2::\/64:/);
    const bad = await create(proxied, behind('10.0.0.1, not-an-ip'));
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('X-Forwarded-For ends in "not-an-ip", which is not an IP address');
  });

  it('keys IPv4 per address and IPv6 per /64', () => {
    expect(limitKey('192.0.2.7')).toBe('192.0.2.7');
    expect(limitKey('2001:0db8:0001:0002:0003:0004:0005:0006')).toBe('2001:db8:1:2::/64');
    expect(limitKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(limitKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(limitKey('::1')).toBe('0:0:0:0::/64');
  });
});

describe('session lifetime', () => {
  it('drops a session at its hard lifetime even with a connected endpoint, closing its signaling socket', async () => {
    const c = await coordinator({ maxSessionLifetimeMs: 800 });
    const { json: s } = await create(c);
    await api(c, 'POST', `/api/sessions/${s.id}/join`, { slot: 'party0', secret: s.slotSecrets.party0, identity: IDENTITY });
    const registered = await registerPeer(c, `puma-${s.id}-0`, s.slotSecrets.party0);
    if (!registered.open) throw new Error(`signaling refused: ${registered.reason}`);
    const t0 = Date.now();
    const closed = new Promise<void>((resolve, reject) => {
      registered.socket.once('close', () => resolve());
      setTimeout(() => reject(new Error('the coordinator did not close the signaling socket within 3 s')), 3_000);
    });
    // Signaling activity keeps the socket busy; it must not extend the hard lifetime.
    const heartbeat = setInterval(() => registered.socket.send(JSON.stringify({ type: 'HEARTBEAT' })), 100);
    try {
      await closed;
    } finally {
      clearInterval(heartbeat);
    }
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    expect((await api(c, 'GET', `/api/sessions/${s.id}`)).status).toBe(404);
    expect(await registerPeer(c, `puma-${s.id}-0`, s.slotSecrets.party0)).toMatchObject({ open: false, status: 403, reason: `no session ${s.id}` });
    expect(c.sessionCount()).toBe(0);
  });

  it('is not kept alive by GETs, but is by joins', async () => {
    const c = await coordinator({ sessionTtlMs: 2_000 });
    const { json: read } = await create(c);
    const { json: joined } = await create(c);
    const t0 = Date.now();
    const expiresAt = (await api(c, 'GET', `/api/sessions/${read.id}`)).json.expiresAt;
    await waitUntil(async () => {
      await api(c, 'GET', `/api/sessions/${read.id}`);
      return Date.now() - t0 > 1_200;
    }, 5_000, 'reading for 1.2 s');
    expect((await api(c, 'GET', `/api/sessions/${read.id}`)).json.expiresAt).toBe(expiresAt);
    const join = await api(c, 'POST', `/api/sessions/${joined.id}/join`, { slot: 'owner', secret: joined.slotSecrets.owner, identity: IDENTITY });
    expect(join.status).toBe(200);
    await waitUntil(() => Date.now() - t0 > 2_400, 5_000, 'waiting past the TTL');
    expect((await api(c, 'GET', `/api/sessions/${read.id}`)).status).toBe(404);
    expect((await api(c, 'GET', `/api/sessions/${joined.id}`)).status).toBe(200);
  });
});
