/**
 * Interop with Debian's python3-websockets (10.4), over loopback: its client against our
 * WebSocketServer, and our connect() against its server. The Python side runs as a child process
 * of /usr/bin/python3 (not whatever python3 is first on PATH: that one may lack the module).
 */
import { expect } from 'chai';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { connect, type WebSocket, WebSocketServer } from '../../lib/index';
import { binaryOfBytes, next, repoRoot, textOfBytes, within } from './helpers';

const PYTHON = '/usr/bin/python3';
const INSTALL_HINT = 'install Debian\'s python3-websockets (apt-get install python3 python3-websockets; .ci/run does this)';

/** The environment for /usr/bin/python3, without a version manager's settings for another Python. */
function pythonEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  return env;
}

/** Fails (never skips) when the Python peer is not installed. */
function requirePythonWebsockets(): void {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} not found: ${INSTALL_HINT}`);
  const probe = spawnSync(PYTHON, ['-c', 'import websockets, websockets.client, websockets.server'], {
    encoding: 'utf8', timeout: 30_000, env: pythonEnv(),
  });
  if (probe.status !== 0) {
    throw new Error(`the websockets module is missing for ${PYTHON}: ${INSTALL_HINT}\n${probe.stderr ?? ''}${probe.error?.message ?? ''}`);
  }
}

function script(name: string): string {
  return path.join(repoRoot(), 'spec', 'interop', name);
}

/** Children started by this file, stopped in after() hooks even when a test failed. */
const children = new Set<ChildProcess>();

function stopChild(child: ChildProcess): Promise<void> {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve(); }); });
  child.stdin?.end();
  return within(exited, 'the Python process to exit', 5_000).catch(() => {
    child.kill('SIGKILL');
    return within(exited, 'the Python process to die');
  });
}

/** Runs python_client.py to completion and returns the JSON it printed. */
function runClient(url: string, scenario: string): Promise<Record<string, unknown>> {
  const child = spawn(PYTHON, [script('python_client.py'), url, scenario], { env: pythonEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const done = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      children.delete(child);
      if (code !== 0) {
        reject(new Error(`python_client.py ${scenario} exited with ${String(code ?? signal)}\nstdout: ${stdout}\nstderr: ${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>);
      } catch {
        reject(new Error(`python_client.py printed no JSON\nstdout: ${stdout}\nstderr: ${stderr}`));
      }
    });
  });
  return within(done, `python_client.py ${scenario}`, 30_000).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
}

interface PythonMessage {
  name: string;
  sent_type: string;
  received_type: string;
  sent_length: number;
  received_length: number;
  equal: boolean;
  sample: string;
}

/** What our server saw of one connection. */
interface ServerSide {
  ws: WebSocket;
  pings: string[];
  messages: Array<{ data: string | Buffer; isBinary: boolean }>;
  closed: Promise<{ code: number; reason: string }>;
}

describe('interop: python-websockets client against our WebSocketServer', () => {
  let wss: WebSocketServer;
  let url: string;
  const sides: ServerSide[] = [];

  before(async () => {
    requirePythonWebsockets();
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    wss.on('connection', (ws: WebSocket) => {
      const side: ServerSide = {
        ws,
        pings: [],
        messages: [],
        closed: new Promise((resolve) => { ws.once('close', (code: number, reason: string) => { resolve({ code, reason }); }); }),
      };
      sides.push(side);
      ws.on('ping', (data: Buffer) => { side.pings.push(data.toString()); });
      ws.on('message', (data: string | Buffer, isBinary: boolean) => {
        side.messages.push({ data, isBinary });
        if (data === 'close me') ws.close(1000, 'goodbye from wsframe');
        else ws.send(data, isBinary);
      });
    });
    await next(wss, 'listening');
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  });

  after(async () => {
    await Promise.all([...children].map(stopChild));
    if (wss !== undefined) await within(wss.close(), 'our server to close');
  });

  describe('echo, ping and a close python starts', () => {
    let result: Record<string, unknown>;
    let side: ServerSide;

    before(async () => {
      const count = sides.length;
      result = await runClient(url, 'echo');
      expect(sides.length, 'connections our server accepted').to.equal(count + 1);
      side = sides[count];
    });

    function sent(name: string): PythonMessage {
      const found = (result.messages as PythonMessage[]).find((m) => m.name === name);
      if (found === undefined) throw new Error(`python reported no message ${name}`);
      return found;
    }

    it('echoes a short text message unchanged, as text', () => {
      expect(sent('text')).to.include({ received_type: 'text', equal: true, sample: 'h\u00e9llo from python' });
      expect(side.messages[0]).to.deep.equal({ data: 'h\u00e9llo from python', isBinary: false });
    });

    it('echoes a short binary message unchanged, as binary', () => {
      expect(sent('binary')).to.include({ received_type: 'binary', received_length: 256, equal: true });
      expect(side.messages[1].isBinary).to.equal(true);
      expect(Buffer.compare(side.messages[1].data as Buffer, binaryOfBytes(256))).to.equal(0);
    });

    it('echoes 126-byte text and binary messages (16-bit length) with their types', () => {
      expect(sent('text-126')).to.include({ sent_type: 'text', received_type: 'text', received_length: 126, equal: true });
      expect(sent('binary-126')).to.include({ sent_type: 'binary', received_type: 'binary', received_length: 126, equal: true });
      expect(side.messages[2].data).to.equal(textOfBytes(126));
    });

    it('echoes 65536-byte text and binary messages (64-bit length) with their types', () => {
      expect(sent('text-65536')).to.include({ sent_type: 'text', received_type: 'text', received_length: 65536, equal: true });
      expect(sent('binary-65536')).to.include({ sent_type: 'binary', received_type: 'binary', received_length: 65536, equal: true });
      expect(side.messages[4].data === textOfBytes(65536), 'the 65536-byte text our server received').to.equal(true);
    });

    it('answers the python ping with a pong python matches to it', () => {
      expect(result.pong).to.equal(true);
      expect(side.pings).to.deep.equal(['python ping']);
    });

    it('sees the code and reason of python\'s close, and python sees 1000 echoed', async () => {
      expect(await within(side.closed, 'our side to close')).to.deep.equal({ code: 1000, reason: 'python says bye' });
      expect(result.close_code).to.equal(1000);
    });
  });

  it('closes with 1000 and a reason that python reports', async () => {
    const count = sides.length;
    const result = await runClient(url, 'server-close');
    expect(result).to.include({ closed_ok: true, close_code: 1000, close_reason: 'goodbye from wsframe' });
    expect(await within(sides[count].closed, 'our side to close')).to.deep.include({ code: 1000 });
  });
});

