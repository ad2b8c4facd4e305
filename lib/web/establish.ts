/**
 * The steps both web APIs take on the library connection under them once its opening handshake
 * ended: which of its errors a script sees, and whether the WHATWG "establish a WebSocket
 * connection" algorithm still fails it.
 */
import type { WebSocket as Connection } from '../connection/websocket';
import { WebSocketProtocolError } from '../errors';

/** Connection errors that are the network's, not a failure of the protocol: browsers report no `error` for them. */
export function isTransportError(error: Error): boolean {
  return !(error instanceof WebSocketProtocolError) && typeof (error as { syscall?: unknown }).syscall === 'string';
}

/**
 * Why an established connection must be failed at once, or undefined when it may open:
 * `close()` (or an abort signal) came after the handshake finished but before it was reported, or
 * subprotocols were offered and the server chose none of them.
 * @param name the web API, for the message ('WebSocket', 'WebSocketStream')
 */
export function establishError(connection: Connection, connecting: boolean, offered: readonly string[], name: string): Error | undefined {
  if (!connecting) return new DOMException(`the ${name} was closed before the connection was established`, 'AbortError');
  if (offered.length > 0 && connection.protocol === '') {
    return new WebSocketProtocolError('WS_ERR_HANDSHAKE_PROTOCOL', 'the server chose none of the offered subprotocols');
  }
  return undefined;
}
