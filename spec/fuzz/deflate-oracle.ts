/**
 * The reference the codec is compared with: one zlib inflate stream kept for the whole
 * connection, as ws and Python's zlib keep it (RFC 7692 §7.2.2 with context takeover: each message
 * continues the previous one's LZ77 window because it continues the same DEFLATE stream).
 *
 * It does what ws 8 does when a compressed message arrives (ws/lib/permessage-deflate.js,
 * `_decompress` and its listeners), written out here rather than borrowed so each step can carry
 * its reason, and checked against ws itself in spec/extensions/deflate-differential.spec.ts:
 * - one `zlib.createInflateRaw({ windowBits })`, created at the first compressed message;
 * - each message: its payload written, then the tail 00 00 ff ff, then a flush; the output
 *   collected until the flush calls back is the message;
 * - more output than `maxSize`: the engine is reset, closed and the stream fails with 1009;
 * - a zlib error: the engine is closed and the stream fails with 1007;
 * - a block with BFINAL ended the DEFLATE stream (the engine emitted 'end'): the engine is closed
 *   and the next message starts a new one, with an empty window;
 * - `client_no_context_takeover`: the engine is reset after each message.
 */
import * as zlib from 'node:zlib';
import type { DeflateCase, Trace } from './deflate-case';

/** RFC 7692 §7.2.2: the receiver appends these 4 bytes to every compressed message. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** RFC 6455 §7.4.1: the close codes a receiving endpoint fails with. */
const CLOSE_INVALID_PAYLOAD = 1007;
const CLOSE_MESSAGE_TOO_BIG = 1009;

type Inflated = { ok: true; data: Buffer } | { ok: false; closeCode: number; detail: string };

/** The receive side of one connection's permessage-deflate, kept as one zlib stream. */
export class PersistentInflater {
  private engine: zlib.InflateRaw | undefined;
  /** The message being inflated: its output so far, and how it will end. */
  private chunks: Buffer[] = [];
  private total = 0;
  private maxSize = Infinity;
  private tooBig = false;
  private settle: ((result: Inflated) => void) | undefined;

  constructor(private readonly windowBits: number, private readonly noContextTakeover: boolean) {}

  /** Inflates one message's whole compressed payload. */
  inflate(payload: Buffer, maxSize: number): Promise<Inflated> {
    const engine = this.engine ?? this.start();
    this.chunks = [];
    this.total = 0;
    this.maxSize = maxSize;
    this.tooBig = false;
    return new Promise<Inflated>((resolve) => {
      this.settle = resolve;
      engine.write(payload);
      engine.write(TAIL);
      // For an inflater Z_SYNC_FLUSH and ws's default Z_FULL_FLUSH are the same request: return
      // all the output the input so far allows.
      engine.flush(zlib.constants.Z_SYNC_FLUSH, () => { this.flushed(engine); });
    });
  }

  /** Releases the engine. */
  close(): void {
    this.engine?.close();
    this.engine = undefined;
  }

  private start(): zlib.InflateRaw {
    const engine = zlib.createInflateRaw({ windowBits: this.windowBits });
    engine.on('data', (chunk: Buffer) => { this.onData(engine, chunk); });
    engine.on('error', (error: NodeJS.ErrnoException) => { this.onError(engine, error); });
    this.engine = engine;
    return engine;
  }

  private onData(engine: zlib.InflateRaw, chunk: Buffer): void {
    if (this.tooBig) return;
    this.total += chunk.length;
    if (this.total <= this.maxSize) {
      this.chunks.push(chunk);
      return;
    }
    // Over the limit: stop inflating (what ws does), and fail once the flush calls back.
    this.tooBig = true;
    engine.reset();
  }

  private onError(engine: zlib.InflateRaw, error: NodeJS.ErrnoException): void {
    // zlib closes its handle itself after an error.
    if (this.engine === engine) this.engine = undefined;
    this.finish(this.tooBig
      ? { ok: false, closeCode: CLOSE_MESSAGE_TOO_BIG, detail: 'inflated past maxSize' }
      : { ok: false, closeCode: CLOSE_INVALID_PAYLOAD, detail: `${error.code ?? 'error'}: ${error.message}` });
  }

  private flushed(engine: zlib.InflateRaw): void {
    if (this.tooBig) {
      this.close();
      this.finish({ ok: false, closeCode: CLOSE_MESSAGE_TOO_BIG, detail: 'inflated past maxSize' });
      return;
    }
    const data = Buffer.concat(this.chunks, this.total);
    if (engine.readableEnded) {
      // A block with BFINAL ended the stream: whatever follows starts a new one.
      this.close();
    } else if (this.noContextTakeover) {
      engine.reset();
    }
    this.finish({ ok: true, data });
  }

  private finish(result: Inflated): void {
    const settle = this.settle;
    this.settle = undefined;
    settle?.(result);
  }
}

/** Runs the reference over a case: each message whole, in order, until the first failure. */
export async function runOracle(input: DeflateCase): Promise<Trace> {
  const inflater = new PersistentInflater(input.windowBits, input.noContextTakeover);
  const messages: Buffer[] = [];
  try {
    for (let index = 0; index < input.messages.length; index++) {
      const result = await inflater.inflate(Buffer.concat(input.messages[index]), input.maxSize);
      if (!result.ok) return { messages, ending: { kind: 'rejected', index, closeCode: result.closeCode, detail: result.detail } };
      messages.push(result.data);
    }
    return { messages, ending: { kind: 'accepted' } };
  } finally {
    inflater.close();
  }
}
