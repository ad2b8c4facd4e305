/**
 * The demo behind `npm start`, driven over loopback by our own client, node:http and a raw TCP
 * socket: the page, /echo, /chat, the slow-reader limit and 404s.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { startDemoServer, type DemoServer } from '../examples/demo-server';
import { connect, ReadyState, type WebSocket } from '../lib/index';
import {
  binaryOfBytes, closePayload, maskedFrame, next, rawConnect, type RawFrame, RawFrameReader, rawRequestStatus,
  textOfBytes, until, within,
} from './interop/helpers';

/** GET over node:http; the whole body as a string. */
function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return within(new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body }); });
      res.on('error', reject);
    }).on('error', reject);
  }), `GET ${url}`);
}

function message(ws: WebSocket): Promise<{ data: string | Buffer; isBinary: boolean }> {
  return next(ws, 'message').then(([data, isBinary]) => ({ data: data as string | Buffer, isBinary: isBinary as boolean }));
}

/** Kernel socket buffer maxima (bytes) from /proc, or a generous guess where unreadable. */
function kernelBufferMax(file: string): number {
  try {
    const max = Number(fs.readFileSync(file, 'utf8').trim().split(/\s+/)[2]);
    return Number.isFinite(max) && max > 0 ? max : 32 * 1024 * 1024;
  } catch {
    return 32 * 1024 * 1024;
  }
}

describe('demo server', () => {
  let demo: DemoServer;
  let base: string;
  const opened: WebSocket[] = [];

  async function open(path: string): Promise<WebSocket> {
    const ws = await within(connect(`${base}${path}`), `connect() to ${path}`);
    opened.push(ws);
    return ws;
  }

  before(async () => {
    demo = await within(startDemoServer({ port: 0, host: '127.0.0.1' }), 'the demo to listen');
    base = `ws://127.0.0.1:${demo.port}`;
  });

  afterEach(() => {
    for (const ws of opened.splice(0)) ws.terminate();
  });

  after(async () => {
    if (demo !== undefined) await within(demo.close(), 'the demo to close');
  });

  describe('GET /', () => {
    it('serves the echo page as HTML with a Send button', async () => {
      const page = await get(demo.url);
      expect(page.status).to.equal(200);
      expect(page.type).to.match(/^text\/html\b/);
      expect(page.body).to.match(/<button[^>]*id="send"[^>]*>Send<\/button>/);
      expect(page.body).to.match(/<ul id="output">/);
    });

    it('renders messages with textContent, never as HTML', async () => {
      const page = await get(demo.url);
      expect(page.body).to.include('.textContent = ');
      // Any HTML-parsing sink would let a received message inject markup.
      expect(page.body).to.not.match(/\.(innerHTML|outerHTML)\s*\+?=|insertAdjacentHTML|document\.write/);
    });

    it('answers 404 for an unknown path', async () => {
      const page = await get(`${demo.url}no-such-page`);
      expect(page.status).to.equal(404);
    });
  });

  describe('upgrade routing', () => {
    it('answers an upgrade to an unknown path with 404', async () => {
      const status = await rawRequestStatus(demo.port, 'GET /no-such-endpoint HTTP/1.1\r\nHost: 127.0.0.1\r\n'
        + 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
        + 'Sec-WebSocket-Version: 13\r\n\r\n');
      expect(status).to.match(/^HTTP\/1\.1 404 /);
    });

    it('makes connect() to an unknown path reject with WS_ERR_HANDSHAKE_STATUS', async () => {
      let error: unknown;
      try {
        opened.push(await within(connect(`${base}/no-such-endpoint`), 'connect()'));
      } catch (err) {
        error = err;
      }
      expect((error as { code?: string } | undefined)?.code).to.equal('WS_ERR_HANDSHAKE_STATUS');
    });
  });

  describe('/echo', () => {
    it('echoes text as text', async () => {
      const ws = await open('/echo');
      const echoed = message(ws);
      ws.send('héllo, €cho 𝄞');
      expect(await echoed).to.deep.equal({ data: 'héllo, €cho 𝄞', isBinary: false });
    });

    it('echoes binary as binary, even when the bytes are valid UTF-8', async () => {
      const ws = await open('/echo');
      for (const bytes of [binaryOfBytes(300), Buffer.from('looks like text')]) {
        const echoed = message(ws);
        ws.send(bytes);
        const got = await echoed;
        expect(got.isBinary).to.equal(true);
        expect(Buffer.isBuffer(got.data) && got.data.equals(bytes)).to.equal(true);
      }
    });

    it('echoes empty text and empty binary messages with their types', async () => {
      const ws = await open('/echo');
      const text = message(ws);
      ws.send('');
      expect(await text).to.deep.equal({ data: '', isBinary: false });
      const binary = message(ws);
      ws.send(Buffer.alloc(0));
      const got = await binary;
      expect(got.isBinary).to.equal(true);
      expect((got.data as Buffer).length).to.equal(0);
    });

    it('accepts and echoes a 16 MiB binary message', async () => {
      const ws = await open('/echo');
      const bytes = binaryOfBytes(16 * 1024 * 1024);
      const echoed = message(ws);
      ws.send(bytes);
      const got = await echoed;
      expect(got.isBinary).to.equal(true);
      expect((got.data as Buffer).length).to.equal(bytes.length);
      expect(Buffer.compare(got.data as Buffer, bytes), 'bytes differ').to.equal(0);
    });

    it('accepts and echoes a 16 MiB text message', async () => {
      const ws = await open('/echo');
      const text = textOfBytes(16 * 1024 * 1024);
      const echoed = message(ws);
      ws.send(text);
      const got = await echoed;
      expect(got.isBinary).to.equal(false);
      expect(got.data === text, 'text differs').to.equal(true);
    });
  });

  describe('/chat', () => {
    it('broadcasts each message to every connected client, the sender included', async () => {
      const clients = [await open('/chat'), await open('/chat'), await open('/chat')];
      await until(() => demo.chatServer.clients.size === 3, 'three chat clients');
      const text = clients.map(message);
      clients[1].send('hello, room');
      for (const got of await Promise.all(text)) expect(got).to.deep.equal({ data: 'hello, room', isBinary: false });
      const binary = clients.map(message);
      clients[2].send(binaryOfBytes(70000));
      for (const got of await Promise.all(binary)) {
        expect(got.isBinary).to.equal(true);
        expect(Buffer.compare(got.data as Buffer, binaryOfBytes(70000))).to.equal(0);
      }
    });
  });
});

