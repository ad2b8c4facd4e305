/** wsframe: RFC 6455 WebSocket framing as composable Node.js streams. Public exports only. */
export {
  CloseCode, DEFAULT_CLOSE_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_BUFFERED_AMOUNT,
  DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_HEADER_SIZE, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_PAYLOAD,
  DEFAULT_MAX_QUEUED_MESSAGES, GUID, Opcode, PROTOCOL_VERSION,
} from './constants';
export {
  ERRORS, type ErrorCode, isWebSocketError, WebSocketProtocolError, WebSocketUsageError,
} from './errors';
export {
  checkFirstBytes, checkOutgoing, type Frame, type FrameHeader, type FrameInput, type FramePiece,
  headerLength, isControlOpcode, isFramePiece, isKnownOpcode, parseHeader, writeHeader,
} from './frame';
export {
  defaultMaskSource, FixedMaskSource, type MaskSource, type MaskSourceLike, maskInto, RandomMaskSource,
  toMaskSource, unmask,
  unmaskImplementation,
} from './mask';
export {
  type DecoderRole, FrameDecoder, type FrameDecoderOptions, FrameParser, type FrameSink, type Role,
} from './decoder';
export { encodeFrame, FrameEncoder, type FrameEncoderOptions } from './encoder';
export {
  type BinaryMessage, type CloseMessage, encodeClosePayload, fragmentMessage, isValidCloseCode,
  MAX_CLOSE_REASON_LENGTH, type Message, MessageDecoder, type MessageDecoderOptions, MessageEncoder,
  type MessageEncoderOptions, type MessageInput, MessageParser, type MessageParserOptions,
  type MessageSink, parseClosePayload, type PingMessage, type PongMessage, type StreamingMessage,
  type TextMessage, type WholeMessage,
} from './message';
export { hasNativeUtf8Validation, isValidUtf8, Utf8Validator } from './utf8';
export {
  acceptKey, acceptResponse, type AcceptOptions, checkOrigin, clientRequestHeaders,
  type ClientRequestOptions, type ExtensionOffer, formatExtension, formatExtensions, generateKey,
  type HeaderRecord, type HeaderValue, isToken, isValidKey, parseExtensions, parseTokenList,
  type RejectOptions, rejectionFor, rejectResponse, selectSubprotocol, type UpgradeRequestInfo,
  type UpgradeResponseInfo, validateUpgradeRequest, validateUpgradeResponse, type ValidatedResponse,
  type ValidatedUpgrade,
} from './handshake';
export {
  acceptDeflateResponse, checkDeflateOptions, type DeflateNegotiation, type DeflateOptions,
  type DeflateParams, deflateOffer, maxCompressedSize, negotiateDeflate, PERMESSAGE_DEFLATE,
  PerMessageDeflate,
} from './deflate';
export {
  type ByteStream, type ConnectionInfo, type ConnectionOptions, ReadyState, type ReceivedMessage,
  WebSocket,
} from './connection';
export { type VerifyInfo, type VerifyResult, WebSocketServer, type WebSocketServerOptions } from './server';
export {
  type ClientOptions, connect, DEFAULT_MAX_REDIRECTS, parseWebSocketUrl, UNEXPECTED_RESPONSE_BODY_LIMIT,
  UNEXPECTED_RESPONSE_BODY_TIMEOUT,
} from './client';
