/**
 * A session under test with no socket at all: a recording handler, a fake clock, helpers that
 * build the peer's frames as bytes and decode what the session queued to write.
 */
import { Opcode } from '../../lib/constants';
import type { Frame, FrameInput, Role } from '../../lib/frame/frame';
import { FrameParser } from '../../lib/frame/parser';
import { encodeFrame } from '../../lib/frame/serializer';
import { parseClosePayload } from '../../lib/message/close';
import type { MessageExtension } from '../../lib/message/extension';
import { type ConnectionOptions, resolveConnectionOptions, type SessionConfig } from '../../lib/session/config';
import type { WriteCallback } from '../../lib/session/outbox';
import { Session, type SessionHandler } from '../../lib/session/session';

/** Everything a session told its handler, in order. */
export type Event =
  | { type: 'message'; data: string | Buffer; isBinary: boolean }
  | { type: 'streamStart'; isBinary: boolean }
  | { type: 'streamData'; bytes: Buffer }
  | { type: 'streamEnd' }
  | { type: 'ping' | 'pong'; data: Buffer }
  | { type: 'error'; error: Error }
  | { type: 'wake' };

export class Harness implements SessionHandler {
  readonly events: Event[] = [];
  /** What the fake transport holds (bytes it "accepted" but has not written). */
  backlogBytes = 0;
  now = 1000;
  readonly session: Session;
  readonly config: SessionConfig;
  private readonly written: Buffer[] = [];
  private readonly callbacks: WriteCallback[] = [];

  constructor(options: ConnectionOptions = {}, role: Role = 'server', extension?: MessageExtension) {
    this.config = { ...resolveConnectionOptions(options, role), clock: () => this.now };
    this.session = new Session(this.config, this, extension);
  }

  /** The peer's frame as wire bytes: masked with key `key` when the peer is a client. */
  frameBytes(frame: FrameInput, key = 0x11223344): Buffer {
    return encodeFrame(frame, this.config.role === 'server' ? key : -1);
  }

  /** Feeds the peer's frames (copied: the session unmasks in place). */
  receive(...frames: FrameInput[]): void {
    this.session.receive(Buffer.concat(frames.map((f) => this.frameBytes(f))));
  }

  receiveBytes(bytes: Buffer): void {
    this.session.receive(Buffer.from(bytes));
  }

  /** Advances the fake clock and ticks the session. */
  advance(ms: number): void {
    this.now += ms;
    this.session.tick();
  }

  /** Takes what the session queued, as frames (decoded the way the peer would). */
  output(): Frame[] {
    this.session.outbox.flushTo({
      chunk: (chunk) => { this.written.push(Buffer.from(chunk)); },
      written: (callback) => { this.callbacks.push(callback); },
    });
    const frames: Frame[] = [];
    const parser = new FrameParser({ role: this.config.role === 'server' ? 'client' : 'server', allowRsv1: true }, {
      frame: (frame) => { frames.push({ ...frame, payload: Buffer.from(frame.payload) }); },
    });
    const error = parser.write(Buffer.concat(this.written.splice(0)));
    if (error !== undefined) throw error;
    return frames;
  }

  /** Runs the write callbacks collected by {@link output}, as a transport does once bytes are written. */
  completeWrites(): void {
    for (const callback of this.callbacks.splice(0)) callback();
  }

  /** The close frames in `frames`, parsed. */
  static closes(frames: readonly Frame[]): Array<{ code: number; reason: string }> {
    return frames.filter((f) => f.opcode === Opcode.Close).map((f) => parseClosePayload(f.payload));
  }

  messages(): Array<string | Buffer> {
    return this.events.flatMap((e) => (e.type === 'message' ? [e.data] : []));
  }

  errors(): string[] {
    return this.events.flatMap((e) => (e.type === 'error' ? [(e.error as { code?: string }).code ?? e.error.message] : []));
  }

  // SessionHandler
  onMessage(data: string | Buffer, isBinary: boolean): void { this.events.push({ type: 'message', data, isBinary }); }
  onStreamStart(isBinary: boolean): void { this.events.push({ type: 'streamStart', isBinary }); }
  onStreamData(bytes: Buffer): void { this.events.push({ type: 'streamData', bytes: Buffer.from(bytes) }); }
  onStreamEnd(): void { this.events.push({ type: 'streamEnd' }); }
  onPing(data: Buffer): void { this.events.push({ type: 'ping', data: Buffer.from(data) }); }
  onPong(data: Buffer): void { this.events.push({ type: 'pong', data: Buffer.from(data) }); }
  onError(error: Error): void { this.events.push({ type: 'error', error }); }
  wake(): void { this.events.push({ type: 'wake' }); }
  backlog(): number { return this.backlogBytes; }
}
