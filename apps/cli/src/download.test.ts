/**
 * `npm start` on a machine without a local stories260K: `puma generate` downloads it (here from a loopback
 * mirror serving the real files) into $PUMA_CACHE, verifies the checksums and generates.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { modelDir } from '@puma/models/node';

const BIN = new URL('../bin/puma.mjs', import.meta.url).pathname;

describe('puma generate without a local model', () => {
  it('downloads stories260K with checksums into PUMA_CACHE, then generates', async () => {
    const served: string[] = [];
    const server = createServer((req, res) => {
      const file = path.basename(req.url ?? '');
      served.push(file);
      try {
        res.writeHead(200).end(readFileSync(path.join(modelDir('stories260K'), file)));
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const cache = mkdtempSync(path.join(tmpdir(), 'puma-cache-'));
      const env = { ...process.env, PUMA_MODELS: mkdtempSync(path.join(tmpdir(), 'puma-empty-')), PUMA_CACHE: cache, PUMA_DOWNLOAD_BASE: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
      const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'generate', '--max-new-tokens', '3', '--json'], { env, timeout: 200_000 });
      const r = JSON.parse(stdout) as { tokens: number[]; plaintextTokens: number[] };
      expect(r.tokens).toEqual(r.plaintextTokens);
      expect(served.sort()).toEqual(['stories260K.bin', 'tok512.bin']);
      expect(readdirSync(path.join(cache, 'stories260K')).sort()).toEqual(['stories260K.bin', 'tok512.bin']);
      // A second run finds the cached copy and fetches nothing.
      await promisify(execFile)(process.execPath, [BIN, 'generate', '--max-new-tokens', '1', '--json'], { env, timeout: 200_000 });
      expect(served).toHaveLength(2);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 300_000);
});
