/**
 * Topics: publish/subscribe among the connections of one server (uWebSockets.js's names:
 * `ws.subscribe(topic)`, `server.publish(topic, message)`), and across processes through a
 * {@link Broker}. Sans-I/O: the registry works on each subscriber's {@link Session} (its outgoing
 * queue) and asks the I/O layer to flush; it touches no socket, so its spec drives real sessions
 * without any.
 *
 * A publish is serialized once. The frame (header and payload) is built for the first subscriber
 * that needs it, and the same bytes are queued for every other one (`Outbox.raw`): 10,000
 * subscribers cost 10,000 queue entries, not 10,000 serializations. With permessage-deflate:
 * - subscribers whose extension keeps no state between messages and shares an encoding key
 *   ({@link MessageExtension.sharedEncoding}, e.g. no context takeover on our side with the same
 *   parameters) get one compression per key, shared like the plain frame;
 * - subscribers whose extension keeps a context (the compressed window of their earlier
 *   messages) must each compress in their own order, so the message goes through each one's own
 *   send path.
 *
 * Slow consumers: a subscriber that stops reading must not make a publish block or make the
 * server's memory grow without bound. Each subscriber's queue (the session's outgoing queue,
 * what its socket holds, and publishes waiting behind a streamed message) is bounded by
 * `maxSubscriberBuffer`; a publish that would pass the bound is not queued for that subscriber,
 * and the {@link SlowSubscriberPolicy} decides what happens to it (closed with 1008 by default).
 */
import { Opcode, RSV1_BIT } from '../constants';
import { WebSocketProtocolError, WebSocketUsageError } from '../errors';
import { firstByte, type FrameInput, headerLength, writeHeader } from '../frame/frame';
import { writeFrame } from '../frame/serializer';
import { type MessageExtension, PENDING } from '../message/extension';
import { type HeldFrames, writeData } from '../message/serializer';
import { isValidUtf8 } from '../message/utf8';
import { numberOption } from '../options';
import type { Session } from '../session/session';
import { type Broker, checkTopic } from './broker';

/**
 * Default bound, in bytes of memory, on what may wait for one subscriber before publishes stop
 * being queued for it: room for a burst of ordinary messages (64 times a socket's 16 KiB
 * high-water mark). Stuck readers hold at most this much each, so a server where thousands may
 * stall together picks less.
 */
export const DEFAULT_MAX_SUBSCRIBER_BUFFER = 1024 * 1024;

/**
 * Called, instead of queuing the message, for a subscriber whose queue is full (see
 * {@link SlowSubscriberPolicy}). `data` is the message's payload (UTF-8 bytes for text).
 */
export type SlowSubscriberHandler<S> = (ws: S, topic: string, data: Buffer, isBinary: boolean) => void;

/**
 * What happens to a subscriber whose queue would pass `maxSubscriberBuffer`:
 * - `'close'` (default): the connection fails with 1008 (`WS_ERR_SLOW_CONSUMER`); what is already
 *   queued still goes out first, and a peer that never reads again is dropped after `closeTimeout`.
 * - `'drop'`: this message is skipped for it and counted (`ws.droppedMessages`, the server's
 *   `pubsubStats.dropped`); later messages reach it again once its queue drains.
 * - a function: called with the subscriber, the topic and the message, which is not queued.
 */
export type SlowSubscriberPolicy<S> = 'close' | 'drop' | SlowSubscriberHandler<S>;

/** What the registry needs from a connection; the server's WebSocket implements it. */
export interface Subscriber {
  /** The connection's session while it is OPEN (only OPEN subscribers get messages), else undefined. */
  publishSession(): Session | undefined;
  /** The extension the handshake agreed to (its codec), undefined for none. */
  readonly messageExtension: MessageExtension | undefined;
  /** Bytes the transport holds, not yet written. */
  backlog(): number;
  /**
   * Output was queued on the session. Returns true when the caller must call {@link flushNow}
   * later (it does so once for every subscriber of this turn of the event loop, with one
   * `setImmediate`), false when a write is already due (the I/O layer flushes it itself).
   */
  publishQueued(): boolean;
  /** Writes what the session queued. */
  flushNow(): void;
}

/** Counters since the server was created. */
export interface PubsubStats {
  /** `publish()` calls. */
  published: number;
  /** Messages from other processes (the broker) fanned out here. */
  received: number;
  /** Messages queued for a subscriber: one per subscriber reached. */
  delivered: number;
  /** Messages skipped for a slow subscriber under the `'drop'` policy. */
  dropped: number;
  /** Slow subscribers closed with 1008 under the `'close'` policy. */
  closed: number;
  /** Slow subscribers handed to a policy function. */
  handled: number;
  /** Text messages from the broker that were not valid UTF-8: never sent (RFC 6455 §8.1). */
  malformed: number;
}

