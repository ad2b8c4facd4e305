import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { WebSocketServer as WsServer } from 'ws';
import {
  WebSocketProtocolError, WebSocketServer, type WebSocket, type WebSocketServerOptions, WebSocketUsageError,
} from '../../lib/index';
import type { ConnectArgs } from '../../lib/cli/args';
import { clientOptionsFor, describeConnectError, handshakeStatus } from '../../lib/cli/connect';
import { freePort, stopChildren, wsframe } from './child';

interface Peer {
  url: string;
  /** Messages the server received, in order. */
  received: Array<{ data: string | Buffer; isBinary: boolean }>;
  /** Resolves with the close code the server saw. */
  closed: Promise<number>;
}

const servers: Array<{ close(): unknown }> = [];

/** One of our servers on a free loopback port; `onConnection` decides what it does (default: echo). */
async function ourServer(
  onConnection: (ws: WebSocket) => void = (ws) => { ws.on('message', (data, isBinary) => { ws.send(data, isBinary); }); },
  options: Omit<WebSocketServerOptions, 'port'> = {},
): Promise<Peer> {
  const wss = new WebSocketServer({ ...options, port: 0, host: '127.0.0.1' });
  servers.push(wss);
  await once(wss, 'listening');
  const received: Peer['received'] = [];
  const closed = new Promise<number>((resolve) => {
    wss.on('connection', (ws: WebSocket) => {
      ws.on('message', (data: string | Buffer, isBinary: boolean) => { received.push({ data, isBinary }); });
      ws.on('close', (code: number) => { resolve(code); });
      onConnection(ws);
    });
  });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, received, closed };
}

function baseArgs(fields: Partial<ConnectArgs> = {}): ConnectArgs {
  return {
    url: 'ws://127.0.0.1/', protocols: [], headers: {}, origin: undefined, compress: false, binary: false, output: 'preview',
    keepOpen: false, insecure: false, ca: undefined, progress: undefined, quiet: false, ...fields,
  };
}

