import { expect } from 'chai';
import { type FrameHeader, WebSocketProtocolError, WebSocketUsageError } from '../../lib/index';
import {
  closeCodeName, errorDetail, formatBytes, formatClose, formatFrame, formatMessage, formatRecord, hex, quoteText,
} from '../../lib/cli/format';
import type { FrameRecord } from '../../lib/cli/inspector';

function header(fields: Partial<FrameHeader>): FrameHeader {
  return {
    fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 1, masked: false, maskKey: -1, payloadLength: 0, headerLength: 2,
    ...fields,
  };
}

function frame(fields: Partial<FrameHeader>, preview: Buffer, rest: Partial<FrameRecord> = {}): FrameRecord {
  const h = header({ payloadLength: preview.length, ...fields });
  return { kind: 'frame', offset: 0, header: h, payloadKind: 'text', compressed: false, preview, received: h.payloadLength, ...rest };
}

describe('cli/format', () => {
  describe('quoteText', () => {
    const vectors: Array<[string, Buffer, boolean, string]> = [
      ['plain ASCII', Buffer.from('Hello'), true, '"Hello"'],
      ['quotes, backslashes and common control characters', Buffer.from('a"b\\c\nd\re\tf'), true, '"a\\"b\\\\c\\nd\\re\\tf"'],
      ['other control characters and DEL', Buffer.from([0x00, 0x1b, 0x7f]), true, '"\\x00\\x1b\\x7f"'],
      ['multi-byte characters', Buffer.from('héllo €𝄞'), true, '"héllo €𝄞"'],
      ['bytes that are not UTF-8', Buffer.from([0x48, 0xff, 0xc0, 0xaf, 0x49]), true, '"H\\xff\\xc0\\xafI"'],
      ['a surrogate encoded in UTF-8 (RFC 3629: invalid)', Buffer.from([0xed, 0xa0, 0x80]), true, '"\\xed\\xa0\\x80"'],
      ['a character cut at the end of a whole payload', Buffer.from([0x41, 0xe2, 0x82]), true, '"A\\xe2\\x82"'],
      ['a character cut by the preview', Buffer.from([0x41, 0xe2, 0x82]), false, '"A"…'],
      ['C1 controls and line separators', Buffer.from('\u0085\u2028'), true, '"\\x85\\u{2028}"'],
      ['the empty payload', Buffer.alloc(0), true, '""'],
    ];
    for (const [name, bytes, complete, expected] of vectors) {
      it(`quotes ${name}`, () => {
        expect(quoteText(bytes, complete)).to.equal(expected);
      });
    }
  });

  it('writes hex pairs with a separator', () => {
    expect(hex(Buffer.from([0, 0x0a, 0xff]))).to.equal('00 0a ff');
    expect(hex(Buffer.from([0, 0x0a, 0xff]), '')).to.equal('000aff');
  });

  it('names close codes from the registry and the private ranges (RFC 6455 §7.4)', () => {
    expect(closeCodeName(1000)).to.equal('Normal');
    expect(closeCodeName(1006)).to.equal('Abnormal');
    expect(closeCodeName(3000)).to.equal('registered');
    expect(closeCodeName(4000)).to.equal('private');
    expect(closeCodeName(1016)).to.equal('unassigned');
    expect(formatClose(1001, '')).to.equal('1001 GoingAway');
    expect(formatClose(1000, 'bye "now"')).to.equal('1000 Normal "bye \\"now\\""');
  });

  it('writes byte counts in binary units', () => {
    expect(formatBytes(0)).to.equal('0 B');
    expect(formatBytes(1023)).to.equal('1023 B');
    expect(formatBytes(1536)).to.equal('1.5 KiB');
    expect(formatBytes(4 * 1024 * 1024)).to.equal('4.0 MiB');
  });

  it('strips the generic table text from an error message', () => {
    expect(errorDetail(new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'missing <url>'))).to.equal('missing <url>');
    expect(errorDetail(new WebSocketProtocolError('WS_ERR_INVALID_OPCODE'))).to.equal('reserved or unknown opcode');
  });

  describe('formatMessage', () => {
    it('writes text as it is, one message per line', () => {
      expect(formatMessage('héllo', false, 'preview')).to.equal('héllo\n');
      expect(formatMessage('x', false, 'raw', '[peer] ')).to.equal('[peer] x\n');
    });

    it('previews binary as a line with its size and first 32 bytes', () => {
      expect(formatMessage(Buffer.from([0x0a, 0x0b]), true, 'preview')).to.equal('[binary 2 bytes] 0a 0b\n');
      expect(formatMessage(Buffer.from([1]), true, 'preview')).to.equal('[binary 1 byte] 01\n');
      expect(formatMessage(Buffer.alloc(0), true, 'preview')).to.equal('[binary 0 bytes]\n');
      const long = formatMessage(Buffer.alloc(40, 0xab), true, 'preview') as string;
      expect(long).to.equal(`[binary 40 bytes] ${Array(32).fill('ab').join(' ')} …\n`);
    });

    it('writes binary in full hex with --hex, and as raw bytes with --raw', () => {
      expect(formatMessage(Buffer.alloc(40, 0xab), true, 'hex', '[p] ')).to.equal(`[p] ${'ab'.repeat(40)}\n`);
      const raw = formatMessage(Buffer.from([0, 1, 2]), true, 'raw', '[p] ');
      expect(Buffer.isBuffer(raw) && raw.equals(Buffer.from([0, 1, 2]))).to.equal(true);
    });
  });

  describe('inspect lines', () => {
    it('shows every header field of an RFC 6455 §5.7 frame', () => {
      expect(formatFrame(frame({}, Buffer.from('Hello'))))
        .to.equal('@0       fin=1 rsv=000 op=text         mask=-        len=5        "Hello"');
      expect(formatFrame(frame({ masked: true, maskKey: 0x37fa213d }, Buffer.from('Hello'), { offset: 7 })))
        .to.equal('@7       fin=1 rsv=000 op=text         mask=37fa213d len=5        "Hello"');
      expect(formatFrame(frame({ fin: false, rsv1: true, rsv3: true, opcode: 0 }, Buffer.from('lo'))))
        .to.match(/^@0 +fin=0 rsv=101 op=continuation mask=- +len=2 +"lo"$/);
    });

    it('previews a payload longer than the preview with an ellipsis', () => {
      const record = frame({ opcode: 2, payloadLength: 256 }, Buffer.from([0, 1, 2]), { payloadKind: 'binary', received: 256 });
      expect(formatFrame(record)).to.match(/len=256 +00 01 02 …$/);
    });

    it('says how much of a truncated frame arrived', () => {
      const record = frame({ opcode: 2, payloadLength: 256 }, Buffer.from([9]), { payloadKind: 'binary', received: 1 });
      expect(formatFrame(record)).to.match(/len=256 +09 … {2}\[1 of 256 payload bytes present\]$/);
    });

    it('shows close frames as code and reason (RFC 6455 §5.5.1)', () => {
      const close = (payload: Buffer): string => formatFrame(frame({ opcode: 8 }, payload, { payloadKind: 'close' }));
      expect(close(Buffer.from([0x03, 0xe8]))).to.match(/len=2 +1000 Normal$/);
      expect(close(Buffer.concat([Buffer.from([0x03, 0xe9]), Buffer.from('bye')]))).to.match(/1001 GoingAway "bye"$/);
      expect(close(Buffer.alloc(0))).to.match(/no status code \(reported as 1005\)$/);
      expect(close(Buffer.from([0x03]))).to.match(/1 byte 03: too short for a status code$/);
    });

    it('shows ping payloads as text when they are UTF-8, else as hex', () => {
      expect(formatFrame(frame({ opcode: 9 }, Buffer.from('hi'), { payloadKind: 'ping' }))).to.match(/"hi"$/);
      expect(formatFrame(frame({ opcode: 9 }, Buffer.from([0xff]), { payloadKind: 'ping' }))).to.match(/len=1 +ff$/);
    });

    it('marks compressed payloads and names reserved opcodes', () => {
      expect(formatFrame(frame({ rsv1: true }, Buffer.from([0xf2, 0x48]), { compressed: true }))).to.match(/rsv=100 .* compressed f2 48$/);
      expect(formatFrame(frame({ opcode: 3 }, Buffer.alloc(0), { payloadKind: 'unknown' }))).to.match(/op=reserved-0x3 .*len=0$/);
    });

    it('writes message, HTTP head, note, truncation and end lines', () => {
      expect(formatRecord({ kind: 'message', offset: 0, type: 'text', frames: 2, length: 5, compressedLength: undefined, preview: Buffer.from('Hello') }))
        .to.deep.equal(['         message: text, 2 frames, 5 bytes: "Hello"']);
      expect(formatRecord({ kind: 'message', offset: 0, type: 'binary', frames: 1, length: 300, compressedLength: 12, preview: Buffer.from([1]) }))
        .to.deep.equal(['         message: binary, 1 frame, 300 bytes inflated from 12: 01 …']);
      expect(formatRecord({ kind: 'http', offset: 0, length: 129, firstLine: 'HTTP/1.1 101 Switching Protocols' }))
        .to.deep.equal(['@0       http head, 129 bytes: HTTP/1.1 101 Switching Protocols']);
      expect(formatRecord({ kind: 'truncated', offset: 12, what: 'header', length: 1 }))
        .to.deep.equal(['@12      truncated: the input ends 1 byte into a frame header']);
      expect(formatRecord({ kind: 'truncated', offset: 0, what: 'http', length: 40 })[0]).to.match(/inside the HTTP head \(40 bytes/);
      expect(formatRecord({ kind: 'note', offset: 3, text: 'x' })).to.deep.equal(['@3       note: x']);
      expect(formatRecord({ kind: 'end', offset: 27, frames: 3, messages: 1 }))
        .to.deep.equal(['@27      end: 3 frames, 1 message, no errors']);
    });

    it('writes an error with its code, close code, offset and hint', () => {
      const lines = formatRecord({
        kind: 'error', code: 'WS_ERR_EXPECTED_MASK', closeCode: 1002, offset: 1, frameOffset: undefined, message: '', looksLikeHexText: false,
      });
      expect(lines[0]).to.equal('@1       error WS_ERR_EXPECTED_MASK (close 1002) at byte 1: frames from a client must be masked');
      expect(lines[1]).to.match(/^ {9}hint: .*RFC 6455 §5\.1/);
      expect(lines).to.have.length(2);
    });

    it('places a message-rule error at its frame and adds the --hex hint when the input looks like hex', () => {
      const lines = formatRecord({
        kind: 'error', code: 'WS_ERR_INVALID_UTF8', closeCode: 1007, offset: undefined, frameOffset: 12, message: '', looksLikeHexText: true,
      });
      expect(lines[0]).to.equal('@12      error WS_ERR_INVALID_UTF8 (close 1007) in the frame at byte 12: invalid UTF-8 in a text message or close reason');
      expect(lines[lines.length - 1]).to.match(/add --hex/);
    });
  });
});
