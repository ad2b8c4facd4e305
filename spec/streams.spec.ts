/**
 * lib/streams.ts types readable-stream's classes as Node's: these specs check that the claim holds
 * at run time (same members) and that Node's own stream machinery drives them over a real socket.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import * as net from 'node:net';
import * as stream from 'node:stream';
import * as readableStream from 'readable-stream';
import { Opcode } from '../lib/constants';
import { FrameDecoder } from '../lib/frame/decoder';
import { FrameEncoder } from '../lib/frame/encoder';
import type { Frame } from '../lib/frame/frame';
import { type Message, MessageDecoder } from '../lib/message/decoder';
import { MessageEncoder } from '../lib/message/encoder';
import { Readable, Transform } from '../lib/streams';

/** Every member name along a class's prototype chain, symbols included. */
function members(constructor: abstract new (...args: never[]) => unknown): Set<string> {
  const names = new Set<string>();
  for (let proto: unknown = constructor.prototype; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Reflect.ownKeys(proto as object)) names.add(String(key));
  }
  return names;
}

describe('streams', () => {
  it("are readable-stream's own classes at run time", () => {
    expect(Readable).to.equal(readableStream.Readable);
    expect(Transform).to.equal(readableStream.Transform);
  });

  it("have every member that Node's classes of the same name have (the types promise them)", () => {
    for (const [ours, node] of [[Readable, stream.Readable], [Transform, stream.Transform]] as const) {
      const have = members(ours);
      expect([...members(node)].filter((name) => !have.has(name)), node.name).to.deep.equal([]);
    }
  });

  describe("with Node's own pipe and pipeline over a TCP socket", () => {
    let server: net.Server | undefined;
    const sockets = new Set<net.Socket>();

    afterEach(async () => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (server !== undefined) await new Promise<void>((resolve) => { server?.close(() => { resolve(); }); });
      server = undefined;
    });

    /** A loopback server handing each accepted socket to `onSocket`; resolves with a connected client. */
    async function connected(onSocket: (socket: net.Socket) => void): Promise<net.Socket> {
      const listener = net.createServer((socket) => { sockets.add(socket); onSocket(socket); });
      server = listener;
      listener.listen(0, '127.0.0.1');
      await once(listener, 'listening');
      const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
      sockets.add(client);
      await once(client, 'connect');
      return client;
    }

    it('socket.pipe(new FrameDecoder()) decodes the frames the peer writes', async () => {
      const frames: Frame[] = [];
      let done!: () => void;
      const all = new Promise<void>((resolve) => { done = resolve; });
      const client = await connected((socket) => {
        socket.pipe(new FrameDecoder({ role: 'any' })).on('data', (frame) => {
          frames.push(frame);
          if (frame.opcode === Opcode.Close) done();
        });
      });
      const encoder = new FrameEncoder({ role: 'client' });
      encoder.pipe(client);
      encoder.write({ opcode: Opcode.Text, payload: 'hello' });
      encoder.write({ opcode: Opcode.Binary, payload: Buffer.alloc(70_000, 7) });
      encoder.write({ opcode: Opcode.Close, payload: Buffer.from([0x03, 0xe8]) });
      await all;
      expect(frames.map((f) => [f.opcode, f.masked, f.payload.length])).to.deep.equal([
        [Opcode.Text, true, 5], [Opcode.Binary, true, 70_000], [Opcode.Close, true, 2],
      ]);
      expect(frames[0].payload.toString()).to.equal('hello');
    });

    it('stream.pipeline carries messages both ways through the encoders and decoders', async () => {
      // The server echoes every text message, upper-cased, through its own pipelines.
      const client = await connected((socket) => {
        const out = new MessageEncoder();
        stream.pipeline(out, new FrameEncoder({ role: 'server' }), socket, () => { /* closed */ });
        stream.pipeline(socket, new FrameDecoder({ role: 'server' }), new MessageDecoder(), () => { out.end(); })
          .on('data', (message: Message) => {
            if (message.type === 'text') out.write({ type: 'text', data: message.data.toUpperCase() });
          });
      });
      const received: string[] = [];
      const requests = new MessageEncoder({ fragmentSize: 3 });
      stream.pipeline(requests, new FrameEncoder({ role: 'client' }), client, () => { /* closed */ });
      const replies = stream.pipeline(client, new FrameDecoder({ role: 'client' }), new MessageDecoder(), () => { /* closed */ });
      const both = new Promise<void>((resolve) => {
        replies.on('data', (message) => {
          if (message.type === 'text') received.push(message.data);
          if (received.length === 2) resolve();
        });
      });
      requests.write({ type: 'text', data: 'hello' });
      requests.write({ type: 'text', data: 'wsframe' });
      await both;
      expect(received).to.deep.equal(['HELLO', 'WSFRAME']);
    });
  });
});
