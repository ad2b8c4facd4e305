/**
 * 3 Reserved bits, as Autobahn numbers them (`rsv` is the 3-bit field, RSV1 most significant).
 * RFC 6455 §5.2: a reserved bit set without an extension defining it MUST fail the connection.
 * A valid message sent before the bad frame must still be echoed first; a ping sent after it
 * must not be answered.
 */
import { Opcode } from '../../../lib/constants';
import { binary, close, continuation, frame, ping, pong, text } from '../craft';
import { textReply, type CaseDef } from '../types';
import { failCase, NORMAL, PROTOCOL_ERROR } from './helpers';

const LOST_ECHO = [{ replies: [], note: 'the valid message sent in the same write as the violation was not echoed' }];

export function reservedBitCases(): CaseDef[] {
  return [
    failCase('3.1', 'Send a small text message with RSV = 1', [text('Hello', { rsv: 1 })], [], [PROTOCOL_ERROR]),
    failCase('3.2', 'Send a small text message, then one with RSV = 2, then a ping (one write): echo, fail, no pong',
      [text('Hello'), text('Hello', { rsv: 2 }), ping()], [textReply('Hello')], [PROTOCOL_ERROR], { nonStrict: LOST_ECHO }),
    {
      id: '3.3',
      description: 'Send a small text message, wait for its echo, then one with RSV = 3, then a ping: fail, no pong',
      async run(t) {
        await t.send(text('Hello'));
        await t.waitForReplies(1);
        await t.send([text('Hello', { rsv: 3 }), ping()], { chop: 'frame' });
        return t.expectFailure([textReply('Hello')], [PROTOCOL_ERROR]);
      },
    },
    failCase('3.4', 'Send a small text message, then one with RSV = 4, then a ping, in octet-wise chops',
      [text('Hello'), text('Hello', { rsv: 4 }), ping()], [textReply('Hello')], [PROTOCOL_ERROR], { chop: 1 }),
    failCase('3.5', 'Send a small binary message with RSV = 5', [binary(Buffer.alloc(8, 0xff), { rsv: 5 })], [], [PROTOCOL_ERROR]),
    failCase('3.6', 'Send a ping with RSV = 6: fail, no pong', [ping('Hello', { rsv: 6 })], [], [PROTOCOL_ERROR]),
    failCase('3.7', 'Send a close frame with RSV = 7', [close(NORMAL, '', { rsv: 7 })], [], [PROTOCOL_ERROR]),
    // Ours: RSV1 where even permessage-deflate never allows it (RFC 7692 §6: first frame only).
    failCase('3.8', 'Send a fragmented text message whose continuation frame has RSV = 4',
      [text('Hel', { fin: false }), continuation('lo', { rsv: 4 })], [], [PROTOCOL_ERROR]),
    failCase('3.9', 'Send an unsolicited pong with RSV = 4', [pong('Hello', { rsv: 4 })], [], [PROTOCOL_ERROR]),
    failCase('3.10', 'Send a small text message, then a binary message with RSV = 2 (one write): echo, then fail',
      [text('Hello'), frame(Opcode.Binary, Buffer.from('World'), { rsv: 2 })], [textReply('Hello')], [PROTOCOL_ERROR], { nonStrict: LOST_ECHO }),
  ];
}