describe('cli/connect', () => {
  afterEach(async () => {
    await stopChildren();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  describe('helpers', () => {
    it('reads the status of a refused handshake from its number, or from the message', () => {
      const refused = new WebSocketProtocolError('WS_ERR_HANDSHAKE_STATUS', 'status 404');
      expect(handshakeStatus(refused)).to.equal(404);
      const numbered = Object.assign(new WebSocketProtocolError('WS_ERR_HANDSHAKE_STATUS'), { status: 503 });
      expect(handshakeStatus(numbered)).to.equal(503);
      expect(handshakeStatus(new WebSocketProtocolError('WS_ERR_HANDSHAKE_STATUS'))).to.equal(undefined);
    });

    it('maps connection failures to exit codes: 1 for misuse, 2 for everything that prevented a connection', () => {
      expect(describeConnectError(new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'x'), 'ws://h/').exitCode).to.equal(1);
      expect(describeConnectError(new WebSocketProtocolError('WS_ERR_HANDSHAKE_STATUS', 'status 401'), 'ws://h/'))
        .to.deep.equal({ message: 'handshake refused: ws://h/ answered HTTP 401 instead of 101 Switching Protocols', exitCode: 2 });
      expect(describeConnectError(new WebSocketProtocolError('WS_ERR_HANDSHAKE_ACCEPT'), 'ws://h/').message)
        .to.match(/^handshake failed: WS_ERR_HANDSHAKE_ACCEPT: /);
      const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
      expect(describeConnectError(refused, 'ws://h/')).to.deep.equal({ message: 'cannot connect to ws://h/: connect ECONNREFUSED 127.0.0.1:1', exitCode: 2 });
      const tls = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
      expect(describeConnectError(tls, 'wss://h/').message).to.match(/\(DEPTH_ZERO_SELF_SIGNED_CERT\); --ca <file> trusts a private CA, --insecure/);
    });

    it('builds client options from the arguments, reading the CA file', () => {
      expect(clientOptionsFor(baseArgs({ protocols: ['a'], headers: { X: '1' }, origin: 'o', compress: true }))).to.deep.equal({
        protocols: ['a'], headers: { X: '1' }, origin: 'o', perMessageDeflate: true,
      });
      expect(clientOptionsFor(baseArgs({ ca: 'ca.pem' }), () => Buffer.from('PEM')).tls).to.deep.equal({ rejectUnauthorized: true, ca: Buffer.from('PEM') });
      expect(clientOptionsFor(baseArgs({ insecure: true })).tls).to.deep.equal({ rejectUnauthorized: false, ca: undefined });
      expect(() => clientOptionsFor(baseArgs({ ca: '/nonexistent/ca.pem' }))).to.throw(WebSocketUsageError, 'cannot read --ca');
    });
  });

  it('sends each stdin line as a text message, prints every reply, then closes with 1000 (exit 0)', async () => {
    const peer = await ourServer();
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i} ✓`);
    const cli = wsframe(['connect', peer.url], { stdin: `${lines.join('\n')}\r\n\nlast without newline` });
    const { code } = await cli.exit();
    const expected = [...lines, '', 'last without newline'];
    expect(peer.received).to.deep.equal(expected.map((data) => ({ data, isBinary: false })));
    // Every echo printed: the close waited for the replies to everything sent.
    expect(cli.stdout).to.equal(`${expected.join('\n')}\n`);
    expect(await peer.closed).to.equal(1000);
    expect(cli.stderr).to.equal(`connected to ${peer.url} (subprotocol: none, extensions: none)\nclosed: 1000 Normal\n`);
    expect(code).to.equal(0);
  });

  it('prints binary messages as a preview line, in full hex with --hex, as raw bytes with --raw', async () => {
    const payload = Buffer.from(Array.from({ length: 40 }, (_, i) => i));
    const peer = await ourServer((ws) => {
      ws.send(payload);
      ws.send('text');
      ws.close(1000);
    });
    const preview = wsframe(['connect', peer.url, '--keep-open']);
    expect((await preview.exit()).code).to.equal(0);
    expect(preview.stdout).to.equal(`[binary 40 bytes] ${Array.from(payload.subarray(0, 32), (b) => b.toString(16).padStart(2, '0')).join(' ')} …\ntext\n`);

    const hex = wsframe(['connect', peer.url, '--keep-open', '--hex']);
    await hex.exit();
    expect(hex.stdout).to.equal(`${payload.toString('hex')}\ntext\n`);

    const raw = wsframe(['connect', peer.url, '--keep-open', '--raw']);
    await raw.exit();
    expect(raw.stdoutBytes.equals(Buffer.concat([payload, Buffer.from('text\n')]))).to.equal(true);
  });

  it('sends stdin as binary messages with --binary, with exact byte counts under --progress', async () => {
    const peer = await ourServer();
    const input = randomBytes(3 * 1024 * 1024 + 17);
    const cli = wsframe(['connect', peer.url, '--binary', '--raw', '--progress'], { stdin: input });
    const { code } = await cli.exit();
    expect(code).to.equal(0);
    expect(peer.received.every((m) => m.isBinary)).to.equal(true);
    expect(Buffer.concat(peer.received.map((m) => m.data as Buffer)).equals(input)).to.equal(true);
    expect(cli.stdoutBytes.equals(input)).to.equal(true);
    const count = peer.received.length;
    // The last progress line, printed at close, has the totals (stderr is a pipe: whole lines).
    expect(cli.stderr).to.include(`sent 3.0 MiB (${input.length} bytes, ${count} messages), received 3.0 MiB (${input.length} bytes, ${count} messages)`);
    expect(cli.stderr).to.match(/closed: 1000 Normal\n$/);
  });

  it('shows no progress when stderr is not a terminal unless asked', async () => {
    const peer = await ourServer();
    const cli = wsframe(['connect', peer.url, '--binary'], { stdin: randomBytes(1000) });
    await cli.exit();
    expect(cli.stderr).not.to.include('sent ');
  });

  it('prints nothing on stderr but errors with --quiet', async () => {
    const peer = await ourServer();
    const cli = wsframe(['connect', peer.url, '-q'], { stdin: 'x\n' });
    expect((await cli.exit()).code).to.equal(0);
    expect(cli.stdout).to.equal('x\n');
    expect(cli.stderr).to.equal('');
  });

  it('offers subprotocols, headers and an Origin, and prints what the server agreed to', async () => {
    const server = new WsServer({ port: 0, host: '127.0.0.1', handleProtocols: (offered) => (offered.has('chat.v1') ? 'chat.v1' : false) });
    servers.push(server);
    await once(server, 'listening');
    const request = new Promise<http.IncomingMessage>((resolve) => {
      server.on('connection', (ws, req) => { resolve(req); ws.on('message', (data) => { ws.send(String(data)); }); });
    });
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const cli = wsframe(['connect', url, '-p', 'chat.v2', '-p', 'chat.v1', '-H', 'X-Token: abc', '-H', 'x-token: def', '-o', 'https://app.test'], { stdin: 'hi\n' });
    const { code } = await cli.exit();
    const { headers } = await request;
    expect(headers['sec-websocket-protocol']).to.equal('chat.v2, chat.v1');
    expect(headers['x-token']).to.equal('abc, def');
    expect(headers.origin).to.equal('https://app.test');
    expect(cli.stderr).to.include('(subprotocol: chat.v1, extensions: none)');
    expect(cli.stdout).to.equal('hi\n');
    expect(code).to.equal(0);
  });

  it('negotiates permessage-deflate with --compress', async () => {
    const peer = await ourServer(undefined, { perMessageDeflate: true });
    const long = 'compressible '.repeat(200);
    const cli = wsframe(['connect', peer.url, '--compress'], { stdin: `${long}\n` });
    expect((await cli.exit()).code).to.equal(0);
    expect(cli.stderr).to.match(/extensions: permessage-deflate[^)]*\)/);
    expect(cli.stdout).to.equal(`${long}\n`);
  });

  it('exits 2 and shows the HTTP status when the server refuses the handshake', async () => {
    const server = http.createServer((_req, res) => { res.writeHead(401).end('no'); });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/private`;
    const cli = wsframe(['connect', url]);
    expect((await cli.exit()).code).to.equal(2);
    expect(cli.stderr).to.equal(`wsframe connect: handshake refused: ${url} answered HTTP 401 instead of 101 Switching Protocols\n`);

    const peer = await ourServer(undefined, { path: '/only' });
    const notFound = wsframe(['connect', `${peer.url}elsewhere`]);
    expect((await notFound.exit()).code).to.equal(2);
    expect(notFound.stderr).to.include('answered HTTP 404');
  });

  it('exits 2 when nothing listens on the port', async () => {
    const port = await freePort();
    const cli = wsframe(['connect', `ws://127.0.0.1:${port}/`]);
    expect((await cli.exit()).code).to.equal(2);
    expect(cli.stderr).to.match(/^wsframe connect: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/: .*ECONNREFUSED/);
  });

  it('exits 1 for an invalid URL', async () => {
    const cli = wsframe(['connect', 'ws://exa mple/']);
    expect((await cli.exit()).code).to.equal(1);
    expect(cli.stderr).to.match(/^wsframe connect: invalid URL: ws:\/\/exa mple\//);
  });

  it('exits 0 when the server closes with 1001 (going away)', async () => {
    const peer = await ourServer((ws) => { ws.close(1001, 'restart'); });
    const cli = wsframe(['connect', peer.url, '--keep-open']);
    expect((await cli.exit()).code).to.equal(0);
    expect(cli.stderr).to.include('closed: 1001 GoingAway "restart"');
  });

  it('exits 3 and prints the close code when the server closes with an error code', async () => {
    const peer = await ourServer((ws) => { ws.close(1011, 'boom'); });
    const cli = wsframe(['connect', peer.url, '--keep-open', '-q']);
    expect((await cli.exit()).code).to.equal(3);
    // Shown even with --quiet: it explains the exit code.
    expect(cli.stderr).to.equal('closed: 1011 InternalError "boom"\n');
  });

  it('exits 3 when the connection drops without a closing handshake (1006)', async () => {
    const peer = await ourServer((ws) => { ws.terminate(); });
    const cli = wsframe(['connect', peer.url, '--keep-open']);
    expect((await cli.exit()).code).to.equal(3);
    expect(cli.stderr).to.include('closed: 1006 Abnormal');
  });

  it('exits 3 with the error code when the server breaks the protocol (a masked frame, 1002)', async () => {
    const server = new WsServer({ port: 0, host: '127.0.0.1' });
    servers.push(server);
    await once(server, 'listening');
    server.on('connection', (ws) => { ws.send('masked', { mask: true }); });
    const cli = wsframe(['connect', `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, '--keep-open']);
    expect((await cli.exit()).code).to.equal(3);
    expect(cli.stderr).to.include('error: WS_ERR_UNEXPECTED_MASK (1002): frames from a server must not be masked');
    expect(cli.stderr).to.include('closed: 1002 ProtocolError');
    expect(cli.stdout).to.equal('');
  });

  it('keeps the connection open after stdin ends with --keep-open, until the server closes', async () => {
    const peer = await ourServer((ws) => {
      ws.on('message', () => {
        // Well after stdin has ended: without --keep-open the client would have closed by now.
        setTimeout(() => { ws.send('late'); ws.close(1000); }, 300);
      });
    });
    const cli = wsframe(['connect', peer.url, '--keep-open'], { stdin: 'start\n' });
    expect((await cli.exit()).code).to.equal(0);
    expect(cli.stdout).to.equal('late\n');
  });

  it('closes with 1000 on Ctrl-C (SIGINT) and exits 0', async () => {
    const peer = await ourServer();
    const cli = wsframe(['connect', peer.url]);
    cli.write('before\n');
    await cli.waitFor(/^before$/m, 'stdout');
    cli.signal('SIGINT');
    expect((await cli.exit()).code).to.equal(0);
    expect(await peer.closed).to.equal(1000);
    expect(cli.stderr).to.include('closing (Ctrl-C again to stop at once)\nclosed: 1000 Normal\n');
  });

  describe('wss', () => {
    let dir: string;
    let cert: Buffer;
    let key: Buffer;

    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsframe-cli-tls-'));
      try {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'),
          '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
      } catch {
        throw new Error('openssl is needed to make a test certificate (apt-get install openssl)');
      }
      cert = fs.readFileSync(path.join(dir, 'cert.pem'));
      key = fs.readFileSync(path.join(dir, 'key.pem'));
    });
    after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

    async function secureServer(): Promise<string> {
      const server = https.createServer({ key, cert });
      const wss = new WebSocketServer({ server });
      wss.on('connection', (ws: WebSocket) => { ws.on('message', (data, isBinary) => { ws.send(data, isBinary); }); });
      servers.push(wss, server);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return `wss://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    }

    it('trusts a private CA with --ca', async () => {
      const url = await secureServer();
      const cli = wsframe(['connect', url, '--ca', path.join(dir, 'cert.pem')], { stdin: 'over tls\n' });
      expect((await cli.exit()).code).to.equal(0);
      expect(cli.stdout).to.equal('over tls\n');
    });

    it('accepts any certificate with --insecure', async () => {
      const url = await secureServer();
      const cli = wsframe(['connect', url, '-k'], { stdin: 'x\n' });
      expect((await cli.exit()).code).to.equal(0);
      expect(cli.stdout).to.equal('x\n');
    });

    it('refuses an unknown certificate with exit 2 and says how to trust it', async () => {
      const url = await secureServer();
      const cli = wsframe(['connect', url]);
      expect((await cli.exit()).code).to.equal(2);
      expect(cli.stderr).to.match(/^wsframe connect: cannot connect to wss:.*self-signed certificate.*--ca <file> trusts a private CA/);
    });

    it('exits 1 when the --ca file cannot be read', async () => {
      const cli = wsframe(['connect', 'wss://127.0.0.1:1/', '--ca', path.join(dir, 'missing.pem')]);
      expect((await cli.exit()).code).to.equal(1);
      expect(cli.stderr).to.match(/^wsframe connect: cannot read --ca .*missing\.pem/);
    });
  });
});
