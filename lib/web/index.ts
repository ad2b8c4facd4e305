/**
 * wsframe/web: the web platform's WebSocket APIs over this library's client, for code that runs
 * in browsers and Node alike. The WHATWG WebSocket (EventTarget), WebSocketStream (Web Streams
 * with backpressure both ways), their events and errors.
 */
export {
  type BinaryType, type EventHandler, WebSocket, type WebSocketData, type WebSocketEventMap, type WebSocketOptions,
} from './websocket';
export {
  DEFAULT_READABLE_HIGH_WATER_MARK, type WebSocketClosedInfo, type WebSocketOpenInfo, WebSocketStream,
  type WebSocketStreamChunk, type WebSocketStreamOptions,
} from './websocket-stream';
export { type WebSocketCloseInfo, WebSocketError } from './websocket-error';
export { CloseEvent, type CloseEventInit, ErrorEvent, type ErrorEventInit, MessageEvent } from './events';
