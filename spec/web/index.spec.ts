/**
 * The `wsframe/web` entry point as a package user reaches it: through package.json `exports`,
 * from CommonJS and from an ES module (Node's named-export detection on the compiled CommonJS).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as web from '../../lib/web/index';
import { repoRoot } from '../interop/helpers';

const run = promisify(execFile);

/** Runs `code` with node in the repository root (where the package can import itself by name). */
async function node(args: string[], code: string): Promise<string> {
  const { stdout } = await run(process.execPath, [...args, '-e', code], { cwd: repoRoot(), timeout: 20_000 });
  return stdout.trim();
}

describe('wsframe/web entry point', () => {
  it('exports the web classes', () => {
    expect(Object.keys(web).sort()).to.deep.equal([
      'CloseEvent', 'DEFAULT_READABLE_HIGH_WATER_MARK', 'ErrorEvent', 'MessageEvent', 'WebSocket', 'WebSocketError', 'WebSocketStream',
    ]);
  });

  it('is imported by name from an ES module', async () => {
    const out = await node(['--input-type=module'],
      "import { WebSocket, WebSocketStream, WebSocketError, CloseEvent } from 'wsframe/web'; console.log([WebSocket, WebSocketStream, WebSocketError, CloseEvent].map((c) => c.name).join())");
    expect(out).to.equal('WebSocket,WebSocketStream,WebSocketError,CloseEvent');
  });

  it('is required from CommonJS', async () => {
    expect(await node([], "const { WebSocket } = require('wsframe/web'); console.log(WebSocket.OPEN)")).to.equal('1');
  });

  it('leaves createWebSocketStream on the main entry point', async () => {
    expect(await node(['--input-type=module'], "import { createWebSocketStream } from 'wsframe'; console.log(typeof createWebSocketStream)")).to.equal('function');
  });
});