describe('demo server: a chat client that never reads', () => {
  const QUEUE_LIMIT = 64 * 1024;
  const MESSAGE_BYTES = 32 * 1024;
  let demo: DemoServer;
  const cleanup: Array<() => void> = [];

  before(async () => {
    demo = await within(startDemoServer({ port: 0, host: '127.0.0.1', chatQueueLimit: QUEUE_LIMIT }), 'the demo to listen');
  });

  after(async () => {
    for (const step of cleanup.splice(0)) step();
    if (demo !== undefined) await within(demo.close(), 'the demo to close');
  });

  /** Message `n` of the test: its number first, so order and gaps show. */
  function numbered(n: number): string {
    const head = `#${String(n).padStart(6, '0')} `;
    return head + 'm'.repeat(MESSAGE_BYTES - head.length);
  }

  it('is closed with 1008 or dropped once its queue overflows, while a reading client gets every broadcast', async () => {
    const base = `ws://127.0.0.1:${demo.port}/chat`;
    const stuckAccepted = next(demo.chatServer, 'connection');
    const stuck = await rawConnect(demo.port, '/chat');
    cleanup.push(() => { stuck.socket.destroy(); });
    const [stuckServerSide] = (await stuckAccepted) as [WebSocket];
    const stuckClosed = next(stuckServerSide, 'close', 30_000);
    const sender = await within(connect(base), 'the sender to connect');
    const reader = await within(connect(base), 'the reader to connect');
    cleanup.push(() => { sender.terminate(); reader.terminate(); });
    await until(() => demo.chatServer.clients.size === 3, 'three chat clients');

    // The stuck client's kernel buffers (our send side, its receive side) absorb this much before
    // anything queues in the server; send well past that.
    const budget = 2 * (kernelBufferMax('/proc/sys/net/ipv4/tcp_wmem') + kernelBufferMax('/proc/sys/net/ipv4/tcp_rmem'))
      + 16 * 1024 * 1024;
    let sent = 0;
    // One message at a time: the next leaves once both readers have the last one, so only the
    // stuck client's queue ever grows.
    const broadcast = async (): Promise<void> => {
      const text = numbered(sent);
      const toReader = message(reader);
      const toSender = message(sender);
      sender.send(text);
      sent += 1;
      for (const got of [await toReader, await toSender]) {
        expect(got.isBinary).to.equal(false);
        expect(got.data === text, `broadcast ${sent - 1} arrived intact and in order`).to.equal(true);
      }
    };
    while (stuckServerSide.readyState === ReadyState.OPEN && sent * MESSAGE_BYTES < budget) await broadcast();
    expect(stuckServerSide.readyState, `the stuck client is still open after ${sent} broadcasts`).to.not.equal(ReadyState.OPEN);
    // The room carries on without it.
    const overflowAt = sent;
    for (let i = 0; i < 20; i++) await broadcast();

    // Now read what the stuck client was given: an unbroken prefix of the broadcasts, then a
    // close frame with 1008 (answered, so the server can finish) or the end of the stream.
    const reader2 = new RawFrameReader();
    const frames: RawFrame[] = [];
    let closeCode: number | undefined;
    const ended = within(new Promise<void>((resolve) => {
      const onFrames = (list: RawFrame[]): void => {
        for (const frame of list) {
          frames.push(frame);
          if (frame.opcode === 0x8 && closeCode === undefined) {
            closeCode = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
            stuck.socket.write(maskedFrame(0x8, closePayload(closeCode)));
          }
        }
      };
      onFrames(reader2.push(stuck.rest));
      stuck.socket.on('data', (chunk: Buffer) => { onFrames(reader2.push(chunk)); });
      stuck.socket.on('error', () => { /* a reset also ends it */ });
      stuck.socket.on('close', () => { resolve(); });
      stuck.socket.resume();
    }), 'the stuck client\'s connection to end', 30_000);
    await ended;
    const data = frames.filter((frame) => frame.opcode === 0x1);
    expect(data.length, 'broadcasts the stuck client got').to.be.below(overflowAt);
    data.forEach((frame, n) => {
      expect(frame.fin).to.equal(true);
      expect(frame.payload.toString() === numbered(n), `stuck client's message ${n} is broadcast ${n}`).to.equal(true);
    });
    if (closeCode !== undefined) expect(closeCode).to.equal(1008);
    const [serverCode] = await stuckClosed;
    expect([1008, 1006]).to.include(serverCode);
    expect(sender.readyState).to.equal(ReadyState.OPEN);
    expect(reader.readyState).to.equal(ReadyState.OPEN);
  });
});
