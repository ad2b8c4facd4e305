/**
 * 7 Close handling, as Autobahn numbers it (7.7.14-7.7.16 and 7.9.6/7.9.11-7.9.12 extend its
 * lists). RFC 6455 §5.5.1: a close payload is empty or a 2-byte code plus a UTF-8 reason, at most
 * 125 bytes in all; an endpoint answers a close with a close (typically echoing the code) and
 * sends nothing more; data after a close is ignored. §7.4: which codes may appear on the wire.
 */
import { close, continuation, ping, text } from '../craft';
import { textReply, type CaseDef } from '../types';
import { echoCase, failCase, INVALID_PAYLOAD, NORMAL, PROTOCOL_ERROR } from './helpers';
import { KOSME } from './utf8-vectors';

/** §7.4.1 codes and the IANA-registered 1012-1014, and the 3000-4999 ranges (§7.4.2). */
const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999];
const REGISTERED_LATER = [1012, 1013, 1014];
/** Codes that MUST NOT appear in a close frame: unassigned, reserved (1004-1006, 1015) or out of range. */
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

const BIG_TEXT = Buffer.from('BAsd7&jh23'.repeat(26214));

export function closeCases(): CaseDef[] {
  return [
    echoCase('7.1.1', 'Send a text message, then a close frame: the echo, then a clean close',
      [text('Hello World!'), close(NORMAL)], [textReply('Hello World!')]),
    echoCase('7.1.2', 'Send two close frames: the second is ignored', [close(NORMAL), close(NORMAL)], []),
    echoCase('7.1.3', 'Send a ping after the close frame: no pong', [close(NORMAL), ping('Hello')], []),
    echoCase('7.1.4', 'Send a text message after the close frame: not echoed', [close(NORMAL), text('Hello World!')], []),
    echoCase('7.1.5', 'Send the first fragment of a message, a close frame, then the last fragment: nothing echoed',
      [text('fragment1', { fin: false }), close(NORMAL), continuation('fragment2')], []),
    {
      id: '7.1.6',
      description: 'Send a 256 KiB text message, then a close frame, then a ping: informational (is the message echoed before the close?)',
      async run(t) {
        await t.send([text(BIG_TEXT), close(NORMAL), ping('Hello')]);
        return t.expectEcho([textReply(BIG_TEXT)], { informational: true });
      },
    },
    echoCase('7.3.1', 'Send a close frame with an empty payload: an empty close frame comes back', [close()], [], { closeCodes: [null] }),
    failCase('7.3.2', 'Send a close frame with a 1-byte payload: fail 1002', [close(undefined, '', { payload: Buffer.from([0x03]) })], [], [PROTOCOL_ERROR]),
    echoCase('7.3.3', 'Send a close frame with code 1000 and no reason', [close(NORMAL)], []),
    echoCase('7.3.4', 'Send a close frame with code 1000 and a reason', [close(NORMAL, 'Hello World!')], []),
    echoCase('7.3.5', 'Send a close frame with code 1000 and a 123-byte reason (125 bytes, the maximum)', [close(NORMAL, '*'.repeat(123))], []),
    failCase('7.3.6', 'Send a close frame with code 1000 and a 124-byte reason (126 bytes, too long): fail 1002',
      [close(NORMAL, '*'.repeat(124))], [], [PROTOCOL_ERROR]),
    failCase('7.5.1', 'Send a close frame whose reason is invalid UTF-8: fail 1007',
      [close(NORMAL, Buffer.concat([KOSME, Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('edited')]))], [], [INVALID_PAYLOAD]),
    ...[...VALID_CODES, ...REGISTERED_LATER].map((code, i) => closeCodeCase(`7.7.${i + 1}`, code)),
    ...INVALID_CODES.map((code, i) => failCase(`7.9.${i + 1}`, `Send a close frame with invalid code ${code}: fail 1002`,
      [close(code)], [], [PROTOCOL_ERROR])),
  ];
}

/**
 * A valid code: the peer echoes it (RFC 6455 §5.5.1: "typically echoes the status code it
 * received"); answering 1000 instead is NON-STRICT.
 */
function closeCodeCase(id: string, code: number): CaseDef {
  return {
    id,
    description: `Send a close frame with valid code ${code}: a close frame with ${code} comes back`,
    async run(t) {
      await t.sendClose(code);
      return t.expectEcho([], { closeCodes: [code] });
    },
  };
}
