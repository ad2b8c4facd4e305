/**
 * The step both web APIs share once the library connection's handshake ended: which errors are
 * the network's (no `error` event in browsers) and when "establish a WebSocket connection" fails.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import * as net from 'node:net';
import { connect } from '../../lib/client';
import type { WebSocket as Connection } from '../../lib/connection/websocket';
import { WebSocketProtocolError } from '../../lib/errors';
import { WebSocketServer } from '../../lib/server';
import { establishError, isTransportError } from '../../lib/web/establish';
import { within } from '../interop/helpers';

describe('web establish step', () => {
  it('tells network errors (with a syscall) from protocol errors', async () => {
    const refused = await within(new Promise<Error>((resolve) => {
      const server = net.createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => {
          net.connect(port, '127.0.0.1').on('error', resolve);
        });
      });
    }), 'a refused connection');
    expect(isTransportError(refused)).to.equal(true);
    expect(isTransportError(new WebSocketProtocolError('WS_ERR_INVALID_UTF8', 'bad'))).to.equal(false);
    expect(isTransportError(new Error('no syscall'))).to.equal(false);
  });

  describe('over a real connection', () => {
    let wss: WebSocketServer;
    let port: number;
    const clients: Connection[] = [];

    before(async () => {
      wss = new WebSocketServer({ port: 0, host: '127.0.0.1', protocols: ['chat'] });
      await once(wss, 'listening');
      port = (wss.address() as net.AddressInfo).port;
    });
    after(async () => {
      for (const client of clients) client.terminate();
      await within(wss.close(), 'the server to close');
    });

    async function open(protocols: string[]): Promise<Connection> {
      const client = await within(connect(`ws://127.0.0.1:${port}/`, { protocols }), 'the handshake');
      clients.push(client);
      return client;
    }

    it('lets a connection open when nothing was offered, or an offered subprotocol was chosen', async () => {
      expect(establishError(await open([]), true, [], 'WebSocket')).to.equal(undefined);
      const chosen = await open(['other', 'chat']);
      expect(chosen.protocol).to.equal('chat');
      expect(establishError(chosen, true, ['other', 'chat'], 'WebSocket')).to.equal(undefined);
    });

    it('fails it when subprotocols were offered and none was chosen', async () => {
      const error = establishError(await open(['other']), true, ['other'], 'WebSocket');
      expect(error).to.be.instanceOf(WebSocketProtocolError);
      expect((error as WebSocketProtocolError).code).to.equal('WS_ERR_HANDSHAKE_PROTOCOL');
    });

    it('fails it with an AbortError naming the API when it was closed before being reported', async () => {
      const error = establishError(await open([]), false, [], 'WebSocketStream');
      expect(error).to.be.instanceOf(DOMException);
      expect((error as DOMException).name).to.equal('AbortError');
      expect((error as DOMException).message).to.contain('WebSocketStream');
    });
  });
});
