/**
 * createWebSocketStream: one connection as a Node Duplex stream (ws's function of the same name),
 * for code that lives in `pipeline()`. Each received message is a chunk of the readable side;
 * each chunk written is one message. Backpressure holds both ways: the readable side stops
 * reading the socket while its buffer is full (the peer feels TCP backpressure), and a write
 * completes once the connection's outgoing queue is below its high-water mark.
 *
 * The Duplex is readable-stream's, like every stream of this library: the same stream semantics
 * on every Node version the package supports, and `pipeline()` (node's or readable-stream's)
 * takes it all the same.
 */
import { Duplex, type DuplexOptions } from '../streams';
import { CloseCode } from '../constants';
import { ConnectionClosedError, isNormalClose, WebSocketUsageError } from '../errors';
import { ReadyState, type WebSocket } from './websocket';

/**
 * Options of the Duplex (readable-stream's). `objectMode` and `writableObjectMode` are forced
 * off: written chunks are bytes or strings. `readableObjectMode: true` makes text messages
 * strings and binary ones Buffers; otherwise both are bytes. `decodeStrings: false` sends written
 * strings as text messages (otherwise they are bytes, sent as binary). `allowHalfOpen` defaults to
 * false: once the connection closed, nothing more can be written.
 */
export type WebSocketDuplexOptions = Omit<DuplexOptions, 'objectMode' | 'writableObjectMode' | 'read' | 'write' | 'writev' | 'final' | 'destroy' | 'construct'>;

class WebSocketDuplex extends Duplex {
  private readonly ws: WebSocket;
  /** The connection is not read because our buffer is full. */
  private paused = false;
  /** The connection failed on its own (its 'error'): it is already closing. */
  private failed = false;
  /** A write waiting for the connection's 'drain'. */
  private waitingWrite: ((error?: Error | null) => void) | undefined;

  constructor(ws: WebSocket, options: WebSocketDuplexOptions) {
    super({ allowHalfOpen: false, ...options, objectMode: false, writableObjectMode: false });
    this.ws = ws;
    ws.on('message', (data) => { this.received(data); });
    ws.on('drain', () => { this.drained(); });
    ws.on('error', (error) => {
      this.failed = true;
      this.fail(error);
    });
    ws.on('close', (code, reason) => { this.connectionClosed(code, reason); });
  }

  override _read(): void {
    if (!this.paused) return;
    this.paused = false;
    this.ws.resume();
  }

  override _write(chunk: Buffer | string, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const ws = this.ws;
    if (ws.readyState === ReadyState.CONNECTING) {
      ws.once('open', () => { this._write(chunk, encoding, callback); });
      return;
    }
    if (ws.readyState !== ReadyState.OPEN) {
      callback(new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the connection is closing or closed'));
      return;
    }
    // With decodeStrings: false a string arrives as it was written: text, unless its encoding
    // says it stands for bytes ('hex', 'base64'...).
    const text = typeof chunk === 'string' && (encoding === 'utf8' || encoding === 'utf-8');
    const data = typeof chunk === 'string' && !text ? Buffer.from(chunk, encoding) : chunk;
    if (ws.send(data, !text)) callback();
    else this.waitingWrite = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    const ws = this.ws;
    if (ws.readyState === ReadyState.CONNECTING) {
      ws.once('open', () => { this._final(callback); });
      return;
    }
    if (ws.readyState === ReadyState.CLOSED) {
      callback();
      return;
    }
    // Our side is done: the closing handshake (an empty close frame, as ws sends), and the writable
    // finishes once the connection closed. Messages the peer sends meanwhile are still read.
    ws.once('close', () => { callback(); });
    ws.close();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    const ws = this.ws;
    this.drained();
    if (ws.readyState === ReadyState.CLOSED) {
      callback(error);
      return;
    }
    ws.once('close', () => { callback(error); });
    // Nobody reads any more: let the connection read on (messages are dropped) so the peer's close
    // frame is seen and the closing handshake finishes.
    if (this.paused) {
      this.paused = false;
      ws.resume();
    }
    if (this.failed) return;
    if (ws.readyState === ReadyState.CONNECTING) ws.terminate();
    // Destroyed without an error: 1000; with one (a pipeline stage failed): 1011.
    else ws.close(error === null ? CloseCode.Normal : CloseCode.InternalError);
  }

  private received(data: string | Buffer): void {
    if (this.destroyed || this.readableEnded) return;
    // In object mode text stays a string; otherwise push() turns it into its UTF-8 bytes.
    if (!this.push(data) && !this.paused) {
      this.paused = true;
      this.ws.pause();
    }
  }

  private drained(): void {
    const callback = this.waitingWrite;
    this.waitingWrite = undefined;
    callback?.();
  }

  private connectionClosed(code: number, reason: string): void {
    const waiting = this.waitingWrite;
    this.waitingWrite = undefined;
    if (isNormalClose(code)) {
      // The waiting message was queued before our close frame, and a normal close means the
      // queue went out.
      waiting?.();
      if (!this.destroyed) this.push(null);
      return;
    }
    // A lost or failed connection must not look like a complete stream.
    const error = new ConnectionClosedError(code, reason);
    this.fail(error);
    // Destroyed already: the write's error is not emitted a second time.
    waiting?.(error);
  }

  /**
   * Destroys the stream because of `error`, emitted only to 'error' listeners (pipeline() and
   * async iteration have them), as the connection's own 'error' is: a peer dropping the
   * connection must not crash a program that did not listen. Unlistened, the stream closes
   * without 'end'.
   */
  private fail(error: Error): void {
    if (this.destroyed) return;
    this.destroy(this.listenerCount('error') > 0 ? error : undefined);
  }
}

/**
 * Wraps a connection (either role) in a Duplex stream: messages in, messages out, with
 * backpressure both ways. The connection closing ends the readable side (1000, 1001, 1005) or
 * destroys the Duplex with a `ConnectionClosedError` (any other code); the connection failing
 * destroys it with that error. Ending the writable side closes the connection; destroying the
 * Duplex closes it with 1000 (or 1011 when destroyed with an error). The Duplex pauses and resumes
 * the connection itself: do not call `pause()`/`resume()` on it meanwhile.
 */
export function createWebSocketStream(ws: WebSocket, options: WebSocketDuplexOptions = {}): Duplex {
  return new WebSocketDuplex(ws, options);
}
