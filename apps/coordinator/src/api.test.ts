import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES, startCoordinator, type Coordinator } from './index.ts';
import { api, registerPeer } from './test-clients.ts';

const open: Coordinator[] = [];
async function coordinator(opts: Parameters<typeof startCoordinator>[0] = {}): Promise<Coordinator> {
  const c = await startCoordinator(opts);
  open.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const IDENTITY = 'ab'.repeat(32);

describe('coordinator session API', () => {
  it('creates a session with an unguessable id and fresh slot secrets, and reports its state without them', async () => {
    const c = await coordinator();
    const a = await api(c, 'POST', '/api/sessions', { model: 'gpt2-shakespeare', params: { fracBits: 18 } });
    const b = await api(c, 'POST', '/api/sessions', { model: 'gpt2-shakespeare' });
    expect(a.status).toBe(201);
    expect(a.json.id).toMatch(/^[0-9a-f]{32}$/);
    expect(b.json.id).not.toBe(a.json.id);
    expect(a.json.params).toEqual({ fracBits: 18 });
    expect(b.json.params).toEqual({});
    expect(Object.keys(a.json.slotSecrets)).toEqual(['party0', 'party1', 'party2', 'client', 'owner']);
    const secrets = [...Object.values(a.json.slotSecrets), ...Object.values(b.json.slotSecrets)] as string[];
    for (const secret of secrets) expect(secret).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(secrets).size).toBe(10);
    const got = await api(c, 'GET', `/api/sessions/${a.json.id}`);
    expect(got.status).toBe(200);
    expect(got.json.model).toBe('gpt2-shakespeare');
    expect(got.json.slotSecrets).toBeUndefined();
    expect(JSON.stringify(got.json)).not.toContain(a.json.slotSecrets.party1);
    expect(got.json.slots.party1).toEqual({ joined: false, connected: false, identity: null });
    expect(c.sessionCount()).toBe(2);
  });

  it('joins a slot with its secret, binds it to the identity and lists that identity', async () => {
    const c = await coordinator();
    const { json: s } = await api(c, 'POST', '/api/sessions', { model: 'm' });
    const first = await api(c, 'POST', `/api/sessions/${s.id}/join`, { slot: 'party1', secret: s.slotSecrets.party1, identity: IDENTITY.toUpperCase() });
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ sessionId: s.id, slot: 'party1', endpoint: 1, peerId: `puma-${s.id}-1` });
    const owner = await api(c, 'POST', `/api/sessions/${s.id}/join`, { slot: 'owner', secret: s.slotSecrets.owner, identity: 'cd'.repeat(32) });
    expect(owner.json.endpoint).toBe(4);
    const state = await api(c, 'GET', `/api/sessions/${s.id}`);
    expect(state.json.slots.party1).toEqual({ joined: true, connected: false, identity: IDENTITY });
    expect(state.json.slots.owner.identity).toBe('cd'.repeat(32));
    expect(state.json.slots.party0).toEqual({ joined: false, connected: false, identity: null });
  });

  it('expires idle sessions after the TTL', async () => {
    const c = await coordinator({ sessionTtlMs: 150 });
    const { json: s } = await api(c, 'POST', '/api/sessions', { model: 'm' });
    expect((await api(c, 'GET', `/api/sessions/${s.id}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    const gone = await api(c, 'GET', `/api/sessions/${s.id}`);
    expect(gone.status).toBe(404);
    expect(gone.json.error).toMatch(/no session .* expired/);
    const join = await api(c, 'POST', `/api/sessions/${s.id}/join`, { slot: 'client', secret: s.slotSecrets.client, identity: IDENTITY });
    expect(join.status).toBe(404);
  });

  it('answers malformed, unknown and oversized requests with a 4xx JSON error', async () => {
    const c = await coordinator();
    const { json: s } = await api(c, 'POST', '/api/sessions', { model: 'm' });
    const secret: string = s.slotSecrets.party0;
    const cases: [string, string, string | object | undefined, number, RegExp][] = [
      ['POST', '/api/sessions', '{"model": ', 400, /malformed JSON/],
      ['POST', '/api/sessions', '[1, 2]', 400, /JSON object, got an array/],
      ['POST', '/api/sessions', undefined, 400, /empty body/],
      ['POST', '/api/sessions', { model: '' }, 400, /"model" must be a non-empty string/],
      ['POST', '/api/sessions', { model: 'm', params: 3 }, 400, /"params" must be a JSON object/],
      ['POST', '/api/sessions', { model: 'm', weights: [1] }, 400, /unknown field "weights"/],
      ['GET', '/api/sessions', undefined, 405, /accepts POST, not GET/],
      ['POST', `/api/sessions/${s.id}/join`, { slot: 'party3', secret, identity: IDENTITY }, 400, /unknown slot "party3"; expected one of party0, party1, party2, client, owner/],
      ['POST', `/api/sessions/${s.id}/join`, { slot: 7, secret, identity: IDENTITY }, 400, /unknown slot 7/],
      ['POST', `/api/sessions/${s.id}/join`, { slot: 'party0', secret }, 400, /"identity" must be the joiner's public-key fingerprint, 64 hex digits; got undefined/],
      ['POST', `/api/sessions/${s.id}/join`, { slot: 'party0', secret, identity: 'ab' }, 400, /"identity" must be .* got "ab"/],
      ['POST', `/api/sessions/${s.id}/join`, { slot: 'party0', secret, identity: IDENTITY, role: 'x' }, 400, /unknown field "role"; expected slot, secret, identity/],
      ['POST', `/api/sessions/${s.id}/join`, { slot: 'party0', identity: IDENTITY }, 403, /wrong secret for slot party0 of session [0-9a-f]{32} \(the request has no "secret"\)/],
      ['POST', '/api/sessions/not-an-id/join', { slot: 'party0', secret, identity: IDENTITY }, 400, /malformed session id/],
      ['GET', '/api/sessions/%E0%A4%A', undefined, 400, /malformed session id "%E0%A4%A"/],
      ['GET', `/api/sessions/${'0'.repeat(32)}`, undefined, 404, /no session 0{32}/],
      ['GET', '/api/nothing', undefined, 404, /no API route GET \/api\/nothing/],
      ['GET', '/elsewhere', undefined, 404, /no route for GET \/elsewhere/],
      ['GET', '/peerjs/peerjs/id', undefined, 404, /WebSocket-only/],
      ['POST', '/api/sessions', { model: 'x'.repeat(MAX_BODY_BYTES) }, 413, /exceeds the limit of 65536/],
    ];
    for (const [method, path, body, status, error] of cases) {
      const res = await api(c, method, path, body);
      expect({ method, path, status: res.status }).toEqual({ method, path, status });
      expect(res.json.error).toMatch(error);
    }
    expect(c.sessionCount()).toBe(1);
    expect((await api(c, 'GET', `/api/sessions/${s.id}`)).json.slots.party0.joined).toBe(false);
  });

  it('serves static files without escaping the directory, and answers CORS preflights', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = await mkdtemp(path.join(tmpdir(), 'puma-static-'));
    try {
      await writeFile(path.join(dir, 'index.html'), '<p>party</p>');
      const c = await coordinator({ staticDir: dir });
      const page = await fetch(`${c.url}/`);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(await page.text()).toBe('<p>party</p>');
      expect((await fetch(`${c.url}/%2e%2e/%2e%2e/etc/passwd`)).status).toBe(404);
      const pre = await fetch(`${c.url}/api/sessions`, { method: 'OPTIONS' });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('admits signaling only for joined slots with their secret as token, and records what it receives', async () => {
    const c = await coordinator();
    const { json: s } = await api(c, 'POST', '/api/sessions', { model: 'm', params: { note: 'public-parameter' } });
    await api(c, 'POST', `/api/sessions/${s.id}/join`, { slot: 'party0', secret: s.slotSecrets.party0, identity: IDENTITY });
    const admitted = await registerPeer(c, `puma-${s.id}-0`, s.slotSecrets.party0);
    if (!admitted.open) throw new Error(`refused: ${admitted.reason}`);
    admitted.socket.send(JSON.stringify({ type: 'HEARTBEAT' }));
    await new Promise((r) => setTimeout(r, 50));
    admitted.socket.close();
    expect(await registerPeer(c, `puma-${s.id}-2`, s.slotSecrets.party2)).toMatchObject({ open: false, status: 403, reason: expect.stringMatching(/slot party2 of session [0-9a-f]{32} is not joined/) });
    expect(await registerPeer(c, 'someone-else', 't1')).toMatchObject({ open: false, status: 403, reason: expect.stringMatching(/not of the form puma-<session>-<endpoint>/) });
    expect(c.record.contains('public-parameter')).toBe(true);
    expect(c.record.find('HEARTBEAT').map((e) => e.kind)).toEqual(['signal-message']);
    expect(c.record.find(`id=puma-${s.id}-2`).map((e) => e.kind)).toEqual(['signal-connect']);
    expect(c.record.contains('never-sent')).toBe(false);
    expect(c.record.truncated).toBe(false);
  });

  it('refuses a port that is taken with a clear error', async () => {
    const c = await coordinator();
    await expect(startCoordinator({ port: c.port })).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  });
});
