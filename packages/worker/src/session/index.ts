/**
 * Session runtime: what a party, the model owner and the client run once their Channel is connected, in any
 * JS environment (browser page or Web Worker, Node). It knows nothing of the DOM, Node APIs, Comlink or how the
 * channel was made (WebRTC, memory, MessagePorts).
 *
 * Message flow (tags on the Channel):
 *   owner -> party i   `w:manifest`   JSON PartyShareManifest (party i's parts only, with sha256 each)
 *   party i -> owner   `w:want`       JSON { parts: number[] }  indices into the manifest's part list missing from the cache
 *   owner -> party i   `w:part:<k>`   the bytes of part k, for each wanted k
 *   party i -> owner   `w:done`       JSON WeightTransferReport
 *   owner -> client    `public`       encoded PublicModelInfo (config, tokenizer files; never weights)
 *   client -> owner    `public:ok`    empty acknowledgement
 *   client -> parties  `job:<n>`      JSON JobRequest; { kind: 'end' } ends the session
 *   parties -> client  `cost:<n>:<s>` JSON StepCost of job n, step s
 *   any -> peers       `session:end` / `session:abort`  normal end / failure with its reason, so peers stop at once
 */
export * from './types.ts';
export { MemoryShareStore } from './store.ts';
export {
  DENSE_PART_BYTES, bundleFromParts, checkManifest, partKey, partySharesFromBundle, prepareOwnerShares, sha256Hex, verifyPartyShares,
} from './shares.ts';
export { TOKENIZER_FILES, decodePublicInfo, encodePublicInfo, tokenizerFromSource } from './public-info.ts';
export { runPartySession } from './party.ts';
export { serveOwner } from './owner.ts';
export { openClientSession, runClientSession } from './client.ts';
