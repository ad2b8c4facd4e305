/**
 * RedisBroker against a real redis-server (Debian's, started on a free loopback port by
 * spec/support/redis.ts), with brokers in this process and in forked child processes.
 */
import { expect } from 'chai';
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { createClient } from 'redis';
import { WebSocketUsageError } from '../../lib/index';
import { RedisBroker, type RedisBrokerOptions } from '../../lib/pubsub/redis';
import { next, until, within } from '../interop/helpers';
import type { PeerEvent, PeerRequest } from '../support/redis-peer';
import { useRedis } from '../support/redis';
import { usageCode } from '../support/usage';

interface Received {
  topic: string;
  payload: Buffer;
  isBinary: boolean;
}

/** Everything a broker hands to its handler, with a wait for the n-th message. */
class Inbox {
  readonly messages: Received[] = [];

  constructor(broker: RedisBroker) {
    broker.onMessage((topic, payload, isBinary) => { this.messages.push({ topic, payload, isBinary }); });
  }

  texts(): string[] {
    return this.messages.map((m) => `${m.topic}:${m.payload.toString()}`);
  }

  count(n: number): Promise<void> {
    return until(() => this.messages.length >= n, `${n} messages (have ${this.messages.length})`);
  }
}

function text(s: string): Buffer {
  return Buffer.from(s);
}

/** Omit, applied to each member of a union. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** A RedisBroker in a child process (spec/support/redis-peer.ts), driven over IPC. */
class Peer {
  readonly child: ChildProcess;
  readonly messages: Received[] = [];
  private nextId = 0;
  private readonly replies = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(url: string, prefix: string) {
    const script = path.join(__dirname, '..', 'support', 'redis-peer.js');
    this.child = fork(script, [url, prefix], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (event: PeerEvent) => {
      if (event.event === 'message') {
        this.messages.push({ topic: event.topic, payload: Buffer.from(event.payload, 'base64'), isBinary: event.isBinary });
        return;
      }
      const waiter = this.replies.get(event.id);
      this.replies.delete(event.id);
      if ('error' in event) waiter?.reject(new Error(event.error));
      else waiter?.resolve(event.ok);
    });
  }

  call(request: WithoutId<PeerRequest>): Promise<unknown> {
    const id = this.nextId++;
    return within(new Promise<unknown>((resolve, reject) => {
      this.replies.set(id, { resolve, reject });
      this.child.send({ ...request, id });
    }), `the peer's answer to ${request.op}`);
  }

  count(n: number): Promise<void> {
    return until(() => this.messages.length >= n, `${n} messages in the peer (have ${this.messages.length})`);
  }

  /** Resolves with the exit code once the child exits. */
  exited(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => { this.child.once('exit', (code) => { resolve(code); }); });
  }
}

