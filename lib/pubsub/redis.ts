/**
 * A {@link Broker} over Redis pub/sub, for servers spread over several processes or machines.
 * Loaded only through the `wsframe/redis` entry point, so the `redis` package (node-redis, an
 * optional peer dependency) is required only by applications that use it.
 *
 * Two connections, because a connection in subscriber mode accepts nothing but subscription
 * commands: one publishes (in call order, one PUBLISH after another on the same socket, which is
 * what keeps each publisher's messages in order), the other subscribes to one channel per topic
 * with local subscribers. node-redis reconnects both by itself (exponential backoff, at most about
 * 2 s between attempts) and re-subscribes; after every reconnection this broker also reconciles the
 * channels with its own set of topics, so no topic is missed or kept by mistake.
 *
 * Redis pub/sub delivers at most once: whatever is published while a subscriber is disconnected
 * is lost to it. So during an outage this broker drops what it is asked to publish instead of
 * queuing it (every other process's subscriber is down too; a late burst of stale messages would
 * help no one), counts the drops, and keeps answering at once: local delivery never waits on Redis.
 *
 * Message format, one Redis message per publish on channel `prefix + topic`:
 *
 *   byte 0       format version (1)
 *   byte 1       flags: bit 0 = binary message (else UTF-8 text); other bits must be 0
 *   bytes 2-17   the publishing broker's random 16-byte id, so a broker skips its own messages
 *   bytes 18-    the payload, as given
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createClient } from 'redis';
import { WebSocketUsageError } from '../errors';
import { numberOption } from '../options';
import { type Broker, type BrokerMessageHandler, checkTopic, replaceHandler } from './broker';

/** Where the broker connects when given neither `url` nor `client`: a local Redis. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** Prepended to every topic to name its Redis channel, so topics share a Redis with other uses. */
export const DEFAULT_CHANNEL_PREFIX = 'wsframe:';
/**
 * PUBLISH commands written but not yet answered. Reached only when Redis stops answering while
 * the socket looks alive (a stalled server, a lost network path before TCP notices): then further
 * publishes are dropped instead of piling up in memory.
 */
export const DEFAULT_MAX_PENDING_PUBLISHES = 10_000;
/** The same bound in bytes (payloads plus the 18-byte header). */
export const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** How long close() waits for PUBLISHes already written to be answered before closing. */
export const DEFAULT_BROKER_CLOSE_TIMEOUT = 2000;

const WIRE_VERSION = 1;
const FLAG_BINARY = 0x01;
const ID_OFFSET = 2;
const ID_LENGTH = 16;
const HEADER_LENGTH = ID_OFFSET + ID_LENGTH;

/** Receives messages in buffer mode: node-redis hands over the raw bytes. */
type ChannelListener = (message: Buffer, channel: Buffer) => unknown;

/**
 * The part of a node-redis client (`createClient()` from `redis`, v5 or v6) this broker uses.
 * Any node-redis client fits, whatever modules or scripts it was created with.
 */
export interface RedisClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  destroy(): void;
  duplicate(): RedisClientLike;
  publish(channel: string, message: Buffer): Promise<unknown>;
  subscribe(channels: string | string[], listener: ChannelListener, bufferMode: true): Promise<unknown>;
  unsubscribe(channels: string | string[]): Promise<unknown>;
  getPubSubListeners(type: 'CHANNELS'): ReadonlyMap<string, unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

export interface RedisBrokerOptions {
  /**
   * `redis[s]://[[user][:password]@]host[:port][/db]`. Default `redis://127.0.0.1:6379`.
   * Not allowed together with `client`.
   */
  url?: string;
  /**
   * A node-redis client of yours (for TLS, authentication, a custom reconnect strategy...). The
   * broker publishes through it and subscribes through a `duplicate()` of it, which it owns. It
   * connects the client if it is not open yet, and never closes it: that stays yours, and so does
   * its 'error' listener (node-redis throws an unlistened 'error').
   */
  client?: RedisClientLike;
  /** Channel name = prefix + topic. Default `'wsframe:'`. Every process must use the same. */
  prefix?: string;
  /** Bound on PUBLISH commands awaiting Redis's answer; beyond it publishes are dropped. Default 10,000. */
  maxPendingPublishes?: number;
  /** The same bound in bytes; a single larger message passes when nothing else is pending. Default 16 MiB. */
  maxPendingBytes?: number;
  /** Milliseconds close() waits for pending PUBLISHes to be answered. Default 2000. */
  closeTimeout?: number;
}

