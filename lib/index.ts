/** wsframe: RFC 6455 WebSocket framing as composable Node.js streams. Public exports only. */
export {
  CloseCode, DEFAULT_CLOSE_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_HEADER_SIZE, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_PAYLOAD, GUID, Opcode,
  PROTOCOL_VERSION,
} from './constants';
export {
  ERRORS, type ErrorCode, isWebSocketError, WebSocketProtocolError, WebSocketUsageError,
} from './errors';
export {
  checkFirstBytes, checkOutgoing, type Frame, type FrameHeader, type FrameInput, type FramePiece,
  headerLength, isControlOpcode, isFramePiece, isKnownOpcode, parseHeader, writeHeader,
} from './frame';
export {
  defaultMaskSource, FixedMaskSource, type MaskSource, maskInto, RandomMaskSource, unmask,
  unmaskImplementation,
} from './mask';
export {
  type DecoderRole, FrameDecoder, type FrameDecoderOptions, FrameParser, type FrameSink, type Role,
} from './decoder';
export { encodeFrame, FrameEncoder, type FrameEncoderOptions } from './encoder';
export {
  acceptKey, acceptResponse, type AcceptOptions, checkOrigin, clientRequestHeaders,
  type ClientRequestOptions, type ExtensionOffer, formatExtension, formatExtensions, generateKey,
  type HeaderRecord, type HeaderValue, isToken, isValidKey, parseExtensions, parseTokenList,
  type RejectOptions, rejectionFor, rejectResponse, selectSubprotocol, type UpgradeRequestInfo,
  type UpgradeResponseInfo, validateUpgradeRequest, validateUpgradeResponse, type ValidatedResponse,
  type ValidatedUpgrade,
} from './handshake';
