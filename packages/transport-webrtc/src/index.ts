export {
  createPeerChannel,
  endpointName,
  peerIdFor,
  signalingAddress,
  type PeerChannel,
  type PeerChannelOptions,
} from './peer-channel.ts';
export {
  fingerprintOf,
  generateIdentity,
  identityFromKeyPair,
  parseFingerprint,
  safetyCode,
  verifySignature,
  type Identity,
} from './identity.ts';
export { LANE_STREAMS, type LaneLimits } from './lane.ts';
/** The link wire format, for tools and test harnesses that inspect traffic. */
export { AUTH, BYE, CHUNK, PING, decodeFrame, encodeChunk, encodeTag, type Frame } from './frame.ts';
export {
  SLOT_NAMES,
  SLOT_SECRET_PATTERN,
  createSession,
  endpointSlot,
  getSession,
  isSlotName,
  joinSession,
  parsePeerId,
  slotEndpoint,
  type ApiError,
  type CreatedSession,
  type CreateSessionRequest,
  type JoinCredentials,
  type JoinRequest,
  type JoinResult,
  type SessionInfo,
  type SlotName,
  type SlotState,
} from './session-api.ts';
export {
  HOST_ONLY_ICE,
  checkRelayPossible,
  fetchIceConfig,
  parseIceConfig,
  parseIcePolicy,
  parseIceServers,
  parseIceUrl,
  rtcConfigOf,
  type IceConfig,
  type IceServerConfig,
  type IceTransportPolicy,
  type IceUrl,
  type TurnCredentials,
} from './ice-config.ts';
export { RELAY_PROBE_TIMEOUT_MS, probeRelay } from './ice-config-probe.ts';