export interface TopicsOptions<S> {
  /** Carries publishes to other processes and theirs to us. */
  broker: Broker;
  /** Outgoing data messages longer than this are fragmented (the connections' `fragmentSize`). */
  fragmentSize: number;
  /** Bound on memory queued for one subscriber, in bytes. Default {@link DEFAULT_MAX_SUBSCRIBER_BUFFER}. */
  maxSubscriberBuffer?: number;
  /** Default `'close'`. */
  slowSubscriber?: SlowSubscriberPolicy<S>;
  /** Receives what a policy function threw (the fan-out goes on). */
  onError(error: Error): void;
}

/** The registry's record of one subscriber. */
class Membership {
  readonly topics = new Set<string>();
  /** Messages skipped under `'drop'`. */
  dropped = 0;
}

const EMPTY_TOPICS: ReadonlySet<string> = new Set();

/**
 * Memory a queued chunk costs beyond its bytes, as the outgoing queue counts it
 * (`Outbox.memory`), so that the bound is checked on what the queue will report.
 */
const CHUNK_COST = 96;

/**
 * The frames of one message for an extension that encodes later: each subscriber reserves its
 * position in its queue, and the frames are written there when the extension calls back (framed
 * per subscriber: a reserved position takes frames, not bytes).
 */
class PendingEncoding {
  private held: HeldFrames[] | undefined = [];
  private frames: FrameInput[] = [];
  private error: Error | undefined;

  add(held: HeldFrames): void {
    if (this.held !== undefined) this.held.push(held);
    else PendingEncoding.fill(held, this.frames, this.error);
  }

  /** The extension called back: every reserved position gets the frames, or the error. */
  done(frames: FrameInput[], error: Error | undefined): void {
    const held = this.held ?? [];
    this.held = undefined;
    this.frames = frames;
    this.error = error;
    for (const one of held) PendingEncoding.fill(one, frames, error);
  }

  /** An encoding error fails that subscriber's connection, as its own send would have. */
  private static fill(held: HeldFrames, frames: readonly FrameInput[], error: Error | undefined): void {
    if (error === undefined) for (const frame of frames) held.frame(frame);
    held.release(error);
  }
}

/**
 * One published message and its serializations, each made the first time a subscriber needs it.
 */
class Outgoing {
  readonly payload: Buffer;
  readonly isBinary: boolean;
  /** What a subscriber's queue grows by with the plain frame (an estimate when compressed). */
  readonly size: number;
  private readonly fragmentSize: number;
  private plainChunks: Buffer[] | undefined;
  /** Per sharedEncoding key: the compressed frames, or the encoding still under way. */
  private shared: Map<string, Buffer[] | PendingEncoding> | undefined;

  constructor(payload: Buffer, isBinary: boolean, fragmentSize: number) {
    this.payload = payload;
    this.isBinary = isBinary;
    this.fragmentSize = fragmentSize;
    const frames = payload.length <= fragmentSize ? 1 : Math.ceil(payload.length / fragmentSize);
    // Header and payload in one chunk per frame, or two above SHARED_COPY_MAX.
    const chunks = Math.min(payload.length, fragmentSize) > SHARED_COPY_MAX ? 2 * frames : frames;
    this.size = payload.length + frames * headerLength(Math.min(payload.length, fragmentSize), false) + chunks * CHUNK_COST;
  }

  get opcode(): number {
    return this.isBinary ? Opcode.Binary : Opcode.Text;
  }

  plain(): Buffer[] {
    return (this.plainChunks ??= serializeFrames(this.payload, this.opcode, 0, this.fragmentSize));
  }

  /** The frames for an extension with a shared encoding: compressed once per key. */
  forShared(extension: MessageExtension, key: string): Buffer[] | PendingEncoding {
    const shared = (this.shared ??= new Map());
    const known = shared.get(key);
    if (known !== undefined) return known;
    const pending = new PendingEncoding();
    const encoded = extension.encode(this.payload, !this.isBinary, (error, payload) => {
      if (error !== null) pending.done([], error);
      else if (payload === undefined) pending.done(frameInputs(this.payload, this.opcode, 0, this.fragmentSize), undefined);
      else pending.done(frameInputs(payload, this.opcode, extension.rsvBits, this.fragmentSize), undefined);
    });
    let result: Buffer[] | PendingEncoding;
    if (encoded === PENDING) result = pending;
    else if (encoded === undefined) result = this.plain();
    else result = serializeFrames(encoded, this.opcode, extension.rsvBits, this.fragmentSize);
    shared.set(key, result);
    return result;
  }
}

