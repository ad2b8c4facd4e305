import { expect } from 'chai';
import * as path from 'node:path';
import { connect, parseWebSocketUrl, WebSocketUsageError } from '../../lib/index';
import { echoOnce, type EchoServer, redirect, rejection, startEchoServer, tempDir, testCertificate } from './servers';

describe('connect to ws+unix: and wss+unix: URLs (unix domain sockets)', () => {
  let temp: { dir: string; remove(): void };
  let socketPath: string;
  let server: EchoServer | undefined;

  beforeEach(() => {
    // A space in the folder name: the URL parser percent-encodes it, the socket path must not be.
    temp = tempDir('wsframe unix-');
    socketPath = path.join(temp.dir, 'echo.sock');
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    temp.remove();
  });

  it('connects over the socket, sending the path after the colon and the query as the request target', async () => {
    server = await startEchoServer({ socketPath });
    const ws = await connect(`ws+unix:${socketPath}:/ws?room=1`);
    expect(await echoOnce(ws, 'over a unix socket')).to.equal('over a unix socket');
    expect(server.seen.map((r) => [r.url, r.headers.host])).to.deep.equal([['/ws?room=1', 'localhost']]);
  });

  it('requests / when the URL names only the socket', async () => {
    server = await startEchoServer({ socketPath, wss: { path: '/' } });
    const ws = await connect(`ws+unix:${socketPath}`);
    await echoOnce(ws, 'root');
    expect(server.seen.map((r) => r.url)).to.deep.equal(['/']);
  });

  it('speaks TLS over the socket for wss+unix:', async () => {
    const pair = testCertificate();
    server = await startEchoServer({ socketPath, tls: pair });
    const ws = await connect(`wss+unix:${socketPath}:/ws`, { ca: pair.cert });
    expect(await echoOnce(ws, 'tls over a unix socket')).to.equal('tls over a unix socket');
  });

  it('follows a relative redirect on the same socket', async () => {
    server = await startEchoServer({ socketPath });
    server.answer('/old', redirect(302, '/ws?moved=1'));
    const ws = await connect(`ws+unix:${socketPath}:/old`, { followRedirects: true, headers: { Authorization: 'Bearer s' } });
    await echoOnce(ws, 'moved on the socket');
    expect(server.seen.map((r) => [r.url, r.headers.authorization])).to.deep.equal([['/old', 'Bearer s'], ['/ws?moved=1', 'Bearer s']]);
  });

  it('rejects with node\'s ENOENT when nothing listens at the path', async () => {
    const err = await rejection(connect(`ws+unix:${socketPath}:/ws`));
    expect(err).to.be.instanceOf(Error).with.property('code', 'ENOENT');
  });

  it('refuses a unix URL without a socket path', () => {
    for (const url of ['ws+unix:', 'ws+unix::/ws', 'wss+unix:']) {
      expect(() => parseWebSocketUrl(url), url).to.throw(WebSocketUsageError);
    }
    expect(parseWebSocketUrl(`ws+unix:${socketPath}:/ws`).protocol).to.equal('ws+unix:');
  });
});
