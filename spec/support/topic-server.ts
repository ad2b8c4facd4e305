/**
 * A WebSocketServer with a RedisBroker in a process of its own, driven by its parent over the IPC
 * channel (node's fork): the scale-out specs start two or three of them to prove that a publish on
 * one process reaches the subscribers of all.
 *
 * Usage: fork(this file, [redisUrl, prefix]). The first message is `{ event: 'listening', port }`.
 * Every connection subscribes to the topics in its URL's `topics` query parameter (comma-separated).
 * Requests are `{ id, op, ... }` (see ServerRequest); each gets `{ id, ok }` or `{ id, error }`.
 */
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from '../../lib/index';
import { RedisBroker } from '../../lib/pubsub/redis';

export type ServerRequest =
  | { id: number; op: 'publish'; topic: string; payload: string; isBinary: boolean }
  /** Publishes `count` text messages `${tag}:0`, `${tag}:1`, ... on `topic` in one synchronous loop. */
  | { id: number; op: 'publishNumbered'; topic: string; tag: string; count: number }
  | { id: number; op: 'subscribers'; topic: string }
  | { id: number; op: 'ready' | 'stats' | 'close' };

export type ServerEvent =
  | { event: 'listening'; port: number }
  | { event: 'reply'; id: number; ok: unknown }
  | { event: 'reply'; id: number; error: string };

function send(message: ServerEvent): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const [url, prefix] = process.argv.slice(2);
  const broker = new RedisBroker({ url, prefix });
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', broker, heartbeatInterval: 0 });
  wss.on('connection', (ws: WebSocket, req) => {
    const topics = new URL(req.url ?? '/', 'http://x').searchParams.get('topics') ?? '';
    for (const topic of topics.split(',')) if (topic !== '') ws.subscribe(topic);
  });
  await new Promise<void>((resolve) => { wss.once('listening', resolve); });

  async function handle(request: ServerRequest): Promise<unknown> {
    switch (request.op) {
      case 'publish':
        return wss.publish(request.topic, Buffer.from(request.payload, 'base64'), request.isBinary);
      case 'publishNumbered':
        for (let i = 0; i < request.count; i++) wss.publish(request.topic, `${request.tag}:${i}`);
        return true;
      case 'subscribers': return wss.subscriberCount(request.topic);
      case 'ready': await broker.ready(); return true;
      case 'stats': return { server: wss.pubsubStats, broker: broker.stats, connected: broker.connected };
      case 'close':
        await wss.close();
        await broker.close();
        // With the IPC channel closed too, nothing should keep this process alive: the parent
        // checks that it exits by itself.
        setImmediate(() => { process.disconnect(); });
        return true;
    }
  }

  process.on('message', (request: ServerRequest) => {
    handle(request).then(
      (ok) => { send({ event: 'reply', id: request.id, ok }); },
      (err: unknown) => { send({ event: 'reply', id: request.id, error: String(err) }); },
    );
  });
  send({ event: 'listening', port: (wss.address() as AddressInfo).port });
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
