/**
 * The broker moves published messages between processes. A server delivers a publish to its own
 * local subscribers itself (the frame is serialised once and written to each of them); the broker
 * only carries the message to the other processes and hands back what they published.
 *
 * This module holds the interface and the single-process default; it must stay free of any
 * network client, so that `wsframe` never loads one unless `wsframe/redis` is imported.
 */
import { WebSocketUsageError } from '../errors';

/**
 * Receives a message another process published on a topic this process subscribed to.
 * `payload` is the message's bytes (UTF-8 text when `isBinary` is false); it is the handler's to
 * keep (a broker never reuses it), so it can be framed and written to sockets as it is.
 */
export type BrokerMessageHandler = (topic: string, payload: Buffer, isBinary: boolean) => void;

/**
 * What a server needs from a cross-process transport for `publish(topic, data)`.
 *
 * The contract, which every implementation keeps:
 * - `publish` returns at once, never throws and never waits on the network; it never calls the
 *   handler for the message it was given (the server delivers locally itself).
 * - Messages from one publisher on one topic arrive in the order they were published.
 * - `subscribe`/`unsubscribe` describe a set, not a count: the server calls `subscribe` when a
 *   topic gains its first local subscriber and `unsubscribe` when it loses its last; repeating
 *   either call changes nothing. Only subscribed topics are delivered to the handler.
 * - Delivery across processes is at most once: a message may be lost (for instance while the
 *   network is down), never duplicated.
 */
export interface Broker {
  /**
   * Sends a message to every other process subscribed to `topic`.
   * Never throws; a message that cannot be sent is dropped (implementations count them).
   */
  publish(topic: string, payload: Buffer, isBinary: boolean): void;
  /** This process has local subscribers on `topic` and wants other processes' messages for it. */
  subscribe(topic: string): void;
  /** This process no longer has local subscribers on `topic`. */
  unsubscribe(topic: string): void;
  /**
   * Sets the one handler for messages from other processes, or removes it with `undefined`.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` when a different handler is already
   *   set: a broker serves one server (two servers sharing one would never hear each other).
   */
  onMessage(handler: BrokerMessageHandler | undefined): void;
  /** Stops sending and receiving and releases every resource (sockets, timers). Idempotent. */
  close(): Promise<void>;
}

/**
 * Checks and stores a broker's handler: one server per broker (see {@link Broker.onMessage}).
 * Returns the handler to keep.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` when another handler is set;
 *   `WS_ERR_INVALID_ARGUMENT` when `handler` is not a function.
 */
export function replaceHandler(
  current: BrokerMessageHandler | undefined, handler: BrokerMessageHandler | undefined,
): BrokerMessageHandler | undefined {
  if (handler !== undefined && typeof handler !== 'function') {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'the message handler must be a function');
  }
  if (handler !== undefined && current !== undefined && current !== handler) {
    throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'this broker already delivers to another handler');
  }
  return handler;
}

/**
 * The single-process broker: there is no other process, so nothing is sent and nothing arrives.
 * Every method is a constant-time no-op, which makes it the free default for servers that publish
 * only to their own connections.
 */
export class LocalBroker implements Broker {
  private handler: BrokerMessageHandler | undefined;

  /** Nothing to send: local subscribers are served by the server itself. */
  publish(_topic: string, _payload: Buffer, _isBinary: boolean): void {
    // No other process to reach.
  }

  subscribe(_topic: string): void {
    // No remote messages exist, so there is nothing to filter.
  }

  unsubscribe(_topic: string): void {
    // See subscribe.
  }

  /**
   * Kept only to enforce one server per broker, as every broker does; it is never called.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` when a different handler is already set.
   */
  onMessage(handler: BrokerMessageHandler | undefined): void {
    this.handler = replaceHandler(this.handler, handler);
  }

  close(): Promise<void> {
    this.handler = undefined;
    return Promise.resolve();
  }
}

/** A topic is a string. @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` otherwise. */
export function checkTopic(topic: unknown): string {
  if (typeof topic !== 'string') throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'a topic must be a string');
  return topic;
}
