/**
 * Connection options, resolved once. A server resolves its options in its constructor and hands
 * the same frozen {@link SessionConfig} to every connection it accepts; `connect()` and
 * `new WebSocket()` do the same per call. A bad value is therefore a `WebSocketUsageError` where
 * the application wrote it, never a failure after a handshake, and a connection holds no options
 * object of its own.
 */
import {
  DEFAULT_CLOSE_TIMEOUT, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT, DEFAULT_MAX_BUFFERED_AMOUNT,
  DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_QUEUED_MESSAGES,
  DEFAULT_WRITE_HIGH_WATER_MARK, MAX_TIMER_DELAY,
} from '../constants';
import { WebSocketUsageError } from '../errors';
import { type DeflateConfig, type DeflateOptions, resolveDeflateOptions } from '../extensions/permessage-deflate';
import type { Role } from '../frame/frame';
import { type MaskSource, type MaskSourceLike, toMaskSource } from '../frame/mask';
import { type FrameParserConfig, resolveFrameParserOptions } from '../frame/parser';
import { type MessageParserConfig, resolveMessageParserOptions } from '../message/parser';
import { booleanOption, numberOption } from '../options';

/** Options every connection takes (servers pass them on to the connections they accept). */
export interface ConnectionOptions {
  /** Largest frame payload accepted (1009 above it). Default 64 MiB. */
  maxPayload?: number;
  /** Largest reassembled (or inflated) message (1009 above it). Default 64 MiB. */
  maxMessageSize?: number;
  /** Largest number of frames in one message. Default 1 Mi. */
  maxFragments?: number;
  /** Outgoing data messages longer than this many bytes are split into frames. Default: no split. */
  fragmentSize?: number;
  /** Milliseconds to wait for the peer's close frame and TCP close before dropping. Default 5000. */
  closeTimeout?: number;
  /**
   * Milliseconds between liveness checks. At each one, a peer that sent nothing since the last
   * one is pinged, and dropped (1006) if it then stays silent for `heartbeatTimeout`. Busy
   * connections are never pinged. Default 20000 (python-websockets' keepalive); 0 turns it off.
   */
  heartbeatInterval?: number;
  /** Milliseconds a pinged peer has to send anything back. Default: `heartbeatInterval` (20000). */
  heartbeatTimeout?: number;
  /** Client role only: where masking keys come from (see FrameEncoderOptions). Default: the shared CSPRNG pool. */
  maskSource?: MaskSourceLike;
  /** ws's hook for the same purpose: fills the 4-byte buffer it is given with the next key. */
  generateMask?: (mask: Buffer) => void;
  /**
   * Deliver data messages as Readables while they arrive ('stream' event, or the async iterator)
   * instead of whole: a multi-gigabyte upload never sits in memory. Default false.
   */
  streamMessages?: boolean;
  /**
   * Received messages held for a consumer that has not taken them (an async iterator lagging
   * behind, or nobody listening yet) before the socket stops being read, so the peer feels TCP
   * backpressure. Reading resumes when a quarter of that is left. Default 64.
   */
  maxQueuedMessages?: number;
  /**
   * Outgoing bytes (queued, and held by the socket) above which `send()` returns false and a
   * `'drain'` event follows once they are written. Default 16 KiB (Node's stream default).
   */
  writeHighWaterMark?: number;
  /**
   * Backstop for applications that keep sending after `send()` returned false: a send made while
   * more than this many bytes of memory are queued for the peer fails the connection with 1008
   * (`WS_ERR_SLOW_CONSUMER`). A single message of any size is always accepted when the queue is
   * below it. Default 64 MiB.
   */
  maxBufferedAmount?: number;
  /**
   * permessage-deflate (RFC 7692): servers accept it and clients offer it with these options
   * (`true`: the defaults). Default false: compression costs CPU and memory per connection, and
   * compressing secrets next to attacker-chosen data leaks them (CRIME/BREACH), so it is opt-in.
   */
  perMessageDeflate?: boolean | DeflateOptions;
}

