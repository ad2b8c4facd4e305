/**
 * Typed events: each emitting class declares one event map (`{ close: [code: number, reason:
 * string] }`) and its `on`/`once`/`off`/`emit` are typed from it, so a listener with the wrong
 * arguments, or an `emit` with the wrong payload, is a compile error. Types only: nothing here
 * exists at run time.
 *
 * The shapes are Node's own (`@types/node` types `node:stream` the same way), with one change:
 * Node's catch-all overload (`(event: string | symbol, listener: (...args: any[]) => void)`) also
 * matches the events of the map, so a wrong listener for `'close'` silently falls through to it.
 * Here the catch-all only takes names outside the map ({@link OtherEvent}).
 */

/** An event map: each event's listener arguments, as a labelled tuple. */
export type EventMap<Events> = { [K in keyof Events]: unknown[] };

/**
 * `Name` unless it is one of the map's events (then `never`, so the catch-all overload cannot
 * match it and a wrong listener for a known event stays an error).
 */
export type OtherEvent<Events, Name> = Name extends keyof Events ? never : Name;

/**
 * The type of `on`, `once`, `off`, `addListener`, `removeListener`, `prependListener` and
 * `prependOnceListener` for an event map.
 *
 * An `'error'` listener may declare a subclass of `Error` (`(err: WebSocketProtocolError) =>`),
 * as Node code commonly does with `NodeJS.ErrnoException`: that is the listener's assertion, not
 * a promise of this library (a stream in a `pipeline` also gets the other streams' errors).
 */
export interface EventListenerMethod<Events extends EventMap<Events>, This> {
  <K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): This;
  <E extends Error>(event: 'error', listener: (error: E) => void): This;
  <Name extends string | symbol>(event: OtherEvent<Events, Name>, listener: (...args: unknown[]) => void): This;
}

/** The type of `emit` for an event map. */
export interface EventEmitMethod<Events extends EventMap<Events>> {
  <K extends keyof Events>(event: K, ...args: Events[K]): boolean;
  <Name extends string | symbol>(event: OtherEvent<Events, Name>, ...args: unknown[]): boolean;
}
