/**
 * A RedisBroker in a process of its own, driven by its parent over the IPC channel (node's fork):
 * the broker specs use it to prove delivery between truly separate processes, and that a process
 * whose broker is closed exits by itself (no socket or timer left behind).
 *
 * Usage: fork(this file, [redisUrl, prefix]). Requests are `{ id, op, ... }` (see PeerRequest);
 * each gets `{ id, ok }` or `{ id, error }`. Remote messages are forwarded as PeerEvent 'message'.
 */
import { RedisBroker } from '../../lib/pubsub/redis';

export type PeerRequest =
  | { id: number; op: 'subscribe' | 'unsubscribe'; topic: string }
  | { id: number; op: 'publish'; topic: string; payload: string; isBinary: boolean }
  /** Publishes `count` text messages '0', '1', ... on `topic`, in one synchronous loop. */
  | { id: number; op: 'publishNumbered'; topic: string; count: number }
  | { id: number; op: 'ready' | 'close' | 'stats' };

export type PeerEvent =
  | { event: 'message'; topic: string; payload: string; isBinary: boolean }
  | { event: 'reply'; id: number; ok: unknown }
  | { event: 'reply'; id: number; error: string };

function send(message: PeerEvent): void {
  process.send?.(message);
}

function main(): void {
  const [url, prefix] = process.argv.slice(2);
  const broker = new RedisBroker({ url, prefix });
  broker.onMessage((topic, payload, isBinary) => {
    send({ event: 'message', topic, payload: payload.toString('base64'), isBinary });
  });

  async function handle(request: PeerRequest): Promise<unknown> {
    switch (request.op) {
      case 'subscribe': broker.subscribe(request.topic); return true;
      case 'unsubscribe': broker.unsubscribe(request.topic); return true;
      case 'publish':
        broker.publish(request.topic, Buffer.from(request.payload, 'base64'), request.isBinary);
        return true;
      case 'publishNumbered':
        for (let i = 0; i < request.count; i++) broker.publish(request.topic, Buffer.from(String(i)), false);
        return true;
      case 'ready': await broker.ready(); return true;
      case 'stats': return broker.stats;
      case 'close':
        await broker.close();
        // Closing the IPC channel leaves the broker as the only thing that could keep this process
        // alive: the parent then checks that the process exits by itself.
        setImmediate(() => { process.disconnect(); });
        return true;
    }
  }

  process.on('message', (request: PeerRequest) => {
    handle(request).then(
      (ok) => { send({ event: 'reply', id: request.id, ok }); },
      (err: unknown) => { send({ event: 'reply', id: request.id, error: String(err) }); },
    );
  });
}

main();