/** {@link ConnectionOptions} resolved and checked: what each layer of a connection reads. */
export interface SessionConfig {
  readonly role: Role;
  readonly maxPayload: number;
  readonly maxMessageSize: number;
  readonly maxFragments: number;
  readonly fragmentSize: number;
  readonly closeTimeout: number;
  readonly heartbeatInterval: number;
  readonly heartbeatTimeout: number;
  /** Client role: the masking key source; undefined for servers (RFC 6455 §5.1: never mask). */
  readonly maskSource: MaskSource | undefined;
  readonly streamMessages: boolean;
  readonly maxQueuedMessages: number;
  readonly writeHighWaterMark: number;
  readonly maxBufferedAmount: number;
  /**
   * permessage-deflate settings, or undefined when it is off: checked once here, and taken as
   * they are by the negotiation functions and the codec of every connection.
   */
  readonly deflate: DeflateConfig | undefined;
  /** The frame parser's settings, shared by every connection (with RSV1 allowed for permessage-deflate). */
  readonly frameParser: FrameParserConfig;
  readonly frameParserRsv1: FrameParserConfig;
  readonly messageParser: MessageParserConfig;
  /** Milliseconds from a fixed origin: `performance.now()`, or a fake clock in tests. */
  readonly clock: () => number;
}

function now(): number {
  return performance.now();
}

const TIMEOUT_RULE = { max: MAX_TIMER_DELAY, infinity: false } as const;

/**
 * Checks every connection option once and returns the frozen config the layers read.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` naming the first invalid option.
 */
export function resolveConnectionOptions(options: ConnectionOptions | undefined, role: Role): SessionConfig {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'options must be an object');
  }
  if (role !== 'server' && role !== 'client') {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `role must be 'server' or 'client'`);
  }
  const o: ConnectionOptions = options ?? {};
  const heartbeatInterval = numberOption('heartbeatInterval', o.heartbeatInterval, DEFAULT_HEARTBEAT_INTERVAL, TIMEOUT_RULE);
  const maxPayload = numberOption('maxPayload', o.maxPayload, DEFAULT_MAX_PAYLOAD, { integer: true });
  // Every frame passes as the pieces each read brought: a frame inside one read is one piece (a
  // zero-copy view), a frame spanning reads is copied once, straight into its message, and invalid
  // text fails at the piece holding the bad byte (RFC 6455 §8.1, fail fast).
  const frames = { role, maxPayload, streamingThreshold: 0 } as const;
  const maxMessageSize = numberOption('maxMessageSize', o.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, { integer: true });
  const maxFragments = numberOption('maxFragments', o.maxFragments, DEFAULT_MAX_FRAGMENTS, { integer: true, min: 1 });
  const streamMessages = booleanOption('streamMessages', o.streamMessages, false);
  const deflateValue: unknown = o.perMessageDeflate;
  let deflateOptions: DeflateOptions | undefined;
  if (deflateValue === true) deflateOptions = {};
  else if (deflateValue !== undefined && deflateValue !== false) deflateOptions = deflateValue as DeflateOptions;
  return Object.freeze({
    role,
    maxPayload,
    maxMessageSize,
    maxFragments,
    fragmentSize: numberOption('fragmentSize', o.fragmentSize, Infinity, { integer: true, min: 1 }),
    closeTimeout: numberOption('closeTimeout', o.closeTimeout, DEFAULT_CLOSE_TIMEOUT, TIMEOUT_RULE),
    heartbeatInterval,
    heartbeatTimeout: numberOption('heartbeatTimeout', o.heartbeatTimeout,
      o.heartbeatInterval === undefined ? DEFAULT_HEARTBEAT_TIMEOUT : Math.max(1, heartbeatInterval), { ...TIMEOUT_RULE, min: 1 }),
    maskSource: role === 'client' ? toMaskSource(o.maskSource, o.generateMask) : undefined,
    streamMessages,
    maxQueuedMessages: numberOption('maxQueuedMessages', o.maxQueuedMessages, DEFAULT_MAX_QUEUED_MESSAGES, { integer: true, min: 1 }),
    writeHighWaterMark: numberOption('writeHighWaterMark', o.writeHighWaterMark, DEFAULT_WRITE_HIGH_WATER_MARK, { integer: true, min: 1 }),
    maxBufferedAmount: numberOption('maxBufferedAmount', o.maxBufferedAmount, DEFAULT_MAX_BUFFERED_AMOUNT),
    deflate: deflateOptions === undefined ? undefined : resolveDeflateOptions(deflateOptions),
    frameParser: resolveFrameParserOptions(frames),
    frameParserRsv1: resolveFrameParserOptions({ ...frames, allowRsv1: true }),
    messageParser: resolveMessageParserOptions({ maxMessageSize, maxFragments, streaming: streamMessages }),
    clock: now,
  });
}
