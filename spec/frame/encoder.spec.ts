import { expect } from 'chai';
import fc from 'fast-check';
import { Opcode } from '../../lib/constants';
import { encodeFrame } from '../../lib/frame/serializer';
import { FrameEncoder, type FrameEncoderOptions } from '../../lib/frame/encoder';
import { type ErrorCode, WebSocketUsageError } from '../../lib/errors';
import type { FrameInput } from '../../lib/frame/frame';
import { FixedMaskSource } from '../../lib/frame/mask';
import {
  ALL_RSV, arbitraryFrame, collect, collectIterating, decodeAll, encodeStream, expected, hex, keyBytes, maskBytes,
  pattern, ScriptedMaskSource, show,
} from '../support/frames';
import { frameVectors, receiverRole } from '../vectors';

/** The frame-like input the encoder takes for a vector's frame. */
function input(frame: FrameInput & { fin: boolean; rsv1: boolean; rsv2: boolean; rsv3: boolean }): FrameInput {
  return { opcode: frame.opcode, payload: frame.payload, fin: frame.fin, rsv1: frame.rsv1, rsv2: frame.rsv2, rsv3: frame.rsv3 };
}

function encoderFor(role: 'client' | 'server', maskKey: number | undefined, extra: FrameEncoderOptions = {}): FrameEncoderOptions {
  return role === 'client' ? { role, maskSource: new FixedMaskSource(maskKey ?? 0), ...extra } : { role, ...extra };
}