/** A payload's data frames, as the session's own send path splits them (RFC 6455 §5.4). */
function frameInputs(payload: Buffer, opcode: number, rsvBits: number, fragmentSize: number): FrameInput[] {
  const frames: FrameInput[] = [];
  writeData({ frame: (frame) => { frames.push(frame); } }, opcode, payload, fragmentSize, (rsvBits & RSV1_BIT) !== 0);
  return frames;
}

/**
 * Frames with payloads up to this size are copied next to their header, into one Buffer: the copy
 * is made once per publish, while each extra chunk costs every subscriber a queue entry (and its
 * socket a buffered write). Larger payloads go out as the publisher's own bytes behind a header,
 * so a huge message is never held twice.
 */
const SHARED_COPY_MAX = 64 * 1024;

/**
 * The wire bytes of a message's frames, unmasked (RFC 6455 §5.1: servers never mask), as chunks
 * every subscriber can share: header and payload in one Buffer, or, for a payload over
 * SHARED_COPY_MAX bytes, the header alone followed by a view of the payload (no copy).
 */
function serializeFrames(payload: Buffer, opcode: number, rsvBits: number, fragmentSize: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (const frame of frameInputs(payload, opcode, rsvBits, fragmentSize)) {
    const bytes = frame.payload as Buffer;
    const length = bytes.length;
    const head = headerLength(length, false);
    if (length > SHARED_COPY_MAX) {
      const header = Buffer.allocUnsafeSlow(head);
      writeHeader(header, 0, firstByte(frame.fin !== false, frame.rsv1 === true, false, false, frame.opcode), length, -1);
      chunks.push(header, bytes);
    } else {
      // Its own memory, not a slice of Node's shared 8 KiB pool: a frame may wait long in a slow
      // subscriber's queue, and a pooled slice would keep its whole slab alive.
      const out = Buffer.allocUnsafeSlow(head + length);
      writeFrame(out, 0, frame, length, -1);
      chunks.push(out);
    }
  }
  return chunks;
}

/**
 * Checks the slow-subscriber options.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for a bound that is not a positive
 *   integer (or Infinity), or a policy that is not `'close'`, `'drop'` or a function.
 */
export function resolveSlowSubscriber<S>(maxSubscriberBuffer: unknown, policy: unknown): { limit: number; policy: SlowSubscriberPolicy<S> } {
  const limit = numberOption('maxSubscriberBuffer', maxSubscriberBuffer, DEFAULT_MAX_SUBSCRIBER_BUFFER, { integer: true, min: 1 });
  if (policy !== undefined && policy !== 'close' && policy !== 'drop' && typeof policy !== 'function') {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `slowSubscriber must be 'close', 'drop' or a function`);
  }
  return { limit, policy: (policy ?? 'close') as SlowSubscriberPolicy<S> };
}

/**
 * Checks that `broker` has the {@link Broker} methods.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` otherwise.
 */
export function checkBroker(broker: unknown): Broker {
  const b = broker as Record<string, unknown> | null;
  if (b === null || typeof b !== 'object' || ['publish', 'subscribe', 'unsubscribe', 'onMessage', 'close'].some((m) => typeof b[m] !== 'function')) {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'broker must implement publish, subscribe, unsubscribe, onMessage and close');
  }
  return broker as Broker;
}

/** A topic name. @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` unless a string. */
function flushAll(topics: { flushQueued(): void }): void {
  topics.flushQueued();
}

/**
 * The topic registry of one server: who is subscribed to what, the fan-out of each message, and
 * the broker's subscriptions (a topic is subscribed on the broker while it has local subscribers).
 */
export class Topics<S extends Subscriber> {
  private readonly broker: Broker;
  private readonly fragmentSize: number;
  private readonly limit: number;
  private readonly policy: SlowSubscriberPolicy<S>;
  private readonly onError: (error: Error) => void;
  private readonly topics = new Map<string, Set<S>>();
  private readonly members = new Map<S, Membership>();
  /**
   * Bytes of publishes handed to a session's own send path while it was sending a streamed
   * message: the session holds them until the stream ends, outside its outgoing queue, so they
   * count toward the bound here. Empty in the common case, so the fan-out never looks here.
   */
  private readonly deferred = new Map<S, number>();
  /** Subscribers given output in this turn of the event loop, flushed together (see {@link queued}). */
  private toFlush: S[] = [];
  private readonly counters: PubsubStats = { published: 0, received: 0, delivered: 0, dropped: 0, closed: 0, handled: 0, malformed: 0 };

