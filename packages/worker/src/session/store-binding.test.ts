import { describe, expect, it } from 'vitest';
import { MemoryShareStore, bindingKey, type ShareStore } from './index.ts';
import { bindStore } from './store-binding.ts';

const EPOCH = '0123456789abcdef0123456789abcdef';
const A = 'a'.repeat(64);

describe('share store binding', () => {
  it('binds a fresh store to one slot, accepts that slot again and refuses any other', async () => {
    const store = new MemoryShareStore();
    expect(await bindStore(store, 'm', EPOCH, 2, A)).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(store.entries.get(bindingKey('m', EPOCH))!))).toEqual({ party: 2, identity: A });
    expect(await bindStore(store, 'm', EPOCH, 2, A)).toBe(true);
    await expect(bindStore(store, 'm', EPOCH, 0, 'b'.repeat(64))).rejects.toThrow(
      `this share store already holds party 2's bundle of sharing ${EPOCH}; one store never holds two parties' shares of one sharing`);
    // Another sharing (epoch) of the same model is another binding.
    expect(await bindStore(store, 'm', 'f'.repeat(32), 0, A)).toBe(true);
  });

  it('refuses a damaged record instead of guessing, and reports a record it could not write', async () => {
    const store = new MemoryShareStore();
    store.entries.set(bindingKey('m', EPOCH), new TextEncoder().encode('{"party":7}'));
    await expect(bindStore(store, 'm', EPOCH, 1, A)).rejects.toThrow(`this share store's record of which party's bundle of sharing ${EPOCH} it holds is damaged`);
    const full: ShareStore = { get: async () => undefined, set: async () => Promise.reject(new Error('quota exceeded')) };
    expect(await bindStore(full, 'm', EPOCH, 1, A)).toBe(false);
  });
});
