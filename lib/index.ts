/** wsframe: RFC 6455 WebSocket framing as composable Node.js streams. Public exports only. */
export {
  CloseCode, DEFAULT_CLOSE_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_HEARTBEAT_INTERVAL,
  DEFAULT_HEARTBEAT_TIMEOUT, DEFAULT_MAX_BUFFERED_AMOUNT, DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_HEADER_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_QUEUED_MESSAGES, DEFAULT_WRITE_HIGH_WATER_MARK,
  GUID, Opcode, PROTOCOL_VERSION,
} from './constants';
export {
  ConnectionClosedError, ERRORS, type ErrorCode, isWebSocketError, WebSocketProtocolError, WebSocketUsageError,
} from './errors';

// Stream classes (readable-stream's, typed as Node's) and typed events.
export type { EventEmitMethod, EventListenerMethod, EventMap, OtherEvent } from './events';
export type { TransformEvents } from './streams';

// Frame layer.
export {
  checkFirstBytes, checkOutgoing, type DecoderRole, type Frame, type FrameHeader, type FrameInput,
  type FramePiece, headerLength, isControlOpcode, isFramePiece, isKnownOpcode, parseHeader, type Role,
  writeHeader,
} from './frame/frame';
export {
  defaultMaskSource, FixedMaskSource, type MaskSource, type MaskSourceLike, maskInto, RandomMaskSource,
  toMaskSource, unmask, unmaskImplementation,
} from './frame/mask';
export { FrameParser, type FrameParserOptions, type FrameSink } from './frame/parser';
export { type ChunkSink, emitFrame, encodeFrame } from './frame/serializer';
export { FrameDecoder, type FrameDecoderEvents, type FrameDecoderOptions } from './frame/decoder';
export { FrameEncoder, type FrameEncoderEvents, type FrameEncoderOptions } from './frame/encoder';

// Message layer.
export { encodeClosePayload, isValidCloseCode, MAX_CLOSE_REASON_LENGTH, parseClosePayload } from './message/close';
export { hasNativeUtf8Validation, isValidUtf8, Utf8Validator } from './message/utf8';
export { type ExtensionCallback, type MessageExtension, type Pending, PENDING } from './message/extension';
export {
  type BinaryMessage, type CloseMessage, MessageParser, type MessageParserOptions, type MessageSink,
  type PingMessage, type PongMessage, type TextMessage, type WholeMessage,
} from './message/parser';
export {
  fragmentMessage, type FrameWriter, type HeldFrames, type MessageInput, MessageSerializer,
  type MessageSerializerOptions, serializeMessage,
} from './message/serializer';
export {
  type Message, MessageDecoder, type MessageDecoderEvents, type MessageDecoderOptions, type StreamingMessage,
} from './message/decoder';
export { MessageEncoder, type MessageEncoderEvents, type MessageEncoderOptions } from './message/encoder';

// Extensions.
export {
  checkDeflateOptions, type DeflateOptions, type DeflateParams, maxCompressedSize, PERMESSAGE_DEFLATE,
  PerMessageDeflate,
} from './extensions/permessage-deflate';

// Opening handshake.
export {
  type ExtensionOffer, formatExtension, formatExtensions, type HeaderRecord, type HeaderValue, isToken,
  parseExtensions, parseTokenList,
} from './handshake/headers';
export { acceptKey, generateKey, isValidKey } from './handshake/keys';
export {
  acceptResponse, type AcceptOptions, checkOrigin, type RejectOptions, rejectionFor, rejectResponse,
  selectSubprotocol, type UpgradeRequestInfo, validateUpgradeRequest, type ValidatedUpgrade,
} from './handshake/server';
export {
  clientRequestHeaders, type ClientRequestOptions, type UpgradeResponseInfo, validateUpgradeResponse,
  type ValidatedResponse,
} from './handshake/client';
export {
  acceptDeflateResponse, type DeflateNegotiation, deflateOffer, negotiateDeflate,
} from './handshake/permessage-deflate';

// Session (sans-I/O connection core) and connections.
export { type ConnectionOptions, resolveConnectionOptions, type SessionConfig } from './session/config';
export { Inbox, PauseReason } from './session/inbox';
export { type ChunkTarget, Outbox, type WriteCallback } from './session/outbox';
export { type CloseInfo, ReadyState, Session, type SessionHandler, TransportAction } from './session/session';
export {
  type ByteStream, type ConnectionInfo, type ReceivedMessage, type SendOptions, type StreamSource, WebSocket,
  type WebSocketEvents,
} from './connection/websocket';
export { Scheduler } from './connection/scheduler';
export { createWebSocketStream, type WebSocketDuplexOptions } from './connection/duplex';
export {
  type VerifyCallback, type VerifyInfo, type VerifyResult, WebSocketServer, type WebSocketServerEvents, type WebSocketServerOptions,
} from './server';
export {
  type ClientOptions, connect, DEFAULT_MAX_REDIRECTS, parseWebSocketUrl, UNEXPECTED_RESPONSE_BODY_LIMIT,
  UNEXPECTED_RESPONSE_BODY_TIMEOUT,
} from './client';

// Publish/subscribe (the Redis broker is the separate entry point `wsframe/redis`).
export { type Broker, type BrokerMessageHandler, LocalBroker } from './pubsub/broker';
export {
  DEFAULT_MAX_SUBSCRIBER_BUFFER, type PubsubStats, type SlowSubscriberHandler, type SlowSubscriberPolicy,
  type Subscriber, Topics, type TopicsOptions,
} from './pubsub/topics';
