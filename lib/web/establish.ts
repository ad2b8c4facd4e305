/**
 * The steps both web APIs take on the library connection under them: opening it (with the
 * program's abort signal), and once its opening handshake ended, which of its errors a script
 * sees and whether the WHATWG "establish a WebSocket connection" algorithm still fails it.
 */
import { type ClientOptions, connect } from '../client';
import type { WebSocket as Connection } from '../connection/websocket';
import { WebSocketProtocolError } from '../errors';

/**
 * Opens the connection (`options` carry the web API's own abort signal). The program's `signal`
 * calls `onAbort` until the handshake ended; its listener goes then, so a long-lived signal does
 * not collect one per connection. Exactly one of `opened` and `refused` is called.
 */
export function openConnection(
  url: URL, options: ClientOptions, signal: AbortSignal | undefined, onAbort: () => void,
  opened: (connection: Connection) => void, refused: (error: unknown) => void,
): void {
  signal?.addEventListener('abort', onAbort, { once: true });
  connect(url, options).then(
    (connection) => {
      signal?.removeEventListener('abort', onAbort);
      opened(connection);
    },
    (error: unknown) => {
      signal?.removeEventListener('abort', onAbort);
      refused(error);
    },
  );
}

/**
 * Takes over a connection whose handshake succeeded: its protocol errors go to `failed` (network
 * errors are not reported, as in browsers), its close to `closed`. Returns false, having failed
 * and dropped it, when it must not open (see {@link establishError}).
 */
export function adoptConnection(
  connection: Connection, connecting: boolean, offered: readonly string[], name: string,
  failed: (error: Error) => void, closed: (code: number, reason: string) => void,
): boolean {
  connection.on('error', (error) => {
    if (!isTransportError(error)) failed(error);
  });
  connection.on('close', closed);
  const refused = establishError(connection, connecting, offered, name);
  if (refused === undefined) return true;
  failed(refused);
  connection.terminate();
  return false;
}

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
