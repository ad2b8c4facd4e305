import { expect } from 'chai';
import WsClient from 'ws';
import * as http from 'node:http';
import * as net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { CloseCode } from '../lib/constants';
import { WebSocketUsageError } from '../lib/errors';
import { connect } from '../lib/client';
import { WebSocketServer } from '../lib/server';
import type { WebSocket } from '../lib/connection/websocket';
import { closed, listen, nextConnection, RawClient, SAMPLE_KEY, upgradeRequest, withTimeout } from './support/peers';

/** Sends raw bytes and resolves with everything the server answers until it closes. */
async function exchange(port: number, request: string | Buffer, ms = 5000): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => { /* a reset ends the exchange */ });
  socket.write(request);
  await withTimeout(once(socket, 'close'), ms, 'server to close');
  return Buffer.concat(chunks).toString('latin1');
}

function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
}

describe('WebSocketServer', () => {
  describe('attached to an http server with path routing', () => {
    let server: http.Server;
    let port: number;
    let echo: WebSocketServer;
    let other: WebSocketServer;

    before(async () => {
      server = http.createServer((_req, res) => { res.end('plain http'); });
      echo = new WebSocketServer({ server, path: '/echo' });
      other = new WebSocketServer({ server, path: ['/other', '/alias'] });
      echo.on('connection', (ws: WebSocket) => { ws.on('message', (data, isBinary) => ws.send(data, isBinary as boolean)); });
      other.on('connection', (ws: WebSocket) => { ws.send('other'); });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      port = (server.address() as AddressInfo).port;
    });

    after(async () => {
      await Promise.all([echo.close(), other.close()]);
      server.closeAllConnections();
      await new Promise((resolve) => { server.close(resolve); });
    });

    it('routes each upgrade to the server of its path, query string ignored', async () => {
      const a = await connect(`ws://127.0.0.1:${port}/echo?x=1`);
      const b = await connect(`ws://127.0.0.1:${port}/alias`);
      const first = once(b, 'message');
      const echoed = once(a, 'message');
      a.send('ping me');
      expect((await first)[0]).to.equal('other');
      expect((await echoed)[0]).to.equal('ping me');
      a.close();
      b.close();
    });

    it('answers an upgrade to an unknown path with 404 instead of leaving it hanging', async () => {
      const response = await exchange(port, upgradeRequest('/nowhere'));
      expect(statusOf(response)).to.equal(404);
    });

    it('leaves plain HTTP requests to the http server', async () => {
      const body = await new Promise<string>((resolve, reject) => {
        http.get(`http://127.0.0.1:${port}/echo`, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => { text += c.toString(); });
          res.on('end', () => { resolve(text); });
        }).on('error', reject);
      });
      expect(body).to.equal('plain http');
    });

    it('answers version 8 with 426 and Sec-WebSocket-Version: 13', async () => {
      const response = await exchange(port, upgradeRequest('/echo').replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 8'));
      expect(statusOf(response)).to.equal(426);
      expect(response).to.match(/\r\nSec-WebSocket-Version: 13\r\n/i);
    });

    it('answers a key that is not 16 base64 bytes with 400', async () => {
      const response = await exchange(port, upgradeRequest('/echo').replace(SAMPLE_KEY, 'c2hvcnQ='));
      expect(statusOf(response)).to.equal(400);
    });

    it('accepts Firefox-style "Connection: keep-alive, Upgrade" and answers the RFC 6455 sample accept key', async () => {
      const client = await RawClient.connect(port, upgradeRequest('/echo').replace('Connection: Upgrade', 'Connection: keep-alive, Upgrade'));
      expect(client.response).to.match(/^HTTP\/1\.1 101 /);
      expect(client.response).to.include('\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n');
      client.destroy();
    });
  });

  describe('handshake policy', () => {
    let wss: WebSocketServer;
    let port: number;
    let url: string;

    afterEach(async () => { await wss.close(); });

    it('agrees only on a subprotocol it speaks, in its own order of preference', async () => {
      ({ wss, port, url } = await listen({ protocols: ['v2.chat', 'v1.chat'] }));
      const both = await connect(url, { protocols: ['v1.chat', 'v2.chat'] });
      expect(both.protocol).to.equal('v2.chat');
      const unknown = await connect(url, { protocols: ['mqtt'] });
      expect(unknown.protocol).to.equal('');
      both.close();
      unknown.close();
    });

    it('never agrees on a subprotocol when the application declares none', async () => {
      ({ wss, port, url } = await listen());
      const client = await RawClient.connect(port, upgradeRequest('/', 'Sec-WebSocket-Protocol: chat\r\n'));
      expect(client.response).to.match(/^HTTP\/1\.1 101 /);
      expect(client.response.toLowerCase()).to.not.include('sec-websocket-protocol');
      client.destroy();
    });

    it('refuses origins outside allowedOrigins with 403', async () => {
      ({ wss, port, url } = await listen({ allowedOrigins: ['https://good.example'] }));
      const bad = await exchange(port, upgradeRequest('/', 'Origin: https://evil.example\r\n'));
      expect(statusOf(bad)).to.equal(403);
      const good = await connect(url, { origin: 'https://good.example' });
      good.close();
    });

    it('lets an async verifyClient refuse with its own status, and accept', async () => {
      ({ wss, port, url } = await listen({
        verifyClient: async ({ req }) => {
          await new Promise((resolve) => setImmediate(resolve));
          return req.headers.authorization === 'Bearer ok' ? true : { status: 401, message: 'who are you' };
        },
      }));
      const refused = await exchange(port, upgradeRequest());
      expect(statusOf(refused)).to.equal(401);
      const ok = await connect(url, { headers: { Authorization: 'Bearer ok' } });
      ok.close();
    });

    it('answers plain HTTP on a standalone server with 426', async () => {
      ({ wss, port, url } = await listen());
      const response = await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(statusOf(response)).to.equal(426);
    });

    it('answers a request head over maxHeaderSize with 431', async () => {
      ({ wss, port, url } = await listen({ maxHeaderSize: 2048 }));
      const response = await exchange(port, upgradeRequest('/', `X-Big: ${'a'.repeat(4096)}\r\n`));
      expect(statusOf(response)).to.equal(431);
    });

    it('cuts off a client that dribbles its handshake past handshakeTimeout', async () => {
      ({ wss, port, url } = await listen({ handshakeTimeout: 300 }));
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.on('error', () => { /* reset is fine */ });
      const request = upgradeRequest();
      let i = 0;
      const drip = setInterval(() => { if (i < request.length) socket.write(request[i++]); }, 100);
      // Not events.once: it would reject on the EPIPE of a write racing the server's close.
      await withTimeout(new Promise((resolve) => socket.on('close', resolve)), 5000, 'the server to cut the dribbling client off');
      clearInterval(drip);
      expect(i).to.be.lessThan(request.length);
    });

    it('close() closes every connection with 1001 and refuses new upgrades', async () => {
      ({ wss, port, url } = await listen());
      const serverSide = nextConnection(wss);
      const ws = await connect(url);
      await serverSide;
      const done = closed(ws);
      await wss.close();
      expect((await done).code).to.equal(CloseCode.GoingAway);
      expect(wss.clients.size).to.equal(0);
      ({ wss, port, url } = await listen());
    });

    it('handleUpgrade can be driven from an application-owned upgrade listener', async () => {
      const server = http.createServer();
      wss = new WebSocketServer({ server: http.createServer() });
      server.on('upgrade', (req, socket, head) => { void wss.handleUpgrade(req, socket, head); });
      const connected = nextConnection(wss);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const ws = await connect(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/anything`);
      await connected;
      ws.close();
      await closed(ws);
      server.close();
    });
  });

  describe('options and application errors', () => {
    it('refuses invalid options in the constructor, before anything listens or answers', () => {
      for (const options of [
        { port: 0, closeTimeout: -1 }, { port: 0, maxPayload: 'big' }, { port: 0, heartbeatInterval: -1 },
        { port: 0, handshakeTimeout: 0 }, { port: 0, perMessageDeflate: { serverMaxWindowBits: 20 } },
        { port: 0, protocols: 'chat' }, { port: 0, verifyClient: true }, { port: 0, headers: { 'Bad\nName': 'x' } },
        { port: 0, clientTracking: 'no' }, {}, { port: 0, noServer: true },
      ]) {
        expect(() => new WebSocketServer(options as never), JSON.stringify(options)).to.throw(WebSocketUsageError);
      }
    });

    it('connect() rejects invalid connection options before connecting', async () => {
      let connections = 0;
      const server = net.createServer((socket) => { connections++; socket.destroy(); });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      let error: unknown;
      try { await connect(url, { closeTimeout: -1 }); } catch (err) { error = err; }
      expect(error).to.be.instanceOf(WebSocketUsageError);
      expect(connections).to.equal(0);
      server.close();
    });

    it('a throwing connection listener closes that connection with 1011, never writes HTTP into it, and reaches the application', async () => {
      const { wss: server, url } = await listen();
      const errors: Error[] = [];
      const rejected: unknown[] = [];
      server.on('error', (err) => { errors.push(err); });
      server.on('rejected', (err) => { rejected.push(err); });
      server.on('connection', () => { throw new Error('application bug'); });
      // The ws client: it fails on anything that is not a frame after the 101.
      const client = new WsClient(url);
      const outcome = await new Promise<{ code: number; error?: string }>((resolve) => {
        let error: string | undefined;
        client.on('error', (err) => { error = err.message; });
        client.on('close', (code) => { resolve({ code, error }); });
      });
      expect(outcome).to.deep.equal({ code: 1011, error: undefined });
      expect(errors.map((e) => e.message)).to.deep.equal(['application bug']);
      expect(rejected).to.deep.equal([]);
      await server.close();
    });

    it('noServer: handleUpgrade with a callback hands over the connection without a connection event', async () => {
      const http1 = http.createServer();
      const wss = new WebSocketServer({ noServer: true, clientTracking: false });
      let events = 0;
      wss.on('connection', () => { events++; });
      const accepted = new Promise<WebSocket>((resolve) => {
        http1.on('upgrade', (req, socket, head) => { void wss.handleUpgrade(req, socket, head, (ws) => { resolve(ws); }); });
      });
      http1.listen(0, '127.0.0.1');
      await once(http1, 'listening');
      const ws = await connect(`ws://127.0.0.1:${(http1.address() as AddressInfo).port}/`);
      const server = await accepted;
      expect([events, wss.clients.size, wss.address()]).to.deep.equal([0, 0, null]);
      const got = new Promise((resolve) => { server.once('message', resolve); });
      ws.send('hi');
      expect(await got).to.equal('hi');
      ws.close();
      await closed(ws);
      http1.close();
    });

    it('handleProtocols sees the request and picks among the offered subprotocols', async () => {
      const { wss: server, url } = await listen({
        handleProtocols: (protocols, req) => (req.headers['x-flavour'] === 'new' && protocols.has('v2') ? 'v2' : 'v1'),
      });
      const a = await connect(url, { protocols: ['v1', 'v2'], headers: { 'X-Flavour': 'new' } });
      const b = await connect(url, { protocols: ['v1', 'v2'] });
      expect([a.protocol, b.protocol]).to.deep.equal(['v2', 'v1']);
      a.close();
      b.close();
      await server.close();
    });

    it('lets a headers listener add to the 101 response, per request', async () => {
      const { wss: server, port } = await listen();
      server.on('headers', (headers, req) => { headers.push(`X-Path: ${req.url ?? ''}`); });
      const client = await RawClient.connect(port, upgradeRequest('/some/where'));
      expect(client.response).to.match(/^HTTP\/1\.1 101 /);
      expect(client.response).to.include('X-Path: /some/where');
      client.destroy();
      await server.close();
    });
  });
});

