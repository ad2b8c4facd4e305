/**
 * The event classes of the WHATWG WebSocket: `CloseEvent` (WebSockets standard §the CloseEvent
 * interface) and `ErrorEvent` (HTML), which Node 20 does not have as globals, and Node's own
 * `MessageEvent`. Where the running Node has a global of the same name (newer versions ship
 * undici's), that one is used, so `event instanceof CloseEvent` holds for either.
 */

export interface CloseEventInit extends EventInit {
  wasClean?: boolean;
  code?: number;
  reason?: string;
}

/** A WebSocket's `close` event: the close code and reason, and whether the closing handshake finished. */
class CloseEvent extends Event {
  readonly #wasClean: boolean;
  readonly #code: number;
  readonly #reason: string;

  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.#wasClean = init.wasClean ?? false;
    this.#code = init.code ?? 0;
    this.#reason = init.reason ?? '';
  }

  /** True when the connection closed after a completed closing handshake (RFC 6455 §7.1.4). */
  get wasClean(): boolean {
    return this.#wasClean;
  }

  /** The close code the peer sent (1005 if its close frame had none), or 1006 when none arrived. */
  get code(): number {
    return this.#code;
  }

  /** The peer's close reason. */
  get reason(): string {
    return this.#reason;
  }

  get [Symbol.toStringTag](): string {
    return 'CloseEvent';
  }
}

export interface ErrorEventInit extends EventInit {
  message?: string;
  error?: unknown;
}

/**
 * A WebSocket's `error` event. Browsers fire a plain Event and hide why (the standard forbids
 * telling a refused port from a failed TLS handshake, so pages cannot probe a network); a Node
 * program probes nothing by learning it, so `error` carries the cause and `message` its text.
 */
class ErrorEvent extends Event {
  readonly #message: string;
  readonly #error: unknown;

  constructor(type: string, init: ErrorEventInit = {}) {
    super(type, init);
    this.#message = init.message ?? '';
    this.#error = init.error;
  }

  get message(): string {
    return this.#message;
  }

  get error(): unknown {
    return this.#error;
  }

  get [Symbol.toStringTag](): string {
    return 'ErrorEvent';
  }
}

interface Platform {
  CloseEvent?: typeof CloseEvent;
  ErrorEvent?: typeof ErrorEvent;
}

const platform = globalThis as unknown as Platform;

/** The platform's CloseEvent when it has one, else ours. */
const PlatformCloseEvent: typeof CloseEvent = platform.CloseEvent ?? CloseEvent;
type PlatformCloseEvent = CloseEvent;

/** The platform's ErrorEvent when it has one, else ours. */
const PlatformErrorEvent: typeof ErrorEvent = platform.ErrorEvent ?? ErrorEvent;
type PlatformErrorEvent = ErrorEvent;

/** Node's global MessageEvent (`data`, `origin`). */
const PlatformMessageEvent = globalThis.MessageEvent;
type PlatformMessageEvent<T = unknown> = globalThis.MessageEvent<T>;

export { PlatformCloseEvent as CloseEvent, PlatformErrorEvent as ErrorEvent, PlatformMessageEvent as MessageEvent };