describe('interop: our connect() against a python-websockets server', () => {
  let server: ChildProcess;
  let port: number;
  /** JSON lines the Python server printed, and who waits for the next one. */
  const events: Array<Record<string, unknown>> = [];
  const waiting: Array<() => void> = [];
  let stderr = '';
  const opened: WebSocket[] = [];

  /** The first event printed by the server (now or later) that `match` accepts. */
  async function serverEvent(match: (event: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
    return within(new Promise((resolve) => {
      const look = (): void => {
        const index = events.findIndex(match);
        if (index === -1) { waiting.push(look); return; }
        resolve(events.splice(index, 1)[0]);
      };
      look();
    }), `${what} (python stderr: ${stderr})`);
  }

  async function open(): Promise<WebSocket> {
    const ws = await within(connect(`ws://127.0.0.1:${port}/`), 'connect() to the python server');
    opened.push(ws);
    return ws;
  }

  before(async () => {
    requirePythonWebsockets();
    server = spawn(PYTHON, [script('python_server.py')], { env: pythonEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(server);
    server.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    let partial = '';
    server.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk;
      let newline;
      while ((newline = partial.indexOf('\n')) !== -1) {
        events.push(JSON.parse(partial.slice(0, newline)) as Record<string, unknown>);
        partial = partial.slice(newline + 1);
        for (const wake of waiting.splice(0)) wake();
      }
    });
    const listening = await serverEvent((e) => e.event === 'listening', 'the python server to listen');
    port = listening.port as number;
  });

  afterEach(() => {
    for (const ws of opened.splice(0)) ws.terminate();
  });

  after(async () => {
    if (server !== undefined) await stopChild(server);
  });

  it('gets text and binary messages echoed with their types (up to 65536 bytes)', async () => {
    const ws = await open();
    const cases: Array<string | Buffer> = ['h\u00e9llo python', binaryOfBytes(256), textOfBytes(126), binaryOfBytes(65536), textOfBytes(65536)];
    for (const data of cases) {
      const echoed = next(ws, 'message');
      ws.send(data);
      const [back, isBinary] = await echoed;
      expect(isBinary).to.equal(typeof data !== 'string');
      if (typeof data === 'string') expect(back === data, `text of ${Buffer.byteLength(data)} bytes`).to.equal(true);
      else expect(Buffer.compare(back as Buffer, data), `binary of ${data.length} bytes`).to.equal(0);
    }
  });

  it('closes with 1000 and a reason the python server reports, and sees them echoed', async () => {
    const ws = await open();
    const closed = next(ws, 'close');
    ws.close(1000, 'node says bye');
    expect(await closed).to.deep.equal([1000, 'node says bye']);
    expect(await serverEvent((e) => e.event === 'closed' && e.code === 1000, 'the python server to report the close'))
      .to.include({ code: 1000, reason: 'node says bye' });
  });

  it('sees the code and reason of a close the python server starts', async () => {
    const ws = await open();
    const closed = next(ws, 'close');
    ws.send('close me');
    expect(await closed).to.deep.equal([4001, 'python server bye']);
    expect(await serverEvent((e) => e.event === 'closed' && e.code === 4001, 'the python server to report the close'))
      .to.include({ code: 4001 });
  });
});
