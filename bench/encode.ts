/**
 * Hot path: encoding binary frames (payload -> wire bytes), masked as a client sends them and
 * unmasked as a server does.
 *
 * Ours: FrameEncoder, one write per frame, a 'data' listener counting the bytes that come out. By
 * default the encoder gathers the frames of one tick into one chunk (autoCork), so the timed
 * window includes the next-tick flush; a second line turns autoCork off (every write pushed at
 * once); a third calls `emitFrame` into a socket stand-in, corked per tick, which is how the
 * connection layer sends. ws: its Sender (what `WebSocket#send` calls) writing into the same kind
 * of socket stand-in: a real Writable, as a net.Socket is, counting bytes in `write`/`writev`.
 */
import { Writable } from 'node:stream';
import { emitFrame } from '../lib/frame/serializer';
import { FrameEncoder } from '../lib/frame/encoder';
import type { FrameInput } from '../lib/frame/frame';
import { defaultMaskSource } from '../lib/frame/mask';
import {
  type Comparison, compareAll, KiB, OPCODE_BINARY, Prng, type Row, type Settings, type Side, sizeName,
  standalone, turn,
} from './harness';

/** What ws's Sender calls on its socket (ws/lib/sender.js `sendFrame`). */
interface SocketLike {
  destroyed: boolean;
  cork(): void;
  uncork(): void;
  write(chunk: Buffer, callback?: (err?: Error) => void): boolean;
}
interface WsSendOptions { binary: boolean; mask: boolean; fin: boolean; compress: boolean }
interface WsSender { send(data: Buffer, options: WsSendOptions, callback?: (err?: Error) => void): void }
type WsSenderClass = new (socket: SocketLike) => WsSender;
// ws/lib/sender is not in ws's package exports; the package root re-exports the class.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Sender = (require('ws') as { Sender: WsSenderClass }).Sender;

/** Frames per timed iteration: enough that the clock read is noise. */
function framesPerIteration(payloadSize: number): number {
  return payloadSize <= 1 * KiB ? 8192 : 256;
}

/** Frames per cork/uncork in the batched line: a burst of small messages sent in one tick. */
const BATCH = 64;

function wireLength(payloadSize: number, masked: boolean): number {
  return 2 + (payloadSize <= 125 ? 0 : payloadSize <= 0xffff ? 2 : 8) + (masked ? 4 : 0) + payloadSize;
}

/**
 * Checks one frame's wire bytes against RFC 6455 §5.2/§5.3 byte by byte: FIN + binary, the mask
 * bit as the role wants, the minimal length form, and the payload once unmasked.
 */
function checkWire(wire: Buffer, payload: Buffer, masked: boolean): void {
  const fail = (what: string): never => { throw new Error(`encoded frame: ${what}`); };
  if (wire[0] !== (0x80 | OPCODE_BINARY)) fail(`first byte ${wire[0]}`);
  if (((wire[1] & 0x80) !== 0) !== masked) fail('mask bit');
  const len7 = wire[1] & 0x7f;
  const extra = payload.length <= 125 ? 0 : payload.length <= 0xffff ? 2 : 8;
  const length = extra === 0 ? len7 : extra === 2 ? wire.readUInt16BE(2) : Number(wire.readBigUInt64BE(2));
  if (len7 !== (extra === 0 ? payload.length : extra === 2 ? 126 : 127) || length !== payload.length) fail('length');
  const head = 2 + extra + (masked ? 4 : 0);
  if (wire.length !== head + payload.length) fail(`${wire.length} bytes`);
  const key = masked ? wire.subarray(head - 4, head) : Buffer.alloc(4);
  for (let i = 0; i < payload.length; i++) {
    if ((wire[head + i] ^ key[i & 3]) !== payload[i]) fail(`payload byte ${i}`);
  }
}

/** What a side's setup returns: a way to send, the byte count, and the chunks of the last send. */
interface EncodingIo {
  /** Sends `count` frames; a returned promise settles once they are all out. */
  send(count: number): void | Promise<void>;
  bytes(): number;
  /** While true, output chunks are also kept in `captured`. */
  capture: boolean;
  captured: Buffer[];
}

/** A side that writes `count` frames per iteration and checks that every byte came out. */
function encodingSide(payloadSize: number, masked: boolean, start: (payload: Buffer) => EncodingIo): Side {
  const payload = new Prng(0xe4c0de).bytes(payloadSize);
  const count = framesPerIteration(payloadSize);
  const frameBytes = wireLength(payloadSize, masked);
  const io = start(payload);
  let expected = 0;
  const check = (): void => {
    if (io.bytes() !== expected) throw new Error(`encoder wrote ${io.bytes()} bytes, expected ${expected}`);
  };
  return {
    run() {
      expected += count * frameBytes;
      return io.send(count);
    },
    async verify() {
      io.capture = true;
      await io.send(1);
      expected += frameBytes;
      await turn();
      io.capture = false;
      check();
      checkWire(Buffer.concat(io.captured), payload, masked);
      io.captured.length = 0;
    },
    dispose: check,
  };
}

/**
 * How our side sends: FrameEncoder writes (autoCork on, the default), FrameEncoder writes with
 * autoCork off, corked batches, or emitFrame into a socket stand-in as the connection does.
 */
type Path = 'write' | 'nocork' | 'corked' | 'emit';