/** Runs `fn` and returns what it threw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

function expectUsageError(error: unknown, code: ErrorCode): void {
  expect(error).to.be.instanceOf(WebSocketUsageError);
  expect((error as WebSocketUsageError).code).to.equal(code);
  expect((error as WebSocketUsageError).closeCode).to.be.a('number');
}

describe('FrameEncoder', () => {
  describe('frame vectors', () => {
    for (const v of frameVectors) {
      const key = v.role === 'client' ? v.maskKey : -1;

      it(`encodes ${v.name} byte for byte with encodeFrame()`, () => {
        expect(encodeFrame(input(v.frame), key).toString('hex')).to.equal(v.bytes.toString('hex'));
      });

      it(`encodes ${v.name} byte for byte through a ${v.role} FrameEncoder`, async () => {
        const out = await encodeStream([input(v.frame)], encoderFor(v.role, v.maskKey));
        expect(out.error).to.equal(undefined);
        expect(Buffer.concat(out.items).toString('hex')).to.equal(v.bytes.toString('hex'));
      });

      it(`round-trips ${v.name} through encodeFrame() and the ${receiverRole(v)} decoder`, () => {
        const { frames, error } = decodeAll(encodeFrame(input(v.frame), key), { role: receiverRole(v), ...v.options });
        expect(error).to.equal(undefined);
        expect(frames.map(show)).to.deep.equal([show(v.frame)]);
      });

      it(`leaves the payload of ${v.name} unmodified while encoding it`, async () => {
        const payload = Buffer.from(v.frame.payload);
        const frame = { ...input(v.frame), payload };
        encodeFrame(frame, key);
        await encodeStream([frame, frame], encoderFor(v.role, v.maskKey));
        expect(payload.equals(v.frame.payload)).to.equal(true);
      });
    }
  });

  describe('length forms', () => {
    const cases: Array<[number, string]> = [
      [0, '82 00'], [125, '82 7d'], [126, '82 7e 00 7e'], [65535, '82 7e ff ff'],
      [65536, '82 7f 00 00 00 00 00 01 00 00'], [70000, '82 7f 00 00 00 00 00 01 11 70'],
    ];
    for (const [length, head] of cases) {
      it(`writes a ${length}-byte payload with the minimal header ${head}`, async () => {
        const frame = { opcode: Opcode.Binary, payload: pattern(length) };
        expect(encodeFrame(frame).subarray(0, hex(head).length).toString('hex')).to.equal(hex(head).toString('hex'));
        const out = await encodeStream([frame]);
        const bytes = Buffer.concat(out.items);
        expect(bytes.length).to.equal(hex(head).length + length);
        expect(bytes.subarray(0, hex(head).length).toString('hex')).to.equal(hex(head).toString('hex'));
      });
    }

    it('sets the mask bit and appends the key after the minimal length in the client role', () => {
      const key = 0x11223344;
      expect(encodeFrame({ opcode: 2, payload: pattern(126) }, key).subarray(0, 8).toString('hex'))
        .to.equal(`82fe007e${keyBytes(key).toString('hex')}`);
      expect(encodeFrame({ opcode: 2, payload: pattern(65536) }, key).subarray(0, 14).toString('hex'))
        .to.equal(`82ff0000000000010000${keyBytes(key).toString('hex')}`);
    });
  });

  describe('masking', () => {
    it('masks every frame in the client role with a fresh key from the mask source, once per frame', async () => {
      const keys = [0x01010101, 0x02020202, 0x03030303, 0x04040404];
      const source = new ScriptedMaskSource(keys);
      const frames = keys.map((_, i) => ({ opcode: Opcode.Text, payload: `frame ${i}` }));
      const out = await encodeStream(frames, { role: 'client', maskSource: source });
      expect(source.calls).to.equal(keys.length);
      const want = frames.map((f, i) => Buffer.concat([hex('81 87'), keyBytes(keys[i]), maskBytes(Buffer.from(f.payload), keys[i])]));
      expect(Buffer.concat(out.items).toString('hex')).to.equal(Buffer.concat(want).toString('hex'));
    });

    it('draws one key per frame for corked writes too, empty frames included', async () => {
      const source = new ScriptedMaskSource([0xaabbccdd, 0x10203040]);
      const encoder = new FrameEncoder({ role: 'client', maskSource: source });
      const done = collect<Buffer>(encoder);
      encoder.cork();
      encoder.write({ opcode: Opcode.Ping });
      encoder.write({ opcode: Opcode.Binary, payload: pattern(3000) });
      encoder.write({ opcode: Opcode.Text, payload: 'x' });
      encoder.uncork();
      encoder.end();
      const out = await done;
      expect(source.calls).to.equal(3);
      const { frames, error } = decodeAll(Buffer.concat(out.items), { role: 'server' });
      expect(error).to.equal(undefined);
      expect(frames.map((f) => [f.opcode, f.masked, f.payload.length])).to.deep.equal([[9, true, 0], [2, true, 3000], [1, true, 1]]);
    });

    it('uses the CSPRNG source by default in the client role, so keys differ between frames', async () => {
      const frames = Array.from({ length: 20 }, () => ({ opcode: Opcode.Binary, payload: Buffer.alloc(4) }));
      const out = await encodeStream(frames, { role: 'client' });
      const bytes = Buffer.concat(out.items);
      const keys = new Set<string>();
      // Each frame is 2 header bytes, the key, then 4 payload bytes: 10 bytes.
      for (let at = 0; at < bytes.length; at += 10) {
        expect(bytes[at + 1]).to.equal(0x84);
        keys.add(bytes.subarray(at + 2, at + 6).toString('hex'));
      }
      expect(keys.size).to.be.above(15);
    });

    it('never masks in the server role, and never asks the mask source', async () => {
      const source = new ScriptedMaskSource([0x12345678]);
      const frames = [{ opcode: 1, payload: 'a' }, { opcode: 2, payload: pattern(2000) }, { opcode: 9 }];
      const out = await encodeStream(frames, { role: 'server', maskSource: source });
      const { frames: decoded, error } = decodeAll(Buffer.concat(out.items), { role: 'client' });
      expect(error).to.equal(undefined);
      expect(decoded.map((f) => f.masked)).to.deep.equal([false, false, false]);
      expect(source.calls).to.equal(0);
    });

    it('takes the server role by default', async () => {
      const out = await encodeStream([{ opcode: 1, payload: 'Hello' }]);
      expect(Buffer.concat(out.items).toString('hex')).to.equal('810548656c6c6f');
    });

    it('never modifies the input payload when masking, whatever its type and size', async () => {
      for (const length of [0, 5, 63, 64, 255, 256, 1023, 1024, 5000]) {
        const buffer = pattern(length);
        const backing = new Uint8Array(length + 3);
        backing.set(buffer, 3);
        const view = backing.subarray(3);
        const frames = [{ opcode: 2, payload: buffer }, { opcode: 2, payload: view }];
        encodeFrame(frames[0], 0x5a5a5a5a);
        encodeFrame(frames[1], 0x5a5a5a5a);
        await encodeStream(frames, { role: 'client', maskSource: new FixedMaskSource(0x5a5a5a5a) });
        expect(buffer.equals(pattern(length)), `${length} bytes`).to.equal(true);
        expect(Buffer.from(view).equals(pattern(length)), `${length} bytes as a view`).to.equal(true);
      }
    });
  });

  describe('invalid frames', () => {
    const invalid: Array<{ name: string; frame: unknown; code: ErrorCode }> = [
      { name: 'a ping with a 126-byte payload', frame: { opcode: 9, payload: Buffer.alloc(126) }, code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH' },
      { name: 'a close with a 126-byte string payload', frame: { opcode: 8, payload: 'x'.repeat(126) }, code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH' },
      { name: 'a pong whose 63 two-byte characters make 126 bytes', frame: { opcode: 10, payload: 'é'.repeat(63) }, code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH' },
      { name: 'a ping that is not final', frame: { opcode: 9, fin: false }, code: 'WS_ERR_EXPECTED_FIN' },
      { name: 'a close that is not final', frame: { opcode: 8, fin: false, payload: hex('03 e8') }, code: 'WS_ERR_EXPECTED_FIN' },
      ...[3, 4, 5, 6, 7, 11, 12, 13, 14, 15].map((opcode) => ({
        name: `reserved opcode ${opcode}`, frame: { opcode, payload: 'x' }, code: 'WS_ERR_INVALID_OPCODE' as const,
      })),
      { name: 'opcode 16, out of range', frame: { opcode: 16 }, code: 'WS_ERR_INVALID_OPCODE' },
      { name: 'opcode 0x81, a whole first byte', frame: { opcode: 0x81 }, code: 'WS_ERR_INVALID_OPCODE' },
      { name: 'opcode -1', frame: { opcode: -1 }, code: 'WS_ERR_INVALID_OPCODE' },
      { name: 'opcode 1.5', frame: { opcode: 1.5 }, code: 'WS_ERR_INVALID_OPCODE' },
      { name: 'opcode NaN', frame: { opcode: Number.NaN }, code: 'WS_ERR_INVALID_OPCODE' },
      { name: 'opcode "1" as a string', frame: { opcode: '1' }, code: 'WS_ERR_INVALID_OPCODE' },
      { name: 'a missing opcode', frame: { payload: 'x' }, code: 'WS_ERR_INVALID_OPCODE' },
      { name: 'a number payload', frame: { opcode: 2, payload: 42 }, code: 'WS_ERR_INVALID_ARGUMENT' },
      { name: 'an array payload', frame: { opcode: 2, payload: [1, 2, 3] }, code: 'WS_ERR_INVALID_ARGUMENT' },
      { name: 'an ArrayBuffer payload', frame: { opcode: 2, payload: new ArrayBuffer(4) }, code: 'WS_ERR_INVALID_ARGUMENT' },
      { name: 'a plain object payload', frame: { opcode: 2, payload: { length: 3 } }, code: 'WS_ERR_INVALID_ARGUMENT' },
      { name: 'a string instead of a frame', frame: 'hello', code: 'WS_ERR_INVALID_ARGUMENT' },
    ];

    for (const { name, frame, code } of invalid) {
      it(`rejects ${name} in encodeFrame() with a WebSocketUsageError (${code})`, () => {
        for (const key of [-1, 0x01020304]) expectUsageError(thrown(() => encodeFrame(frame as FrameInput, key)), code);
      });

      it(`fails a FrameEncoder on ${name} (${code}) after the frames written before it`, async () => {
        for (const role of ['server', 'client'] as const) {
          const out = await encodeStream([{ opcode: 1, payload: 'ok' }, frame as FrameInput, { opcode: 1, payload: 'late' }], { role });
          expectUsageError(out.error, code);
          const { frames } = decodeAll(Buffer.concat(out.items), { role: role === 'client' ? 'server' : 'client' });
          expect(frames.map((f) => f.payload.toString())).to.deep.equal(['ok']);
        }
      });
    }

    it('fails a corked batch at the invalid frame after writing the valid frames before it', async () => {
      const encoder = new FrameEncoder();
      const done = collect<Buffer>(encoder);
      encoder.cork();
      encoder.write({ opcode: 1, payload: 'one' });
      encoder.write({ opcode: 2, payload: pattern(2000) });
      encoder.write({ opcode: 1, payload: 'three' });
      encoder.write({ opcode: 9, fin: false });
      encoder.write({ opcode: 1, payload: 'never' });
      encoder.uncork();
      const out = await done;
      expectUsageError(out.error, 'WS_ERR_EXPECTED_FIN');
      const { frames } = decodeAll(Buffer.concat(out.items), { role: 'client' });
      expect(frames.map((f) => f.payload.length)).to.deep.equal([3, 2000, 5]);
    });

    it('keeps the bytes before an invalid frame for a reader that starts after the failure', async () => {
      const encoder = new FrameEncoder();
      encoder.write({ opcode: 1, payload: 'kept' });
      encoder.write({ opcode: 9, payload: Buffer.alloc(200) });
      await new Promise((resolve) => { setImmediate(resolve); });
      const out = await collectIterating<Buffer>(encoder);
      expect(Buffer.concat(out.items).toString('hex')).to.equal('81046b657074');
      expectUsageError(out.error, 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH');
    });

    it('rejects an unknown role with a WebSocketUsageError', () => {
      expectUsageError(thrown(() => new FrameEncoder({ role: 'any' as 'server' })), 'WS_ERR_INVALID_ARGUMENT');
    });
  });

  describe('payload types', () => {
    it('encodes string payloads as UTF-8', () => {
      const text = 'héllo € 😀';
      const bytes = Buffer.from(text, 'utf8');
      expect(encodeFrame({ opcode: 1, payload: text }).toString('hex'))
        .to.equal(Buffer.concat([Buffer.from([0x81, bytes.length]), bytes]).toString('hex'));
      expect(encodeFrame({ opcode: 1, payload: text }, 0x9f8e7d6c).toString('hex'))
        .to.equal(Buffer.concat([Buffer.from([0x81, 0x80 | bytes.length]), keyBytes(0x9f8e7d6c), maskBytes(bytes, 0x9f8e7d6c)]).toString('hex'));
    });

    it('encodes long string payloads as UTF-8 through both roles', async () => {
      const text = '€'.repeat(30000);
      for (const role of ['server', 'client'] as const) {
        const out = await encodeStream([{ opcode: 1, payload: text }], { role });
        const { frames } = decodeAll(Buffer.concat(out.items), { role: role === 'client' ? 'server' : 'client' });
        expect(frames[0].payload.toString('utf8') === text).to.equal(true);
        expect(frames[0].payload.length).to.equal(90000);
      }
    });

    it('encodes Uint8Array payloads, views at an offset included', async () => {
      const backing = new Uint8Array(3000);
      backing.set(pattern(3000));
      for (const [start, end] of [[0, 3000], [7, 12], [5, 2005]]) {
        const view = backing.subarray(start, end);
        const want = Buffer.from(view);
        for (const role of ['server', 'client'] as const) {
          const out = await encodeStream([{ opcode: 2, payload: view }], { role });
          const { frames } = decodeAll(Buffer.concat(out.items), { role: role === 'client' ? 'server' : 'client' });
          expect(frames[0].payload.equals(want), `${role} ${start}..${end}`).to.equal(true);
        }
        expect(decodeAll(encodeFrame({ opcode: 2, payload: view }), { role: 'client' }).frames[0].payload.equals(want)).to.equal(true);
      }
    });

    it('encodes a missing payload as an empty one, final by default', () => {
      expect(encodeFrame({ opcode: Opcode.Pong }).toString('hex')).to.equal('8a00');
      expect(encodeFrame({ opcode: Opcode.Binary, fin: false }).toString('hex')).to.equal('0200');
    });
  });

  describe('output chunks', () => {
    it('passes a large unmasked payload on as the same Buffer, without a copy', async () => {
      const payload = pattern(4096);
      const out = await encodeStream([{ opcode: 2, payload }], { role: 'server' });
      expect(out.items).to.have.length(2);
      expect(out.items[0].toString('hex')).to.equal('827e1000');
      expect(out.items[1]).to.equal(payload);
    });

    it('passes a large unmasked payload on without a copy when corked as well', async () => {
      const payload = pattern(4096);
      const encoder = new FrameEncoder();
      const done = collect<Buffer>(encoder);
      encoder.cork();
      encoder.write({ opcode: 1, payload: 'a' });
      encoder.write({ opcode: 2, payload });
      encoder.uncork();
      encoder.end();
      const out = await done;
      expect(out.items.some((c) => c === payload)).to.equal(true);
      expect(decodeAll(Buffer.concat(out.items), { role: 'client' }).frames.map((f) => f.payload.length)).to.deep.equal([1, 4096]);
    });

    it('writes a small frame as one chunk, header and payload together (autoCork off)', async () => {
      for (const role of ['server', 'client'] as const) {
        const out = await encodeStream([{ opcode: 1, payload: 'Hello' }, { opcode: 2, payload: pattern(300) }], { role, autoCork: false });
        expect(out.items.map((c) => c.length)).to.deep.equal(role === 'server' ? [7, 304] : [11, 308]);
      }
    });

    it('a synchronous read() right after write() gets the frame (autoCork flushes for a reader)', () => {
      const encoder = new FrameEncoder({ role: 'server' });
      encoder.write({ opcode: 1, payload: 'Hello' });
      expect((encoder.read() as Buffer).toString('hex')).to.equal('810548656c6c6f');
    });

    it('takes a mask source as a function or object giving a uint32 or 4 bytes (RFC 6455 §5.7 key)', () => {
      const sources = [
        () => 0x37fa213d,
        () => Buffer.from([0x37, 0xfa, 0x21, 0x3d]),
        { next: () => new Uint8Array([0x37, 0xfa, 0x21, 0x3d]) },
      ];
      for (const maskSource of sources) {
        const encoder = new FrameEncoder({ role: 'client', maskSource });
        encoder.write({ opcode: 1, payload: 'Hello' });
        expect((encoder.read() as Buffer).toString('hex')).to.equal('818537fa213d7f9f4d5158');
      }
    });

    it('takes ws\'s generateMask hook (fills a 4-byte buffer) as the mask source', () => {
      const encoder = new FrameEncoder({ role: 'client', generateMask: (mask) => { mask.set([0x37, 0xfa, 0x21, 0x3d]); } });
      encoder.write({ opcode: 1, payload: 'Hello' });
      expect((encoder.read() as Buffer).toString('hex')).to.equal('818537fa213d7f9f4d5158');
    });

    it('refuses a mask source that is not one, and a key that is not 4 bytes (WebSocketUsageError)', async () => {
      expect(() => new FrameEncoder({ role: 'client', maskSource: 42 as unknown as () => number })).to.throw(WebSocketUsageError);
      const encoder = new FrameEncoder({ role: 'client', maskSource: () => Buffer.alloc(3) });
      const failed = new Promise<unknown>((resolve) => { encoder.on('error', resolve); });
      encoder.write({ opcode: 1, payload: 'x' });
      encoder.read();
      expect(await failed).to.be.instanceOf(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_ARGUMENT');
    });

    it('gathers the frames written in one tick into one chunk (autoCork, the default)', async () => {
      const encoder = new FrameEncoder();
      const done = collect<Buffer>(encoder);
      const chunks: number[] = [];
      encoder.on('data', (chunk: Buffer) => chunks.push(chunk.length));
      encoder.write({ opcode: 1, payload: 'Hello' });
      encoder.write({ opcode: 2, payload: pattern(300) });
      expect(chunks).to.deep.equal([]);
      await new Promise((resolve) => process.nextTick(resolve));
      expect(chunks).to.deep.equal([7 + 304]);
      encoder.write({ opcode: 9, payload: 'p' });
      await new Promise((resolve) => setImmediate(resolve));
      expect(chunks).to.deep.equal([311, 3]);
      encoder.end();
      const out = await done;
      expect(decodeAll(Buffer.concat(out.items), { role: 'client' }).frames.map((f) => f.opcode)).to.deep.equal([1, 2, 9]);
    });

    it('writes frames corked together as one chunk', async () => {
      const encoder = new FrameEncoder();
      const done = collect<Buffer>(encoder);
      encoder.cork();
      encoder.write({ opcode: 1, payload: 'Hel', fin: false });
      encoder.write({ opcode: 9, payload: 'ping' });
      encoder.write({ opcode: 0, payload: 'lo' });
      encoder.uncork();
      encoder.end();
      const out = await done;
      expect(out.items.map((c) => c.toString('hex'))).to.deep.equal(['010348656c' + '890470696e67' + '80026c6f']);
    });

    it('applies backpressure: writes return false while nobody reads, and resume once read', async () => {
      const encoder = new FrameEncoder({ readableHighWaterMark: 1024 });
      const frame = { opcode: 2, payload: pattern(500) };
      let writes = 0;
      while (encoder.write(frame)) {
        writes++;
        expect(writes, 'write() never returned false').to.be.below(200);
      }
      writes++;
      const drained = new Promise<void>((resolve) => { encoder.once('drain', resolve); });
      const done = collect<Buffer>(encoder);
      await drained;
      encoder.end();
      const out = await done;
      const { frames, error } = decodeAll(Buffer.concat(out.items), { role: 'client' });
      expect(error).to.equal(undefined);
      expect(frames).to.have.length(writes);
    });
  });

  describe('properties', () => {
    const arbitraryFrames = fc.array(arbitraryFrame(), { maxLength: 6 });
    const arbitraryKeys = fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 6 });

    it('decodes what encodeFrame() encodes, masked for the server role and unmasked for the client role', () => {
      fc.assert(fc.property(arbitraryFrames, arbitraryKeys, fc.boolean(), (frames, keys, masked) => {
        const bytes = Buffer.concat(frames.map((f, i) => encodeFrame(f, masked ? keys[i % keys.length] : -1)));
        const { frames: got, error } = decodeAll(bytes, { role: masked ? 'server' : 'client', ...ALL_RSV });
        expect(error).to.equal(undefined);
        expect(got.map(show)).to.deep.equal(frames.map((f) => show(expected(f, masked))));
      }), { numRuns: 150 });
    });

    it('decodes what a FrameEncoder of either role writes, in the other role', async () => {
      await fc.assert(fc.asyncProperty(arbitraryFrames, arbitraryKeys, fc.constantFrom('client' as const, 'server' as const), fc.boolean(),
        async (frames, keys, role, corked) => {
          const source = new ScriptedMaskSource(keys);
          const encoder = new FrameEncoder({ role, maskSource: source });
          const done = collect<Buffer>(encoder);
          if (corked) encoder.cork();
          for (const frame of frames) encoder.write(frame);
          if (corked) encoder.uncork();
          encoder.end();
          const out = await done;
          expect(out.error).to.equal(undefined);
          expect(source.calls).to.equal(role === 'client' ? frames.length : 0);
          const masked = role === 'client';
          const bytes = Buffer.concat(out.items);
          // Byte-exact against encodeFrame() with the same keys in the same order.
          expect(bytes.equals(Buffer.concat(frames.map((f, i) => encodeFrame(f, masked ? keys[i % keys.length] : -1))))).to.equal(true);
          const { frames: got, error } = decodeAll(bytes, { role: masked ? 'server' : 'client', ...ALL_RSV });
          expect(error).to.equal(undefined);
          expect(got.map(show)).to.deep.equal(frames.map((f) => show(expected(f, masked))));
        }), { numRuns: 60 });
    });
  });
});
