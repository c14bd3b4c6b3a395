/** Small HTTP helpers: bounded body reading, JSON answers with clear errors, static files. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface Body {
  data: Buffer;
  /** Bytes received; larger than data.byteLength when the body exceeded the limit. */
  bytes: number;
  tooLarge: boolean;
}

/**
 * Reads at most `limit` bytes of the body. An announced or actual larger body is reported as tooLarge (the
 * caller answers 413 and closes the connection) instead of being buffered.
 */
export function readBody(req: http.IncomingMessage, limit: number, timeoutMs: number): Promise<Body> {
  const announced = Number(req.headers['content-length'] ?? 0);
  if (announced > limit) {
    req.resume();
    return Promise.resolve({ data: Buffer.alloc(0), bytes: announced, tooLarge: true });
  }
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let bytes = 0;
    let kept = 0;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new HttpError(408, `request body not received within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.byteLength;
      if (kept + chunk.byteLength <= limit) {
        parts.push(chunk);
        kept += chunk.byteLength;
      }
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(parts), bytes, tooLarge: bytes > limit });
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Parses a JSON object body; anything else is a 400 with the reason. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.byteLength === 0) throw new HttpError(400, 'request body must be a JSON object, got an empty body');
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new HttpError(400, `malformed JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, `request body must be a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return value as Record<string, unknown>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.wgsl': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** Serves a file under `root` for a URL path; 404 for anything missing or outside root. */
export async function serveStatic(root: string, urlPath: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    throw new HttpError(400, `malformed URL path ${urlPath}`);
  }
  if (rel.includes('\0')) throw new HttpError(400, 'URL path contains a NUL byte');
  const base = path.resolve(root);
  let file = path.resolve(base, `.${rel}`);
  if (file !== base && !file.startsWith(base + path.sep)) throw new HttpError(404, `no file ${urlPath}`);
  let info = await stat(file).catch(() => null);
  if (info?.isDirectory()) {
    file = path.join(file, 'index.html');
    info = await stat(file).catch(() => null);
  }
  if (!info?.isFile()) throw new HttpError(404, `no file ${urlPath}`);
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': info.size,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(file);
    stream.on('error', reject);
    res.on('close', () => resolve());
    stream.pipe(res);
  });
}
