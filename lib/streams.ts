/**
 * The stream classes every layer builds on: readable-stream's implementation, typed as Node's own
 * `node:stream` classes.
 *
 * readable-stream is Node's stream code published as a package, so behaviour does not change with
 * the Node version; its classes have the same members as Node's (spec/streams.spec.ts checks).
 * Typing them as Node's means the published declarations need nothing beyond `@types/node`: a
 * consumer's `socket.pipe(new FrameDecoder())` and `pipeline(...)` are checked against the types
 * the consumer already has, whatever their `@types/node` version, and installing wsframe adds no
 * `@types` package (nor `@types/node` for JavaScript users).
 */
import type * as node from 'node:stream';
import * as implementation from 'readable-stream';

/** readable-stream's Readable, typed as Node's. */
export const Readable = implementation.Readable as unknown as typeof node.Readable;
export type Readable = node.Readable;

/** readable-stream's Duplex, typed as Node's. */
export const Duplex = implementation.Duplex as unknown as typeof node.Duplex;
export type Duplex = node.Duplex;
export type DuplexOptions = node.DuplexOptions;

/** readable-stream's Transform, typed as Node's. */
export const Transform = implementation.Transform as unknown as typeof node.Transform;
export type Transform = node.Transform;

/**
 * The events every Transform emits (Node's Readable and Writable events), with their arguments;
 * each Transform's own map narrows `data` to what it pushes.
 */
export interface TransformEvents {
  /** What the readable side pushes: each Transform's map says what exactly. */
  data: [chunk: unknown];
  /** The readable side is done: every pushed chunk has been read. */
  end: [];
  /** Data is ready for `read()` (paused mode). */
  readable: [];
  pause: [];
  resume: [];
  /** The writable side has room again after `write()` returned false. */
  drain: [];
  /** `end()` was called and every write was processed. */
  finish: [];
  pipe: [source: Readable];
  unpipe: [source: Readable];
  /** The stream failed; `'close'` follows. */
  error: [error: Error];
  close: [];
}
