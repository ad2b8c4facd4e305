import { expect } from 'chai';
import fc from 'fast-check';
import { Opcode } from '../../lib/constants';
import { FrameDecoder, type FrameDecoderOptions } from '../../lib/frame/decoder';
import { FrameParser } from '../../lib/frame/parser';
import { Runs } from '../../lib/frame/runs';
import { encodeFrame } from '../../lib/frame/serializer';
import { type ErrorCode, WebSocketProtocolError, WebSocketUsageError } from '../../lib/errors';
import { type Frame, isFramePiece } from '../../lib/frame/frame';
import {
  ALL_RSV, arbitraryFrame, bytewise, collectIterating, cutsWithin, decodeAll, decodeStream, expected, hex,
  keyBytes, maskBytes, parseChunks, pattern, reassemble, show, split,
} from '../support/frames';
import { acceptedVectors, errorVectors, frameVectors, headerSize, receiverRole } from '../vectors';

interface ExpectedError {
  code: ErrorCode;
  closeCode: number;
  offset: number;
}

function expectError(error: unknown, wanted: ExpectedError): void {
  expect(error).to.be.instanceOf(WebSocketProtocolError);
  const { code, closeCode, offset } = error as WebSocketProtocolError;
  expect({ code, closeCode, offset }).to.deep.equal({ code: wanted.code, closeCode: wanted.closeCode, offset: wanted.offset });
}

/** Resolves after pending process.nextTick callbacks (stream events) have run. */
function settle(): Promise<void> {
  return new Promise((resolve) => { setImmediate(resolve); });
}

/**
 * Every Uint8Array a parser holds in its own fields, in arrays there or in its run store
 * (white-box memory check), and how many arrays hold anything else.
 */
function retained(holder: object): { buffers: Uint8Array[]; arrays: number } {
  const buffers: Uint8Array[] = [];
  let arrays = 0;
  for (const value of Object.values(holder)) {
    if (value instanceof Uint8Array) {
      buffers.push(value);
    } else if (Array.isArray(value)) {
      for (const item of value) {
        if (item instanceof Uint8Array) buffers.push(item);
        else arrays++;
      }
    } else if (value instanceof Runs) {
      const inner = retained(value);
      buffers.push(...inner.buffers);
      arrays += inner.arrays;
    }
  }
  return { buffers, arrays };
}

const HELLO = '81 05 48 65 6c 6c 6f';

