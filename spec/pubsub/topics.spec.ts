/**
 * Topics (lib/pubsub/topics.ts): the registry driven directly over real sans-I/O sessions (their
 * output read back as frames), with extensions written here to check the grouping by shared
 * encoding; then WebSocketServer.publish and ws.subscribe over loopback with real clients (ours,
 * ws's, and a raw TCP client that stops reading).
 */
import { expect } from 'chai';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as zlib from 'node:zlib';
import { WebSocket as WsClient } from 'ws';
import {
  type Broker, type BrokerMessageHandler, connect, type ExtensionCallback, LocalBroker, type MessageExtension, PENDING,
  type Pending, ReadyState, resolveConnectionOptions, Session, type SessionHandler, type Subscriber, Topics,
  type TopicsOptions, type WebSocket, WebSocketProtocolError, WebSocketServer, WebSocketUsageError,
} from '../../lib/index';
import {
  closePayload, maskedFrame, next, rawConnect, type RawConnection, type RawFrame, RawFrameReader, within,
} from '../interop/helpers';

// --- Test doubles that are real components ------------------------------------------------------

/** A broker that records the registry's calls and lets the test deliver "remote" messages. */
class RecordingBroker implements Broker {
  readonly calls: string[] = [];
  readonly published: Array<{ topic: string; payload: Buffer; isBinary: boolean }> = [];
  handler: BrokerMessageHandler | undefined;

  publish(topic: string, payload: Buffer, isBinary: boolean): void {
    this.published.push({ topic, payload, isBinary });
  }

  subscribe(topic: string): void {
    this.calls.push(`+${topic}`);
  }

  unsubscribe(topic: string): void {
    this.calls.push(`-${topic}`);
  }

