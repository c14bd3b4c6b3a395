/**
 * Session runtime: what a party, the model owner and the client run once their Channel is connected, in any
 * JS environment (browser page or Web Worker, Node). It knows nothing of the DOM, Node APIs, Comlink or how the
 * channel was made (WebRTC, memory, MessagePorts). Who is who comes from Channel.peerIdentity (the identity a
 * peer proved on its link) checked against rosters of approved fingerprints (roster.ts).
 *
 * Message flow (tags on the Channel):
 *   party i -> owner   `w:hello`      empty; the owner then checks party i's proven identity against its approved one
 *   owner -> party i   `w:manifest`   JSON PartyShareManifest (party i's parts only, with sha256 each; the approved roster)
 *   party i <-> j      `id:hello`     empty; then each checks the other's proven identity against the roster
 *   party i -> owner   `w:want`       JSON { parts: number[] }  indices into the manifest's part list missing from the cache
 *   owner -> party i   `w:part:<k>`   the bytes of part k, for each wanted k (at most a window unacknowledged)
 *   party i -> owner   `w:got:<k>`    empty; part k verified and stored
 *   party i -> owner   `w:done`       JSON WeightTransferReport
 *   owner -> client    `public`       encoded PublicModelInfo (config, tokenizer files; never weights)
 *   client -> owner    `public:ok`    empty acknowledgement
 *   party i -> client  `ready`        empty; weights loaded (the client then checks the parties' proven identities)
 *   client -> parties  `job:<n>`      JSON JobRequest with the client's approved roster; { kind: 'end' } ends the session
 *   party i <-> j      `j<n>/header`  sha256 of the job header party i received; all three must agree
 *   client <-> parties `j<n>/tok:<s>`, `j<n>/logits:<s>`  inputs and outputs of job n (models/secure)
 *   parties -> client  `j<n>/cost:<s>` JSON StepCost of job n, step s
 *   any -> peers       `session:end` / `session:abort`  normal end / failure with its reason, so peers stop at once
 */
export * from './types.ts';
export { MemoryShareStore } from './store.ts';
export {
  DENSE_PART_BYTES, bundleFromParts, checkManifest, partKey, partySharesFromBundle, prepareOwnerShares, sha256Hex, streamOwnerShares, verifyPartyShares,
} from './shares.ts';
export { HF_CHAT_TEMPLATE_FILES, OPTIONAL_TOKENIZER_FILES, TOKENIZER_FILES, decodePublicInfo, encodePublicInfo, hfJsonTokenizerSource, tokenizerFromSource } from './public-info.ts';
export { checkFingerprint, checkRoster, shortFingerprint, type Roster } from './roster.ts';
export { DEFAULT_STEP_TIMEOUT_MS } from './step-watch.ts';
export { bindingKey } from './store-binding.ts';
export { runPartySession } from './party.ts';
export { OWNER_WINDOW_PARTS, sendOrder, serveOwner, sharingConflict } from './owner.ts';
export { HASH_CHUNK_BYTES, chunkedSha256, loadOwnerModel, ownerModelInfo, type ModelFileReader, type OwnerModel, type OwnerModelInfo } from './owner-model-files.ts';
export { decideOwnerDomain, DOMAIN_CHECK_FORMAT, domainCheckKey, sameNormWindows, type OwnerDomainDecision, type OwnerDomainOptions, type OwnerDomainVerdict } from './owner-domain.ts';
export { newResplitTiming, prepareSeededSharing, resplitSource, type ResplitOptions, type ResplitTiming, type SeededSharing } from './owner-resplit.ts';
export { openClientSession, runClientSession } from './client.ts';
