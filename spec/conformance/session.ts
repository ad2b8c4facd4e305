/**
 * One upgraded connection driven by a case script: sends crafted bytes, feeds what arrives to the
 * oracle, answers pings and close frames the way a well-behaved endpoint would, and records every
 * event in a log the judge reads afterwards. Every wait here is bounded by a timeout.
 */
import type { Socket } from 'node:net';
import { Opcode } from '../../lib/constants';
import { close as closeFrame, encodeAll, encodeFrame, pong as pongFrame } from './craft';
import { Oracle } from './oracle';
import type {
  Expectation, Expected, FrameSpec, Negotiated, Observed, Role, Sendable, SendOptions, Trial,
} from './types';

export interface Timeouts {
  /** Longest wait for replies or for the peer to fail the connection. */
  replyMs: number;
  /** How long a late failure is awaited before the script sends the rest (fail-fast cases). */
  failFastMs: number;
  /** Longest wait for the TCP close after the close handshake. */
  closeMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { replyMs: 3000, failFastMs: 1000, closeMs: 2000 };

function isReply(event: Observed): boolean {
  return event.kind === 'message' || event.kind === 'pong';
}

/** Whether observed replies equal expected ones exactly (type and bytes, in order). */
export function sameReplies(observed: readonly Observed[], expected: readonly Expected[]): boolean {
  if (observed.length !== expected.length) return false;
  return observed.every((event, i) => {
    const want = expected[i];
    switch (event.kind) {
      case 'message':
        return want.kind === 'message' && want.binary === event.binary && want.data.equals(event.data);
      case 'pong':
        return want.kind === 'pong' && want.data.equals(event.data);
      default:
        return false;
    }
  });
}

export class Session implements Trial {
  readonly log: Observed[] = [];
  private readonly oracle: Oracle;
  private readonly waiters = new Set<() => void>();
  /** The TCP connection is gone (peer closed it, or we destroyed it). */
  private ended = false;
  private peerClosed = false;
  /** How many replies arrived, without filtering the log on every wake-up (9.7: 1,000 echoes). */
  private replyCount = 0;
  private closeSent = false;
  /** We sent a close frame in answer to the peer's. */
  private answeredClose = false;
  /** The tail of the write queue. */
  private sending: Promise<void> = Promise.resolve();
  /** Stop waiting for more: a violation, or more replies than the expectation allows. */
  private stopCondition: () => boolean = () => false;

  constructor(
    private readonly socket: Socket,
    readonly role: Role,
    readonly negotiated: Negotiated,
    private readonly timeouts: Timeouts,
    leftover: Buffer,
  ) {
    socket.setNoDelay(true);
    this.oracle = new Oracle({ role, deflate: negotiated.deflate }, (event) => this.onEvent(event));
    socket.on('data', (chunk: Buffer) => this.oracle.push(chunk));
    socket.on('end', () => this.onTcpEnd(false));
    socket.on('error', (error: NodeJS.ErrnoException) => this.onTcpEnd(error.code === 'ECONNRESET'));
    socket.on('close', () => this.onTcpEnd(false));
    if (leftover.length > 0) this.oracle.push(leftover);
    // readHead() paused the socket so no byte after the head was lost.
    socket.resume();
  }

  // --- Trial ----------------------------------------------------------------------------------

  send(items: Sendable | readonly Sendable[], options: SendOptions = {}): Promise<void> {
    // After answering the peer's close frame we send nothing more (RFC 6455 §5.5.1).
    if (this.answeredClose) return Promise.resolve();
    return this.enqueue(items, options);
  }

  /**
   * Sends in order with everything else: an automatic pong must never land between the chops
   * of a frame the script is still writing.
   */
  private enqueue(items: Sendable | readonly Sendable[], options: SendOptions = {}): Promise<void> {
    const run = this.sending.then(() => this.transmit(items, options));
    this.sending = run.catch(() => undefined);
    return run;
  }

  private async transmit(items: Sendable | readonly Sendable[], options: SendOptions): Promise<void> {
    const list: readonly Sendable[] = Array.isArray(items) ? items : [items as Sendable];
    for (const item of list) {
      if (!Buffer.isBuffer(item) && item.opcode === Opcode.Close) this.noteCloseSent(item);
    }
    const buffers = encodeAll(list, this.role);
    let pieces: Buffer[];
    if (options.chop === 'frame') {
      pieces = buffers;
    } else if (typeof options.chop === 'number') {
      const all = buffers.length === 1 ? buffers[0] : Buffer.concat(buffers);
      pieces = [];
      for (let offset = 0; offset < all.length; offset += options.chop) pieces.push(all.subarray(offset, offset + options.chop));
    } else {
      pieces = [buffers.length === 1 ? buffers[0] : Buffer.concat(buffers)];
    }
    for (let i = 0; i < pieces.length; i++) {
      if (this.ended) return;
      await this.write(pieces[i]);
      if (options.delayMs !== undefined && i < pieces.length - 1) await this.pause(options.delayMs);
    }
  }

  async sendClose(code?: number, reason?: string | Buffer): Promise<void> {
    await this.send(closeFrame(code, reason));
  }

  mark(name: string): void {
    this.log.push({ kind: 'mark', name });
  }

  pause(ms: number): Promise<void> {
    return this.waitFor(() => false, ms);
  }

  waitForReplies(count: number, timeoutMs = this.timeouts.replyMs): Promise<void> {
    return this.waitFor(() => this.replyCount >= count || this.peerClosed, timeoutMs);
  }

  waitForFailure(): Promise<void> {
    return this.waitFor(() => this.peerClosed, this.timeouts.failFastMs);
  }

