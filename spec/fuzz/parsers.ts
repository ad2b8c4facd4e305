/**
 * The two parsers under comparison, driven synchronously over the same bytes and chunking, each
 * reduced to a trace of observations: the messages and control frames it delivered, then how it
 * stopped (a rejection with its close code, the peer's close frame, or the end of input).
 *
 * - ours: FrameParser (role 'server') feeding a MessageParser, maxPayload and maxMessageSize both
 *   set to the case's limit (ws has one limit for both: the size of a message, summed over its
 *   fragments). Everything else default.
 * - ws 8: its Receiver configured as ws's WebSocketServer configures it (isServer, maxPayload,
 *   and the server defaults maxFragments 16384 and maxBufferedChunks 262144).
 *
 * Every observation is tagged with the index of the frame (see wire.ts walkFrames) whose bytes
 * produced it, so a disagreement can be pinned to one frame.
 */
import * as path from 'node:path';
import { FrameParser } from '../../lib/frame/parser';
import { MessageParser } from '../../lib/message/parser';
import { chunksOf, frameAt, type WalkedFrame } from './wire';

/** A differential test case: bytes as a client would send them, how they are cut, the limit. */
export interface FuzzCase {
  bytes: Buffer;
  /** Offsets at which the bytes are cut into separate writes. */
  cuts: number[];
  /** Largest message (and frame) in bytes, for both parsers. */
  maxPayload: number;
  /**
   * Our streaming paths, which ws has no counterpart for: frames longer than this are decoded in
   * pieces as they arrive (FrameParser `streamingThreshold`); `streaming` hands message bytes on
   * as they arrive (MessageParser `streaming`), reassembled here. Undefined: whole frames/messages.
   */
  streamingThreshold?: number;
  streaming?: boolean;
}

export type Observation =
  | { frame: number; kind: 'text' | 'binary' | 'ping' | 'pong'; data: string }
  | { frame: number; kind: 'close'; code: number; reason: string }
  | { frame: number; kind: 'error'; closeCode: number; code: string }
  /** Input ended with no error: inside a frame (`midFrame`) and/or inside a message. */
  | { frame: number; kind: 'end'; midFrame: boolean; openMessage: boolean }
  /** The parser threw instead of reporting a protocol error: always a bug. */
  | { frame: number; kind: 'crash'; message: string };

/** ws's server defaults (ws/lib/websocket-server.js), applied to the Receiver as the server does. */
export const WS_SERVER_MAX_FRAGMENTS = 16 * 1024;
export const WS_SERVER_MAX_BUFFERED_CHUNKS = 256 * 1024;

/**
 * Input ended without a rejection. Inside a frame, whether a message is open is left out: ws opens
 * a fragmented message at its first frame's header, we once that frame is complete, and neither
 * is observable by a peer.
 */
function endObservation(frames: readonly WalkedFrame[], midFrame: boolean, openMessage: boolean): Observation {
  return { frame: midFrame ? Math.max(0, frames.length - 1) : frames.length, kind: 'end', midFrame, openMessage: openMessage && !midFrame };
}