describe('FrameDecoder', () => {
  describe('frame vectors', () => {
    for (const v of frameVectors) {
      const options: FrameDecoderOptions = { role: receiverRole(v), ...v.options };

      it(`decodes ${v.name} from one chunk`, () => {
        const { frames, error } = decodeAll(v.bytes, options);
        expect(error).to.equal(undefined);
        expect(frames.map(show)).to.deep.equal([show(v.frame)]);
      });

      it(`decodes ${v.name} with its header split at every offset`, () => {
        for (let cut = 1; cut <= headerSize(v); cut++) {
          const { frames, error } = decodeAll(v.bytes, options, [cut]);
          expect(error, `cut at ${cut}`).to.equal(undefined);
          expect(frames.map(show), `cut at ${cut}`).to.deep.equal([show(v.frame)]);
        }
      });

      it(`decodes ${v.name} written to a FrameDecoder one byte at a time`, async () => {
        const out = await decodeStream(bytewise(v.bytes), options);
        expect(out.error).to.equal(undefined);
        expect(out.items.map(show)).to.deep.equal([show(v.frame)]);
      });

      it(`rejects ${v.name} when decoded by its own sender's role (1002)`, () => {
        const { frames, error } = decodeAll(v.bytes, { ...options, role: v.role });
        expect(frames).to.have.length(0);
        expectError(error, {
          code: v.role === 'client' ? 'WS_ERR_UNEXPECTED_MASK' : 'WS_ERR_EXPECTED_MASK', closeCode: 1002, offset: 1,
        });
      });
    }

    it('decodes every vector of one sender back to back from a single chunk', () => {
      for (const sender of ['client', 'server'] as const) {
        const vectors = frameVectors.filter((v) => v.role === sender);
        const bytes = Buffer.concat(vectors.map((v) => v.bytes));
        const { frames, error } = decodeAll(bytes, { role: sender === 'client' ? 'server' : 'client', ...ALL_RSV });
        expect(error).to.equal(undefined);
        expect(frames.map(show)).to.deep.equal(vectors.map((v) => show(v.frame)));
      }
    });
  });

  describe('error vectors', () => {
    for (const v of errorVectors) {
      const options: FrameDecoderOptions = { role: v.role, ...v.options };
      const label = `rejects ${v.name} (${v.closeCode}, ${v.code})`;
      const before = v.framesBefore ?? 0;

      it(`${label} at stream offset ${v.offset}`, () => {
        const { frames, error } = decodeAll(v.bytes, options);
        expect(frames).to.have.length(before);
        expectError(error, v);
      });

      it(`${label} with the same offset when bytes arrive one at a time`, () => {
        const { frames, error } = parseChunks(bytewise(v.bytes), options);
        expect(frames).to.have.length(before);
        expectError(error, v);
      });

      it(`${label} as the FrameDecoder's error, after the frames before it`, async () => {
        const out = await decodeStream(split(v.bytes, [3, 8]), options);
        expect(out.items).to.have.length(before);
        expect(out.errorLast).to.equal(true);
        expectError(out.error, v);
      });

      if (v.code === 'WS_ERR_TRUNCATED_FRAME') {
        it(`reports nothing for ${v.name} until the input ends`, () => {
          const { frames, error } = decodeAll(v.bytes, options, [], false);
          expect(frames).to.have.length(before);
          expect(error).to.equal(undefined);
        });
      } else {
        it(`${label} as soon as the bad bytes arrive, without waiting for the end`, () => {
          const { error } = decodeAll(v.bytes, options, [], false);
          expectError(error, v);
        });
      }
    }
  });

  describe('options', () => {
    for (const v of acceptedVectors) {
      it(`accepts ${v.name}`, () => {
        const options: FrameDecoderOptions = { role: v.role, ...v.options };
        for (const chunks of [split(v.bytes), bytewise(v.bytes)]) {
          const { frames, error } = parseChunks(chunks, options);
          expect(error).to.equal(undefined);
          expect(frames.map(show)).to.deep.equal(v.frames.map(show));
        }
      });
    }

    it('takes the server role by default: unmasked frames are rejected (1002)', () => {
      expectError(decodeAll(hex(HELLO)).error, { code: 'WS_ERR_EXPECTED_MASK', closeCode: 1002, offset: 1 });
      expect(decodeAll(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58')).frames).to.have.length(1);
    });

    it('accepts a 64-bit length of 2^53 - 1, the largest a number counts exactly, when maxPayload is Infinity', () => {
      const frames: Frame[] = [];
      const parser = new FrameParser({ role: 'client', maxPayload: Infinity }, { frame: (f) => { frames.push(f); } });
      expect(parser.write(hex('82 7f 00 1f ff ff ff ff ff ff 01 02 03'))).to.equal(undefined);
      expect(frames).to.have.length(0);
      expect(parser.idle).to.equal(false);
    });

    it('rejects a frame above maxPayload although none of its payload is ever sent (1009)', async () => {
      // Only the header is written and the stream is never ended: the error can only come from the
      // length itself, so no payload byte was waited for or buffered.
      const decoder = new FrameDecoder({ role: 'client', maxPayload: 1024 });
      const errors: Error[] = [];
      decoder.on('error', (err) => { errors.push(err); });
      decoder.write(hex('82 7f 00 00 00 01 00 00 00 00'));
      await settle();
      expect(errors).to.have.length(1);
      expectError(errors[0], { code: 'WS_ERR_PAYLOAD_TOO_BIG', closeCode: 1009, offset: 2 });
    });

    it('rejects invalid options with a WebSocketUsageError', () => {
      const bad: unknown[] = [
        { role: 'peer' }, { maxPayload: -1 }, { maxPayload: Number.NaN }, { maxPayload: '10' },
        { streamingThreshold: -1 }, { streamingThreshold: Number.NaN },
      ];
      for (const options of bad) {
        for (const make of [
          () => new FrameDecoder(options as FrameDecoderOptions),
          () => new FrameParser(options as FrameDecoderOptions, { frame: () => undefined }),
        ]) {
          let thrown: unknown;
          try { make(); } catch (err) { thrown = err; }
          expect(thrown, JSON.stringify(options)).to.be.instanceOf(WebSocketUsageError);
          expect((thrown as WebSocketUsageError).code).to.equal('WS_ERR_INVALID_ARGUMENT');
        }
      }
    });
  });

  describe('frames completed before a bad byte', () => {
    const good = `${HELLO} 89 00`;
    const bad: ExpectedError = { code: 'WS_ERR_INVALID_OPCODE', closeCode: 1002, offset: 9 };

    it('pushes the frames before a bad header in the same chunk, then fails', async () => {
      const out = await decodeStream([hex(`${good} 83 00`)], { role: 'client' });
      expect(out.items.map((f) => f.opcode)).to.deep.equal([Opcode.Text, Opcode.Ping]);
      expect(out.errorLast).to.equal(true);
      expectError(out.error, bad);
    });

    it('pushes the frames of earlier chunks, then fails on a bad header in a later chunk', async () => {
      const out = await decodeStream([hex(HELLO), hex('89 00'), hex('83 00')], { role: 'client' });
      expect(out.items.map((f) => f.opcode)).to.deep.equal([Opcode.Text, Opcode.Ping]);
      expectError(out.error, bad);
    });

    it('pushes the frames before a bad header that is split across chunks', async () => {
      const out = await decodeStream([hex(`${good} 83`), hex('00')], { role: 'client' });
      expect(out.items).to.have.length(2);
      expectError(out.error, bad);
    });

    it('keeps them for a reader that starts reading only after the error was found', async () => {
      const decoder = new FrameDecoder({ role: 'client' });
      decoder.write(hex(`${good} 83 00`));
      await settle();
      const out = await collectIterating<Frame>(decoder);
      expect(out.items.map((f) => f.payload.toString())).to.deep.equal(['Hello', '']);
      expectError(out.error, bad);
    });

    it('keeps them for a reader that calls read() on readable events', async () => {
      const decoder = new FrameDecoder({ role: 'client' });
      decoder.write(hex(good));
      decoder.write(hex('83 00'));
      await settle();
      const frames: Frame[] = [];
      const error = await new Promise<Error>((resolve) => {
        decoder.on('error', resolve);
        decoder.on('readable', () => {
          for (let f = decoder.read() as Frame | null; f !== null; f = decoder.read() as Frame | null) frames.push(f);
        });
      });
      expect(frames).to.have.length(2);
      expectError(error, bad);
    });

    it('keeps the frames before a truncated end for a paused reader (1006)', async () => {
      const decoder = new FrameDecoder({ role: 'client' });
      decoder.end(hex(`${good} 81`));
      await settle();
      const out = await collectIterating<Frame>(decoder);
      expect(out.items).to.have.length(2);
      expectError(out.error, { code: 'WS_ERR_TRUNCATED_FRAME', closeCode: 1006, offset: 10 });
    });

    it('FrameParser hands them to the sink before write() returns the error', () => {
      const seen: string[] = [];
      const parser = new FrameParser({ role: 'client' }, { frame: (f) => { seen.push(`frame ${f.opcode}`); } });
      const error = parser.write(hex(`${good} 83 00 81 00`));
      seen.push(`error ${error?.code}`);
      expect(seen).to.deep.equal(['frame 1', 'frame 9', 'error WS_ERR_INVALID_OPCODE']);
    });
  });

  describe('chunking', () => {
    const serverFrames = frameVectors.filter((v) => v.role === 'server' && v.options === undefined && v.bytes.length < 300);
    const clientFrames = frameVectors.filter((v) => v.role === 'client' && v.options === undefined && v.bytes.length < 300);
    const streams = [
      { role: 'client' as const, vectors: serverFrames },
      { role: 'server' as const, vectors: clientFrames },
    ];

    it('decodes a stream of mixed frames written to a FrameDecoder one byte at a time', async () => {
      for (const { role, vectors } of streams) {
        const out = await decodeStream(bytewise(Buffer.concat(vectors.map((v) => v.bytes))), { role });
        expect(out.error).to.equal(undefined);
        expect(out.items.map(show)).to.deep.equal(vectors.map((v) => show(v.frame)));
      }
    });

    it('decodes the same frames with the input cut in two at every offset', () => {
      for (const { role, vectors } of streams) {
        const bytes = Buffer.concat(vectors.map((v) => v.bytes));
        const want = vectors.map((v) => show(v.frame));
        for (let cut = 1; cut < bytes.length; cut++) {
          const { frames, error } = decodeAll(bytes, { role }, [cut]);
          expect(error, `cut at ${cut}`).to.equal(undefined);
          expect(frames.map(show), `cut at ${cut}`).to.deep.equal(want);
        }
      }
    });

    it('decodes 16-bit and 64-bit lengths and masking keys split between any two of their bytes', () => {
      const payload = pattern(300);
      const key = 0x0badf00d;
      const cases = [
        { role: 'client' as const, bytes: Buffer.concat([hex('82 7e 01 2c'), payload]), masked: false, length: payload },
        { role: 'server' as const, bytes: Buffer.concat([hex('82 fe 01 2c'), keyBytes(key), maskBytes(payload, key)]), masked: true, length: payload },
        { role: 'client' as const, bytes: Buffer.concat([hex('82 7f 00 00 00 00 00 01 00 02'), pattern(65538)]), masked: false, length: pattern(65538) },
        { role: 'server' as const, bytes: Buffer.concat([hex('82 ff 00 00 00 00 00 01 00 02'), keyBytes(key), maskBytes(pattern(65538), key)]), masked: true, length: pattern(65538) },
      ];
      for (const { role, bytes, masked, length: want } of cases) {
        const header = bytes.length - want.length;
        // Every pair of cuts inside the header: a length or key split into three pieces.
        for (let a = 1; a < header; a++) {
          for (let b = a; b <= header; b++) {
            const { frames, error } = decodeAll(bytes, { role }, [a, b]);
            expect(error).to.equal(undefined);
            expect(frames).to.have.length(1);
            expect(frames[0].masked).to.equal(masked);
            expect(frames[0].payload.equals(want), `cuts ${a}, ${b}`).to.equal(true);
          }
        }
      }
    });

    it('decodes 5000 frames packed into one chunk', async () => {
      const count = 5000;
      const parts: Buffer[] = [];
      for (let i = 0; i < count; i++) parts.push(Buffer.from([0x82, 2, i >>> 8, i & 0xff]));
      const out = await decodeStream([Buffer.concat(parts)], { role: 'client' });
      expect(out.error).to.equal(undefined);
      expect(out.items).to.have.length(count);
      expect(out.items.every((f, i) => f.payload.readUInt16BE(0) === i)).to.equal(true);
    });

    it('ignores empty chunks anywhere in the stream', () => {
      const bytes = hex(`${HELLO} 82 7e 00 7e`);
      const chunks = [Buffer.alloc(0), bytes.subarray(0, 3), Buffer.alloc(0), bytes.subarray(3, 9), Buffer.alloc(0),
        bytes.subarray(9), Buffer.alloc(0), pattern(126), Buffer.alloc(0)].map((c) => Buffer.from(c));
      const { frames, error } = parseChunks(chunks, { role: 'client' });
      expect(error).to.equal(undefined);
      expect(frames.map((f) => f.payload.length)).to.deep.equal([5, 126]);
    });
  });

  describe('zero copy', () => {
    it('delivers a frame that lies inside one chunk as a view of that chunk', () => {
      const chunk = split(hex(`${HELLO} 82 03 01 02 03`))[0];
      const { frames } = parseChunks([chunk], { role: 'client' });
      expect(frames.map((f) => [f.payload.buffer === chunk.buffer, f.payload.byteOffset - chunk.byteOffset]))
        .to.deep.equal([[true, 2], [true, 9]]);
    });

    it('unmasks a masked frame inside one chunk in place, so the written chunk now holds the plain payload', () => {
      // The decoder owns what is written to it: callers who need the bytes afterwards copy first.
      const chunk = split(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'))[0];
      const { frames } = parseChunks([chunk], { role: 'server' });
      expect(frames[0].payload.buffer).to.equal(chunk.buffer);
      expect(chunk.subarray(6).toString()).to.equal('Hello');
    });

    it('delivers a view even when the header was split across chunks, if the payload is in one chunk', () => {
      const chunks = split(hex(HELLO), [1]);
      const { frames } = parseChunks(chunks, { role: 'client' });
      expect(frames[0].payload.buffer).to.equal(chunks[1].buffer);
    });

    it('copies a frame that spans chunks into a fresh buffer that the chunks do not share', () => {
      for (const [bytes, role] of [[hex(HELLO), 'client'], [hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), 'server']] as const) {
        const chunks = split(bytes, [bytes.length - 3]);
        const { frames } = parseChunks(chunks, { role });
        const payload = frames[0].payload;
        expect(chunks.some((c) => c.buffer === payload.buffer)).to.equal(false);
        for (const chunk of chunks) chunk.fill(0);
        expect(payload.toString()).to.equal('Hello');
      }
    });
  });

  describe('bounded memory', () => {
    it('decodes a 1 MiB frame written as 1-byte chunks into one buffer of exactly the frame length', () => {
      const length = 1024 * 1024;
      const body = pattern(length);
      const frames: Frame[] = [];
      const parser = new FrameParser({ role: 'client' }, { frame: (f) => { frames.push(f); } });
      for (const byte of hex('82 7f 00 00 00 00 00 10 00 00')) parser.write(Buffer.from([byte]));
      for (let i = 0; i < length; i++) parser.write(body.subarray(i, i + 1));
      expect(frames).to.have.length(1);
      const payload = frames[0].payload;
      expect([payload.length, payload.byteOffset, payload.buffer.byteLength]).to.deep.equal([length, 0, length]);
      expect(payload.equals(body)).to.equal(true);
    });

    it('holds no reference to a chunk once write() has returned when the frame\'s bytes in it are few, wherever the chunk ends', () => {
      const key = 0x12345678;
      const streams = [
        { role: 'client' as const, bytes: Buffer.concat([hex('82 7e 00 c8'), pattern(200)]) },
        { role: 'server' as const, bytes: Buffer.concat([hex('82 fe 00 c8'), keyBytes(key), maskBytes(pattern(200), key)]) },
      ];
      for (const { role, bytes } of streams) {
        for (let cut = 1; cut < bytes.length; cut++) {
          const parser = new FrameParser({ role }, { frame: () => undefined });
          const [first] = split(bytes, [cut]);
          parser.write(first);
          const { buffers, arrays } = retained(parser);
          expect(arrays).to.equal(0);
          expect(buffers.some((b) => b.buffer === first.buffer), `${role}, cut at ${cut}`).to.equal(false);
        }
      }
    });

    it('retains only the header stash and the payload\'s own bytes while a frame trickles in byte by byte', () => {
      const length = 70000;
      const parser = new FrameParser({ role: 'client' }, { frame: () => undefined });
      const bytes = Buffer.concat([hex('82 7f 00 00 00 00 00 01 11 70'), pattern(length)]);
      let most = 0;
      for (let i = 0; i < bytes.length; i++) {
        parser.write(Buffer.from([bytes[i]]));
        const { buffers, arrays } = retained(parser);
        expect(arrays).to.equal(0);
        most = Math.max(most, buffers.reduce((sum, b) => sum + b.byteLength, 0));
      }
      // 14 header bytes and staging blocks for the payload's bytes, nothing per chunk.
      expect(most).to.be.at.most(14 + length);
      expect(most, 'the payload bytes were held somewhere').to.be.at.least(length - 1);
      expect(parser.idle).to.equal(true);
    });

    it('does not reserve the announced size of a huge frame whose bytes have not arrived', () => {
      for (const announced of ['00 00 01 00 00 00 00 00', '00 00 00 00 40 00 00 00']) {
        const parser = new FrameParser({ role: 'client', maxPayload: Infinity }, { frame: () => undefined });
        const before = process.memoryUsage().arrayBuffers;
        expect(parser.write(Buffer.concat([hex(`82 7f ${announced}`), pattern(100)]))).to.equal(undefined);
        expect(parser.write(pattern(1000))).to.equal(undefined);
        const grown = process.memoryUsage().arrayBuffers - before;
        expect(grown, `2^40 or 2^30 announced, ${grown} bytes allocated`).to.be.below(16 * 1024 * 1024);
      }
    });
  });

  describe('streaming payloads', () => {
    it('delivers a frame longer than streamingThreshold as one piece per chunk, with offset, totalLength and last', () => {
      const body = pattern(10);
      const bytes = Buffer.concat([hex('82 0a'), body]);
      const { frames, error } = decodeAll(bytes, { role: 'client', streamingThreshold: 4 }, [5, 9]);
      expect(error).to.equal(undefined);
      const piece = (offset: number, end: number, last: boolean): Record<string, unknown> => ({
        fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 2, masked: false,
        payload: body.subarray(offset, end).toString('hex'), offset, totalLength: 10, last,
      });
      expect(frames.map(show)).to.deep.equal([piece(0, 3, false), piece(3, 7, false), piece(7, 10, true)]);
    });

    it('delivers frames at or below the threshold whole, and longer ones in pieces', () => {
      const bytes = Buffer.concat([hex('82 05'), pattern(5), hex('82 06'), pattern(6), hex('81 00')]);
      const { frames } = decodeAll(bytes, { role: 'client', streamingThreshold: 5 });
      expect(frames.map((f) => isFramePiece(f))).to.deep.equal([false, true, false]);
      expect(frames.map((f) => f.payload.length)).to.deep.equal([5, 6, 0]);
    });

    it('unmasks each piece with the key phase of its offset in the frame', () => {
      const key = 0x01234567;
      const body = pattern(23);
      const bytes = Buffer.concat([hex('82 97'), keyBytes(key), maskBytes(body, key)]);
      for (let first = 7; first < bytes.length; first++) {
        for (let second = first; second < bytes.length; second++) {
          const { frames, error } = decodeAll(bytes, { role: 'server', streamingThreshold: 0 }, [first, second]);
          expect(error).to.equal(undefined);
          expect(reassemble(frames)[0].payload.equals(body), `cuts ${first}, ${second}`).to.equal(true);
        }
      }
    });

    it('hands out pieces as views of the written chunks', () => {
      const chunks = split(Buffer.concat([hex('82 0a'), pattern(10)]), [6]);
      const { frames } = parseChunks(chunks, { role: 'client', streamingThreshold: 1 });
      expect(frames.map((f) => f.payload.buffer === chunks[frames.indexOf(f)].buffer)).to.deep.equal([true, true]);
    });

    it('passes a frame announcing 2^40 bytes through in pieces without reserving its size', () => {
      const pieces: Frame[] = [];
      const parser = new FrameParser(
        { role: 'client', maxPayload: Infinity, streamingThreshold: 1024 }, { frame: (f) => { pieces.push(f); } },
      );
      const before = process.memoryUsage().arrayBuffers;
      expect(parser.write(hex('82 7f 00 00 01 00 00 00 00 00'))).to.equal(undefined);
      for (let i = 0; i < 3; i++) expect(parser.write(pattern(65536, i))).to.equal(undefined);
      expect(process.memoryUsage().arrayBuffers - before).to.be.below(16 * 1024 * 1024);
      expect(pieces.map((p) => isFramePiece(p) && [p.offset, p.totalLength, p.last])).to.deep.equal([
        [0, 2 ** 40, false], [65536, 2 ** 40, false], [131072, 2 ** 40, false],
      ]);
    });

    it('resumes whole-frame delivery for the frames after a streamed one', () => {
      const bytes = Buffer.concat([hex('82 08'), pattern(8), hex(HELLO)]);
      const { frames } = decodeAll(bytes, { role: 'client', streamingThreshold: 6 }, [4]);
      expect(frames.map((f) => isFramePiece(f))).to.deep.equal([true, true, false]);
      expect(frames[2].payload.toString()).to.equal('Hello');
    });

    it('reports a stream that ends inside a streamed frame after the pieces that arrived (1006)', async () => {
      const out = await decodeStream(split(hex('82 05 01 02 03'), [3]), { role: 'client', streamingThreshold: 2 });
      expect(out.items.map((f) => f.payload.toString('hex'))).to.deep.equal(['01', '0203']);
      expectError(out.error, { code: 'WS_ERR_TRUNCATED_FRAME', closeCode: 1006, offset: 5 });
    });

    it('streams pieces through FrameDecoder that reassemble to the frame', async () => {
      const body = pattern(5000);
      const out = await decodeStream(split(Buffer.concat([hex('82 7e 13 88'), body]), [100, 2000, 4000]),
        { role: 'client', streamingThreshold: 1000 });
      expect(out.items).to.have.length(4);
      expect(reassemble(out.items).map((f) => f.payload.equals(body))).to.deep.equal([true]);
    });
  });

  describe('FrameParser (sans-I/O)', () => {
    it('hands every frame to the sink synchronously, before write() returns', () => {
      const frames: Frame[] = [];
      const parser = new FrameParser({ role: 'client' }, { frame: (f) => { frames.push(f); } });
      parser.write(hex(`${HELLO} 89 00 81`));
      expect(frames.map((f) => f.opcode)).to.deep.equal([Opcode.Text, Opcode.Ping]);
    });

    it('reports its position in the stream and whether it stands between frames', () => {
      const parser = new FrameParser({ role: 'client' }, { frame: () => undefined });
      const steps: Array<[number, boolean]> = [[parser.position, parser.idle]];
      for (const chunk of split(hex(`${HELLO} 82 7e 00 80`), [1, 7, 9])) {
        parser.write(chunk);
        steps.push([parser.position, parser.idle]);
      }
      expect(steps).to.deep.equal([[0, true], [1, false], [7, true], [9, false], [11, false]]);
    });

    it('returns nothing from end() when the input stopped between frames', () => {
      const parser = new FrameParser({ role: 'client' }, { frame: () => undefined });
      expect(parser.end()).to.equal(undefined);
      parser.write(hex(HELLO));
      expect(parser.end()).to.equal(undefined);
    });

    it('returns the same error for every write and end() after a failure, and delivers no more frames', () => {
      const frames: Frame[] = [];
      const parser = new FrameParser({ role: 'client' }, { frame: (f) => { frames.push(f); } });
      const error = parser.write(hex('83 00'));
      expect(error).to.be.instanceOf(WebSocketProtocolError);
      expect(parser.write(hex(HELLO))).to.equal(error);
      expect(parser.end()).to.equal(error);
      expect(frames).to.have.length(0);
    });
  });

  describe('properties', () => {
    const arbitraryStream = fc.record({
      frames: fc.array(arbitraryFrame(), { maxLength: 6 }),
      masked: fc.boolean(),
      keys: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 6 }),
    }).map(({ frames, masked, keys }) => ({
      frames,
      masked,
      bytes: Buffer.concat(frames.map((f, i) => encodeFrame(f, masked ? keys[i % keys.length] : -1))),
    }));
    const cuts = fc.array(fc.nat(), { maxLength: 12 });

    it('decodes the same frames, or the same error, however the input is split', () => {
      fc.assert(fc.property(arbitraryStream, cuts, ({ frames, masked, bytes }, at) => {
        const options: FrameDecoderOptions = { role: masked ? 'server' : 'client', ...ALL_RSV };
        const whole = decodeAll(bytes, options);
        expect(whole.error).to.equal(undefined);
        expect(whole.frames.map(show)).to.deep.equal(frames.map((f) => show(expected(f, masked))));
        const pieces = decodeAll(bytes, options, cutsWithin(at, bytes.length));
        expect(pieces.frames.map(show)).to.deep.equal(whole.frames.map(show));
        expect(pieces.error).to.equal(undefined);
      }), { numRuns: 150 });
    });

    it('decodes the same frames from 1-byte chunks as from one chunk', () => {
      fc.assert(fc.property(arbitraryStream, ({ frames, masked, bytes }) => {
        const { frames: got, error } = parseChunks(bytewise(bytes), { role: masked ? 'server' : 'client', ...ALL_RSV });
        expect(error).to.equal(undefined);
        expect(got.map(show)).to.deep.equal(frames.map((f) => show(expected(f, masked))));
      }), { numRuns: 40 });
    });

    const arbitraryOptions = fc.record({
      role: fc.constantFrom('server' as const, 'client' as const, 'any' as const),
      maxPayload: fc.constantFrom(undefined, 0, 100, 70000, Infinity),
      allowRsv1: fc.boolean(),
      allowNonMinimalLength: fc.boolean(),
      streamingThreshold: fc.constantFrom(undefined, 0, 10, 1000),
    });

    /** Frames or a protocol error with sane fields, and the same outcome whatever the chunking. */
    function checkOutcome(bytes: Uint8Array, options: FrameDecoderOptions, at: number[]): void {
      const whole = decodeAll(bytes, options);
      const pieces = decodeAll(bytes, options, cutsWithin(at, bytes.length));
      for (const { error } of [whole, pieces]) {
        if (error !== undefined) {
          expect(error).to.be.instanceOf(WebSocketProtocolError);
          expect(error.closeCode).to.be.a('number');
          expect(error.code).to.be.a('string');
          expect(error.offset).to.be.within(0, bytes.length);
        }
      }
      expect(pieces.error?.code).to.equal(whole.error?.code);
      expect(pieces.error?.offset).to.equal(whole.error?.offset);
      expect(reassembleKnown(pieces.frames)).to.deep.equal(reassembleKnown(whole.frames));
    }

    /** Whole frames plus the bytes of any frame still streaming when the input stopped. */
    function reassembleKnown(frames: readonly Frame[]): string[] {
      return frames.reduce<string[]>((out, f) => {
        if (isFramePiece(f) && f.offset > 0) out[out.length - 1] += f.payload.toString('hex');
        else out.push(`${f.opcode}:${f.payload.toString('hex')}`);
        return out;
      }, []);
    }

    it('turns arbitrary bytes into frames or a WebSocketProtocolError, never another exception', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), arbitraryOptions, cuts, (bytes, options, at) => {
        checkOutcome(bytes, options, at);
      }), { numRuns: 400 });
    });

    it('turns mutated valid streams into frames or a WebSocketProtocolError, never another exception', () => {
      const mutated = fc.record({
        stream: arbitraryStream,
        edits: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }),
        cutAt: fc.nat(),
      }).map(({ stream, edits, cutAt }) => {
        const bytes = Buffer.from(stream.bytes);
        if (bytes.length > 0) for (const [at, value] of edits) bytes[at % bytes.length] = value;
        return { bytes: bytes.subarray(0, bytes.length === 0 ? 0 : bytes.length - (cutAt % 3)), masked: stream.masked };
      });
      fc.assert(fc.property(mutated, arbitraryOptions, cuts, ({ bytes }, options, at) => {
        checkOutcome(bytes, options, at);
      }), { numRuns: 300 });
    });

    it('lets FrameDecoder finish arbitrary bytes with frames then an end or a protocol error', async () => {
      await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), arbitraryOptions, cuts, async (bytes, options, at) => {
        const out = await decodeStream(split(bytes, cutsWithin(at, bytes.length)), options);
        const sync = decodeAll(bytes, options);
        expect(out.errorLast).to.equal(true);
        expect(reassembleKnown(out.items)).to.deep.equal(reassembleKnown(sync.frames));
        if (sync.error === undefined) expect(out.error).to.equal(undefined);
        else expect((out.error as WebSocketProtocolError).code).to.equal(sync.error.code);
      }), { numRuns: 60 });
    });

    it('streams pieces that reassemble to the whole frames for any threshold and chunking', () => {
      fc.assert(fc.property(arbitraryStream, fc.nat(300), cuts, ({ frames, masked, bytes }, threshold, at) => {
        const options: FrameDecoderOptions = { role: masked ? 'server' : 'client', streamingThreshold: threshold, ...ALL_RSV };
        const { frames: got, error } = decodeAll(bytes, options, cutsWithin(at, bytes.length));
        expect(error).to.equal(undefined);
        for (const f of got) {
          if (isFramePiece(f)) expect(f.totalLength).to.be.above(threshold);
          else expect(f.payload.length).to.be.at.most(threshold);
        }
        expect(reassemble(got).map(show)).to.deep.equal(frames.map((f) => show(expected(f, masked))));
      }), { numRuns: 150 });
    });
  });
});
