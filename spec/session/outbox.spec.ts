import { expect } from 'chai';
import fc from 'fast-check';
import { Opcode } from '../../lib/constants';
import { WebSocketUsageError } from '../../lib/errors';
import { FixedMaskSource } from '../../lib/frame/mask';
import { FrameParser } from '../../lib/frame/parser';
import { encodeFrame } from '../../lib/frame/serializer';
import type { Frame } from '../../lib/frame/frame';
import { Outbox, type OutboxOwner } from '../../lib/session/outbox';

class Owner implements OutboxOwner {
  readonly released: Array<Error | undefined> = [];
  outboxReleased(error: Error | undefined): void { this.released.push(error); }
}

/** Everything ready, as the chunks handed out and the frames they hold. */
function drain(outbox: Outbox, role: 'client' | 'server' = 'client'): { chunks: Buffer[]; frames: Frame[]; callbacks: number } {
  const chunks: Buffer[] = [];
  let callbacks = 0;
  outbox.flushTo({ chunk: (c) => { chunks.push(c); }, written: (cb) => { callbacks++; cb(); } });
  const frames: Frame[] = [];
  const parser = new FrameParser({ role, allowRsv1: true }, { frame: (f) => { frames.push({ ...f, payload: Buffer.from(f.payload) }); } });
  expect(parser.write(Buffer.concat(chunks))).to.equal(undefined);
  return { chunks, frames, callbacks };
}

describe('Outbox (the packed outgoing queue)', () => {
  it('serializes frames exactly as encodeFrame does, unmasked or masked', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { minLength: 1, maxLength: 20 }), fc.boolean(), (payloads, masked) => {
      const outbox = new Outbox(masked ? new FixedMaskSource(0x37fa213d) : undefined, new Owner());
      for (const payload of payloads) outbox.frame({ opcode: Opcode.Binary, payload });
      const expected = Buffer.concat(payloads.map((p) => encodeFrame({ opcode: Opcode.Binary, payload: p }, masked ? 0x37fa213d : -1)));
      const chunks: Buffer[] = [];
      outbox.flushTo({ chunk: (c) => { chunks.push(c); }, written: () => undefined });
      expect(Buffer.concat(chunks).equals(expected)).to.equal(true);
    }), { numRuns: 200 });
  });

  it('packs many small frames into a few chunks, and counts their bytes until they are taken', () => {
    const outbox = new Outbox(undefined, new Owner());
    for (let i = 0; i < 1000; i++) outbox.frame({ opcode: Opcode.Text, payload: 'hi' });
    expect(outbox.bytes).to.equal(4000);
    const { chunks, frames } = drain(outbox);
    expect(frames.length).to.equal(1000);
    expect(chunks.length).to.be.at.most(6);
    expect(outbox.bytes).to.equal(0);
  });

  it('hands a large unmasked payload over as the caller\'s own bytes (no copy)', () => {
    const outbox = new Outbox(undefined, new Owner());
    const payload = Buffer.alloc(64 * 1024, 1);
    outbox.frame({ opcode: Opcode.Binary, payload });
    const { chunks } = drain(outbox);
    expect(chunks.some((c) => c === payload)).to.equal(true);
  });

  it('does the same for a large payload of a reserved message (an extension\'s output), with its bits', () => {
    const outbox = new Outbox(undefined, new Owner());
    const held = outbox.hold(100);
    const payload = Buffer.alloc(64 * 1024, 2);
    held.frame({ opcode: Opcode.Text, payload, rsv1: true });
    held.release();
    const { chunks, frames } = drain(outbox, 'client');
    expect(chunks.some((c) => c === payload)).to.equal(true);
    expect(frames.map((f) => [f.opcode, f.rsv1, f.payload.length])).to.deep.equal([[Opcode.Text, true, 64 * 1024]]);
  });

  it('holds everything behind a reserved position until it is filled, then hands it out in order', () => {
    const owner = new Owner();
    const outbox = new Outbox(undefined, owner);
    outbox.frame({ opcode: Opcode.Text, payload: 'before' });
    const held = outbox.hold(100);
    outbox.frame({ opcode: Opcode.Ping, payload: 'after' });
    expect(outbox.bytes).to.equal(8 + 100 + 7);
    expect(drain(outbox).frames.map((f) => f.payload.toString())).to.deep.equal(['before']);
    expect(outbox.ready).to.equal(false);
    held.frame({ opcode: Opcode.Binary, payload: Buffer.from('held'), rsv1: true });
    held.release();
    expect(owner.released).to.deep.equal([undefined]);
    expect(drain(outbox).frames.map((f) => [f.opcode, f.payload.toString()])).to.deep.equal([[Opcode.Binary, 'held'], [Opcode.Ping, 'after']]);
    expect(outbox.bytes).to.equal(0);
  });

  it('tells its owner when a reserved message failed', () => {
    const owner = new Owner();
    const outbox = new Outbox(undefined, owner);
    const error = new Error('encoder broke');
    outbox.hold().release(error);
    expect(owner.released).to.deep.equal([error]);
  });

  it('runs write callbacks at their place in the stream, and fails pending ones on clear()', () => {
    const outbox = new Outbox(undefined, new Owner());
    outbox.frame({ opcode: Opcode.Text, payload: 'a' });
    outbox.callback(() => undefined);
    const order: string[] = [];
    outbox.flushTo({ chunk: () => { order.push('chunk'); }, written: () => { order.push('callback'); } });
    expect(order).to.deep.equal(['chunk', 'callback']);
    let failed: unknown;
    outbox.callback((error) => { failed = error; });
    outbox.clear(new Error('gone'));
    expect((failed as Error).message).to.equal('gone');
  });

  it('says single exactly when what is ready leaves as at most one write (no cork needed)', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('frame' as const), size: fc.oneof(fc.nat(300), fc.integer({ min: 16 * 1024, max: 40 * 1024 })) }),
      fc.record({ kind: fc.constant('callback' as const), size: fc.constant(0) }),
    );
    fc.assert(fc.property(fc.array(step, { maxLength: 12 }), (steps) => {
      const outbox = new Outbox(undefined, new Owner());
      for (const { kind, size } of steps) {
        if (kind === 'frame') outbox.frame({ opcode: Opcode.Binary, payload: Buffer.alloc(size, 7) });
        else outbox.callback(() => undefined);
      }
      const single = outbox.single;
      let writes = 0;
      outbox.flushTo({ chunk: () => { writes++; }, written: () => { writes++; } });
      if (single) expect(writes).to.be.at.most(1);
      // Frames alone: single is exact, so a burst is never written uncorked.
      if (steps.every((s) => s.kind === 'frame')) expect(single).to.equal(writes <= 1);
    }), { numRuns: 300 });
  });

  it('refuses invalid frames (a 126-byte ping) with a usage error', () => {
    const outbox = new Outbox(undefined, new Owner());
    expect(() => { outbox.frame({ opcode: Opcode.Ping, payload: Buffer.alloc(126) }); }).to.throw(WebSocketUsageError);
  });

  it('estimates memory as bytes plus a cost per queued chunk', () => {
    const outbox = new Outbox(undefined, new Owner());
    outbox.raw(Buffer.alloc(10));
    outbox.raw(Buffer.alloc(10));
    expect(outbox.memory).to.be.greaterThan(outbox.bytes);
  });
});
