import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { StatusLine } from '../../lib/cli/io';

/** A stderr stand-in that collects what is written, optionally claiming to be a terminal. */
function stderr(isTTY: boolean): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
  const stream: PassThrough & { isTTY?: boolean } = new PassThrough();
  stream.isTTY = isTTY;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => { chunks.push(chunk); });
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

describe('cli/io', () => {
  it('redraws progress in place on a terminal and erases it before another line', async () => {
    const err = stderr(true);
    const status = new StatusLine(err.stream, false);
    status.progress('sent 1');
    status.progress('sent 2');
    status.info('closed');
    status.clear();
    await new Promise(setImmediate);
    expect(err.text()).to.equal('\rsent 1\x1b[K\rsent 2\x1b[K\r\x1b[Kclosed\n');
  });

  it('writes every progress update as a plain line on a pipe', async () => {
    const err = stderr(false);
    const status = new StatusLine(err.stream, false);
    status.progress('sent 1');
    status.progress('sent 2');
    status.error('closed');
    await new Promise(setImmediate);
    expect(err.text()).to.equal('sent 1\nsent 2\nclosed\n');
  });

  it('drops informational lines but keeps errors with quiet', async () => {
    const err = stderr(false);
    const status = new StatusLine(err.stream, true);
    status.info('connected');
    status.error('closed: 1011 InternalError');
    await new Promise(setImmediate);
    expect(err.text()).to.equal('closed: 1011 InternalError\n');
  });
});