/** Counters since the broker was created. `published + dropped + pending` = calls to publish(). */
export interface RedisBrokerStats {
  /** Messages Redis acknowledged. */
  published: number;
  /**
   * Messages that never reached Redis: published while disconnected, beyond the pending bound,
   * after close(), with invalid arguments, or written but lost with the connection (these may
   * have reached Redis before it went away).
   */
  dropped: number;
  /** PUBLISH commands written and not yet answered. */
  pending: number;
  /** Their bytes. */
  pendingBytes: number;
  /** Messages from other processes handed to the handler. */
  received: number;
  /** Messages on our channels that are not in this broker's format; ignored. */
  malformed: number;
  /** Times the broker lost its connection to Redis (connected went from true to false). */
  disconnects: number;
}

/** Events of a {@link RedisBroker}. */
export interface RedisBrokerEvents {
  /** The broker became connected (both connections ready) or lost a connection. */
  status: [connected: boolean];
  /**
   * A connection error (every failed reconnection attempt reports one), or an error thrown by the
   * message handler. Emitted only when a listener is attached: an outage never crashes the process.
   */
  error: [err: Error];
}

/**
 * The broker's own publishing client. No offline queue: a command issued while disconnected fails
 * at once (counted as dropped) instead of waiting, unbounded, for the reconnection.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for a URL node-redis refuses.
 */