  /** @throws {WebSocketUsageError} for invalid options (see {@link resolveSlowSubscriber}). */
  constructor(options: TopicsOptions<S>) {
    this.broker = checkBroker(options.broker);
    this.fragmentSize = options.fragmentSize;
    const { limit, policy } = resolveSlowSubscriber<S>(options.maxSubscriberBuffer, options.slowSubscriber);
    this.limit = limit;
    this.policy = policy;
    this.onError = options.onError;
  }

  /** A snapshot of the counters. */
  get stats(): PubsubStats {
    return { ...this.counters };
  }

  /** Topics with at least one local subscriber. */
  get topicCount(): number {
    return this.topics.size;
  }

  /**
   * Subscribes `subscriber` to `topic`; returns false when it already was.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` when `topic` is not a string.
   */
  subscribe(subscriber: S, topic: string): boolean {
    checkTopic(topic);
    let membership = this.members.get(subscriber);
    if (membership === undefined) {
      membership = new Membership();
      this.members.set(subscriber, membership);
    }
    if (membership.topics.has(topic)) return false;
    membership.topics.add(topic);
    let subscribers = this.topics.get(topic);
    if (subscribers === undefined) {
      subscribers = new Set();
      this.topics.set(topic, subscribers);
      // The topic's first local subscriber: from now on this process wants others' messages.
      this.broker.subscribe(topic);
    }
    subscribers.add(subscriber);
    return true;
  }

  /**
   * Unsubscribes `subscriber` from `topic`; returns false when it was not subscribed. Messages
   * already queued for it still go out; later ones do not.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` when `topic` is not a string.
   */
  unsubscribe(subscriber: S, topic: string): boolean {
    checkTopic(topic);
    const membership = this.members.get(subscriber);
    if (membership === undefined || !membership.topics.delete(topic)) return false;
    this.leave(subscriber, topic);
    return true;
  }

  /** Unsubscribes `subscriber` from every topic and forgets it (its connection closed). */
  unsubscribeAll(subscriber: S): void {
    const membership = this.members.get(subscriber);
    if (membership === undefined) return;
    this.members.delete(subscriber);
    this.deferred.delete(subscriber);
    for (const topic of membership.topics) this.leave(subscriber, topic);
    membership.topics.clear();
  }

  /** The topics `subscriber` is subscribed to, as a read-only view. */
  topicsOf(subscriber: S): ReadonlySet<string> {
    return this.members.get(subscriber)?.topics ?? EMPTY_TOPICS;
  }

  /** Messages skipped for `subscriber` under the `'drop'` policy while it was subscribed. */
  droppedFor(subscriber: S): number {
    return this.members.get(subscriber)?.dropped ?? 0;
  }

