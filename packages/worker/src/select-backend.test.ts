import { describe, expect, it } from 'vitest';
import { createBackend, parseBackendChoice } from './select-backend.ts';

describe('backend selection', () => {
  it('parses choices and rejects unknown ones by name', () => {
    expect(parseBackendChoice('WASM')).toBe('wasm');
    expect(parseBackendChoice(undefined)).toBe('auto');
    expect(() => parseBackendChoice('cuda')).toThrow(/unknown backend "cuda"/);
  });
  it('auto falls back to WebAssembly when no GPU is present', async () => {
    expect((await createBackend('auto', undefined)).kind).toBe('wasm');
  });
});
