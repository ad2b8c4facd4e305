/**
 * Topics across processes: WebSocketServers with a RedisBroker, each in a forked process of its own
 * (spec/support/topic-server.ts), on a real redis-server (spec/support/redis.ts), with real clients
 * over loopback. Then the demo as `npm start` runs it with REDIS_URL, and the node:cluster example.
 */
import { expect } from 'chai';
import { type ChildProcess, fork } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { createClient } from 'redis';
import { connect, type WebSocket } from '../../lib/index';
import { until, within } from '../interop/helpers';
import { useRedis } from '../support/redis';
import type { ServerEvent, ServerRequest } from '../support/topic-server';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** A topic server in a child process, driven over IPC. */
class ServerProcess {
  readonly child: ChildProcess;
  port = 0;
  private nextId = 0;
  private readonly replies = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listening: Promise<void>;

  constructor(url: string, prefix: string) {
    this.child = fork(path.join(__dirname, '..', 'support', 'topic-server.js'), [url, prefix], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.listening = within(new Promise<void>((resolve, reject) => {
      this.child.once('exit', (code) => { reject(new Error(`topic server exited (${code})`)); });
      this.child.on('message', (event: ServerEvent) => {
        if (event.event === 'listening') {
          this.port = event.port;
          resolve();
          return;
        }
        const waiter = this.replies.get(event.id);
        this.replies.delete(event.id);
        if ('error' in event) waiter?.reject(new Error(event.error));
        else waiter?.resolve(event.ok);
      });
    }), 'a topic server to listen');
  }

  static async start(url: string, prefix: string): Promise<ServerProcess> {
    const server = new ServerProcess(url, prefix);
    await server.listening;
    return server;
  }

  call(request: WithoutId<ServerRequest>): Promise<unknown> {
    const id = this.nextId++;
    return within(new Promise<unknown>((resolve, reject) => {
      this.replies.set(id, { resolve, reject });
      this.child.send({ ...request, id });
    }), `the topic server's answer to ${request.op}`, 60_000);
  }

  publish(topic: string, payload: string | Buffer, isBinary = typeof payload !== 'string'): Promise<unknown> {
    return this.call({ op: 'publish', topic, payload: Buffer.from(payload).toString('base64'), isBinary });
  }

  exited(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => { this.child.once('exit', (code) => { resolve(code); }); });
  }
}

/** A client that records every message it receives, as `text` or `bin:<hex>`. */
class Subscriber {
  readonly received: string[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: string | Buffer, isBinary: boolean) => {
      this.received.push(isBinary ? `bin:${(data as Buffer).toString('hex')}` : data as string);
    });
  }

  static async open(port: number, topics: string[]): Promise<Subscriber> {
    return new Subscriber(await within(connect(`ws://127.0.0.1:${port}/?topics=${topics.join(',')}`), 'a subscriber to connect'));
  }

  count(n: number, ms?: number): Promise<void> {
    return until(() => this.received.length >= n, `${n} messages (have ${this.received.length})`, ms);
  }
}

/**
 * Publishes probe messages from `from` until every subscriber has one: Redis keeps no backlog, so
 * a message published before a new subscription is live anywhere is lost to it. Returns after
 * clearing what the probes left.
 */
async function crossed(from: ServerProcess, topic: string, subscribers: Subscriber[]): Promise<void> {
  for (let probe = 0; ; probe++) {
    await from.publish(topic, `probe ${probe}`);
    try {
      await until(() => subscribers.every((s) => s.received.some((m) => m.startsWith('probe '))), 'a probe everywhere', 300);
      break;
    } catch (err) {
      if (probe > 100) throw err;
    }
  }
  // The probes in flight land now; then every list starts clean.
  await new Promise((resolve) => { setTimeout(resolve, 100); });
  for (const s of subscribers) s.received.length = 0;
}

