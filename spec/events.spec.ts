/**
 * lib/events.ts, the typed-event helpers. The compile-time half is `typeChecks` below, which
 * `tsc -p .` checks on every build (an `@ts-expect-error` that meets no error fails it); the run-time
 * half checks that each class emits what its event map declares. spec/package/consumer.spec.ts
 * repeats the compile-time checks against the packed package.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import type { WebSocket } from '../lib/connection/websocket';
import { Opcode } from '../lib/constants';
import { WebSocketProtocolError } from '../lib/errors';
import { FrameDecoder } from '../lib/frame/decoder';
import { FrameEncoder } from '../lib/frame/encoder';
import type { Frame, FrameInput } from '../lib/frame/frame';
import { encodeFrame } from '../lib/frame/serializer';
import { type Message, MessageDecoder } from '../lib/message/decoder';
import { MessageEncoder } from '../lib/message/encoder';
import type { WebSocketServer } from '../lib/server';

/** Never called: compiled only. */
export function typeChecks(ws: WebSocket, wss: WebSocketServer, decoder: FrameDecoder): void {
  ws.on('message', (data, isBinary) => {
    const payload: string | Buffer = data;
    // @ts-expect-error a message is a string or a Buffer
    const n: number = data;
    void payload; void isBinary; void n;
  });
  // @ts-expect-error a known event's listener is checked, not taken by the catch-all
  ws.on('close', (code: string) => { void code; });
  // @ts-expect-error the same for addListener
  ws.addListener('message', (data: number) => { void data; });
  // @ts-expect-error and for emit
  ws.emit('ping', 'not a buffer');
  ws.on('error', (error: WebSocketProtocolError) => { void error.code; });
  // @ts-expect-error an error listener takes an Error (or a subclass)
  ws.on('error', (error: number) => { void error; });
  ws.on('newListener', (...args) => { const first: unknown = args[0]; void first; });
  // @ts-expect-error events outside the map have unknown arguments
  ws.on('newListener', (name: string) => { void name; });

  // @ts-expect-error the server hands over a WebSocket
  wss.on('connection', (socket: string) => { void socket; });
  // @ts-expect-error 'close' has no arguments
  wss.on('close', (code: number) => { void code; });

  decoder.on('data', (frame) => { const f: Frame = frame; void f; });
  // @ts-expect-error FrameDecoder's data are frames
  decoder.on('data', (chunk: Buffer) => { void chunk; });
  // @ts-expect-error on every listener method
  decoder.prependOnceListener('data', (chunk: Buffer) => { void chunk; });
  // @ts-expect-error 'finish' has no arguments
  decoder.once('finish', (x: number) => { void x; });
  // @ts-expect-error emit checks the payload
  decoder.emit('data', 'text');
}

describe('typed events', () => {
  it("delivers Frames to a FrameDecoder's 'data' listener, as FrameDecoderEvents declares", async () => {
    const decoder = new FrameDecoder({ role: 'any' });
    const frames: Frame[] = [];
    decoder.on('data', (frame) => { frames.push(frame); });
    decoder.end(Buffer.concat([encodeFrame({ opcode: Opcode.Text, payload: 'hi' }), encodeFrame({ opcode: Opcode.Ping }, 0x01020304)]));
    await once(decoder, 'end');
    expect(frames.map(({ fin, opcode, masked, payload }) => ({ fin, opcode, masked, payload: payload.toString() }))).to.deep.equal([
      { fin: true, opcode: Opcode.Text, masked: false, payload: 'hi' },
      { fin: true, opcode: Opcode.Ping, masked: true, payload: '' },
    ]);
  });

  it("delivers Buffers of wire bytes to a FrameEncoder's 'data' listener", async () => {
    const encoder = new FrameEncoder({ role: 'server' });
    const chunks: Buffer[] = [];
    encoder.on('data', (bytes) => { chunks.push(bytes); });
    encoder.end({ opcode: Opcode.Binary, payload: Buffer.from([1, 2, 3]) });
    await once(encoder, 'end');
    expect(chunks.every((chunk) => Buffer.isBuffer(chunk))).to.equal(true);
    expect(Buffer.concat(chunks).toString('hex')).to.equal('8203010203');
  });

  it("delivers Messages to a MessageDecoder's 'data' listener", async () => {
    const decoder = new MessageDecoder();
    const messages: Message[] = [];
    decoder.on('data', (message) => { messages.push(message); });
    decoder.write({ fin: false, rsv1: false, rsv2: false, rsv3: false, opcode: Opcode.Text, masked: false, payload: Buffer.from('he') });
    decoder.end({ fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: Opcode.Continuation, masked: false, payload: Buffer.from('llo') });
    await once(decoder, 'end');
    expect(messages).to.deep.equal([{ type: 'text', data: 'hello' }]);
  });

  it("delivers FrameInputs to a MessageEncoder's 'data' listener", async () => {
    const encoder = new MessageEncoder({ fragmentSize: 2 });
    const frames: FrameInput[] = [];
    encoder.on('data', (frame) => { frames.push(frame); });
    encoder.end({ type: 'text', data: 'abc' });
    await once(encoder, 'end');
    expect(frames.map((f) => [f.opcode, f.fin, Buffer.from(f.payload ?? '').toString()])).to.deep.equal([
      [Opcode.Text, false, 'ab'], [Opcode.Continuation, true, 'c'],
    ]);
  });

  it('still passes events outside the map through the catch-all overload, with their arguments', () => {
    const decoder = new FrameDecoder();
    let seen: unknown[] = [];
    decoder.on('custom', (...args) => { seen = args; });
    expect(decoder.emit('custom', 1, 'two')).to.equal(true);
    expect(seen).to.deep.equal([1, 'two']);
  });
});
