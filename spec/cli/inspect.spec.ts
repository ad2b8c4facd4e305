import { expect } from 'chai';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, WebSocketServer, type WebSocket } from '../../lib/index';
import { run, stopChildren } from './child';

const HELLO = '81 05 48 65 6c 6c 6f';
const MASKED_HELLO = '81 85 37 fa 21 3d 7f 9f 4d 51 58';

describe('cli/inspect', () => {
  let dir: string;

  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsframe-inspect-')); });
  afterEach(async () => {
    await stopChildren();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('decodes a raw capture file, one line per frame, and exits 0', async () => {
    const file = path.join(dir, 'capture.bin');
    fs.writeFileSync(file, Buffer.from(`${HELLO} ${MASKED_HELLO}`.replace(/ /g, ''), 'hex'));
    const { code, stdout, stderr } = await run(['inspect', file]);
    expect(stderr).to.equal('');
    expect(stdout).to.equal([
      '@0       fin=1 rsv=000 op=text         mask=-        len=5        "Hello"',
      '@7       fin=1 rsv=000 op=text         mask=37fa213d len=5        "Hello"',
      '@18      end: 2 frames, 2 messages, no errors',
      '',
    ].join('\n'));
    expect(code).to.equal(0);
  });

  it('reads hex text from stdin with --hex', async () => {
    const { code, stdout } = await run(['inspect', '--hex'], `0x81 0x05\n48 65 6c\n6c 6f\n`);
    expect(stdout.split('\n')[0]).to.match(/^@0 +fin=1 rsv=000 op=text .* len=5 +"Hello"$/);
    expect(code).to.equal(0);
  });

  it('explains an unmasked client frame checked with --role server: WS_ERR_EXPECTED_MASK (1002) at byte 1, exit 4', async () => {
    const { code, stdout } = await run(['inspect', '--hex', '--role', 'server'], HELLO);
    const [error, hint] = stdout.split('\n');
    expect(error).to.equal('@1       error WS_ERR_EXPECTED_MASK (close 1002) at byte 1: frames from a client must be masked');
    expect(hint).to.match(/^ +hint: a client must mask every frame/);
    expect(code).to.equal(4);
  });

  it('reports a truncated trailing frame and exits 4', async () => {
    const { code, stdout } = await run(['inspect', '--hex'], `${HELLO} 82 7e 01 00 00 01`);
    const out = stdout.split('\n');
    expect(out[1]).to.match(/^@7 +fin=1 rsv=000 op=binary .*len=256 +00 01 … {2}\[2 of 256 payload bytes present\]$/);
    expect(out[2]).to.equal('@13      error WS_ERR_TRUNCATED_FRAME (close 1006) at byte 13: the stream ended in the middle of a frame');
    expect(code).to.equal(4);
  });

  it('exits 4 with the position of a character that is not hex', async () => {
    const { code, stdout, stderr } = await run(['inspect', '--hex'], '81 05\n48 zz');
    expect(stderr).to.equal('wsframe inspect: --hex input: "z" is not a hex digit (line 2, column 4)\n');
    expect(stdout).to.equal('');
    expect(code).to.equal(4);
  });

  it('exits 1 for a file that cannot be read', async () => {
    const { code, stdout, stderr } = await run(['inspect', path.join(dir, 'missing.bin')]);
    expect(stderr).to.match(/^wsframe inspect: cannot read .*missing\.bin: ENOENT/);
    expect(stdout).to.equal('');
    expect(code).to.equal(1);
  });

  it('applies --max-payload, --max-message and --allow-non-minimal to the decoder', async () => {
    const tooLong = await run(['inspect', '--hex', '--max-message', '4'], '01 03 48 65 6c 80 02 6c 6f');
    expect(tooLong.stdout).to.match(/^@5 +error WS_ERR_MESSAGE_TOO_BIG \(close 1009\) in the frame at byte 5/m);
    expect(tooLong.code).to.equal(4);
    const tooBig = await run(['inspect', '--hex', '--max-payload', '4'], HELLO);
    expect(tooBig.stdout).to.match(/^@1 +error WS_ERR_PAYLOAD_TOO_BIG \(close 1009\) at byte 1/);
    expect(tooBig.code).to.equal(4);
    const nonMinimal = await run(['inspect', '--hex', '--allow-non-minimal'], '81 7e 00 05 48 65 6c 6c 6f');
    expect(nonMinimal.stdout).to.match(/len=5 +"Hello"/);
    expect(nonMinimal.code).to.equal(0);
  });

  it('prints what the README shows for its samples', async () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Command line'));
    const block = section.slice(section.indexOf('$ wsframe inspect'), section.indexOf('```', section.indexOf('$ wsframe inspect')));
    const samples = block.split(/^\$ /m).filter((sample) => sample !== '');
    expect(samples).to.have.length(2);
    const bug = Buffer.concat([Buffer.from('81 05 48 65 6c 6c 6f 81 c8 '), Buffer.from(Buffer.alloc(200, 0x61).toString('hex'))]);
    fs.writeFileSync(path.join(dir, 'bug.hex'), bug);
    for (const sample of samples) {
      const [command, ...expected] = sample.trimEnd().split('\n');
      const printf = /^printf '([^']*)' \| (.*)$/.exec(command);
      const args = (printf === null ? command : printf[2]).split(' ').slice(1).map((arg) => (arg === 'bug.hex' ? path.join(dir, arg) : arg));
      const { stdout } = await run(args, printf === null ? '' : printf[1]);
      expect(stdout.trimEnd().split('\n'), command).to.deep.equal(expected);
    }
  });

  it('decodes both directions of a real connection captured by a TCP proxy', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    wss.on('connection', (ws: WebSocket) => { ws.on('message', (data, isBinary) => { ws.send(data, isBinary); }); });
    const toServer: Buffer[] = [];
    const toClient: Buffer[] = [];
    // A man in the middle that records what passes, as a capture tool would.
    const proxy = net.createServer((client) => {
      const upstream = net.connect((wss.address() as net.AddressInfo).port, '127.0.0.1');
      client.on('data', (chunk: Buffer) => { toServer.push(Buffer.from(chunk)); upstream.write(chunk); });
      upstream.on('data', (chunk: Buffer) => { toClient.push(Buffer.from(chunk)); client.write(chunk); });
      client.on('end', () => { upstream.end(); });
      upstream.on('end', () => { client.end(); });
      client.on('error', () => { upstream.destroy(); });
      upstream.on('error', () => { client.destroy(); });
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    try {
      const ws = await connect(`ws://127.0.0.1:${(proxy.address() as net.AddressInfo).port}/`);
      const closed = once(ws, 'close');
      let echoes = 0;
      const echoed = new Promise<void>((resolve) => { ws.on('message', () => { if (++echoes === 2) resolve(); }); });
      ws.send('héllo');
      ws.send(Buffer.alloc(300, 7));
      await echoed;
      ws.close(1000, 'done');
      await closed;

      const clientSide = path.join(dir, 'to-server.bin');
      fs.writeFileSync(clientSide, Buffer.concat(toServer));
      const sent = await run(['inspect', '--role', 'server', clientSide]);
      const sentLines = sent.stdout.trimEnd().split('\n');
      expect(sentLines[0]).to.match(/^@0 +http head, \d+ bytes: GET \/ HTTP\/1\.1$/);
      expect(sentLines[1]).to.match(/^@\d+ +fin=1 rsv=000 op=text +mask=[0-9a-f]{8} len=6 +"héllo"$/);
      expect(sentLines[2]).to.match(/^@\d+ +fin=1 rsv=000 op=binary +mask=[0-9a-f]{8} len=300 +(07 ){64}…$/);
      expect(sentLines[3]).to.match(/^@\d+ +fin=1 rsv=000 op=close +mask=[0-9a-f]{8} len=6 +1000 Normal "done"$/);
      expect(sentLines[4]).to.match(/end: 3 frames, 2 messages, no errors$/);
      expect(sent.code).to.equal(0);

      const serverSide = path.join(dir, 'to-client.bin');
      fs.writeFileSync(serverSide, Buffer.concat(toClient));
      const received = await run(['inspect', '--role', 'client', serverSide]);
      expect(received.stdout).to.match(/^@0 +http head, \d+ bytes: HTTP\/1\.1 101 Switching Protocols\n/);
      expect(received.stdout).to.match(/op=text +mask=- +len=6 +"héllo"\n/);
      expect(received.stdout).to.match(/op=close +mask=- +len=2 +1000 Normal\n/);
      expect(received.code).to.equal(0);

      // The same client bytes checked as a client would check a server's: every frame is masked.
      const wrongRole = await run(['inspect', '--role', 'client', clientSide]);
      expect(wrongRole.stdout).to.match(/error WS_ERR_UNEXPECTED_MASK \(close 1002\)/);
      expect(wrongRole.code).to.equal(4);
    } finally {
      proxy.close();
      await wss.close();
    }
  });
});
