import { describe, expect, it } from 'vitest';
import { partKey } from '../session/shares.ts';
import { bindingKey } from '../session/store-binding.ts';
import { bindingKeyOf, groupSharings, keysOfSharing, parseBindingKey } from './share-cache-listing.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('share cache listing', () => {
  const keys = [
    partKey(A, 'stories260K', 'e1', 1, 'tok_embeddings', 'seeds'),
    partKey(A, 'stories260K', 'e1', 1, 'tok_embeddings', 'dense.0'),
    partKey(A, 'stories260K', 'e1', 1, 'layers.0/wq', 'dense.0'),
    partKey(A, 'gpt2-shakespeare', 'e2', 0, 'wte', 'seeds'),
    partKey(B, 'stories260K', 'e3', 2, 'norm', 'seeds'),
    bindingKey('stories260K', 'e1'),
    bindingKey('bert-shakespeare', 'e4'),
    'something/else',
  ];
  const sizes = new Map([[keys[0], 40], [keys[1], 1000], [keys[2], 500], [keys[3], 40], [keys[4], 40]]);
  const written = new Map([[keys[0], 100], [keys[1], 300], [keys[3], 200]]);

  it('groups parts per identity, model, epoch and party, with bytes and the newest write', () => {
    const rows = groupSharings(keys, sizes, written, [
      { modelId: 'stories260K', epoch: 'e1', party: 1, identity: A },
      { modelId: 'bert-shakespeare', epoch: 'e4', party: 2, identity: A },
    ]);
    expect(rows).toEqual([
      { identity: A, modelId: 'stories260K', epoch: 'e1', party: 1, parts: 3, bytes: 1540, lastWritten: 300 },
      { identity: A, modelId: 'gpt2-shakespeare', epoch: 'e2', party: 0, parts: 1, bytes: 40, lastWritten: 200 },
      // A binding record without parts is a row too, so it can be deleted; rows without a write time sort last.
      { identity: A, modelId: 'bert-shakespeare', epoch: 'e4', party: 2, parts: 0, bytes: 0, lastWritten: null },
      { identity: B, modelId: 'stories260K', epoch: 'e3', party: 2, parts: 1, bytes: 40, lastWritten: null },
    ]);
  });

  it("a sharing's keys are its parts and its binding record, nothing of another sharing or identity", () => {
    expect(keysOfSharing(keys, { identity: A, modelId: 'stories260K', epoch: 'e1', party: 1 })).toEqual([keys[0], keys[1], keys[2], keys[5]]);
    expect(keysOfSharing(keys, { identity: A, modelId: 'stories260K', epoch: 'e3', party: 2 })).toEqual([]);
  });

  it('binding keys match the session runtime and parse back', () => {
    expect(bindingKeyOf({ modelId: 'm', epoch: 'e' })).toBe(bindingKey('m', 'e'));
    expect(parseBindingKey(bindingKey('m', 'e'))).toEqual({ modelId: 'm', epoch: 'e' });
    expect(parseBindingKey(keys[0])).toBeNull();
  });
});