describe('pubsub across processes (Redis)', function () {
  // Reconnection backs off up to about 2 s per attempt; the outage test waits through a few.
  this.timeout(90_000);

  const shared = useRedis('scale');

  let servers: ServerProcess[] = [];
  let subscribers: Subscriber[] = [];

  afterEach(async () => {
    for (const s of subscribers.splice(0)) s.ws.terminate();
    for (const server of servers.splice(0)) {
      if (server.child.connected) await server.call({ op: 'close' }).catch(() => undefined);
      if (server.child.exitCode === null) server.child.kill();
      await server.exited();
    }
    if (!shared.redis.running) await shared.redis.start();
  });

  async function start(n: number): Promise<ServerProcess[]> {
    const started = await Promise.all(Array.from({ length: n }, () => ServerProcess.start(shared.redis.url, shared.prefix)));
    servers.push(...started);
    return started;
  }

  async function subscribe(server: ServerProcess, topics: string[]): Promise<Subscriber> {
    const s = await Subscriber.open(server.port, topics);
    subscribers.push(s);
    await until(async () => await server.call({ op: 'subscribers', topic: topics[0] }) as number > 0, 'the subscription');
    return s;
  }

  it('delivers a publish on either of two processes to the subscribers of both, text and binary', async () => {
    const [a, b] = await start(2);
    const onA = await subscribe(a, ['news']);
    const onB = await subscribe(b, ['news']);
    await Promise.all([a.call({ op: 'ready' }), b.call({ op: 'ready' })]);
    await crossed(a, 'news', [onA, onB]);
    await crossed(b, 'news', [onA, onB]);
    await a.publish('news', 'from A');
    await b.publish('news', Buffer.from([0, 0xff, 0x80]));
    await b.publish('news', 'é from B 𝄞');
    for (const s of [onA, onB]) {
      await s.count(3);
      // A's own subscriber hears A's message first (delivered locally, before Redis carries it).
      expect([...s.received].sort()).to.deep.equal(['bin:00ff80', 'from A', 'é from B 𝄞'].sort());
    }
    expect(onA.received.indexOf('bin:00ff80')).to.be.below(onA.received.indexOf('é from B 𝄞'));
    const stats = await a.call({ op: 'stats' }) as { server: { received: number }; broker: { dropped: number } };
    expect(stats.server.received).to.be.at.least(2);
    expect(stats.broker.dropped).to.equal(0);
  });

  it('keeps each publisher\'s order on every subscriber with three processes publishing at once', async () => {
    const servers3 = await start(3);
    const subs = await Promise.all(servers3.map((s) => subscribe(s, ['order'])));
    await Promise.all(servers3.map((s) => s.call({ op: 'ready' })));
    for (const s of servers3) await crossed(s, 'order', subs);
    const COUNT = 500;
    await Promise.all(servers3.map((s, i) => s.call({ op: 'publishNumbered', topic: 'order', tag: `p${i}`, count: COUNT })));
    for (const sub of subs) {
      await sub.count(3 * COUNT);
      expect(sub.received).to.have.length(3 * COUNT);
      for (let i = 0; i < 3; i++) {
        const sequence = sub.received.filter((m) => m.startsWith(`p${i}:`)).map((m) => Number(m.split(':')[1]));
        expect(sequence, `publisher p${i}`).to.deep.equal(Array.from({ length: COUNT }, (_, n) => n));
      }
    }
  });

  it('subscribes a process on Redis only while it has subscribers to the topic', async () => {
    const [a, b] = await start(2);
    const redisClient = createClient({ url: shared.redis.url });
    redisClient.on('error', () => { /* the test fails on its own */ });
    await redisClient.connect();
    try {
      const channel = `${shared.prefix}room`;
      const numsub = async (): Promise<number> => Number((await redisClient.pubSubNumSub(channel))[channel]);
      const onA = await subscribe(a, ['room']);
      const onB = await subscribe(b, ['room']);
      await Promise.all([a.call({ op: 'ready' }), b.call({ op: 'ready' })]);
      expect(await numsub()).to.equal(2);
      onB.ws.close(1000);
      await until(async () => await b.call({ op: 'subscribers', topic: 'room' }) === 0, 'B to lose its subscriber');
      await b.call({ op: 'ready' });
      expect(await numsub()).to.equal(1);
      await b.publish('room', 'B still publishes');
      await onA.count(1);
      expect(onA.received).to.deep.equal(['B still publishes']);
    } finally {
      await redisClient.close();
    }
  });

  it('delivers locally through a Redis restart, loses only what crosses while it is down, and resumes', async () => {
    const [a, b] = await start(2);
    const onA = await subscribe(a, ['live']);
    const onB = await subscribe(b, ['live']);
    await Promise.all([a.call({ op: 'ready' }), b.call({ op: 'ready' })]);
    await crossed(a, 'live', [onA, onB]);

    await shared.redis.stop();
    await until(async () => !((await a.call({ op: 'stats' })) as { connected: boolean }).connected, 'A to notice the outage');
    expect(await a.publish('live', 'during the outage')).to.equal(1);
    await onA.count(1);
    expect(onA.received).to.deep.equal(['during the outage']);

    await shared.redis.start();
    await Promise.all([a.call({ op: 'ready' }), b.call({ op: 'ready' })]);
    await a.publish('live', 'after the restart');
    await onB.count(1);
    // B's first message is the one after the restart: the outage's was dropped, never replayed late.
    expect(onB.received).to.deep.equal(['after the restart']);
    await onA.count(2);
    expect(onA.received).to.deep.equal(['during the outage', 'after the restart']);
    const stats = await a.call({ op: 'stats' }) as { broker: { dropped: number; disconnects: number } };
    expect(stats.broker.dropped).to.be.at.least(1);
    expect(stats.broker.disconnects).to.be.at.least(1);
  });

  it('lets a server process exit by itself once its server and broker are closed', async () => {
    const [a] = await start(1);
    await subscribe(a, ['t']);
    await a.call({ op: 'ready' });
    for (const s of subscribers.splice(0)) s.ws.terminate();
    await a.call({ op: 'close' });
    expect(await within(a.exited(), 'the process to exit')).to.equal(0);
  });

  describe('the demo', () => {
    const ROOT = path.join(__dirname, '..', '..');
    let children: ChildProcess[] = [];

    afterEach(async () => {
      for (const child of children.splice(0)) {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => { child.once('exit', resolve); });
          child.kill('SIGTERM');
          await within(exited, 'a demo process to exit');
        }
      }
    });

    /** Runs an example script; resolves with its child once `pattern` appears on stdout. */
    function run(script: string, env: Record<string, string>, pattern: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
      const child = fork(path.join(ROOT, 'examples', script), [], {
        env: { ...process.env, HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      children.push(child);
      let output = '';
      return within(new Promise((resolve, reject) => {
        child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
          output += chunk;
          const match = output.match(pattern);
          if (match !== null) resolve({ child, match });
        });
        child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
        child.once('exit', (code) => { reject(new Error(`${script} exited (${code}):\n${output}`)); });
      }), `${script} to start`);
    }

    async function chatClient(port: number): Promise<Subscriber> {
      const s = new Subscriber(await within(connect(`ws://127.0.0.1:${port}/chat`), 'a chat client'));
      subscribers.push(s);
      return s;
    }

    /** Sends probes from `from` until every client heard one, then clears their lists. */
    async function chatCrossed(from: Subscriber, all: Subscriber[]): Promise<void> {
      for (let probe = 0; ; probe++) {
        from.ws.send(`probe ${probe}`);
        try {
          await until(() => all.every((s) => s.received.some((m) => m.startsWith('probe '))), 'a probe everywhere', 300);
          break;
        } catch (err) {
          if (probe > 100) throw err;
        }
      }
      await new Promise((resolve) => { setTimeout(resolve, 100); });
      for (const s of all) s.received.length = 0;
    }

    it('shares /chat between processes started with REDIS_URL, on different ports', async () => {
      const listening = /listening on http:\/\/127\.0\.0\.1:(\d+)\//;
      const [one, two] = await Promise.all([
        run('demo-server.js', { PORT: '0', REDIS_URL: shared.redis.url }, listening),
        run('demo-server.js', { PORT: '0', REDIS_URL: shared.redis.url }, listening),
      ]);
      const [a, b] = [await chatClient(Number(one.match[1])), await chatClient(Number(two.match[1]))];
      await chatCrossed(a, [a, b]);
      await chatCrossed(b, [a, b]);
      a.ws.send('hello from the first process');
      b.ws.send(Buffer.from([1, 2, 3]));
      for (const s of [a, b]) {
        await s.count(2);
        expect([...s.received].sort()).to.deep.equal(['bin:010203', 'hello from the first process']);
      }
    });

    it('runs one demo per worker on one port with node:cluster, all in one chat room', async () => {
      const port = await freePort();
      const { child } = await run('cluster.js', { PORT: String(port), REDIS_URL: shared.redis.url, WORKERS: '2' }, /2 workers on/);
      const clients: Subscriber[] = [];
      // The primary hands connections to the workers in turn, once they listen.
      await until(async () => {
        try {
          clients.push(await chatClient(port));
        } catch {
          return false;
        }
        return clients.length === 4;
      }, 'four chat clients');
      await chatCrossed(clients[0], clients);
      await chatCrossed(clients[1], clients);
      // Both workers have chat clients: each is subscribed to the room's channel on Redis.
      const redisClient = createClient({ url: shared.redis.url });
      redisClient.on('error', () => { /* the test fails on its own */ });
      await redisClient.connect();
      try {
        expect(Number((await redisClient.pubSubNumSub('wsframe:chat'))['wsframe:chat'])).to.equal(2);
      } finally {
        await redisClient.close();
      }
      clients[2].ws.send('to the whole room');
      for (const s of clients) {
        await s.count(1);
        expect(s.received).to.deep.equal(['to the whole room']);
      }
      const exited = new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code); }); });
      child.kill('SIGTERM');
      expect(await within(exited, 'the cluster to stop')).to.equal(0);
    });
  });
});

/** A port the kernel just handed out on 127.0.0.1, closed again for the cluster to take. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => { server.close(resolve); });
  return port;
}