describe('pubsub/redis', function () {
  // Reconnection backs off up to about 2 s per attempt; the outage tests wait through a few.
  this.timeout(60_000);

  const shared = useRedis('spec');

  let brokers: RedisBroker[] = [];
  let peers: Peer[] = [];

  afterEach(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    brokers = [];
    for (const peer of peers) {
      if (peer.child.exitCode === null && peer.child.signalCode === null) peer.child.kill('SIGKILL');
      await peer.exited();
    }
    peers = [];
    // An outage test that failed half-way must not leave the next tests without Redis.
    await shared.redis.start();
  });

  function broker(options: RedisBrokerOptions = {}): RedisBroker {
    const b = new RedisBroker({ url: shared.redis.url, prefix: shared.prefix, ...options });
    brokers.push(b);
    return b;
  }

  /** How many connections Redis counts as subscribed to each topic's channel (PUBSUB NUMSUB). */
  async function subscribers(...topics: string[]): Promise<number[]> {
    const raw = createClient({ url: shared.redis.url });
    raw.on('error', () => { /* only used while the server is up */ });
    await raw.connect();
    try {
      const counts = await raw.pubSubNumSub(topics.map((t) => shared.prefix + t));
      return topics.map((t) => Number(counts[shared.prefix + t]));
    } finally {
      raw.destroy();
    }
  }

  function peer(): Peer {
    const p = new Peer(shared.redis.url, shared.prefix);
    peers.push(p);
    return p;
  }

  describe('delivery', () => {
    it('delivers a publish to every other broker subscribed to its topic, and only for subscribed topics', async () => {
      const a = broker();
      const b = broker();
      const c = broker();
      const inboxB = new Inbox(b);
      const inboxC = new Inbox(c);
      b.subscribe('t1');
      c.subscribe('t1');
      c.subscribe('t2');
      await Promise.all([a.ready(), b.ready(), c.ready()]);

      a.publish('t2', text('x'), false);
      a.publish('t3', text('y'), false);
      a.publish('t1', text('z'), false);
      await inboxB.count(1);
      await inboxC.count(2);
      // One publisher, one order: had B been sent t2 or t3 it would have come before t1's 'z'.
      expect(inboxB.texts()).to.deep.equal(['t1:z']);
      expect(inboxC.texts()).to.deep.equal(['t2:x', 't1:z']);
    });

    it('does not hand a broker its own messages back', async () => {
      const a = broker();
      const b = broker();
      const inboxA = new Inbox(a);
      const inboxB = new Inbox(b);
      a.subscribe('t');
      b.subscribe('t');
      await Promise.all([a.ready(), b.ready()]);

      a.publish('t', text('own'), false);
      await inboxB.count(1);
      // Redis pushed 'own' to every subscriber, A included, before it ran B's later PUBLISH; so
      // if A delivered its echo, it would be in A's inbox before B's message.
      b.publish('t', text('other'), false);
      await inboxA.count(1);
      expect(inboxA.texts()).to.deep.equal(['t:other']);
      expect(inboxB.texts()).to.deep.equal(['t:own']);
    });

    it('keeps each publisher\'s messages in order per topic (1,000 numbered messages on each of two topics)', async () => {
      const a = broker();
      const b = broker();
      const inbox = new Inbox(b);
      b.subscribe('odd');
      b.subscribe('even');
      await Promise.all([a.ready(), b.ready()]);

      for (let i = 0; i < 2000; i++) a.publish(i % 2 === 0 ? 'even' : 'odd', text(String(i)), false);
      await inbox.count(2000);
      const numbers = (topic: string): number[] =>
        inbox.messages.filter((m) => m.topic === topic).map((m) => Number(m.payload.toString()));
      expect(numbers('even')).to.deep.equal(Array.from({ length: 1000 }, (_, i) => 2 * i));
      expect(numbers('odd')).to.deep.equal(Array.from({ length: 1000 }, (_, i) => 2 * i + 1));
      await until(() => a.stats.pending === 0, 'the publishes to be acknowledged');
      expect(a.stats).to.include({ published: 2000, dropped: 0, pendingBytes: 0 });
      expect(b.stats.received).to.equal(2000);
    });

    it('carries payloads byte-exact with their text/binary flag, whatever the bytes', async () => {
      const a = broker();
      const b = broker();
      const inbox = new Inbox(b);
      b.subscribe('bin');
      await Promise.all([a.ready(), b.ready()]);

      const header = Buffer.concat([Buffer.from([1, 0]), a.id, text('lookalike')]);
      const payloads: Array<[Buffer, boolean]> = [
        [Buffer.alloc(0), true],
        [Buffer.alloc(0), false],
        [Buffer.from(Array.from({ length: 256 }, (_, i) => i)), true],
        [text('héllo €𝄞\r\n$3\r\n'), false],
        [header, true],
        [randomBytes(1024 * 1024), true],
      ];
      for (const [payload, isBinary] of payloads) a.publish('bin', payload, isBinary);
      await inbox.count(payloads.length);
      expect(inbox.messages.map((m) => m.isBinary)).to.deep.equal(payloads.map(([, isBinary]) => isBinary));
      inbox.messages.forEach((m, i) => {
        expect(m.payload.equals(payloads[i]![0]), `payload ${i}`).to.equal(true);
      });
    });

    it('stops delivering a topic after unsubscribe, and resumes after subscribing again', async () => {
      const a = broker();
      const b = broker();
      const inbox = new Inbox(b);
      b.subscribe('t');
      b.subscribe('sentinel');
      await Promise.all([a.ready(), b.ready()]);
      a.publish('t', text('before'), false);
      await inbox.count(1);

      b.unsubscribe('t');
      b.unsubscribe('t');
      await b.ready();
      expect(await subscribers('t', 'sentinel')).to.deep.equal([0, 1]);
      a.publish('t', text('while-unsubscribed'), false);
      a.publish('sentinel', text('1'), false);
      await inbox.count(2);

      b.subscribe('t');
      await b.ready();
      a.publish('t', text('after'), false);
      await inbox.count(3);
      expect(inbox.texts()).to.deep.equal(['t:before', 'sentinel:1', 't:after']);
    });

    it('ignores messages on its channels that are not in its format, and counts them', async () => {
      const a = broker();
      const b = broker();
      const inbox = new Inbox(b);
      b.subscribe('t');
      await Promise.all([a.ready(), b.ready()]);

      const raw = createClient({ url: shared.redis.url });
      raw.on('error', () => { /* the server is up for this test */ });
      await raw.connect();
      try {
        const junk = [
          Buffer.alloc(0),
          Buffer.from('plain text'),
          Buffer.concat([Buffer.from([2, 0]), randomBytes(16), text('future version')]),
          Buffer.concat([Buffer.from([1, 0x80]), randomBytes(16), text('unknown flag')]),
          Buffer.from([1, 1, 2, 3]),
        ];
        for (const message of junk) await raw.publish(`${shared.prefix}t`, message);
      } finally {
        raw.destroy();
      }
      a.publish('t', text('valid'), false);
      await inbox.count(1);
      expect(inbox.texts()).to.deep.equal(['t:valid']);
      expect(b.stats.malformed).to.equal(5);
    });

    it('keeps delivering when the handler throws, reporting the error', async () => {
      const a = broker();
      const b = broker();
      const seen: string[] = [];
      const errors: Error[] = [];
      b.on('error', (err) => { errors.push(err); });
      b.onMessage((_topic, payload) => {
        seen.push(payload.toString());
        if (seen.length === 1) throw new Error('handler bug');
      });
      b.subscribe('t');
      await Promise.all([a.ready(), b.ready()]);
      a.publish('t', text('1'), false);
      a.publish('t', text('2'), false);
      await until(() => seen.length === 2, 'both messages');
      expect(seen).to.deep.equal(['1', '2']);
      expect(errors.map((e) => e.message)).to.deep.equal(['handler bug']);
    });
  });

  describe('limits', () => {
    it('drops publishes beyond maxPendingPublishes unanswered PUBLISHes, at once and counted', async () => {
      const a = broker({ maxPendingPublishes: 10 });
      const b = broker();
      const inbox = new Inbox(b);
      b.subscribe('t');
      await Promise.all([a.ready(), b.ready()]);
      // Redis answers asynchronously, so within one synchronous loop every PUBLISH is pending.
      for (let i = 0; i < 50; i++) a.publish('t', text(String(i)), false);
      expect(a.stats).to.include({ pending: 10, dropped: 40, published: 0 });
      await inbox.count(10);
      await until(() => a.stats.pending === 0, 'the answers');
      expect(a.stats).to.include({ published: 10, dropped: 40 });
      expect(inbox.texts()).to.deep.equal(Array.from({ length: 10 }, (_, i) => `t:${i}`));
    });

    it('drops publishes that would take the pending bytes over maxPendingBytes', async () => {
      const header = 18;
      const a = broker({ maxPendingBytes: 3 * (header + 100) + header });
      await a.ready();
      for (let i = 0; i < 5; i++) a.publish('t', Buffer.alloc(100, i), true);
      expect(a.stats).to.include({ pending: 3, pendingBytes: 3 * (header + 100), dropped: 2 });
      // An empty message still fits in what is left: the bound is on bytes, not on a count.
      a.publish('t', Buffer.alloc(0), true);
      expect(a.stats).to.include({ pending: 4, dropped: 2 });
    });

    it('lets one message larger than maxPendingBytes through when nothing else is pending', async () => {
      const a = broker({ maxPendingBytes: 1024 });
      const b = broker();
      const inbox = new Inbox(b);
      b.subscribe('big');
      await Promise.all([a.ready(), b.ready()]);
      const big = randomBytes(64 * 1024);
      a.publish('big', big, true);
      a.publish('big', Buffer.alloc(1), true);
      expect(a.stats).to.include({ pending: 1, dropped: 1 });
      await inbox.count(1);
      expect(inbox.messages[0]!.payload.equals(big)).to.equal(true);
    });

    it('refuses invalid options with WS_ERR_INVALID_ARGUMENT', () => {
      const client = createClient({ url: shared.redis.url });
      expect(usageCode(() => new RedisBroker({ url: shared.redis.url, client }))).to.equal('WS_ERR_INVALID_ARGUMENT');
      expect(usageCode(() => new RedisBroker({ url: 'http://127.0.0.1:6379' }))).to.equal('WS_ERR_INVALID_ARGUMENT');
      expect(usageCode(() => new RedisBroker({ url: 'not a url' }))).to.equal('WS_ERR_INVALID_ARGUMENT');
      expect(usageCode(() => new RedisBroker({ maxPendingPublishes: 0 }))).to.equal('WS_ERR_INVALID_ARGUMENT');
      expect(usageCode(() => new RedisBroker({ maxPendingBytes: 1.5 }))).to.equal('WS_ERR_INVALID_ARGUMENT');
      expect(usageCode(() => new RedisBroker({ closeTimeout: -1 }))).to.equal('WS_ERR_INVALID_ARGUMENT');
      expect(usageCode(() => new RedisBroker({ prefix: 42 as unknown as string }))).to.equal('WS_ERR_INVALID_ARGUMENT');
    });

    it('drops a publish with a non-Buffer payload instead of throwing, and reports it', async () => {
      const a = broker();
      await a.ready();
      const errors: Error[] = [];
      a.on('error', (err) => { errors.push(err); });
      expect(() => { a.publish('t', 'not a buffer' as unknown as Buffer, false); }).not.to.throw();
      expect(a.stats.dropped).to.equal(1);
      expect(errors).to.have.length(1);
      expect((errors[0] as WebSocketUsageError).code).to.equal('WS_ERR_INVALID_ARGUMENT');
    });

    it('refuses a second handler (WS_ERR_INVALID_STATE) and a non-string topic (WS_ERR_INVALID_ARGUMENT)', () => {
      const a = broker();
      a.onMessage(() => undefined);
      expect(usageCode(() => { a.onMessage(() => undefined); })).to.equal('WS_ERR_INVALID_STATE');
      expect(usageCode(() => { a.subscribe(7 as unknown as string); })).to.equal('WS_ERR_INVALID_ARGUMENT');
    });
  });

  describe('outages', () => {
    it('drops publishes while Redis is down without throwing, then resumes delivery after a restart on its own', async () => {
      // No 'error' listener on purpose: an outage must not crash the process.
      const a = broker();
      const b = broker();
      const inbox = new Inbox(b);
      const statusB: boolean[] = [];
      b.on('status', (connected) => { statusB.push(connected); });
      b.subscribe('kept');
      b.subscribe('dropped-during-outage');
      await Promise.all([a.ready(), b.ready()]);
      a.publish('kept', text('before'), false);
      await inbox.count(1);

      await shared.redis.stop();
      await until(() => !a.connected && !b.connected, 'both brokers to notice the outage');
      const dropped = a.stats.dropped;
      for (let i = 0; i < 100; i++) a.publish('kept', text(`lost ${i}`), false);
      // Dropped synchronously: nothing is queued for later.
      expect(a.stats.dropped).to.equal(dropped + 100);
      expect(a.stats.pending).to.equal(0);
      // Subscription changes made during the outage take effect once Redis is back.
      b.subscribe('added-during-outage');
      b.unsubscribe('dropped-during-outage');

      await shared.redis.start();
      await Promise.all([a.ready(), b.ready()]);
      // node-redis re-subscribed what it knew; the broker's reconciliation fixed up the rest.
      expect(await subscribers('kept', 'dropped-during-outage', 'added-during-outage')).to.deep.equal([1, 0, 1]);
      a.publish('dropped-during-outage', text('no'), false);
      a.publish('kept', text('after'), false);
      a.publish('added-during-outage', text('new'), false);
      await inbox.count(3);
      expect(inbox.texts()).to.deep.equal(['kept:before', 'kept:after', 'added-during-outage:new']);
      expect(statusB).to.deep.equal([true, false, true]);
      expect(b.stats.disconnects).to.equal(1);
    });

    it('connects by itself when Redis starts after the broker', async () => {
      await shared.redis.stop();
      const a = broker();
      const b = broker();
      const inbox = new Inbox(b);
      b.subscribe('t');
      a.publish('t', text('too early'), false);
      expect(a.stats.dropped).to.equal(1);
      expect(a.connected).to.equal(false);

      await shared.redis.start();
      await Promise.all([a.ready(), b.ready()]);
      a.publish('t', text('on time'), false);
      await inbox.count(1);
      expect(inbox.texts()).to.deep.equal(['t:on time']);
    });

    it('closes promptly while Redis is down, rejecting pending ready() calls', async () => {
      const a = broker();
      await a.ready();
      await shared.redis.stop();
      await until(() => !a.connected, 'the outage to be noticed');
      const waiting = a.ready();
      await a.close();
      const error = await waiting.then(() => undefined, (err: unknown) => err);
      expect(error).to.be.instanceOf(WebSocketUsageError);
      expect((error as WebSocketUsageError).code).to.equal('WS_ERR_INVALID_STATE');
    });
  });

  describe('close', () => {
    it('waits for PUBLISHes already written, then drops later ones; closing twice is fine', async () => {
      const a = broker();
      const b = broker();
      const inbox = new Inbox(b);
      b.subscribe('t');
      await Promise.all([a.ready(), b.ready()]);
      a.publish('t', text('last words'), false);
      const closing = a.close();
      a.publish('t', text('too late'), false);
      await closing;
      await a.close();
      expect(a.connected).to.equal(false);
      expect(a.stats).to.include({ published: 1, dropped: 1, pending: 0 });
      await inbox.count(1);
      expect(inbox.texts()).to.deep.equal(['t:last words']);
      const error = await a.ready().then(() => undefined, (err: unknown) => err);
      expect((error as WebSocketUsageError).code).to.equal('WS_ERR_INVALID_STATE');
    });

    it('publishes through a client of the application\'s and leaves it open on close', async () => {
      const client = createClient({ url: shared.redis.url });
      client.on('error', () => { /* the application's own listener */ });
      await client.connect();
      try {
        const a = broker({ client, url: undefined });
        const b = broker();
        const inbox = new Inbox(b);
        b.subscribe('t');
        await Promise.all([a.ready(), b.ready()]);
        a.publish('t', text('via your client'), false);
        await inbox.count(1);
        await a.close();
        expect(client.isReady).to.equal(true);
        expect(await client.ping()).to.equal('PONG');
        expect(inbox.texts()).to.deep.equal(['t:via your client']);
      } finally {
        client.destroy();
      }
    });
  });

  describe('across processes', () => {
    it('delivers in order both ways between this process and a forked one', async () => {
      const a = broker();
      const inbox = new Inbox(a);
      a.subscribe('from-child');
      const child = peer();
      await child.call({ op: 'subscribe', topic: 'from-parent' });
      await Promise.all([a.ready(), child.call({ op: 'ready' })]);

      for (let i = 0; i < 1000; i++) a.publish('from-parent', text(String(i)), false);
      await child.count(1000);
      expect(child.messages.map((m) => m.payload.toString())).to.deep.equal(Array.from({ length: 1000 }, (_, i) => String(i)));
      expect(child.messages.every((m) => m.topic === 'from-parent' && !m.isBinary)).to.equal(true);

      const bytes = randomBytes(4096);
      await child.call({ op: 'publish', topic: 'from-child', payload: bytes.toString('base64'), isBinary: true });
      await child.call({ op: 'publishNumbered', topic: 'from-child', count: 500 });
      await inbox.count(501);
      expect(inbox.messages[0]!.isBinary).to.equal(true);
      expect(inbox.messages[0]!.payload.equals(bytes)).to.equal(true);
      expect(inbox.messages.slice(1).map((m) => m.payload.toString())).to.deep.equal(Array.from({ length: 500 }, (_, i) => String(i)));
    });

    it('lets a process exit by itself once its broker is closed (no socket or timer left)', async () => {
      const child = peer();
      await child.call({ op: 'subscribe', topic: 't' });
      await child.call({ op: 'ready' });
      await child.call({ op: 'publishNumbered', topic: 't', count: 10 });
      await child.call({ op: 'close' });
      expect(await within(child.exited(), 'the child to exit by itself')).to.equal(0);
    });

    it('lets a process exit by itself when its broker is closed during an outage', async () => {
      const child = peer();
      await child.call({ op: 'subscribe', topic: 't' });
      await child.call({ op: 'ready' });
      await shared.redis.stop();
      // The child is now between reconnection attempts, with a retry timer armed.
      await new Promise((resolve) => { setTimeout(resolve, 300); });
      await child.call({ op: 'close' });
      expect(await within(child.exited(), 'the child to exit by itself')).to.equal(0);
    });
  });

  describe('packaging', () => {
    /** Runs `code` in a fresh node from the package root and returns what it printed. */
    function inFreshNode(code: string): string {
      const result = spawnSync(process.execPath, ['-e', code], {
        cwd: path.join(__dirname, '..', '..', '..'), encoding: 'utf8', timeout: 30_000,
      });
      expect(result.status, result.stderr).to.equal(0);
      return result.stdout.trim();
    }

    it('is reachable as wsframe/redis, while loading wsframe alone never loads the redis package', () => {
      const loaded = "Object.keys(require.cache).filter((f) => /[\\\\/]node_modules[\\\\/](redis|@redis)[\\\\/]/.test(f)).length";
      expect(inFreshNode(`require('wsframe'); console.log(${loaded})`)).to.equal('0');
      expect(inFreshNode(`const r = require('wsframe/redis'); console.log(typeof r.RedisBroker, ${loaded} > 0)`))
        .to.equal('function true');
    });
  });

  it('exposes its status as events and a getter', async () => {
    const a = broker();
    const [connected] = await next(a, 'status');
    expect(connected).to.equal(true);
    expect(a.connected).to.equal(true);
  });
});
