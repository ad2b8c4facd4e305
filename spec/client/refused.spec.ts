import { expect } from 'chai';
import type * as http from 'node:http';
import {
  connect, UNEXPECTED_RESPONSE_BODY_LIMIT, WebSocketProtocolError,
} from '../../lib/index';
import { type EchoServer, rejection, startEchoServer } from './servers';

function answer(status: string, body: string, extra = ''): string {
  return `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${String(Buffer.byteLength(body))}\r\n${extra}Connection: close\r\n\r\n${body}`;
}

async function refusal(promise: Promise<unknown>): Promise<WebSocketProtocolError> {
  const err = await rejection(promise);
  expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_STATUS');
  return err as WebSocketProtocolError;
}

describe('connect refused by the server (a non-101 answer)', () => {
  let server: EchoServer;

  beforeEach(async () => { server = await startEchoServer(); });
  afterEach(async () => { await server.close(); });

  it('rejects with the real status, the headers and the body', async () => {
    server.answer('/busy', answer('503 Service Unavailable', '{"retry":true}', 'Retry-After: 7\r\nX-Reason: maintenance\r\n'));
    const err = await refusal(connect(`${server.origin}/busy`));
    expect(err.status).to.equal(503);
    expect(err.headers?.['retry-after']).to.equal('7');
    expect(err.headers?.['x-reason']).to.equal('maintenance');
    expect(err.body?.toString()).to.equal('{"retry":true}');
    expect(err.closeCode).to.equal(1002);
  });

  it('gives an empty body when the answer has none', async () => {
    server.answer('/forbidden', answer('403 Forbidden', ''));
    const err = await refusal(connect(`${server.origin}/forbidden`));
    expect(err.status).to.equal(403);
    expect(err.body).to.deep.equal(Buffer.alloc(0));
  });

  it(`keeps only the first ${String(UNEXPECTED_RESPONSE_BODY_LIMIT)} bytes of a large body`, async () => {
    const big = 'abcdefghijklmnopqrstuvwxyz'.repeat(40_000);
    server.answer('/big', answer('500 Internal Server Error', big));
    const err = await refusal(connect(`${server.origin}/big`));
    expect(err.body?.length).to.equal(UNEXPECTED_RESPONSE_BODY_LIMIT);
    expect(err.body?.toString()).to.equal(big.slice(0, UNEXPECTED_RESPONSE_BODY_LIMIT));
  });

  it('keeps what arrived of a body the server cut short', async () => {
    server.answer('/cut', 'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 1000\r\n\r\nonly this');
    const err = await refusal(connect(`${server.origin}/cut`));
    expect(err.status).to.equal(502);
    expect(err.body?.toString()).to.equal('only this');
  });

  for (const [framing, start] of [
    ['a Content-Length', 'Content-Length: 100000\r\n\r\nstill coming'],
    ['chunked encoding', 'Transfer-Encoding: chunked\r\n\r\nc\r\nstill coming\r\n'],
  ] as const) {
    it(`does not wait forever for a body with ${framing} that never ends`, async () => {
      const held: Array<{ destroy(): void }> = [];
      server.answer('/slow', (socket) => {
        held.push(socket);
        socket.write(`HTTP/1.1 503 Service Unavailable\r\n${start}`);
      });
      const err = await refusal(connect(`${server.origin}/slow`));
      expect(err.status).to.equal(503);
      expect(err.body?.toString()).to.equal('still coming');
      for (const socket of held) socket.destroy();
    });
  }

  describe('with onUnexpectedResponse', () => {
    const body = 'x'.repeat(3 * UNEXPECTED_RESPONSE_BODY_LIMIT);

    it('hands the whole response and the request to the application, then rejects without a body', async () => {
      server.answer('/teapot', answer('418 I\'m a Teapot', body, 'X-Kind: teapot\r\n'));
      let read: Promise<string> | undefined;
      let requestPath: string | undefined;
      const err = await refusal(connect(`${server.origin}/teapot`, {
        onUnexpectedResponse: (response: http.IncomingMessage, request: http.ClientRequest) => {
          requestPath = request.path;
          read = (async () => {
            let text = '';
            for await (const chunk of response) text += String(chunk);
            return text;
          })();
        },
      }));
      expect(err.status).to.equal(418);
      expect(err.headers?.['x-kind']).to.equal('teapot');
      expect(err.body).to.equal(undefined);
      expect(requestPath).to.equal('/teapot');
      expect(await read).to.equal(body);
    });

    it('rejects with what the hook throws', async () => {
      server.answer('/teapot', answer('418 I\'m a Teapot', body));
      const thrown = new Error('hook failed');
      const err = await rejection(connect(`${server.origin}/teapot`, { onUnexpectedResponse: () => { throw thrown; } }));
      expect(err).to.equal(thrown);
    });
  });
});
