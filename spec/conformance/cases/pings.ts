/**
 * 2 Pings and pongs, as Autobahn numbers them. RFC 6455 §5.5.2: a ping is answered by a pong with
 * the same payload; §5.5.3: an unsolicited pong is ignored; §5.5: at most 125 payload bytes.
 */
import { ping, pong } from '../craft';
import { pongReply, type CaseDef } from '../types';
import { echoCase, failCase, PROTOCOL_ERROR } from './helpers';

const BINARY_PAYLOAD = Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]);
const pingPayloads = Array.from({ length: 10 }, (_, i) => Buffer.from(`payload-${i}`));

/** RFC 6455 §5.5.3 lets an endpoint answer only the latest of several pings. */
const LAST_PONG_ONLY = [{ replies: [pongReply(pingPayloads[9])], note: 'answered only the last of 10 pings (RFC 6455 §5.5.3 MAY)' }];

export function pingCases(): CaseDef[] {
  return [
    echoCase('2.1', 'Send a ping without payload', [ping()], [pongReply()]),
    echoCase('2.2', 'Send a ping with a small text payload', [ping('Hello, world!')], [pongReply('Hello, world!')]),
    echoCase('2.3', 'Send a ping with a small binary (non UTF-8) payload', [ping(BINARY_PAYLOAD)], [pongReply(BINARY_PAYLOAD)]),
    echoCase('2.4', 'Send a ping with a 125-byte binary payload', [ping(Buffer.alloc(125, 0xfe))], [pongReply(Buffer.alloc(125, 0xfe))]),
    failCase('2.5', 'Send a ping with a 126-byte binary payload: fail 1002 (control frames carry <= 125 bytes)',
      [ping(Buffer.alloc(126, 0xfe))], [], [PROTOCOL_ERROR]),
    echoCase('2.6', 'Send a ping with a 125-byte binary payload in octet-wise chops',
      [ping(Buffer.alloc(125, 0xfe))], [pongReply(Buffer.alloc(125, 0xfe))], { chop: 1 }),
    echoCase('2.7', 'Send an unsolicited pong without payload: nothing comes back', [pong()], []),
    echoCase('2.8', 'Send an unsolicited pong with payload: nothing comes back', [pong('unsolicited pong payload')], []),
    echoCase('2.9', 'Send an unsolicited pong with payload, then a ping: only the ping is answered',
      [pong('unsolicited pong payload'), ping('ping payload')], [pongReply('ping payload')]),
    echoCase('2.10', 'Send 10 pings with payload: 10 pongs with the same payloads, in order',
      pingPayloads.map((p) => ping(p)), pingPayloads.map((p) => pongReply(p)), { nonStrict: LAST_PONG_ONLY }),
    echoCase('2.11', 'Send 10 pings with payload in octet-wise chops: 10 pongs, in order',
      pingPayloads.map((p) => ping(p)), pingPayloads.map((p) => pongReply(p)), { chop: 1, nonStrict: LAST_PONG_ONLY }),
  ];
}
