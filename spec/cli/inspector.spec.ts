import { expect } from 'chai';
import fc from 'fast-check';
import { encodeFrame, type FrameInput, Opcode, PerMessageDeflate } from '../../lib/index';
import { formatRecord } from '../../lib/cli/format';
import { FrameInspector, type FrameRecord, type InspectorOptions, type InspectRecord } from '../../lib/cli/inspector';

/** Bytes from hex text (spaces ignored). */
function bytes(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/**
 * Inspects `input` cut at `cuts` into fresh chunks (the inspector unmasks in place, so fixtures
 * are copied). Returns every record.
 */
function inspect(input: Buffer, options: InspectorOptions = {}, cuts: readonly number[] = []): InspectRecord[] {
  const records: InspectRecord[] = [];
  const inspector = new FrameInspector(options, (record) => { records.push(record); });
  const points = [...new Set(cuts.filter((c) => c > 0 && c < input.length))].sort((a, b) => a - b);
  let start = 0;
  for (const point of [...points, input.length]) {
    if (!inspector.write(Buffer.from(input.subarray(start, point)))) break;
    start = point;
  }
  inspector.end();
  return records;
}

function lines(records: readonly InspectRecord[]): string[] {
  return records.flatMap(formatRecord);
}

function frames(records: readonly InspectRecord[]): FrameRecord[] {
  return records.filter((r): r is FrameRecord => r.kind === 'frame');
}

/** The essentials of a frame record, for comparisons. */
function summary(record: FrameRecord): Record<string, unknown> {
  const { header } = record;
  return {
    offset: record.offset, fin: header.fin, opcode: header.opcode, masked: header.masked, maskKey: header.maskKey,
    payloadLength: header.payloadLength, preview: record.preview.toString('latin1'), received: record.received,
  };
}

function errorOf(records: readonly InspectRecord[]): Record<string, unknown> {
  const error = records.find((r) => r.kind === 'error');
  if (error === undefined || error.kind !== 'error') return expect.fail(`no error in ${JSON.stringify(lines(records))}`);
  return { code: error.code, closeCode: error.closeCode, offset: error.offset, frameOffset: error.frameOffset };
}

const RFC_KEY = 0x37fa213d;

describe('cli/inspector', () => {
  describe('RFC 6455 §5.7 examples', () => {
    it('decodes a single-frame unmasked text message: FIN, text, 5 bytes "Hello"', () => {
      const records = inspect(bytes('81 05 48 65 6c 6c 6f'));
      expect(frames(records).map(summary)).to.deep.equal([
        { offset: 0, fin: true, opcode: Opcode.Text, masked: false, maskKey: -1, payloadLength: 5, preview: 'Hello', received: 5 },
      ]);
      expect(lines(records)).to.deep.equal([
        '@0       fin=1 rsv=000 op=text         mask=-        len=5        "Hello"',
        '@7       end: 1 frame, 1 message, no errors',
      ]);
    });

    it('decodes a single-frame masked text message and shows its key', () => {
      const records = inspect(bytes('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
      expect(frames(records).map(summary)).to.deep.equal([
        { offset: 0, fin: true, opcode: Opcode.Text, masked: true, maskKey: RFC_KEY, payloadLength: 5, preview: 'Hello', received: 5 },
      ]);
      expect(lines(records)[0]).to.equal('@0       fin=1 rsv=000 op=text         mask=37fa213d len=5        "Hello"');
    });

    it('decodes a fragmented unmasked text message and reports the whole message', () => {
      const records = inspect(bytes('01 03 48 65 6c  80 02 6c 6f'));
      expect(lines(records)).to.deep.equal([
        '@0       fin=0 rsv=000 op=text         mask=-        len=3        "Hel"',
        '@5       fin=1 rsv=000 op=continuation mask=-        len=2        "lo"',
        '         message: text, 2 frames, 5 bytes: "Hello"',
        '@9       end: 2 frames, 1 message, no errors',
      ]);
    });

    it('decodes an unmasked ping and a masked pong', () => {
      const records = inspect(bytes('89 05 48 65 6c 6c 6f  8a 85 37 fa 21 3d 7f 9f 4d 51 58'));
      expect(frames(records).map(summary)).to.deep.equal([
        { offset: 0, fin: true, opcode: Opcode.Ping, masked: false, maskKey: -1, payloadLength: 5, preview: 'Hello', received: 5 },
        { offset: 7, fin: true, opcode: Opcode.Pong, masked: true, maskKey: RFC_KEY, payloadLength: 5, preview: 'Hello', received: 5 },
      ]);
    });

    it('decodes 256 bytes (16-bit length) and 64 KiB (64-bit length) binary messages, previewing 64 bytes', () => {
      const small = Buffer.alloc(256, 0xab);
      const large = Buffer.alloc(65536, 0xcd);
      const records = inspect(Buffer.concat([bytes('82 7e 01 00'), small, bytes('82 7f 00 00 00 00 00 01 00 00'), large]));
      expect(frames(records).map(summary)).to.deep.equal([
        { offset: 0, fin: true, opcode: Opcode.Binary, masked: false, maskKey: -1, payloadLength: 256, preview: '\xab'.repeat(64), received: 256 },
        { offset: 260, fin: true, opcode: Opcode.Binary, masked: false, maskKey: -1, payloadLength: 65536, preview: '\xcd'.repeat(64), received: 65536 },
      ]);
      expect(lines(records)[1]).to.match(/^@260 +fin=1 rsv=000 op=binary +mask=- +len=65536 +(cd ){64}…$/);
    });
  });

  it('shows a control frame between the fragments of a message on its own line', () => {
    const records = inspect(bytes('01 03 48 65 6c  89 00  80 02 6c 6f'));
    expect(records.map((r) => r.kind)).to.deep.equal(['frame', 'frame', 'frame', 'message', 'end']);
    expect(lines(records)[1]).to.match(/^@5 +fin=1 rsv=000 op=ping +mask=- +len=0$/);
    expect(frames(records)[2].payloadKind).to.equal('text');
  });

  it('previews as many payload bytes as asked, none included', () => {
    expect(frames(inspect(bytes('81 05 48 65 6c 6c 6f'), { previewBytes: 2 }))[0].preview.toString()).to.equal('He');
    expect(lines(inspect(bytes('81 05 48 65 6c 6c 6f'), { previewBytes: 0 }))[0]).to.match(/len=5 +""…$/);
  });

  describe('errors', () => {
    it('reports an unmasked frame decoded as a server: WS_ERR_EXPECTED_MASK (1002) at byte 1', () => {
      expect(errorOf(inspect(bytes('81 05 48 65 6c 6c 6f'), { role: 'server' })))
        .to.deep.equal({ code: 'WS_ERR_EXPECTED_MASK', closeCode: 1002, offset: 1, frameOffset: undefined });
    });

    it('reports a masked frame decoded as a client: WS_ERR_UNEXPECTED_MASK (1002) at byte 1', () => {
      expect(errorOf(inspect(bytes('81 85 37 fa 21 3d 7f 9f 4d 51 58'), { role: 'client' })))
        .to.deep.equal({ code: 'WS_ERR_UNEXPECTED_MASK', closeCode: 1002, offset: 1, frameOffset: undefined });
    });

    it('reports the frames before the error first, and nothing after it', () => {
      const records = inspect(bytes('81 01 41  83 00  81 01 42'));
      expect(records.map((r) => r.kind)).to.deep.equal(['frame', 'error']);
      expect(errorOf(records)).to.deep.equal({ code: 'WS_ERR_INVALID_OPCODE', closeCode: 1002, offset: 3, frameOffset: undefined });
    });

    it('refuses RSV1 unless permessage-deflate is declared', () => {
      expect(errorOf(inspect(bytes('c1 01 41')))).to.deep.include({ code: 'WS_ERR_UNEXPECTED_RSV_1', offset: 0 });
    });

    it('refuses a non-minimal length unless asked to accept it (RFC 6455 §5.2)', () => {
      const input = bytes('81 7e 00 05 48 65 6c 6c 6f');
      expect(errorOf(inspect(input))).to.deep.include({ code: 'WS_ERR_NON_MINIMAL_LENGTH', closeCode: 1002, offset: 2 });
      expect(frames(inspect(input, { allowNonMinimalLength: true })).map(summary)[0]).to.deep.include({ payloadLength: 5, preview: 'Hello' });
    });

    it('refuses a frame over maxPayload as soon as its length is read (1009)', () => {
      expect(errorOf(inspect(bytes('82 05 00'), { maxPayload: 4 })))
        .to.deep.equal({ code: 'WS_ERR_PAYLOAD_TOO_BIG', closeCode: 1009, offset: 1, frameOffset: undefined });
    });

    it('refuses a message over maxMessageSize, summed over its fragments (1009)', () => {
      expect(errorOf(inspect(bytes('01 03 48 65 6c  80 02 6c 6f'), { maxMessageSize: 4 })))
        .to.deep.include({ code: 'WS_ERR_MESSAGE_TOO_BIG', closeCode: 1009, frameOffset: 5 });
    });

    it('allocates previews by what arrived, not by what a header announces', () => {
      const records = inspect(bytes('82 7f 00 1f ff ff ff ff ff ff  01 02 03'), { maxPayload: Number.MAX_SAFE_INTEGER, maxMessageSize: Number.MAX_SAFE_INTEGER, previewBytes: Number.MAX_SAFE_INTEGER });
      expect(summary(frames(records)[0])).to.deep.include({ payloadLength: Number.MAX_SAFE_INTEGER, preview: '\x01\x02\x03', received: 3 });
      expect(errorOf(records)).to.deep.include({ code: 'WS_ERR_TRUNCATED_FRAME', offset: 13 });
    });

    it('says when the input looks like hex text', () => {
      const records = inspect(Buffer.from('81 05 48 65 6c 6c 6f'));
      const error = records.find((r) => r.kind === 'error');
      expect(error).to.deep.include({ code: 'WS_ERR_UNEXPECTED_RSV_2', looksLikeHexText: true });
      expect(inspect(bytes('83 00')).find((r) => r.kind === 'error')).to.deep.include({ looksLikeHexText: false });
    });
  });

  describe('truncated input', () => {
    it('shows how much of a frame\'s payload arrived and fails with WS_ERR_TRUNCATED_FRAME', () => {
      const records = inspect(bytes('81 05 48 65'));
      expect(frames(records).map(summary)).to.deep.equal([
        { offset: 0, fin: true, opcode: Opcode.Text, masked: false, maskKey: -1, payloadLength: 5, preview: 'He', received: 2 },
      ]);
      expect(errorOf(records)).to.deep.equal({ code: 'WS_ERR_TRUNCATED_FRAME', closeCode: 1006, offset: 4, frameOffset: undefined });
      expect(lines(records)[0]).to.match(/"He"… {2}\[2 of 5 payload bytes present\]$/);
    });

    it('shows a whole header whose payload never came', () => {
      const records = inspect(bytes('81 01 41  82 85 01 02 03 04'));
      expect(frames(records).map(summary)[1]).to.deep.equal(
        { offset: 3, fin: true, opcode: Opcode.Binary, masked: true, maskKey: 0x01020304, payloadLength: 5, preview: '', received: 0 },
      );
      expect(errorOf(records)).to.deep.include({ code: 'WS_ERR_TRUNCATED_FRAME', offset: 9 });
    });

    it('reports a header cut short', () => {
      for (const [input, length] of [['81', 1], ['81 85 37 fa', 4], ['82 7e 01', 3]] as const) {
        const records = inspect(bytes(input));
        expect(records[0], input).to.deep.equal({ kind: 'truncated', offset: 0, what: 'header', length });
        expect(errorOf(records), input).to.deep.include({ code: 'WS_ERR_TRUNCATED_FRAME', offset: length });
      }
    });

    it('notes a fragmented message without its final frame, which is not an error', () => {
      const records = inspect(bytes('01 03 48 65 6c'));
      expect(records.map((r) => r.kind)).to.deep.equal(['frame', 'note', 'end']);
      expect(lines(records)[1]).to.equal('@0       note: the input ends inside a fragmented text message (1 frame, no FIN yet)');
    });
  });

  describe('message rules', () => {
    it('reports a continuation with no message to continue, after showing the frame', () => {
      const records = inspect(bytes('81 01 41  80 02 6c 6f'));
      expect(records.map((r) => r.kind)).to.deep.equal(['frame', 'frame', 'error']);
      expect(errorOf(records)).to.deep.equal({ code: 'WS_ERR_UNEXPECTED_CONTINUATION', closeCode: 1002, offset: undefined, frameOffset: 3 });
    });

    it('reports a new message inside a fragmented one (RFC 6455 §5.4)', () => {
      expect(errorOf(inspect(bytes('01 01 41  81 01 42')))).to.deep.include({ code: 'WS_ERR_EXPECTED_CONTINUATION', frameOffset: 3 });
    });

    it('reports invalid UTF-8 in a text frame with 1007 and shows the bad bytes', () => {
      const records = inspect(bytes('81 02 ff fe'));
      expect(errorOf(records)).to.deep.include({ code: 'WS_ERR_INVALID_UTF8', closeCode: 1007, frameOffset: 0 });
      expect(lines(records)[0]).to.match(/"\\xff\\xfe"$/);
    });

    it('reports a close code that may not be sent (1005 on the wire)', () => {
      expect(errorOf(inspect(bytes('88 02 03 ed')))).to.deep.include({ code: 'WS_ERR_INVALID_CLOSE_CODE', closeCode: 1002 });
    });

    it('skips message rules with messages: false', () => {
      const records = inspect(bytes('80 02 6c 6f  81 02 ff fe  88 02 03 ed'), { messages: false });
      expect(records.map((r) => r.kind)).to.deep.equal(['frame', 'frame', 'frame', 'end']);
    });

    it('shows a message-rule failure in the middle of a frame with the bytes read so far', () => {
      const input = Buffer.concat([bytes('81 7e 00 c8'), Buffer.alloc(100, 0x41), Buffer.from([0xff]), Buffer.alloc(99, 0x41)]);
      const records = inspect(input, {}, [50, 110]);
      expect(records.map((r) => r.kind)).to.deep.equal(['frame', 'error']);
      expect(summary(frames(records)[0])).to.deep.include({ payloadLength: 200, received: 106 });
      expect(errorOf(records)).to.deep.include({ code: 'WS_ERR_INVALID_UTF8', frameOffset: 0 });
    });
  });

  describe('HTTP head', () => {
    const head = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';

    it('skips a leading handshake head and counts offsets from the start of the input', () => {
      const input = Buffer.concat([Buffer.from(head), bytes('81 05 48 65 6c 6c 6f')]);
      const records = inspect(input);
      expect(records[0]).to.deep.equal({ kind: 'http', offset: 0, length: head.length, firstLine: 'HTTP/1.1 101 Switching Protocols' });
      expect(frames(records)[0].offset).to.equal(head.length);
      expect(inspect(input, {}, Array.from(input.keys()))).to.deep.equal(records);
    });

    it('reports error offsets in the whole input', () => {
      const input = Buffer.concat([Buffer.from(`GET /chat HTTP/1.1\r\nHost: x\r\n\r\n`), bytes('81 05 48 65 6c 6c 6f')]);
      expect(errorOf(inspect(input, { role: 'server' }))).to.deep.include({ code: 'WS_ERR_EXPECTED_MASK', offset: 31 + 1 });
    });

    it('reports a head without its blank line as truncated', () => {
      const records = inspect(Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'));
      expect(records).to.deep.equal([{ kind: 'truncated', offset: 0, what: 'http', length: 54 }]);
    });

    it('refuses a head larger than 16 KiB', () => {
      const records = inspect(Buffer.from(`HTTP/1.1 101 OK\r\nX: ${'a'.repeat(17000)}\r\n\r\n`));
      expect(errorOf(records)).to.deep.include({ code: 'WS_ERR_HANDSHAKE_HEADER_TOO_LARGE' });
    });

    it('treats bytes that only begin like a head as frames', () => {
      expect(errorOf(inspect(Buffer.from('GE')))).to.deep.include({ code: 'WS_ERR_UNEXPECTED_RSV_1', offset: 0 });
    });
  });

  describe('permessage-deflate', () => {
    const text = 'Hello, Hello, Hello, Hello, Hello!';
    const params = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

    function compressedFrames(): Buffer {
      const codec = new PerMessageDeflate(params, 'server');
      const first = codec.deflate(text);
      const second = codec.deflate(text);
      return Buffer.concat([
        encodeFrame({ opcode: Opcode.Text, rsv1: true, payload: first }),
        // The second message refers back to the first (context takeover) and comes in two frames.
        encodeFrame({ opcode: Opcode.Text, rsv1: true, fin: false, payload: second.subarray(0, 2) }),
        encodeFrame({ opcode: Opcode.Continuation, payload: second.subarray(2) }),
      ]);
    }

    it('inflates compressed messages with --deflate and shows their text', () => {
      const records = inspect(compressedFrames(), { deflate: true });
      const messages = records.filter((r) => r.kind === 'message');
      expect(messages).to.have.length(2);
      for (const message of messages) {
        expect(message).to.deep.include({ type: 'text', length: text.length });
        expect(lines([message])[0]).to.include(`"${text}"`);
      }
      expect(frames(records).map((f) => f.compressed)).to.deep.equal([true, true, true]);
    });

    it('refuses RSV1 without --deflate', () => {
      expect(errorOf(inspect(compressedFrames()))).to.deep.include({ code: 'WS_ERR_UNEXPECTED_RSV_1', offset: 0 });
    });

    it('reports data that does not inflate with 1007', () => {
      expect(errorOf(inspect(bytes('c1 02 ff ff'), { deflate: true }))).to.deep.include({ code: 'WS_ERR_INVALID_COMPRESSED_DATA', closeCode: 1007 });
    });
  });

  describe('properties', () => {
    /** Valid frame sequences: messages in 1-3 fragments, control frames between them, any masking. */
    const sequence = fc.array(fc.record({
      binary: fc.boolean(),
      text: fc.string({ unit: 'grapheme', maxLength: 40 }),
      data: fc.uint8Array({ maxLength: 300 }),
      cuts: fc.array(fc.nat(), { maxLength: 2 }),
      ping: fc.option(fc.uint8Array({ maxLength: 125 })),
      keys: fc.array(fc.option(fc.integer({ min: 0, max: 0xffffffff })), { minLength: 4, maxLength: 4 }),
    }), { maxLength: 5 }).map((messages) => {
      const out: Buffer[] = [];
      for (const m of messages) {
        const payload = m.binary ? Buffer.from(m.data) : Buffer.from(m.text);
        const points = [...new Set(m.cuts.map((c) => c % (payload.length + 1)))].sort((a, b) => a - b);
        const pieces = [0, ...points].map((start, i, all) => payload.subarray(start, all[i + 1] ?? payload.length));
        pieces.forEach((piece, i) => {
          const frame: FrameInput = { opcode: i === 0 ? (m.binary ? Opcode.Binary : Opcode.Text) : Opcode.Continuation, fin: i === pieces.length - 1, payload: piece };
          out.push(encodeFrame(frame, m.keys[i % 4] ?? -1));
          if (i === 0 && m.ping !== null) out.push(encodeFrame({ opcode: Opcode.Ping, payload: m.ping }, m.keys[3] ?? -1));
        });
      }
      return Buffer.concat(out);
    });

    it('gives the same records however the input is split, 1-byte chunks included', () => {
      fc.assert(fc.property(sequence, fc.array(fc.nat(), { maxLength: 8 }), (input, cuts) => {
        const whole = lines(inspect(input));
        expect(whole[whole.length - 1]).to.match(/end: .* no errors$/);
        expect(lines(inspect(input, {}, cuts.map((c) => c % (input.length + 1))))).to.deep.equal(whole);
      }), { numRuns: 200 });
      fc.assert(fc.property(sequence, (input) => {
        expect(lines(inspect(input, {}, Array.from(input.keys())))).to.deep.equal(lines(inspect(input)));
      }), { numRuns: 30 });
    });

    it('ends arbitrary bytes with exactly one end or error record, never an exception', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 5 }), fc.boolean(), (input, cuts, deflate) => {
        const records = inspect(Buffer.from(input), { deflate }, cuts.map((c) => c % (input.length + 1)));
        const terminal = records.filter((r) => r.kind === 'end' || r.kind === 'error');
        expect(terminal).to.have.length(1);
        expect(records[records.length - 1]).to.equal(terminal[0]);
        for (const line of lines(records)) expect(line).to.be.a('string');
      }), { numRuns: 500 });
    });
  });

  it('keeps memory flat for a frame far larger than the preview', () => {
    const total = 48 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const inspector = new FrameInspector({}, () => {});
    const before = process.memoryUsage().arrayBuffers;
    inspector.write(bytes('82 7f 00 00 00 00 03 00 00 00'));
    let peak = 0;
    for (let sent = 0; sent < total; sent += chunk.length) {
      inspector.write(chunk);
      if (sent % (4 * 1024 * 1024) === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }
    inspector.end();
    expect(peak).to.be.below(8 * 1024 * 1024);
  });
});