function clientFor(url: string): RedisClientLike {
  if (typeof url !== 'string' || url === '') throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'url must be a redis: or rediss: URL');
  try {
    return createClient({ url, disableOfflineQueue: true });
  } catch (err) {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `invalid Redis URL: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A waiter of {@link RedisBroker.ready}. */
interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The Redis {@link Broker}. Starts connecting at once; `publish` drops messages until connected.
 *
 * Events (see {@link RedisBrokerEvents}): `'status'` (connected: boolean) and `'error'` (err).
 */
export class RedisBroker extends EventEmitter<RedisBrokerEvents> implements Broker {
  /** Random per broker: two brokers in one process are two publishers to each other. */
  readonly id: Buffer = randomBytes(ID_LENGTH);
  readonly prefix: string;

  private readonly publisher: RedisClientLike;
  private readonly subscriber: RedisClientLike;
  private readonly ownsPublisher: boolean;
  private readonly maxPending: number;
  private readonly maxPendingBytes: number;
  private readonly closeTimeout: number;
  private readonly prefixBytes: number;
  /** Topics with local subscribers: the channels the subscriber connection should listen to. */
  private readonly topics = new Set<string>();
  private handler: BrokerMessageHandler | undefined;
  private readonly counters: RedisBrokerStats = {
    published: 0, dropped: 0, pending: 0, pendingBytes: 0, received: 0, malformed: 0, disconnects: 0,
  };
  /** SUBSCRIBE/UNSUBSCRIBE commands awaiting Redis's answer. */
  private pendingSubscriptions = 0;
  private wasConnected = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private waiters: Waiter[] = [];
  /** Wakes close() when the last pending PUBLISH is answered. */
  private onPublishesSettled: (() => void) | undefined;

  /** One listener for every channel: node-redis keys listeners by identity, so it never doubles. */
  private readonly onChannelMessage: ChannelListener = (message, channel) => { this.receive(message, channel); };
  private readonly onStatusChange = (): void => { this.updateStatus(); };
  private readonly onClientError = (err: unknown): void => { this.report(err); };
  private readonly onSubscriberReady = (): void => { this.resync(); this.updateStatus(); };

  /**
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for both `url` and `client`, a URL
   *   that is not a redis: or rediss: URL, a prefix that is not a string, or a bound that is not a
   *   positive integer.
   */
  constructor(options: RedisBrokerOptions = {}) {
    super();
    if (options.url !== undefined && options.client !== undefined) {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'give either url or client, not both');
    }
    const prefix = options.prefix ?? DEFAULT_CHANNEL_PREFIX;
    if (typeof prefix !== 'string') throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'prefix must be a string');
    this.prefix = prefix;
    this.prefixBytes = Buffer.byteLength(prefix);
    this.maxPending = numberOption('maxPendingPublishes', options.maxPendingPublishes, DEFAULT_MAX_PENDING_PUBLISHES, { integer: true, min: 1, infinity: false });
    this.maxPendingBytes = numberOption('maxPendingBytes', options.maxPendingBytes, DEFAULT_MAX_PENDING_BYTES, { integer: true, min: HEADER_LENGTH, infinity: false });
    this.closeTimeout = numberOption('closeTimeout', options.closeTimeout, DEFAULT_BROKER_CLOSE_TIMEOUT, { integer: true, infinity: false });

    if (options.client === undefined) {
      this.publisher = clientFor(options.url ?? DEFAULT_REDIS_URL);
      this.ownsPublisher = true;
      this.publisher.on('error', this.onClientError);
    } else {
      this.publisher = options.client;
      this.ownsPublisher = false;
    }
    this.subscriber = this.publisher.duplicate();
    this.subscriber.on('error', this.onClientError);
    for (const event of ['ready', 'reconnecting', 'end']) {
      this.publisher.on(event, this.onStatusChange);
      this.subscriber.on(event, event === 'ready' ? this.onSubscriberReady : this.onStatusChange);
    }
    if (!this.publisher.isOpen) this.start(this.publisher);
    this.start(this.subscriber);
  }

  /** True while both connections to Redis are up. */
  get connected(): boolean {
    return !this.closed && this.publisher.isReady && this.subscriber.isReady;
  }

  /** A snapshot of the counters. */
  get stats(): RedisBrokerStats {
    return { ...this.counters };
  }

  /**
   * Sends the message to the other processes subscribed to `topic`. Returns at once; never throws.
   * Dropped (and counted in `stats.dropped`) while disconnected, beyond the pending bounds, after
   * close(), or when `topic` is not a string or `payload` not a Buffer.
   */
  publish(topic: string, payload: Buffer, isBinary: boolean): void {
    if (this.closed || !this.publisher.isReady) {
      this.counters.dropped++;
      return;
    }
    if (typeof topic !== 'string' || !Buffer.isBuffer(payload)) {
      this.counters.dropped++;
      this.report(new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'publish needs a string topic and a Buffer payload'));
      return;
    }
    const size = HEADER_LENGTH + payload.length;
    // A message alone may exceed the byte bound: memory stays within max(bound, one message).
    const pending = this.counters.pending;
    if (pending >= this.maxPending || (pending > 0 && this.counters.pendingBytes + size > this.maxPendingBytes)) {
      this.counters.dropped++;
      return;
    }
    // One copy per publish: Redis takes the message as a single bulk string.
    const message = Buffer.allocUnsafe(size);
    message[0] = WIRE_VERSION;
    message[1] = isBinary ? FLAG_BINARY : 0;
    this.id.copy(message, ID_OFFSET);
    payload.copy(message, HEADER_LENGTH);
    this.counters.pending++;
    this.counters.pendingBytes += size;
    let sent: Promise<unknown>;
    try {
      sent = this.publisher.publish(this.prefix + topic, message);
    } catch (err) {
      this.settle(size, false);
      this.report(err);
      return;
    }
    sent.then(() => { this.settle(size, true); }, () => { this.settle(size, false); });
  }

  /** Starts listening to `topic`'s channel (now, or as soon as Redis is reachable). Idempotent. */
  subscribe(topic: string): void {
    checkTopic(topic);
    if (this.closed || this.topics.has(topic)) return;
    this.topics.add(topic);
    // While disconnected nothing is sent: the reconciliation on 'ready' covers every topic.
    if (this.subscriber.isReady) this.track(this.subscriber.subscribe(this.prefix + topic, this.onChannelMessage, true));
  }

  /** Stops listening to `topic`'s channel. Idempotent. */
  unsubscribe(topic: string): void {
    checkTopic(topic);
    if (!this.topics.delete(topic) || this.closed) return;
    if (this.subscriber.isReady) this.track(this.subscriber.unsubscribe(this.prefix + topic));
  }

  /**
   * Sets the handler for other processes' messages (see {@link Broker.onMessage}).
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` when a different handler is already set.
   */
  onMessage(handler: BrokerMessageHandler | undefined): void {
    this.handler = replaceHandler(this.handler, handler);
  }

  /**
   * Resolves once both connections are up and Redis has confirmed every subscribe and unsubscribe
   * made so far. Never needed for correctness; useful at startup, in health checks and in tests.
   * Waits through outages for as long as it takes.
   * @throws {WebSocketUsageError} (rejects) `WS_ERR_INVALID_STATE` when the broker is closed first.
   */
  ready(): Promise<void> {
    if (this.closed) return Promise.reject(new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the broker is closed'));
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.wakeWaiters();
    });
  }

  /**
   * Stops publishing and delivering, waits up to `closeTimeout` for PUBLISHes already written to
   * be answered, then closes the broker's connections (not a client given in the options).
   * Idempotent; never rejects.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.handler = undefined;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the broker closed'));
    if (this.counters.pending > 0 && this.publisher.isReady) await this.publishesSettled();
    for (const event of ['ready', 'reconnecting', 'end']) this.publisher.off(event, this.onStatusChange);
    // destroy(), not close(): nothing else is worth waiting for, and a graceful close would wait
    // forever for a Redis that stopped answering.
    this.subscriber.destroy();
    if (this.ownsPublisher) this.publisher.destroy();
    this.updateStatus();
  }

  /** Resolves when no PUBLISH is pending, or after closeTimeout. */
  private publishesSettled(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.onPublishesSettled = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.closeTimeout);
      this.onPublishesSettled = done;
    });
  }

  private settle(size: number, ok: boolean): void {
    this.counters.pending--;
    this.counters.pendingBytes -= size;
    if (ok) this.counters.published++;
    else this.counters.dropped++;
    if (this.counters.pending === 0) this.onPublishesSettled?.();
  }

  private start(client: RedisClientLike): void {
    // connect() keeps retrying until Redis answers; it rejects only when the broker closes first.
    client.connect().catch((err: unknown) => { if (!this.closed) this.report(err); });
  }

  /**
   * After a (re)connection: subscribe to every topic the subscriber is not listening to, and drop
   * channels it still listens to for topics without local subscribers (an UNSUBSCRIBE lost with
   * the previous connection comes back with node-redis's own re-subscription).
   */
  private resync(): void {
    if (this.closed) return;
    const listening = this.subscriber.getPubSubListeners('CHANNELS');
    const missing: string[] = [];
    for (const topic of this.topics) {
      const channel = this.prefix + topic;
      if (!listening.has(channel)) missing.push(channel);
    }
    const stale: string[] = [];
    for (const channel of listening.keys()) {
      if (!this.topics.has(channel.slice(this.prefix.length))) stale.push(channel);
    }
    if (missing.length > 0) this.track(this.subscriber.subscribe(missing, this.onChannelMessage, true));
    if (stale.length > 0) this.track(this.subscriber.unsubscribe(stale));
  }

  /** Counts a subscription command until Redis answers it (or the connection fails it). */
  private track(command: Promise<unknown>): void {
    this.pendingSubscriptions++;
    const settled = (): void => {
      this.pendingSubscriptions--;
      this.wakeWaiters();
    };
    // A failure needs no handling here: the command died with its connection, and the next
    // 'ready' reconciles the channels.
    command.then(settled, settled);
  }

  private receive(message: Buffer, channel: Buffer): void {
    if (this.closed) return;
    if (message.length < HEADER_LENGTH || message[0] !== WIRE_VERSION || (message[1] & ~FLAG_BINARY) !== 0) {
      this.counters.malformed++;
      return;
    }
    // Redis echoes our own publishes to our subscriber; the server delivered those locally already.
    if (message.compare(this.id, 0, ID_LENGTH, ID_OFFSET, HEADER_LENGTH) === 0) return;
    const topic = channel.toString('utf8', this.prefixBytes);
    // A channel can outlive its topic for one round trip (UNSUBSCRIBE in flight).
    if (!this.topics.has(topic) || this.handler === undefined) return;
    this.counters.received++;
    try {
      this.handler(topic, message.subarray(HEADER_LENGTH), (message[1] & FLAG_BINARY) !== 0);
    } catch (err) {
      // Never let it reach node-redis: a throw inside its parser callback resets the parser.
      this.report(err);
    }
  }

  private updateStatus(): void {
    const connected = this.connected;
    if (connected !== this.wasConnected) {
      this.wasConnected = connected;
      if (!connected && !this.closed) this.counters.disconnects++;
      this.emit('status', connected);
    }
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    if (this.waiters.length === 0 || !this.connected || this.pendingSubscriptions > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /** Emits 'error' only when someone listens: an outage must never crash the process. */
  private report(err: unknown): void {
    if (this.listenerCount('error') === 0) return;
    this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }
}
