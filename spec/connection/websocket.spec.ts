import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { CloseCode, Opcode } from '../../lib/constants';
import { ConnectionClosedError, WebSocketProtocolError, WebSocketUsageError } from '../../lib/errors';
import { ReadyState, type Session } from '../../lib/session/session';
import { WebSocket } from '../../lib/connection/websocket';
import { FrameDecoder } from '../../lib/frame/decoder';
import { connect } from '../../lib/client';
import { encodeFrame } from '../../lib/frame/serializer';
import { parseClosePayload } from '../../lib/message/close';
import type { WebSocketServer } from '../../lib/server';
import { closed, listen, nextConnection, RawClient, upgradeRequest, withTimeout } from '../support/peers';

function closeCodeOf(client: RawClient): number | undefined {
  const frame = client.frames.find((f) => f.opcode === Opcode.Close);
  return frame === undefined ? undefined : parseClosePayload(frame.payload).code;
}

describe('WebSocket connection', () => {
  let wss: WebSocketServer;
  let port: number;
  let url: string;
  const raws: RawClient[] = [];

  beforeEach(async () => {
    ({ wss, port, url } = await listen({ closeTimeout: 300 }));
  });

  afterEach(async () => {
    for (const raw of raws.splice(0)) raw.destroy();
    for (const ws of wss.clients) ws.terminate();
    await wss.close();
  });

  async function raw(request?: string, head?: Buffer): Promise<RawClient> {
    const client = await RawClient.connect(port, request, head);
    raws.push(client);
    return client;
  }

  describe('lifecycle', () => {
    it('starts CONNECTING and refuses to send before it is open (WS_ERR_INVALID_STATE)', () => {
      const ws = new WebSocket('client');
      expect(ws.readyState).to.equal(ReadyState.CONNECTING);
      expect(() => ws.send('x')).to.throw(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_STATE');
      expect(() => ws.ping()).to.throw(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_STATE');
    });

    it('is an EventEmitter whose listener table inherits nothing: events named like Object.prototype members work', () => {
      const ws = new WebSocket('client');
      const seen: string[] = [];
      expect(ws.listenerCount('toString')).to.equal(0);
      expect(ws.emit('hasOwnProperty')).to.equal(false);
      for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'message']) {
        ws.on(name as 'message', () => { seen.push(name); });
      }
      expect(ws.eventNames()).to.deep.equal(['toString', 'constructor', 'hasOwnProperty', '__proto__', 'message']);
      for (const name of ws.eventNames()) ws.emit(name as 'message', 'x', false);
      expect(seen).to.deep.equal(['toString', 'constructor', 'hasOwnProperty', '__proto__', 'message']);
      const once = (): void => { seen.push('once'); };
      ws.once('ping', once);
      ws.emit('ping', Buffer.alloc(0));
      ws.emit('ping', Buffer.alloc(0));
      expect(seen.filter((s) => s === 'once')).to.have.length(1);
      ws.removeAllListeners('toString');
      expect(ws.listenerCount('toString')).to.equal(0);
      ws.removeAllListeners();
      expect(ws.eventNames()).to.deep.equal([]);
      ws.on('message', () => { seen.push('again'); });
      ws.emit('message', 'x', false);
      expect(seen[seen.length - 1]).to.equal('again');
    });

    it('closing a CONNECTING connection ends it at once with 1006', async () => {
      const ws = new WebSocket('client');
      const done = closed(ws);
      ws.close();
      expect(ws.readyState).to.equal(ReadyState.CLOSED);
      expect((await done).code).to.equal(CloseCode.Abnormal);
    });

    it('goes OPEN -> CLOSING -> CLOSED through a closing handshake', async () => {
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      expect(ws.readyState).to.equal(ReadyState.OPEN);
      await serverSide;
      const done = closed(ws);
      ws.close(1000);
      expect(ws.readyState).to.equal(ReadyState.CLOSING);
      await done;
      expect(ws.readyState).to.equal(ReadyState.CLOSED);
    });

    it('send after close returns false and reports WS_ERR_INVALID_STATE to the callback', async () => {
      const ws = await connect(url);
      ws.close();
      let error: unknown;
      expect(ws.send('late', (err) => { error = err; })).to.equal(false);
      await closed(ws);
      expect(error).to.be.instanceOf(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_STATE');
    });

    it('refuses close codes that may not be sent and reasons over 123 bytes', async () => {
      const ws = await connect(url);
      for (const code of [999, 1004, 1005, 1006, 1015, 2000, 5000]) {
        expect(() => ws.close(code)).to.throw(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_CLOSE_CODE');
      }
      expect(() => ws.close(1000, 'x'.repeat(124))).to.throw(WebSocketUsageError);
      expect(ws.readyState).to.equal(ReadyState.OPEN);
      ws.close(1000, 'x'.repeat(123));
      await closed(ws);
    });
  });

  describe('closing handshake (RFC 6455 §7)', () => {
    it('delivers code and reason to the peer and echoes the code back', async () => {
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      const server = await serverSide;
      const serverClosed = closed(server);
      const clientClosed = closed(ws);
      ws.close(4001, 'done here');
      expect(await serverClosed).to.deep.equal({ code: 4001, reason: 'done here' });
      expect((await clientClosed).code).to.equal(4001);
    });

    it('answers an empty close with an empty close, reported as 1005', async () => {
      const serverSide = nextConnection(wss);
      const client = await raw();
      const server = await serverSide;
      const serverClosed = closed(server);
      client.send({ opcode: Opcode.Close });
      await client.until(() => client.frames.some((f) => f.opcode === Opcode.Close), 'close echo');
      const echo = client.frames.find((f) => f.opcode === Opcode.Close);
      expect(echo?.payload.length).to.equal(0);
      expect((await serverClosed).code).to.equal(CloseCode.NoStatus);
    });

    it('the server closes the TCP connection after the handshake, without waiting for the client', async () => {
      const client = await raw();
      client.send({ opcode: Opcode.Close, payload: Buffer.from([0x03, 0xe8]) });
      await client.until(() => client.ended, 'server FIN');
      expect(closeCodeOf(client)).to.equal(1000);
    });

    it('drops a peer that never answers our close frame after closeTimeout (1006)', async () => {
      const serverSide = nextConnection(wss);
      const client = await raw();
      const server = await serverSide;
      const done = closed(server);
      server.close(1000);
      // The raw client reads the close frame but never replies and never closes TCP.
      await client.until(() => closeCodeOf(client) === 1000, 'close frame');
      expect((await done).code).to.equal(CloseCode.Abnormal);
      await client.until(() => client.ended, 'TCP close');
    });

    it('ignores data frames that arrive after the peer closed', async () => {
      const serverSide = nextConnection(wss);
      const client = await raw();
      const server = await serverSide;
      const messages: unknown[] = [];
      server.on('message', (data) => messages.push(data));
      client.write(Buffer.concat([
        encodeFrame({ opcode: Opcode.Close, payload: Buffer.from([0x03, 0xe8]) }, 1),
        encodeFrame({ opcode: Opcode.Text, payload: 'after close' }, 2),
      ]));
      await closed(server);
      expect(messages).to.deep.equal([]);
    });
  });

  describe('control frames', () => {
    it('answers a ping with a pong carrying the same payload', async () => {
      const client = await raw();
      client.send({ opcode: Opcode.Ping, payload: 'are you there' });
      await client.until(() => client.frames.some((f) => f.opcode === Opcode.Pong), 'pong');
      const pong = client.frames.find((f) => f.opcode === Opcode.Pong);
      expect(pong?.payload.toString()).to.equal('are you there');
    });

    it('emits ping and pong events', async () => {
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      const server = await serverSide;
      const pinged = once(server, 'ping');
      const ponged = once(ws, 'pong');
      ws.ping('p1');
      expect((await pinged)[0].toString()).to.equal('p1');
      expect((await ponged)[0].toString()).to.equal('p1');
      ws.close();
    });

    it("refuses ws's ping(data, mask, callback) form with a usage error, before anything is queued", async () => {
      const ws = await connect(url);
      const misuse = ws as unknown as { ping(data: unknown, mask: unknown, callback: unknown): boolean; pong(data: unknown, mask: unknown): boolean };
      expect(() => misuse.ping('p', false, () => undefined)).to.throw(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_ARGUMENT');
      expect(() => misuse.pong('p', true)).to.throw(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_ARGUMENT');
      expect(ws.bufferedAmount).to.equal(0);
      ws.close();
      await closed(ws);
    });

    it('refuses a ping payload over 125 bytes (local misuse, not sent)', async () => {
      const ws = await connect(url);
      expect(() => ws.ping(Buffer.alloc(126))).to.throw(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH');
      ws.close();
    });
  });

  describe('protocol errors', () => {
    it('fails the connection with the error close code (1002 for an unmasked client frame) and closes TCP', async () => {
      const serverSide = nextConnection(wss);
      const client = await raw();
      const server = await serverSide;
      const errors: unknown[] = [];
      server.on('error', (err) => errors.push(err));
      client.write(encodeFrame({ opcode: Opcode.Text, payload: 'unmasked' }));
      await client.until(() => client.ended, 'TCP close');
      expect(closeCodeOf(client)).to.equal(1002);
      expect(errors).to.have.length(1);
      expect(errors[0]).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_EXPECTED_MASK');
    });

    it('fails invalid UTF-8 text with 1007', async () => {
      const client = await raw();
      client.send({ opcode: Opcode.Text, payload: Buffer.from([0xce, 0xba, 0xff]) });
      await client.until(() => client.ended, 'TCP close');
      expect(closeCodeOf(client)).to.equal(1007);
    });

    it('fails a message above maxMessageSize with 1009', async () => {
      await wss.close();
      ({ wss, port, url } = await listen({ maxMessageSize: 1000, closeTimeout: 300 }));
      const client = await raw();
      client.send({ opcode: Opcode.Binary, payload: Buffer.alloc(1001) });
      await client.until(() => client.ended, 'TCP close');
      expect(closeCodeOf(client)).to.equal(1009);
    });

    it('delivers the messages that were complete before the bad byte', async () => {
      const serverSide = nextConnection(wss);
      const client = await raw();
      const server = await serverSide;
      const messages: unknown[] = [];
      server.on('message', (data) => messages.push(data));
      client.write(Buffer.concat([
        encodeFrame({ opcode: Opcode.Text, payload: 'one' }, 7),
        encodeFrame({ opcode: Opcode.Text, payload: 'two' }, 8),
        Buffer.from([0x83, 0x80, 0, 0, 0, 0]), // reserved opcode 3
      ]));
      await closed(server);
      expect(messages).to.deep.equal(['one', 'two']);
      expect(closeCodeOf(client)).to.equal(1002);
    });

    it('maps an unexpected internal error to 1011 without details', async () => {
      const serverSide = nextConnection(wss);
      const client = await raw();
      const server = await serverSide;
      server.on('error', () => { /* expected */ });
      // White-box: an error that is not a protocol violation surfaces inside the session.
      (server as unknown as { session: Session }).session.fail(new Error('secret internals'));
      server.resume(); // applies the session's outputs
      await client.until(() => client.ended, 'TCP close');
      const frame = client.frames.find((f) => f.opcode === Opcode.Close);
      expect(frame).to.not.equal(undefined);
      expect(parseClosePayload(frame!.payload)).to.deep.equal({ code: 1011, reason: '' });
    });

    it('never crashes the process when nobody listens for errors', async () => {
      const client = await raw();
      client.write(Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])); // unmasked: violation
      await client.until(() => client.ended, 'TCP close');
      expect(closeCodeOf(client)).to.equal(1002);
    });
  });

  describe('the upgrade head and outgoing frames', () => {
    it('feeds bytes that arrived with the upgrade request to the decoder first', async () => {
      const serverSide = nextConnection(wss);
      const first = encodeFrame({ opcode: Opcode.Text, payload: 'in the head' }, 0x01020304);
      const received = new Promise<unknown>((resolve) => {
        void serverSide.then((server) => server.once('message', resolve));
      });
      await raw(upgradeRequest(), first);
      expect(await withTimeout(received, 3000, 'message')).to.equal('in the head');
    });

    it('splits messages longer than fragmentSize into continuation frames', async () => {
      await wss.close();
      ({ wss, port, url } = await listen({ fragmentSize: 3 }));
      wss.on('connection', (ws: WebSocket) => { ws.send('abcdefghij'); });
      const client = await raw();
      await client.until(() => client.frames.length === 4, 'four frames');
      expect(client.frames.map((f) => [f.opcode, f.fin, f.payload.toString()])).to.deep.equal([
        [Opcode.Text, false, 'abc'], [Opcode.Continuation, false, 'def'], [Opcode.Continuation, false, 'ghi'], [Opcode.Continuation, true, 'j'],
      ]);
    });

    it('a client masks every frame it sends', async () => {
      const frames: boolean[] = [];
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      const server = await serverSide;
      // Spy on the bytes the server receives (a copy, before the session unmasks them in place):
      // every frame from a client arrives masked.
      const spy = new FrameDecoder({ role: 'any' });
      spy.on('data', (f: { masked: boolean }) => frames.push(f.masked));
      (server as unknown as { socket: NodeJS.EventEmitter }).socket.prependListener('data', (chunk: Buffer) => { spy.write(Buffer.from(chunk)); });
      const got = once(server, 'message');
      ws.ping('x');
      ws.send(Buffer.alloc(70000));
      await got;
      ws.close();
      expect(frames.length).to.be.greaterThan(1);
      expect(frames.every(Boolean)).to.equal(true);
    });
  });

  describe('backpressure', () => {
    it('send returns false when the socket buffer is full and emits drain later', async () => {
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      const server = await serverSide;
      server.pause();
      let result = true;
      for (let i = 0; i < 64 && result; i++) result = ws.send(Buffer.alloc(1024 * 1024));
      expect(result).to.equal(false);
      const drained = once(ws, 'drain');
      server.resume();
      await withTimeout(drained, 10000, 'drain');
      ws.terminate();
    });

    it('fails a connection whose unread outgoing bytes pass maxBufferedAmount (1008, WS_ERR_SLOW_CONSUMER)', async () => {
      await wss.close();
      ({ wss, port, url } = await listen({ maxBufferedAmount: 512 * 1024, closeTimeout: 300 }));
      const serverSide = nextConnection(wss);
      const client = await raw();
      client.socket.pause(); // a peer that never reads
      const server = await serverSide;
      const errors: Array<Error & { code?: string }> = [];
      server.on('error', (err) => errors.push(err));
      const done = closed(server);
      // An application ignoring send()'s false: keep sending until the backstop trips.
      for (let i = 0; i < 256 && server.readyState === ReadyState.OPEN; i++) server.send(Buffer.alloc(64 * 1024));
      expect(server.readyState).to.not.equal(ReadyState.OPEN);
      expect(errors.map((e) => e.code)).to.deep.equal(['WS_ERR_SLOW_CONSUMER']);
      expect((await done).code).to.equal(CloseCode.PolicyViolation);
    });

    it('an async iterator that lags pauses the socket and still gets every message in order', async () => {
      await wss.close();
      ({ wss, port, url } = await listen({ maxQueuedMessages: 4 }));
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      const server = await serverSide;
      const iterator = server[Symbol.asyncIterator]();
      for (let i = 0; i < 50; i++) ws.send(`m${i}`);
      // Give the messages time to arrive while nobody consumes them.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const socket = (server as unknown as { socket: { isPaused(): boolean } }).socket;
      expect(socket.isPaused()).to.equal(true);
      ws.close(1000);
      const seen: string[] = [];
      for (;;) {
        const next = await iterator.next();
        if (next.done === true) break;
        seen.push(next.value.data as string);
      }
      expect(seen).to.deep.equal(Array.from({ length: 50 }, (_, i) => `m${i}`));
    });

    it('reports the close at once after failing a connection, without waiting for closeTimeout', async () => {
      const serverSide = nextConnection(wss);
      const ws = await connect(url, { closeTimeout: 10_000 });
      const server = await serverSide;
      ws.on('error', () => { /* expected: the invalid frame */ });
      // Far less than closeTimeout: the client must see the server's TCP close while failing.
      const done = closed(ws, 3000);
      // A masked frame from a server breaks RFC 6455 §5.1 for the client.
      (server as unknown as { socket: { write(b: Buffer): void } }).socket.write(Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0x41]));
      expect((await done).code).to.equal(1002);
    });

    it('an async iterator throws the error that failed the connection', async () => {
      const serverSide = nextConnection(wss);
      const client = await raw();
      const server = await serverSide;
      const iterator = server[Symbol.asyncIterator]();
      client.write(Buffer.from([0x81, 0x01, 0x41])); // unmasked
      let error: unknown;
      try {
        await iterator.next();
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(ConnectionClosedError).with.property('closeCode', 1002);
      expect((error as ConnectionClosedError).cause).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_EXPECTED_MASK');
    });
  });

  describe('streamed messages', () => {
    it('delivers a large message as a Readable while it arrives (streamMessages)', async () => {
      await wss.close();
      ({ wss, port, url } = await listen({ streamMessages: true, maxMessageSize: Infinity }));
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      const server = await serverSide;
      const streamed = new Promise<{ isBinary: boolean; pieces: number; bytes: Buffer }>((resolve, reject) => {
        server.once('stream', (stream: NodeJS.ReadableStream, isBinary: boolean) => {
          const parts: Buffer[] = [];
          stream.on('data', (part: Buffer) => parts.push(part));
          stream.on('end', () => { resolve({ isBinary, pieces: parts.length, bytes: Buffer.concat(parts) }); });
          stream.on('error', reject);
        });
      });
      const payload = Buffer.alloc(4 * 1024 * 1024);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
      ws.send(payload);
      const got = await withTimeout(streamed, 10000, 'the streamed message');
      expect(got.isBinary).to.equal(true);
      expect(got.pieces).to.be.greaterThan(1);
      expect(Buffer.compare(got.bytes, payload)).to.equal(0);
      ws.close();
    });

    it('holds a streamed message nobody listens for (reading stops) until a listener takes it', async () => {
      await wss.close();
      ({ wss, port, url } = await listen({ streamMessages: true }));
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      const server = await serverSide;
      let pinged = false;
      server.on('ping', () => { pinged = true; });
      const ping = once(server, 'ping');
      ws.send(Buffer.alloc(256 * 1024, 7));
      ws.ping('after');
      await new Promise((resolve) => setTimeout(resolve, 200));
      // The message's stream filled up with nobody reading it: the socket is not read, so the
      // ping behind the message has not been seen.
      expect(pinged).to.equal(false);
      const received = new Promise<number>((resolve) => {
        server.on('stream', (stream: NodeJS.ReadableStream) => {
          let bytes = 0;
          stream.on('data', (part: Buffer) => { bytes += part.length; });
          stream.on('end', () => { resolve(bytes); });
        });
      });
      expect(await withTimeout(received, 5000, 'the held stream')).to.equal(256 * 1024);
      expect((await withTimeout(ping, 5000, 'the ping after the message'))[0].toString()).to.equal('after');
      ws.close();
    });
  });

  describe('heartbeat', () => {
    it('drops a peer that sends nothing for a whole interval (1006)', async () => {
      await wss.close();
      ({ wss, port, url } = await listen({ heartbeatInterval: 100 }));
      const serverSide = nextConnection(wss);
      const client = await raw();
      const server = await serverSide;
      const errors: Array<Error & { code?: string }> = [];
      server.on('error', (err) => errors.push(err));
      // The raw client never answers pings.
      expect((await closed(server, 3000)).code).to.equal(CloseCode.Abnormal);
      expect(errors.map((e) => e.code)).to.deep.equal(['WS_ERR_PEER_UNRESPONSIVE']);
      await client.until(() => client.frames.some((f) => f.opcode === Opcode.Ping), 'a ping');
    });

    it('keeps a peer that answers pings', async () => {
      await wss.close();
      ({ wss, port, url } = await listen({ heartbeatInterval: 50 }));
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      const server = await serverSide;
      let pongs = 0;
      server.on('pong', () => { pongs++; });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(server.readyState).to.equal(ReadyState.OPEN);
      expect(pongs).to.be.greaterThan(2);
      ws.close();
    });
  });

  describe('async iteration', () => {
    it('holds messages from the moment the connection opens, so none are lost before the loop starts', async () => {
      wss.on('connection', (server: WebSocket) => { server.send('hello'); server.send('welcome'); });
      const ws = await connect(url);
      // Anything awaited before the loop: the greetings arrive meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const seen: string[] = [];
      for await (const { data } of ws) {
        seen.push(data as string);
        if (seen.length === 2) break;
      }
      expect(seen).to.deep.equal(['hello', 'welcome']);
      ws.close();
    });

    for (const code of [1000, 1001]) {
      it(`ends quietly when the peer closes with ${code}`, async () => {
        wss.on('connection', (server: WebSocket) => { server.send('last'); server.close(code, 'bye'); });
        const ws = await connect(url);
        const seen: unknown[] = [];
        for await (const { data } of ws) seen.push(data);
        expect(seen).to.deep.equal(['last']);
      });
    }

    it('ends quietly on an empty close (1005)', async () => {
      wss.on('connection', (server: WebSocket) => { server.close(); });
      const ws = await connect(url);
      let count = 0;
      for await (const _ of ws) count++;
      expect(count).to.equal(0);
    });

    for (const [code, reason] of [[4000, 'game over'], [1011, 'server broke']] as const) {
      it(`throws ConnectionClosedError with closeCode ${code} and the reason when the peer closes with ${code}`, async () => {
        wss.on('connection', (server: WebSocket) => { server.send('before'); server.close(code, reason); });
        const ws = await connect(url);
        const seen: unknown[] = [];
        let error: unknown;
        try {
          for await (const { data } of ws) seen.push(data);
        } catch (err) {
          error = err;
        }
        expect(seen).to.deep.equal(['before']);
        expect(error).to.be.instanceOf(ConnectionClosedError);
        expect((error as ConnectionClosedError).closeCode).to.equal(code);
        expect((error as ConnectionClosedError).reason).to.equal(reason);
      });
    }

    it('throws with 1006 when the connection is lost without a close frame', async () => {
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      (await serverSide).terminate();
      let error: unknown;
      try {
        for await (const _ of ws) { /* nothing arrives */ }
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(ConnectionClosedError).with.property('closeCode', 1006);
    });

    it('break leaves the connection open and a later loop goes on with the next messages', async () => {
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      const server = await serverSide;
      for (const m of ['a', 'b', 'c', 'd']) server.send(m);
      const first: unknown[] = [];
      for await (const { data } of ws) {
        first.push(data);
        if (first.length === 2) break;
      }
      expect(ws.readyState).to.equal(ReadyState.OPEN);
      const second: unknown[] = [];
      for await (const { data } of ws) {
        second.push(data);
        if (second.length === 2) break;
      }
      expect([first, second]).to.deep.equal([['a', 'b'], ['c', 'd']]);
      ws.close();
    });

    it('hands held messages to a message listener added later, in order', async () => {
      wss.on('connection', (server: WebSocket) => { server.send('one'); server.send('two'); });
      const ws = await connect(url);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const seen = await new Promise<unknown[]>((resolve) => {
        const got: unknown[] = [];
        ws.on('message', (data) => { got.push(data); if (got.length === 2) resolve(got); });
      });
      expect(seen).to.deep.equal(['one', 'two']);
      ws.close();
    });

    it('with streamMessages, yields each message with its stream', async () => {
      await wss.close();
      ({ wss, port, url } = await listen({ streamMessages: true }));
      wss.on('connection', (server: WebSocket) => { server.send('streamed text'); server.send(Buffer.from([1, 2, 3])); });
      const ws = await connect(url, { streamMessages: true });
      const seen: Array<[boolean, string]> = [];
      for await (const message of ws) {
        const parts: Array<string | Buffer> = [];
        for await (const part of message.stream as AsyncIterable<string | Buffer>) parts.push(part);
        seen.push([message.isBinary, message.isBinary ? Buffer.concat(parts as Buffer[]).toString('hex') : parts.join('')]);
        if (seen.length === 2) break;
      }
      expect(seen).to.deep.equal([[false, 'streamed text'], [true, '010203']]);
      ws.close();
    });
  });

  describe('sending large messages', () => {
    it('sendStream sends one message fragment by fragment from an async iterable (text from strings)', async () => {
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      const server = await serverSide;
      const got = new Promise<[unknown, boolean]>((resolve) => { server.once('message', (data, isBinary) => { resolve([data, isBinary]); }); });
      async function* parts(): AsyncGenerator<string> { yield 'stream'; yield 'ed '; yield 'héllo'; }
      await ws.sendStream(parts());
      expect(await got).to.deep.equal(['streamed héllo', false]);
      ws.close();
    });

    it('sendStream sends a Readable as one binary message, and send() calls made meanwhile follow it', async () => {
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      const server = await serverSide;
      const got: Array<[unknown, boolean]> = [];
      const two = new Promise<void>((resolve) => {
        server.on('message', (data, isBinary) => { got.push([isBinary ? (data as Buffer).length : data, isBinary]); if (got.length === 2) resolve(); });
      });
      const source = Readable.from((function* () { for (let i = 0; i < 64; i++) yield Buffer.alloc(16 * 1024, i); })());
      const sent = ws.sendStream(source);
      ws.send('after');
      await sent;
      await two;
      expect(got).to.deep.equal([[1024 * 1024, true], ['after', false]]);
      ws.close();
    });

    it('sendStream rejects, and fails the connection with 1011, when its source fails', async () => {
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      const server = await serverSide;
      async function* broken(): AsyncGenerator<Buffer> { yield Buffer.from('start'); throw new Error('disk gone'); }
      const serverClosed = closed(server);
      let error: unknown;
      try { await ws.sendStream(broken()); } catch (err) { error = err; }
      expect((error as Error).message).to.equal('disk gone');
      expect((await serverClosed).code).to.equal(1011);
    });

    it('sendStream of 1 GiB keeps memory flat (measured in a child process)', async function () {
      this.timeout(120_000);
      const child = spawn(process.execPath, ['--expose-gc', '--max-semi-space-size=2', path.join(__dirname, '..', 'support', 'send-stream-child.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
      const [code] = await withTimeout(once(child, 'exit'), 110_000, 'the 1 GiB transfer');
      const result = JSON.parse(out.trim().split('\n').pop() as string) as { bytes: number; ok: boolean; peakGrowth: number };
      console.log(`      1 GiB streamed, peak RSS growth ${(result.peakGrowth / 1024 / 1024).toFixed(1)} MiB`);
      expect(code).to.equal(0);
      expect(result.ok, 'every byte arrived in order').to.equal(true);
      expect(result.bytes).to.equal(1024 * 1024 * 1024);
      expect(result.peakGrowth, 'peak RSS growth').to.be.below(96 * 1024 * 1024);
    });

    it('one send() of a 100 MiB message to a peer that reads never trips maxBufferedAmount', async function () {
      this.timeout(60_000);
      await wss.close();
      ({ wss, port, url } = await listen({ maxMessageSize: 128 * 1024 * 1024, maxPayload: 128 * 1024 * 1024 }));
      const serverSide = nextConnection(wss);
      const ws = await connect(url, { maxMessageSize: 128 * 1024 * 1024, maxPayload: 128 * 1024 * 1024 });
      const server = await serverSide;
      const got = new Promise<number>((resolve) => { ws.once('message', (data) => { resolve((data as Buffer).length); }); });
      const errors: unknown[] = [];
      server.on('error', (err) => { errors.push(err); });
      server.send(Buffer.alloc(100 * 1024 * 1024, 7));
      expect(await withTimeout(got, 50_000, 'the 100 MiB message')).to.equal(100 * 1024 * 1024);
      expect(errors).to.deep.equal([]);
      expect(server.readyState).to.equal(ReadyState.OPEN);
      ws.close();
    });
  });
});
