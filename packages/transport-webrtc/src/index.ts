export {
  createPeerChannel,
  endpointName,
  peerIdFor,
  signalingAddress,
  type PeerChannel,
  type PeerChannelOptions,
} from './peer-channel.ts';
export {
  SLOT_NAMES,
  createSession,
  endpointSlot,
  getSession,
  isSlotName,
  joinSession,
  parsePeerId,
  slotEndpoint,
  type ApiError,
  type CreateSessionRequest,
  type JoinResult,
  type SessionInfo,
  type SlotName,
  type SlotState,
} from './session-api.ts';