  /** Local subscribers of `topic` (OPEN or not yet forgotten). */
  subscriberCount(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  /**
   * Publishes a message: to the local subscribers of `topic` (serialized once, see the top of this
   * file), then to the broker, for other processes. Returns the number of local subscribers it
   * was queued for. `data` is sent as it is: do not modify a Buffer after publishing it.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for a topic that is not a string, data
   *   that is not a string or bytes, or text given as bytes that are not valid UTF-8 (RFC 6455
   *   §8.1 forbids sending such a text message).
   */
  publish(topic: string, data: string | Uint8Array, isBinary: boolean): number {
    checkTopic(topic);
    let payload: Buffer;
    if (typeof data === 'string') {
      payload = Buffer.from(data, 'utf8');
    } else if (data instanceof Uint8Array) {
      payload = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      if (!isBinary && !isValidUtf8(payload)) throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'text must be valid UTF-8');
    } else {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'data must be a string, Buffer or Uint8Array');
    }
    this.counters.published++;
    const reached = this.fanOut(topic, payload, isBinary);
    this.broker.publish(topic, payload, isBinary);
    return reached;
  }

  /**
   * A message another process published (the broker's handler): fanned out to local
   * subscribers only. Text that is not valid UTF-8 is dropped and counted (`malformed`).
   */
  deliver(topic: string, payload: Buffer, isBinary: boolean): number {
    if (!isBinary && !isValidUtf8(payload)) {
      this.counters.malformed++;
      return 0;
    }
    this.counters.received++;
    return this.fanOut(topic, payload, isBinary);
  }

  private leave(subscriber: S, topic: string): void {
    const subscribers = this.topics.get(topic);
    if (subscribers === undefined) return;
    subscribers.delete(subscriber);
    if (subscribers.size === 0) {
      this.topics.delete(topic);
      this.broker.unsubscribe(topic);
    }
  }

  /**
   * Queues the message for every OPEN subscriber of `topic` whose queue has room. Slow
   * subscribers are handled after the loop, so the policy's code never runs inside it (the only
   * application code that can is an 'error' listener of a connection the session's own
   * `maxBufferedAmount` backstop fails, when that is set below `maxSubscriberBuffer`; deleting
   * from the set while it is iterated is safe).
   */
  private fanOut(topic: string, payload: Buffer, isBinary: boolean): number {
    const subscribers = this.topics.get(topic);
    if (subscribers === undefined) return 0;
    const message = new Outgoing(payload, isBinary, this.fragmentSize);
    const limit = this.limit;
    let reached = 0;
    let slow: S[] | undefined;
    for (const subscriber of subscribers) {
      const session = subscriber.publishSession();
      if (session === undefined) continue;
      const streaming = session.sendingStream;
      const deferred = this.deferred.size === 0 ? 0 : this.deferredBytes(subscriber, streaming);
      const queued = session.outbox.memory + subscriber.backlog() + deferred;
      // One message of any size still reaches a reader whose queue is empty.
      if (queued > 0 && queued + message.size > limit) {
        (slow ??= []).push(subscriber);
        continue;
      }
      this.queue(subscriber, session, message, streaming);
      reached++;
    }
    this.counters.delivered += reached;
    if (slow !== undefined) this.handleSlow(slow, topic, payload, isBinary);
    return reached;
  }

  /** Queues one message for one subscriber, by the cheapest path its connection allows. */
  private queue(subscriber: S, session: Session, message: Outgoing, streaming: boolean): void {
    const extension = subscriber.messageExtension;
    if (streaming || (extension !== undefined && extension.sharedEncoding === undefined)) {
      // Its own send path: an extension with context compresses each message with the window of
      // its earlier ones, in order; a streamed message in progress holds data messages back
      // until it ends (RFC 6455 §5.4: no other data frame inside a fragmented message).
      session.send(message.payload, message.isBinary);
      if (streaming) this.deferred.set(subscriber, (this.deferred.get(subscriber) ?? 0) + message.size);
    } else {
      const chunks = extension === undefined ? message.plain() : message.forShared(extension, extension.sharedEncoding as string);
      if (chunks instanceof PendingEncoding) {
        // Reserve this subscriber's position; the frames are written there when encoded.
        chunks.add(session.outbox.hold(message.size));
      } else {
        for (const chunk of chunks) session.outbox.raw(chunk);
      }
    }
    this.queued(subscriber);
  }

  /**
   * Output for `subscriber` waits for the end of this turn of the event loop (`setImmediate`,
   * after the I/O callbacks of the turn): every message published meanwhile (a burst, or the
   * messages of several clients read in the same turn) leaves in one write per subscriber instead
   * of one write each, and a write is most of what a delivery costs. One `setImmediate` for all
   * subscribers, not one each.
   */
  private queued(subscriber: S): void {
    if (!subscriber.publishQueued()) return;
    if (this.toFlush.length === 0) setImmediate(flushAll, this);
    this.toFlush.push(subscriber);
  }

  /** @internal The end of the turn: writes every subscriber's share. */
  flushQueued(): void {
    const list = this.toFlush;
    this.toFlush = [];
    for (const subscriber of list) subscriber.flushNow();
  }

  /** What waits behind `subscriber`'s streamed message; forgotten once the stream is over. */
  private deferredBytes(subscriber: S, streaming: boolean): number {
    if (streaming) return this.deferred.get(subscriber) ?? 0;
    this.deferred.delete(subscriber);
    return 0;
  }

  private handleSlow(slow: readonly S[], topic: string, payload: Buffer, isBinary: boolean): void {
    const policy = this.policy;
    for (const subscriber of slow) {
      if (policy === 'drop') {
        const membership = this.members.get(subscriber);
        if (membership !== undefined) membership.dropped++;
        this.counters.dropped++;
      } else if (policy === 'close') {
        const session = subscriber.publishSession();
        if (session === undefined) continue;
        this.counters.closed++;
        // The session's one place for failures: close frame 1008 after what is queued, then the
        // transport ends (or is dropped after closeTimeout if the peer never reads again).
        session.fail(new WebSocketProtocolError('WS_ERR_SLOW_CONSUMER', `more than ${this.limit} bytes queued for a subscriber`));
        this.queued(subscriber);
      } else {
        this.counters.handled++;
        try {
          policy(subscriber, topic, payload, isBinary);
        } catch (error) {
          this.onError(error instanceof Error ? error : new Error(String(error)));
        }
      }
    }
  }
}
