/**
 * 5 Fragmentation. 5.1-5.20 follow Autobahn; 5.21-5.26 are ours. RFC 6455 §5.4: a message is a
 * first frame (text/binary) then continuations, FIN on the last; control frames may come between
 * fragments but are never fragmented themselves; a continuation with nothing to continue, or a new
 * data frame inside a fragmented message, MUST fail the connection.
 */
import { binary, close, continuation, fragments, ping, pong, text } from '../craft';
import { Opcode } from '../../../lib/constants';
import { binaryReply, pongReply, textReply, type CaseDef, type FrameSpec, type SendOptions } from '../types';
import { binaryOfSize, echoCase, failCase, KiB, NORMAL, PROTOCOL_ERROR } from './helpers';

const CHOPS: [string, SendOptions][] = [['one write', {}], ['frame-wise chops', { chop: 'frame' }], ['octet-wise chops', { chop: 1 }]];

/** Autobahn 5.9-5.14: a continuation with nothing to continue, then a text message. */
function orphanContinuation(first: number, fin: boolean): CaseDef[] {
  return CHOPS.map(([how, send], i) => failCase(`5.${first + i}`,
    `Send a continuation frame with FIN = ${fin} and nothing to continue, then a text message (${how})`,
    [continuation('non-continuation payload', { fin }), text('Hello, world!')], [], [PROTOCOL_ERROR], send));
}

/** Autobahn 5.19/5.20: 5 fragments, 2 pings between them, pauses while the message is open. */
function slowFragments(id: string, sync: boolean): CaseDef {
  const parts = ['fragment1', 'fragment2', 'fragment3', 'fragment4', 'fragment5'];
  const frame = (i: number): FrameSpec => (i === 0 ? text(parts[0], { fin: false }) : continuation(parts[i], { fin: i === 4 }));
  return {
    id,
    description: `Send a text message in 5 fragments with 2 pings between them, pausing while the message is open${sync ? ', waiting for each pong' : ''}`,
    async run(t) {
      const send: SendOptions = sync ? { chop: 'frame' } : {};
      await t.send([frame(0), frame(1), ping('pongme 1!')], send);
      if (sync) await t.waitForReplies(1);
      await t.pause(200);
      await t.send([frame(2), frame(3), ping('pongme 2!')], send);
      if (sync) await t.waitForReplies(2);
      await t.pause(200);
      await t.send(frame(4));
      return t.expectEcho([pongReply('pongme 1!'), pongReply('pongme 2!'), textReply(parts.join(''))]);
    },
  };
}

const twoFragments = [text('fragment1', { fin: false }), continuation('fragment2')];
const withPing = [text('fragment1', { fin: false }), ping('pongme!'), continuation('fragment2')];
const LOST_ECHO = [{ replies: [], note: 'the valid message sent in the same write as the violation was not echoed' }];

export function fragmentationCases(): CaseDef[] {
  const manyBinary = binaryOfSize(64 * KiB);
  return [
    failCase('5.1', 'Send a ping fragmented into 2 fragments', [ping('fragment1', { fin: false }), continuation('fragment2')], [], [PROTOCOL_ERROR]),
    failCase('5.2', 'Send a pong fragmented into 2 fragments', [pong('fragment1', { fin: false }), continuation('fragment2')], [], [PROTOCOL_ERROR]),
    echoCase('5.3', 'Send a text message in 2 fragments', twoFragments, [textReply('fragment1fragment2')]),
    echoCase('5.4', 'Send a text message in 2 fragments, in octet-wise chops', twoFragments, [textReply('fragment1fragment2')], { chop: 1 }),
    echoCase('5.5', 'Send a text message in 2 fragments, in frame-wise chops', twoFragments, [textReply('fragment1fragment2')], { chop: 'frame' }),
    ...CHOPS.map(([how, send], i) => echoCase(`5.${6 + i}`, `Send a text message in 2 fragments with a ping between them (${how}): pong first`,
      withPing, [pongReply('pongme!'), textReply('fragment1fragment2')], send)),
    ...orphanContinuation(9, true),
    ...orphanContinuation(12, false),
    failCase('5.15', 'Send a text message in 2 fragments, then a continuation with FIN = false and nothing to continue, then a text message',
      [...twoFragments, continuation('fragment3', { fin: false }), text('fragment4')], [textReply('fragment1fragment2')], [PROTOCOL_ERROR],
      { nonStrict: LOST_ECHO }),
    failCase('5.16', 'Twice: a continuation (FIN = false) with nothing to continue, then a text message in 2 fragments',
      [continuation('fragment1', { fin: false }), text('fragment2', { fin: false }), continuation('fragment3'),
        continuation('fragment1', { fin: false }), text('fragment2', { fin: false }), continuation('fragment3')], [], [PROTOCOL_ERROR]),
    failCase('5.17', 'Twice: a continuation (FIN = true) with nothing to continue, then a text message in 2 fragments',
      [continuation('fragment1'), text('fragment2', { fin: false }), continuation('fragment3'),
        continuation('fragment1'), text('fragment2', { fin: false }), continuation('fragment3')], [], [PROTOCOL_ERROR]),
    failCase('5.18', 'Send a text message in 2 fragments with both frames opcode text', [text('fragment1', { fin: false }), text('fragment2')], [], [PROTOCOL_ERROR]),
    slowFragments('5.19', false),
    slowFragments('5.20', true),
    // Ours.
    {
      id: '5.21',
      description: 'Send the first fragment of a text message, then a close frame: no message, a clean close',
      async run(t) {
        await t.send([text('fragment1', { fin: false }), close(NORMAL)]);
        return t.expectEcho([]);
      },
    },
    echoCase('5.22', 'Send a binary message in 2 fragments', [binary(Buffer.from([1, 2, 3]), { fin: false }), continuation(Buffer.from([4, 5]))],
      [binaryReply(Buffer.from([1, 2, 3, 4, 5]))]),
    echoCase('5.23', 'Send a 64 KiB binary message in 1024 fragments of 64 bytes', fragments(Opcode.Binary, manyBinary, 64), [binaryReply(manyBinary)]),
    failCase('5.24', 'Send a binary frame inside a fragmented text message', [text('fragment1', { fin: false }), binary(Buffer.from('fragment2'))], [], [PROTOCOL_ERROR]),
    echoCase('5.25', 'Send a text message in 2 fragments with an unsolicited pong between them: the pong is ignored',
      [text('fragment1', { fin: false }), pong('unsolicited'), continuation('fragment2')], [textReply('fragment1fragment2')]),
    failCase('5.26', 'Send a text message, then a continuation frame (FIN = true) after it: echo, then fail',
      [text('Hello'), continuation(' world')], [textReply('Hello')], [PROTOCOL_ERROR], { nonStrict: LOST_ECHO }),
  ];
}
