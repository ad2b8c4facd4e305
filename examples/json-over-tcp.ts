/**
 * Composing the Transforms into a protocol of your own: JSON request/response messages framed
 * by RFC 6455 over a plain TCP socket, with no HTTP and no handshake. Neither side masks (both
 * ends trust the byte stream, as over IPC), so both decoders use role 'any'.
 *
 *   node build/examples/json-over-tcp.js
 */
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'readable-stream';
import { FrameDecoder, FrameEncoder, type Message, MessageDecoder, MessageEncoder } from '../lib/index';

/** One framed JSON channel over a byte stream: write objects, read objects. */
export function jsonChannel(socket: net.Socket, onObject: (value: unknown) => void): (value: unknown) => void {
  const messages = new MessageEncoder();
  // bytes -> frames -> messages -> JSON values
  pipeline(socket, new FrameDecoder({ role: 'any', maxPayload: 1024 * 1024 }), new MessageDecoder(), (err) => {
    if (err) socket.destroy();
  }).on('data', (message: Message) => {
    if (message.type === 'text') onObject(JSON.parse(message.data));
  });
  // JSON values -> messages -> frames -> bytes
  pipeline(messages, new FrameEncoder({ role: 'server' }), socket, () => { /* socket closed */ });
  return (value) => { messages.write({ type: 'text', data: JSON.stringify(value) }); };
}

/** A server answering `{ id, add: [a, b] }` with `{ id, sum }`. */
export function startSumServer(): Promise<net.Server> {
  const server = net.createServer((socket) => {
    const send = jsonChannel(socket, (request) => {
      const { id, add } = request as { id: number; add: [number, number] };
      send({ id, sum: add[0] + add[1] });
    });
  });
  return new Promise((resolve) => { server.listen(0, '127.0.0.1', () => { resolve(server); }); });
}

/** Sends the requests and resolves with the responses in arrival order. */
export async function askSums(port: number, pairs: Array<[number, number]>): Promise<unknown[]> {
  const socket = net.connect(port, '127.0.0.1');
  const answers: unknown[] = [];
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    const send = jsonChannel(socket, (answer) => {
      answers.push(answer);
      if (answers.length === pairs.length) {
        socket.end();
        resolve(answers);
      }
    });
    pairs.forEach((add, id) => { send({ id, add }); });
  });
}

if (require.main === module) {
  void (async () => {
    const server = await startSumServer();
    const { port } = server.address() as AddressInfo;
    console.log(await askSums(port, [[1, 2], [40, 2], [1e6, 1]]));
    server.close();
  })();
}
