/**
 * 12 Compression (ours, after Autobahn's 12.x/13.x in spirit): permessage-deflate, RFC 7692,
 * offered with no context takeover in either direction. A peer that declines the offer gets
 * UNIMPLEMENTED for these cases, as in Autobahn.
 */
import { constants, deflateRawSync } from 'node:zlib';
import { Opcode } from '../../../lib/constants';
import { binary, continuation, frame, text } from '../craft';
import { binaryReply, textReply, type CaseDef, type Expected, type FrameSpec } from '../types';
import { binaryOfSize, INVALID_PAYLOAD, KiB, PROTOCOL_ERROR, size, textOfSize } from './helpers';

/** RFC 7692 §6.1 bit for "this message is compressed". */
const RSV1 = 4;
const SIZES = [16, 64, 256, KiB, 4 * KiB, 64 * KiB];
const MESSAGES = 10;

/** RFC 7692 §7.2.1: DEFLATE with a sync flush, minus the trailing 00 00 ff ff. */
export function compress(payload: Buffer): Buffer {
  const deflated = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH });
  return deflated.subarray(0, deflated.length - 4);
}

function compressedCase(id: string, kind: 'text' | 'binary', bytes: number): CaseDef {
  return {
    id,
    description: `Send ${MESSAGES} compressed ${kind} messages of ${size(bytes)} (permessage-deflate)`,
    offerDeflate: true,
    requires: 'deflate',
    async run(t) {
      const payload = kind === 'text' ? textOfSize(bytes) : binaryOfSize(bytes);
      const opcode = kind === 'text' ? Opcode.Text : Opcode.Binary;
      const frames: FrameSpec[] = Array.from({ length: MESSAGES }, () => frame(opcode, compress(payload), { rsv: RSV1 }));
      const reply: Expected = kind === 'text' ? textReply(payload) : binaryReply(payload);
      await t.send(frames);
      return t.expectEcho(Array.from({ length: MESSAGES }, () => reply));
    },
  };
}

export function compressionCases(): CaseDef[] {
  const fragmented = compress(textOfSize(4 * KiB));
  const cases: CaseDef[] = [
    ...SIZES.map((n, i) => compressedCase(`12.1.${i + 1}`, 'text', n)),
    ...SIZES.map((n, i) => compressedCase(`12.2.${i + 1}`, 'binary', n)),
    {
      id: '12.3.1',
      description: 'Send a compressed text message in 3 fragments (RSV1 on the first only)',
      async run(t) {
        const third = Math.ceil(fragmented.length / 3);
        await t.send([
          text(fragmented.subarray(0, third), { rsv: RSV1, fin: false }),
          continuation(fragmented.subarray(third, 2 * third), { fin: false }),
          continuation(fragmented.subarray(2 * third)),
        ]);
        return t.expectEcho([textReply(textOfSize(4 * KiB))]);
      },
    },
    {
      id: '12.3.2',
      description: 'Send an uncompressed message on a permessage-deflate connection (RSV1 clear)',
      async run(t) {
        await t.send(binary(Buffer.from('not compressed')));
        return t.expectEcho([binaryReply(Buffer.from('not compressed'))]);
      },
    },
    {
      id: '12.4.1',
      description: 'Send a compressed message whose continuation frame also has RSV1: fail 1002',
      async run(t) {
        await t.send([text(fragmented.subarray(0, 10), { rsv: RSV1, fin: false }), continuation(fragmented.subarray(10), { rsv: RSV1 })]);
        return t.expectFailure([], [PROTOCOL_ERROR]);
      },
    },
    {
      id: '12.4.2',
      description: 'Send a "compressed" message that is not valid DEFLATE data: fail 1007',
      async run(t) {
        await t.send(text(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]), { rsv: RSV1 }));
        return t.expectFailure([], [INVALID_PAYLOAD]);
      },
    },
    {
      id: '12.4.3',
      description: 'Send a compressed ping (RSV1 on a control frame): fail 1002',
      async run(t) {
        await t.send(frame(Opcode.Ping, compress(Buffer.from('ping')), { rsv: RSV1 }));
        return t.expectFailure([], [PROTOCOL_ERROR]);
      },
    },
  ];
  return cases.map((c) => ({ ...c, offerDeflate: true, requires: 'deflate' as const }));
}
