/**
 * The server the web API specs and the isomorphic scenarios talk to: one WebSocketServer on a free
 * loopback port whose paths behave as follows.
 *
 * - `/echo`: echoes each message with its type; the text message `drop` makes it drop the TCP
 *   connection without a close frame instead.
 * - `/close`: closes with 4000 'bye' as soon as it opened.
 * - `/burst`: sends 'one', 'two', 'three' at once.
 * - `/burst-close`: sends 'one', 'two', then closes with 4001 'later'.
 * - `/bad-utf8`: sends a text message that is not UTF-8 (the client must fail the connection).
 *
 * Subprotocols: it chooses 'superchat' when offered, and nothing otherwise. `closes` records the
 * code and reason of each connection's close, by path, for the specs to check what was sent.
 */
import * as net from 'node:net';
import type { WebSocket } from '../../lib/connection/websocket';
import { WebSocketServer } from '../../lib/server';

export interface ScenarioPeer {
  readonly server: WebSocketServer;
  /** ws://127.0.0.1:PORT */
  readonly base: string;
  /** ws:// URL of a loopback port nobody listens on. */
  readonly refused: string;
  /** Each closed connection: its path, close code and reason, in the order they closed. */
  readonly closes: Array<{ path: string; code: number; reason: string }>;
  /** The server side of every connection, by path, in the order they opened. */
  readonly connections: Array<{ path: string; ws: WebSocket }>;
  close(): Promise<void>;
}

/** A loopback port that was free a moment ago and has no listener now. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
  return port;
}

export async function startScenarioPeer(): Promise<ScenarioPeer> {
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    protocols: (offered) => (offered.includes('superchat') ? 'superchat' : undefined),
  });
  await new Promise<void>((resolve) => { server.once('listening', resolve); });
  const closes: ScenarioPeer['closes'] = [];
  const connections: ScenarioPeer['connections'] = [];
  server.on('connection', (ws, request) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    connections.push({ path, ws });
    ws.on('error', () => { /* the close record says what happened */ });
    ws.on('close', (code, reason) => { closes.push({ path, code, reason }); });
    switch (path) {
      case '/echo':
        ws.on('message', (data, isBinary) => {
          if (data === 'drop') ws.terminate();
          else ws.send(data, isBinary);
        });
        break;
      case '/close':
        ws.close(4000, 'bye');
        break;
      case '/burst':
        ws.send('one');
        ws.send('two');
        ws.send('three');
        break;
      case '/burst-close':
        ws.send('one');
        ws.send('two');
        ws.close(4001, 'later');
        break;
      case '/bad-utf8':
        // Bytes sent as text unchecked: 0xFF never appears in UTF-8.
        ws.send(Buffer.from([0x68, 0x69, 0xff]), false);
        break;
      default:
        ws.close(4004, 'no such path');
    }
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    base: `ws://127.0.0.1:${port}`,
    refused: `ws://127.0.0.1:${await closedPort()}/`,
    closes,
    connections,
    close: () => server.close(),
  };
}