/** A socket stand-in: a real Writable (writev too, like net.Socket) that counts what it takes. */
function countingSocket(io: { capture: boolean; captured: Buffer[] }, count: (bytes: number) => void): Writable {
  const take = (chunk: Buffer): void => {
    count(chunk.length);
    if (io.capture) io.captured.push(Buffer.from(chunk));
  };
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      take(chunk);
      callback();
    },
    writev(chunks, callback) {
      for (const { chunk } of chunks) take(chunk as Buffer);
      callback();
    },
  });
}

/** Resolves after the callbacks queued so far on the next-tick queue (the encoder's flush). */
function nextTick(): Promise<void> {
  return new Promise((resolve) => { process.nextTick(resolve); });
}

function oursEmit(payloadSize: number, masked: boolean): Side {
  return encodingSide(payloadSize, masked, (payload) => {
    let bytes = 0;
    const keys = masked ? defaultMaskSource() : undefined;
    const frame: FrameInput = { opcode: OPCODE_BINARY, payload };
    const io: EncodingIo = {
      send(count) {
        // The connection corks its socket for the tick and sends each frame with emitFrame.
        socket.cork();
        for (let i = 0; i < count; i++) emitFrame(frame, keys === undefined ? -1 : keys.next(), sink);
        socket.uncork();
      },
      bytes: () => bytes,
      capture: false,
      captured: [],
    };
    const socket = countingSocket(io, (n) => { bytes += n; });
    const sink = { push: (chunk: Buffer): boolean => socket.write(chunk) };
    return io;
  });
}

function oursEncoder(payloadSize: number, masked: boolean, path: Exclude<Path, 'emit'>): Side {
  return encodingSide(payloadSize, masked, (payload) => {
    const encoder = new FrameEncoder({ role: masked ? 'client' : 'server', autoCork: path === 'write' });
    let bytes = 0;
    const captured: Buffer[] = [];
    const frame: FrameInput = { opcode: OPCODE_BINARY, payload };
    const send = path === 'write'
      ? (count: number): Promise<void> => {
        for (let i = 0; i < count; i++) encoder.write(frame);
        // The frames leave on the next tick: wait for them inside the timed window.
        return nextTick();
      }
      : path === 'nocork'
        ? (count: number): void => {
          for (let i = 0; i < count; i++) encoder.write(frame);
        }
        : (count: number): void => {
          for (let i = 0; i < count;) {
            encoder.cork();
            const end = Math.min(count, i + BATCH);
            for (; i < end; i++) encoder.write(frame);
            encoder.uncork();
          }
        };
    const io: EncodingIo = { send, bytes: () => bytes, capture: false, captured };
    encoder.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (io.capture) captured.push(Buffer.from(chunk));
    });
    return io;
  });
}

function wsSender(payloadSize: number, masked: boolean): Side {
  return encodingSide(payloadSize, masked, (payload) => {
    let bytes = 0;
    const options: WsSendOptions = { binary: true, mask: masked, fin: true, compress: false };
    const io: EncodingIo = {
      send(count) {
        for (let i = 0; i < count; i++) sender.send(payload, options);
      },
      bytes: () => bytes,
      capture: false,
      captured: [],
    };
    const sender = new Sender(countingSocket(io, (n) => { bytes += n; }) as unknown as SocketLike);
    return io;
  });
}

interface EncodeCase { payloadSize: number; masked: boolean; path: Path; target?: number }

const CASES: readonly EncodeCase[] = [
  { payloadSize: 16, masked: true, path: 'write', target: 1.2 },
  { payloadSize: 16, masked: true, path: 'nocork' },
  { payloadSize: 16, masked: true, path: 'emit' },
  { payloadSize: 16, masked: false, path: 'write', target: 1.0 },
  { payloadSize: 16, masked: false, path: 'nocork' },
  { payloadSize: 16, masked: false, path: 'emit' },
  { payloadSize: 64 * KiB, masked: true, path: 'write', target: 1.0 },
  { payloadSize: 64 * KiB, masked: true, path: 'emit' },
];

const PATH_NOTES: Record<Path, string | undefined> = {
  write: 'FrameEncoder with autoCork (default): the frames of one tick leave as one chunk; timed through that flush',
  nocork: 'FrameEncoder with autoCork off: every write encoded and pushed at once',
  corked: `ours corked around batches of ${BATCH} (one output chunk per batch)`,
  emit: 'emitFrame into the socket stand-in, corked per tick: how the connection layer sends',
};

const SUFFIX: Record<Path, string> = { write: '', nocork: ', autoCork off', corked: `, corked x${BATCH}`, emit: ', emitFrame' };

export function encodeComparisons(): Comparison[] {
  return CASES.map((c) => {
    const count = framesPerIteration(c.payloadSize);
    const kind = c.masked ? 'masked (client)' : 'unmasked (server)';
    const path = c.path;
    return {
      group: 'encode',
      title: `encode ${sizeName(c.payloadSize)} ${kind}${SUFFIX[path]}`,
      opsPerIteration: count,
      opsUnit: 'frames',
      bytesPerIteration: count * wireLength(c.payloadSize, c.masked),
      bytesUnit: 'MB/s',
      primary: c.payloadSize >= 64 * KiB ? 'bytes' : 'ops',
      target: c.target,
      ours: path === 'emit' ? () => oursEmit(c.payloadSize, c.masked) : () => oursEncoder(c.payloadSize, c.masked, path),
      ws: () => wsSender(c.payloadSize, c.masked),
      // One note per kind of line is enough.
      note: c.payloadSize === 16 && c.masked ? PATH_NOTES[path] : undefined,
    };
  });
}

export function benchEncode(settings: Settings): Promise<Row[]> {
  return compareAll(encodeComparisons(), settings);
}

if (require.main === module) standalone(benchEncode);