function crash(frames: readonly WalkedFrame[], err: unknown): Observation {
  return { frame: frames.length, kind: 'crash', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
}

/** Runs our FrameParser + MessageParser (server role) over the case. */
export function runOurs(input: FuzzCase, frames: readonly WalkedFrame[]): Observation[] {
  const out: Observation[] = [];
  let stopped = false;
  /** Stream offset just past the frame being handed to the message parser. */
  let frameEnd = 0;
  const at = (offset: number): number => frameAt(frames, offset);
  /** The message being streamed (MessageParser `streaming`), reassembled to compare it whole. */
  let streamed: { type: 'text' | 'binary'; parts: Buffer[] } | undefined;
  try {
    const messages = new MessageParser({ maxMessageSize: input.maxPayload, streaming: input.streaming === true }, {
      message: (message) => {
        const frame = at(frameEnd - 1);
        switch (message.type) {
          case 'text':
            out.push({ frame, kind: 'text', data: Buffer.from(message.data, 'utf8').toString('hex') });
            break;
          case 'binary':
          case 'ping':
          case 'pong':
            out.push({ frame, kind: message.type, data: message.data.toString('hex') });
            break;
          case 'close':
            out.push({ frame, kind: 'close', code: message.code, reason: Buffer.from(message.reason, 'utf8').toString('hex') });
            // A connection reads nothing after the peer's close frame (RFC 6455 §5.5.1).
            stopped = true;
            break;
        }
      },
      streamStart: (type) => {
        if (input.streaming !== true || streamed !== undefined) throw new Error('unexpected streamStart');
        streamed = { type, parts: [] };
      },
      streamData: (bytes) => {
        if (streamed === undefined) throw new Error('streamData outside a message');
        // Copied: the bytes may be a view of a chunk that is reused.
        streamed.parts.push(Buffer.from(bytes));
      },
      streamEnd: () => {
        if (streamed === undefined) throw new Error('streamEnd outside a message');
        out.push({ frame: at(frameEnd - 1), kind: streamed.type, data: Buffer.concat(streamed.parts).toString('hex') });
        streamed = undefined;
      },
    });
    const parser: FrameParser = new FrameParser({
      role: 'server', maxPayload: input.maxPayload, streamingThreshold: input.streamingThreshold,
    }, {
      frame: (frame) => {
        if (stopped) return;
        frameEnd = parser.position;
        const error = messages.write(frame);
        if (error !== undefined) {
          out.push({ frame: at(frameEnd - 1), kind: 'error', closeCode: error.closeCode, code: error.code });
          stopped = true;
        }
      },
    });
    for (const chunk of chunksOf(input.bytes, input.cuts)) {
      const error = parser.write(chunk);
      if (stopped) return out;
      if (error !== undefined) {
        out.push({ frame: at(error.offset ?? parser.position), kind: 'error', closeCode: error.closeCode, code: error.code });
        return out;
      }
    }
    out.push(endObservation(frames, !parser.idle, !messages.idle));
  } catch (err) {
    out.push(crash(frames, err));
  }
  return out;
}

// --- ws --------------------------------------------------------------------------------------

interface WsReceiver {
  _bufferedBytes: number;
  _state: number;
  _fragmented: number;
  _write(chunk: Buffer, encoding: string, callback: (error?: Error | null) => void): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'ping' | 'pong', listener: (data: Buffer) => void): this;
  on(event: 'conclude', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}

type WsReceiverConstructor = new (options: {
  isServer: boolean; maxPayload: number; maxFragments: number; maxBufferedChunks: number;
}) => WsReceiver;

// ws ships no types for its internals; these are read from ws/lib/receiver.js and constants.js.
// Its package exports hide lib/, so constants.js is loaded by path (the same module instance the
// Receiver uses, hence the same kStatusCode symbol).
const Receiver = (require('ws') as { Receiver: WsReceiverConstructor }).Receiver;
const { kStatusCode } = require(path.join(path.dirname(require.resolve('ws')), 'lib', 'constants.js')) as { kStatusCode: symbol };
/** ws/lib/receiver.js GET_INFO: between frames. */
const WS_GET_INFO = 0;

/** The close status ws attaches to a receiver error. */
export function wsStatusCode(error: Error): number | undefined {
  return (error as unknown as Record<symbol, number | undefined>)[kStatusCode];
}

/** Creates a Receiver configured as ws's WebSocketServer configures it for `maxPayload`. */
export function wsServerReceiver(maxPayload: number): WsReceiver {
  return new Receiver({
    isServer: true,
    maxPayload,
    maxFragments: WS_SERVER_MAX_FRAGMENTS,
    maxBufferedChunks: WS_SERVER_MAX_BUFFERED_CHUNKS,
  });
}

/**
 * Runs ws's Receiver over the case. Chunks go straight to `_write` (what Writable#write calls) so
 * errors arrive synchronously through the callback, with the bytes consumed at that moment.
 */
export function runWs(input: FuzzCase, frames: readonly WalkedFrame[]): Observation[] {
  const out: Observation[] = [];
  let written = 0;
  let concluded = false;
  try {
    const receiver = wsServerReceiver(input.maxPayload);
    const at = (): number => frameAt(frames, written - receiver._bufferedBytes - 1);
    receiver.on('message', (data, isBinary) => {
      out.push({ frame: at(), kind: isBinary ? 'binary' : 'text', data: data.toString('hex') });
    });
    receiver.on('ping', (data) => { out.push({ frame: at(), kind: 'ping', data: data.toString('hex') }); });
    receiver.on('pong', (data) => { out.push({ frame: at(), kind: 'pong', data: data.toString('hex') }); });
    receiver.on('conclude', (code, reason) => {
      out.push({ frame: at(), kind: 'close', code, reason: reason.toString('hex') });
      concluded = true;
    });
    receiver.on('error', () => { /* errors are taken from the write callback */ });
    for (const chunk of chunksOf(input.bytes, input.cuts)) {
      written += chunk.length;
      let failure: Error | undefined;
      receiver._write(chunk, 'buffer', (error) => { if (error) failure = error; });
      if (concluded) return out;
      if (failure !== undefined) {
        out.push({ frame: at(), kind: 'error', closeCode: wsStatusCode(failure) ?? -1, code: String((failure as { code?: unknown }).code) });
        return out;
      }
    }
    out.push(endObservation(frames, receiver._state !== WS_GET_INFO || receiver._bufferedBytes > 0, receiver._fragmented !== 0));
  } catch (err) {
    out.push(crash(frames, err));
  }
  return out;
}