  onMessage(handler: BrokerMessageHandler | undefined): void {
    this.handler = handler;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * An extension that "encodes" by reversing the payload's bytes (so the output shows it was applied)
 * and counts its calls. With `key`, it declares a shared encoding; with `later`, it answers through
 * the callback on the next turn; with `threshold`, shorter payloads go out unencoded.
 */
class ReversingExtension implements MessageExtension {
  readonly name = 'x-reverse';
  readonly rsvBits = 0x40;
  encodes = 0;
  /** With `later`: the callbacks not yet called, in order ({@link finish} calls them). */
  private waiting: Array<() => void> = [];

  constructor(readonly sharedEncoding: string | undefined, private readonly options: { later?: boolean; threshold?: number } = {}) {}

  encode(payload: Uint8Array | string, _isText: boolean, callback: ExtensionCallback): Buffer | undefined | Pending {
    this.encodes++;
    if (Buffer.byteLength(payload) < (this.options.threshold ?? 0)) return undefined;
    const out = Buffer.from(payload).reverse();
    if (this.options.later === true) {
      this.waiting.push(() => { callback(null, out); });
      return PENDING;
    }
    return out;
  }

  /** With `later`: the encodings under way complete now. */
  finish(): void {
    for (const done of this.waiting.splice(0)) done();
  }

  decode(): Buffer | undefined {
    throw new Error('not used: these sessions receive nothing');
  }

  maxEncodedSize(maxSize: number): number {
    return maxSize;
  }

  close(): void {
    // Nothing held.
  }
}

const SERVER_CONFIG = resolveConnectionOptions({ heartbeatInterval: 0 }, 'server');

/** A real Session as the registry sees a connection; its output is read back as frames. */
class SessionSubscriber implements Subscriber, SessionHandler {
  readonly session: Session;
  readonly frames: RawFrame[] = [];
  /** Every chunk handed out, to check that subscribers share the same Buffers. */
  readonly chunks: Buffer[] = [];
  /** What the transport still holds: bytes flushed while {@link stalled} (a reader that stopped reading). */
  held = 0;
  /** The peer stopped reading: flushed chunks stay with the transport. */
  stalled = false;
  private stuck: Buffer[] = [];
  errors: Error[] = [];
  private readonly reader = new RawFrameReader();

  constructor(readonly messageExtension: MessageExtension | undefined = undefined, config = SERVER_CONFIG) {
    this.session = new Session(config, this, messageExtension);
  }

  // Subscriber
  publishSession(): Session | undefined {
    return this.session.readyState === ReadyState.OPEN ? this.session : undefined;
  }

  backlog(): number {
    return this.held;
  }

  publishQueued(): boolean {
    return true;
  }

  flushNow(): void {
    this.session.outbox.flushTo({
      chunk: (chunk) => {
        if (this.stalled) {
          this.stuck.push(chunk);
          this.held += chunk.length;
        } else {
          this.take(chunk);
        }
      },
      written: (callback) => { callback(); },
    });
  }

  /** The peer reads again: what the transport held arrives. */
  resume(): void {
    this.stalled = false;
    this.held = 0;
    for (const chunk of this.stuck.splice(0)) this.take(chunk);
  }

  private take(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.frames.push(...this.reader.push(chunk));
  }

  /** The data messages written so far, as strings. */
  texts(): string[] {
    return this.frames.filter((f) => f.opcode === 0x1 || f.opcode === 0x2).map((f) => f.payload.toString());
  }

  // SessionHandler: these sessions only send.
  onMessage(): void { /* nothing arrives */ }
  onStreamStart(): void { /* idem */ }
  onStreamData(): void { /* idem */ }
  onStreamEnd(): void { /* idem */ }
  onPing(): void { /* idem */ }
  onPong(): void { /* idem */ }
  onError(error: Error): void { this.errors.push(error); }
  wake(): void { /* the test flushes */ }
}

function registry(options: Partial<TopicsOptions<SessionSubscriber>> = {}): Topics<SessionSubscriber> {
  return new Topics<SessionSubscriber>({ broker: new LocalBroker(), fragmentSize: Infinity, onError: () => undefined, ...options });
}

/** Waits for the registry's flush at the end of the event loop's turn (a setImmediate). */
function tick(): Promise<void> {
  return new Promise((resolve) => { setImmediate(resolve); });
}

function usageError(action: () => unknown): WebSocketUsageError {
  try {
    action();
  } catch (err) {
    expect(err).to.be.instanceOf(WebSocketUsageError);
    return err as WebSocketUsageError;
  }
  throw new Error('expected a WebSocketUsageError');
}

// --- The registry, sans-I/O ---------------------------------------------------------------------

describe('pubsub/topics', () => {
  describe('fan-out', () => {
    it('serializes a publish once: every subscriber is handed the very same bytes', async () => {
      const topics = registry();
      const subs = [new SessionSubscriber(), new SessionSubscriber(), new SessionSubscriber()];
      for (const s of subs) topics.subscribe(s, 'news');
      expect(topics.publish('news', 'hello', false)).to.equal(3);
      expect(topics.publish('news', Buffer.from([1, 2, 3]), true)).to.equal(3);
      await tick();
      for (const s of subs) {
        expect(s.frames.map((f) => [f.opcode, f.fin, f.payload.toString('hex')])).to.deep.equal([[0x1, true, '68656c6c6f'], [0x2, true, '010203']]);
        expect(s.chunks[0], 'the text frame is one shared Buffer').to.equal(subs[0].chunks[0]);
      }
    });

    it('shares a large payload without copying it: the header, then the publisher\'s own Buffer', async () => {
      const topics = registry();
      const subs = [new SessionSubscriber(), new SessionSubscriber()];
      for (const s of subs) topics.subscribe(s, 'big');
      const payload = Buffer.alloc(70_000, 7);
      topics.publish('big', payload, true);
      await tick();
      for (const s of subs) {
        expect(s.chunks.some((chunk) => chunk === payload)).to.equal(true);
        expect(s.frames).to.have.length(1);
        expect(s.frames[0].payload.equals(payload)).to.equal(true);
      }
    });

    it('reaches only OPEN subscribers and says how many it reached', async () => {
      const topics = registry();
      const open = new SessionSubscriber();
      const closing = new SessionSubscriber();
      topics.subscribe(open, 't');
      topics.subscribe(closing, 't');
      closing.session.close(1000);
      closing.flushNow();
      expect(topics.publish('t', 'only the open one', false)).to.equal(1);
      await tick();
      expect(open.texts()).to.deep.equal(['only the open one']);
      expect(closing.texts()).to.deep.equal([]);
      expect(topics.stats.delivered).to.equal(1);
    });

    it('delivers nothing to a topic without subscribers, and nothing published before a subscribe', async () => {
      const topics = registry();
      const late = new SessionSubscriber();
      expect(topics.publish('t', 'early', false)).to.equal(0);
      topics.subscribe(late, 't');
      topics.publish('t', 'late', false);
      await tick();
      expect(late.texts()).to.deep.equal(['late']);
    });

    it('keeps every subscriber\'s messages in publish order across topics and bursts', async () => {
      const topics = registry();
      const both = new SessionSubscriber();
      const onlyA = new SessionSubscriber();
      topics.subscribe(both, 'a');
      topics.subscribe(both, 'b');
      topics.subscribe(onlyA, 'a');
      for (let i = 0; i < 50; i++) topics.publish(i % 3 === 0 ? 'b' : 'a', `m${i}`, false);
      await tick();
      expect(both.texts()).to.deep.equal(Array.from({ length: 50 }, (_, i) => `m${i}`));
      expect(onlyA.texts()).to.deep.equal(Array.from({ length: 50 }, (_, i) => i).filter((i) => i % 3 !== 0).map((i) => `m${i}`));
    });

    it('fragments by fragmentSize, with the extension\'s bits on the first frame only (RFC 6455 §5.4)', async () => {
      const topics = registry({ fragmentSize: 4 });
      const plain = new SessionSubscriber();
      const shared = new SessionSubscriber(new ReversingExtension('k'));
      topics.subscribe(plain, 't');
      topics.subscribe(shared, 't');
      topics.publish('t', 'abcdefghij', false);
      await tick();
      expect(plain.frames.map((f) => [f.opcode, f.fin, f.payload.toString()])).to.deep.equal([
        [0x1, false, 'abcd'], [0x0, false, 'efgh'], [0x0, true, 'ij'],
      ]);
      // The raw reader drops RSV bits: read them from the first chunk's first byte.
      expect(shared.chunks[0][0] & 0x70).to.equal(0x40);
      expect(shared.chunks.slice(1).every((chunk) => (chunk[0] & 0x70) === 0)).to.equal(true);
      expect(Buffer.concat(shared.frames.map((f) => f.payload)).toString()).to.equal('jihgfedcba');
    });

    it('refuses text that is not valid UTF-8 (RFC 6455 §8.1) and data that is not a string or bytes', () => {
      const topics = registry();
      expect(usageError(() => topics.publish('t', Buffer.from([0xff, 0xfe]), false)).code).to.equal('WS_ERR_INVALID_ARGUMENT');
      expect(usageError(() => topics.publish('t', 42 as unknown as string, false)).code).to.equal('WS_ERR_INVALID_ARGUMENT');
      expect(usageError(() => topics.publish(7 as unknown as string, 'x', false)).code).to.equal('WS_ERR_INVALID_ARGUMENT');
      expect(topics.publish('t', Buffer.from([0xff, 0xfe]), true)).to.equal(0);
    });
  });

  describe('subscriptions and the broker', () => {
    it('subscribes the broker on a topic\'s first local subscriber and unsubscribes it when the last leaves', () => {
      const broker = new RecordingBroker();
      const topics = registry({ broker });
      const a = new SessionSubscriber();
      const b = new SessionSubscriber();
      expect(topics.subscribe(a, 'x')).to.equal(true);
      expect(topics.subscribe(a, 'x')).to.equal(false);
      topics.subscribe(b, 'x');
      topics.subscribe(b, 'y');
      expect(topics.unsubscribe(a, 'x')).to.equal(true);
      expect(topics.unsubscribe(a, 'x')).to.equal(false);
      expect(broker.calls).to.deep.equal(['+x', '+y']);
      topics.unsubscribeAll(b);
      expect(broker.calls).to.deep.equal(['+x', '+y', '-x', '-y']);
      expect(topics.topicCount).to.equal(0);
      expect([...topics.topicsOf(b)]).to.deep.equal([]);
    });

    it('publishes to the broker with or without local subscribers, and fans remote messages out locally only', async () => {
      const broker = new RecordingBroker();
      const topics = registry({ broker });
      const sub = new SessionSubscriber();
      topics.publish('nobody-here', 'to the others', false);
      topics.subscribe(sub, 't');
      expect(topics.deliver('t', Buffer.from('from elsewhere'), false)).to.equal(1);
      await tick();
      expect(sub.texts()).to.deep.equal(['from elsewhere']);
      expect(broker.published.map((m) => `${m.topic}:${m.payload.toString()}`)).to.deep.equal(['nobody-here:to the others']);
      expect(topics.stats).to.include({ published: 1, received: 1 });
    });

    it('does not deliver a broker message that arrives after the last local subscriber left', async () => {
      const broker = new RecordingBroker();
      const topics = registry({ broker });
      const gone = new SessionSubscriber();
      const other = new SessionSubscriber();
      topics.subscribe(gone, 't');
      topics.subscribe(other, 'u');
      topics.unsubscribe(gone, 't');
      // The broker's UNSUBSCRIBE may still be in flight: a message for 't' can arrive meanwhile.
      expect(topics.deliver('t', Buffer.from('late'), false)).to.equal(0);
      await tick();
      expect(gone.frames).to.deep.equal([]);
      expect(other.frames).to.deep.equal([]);
      expect(broker.calls).to.deep.equal(['+t', '+u', '-t']);
    });

    it('drops (and counts) text from the broker that is not valid UTF-8', async () => {
      const topics = registry();
      const sub = new SessionSubscriber();
      topics.subscribe(sub, 't');
      expect(topics.deliver('t', Buffer.from([0xc3]), false)).to.equal(0);
      await tick();
      expect(sub.frames).to.deep.equal([]);
      expect(topics.stats.malformed).to.equal(1);
    });

    it('checks its options', () => {
      expect(usageError(() => registry({ maxSubscriberBuffer: 0 })).code).to.equal('WS_ERR_INVALID_ARGUMENT');
      expect(usageError(() => registry({ maxSubscriberBuffer: 1.5 })).code).to.equal('WS_ERR_INVALID_ARGUMENT');
      expect(usageError(() => registry({ slowSubscriber: 'ignore' as 'drop' })).code).to.equal('WS_ERR_INVALID_ARGUMENT');
      expect(usageError(() => registry({ broker: {} as Broker })).code).to.equal('WS_ERR_INVALID_ARGUMENT');
      expect(usageError(() => registry().subscribe(new SessionSubscriber(), 5 as unknown as string)).code).to.equal('WS_ERR_INVALID_ARGUMENT');
    });
  });

  describe('extensions', () => {
    it('encodes once per shared encoding key; extensions with context encode each for themselves', async () => {
      const topics = registry();
      const a = [new ReversingExtension('A'), new ReversingExtension('A'), new ReversingExtension('A')];
      const b = [new ReversingExtension('B'), new ReversingExtension('B')];
      const own = [new ReversingExtension(undefined), new ReversingExtension(undefined)];
      const subs = [...a, ...b, ...own].map((ext) => new SessionSubscriber(ext));
      const plain = new SessionSubscriber();
      for (const s of [...subs, plain]) topics.subscribe(s, 't');
      topics.publish('t', 'abc', false);
      await tick();
      expect(a.reduce((n, e) => n + e.encodes, 0), 'key A').to.equal(1);
      expect(b.reduce((n, e) => n + e.encodes, 0), 'key B').to.equal(1);
      expect(own.map((e) => e.encodes), 'each with its own context').to.deep.equal([1, 1]);
      for (const s of subs) {
        expect(s.texts()).to.deep.equal(['cba']);
        expect(s.chunks[0][0] & 0x40, 'RSV1 marks the encoded message').to.equal(0x40);
      }
      expect(subs[1].chunks[0], 'one encoding shared within a key').to.equal(subs[0].chunks[0]);
      expect(subs[3].chunks[0]).to.equal(subs[4].chunks[0]);
      expect(subs[3].chunks[0]).to.not.equal(subs[0].chunks[0]);
      expect(plain.texts()).to.deep.equal(['abc']);
      expect(plain.chunks[0][0] & 0x40).to.equal(0);
    });

    it('sends the plain frame to a shared group whose extension declines a short message', async () => {
      const topics = registry();
      const subs = [new SessionSubscriber(new ReversingExtension('A', { threshold: 10 })), new SessionSubscriber()];
      for (const s of subs) topics.subscribe(s, 't');
      topics.publish('t', 'short', false);
      await tick();
      expect(subs[0].chunks[0]).to.equal(subs[1].chunks[0]);
      expect(subs[0].texts()).to.deep.equal(['short']);
    });

    it('holds each subscriber\'s place while a shared encoding finishes later', async () => {
      const topics = registry();
      const exts = [new ReversingExtension('L', { later: true }), new ReversingExtension('L', { later: true })];
      const subs = exts.map((ext) => new SessionSubscriber(ext));
      for (const s of subs) topics.subscribe(s, 't');
      topics.publish('t', 'first', false);
      topics.publish('t', 'second', false);
      await tick();
      // Nothing may pass a message that is still being encoded.
      for (const s of subs) expect(s.texts()).to.deep.equal([]);
      for (const ext of exts) ext.finish();
      for (const s of subs) {
        s.flushNow();
        expect(s.texts()).to.deep.equal(['tsrif', 'dnoces']);
      }
      expect(exts.reduce((n, e) => n + e.encodes, 0), 'once per message for the key').to.equal(2);
    });
  });

  describe('slow subscribers', () => {
    const LIMIT = 4096;
    const MESSAGE = 'm'.repeat(1000);

    /** A subscriber whose transport holds `held` bytes and a second one that keeps up. */
    function setup(policy: TopicsOptions<SessionSubscriber>['slowSubscriber'], errors: Error[] = []): { topics: Topics<SessionSubscriber>; slow: SessionSubscriber; fast: SessionSubscriber } {
      const topics = registry({ maxSubscriberBuffer: LIMIT, slowSubscriber: policy, onError: (e) => { errors.push(e); } });
      const slow = new SessionSubscriber();
      const fast = new SessionSubscriber();
      slow.stalled = true;
      topics.subscribe(slow, 't');
      topics.subscribe(fast, 't');
      return { topics, slow, fast };
    }

    /**
     * Publishes `n` messages, both queues flushed after each (the slow one into a transport that
     * holds it); returns the most memory held for the slow one (its queue and its transport's).
     */
    function publishMany(topics: Topics<SessionSubscriber>, slow: SessionSubscriber, fast: SessionSubscriber, n: number): number {
      let most = 0;
      for (let i = 0; i < n; i++) {
        topics.publish('t', MESSAGE, false);
        most = Math.max(most, slow.session.outbox.memory + slow.held);
        fast.flushNow();
        slow.flushNow();
        most = Math.max(most, slow.session.outbox.memory + slow.held);
      }
      return most;
    }

    it('closes it with 1008 by default, after what was already queued, and never holds more than the bound', () => {
      const { topics, slow, fast } = setup(undefined);
      const most = publishMany(topics, slow, fast, 20);
      // The bound, plus the close frame queued behind it.
      expect(most).to.be.at.most(LIMIT + 200);
      expect(slow.session.readyState).to.equal(ReadyState.CLOSING);
      expect(slow.errors[0]).to.be.instanceOf(WebSocketProtocolError);
      expect((slow.errors[0] as WebSocketProtocolError).code).to.equal('WS_ERR_SLOW_CONSUMER');
      slow.flushNow();
      slow.resume();
      const close = slow.frames.find((f) => f.opcode === 0x8);
      expect(close?.payload.readUInt16BE(0)).to.equal(1008);
      expect(slow.texts().length).to.be.within(1, 19);
      expect(fast.texts()).to.have.length(20);
      expect(topics.stats.closed).to.equal(1);
    });

    it('drops messages for it with \'drop\', counting them, and delivers again once its queue drained', () => {
      const { topics, slow, fast } = setup('drop');
      const most = publishMany(topics, slow, fast, 20);
      expect(most).to.be.at.most(LIMIT);
      slow.resume();
      const queued = slow.texts().length;
      expect(queued).to.be.within(1, Math.floor(LIMIT / MESSAGE.length));
      expect(topics.droppedFor(slow)).to.equal(20 - queued);
      expect(topics.stats.dropped).to.equal(20 - queued);
      expect(fast.texts()).to.have.length(20);
      topics.publish('t', 'after the drain', false);
      slow.flushNow();
      expect(slow.texts().at(-1)).to.equal('after the drain');
      expect(slow.session.readyState).to.equal(ReadyState.OPEN);
    });

    it('calls the policy function instead of queuing, after the fan-out, and reports what it throws', () => {
      const calls: Array<[SessionSubscriber, string, string, boolean]> = [];
      const errors: Error[] = [];
      const { topics, slow, fast } = setup((ws, topic, data, isBinary) => {
        calls.push([ws, topic, data.toString(), isBinary]);
        throw new Error('policy failed');
      }, errors);
      publishMany(topics, slow, fast, 10);
      expect(calls.length).to.be.within(1, 9);
      expect(calls[0]).to.deep.equal([slow, 't', MESSAGE, false]);
      expect(errors.map((e) => e.message)).to.deep.equal(calls.map(() => 'policy failed'));
      expect(fast.texts()).to.have.length(10);
      expect(topics.stats.handled).to.equal(calls.length);
    });

    it('counts what its transport holds toward the bound', () => {
      const { topics, slow, fast } = setup('drop');
      slow.held = LIMIT - 10;
      topics.publish('t', MESSAGE, false);
      expect(topics.droppedFor(slow)).to.equal(1);
      expect(fast.session.outbox.bytes).to.be.above(0);
    });

    it('still sends a message larger than the bound to a subscriber whose queue is empty', () => {
      const { topics, slow, fast } = setup('drop');
      expect(topics.publish('t', 'x'.repeat(LIMIT * 2), false)).to.equal(2);
      slow.flushNow();
      fast.flushNow();
      expect(topics.publish('t', 'y', false)).to.equal(1);
      fast.flushNow();
      slow.resume();
      expect(slow.texts().map((t) => t.length)).to.deep.equal([LIMIT * 2]);
      expect(fast.texts().map((t) => t.length)).to.deep.equal([LIMIT * 2, 1]);
    });

    it('counts messages waiting behind a streamed message toward the bound, and sends them after it', () => {
      const { topics, slow } = setup('drop');
      slow.stalled = false;
      slow.session.sendStreamStart(false);
      slow.session.sendStreamChunk('stream ');
      for (let i = 0; i < 10; i++) topics.publish('t', MESSAGE, false);
      const waiting = 10 - topics.droppedFor(slow);
      expect(waiting).to.be.within(1, Math.floor(LIMIT / 1000));
      slow.session.sendStreamEnd();
      slow.flushNow();
      expect(slow.frames.map((f) => f.opcode)).to.deep.equal([0x1, 0x0, ...Array.from({ length: waiting }, () => 0x1)]);
    });
  });
});

// --- Over loopback ------------------------------------------------------------------------------

describe('WebSocketServer topics', () => {
  let wss: WebSocketServer;
  let url: string;
  const cleanup: Array<() => unknown> = [];

  async function server(options: Partial<ConstructorParameters<typeof WebSocketServer>[0]> = {}): Promise<WebSocketServer> {
    wss = new WebSocketServer({ port: 0, heartbeatInterval: 0, ...options });
    await once(wss, 'listening');
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    return wss;
  }

  /** The next `n` connections the server accepts, each subscribed to `topics`. */
  function accepted(n: number, topics: string[]): Promise<WebSocket[]> {
    return within(new Promise((resolve) => {
      const list: WebSocket[] = [];
      const onConnection = (ws: WebSocket): void => {
        for (const topic of topics) ws.subscribe(topic);
        list.push(ws);
        if (list.length === n) {
          wss.off('connection', onConnection);
          resolve(list);
        }
      };
      wss.on('connection', onConnection);
    }), `${n} connections`);
  }

  async function client(): Promise<WebSocket> {
    const ws = await within(connect(url), 'connect()');
    cleanup.push(() => { ws.terminate(); });
    return ws;
  }

  function messages(ws: WebSocket | WsClient, n: number): Promise<Array<[string | Buffer, boolean]>> {
    return within(new Promise((resolve) => {
      const got: Array<[string | Buffer, boolean]> = [];
      // Both classes are EventEmitters; their typed overloads do not unite into one callable type.
      const emitter: NodeJS.EventEmitter = ws;
      const onMessage = (data: string | Buffer, isBinary: boolean): void => {
        got.push([data, isBinary]);
        if (got.length === n) {
          emitter.off('message', onMessage);
          resolve(got);
        }
      };
      emitter.on('message', onMessage);
    }), `${n} messages`);
  }

  afterEach(async () => {
    for (const step of cleanup.splice(0)) await step();
    if (wss !== undefined) await within(wss.close(), 'the server to close');
  });

  it('subscribes, publishes text and binary to every subscriber, and unsubscribes', async () => {
    await server();
    const serverSide = accepted(2, ['news']);
    const [a, b] = [await client(), await client()];
    const [sa] = await serverSide;
    expect([...sa.topics]).to.deep.equal(['news']);
    const gotA = messages(a, 2);
    const gotB = messages(b, 2);
    expect(wss.publish('news', 'headline')).to.equal(2);
    expect(wss.publish('news', Buffer.from([0, 1, 2]))).to.equal(2);
    for (const got of [await gotA, await gotB]) {
      expect(got[0]).to.deep.equal(['headline', false]);
      expect(got[1][1]).to.equal(true);
      expect(Buffer.compare(got[1][0] as Buffer, Buffer.from([0, 1, 2]))).to.equal(0);
    }
    expect(sa.unsubscribe('news')).to.equal(true);
    expect(sa.topics.size).to.equal(0);
    const laterB = messages(b, 1);
    expect(wss.publish('news', 'only b')).to.equal(1);
    expect(await laterB).to.deep.equal([['only b', false]]);
    expect(wss.pubsubStats).to.include({ published: 3, delivered: 5 });
  });

  it('lets a connection leave all its topics when it closes, and the broker hear of it', async () => {
    const broker = new RecordingBroker();
    await server({ broker });
    const serverSide = accepted(1, ['a', 'b']);
    const c = await client();
    const [s] = await serverSide;
    expect(wss.subscriberCount('a')).to.equal(1);
    const closed = next(s, 'close');
    c.close(1000);
    await closed;
    expect(wss.subscriberCount('a')).to.equal(0);
    expect(wss.subscriberCount('b')).to.equal(0);
    expect(s.topics.size).to.equal(0);
    expect(s.subscribe('c')).to.equal(false);
    expect(broker.calls).to.deep.equal(['+a', '+b', '-a', '-b']);
  });

  it('delivers a broker\'s messages from other processes to local subscribers', async () => {
    const broker = new RecordingBroker();
    await server({ broker });
    const serverSide = accepted(1, ['remote']);
    const c = await client();
    await serverSide;
    const got = messages(c, 2);
    broker.handler?.('remote', Buffer.from('hi from afar'), false);
    broker.handler?.('remote', Buffer.from([9, 9]), true);
    const [[text, isText], [bytes, isBinary]] = await got;
    expect([text, isText]).to.deep.equal(['hi from afar', false]);
    expect(isBinary).to.equal(true);
    expect([...(bytes as Buffer)]).to.deep.equal([9, 9]);
    expect(broker.published).to.deep.equal([]);
  });

  it('refuses a broker that already serves another server, and frees it on close', async () => {
    const shared = new LocalBroker();
    const first = new WebSocketServer({ noServer: true, broker: shared });
    expect(usageError(() => new WebSocketServer({ noServer: true, broker: shared })).code).to.equal('WS_ERR_INVALID_STATE');
    await first.close();
    const second = new WebSocketServer({ noServer: true, broker: shared });
    await second.close();
    expect(usageError(() => new WebSocketServer({ noServer: true, slowSubscriber: 'kick' as 'drop' })).code).to.equal('WS_ERR_INVALID_ARGUMENT');
    expect(usageError(() => new WebSocketServer({ noServer: true, maxSubscriberBuffer: -1 })).code).to.equal('WS_ERR_INVALID_ARGUMENT');
  });

  it('gives connections opened by connect() no topics', async () => {
    await server();
    const c = await client();
    expect(usageError(() => c.subscribe('x')).code).to.equal('WS_ERR_INVALID_STATE');
    expect(c.topics.size).to.equal(0);
  });

  it('stops delivering to a connection that unsubscribes or closes between publishes of one burst', async () => {
    await server();
    const serverSide = accepted(3, ['t', 'marker']);
    const [a, b, c] = [await client(), await client(), await client()];
    const [sa, sb] = await serverSide;
    const gotC = messages(c, 6);
    const gotA = messages(a, 4);
    const gotB: string[] = [];
    b.on('message', (d: string | Buffer) => { gotB.push(String(d)); });
    const bClosed = next(b, 'close');
    for (let i = 0; i < 6; i++) {
      if (i === 3) {
        sa.unsubscribe('t');
        sb.close(1000, 'leaving');
      }
      wss.publish('t', `m${i}`);
    }
    // Each connection gets its messages in publish order: the marker after every 't' message it
    // was given, so a's list ends at the marker.
    wss.publish('marker', 'end');
    expect((await gotA).map(([d]) => d)).to.deep.equal(['m0', 'm1', 'm2', 'end']);
    expect((await gotC).map(([d]) => d)).to.deep.equal(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    const [code] = await bClosed;
    expect(code).to.equal(1000);
    // What was queued before the close frame, and nothing after it.
    expect(gotB).to.deep.equal(['m0', 'm1', 'm2']);
  });

  describe('compression', () => {
    const TEXT = JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })));

    it('compresses once for subscribers without context takeover and each gets the message intact', async () => {
      await server({ perMessageDeflate: { serverNoContextTakeover: true, threshold: 0 } });
      const serverSide = accepted(3, ['z']);
      const clients = [
        new WsClient(url, { perMessageDeflate: true }),
        new WsClient(url, { perMessageDeflate: { serverNoContextTakeover: true } }),
        new WsClient(url, { perMessageDeflate: false }),
      ];
      for (const c of clients) cleanup.push(() => { c.terminate(); });
      await Promise.all(clients.map((c) => once(c, 'open')));
      const subs = await serverSide;
      expect(subs.map((s) => s.extensions === '')).to.deep.equal([false, false, true]);
      const got = clients.map((c) => messages(c, 3));
      for (let i = 0; i < 3; i++) wss.publish('z', `${i}:${TEXT}`);
      for (const list of await Promise.all(got)) {
        expect(list.map(([d, isBinary]) => [String(d), isBinary])).to.deep.equal([0, 1, 2].map((i) => [`${i}:${TEXT}`, false]));
      }
    });

    it('compresses for each subscriber in its own order when the server keeps a context', async () => {
      await server({ perMessageDeflate: { threshold: 0 } });
      const serverSide = accepted(3, ['z']);
      // The third asks for no server context takeover: it alone may share an encoding.
      const clients = [
        new WsClient(url, { perMessageDeflate: true }),
        new WsClient(url, { perMessageDeflate: true }),
        new WsClient(url, { perMessageDeflate: { serverNoContextTakeover: true } }),
      ];
      for (const c of clients) cleanup.push(() => { c.terminate(); });
      await Promise.all(clients.map((c) => once(c, 'open')));
      const subs = await serverSide;
      expect(subs.map((s) => s.extensions.includes('server_no_context_takeover'))).to.deep.equal([false, false, true]);
      const got = clients.map((c) => messages(c, 5));
      // The same text five times: with context takeover the later ones refer back to the first.
      for (let i = 0; i < 5; i++) wss.publish('z', TEXT);
      for (const list of await Promise.all(got)) expect(list.map(([d]) => String(d))).to.deep.equal(Array.from({ length: 5 }, () => TEXT));
      for (const c of clients) expect(c.readyState).to.equal(WsClient.OPEN);
    });

    it('marks the compressed frames with RSV1 and sends bytes that inflate to the message (RFC 7692 §6)', async () => {
      await server({ perMessageDeflate: { serverNoContextTakeover: true, threshold: 0 } });
      const serverSide = accepted(1, ['z']);
      const raw = await rawConnect(Number(new URL(url).port), '/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
      cleanup.push(() => { raw.socket.destroy(); });
      await serverSide;
      const frames = readFrames(raw, 1);
      wss.publish('z', TEXT);
      const [frame] = await frames;
      expect(frame.first & 0x40).to.equal(0x40);
      // RFC 7692 §7.2.2: the receiver appends 00 00 ff ff and inflates with a sync flush.
      const inflated = zlib.inflateRawSync(Buffer.concat([frame.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      expect(inflated.toString()).to.equal(TEXT);
    });
  });

  describe('a subscriber that stops reading', () => {
    const LIMIT = 256 * 1024;
    const MESSAGE = 'x'.repeat(16 * 1024);

    /**
     * Connects a raw client that never reads and a reading one; publishes until the server stops
     * queuing for the stuck one (or `max` messages); returns the most memory the server held for
     * it at any point.
     */
    async function stall(max: number): Promise<{ stuck: RawConnection; stuckServer: WebSocket; reader: WebSocket; most: number; sent: number }> {
      const port = Number(new URL(url).port);
      const stuckSide = accepted(1, ['t']);
      const stuck = await rawConnect(port, '/');
      cleanup.push(() => { stuck.socket.destroy(); });
      const [stuckServer] = await stuckSide;
      const readerSide = accepted(1, ['t']);
      const reader = await client();
      await readerSide;
      let most = 0;
      let sent = 0;
      // One message at a time, each read by the reader before the next: only the stuck queue grows.
      for (; sent < max && stuckServer.readyState === ReadyState.OPEN; sent++) {
        const arrived = messages(reader, 1);
        wss.publish('t', MESSAGE);
        await arrived;
        most = Math.max(most, stuckServer.bufferedAmount);
        if (wss.pubsubStats.dropped + wss.pubsubStats.handled > 0) break;
      }
      return { stuck, stuckServer, reader, most, sent };
    }

    /** Everything the raw client receives once it reads again, until its connection ends. */
    function drain(stuck: RawConnection): Promise<RawFrame[]> {
      const reader = new RawFrameReader();
      const frames: RawFrame[] = [];
      return within(new Promise((resolve) => {
        const onFrames = (list: RawFrame[]): void => {
          for (const frame of list) {
            frames.push(frame);
            if (frame.opcode === 0x8) stuck.socket.write(maskedFrame(0x8, closePayload(frame.payload.readUInt16BE(0))));
          }
        };
        onFrames(reader.push(stuck.rest));
        stuck.socket.on('data', (chunk: Buffer) => { onFrames(reader.push(chunk)); });
        stuck.socket.on('error', () => { /* a reset ends it too */ });
        stuck.socket.on('close', () => { resolve(frames); });
        stuck.socket.resume();
      }), 'the stuck client\'s connection to end', 30_000);
    }

    // The kernel's socket buffers absorb some megabytes before anything waits in the server.
    const MAX_MESSAGES = 2000;

    it('is closed with 1008 by default once the bound is reached; the memory held for it stays under the bound', async () => {
      await server({ maxSubscriberBuffer: LIMIT });
      const { stuck, stuckServer, reader, most, sent } = await stall(MAX_MESSAGES);
      expect(stuckServer.readyState, `still open after ${sent} messages`).to.not.equal(ReadyState.OPEN);
      expect(most).to.be.at.most(LIMIT + MESSAGE.length);
      const closed = next(stuckServer, 'close', 30_000);
      const frames = await drain(stuck);
      const [code] = await closed;
      expect(code).to.equal(1008);
      expect(frames.at(-1)?.opcode).to.equal(0x8);
      expect(frames.at(-1)?.payload.readUInt16BE(0)).to.equal(1008);
      const data = frames.filter((f) => f.opcode === 0x1);
      expect(data.length).to.be.below(sent);
      expect(data.every((f) => f.payload.toString() === MESSAGE)).to.equal(true);
      expect(wss.pubsubStats.closed).to.equal(1);
      expect(reader.readyState).to.equal(ReadyState.OPEN);
    });

    it('keeps it open and counts the dropped messages with \'drop\'', async () => {
      await server({ maxSubscriberBuffer: LIMIT, slowSubscriber: 'drop' });
      const { stuckServer, reader, most } = await stall(MAX_MESSAGES);
      expect(wss.pubsubStats.dropped).to.be.above(0);
      for (let i = 0; i < 20; i++) {
        const arrived = messages(reader, 1);
        wss.publish('t', MESSAGE);
        await arrived;
      }
      expect(stuckServer.readyState).to.equal(ReadyState.OPEN);
      expect(stuckServer.droppedMessages).to.equal(wss.pubsubStats.dropped);
      expect(stuckServer.droppedMessages).to.be.at.least(21);
      expect(Math.max(most, stuckServer.bufferedAmount)).to.be.at.most(LIMIT + MESSAGE.length);
    });

    it('hands it to the application\'s function, which may close it with its own code', async () => {
      const calls: string[] = [];
      await server({
        maxSubscriberBuffer: LIMIT,
        slowSubscriber: (ws, topic, data) => {
          calls.push(`${topic}:${data.length}`);
          if (ws.readyState === ReadyState.OPEN) ws.close(4000, 'catch up later');
        },
      });
      const { stuck, stuckServer, most } = await stall(MAX_MESSAGES);
      expect(calls[0]).to.equal(`t:${MESSAGE.length}`);
      expect(most).to.be.at.most(LIMIT + MESSAGE.length);
      const closed = next(stuckServer, 'close', 30_000);
      const frames = await drain(stuck);
      expect(frames.at(-1)?.payload.readUInt16BE(0)).to.equal(4000);
      expect((await closed)[0]).to.equal(4000);
    });
  });
});

/** A server frame with its first header byte (RSV bits included). */
interface FirstByteFrame {
  first: number;
  payload: Buffer;
}

/** The next `n` frames the raw client receives (unmasked, RFC 6455 §5.2), with their first byte. */
function readFrames(raw: RawConnection, n: number): Promise<FirstByteFrame[]> {
  return within(new Promise((resolve) => {
    let buffered = raw.rest;
    const frames: FirstByteFrame[] = [];
    const take = (): void => {
      while (frames.length < n && buffered.length >= 2) {
        const short = buffered[1] & 0x7f;
        const head = short === 126 ? 4 : short === 127 ? 10 : 2;
        if (buffered.length < head) return;
        const length = short === 126 ? buffered.readUInt16BE(2) : short === 127 ? Number(buffered.readBigUInt64BE(2)) : short;
        if (buffered.length < head + length) return;
        frames.push({ first: buffered[0], payload: buffered.subarray(head, head + length) });
        buffered = buffered.subarray(head + length);
      }
      if (frames.length === n) {
        raw.socket.pause();
        resolve(frames);
      }
    };
    raw.socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      take();
    });
    raw.socket.resume();
    take();
  }), `${n} raw frames`);
}
