/**
 * The one interface through which a WebSocket extension (RFC 6455 §9) transforms message payloads,
 * in both directions: the message parser calls {@link MessageExtension.decode} on incoming
 * messages whose first frame carries the extension's reserved bits, and the message serializer
 * calls {@link MessageExtension.encode} on outgoing ones. permessage-deflate (RFC 7692) is the
 * extension that exists; nothing here is specific to it.
 *
 * Either direction may finish later (work moved off the main thread or sliced): the call then
 * returns {@link PENDING} and the callback receives the result. Callers keep protocol order
 * themselves: the parser takes no more frames until a pending decode completes, and the sender
 * queues everything sent after a pending encode behind it.
 */

/** Returned instead of a result when the extension will call back with it. */
export const PENDING: unique symbol = Symbol('wsframe.pending');
export type Pending = typeof PENDING;

/**
 * Receives the result of a pending call: the payload, or the error that ends it. Called once,
 * never before the call that returned {@link PENDING} has returned.
 */
export type ExtensionCallback = (error: Error | null, payload?: Buffer) => void;

export interface MessageExtension {
  /** The registered name, e.g. `'permessage-deflate'`. */
  readonly name: string;
  /**
   * The reserved header bits (RFC 6455 §5.2, as a mask over the first header byte: RSV1 is 0x40)
   * that mark the first frame of a message this extension transformed.
   */
  readonly rsvBits: number;

  /**
   * Set when {@link encode} keeps no state between messages (permessage-deflate without our
   * context takeover): extensions with the same key encode a payload to the same bytes, so one
   * encoding can be sent to all of them (a broadcast frames and compresses a message once).
   * Undefined when each connection must encode for itself.
   */
  readonly sharedEncoding?: string;

  /**
   * Transforms the payload of an outgoing data message. Returns the payload to send in its place
   * (its first frame then carries {@link rsvBits}), `undefined` to send the message untransformed,
   * or {@link PENDING} when `callback` will receive it. Results go out in the order of the calls.
   * Text may come as the application's string: its bytes are its UTF-8 form, which an extension
   * that works later (on the threadpool) can make then, out of the sender's turn.
   * @throws {WebSocketUsageError} when the extension is closed.
   */
  encode(payload: Uint8Array | string, isText: boolean, callback: ExtensionCallback): Buffer | undefined | Pending;

  /**
   * Takes the next payload piece of an incoming message whose first frame carried
   * {@link rsvBits} (whole frames or frame pieces, in order). Returns `undefined` until `fin`,
   * then the decoded message, or {@link PENDING} when `callback` will receive it. `maxSize`
   * bounds the decoded size.
   * @throws {WebSocketProtocolError} `WS_ERR_MESSAGE_TOO_BIG` (1009) past `maxSize`, or the
   *   extension's own code for invalid data (`WS_ERR_INVALID_COMPRESSED_DATA`, 1007).
   */
  decode(piece: Buffer, fin: boolean, maxSize: number, callback: ExtensionCallback): Buffer | undefined | Pending;

  /**
   * The largest size on the wire a message decoding to at most `maxSize` bytes may have, so that
   * frame headers can be checked before their payload is buffered.
   */
  maxEncodedSize(maxSize: number): number;

  /** Releases what the extension holds. Later calls throw `WS_ERR_INVALID_STATE`. Idempotent. */
  close(): void;
}

