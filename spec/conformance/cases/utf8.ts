/**
 * 6 UTF-8 handling. RFC 6455 §5.6/§8.1: text messages MUST be valid UTF-8, and a receiver MUST
 * fail the connection with 1007 on invalid data. §8.1 also says to fail as soon as the invalid
 * bytes arrive ("when an endpoint is to interpret a byte stream as UTF-8 but finds that the byte
 * stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket
 * Connection_"): failing only at the end of the message is scored NON-STRICT (6.4.x).
 *
 * Every Kuhn vector of 6.5-6.23 runs twice: `<id>` in one frame (Autobahn's case) and `<id>f`
 * (ours) in 1-byte fragments, where a decoder must carry partial characters across frames.
 */
import { Opcode } from '../../../lib/constants';
import { continuation, fragments, text } from '../craft';
import { frameBytes } from '../session';
import { textReply, type CaseDef, type Trial } from '../types';
import { echoCase, failCase, INVALID_PAYLOAD } from './helpers';
import { KOSME, UTF8_GROUPS, type Utf8Vector } from './utf8-vectors';

const MIXED = Buffer.from('Hello-µ@ßöäüàá-UTF-8!!');
/** Autobahn 6.3: κόσμε, a lone surrogate U+D800, then "edited". */
const INVALID_TEXT = Buffer.concat([KOSME, Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('edited')]);
/** U+110000 written in the 4-byte pattern: out of range, detectable at its second byte. */
const OUT_OF_RANGE = Buffer.from([0xf4, 0x90, 0x80, 0x80]);
const EDITED = Buffer.from('edited');
const LAST = 'the rest of the message was sent';

function vectorCases(groupId: string, title: string, vectors: Utf8Vector[]): CaseDef[] {
  return vectors.flatMap((vector, i) => {
    const id = `${groupId}.${i + 1}`;
    const what = `${title}: ${vector.note} (${vector.bytes.length <= 12 ? vector.bytes.toString('hex') : `${vector.bytes.length} bytes`})`;
    const frames = fragments(Opcode.Text, vector.bytes, 1);
    return vector.valid
      ? [echoCase(id, `${what}, valid, in one frame`, [text(vector.bytes)], [textReply(vector.bytes)]),
        echoCase(`${id}f`, `${what}, valid, in 1-byte fragments`, frames, [textReply(vector.bytes)])]
      : [failCase(id, `${what}, invalid, in one frame: fail 1007`, [text(vector.bytes)], [], [INVALID_PAYLOAD]),
        failCase(`${id}f`, `${what}, invalid, in 1-byte fragments: fail 1007`, frames, [], [INVALID_PAYLOAD])];
  });
}

/**
 * A fail-fast case: `sendUpToInvalid` sends everything up to and including the invalid bytes and
 * returns how to send the rest; the peer gets the fail-fast window to fail before the rest goes.
 */
function failFast(id: string, description: string, sendUpToInvalid: (t: Trial) => Promise<() => Promise<void>>): CaseDef {
  return {
    id,
    description: `${description}: fail 1007 before the rest arrives`,
    async run(t) {
      const sendRest = await sendUpToInvalid(t);
      await t.waitForFailure();
      t.mark(LAST);
      await sendRest();
      return t.expectFailure([], [INVALID_PAYLOAD], { before: LAST });
    },
  };
}

/** One text frame's bytes cut at payload offsets, so the pieces can be sent as separate writes. */
function cutFrame(t: Trial, payload: Buffer, cuts: number[]): Buffer[] {
  const bytes = frameBytes(text(payload), t.role);
  const header = bytes.length - payload.length;
  const points = [0, ...cuts.map((c) => header + c), bytes.length];
  return points.slice(1).map((end, i) => bytes.subarray(points[i], end));
}

