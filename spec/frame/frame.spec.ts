import { expect } from 'chai';
import fc from 'fast-check';
import { MAX_HEADER_LENGTH, Opcode, RSV1_BIT, RSV2_BIT, RSV3_BIT } from '../../lib/constants';
import type { ErrorCode } from '../../lib/errors';
import { checkFirstBytes, checkOutgoing, firstByte, type Frame, type FramePiece, headerLength, isControlOpcode, isFramePiece, isKnownOpcode, parseHeader, readUint32, rsvMask, writeHeader } from '../../lib/frame/frame';
import { hex } from '../support/frames';
import { frameVectors, headerSize } from '../vectors';

const ALL_RSV = RSV1_BIT | RSV2_BIT | RSV3_BIT;

describe('frame', () => {
  describe('frame vectors', () => {
    for (const v of frameVectors) {
      const size = headerSize(v);
      const key = v.maskKey ?? -1;
      const { fin, rsv1, rsv2, rsv3, opcode, masked, payload } = v.frame;

      it(`parses the header of ${v.name}`, () => {
        expect(parseHeader(v.bytes)).to.deep.equal({
          fin, rsv1, rsv2, rsv3, opcode, masked, maskKey: key, payloadLength: payload.length, headerLength: size,
        });
      });

      it(`writes the header of ${v.name} byte for byte`, () => {
        const target = Buffer.alloc(size + 3, 0xee);
        const end = writeHeader(target, 3, firstByte(fin, rsv1, rsv2, rsv3, opcode), payload.length, key);
        expect(end).to.equal(size + 3);
        expect(target.subarray(3).toString('hex')).to.equal(v.bytes.subarray(0, size).toString('hex'));
        expect(target.subarray(0, 3).toString('hex')).to.equal('eeeeee');
      });

      it(`sizes the header of ${v.name} as ${size} bytes`, () => {
        expect(headerLength(payload.length, masked)).to.equal(size);
      });

      it(`accepts the first two bytes of ${v.name} for its receiver`, () => {
        const allowed = rsvMask(v.options?.allowRsv1 === true, v.options?.allowRsv2 === true, v.options?.allowRsv3 === true);
        expect(checkFirstBytes(v.bytes[0], v.bytes[1], allowed, v.role === 'client')).to.equal(undefined);
        expect(checkFirstBytes(v.bytes[0], v.bytes[1], allowed, undefined)).to.equal(undefined);
      });
    }
  });

  describe('parseHeader', () => {
    it('returns undefined until the whole header is there', () => {
      const bytes = hex('82 ff 00 00 00 00 00 01 00 00 01 02 03 04');
      for (let length = 0; length < bytes.length; length++) {
        expect(parseHeader(bytes.subarray(0, length)), `${length} bytes`).to.equal(undefined);
      }
      expect(parseHeader(bytes)?.headerLength).to.equal(MAX_HEADER_LENGTH);
    });

    it('parses at an offset', () => {
      expect(parseHeader(hex('ff ff 81 7e 01 00'), 2)).to.include({ opcode: 1, payloadLength: 256, headerLength: 4 });
      expect(parseHeader(hex('ff ff 81'), 2)).to.equal(undefined);
    });

    it('reads 64-bit lengths beyond 32 bits exactly up to 2^53 - 1', () => {
      expect(parseHeader(hex('82 7f 00 00 00 01 00 00 00 00'))?.payloadLength).to.equal(2 ** 32);
      expect(parseHeader(hex('82 7f 00 1f ff ff ff ff ff ff'))?.payloadLength).to.equal(Number.MAX_SAFE_INTEGER);
      expect(parseHeader(hex('82 7f 12 34 56 78 9a bc de f0'))?.payloadLength).to.be.a('number');
    });

    it('reads a mask key with its top bit set as a positive number', () => {
      expect(parseHeader(hex('81 80 ff 00 00 01'))?.maskKey).to.equal(0xff000001);
    });
  });

  describe('writeHeader', () => {
    it('writes lengths past 2^32 in the 64-bit form, split without losing precision', () => {
      for (const length of [2 ** 32, 2 ** 32 + 1, 2 ** 40 + 0x01020304, Number.MAX_SAFE_INTEGER]) {
        const target = Buffer.alloc(10);
        expect(writeHeader(target, 0, 0x82, length, -1)).to.equal(10);
        expect(target.readBigUInt64BE(2)).to.equal(BigInt(length));
        expect(parseHeader(target)?.payloadLength).to.equal(length);
      }
    });

    it('round-trips with parseHeader for any flags, length and key', () => {
      const arbitraryHeader = fc.record({
        fin: fc.boolean(), rsv1: fc.boolean(), rsv2: fc.boolean(), rsv3: fc.boolean(),
        opcode: fc.constantFrom(0, 1, 2, 8, 9, 10),
        length: fc.oneof(fc.nat(300), fc.integer({ min: 65000, max: 70000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        key: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 0xffffffff })),
      });
      fc.assert(fc.property(arbitraryHeader, ({ fin, rsv1, rsv2, rsv3, opcode, length, key }) => {
        const masked = key !== -1;
        const target = Buffer.alloc(MAX_HEADER_LENGTH);
        const end = writeHeader(target, 0, firstByte(fin, rsv1, rsv2, rsv3, opcode), length, key);
        expect(end).to.equal(headerLength(length, masked));
        expect(parseHeader(target.subarray(0, end))).to.deep.equal({
          fin, rsv1, rsv2, rsv3, opcode, masked, maskKey: key, payloadLength: length, headerLength: end,
        });
      }), { numRuns: 300 });
    });
  });

  describe('checkFirstBytes', () => {
    const rules: Array<{ name: string; b0: number; b1: number; allowed?: number; mask?: boolean; code: ErrorCode | undefined }> = [
      { name: 'a plain masked text frame', b0: 0x81, b1: 0x85, code: undefined },
      { name: 'RSV1 set without an extension', b0: 0xc1, b1: 0x80, code: 'WS_ERR_UNEXPECTED_RSV_1' },
      { name: 'RSV2 set without an extension', b0: 0xa1, b1: 0x80, code: 'WS_ERR_UNEXPECTED_RSV_2' },
      { name: 'RSV3 set without an extension', b0: 0x91, b1: 0x80, code: 'WS_ERR_UNEXPECTED_RSV_3' },
      { name: 'RSV1 set when an extension allowed it', b0: 0xc1, b1: 0x80, allowed: RSV1_BIT, code: undefined },
      { name: 'RSV2 and RSV3 set when both are allowed', b0: 0xb1, b1: 0x80, allowed: RSV2_BIT | RSV3_BIT, code: undefined },
      { name: 'RSV1 set when only RSV2 and RSV3 are allowed', b0: 0xc1, b1: 0x80, allowed: RSV2_BIT | RSV3_BIT, code: 'WS_ERR_UNEXPECTED_RSV_1' },
      { name: 'all three RSV bits set when all are allowed', b0: 0xf2, b1: 0x80, allowed: ALL_RSV, code: undefined },
      { name: 'reserved opcode 3', b0: 0x83, b1: 0x80, code: 'WS_ERR_INVALID_OPCODE' },
      { name: 'reserved opcode 0xb', b0: 0x8b, b1: 0x80, code: 'WS_ERR_INVALID_OPCODE' },
      { name: 'a non-final ping', b0: 0x09, b1: 0x80, code: 'WS_ERR_EXPECTED_FIN' },
      { name: 'a non-final text frame', b0: 0x01, b1: 0x80, code: undefined },
      { name: 'a close with length 126', b0: 0x88, b1: 0xfe, code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH' },
      { name: 'a pong with length 127', b0: 0x8a, b1: 0xff, code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH' },
      { name: 'a ping with length 125', b0: 0x89, b1: 0xfd, code: undefined },
      { name: 'a binary frame with length 127', b0: 0x82, b1: 0xff, code: undefined },
      { name: 'an unmasked frame where masking is required', b0: 0x81, b1: 0x05, mask: true, code: 'WS_ERR_EXPECTED_MASK' },
      { name: 'a masked frame where masking is forbidden', b0: 0x81, b1: 0x85, mask: false, code: 'WS_ERR_UNEXPECTED_MASK' },
      { name: 'an unmasked frame where masking is forbidden', b0: 0x81, b1: 0x05, mask: false, code: undefined },
      // The first rule broken wins: the order the decoder reports them in.
      { name: 'RSV1 and a reserved opcode', b0: 0xc3, b1: 0x80, code: 'WS_ERR_UNEXPECTED_RSV_1' },
      { name: 'a reserved opcode, unmasked where required', b0: 0x83, b1: 0x00, mask: true, code: 'WS_ERR_INVALID_OPCODE' },
      { name: 'a non-final ping with length 126', b0: 0x09, b1: 0xfe, code: 'WS_ERR_EXPECTED_FIN' },
    ];
    for (const { name, b0, b1, allowed, mask, code } of rules) {
      it(`${code === undefined ? 'accepts' : `returns ${code} for`} ${name}`, () => {
        expect(checkFirstBytes(b0, b1, allowed ?? 0, mask ?? true)).to.equal(code);
      });
    }

    it('accepts masked and unmasked frames alike when the mask requirement is undefined', () => {
      expect([checkFirstBytes(0x81, 0x05, 0, undefined), checkFirstBytes(0x81, 0x85, 0, undefined)]).to.deep.equal([undefined, undefined]);
    });
  });

  describe('checkOutgoing', () => {
    const rules: Array<[string, number, boolean, number, ErrorCode | undefined]> = [
      ['a final text frame', Opcode.Text, true, 1000, undefined],
      ['a non-final binary frame', Opcode.Binary, false, 70000, undefined],
      ['a continuation frame', Opcode.Continuation, false, 0, undefined],
      ['a ping of 125 bytes', Opcode.Ping, true, 125, undefined],
      ['a ping of 126 bytes', Opcode.Ping, true, 126, 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH'],
      ['a close of 126 bytes', Opcode.Close, true, 126, 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH'],
      ['a non-final pong', Opcode.Pong, false, 0, 'WS_ERR_EXPECTED_FIN'],
      ['opcode 3', 3, true, 0, 'WS_ERR_INVALID_OPCODE'],
      ['opcode 15', 15, true, 0, 'WS_ERR_INVALID_OPCODE'],
      ['opcode 16', 16, true, 0, 'WS_ERR_INVALID_OPCODE'],
      ['opcode 2.5', 2.5, true, 0, 'WS_ERR_INVALID_OPCODE'],
      ['opcode -8', -8, true, 0, 'WS_ERR_INVALID_OPCODE'],
    ];
    for (const [name, opcode, fin, length, code] of rules) {
      it(`${code === undefined ? 'accepts' : `returns ${code} for`} ${name}`, () => {
        expect(checkOutgoing(opcode, fin, length)).to.equal(code);
      });
    }
  });

  describe('opcodes and flags', () => {
    it('knows exactly the opcodes 0-2 and 8-10 (RFC 6455 §5.2)', () => {
      const known = Array.from({ length: 16 }, (_, op) => op).filter(isKnownOpcode);
      expect(known).to.deep.equal([0, 1, 2, 8, 9, 10]);
      expect([-1, 16, 0x81].some(isKnownOpcode)).to.equal(false);
    });

    it('treats opcodes 8-15 as control opcodes (RFC 6455 §5.5)', () => {
      const control = Array.from({ length: 16 }, (_, op) => op).filter(isControlOpcode);
      expect(control).to.deep.equal([8, 9, 10, 11, 12, 13, 14, 15]);
    });

    it('builds the first byte from FIN, the RSV bits and the opcode', () => {
      expect(firstByte(true, false, false, false, 1)).to.equal(0x81);
      expect(firstByte(false, true, false, true, 2)).to.equal(0x52);
      expect(firstByte(true, true, true, true, 0xa)).to.equal(0xfa);
      expect(rsvMask(true, true, true)).to.equal(0x70);
      expect(rsvMask(false, true, false)).to.equal(0x20);
    });

    it('reads a big-endian uint32 as an unsigned number', () => {
      expect(readUint32(hex('00 ff ff ff ff 00'), 1)).to.equal(0xffffffff);
      expect(readUint32(hex('12 34 56 78'), 0)).to.equal(0x12345678);
    });

    it('tells a streamed piece from a whole frame', () => {
      const whole: Frame = { fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 2, masked: false, payload: Buffer.alloc(0) };
      const piece: FramePiece = { ...whole, offset: 0, totalLength: 10, last: false };
      expect([isFramePiece(whole), isFramePiece(piece)]).to.deep.equal([false, true]);
    });

    it('sizes headers at the 7/16/64-bit boundaries, with 4 more bytes when masked', () => {
      const sizes = [0, 125, 126, 65535, 65536, Number.MAX_SAFE_INTEGER].map((n) => [headerLength(n, false), headerLength(n, true)]);
      expect(sizes).to.deep.equal([[2, 6], [2, 6], [4, 8], [4, 8], [10, 14], [10, 14]]);
    });
  });
});
