/**
 * 4 Opcodes, as Autobahn numbers them. RFC 6455 §5.2: opcodes 3-7 (non-control) and 11-15
 * (control) are reserved; receiving one MUST fail the connection (§5.2, "If an unknown opcode is
 * received, the receiving endpoint MUST _Fail the WebSocket Connection_").
 */
import { frame, ping, text } from '../craft';
import { textReply, type CaseDef } from '../types';
import { failCase, PROTOCOL_ERROR } from './helpers';

const PAYLOAD = 'reserved opcode payload';
const LOST_ECHO = [{ replies: [], note: 'the valid message sent in the same write as the violation was not echoed' }];

/** For each group: the opcodes, alone (empty / with payload) then after a valid message. */
function group(prefix: string, kind: string, [a, b, c, d, e]: number[]): CaseDef[] {
  return [
    failCase(`${prefix}.1`, `Send a frame with reserved ${kind} opcode ${a}`, [frame(a)], [], [PROTOCOL_ERROR]),
    failCase(`${prefix}.2`, `Send a frame with reserved ${kind} opcode ${b} and a payload`, [frame(b, PAYLOAD)], [], [PROTOCOL_ERROR]),
    ...[c, d, e].map((opcode, i) => failCase(`${prefix}.${i + 3}`,
      `Send a small text message, then a frame with reserved ${kind} opcode ${opcode}${i === 0 ? '' : ' and a payload'}, then a ping`,
      [text('Hello'), frame(opcode, i === 0 ? '' : PAYLOAD), ping()], [textReply('Hello')], [PROTOCOL_ERROR],
      { chop: 'frame', nonStrict: LOST_ECHO })),
  ];
}

export function opcodeCases(): CaseDef[] {
  return [
    ...group('4.1', 'non-control', [3, 4, 5, 6, 7]),
    ...group('4.2', 'control', [11, 12, 13, 14, 15]),
  ];
}
