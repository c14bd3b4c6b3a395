/**
 * Upstream download of the default model, against a loopback HTTP server that serves the real stories260K
 * files (and, on other paths, a corrupted, a truncated and a missing one).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadModel, UPSTREAM_MODELS } from './download.ts';
import { modelDir } from './node.ts';

const real = (f: string) => readFileSync(path.join(modelDir('stories260K'), f));
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const [, variant, file] = (req.url ?? '').split('/');
    let body: Buffer;
    try {
      body = real(file);
    } catch {
      res.writeHead(404).end();
      return;
    }
    if (variant === 'missing') return void res.writeHead(404).end();
    if (variant === 'corrupt') body = Buffer.from(body.map((b, i) => (i === 1000 ? b ^ 1 : b)));
    if (variant === 'short') body = body.subarray(0, body.length - 7);
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const fresh = () => mkdtempSync(path.join(tmpdir(), 'puma-dl-'));

describe('downloadModel', () => {
  it('fetches every file, reports progress and verifies size and sha256', async () => {
    const dir = fresh();
    const seen = new Map<string, number>();
    const folder = await downloadModel('stories260K', { dir, base: `${base}/ok`, onProgress: (f, got, total) => {
      expect(total).toBe(UPSTREAM_MODELS.stories260K.files.find((x) => x.name === f)!.size);
      seen.set(f, got);
    } });
    expect(folder).toBe(path.join(dir, 'stories260K'));
    expect(readdirSync(folder).sort()).toEqual(['stories260K.bin', 'tok512.bin']);
    expect(readFileSync(path.join(folder, 'stories260K.bin')).equals(real('stories260K.bin'))).toBe(true);
    expect(Object.fromEntries(seen)).toEqual({ 'stories260K.bin': 1056540, 'tok512.bin': 6227 });
  });

  it('refuses a file whose checksum differs and leaves nothing behind', async () => {
    const dir = fresh();
    await expect(downloadModel('stories260K', { dir, base: `${base}/corrupt` })).rejects.toThrow(/stories260K\.bin from .* fails its checksum: sha256 [0-9a-f]{64}, expected b0a507e7/);
    expect(readdirSync(path.join(dir, 'stories260K'))).toEqual([]);
  });

  it('refuses a truncated file, and names an HTTP error or an unreachable host', async () => {
    await expect(downloadModel('stories260K', { dir: fresh(), base: `${base}/short` })).rejects.toThrow(/has 1056533 bytes, expected 1056540/);
    await expect(downloadModel('stories260K', { dir: fresh(), base: `${base}/missing` })).rejects.toThrow(/cannot download stories260K\.bin from .*: HTTP 404/);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(downloadModel('stories260K', { dir: fresh(), base: `http://127.0.0.1:${port}` })).rejects.toThrow(/cannot download stories260K\.bin from http:\/\/127\.0\.0\.1:\d+\/stories260K\.bin: .*ECONNREFUSED/);
    await expect(downloadModel('gpt2-xl', { dir: fresh() })).rejects.toThrow(/no upstream known for model "gpt2-xl"/);
  });
});
