/**
 * A zlib raw deflate engine kept between the messages of a connection that sends often, driven
 * synchronously. Compressing a small message from a fresh engine costs a new engine and, with
 * context takeover, loading up to 32 KiB of history into it (deflateSetDictionary hashes every
 * byte); a kept engine already holds that history. Measured on the development machine for
 * 256-byte JSON messages with a 32 KiB history: 8.6 µs a message kept, 75 µs fresh.
 *
 * An engine costs about 256 KiB (zlib's window, hash chains and pending buffer at the defaults),
 * so engines are few and short-lived, and a connection that sends now and then never has one:
 * - a connection gets an engine only for a message sent within {@link WARM_MS} of its previous one;
 * - an engine unused for one {@link SWEEP_MS} sweep to the next is closed (the codec keeps the
 *   history bytes, from which a later engine starts);
 * - at most {@link MAX_KEPT} engines exist in the process; beyond that, codecs compress with a
 *   fresh engine per message, as before.
 *
 * Node has no public synchronous API for a kept engine: `zlib.deflateRawSync` writes once and
 * closes. This drives the same call `deflateRawSync` makes inside Node (the stream handle's
 * `writeSync`, its results in `_writeState`), checked when the module loads; where a Node version
 * lacks it, {@link KeptDeflater.create} returns undefined and the fresh-engine path is used.
 */
import * as zlib from 'node:zlib';

/** A message sent within this many ms of the previous one gets a kept engine. */
export const WARM_MS = 1000;
/** Sweep period: an engine unused from one sweep to the next is closed (1-2 s after its last use). */
export const SWEEP_MS = 1000;
/** Engines alive at once in the process, at most (about 256 KiB each with zlib's defaults). */
export const MAX_KEPT = 512;

/** The handle's synchronous write: Node's internal binding used by its own *Sync functions. */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
}

interface StreamInternals {
  _handle?: ZlibHandle | null;
  _writeState?: Uint32Array;
}

/** The handle and result array of a stream, when this Node exposes them as expected. */
function internals(stream: zlib.DeflateRaw): { handle: ZlibHandle; state: Uint32Array } | undefined {
  const { _handle: handle, _writeState: state } = stream as unknown as StreamInternals;
  if (handle === undefined || handle === null || typeof handle.writeSync !== 'function' || typeof handle.reset !== 'function') return undefined;
  if (!(state instanceof Uint32Array) || state.length < 2) return undefined;
  return { handle, state };
}

/** Something that holds a kept engine and gives it up when asked (the sweep, the cap). */
export interface EngineHolder {
  /** Called by the sweep: close the engine if it was not used since the last call. */
  sweepEngine(): void;
}

const holders = new Set<EngineHolder>();
let sweeper: NodeJS.Timeout | undefined;

/** One sweep now (the timer runs it every {@link SWEEP_MS}); exported for tests. */
export function sweep(): void {
  for (const holder of holders) holder.sweepEngine();
  if (holders.size === 0 && sweeper !== undefined) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/** How many engines are alive (for tests and the bench). */
export function keptEngines(): number {
  return holders.size;
}

export class KeptDeflater {
  /** Set by each use; the sweep clears it, and closes an engine it finds clear. */
  used = true;

  private constructor(
    private readonly stream: zlib.DeflateRaw,
    private readonly handle: ZlibHandle,
    private readonly state: Uint32Array,
    private readonly holder: EngineHolder,
  ) {}

  /**
   * A new engine for `holder`, primed with `dictionary` (the history so far), or undefined when
   * {@link MAX_KEPT} engines exist or this Node lacks the synchronous write.
   */
  static create(options: zlib.ZlibOptions, dictionary: Buffer | undefined, holder: EngineHolder): KeptDeflater | undefined {
    if (holders.size >= MAX_KEPT) return undefined;
    const stream = zlib.createDeflateRaw(dictionary === undefined ? options : { ...options, dictionary });
    const parts = internals(stream);
    if (parts === undefined) {
      stream.close();
      return undefined;
    }
    holders.add(holder);
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, SWEEP_MS);
      sweeper.unref();
    }
    return new KeptDeflater(stream, parts.handle, parts.state, holder);
  }

  /**
   * Compresses `input` ending with a sync flush (RFC 7692 §7.2.1: the output ends with 00 00 ff
   * ff), continuing from everything compressed before unless `reset` (no context takeover: the
   * next message starts afresh). Undefined if zlib failed: the engine is then closed.
   */
  deflate(input: Uint8Array, reset: boolean): Buffer | undefined {
    this.used = true;
    const chunks: Buffer[] = [];
    let total = 0;
    // Room for incompressible input, the block headers and the flush; more rounds if not.
    let out = Buffer.allocUnsafe(input.length + (input.length >>> 6) + 64);
    let inOff = 0;
    let inLen = input.length;
    try {
      for (;;) {
        this.handle.writeSync(zlib.constants.Z_SYNC_FLUSH, input, inOff, inLen, out, 0, out.length);
        const availOut = this.state[0];
        const availIn = this.state[1];
        const produced = out.length - availOut;
        chunks.push(produced === out.length ? out : out.subarray(0, produced));
        total += produced;
        // zlib stops when the output is full; with room left, all input is in and flushed.
        if (availOut !== 0) break;
        inOff += inLen - availIn;
        inLen = availIn;
        out = Buffer.allocUnsafe(Math.max(1024, out.length));
      }
      if (reset) this.handle.reset();
    } catch {
      this.close();
      return undefined;
    }
    if ((this.stream as { destroyed?: boolean }).destroyed === true) {
      this.close();
      return undefined;
    }
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
  }

  /** Frees the engine's memory now. */
  close(): void {
    holders.delete(this.holder);
    this.stream.close();
  }
}