  replies(): readonly Observed[] {
    return this.log.filter(isReply);
  }

  async expectEcho(
    replies: readonly Expected[],
    options: Partial<Expectation> & { closeCodes?: readonly (number | null)[] } = {},
  ): Promise<Expectation> {
    const { closeCodes, ...rest } = options;
    await this.waitForReplies(replies.length);
    await this.closeHandshake();
    return { replies, ending: { by: 'runner', codes: closeCodes ?? [1000] }, ...rest };
  }

  async expectFailure(
    replies: readonly Expected[],
    codes: readonly number[],
    options: Partial<Expectation> & { before?: string } = {},
  ): Promise<Expectation> {
    const { before, ...rest } = options;
    const allowed = Math.max(replies.length, ...(rest.nonStrict ?? []).map((n) => n.replies.length));
    const tolerated = rest.tolerated;
    // Anything beyond the allowed replies is already a FAILED verdict: no need to wait it out.
    const tooMany = (): boolean => this.replyCount > allowed;
    const toleratedSeen = (): boolean => tolerated !== undefined && sameReplies(this.replies(), tolerated.replies);
    await this.waitFor(() => this.peerClosed || tooMany() || toleratedSeen(), this.timeouts.replyMs);
    if (!this.peerClosed && !this.ended && (tooMany() || toleratedSeen())) {
      // The peer accepted what it should have refused; end politely so the next case starts clean.
      await this.closeHandshake();
    } else {
      await this.awaitTcpClose();
    }
    return { replies, ending: before === undefined ? { by: 'peer', codes } : { by: 'peer', codes, before }, ...rest };
  }

  // --- Lifecycle ------------------------------------------------------------------------------

  /** Destroys the socket if it is still open; the log is final afterwards. */
  finish(reason = 'case finished'): void {
    if (!this.ended) this.drop(reason);
    for (const wake of this.waiters) wake();
  }

  /** Sends our close frame (unless one was sent) and waits for the peer's and the TCP close. */
  private async closeHandshake(): Promise<void> {
    if (this.ended) return;
    if (!this.closeSent) await this.sendClose(1000);
    await this.waitFor(() => this.peerClosed, this.timeouts.closeMs);
    await this.awaitTcpClose();
  }

  /**
   * RFC 6455 §7.1.1: the server closes TCP first. As the server we do it now; as the client we
   * give the server time to, then drop the connection ourselves (recorded, the judge notes it).
   */
  private async awaitTcpClose(): Promise<void> {
    if (this.ended) return;
    if (!this.peerClosed && !this.closeSent) {
      this.drop('timeout: the peer neither closed nor failed the connection');
      return;
    }
    if (this.role === 'server') {
      this.socket.end();
      await this.waitFor(() => false, this.timeouts.closeMs);
      if (!this.ended) this.drop('the client kept the connection open after the server closed it');
      return;
    }
    await this.waitFor(() => false, this.timeouts.closeMs);
    if (!this.ended) this.drop(this.peerClosed ? 'no TCP close from the server after the close handshake' : 'timeout');
  }

  private drop(reason: string): void {
    this.log.push({ kind: 'dropped', reason });
    this.ended = true;
    this.socket.destroy();
    this.wake();
  }

  private noteCloseSent(frame: FrameSpec): void {
    if (this.closeSent) return;
    this.closeSent = true;
    const payload = typeof frame.payload === 'string' ? Buffer.from(frame.payload) : frame.payload;
    this.log.push({ kind: 'sent-close', code: payload !== undefined && payload.length >= 2 ? payload.readUInt16BE(0) : null });
  }

  private write(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.ended || this.socket.destroyed || !this.socket.writable) {
        resolve();
        return;
      }
      // The callback also runs with an error (peer gone): the 'error'/'close' handlers record it.
      // A peer that neither reads nor closes is cut off by the case deadline, which closes us.
      const onClose = (): void => resolve();
      this.socket.once('close', onClose);
      this.socket.write(bytes, () => {
        this.socket.off('close', onClose);
        resolve();
      });
    });
  }

  /** Resolves when `done()` holds, the connection ended, the case must stop, or after `ms`. */
  private waitFor(done: () => boolean, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (done() || this.ended || this.stopCondition()) finish();
      };
      const timer = setTimeout(() => finish(), ms);
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
      check();
    });
  }

  private wake(): void {
    for (const check of [...this.waiters]) check();
  }

  private onEvent(event: Observed): void {
    this.log.push(event);
    if (isReply(event)) this.replyCount++;
    switch (event.kind) {
      case 'ping':
        // RFC 6455 §5.5.2: answer with a pong carrying the same payload, unless closing.
        if (!this.closeSent && !this.ended) void this.enqueue(pongFrame(event.data));
        break;
      case 'close':
        this.peerClosed = true;
        // RFC 6455 §5.5.1: answer a close frame with one, echoing the code.
        if (!this.closeSent && !this.ended) {
          this.answeredClose = true;
          void this.enqueue(closeFrame(event.code ?? undefined)).then(() => {
            if (this.role === 'server' && !this.ended) this.socket.end();
          });
        } else if (this.role === 'server' && !this.ended) {
          this.socket.end();
        }
        break;
      case 'violation':
        this.stopCondition = () => true;
        this.drop('the peer broke the protocol');
        break;
      default:
        break;
    }
    this.wake();
  }

  private onTcpEnd(reset: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.log.push({ kind: 'tcp-end', reset });
    this.socket.destroy();
    this.wake();
  }
}

/** Bytes of a single frame, for scripts that need to split a frame by hand. */
export function frameBytes(spec: FrameSpec, role: Role): Buffer {
  return encodeFrame(spec, role);
}