export function utf8Cases(): CaseDef[] {
  const oneFrame = Buffer.concat([KOSME, OUT_OF_RANGE, EDITED]);
  return [
    echoCase('6.1.1', 'Send a text message of length 0', [text('')], [textReply('')]),
    echoCase('6.1.2', 'Send a text message in 3 fragments, each of length 0',
      [text('', { fin: false }), continuation('', { fin: false }), continuation('')], [textReply('')]),
    echoCase('6.1.3', 'Send a text message in 3 fragments, the first and last of length 0',
      [text('', { fin: false }), continuation('middle frame payload', { fin: false }), continuation('')], [textReply('middle frame payload')]),
    echoCase('6.2.1', 'Send a valid UTF-8 text message in one frame', [text(MIXED)], [textReply(MIXED)]),
    echoCase('6.2.2', 'Send a valid UTF-8 text message in 2 fragments split on a code point boundary',
      [text(MIXED.subarray(0, 12), { fin: false }), continuation(MIXED.subarray(12))], [textReply(MIXED)]),
    echoCase('6.2.3', 'Send a valid UTF-8 text message in 1-byte fragments', fragments(Opcode.Text, MIXED, 1), [textReply(MIXED)]),
    echoCase('6.2.4', 'Send κόσμε in 1-byte fragments', fragments(Opcode.Text, KOSME, 1), [textReply(KOSME)]),
    failCase('6.3.1', 'Send an invalid UTF-8 text message in one frame', [text(INVALID_TEXT)], [], [INVALID_PAYLOAD]),
    failCase('6.3.2', 'Send an invalid UTF-8 text message in 1-byte fragments', fragments(Opcode.Text, INVALID_TEXT, 1), [], [INVALID_PAYLOAD]),
    failFast('6.4.1', 'Send a text message in 3 fragments, the 2nd holding U+110000 (invalid), pausing after it', async (t) => {
      await t.send([text(KOSME, { fin: false }), continuation(OUT_OF_RANGE, { fin: false })], { chop: 'frame' });
      return () => t.send(continuation(EDITED));
    }),
    failFast('6.4.2', 'Send a text message in 3 fragments whose 2nd is the byte 0x90 that makes F4 90 invalid, pausing after it', async (t) => {
      await t.send([text(Buffer.concat([KOSME, OUT_OF_RANGE.subarray(0, 1)]), { fin: false }),
        continuation(OUT_OF_RANGE.subarray(1, 2), { fin: false })], { chop: 'frame' });
      return () => t.send(continuation(Buffer.concat([OUT_OF_RANGE.subarray(2), EDITED])));
    }),
    failFast('6.4.3', 'Send one invalid text frame in 3 TCP writes, the 2nd holding U+110000, pausing after it', async (t) => {
      const [valid, invalid, rest] = cutFrame(t, oneFrame, [KOSME.length, KOSME.length + OUT_OF_RANGE.length]);
      await t.send(valid);
      await t.send(invalid);
      return () => t.send(rest);
    }),
    failFast('6.4.4', 'Send one invalid text frame in TCP writes, the invalid part octet-wise, pausing after it', async (t) => {
      const [valid, invalid, rest] = cutFrame(t, oneFrame, [KOSME.length, KOSME.length + OUT_OF_RANGE.length]);
      await t.send(valid);
      await t.send(invalid, { chop: 1 });
      return () => t.send(rest);
    }),
    // Ours: the invalid bytes in the very first fragment / the first TCP write of a frame.
    failFast('6.4.5', 'Send a first fragment holding an overlong "/" (C0 AF), pausing before the last fragment', async (t) => {
      await t.send(text(Buffer.from([0x61, 0xc0, 0xaf, 0x62]), { fin: false }));
      return () => t.send(continuation('the end'));
    }),
    failFast('6.4.6', 'Send a 64 KiB text frame whose first TCP write (100 bytes) holds the byte 0xFF, pausing before the rest', async (t) => {
      const payload = Buffer.alloc(64 * 1024, 0x61);
      payload[10] = 0xff;
      const [first, rest] = cutFrame(t, payload, [100]);
      await t.send(first);
      return () => t.send(rest);
    }),
    ...UTF8_GROUPS.flatMap((group) => vectorCases(group.id, group.title, group.vectors)),
  ];
}
